/*
 * agent.c -- the agent's state machine: starting after a boot, commands,
 * preconditions, activation and the poll loop (downloads: download.c;
 * trials: health.c).
 *
 * Method: two stores hold what the agent knows, and neither is ever
 * written together with the other: the agent's persisted state (one job,
 * through the store port) and the slot records (firmware-hal, whose
 * attempt id is the job id). The rule is intent first: the job's next
 * phase is persisted before the slot records are touched, and reported
 * only after it is persisted (or implied by a durable slot record:
 * DOWNLOADED is reported as soon as the slot is STAGED, since settle()
 * derives it from that record, and the state's save follows). So after a
 * power cut or a kill at any flash operation, the job's phase says what
 * the agent meant to do and the attempt record says how far the slot
 * manager got; settle() combines the two and redoes the step, every step
 * being idempotent:
 *
 *   phase        attempt of the job says    then
 *   DOWNLOADING  STAGED                     DOWNLOADED (finish had landed)
 *                FAILED, digest             download again once, or fail
 *                anything else              resume from the checkpoint
 *   ACTIVATING,  STAGED / none (switch)     DOWNLOADED: activate again
 *   TRIAL,       TRIAL, other slot booted   activate again (idempotent),
 *   REJECTING                               reboot
 *                TRIAL, booted              TRIAL: health check (REJECTING:
 *                                           reject again, reboot)
 *                COMMITTED                  DONE success / rolled_back
 *                REVERTED                   DONE reverted / rollback_failed
 *                                           with the boot loader's reason
 *   DONE, NONE   WRITING or STAGED          marked BAD (cancelled)
 *
 * The last line keeps a superseded or cancelled job's half-written slot
 * from being mistaken for anything later.
 */
#include <string.h>

#include "agent_priv.h"
#include "fl/bytes.h"
#include "fl/err.h"
#include "fl/f64.h"

#define DEFAULT_RETRY_S		  300u
#define DEFAULT_HEALTH_WINDOW_S	  60u
#define DEFAULT_HEALTH_INTERVAL_S 60u
#define DEFAULT_SAMPLE_MS	  1000u
#define DEFAULT_CHECKPOINT_BYTES  65536u
#define DEFAULT_DL_BASE_S	  5u
#define DEFAULT_DL_MAX_S	  300u
#define DEFAULT_DL_TRIES	  10u
#define REBOOT_AGAIN_MS		  60000u
#define WINDOW_RECHECK_MS	  60000u
#define POLL_MAX_MS		  1000u
#define POLL_IDLE_MAX_MS	  60000u
#define STEPS_MAX		  4u
#define MIN_PER_DAY		  1440u

/* ---- helpers ------------------------------------------------------------ */

uint64_t fl_agent__udiv(uint64_t n, uint32_t d, uint32_t *rem)
{
	uint64_t q = 0, r = 0;

	for (int i = 63; i >= 0; i--) {
		r = (r << 1) | ((n >> i) & 1u);
		if (r >= d) {
			r -= d;
			q |= (uint64_t)1 << i;
		}
	}
	if (rem != NULL)
		*rem = (uint32_t)r;
	return q;
}

/* ---- persisting ------------------------------------------------------- */

int fl_agent__save(struct fl_agent *a)
{
	const struct fl_agent_store *s = &a->cfg.store;
	size_t n = fl_agent_state_encode(a->scratch.blob, &a->st);

	return s->ops->save(s->ctx, a->scratch.blob, n);
}

int fl_agent__enter(struct fl_agent *a, uint8_t phase)
{
	int rc;

	a->st.job.phase = phase;
	rc = fl_agent__save(a);
	if (rc != 0)
		return rc;
	fl_agent__status(a, NULL);
	fl_agent__reported(a);
	return 0;
}

int fl_agent__discard_inactive(struct fl_agent *a)
{
	struct fl_slots *s = fl_agent__slots(a);
	unsigned o = fl_agent__inactive(a);
	struct fl_slot_info in = s->info[o];
	const struct fl_agent_job *j = &a->st.job;
	bool is_running = j->phase != FL_AGENT_DONE &&
			  j->phase != FL_AGENT_NONE && in.attempt_id == j->id;

	if ((in.state != FL_SLOT_WRITING && in.state != FL_SLOT_STAGED) ||
	    is_running)
		return 0;
	memset(&a->in, 0, sizeof(a->in));
	in.state = FL_SLOT_BAD;
	in.reason = FL_REASON_CANCELLED;
	return fl_slots_write_record(s, o, &in);
}

int fl_agent__finish(struct fl_agent *a, uint8_t result, const char *reason)
{
	struct fl_agent_job *j = &a->st.job;
	int rc;

	fl_agent__dl_abort(a);
	fl_agent__seal_reset(a);
	memset(j->enc_key, 0, sizeof(j->enc_key)); /* no longer needed */
	j->phase = FL_AGENT_DONE;
	j->result = result;
	fl_agent__token(j->reason, NULL, reason);
	a->wait_result = FL_RESULT_NONE;
	a->wait_reason[0] = '\0';
	rc = fl_agent__save(a);
	if (rc != 0)
		return rc;
	rc = fl_agent__discard_inactive(a);
	fl_agent__status(a, NULL);
	fl_agent__reported(a);
	return rc;
}

void fl_agent__request_reboot(struct fl_agent *a)
{
	const struct fl_agent_device *d = &a->cfg.device;

	a->reboot_ms = fl_agent__mono(a);
	if (a->reboot_ms == 0)
		a->reboot_ms = 1;
	d->ops->reboot(d->ctx);
}

/* ---- configuration ---------------------------------------------------- */

#define PORT_OK(p)                                                             \
	((p).ops != NULL && (p).ops->version == FL_AGENT_PORT_VERSION)

static int check_config(const struct fl_agent_config *c)
{
	if (c == NULL || c->slots == NULL || c->crypto == NULL ||
	    c->crypto->version != FL_CRYPTO_OPS_VERSION ||
	    c->crypto->p256_verify == NULL || c->n_keys + c->n_roots == 0 ||
	    (c->n_keys > 0 && c->keys == NULL) ||
	    (c->n_roots > 0 && c->roots == NULL) ||
	    (c->n_rollback_kids > 0 && c->rollback_kids == NULL) ||
	    c->model == NULL || c->model[0] == '\0' ||
	    c->n_labels > FL_PROTO_LABELS_MAX ||
	    (c->n_labels > 0 && c->labels == NULL))
		return FL_EINVAL;
	if (!PORT_OK(c->transport) || !PORT_OK(c->downloader) ||
	    !PORT_OK(c->clock) || !PORT_OK(c->store) || !PORT_OK(c->device))
		return FL_EINVAL;
	if (c->transport.ops->publish_status == NULL ||
	    c->transport.ops->publish_reported == NULL ||
	    c->transport.ops->publish_health == NULL ||
	    c->downloader.ops->start == NULL ||
	    c->downloader.ops->stop == NULL || c->clock.ops->now_s == NULL ||
	    c->clock.ops->mono_ms == NULL || c->store.ops->load == NULL ||
	    c->store.ops->save == NULL || c->device.ops->facts == NULL ||
	    c->device.ops->health == NULL || c->device.ops->reboot == NULL)
		return FL_EINVAL;
	return fl_agent__check_identity(c);
}

static void set_defaults(struct fl_agent_config *c)
{
	if (c->component == NULL)
		c->component = "firmware";
	if (c->retry_s == 0)
		c->retry_s = DEFAULT_RETRY_S;
	if (c->health_window_s == 0)
		c->health_window_s = DEFAULT_HEALTH_WINDOW_S;
	if (c->health_interval_s == 0)
		c->health_interval_s = DEFAULT_HEALTH_INTERVAL_S;
	if (c->health_sample_ms == 0)
		c->health_sample_ms = DEFAULT_SAMPLE_MS;
	if (c->checkpoint_bytes == 0)
		c->checkpoint_bytes = DEFAULT_CHECKPOINT_BYTES;
	if (c->dl_retry_base_s == 0)
		c->dl_retry_base_s = DEFAULT_DL_BASE_S;
	if (c->dl_retry_max_s == 0)
		c->dl_retry_max_s = DEFAULT_DL_MAX_S;
	if (c->dl_max_tries == 0)
		c->dl_max_tries = DEFAULT_DL_TRIES;
}

/* ---- settling after a boot -------------------------------------------- */

static uint8_t done_result(const struct fl_agent_job *j, bool is_ok)
{
	if (j->type == FL_CMD_ROLLBACK)
		return is_ok ? FL_RESULT_ROLLED_BACK
			     : FL_RESULT_ROLLBACK_FAILED;
	return is_ok ? FL_RESULT_SUCCESS : FL_RESULT_REVERTED;
}

static const char *revert_reason(uint8_t reason)
{
	switch (reason) {
	case FL_REASON_NOT_CONFIRMED: return "not_confirmed";
	case FL_REASON_BOOT_VERIFY: return "boot_verify";
	case FL_REASON_REVERTED: return "bootloader";
	case FL_REASON_REJECTED: return "health";
	case FL_REASON_VERIFY: return "digest";
	case FL_REASON_CANCELLED: return "cancelled";
	default: return "flash";
	}
}

/* The job's attempt ended (committed, reverted or failed): its result. */
static int settle_ended(struct fl_agent *a, const struct fl_attempt *att)
{
	struct fl_agent_job *j = &a->st.job;
	char reason[FL_PROTO_REASON_MAX];

	if (att->outcome == FL_OUTCOME_COMMITTED)
		return fl_agent__finish(a, done_result(j, true), "");
	if (att->outcome == FL_OUTCOME_FAILED)
		return fl_agent__finish(a, FL_RESULT_FAILED,
					revert_reason(att->reason));
	/* Reverted: the health check's own reason if it rejected the image,
	 * else what the boot loader recorded, and the reset that did it. */
	if (j->phase == FL_AGENT_REJECTING && j->reason[0] != '\0')
		(void)fl_strlcpy(reason, j->reason, sizeof(reason));
	else
		(void)fl_strlcpy(reason, revert_reason(att->reason),
				 sizeof(reason));
	j->reset = att->reset_reason;
	return fl_agent__finish(a, done_result(j, false), reason);
}

/* A job the agent never took has an attempt on the slots (its state was
 * lost, or the device was provisioned mid-update): report it as its own,
 * and health-check a trial nobody else would confirm. */
static int adopt(struct fl_agent *a, const struct fl_attempt *att)
{
	struct fl_agent_job *j = &a->st.job;
	unsigned b = fl_slots_booted(fl_agent__slots(a));

	if (att->outcome != FL_OUTCOME_COMMITTED &&
	    att->outcome != FL_OUTCOME_REVERTED &&
	    !(att->outcome == FL_OUTCOME_TRIAL && att->slot == b))
		return 0;
	memset(j, 0, sizeof(*j));
	j->id = att->id;
	j->type = FL_CMD_OFFER;
	(void)fl_strlcpy(j->version, att->version, sizeof(j->version));
	a->st.last_job = att->id;
	if (att->outcome != FL_OUTCOME_TRIAL)
		return settle_ended(a, att);
	j->phase = FL_AGENT_TRIAL;
	return fl_agent__save(a);
}

static int settle(struct fl_agent *a)
{
	struct fl_slots *s = fl_agent__slots(a);
	struct fl_agent_job *j = &a->st.job;
	unsigned b = fl_slots_booted(s);
	struct fl_attempt att;
	bool has_att, mine;
	int rc = 0;

	memset(&att, 0, sizeof(att));
	has_att = fl_slots_attempt(s, &att) == 0;
	mine = has_att && j->id != 0 && att.id == j->id;
	switch (j->phase) {
	case FL_AGENT_NONE:
	case FL_AGENT_DONE:
		if (has_att && att.id != j->id && att.id > a->st.last_job)
			rc = adopt(a, &att);
		break;
	case FL_AGENT_WAITING: break;
	case FL_AGENT_DOWNLOADING:
		if (mine && att.outcome == FL_OUTCOME_STAGED) {
			j->offset = j->length;
			j->phase = FL_AGENT_DOWNLOADED;
			rc = fl_agent__save(a);
		} else if (mine && att.outcome == FL_OUTCOME_FAILED &&
			   att.reason == FL_REASON_VERIFY) {
			rc = fl_agent__dl_digest_failed(a);
		}
		break;
	case FL_AGENT_DOWNLOADED:
		if (!(j->flags & FL_AGENT_JOB_SWITCH) &&
		    !(mine && att.outcome == FL_OUTCOME_STAGED)) {
			/* The staged image is gone: fetch it again. */
			j->phase = FL_AGENT_DOWNLOADING;
			j->offset = 0;
			rc = fl_agent__save(a);
		}
		break;
	case FL_AGENT_ACTIVATING:
	case FL_AGENT_TRIAL:
	case FL_AGENT_REJECTING:
		if (!mine || att.outcome == FL_OUTCOME_STAGED) {
			/* The trial record was not written: not activated. */
			j->phase = !mine && !(j->flags & FL_AGENT_JOB_SWITCH)
					   ? FL_AGENT_DOWNLOADING
					   : FL_AGENT_DOWNLOADED;
			if (j->phase == FL_AGENT_DOWNLOADING)
				j->offset = 0;
			rc = fl_agent__save(a);
		} else if (att.outcome == FL_OUTCOME_TRIAL && att.slot != b) {
			/* Activated, not yet booted (a kill, or a trial an
			 * external boot loader has not been told of). */
			rc = fl_slots_activate(s, att.slot);
			if (rc == 0)
				fl_agent__request_reboot(a);
		} else if (att.outcome == FL_OUTCOME_TRIAL) {
			if (j->phase == FL_AGENT_REJECTING) {
				rc = fl_slots_reject(s, FL_REASON_REJECTED);
				if (rc == 0)
					fl_agent__request_reboot(a);
			} else if (j->phase != FL_AGENT_TRIAL) {
				j->phase = FL_AGENT_TRIAL;
				rc = fl_agent__save(a);
			}
		} else if (att.outcome == FL_OUTCOME_WRITING) {
			j->phase = FL_AGENT_DOWNLOADING;
			rc = fl_agent__save(a);
		} else if (att.slot == b && s->info[b].state == FL_SLOT_BAD) {
			/* Rejected, but still running (a kill before the
			 * reboot): the old image must run before it counts. */
			fl_agent__request_reboot(a);
		} else {
			rc = settle_ended(a, &att);
		}
		break;
	case FL_AGENT_ABANDONING:
		if (s->info[b].state == FL_SLOT_BAD) {
			fl_agent__request_reboot(a);
		} else if (s->info[b].state == FL_SLOT_TRIAL) {
			rc = fl_slots_reject(s, FL_REASON_REJECTED);
			if (rc == 0)
				fl_agent__request_reboot(a);
		} else {
			j->phase = FL_AGENT_WAITING;
			rc = fl_agent__save(a);
		}
		break;
	default: break;
	}
	if (rc == 0 && (j->phase == FL_AGENT_DONE || j->phase == FL_AGENT_NONE))
		rc = fl_agent__discard_inactive(a);
	if (rc == 0 && j->phase == FL_AGENT_TRIAL)
		fl_agent__trial_begin(a);
	return rc;
}

int fl_agent_init(struct fl_agent *a, const struct fl_agent_config *cfg)
{
	const struct fl_agent_store *st;
	size_t len = 0;
	int rc;

	if (a == NULL)
		return FL_EINVAL;
	memset(a, 0, sizeof(*a));
	rc = check_config(cfg);
	if (rc != 0) {
		a->halt_rc = rc;
		return rc;
	}
	a->cfg = *cfg;
	set_defaults(&a->cfg);
	st = &a->cfg.store;
	rc = st->ops->load(st->ctx, a->scratch.blob, sizeof(a->scratch.blob),
			   &len);
	if (rc == FL_ENOENT)
		memset(&a->st, 0, sizeof(a->st));
	else if (rc == 0)
		rc = fl_agent_state_decode(&a->st, a->scratch.blob, len);
	if (rc != 0 && rc != FL_ENOENT) {
		a->halt_rc = rc;
		return rc;
	}
	/* Count this start first: statuses are ordered by (boot, n). */
	a->st.boot++;
	if (a->st.boot == 0)
		a->st.boot = 1;
	rc = fl_agent__save(a);
	if (rc == 0)
		rc = settle(a);
	a->next_ms = fl_agent__mono(a);
	a->health_ms = a->next_ms;
	if (rc != 0)
		a->halt_rc = rc;
	return rc;
}

/* ---- commands ----------------------------------------------------------- */

static bool is_str(const char *s, size_t size, bool need)
{
	for (size_t i = 0; i < size; i++)
		if (s[i] == '\0')
			return i > 0 || !need;
	return false;
}

/* Struct-level checks of what the codec promises, so that a struct from a
 * buggy adapter cannot overrun a bound. 0 or FL_EINVAL with *what. */
static int check_cmd(const struct fl_cmd *c, const char **what)
{
	*what = "type";
	if (c->type != FL_CMD_OFFER && c->type != FL_CMD_CANCEL &&
	    c->type != FL_CMD_ROLLBACK)
		return FL_EINVAL;
	*what = "expires";
	if (c->expires == 0 || c->expires < c->issued)
		return FL_EINVAL;
	if (c->type == FL_CMD_CANCEL)
		return 0;
	*what = "manifest";
	if (c->manifest.body_len == 0 ||
	    c->manifest.body_len > FL_MANIFEST_BODY_MAX)
		return FL_EINVAL;
	*what = "window";
	if (c->activate > FL_ACTIVATE_WINDOW ||
	    c->window_start_min >= MIN_PER_DAY ||
	    c->window_end_min >= MIN_PER_DAY ||
	    (c->activate == FL_ACTIVATE_WINDOW &&
	     c->window_start_min == c->window_end_min))
		return FL_EINVAL;
	*what = "health";
	if (c->n_limits > FL_PROTO_LIMITS_MAX)
		return FL_EINVAL;
	for (unsigned i = 0; i < c->n_limits; i++) {
		const struct fl_health_limit *l = &c->limits[i];

		if (!is_str(l->metric, sizeof(l->metric), true) ||
		    (!l->has_min && !l->has_max) ||
		    (l->has_min && fl_f64_is_nan(l->min)) ||
		    (l->has_max && fl_f64_is_nan(l->max)) ||
		    (l->has_min && l->has_max && !fl_f64_le(l->min, l->max)))
			return FL_EINVAL;
	}
	return 0;
}

static bool is_current(const struct fl_agent *a, uint32_t job)
{
	return job == a->st.last_job || job == a->st.job.id;
}

static bool is_unactivated(uint8_t phase)
{
	return phase == FL_AGENT_WAITING || phase == FL_AGENT_DOWNLOADING ||
	       phase == FL_AGENT_DOWNLOADED;
}

static bool is_activated(uint8_t phase)
{
	return phase == FL_AGENT_ACTIVATING || phase == FL_AGENT_TRIAL ||
	       phase == FL_AGENT_REJECTING || phase == FL_AGENT_ABANDONING;
}

static bool is_trial_pending(const struct fl_agent *a)
{
	const struct fl_slots *s = fl_agent__slots(a);

	for (unsigned i = 0; i < FL_SLOT_COUNT; i++)
		if (s->info[i].state == FL_SLOT_TRIAL)
			return true;
	return is_activated(a->st.job.phase);
}

/* 1 if the slot holds exactly the manifest's image (by its record). */
static bool holds_image(const struct fl_slot_info *in,
			const struct fl_agent_job *j)
{
	return (in->state == FL_SLOT_CONFIRMED || in->state == FL_SLOT_TRIAL) &&
	       in->image_len == j->length &&
	       memcmp(in->sha256, j->sha256, FL_SHA256_BYTES) == 0;
}

/* Verifies the command's manifest into a->scratch.manifest (signature
 * chain first: fl_manifest_verify_trusted) and checks that it applies.
 * Returns the final result that refuses it (with *reason), or
 * FL_RESULT_NONE with *key_floor set to its certificate's floor. */
static uint8_t verify(struct fl_agent *a, const struct fl_cmd *c,
		      const char **reason, uint16_t *key_floor)
{
	struct fl_slots *s = fl_agent__slots(a);
	struct fl_manifest *m = &a->scratch.manifest;
	const struct fl_slot_info *run = &s->info[fl_slots_booted(s)];
	struct fl_manifest_trust t;
	struct fl_manifest_signer who;
	struct fl_manifest_facts f;
	int rc, why = FL_RESULT_NONE;

	memset(&t, 0, sizeof(t));
	t.keys = a->cfg.keys;
	t.n_keys = a->cfg.n_keys;
	t.rollback_kids = a->cfg.rollback_kids;
	t.n_rollback_kids = a->cfg.n_rollback_kids;
	t.roots = a->cfg.roots;
	t.n_roots = a->cfg.n_roots;
	t.key_floor = a->st.key_floor;
	t.now = fl_agent__wall(a);
	rc = fl_manifest_verify_trusted(m, &who, &c->manifest, &t,
					a->cfg.crypto, NULL);
	*reason = who.reason;
	if (rc == FL_ENOENT || rc == FL_EVERIFY || rc == FL_EROLLBACK ||
	    rc == FL_ESTATE)
		return FL_RESULT_BAD_SIGNATURE;
	if (rc == FL_EINVAL || rc == FL_ETOOBIG || rc == FL_ENOTSUP)
		return FL_RESULT_BAD_MANIFEST;
	if (rc != 0) {
		*reason = "crypto";
		return FL_RESULT_FAILED;
	}
	*key_floor = who.floor;
	if (c->type == FL_CMD_ROLLBACK && !m->is_rollback) {
		*reason = "not_a_rollback_manifest";
		return FL_RESULT_BAD_COMMAND;
	}
	memset(&f, 0, sizeof(f));
	f.model = a->cfg.model;
	f.component = a->cfg.component;
	f.current_version = run->version;
	f.now = t.now;
	f.floor = fl_slots_floor(s);
	rc = fl_manifest_check(m, &f, &why);
	if (rc == FL_EINVAL) {
		*reason = "facts";
		return FL_RESULT_FAILED;
	}
	if (rc != 0)
		return (uint8_t)why;
	if (m->length > s->cfg.slot[fl_agent__inactive(a)].size)
		return FL_RESULT_NO_FLASH;
	return fl_agent__seal_admit(a, c, m, reason);
}

static bool preconditions(struct fl_agent *a, bool is_before_download);

/* Where a job goes once nothing holds it back: a rollback to the image the
 * other slot still holds switches back without a download; anything else
 * downloads from 0. */
static uint8_t phase_after_waiting(struct fl_agent *a)
{
	struct fl_slots *s = fl_agent__slots(a);
	struct fl_agent_job *j = &a->st.job;
	unsigned o = fl_agent__inactive(a);

	if (j->type == FL_CMD_ROLLBACK &&
	    s->info[o].state == FL_SLOT_CONFIRMED &&
	    holds_image(&s->info[o], j)) {
		j->flags |= FL_AGENT_JOB_SWITCH; /* no download */
		return FL_AGENT_DOWNLOADED;
	}
	j->offset = 0;
	j->dl_tries = 0;
	return FL_AGENT_DOWNLOADING;
}

/* Takes job J (> last_job): docs/protocol.md, device rule 5. */
static int take(struct fl_agent *a, const struct fl_cmd *c)
{
	struct fl_slots *s = fl_agent__slots(a);
	struct fl_agent_job *j = &a->st.job;
	const char *reason = "";
	uint32_t prev = 0, trial_job = 0;
	uint16_t key_floor = 0;
	uint8_t result;
	bool is_running_trial =
		s->info[fl_slots_booted(s)].state == FL_SLOT_TRIAL;
	int rc;

	if (is_trial_pending(a) &&
	    (c->type == FL_CMD_OFFER || !is_running_trial)) {
		/* Not taken: fleetd asks again once the trial has ended. */
		fl_agent__answer(a, c->job, FL_STATE_WAITING,
				 FL_RESULT_RETRY_LATER, "trial_pending", NULL,
				 NULL);
		return 0;
	}
	if (c->job == a->st.precancelled) {
		result = FL_RESULT_CANCELLED; /* the cancel overtook it */
		reason = "requested";
	} else {
		result = verify(a, c, &reason, &key_floor);
		if (result != FL_RESULT_NONE) {
			/* Refused: answered, and nothing changes. A forged,
			 * replayed or inapplicable manifest neither moves
			 * last_job nor supersedes the current job. */
			fl_agent__answer(a, c->job, FL_STATE_IDLE, result,
					 reason, NULL, NULL);
			return 0;
		}
	}
	if (is_unactivated(j->phase))
		prev = j->id; /* superseded */
	if (is_running_trial && c->type == FL_CMD_ROLLBACK)
		trial_job = s->info[fl_slots_booted(s)].attempt_id;

	/* Taken: the job is replaced in RAM and persisted once, before
	 * anything else happens. The replaced job's transfer and unseal
	 * stage (its key, its partial chunk) go with it. */
	fl_agent__dl_abort(a);
	fl_agent__seal_reset(a);
	memset(j, 0, sizeof(*j));
	j->id = c->job;
	j->type = c->type;
	j->activate = c->activate;
	j->window_start_min = c->window_start_min;
	j->window_end_min = c->window_end_min;
	j->health_window_s = c->health_window_s;
	j->n_limits = c->n_limits;
	memcpy(j->limits, c->limits, sizeof(j->limits));
	if (result == FL_RESULT_NONE) {
		/* Signed: copy what the job needs, so nothing is parsed
		 * again. */
		const struct fl_manifest *m = &a->scratch.manifest;

		(void)fl_strlcpy(j->version, m->version, sizeof(j->version));
		(void)fl_strlcpy(j->url, m->url, sizeof(j->url));
		j->length = m->length;
		memcpy(j->sha256, m->sha256, FL_SHA256_BYTES);
		j->seq = m->seq;
		j->expires = m->expires;
		fl_agent__seal_job(a, m);
		if (fl_agent__wall(a) != 0)
			j->flags |= FL_AGENT_JOB_EXPIRY_DONE;
		if (key_floor > a->st.key_floor)
			a->st.key_floor = key_floor; /* saved with the job */
	}
	if (result == FL_RESULT_NONE && !is_running_trial &&
	    holds_image(&s->info[fl_slots_booted(s)], j)) {
		result = done_result(j, true);
		reason = "already_installed";
	}
	a->st.last_job = c->job;
	if (a->st.precancelled == c->job)
		a->st.precancelled = 0;
	a->wait_result = FL_RESULT_NONE;
	a->wait_reason[0] = '\0';
	if (result != FL_RESULT_NONE) {
		j->phase = FL_AGENT_DONE;
		j->result = result;
		fl_agent__token(j->reason, NULL, reason);
	} else if (trial_job != 0) {
		j->phase = FL_AGENT_ABANDONING;
	} else if (preconditions(a, true)) {
		/* Nothing to wait for: the job goes straight on, and this one
		 * save persists it there (not WAITING and then, before the
		 * first byte, DOWNLOADING in a second save). */
		j->phase = phase_after_waiting(a);
	} else {
		/* poll_waiting() checks again, counts it and says why. */
		j->phase = FL_AGENT_WAITING;
		a->wait_result = FL_RESULT_NONE;
		a->wait_reason[0] = '\0';
	}
	rc = fl_agent__save(a);
	if (rc != 0)
		return rc;
	if (prev != 0)
		fl_agent__answer(a, prev, FL_STATE_IDLE, FL_RESULT_CANCELLED,
				 "superseded", NULL, NULL);
	if (j->phase == FL_AGENT_DONE)
		rc = fl_agent__discard_inactive(a);
	fl_agent__status(a, NULL);
	fl_agent__reported(a);
	if (rc != 0 || j->phase != FL_AGENT_ABANDONING) {
		a->next_ms = fl_agent__mono(a);
		return rc;
	}
	/* A rollback ends the running trial first: reject it, reboot into
	 * the committed image, and go on from there (settle). */
	fl_agent__answer(a, trial_job, FL_STATE_IDLE, FL_RESULT_REVERTED,
			 "rollback", NULL, NULL);
	rc = fl_slots_reject(s, FL_REASON_REJECTED);
	if (rc == 0)
		fl_agent__request_reboot(a);
	return rc;
}

static int cancel(struct fl_agent *a)
{
	const struct fl_agent_job *j = &a->st.job;

	if (is_unactivated(j->phase))
		return fl_agent__finish(a, FL_RESULT_CANCELLED, "requested");
	fl_agent__status(a, j->phase == FL_AGENT_DONE ? NULL
						      : "too_late_to_cancel");
	return 0;
}

static int on_cmd(struct fl_agent *a, const struct fl_cmd *c)
{
	const char *what = "";
	uint64_t now;

	if (a == NULL || c == NULL)
		return FL_EINVAL;
	if (c->job == 0)
		return 0; /* nothing to answer */
	if (check_cmd(c, &what) != 0) {
		if (!is_current(a, c->job))
			fl_agent__answer(a, c->job, FL_STATE_IDLE,
					 FL_RESULT_BAD_COMMAND, "bad_field",
					 what, NULL);
		return 0;
	}
	now = fl_agent__wall(a);
	if (now != 0 && c->expires <= now && !is_current(a, c->job)) {
		fl_agent__answer(a, c->job, FL_STATE_IDLE, FL_RESULT_EXPIRED,
				 NULL, NULL, NULL);
		return 0;
	}
	if (c->job < a->st.last_job) {
		fl_agent__answer(a, c->job, FL_STATE_IDLE, FL_RESULT_STALE,
				 NULL, NULL, NULL);
		return 0;
	}
	if (c->job == a->st.last_job) {
		/* A duplicate: never restart work. */
		if (c->type == FL_CMD_CANCEL && a->st.job.id == c->job)
			return cancel(a);
		fl_agent__status(a, NULL);
		return 0;
	}
	if (c->type == FL_CMD_CANCEL) {
		int rc;

		if (a->st.precancelled != c->job) {
			a->st.precancelled = c->job;
			rc = fl_agent__save(a);
			if (rc != 0)
				return rc;
		}
		fl_agent__answer(a, c->job, FL_STATE_IDLE, FL_RESULT_CANCELLED,
				 "requested", NULL, NULL);
		return 0;
	}
	return take(a, c);
}

int fl_agent_on_cmd(struct fl_agent *a, const struct fl_cmd *c)
{
	if (a == NULL || c == NULL)
		return FL_EINVAL;
	if (a->halt_rc != 0)
		return a->halt_rc;
	return fl_agent__guard(a, on_cmd(a, c));
}

int fl_agent_on_cmd_invalid(struct fl_agent *a, uint32_t job,
			    const char *detail)
{
	if (a == NULL)
		return FL_EINVAL;
	if (job != 0 && !is_current(a, job))
		fl_agent__answer(a, job, FL_STATE_IDLE, FL_RESULT_BAD_COMMAND,
				 "bad_field", detail, NULL);
	return 0;
}

/* ---- preconditions and activation ---------------------------------------- */

/* Local minute of the day, or -1 without a trusted clock. */
static int local_minute(const struct fl_agent *a)
{
	const struct fl_agent_clock *c = &a->cfg.clock;
	uint64_t now = fl_agent__wall(a);
	int32_t off = 0;
	uint32_t sec;

	if (now == 0)
		return -1;
	if (c->ops->utc_offset_s != NULL)
		off = c->ops->utc_offset_s(c->ctx, now) % 86400;
	(void)fl_agent__udiv(now, 86400u, &sec);
	sec = (sec + 86400u + (uint32_t)off) % 86400u; /* off > -86400 */
	return (int)(sec / 60u);
}

static bool in_window(int minute, unsigned start, unsigned end)
{
	if (start < end)
		return (unsigned)minute >= start && (unsigned)minute < end;
	return (unsigned)minute >= start || (unsigned)minute < end;
}

/* Minutes from minute until end (wrapping). */
static unsigned minutes_until(int minute, unsigned end)
{
	return (end + MIN_PER_DAY - (unsigned)minute) % MIN_PER_DAY;
}

/* The preconditions; storage only before the download. Returns true to
 * proceed, else false with a->wait_result (RETRY_LATER, or REJECTED for an
 * application's veto), a->wait_reason and a->wait_retry_s set. */
static bool preconditions(struct fl_agent *a, bool is_before_download)
{
	const struct fl_agent_device *d = &a->cfg.device;
	struct fl_agent_facts f;
	const char *why = NULL;
	uint32_t retry_s = a->cfg.retry_s;

	memset(&f, 0, sizeof(f));
	f.battery_pct = FL_AGENT_BATTERY_NONE;
	if (d->ops->facts(d->ctx, &f) != 0) {
		why = "facts";
	} else if (f.is_vetoed) {
		a->wait_result = FL_RESULT_REJECTED; /* for good */
		(void)fl_strlcpy(a->wait_reason, "vetoed",
				 sizeof(a->wait_reason));
		return false;
	} else if (a->cfg.min_battery_pct != 0 &&
		   f.battery_pct != FL_AGENT_BATTERY_NONE &&
		   f.battery_pct < a->cfg.min_battery_pct && !f.is_charging) {
		why = "battery_low";
	} else if (f.is_busy) {
		why = "busy";
	} else if (f.has_blackout &&
		   f.blackout_start_min != f.blackout_end_min) {
		int m = local_minute(a);

		if (m < 0) {
			why = "blackout"; /* cannot tell: wait for the clock */
		} else if (in_window(m, f.blackout_start_min % MIN_PER_DAY,
				     f.blackout_end_min % MIN_PER_DAY)) {
			why = "blackout";
			retry_s = 60u * minutes_until(m, f.blackout_end_min %
								 MIN_PER_DAY);
			if (retry_s == 0)
				retry_s = 60;
		}
	}
	if (why == NULL && is_before_download && a->cfg.min_free_bytes != 0 &&
	    f.free_bytes < a->cfg.min_free_bytes)
		why = "storage_low";
	if (why == NULL)
		return true;
	a->wait_result = FL_RESULT_RETRY_LATER;
	a->wait_retry_s = retry_s;
	(void)fl_strlcpy(a->wait_reason, why, sizeof(a->wait_reason));
	return false;
}

/* The manifest's expiry, once the clock can tell (docs/protocol.md, rule
 * 2). Returns true if expired. */
static bool is_expired(struct fl_agent *a)
{
	struct fl_agent_job *j = &a->st.job;
	uint64_t now = fl_agent__wall(a);

	if (now == 0)
		return false;
	j->flags |= FL_AGENT_JOB_EXPIRY_DONE;
	return now >= j->expires;
}

/* Sets wait state and sends a status when what blocks has changed. */
static void note_wait(struct fl_agent *a, const char *prev, uint8_t result)
{
	if (!fl_agent__streq(prev, a->wait_reason) || result != a->wait_result)
		fl_agent__status(a, NULL);
}

static int poll_waiting(struct fl_agent *a, uint64_t now)
{
	struct fl_slots *s = fl_agent__slots(a);
	struct fl_agent_job *j = &a->st.job;
	char prev[FL_PROTO_REASON_MAX];
	uint8_t prev_result = a->wait_result;
	int rc;

	if (now < a->next_ms)
		return 0;
	if (is_expired(a))
		return fl_agent__finish(a, FL_RESULT_EXPIRED, "");
	(void)fl_strlcpy(prev, a->wait_reason, sizeof(prev));
	if (!preconditions(a, true)) {
		j->pre_tries++;
		if (a->wait_result == FL_RESULT_REJECTED ||
		    (a->cfg.max_waits != 0 && j->pre_tries >= a->cfg.max_waits))
			return fl_agent__finish(a, FL_RESULT_REJECTED,
						a->wait_reason);
		rc = fl_agent__save(a);
		if (rc != 0)
			return rc;
		note_wait(a, prev, prev_result);
		a->next_ms = now + (uint64_t)a->wait_retry_s * 1000u;
		return 0;
	}
	a->wait_result = FL_RESULT_NONE;
	a->wait_reason[0] = '\0';
	if (holds_image(&s->info[fl_slots_booted(s)], j))
		return fl_agent__finish(a, done_result(j, true),
					"already_installed");
	a->next_ms = now;
	return fl_agent__enter(a, phase_after_waiting(a));
}

static int activate(struct fl_agent *a)
{
	struct fl_slots *s = fl_agent__slots(a);
	struct fl_agent_job *j = &a->st.job;
	int rc;

	rc = fl_agent__enter(a, FL_AGENT_ACTIVATING);
	if (rc != 0)
		return rc;
	if (j->flags & FL_AGENT_JOB_SWITCH)
		rc = fl_slots_rollback(s, j->id, j->seq);
	else
		rc = fl_slots_activate(s, fl_agent__inactive(a));
	switch (rc) {
	case 0:
		fl_agent__reported(a);
		fl_agent__request_reboot(a);
		return 0;
	case FL_ENOENT:
		return fl_agent__finish(a, FL_RESULT_ROLLBACK_FAILED,
					"no_previous");
	case FL_EVERIFY:
		if (j->flags & FL_AGENT_JOB_SWITCH)
			return fl_agent__finish(a, FL_RESULT_ROLLBACK_FAILED,
						"previous_bad");
		return fl_agent__finish(a, FL_RESULT_INTEGRITY, "digest");
	case FL_ESTATE:
	case FL_ETRIAL:
		return fl_agent__finish(a,
					j->type == FL_CMD_ROLLBACK
						? FL_RESULT_ROLLBACK_FAILED
						: FL_RESULT_FAILED,
					"state");
	default: return rc;
	}
}

static int poll_downloaded(struct fl_agent *a, uint64_t now)
{
	struct fl_agent_job *j = &a->st.job;
	const struct fl_agent_device *d = &a->cfg.device;
	char prev[FL_PROTO_REASON_MAX];
	uint8_t prev_result = a->wait_result;
	struct fl_agent_facts f;
	const char *wait = NULL;

	if (now < a->next_ms)
		return 0;
	if (!(j->flags & FL_AGENT_JOB_EXPIRY_DONE) && is_expired(a))
		return fl_agent__finish(a, FL_RESULT_EXPIRED, "");
	(void)fl_strlcpy(prev, a->wait_reason, sizeof(prev));
	if (j->activate == FL_ACTIVATE_WINDOW) {
		int m = local_minute(a);

		if (m < 0 ||
		    !in_window(m, j->window_start_min, j->window_end_min))
			wait = "window";
	} else if (j->activate == FL_ACTIVATE_IDLE) {
		memset(&f, 0, sizeof(f));
		if (d->ops->facts(d->ctx, &f) != 0 || f.is_busy)
			wait = "idle";
	}
	if (wait != NULL) {
		a->wait_result = FL_RESULT_NONE;
		(void)fl_strlcpy(a->wait_reason, wait, sizeof(a->wait_reason));
		note_wait(a, prev, prev_result);
		a->next_ms = now + (wait[0] == 'w' ? WINDOW_RECHECK_MS
						   : a->cfg.health_sample_ms);
		return 0;
	}
	/* Checked again before the reboot. */
	if (!preconditions(a, false)) {
		if (a->wait_result == FL_RESULT_REJECTED)
			return fl_agent__finish(a, FL_RESULT_REJECTED,
						a->wait_reason);
		note_wait(a, prev, prev_result);
		a->next_ms = now + (uint64_t)a->wait_retry_s * 1000u;
		return 0;
	}
	a->wait_result = FL_RESULT_NONE;
	a->wait_reason[0] = '\0';
	return activate(a);
}

/* ---- the loop ------------------------------------------------------------ */

static void set_next(uint32_t *next_ms, uint64_t now, uint64_t at)
{
	uint64_t d = at > now ? at - now : 0;

	if (d < *next_ms)
		*next_ms = (uint32_t)d;
}

static int run_poll(struct fl_agent *a, uint32_t *next_ms)
{
	uint64_t now;
	uint32_t next = POLL_MAX_MS;
	int rc = 0;

	if (a == NULL)
		return FL_EINVAL;
	now = fl_agent__mono(a);
	if (a->reboot_ms != 0) {
		/* Waiting for the reboot: ask again if it does not come. */
		if (now - a->reboot_ms >= REBOOT_AGAIN_MS)
			fl_agent__request_reboot(a);
	} else {
		/* A step that enters another phase runs that one at once. */
		for (unsigned i = 0; i < STEPS_MAX && rc == 0; i++) {
			uint8_t phase = a->st.job.phase;

			switch (phase) {
			case FL_AGENT_WAITING: rc = poll_waiting(a, now); break;
			case FL_AGENT_DOWNLOADING:
				rc = fl_agent__dl_poll(a, now);
				break;
			case FL_AGENT_DOWNLOADED:
				rc = poll_downloaded(a, now);
				break;
			case FL_AGENT_TRIAL:
				rc = fl_agent__trial_poll(a, now);
				break;
			default: break;
			}
			if (a->st.job.phase == phase || a->reboot_ms != 0)
				break;
		}
		if (a->st.job.phase == FL_AGENT_DONE ||
		    a->st.job.phase == FL_AGENT_NONE)
			next = POLL_IDLE_MAX_MS; /* see fl_agent_poll() */
		else if (!a->is_dl_active)
			set_next(&next, now, a->next_ms);
	}
	fl_agent__health_poll(a, now, false);
	/* Health is sent only while connected (a due report goes out at
	 * the reconnect, fl_agent_on_connect): offline, its due time would
	 * make every poll ask to run again at once. */
	if (a->is_connected)
		set_next(&next, now, a->health_ms);
	if (next_ms != NULL)
		*next_ms = next;
	return rc;
}

int fl_agent_poll(struct fl_agent *a, uint32_t *next_ms)
{
	if (a == NULL)
		return FL_EINVAL;
	if (next_ms != NULL)
		*next_ms = POLL_MAX_MS;
	if (a->halt_rc != 0)
		return a->halt_rc;
	return fl_agent__guard(a, run_poll(a, next_ms));
}

int fl_agent_on_connect(struct fl_agent *a)
{
	if (a == NULL)
		return FL_EINVAL;
	if (a->halt_rc != 0)
		return a->halt_rc;
	a->is_connected = true;
	a->is_broker_reached = true;
	fl_agent__reported(a);
	fl_agent__status(a, NULL);
	/* The first report of the boot at once; a later one that fell due
	 * while offline, now. */
	fl_agent__health_poll(a, fl_agent__mono(a), !a->is_health_sent);
	return 0;
}

void fl_agent_on_disconnect(struct fl_agent *a)
{
	if (a != NULL)
		a->is_connected = false;
}

uint32_t fl_agent_boot_count(const struct fl_agent *a)
{
	return a->st.boot;
}

void fl_agent_info(const struct fl_agent *a, struct fl_agent_info *out)
{
	const struct fl_agent_job *j = &a->st.job;

	memset(out, 0, sizeof(*out));
	out->boot = a->st.boot;
	out->last_job = a->st.last_job;
	out->job = j->id;
	out->phase = j->phase;
	out->result = j->phase == FL_AGENT_DONE ? j->result : a->wait_result;
	(void)fl_strlcpy(out->reason,
			 j->phase == FL_AGENT_DONE ? j->reason : a->wait_reason,
			 sizeof(out->reason));
	(void)fl_strlcpy(out->version, j->version, sizeof(out->version));
	out->bytes =
		a->in.state == FL_INSTALL_WRITING ? a->in.written : j->offset;
}
