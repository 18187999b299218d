/*
 * sealed.c -- encrypted images in the agent: the offer's wrapped key
 * unwrapped before the job is taken, and the download fed through the
 * unseal stage (fl/unseal.h) into the installer, with checkpoints at chunk
 * boundaries.
 *
 * Method: an offer of a body-format-2 manifest is refused, and not taken,
 * unless this device can open it: the crypto port decrypts, the chunk fits
 * the configured buffers, a compressed container has a decompression port,
 * and the command's "key" unwraps with one of the device's wrap keys, bound
 * to its name and to the manifest body (fl_wrap_open); the content key is
 * then persisted with the job. The transfer asks for container bytes; each
 * chunk reaches the installer only after its tag checked. A checkpoint is
 * taken only at a chunk boundary whose image offset is also an erase-unit
 * boundary (where fl_install_resume starts again exactly), and it saves
 * the image offset with the container offset of the next chunk and the
 * header; a transfer after a reboot asks for that container offset. A
 * chunk that does not open ends the job integrity_failure: nothing of it
 * was written, and the slot being written is marked bad. The stage in RAM
 * (a->unseal: key, header, partial record) belongs to one job: taking
 * another job, ending this one or starting its image again at 0 resets it
 * (fl_agent__seal_reset, which wipes the key), so only a later transfer of
 * the same job goes on from it.
 */
#include <string.h>

#include "agent_priv.h"
#include "fl/bytes.h"
#include "fl/err.h"

bool fl_agent__is_sealed(const struct fl_agent *a)
{
	return (a->st.job.flags & FL_AGENT_JOB_SEALED) != 0;
}

uint32_t fl_agent__dl_total(const struct fl_agent *a)
{
	const struct fl_agent_job *j = &a->st.job;

	return fl_agent__is_sealed(a) ? j->enc_length : j->length;
}

uint32_t fl_agent__dl_pos(const struct fl_agent *a)
{
	if (fl_agent__is_sealed(a))
		return a->is_unsealing ? a->unseal.in_off : 0;
	return a->in.written;
}

static uint32_t chunk_max(const struct fl_agent *a)
{
	return a->cfg.seal_chunk_max != 0 ? a->cfg.seal_chunk_max
					  : 4u * FL_SEAL_CHUNK_MIN;
}

uint8_t fl_agent__seal_admit(struct fl_agent *a, const struct fl_cmd *c,
			     const struct fl_manifest *m, const char **reason)
{
	const struct fl_crypto_ops *cr = a->cfg.crypto;
	uint8_t digest[FL_SHA256_BYTES];
	int rc;

	memset(a->seal_key, 0, sizeof(a->seal_key));
	if (!m->is_sealed)
		return FL_RESULT_NONE;
	if (cr->gcm_open == NULL || cr->p256_ecdh == NULL ||
	    a->cfg.n_wrap_keys == 0) {
		*reason = "encryption";
		return FL_RESULT_UNSUPPORTED_PACKAGE;
	}
	if (m->enc_zip == FL_SEAL_ZIP_ZSTD && a->cfg.unzip.ops == NULL) {
		*reason = "compression";
		return FL_RESULT_UNSUPPORTED_PACKAGE;
	}
	if (m->enc_chunk > chunk_max(a)) {
		*reason = "chunk_size";
		return FL_RESULT_NO_RAM;
	}
	if (!c->has_key) {
		*reason = "no_key";
		return FL_RESULT_UNSUPPORTED_PACKAGE;
	}
	rc = fl_sha256(cr, c->manifest.body, c->manifest.body_len, digest);
	if (rc == 0)
		rc = fl_wrap_open(a->seal_key, cr, a->cfg.wrap_keys,
				  a->cfg.n_wrap_keys, c->key, digest);
	switch (rc) {
	case 0: return FL_RESULT_NONE;
	case FL_ENOENT: *reason = "not_for_this_device"; break;
	case FL_EVERIFY: *reason = "key_unwrap"; break;
	case FL_ENOTSUP: *reason = "key_format"; break;
	default: *reason = "crypto"; return FL_RESULT_FAILED;
	}
	return FL_RESULT_UNSUPPORTED_PACKAGE;
}

void fl_agent__seal_job(struct fl_agent *a, const struct fl_manifest *m)
{
	struct fl_agent_job *j = &a->st.job;

	if (!m->is_sealed)
		return;
	j->flags |= FL_AGENT_JOB_SEALED;
	j->enc_zip = m->enc_zip;
	j->enc_chunk = m->enc_chunk;
	j->enc_length = m->enc_length;
	j->enc_offset = 0;
	memcpy(j->enc_key, a->seal_key, sizeof(j->enc_key));
	memset(a->seal_key, 0, sizeof(a->seal_key));
}

void fl_agent__seal_reset(struct fl_agent *a)
{
	fl_unseal_end(&a->unseal);
	a->is_unsealing = false;
	a->st.job.enc_offset = 0;
}

/* Starts the unseal stage at container offset 0. */
static int seal_begin(struct fl_agent *a)
{
	const struct fl_agent_job *j = &a->st.job;
	const struct fl_agent_seal_bufs *b = a->cfg.seal_bufs;
	struct fl_unseal_expect want;
	int rc;

	fl_unseal_end(&a->unseal);
	a->is_unsealing = false;
	if (b == NULL)
		return FL_ENOMEM;
	memset(&want, 0, sizeof(want));
	want.zip = j->enc_zip;
	want.chunk_bytes = j->enc_chunk;
	want.plain_len = j->length;
	want.enc_len = j->enc_length;
	rc = fl_unseal_begin(&a->unseal, a->cfg.crypto, &a->cfg.unzip, &want,
			     j->enc_key, b->rec, b->rec_bytes, b->plain,
			     b->plain_bytes);
	if (rc == 0)
		a->is_unsealing = true;
	return rc;
}

/* Ends the job when the stage cannot start. */
static int begin_failed(struct fl_agent *a, int rc)
{
	if (rc == FL_ENOMEM)
		return fl_agent__finish(a, FL_RESULT_NO_RAM, "seal_buffers");
	if (rc == FL_ENOTSUP)
		return fl_agent__finish(a, FL_RESULT_UNSUPPORTED_PACKAGE,
					"encryption");
	return fl_agent__finish(a, FL_RESULT_FAILED, "crypto");
}

int fl_agent__seal_from(struct fl_agent *a, uint32_t *from, bool *is_ended)
{
	struct fl_agent_job *j = &a->st.job;
	struct fl_install *in = &a->in;
	struct fl_install_target t;
	int rc;

	*is_ended = false;
	/* The stage in RAM is this job's (another job's was reset when this
	 * one was taken): go on where its last transfer stopped. */
	if (a->is_unsealing && a->unseal.has_hdr &&
	    (uint64_t)a->unseal.index * j->enc_chunk == in->written) {
		*from = a->unseal.in_off;
		return 0;
	}
	rc = seal_begin(a);
	if (rc != 0) {
		*is_ended = true;
		return begin_failed(a, rc);
	}
	if (in->written != 0 && j->enc_offset != 0 &&
	    in->written == j->offset && j->offset % j->enc_chunk == 0 &&
	    fl_unseal_seek(&a->unseal, j->enc_header, j->offset / j->enc_chunk,
			   j->enc_offset) == 0) {
		*from = j->enc_offset;
		return 0;
	}
	if (in->written != 0) {
		/* The slot holds more or less than the checkpoint says:
		 * start the image again. */
		memset(&t, 0, sizeof(t));
		t.attempt_id = j->id;
		t.image_len = j->length;
		memcpy(t.sha256, j->sha256, FL_SHA256_BYTES);
		t.counter = j->seq;
		(void)fl_strlcpy(t.version, j->version, sizeof(t.version));
		j->offset = 0;
		rc = fl_install_begin(in, fl_agent__slots(a), &t);
		if (rc != 0) {
			*is_ended = true;
			return fl_agent__dl_install_failed(a, rc);
		}
		a->ckpt_bytes = 0;
	}
	j->enc_offset = 0;
	*from = 0;
	return 0;
}

/* A checkpoint at the end of a chunk: the installer synced, the image and
 * container offsets and the header persisted. */
static int seal_checkpoint(struct fl_agent *a)
{
	struct fl_agent_job *j = &a->st.job;
	uint32_t off;
	int rc = fl_install_checkpoint(&a->in, &off);

	if (rc != 0)
		return rc;
	if (off != a->in.written)
		return 0; /* a partial buffer: not a place to resume */
	j->offset = off;
	j->enc_offset = a->unseal.in_off;
	memcpy(j->enc_header, a->unseal.hdr, FL_SEAL_HEADER_BYTES);
	a->ckpt_bytes = a->in.flushed;
	a->ckpt_ms = fl_agent__mono(a);
	return fl_agent__save(a);
}

/* Why the sink failed: the installer (the job ends) or the store (the
 * agent halts). */
enum { SINK_INSTALL = 1, SINK_STORE = 2 };

struct sink {
	struct fl_agent *a;
	int kind;
};

static int to_slot(void *ctx, uint32_t index, const uint8_t *data, size_t len)
{
	struct sink *k = ctx;
	struct fl_agent *a = k->a;
	uint32_t unit =
		fl_area_erase_bytes(&fl_agent__slots(a)->cfg.slot[a->in.slot]);
	int rc;

	(void)index;
	rc = fl_install_write(&a->in, data, len);
	if (rc != 0) {
		k->kind = SINK_INSTALL;
		return rc;
	}
	if (a->in.written < a->in.image_len && a->in.written % unit == 0 &&
	    a->in.flushed - a->ckpt_bytes >= a->cfg.checkpoint_bytes &&
	    (a->cfg.checkpoint_min_ms == 0 ||
	     fl_agent__mono(a) - a->ckpt_ms >= a->cfg.checkpoint_min_ms)) {
		/* in_off already counts this record: it is where the next
		 * chunk starts. */
		rc = seal_checkpoint(a);
		if (rc != 0) {
			k->kind = SINK_STORE;
			return rc;
		}
	}
	return 0;
}

int fl_agent__seal_data(struct fl_agent *a, const void *data, size_t len)
{
	struct sink k = {a, 0};
	int rc;

	if (!a->is_unsealing) {
		/* The image started again at 0 (a 200 to a Range). */
		rc = seal_begin(a);
		if (rc != 0) {
			a->is_dl_active = false;
			rc = begin_failed(a, rc);
			return rc != 0 ? rc : FL_EINVAL;
		}
	}
	rc = fl_unseal_feed(&a->unseal, data, len, to_slot, &k);
	if (rc == 0)
		return 0;
	a->is_dl_active = false;
	if (k.kind == SINK_STORE)
		return rc;
	if (k.kind == SINK_INSTALL) {
		rc = fl_agent__dl_install_failed(a, rc);
		return rc != 0 ? rc : FL_EINVAL;
	}
	fl_agent__seal_reset(a);
	switch (rc) {
	case FL_EVERIFY:
		rc = fl_agent__finish(a, FL_RESULT_INTEGRITY, "chunk");
		break;
	case FL_ECORRUPT:
		rc = fl_agent__finish(a, FL_RESULT_INTEGRITY, "container");
		break;
	case FL_ETOOBIG:
		rc = fl_agent__finish(a, FL_RESULT_INTEGRITY, "too_long");
		return rc != 0 ? rc : FL_ETOOBIG;
	default: rc = fl_agent__finish(a, FL_RESULT_FAILED, "crypto"); break;
	}
	return rc != 0 ? rc : FL_EINVAL;
}

bool fl_agent__seal_complete(const struct fl_agent *a)
{
	return a->is_unsealing && fl_unseal_is_done(&a->unseal);
}

bool fl_agent__seal_truncated(const struct fl_agent *a)
{
	/* Every byte of the container came, and it did not end with its
	 * last chunk. */
	return a->is_unsealing && !fl_unseal_is_done(&a->unseal) &&
	       a->unseal.in_off == a->st.job.enc_length;
}
