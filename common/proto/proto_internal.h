/*
 * proto_internal.h -- helpers shared by the files of the codec (fl_proto):
 * bounded parsing on top of cJSON, typed and validated field access, the
 * charsets of proto.h, and the diagnostic. Not installed, not public.
 *
 * Ownership: a tree from fl_proto__parse() is the caller's and is released
 * with cJSON_Delete(); fields read from it are copied into fixed arrays, so
 * nothing points into the tree once it is deleted.
 */
#ifndef FL_PROTO_INTERNAL_H
#define FL_PROTO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "fl/proto.h"

/*
 * Writes "field: what" into d (d may be NULL). Built with
 * FL_PROTO_COMPACT_DIAG (a microcontroller's choice: bench/sizes.sh), the
 * macro below drops the reason at compile time, so no reason's text is
 * linked: d receives the field name alone ("manifest.sig"), and every
 * function returns the same error code as in the default build.
 */
void fl_proto__diag(struct fl_proto_diag *d, const char *field,
		    const char *what);
#ifdef FL_PROTO_COMPACT_DIAG
#define fl_proto__diag(d, field, what) fl_proto__diag(d, field, NULL)
#endif

/* Bounds the input (FL_PROTO_MSG_MAX bytes, FL_PROTO_NODES_MAX values,
 * FL_PROTO_DEPTH_MAX levels, no NUL byte, no \u0000 escape) before cJSON
 * sees it, parses it, and refuses trailing bytes other than whitespace.
 * The result must be an object. Returns 0, FL_ETOOBIG or FL_EINVAL (also
 * when cJSON ran out of memory: its parser does not say which). */
int fl_proto__parse(cJSON **out, const char *in, size_t len, size_t max_len,
		    struct fl_proto_diag *d);

/* Prints compactly into out; sets *out_len. Refuses output longer than
 * max_len. Returns 0 or FL_ETOOBIG. */
int fl_proto__print(cJSON *root, char *out, size_t out_size, size_t *out_len,
		    size_t max_len);

/*
 * Field readers. Each finds member `name` of obj (refusing a duplicate) and
 * leaves *out untouched when the member is absent and not required. They
 * return 0, FL_EINVAL (missing, wrong type, out of range, charset) or
 * FL_ETOOBIG (string too long), and write the diagnostic.
 */
int fl_proto__member(const cJSON **out, const cJSON *obj, const char *name,
		     bool required, struct fl_proto_diag *d);
int fl_proto__get_uint(uint64_t *out, const cJSON *obj, const char *name,
		       bool required, uint64_t min, uint64_t max,
		       struct fl_proto_diag *d);
int fl_proto__get_u32(uint32_t *out, const cJSON *obj, const char *name,
		      bool required, uint32_t min, uint32_t max,
		      struct fl_proto_diag *d);
int fl_proto__get_bool(bool *out, const cJSON *obj, const char *name,
		       bool required, struct fl_proto_diag *d);
int fl_proto__get_double(double *out, const cJSON *obj, const char *name,
			 bool required, struct fl_proto_diag *d);
int fl_proto__get_str(char *out, size_t size, const cJSON *obj,
		      const char *name, bool required, int cs,
		      struct fl_proto_diag *d);
/* Reads a string naming an enum value through parse (fl_result_parse ...). */
int fl_proto__get_enum(uint8_t *out, const cJSON *obj, const char *name,
		       bool required, int (*parse)(int *, const char *),
		       struct fl_proto_diag *d);

/* Checks a value read as a number: an integer of [min, max], or finite. */
bool fl_proto__is_uint(double v, uint64_t min, uint64_t max);
bool fl_proto__is_finite(double v);

/* Field writers: add to obj, returning 0 or FL_ENOMEM. */
int fl_proto__add_uint(cJSON *obj, const char *name, uint64_t v);
int fl_proto__add_double(cJSON *obj, const char *name, double v);
int fl_proto__add_bool(cJSON *obj, const char *name, bool v);
int fl_proto__add_str(cJSON *obj, const char *name, const char *v);
/* s[0..n) are lower-case hex digits and s[n] is the end. */
bool fl_proto__is_lower_hex(const char *s, size_t n);

/* Enum parsers with the signature fl_proto__get_enum() takes. */
int fl_proto__slot_state_parse(int *out, const char *name);
int fl_proto__reset_parse(int *out, const char *name);
int fl_proto__cmd_type_parse(int *out, const char *name);
int fl_proto__activate_parse(int *out, const char *name);
const char *fl_proto__activate_name(int a);

/* The envelope, as an object inside a command or alone. */
int fl_manifest__env_to_json(cJSON *obj, const struct fl_manifest_env *env);
int fl_manifest__env_from_json(struct fl_manifest_env *out, const cJSON *obj,
			       struct fl_proto_diag *d);

#endif
