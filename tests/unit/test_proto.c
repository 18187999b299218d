/*
 * test_proto.c -- the wire protocol codec (common/proto): every message
 * round-trips, the worst case of every message fits in FL_PROTO_MSG_MAX,
 * the examples of docs/protocol.md decode, every validation rule refuses
 * what it should, oversized and hostile inputs are refused before cJSON
 * sees them, failed allocations are reported and leak nothing, and the
 * topic, name and base64/hex helpers keep their contracts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <cmocka.h>

#include "fl/err.h"
#include "fl/proto.h"

static char buf[FL_PROTO_MSG_MAX + 1];
static char big[4 * FL_PROTO_MSG_MAX];

/* ---- helpers ------------------------------------------------------------ */

static void fill(char *s, size_t size, char c)
{
	memset(s, c, size - 1);
	s[size - 1] = '\0';
	s[0] = 'a';
}

/* A distinct ident of full length: "a<i>zzzz...". */
static void fill_ident(char *s, size_t size, unsigned i)
{
	fill(s, size, 'z');
	s[1] = (char)('a' + i);
}

#define DECODE_FAILS(fn, type, text, want)                                     \
	do {                                                                   \
		type out_;                                                     \
		struct fl_proto_diag d_ = {""};                                \
		const char *t_ = (text);                                       \
		int e_ = fn(&out_, t_, strlen(t_), &d_);                       \
		if (e_ != (want))                                              \
			fail_msg("%s: got %d want %d for %s (%s)", #fn, e_,    \
				 (want), t_, d_.msg);                          \
		assert_true(d_.msg[0] != '\0');                                \
	} while (0)

#define DECODE_OK(fn, type, text, out)                                         \
	do {                                                                   \
		struct fl_proto_diag d_ = {""};                                \
		const char *t_ = (text);                                       \
		int e_ = fn((out), t_, strlen(t_), &d_);                       \
		if (e_ != 0)                                                   \
			fail_msg("%s: got %d for %s (%s)", #fn, e_, t_,        \
				 d_.msg);                                      \
	} while (0)

/* ---- presence ----------------------------------------------------------- */

static void test_presence__round_trip(void **state)
{
	struct fl_presence p = {0}, q;
	size_t n;

	p.is_online = true;
	p.boot = 17;
	p.conn = 3;
	p.ts = 1748736000;
	strcpy(p.agent, "0.1.0");
	assert_int_equal(fl_proto_encode_presence(buf, sizeof(buf), &n, &p), 0);
	assert_string_equal(buf, "{\"online\":true,\"boot\":17,\"conn\":3,"
				 "\"ts\":1748736000,\"agent\":\"0.1.0\"}");
	assert_int_equal(n, strlen(buf));
	DECODE_OK(fl_proto_decode_presence, struct fl_presence, buf, &q);
	assert_memory_equal(&p, &q, sizeof(p));

	/* The Will: zero fields are left out. */
	memset(&p, 0, sizeof(p));
	p.boot = 17;
	p.conn = 1;
	assert_int_equal(fl_proto_encode_presence(buf, sizeof(buf), &n, &p), 0);
	assert_string_equal(buf, "{\"online\":false,\"boot\":17,\"conn\":1}");
}

static void test_presence__refuses(void **state)
{
	DECODE_FAILS(fl_proto_decode_presence, struct fl_presence, "{}",
		     FL_EINVAL);
	DECODE_FAILS(fl_proto_decode_presence, struct fl_presence,
		     "{\"online\":1}", FL_EINVAL);
	DECODE_FAILS(fl_proto_decode_presence, struct fl_presence,
		     "{\"online\":true,\"boot\":-1}", FL_EINVAL);
	DECODE_FAILS(fl_proto_decode_presence, struct fl_presence,
		     "{\"online\":true,\"boot\":4294967296}", FL_EINVAL);
	DECODE_FAILS(fl_proto_decode_presence, struct fl_presence,
		     "{\"online\":true,\"boot\":1.5}", FL_EINVAL);
	DECODE_FAILS(fl_proto_decode_presence, struct fl_presence,
		     "{\"online\":true,\"ts\":1000000000000000}", FL_EINVAL);
	DECODE_FAILS(fl_proto_decode_presence, struct fl_presence,
		     "{\"online\":true,\"agent\":\"a b\"}", FL_EINVAL);
	DECODE_FAILS(fl_proto_decode_presence, struct fl_presence,
		     "{\"online\":true,\"online\":false}", FL_EINVAL);
	DECODE_FAILS(fl_proto_decode_presence, struct fl_presence,
		     "{\"online\":true,\"agent\":"
		     "\"12345678901234567890123456789012\"}",
		     FL_ETOOBIG);
}

/* ---- reported ----------------------------------------------------------- */

static void reported_max(struct fl_reported *r)
{
	memset(r, 0, sizeof(*r));
	fill(r->model, sizeof(r->model), 'm');
	fill(r->tz, sizeof(r->tz), 'z');
	r->boot = UINT32_MAX;
	r->ts = FL_PROTO_UINT_MAX;
	fill(r->agent, sizeof(r->agent), '1');
	r->n_labels = FL_PROTO_LABELS_MAX;
	for (unsigned i = 0; i < r->n_labels; i++) {
		fill_ident(r->labels[i].key, sizeof(r->labels[i].key), i);
		fill(r->labels[i].value, sizeof(r->labels[i].value), '~');
	}
	r->n_components = FL_PROTO_COMPONENTS_MAX;
	for (unsigned i = 0; i < r->n_components; i++) {
		fill_ident(r->components[i].name, sizeof(r->components[i].name),
			   i);
		fill(r->components[i].version, sizeof(r->components[i].version),
		     '9');
	}
	r->n_slots = FL_PROTO_SLOTS_MAX;
	for (unsigned i = 0; i < r->n_slots; i++) {
		r->slots[i].state = FL_WIRE_SLOT_CONFIRMED;
		fill(r->slots[i].version, sizeof(r->slots[i].version), '9');
		r->slots[i].seq = FL_PROTO_UINT_MAX;
	}
	r->booted = 1;
	r->slots[0].length = UINT32_MAX; /* the slot not booted */
	memset(r->slots[0].sha256, 0xA5, sizeof(r->slots[0].sha256));
	r->floor = FL_PROTO_UINT_MAX;
	r->job = UINT32_MAX;
	r->state = FL_STATE_DOWNLOADING;
	r->result = FL_RESULT_UNSUPPORTED_PROTOCOL;
}

static void test_reported__worst_case_fits_and_round_trips(void **state)
{
	static struct fl_reported r, q;
	size_t n;

	reported_max(&r);
	assert_int_equal(fl_proto_encode_reported(buf, sizeof(buf), &n, &r), 0);
	assert_true(n <= FL_PROTO_MSG_MAX);
	DECODE_OK(fl_proto_decode_reported, struct fl_reported, buf, &q);
	assert_memory_equal(&r, &q, sizeof(r));
}

static const char DOC_REPORTED[] =
	"{\"model\":\"acme-gw-2\",\"tz\":\"Europe/Paris\",\"boot\":17,"
	"\"agent\":\"0.1.0\",\"labels\":{\"site\":\"lyon\",\"ring\":\"beta\"},"
	"\"components\":[{\"name\":\"firmware\",\"version\":\"1.4.2\"},"
	"{\"name\":\"modem\",\"version\":\"5.1\"}],"
	"\"slots\":[{\"state\":\"confirmed\",\"version\":\"1.4.2\",\"seq\":41},"
	"{\"state\":\"empty\"}],\"floor\":41,\"job\":1000,\"state\":\"idle\","
	"\"result\":\"success\"}";

static void test_reported__doc_example_is_canonical(void **state)
{
	static struct fl_reported r;
	size_t n;

	DECODE_OK(fl_proto_decode_reported, struct fl_reported, DOC_REPORTED,
		  &r);
	assert_string_equal(r.model, "acme-gw-2");
	assert_int_equal(r.n_labels, 2);
	assert_string_equal(r.labels[1].key, "ring");
	assert_int_equal(r.n_components, 2);
	assert_int_equal(r.n_slots, 2);
	assert_int_equal(r.slots[0].state, FL_WIRE_SLOT_CONFIRMED);
	assert_int_equal(r.slots[0].seq, 41);
	assert_int_equal(r.result, FL_RESULT_SUCCESS);
	assert_int_equal(fl_proto_encode_reported(buf, sizeof(buf), &n, &r), 0);
	assert_string_equal(buf, DOC_REPORTED);
}

/* The slot not booted may carry its image's length and digest. */
static void test_reported__other_slot_digest_round_trips(void **state)
{
	static const char doc[] =
		"{\"model\":\"m\",\"slots\":[{\"state\":\"confirmed\","
		"\"version\":\"1.0.0\",\"seq\":3,\"length\":65536,"
		"\"sha256\":\"00ff"
		"%s\"},{\"state\":\"trial\",\"version\":"
		"\"1.1.0\",\"seq\":4}],\"booted\":1}";
	static char text[512];
	static struct fl_reported r;
	size_t n;

	(void)state;
	(void)snprintf(text, sizeof(text), doc, "%s");
	/* the digest: 00 ff then 30 bytes of 0x5a */
	{
		char *p = strstr(text, "%s");
		char tail[61];

		memset(tail, 0, sizeof(tail));
		for (int i = 0; i < 30; i++)
			memcpy(tail + 2 * i, "5a", 2);
		memmove(p + 60, p + 2, strlen(p + 2) + 1);
		memcpy(p, tail, 60);
	}
	DECODE_OK(fl_proto_decode_reported, struct fl_reported, text, &r);
	assert_int_equal(r.slots[0].length, 65536);
	assert_int_equal(r.slots[0].sha256[0], 0x00);
	assert_int_equal(r.slots[0].sha256[1], 0xff);
	assert_int_equal(r.slots[0].sha256[31], 0x5a);
	assert_int_equal(r.slots[1].length, 0);
	assert_int_equal(fl_proto_encode_reported(buf, sizeof(buf), &n, &r), 0);
	assert_string_equal(buf, text);
}

static void test_reported__refuses(void **state)
{
	static const struct {
		const char *json;
		int err;
	} bad[] = {
		{"{}", FL_EINVAL},
		{"{\"model\":\"\"}", FL_EINVAL},
		{"{\"model\":\"-x\"}", FL_EINVAL},
		{"{\"model\":\"m\",\"tz\":\"Europe Paris\"}", FL_EINVAL},
		{"{\"model\":\"m\",\"labels\":[]}", FL_EINVAL},
		{"{\"model\":\"m\",\"labels\":{\"k\":1}}", FL_EINVAL},
		{"{\"model\":\"m\",\"labels\":{\"k\":\"a\\\"b\"}}", FL_EINVAL},
		{"{\"model\":\"m\",\"labels\":{\"k k\":\"v\"}}", FL_EINVAL},
		{"{\"model\":\"m\",\"labels\":{\"a\":\"\",\"b\":\"\",\"c\":"
		 "\"\","
		 "\"d\":\"\",\"e\":\"\",\"f\":\"\",\"g\":\"\",\"h\":\"\","
		 "\"i\":\"\"}}",
		 FL_ETOOBIG},
		{"{\"model\":\"m\",\"labels\":{\"a\":\"x\",\"a\":\"y\"}}",
		 FL_EINVAL},
		{"{\"model\":\"m\",\"components\":{}}", FL_EINVAL},
		{"{\"model\":\"m\",\"components\":[{\"name\":\"f\"}]}",
		 FL_EINVAL},
		{"{\"model\":\"m\",\"components\":[1]}", FL_EINVAL},
		{"{\"model\":\"m\",\"components\":[{\"name\":\"f\","
		 "\"version\":\"1\"},{\"name\":\"f\",\"version\":\"2\"}]}",
		 FL_EINVAL},
		{"{\"model\":\"m\",\"slots\":[{\"state\":\"full\"}]}",
		 FL_EINVAL},
		{"{\"model\":\"m\",\"slots\":[{\"state\":\"empty\","
		 "\"version\":\"1.0.0\"}]}",
		 FL_EINVAL},
		{"{\"model\":\"m\",\"slots\":[{\"state\":\"empty\"},{\"state\":"
		 "\"empty\"},{\"state\":\"empty\"}]}",
		 FL_ETOOBIG},
		{"{\"model\":\"m\",\"booted\":1}", FL_EINVAL},
		{"{\"model\":\"m\",\"booted\":2,\"slots\":[{\"state\":"
		 "\"empty\"},"
		 "{\"state\":\"empty\"}]}",
		 FL_EINVAL},
		{"{\"model\":\"m\",\"state\":\"idle\",\"result\":\"success\"}",
		 FL_EINVAL},
		{"{\"model\":\"m\",\"job\":1,\"result\":\"great\"}", FL_EINVAL},
		/* the other slot's image digest: both fields, 64 lower hex,
		 * never on the booted slot, never on an empty one */
		{"{\"model\":\"m\",\"slots\":[{\"state\":\"confirmed\"},"
		 "{\"state\":\"confirmed\",\"length\":5}]}",
		 FL_EINVAL},
		{"{\"model\":\"m\",\"slots\":[{\"state\":\"confirmed\"},"
		 "{\"state\":\"confirmed\",\"sha256\":"
		 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaa\"}]}",
		 FL_EINVAL},
		{"{\"model\":\"m\",\"slots\":[{\"state\":\"confirmed\"},"
		 "{\"state\":\"confirmed\",\"length\":5,\"sha256\":"
		 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaa\"}]}",
		 FL_EINVAL},
		{"{\"model\":\"m\",\"slots\":[{\"state\":\"confirmed\"},"
		 "{\"state\":\"confirmed\",\"length\":5,\"sha256\":"
		 "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		 "AAAAA\"}]}",
		 FL_EINVAL},
		{"{\"model\":\"m\",\"slots\":[{\"state\":\"confirmed\","
		 "\"length\":5,\"sha256\":"
		 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaa\"},{\"state\":\"empty\"}]}",
		 FL_EINVAL},
		{"{\"model\":\"m\",\"booted\":0,\"slots\":[{\"state\":"
		 "\"confirmed\"},{\"state\":\"empty\",\"length\":5,"
		 "\"sha256\":"
		 "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaaa\"}]}",
		 FL_EINVAL},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		DECODE_FAILS(fl_proto_decode_reported, struct fl_reported,
			     bad[i].json, bad[i].err);
}

static void test_reported__encoder_refuses_bad_struct(void **state)
{
	static struct fl_reported r;

	reported_max(&r);
	r.n_labels = FL_PROTO_LABELS_MAX + 1;
	assert_int_equal(fl_proto_encode_reported(buf, sizeof(buf), NULL, &r),
			 FL_ETOOBIG);
	assert_string_equal(buf, "");
	reported_max(&r);
	strcpy(r.labels[1].key, r.labels[0].key);
	assert_int_equal(fl_proto_encode_reported(buf, sizeof(buf), NULL, &r),
			 FL_EINVAL);
	reported_max(&r);
	r.model[sizeof(r.model) - 1] = 'x'; /* no NUL */
	assert_int_equal(fl_proto_encode_reported(buf, sizeof(buf), NULL, &r),
			 FL_ETOOBIG);
	reported_max(&r);
	r.slots[0].state = 6;
	assert_int_equal(fl_proto_encode_reported(buf, sizeof(buf), NULL, &r),
			 FL_EINVAL);
	reported_max(&r);
	assert_int_equal(fl_proto_encode_reported(buf, 100, NULL, &r),
			 FL_ETOOBIG);
	assert_int_equal(fl_proto_encode_reported(buf, sizeof(buf), NULL, NULL),
			 FL_EINVAL);
}

/* ---- cmd ---------------------------------------------------------------- */

/* A body of n bytes (not a valid body: the codec does not parse it). */
static void env_fill(struct fl_manifest_env *e, size_t n)
{
	e->v = FL_MANIFEST_ENV_VERSION;
	for (size_t i = 0; i < sizeof(e->kid); i++)
		e->kid[i] = (uint8_t)(0xa0 + i);
	e->body_len = (uint16_t)n;
	for (size_t i = 0; i < n; i++)
		e->body[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(e->sig); i++)
		e->sig[i] = (uint8_t)(255 - i);
}

static void cmd_max(struct fl_cmd *c)
{
	memset(c, 0, sizeof(*c));
	c->type = FL_CMD_ROLLBACK;
	c->job = UINT32_MAX;
	c->issued = FL_PROTO_UINT_MAX - 1;
	c->expires = FL_PROTO_UINT_MAX;
	env_fill(&c->manifest, FL_MANIFEST_BODY_MAX);
	c->activate = FL_ACTIVATE_WINDOW;
	c->window_start_min = 23 * 60 + 59;
	c->window_end_min = 0;
	c->health_window_s = UINT32_MAX;
	c->n_limits = FL_PROTO_LIMITS_MAX;
	for (unsigned i = 0; i < c->n_limits; i++) {
		struct fl_health_limit *l = &c->limits[i];

		fill_ident(l->metric, sizeof(l->metric), i);
		l->has_min = l->has_max = true;
		l->min = -1.23456789012345e-300;
		l->max = 1.23456789012345e+300;
	}
}

static void test_cmd__worst_case_fits_and_round_trips(void **state)
{
	static struct fl_cmd c, q;
	size_t n;

	cmd_max(&c);
	assert_int_equal(fl_proto_encode_cmd(buf, sizeof(buf), &n, &c), 0);
	assert_true(n <= FL_PROTO_MSG_MAX);
	DECODE_OK(fl_proto_decode_cmd, struct fl_cmd, buf, &q);
	assert_memory_equal(&c, &q, sizeof(c));
}

static void test_cmd__each_type_round_trips(void **state)
{
	static struct fl_cmd c, q;
	size_t n;

	memset(&c, 0, sizeof(c));
	c.type = FL_CMD_CANCEL;
	c.job = 1001;
	c.issued = 1748736100;
	c.expires = 1748739700;
	assert_int_equal(fl_proto_encode_cmd(buf, sizeof(buf), &n, &c), 0);
	assert_string_equal(buf,
			    "{\"type\":\"cancel\",\"job\":1001,"
			    "\"issued\":1748736100,\"expires\":1748739700}");
	DECODE_OK(fl_proto_decode_cmd, struct fl_cmd, buf, &q);
	assert_memory_equal(&c, &q, sizeof(c));

	memset(&c, 0, sizeof(c));
	c.type = FL_CMD_OFFER;
	c.job = 7;
	c.expires = 100;
	env_fill(&c.manifest, 5);
	assert_int_equal(fl_proto_encode_cmd(buf, sizeof(buf), &n, &c), 0);
	assert_string_equal(buf,
			    "{\"type\":\"offer\",\"job\":7,\"expires\":100,"
			    "\"manifest\":{\"v\":1,\"kid\":"
			    "\"a0a1a2a3a4a5a6a7\",\"body\":\"AQgPFh0=\","
			    "\"sig\":\"//79/Pv6+fj39vX08/Lx8O/u7ezr6un"
			    "o5+bl5OPi4eDf3t3c29rZ2NfW1dTT0tHQz87NzMvKyc"
			    "jHxsXEw8LBwA==\"}}");
	DECODE_OK(fl_proto_decode_cmd, struct fl_cmd, buf, &q);
	assert_memory_equal(&c, &q, sizeof(c));

	c.activate = FL_ACTIVATE_IDLE;
	c.health_window_s = 600;
	assert_int_equal(fl_proto_encode_cmd(buf, sizeof(buf), &n, &c), 0);
	assert_non_null(strstr(buf, "\"activate\":\"idle\",\"health\":"
				    "{\"window_s\":600}"));
	DECODE_OK(fl_proto_decode_cmd, struct fl_cmd, buf, &q);
	assert_memory_equal(&c, &q, sizeof(c));
}

static const char DOC_OFFER[] =
	"{\"type\":\"offer\",\"job\":1001,\"issued\":1748736000,"
	"\"expires\":1748739600,\"manifest\":{\"v\":1,\"kid\":"
	"\"9df78671417208b1\",\"body\":\"eyJ2IjoxfQ==\",\"sig\":"
	"\"dd7kjXJnoXeZuQxCyZpZJLEx4smmvd29L0hL/YtNtu/RRrUisO8CPsp+meikrtuJu92"
	"TDtbv1d6T2p5xKb6zMg==\"},\"activate\":\"window\",\"window\":"
	"\"02:00-04:00\",\"health\":{\"window_s\":600,\"limits\":[{\"metric\":"
	"\"crashes\",\"max\":0},{\"metric\":\"free_heap\",\"min\":20000}]}}";

static void test_cmd__doc_example(void **state)
{
	static struct fl_cmd c;
	size_t n;

	DECODE_OK(fl_proto_decode_cmd, struct fl_cmd, DOC_OFFER, &c);
	assert_int_equal(c.type, FL_CMD_OFFER);
	assert_int_equal(c.job, 1001);
	assert_int_equal(c.manifest.body_len, 7);
	assert_memory_equal(c.manifest.body, "{\"v\":1}", 7);
	assert_int_equal(c.activate, FL_ACTIVATE_WINDOW);
	assert_int_equal(c.window_start_min, 120);
	assert_int_equal(c.window_end_min, 240);
	assert_int_equal(c.n_limits, 2);
	assert_true(c.limits[0].has_max && !c.limits[0].has_min);
	assert_true(c.limits[1].has_min && !c.limits[1].has_max);
	assert_true(c.limits[1].min == 20000.0);
	assert_int_equal(fl_proto_encode_cmd(buf, sizeof(buf), &n, &c), 0);
	assert_string_equal(buf, DOC_OFFER);
}

#define ENV                                                                    \
	"\"manifest\":{\"v\":1,\"kid\":\"0011223344556677\",\"body\":"         \
	"\"eyJ2IjoxfQ==\",\"sig\":"                                            \
	"\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"                         \
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"}"

static void test_cmd__refuses(void **state)
{
	static const struct {
		const char *json;
		int err;
		uint8_t type; /* left in out on failure */
		uint32_t job;
	} bad[] = {
		{"{\"type\":\"offer\"}", FL_EINVAL, 0, 0},
		{"{\"type\":\"offer\",\"job\":0,\"expires\":1}", FL_EINVAL, 0,
		 0},
		{"{\"type\":\"reboot\",\"job\":5,\"expires\":1}", FL_ENOTSUP, 0,
		 5},
		{"{\"type\":3,\"job\":5,\"expires\":1}", FL_EINVAL, 0, 5},
		{"{\"type\":\"cancel\",\"job\":5}", FL_EINVAL, FL_CMD_CANCEL,
		 5},
		{"{\"type\":\"cancel\",\"job\":5,\"expires\":0}", FL_EINVAL,
		 FL_CMD_CANCEL, 5},
		{"{\"type\":\"cancel\",\"job\":5,\"expires\":10,\"issued\":11}",
		 FL_EINVAL, FL_CMD_CANCEL, 5},
		{"{\"type\":\"offer\",\"job\":5,\"expires\":10}", FL_EINVAL,
		 FL_CMD_OFFER, 5},
		{"{\"type\":\"offer\",\"job\":5,\"expires\":10,\"manifest\":"
		 "\"abc\"}",
		 FL_EINVAL, FL_CMD_OFFER, 5},
		{"{\"type\":\"offer\",\"job\":5,\"expires\":10,\"manifest\":"
		 "{\"v\":3}}",
		 FL_ENOTSUP, FL_CMD_OFFER, 5},
		{"{\"type\":\"offer\",\"job\":5,\"expires\":10," ENV
		 ",\"activate\":\"later\"}",
		 FL_EINVAL, FL_CMD_OFFER, 5},
		{"{\"type\":\"offer\",\"job\":5,\"expires\":10," ENV
		 ",\"activate\":\"window\"}",
		 FL_EINVAL, FL_CMD_OFFER, 5},
		{"{\"type\":\"offer\",\"job\":5,\"expires\":10," ENV
		 ",\"activate\":\"window\",\"window\":\"24:00-01:00\"}",
		 FL_EINVAL, FL_CMD_OFFER, 5},
		{"{\"type\":\"offer\",\"job\":5,\"expires\":10," ENV
		 ",\"activate\":\"window\",\"window\":\"02:00-02:00\"}",
		 FL_EINVAL, FL_CMD_OFFER, 5},
		{"{\"type\":\"offer\",\"job\":5,\"expires\":10," ENV
		 ",\"activate\":\"window\",\"window\":\"2:00-04:00\"}",
		 FL_EINVAL, FL_CMD_OFFER, 5},
		{"{\"type\":\"offer\",\"job\":5,\"expires\":10," ENV
		 ",\"health\":{\"limits\":[{\"metric\":\"x\"}]}}",
		 FL_EINVAL, FL_CMD_OFFER, 5},
		{"{\"type\":\"offer\",\"job\":5,\"expires\":10," ENV
		 ",\"health\":{\"limits\":[{\"metric\":\"x\",\"min\":2,"
		 "\"max\":1}]}}",
		 FL_EINVAL, FL_CMD_OFFER, 5},
		{"{\"type\":\"offer\",\"job\":5,\"expires\":10," ENV
		 ",\"health\":{\"limits\":[{\"metric\":\"x\",\"min\":\"1\"}]}}",
		 FL_EINVAL, FL_CMD_OFFER, 5},
		{"{\"type\":\"offer\",\"job\":5,\"expires\":10," ENV
		 ",\"health\":{\"limits\":[{\"metric\":\"x\",\"max\":1},"
		 "{\"metric\":\"x\",\"max\":2}]}}",
		 FL_EINVAL, FL_CMD_OFFER, 5},
		{"{\"type\":\"offer\",\"job\":5,\"expires\":10," ENV
		 ",\"health\":{\"limits\":[{\"metric\":\"a\",\"max\":1},"
		 "{\"metric\":\"b\",\"max\":1},{\"metric\":\"c\",\"max\":1},"
		 "{\"metric\":\"d\",\"max\":1},{\"metric\":\"e\",\"max\":1}]}}",
		 FL_ETOOBIG, FL_CMD_OFFER, 5},
		{"{\"type\":\"offer\",\"job\":5,\"expires\":10," ENV
		 ",\"health\":{\"window_s\":-1}}",
		 FL_EINVAL, FL_CMD_OFFER, 5},
		{"{\"type\":\"offer\",\"job\":5,\"expires\":10," ENV
		 ",\"health\":[]}",
		 FL_EINVAL, FL_CMD_OFFER, 5},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fl_cmd c;
		struct fl_proto_diag d = {""};
		int err = fl_proto_decode_cmd(&c, bad[i].json,
					      strlen(bad[i].json), &d);

		if (err != bad[i].err || c.type != bad[i].type ||
		    c.job != bad[i].job)
			fail_msg("case %zu: got %d type %u job %u (%s)", i, err,
				 c.type, (unsigned)c.job, d.msg);
		assert_true(d.msg[0] != '\0');
		assert_int_equal(c.manifest.body_len, 0);
	}
}

static void test_cmd__envelope_rules(void **state)
{
	static const char *const bad[] = {
		/* kid: uppercase, short, not hex */
		"{\"v\":1,\"kid\":\"0011223344556677X\",\"body\":\"eyJ9\","
		"\"sig\":\"\"}",
		"{\"v\":1,\"kid\":\"00112233445566AA\",\"body\":\"eyJ9\","
		"\"sig\":\"\"}",
		/* body: empty, not base64, non-zero pad bits */
		"{\"v\":1,\"kid\":\"0011223344556677\",\"body\":\"\","
		"\"sig\":\"\"}",
		"{\"v\":1,\"kid\":\"0011223344556677\",\"body\":\"ey J9\","
		"\"sig\":\"\"}",
		"{\"v\":1,\"kid\":\"0011223344556677\",\"body\":\"eyK=\","
		"\"sig\":\"\"}",
		/* sig: too short */
		"{\"v\":1,\"kid\":\"0011223344556677\",\"body\":\"eyJ9\","
		"\"sig\":\"AAAA\"}",
		/* an unknown field */
		"{\"v\":1,\"kid\":\"0011223344556677\",\"body\":\"eyJ9\","
		"\"sig\":\"AAAA\",\"cert\":{}}",
		/* a field twice */
		"{\"v\":1,\"v\":1,\"kid\":\"0011223344556677\",\"body\":"
		"\"eyJ9\",\"sig\":\"AAAA\"}",
	};
	struct fl_manifest_env env;
	struct fl_proto_diag d;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d.msg[0] = '\0';
		if (fl_manifest_env_decode(&env, bad[i], strlen(bad[i]), &d) !=
		    FL_EINVAL)
			fail_msg("case %zu accepted", i);
		assert_true(d.msg[0] != '\0');
	}
	d.msg[0] = '\0';
	assert_int_equal(
		fl_manifest_env_decode(&env, "{\"v\":3,\"cert\":1}", 16, &d),
		FL_ENOTSUP);

	/* The body bound: 896 bytes decode, 897 do not. */
	{
		static struct fl_manifest_env e;
		static char text[2048];
		size_t n;
		char *p;

		env_fill(&e, FL_MANIFEST_BODY_MAX);
		assert_int_equal(
			fl_manifest_env_encode(text, sizeof(text), &n, &e), 0);
		assert_int_equal(fl_manifest_env_decode(&env, text, n, NULL),
				 0);
		assert_int_equal(env.body_len, FL_MANIFEST_BODY_MAX);
		/* 1196 base64 chars -> replace by 1200 (900 bytes) */
		p = strstr(text, "\",\"sig\"");
		assert_non_null(p);
		memmove(p + 4, p, strlen(p) + 1);
		memcpy(p, "AAAA", 4);
		assert_int_equal(
			fl_manifest_env_decode(&env, text, n + 4, NULL),
			FL_ETOOBIG);
		e.body_len = FL_MANIFEST_BODY_MAX + 1;
		assert_int_equal(
			fl_manifest_env_encode(text, sizeof(text), &n, &e),
			FL_EINVAL);
	}
}

static void test_cmd__encoder_refuses_bad_struct(void **state)
{
	static struct fl_cmd c;

	cmd_max(&c);
	c.type = 9;
	assert_int_equal(fl_proto_encode_cmd(buf, sizeof(buf), NULL, &c),
			 FL_EINVAL);
	cmd_max(&c);
	c.job = 0;
	assert_int_equal(fl_proto_encode_cmd(buf, sizeof(buf), NULL, &c),
			 FL_EINVAL);
	cmd_max(&c);
	c.manifest.body_len = 0;
	assert_int_equal(fl_proto_encode_cmd(buf, sizeof(buf), NULL, &c),
			 FL_EINVAL);
	cmd_max(&c);
	c.limits[2].max = 0.0 / 0.0;
	assert_int_equal(fl_proto_encode_cmd(buf, sizeof(buf), NULL, &c),
			 FL_EINVAL);
	cmd_max(&c);
	c.window_end_min = 1440;
	assert_int_equal(fl_proto_encode_cmd(buf, sizeof(buf), NULL, &c),
			 FL_EINVAL);
	cmd_max(&c);
	c.n_limits = FL_PROTO_LIMITS_MAX + 1;
	assert_int_equal(fl_proto_encode_cmd(buf, sizeof(buf), NULL, &c),
			 FL_ETOOBIG);
	cmd_max(&c);
	assert_int_equal(fl_proto_encode_cmd(buf, 1000, NULL, &c), FL_ETOOBIG);
}

/* ---- status ------------------------------------------------------------- */

static void test_status__round_trip_and_doc(void **state)
{
	static const char *const doc[] = {
		"{\"job\":1001,\"boot\":17,\"n\":4,\"state\":\"downloading\","
		"\"bytes\":32768,\"total\":65536,\"version\":\"1.5.0\"}",
		"{\"job\":1001,\"boot\":17,\"n\":9,\"state\":\"waiting\","
		"\"result\":\"retry_later\",\"reason\":\"battery_low\","
		"\"retry_s\":600,\"version\":\"1.5.0\"}",
		"{\"job\":1001,\"boot\":18,\"n\":2,\"state\":\"idle\","
		"\"result\":\"success\",\"version\":\"1.5.0\"}",
		"{\"job\":1001,\"boot\":19,\"n\":1,\"state\":\"idle\","
		"\"result\":\"reverted\",\"reason\":\"not_confirmed\","
		"\"reset\":\"watchdog\",\"version\":\"1.5.0\"}",
		"{\"job\":1003,\"boot\":17,\"n\":3,\"state\":\"downloaded\","
		"\"reason\":\"window\",\"bytes\":65536,\"total\":65536,"
		"\"version\":\"1.5.0\"}",
	};
	struct fl_status s, q;
	size_t n;

	for (size_t i = 0; i < sizeof(doc) / sizeof(doc[0]); i++) {
		DECODE_OK(fl_proto_decode_status, struct fl_status, doc[i], &s);
		assert_int_equal(
			fl_proto_encode_status(buf, sizeof(buf), &n, &s), 0);
		assert_string_equal(buf, doc[i]);
	}
	memset(&s, 0, sizeof(s));
	s.job = UINT32_MAX;
	s.boot = UINT32_MAX;
	s.n = UINT32_MAX;
	s.ts = FL_PROTO_UINT_MAX;
	s.state = FL_STATE_WAITING;
	s.result = FL_RESULT_RETRY_LATER;
	fill(s.reason, sizeof(s.reason), ':');
	memset(s.detail, '"', sizeof(s.detail) - 1); /* escaped: 2 bytes */
	s.detail[sizeof(s.detail) - 1] = '\0';
	s.bytes = s.total = s.retry_s = UINT32_MAX;
	s.reset = FL_WIRE_RESET_PANIC;
	fill(s.version, sizeof(s.version), '+');
	assert_int_equal(fl_proto_encode_status(buf, sizeof(buf), &n, &s), 0);
	assert_true(n <= FL_PROTO_MSG_MAX);
	DECODE_OK(fl_proto_decode_status, struct fl_status, buf, &q);
	assert_memory_equal(&s, &q, sizeof(s));
}

static void test_status__consistency_rules(void **state)
{
	static const char *const bad[] = {
		"{\"state\":\"idle\",\"result\":\"success\"}",
		"{\"job\":1}",
		"{\"job\":1,\"state\":\"idle\"}",
		"{\"job\":1,\"state\":\"downloading\",\"result\":\"success\"}",
		"{\"job\":1,\"state\":\"idle\",\"result\":\"retry_later\"}",
		"{\"job\":1,\"state\":\"trial\",\"result\":\"retry_later\"}",
		"{\"job\":1,\"state\":\"downloading\",\"bytes\":2,\"total\":1}",
		"{\"job\":1,\"state\":\"trial\",\"reset\":\"meteor\"}",
		"{\"job\":1,\"state\":\"trial\",\"reason\":\"Upper\"}",
		"{\"job\":1,\"state\":\"trial\",\"detail\":\"tab\\there\"}",
		"{\"job\":1,\"state\":\"sleeping\"}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		DECODE_FAILS(fl_proto_decode_status, struct fl_status, bad[i],
			     FL_EINVAL);
}

/* ---- health ------------------------------------------------------------- */

static const char DOC_HEALTH[] =
	"{\"ts\":1748740000,\"uptime_s\":3600,\"boot\":18,\"reset\":"
	"\"software\",\"crashes\":2,\"version\":\"1.5.0\",\"slot\":1,"
	"\"trial\":true,\"job\":1001,\"metrics\":{\"cpu_pct\":12.5,"
	"\"free_heap\":40960,\"temp_c\":41.5}}";

static void test_health__round_trip_and_doc(void **state)
{
	struct fl_health h, q;
	size_t n;

	DECODE_OK(fl_proto_decode_health, struct fl_health, DOC_HEALTH, &h);
	assert_int_equal(h.n_metrics, 3);
	assert_true(h.metrics[2].value == 41.5);
	assert_int_equal(fl_proto_encode_health(buf, sizeof(buf), &n, &h), 0);
	assert_string_equal(buf, DOC_HEALTH);

	memset(&h, 0, sizeof(h));
	h.ts = h.uptime_s = FL_PROTO_UINT_MAX;
	h.boot = h.crashes = h.job = UINT32_MAX;
	h.reset = FL_WIRE_RESET_BROWNOUT;
	fill(h.version, sizeof(h.version), '9');
	h.slot = 1;
	h.is_trial = true;
	h.n_metrics = FL_PROTO_METRICS_MAX;
	for (unsigned i = 0; i < h.n_metrics; i++) {
		fill_ident(h.metrics[i].name, sizeof(h.metrics[i].name), i);
		h.metrics[i].value = -1.23456789012345e-300;
	}
	assert_int_equal(fl_proto_encode_health(buf, sizeof(buf), &n, &h), 0);
	assert_true(n <= FL_PROTO_MSG_MAX);
	DECODE_OK(fl_proto_decode_health, struct fl_health, buf, &q);
	assert_memory_equal(&h, &q, sizeof(h));

	/* uptime 0 and boot 0 are required, so they are always sent. */
	memset(&h, 0, sizeof(h));
	assert_int_equal(fl_proto_encode_health(buf, sizeof(buf), &n, &h), 0);
	assert_string_equal(buf, "{\"uptime_s\":0,\"boot\":0}");
	DECODE_OK(fl_proto_decode_health, struct fl_health, buf, &q);
}

static void test_health__refuses(void **state)
{
	static const char *const bad[] = {
		"{\"boot\":1}",
		"{\"uptime_s\":1}",
		"{\"uptime_s\":1,\"boot\":1,\"slot\":2}",
		"{\"uptime_s\":1,\"boot\":1,\"job\":3}",
		"{\"uptime_s\":1,\"boot\":1,\"trial\":\"yes\"}",
		"{\"uptime_s\":1,\"boot\":1,\"metrics\":{\"x\":\"1\"}}",
		"{\"uptime_s\":1,\"boot\":1,\"metrics\":{\"x\":1e999}}",
		"{\"uptime_s\":1,\"boot\":1,\"metrics\":{\"-x\":1}}",
		"{\"uptime_s\":1,\"boot\":1,\"metrics\":{\"x\":1,\"x\":2}}",
		"{\"uptime_s\":1,\"boot\":1,\"metrics\":[1]}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		DECODE_FAILS(fl_proto_decode_health, struct fl_health, bad[i],
			     FL_EINVAL);
	DECODE_FAILS(
		fl_proto_decode_health, struct fl_health,
		"{\"uptime_s\":1,\"boot\":1,\"metrics\":{\"a\":1,\"b\":1,"
		"\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1}}",
		FL_ETOOBIG);
}

/* ---- input bounds, common to every decoder ------------------------------ */

static void test_input__unknown_fields_are_ignored(void **state)
{
	struct fl_presence p;

	DECODE_OK(fl_proto_decode_presence, struct fl_presence,
		  "{\"online\":true,\"future\":{\"a\":[1,2,3]},\"x\":null}",
		  &p);
	assert_true(p.is_online);
	/* whitespace around and inside is fine */
	DECODE_OK(fl_proto_decode_presence, struct fl_presence,
		  " \n{ \"online\" : false }\r\n\t", &p);
	assert_false(p.is_online);
}

static void test_input__hostile_inputs_are_refused(void **state)
{
	struct fl_presence p;
	size_t n;

	DECODE_FAILS(fl_proto_decode_presence, struct fl_presence, "",
		     FL_EINVAL);
	DECODE_FAILS(fl_proto_decode_presence, struct fl_presence, "[]",
		     FL_EINVAL);
	DECODE_FAILS(fl_proto_decode_presence, struct fl_presence, "true",
		     FL_EINVAL);
	DECODE_FAILS(fl_proto_decode_presence, struct fl_presence,
		     "{\"online\":true", FL_EINVAL);
	DECODE_FAILS(fl_proto_decode_presence, struct fl_presence,
		     "{\"online\":true}x", FL_EINVAL);
	DECODE_FAILS(fl_proto_decode_presence, struct fl_presence,
		     "{\"online\":true}{}", FL_EINVAL);
	DECODE_FAILS(fl_proto_decode_presence, struct fl_presence,
		     "{\"online\":true,\"agent\":\"a\\u0000b\"}", FL_EINVAL);
	/* deep nesting stops before cJSON recurses */
	DECODE_FAILS(fl_proto_decode_presence, struct fl_presence,
		     "{\"a\":[[[[[[1]]]]]],\"online\":true}", FL_ETOOBIG);
	/* brackets inside strings do not count */
	DECODE_OK(fl_proto_decode_presence, struct fl_presence,
		  "{\"a\":\"[[[[[[[[[[,,,,\\\"[[[[\",\"online\":true}", &p);

	/* a NUL byte inside the length */
	assert_int_equal(
		fl_proto_decode_presence(&p, "{\"online\":true}\0", 16, NULL),
		FL_EINVAL);
	assert_int_equal(fl_proto_decode_presence(&p, NULL, 0, NULL),
			 FL_EINVAL);
	assert_int_equal(fl_proto_decode_presence(NULL, "{}", 2, NULL),
			 FL_EINVAL);

	/* too many values: 200 array elements in 2048 bytes */
	n = (size_t)snprintf(big, sizeof(big), "{\"online\":true,\"x\":[");
	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s0",
				      i ? "," : "");
	n += (size_t)snprintf(big + n, sizeof(big) - n, "]}");
	assert_true(n <= FL_PROTO_MSG_MAX);
	assert_int_equal(fl_proto_decode_presence(&p, big, n, NULL),
			 FL_ETOOBIG);

	/* exactly FL_PROTO_MSG_MAX bytes pass, one more does not */
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"online\":true}", 15);
	assert_int_equal(
		fl_proto_decode_presence(&p, big, FL_PROTO_MSG_MAX, NULL), 0);
	assert_int_equal(
		fl_proto_decode_presence(&p, big, FL_PROTO_MSG_MAX + 1, NULL),
		FL_ETOOBIG);
}

/* ---- allocation failures ------------------------------------------------ */

static long alloc_countdown = -1; /* -1: never fail */
static long alloc_live;

static void *failing_malloc(size_t n)
{
	void *p;

	if (alloc_countdown == 0)
		return NULL;
	if (alloc_countdown > 0)
		alloc_countdown--;
	p = malloc(n);
	if (p != NULL)
		alloc_live++;
	return p;
}

static void counting_free(void *p)
{
	if (p != NULL)
		alloc_live--;
	free(p);
}

static void
test_alloc__every_failure_is_reported_and_leaks_nothing(void **state)
{
	static struct fl_cmd c, q;
	static struct fl_reported r;
	cJSON_Hooks hooks = {failing_malloc, counting_free};
	int err;
	long i;

	cJSON_InitHooks(&hooks);
	cmd_max(&c);
	reported_max(&r);
	for (i = 0;; i++) {
		alloc_countdown = i;
		err = fl_proto_encode_cmd(buf, sizeof(buf), NULL, &c);
		assert_int_equal(alloc_live, 0);
		if (err == 0)
			break;
		assert_int_equal(err, FL_ENOMEM);
	}
	assert_true(i > 10);
	for (i = 0;; i++) {
		alloc_countdown = i;
		err = fl_proto_encode_reported(big, sizeof(big), NULL, &r);
		assert_int_equal(alloc_live, 0);
		if (err == 0)
			break;
		assert_int_equal(err, FL_ENOMEM);
	}
	alloc_countdown = -1;
	assert_int_equal(fl_proto_encode_cmd(buf, sizeof(buf), NULL, &c), 0);
	for (i = 0;; i++) {
		alloc_countdown = i;
		err = fl_proto_decode_cmd(&q, buf, strlen(buf), NULL);
		assert_int_equal(alloc_live, 0);
		if (err == 0)
			break;
		assert_int_equal(err, FL_EINVAL); /* cJSON does not say */
	}
	assert_memory_equal(&c, &q, sizeof(c));
	alloc_countdown = -1;
	cJSON_InitHooks(NULL);
}

/* ---- topics ------------------------------------------------------------- */

static void test_topic__build_and_parse(void **state)
{
	char t[FL_TOPIC_MAX], id[FL_DEVICE_ID_MAX], longid[FL_DEVICE_ID_MAX];
	char root[FL_TOPIC_ROOT_MAX];
	int kind;

	assert_int_equal(fl_topic_build(t, sizeof(t), "fleet", "dev-0001",
					FL_TOPIC_STATUS),
			 0);
	assert_string_equal(t, "fleet/v1/dev/dev-0001/status");
	assert_int_equal(fl_topic_parse(id, &kind, t, strlen(t), "fleet"), 0);
	assert_string_equal(id, "dev-0001");
	assert_int_equal(kind, FL_TOPIC_STATUS);

	for (kind = 0; kind < FL_TOPIC_KINDS; kind++) {
		int k = -1;

		assert_int_equal(
			fl_topic_build(t, sizeof(t), "acme/prod", "x", kind),
			0);
		assert_int_equal(
			fl_topic_parse(id, &k, t, strlen(t), "acme/prod"), 0);
		assert_int_equal(k, kind);
	}
	assert_int_equal(
		fl_topic_filter(t, sizeof(t), "fleet", FL_TOPIC_HEALTH), 0);
	assert_string_equal(t, "fleet/v1/dev/+/health");

	/* The longest topic fits FL_TOPIC_MAX exactly. */
	fill(root, sizeof(root), 'r');
	fill(longid, sizeof(longid), 'i');
	assert_int_equal(
		fl_topic_build(t, sizeof(t), root, longid, FL_TOPIC_PRESENCE),
		0);
	assert_int_equal(strlen(t), FL_TOPIC_MAX - 1);
	assert_int_equal(fl_topic_parse(id, &kind, t, strlen(t), root), 0);
	assert_string_equal(id, longid);
	assert_int_equal(fl_topic_build(t, FL_TOPIC_MAX - 1, root, longid,
					FL_TOPIC_PRESENCE),
			 FL_ETOOBIG);
	assert_string_equal(t, "");
}

static void test_topic__refuses(void **state)
{
	static const char *const bad_topics[] = {
		"fleet/v1/dev/dev-0001",   "fleet/v1/dev//status",
		"fleet/v2/dev/d/status",   "fleet/v1/dev/d/status/x",
		"fleet/v1/dev/d/Status",   "other/v1/dev/d/status",
		"fleetx/v1/dev/d/status",  "fleet/v1/dev/+/status",
		"fleet/v1/dev/-d/status",  "fleet/v1/dev/d#/status",
		"fleet/v1/dev/d/statu",	   "fleet/v1/dev/d/statuss",
		"fleet/v1/dev/a/b/status",
	};
	char t[FL_TOPIC_MAX], id[FL_DEVICE_ID_MAX];
	char longid[FL_DEVICE_ID_MAX + 1];
	int kind;

	for (size_t i = 0; i < sizeof(bad_topics) / sizeof(bad_topics[0]);
	     i++) {
		if (fl_topic_parse(id, &kind, bad_topics[i],
				   strlen(bad_topics[i]), "fleet") != FL_EINVAL)
			fail_msg("accepted %s", bad_topics[i]);
	}
	assert_int_equal(fl_topic_parse(id, &kind, "fleet/v1/dev/a\0b/status",
					23, "fleet"),
			 FL_EINVAL);
	fill(longid, sizeof(longid), 'i');
	assert_int_equal(fl_device_id_check(longid), FL_ETOOBIG);
	snprintf(t, sizeof(t), "fleet/v1/dev/%s/cmd", longid);
	assert_int_equal(fl_topic_parse(id, &kind, t, strlen(t), "fleet"),
			 FL_EINVAL);
	assert_int_equal(fl_device_id_check(""), FL_EINVAL);
	assert_int_equal(fl_device_id_check("a/b"), FL_EINVAL);
	assert_int_equal(fl_device_id_check("a+"), FL_EINVAL);
	assert_int_equal(fl_device_id_check(".a"), FL_EINVAL);
	assert_int_equal(fl_device_id_check("A.b_c-9"), 0);
	assert_int_equal(fl_topic_root_check("$SYS"), FL_EINVAL);
	assert_int_equal(fl_topic_root_check("a//b"), FL_EINVAL);
	assert_int_equal(fl_topic_root_check("/a"), FL_EINVAL);
	assert_int_equal(fl_topic_root_check("a/"), FL_EINVAL);
	assert_int_equal(fl_topic_root_check(""), FL_EINVAL);
	assert_int_equal(fl_topic_root_check("a/#"), FL_EINVAL);
	assert_int_equal(
		fl_topic_root_check(
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
		FL_ETOOBIG);
	assert_int_equal(
		fl_topic_build(t, sizeof(t), "fleet", "a b", FL_TOPIC_CMD),
		FL_EINVAL);
	assert_int_equal(fl_topic_build(t, sizeof(t), "fleet", "a", 5),
			 FL_EINVAL);
	assert_int_equal(fl_topic_build(t, sizeof(t), "fl+", "a", 0),
			 FL_EINVAL);
}

/* ---- names -------------------------------------------------------------- */

static void test_names__results_are_pinned(void **state)
{
	static const struct {
		int value;
		const char *name;
		int lwm2m;
	} pinned[] = {
		{0, "none", 0},
		{1, "success", 1},
		{2, "not_enough_flash", 2},
		{3, "out_of_ram", 3},
		{4, "connection_lost", 4},
		{5, "integrity_failure", 5},
		{6, "unsupported_package", 6},
		{7, "invalid_uri", 7},
		{8, "update_failed", 8},
		{9, "unsupported_protocol", 9},
		{32, "retry_later", 8},
		{33, "rejected", 8},
		{34, "reverted", 8},
		{35, "rolled_back", 8},
		{36, "rollback_failed", 8},
		{37, "cancelled", 8},
		{38, "expired", 8},
		{39, "bad_signature", 8},
		{40, "wrong_model", 8},
		{41, "downgrade_refused", 8},
		{42, "anti_rollback", 8},
		{43, "invalid_manifest", 8},
		{44, "not_applicable", 8},
		{45, "stale", 8},
		{46, "invalid_command", 8},
	};
	int v, named = 0;

	for (size_t i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++) {
		assert_string_equal(fl_result_name(pinned[i].value),
				    pinned[i].name);
		assert_int_equal(fl_result_parse(&v, pinned[i].name), 0);
		assert_int_equal(v, pinned[i].value);
		assert_int_equal(fl_result_lwm2m(pinned[i].value),
				 pinned[i].lwm2m);
		assert_int_equal(fl_result_is_final(pinned[i].value),
				 pinned[i].value != 0 && pinned[i].value != 32);
	}
	for (v = -5; v < 300; v++)
		named += fl_result_name(v) != NULL;
	assert_int_equal(named, sizeof(pinned) / sizeof(pinned[0]));
	assert_int_equal(fl_result_parse(&v, "Success"), FL_EINVAL);
	assert_false(fl_result_is_final(99));

	assert_string_equal(fl_update_state_name(5), "trial");
	assert_int_equal(fl_update_state_parse(&v, "downloaded"), 0);
	assert_int_equal(v, FL_STATE_DOWNLOADED);
	assert_null(fl_update_state_name(6));
	assert_string_equal(fl_wire_slot_state_name(4), "confirmed");
	assert_string_equal(fl_wire_reset_name(4), "brownout");
	assert_string_equal(fl_cmd_type_name(FL_CMD_ROLLBACK), "rollback");
	assert_null(fl_cmd_type_name(FL_CMD_NONE));
	assert_string_equal(fl_topic_kind_name(FL_TOPIC_REPORTED), "reported");
}

/* ---- base64 and hex ----------------------------------------------------- */

static void test_encoding__base64_rfc4648_vectors(void **state)
{
	static const char *const vec[][2] = {
		{"", ""},
		{"f", "Zg=="},
		{"fo", "Zm8="},
		{"foo", "Zm9v"},
		{"foob", "Zm9vYg=="},
		{"fooba", "Zm9vYmE="},
		{"foobar", "Zm9vYmFy"},
	};
	char out[16];
	uint8_t bin[16];
	size_t n;

	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		size_t len = strlen(vec[i][0]);

		assert_int_equal(fl_base64_encode(out, sizeof(out), &n,
						  (const uint8_t *)vec[i][0],
						  len),
				 0);
		assert_string_equal(out, vec[i][1]);
		assert_int_equal(fl_base64_decode(bin, sizeof(bin), &n,
						  vec[i][1], strlen(vec[i][1])),
				 0);
		assert_int_equal(n, len);
		assert_memory_equal(bin, vec[i][0], len);
	}
	/* strict decoding */
	assert_int_equal(fl_base64_decode(bin, sizeof(bin), &n, "Zg=", 3),
			 FL_EINVAL);
	assert_int_equal(fl_base64_decode(bin, sizeof(bin), &n, "Zh==", 4),
			 FL_EINVAL); /* pad bits */
	assert_int_equal(fl_base64_decode(bin, sizeof(bin), &n, "Zm9=", 4),
			 FL_EINVAL);
	assert_int_equal(fl_base64_decode(bin, sizeof(bin), &n, "Z===", 4),
			 FL_EINVAL);
	assert_int_equal(fl_base64_decode(bin, sizeof(bin), &n, "Z=g=", 4),
			 FL_EINVAL);
	assert_int_equal(fl_base64_decode(bin, sizeof(bin), &n, "Zm 9", 4),
			 FL_EINVAL);
	assert_int_equal(fl_base64_decode(bin, sizeof(bin), &n, "Zm9v-_==", 8),
			 FL_EINVAL);
	assert_int_equal(fl_base64_decode(bin, 2, &n, "Zm9v", 4), FL_ETOOBIG);
	assert_int_equal(
		fl_base64_encode(out, 4, &n, (const uint8_t *)"foo", 3),
		FL_ETOOBIG);
}

static void test_encoding__hex(void **state)
{
	uint8_t b[3] = {0x00, 0xab, 0xff}, c[3];
	char s[7];

	assert_int_equal(fl_hex_encode(s, sizeof(s), b, 3), 0);
	assert_string_equal(s, "00abff");
	assert_int_equal(fl_hex_encode(s, 6, b, 3), FL_ETOOBIG);
	assert_int_equal(fl_hex_decode(c, 3, "00ABff", 6), 0);
	assert_memory_equal(b, c, 3);
	assert_int_equal(fl_hex_decode(c, 3, "00abf", 5), FL_EINVAL);
	assert_int_equal(fl_hex_decode(c, 3, "00abfg", 6), FL_EINVAL);
	assert_int_equal(fl_hex_decode(c, 3, "00abff00", 8), FL_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_presence__round_trip),
		cmocka_unit_test(test_presence__refuses),
		cmocka_unit_test(
			test_reported__worst_case_fits_and_round_trips),
		cmocka_unit_test(test_reported__doc_example_is_canonical),
		cmocka_unit_test(test_reported__other_slot_digest_round_trips),
		cmocka_unit_test(test_reported__refuses),
		cmocka_unit_test(test_reported__encoder_refuses_bad_struct),
		cmocka_unit_test(test_cmd__worst_case_fits_and_round_trips),
		cmocka_unit_test(test_cmd__each_type_round_trips),
		cmocka_unit_test(test_cmd__doc_example),
		cmocka_unit_test(test_cmd__refuses),
		cmocka_unit_test(test_cmd__envelope_rules),
		cmocka_unit_test(test_cmd__encoder_refuses_bad_struct),
		cmocka_unit_test(test_status__round_trip_and_doc),
		cmocka_unit_test(test_status__consistency_rules),
		cmocka_unit_test(test_health__round_trip_and_doc),
		cmocka_unit_test(test_health__refuses),
		cmocka_unit_test(test_input__unknown_fields_are_ignored),
		cmocka_unit_test(test_input__hostile_inputs_are_refused),
		cmocka_unit_test(
			test_alloc__every_failure_is_reported_and_leaks_nothing),
		cmocka_unit_test(test_topic__build_and_parse),
		cmocka_unit_test(test_topic__refuses),
		cmocka_unit_test(test_names__results_are_pinned),
		cmocka_unit_test(test_encoding__base64_rfc4648_vectors),
		cmocka_unit_test(test_encoding__hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
