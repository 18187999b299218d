/*
 * values.c -- the value forms of the plan language (plans/README.md,
 * "Values"): whole numbers, decimals, durations, percentages, sizes, rates,
 * times of day, RFC 3339 instants, days, and the rules for names and ids.
 *
 * Each parser takes the scalar exactly as written and accepts one form
 * only: no YAML type guessing, no leading zeros (YAML 1.1 would read 010
 * as octal, so 010 is refused rather than guessed), no unit it does not
 * list. A refusal comes with a reason that quotes the value and, where a
 * common slip is recognised (10min, 2MB, 1.5h), the form to write instead.
 * Numbers are converted by hand, so the process locale plays no part.
 */
#include <stdio.h>
#include <string.h>

#include "fl/err.h"
#include "plan_int.h"

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static int is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static int is_alnum(char c)
{
	return is_digit(c) || is_lower(c) || is_upper(c);
}

static int eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

static int eq_any(const char *s, size_t len, const char *const *lits)
{
	for (; *lits != NULL; lits++)
		if (eq(s, len, *lits))
			return 1;
	return 0;
}

const char *plan__show(char *buf, size_t size, const char *s, size_t len)
{
	size_t n = 0, i;

	if (size == 0)
		return buf;
	for (i = 0; i < len && n + 1 < size && n < 40; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (i < len && n + 4 < size) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

#define SHOW(s, len) plan__show(shown, sizeof(shown), (s), (len))

/* Reads the digits at s[*i, len) as an unsigned number; counts them in
 * *ndigits. Saturates above UINT64_MAX / 10 (callers bound the digits). */
static uint64_t digits(const char *s, size_t len, size_t *i, size_t *ndigits)
{
	uint64_t v = 0;
	size_t start = *i;

	while (*i < len && is_digit(s[*i])) {
		if (v < UINT64_MAX / 10 - 10)
			v = v * 10 + (uint64_t)(s[*i] - '0');
		(*i)++;
	}
	*ndigits = *i - start;
	return v;
}

static int leading_zero(const char *s, size_t start, size_t ndigits)
{
	return ndigits > 1 && s[start] == '0';
}

int plan__parse_uint(const char *s, size_t len, uint32_t max, uint32_t *out,
		     char *why, size_t why_size)
{
	char shown[48];
	size_t i = 0, nd;
	uint64_t v = digits(s, len, &i, &nd);

	if (nd == 0 || i != len) {
		snprintf(why, why_size, "`%s` is not a whole number",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (leading_zero(s, 0, nd)) {
		snprintf(why, why_size, "`%s` has a leading zero",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (nd > 10 || v > max) {
		snprintf(why, why_size, "%s is more than %u", SHOW(s, len),
			 (unsigned)max);
		return FL_EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

int plan__parse_decimal(const char *s, size_t len, double *out, char *why,
			size_t why_size)
{
	static const double pow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
	char shown[48];
	size_t i = 0, nd, nf = 0, start;
	uint64_t ip, fp = 0;
	int neg = 0;

	if (i < len && s[i] == '-') {
		neg = 1;
		i++;
	}
	start = i;
	ip = digits(s, len, &i, &nd);
	if (nd > 0 && i < len && s[i] == '.') {
		i++;
		fp = digits(s, len, &i, &nf);
		if (nf == 0)
			nd = 0;
	}
	if (nd == 0 || i != len) {
		snprintf(why, why_size,
			 "`%s` is not a number: write an integer or a decimal "
			 "like 20 or -0.5",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (leading_zero(s, start, nd)) {
		snprintf(why, why_size, "`%s` has a leading zero",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (nd > 12 || nf > 6) {
		snprintf(why, why_size,
			 "`%s` has too many digits (at most 12 before the "
			 "point and 6 after)",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	/* Both parts are exact in a double; one rounding in the division. */
	*out = (double)ip + (double)fp / pow10[nf];
	if (neg)
		*out = -*out;
	return 0;
}

int plan__parse_duration(const char *s, size_t len, int64_t *out_s, char *why,
			 size_t why_size)
{
	static const char *const minutes[] = {"min", "mins", "minute",
					      "minutes", NULL};
	static const char *const seconds[] = {"sec", "secs", "second",
					      "seconds", NULL};
	static const char *const hours[] = {"hr", "hrs", "hour", "hours", NULL};
	static const char *const days[] = {"day", "days", NULL};
	char shown[48];
	size_t i = 0, nd;
	uint64_t v = digits(s, len, &i, &nd);
	const char *u = s + i;
	size_t ulen = len - i;
	uint64_t mult;

	if (nd > 0 && i < len && s[i] == '.') {
		snprintf(why, why_size,
			 "`%s`: a duration is a whole number of a unit; write "
			 "90m rather than 1.5h",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (nd > 0 && ulen == 0) {
		snprintf(why, why_size,
			 "`%s` has no unit: add s, m, h or d (%ss, %sm)",
			 SHOW(s, len), SHOW(s, len), SHOW(s, len));
		return FL_EINVAL;
	}
	if (nd > 0 && eq_any(u, ulen, minutes)) {
		snprintf(why, why_size, "`%s`: write minutes as m (%.*sm)",
			 SHOW(s, len), (int)i, s);
		return FL_EINVAL;
	}
	if (nd > 0 && (eq_any(u, ulen, seconds) || eq_any(u, ulen, hours) ||
		       eq_any(u, ulen, days))) {
		snprintf(why, why_size,
			 "`%s`: write the unit as one letter (%.*s%c)",
			 SHOW(s, len), (int)i, s, u[0]);
		return FL_EINVAL;
	}
	if (eq(u, ulen, "s"))
		mult = 1;
	else if (eq(u, ulen, "m"))
		mult = 60;
	else if (eq(u, ulen, "h"))
		mult = 3600;
	else if (eq(u, ulen, "d"))
		mult = 86400;
	else
		mult = 0;
	if (nd == 0 || mult == 0) {
		snprintf(why, why_size,
			 "`%s` is not a duration: write a whole number and a "
			 "unit s, m, h or d, like 90s, 10m, 2h or 1d",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (leading_zero(s, 0, nd)) {
		snprintf(why, why_size, "`%s` has a leading zero",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (nd > 9 || v * mult > PLAN_DURATION_MAX_S) {
		snprintf(why, why_size,
			 "`%s` is longer than the longest duration, 366d",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	*out_s = (int64_t)(v * mult);
	return 0;
}

int plan__parse_percent(const char *s, size_t len, int need_sign, int zero_ok,
			uint32_t *out_ppm, char *why, size_t why_size)
{
	char shown[48];
	size_t i = 0, nd, nf = 0;
	uint64_t ip, fp = 0, ppm;
	int has_sign;

	ip = digits(s, len, &i, &nd);
	if (nd > 0 && i < len && s[i] == '.') {
		i++;
		fp = digits(s, len, &i, &nf);
		if (nf == 0)
			nd = 0;
	}
	has_sign = i + 1 == len && s[i] == '%';
	if (nd == 0 || (i != len && !has_sign)) {
		snprintf(why, why_size,
			 "`%s` is not a percentage: write a number and %%, "
			 "like 5%% or 0.5%%",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (need_sign && !has_sign) {
		snprintf(why, why_size,
			 "`%s` needs a %% sign: %s%% (a fraction like 0.05 "
			 "would be ambiguous)",
			 SHOW(s, len), SHOW(s, len));
		return FL_EINVAL;
	}
	if (leading_zero(s, 0, nd)) {
		snprintf(why, why_size, "`%s` has a leading zero",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (nf > 4) {
		snprintf(why, why_size,
			 "`%s` is too precise: at most 4 decimals (0.0001%%)",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	for (size_t k = nf; k < 4; k++)
		fp *= 10;
	ppm = nd > 3 ? UINT64_MAX : ip * 10000 + fp;
	if (ppm > FL_PPM) {
		snprintf(why, why_size, "`%s` is more than 100%%",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (ppm == 0 && !zero_ok) {
		snprintf(why, why_size,
			 "`%s`: a percentage must be more than 0%%",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	*out_ppm = (uint32_t)ppm;
	return 0;
}

int plan__parse_size(const char *s, size_t len, uint64_t *out_bytes, char *why,
		     size_t why_size)
{
	static const struct {
		const char *unit, *fix;
	} slips[] = {
		{"K", "KiB"},	{"k", "KiB"},	{"KB", "KiB"}, {"kB", "KiB"},
		{"kb", "KiB"},	{"Ki", "KiB"},	{"M", "MiB"},  {"MB", "MiB"},
		{"mb", "MiB"},	{"Mi", "MiB"},	{"G", "GiB"},  {"GB", "GiB"},
		{"gb", "GiB"},	{"Gi", "GiB"},	{"b", "B"},    {"kib", "KiB"},
		{"mib", "MiB"}, {"gib", "GiB"},
	};
	char shown[48];
	size_t i = 0, nd;
	uint64_t v = digits(s, len, &i, &nd), mult = 0;
	const char *u = s + i;
	size_t ulen = len - i;

	if (eq(u, ulen, "B"))
		mult = 1;
	else if (eq(u, ulen, "KiB"))
		mult = 1024;
	else if (eq(u, ulen, "MiB"))
		mult = 1024 * 1024;
	else if (eq(u, ulen, "GiB"))
		mult = 1024 * 1024 * 1024;
	if (nd > 0 && mult == 0) {
		for (size_t k = 0; k < sizeof(slips) / sizeof(slips[0]); k++) {
			if (eq(u, ulen, slips[k].unit)) {
				snprintf(why, why_size,
					 "`%s`: sizes use the units B, KiB, "
					 "MiB and GiB: write %.*s%s",
					 SHOW(s, len), (int)i, s, slips[k].fix);
				return FL_EINVAL;
			}
		}
	}
	if (nd == 0 || mult == 0) {
		snprintf(why, why_size,
			 "`%s` is not a size: write a whole number and B, KiB, "
			 "MiB or GiB, like 2MiB",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (leading_zero(s, 0, nd)) {
		snprintf(why, why_size, "`%s` has a leading zero",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (nd > 12 || v > UINT64_MAX / mult) {
		snprintf(why, why_size, "`%s` is too large", SHOW(s, len));
		return FL_EINVAL;
	}
	*out_bytes = v * mult;
	return 0;
}

int plan__parse_rate(const char *s, size_t len, uint32_t *count,
		     uint32_t *period_s, char *why, size_t why_size)
{
	static const struct {
		const char *unit, *fix;
	} slips[] = {
		{"/m", "/min"},	 {"/mins", "/min"}, {"/minute", "/min"},
		{"/sec", "/s"},	 {"/second", "/s"}, {"/hr", "/h"},
		{"/hour", "/h"}, {"/d", "/h"},	    {"/day", "/h"},
	};
	char shown[48];
	size_t i = 0, nd;
	uint64_t v = digits(s, len, &i, &nd);
	const char *u = s + i;
	size_t ulen = len - i;
	uint32_t period = 0;

	if (eq(u, ulen, "/s"))
		period = 1;
	else if (eq(u, ulen, "/min"))
		period = 60;
	else if (eq(u, ulen, "/h"))
		period = 3600;
	if (nd > 0 && period == 0) {
		for (size_t k = 0; k < sizeof(slips) / sizeof(slips[0]); k++) {
			if (eq(u, ulen, slips[k].unit)) {
				snprintf(why, why_size,
					 "`%s`: a rate is per /s, /min or /h: "
					 "write %.*s%s%s",
					 SHOW(s, len), (int)i, s, slips[k].fix,
					 slips[k].unit[1] == 'd'
						 ? " with a count per hour"
						 : "");
				return FL_EINVAL;
			}
		}
	}
	if (nd == 0 || period == 0) {
		snprintf(
			why, why_size,
			"`%s` is not a rate: write a whole number and /s, /min "
			"or /h, like 200/min",
			SHOW(s, len));
		return FL_EINVAL;
	}
	if (leading_zero(s, 0, nd)) {
		snprintf(why, why_size, "`%s` has a leading zero",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (v == 0) {
		snprintf(why, why_size,
			 "`%s`: a rate must allow at least 1 offer; to stop "
			 "offers use `approval: required` or a hold",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (nd > 7 || v > 1000000) {
		snprintf(why, why_size, "`%s` is more than 1000000 offers",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	*count = (uint32_t)v;
	*period_s = period;
	return 0;
}

/* Two digits at s[0..1] as a number, or -1. */
static int two(const char *s)
{
	if (!is_digit(s[0]) || !is_digit(s[1]))
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

int plan__parse_time_of_day(const char *s, size_t len, int allow_24,
			    uint16_t *out_min, char *why, size_t why_size)
{
	char shown[48];
	int h = -1, m = -1;

	if (len == 5 && s[2] == ':') {
		h = two(s);
		m = two(s + 3);
	}
	if (h < 0 || m < 0) {
		snprintf(why, why_size,
			 "`%s` is not a time of day: write \"HH:MM\" on a "
			 "24-hour clock, like \"02:00\"",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (allow_24 && h == 24 && m == 0) {
		*out_min = 1440;
		return 0;
	}
	if (h > 23 || m > 59) {
		snprintf(why, why_size,
			 "`%s` is not a time of day: hours run 00-23 and "
			 "minutes 00-59%s",
			 SHOW(s, len),
			 allow_24 ? " (\"24:00\" ends the day)" : "");
		return FL_EINVAL;
	}
	*out_min = (uint16_t)(h * 60 + m);
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30,
				 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

int plan__parse_instant(const char *s, size_t len, int64_t *out_unix_s,
			char *why, size_t why_size)
{
	static const char form[] = "write an RFC 3339 instant with a zone, "
				   "like 2026-11-27T00:00:00Z or "
				   "2026-11-27T01:00:00+01:00";
	char shown[48];
	int y, mo, d, h, mi, sec, off_min = 0;
	size_t i;

	if (len < 10 || s[4] != '-' || s[7] != '-' || two(s) < 0 ||
	    two(s + 2) < 0 || two(s + 5) < 0 || two(s + 8) < 0) {
		snprintf(why, why_size, "`%s` is not an instant: %s",
			 SHOW(s, len), form);
		return FL_EINVAL;
	}
	if (len == 10) {
		snprintf(why, why_size,
			 "`%s` has no time and zone: write %.10sT00:00:00Z",
			 SHOW(s, len), s);
		return FL_EINVAL;
	}
	if (s[10] != 'T' && s[10] != 't') {
		snprintf(why, why_size,
			 "`%s`: separate date and time with T, as in "
			 "2026-11-27T00:00:00Z",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (len < 19 || s[13] != ':' || s[16] != ':' || two(s + 11) < 0 ||
	    two(s + 14) < 0 || two(s + 17) < 0) {
		snprintf(why, why_size, "`%s` is not an instant: %s",
			 SHOW(s, len), form);
		return FL_EINVAL;
	}
	y = two(s) * 100 + two(s + 2);
	mo = two(s + 5);
	d = two(s + 8);
	h = two(s + 11);
	mi = two(s + 14);
	sec = two(s + 17);
	i = 19;
	if (i < len && s[i] == '.') {
		snprintf(why, why_size,
			 "`%s`: fractional seconds are not supported",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (i == len) {
		snprintf(why, why_size,
			 "`%s` has no zone: add Z for UTC or an offset like "
			 "+01:00",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
		off_min = 0;
	} else if ((s[i] == '+' || s[i] == '-') && len == i + 6 &&
		   s[i + 3] == ':' && two(s + i + 1) >= 0 &&
		   two(s + i + 4) >= 0 && two(s + i + 1) <= 23 &&
		   two(s + i + 4) <= 59) {
		off_min = two(s + i + 1) * 60 + two(s + i + 4);
		if (s[i] == '-')
			off_min = -off_min;
	} else {
		snprintf(why, why_size,
			 "`%s` has a malformed zone: write Z or an offset "
			 "like +01:00 or -05:00",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
	    mi > 59 || sec > 59) {
		snprintf(why, why_size, "`%s` is not a valid date and time",
			 SHOW(s, len));
		return FL_EINVAL;
	}
	*out_unix_s = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
		      sec - (int64_t)off_min * 60;
	return 0;
}

static const char *const day_names[] = {"mon", "tue", "wed", "thu",
					"fri", "sat", "sun"};

/* Index of the day named s[0, len), or -1. */
static int day_index(const char *s, size_t len)
{
	for (int k = 0; k < 7; k++)
		if (eq(s, len, day_names[k]))
			return k;
	return -1;
}

/* A day that s[0, len) probably meant ("Monday", "TUE", "thur"), or -1. */
static int day_guess(const char *s, size_t len)
{
	char low[3];

	if (len < 3)
		return -1;
	for (int k = 0; k < 3; k++)
		low[k] = is_upper(s[k]) ? (char)(s[k] - 'A' + 'a') : s[k];
	return day_index(low, 3);
}

static int bad_day(const char *item, size_t ilen, const char *s, size_t len,
		   char *why, size_t why_size)
{
	char shown[48], shown2[48];
	int g = day_guess(s, len);

	plan__show(shown2, sizeof(shown2), item, ilen);
	if (g >= 0)
		snprintf(why, why_size,
			 "`%s` is not a day: days are mon, tue, wed, thu, fri, "
			 "sat, sun; did you mean `%s`?",
			 shown2, day_names[g]);
	else
		snprintf(why, why_size,
			 "`%s` is not a day: write mon, tue, wed, thu, fri, "
			 "sat or sun, or a range like mon-fri",
			 SHOW(s, len));
	return FL_EINVAL;
}

int plan__parse_days(const char *s, size_t len, uint8_t *mask, char *why,
		     size_t why_size)
{
	char shown[48];
	const char *dash = memchr(s, '-', len);
	int a, b;

	if (dash == NULL) {
		a = day_index(s, len);
		if (a < 0)
			return bad_day(s, len, s, len, why, why_size);
		*mask |= (uint8_t)(1u << a);
		return 0;
	}
	a = day_index(s, (size_t)(dash - s));
	if (a < 0)
		return bad_day(s, len, s, (size_t)(dash - s), why, why_size);
	b = day_index(dash + 1, len - (size_t)(dash - s) - 1);
	if (b < 0)
		return bad_day(s, len, dash + 1, len - (size_t)(dash - s) - 1,
			       why, why_size);
	if (a == b) {
		snprintf(why, why_size,
			 "`%s` starts and ends on the same day: write `%s` "
			 "for one day, or list all seven for every day",
			 SHOW(s, len), day_names[a]);
		return FL_EINVAL;
	}
	for (int k = a;; k = (k + 1) % 7) { /* "fri-mon" wraps the week */
		*mask |= (uint8_t)(1u << k);
		if (k == b)
			break;
	}
	return 0;
}

int plan__check_name(const char *s, size_t len, char *why, size_t why_size)
{
	char shown[48];
	int has_upper = 0, ok = len > 0 && (is_lower(s[0]) || is_digit(s[0]));

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (is_upper(c))
			has_upper = 1;
		if (!(is_lower(c) || is_digit(c) || c == '.' || c == '_' ||
		      c == '-'))
			ok = 0;
	}
	if (len > FL_PLAN_NAME_MAX) {
		snprintf(why, why_size, "`%s` is longer than %d characters",
			 SHOW(s, len), FL_PLAN_NAME_MAX);
		return FL_EINVAL;
	}
	if (!ok) {
		snprintf(why, why_size,
			 "`%s` is not a valid name: use a-z, 0-9, '.', '_' "
			 "and '-', starting with a letter or digit%s",
			 SHOW(s, len), has_upper ? " (lower case only)" : "");
		return FL_EINVAL;
	}
	return 0;
}

/* First character alphanumeric, the rest alphanumeric or from extra. */
static int id_chars(const char *s, size_t len, const char *extra)
{
	if (len == 0 || !is_alnum(s[0]))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!is_alnum(s[i]) && (s[i] == '\0' || !strchr(extra, s[i])))
			return 0;
	return 1;
}

int plan__check_id(const char *s, size_t len, const char *what, char *why,
		   size_t why_size)
{
	char shown[48];

	if (len > PLAN_ID_MAX) {
		snprintf(why, why_size, "%s `%s` is longer than %d characters",
			 what, SHOW(s, len), PLAN_ID_MAX);
		return FL_EINVAL;
	}
	if (!id_chars(s, len, "._:-")) {
		snprintf(why, why_size,
			 "`%s` is not a valid %s: use letters, digits, '.', "
			 "'_', ':' and '-', starting with a letter or digit",
			 SHOW(s, len), what);
		return FL_EINVAL;
	}
	return 0;
}

int plan__check_label_key(const char *s, size_t len, char *why, size_t why_size)
{
	char shown[48];

	if (len > PLAN_ID_MAX || !id_chars(s, len, "._/-")) {
		snprintf(
			why, why_size,
			"`%s` is not a valid label name: use at most %d "
			"letters, digits, '.', '_', '/' and '-', starting with "
			"a letter or digit",
			SHOW(s, len), PLAN_ID_MAX);
		return FL_EINVAL;
	}
	return 0;
}

int plan__check_label_value(const char *s, size_t len, char *why,
			    size_t why_size)
{
	char shown[48];
	int ok = len > 0 && len <= PLAN_ID_MAX;

	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			ok = 0;
	if (!ok) {
		snprintf(why, why_size,
			 "`%s` is not a valid label value: 1 to %d characters, "
			 "no control characters",
			 SHOW(s, len), PLAN_ID_MAX);
		return FL_EINVAL;
	}
	return 0;
}

int plan__check_metric_name(const char *s, size_t len, char *why,
			    size_t why_size)
{
	char shown[48];
	int ok = len > 0 && len <= PLAN_ID_MAX &&
		 (is_lower(s[0]) || is_upper(s[0]) || s[0] == '_');

	for (size_t i = 0; ok && i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' &&
		    s[i] != '-')
			ok = 0;
	if (!ok) {
		snprintf(why, why_size,
			 "`%s` is not a valid metric name: at most %d letters, "
			 "digits, '_', '.' and '-', starting with a letter or "
			 "'_'",
			 SHOW(s, len), PLAN_ID_MAX);
		return FL_EINVAL;
	}
	return 0;
}

unsigned plan__edit_distance(const char *a, size_t alen, const char *b,
			     size_t blen)
{
	unsigned d[65][65];

	if (alen > 64 || blen > 64)
		return 1000;
	for (size_t i = 0; i <= alen; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= blen; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= alen; i++) {
		for (size_t j = 1; j <= blen; j++) {
			unsigned cost = a[i - 1] != b[j - 1];
			unsigned v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[alen][blen];
}
