/*
 * codec.c -- JSON encoders and decoders of the five MQTT messages
 * (presence, reported, cmd, status, health); docs/protocol.md pins every
 * field.
 *
 * Method: each message has one validate function over its struct. An
 * encoder validates, then builds a cJSON tree and prints it into the
 * caller's buffer; a decoder reads each field through the typed readers of
 * json.c into a cleared struct and then runs the same validate function,
 * so what one side may send is exactly what the other accepts. Integers at
 * 0 and empty strings are left out of the JSON (and read back as 0 and "")
 * except for the fields marked required. Unknown fields are ignored.
 *
 * The flat fields of presence, status, health and reported are described
 * once, in tables (name, place in the struct, kind, bound, required); one
 * validator, one encoder and one decoder walk a table, and each message
 * adds only its own rules and its arrays. So the fields a sender writes
 * and those a receiver reads come from the same list, in the same order,
 * and a device links three short loops instead of a call per field and
 * per direction (bench/sizes.sh measures what that saves on an MCU). The
 * command keeps its own code: most of it is not flat.
 *
 * Memory: the trees are cJSON's (its global allocator, never replaced
 * here: cJSON_InitHooks is process-wide, and the codec shares the process
 * with other cJSON users, ESP-IDF components among them). Each call frees
 * its tree before returning; json.c bounds what a decode can allocate.
 */
#include <stddef.h>
#include <string.h>

#include "fl/bytes.h"
#include "fl/err.h"
#include "fl/f64.h"
#include "proto_internal.h"

#define CHECK(expr)                                                            \
	do {                                                                   \
		err = (expr);                                                  \
		if (err)                                                       \
			goto out;                                              \
	} while (0)

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/*
 * FL_PROTO_TRUST_OWN (a device build: agent/esp32, cross/): the encoders of
 * what a device sends (presence, status, health, reported) do not check
 * their struct against the rules again. The agent builds those messages
 * from state that was checked when it came in (a verified manifest, the
 * slot records, its configuration and the device's metrics, both checked
 * by the agent: fl_agent_init, health.c), so on a device the check would
 * only cost code. Output stays bounded (the buffer's size). The decoders
 * check everything in every build; the host build (fleetd, fleet-agent,
 * the tests, the fuzz targets) checks in the encoders too.
 */
#ifdef FL_PROTO_TRUST_OWN
#define OWN_CHECK(check) 0
#else
#define OWN_CHECK(check) (check)
#endif

/* Validation of a string field of a struct, with the diagnostic. */
static int check_field(const char *s, size_t size, int cs, bool required,
		       const char *name, struct fl_proto_diag *d)
{
	int err = fl_proto_check_str(s, size, cs);

	if (err == 0 && required && s[0] == '\0')
		err = FL_EINVAL;
	if (err)
		fl_proto__diag(d, name,
			       err == FL_ETOOBIG
				       ? "too long"
				       : "empty, bad character or form");
	return err;
}

static int fail(struct fl_proto_diag *d, const char *name, const char *what)
{
	fl_proto__diag(d, name, what);
	return FL_EINVAL;
}

/* Adds a string only when non-empty. */
static int add_str_opt(cJSON *obj, const char *name, const char *v)
{
	return v[0] ? fl_proto__add_str(obj, name, v) : 0;
}

/* Adds an integer only when non-zero. */
static int add_uint_opt(cJSON *obj, const char *name, uint64_t v)
{
	return v ? fl_proto__add_uint(obj, name, v) : 0;
}

/* Finishes an encoder: prints, frees the tree. */
static int finish(cJSON *root, int err, char *out, size_t out_size,
		  size_t *out_len)
{
	if (err == 0)
		err = fl_proto__print(root, out, out_size, out_len,
				      FL_PROTO_MSG_MAX);
	else if (out != NULL && out_size > 0)
		out[0] = '\0';
	cJSON_Delete(root);
	return err;
}

/* ---- field tables ------------------------------------------------------- */

enum field_kind {
	FK_BOOL, /* bool; written only when true unless required */
	FK_U8,	 /* uint8_t of 0..arg, as a JSON integer */
	FK_U32,	 /* uint32_t */
	FK_U64,	 /* uint64_t of 0..FL_PROTO_UINT_MAX */
	FK_STR,	 /* char[arg] of charset cs */
	FK_ENUM, /* uint8_t named by vocabulary arg */
};

#define FF_REQ 0x01u /* required: always written, refused when absent */
#define FF_NZ  0x02u /* an integer of 1 or more */

/* The vocabularies a FK_ENUM names its values with. */
enum { V_STATE, V_RESULT, V_RESET };

static const char *(*const vocab_name[])(int) = {
	fl_update_state_name,
	fl_result_name,
	fl_wire_reset_name,
};

static int (*const vocab_parse[])(int *, const char *) = {
	fl_update_state_parse,
	fl_result_parse,
	fl_proto__reset_parse,
};

struct field {
	const char *name;
	uint16_t off;  /* offsetof() in the message struct */
	uint8_t kind;  /* enum field_kind */
	uint8_t flags; /* FF_* */
	uint8_t arg;   /* FK_STR: size; FK_U8: maximum; FK_ENUM: vocabulary */
	uint8_t cs;    /* FK_STR: charset (enum fl_charset) */
};

#define STR(type, member, name, flags, cs)                                     \
	{                                                                      \
		name, offsetof(type, member), FK_STR, flags,                   \
			sizeof(((type *)0)->member), cs                        \
	}
#define NUM(type, member, name, kind, flags, arg)                              \
	{                                                                      \
		name, offsetof(type, member), kind, flags, arg, 0              \
	}

_Static_assert(FL_PROTO_DETAIL_MAX <= 255 && FL_PROTO_TZ_MAX <= 255,
	       "string sizes fit a table's byte");

/* The integer value of a numeric, bool or enum field. */
static uint64_t number_at(const void *p, uint8_t kind)
{
	switch (kind) {
	case FK_BOOL: return *(const bool *)p;
	case FK_U32: return *(const uint32_t *)p;
	case FK_U64: return *(const uint64_t *)p;
	default: return *(const uint8_t *)p; /* FK_U8, FK_ENUM */
	}
}

static int fields_validate(const void *m, const struct field *f, size_t n,
			   struct fl_proto_diag *d)
{
	for (size_t i = 0; i < n; i++, f++) {
		const void *p = (const char *)m + f->off;
		uint64_t v;
		int err;

		if (f->kind == FK_STR) {
			err = check_field(p, f->arg, f->cs,
					  (f->flags & FF_REQ) != 0, f->name, d);
			if (err)
				return err;
			continue;
		}
		v = number_at(p, f->kind);
		if (f->kind == FK_ENUM && vocab_name[f->arg]((int)v) == NULL)
			return fail(d, f->name, "unknown value");
		if ((f->flags & FF_NZ) && v == 0)
			return fail(d, f->name, "must be 1 or more");
		if ((f->kind == FK_U64 && v > FL_PROTO_UINT_MAX) ||
		    (f->kind == FK_U8 && v > f->arg))
			return fail(d, f->name, "out of range");
	}
	return 0;
}

static int fields_encode(cJSON *obj, const void *m, const struct field *f,
			 size_t n)
{
	for (size_t i = 0; i < n; i++, f++) {
		const void *p = (const char *)m + f->off;
		bool is_req = (f->flags & FF_REQ) != 0;
		uint64_t v;
		int err = 0;

		if (f->kind == FK_STR) {
			if (is_req || ((const char *)p)[0] != '\0')
				err = fl_proto__add_str(obj, f->name, p);
		} else if ((v = number_at(p, f->kind)) != 0 || is_req) {
			/* An enum value without a name is refused even when
			 * the struct is not checked (FL_PROTO_TRUST_OWN): a
			 * port's reset reason, say. */
			const char *name = f->kind == FK_ENUM
						   ? vocab_name[f->arg]((int)v)
						   : NULL;

			if (f->kind == FK_BOOL)
				err = fl_proto__add_bool(obj, f->name, v != 0);
			else if (f->kind == FK_ENUM)
				err = name != NULL ? fl_proto__add_str(
							     obj, f->name, name)
						   : FL_EINVAL;
			else
				err = fl_proto__add_uint(obj, f->name, v);
		}
		if (err)
			return err;
	}
	return 0;
}

static int fields_decode(void *m, const cJSON *obj, const struct field *f,
			 size_t n, struct fl_proto_diag *d)
{
	for (size_t i = 0; i < n; i++, f++) {
		void *p = (char *)m + f->off;
		bool is_req = (f->flags & FF_REQ) != 0;
		uint64_t min = (f->flags & FF_NZ) ? 1 : 0;
		uint32_t u8 = 0;
		int err;

		switch (f->kind) {
		case FK_BOOL:
			err = fl_proto__get_bool(p, obj, f->name, is_req, d);
			break;
		case FK_U8:
			err = fl_proto__get_u32(&u8, obj, f->name, is_req, 0,
						f->arg, d);
			*(uint8_t *)p = (uint8_t)u8;
			break;
		case FK_U32:
			err = fl_proto__get_u32(p, obj, f->name, is_req,
						(uint32_t)min, UINT32_MAX, d);
			break;
		case FK_U64:
			err = fl_proto__get_uint(p, obj, f->name, is_req, min,
						 FL_PROTO_UINT_MAX, d);
			break;
		case FK_STR:
			err = fl_proto__get_str(p, f->arg, obj, f->name, is_req,
						f->cs, d);
			break;
		default:
			err = fl_proto__get_enum(p, obj, f->name, is_req,
						 vocab_parse[f->arg], d);
			break;
		}
		if (err)
			return err;
	}
	return 0;
}

/* A new object for an encoder, after validating m against its rules. */
static int encode_begin(cJSON **root, int err, char *out, size_t out_size)
{
	*root = NULL;
	if (err == 0) {
		*root = cJSON_CreateObject();
		err = *root != NULL ? 0 : FL_ENOMEM;
	}
	if (err && out != NULL && out_size > 0)
		out[0] = '\0';
	return err;
}

/* ---- presence ---------------------------------------------------------- */

#define P struct fl_presence
static const struct field presence_fields[] = {
	NUM(P, is_online, "online", FK_BOOL, FF_REQ, 0),
	NUM(P, boot, "boot", FK_U32, 0, 0),
	NUM(P, conn, "conn", FK_U32, 0, 0),
	NUM(P, ts, "ts", FK_U64, 0, 0),
	STR(P, agent, "agent", 0, FL_CS_VERSION),
};
#undef P

static int presence_validate(const struct fl_presence *m,
			     struct fl_proto_diag *d)
{
	return fields_validate(m, presence_fields, COUNT(presence_fields), d);
}

int fl_proto_encode_presence(char *out, size_t out_size, size_t *out_len,
			     const struct fl_presence *m)
{
	cJSON *root;
	int err;

	if (m == NULL)
		return FL_EINVAL;
	err = encode_begin(&root, OWN_CHECK(presence_validate(m, NULL)), out,
			   out_size);
	if (err)
		return err;
	err = fields_encode(root, m, presence_fields, COUNT(presence_fields));
	return finish(root, err, out, out_size, out_len);
}

int fl_proto_decode_presence(struct fl_presence *out, const char *in,
			     size_t len, struct fl_proto_diag *d)
{
	cJSON *root = NULL;
	int err;

	if (out == NULL)
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	CHECK(fl_proto__parse(&root, in, len, FL_PROTO_MSG_MAX, d));
	CHECK(fields_decode(out, root, presence_fields, COUNT(presence_fields),
			    d));
	CHECK(presence_validate(out, d));
out:
	cJSON_Delete(root);
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}

/* ---- reported ---------------------------------------------------------- */

/* Three runs of flat fields, around the arrays and the job's part. */
#define R struct fl_reported
static const struct field reported_head[] = {
	STR(R, model, "model", FF_REQ, FL_CS_IDENT),
	STR(R, tz, "tz", 0, FL_CS_TZ),
	NUM(R, boot, "boot", FK_U32, 0, 0),
	NUM(R, ts, "ts", FK_U64, 0, 0),
	STR(R, agent, "agent", 0, FL_CS_VERSION),
};
static const struct field reported_mid[] = {
	NUM(R, booted, "booted", FK_U8, 0, FL_PROTO_SLOTS_MAX - 1),
	NUM(R, floor, "floor", FK_U64, 0, 0),
};
/* Written all three when job is not 0 (the encoder does that itself). */
static const struct field reported_job[] = {
	NUM(R, job, "job", FK_U32, 0, 0),
	NUM(R, state, "state", FK_ENUM, 0, V_STATE),
	NUM(R, result, "result", FK_ENUM, 0, V_RESULT),
};
#undef R

static int reported_validate(const struct fl_reported *m,
			     struct fl_proto_diag *d)
{
	int err;

	CHECK(fields_validate(m, reported_head, COUNT(reported_head), d));
	if (m->n_labels > FL_PROTO_LABELS_MAX) {
		fl_proto__diag(d, "labels", "too many");
		return FL_ETOOBIG;
	}
	for (unsigned i = 0; i < m->n_labels; i++) {
		CHECK(check_field(m->labels[i].key, sizeof(m->labels[i].key),
				  FL_CS_IDENT, true, "labels", d));
		CHECK(check_field(m->labels[i].value,
				  sizeof(m->labels[i].value), FL_CS_VALUE,
				  false, "labels", d));
		for (unsigned j = 0; j < i; j++) {
			if (strcmp(m->labels[i].key, m->labels[j].key) == 0)
				return fail(d, "labels", "key twice");
		}
	}
	if (m->n_components > FL_PROTO_COMPONENTS_MAX) {
		fl_proto__diag(d, "components", "too many");
		return FL_ETOOBIG;
	}
	for (unsigned i = 0; i < m->n_components; i++) {
		const struct fl_component *c = &m->components[i];

		CHECK(check_field(c->name, sizeof(c->name), FL_CS_IDENT, true,
				  "components.name", d));
		CHECK(check_field(c->version, sizeof(c->version), FL_CS_VERSION,
				  true, "components.version", d));
		for (unsigned j = 0; j < i; j++) {
			if (strcmp(c->name, m->components[j].name) == 0)
				return fail(d, "components", "name twice");
		}
	}
	if (m->n_slots > FL_PROTO_SLOTS_MAX) {
		fl_proto__diag(d, "slots", "too many");
		return FL_ETOOBIG;
	}
	for (unsigned i = 0; i < m->n_slots; i++) {
		const struct fl_wire_slot *s = &m->slots[i];

		if (fl_wire_slot_state_name(s->state) == NULL)
			return fail(d, "slots.state", "unknown value");
		CHECK(check_field(s->version, sizeof(s->version), FL_CS_VERSION,
				  false, "slots.version", d));
		if (s->seq > FL_PROTO_UINT_MAX)
			return fail(d, "slots.seq", "out of range");
		if (s->state == FL_WIRE_SLOT_EMPTY &&
		    (s->version[0] || s->seq || s->length))
			return fail(d, "slots", "an empty slot has no image");
	}
	if (m->n_slots ? m->booted >= m->n_slots : m->booted != 0)
		return fail(d, "booted", "no such slot");
	/* Only the slot not booted carries its image's digest (what a
	 * rollback switches to): so the worst case fits 2048 bytes. */
	if (m->n_slots && m->slots[m->booted].length)
		return fail(d, "slots.sha256", "only for the slot not booted");
	CHECK(fields_validate(m, reported_mid, COUNT(reported_mid), d));
	CHECK(fields_validate(m, reported_job, COUNT(reported_job), d));
	if (m->job == 0 && (m->state || m->result))
		return fail(d, "job", "state or result without a job");
out:
	return err;
}

/* The arrays of reported: labels, components, slots. */
static int encode_arrays(cJSON *root, const struct fl_reported *m)
{
	cJSON *arr, *obj;
	int err;

	if (m->n_labels) {
		obj = cJSON_AddObjectToObject(root, "labels");
		if (obj == NULL)
			return FL_ENOMEM;
		for (unsigned i = 0; i < m->n_labels; i++)
			CHECK(fl_proto__add_str(obj, m->labels[i].key,
						m->labels[i].value));
	}
	if (m->n_components) {
		arr = cJSON_AddArrayToObject(root, "components");
		if (arr == NULL)
			return FL_ENOMEM;
		for (unsigned i = 0; i < m->n_components; i++) {
			obj = cJSON_CreateObject();
			if (obj == NULL)
				return FL_ENOMEM;
			cJSON_AddItemToArray(arr, obj);
			CHECK(fl_proto__add_str(obj, "name",
						m->components[i].name));
			CHECK(fl_proto__add_str(obj, "version",
						m->components[i].version));
		}
	}
	if (m->n_slots) {
		arr = cJSON_AddArrayToObject(root, "slots");
		if (arr == NULL)
			return FL_ENOMEM;
		for (unsigned i = 0; i < m->n_slots; i++) {
			obj = cJSON_CreateObject();
			if (obj == NULL)
				return FL_ENOMEM;
			cJSON_AddItemToArray(arr, obj);
			CHECK(fl_proto__add_str(
				obj, "state",
				fl_wire_slot_state_name(m->slots[i].state)));
			CHECK(add_str_opt(obj, "version", m->slots[i].version));
			CHECK(add_uint_opt(obj, "seq", m->slots[i].seq));
			if (m->slots[i].length) {
				char hex[2 * FL_SHA256_BYTES + 1];

				CHECK(add_uint_opt(obj, "length",
						   m->slots[i].length));
				CHECK(fl_hex_encode(hex, sizeof(hex),
						    m->slots[i].sha256,
						    FL_SHA256_BYTES));
				CHECK(fl_proto__add_str(obj, "sha256", hex));
			}
		}
	}
	err = 0;
out:
	return err;
}

int fl_proto_encode_reported(char *out, size_t out_size, size_t *out_len,
			     const struct fl_reported *m)
{
	cJSON *root;
	int err;

	if (m == NULL)
		return FL_EINVAL;
	err = encode_begin(&root, OWN_CHECK(reported_validate(m, NULL)), out,
			   out_size);
	if (err)
		return err;
	CHECK(fields_encode(root, m, reported_head, COUNT(reported_head)));
	CHECK(encode_arrays(root, m));
	CHECK(fields_encode(root, m, reported_mid, COUNT(reported_mid)));
	if (m->job) {
		CHECK(fl_proto__add_uint(root, "job", m->job));
		CHECK(fl_proto__add_str(root, "state",
					fl_update_state_name(m->state)));
		CHECK(fl_proto__add_str(root, "result",
					fl_result_name(m->result)));
	}
out:
	return finish(root, err, out, out_size, out_len);
}

static int decode_labels(struct fl_reported *out, const cJSON *root,
			 struct fl_proto_diag *d)
{
	const cJSON *obj, *it;
	int err = fl_proto__member(&obj, root, "labels", false, d);

	if (err || obj == NULL)
		return err;
	if (!cJSON_IsObject(obj))
		return fail(d, "labels", "not an object");
	for (it = obj->child; it != NULL; it = it->next) {
		struct fl_label *l;

		if (out->n_labels == FL_PROTO_LABELS_MAX) {
			fl_proto__diag(d, "labels", "too many");
			return FL_ETOOBIG;
		}
		l = &out->labels[out->n_labels++];
		if (!cJSON_IsString(it) || it->valuestring == NULL)
			return fail(d, "labels", "value not a string");
		err = fl_proto_check_str(it->string, sizeof(l->key),
					 FL_CS_IDENT);
		if (!err)
			err = fl_proto_check_str(it->valuestring,
						 sizeof(l->value), FL_CS_VALUE);
		if (err) {
			fl_proto__diag(d, "labels", "bad key or value");
			return err;
		}
		(void)fl_strlcpy(l->key, it->string, sizeof(l->key));
		(void)fl_strlcpy(l->value, it->valuestring, sizeof(l->value));
	}
	return 0;
}

static int decode_components(struct fl_reported *out, const cJSON *root,
			     struct fl_proto_diag *d)
{
	const cJSON *arr, *it;
	int err = fl_proto__member(&arr, root, "components", false, d);

	if (err || arr == NULL)
		return err;
	if (!cJSON_IsArray(arr))
		return fail(d, "components", "not an array");
	cJSON_ArrayForEach(it, arr)
	{
		struct fl_component *c;

		if (out->n_components == FL_PROTO_COMPONENTS_MAX) {
			fl_proto__diag(d, "components", "too many");
			return FL_ETOOBIG;
		}
		if (!cJSON_IsObject(it))
			return fail(d, "components", "not an object");
		c = &out->components[out->n_components++];
		err = fl_proto__get_str(c->name, sizeof(c->name), it, "name",
					true, FL_CS_IDENT, d);
		if (!err)
			err = fl_proto__get_str(c->version, sizeof(c->version),
						it, "version", true,
						FL_CS_VERSION, d);
		if (err)
			return err;
	}
	return 0;
}

/* "length" and "sha256" of a slot: both or neither. */
static int decode_slot_image(struct fl_wire_slot *s, const cJSON *it,
			     struct fl_proto_diag *d)
{
	char hex[2 * FL_SHA256_BYTES + 1] = "";
	uint64_t length = 0;
	int err = fl_proto__get_uint(&length, it, "length", false, 1,
				     UINT32_MAX, d);

	if (!err)
		err = fl_proto__get_str(hex, sizeof(hex), it, "sha256", false,
					FL_CS_TEXT, d);
	if (err)
		return err;
	if ((length == 0) != (hex[0] == 0))
		return fail(d, "slots", "length and sha256 go together");
	if (length == 0)
		return 0;
	if (strlen(hex) != 2 * FL_SHA256_BYTES ||
	    !fl_proto__is_lower_hex(hex, 2 * FL_SHA256_BYTES))
		return fail(d, "slots.sha256", "not 64 lowercase hex digits");
	s->length = (uint32_t)length;
	return fl_hex_decode(s->sha256, sizeof(s->sha256), hex,
			     2 * FL_SHA256_BYTES);
}

static int decode_slots(struct fl_reported *out, const cJSON *root,
			struct fl_proto_diag *d)
{
	const cJSON *arr, *it;
	int err = fl_proto__member(&arr, root, "slots", false, d);

	if (err || arr == NULL)
		return err;
	if (!cJSON_IsArray(arr))
		return fail(d, "slots", "not an array");
	cJSON_ArrayForEach(it, arr)
	{
		struct fl_wire_slot *s;

		if (out->n_slots == FL_PROTO_SLOTS_MAX) {
			fl_proto__diag(d, "slots", "too many");
			return FL_ETOOBIG;
		}
		if (!cJSON_IsObject(it))
			return fail(d, "slots", "not an object");
		s = &out->slots[out->n_slots++];
		err = fl_proto__get_enum(&s->state, it, "state", true,
					 fl_proto__slot_state_parse, d);
		if (!err)
			err = fl_proto__get_str(s->version, sizeof(s->version),
						it, "version", false,
						FL_CS_VERSION, d);
		if (!err)
			err = fl_proto__get_uint(&s->seq, it, "seq", false, 0,
						 FL_PROTO_UINT_MAX, d);
		if (!err)
			err = decode_slot_image(s, it, d);
		if (err)
			return err;
	}
	return 0;
}

int fl_proto_decode_reported(struct fl_reported *out, const char *in,
			     size_t len, struct fl_proto_diag *d)
{
	cJSON *root = NULL;
	int err;

	if (out == NULL)
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	CHECK(fl_proto__parse(&root, in, len, FL_PROTO_MSG_MAX, d));
	CHECK(fields_decode(out, root, reported_head, COUNT(reported_head), d));
	CHECK(decode_labels(out, root, d));
	CHECK(decode_components(out, root, d));
	CHECK(decode_slots(out, root, d));
	CHECK(fields_decode(out, root, reported_mid, COUNT(reported_mid), d));
	CHECK(fields_decode(out, root, reported_job, COUNT(reported_job), d));
	CHECK(reported_validate(out, d));
out:
	cJSON_Delete(root);
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}

/* ---- cmd --------------------------------------------------------------- */

#define CMD_KEY_B64 (((FL_CMD_KEY_BYTES + 2) / 3) * 4)

/* The command's rules beyond what the decoder's readers check as they
 * read (type, job and expires in range, the envelope, activate, each
 * limit's metric charset and finite numbers): cmd_validate() adds those. */
static int cmd_rules(const struct fl_cmd *m, struct fl_proto_diag *d)
{
	if (m->issued > m->expires)
		return fail(d, "issued", "after expires");
	if (m->type == FL_CMD_CANCEL)
		return 0; /* the rest is not sent and not read */
	if (m->has_key && m->manifest.body_len > FL_MANIFEST_SEALED_MAX)
		return fail(d, "key", "with a manifest body over 672 bytes");
	if (m->activate == FL_ACTIVATE_WINDOW &&
	    (m->window_start_min >= 1440 || m->window_end_min >= 1440 ||
	     m->window_start_min == m->window_end_min))
		return fail(d, "window", "not HH:MM-HH:MM, or empty");
	if (m->n_limits > FL_PROTO_LIMITS_MAX) {
		fl_proto__diag(d, "health.limits", "too many");
		return FL_ETOOBIG;
	}
	for (unsigned i = 0; i < m->n_limits; i++) {
		const struct fl_health_limit *l = &m->limits[i];

		if (l->metric[0] == '\0')
			return fail(d, "health.limits.metric",
				    "empty, bad character or form");
		if (!l->has_min && !l->has_max)
			return fail(d, "health.limits", "neither min nor max");
		if (l->has_min && l->has_max && !fl_f64_le(l->min, l->max))
			return fail(d, "health.limits", "bad min or max");
		for (unsigned j = 0; j < i; j++) {
			if (strcmp(l->metric, m->limits[j].metric) == 0)
				return fail(d, "health.limits", "metric twice");
		}
	}
	return 0;
}

/* Every rule of a command (the encoder's check). */
static int cmd_validate(const struct fl_cmd *m, struct fl_proto_diag *d)
{
	if (fl_cmd_type_name(m->type) == NULL)
		return fail(d, "type", "unknown value");
	if (m->job == 0)
		return fail(d, "job", "must be 1 or more");
	if (m->expires == 0 || m->expires > FL_PROTO_UINT_MAX)
		return fail(d, "expires", "missing or out of range");
	if (m->type == FL_CMD_CANCEL || m->issued > m->expires)
		return cmd_rules(m, d);
	if ((m->manifest.v != FL_MANIFEST_ENV_VERSION &&
	     m->manifest.v != FL_MANIFEST_ENV_CERTIFIED) ||
	    m->manifest.body_len == 0 ||
	    m->manifest.body_len > FL_MANIFEST_BODY_MAX)
		return fail(d, "manifest", "missing or malformed envelope");
	if (fl_proto__activate_name(m->activate) == NULL)
		return fail(d, "activate", "unknown value");
	for (unsigned i = 0; i < m->n_limits && i < FL_PROTO_LIMITS_MAX; i++) {
		const struct fl_health_limit *l = &m->limits[i];
		int err = check_field(l->metric, sizeof(l->metric), FL_CS_IDENT,
				      true, "health.limits.metric", d);

		if (err)
			return err;
		if ((l->has_min && !fl_proto__is_finite(l->min)) ||
		    (l->has_max && !fl_proto__is_finite(l->max)))
			return fail(d, "health.limits", "bad min or max");
	}
	return cmd_rules(m, d);
}

/* "HH:MM-HH:MM" <-> minutes. */
static void window_format(char out[12], unsigned start, unsigned end)
{
	out[0] = (char)('0' + start / 600);
	out[1] = (char)('0' + start / 60 % 10);
	out[2] = ':';
	out[3] = (char)('0' + start % 60 / 10);
	out[4] = (char)('0' + start % 10);
	out[5] = '-';
	out[6] = (char)('0' + end / 600);
	out[7] = (char)('0' + end / 60 % 10);
	out[8] = ':';
	out[9] = (char)('0' + end % 60 / 10);
	out[10] = (char)('0' + end % 10);
	out[11] = '\0';
}

static int hhmm(const char *s, uint16_t *out)
{
	unsigned h, m;

	for (int i = 0; i < 5; i++) {
		if (i == 2 ? s[i] != ':' : !(s[i] >= '0' && s[i] <= '9'))
			return FL_EINVAL;
	}
	h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
	m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
	if (h > 23 || m > 59)
		return FL_EINVAL;
	*out = (uint16_t)(h * 60 + m);
	return 0;
}

static int window_parse(struct fl_cmd *out, const cJSON *root,
			struct fl_proto_diag *d)
{
	char w[16] = "";
	int err = fl_proto__get_str(w, sizeof(w), root, "window", true,
				    FL_CS_TEXT, d);

	if (err)
		return err;
	if (strlen(w) != 11 || w[5] != '-' ||
	    hhmm(w, &out->window_start_min) != 0 ||
	    hhmm(w + 6, &out->window_end_min) != 0)
		return fail(d, "window", "not HH:MM-HH:MM");
	return 0;
}

static int health_parse(struct fl_cmd *out, const cJSON *root,
			struct fl_proto_diag *d)
{
	const cJSON *h, *arr, *it;
	int err = fl_proto__member(&h, root, "health", false, d);

	if (err || h == NULL)
		return err;
	if (!cJSON_IsObject(h))
		return fail(d, "health", "not an object");
	err = fl_proto__get_u32(&out->health_window_s, h, "window_s", false, 0,
				UINT32_MAX, d);
	if (!err)
		err = fl_proto__member(&arr, h, "limits", false, d);
	if (err || arr == NULL)
		return err;
	if (!cJSON_IsArray(arr))
		return fail(d, "health.limits", "not an array");
	cJSON_ArrayForEach(it, arr)
	{
		struct fl_health_limit *l;
		const cJSON *m;

		if (out->n_limits == FL_PROTO_LIMITS_MAX) {
			fl_proto__diag(d, "health.limits", "too many");
			return FL_ETOOBIG;
		}
		if (!cJSON_IsObject(it))
			return fail(d, "health.limits", "not an object");
		l = &out->limits[out->n_limits++];
		err = fl_proto__get_str(l->metric, sizeof(l->metric), it,
					"metric", true, FL_CS_IDENT, d);
		if (!err)
			err = fl_proto__member(&m, it, "min", false, d);
		if (!err && m != NULL) {
			l->has_min = true;
			err = fl_proto__get_double(&l->min, it, "min", true, d);
		}
		if (!err)
			err = fl_proto__member(&m, it, "max", false, d);
		if (!err && m != NULL) {
			l->has_max = true;
			err = fl_proto__get_double(&l->max, it, "max", true, d);
		}
		if (err)
			return err;
	}
	return 0;
}

int fl_proto_encode_cmd(char *out, size_t out_size, size_t *out_len,
			const struct fl_cmd *m)
{
	cJSON *root = NULL, *obj, *arr, *h;
	char window[12];
	int err;

	if (m == NULL)
		return FL_EINVAL;
	CHECK(cmd_validate(m, NULL));
	root = cJSON_CreateObject();
	if (root == NULL)
		return FL_ENOMEM;
	CHECK(fl_proto__add_str(root, "type", fl_cmd_type_name(m->type)));
	CHECK(fl_proto__add_uint(root, "job", m->job));
	CHECK(add_uint_opt(root, "issued", m->issued));
	CHECK(fl_proto__add_uint(root, "expires", m->expires));
	if (m->type == FL_CMD_CANCEL)
		goto out;
	obj = cJSON_AddObjectToObject(root, "manifest");
	if (obj == NULL)
		CHECK(FL_ENOMEM);
	CHECK(fl_manifest__env_to_json(obj, &m->manifest));
	if (m->has_key) {
		char key[CMD_KEY_B64 + 1];

		CHECK(fl_base64_encode(key, sizeof(key), NULL, m->key,
				       sizeof(m->key)));
		CHECK(fl_proto__add_str(root, "key", key));
	}
	if (m->activate != FL_ACTIVATE_NOW)
		CHECK(fl_proto__add_str(root, "activate",
					fl_proto__activate_name(m->activate)));
	if (m->activate == FL_ACTIVATE_WINDOW) {
		window_format(window, m->window_start_min, m->window_end_min);
		CHECK(fl_proto__add_str(root, "window", window));
	}
	if (m->health_window_s == 0 && m->n_limits == 0)
		goto out;
	h = cJSON_AddObjectToObject(root, "health");
	if (h == NULL)
		CHECK(FL_ENOMEM);
	CHECK(add_uint_opt(h, "window_s", m->health_window_s));
	if (m->n_limits == 0)
		goto out;
	arr = cJSON_AddArrayToObject(h, "limits");
	if (arr == NULL)
		CHECK(FL_ENOMEM);
	for (unsigned i = 0; i < m->n_limits; i++) {
		const struct fl_health_limit *l = &m->limits[i];

		obj = cJSON_CreateObject();
		if (obj == NULL)
			CHECK(FL_ENOMEM);
		cJSON_AddItemToArray(arr, obj);
		CHECK(fl_proto__add_str(obj, "metric", l->metric));
		if (l->has_min)
			CHECK(fl_proto__add_double(obj, "min", l->min));
		if (l->has_max)
			CHECK(fl_proto__add_double(obj, "max", l->max));
	}
out:
	if (root == NULL) {
		if (out != NULL && out_size > 0)
			out[0] = '\0';
		return err;
	}
	return finish(root, err, out, out_size, out_len);
}

/* "key": base64 of exactly FL_CMD_KEY_BYTES (optional). */
static int key_parse(struct fl_cmd *out, const cJSON *root,
		     struct fl_proto_diag *d)
{
	char key[CMD_KEY_B64 + 2] = "";
	size_t n = 0;
	int err;

	if (cJSON_GetObjectItemCaseSensitive(root, "key") == NULL)
		return 0;
	err = fl_proto__get_str(key, sizeof(key), root, "key", true, FL_CS_TEXT,
				d);
	if (err)
		return err;
	if (strlen(key) != CMD_KEY_B64 ||
	    fl_base64_decode(out->key, sizeof(out->key), &n, key,
			     CMD_KEY_B64) != 0 ||
	    n != FL_CMD_KEY_BYTES)
		return fail(d, "key", "not base64 of 122 bytes");
	out->has_key = true;
	return 0;
}

int fl_proto_decode_cmd(struct fl_cmd *out, const char *in, size_t len,
			struct fl_proto_diag *d)
{
	cJSON *root = NULL;
	const cJSON *env, *t;
	uint8_t type = FL_CMD_NONE;
	int v;
	uint32_t job = 0;
	int err;

	if (out == NULL)
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	CHECK(fl_proto__parse(&root, in, len, FL_PROTO_MSG_MAX, d));
	/* The job first, so that a device can answer a bad command. */
	CHECK(fl_proto__get_u32(&job, root, "job", true, 1, UINT32_MAX, d));
	CHECK(fl_proto__member(&t, root, "type", true, d));
	if (!cJSON_IsString(t) || t->valuestring == NULL) {
		err = fail(d, "type", "not a string");
		goto out;
	}
	if (fl_proto__cmd_type_parse(&v, t->valuestring) != 0) {
		fl_proto__diag(d, "type", "unknown command");
		err = FL_ENOTSUP;
		goto out;
	}
	type = (uint8_t)v;
	out->type = type;
	out->job = job;
	CHECK(fl_proto__get_uint(&out->issued, root, "issued", false, 0,
				 FL_PROTO_UINT_MAX, d));
	CHECK(fl_proto__get_uint(&out->expires, root, "expires", true, 1,
				 FL_PROTO_UINT_MAX, d));
	if (type != FL_CMD_CANCEL) {
		CHECK(fl_proto__member(&env, root, "manifest", true, d));
		CHECK(fl_manifest__env_from_json(&out->manifest, env, d));
		CHECK(key_parse(out, root, d));
		CHECK(fl_proto__get_enum(&out->activate, root, "activate",
					 false, fl_proto__activate_parse, d));
		if (out->activate == FL_ACTIVATE_WINDOW)
			CHECK(window_parse(out, root, d));
		CHECK(health_parse(out, root, d));
	}
	/* The readers checked the rest as they read. */
	CHECK(cmd_rules(out, d));
out:
	cJSON_Delete(root);
	if (err) {
		memset(out, 0, sizeof(*out));
		out->type = type;
		out->job = job;
	}
	return err;
}

/* ---- status ------------------------------------------------------------ */

#define S struct fl_status
static const struct field status_fields[] = {
	NUM(S, job, "job", FK_U32, FF_REQ | FF_NZ, 0),
	NUM(S, boot, "boot", FK_U32, 0, 0),
	NUM(S, n, "n", FK_U32, 0, 0),
	NUM(S, ts, "ts", FK_U64, 0, 0),
	NUM(S, state, "state", FK_ENUM, FF_REQ, V_STATE),
	NUM(S, result, "result", FK_ENUM, 0, V_RESULT),
	STR(S, reason, "reason", 0, FL_CS_TOKEN),
	STR(S, detail, "detail", 0, FL_CS_TEXT),
	NUM(S, bytes, "bytes", FK_U32, 0, 0),
	NUM(S, total, "total", FK_U32, 0, 0),
	NUM(S, retry_s, "retry_s", FK_U32, 0, 0),
	NUM(S, reset, "reset", FK_ENUM, 0, V_RESET),
	STR(S, version, "version", 0, FL_CS_VERSION),
};
#undef S

static int status_validate(const struct fl_status *m, struct fl_proto_diag *d)
{
	int err = fields_validate(m, status_fields, COUNT(status_fields), d);

	if (err)
		return err;
	if ((m->state == FL_STATE_IDLE) != fl_result_is_final(m->result))
		return fail(d, "result",
			    "final exactly when the state is idle");
	if (m->result == FL_RESULT_RETRY_LATER && m->state != FL_STATE_WAITING)
		return fail(d, "result", "retry_later only while waiting");
	if (m->total && m->bytes > m->total)
		return fail(d, "bytes", "more than total");
	return 0;
}

int fl_proto_encode_status(char *out, size_t out_size, size_t *out_len,
			   const struct fl_status *m)
{
	cJSON *root;
	int err;

	if (m == NULL)
		return FL_EINVAL;
	err = encode_begin(&root, OWN_CHECK(status_validate(m, NULL)), out,
			   out_size);
	if (err)
		return err;
	err = fields_encode(root, m, status_fields, COUNT(status_fields));
	return finish(root, err, out, out_size, out_len);
}

int fl_proto_decode_status(struct fl_status *out, const char *in, size_t len,
			   struct fl_proto_diag *d)
{
	cJSON *root = NULL;
	int err;

	if (out == NULL)
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	CHECK(fl_proto__parse(&root, in, len, FL_PROTO_MSG_MAX, d));
	CHECK(fields_decode(out, root, status_fields, COUNT(status_fields), d));
	CHECK(status_validate(out, d));
out:
	cJSON_Delete(root);
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}

/* ---- health ------------------------------------------------------------ */

#define H struct fl_health
static const struct field health_fields[] = {
	NUM(H, ts, "ts", FK_U64, 0, 0),
	NUM(H, uptime_s, "uptime_s", FK_U64, FF_REQ, 0),
	NUM(H, boot, "boot", FK_U32, FF_REQ, 0),
	NUM(H, reset, "reset", FK_ENUM, 0, V_RESET),
	NUM(H, crashes, "crashes", FK_U32, 0, 0),
	STR(H, version, "version", 0, FL_CS_VERSION),
	NUM(H, slot, "slot", FK_U8, 0, FL_PROTO_SLOTS_MAX - 1),
	NUM(H, is_trial, "trial", FK_BOOL, 0, 0),
	NUM(H, job, "job", FK_U32, 0, 0),
};
#undef H

static int health_validate(const struct fl_health *m, struct fl_proto_diag *d)
{
	int err = fields_validate(m, health_fields, COUNT(health_fields), d);

	if (err)
		return err;
	if (!m->is_trial && m->job)
		return fail(d, "job", "only during a trial");
	if (m->n_metrics > FL_PROTO_METRICS_MAX) {
		fl_proto__diag(d, "metrics", "too many");
		return FL_ETOOBIG;
	}
	for (unsigned i = 0; i < m->n_metrics; i++) {
		err = check_field(m->metrics[i].name,
				  sizeof(m->metrics[i].name), FL_CS_IDENT, true,
				  "metrics", d);
		if (err)
			return err;
		if (!fl_proto__is_finite(m->metrics[i].value))
			return fail(d, "metrics", "not a finite number");
		for (unsigned j = 0; j < i; j++) {
			if (strcmp(m->metrics[i].name, m->metrics[j].name) == 0)
				return fail(d, "metrics", "name twice");
		}
	}
	return 0;
}

int fl_proto_encode_health(char *out, size_t out_size, size_t *out_len,
			   const struct fl_health *m)
{
	cJSON *root, *obj;
	int err;

	if (m == NULL)
		return FL_EINVAL;
	err = encode_begin(&root, OWN_CHECK(health_validate(m, NULL)), out,
			   out_size);
	if (err)
		return err;
	CHECK(fields_encode(root, m, health_fields, COUNT(health_fields)));
	if (m->n_metrics) {
		obj = cJSON_AddObjectToObject(root, "metrics");
		if (obj == NULL)
			CHECK(FL_ENOMEM);
		for (unsigned i = 0; i < m->n_metrics; i++)
			CHECK(fl_proto__add_double(obj, m->metrics[i].name,
						   m->metrics[i].value));
	}
out:
	return finish(root, err, out, out_size, out_len);
}

static int decode_metrics(struct fl_health *out, const cJSON *root,
			  struct fl_proto_diag *d)
{
	const cJSON *obj, *it;
	int err = fl_proto__member(&obj, root, "metrics", false, d);

	if (err || obj == NULL)
		return err;
	if (!cJSON_IsObject(obj))
		return fail(d, "metrics", "not an object");
	for (it = obj->child; it != NULL; it = it->next) {
		struct fl_metric *m;

		if (out->n_metrics == FL_PROTO_METRICS_MAX) {
			fl_proto__diag(d, "metrics", "too many");
			return FL_ETOOBIG;
		}
		m = &out->metrics[out->n_metrics++];
		if (!cJSON_IsNumber(it) ||
		    !fl_proto__is_finite(it->valuedouble))
			return fail(d, "metrics", "not a finite number");
		err = fl_proto_check_str(it->string, sizeof(m->name),
					 FL_CS_IDENT);
		if (err) {
			fl_proto__diag(d, "metrics", "bad name");
			return err;
		}
		(void)fl_strlcpy(m->name, it->string, sizeof(m->name));
		m->value = it->valuedouble;
	}
	return 0;
}

int fl_proto_decode_health(struct fl_health *out, const char *in, size_t len,
			   struct fl_proto_diag *d)
{
	cJSON *root = NULL;
	int err;

	if (out == NULL)
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	CHECK(fl_proto__parse(&root, in, len, FL_PROTO_MSG_MAX, d));
	CHECK(fields_decode(out, root, health_fields, COUNT(health_fields), d));
	CHECK(decode_metrics(out, root, d));
	CHECK(health_validate(out, d));
out:
	cJSON_Delete(root);
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}
