/*
 * report.c -- what the agent tells fleetd: the status of a job (the
 * current one, from the persisted job, or an answer to another one) and
 * the retained inventory. Messages are built in the agent's own buffers
 * and handed to the transport port, which encodes and publishes them;
 * a failed publish is tolerated (docs/protocol.md: the current status and
 * reported are sent again after every reconnect).
 *
 * Consistency rules of the status (proto.h): state idle exactly when the
 * result is final; retry_later only with state waiting.
 *
 * Every string a message carries is checked before it gets here: the
 * configuration's (model, component, time zone, version, labels) by
 * fl_agent_init() (fl_agent__check_identity), the job's from the verified
 * manifest, reasons and details made into their charsets below, metrics
 * in health.c. So a device's codec need not check them again when it
 * encodes (FL_PROTO_TRUST_OWN, common/proto/codec.c), and every message
 * fits the agent's message buffer (FL_AGENT_MSG_MAX), in which a device's
 * transport encodes it in place (fl_agent_msg_buf()).
 */
#include <string.h>

#include "agent_priv.h"
#include "fl/bytes.h"
#include "fl/err.h"

void fl_agent__token(char out[FL_PROTO_REASON_MAX], const char *prefix,
		     const char *s)
{
	size_t n = 0;

	for (unsigned part = 0; part < 2; part++) {
		const char *p = part == 0 ? prefix : s;

		for (; p != NULL && *p != '\0' && n + 1 < FL_PROTO_REASON_MAX;
		     p++) {
			char c = *p;

			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			if (!((c >= 'a' && c <= 'z') ||
			      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
			      c == ':' || c == '-'))
				c = '_';
			out[n++] = c;
		}
	}
	out[n] = '\0';
}

/* s is NULL (allowed when !need), or fits size in charset cs (and is not
 * empty when need). */
static bool str_ok(const char *s, size_t size, int cs, bool need)
{
	if (s == NULL)
		return !need;
	return fl_proto_check_str(s, size, cs) == 0 && (!need || s[0] != '\0');
}

int fl_agent__check_identity(const struct fl_agent_config *c)
{
	if (!str_ok(c->model, FL_PROTO_NAME_MAX, FL_CS_IDENT, true) ||
	    !str_ok(c->component, FL_PROTO_NAME_MAX, FL_CS_IDENT, false) ||
	    (c->component != NULL && c->component[0] == '\0') ||
	    !str_ok(c->tz, FL_PROTO_TZ_MAX, FL_CS_TZ, false) ||
	    !str_ok(c->agent_version, FL_PROTO_VERSION_MAX, FL_CS_VERSION,
		    false))
		return FL_EINVAL;
	for (unsigned i = 0; i < c->n_labels; i++) {
		const struct fl_label *l = &c->labels[i];

		if (!str_ok(l->key, sizeof(l->key), FL_CS_IDENT, true) ||
		    !str_ok(l->value, sizeof(l->value), FL_CS_VALUE, false))
			return FL_EINVAL;
		for (unsigned k = 0; k < i; k++)
			if (fl_agent__streq(l->key, c->labels[k].key))
				return FL_EINVAL;
	}
	return 0;
}

char *fl_agent_msg_buf(struct fl_agent *a, size_t *size)
{
	*size = sizeof(a->scratch);
	return a->scratch.msg;
}

/* Copies printable ASCII only (the detail's charset). */
static void text_copy(char *out, size_t size, const char *s)
{
	size_t n = 0;

	for (; s != NULL && *s != '\0' && n + 1 < size; s++)
		out[n++] = (*s >= 0x20 && *s <= 0x7e) ? *s : '?';
	out[n] = '\0';
}

static void publish(struct fl_agent *a)
{
	const struct fl_agent_transport *t = &a->cfg.transport;

	(void)t->ops->publish_status(t->ctx, &a->scratch.status);
}

static void status_head(struct fl_agent *a, uint32_t job)
{
	struct fl_status *m = &a->scratch.status;

	memset(m, 0, sizeof(*m));
	m->job = job;
	m->boot = a->st.boot;
	m->n = ++a->status_n;
	m->ts = fl_agent__wall(a);
}

void fl_agent__answer(struct fl_agent *a, uint32_t job, uint8_t state,
		      uint8_t result, const char *reason, const char *detail,
		      const char *version)
{
	struct fl_status *m = &a->scratch.status;

	if (job == 0)
		return;
	status_head(a, job);
	m->state = state;
	m->result = result;
	fl_agent__token(m->reason, NULL, reason);
	text_copy(m->detail, sizeof(m->detail), detail);
	if (version != NULL)
		(void)fl_strlcpy(m->version, version, sizeof(m->version));
	publish(a);
}

void fl_agent__status(struct fl_agent *a, const char *reason_override)
{
	const struct fl_agent_job *j = &a->st.job;
	struct fl_status *m = &a->scratch.status;

	if (j->id == 0 || j->phase == FL_AGENT_NONE)
		return;
	status_head(a, j->id);
	m->total = j->length;
	(void)fl_strlcpy(m->version, j->version, sizeof(m->version));
	switch (j->phase) {
	case FL_AGENT_WAITING: m->state = FL_STATE_WAITING; break;
	case FL_AGENT_DOWNLOADING:
		m->state = FL_STATE_DOWNLOADING;
		m->bytes = a->in.state == FL_INSTALL_WRITING ? a->in.written
							     : j->offset;
		break;
	case FL_AGENT_DOWNLOADED:
		m->state = FL_STATE_DOWNLOADED;
		m->bytes = j->flags & FL_AGENT_JOB_SWITCH ? 0 : j->length;
		break;
	case FL_AGENT_ACTIVATING:
	case FL_AGENT_ABANDONING: m->state = FL_STATE_UPDATING; break;
	case FL_AGENT_TRIAL:
	case FL_AGENT_REJECTING: m->state = FL_STATE_TRIAL; break;
	default:
		m->state = FL_STATE_IDLE;
		m->result = j->result;
		(void)fl_strlcpy(m->reason, j->reason, sizeof(m->reason));
		if (j->result == FL_RESULT_REVERTED ||
		    j->result == FL_RESULT_ROLLBACK_FAILED)
			m->reset = j->reset;
		break;
	}
	if (m->bytes > m->total)
		m->bytes = m->total;
	if (j->phase == FL_AGENT_WAITING || j->phase == FL_AGENT_DOWNLOADED) {
		if (a->wait_result == FL_RESULT_RETRY_LATER) {
			m->state = FL_STATE_WAITING;
			m->result = FL_RESULT_RETRY_LATER;
			m->retry_s = a->wait_retry_s;
		}
		(void)fl_strlcpy(m->reason, a->wait_reason, sizeof(m->reason));
	}
	if (reason_override != NULL)
		(void)fl_strlcpy(m->reason, reason_override, sizeof(m->reason));
	publish(a);
}

void fl_agent__reported(struct fl_agent *a)
{
	const struct fl_agent_config *c = &a->cfg;
	const struct fl_slots *s = c->slots;
	struct fl_reported *r = &a->scratch.reported;
	unsigned b = fl_slots_booted(s);

	memset(r, 0, sizeof(*r));
	(void)fl_strlcpy(r->model, c->model, sizeof(r->model));
	if (c->tz != NULL)
		(void)fl_strlcpy(r->tz, c->tz, sizeof(r->tz));
	r->boot = a->st.boot;
	r->ts = fl_agent__wall(a);
	if (c->agent_version != NULL)
		(void)fl_strlcpy(r->agent, c->agent_version, sizeof(r->agent));
	r->n_labels = c->n_labels;
	for (unsigned i = 0; i < c->n_labels; i++)
		r->labels[i] = c->labels[i];
	r->n_components = 1;
	(void)fl_strlcpy(r->components[0].name, c->component,
			 sizeof(r->components[0].name));
	(void)fl_strlcpy(r->components[0].version, s->info[b].version,
			 sizeof(r->components[0].version));
	r->n_slots = FL_SLOT_COUNT;
	for (unsigned i = 0; i < FL_SLOT_COUNT; i++) {
		r->slots[i].state = s->info[i].state;
		r->slots[i].seq = s->info[i].counter;
		if (s->info[i].state != FL_SLOT_EMPTY)
			(void)fl_strlcpy(r->slots[i].version,
					 s->info[i].version,
					 sizeof(r->slots[i].version));
		/* The other slot's verified image: what a rollback signed
		 * by fleetd switches back to. */
		if (i != b && (s->info[i].state == FL_SLOT_STAGED ||
			       s->info[i].state == FL_SLOT_TRIAL ||
			       s->info[i].state == FL_SLOT_CONFIRMED)) {
			r->slots[i].length = s->info[i].image_len;
			memcpy(r->slots[i].sha256, s->info[i].sha256,
			       FL_SHA256_BYTES);
		}
	}
	r->booted = (uint8_t)b;
	r->floor = fl_slots_floor(s);
	if (a->st.job.id != 0 && a->st.job.phase != FL_AGENT_NONE) {
		r->job = a->st.job.id;
		r->state = a->st.job.phase == FL_AGENT_DONE ? FL_STATE_IDLE
							    : FL_STATE_WAITING;
		switch (a->st.job.phase) {
		case FL_AGENT_DOWNLOADING:
			r->state = FL_STATE_DOWNLOADING;
			break;
		case FL_AGENT_DOWNLOADED: r->state = FL_STATE_DOWNLOADED; break;
		case FL_AGENT_ACTIVATING:
		case FL_AGENT_ABANDONING: r->state = FL_STATE_UPDATING; break;
		case FL_AGENT_TRIAL:
		case FL_AGENT_REJECTING: r->state = FL_STATE_TRIAL; break;
		default: break;
		}
		r->result = a->st.job.phase == FL_AGENT_DONE ? a->st.job.result
							     : FL_RESULT_NONE;
	}
	(void)c->transport.ops->publish_reported(c->transport.ctx, r);
}
