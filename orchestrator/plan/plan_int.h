/*
 * plan_int.h -- shared internals of the plan parser (orchestrator/plan/):
 * the bounded arena, the YAML node tree the validator walks, the value
 * parsers of the language's "Values" table, time-zone names and the
 * diagnostic list. Not a public interface.
 */
#ifndef FL_PLAN_INT_H
#define FL_PLAN_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "fl/plan.h"

/* Bounds beyond those of plan.h. */
#define PLAN_TREE_MAX_NODES (1u << 18) /* YAML nodes in one file */
#define PLAN_TREE_MAX_ITEMS 4096       /* items of one list or mapping */
#define PLAN_TREE_ARENA_MAX (48u << 20)
#define PLAN_ARENA_MAX	    (16u << 20) /* the typed plan */
#define PLAN_TEXT_MAX	    1024	/* description, reason */
#define PLAN_PATH_MAX	    4096	/* artifact.file */
#define PLAN_TZ_NAME_MAX    64
#define PLAN_ID_MAX	    64 /* device ids, models, labels, metrics */
#define PLAN_DURATION_MAX_S (366 * 86400)
#define PLAN_WHY_MAX	    200

/* ---- arena.c: a bounded bump allocator over malloc'd chunks ---------- */

struct plan__arena;

/* A new arena that refuses to hold more than cap_bytes; NULL when out of
 * memory. */
struct plan__arena *plan__arena_new(size_t cap_bytes);

/* size zeroed bytes, aligned for any object; NULL when the cap is reached
 * (plan__arena_error then says FL_ETOOBIG) or malloc fails (FL_ENOMEM). */
void *plan__arena_alloc(struct plan__arena *a, size_t size);

/* A NUL-terminated copy of s[0, len); NULL as for plan__arena_alloc. */
char *plan__arena_strndup(struct plan__arena *a, const char *s, size_t len);

/* 0, or the code of the first allocation that failed. */
int plan__arena_error(const struct plan__arena *a);

/* Accepts NULL. */
void plan__arena_free(struct plan__arena *a);

/* ---- yamltree.c: libyaml events to a bounded tree ----------------------- */

enum plan__kind {
	PLAN_NULL = 0,	 /* empty, ~ or null, unquoted */
	PLAN_SCALAR = 1, /* any other scalar */
	PLAN_SEQ = 2,
	PLAN_MAP = 3,
	PLAN_BAD = 4, /* already diagnosed: check nothing more */
};

struct plan__node {
	uint8_t kind;	       /* enum plan__kind */
	uint8_t is_quoted;     /* scalar written quoted or as a block */
	uint8_t is_value_next; /* mapping being built: a value comes next */
	struct fl_pos pos;
	const char *text; /* scalar: NUL-terminated (may hold NULs) */
	size_t len;
	unsigned n; /* items of a list, pairs of a mapping */
	/* Children in order; a mapping's alternate key, value, key, ... */
	struct plan__node *first, *last, *next;
};

/* Builds the tree of buf[0, len) into arena a. Returns 0 with *root set
 * (NULL for an empty file), or FL_EINVAL after a diagnostic that stops the
 * parse (not YAML, several documents, anchors or aliases, too deep, too many
 * nodes), or FL_ENOMEM / FL_ETOOBIG when memory runs out (left to the
 * caller to report). Non-fatal
 * problems (tags) are diagnosed and the node marked PLAN_BAD. */
int plan__tree_build(struct plan__node **root, const char *buf, size_t len,
		     struct plan__arena *a, struct fl_plan_diags *diags);

/* ---- diag.c -------------------------------------------------------------- */

/* fl_plan_diags_add() and fl_plan_diags_sort() are public (plan.h). */

/* ---- values.c: the value forms. Each returns 0 or FL_EINVAL with a
 * one-line reason in why (the value itself quoted in it). ---------------- */

/* Writes s[0, len) into buf for a message: at most 40 characters, control
 * characters as '?', "..." when cut. Returns buf. */
const char *plan__show(char *buf, size_t size, const char *s, size_t len);

int plan__parse_uint(const char *s, size_t len, uint32_t max, uint32_t *out,
		     char *why, size_t why_size);
int plan__parse_decimal(const char *s, size_t len, double *out, char *why,
			size_t why_size);
int plan__parse_duration(const char *s, size_t len, int64_t *out_s, char *why,
			 size_t why_size);
/* need_sign: "5" is refused (it must read "5%"); zero_ok: 0% allowed. */
int plan__parse_percent(const char *s, size_t len, int need_sign, int zero_ok,
			uint32_t *out_ppm, char *why, size_t why_size);
int plan__parse_size(const char *s, size_t len, uint64_t *out_bytes, char *why,
		     size_t why_size);
int plan__parse_rate(const char *s, size_t len, uint32_t *count,
		     uint32_t *period_s, char *why, size_t why_size);
/* "HH:MM"; allow_24: "24:00" (the end of the day) is accepted. */
int plan__parse_time_of_day(const char *s, size_t len, int allow_24,
			    uint16_t *out_min, char *why, size_t why_size);
int plan__parse_instant(const char *s, size_t len, int64_t *out_unix_s,
			char *why, size_t why_size);
/* One item of `days`: "mon" or a range "mon-fri" (wrapping: "fri-mon").
 * Sets the bits (bit 0 = Monday) in *mask. */
int plan__parse_days(const char *s, size_t len, uint8_t *mask, char *why,
		     size_t why_size);

/* Name rules: rollout, stage, hold and component names. */
int plan__check_name(const char *s, size_t len, char *why, size_t why_size);
/* Device ids and hardware models. */
int plan__check_id(const char *s, size_t len, const char *what, char *why,
		   size_t why_size);
int plan__check_label_key(const char *s, size_t len, char *why,
			  size_t why_size);
int plan__check_label_value(const char *s, size_t len, char *why,
			    size_t why_size);
int plan__check_metric_name(const char *s, size_t len, char *why,
			    size_t why_size);

/* Optimal-string-alignment distance of two short strings, case-sensitive;
 * returns a large number when either is over 64 bytes. */
unsigned plan__edit_distance(const char *a, size_t alen, const char *b,
			     size_t blen);

/* ---- tz.c ------------------------------------------------------------- */

/* 0 if name is a zone of the system tz database ($TZDIR, else
 * /usr/share/zoneinfo), FL_EINVAL (with why) otherwise. "UTC" is always
 * valid; "device" is the caller's to handle. */
int plan__tz_check(const char *name, size_t len, char *why, size_t why_size);

#endif
