/*
 * tzfile.h -- the Linux time-zone port of the engine: a bounded reader of
 * the system's tz database (TZif files, RFC 8536: versions 1 to 4, the
 * 64-bit section, and the POSIX TZ footer for instants after the last
 * transition), with a bounded cache of loaded zones.
 *
 * Zones are looked up by IANA name under $TZDIR, else /usr/share/zoneinfo.
 * A name must be slash-separated components of letters, digits, '_', '+'
 * and '-' (no ".", "..", empty or absolute components); "localtime",
 * "posixrules" and the leap-second "right/" tree are refused, so that a
 * name means the same on every server. Leap-second records are ignored
 * (POSIX time). "UTC" and "Etc/UTC" work even without the database.
 *
 * Not thread-safe: one db per thread, or a lock around it.
 */
#ifndef FL_TZFILE_H
#define FL_TZFILE_H

#include <stddef.h>
#include <stdint.h>

#include "fl/engine.h"

#define FL_TZ_NAME_MAX	    128		 /* chars of a zone name */
#define FL_TZ_FILE_MAX	    (256 * 1024) /* bytes of one TZif file */
#define FL_TZ_MAX_TIMES	    4096	 /* transitions of one zone */
#define FL_TZ_MAX_TYPES	    256		 /* local time types */
#define FL_TZ_FOOTER_MAX    128		 /* chars of the POSIX TZ footer */
#define FL_TZ_CACHE_DEFAULT 64		 /* zones kept loaded */
#define FL_TZ_CACHE_MAX	    4096

struct fl_tzif; /* one parsed zone */
struct fl_tzdb; /* the database: a folder and a cache */

/* 1 if `zone` has the form of an acceptable zone name, else 0. */
int fl_tz_name_ok(const char *zone);

/*
 * Opens the database in `dir` (NULL: $TZDIR or /usr/share/zoneinfo;
 * copied), keeping at most max_zones zones loaded (0: the default; known
 * and unknown names alike, least recently used evicted). *out is owned by
 * the caller (fl_tzdb_free). Nothing is read yet. Returns 0, FL_EINVAL
 * (dir too long, max_zones over FL_TZ_CACHE_MAX), FL_ENOMEM.
 */
int fl_tzdb_open(struct fl_tzdb **out, const char *dir, unsigned max_zones);

/* Accepts NULL. */
void fl_tzdb_free(struct fl_tzdb *db);

/*
 * Local time minus UTC at utc_s in zone, and the next instant (> utc_s)
 * at which it may change (FL_ENGINE_NEVER if it never does). Returns 0,
 * FL_ENOENT (bad name, no such zone, or not a TZif file), FL_ECORRUPT (a
 * malformed file), FL_ETOOBIG (a file over the bounds above), FL_EIO,
 * FL_ENOMEM. The answer for a name is cached, errors included.
 */
int fl_tzdb_offset(struct fl_tzdb *db, const char *zone, int64_t utc_s,
		   int32_t *offset_s, int64_t *next_change_s);

/* Fills ops with fl_tzdb_offset over db (borrowed). */
void fl_tzdb_ops(struct fl_tzdb *db, struct fl_tz_ops *ops);

/* Parses a TZif image. *out owned by the caller (fl_tzif_free). Returns 0,
 * FL_ECORRUPT, FL_ETOOBIG, FL_ENOMEM. */
int fl_tzif_parse(const uint8_t *buf, size_t len, struct fl_tzif **out);

/* As fl_tzdb_offset for one parsed zone. Returns 0. */
int fl_tzif_offset(const struct fl_tzif *z, int64_t utc_s, int32_t *offset_s,
		   int64_t *next_change_s);

/* Accepts NULL. */
void fl_tzif_free(struct fl_tzif *z);

/* As fl_tzdb_offset for a POSIX TZ string ("CET-1CEST,M3.5.0,M10.5.0/3",
 * "<+0530>-5:30"). Returns 0 or FL_EINVAL (not a valid TZ string). */
int fl_tz_posix_offset(const char *tz, int64_t utc_s, int32_t *offset_s,
		       int64_t *next_change_s);

#endif
