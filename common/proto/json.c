/*
 * json.c -- bounded parsing and typed, validated field access over cJSON,
 * shared by every encoder and decoder of the codec.
 *
 * Method: cJSON allocates one node per JSON value and a copy of every
 * string, and recurses once per nesting level. Before it sees a payload, a
 * single pass over the bytes (tracking only whether it is inside a string)
 * counts an upper bound of the values (1 + commas + opening brackets) and
 * the nesting depth, and refuses NUL bytes and \u0000 escapes, which would
 * cut a C string short. A payload over FL_PROTO_MSG_MAX bytes,
 * FL_PROTO_NODES_MAX values or FL_PROTO_DEPTH_MAX levels never reaches the
 * parser, so one decode allocates at most FL_PROTO_NODES_MAX nodes plus
 * FL_PROTO_MSG_MAX bytes of strings, and recursion stays shallow. This is
 * a bound, not a parser: cJSON still decides what is valid JSON.
 *
 * Strictness: a member present twice is refused (two readers could pick
 * different copies); integers are JSON numbers with an exact integer value
 * in range (at most FL_PROTO_UINT_MAX, 10^15-1, which cJSON prints
 * exactly); other numbers must be finite. Both are decided on the
 * double's bits (fl/f64.h), so the codec does no floating-point
 * arithmetic of its own: on a device without an FPU that would link about
 * 2.5 KiB of libgcc's software floating point.
 */
#include <limits.h>
#include <string.h>

#include "fl/bytes.h"
#include "fl/err.h"
#include "fl/f64.h"
#include "proto_internal.h"

static bool is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/*
 * The charsets as a table: for each printable character (0x20..0x7e), one
 * bit per charset that allows it (bit FL_CS_x). Built by the compiler from
 * the rules below, so the rules are written once and a device links 95
 * bytes and a lookup instead of a switch per charset.
 */
#define BIT(cs)	     (1u << (cs))
#define DIGIT(c)     ((c) >= '0' && (c) <= '9')
#define LOWER(c)     ((c) >= 'a' && (c) <= 'z')
#define ALNUM(c)     (DIGIT(c) || LOWER(c) || ((c) >= 'A' && (c) <= 'Z'))
#define QUOTE_BSL(c) ((c) == '"' || (c) == '\\')
#define IN(c, a, b)  ((c) == (a) || (c) == (b))
#define CS_OF(c)                                                               \
	((ALNUM(c) || IN(c, '.', '_') || (c) == '-' ? BIT(FL_CS_IDENT) : 0) |  \
	 (ALNUM(c) || IN(c, '.', '+') || IN(c, '_', '-') ? BIT(FL_CS_VERSION)  \
							 : 0) |                \
	 (DIGIT(c) || LOWER(c) || IN(c, '_', '.') || IN(c, ':', '-')           \
		  ? BIT(FL_CS_TOKEN)                                           \
		  : 0) |                                                       \
	 BIT(FL_CS_TEXT) |                                                     \
	 (QUOTE_BSL(c) ? 0 : BIT(FL_CS_VALUE) | BIT(FL_CS_RANGE)) |            \
	 (ALNUM(c) || IN(c, '/', '_') || IN(c, '+', '-') ? BIT(FL_CS_TZ)       \
							 : 0) |                \
	 ((c) == ' ' || QUOTE_BSL(c) ? 0 : BIT(FL_CS_URL)))
#define CS_8(c)                                                                \
	CS_OF(c), CS_OF((c) + 1), CS_OF((c) + 2), CS_OF((c) + 3),              \
		CS_OF((c) + 4), CS_OF((c) + 5), CS_OF((c) + 6), CS_OF((c) + 7)

static const uint8_t cs_table[0x7f - 0x20] = {
	CS_8(0x20),  CS_8(0x28),  CS_8(0x30),  CS_8(0x38),  CS_8(0x40),
	CS_8(0x48),  CS_8(0x50),  CS_8(0x58),  CS_8(0x60),  CS_8(0x68),
	CS_8(0x70),  CS_OF(0x78), CS_OF(0x79), CS_OF(0x7a), CS_OF(0x7b),
	CS_OF(0x7c), CS_OF(0x7d), CS_OF(0x7e),
};

_Static_assert(FL_CS_RANGE < 8, "one byte holds a bit per charset");

static bool cs_char_ok(char c, int cs)
{
	unsigned i = (unsigned char)c - 0x20u;

	return i < sizeof(cs_table) && (cs_table[i] >> cs & 1u) != 0;
}

/* A URL starts with a scheme ([a-z][a-z0-9+.-]*), then "://", then at
 * least one character. */
static int check_url(const char *s)
{
	size_t i = 0;

	if (!(s[0] >= 'a' && s[0] <= 'z'))
		return FL_EINVAL;
	while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
	       s[i] == '+' || s[i] == '.' || s[i] == '-')
		i++;
	if (strncmp(s + i, "://", 3) != 0 || s[i + 3] == '\0')
		return FL_EINVAL;
	return 0;
}

int fl_proto_check_str(const char *s, size_t size, int cs)
{
	size_t n;

	if (s == NULL || size == 0 || cs < 0 || cs > FL_CS_RANGE)
		return FL_EINVAL;
	for (n = 0; n < size && s[n] != '\0'; n++) {
		if (!cs_char_ok(s[n], cs))
			return FL_EINVAL;
	}
	if (n == size)
		return FL_ETOOBIG;
	if (cs == FL_CS_IDENT && n > 0 && !is_alnum(s[0]))
		return FL_EINVAL;
	if (cs == FL_CS_URL)
		return check_url(s);
	return 0;
}

/* In parentheses: not the FL_PROTO_COMPACT_DIAG macro of the header. */
void(fl_proto__diag)(struct fl_proto_diag *d, const char *field,
		     const char *what)
{
	size_t n;

	if (d == NULL)
		return;
	(void)fl_strlcpy(d->msg, field, sizeof(d->msg));
	n = strlen(d->msg);
	if (what != NULL && n + 2 < sizeof(d->msg)) {
		d->msg[n] = ':';
		d->msg[n + 1] = ' ';
		(void)fl_strlcpy(d->msg + n + 2, what, sizeof(d->msg) - n - 2);
	}
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The bounding pass described in the file comment. */
static int prescan(const char *in, size_t len, struct fl_proto_diag *d)
{
	size_t nodes = 1;
	int depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == '\0') {
			fl_proto__diag(d, "payload", "NUL byte");
			return FL_EINVAL;
		}
		if (in_str) {
			if (c == '"') {
				in_str = false;
			} else if (c == '\\' && i + 1 < len) {
				i++;
				if (in[i] == 'u' && i + 4 < len &&
				    memcmp(in + i + 1, "0000", 4) == 0) {
					fl_proto__diag(d, "payload",
						       "\\u0000 escape");
					return FL_EINVAL;
				}
			}
			continue;
		}
		switch (c) {
		case '"': in_str = true; break;
		case '{':
		case '[':
			nodes++;
			if (++depth > FL_PROTO_DEPTH_MAX) {
				fl_proto__diag(d, "payload", "nested too deep");
				return FL_ETOOBIG;
			}
			break;
		case '}':
		case ']': depth--; break;
		case ',': nodes++; break;
		default: break;
		}
		if (nodes > FL_PROTO_NODES_MAX) {
			fl_proto__diag(d, "payload", "too many values");
			return FL_ETOOBIG;
		}
	}
	return 0;
}

int fl_proto__parse(cJSON **out, const char *in, size_t len, size_t max_len,
		    struct fl_proto_diag *d)
{
	const char *end = NULL;
	cJSON *root;
	int err;

	*out = NULL;
	if (in == NULL) {
		fl_proto__diag(d, "payload", "NULL");
		return FL_EINVAL;
	}
	if (len > max_len) {
		fl_proto__diag(d, "payload", "longer than the limit");
		return FL_ETOOBIG;
	}
	err = prescan(in, len, d);
	if (err)
		return err;
	root = cJSON_ParseWithLengthOpts(in, len, &end, 0);
	if (root == NULL) {
		fl_proto__diag(d, "payload", "not valid JSON");
		return FL_EINVAL;
	}
	while (end < in + len && is_ws(*end))
		end++;
	if (end != in + len) {
		cJSON_Delete(root);
		fl_proto__diag(d, "payload", "bytes after the JSON value");
		return FL_EINVAL;
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		fl_proto__diag(d, "payload", "not a JSON object");
		return FL_EINVAL;
	}
	*out = root;
	return 0;
}

int fl_proto__print(cJSON *root, char *out, size_t out_size, size_t *out_len,
		    size_t max_len)
{
	size_t n;
	int size = out_size > INT_MAX ? INT_MAX : (int)out_size;

	if (out == NULL || out_size == 0)
		return FL_ETOOBIG;
	if (!cJSON_PrintPreallocated(root, out, size, 0)) {
		out[0] = '\0';
		return FL_ETOOBIG;
	}
	n = strlen(out);
	if (n > max_len) {
		out[0] = '\0';
		return FL_ETOOBIG;
	}
	if (out_len != NULL)
		*out_len = n;
	return 0;
}

int fl_proto__member(const cJSON **out, const cJSON *obj, const char *name,
		     bool required, struct fl_proto_diag *d)
{
	const cJSON *found = NULL;
	const cJSON *it;

	*out = NULL;
	for (it = obj->child; it != NULL; it = it->next) {
		if (it->string == NULL || strcmp(it->string, name) != 0)
			continue;
		if (found != NULL) {
			fl_proto__diag(d, name, "present twice");
			return FL_EINVAL;
		}
		found = it;
	}
	if (found == NULL && required) {
		fl_proto__diag(d, name, "missing");
		return FL_EINVAL;
	}
	*out = found;
	return 0;
}

/* Integers and finiteness are read from the double's bits (fl_f64_*): no
 * floating-point arithmetic, which a microcontroller does in software. */
static bool to_uint(uint64_t *out, double v, uint64_t min, uint64_t max)
{
	return fl_f64_to_u64(out, v,
			     max < FL_PROTO_UINT_MAX ? max
						     : FL_PROTO_UINT_MAX) &&
	       *out >= min;
}

bool fl_proto__is_uint(double v, uint64_t min, uint64_t max)
{
	uint64_t u;

	return to_uint(&u, v, min, max);
}

bool fl_proto__is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[n] == '\0';
}

bool fl_proto__is_finite(double v)
{
	return fl_f64_is_finite(v);
}

int fl_proto__get_uint(uint64_t *out, const cJSON *obj, const char *name,
		       bool required, uint64_t min, uint64_t max,
		       struct fl_proto_diag *d)
{
	const cJSON *m;
	uint64_t v = 0;
	int err = fl_proto__member(&m, obj, name, required, d);

	if (err || m == NULL)
		return err;
	if (!cJSON_IsNumber(m)) {
		fl_proto__diag(d, name, "not a number");
		return FL_EINVAL;
	}
	if (!to_uint(&v, m->valuedouble, min, max)) {
		fl_proto__diag(d, name, "not an integer in range");
		return FL_EINVAL;
	}
	*out = v;
	return 0;
}

int fl_proto__get_u32(uint32_t *out, const cJSON *obj, const char *name,
		      bool required, uint32_t min, uint32_t max,
		      struct fl_proto_diag *d)
{
	uint64_t v = *out;
	int err = fl_proto__get_uint(&v, obj, name, required, min, max, d);

	if (err == 0)
		*out = (uint32_t)v;
	return err;
}

int fl_proto__get_bool(bool *out, const cJSON *obj, const char *name,
		       bool required, struct fl_proto_diag *d)
{
	const cJSON *m;
	int err = fl_proto__member(&m, obj, name, required, d);

	if (err || m == NULL)
		return err;
	if (!cJSON_IsBool(m)) {
		fl_proto__diag(d, name, "not true or false");
		return FL_EINVAL;
	}
	*out = cJSON_IsTrue(m);
	return 0;
}

int fl_proto__get_double(double *out, const cJSON *obj, const char *name,
			 bool required, struct fl_proto_diag *d)
{
	const cJSON *m;
	int err = fl_proto__member(&m, obj, name, required, d);

	if (err || m == NULL)
		return err;
	if (!cJSON_IsNumber(m) || !fl_proto__is_finite(m->valuedouble)) {
		fl_proto__diag(d, name, "not a finite number");
		return FL_EINVAL;
	}
	*out = m->valuedouble;
	return 0;
}

int fl_proto__get_str(char *out, size_t size, const cJSON *obj,
		      const char *name, bool required, int cs,
		      struct fl_proto_diag *d)
{
	const cJSON *m;
	int err = fl_proto__member(&m, obj, name, required, d);

	if (err || m == NULL)
		return err;
	if (!cJSON_IsString(m) || m->valuestring == NULL) {
		fl_proto__diag(d, name, "not a string");
		return FL_EINVAL;
	}
	err = fl_proto_check_str(m->valuestring, size, cs);
	if (err) {
		fl_proto__diag(d, name,
			       err == FL_ETOOBIG ? "too long"
						 : "bad character or form");
		return err;
	}
	return fl_strlcpy(out, m->valuestring, size);
}

int fl_proto__get_enum(uint8_t *out, const cJSON *obj, const char *name,
		       bool required, int (*parse)(int *, const char *),
		       struct fl_proto_diag *d)
{
	const cJSON *m;
	int v;
	int err = fl_proto__member(&m, obj, name, required, d);

	if (err || m == NULL)
		return err;
	if (!cJSON_IsString(m) || m->valuestring == NULL ||
	    parse(&v, m->valuestring) != 0) {
		fl_proto__diag(d, name, "unknown value");
		return FL_EINVAL;
	}
	*out = (uint8_t)v;
	return 0;
}

int fl_proto__add_uint(cJSON *obj, const char *name, uint64_t v)
{
	return cJSON_AddNumberToObject(obj, name, fl_f64_from_u64(v))
		       ? 0
		       : FL_ENOMEM;
}

int fl_proto__add_double(cJSON *obj, const char *name, double v)
{
	return cJSON_AddNumberToObject(obj, name, v) ? 0 : FL_ENOMEM;
}

int fl_proto__add_bool(cJSON *obj, const char *name, bool v)
{
	return cJSON_AddBoolToObject(obj, name, v) ? 0 : FL_ENOMEM;
}

int fl_proto__add_str(cJSON *obj, const char *name, const char *v)
{
	return cJSON_AddStringToObject(obj, name, v) ? 0 : FL_ENOMEM;
}
