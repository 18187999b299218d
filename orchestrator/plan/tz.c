/*
 * tz.c -- checks a window's time-zone name against the system tz database.
 *
 * Method: the name is first checked for form alone -- IANA names are
 * slash-separated components of letters, digits, '_', '+' and '-' -- so
 * that "../", "/etc/passwd", "." components and the like never reach the
 * file system. Only then is $TZDIR/NAME (default /usr/share/zoneinfo)
 * opened, without blocking, and accepted if it is a regular file that
 * starts with the TZif magic; directories ("Europe") and the database's
 * tables (zone.tab) are thereby refused. Names whose meaning depends on the
 * server ("localtime") or that count leap seconds ("right/...") are refused
 * too: a plan must mean the same thing wherever it is validated. When a
 * name is unknown, the folder it would be in is scanned (bounded) for the
 * nearest name, for a did-you-mean.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fl/err.h"
#include "plan_int.h"

#define TZ_SCAN_MAX 1024 /* directory entries looked at for a suggestion */

static const char *tz_dir(void)
{
	const char *d = getenv("TZDIR");

	return d != NULL && d[0] != '\0' ? d : "/usr/share/zoneinfo";
}

static int form_ok(const char *s, size_t len)
{
	size_t comp = 0;

	if (len == 0 || len > PLAN_TZ_NAME_MAX)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '/';

		if (c == '/') {
			if (comp == 0)
				return 0; /* leading, trailing or double / */
			comp = 0;
			continue;
		}
		if (comp == 0 && (c == '.' || c == '-'))
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '+' ||
		      c == '-' || c == '.'))
			return 0;
		comp++;
	}
	return 1;
}

/* 1 if path is a regular file that starts with "TZif". */
static int is_tzif(const char *path)
{
	char magic[4];
	struct stat st;
	int fd, ok = 0;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    read(fd, magic, 4) == 4 && memcmp(magic, "TZif", 4) == 0)
		ok = 1;
	close(fd);
	return ok;
}

/* Looks in the folder of name for the nearest entry; fills best. */
static void suggest(const char *name, size_t len, char *best, size_t best_size)
{
	char dir[PLAN_TZ_NAME_MAX + 512];
	const char *slash = NULL, *base;
	unsigned best_d = 2;
	size_t prefix = 0, blen;
	struct dirent *e;
	DIR *dp;
	int scanned = 0;

	best[0] = '\0';
	for (size_t i = 0; i < len; i++)
		if (name[i] == '/')
			slash = name + i;
	if (slash != NULL)
		prefix = (size_t)(slash - name) + 1;
	base = name + prefix;
	blen = len - prefix;
	if (snprintf(dir, sizeof(dir), "%s/%.*s", tz_dir(), (int)prefix,
		     name) >= (int)sizeof(dir))
		return;
	dp = opendir(dir);
	if (dp == NULL)
		return;
	while ((e = readdir(dp)) != NULL && scanned++ < TZ_SCAN_MAX) {
		size_t elen = strlen(e->d_name);
		unsigned d;
		char path[sizeof(dir) + 256];
		int ci = elen == blen;

		if (e->d_name[0] == '.' || !form_ok(e->d_name, elen) ||
		    prefix + elen > PLAN_TZ_NAME_MAX)
			continue;
		for (size_t i = 0; ci && i < blen; i++) {
			char a = base[i], b = e->d_name[i];

			if (a >= 'A' && a <= 'Z')
				a = (char)(a - 'A' + 'a');
			if (b >= 'A' && b <= 'Z')
				b = (char)(b - 'A' + 'a');
			ci = a == b;
		}
		d = ci ? 0 : plan__edit_distance(base, blen, e->d_name, elen);
		/* Ties go to the smaller name: readdir order is arbitrary. */
		if (d > 2 ||
		    (best[0] != '\0' &&
		     (d > best_d ||
		      (d == best_d && strcmp(best + prefix, e->d_name) <= 0))))
			continue;
		snprintf(path, sizeof(path), "%s%s", dir, e->d_name);
		if (!is_tzif(path))
			continue;
		if (prefix + elen >= best_size)
			continue; /* a suggestion must fit whole */
		best_d = d;
		if (snprintf(best, best_size, "%.*s%s", (int)prefix, name,
			     e->d_name) >= (int)best_size)
			best[0] = '\0';
	}
	closedir(dp);
}

int plan__tz_check(const char *name, size_t len, char *why, size_t why_size)
{
	char shown[48], path[PLAN_TZ_NAME_MAX + 512],
		best[PLAN_TZ_NAME_MAX + 1];

	plan__show(shown, sizeof(shown), name, len);
	if (len == 3 && memcmp(name, "UTC", 3) == 0)
		return 0;
	if (!form_ok(name, len)) {
		snprintf(why, why_size,
			 "`%s` is not a time-zone name: write `device`, `UTC` "
			 "or an IANA name like Europe/Paris",
			 shown);
		return FL_EINVAL;
	}
	if ((len == 9 && memcmp(name, "localtime", 9) == 0) ||
	    (len == 10 && memcmp(name, "posixrules", 10) == 0) ||
	    (len > 6 && memcmp(name, "right/", 6) == 0)) {
		snprintf(why, why_size,
			 "time zone `%s` is not allowed: its meaning depends "
			 "on the server; write an IANA name like Europe/Paris",
			 shown);
		return FL_EINVAL;
	}
	if (snprintf(path, sizeof(path), "%s/%.*s", tz_dir(), (int)len, name) <
		    (int)sizeof(path) &&
	    is_tzif(path))
		return 0;
	suggest(name, len, best, sizeof(best));
	if (best[0] != '\0')
		snprintf(why, why_size,
			 "unknown time zone `%s`; did you mean `%s`?", shown,
			 best);
	else
		snprintf(why, why_size,
			 "unknown time zone `%s` (not in the tz database at "
			 "%.60s)",
			 shown, tz_dir());
	return FL_EINVAL;
}
