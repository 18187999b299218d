/*
 * semver.c -- parse and order semantic versions (semver.org 2.0.0), parse
 * and match version ranges (portable: no allocation, no OS calls, and from
 * the C library only what cross/include/string.h offers).
 *
 * A version is MAJOR.MINOR.PATCH[-PRE][+BUILD]. Numbers have no leading
 * zeros and fit in 32 bits; the pre-release is kept as text and compared
 * identifier by identifier; the build metadata is checked for form and then
 * dropped, since it plays no part in ordering. A range is one or more
 * comparators separated by spaces, all of which must hold.
 */
#include "fl/semver.h"

#include <string.h>

#include "fl/err.h"

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_ident_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c == '-';
}

/* Parses a numeric field at s[*i, len) into *out; no leading zero. */
static int parse_number(uint32_t *out, const char *s, size_t len, size_t *i)
{
	uint64_t v = 0;
	size_t start = *i;

	while (*i < len && is_digit(s[*i])) {
		v = v * 10 + (uint64_t)(s[*i] - '0');
		if (v > UINT32_MAX)
			return FL_EINVAL;
		(*i)++;
	}
	if (*i == start)
		return FL_EINVAL;
	if (s[start] == '0' && *i - start > 1)
		return FL_EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/*
 * Checks the dot-separated identifiers at s[start, end): none empty, only
 * [0-9A-Za-z-], and (when numeric_rule is set, as for pre-releases) no
 * numeric identifier with a leading zero.
 */
static int check_idents(const char *s, size_t start, size_t end,
			int numeric_rule)
{
	size_t i = start;

	if (start == end)
		return FL_EINVAL;
	while (i <= end) {
		size_t j = i;
		int all_digits = 1;

		while (j < end && s[j] != '.') {
			if (!is_ident_char(s[j]))
				return FL_EINVAL;
			if (!is_digit(s[j]))
				all_digits = 0;
			j++;
		}
		if (j == i)
			return FL_EINVAL;
		if (numeric_rule && all_digits && s[i] == '0' && j - i > 1)
			return FL_EINVAL;
		i = j + 1;
	}
	return 0;
}

int fl_semver_parse(struct fl_semver *out, const char *s, size_t len)
{
	struct fl_semver v;
	size_t i = 0, pre_start, pre_end;
	int err;

	if (out == NULL || s == NULL)
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	memset(&v, 0, sizeof(v));
	err = parse_number(&v.major, s, len, &i);
	if (err == 0 && (i >= len || s[i++] != '.'))
		err = FL_EINVAL;
	if (err == 0)
		err = parse_number(&v.minor, s, len, &i);
	if (err == 0 && (i >= len || s[i++] != '.'))
		err = FL_EINVAL;
	if (err == 0)
		err = parse_number(&v.patch, s, len, &i);
	if (err != 0)
		return err;

	pre_start = pre_end = i;
	if (i < len && s[i] == '-') {
		pre_start = ++i;
		while (i < len && s[i] != '+')
			i++;
		pre_end = i;
		err = check_idents(s, pre_start, pre_end, 1);
		if (err != 0)
			return err;
	}
	if (i < len && s[i] == '+') {
		err = check_idents(s, i + 1, len, 0);
		if (err != 0)
			return err;
		i = len;
	}
	if (i != len)
		return FL_EINVAL;
	if (pre_end - pre_start >= FL_SEMVER_PRE_MAX)
		return FL_ETOOBIG;
	memcpy(v.pre, s + pre_start, pre_end - pre_start);
	*out = v;
	return 0;
}

/* Compares two numeric identifiers without leading zeros, of any length. */
static int cmp_numeric(const char *a, size_t alen, const char *b, size_t blen)
{
	int c;

	if (alen != blen)
		return alen < blen ? -1 : 1;
	c = memcmp(a, b, alen);
	return c < 0 ? -1 : c > 0;
}

static int all_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_digit(s[i]))
			return 0;
	return 1;
}

/* Compares two pre-release strings, both non-empty. */
static int cmp_pre(const char *a, const char *b)
{
	size_t alen = strlen(a), blen = strlen(b);
	size_t i = 0, j = 0;

	for (;;) {
		size_t ie = i, je = j;
		int an, bn, c;

		if (i >= alen || j >= blen)
			break;
		while (ie < alen && a[ie] != '.')
			ie++;
		while (je < blen && b[je] != '.')
			je++;
		an = all_digits(a + i, ie - i);
		bn = all_digits(b + j, je - j);
		if (an && bn) {
			c = cmp_numeric(a + i, ie - i, b + j, je - j);
		} else if (an != bn) {
			c = an ? -1 : 1; /* numeric orders first */
		} else {
			size_t n = ie - i < je - j ? ie - i : je - j;

			c = memcmp(a + i, b + j, n);
			c = c < 0 ? -1 : c > 0;
			if (c == 0 && ie - i != je - j)
				c = ie - i < je - j ? -1 : 1;
		}
		if (c != 0)
			return c;
		i = ie + 1;
		j = je + 1;
	}
	/* All shared identifiers equal: the one with more orders after. */
	if (i >= alen && j >= blen)
		return 0;
	return i >= alen ? -1 : 1;
}

static int cmp_u32(uint32_t a, uint32_t b)
{
	return a < b ? -1 : a > b;
}

int fl_semver_cmp(const struct fl_semver *a, const struct fl_semver *b)
{
	int c = cmp_u32(a->major, b->major);

	if (c == 0)
		c = cmp_u32(a->minor, b->minor);
	if (c == 0)
		c = cmp_u32(a->patch, b->patch);
	if (c != 0)
		return c;
	if (a->pre[0] == '\0' || b->pre[0] == '\0') {
		if (a->pre[0] == b->pre[0])
			return 0;
		return a->pre[0] == '\0' ? 1 : -1; /* release after pre */
	}
	return cmp_pre(a->pre, b->pre);
}

int fl_semver_range_parse(struct fl_semver_range *out, const char *s)
{
	struct fl_semver_range r;
	size_t len, i = 0;
	int err;

	if (out == NULL || s == NULL)
		return FL_EINVAL;
	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	len = strlen(s);
	for (;;) {
		size_t start;
		uint8_t op = FL_SEMVER_EQ;

		while (i < len && s[i] == ' ')
			i++;
		if (i == len)
			break;
		if (s[i] == '>' || s[i] == '<') {
			int gt = s[i] == '>';

			i++;
			if (i < len && s[i] == '=') {
				op = gt ? FL_SEMVER_GE : FL_SEMVER_LE;
				i++;
			} else {
				op = gt ? FL_SEMVER_GT : FL_SEMVER_LT;
			}
		} else if (s[i] == '=') {
			i++;
		}
		start = i;
		while (i < len && s[i] != ' ')
			i++;
		if (r.n == FL_SEMVER_RANGE_MAX)
			return FL_ETOOBIG;
		err = fl_semver_parse(&r.cmp[r.n].v, s + start, i - start);
		if (err != 0)
			return err;
		r.cmp[r.n].op = op;
		r.n++;
	}
	if (r.n == 0)
		return FL_EINVAL;
	*out = r;
	return 0;
}

int fl_semver_range_match(const struct fl_semver_range *r,
			  const struct fl_semver *v)
{
	for (unsigned k = 0; k < r->n && k < FL_SEMVER_RANGE_MAX; k++) {
		int c = fl_semver_cmp(v, &r->cmp[k].v);
		int ok;

		switch (r->cmp[k].op) {
		case FL_SEMVER_EQ: ok = c == 0; break;
		case FL_SEMVER_GT: ok = c > 0; break;
		case FL_SEMVER_GE: ok = c >= 0; break;
		case FL_SEMVER_LT: ok = c < 0; break;
		case FL_SEMVER_LE: ok = c <= 0; break;
		default: ok = 0; break;
		}
		if (!ok)
			return 0;
	}
	return 1;
}
