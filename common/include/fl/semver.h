/*
 * semver.h -- semantic versions (semver.org 2.0.0) and version ranges.
 *
 * Used by the plan language (artifact.version, artifact.from), the agent
 * (a manifest's version against the installed one) and the engine. Portable:
 * no allocation, no OS calls.
 *
 * A range is space-separated comparators, all of which must hold:
 * ">=2.0.0 <2.4.0", "=1.2.3", ">1.0.0-rc.1". Operators: = > >= < <=
 * (a bare version means =). Build metadata (+...) is ignored in ordering.
 */
#ifndef FL_SEMVER_H
#define FL_SEMVER_H

#include <stddef.h>
#include <stdint.h>

#define FL_SEMVER_PRE_MAX   48 /* pre-release text, NUL included */
#define FL_SEMVER_RANGE_MAX 8  /* comparators in one range */

struct fl_semver {
	uint32_t major, minor, patch;
	char pre[FL_SEMVER_PRE_MAX]; /* "" for a release */
};

enum fl_semver_op {
	FL_SEMVER_EQ = 0,
	FL_SEMVER_GT = 1,
	FL_SEMVER_GE = 2,
	FL_SEMVER_LT = 3,
	FL_SEMVER_LE = 4,
};

struct fl_semver_range {
	unsigned n;
	struct {
		uint8_t op; /* enum fl_semver_op */
		struct fl_semver v;
	} cmp[FL_SEMVER_RANGE_MAX];
};

/* Parses s[0, len). Returns 0, or FL_EINVAL (not a semantic version:
 * leading zeros, empty identifiers, numbers over 2^32-1 ...) or
 * FL_ETOOBIG (pre-release too long). */
int fl_semver_parse(struct fl_semver *out, const char *s, size_t len);

/* <0, 0 or >0 as a orders before, equal to, or after b (semver rules:
 * a pre-release orders before its release; identifiers compared
 * numerically when both are numeric, else as ASCII). */
int fl_semver_cmp(const struct fl_semver *a, const struct fl_semver *b);

/* Parses a NUL-terminated range. Returns 0, FL_EINVAL, FL_ETOOBIG. */
int fl_semver_range_parse(struct fl_semver_range *out, const char *s);

/* 1 if v satisfies every comparator of r (an empty range matches all). */
int fl_semver_range_match(const struct fl_semver_range *r,
			  const struct fl_semver *v);

#endif
