/*
 * state.c -- the agent's persisted state as bytes: a pinned little-endian
 * layout, written whole through the store port (which adds its own frame
 * and CRC) and read back by any later agent version, including the one in
 * the image being tried.
 *
 * Layout, format 1 revision 2 (STATE_BYTES = 728 bytes; docs/formats.md,
 * "Agent persisted state"):
 *
 *   off size field                 off size field
 *     0   4 magic "FLAG"            44   4 job.length
 *     4   1 format (1)              48   4 job.offset
 *     5   1 revision (1)            52  32 job.sha256
 *     6   2 zero                    84   8 job.seq
 *     8   4 boot                    92   8 job.expires
 *    12   4 last_job               100  32 job.version  (NUL-padded)
 *    16   4 precancelled           132 201 job.url      (NUL-padded)
 *    20   4 job.id                 333  64 job.validator
 *    24   1 job.type               397  48 job.reason
 *    25   1 job.phase              445   1 job.n_limits (0..4)
 *    26   1 job.result             446 200 4 limits of 50 bytes:
 *    27   1 job.flags                      metric[32], has_min, has_max,
 *    28   1 job.reset                      min, max (IEEE 754 binary64,
 *    29   1 job.activate                   as a little-endian u64)
 *    30   2 job.window_start_min   646   2 key_floor (revision >= 1)
 *    32   2 job.window_end_min     648   2 zero
 *    34   2 job.dl_tries           650   1 job.enc_zip (revision >= 2)
 *    36   2 job.pre_tries          651   1 zero
 *    38   2 zero                   652   4 job.enc_chunk
 *    40   4 job.health_window_s    656   4 job.enc_length
 *                                  660   4 job.enc_offset
 *                                  664  32 job.enc_key
 *                                  696  32 job.enc_header
 *
 * Version rule: decode reads format 1 only (the byte is compared for
 * equality) and ignores bytes after those it knows. So a later agent
 * appends fields (up to FL_AGENT_BLOB_MAX), says so in the revision byte
 * and keeps writing format 1, because after a revert or a rollback the
 * older agent reads what it wrote; another format number is a layout older
 * agents refuse (FL_ECORRUPT: fl_agent_init then halts without overwriting
 * it). Migration: a blob of revision 0 (646 bytes, from an agent before
 * revision 1, which writes bytes 5..7 as zero) reads with key_floor 0, and
 * is written back as revision 1; one of revision 1 (650 bytes) reads with
 * no encrypted job, and is written back as revision 2. Strings must be
 * NUL-terminated within their field.
 */
#include <stddef.h>
#include <string.h>

#include "agent_priv.h"
#include "fl/bytes.h"
#include "fl/err.h"

#define STATE_MAGIC    0x47414C46u /* "FLAG" */
#define STATE_FORMAT   1u
#define STATE_REVISION 2u /* 1: key_floor; 2: encrypted jobs */

#define OFF_VERSION   100
#define OFF_URL	      (OFF_VERSION + FL_PROTO_VERSION_MAX)
#define OFF_VALIDATOR (OFF_URL + FL_MANIFEST_URL_MAX)
#define OFF_REASON    (OFF_VALIDATOR + FL_AGENT_VALIDATOR_MAX)
#define OFF_NLIMITS   (OFF_REASON + FL_PROTO_REASON_MAX)
#define OFF_LIMITS    (OFF_NLIMITS + 1)
#define LIMIT_BYTES   (FL_PROTO_NAME_MAX + 2 + 8 + 8)
#define OFF_KEY_FLOOR (OFF_LIMITS + FL_PROTO_LIMITS_MAX * LIMIT_BYTES)
#define STATE0_BYTES  OFF_KEY_FLOOR /* revision 0 */
#define STATE1_BYTES  (OFF_KEY_FLOOR + 4)
#define OFF_ENC	      STATE1_BYTES
#define STATE_BYTES   (OFF_ENC + 14 + FL_AES256_KEY_BYTES + FL_SEAL_HEADER_BYTES)

_Static_assert(OFF_URL == 132 && OFF_VALIDATOR == 333 && OFF_REASON == 397,
	       "state layout: string offsets");
_Static_assert(OFF_LIMITS == 446 && STATE0_BYTES == 646 && STATE1_BYTES == 650,
	       "state layout: 646 bytes, 650 from revision 1");
_Static_assert(STATE_BYTES == 728, "state layout: 728 from revision 2");
_Static_assert(STATE_BYTES <= FL_AGENT_BLOB_MAX, "state fits the blob");
_Static_assert(sizeof(double) == 8, "binary64 doubles");

/*
 * The fields at fixed offsets, as tables (fl/bytes.h: where in the blob,
 * where in the struct, how many bytes, what kind), written and read by
 * fl_le_put() and fl_le_get(): the layout above is written down once
 * more, here, and nowhere in code.
 */
#define ST(wire, member, kind)                                                 \
	{                                                                      \
		wire, offsetof(struct fl_agent_state, member),                 \
			sizeof(((struct fl_agent_state *)0)->member), kind     \
	}
#define LIM(wire, member, kind)                                                \
	{                                                                      \
		wire, offsetof(struct fl_health_limit, member),                \
			sizeof(((struct fl_health_limit *)0)->member), kind    \
	}

static const struct fl_le_field state_fields[] = {
	ST(8, boot, FL_LE_INT),
	ST(12, last_job, FL_LE_INT),
	ST(16, precancelled, FL_LE_INT),
	ST(20, job.id, FL_LE_INT),
	ST(24, job.type, FL_LE_INT),
	ST(25, job.phase, FL_LE_INT),
	ST(26, job.result, FL_LE_INT),
	ST(27, job.flags, FL_LE_INT),
	ST(28, job.reset, FL_LE_INT),
	ST(29, job.activate, FL_LE_INT),
	ST(30, job.window_start_min, FL_LE_INT),
	ST(32, job.window_end_min, FL_LE_INT),
	ST(34, job.dl_tries, FL_LE_INT),
	ST(36, job.pre_tries, FL_LE_INT),
	ST(40, job.health_window_s, FL_LE_INT),
	ST(44, job.length, FL_LE_INT),
	ST(48, job.offset, FL_LE_INT),
	ST(52, job.sha256, FL_LE_BYTES),
	ST(84, job.seq, FL_LE_INT),
	ST(92, job.expires, FL_LE_INT),
	ST(OFF_VERSION, job.version, FL_LE_STR),
	ST(OFF_URL, job.url, FL_LE_STR),
	ST(OFF_VALIDATOR, job.validator, FL_LE_STR),
	ST(OFF_REASON, job.reason, FL_LE_STR),
};

/* Revision 1 on. */
static const struct fl_le_field floor_fields[] = {
	ST(OFF_KEY_FLOOR, key_floor, FL_LE_INT),
};

/* Revision 2 on, for an encrypted job. */
static const struct fl_le_field enc_fields[] = {
	ST(OFF_ENC, job.enc_zip, FL_LE_INT),
	ST(OFF_ENC + 2, job.enc_chunk, FL_LE_INT),
	ST(OFF_ENC + 6, job.enc_length, FL_LE_INT),
	ST(OFF_ENC + 10, job.enc_offset, FL_LE_INT),
	ST(OFF_ENC + 14, job.enc_key, FL_LE_BYTES),
	ST(OFF_ENC + 14 + FL_AES256_KEY_BYTES, job.enc_header, FL_LE_BYTES),
};

/* One limit, at its own offset. */
static const struct fl_le_field limit_fields[] = {
	LIM(0, metric, FL_LE_STR),
	LIM(FL_PROTO_NAME_MAX, has_min, FL_LE_BOOL),
	LIM(FL_PROTO_NAME_MAX + 1, has_max, FL_LE_BOOL),
	LIM(FL_PROTO_NAME_MAX + 2, min, FL_LE_INT),
	LIM(FL_PROTO_NAME_MAX + 10, max, FL_LE_INT),
};

_Static_assert(sizeof(bool) == 1 && sizeof(double) == 8 &&
		       FL_SHA256_BYTES == 32 && FL_PROTO_NAME_MAX == 32,
	       "state layout: the tables' sizes are the layout's");

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

size_t fl_agent_state_encode(uint8_t out[FL_AGENT_BLOB_MAX],
			     const struct fl_agent_state *st)
{
	const struct fl_agent_job *j = &st->job;
	unsigned n = j->n_limits <= FL_PROTO_LIMITS_MAX ? j->n_limits : 0;

	memset(out, 0, STATE_BYTES);
	fl_put_le32(out + 0, STATE_MAGIC);
	out[4] = STATE_FORMAT;
	out[5] = STATE_REVISION;
	fl_le_put(out, st, state_fields, COUNT(state_fields));
	fl_le_put(out, st, floor_fields, COUNT(floor_fields));
	out[OFF_NLIMITS] = (uint8_t)n;
	for (unsigned i = 0; i < n; i++)
		fl_le_put(out + OFF_LIMITS + i * LIMIT_BYTES, &j->limits[i],
			  limit_fields, COUNT(limit_fields));
	if (j->flags & FL_AGENT_JOB_SEALED)
		fl_le_put(out, st, enc_fields, COUNT(enc_fields));
	return STATE_BYTES;
}

int fl_agent_state_decode(struct fl_agent_state *out, const uint8_t *in,
			  size_t len)
{
	struct fl_agent_job *j = &out->job;
	int err = FL_ECORRUPT;

	memset(out, 0, sizeof(*out));
	if (in == NULL || len < STATE0_BYTES ||
	    fl_get_le32(in) != STATE_MAGIC || in[4] != STATE_FORMAT ||
	    (in[5] >= 1 && len < STATE1_BYTES) ||
	    (in[5] >= 2 && len < STATE_BYTES))
		goto out;
	if (fl_le_get(out, in, state_fields, COUNT(state_fields)) != 0 ||
	    (in[5] >= 1 &&
	     fl_le_get(out, in, floor_fields, COUNT(floor_fields)) != 0))
		goto out;
	if (j->phase > FL_AGENT_DONE || j->activate > FL_ACTIVATE_WINDOW ||
	    j->offset > j->length || in[OFF_NLIMITS] > FL_PROTO_LIMITS_MAX)
		goto out;
	j->n_limits = in[OFF_NLIMITS];
	for (unsigned i = 0; i < j->n_limits; i++)
		if (fl_le_get(&j->limits[i], in + OFF_LIMITS + i * LIMIT_BYTES,
			      limit_fields, COUNT(limit_fields)) != 0)
			goto out;
	if (in[5] < 2)
		j->flags &= (uint8_t)~FL_AGENT_JOB_SEALED;
	if (j->flags & FL_AGENT_JOB_SEALED) {
		(void)fl_le_get(out, in, enc_fields, COUNT(enc_fields));
		if (j->enc_offset > j->enc_length)
			goto out;
	}
	err = 0;
out:
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}
