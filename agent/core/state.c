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

static void put_double(uint8_t *p, double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	fl_put_le64(p, u);
}

static double get_double(const uint8_t *p)
{
	uint64_t u = fl_get_le64(p);
	double v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

static void put_str(uint8_t *p, const char *s, size_t size)
{
	size_t n = strlen(s);

	if (n >= size)
		n = size - 1;
	memset(p, 0, size);
	memcpy(p, s, n);
}

/* Copies a field into s; FL_ECORRUPT unless NUL-terminated inside it. */
static int get_str(char *s, const uint8_t *p, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		if (p[i] == 0) {
			memcpy(s, p, size);
			return 0;
		}
	}
	return FL_ECORRUPT;
}

size_t fl_agent_state_encode(uint8_t out[FL_AGENT_BLOB_MAX],
			     const struct fl_agent_state *st)
{
	const struct fl_agent_job *j = &st->job;
	unsigned n = j->n_limits <= FL_PROTO_LIMITS_MAX ? j->n_limits : 0;

	memset(out, 0, STATE_BYTES);
	fl_put_le32(out + 0, STATE_MAGIC);
	out[4] = STATE_FORMAT;
	out[5] = STATE_REVISION;
	fl_put_le16(out + OFF_KEY_FLOOR, st->key_floor);
	fl_put_le32(out + 8, st->boot);
	fl_put_le32(out + 12, st->last_job);
	fl_put_le32(out + 16, st->precancelled);
	fl_put_le32(out + 20, j->id);
	out[24] = j->type;
	out[25] = j->phase;
	out[26] = j->result;
	out[27] = j->flags;
	out[28] = j->reset;
	out[29] = j->activate;
	fl_put_le16(out + 30, j->window_start_min);
	fl_put_le16(out + 32, j->window_end_min);
	fl_put_le16(out + 34, j->dl_tries);
	fl_put_le16(out + 36, j->pre_tries);
	fl_put_le32(out + 40, j->health_window_s);
	fl_put_le32(out + 44, j->length);
	fl_put_le32(out + 48, j->offset);
	memcpy(out + 52, j->sha256, FL_SHA256_BYTES);
	fl_put_le64(out + 84, j->seq);
	fl_put_le64(out + 92, j->expires);
	put_str(out + OFF_VERSION, j->version, FL_PROTO_VERSION_MAX);
	put_str(out + OFF_URL, j->url, FL_MANIFEST_URL_MAX);
	put_str(out + OFF_VALIDATOR, j->validator, FL_AGENT_VALIDATOR_MAX);
	put_str(out + OFF_REASON, j->reason, FL_PROTO_REASON_MAX);
	out[OFF_NLIMITS] = (uint8_t)n;
	for (unsigned i = 0; i < n; i++) {
		const struct fl_health_limit *l = &j->limits[i];
		uint8_t *p = out + OFF_LIMITS + i * LIMIT_BYTES;

		put_str(p, l->metric, FL_PROTO_NAME_MAX);
		p[FL_PROTO_NAME_MAX] = l->has_min;
		p[FL_PROTO_NAME_MAX + 1] = l->has_max;
		put_double(p + FL_PROTO_NAME_MAX + 2, l->min);
		put_double(p + FL_PROTO_NAME_MAX + 10, l->max);
	}
	if (j->flags & FL_AGENT_JOB_SEALED) {
		out[OFF_ENC] = j->enc_zip;
		fl_put_le32(out + OFF_ENC + 2, j->enc_chunk);
		fl_put_le32(out + OFF_ENC + 6, j->enc_length);
		fl_put_le32(out + OFF_ENC + 10, j->enc_offset);
		memcpy(out + OFF_ENC + 14, j->enc_key, FL_AES256_KEY_BYTES);
		memcpy(out + OFF_ENC + 14 + FL_AES256_KEY_BYTES, j->enc_header,
		       FL_SEAL_HEADER_BYTES);
	}
	return STATE_BYTES;
}

int fl_agent_state_decode(struct fl_agent_state *out, const uint8_t *in,
			  size_t len)
{
	struct fl_agent_job *j = &out->job;
	int err = FL_ECORRUPT;

	memset(out, 0, sizeof(*out));
	if (in == NULL || len < STATE0_BYTES ||
	    fl_get_le32(in) != STATE_MAGIC || in[4] != STATE_FORMAT)
		goto out;
	if (in[5] >= 1) {
		if (len < STATE1_BYTES)
			goto out;
		out->key_floor = fl_get_le16(in + OFF_KEY_FLOOR);
	}
	if (in[5] >= 2 && len < STATE_BYTES)
		goto out;
	out->boot = fl_get_le32(in + 8);
	out->last_job = fl_get_le32(in + 12);
	out->precancelled = fl_get_le32(in + 16);
	j->id = fl_get_le32(in + 20);
	j->type = in[24];
	j->phase = in[25];
	j->result = in[26];
	j->flags = in[27];
	j->reset = in[28];
	j->activate = in[29];
	j->window_start_min = fl_get_le16(in + 30);
	j->window_end_min = fl_get_le16(in + 32);
	j->dl_tries = fl_get_le16(in + 34);
	j->pre_tries = fl_get_le16(in + 36);
	j->health_window_s = fl_get_le32(in + 40);
	j->length = fl_get_le32(in + 44);
	j->offset = fl_get_le32(in + 48);
	memcpy(j->sha256, in + 52, FL_SHA256_BYTES);
	j->seq = fl_get_le64(in + 84);
	j->expires = fl_get_le64(in + 92);
	if (j->phase > FL_AGENT_DONE || j->activate > FL_ACTIVATE_WINDOW ||
	    j->offset > j->length || in[OFF_NLIMITS] > FL_PROTO_LIMITS_MAX)
		goto out;
	if (get_str(j->version, in + OFF_VERSION, FL_PROTO_VERSION_MAX) ||
	    get_str(j->url, in + OFF_URL, FL_MANIFEST_URL_MAX) ||
	    get_str(j->validator, in + OFF_VALIDATOR, FL_AGENT_VALIDATOR_MAX) ||
	    get_str(j->reason, in + OFF_REASON, FL_PROTO_REASON_MAX))
		goto out;
	j->n_limits = in[OFF_NLIMITS];
	for (unsigned i = 0; i < j->n_limits; i++) {
		struct fl_health_limit *l = &j->limits[i];
		const uint8_t *p = in + OFF_LIMITS + i * LIMIT_BYTES;

		if (get_str(l->metric, p, FL_PROTO_NAME_MAX))
			goto out;
		l->has_min = p[FL_PROTO_NAME_MAX] != 0;
		l->has_max = p[FL_PROTO_NAME_MAX + 1] != 0;
		l->min = get_double(p + FL_PROTO_NAME_MAX + 2);
		l->max = get_double(p + FL_PROTO_NAME_MAX + 10);
	}
	if (in[5] < 2)
		j->flags &= (uint8_t)~FL_AGENT_JOB_SEALED;
	if (j->flags & FL_AGENT_JOB_SEALED) {
		j->enc_zip = in[OFF_ENC];
		j->enc_chunk = fl_get_le32(in + OFF_ENC + 2);
		j->enc_length = fl_get_le32(in + OFF_ENC + 6);
		j->enc_offset = fl_get_le32(in + OFF_ENC + 10);
		memcpy(j->enc_key, in + OFF_ENC + 14, FL_AES256_KEY_BYTES);
		memcpy(j->enc_header, in + OFF_ENC + 14 + FL_AES256_KEY_BYTES,
		       FL_SEAL_HEADER_BYTES);
		if (j->enc_offset > j->enc_length)
			goto out;
	}
	err = 0;
out:
	if (err)
		memset(out, 0, sizeof(*out));
	return err;
}
