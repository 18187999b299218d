/*
 * tzfile.c -- reads the system tz database (TZif, RFC 8536) and answers
 * "what is the UTC offset in zone Z at instant T, and until when".
 *
 * Method: a TZif file holds a sorted table of transition instants, each
 * pointing at a local time type (UTC offset), and, from version 2 on, a
 * second copy of the table with 64-bit instants and a footer: a POSIX TZ
 * string that gives the rule for every instant after the last transition
 * (modern "slim" files stop the table in 2007 or so and rely on it). An
 * instant before the first transition uses type 0; one inside the table
 * uses the type of the last transition at or before it (binary search);
 * one at or after the last transition uses the footer, whose yearly rule
 * is expanded for the year before, of and after the instant into six
 * transitions, enough to know the offset and the next change. Every count
 * and length is checked against the file's size and the FL_TZ_* bounds
 * before it is used; transitions must strictly increase; offsets must lie
 * within RFC 8536's range.
 *
 * The database caches parsed zones by name, bounded, least recently used
 * out first; unknown names are cached too, so a device reporting a bogus
 * zone costs one failed open, not one per question.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl/err.h"
#include "fl/tzfile.h"

#define DAY_S	86400
#define OFF_MIN (-89999) /* RFC 8536 bounds of a UT offset */
#define OFF_MAX 93599

/* ---- POSIX TZ rules -------------------------------------------------------
 */

enum { RULE_J = 0, RULE_N = 1, RULE_M = 2 };

struct rule_date {
	uint8_t kind;
	uint8_t m, w, d; /* RULE_M */
	uint16_t n;	 /* RULE_J: 1..365, RULE_N: 0..365 */
	int32_t time_s;	 /* local time of day of the change */
};

struct posix_tz {
	int32_t std_off, dst_off; /* seconds east of UTC */
	int has_dst;
	struct rule_date start, end;
};

struct fl_tzif {
	uint32_t ntimes, ntypes;
	int64_t *times;
	uint8_t *idx;
	int32_t *off;
	int has_rule;
	struct posix_tz rule;
};

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int64_t year_of_days(int64_t z)
{
	int64_t era, y;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	return y + (mp >= 10); /* months from March; Jan, Feb next year */
}

static int is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m)
{
	static const unsigned char md[12] = {31, 28, 31, 30, 31, 30,
					     31, 31, 30, 31, 30, 31};

	return md[m - 1] + (m == 2 && is_leap(y));
}

/* Days since the epoch of the rule's date in year y. */
static int64_t rule_day(const struct rule_date *r, int64_t y)
{
	int64_t jan1 = days_from_civil(y, 1, 1), first;
	unsigned dow1, day;

	switch (r->kind) {
	case RULE_J: return jan1 + r->n - 1 + (is_leap(y) && r->n >= 60);
	case RULE_N: return jan1 + r->n;
	default:
		first = days_from_civil(y, r->m, 1);
		dow1 = (unsigned)(((first + 4) % 7 + 7) % 7); /* Sunday = 0 */
		day = 1 + (r->d + 7 - dow1) % 7 + (unsigned)(r->w - 1) * 7;
		while (day > month_days(y, r->m))
			day -= 7;
		return first + day - 1;
	}
}

struct cursor {
	const char *s;
};

static int num(struct cursor *c, long min, long max, long *out)
{
	long v = 0;
	int digits = 0;

	while (*c->s >= '0' && *c->s <= '9' && digits < 6) {
		v = v * 10 + (*c->s - '0');
		c->s++;
		digits++;
	}
	if (digits == 0 || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* [+-]hh[:mm[:ss]] with hh <= max_h; seconds, sign applied. */
static int hms(struct cursor *c, long max_h, int32_t *out)
{
	long sign = 1, h, m = 0, s = 0;

	if (*c->s == '+' || *c->s == '-')
		sign = *c->s++ == '-' ? -1 : 1;
	if (num(c, 0, max_h, &h) != 0)
		return -1;
	if (*c->s == ':') {
		c->s++;
		if (num(c, 0, 59, &m) != 0)
			return -1;
		if (*c->s == ':') {
			c->s++;
			if (num(c, 0, 59, &s) != 0)
				return -1;
		}
	}
	*out = (int32_t)(sign * (h * 3600 + m * 60 + s));
	return 0;
}

static int tz_name(struct cursor *c)
{
	size_t n = 0;

	if (*c->s == '<') {
		c->s++;
		while ((*c->s >= 'A' && *c->s <= 'Z') ||
		       (*c->s >= 'a' && *c->s <= 'z') ||
		       (*c->s >= '0' && *c->s <= '9') || *c->s == '+' ||
		       *c->s == '-') {
			c->s++;
			n++;
		}
		if (*c->s != '>' || n == 0)
			return -1;
		c->s++;
		return 0;
	}
	while ((*c->s >= 'A' && *c->s <= 'Z') ||
	       (*c->s >= 'a' && *c->s <= 'z')) {
		c->s++;
		n++;
	}
	return n >= 3 ? 0 : -1;
}

static int rule(struct cursor *c, struct rule_date *r)
{
	long v;

	memset(r, 0, sizeof(*r));
	if (*c->s == 'J') {
		c->s++;
		r->kind = RULE_J;
		if (num(c, 1, 365, &v) != 0)
			return -1;
		r->n = (uint16_t)v;
	} else if (*c->s == 'M') {
		c->s++;
		r->kind = RULE_M;
		if (num(c, 1, 12, &v) != 0)
			return -1;
		r->m = (uint8_t)v;
		if (*c->s++ != '.' || num(c, 1, 5, &v) != 0)
			return -1;
		r->w = (uint8_t)v;
		if (*c->s++ != '.' || num(c, 0, 6, &v) != 0)
			return -1;
		r->d = (uint8_t)v;
	} else {
		r->kind = RULE_N;
		if (num(c, 0, 365, &v) != 0)
			return -1;
		r->n = (uint16_t)v;
	}
	r->time_s = 2 * 3600;
	if (*c->s == '/') {
		c->s++;
		if (hms(c, 167, &r->time_s) != 0) /* RFC 8536 extension */
			return -1;
	}
	return 0;
}

static int posix_parse(const char *s, struct posix_tz *p)
{
	struct cursor c = {s};
	int32_t off;

	memset(p, 0, sizeof(*p));
	if (tz_name(&c) != 0 || hms(&c, 24, &off) != 0)
		return FL_EINVAL;
	p->std_off = -off; /* POSIX counts west positive */
	if (*c.s == '\0')
		return 0;
	if (tz_name(&c) != 0)
		return FL_EINVAL;
	p->has_dst = 1;
	p->dst_off = p->std_off + 3600;
	if (*c.s != ',' && *c.s != '\0') {
		if (hms(&c, 24, &off) != 0)
			return FL_EINVAL;
		p->dst_off = -off;
	}
	if (*c.s == '\0') { /* no rule: the customary US one */
		struct cursor d = {"M3.2.0,M11.1.0"};

		if (rule(&d, &p->start) != 0 || *d.s++ != ',' ||
		    rule(&d, &p->end) != 0)
			return FL_EINVAL;
		return 0;
	}
	if (*c.s++ != ',' || rule(&c, &p->start) != 0 || *c.s++ != ',' ||
	    rule(&c, &p->end) != 0 || *c.s != '\0')
		return FL_EINVAL;
	return 0;
}

static void posix_offset(const struct posix_tz *p, int64_t t, int32_t *off,
			 int64_t *next)
{
	struct {
		int64_t t;
		int is_dst;
	} tr[6] = {{0, 0}}, x; /* all six are set below; -O1 cannot tell */
	int64_t y = year_of_days(floor_div(t, DAY_S));
	int n = 0, i, j, state;

	if (!p->has_dst) {
		*off = p->std_off;
		*next = FL_ENGINE_NEVER;
		return;
	}
	for (int64_t yy = y - 1; yy <= y + 1; yy++) {
		tr[n].t = rule_day(&p->start, yy) * DAY_S + p->start.time_s -
			  p->std_off;
		tr[n++].is_dst = 1;
		tr[n].t = rule_day(&p->end, yy) * DAY_S + p->end.time_s -
			  p->dst_off;
		tr[n++].is_dst = 0;
	}
	/* insertion sort; at equal instants the end goes first, so that a
	 * rule "all year DST" (end meets next start) stays DST */
	for (i = 1; i < n; i++) {
		x = tr[i];
		for (j = i; j > 0 && (tr[j - 1].t > x.t ||
				      (tr[j - 1].t == x.t && tr[j - 1].is_dst &&
				       !x.is_dst));
		     j--)
			tr[j] = tr[j - 1];
		tr[j] = x;
	}
	state = !tr[0].is_dst; /* before the first: the other state */
	*next = FL_ENGINE_NEVER;
	for (i = 0; i < n; i++) {
		if (tr[i].t <= t) {
			state = tr[i].is_dst;
		} else {
			*next = tr[i].t;
			break;
		}
	}
	*off = state ? p->dst_off : p->std_off;
}

int fl_tz_posix_offset(const char *tz, int64_t utc_s, int32_t *offset_s,
		       int64_t *next_change_s)
{
	struct posix_tz p;

	if (tz == NULL || strlen(tz) > FL_TZ_FOOTER_MAX ||
	    posix_parse(tz, &p) != 0)
		return FL_EINVAL;
	posix_offset(&p, utc_s, offset_s, next_change_s);
	return 0;
}

/* ---- TZif ------------------------------------------------------------ */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct hdr {
	uint8_t version;
	uint32_t isut, isstd, leap, time, type, chr;
};

static int read_hdr(const uint8_t *p, size_t len, struct hdr *h)
{
	if (len < 44 || memcmp(p, "TZif", 4) != 0)
		return FL_ECORRUPT;
	h->version = p[4];
	h->isut = be32(p + 20);
	h->isstd = be32(p + 24);
	h->leap = be32(p + 28);
	h->time = be32(p + 32);
	h->type = be32(p + 36);
	h->chr = be32(p + 40);
	if (h->version != 0 && (h->version < '2' || h->version > '4'))
		return FL_ECORRUPT;
	if (h->type == 0 || (h->isut != 0 && h->isut != h->type) ||
	    (h->isstd != 0 && h->isstd != h->type))
		return FL_ECORRUPT;
	if (h->time > FL_TZ_MAX_TIMES || h->type > FL_TZ_MAX_TYPES ||
	    h->chr > 4096 || h->leap > 4096)
		return FL_ETOOBIG;
	return 0;
}

static size_t block_len(const struct hdr *h, size_t tsize)
{
	return h->time * tsize + h->time + h->type * 6 + h->chr +
	       h->leap * (tsize + 4) + h->isstd + h->isut;
}

void fl_tzif_free(struct fl_tzif *z)
{
	if (z == NULL)
		return;
	free(z->times);
	free(z->idx);
	free(z->off);
	free(z);
}

int fl_tzif_parse(const uint8_t *buf, size_t len, struct fl_tzif **out)
{
	struct hdr h;
	struct fl_tzif *z = NULL;
	size_t tsize = 4, at;
	const uint8_t *p;
	int rc;

	*out = NULL;
	if (len > FL_TZ_FILE_MAX)
		return FL_ETOOBIG;
	rc = read_hdr(buf, len, &h);
	if (rc != 0)
		return rc;
	at = 44;
	if (h.version >= '2') {
		at += block_len(&h, 4);
		if (at > len)
			return FL_ECORRUPT;
		rc = read_hdr(buf + at, len - at, &h);
		if (rc != 0)
			return rc;
		at += 44;
		tsize = 8;
	}
	if (block_len(&h, tsize) > len - at)
		return FL_ECORRUPT;
	z = calloc(1, sizeof(*z));
	if (z == NULL)
		return FL_ENOMEM;
	z->ntimes = h.time;
	z->ntypes = h.type;
	z->times = calloc(h.time ? h.time : 1, sizeof(*z->times));
	z->idx = calloc(h.time ? h.time : 1, 1);
	z->off = calloc(h.type, sizeof(*z->off));
	if (z->times == NULL || z->idx == NULL || z->off == NULL) {
		rc = FL_ENOMEM;
		goto out;
	}
	p = buf + at;
	for (uint32_t i = 0; i < h.time; i++) {
		z->times[i] = tsize == 8 ? be64(p) : (int32_t)be32(p);
		p += tsize;
		if (i > 0 && z->times[i] <= z->times[i - 1]) {
			rc = FL_ECORRUPT;
			goto out;
		}
	}
	for (uint32_t i = 0; i < h.time; i++) {
		z->idx[i] = *p++;
		if (z->idx[i] >= h.type) {
			rc = FL_ECORRUPT;
			goto out;
		}
	}
	for (uint32_t i = 0; i < h.type; i++) {
		int32_t off = (int32_t)be32(p);

		if (off < OFF_MIN || off > OFF_MAX || p[4] > 1 ||
		    p[5] >= (h.chr ? h.chr : 1)) {
			rc = FL_ECORRUPT;
			goto out;
		}
		z->off[i] = off;
		p += 6;
	}
	at += block_len(&h, tsize);
	if (tsize == 8 && at < len) {
		/* footer: "\n" TZ "\n"; an empty TZ means no rule */
		const uint8_t *nl;
		char tz[FL_TZ_FOOTER_MAX + 1];
		size_t n;

		if (buf[at] != '\n') {
			rc = FL_ECORRUPT;
			goto out;
		}
		nl = memchr(buf + at + 1, '\n', len - at - 1);
		if (nl == NULL) {
			rc = FL_ECORRUPT;
			goto out;
		}
		n = (size_t)(nl - (buf + at + 1));
		if (n > FL_TZ_FOOTER_MAX) {
			rc = FL_ETOOBIG;
			goto out;
		}
		memcpy(tz, buf + at + 1, n);
		tz[n] = '\0';
		if (n > 0) {
			if (memchr(tz, '\0', n) != NULL ||
			    posix_parse(tz, &z->rule) != 0 ||
			    z->rule.std_off < OFF_MIN ||
			    z->rule.std_off > OFF_MAX ||
			    z->rule.dst_off < OFF_MIN ||
			    z->rule.dst_off > OFF_MAX) {
				rc = FL_ECORRUPT;
				goto out;
			}
			z->has_rule = 1;
		}
	}
	rc = 0;
out:
	if (rc != 0) {
		fl_tzif_free(z);
		return rc;
	}
	*out = z;
	return 0;
}

int fl_tzif_offset(const struct fl_tzif *z, int64_t utc_s, int32_t *offset_s,
		   int64_t *next_change_s)
{
	uint32_t lo, hi;

	if (z->ntimes == 0 || utc_s < z->times[0]) {
		if (z->ntimes == 0 && z->has_rule) {
			posix_offset(&z->rule, utc_s, offset_s, next_change_s);
			return 0;
		}
		*offset_s = z->off[0];
		*next_change_s = z->ntimes ? z->times[0] : FL_ENGINE_NEVER;
		return 0;
	}
	/* the last transition at or before utc_s */
	lo = 0;
	hi = z->ntimes;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (z->times[mid] <= utc_s)
			lo = mid;
		else
			hi = mid;
	}
	if (lo == z->ntimes - 1) {
		if (z->has_rule) {
			posix_offset(&z->rule, utc_s, offset_s, next_change_s);
			return 0;
		}
		*offset_s = z->off[z->idx[lo]];
		*next_change_s = FL_ENGINE_NEVER;
		return 0;
	}
	*offset_s = z->off[z->idx[lo]];
	*next_change_s = z->times[lo + 1];
	return 0;
}

/* ---- the database ----------------------------------------------------------
 */

struct entry {
	char name[FL_TZ_NAME_MAX + 1];
	struct fl_tzif *zone; /* NULL: the name is known to be bad */
	int err;
	uint64_t used;
};

struct fl_tzdb {
	char dir[512];
	unsigned max, n;
	uint64_t clock;
	struct entry *e;
};

int fl_tz_name_ok(const char *zone)
{
	size_t len, comp = 0, ncomp = 0;

	if (zone == NULL)
		return 0;
	len = strlen(zone);
	if (len == 0 || len > FL_TZ_NAME_MAX)
		return 0;
	if (strcmp(zone, "localtime") == 0 || strcmp(zone, "posixrules") == 0 ||
	    strncmp(zone, "right/", 6) == 0)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		char c = zone[i];

		if (c == '/' || c == '\0') {
			if (comp == 0 || ++ncomp > 8)
				return 0;
			comp = 0;
			continue;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '+' ||
		      (c == '-' && comp > 0)))
			return 0;
		comp++;
	}
	return 1;
}

int fl_tzdb_open(struct fl_tzdb **out, const char *dir, unsigned max_zones)
{
	struct fl_tzdb *db;
	size_t len;

	*out = NULL;
	if (dir == NULL) {
		dir = getenv("TZDIR");
		if (dir == NULL || dir[0] == '\0')
			dir = "/usr/share/zoneinfo";
	}
	len = strlen(dir);
	if (max_zones == 0)
		max_zones = FL_TZ_CACHE_DEFAULT;
	if (len == 0 || len >= sizeof(db->dir) || max_zones > FL_TZ_CACHE_MAX)
		return FL_EINVAL;
	db = calloc(1, sizeof(*db));
	if (db == NULL)
		return FL_ENOMEM;
	db->e = calloc(max_zones, sizeof(*db->e));
	if (db->e == NULL) {
		free(db);
		return FL_ENOMEM;
	}
	memcpy(db->dir, dir, len + 1);
	db->max = max_zones;
	*out = db;
	return 0;
}

void fl_tzdb_free(struct fl_tzdb *db)
{
	if (db == NULL)
		return;
	for (unsigned i = 0; i < db->n; i++)
		fl_tzif_free(db->e[i].zone);
	free(db->e);
	free(db);
}

/* Reads the whole file, bounded. */
static int slurp(const char *path, uint8_t **buf, size_t *len)
{
	struct stat st;
	uint8_t *b = NULL;
	size_t got = 0;
	int fd, rc = 0;

	*buf = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR || errno == EISDIR ||
				       errno == ELOOP || errno == EACCES
			       ? FL_ENOENT
			       : FL_EIO;
	if (fstat(fd, &st) != 0) {
		rc = FL_EIO;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = FL_ENOENT;
		goto out;
	}
	if (st.st_size > FL_TZ_FILE_MAX) {
		rc = FL_ETOOBIG;
		goto out;
	}
	b = malloc((size_t)st.st_size + 1);
	if (b == NULL) {
		rc = FL_ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, b + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = FL_EIO;
			goto out;
		}
		got += (size_t)r;
	}
	*buf = b;
	*len = got;
	b = NULL;
out:
	free(b);
	close(fd);
	return rc;
}

static int is_utc_name(const char *zone)
{
	return strcmp(zone, "UTC") == 0 || strcmp(zone, "Etc/UTC") == 0;
}

static int load(const struct fl_tzdb *db, const char *zone,
		struct fl_tzif **out)
{
	char path[512 + FL_TZ_NAME_MAX + 2];
	size_t dl = strlen(db->dir), zl = strlen(zone);
	uint8_t *buf;
	size_t len;
	int rc;

	*out = NULL;
	if (!fl_tz_name_ok(zone))
		return FL_ENOENT;
	memcpy(path, db->dir, dl);
	path[dl] = '/';
	memcpy(path + dl + 1, zone, zl + 1);
	rc = slurp(path, &buf, &len);
	if (rc == FL_ENOENT && is_utc_name(zone)) {
		struct fl_tzif *z = calloc(1, sizeof(*z));

		if (z == NULL)
			return FL_ENOMEM;
		z->ntypes = 1;
		z->off = calloc(1, sizeof(*z->off));
		z->times = calloc(1, sizeof(*z->times));
		z->idx = calloc(1, 1);
		if (z->off == NULL || z->times == NULL || z->idx == NULL) {
			fl_tzif_free(z);
			return FL_ENOMEM;
		}
		*out = z;
		return 0;
	}
	if (rc != 0)
		return rc;
	if (len < 4 || memcmp(buf, "TZif", 4) != 0)
		rc = FL_ENOENT; /* not a zone file at all (zone.tab ...) */
	else
		rc = fl_tzif_parse(buf, len, out);
	free(buf);
	return rc;
}

/* The cache entry for zone, loading it if needed; NULL with *err set on
 * a transient failure (not cached). */
static struct entry *lookup(struct fl_tzdb *db, const char *zone, int *err)
{
	struct entry *victim;
	struct fl_tzif *z;
	int rc;

	for (unsigned i = 0; i < db->n; i++) {
		if (strcmp(db->e[i].name, zone) == 0) {
			db->e[i].used = ++db->clock;
			return &db->e[i];
		}
	}
	rc = load(db, zone, &z);
	if (rc == FL_ENOMEM || rc == FL_EIO) {
		*err = rc;
		return NULL;
	}
	if (db->n < db->max) {
		victim = &db->e[db->n++];
	} else {
		victim = &db->e[0];
		for (unsigned i = 1; i < db->n; i++)
			if (db->e[i].used < victim->used)
				victim = &db->e[i];
		fl_tzif_free(victim->zone);
	}
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->name, zone, strlen(zone) + 1); /* length checked */
	victim->zone = z;
	victim->err = rc;
	victim->used = ++db->clock;
	return victim;
}

int fl_tzdb_offset(struct fl_tzdb *db, const char *zone, int64_t utc_s,
		   int32_t *offset_s, int64_t *next_change_s)
{
	struct entry *en;
	int err = 0;

	if (db == NULL || zone == NULL || offset_s == NULL ||
	    next_change_s == NULL)
		return FL_EINVAL;
	if (strlen(zone) > FL_TZ_NAME_MAX)
		return FL_ENOENT;
	en = lookup(db, zone, &err);
	if (en == NULL)
		return err;
	if (en->zone == NULL)
		return en->err != 0 ? en->err : FL_ENOENT;
	return fl_tzif_offset(en->zone, utc_s, offset_s, next_change_s);
}

static int ops_offset(void *ctx, const char *zone, int64_t utc_s,
		      int32_t *offset_s, int64_t *next_change_s)
{
	return fl_tzdb_offset(ctx, zone, utc_s, offset_s, next_change_s);
}

void fl_tzdb_ops(struct fl_tzdb *db, struct fl_tz_ops *ops)
{
	ops->utc_offset = ops_offset;
	ops->ctx = db;
}
