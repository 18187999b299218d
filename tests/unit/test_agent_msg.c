/*
 * test_agent_msg.c -- what a device's transport relies on when it encodes
 * the agent's messages: every message the agent can publish, at its
 * widest, fits the agent's message buffer (FL_AGENT_MSG_MAX) and encodes
 * there in place, over its own struct, to the same bytes as into a buffer
 * of its own; the agent checks what it builds them from (its
 * configuration at fl_agent_init, the device's metrics before a health
 * report), so a device codec built with FL_PROTO_TRUST_OWN need not check
 * them again. Built twice: against the codec as a host builds it
 * (test_agent_msg) and as a device builds it (test_agent_msg_device:
 * FL_PROTO_COMPACT_DIAG and FL_PROTO_TRUST_OWN; codec tests only).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fl/agent.h"
#include "fl/err.h"
#include "fl/proto.h"

#ifndef FL_TEST_DEVICE_CODEC
#include "agent_fixture.h"
#endif

/* The agent's message buffer: the scratch union of struct fl_agent. */
#define MSG_BUF_BYTES sizeof(((struct fl_agent *)0)->scratch)

static union {
	struct fl_reported reported;
	struct fl_health health;
	struct fl_status status;
	struct fl_presence presence;
	char msg[MSG_BUF_BYTES];
} buf;
static char out[FL_PROTO_MSG_MAX + 1];

static void fill(char *s, size_t size, char c)
{
	memset(s, c, size - 1);
	s[size - 1] = '\0';
}

/* reported as an agent builds it (one component), every field at its
 * widest. */
static void widest_reported(struct fl_reported *r)
{
	memset(r, 0, sizeof(*r));
	fill(r->model, sizeof(r->model), 'm');
	fill(r->tz, sizeof(r->tz), 't');
	r->boot = UINT32_MAX;
	r->ts = FL_PROTO_UINT_MAX;
	fill(r->agent, sizeof(r->agent), 'a');
	r->n_labels = FL_PROTO_LABELS_MAX;
	for (unsigned i = 0; i < FL_PROTO_LABELS_MAX; i++) {
		fill(r->labels[i].key, sizeof(r->labels[i].key), 'k');
		r->labels[i].key[0] = (char)('a' + i);
		fill(r->labels[i].value, sizeof(r->labels[i].value), 'v');
	}
	r->n_components = 1;
	fill(r->components[0].name, sizeof(r->components[0].name), 'c');
	fill(r->components[0].version, sizeof(r->components[0].version), '9');
	r->n_slots = FL_PROTO_SLOTS_MAX;
	for (unsigned i = 0; i < FL_PROTO_SLOTS_MAX; i++) {
		r->slots[i].state = FL_WIRE_SLOT_CONFIRMED;
		fill(r->slots[i].version, sizeof(r->slots[i].version), '9');
		r->slots[i].seq = FL_PROTO_UINT_MAX;
	}
	r->booted = 0;
	r->slots[1].length = UINT32_MAX;
	memset(r->slots[1].sha256, 0xab, FL_SHA256_BYTES);
	r->floor = FL_PROTO_UINT_MAX;
	r->job = UINT32_MAX;
	r->state = FL_STATE_DOWNLOADING;
	r->result = FL_RESULT_UNSUPPORTED_PROTOCOL;
}

static void widest_health(struct fl_health *h)
{
	memset(h, 0, sizeof(*h));
	h->ts = FL_PROTO_UINT_MAX;
	h->uptime_s = FL_PROTO_UINT_MAX;
	h->boot = UINT32_MAX;
	h->reset = FL_WIRE_RESET_SOFTWARE;
	h->crashes = UINT32_MAX;
	fill(h->version, sizeof(h->version), '9');
	h->slot = 1;
	h->is_trial = true;
	h->job = UINT32_MAX;
	h->n_metrics = FL_PROTO_METRICS_MAX;
	for (unsigned i = 0; i < FL_PROTO_METRICS_MAX; i++) {
		fill(h->metrics[i].name, sizeof(h->metrics[i].name), 'n');
		h->metrics[i].name[0] = (char)('a' + i);
		h->metrics[i].value = -2.2250738585072014e-308;
	}
}

static void widest_status(struct fl_status *s)
{
	memset(s, 0, sizeof(*s));
	s->job = UINT32_MAX;
	s->boot = UINT32_MAX;
	s->n = UINT32_MAX;
	s->ts = FL_PROTO_UINT_MAX;
	s->state = FL_STATE_IDLE;
	s->result = FL_RESULT_UNSUPPORTED_PROTOCOL;
	fill(s->reason, sizeof(s->reason), 'r');
	fill(s->detail, sizeof(s->detail), '"'); /* escaped: twice as long */
	s->bytes = UINT32_MAX;
	s->total = UINT32_MAX;
	s->retry_s = UINT32_MAX;
	s->reset = FL_WIRE_RESET_SOFTWARE;
	fill(s->version, sizeof(s->version), '9');
}

static void
test_agent_msg__widest_messages_fit_and_encode_in_place(void **state)
{
	struct fl_reported r;
	struct fl_health h;
	struct fl_status s;
	struct fl_presence p = {true, UINT32_MAX, UINT32_MAX, FL_PROTO_UINT_MAX,
				""};
	size_t n = 0, m = 0;

	(void)state;
	assert_true(MSG_BUF_BYTES >= FL_AGENT_MSG_MAX + 1);
	fill(p.agent, sizeof(p.agent), '9');

	widest_reported(&r);
	assert_int_equal(fl_proto_encode_reported(out, sizeof(out), &n, &r), 0);
	buf.reported = r;
	assert_int_equal(fl_proto_encode_reported(buf.msg, sizeof(buf.msg), &m,
						  &buf.reported),
			 0);
	assert_int_equal(m, n);
	assert_memory_equal(buf.msg, out, n + 1);
	assert_true(n <= FL_AGENT_MSG_MAX);
	printf("[ sizes    ] reported %zu, ", n);

	widest_health(&h);
	assert_int_equal(fl_proto_encode_health(out, sizeof(out), &n, &h), 0);
	buf.health = h;
	assert_int_equal(fl_proto_encode_health(buf.msg, sizeof(buf.msg), &m,
						&buf.health),
			 0);
	assert_int_equal(m, n);
	assert_memory_equal(buf.msg, out, n + 1);
	assert_true(n <= FL_AGENT_MSG_MAX);
	printf("health %zu, ", n);

	widest_status(&s);
	assert_int_equal(fl_proto_encode_status(out, sizeof(out), &n, &s), 0);
	buf.status = s;
	assert_int_equal(fl_proto_encode_status(buf.msg, sizeof(buf.msg), &m,
						&buf.status),
			 0);
	assert_int_equal(m, n);
	assert_memory_equal(buf.msg, out, n + 1);
	assert_true(n <= FL_AGENT_MSG_MAX);
	printf("status %zu, ", n);

	assert_int_equal(fl_proto_encode_presence(out, sizeof(out), &n, &p), 0);
	buf.presence = p;
	assert_int_equal(fl_proto_encode_presence(buf.msg, sizeof(buf.msg), &m,
						  &buf.presence),
			 0);
	assert_int_equal(m, n);
	assert_memory_equal(buf.msg, out, n + 1);
	printf("presence %zu bytes; the agent's buffer %zu, FL_AGENT_MSG_MAX "
	       "%d\n",
	       n, MSG_BUF_BYTES, FL_AGENT_MSG_MAX);

	/* One byte short: refused, bounded. */
	buf.reported = r;
	assert_int_equal(fl_proto_encode_reported(out, sizeof(out), &n, &r), 0);
	assert_int_equal(
		fl_proto_encode_reported(buf.msg, n, &m, &buf.reported),
		FL_ETOOBIG);
}

/* A device codec (FL_PROTO_TRUST_OWN) encodes what the host codec refuses;
 * the decoders refuse it in both. */
static void test_agent_msg__own_checks_only_on_the_host(void **state)
{
	struct fl_status s, back;
	size_t n = 0;
	int rc;

	(void)state;
	widest_status(&s);
	s.state = FL_STATE_DOWNLOADING; /* a final result needs idle */
	rc = fl_proto_encode_status(out, sizeof(out), &n, &s);
#ifdef FL_PROTO_TRUST_OWN
	assert_int_equal(rc, 0);
	assert_int_equal(fl_proto_decode_status(&back, out, n, NULL),
			 FL_EINVAL);
#else
	assert_int_equal(rc, FL_EINVAL);
	assert_string_equal(out, "");
	(void)back;
#endif
	/* A value without a name is refused either way. */
	widest_status(&s);
	s.reset = 99;
	assert_int_equal(fl_proto_encode_status(out, sizeof(out), &n, &s),
			 FL_EINVAL);
	/* Bounded either way. */
	widest_status(&s);
	assert_int_equal(fl_proto_encode_status(out, 16, &n, &s), FL_ETOOBIG);
}

#ifndef FL_TEST_DEVICE_CODEC

static struct fx *boot_new(void)
{
	struct fx *f = fx_new(&fx_layouts[0], 1, 64 * 1024);

	assert_non_null(f);
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_POWER_ON), 0);
	assert_int_equal(fx_connect(f), 0);
	return f;
}

static void test_agent_msg__bad_identity_refused(void **state)
{
	struct fx *f = boot_new();
	struct fl_agent_config good = f->run->cfg, c;
	struct fl_label labels[2];
	static struct fl_agent a;

	(void)state;
	c = good;
	c.model = "acme gw"; /* not an ident */
	assert_int_equal(fl_agent_init(&a, &c), FL_EINVAL);
	c = good;
	c.model = "m234567890123456789012345678901x"; /* 32 characters */
	assert_int_equal(fl_agent_init(&a, &c), FL_EINVAL);
	c = good;
	c.component = "";
	assert_int_equal(fl_agent_init(&a, &c), FL_EINVAL);
	c = good;
	c.component = "-fw";
	assert_int_equal(fl_agent_init(&a, &c), FL_EINVAL);
	c = good;
	c.tz = "Europe Berlin";
	assert_int_equal(fl_agent_init(&a, &c), FL_EINVAL);
	c = good;
	c.agent_version = "1.0 beta";
	assert_int_equal(fl_agent_init(&a, &c), FL_EINVAL);
	memset(labels, 0, sizeof(labels));
	strcpy(labels[0].key, "ring");
	strcpy(labels[0].value, "say \"hi\"");
	c = good;
	c.labels = labels;
	c.n_labels = 1;
	assert_int_equal(fl_agent_init(&a, &c), FL_EINVAL);
	strcpy(labels[0].value, "beta");
	strcpy(labels[1].key, "ring");
	c.n_labels = 2; /* the same key twice */
	assert_int_equal(fl_agent_init(&a, &c), FL_EINVAL);
	labels[1].key[0] = '\0';
	assert_int_equal(fl_agent_init(&a, &c), FL_EINVAL);
	strcpy(labels[1].key, "site");
	fill(labels[1].value, sizeof(labels[1].value), 'v');
	/* Good again: the agent starts (a restart of the same device). */
	f->run->cfg.labels = labels;
	f->run->cfg.n_labels = 2;
	f->run->cfg.tz = "Europe/Berlin";
	assert_int_equal(fl_agent_init(&f->run->agent, &f->run->cfg), 0);
	fx_free(f);
}

static void test_agent_msg__bad_metrics_left_out_of_health(void **state)
{
	struct fx *f = boot_new();
	struct fl_agent_health_sample *s = &f->w.sample;
	static const struct {
		const char *name;
		double value;
	} in[] = {
		{"ok_1", 1},	   {"bad name", 2}, {"ok_1", 3}, {"nan", NAN},
		{"inf", INFINITY}, {"", 5},	    {"-x", 6},	 {"ok_2", 7},
	};
	unsigned n0;
	size_t n = 0;

	(void)state;
	s->n_metrics = 8;
	for (unsigned i = 0; i < 8; i++) {
		strcpy(s->metrics[i].name, in[i].name);
		s->metrics[i].value = in[i].value;
	}
	n0 = f->w.n_health;
	assert_int_equal(fx_run_for(f, 61000), 0);
	assert_true(f->w.n_health > n0);
	assert_int_equal(f->w.health.n_metrics, 2);
	assert_string_equal(f->w.health.metrics[0].name, "ok_1");
	assert_true(f->w.health.metrics[0].value == 1);
	assert_string_equal(f->w.health.metrics[1].name, "ok_2");
	/* What the host's codec checks, it passes. */
	assert_int_equal(
		fl_proto_encode_health(out, sizeof(out), &n, &f->w.health), 0);
	fx_free(f);
}

static void test_agent_msg__msg_buf_is_the_scratch(void **state)
{
	static struct fl_agent a;
	size_t size = 0;
	char *p = fl_agent_msg_buf(&a, &size);

	(void)state;
	assert_ptr_equal(p, (char *)&a.scratch);
	assert_int_equal(size, MSG_BUF_BYTES);
}

#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_agent_msg__widest_messages_fit_and_encode_in_place),
		cmocka_unit_test(test_agent_msg__own_checks_only_on_the_host),
#ifndef FL_TEST_DEVICE_CODEC
		cmocka_unit_test(test_agent_msg__bad_identity_refused),
		cmocka_unit_test(
			test_agent_msg__bad_metrics_left_out_of_health),
		cmocka_unit_test(test_agent_msg__msg_buf_is_the_scratch),
#endif
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
