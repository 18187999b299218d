/*
 * download.c -- the image download: straight from the downloader port
 * into the inactive slot through the streaming installer, resumable, and
 * never longer than the signed length.
 *
 * Method: the installer hashes every byte as it streams and programs the
 * slot in place. Every checkpoint_bytes, and whenever a transfer ends
 * early, the installer syncs (fl_install_checkpoint) and the agent persists
 * that durable offset with the response's validator (ETag or
 * Last-Modified). The next transfer asks for "Range: bytes=<offset>-" with
 * "If-Range: <validator>": within one boot it continues from the bytes the
 * installer already holds; after a reboot, fl_install_resume() re-hashes
 * what the slot holds up to the checkpoint. A 200 (the file changed, or
 * the server ignores ranges) or a 416 starts the image again at 0. A
 * resumed image whose digest fails at the end is fetched once more from 0
 * before the job fails with integrity_failure: a file that changed under
 * a missing or weak validator is then caught and repaired.
 *
 * Bounds (docs/protocol.md, "Download"): a Content-Length or Content-Range
 * total other than the signed length stops the transfer at once
 * (integrity_failure, "length"); data that would go past the signed length
 * is refused before anything of it is written ("too_long"). Failed
 * transfers are retried with backoff (5 s doubling to 5 min) up to 10 tries,
 * then connection_lost; an HTTP 4xx ends the job (invalid_uri, "http:NNN").
 */
#include <string.h>

#include "agent_priv.h"
#include "fl/bytes.h"
#include "fl/err.h"

#define PROGRESS_MS 30000u

static void target_of(const struct fl_agent *a, struct fl_install_target *t)
{
	const struct fl_agent_job *j = &a->st.job;

	memset(t, 0, sizeof(*t));
	t->attempt_id = j->id;
	t->image_len = j->length;
	memcpy(t->sha256, j->sha256, FL_SHA256_BYTES);
	t->counter = j->seq;
	(void)fl_strlcpy(t->version, j->version, sizeof(t->version));
}

/* Ends the job after the installer refused or failed. */
static int install_failed(struct fl_agent *a, int err)
{
	fl_agent__seal_reset(a);
	switch (err) {
	case FL_EROLLBACK:
		return fl_agent__finish(a, FL_RESULT_ANTI_ROLLBACK, "");
	case FL_ENOSPC: return fl_agent__finish(a, FL_RESULT_NO_FLASH, "");
	case FL_ETRIAL:
		return fl_agent__finish(a, FL_RESULT_FAILED, "trial_pending");
	case FL_EINVAL: return fl_agent__finish(a, FL_RESULT_FAILED, "install");
	default:
		/* A flash error. If even the failure cannot be persisted
		 * (power lost), the caller sees the store's error. */
		return fl_agent__finish(a, FL_RESULT_FAILED, "flash");
	}
}

void fl_agent__dl_abort(struct fl_agent *a)
{
	const struct fl_agent_downloader *d = &a->cfg.downloader;

	if (!a->is_dl_active)
		return;
	a->is_dl_active = false;
	d->ops->stop(d->ctx);
}

static uint64_t backoff_ms(const struct fl_agent *a, unsigned tries)
{
	uint64_t s = a->cfg.dl_retry_base_s;

	for (unsigned i = 1; i < tries && s < a->cfg.dl_retry_max_s; i++)
		s *= 2;
	if (s > a->cfg.dl_retry_max_s)
		s = a->cfg.dl_retry_max_s;
	return s * 1000u;
}

/* Syncs the installer and persists its durable offset. */
static int checkpoint(struct fl_agent *a)
{
	uint32_t off;
	int rc = fl_install_checkpoint(&a->in, &off);

	if (rc != 0)
		return rc;
	a->st.job.offset = off;
	a->ckpt_bytes = a->in.flushed;
	a->ckpt_ms = fl_agent__mono(a);
	return fl_agent__save(a);
}

/* A transfer failed: keep what is durable, count the try, back off. */
static int failed_try(struct fl_agent *a, uint64_t now)
{
	struct fl_agent_job *j = &a->st.job;
	uint32_t off;
	int rc;

	j->dl_tries++;
	if (a->in.state == FL_INSTALL_WRITING && !fl_agent__is_sealed(a)) {
		rc = fl_install_checkpoint(&a->in, &off);
		if (rc != 0)
			return install_failed(a, rc);
		j->offset = off;
		a->ckpt_bytes = a->in.flushed;
	}
	if (j->dl_tries >= a->cfg.dl_max_tries)
		return fl_agent__finish(a, FL_RESULT_CONNECTION_LOST,
					a->wait_reason);
	rc = fl_agent__save(a);
	if (rc != 0)
		return rc;
	a->next_ms = now + backoff_ms(a, j->dl_tries);
	return 0;
}

/* Gets the installer ready: the same install in RAM, else resumed from
 * the durable offset, else begun at 0. Sets *from. */
static int prepare(struct fl_agent *a, uint32_t *from)
{
	struct fl_slots *s = fl_agent__slots(a);
	struct fl_install *in = &a->in;
	struct fl_install_target t;
	int rc;

	if (in->state == FL_INSTALL_WRITING && in->slots == s &&
	    in->image_len == a->st.job.length &&
	    memcmp(in->sha256, a->st.job.sha256, FL_SHA256_BYTES) == 0 &&
	    s->info[in->slot].attempt_id == a->st.job.id) {
		*from = in->written;
		return 0;
	}
	target_of(a, &t);
	rc = fl_install_resume(in, s, &t, a->st.job.offset);
	if (rc == FL_ESTATE)
		rc = fl_install_begin(in, s, &t);
	if (rc != 0)
		return rc;
	a->ckpt_bytes = in->flushed;
	*from = in->written;
	return 0;
}

int fl_agent__dl_install_failed(struct fl_agent *a, int err)
{
	return install_failed(a, err);
}

/* Forgets the bytes written: the next transfer starts at 0 (the record
 * stays WRITING for this job, so resume(0) reuses it). */
static void restart_at_zero(struct fl_agent *a)
{
	memset(&a->in, 0, sizeof(a->in));
	a->st.job.offset = 0;
	a->st.job.flags &= (uint8_t)~FL_AGENT_JOB_SPLICED;
	a->ckpt_bytes = 0;
	fl_agent__seal_reset(a);
}

int fl_agent__dl_poll(struct fl_agent *a, uint64_t now)
{
	const struct fl_agent_downloader *d = &a->cfg.downloader;
	struct fl_agent_job *j = &a->st.job;
	struct fl_agent_dl_request req;
	uint32_t from = 0;
	int rc;

	if (a->is_dl_active || now < a->next_ms)
		return 0;
	rc = prepare(a, &from);
	if (rc != 0)
		return install_failed(a, rc);
	if (fl_agent__is_sealed(a)) {
		bool is_ended;

		rc = fl_agent__seal_from(a, &from, &is_ended);
		if (is_ended || rc != 0)
			return rc;
	}
	if (from > 0)
		j->flags |= FL_AGENT_JOB_SPLICED;
	memset(&req, 0, sizeof(req));
	req.url = j->url;
	req.offset = from;
	req.length = fl_agent__dl_total(a);
	req.validator = from > 0 ? j->validator : "";
	a->dl_offset = from;
	a->is_dl_active = true;
	a->has_response = false;
	a->progress_ms = now;
	a->progress_bytes = from;
	/* What is durable now was checkpointed: the next checkpoint is due
	 * checkpoint_min_ms from here, not at the first bytes. */
	a->ckpt_ms = now;
	rc = d->ops->start(d->ctx, &req);
	if (rc != 0) {
		a->is_dl_active = false;
		return failed_try(a, now);
	}
	return 0;
}

int fl_agent__dl_digest_failed(struct fl_agent *a)
{
	struct fl_agent_job *j = &a->st.job;

	if ((j->flags & FL_AGENT_JOB_SPLICED) &&
	    !(j->flags & FL_AGENT_JOB_REFETCHED)) {
		restart_at_zero(a);
		j->flags |= FL_AGENT_JOB_REFETCHED;
		j->dl_tries = 0;
		a->next_ms = fl_agent__mono(a);
		return fl_agent__save(a);
	}
	return fl_agent__finish(a, FL_RESULT_INTEGRITY, "digest");
}

static bool has_nul(const char *s, size_t size)
{
	for (size_t i = 0; i < size; i++)
		if (s[i] == '\0')
			return true;
	return false;
}

static void write_code(char *out, const char *prefix, unsigned code)
{
	size_t n = strlen(prefix);
	char digits[6];
	unsigned k = 0;

	memcpy(out, prefix, n);
	do {
		digits[k++] = (char)('0' + code % 10);
		code /= 10;
	} while (code != 0 && k < sizeof(digits));
	while (k > 0)
		out[n++] = digits[--k];
	out[n] = '\0';
}

static int on_response(struct fl_agent *a, const struct fl_agent_dl_response *r)
{
	struct fl_agent_job *j;
	struct fl_install_target t;
	unsigned code;
	char why[16];
	int rc;

	if (a == NULL || r == NULL)
		return FL_EINVAL;
	if (!a->is_dl_active || a->has_response)
		return FL_ESTATE;
	j = &a->st.job;
	a->has_response = true;
	code = r->http_status;
	if (code == 200 || code == 206) {
		bool is_from_zero = code == 200 || r->first_byte == 0;

		if (!is_from_zero && r->first_byte != a->dl_offset) {
			a->is_dl_active = false;
			restart_at_zero(a);
			rc = failed_try(a, fl_agent__mono(a));
			return rc != 0 ? rc : FL_EINVAL;
		}
		if (r->total_bytes != 0 &&
		    r->total_bytes != fl_agent__dl_total(a)) {
			a->is_dl_active = false;
			rc = fl_agent__finish(a, FL_RESULT_INTEGRITY, "length");
			return rc != 0 ? rc : FL_ETOOBIG;
		}
		if (is_from_zero && a->dl_offset > 0) {
			/* The file changed (If-Range) or ranges are not
			 * served: the image starts again at 0. */
			restart_at_zero(a);
			target_of(a, &t);
			rc = fl_install_begin(&a->in, fl_agent__slots(a), &t);
			if (rc != 0) {
				a->is_dl_active = false;
				rc = install_failed(a, rc);
				return rc != 0 ? rc : FL_EINVAL;
			}
			a->dl_offset = 0;
			a->progress_bytes = 0;
		}
		if (has_nul(r->validator, sizeof(r->validator)))
			(void)fl_strlcpy(j->validator, r->validator,
					 sizeof(j->validator));
		else
			j->validator[0] = '\0';
		return 0;
	}
	a->is_dl_active = false;
	if (code == 416) {
		restart_at_zero(a);
		rc = failed_try(a, fl_agent__mono(a));
		return rc != 0 ? rc : FL_EINVAL;
	}
	write_code(why, "http:", code);
	if (code >= 400 && code < 500) {
		rc = fl_agent__finish(a, FL_RESULT_INVALID_URI, why);
		return rc != 0 ? rc : FL_EINVAL;
	}
	(void)fl_strlcpy(a->wait_reason, why, sizeof(a->wait_reason));
	rc = failed_try(a, fl_agent__mono(a));
	return rc != 0 ? rc : FL_EINVAL;
}

static int on_data(struct fl_agent *a, const void *data, size_t len)
{
	struct fl_agent_job *j;
	uint64_t now;
	int rc;

	if (a == NULL || (data == NULL && len > 0))
		return FL_EINVAL;
	if (!a->is_dl_active || !a->has_response ||
	    a->in.state != FL_INSTALL_WRITING)
		return FL_ESTATE;
	j = &a->st.job;
	if (len > fl_agent__dl_total(a) - fl_agent__dl_pos(a)) {
		/* Never a byte past the signed length. */
		a->is_dl_active = false;
		rc = fl_agent__finish(a, FL_RESULT_INTEGRITY, "too_long");
		return rc != 0 ? rc : FL_ETOOBIG;
	}
	if (fl_agent__is_sealed(a)) {
		rc = fl_agent__seal_data(a, data, len);
		if (rc != 0)
			return rc;
	} else {
		rc = fl_install_write(&a->in, data, len);
	}
	if (rc != 0) {
		a->is_dl_active = false;
		rc = install_failed(a, rc);
		return rc != 0 ? rc : FL_EINVAL;
	}
	if (!fl_agent__is_sealed(a) &&
	    a->in.flushed - a->ckpt_bytes >= a->cfg.checkpoint_bytes &&
	    (a->cfg.checkpoint_min_ms == 0 ||
	     fl_agent__mono(a) - a->ckpt_ms >= a->cfg.checkpoint_min_ms)) {
		rc = checkpoint(a);
		if (rc != 0) {
			a->is_dl_active = false;
			return rc;
		}
	}
	now = fl_agent__mono(a);
	if ((uint64_t)(a->in.written - a->progress_bytes) * 10u >= j->length ||
	    now - a->progress_ms >= PROGRESS_MS) {
		a->progress_bytes = a->in.written;
		a->progress_ms = now;
		fl_agent__status(a, NULL);
	}
	return 0;
}

static int on_done(struct fl_agent *a, int err)
{
	struct fl_agent_job *j;
	int rc;

	if (a == NULL)
		return FL_EINVAL;
	if (!a->is_dl_active)
		return FL_ESTATE;
	a->is_dl_active = false;
	j = &a->st.job;
	if (fl_agent__is_sealed(a) && fl_agent__seal_truncated(a)) {
		fl_agent__seal_reset(a);
		return fl_agent__finish(a, FL_RESULT_INTEGRITY, "truncated");
	}
	if (err != 0 || !a->has_response || a->in.written != j->length ||
	    (fl_agent__is_sealed(a) && !fl_agent__seal_complete(a))) {
		a->wait_reason[0] = '\0';
		return failed_try(a, fl_agent__mono(a));
	}
	fl_agent__seal_reset(a);
	rc = fl_install_finish(&a->in);
	if (rc == FL_EVERIFY)
		return fl_agent__dl_digest_failed(a);
	if (rc != 0)
		return install_failed(a, rc);
	j->offset = j->length;
	a->wait_reason[0] = '\0';
	a->next_ms = fl_agent__mono(a);
	/* The slot's STAGED record, durable now, is what makes the job
	 * downloaded: after a power cut or a kill from here on, settle()
	 * finds it and enters DOWNLOADED whatever phase the state holds. So
	 * the status goes out at once, and the state's save follows. */
	j->phase = FL_AGENT_DOWNLOADED;
	fl_agent__status(a, NULL);
	rc = fl_agent__save(a);
	if (rc == 0)
		fl_agent__reported(a);
	return rc;
}

int fl_agent_on_dl_response(struct fl_agent *a,
			    const struct fl_agent_dl_response *r)
{
	if (a == NULL || r == NULL)
		return FL_EINVAL;
	if (a->halt_rc != 0)
		return a->halt_rc;
	return fl_agent__guard(a, on_response(a, r));
}

int fl_agent_on_dl_data(struct fl_agent *a, const void *data, size_t len)
{
	if (a == NULL || (data == NULL && len > 0))
		return FL_EINVAL;
	if (a->halt_rc != 0)
		return a->halt_rc;
	return fl_agent__guard(a, on_data(a, data, len));
}

int fl_agent_on_dl_done(struct fl_agent *a, int err)
{
	if (a == NULL)
		return FL_EINVAL;
	if (a->halt_rc != 0)
		return a->halt_rc;
	return fl_agent__guard(a, on_done(a, err));
}
