/*
 * test_proto_diag.c -- the codec's diagnostics in both builds, and its
 * vocabularies. Compiled twice (tests/unit/proto_diag.cmake): against
 * fl_proto (test_proto_diag: every diagnostic is "field: reason") and
 * against fl_proto_compact, the same sources built with
 * FL_PROTO_COMPACT_DIAG as a microcontroller builds them
 * (test_proto_compact: the field name alone). Both check that each bad
 * input gets the same error code and names the same field, so the compact
 * build drops only prose.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fl/err.h"
#include "fl/proto.h"

enum kind { K_PRESENCE, K_REPORTED, K_CMD, K_STATUS, K_HEALTH, K_ENV };

struct bad {
	enum kind kind;
	const char *in;
	int rc;
	const char *field; /* NULL: any field (a format still changing) */
};

static const struct bad cases[] = {
	{K_PRESENCE, "{", FL_EINVAL, "payload"},
	{K_PRESENCE, "[]", FL_EINVAL, "payload"},
	{K_PRESENCE, "{} x", FL_EINVAL, "payload"},
	{K_PRESENCE, "{}", FL_EINVAL, "online"},
	{K_PRESENCE, "{\"online\":true,\"online\":true}", FL_EINVAL, "online"},
	{K_PRESENCE, "{\"online\":1}", FL_EINVAL, "online"},
	{K_PRESENCE, "{\"online\":true,\"boot\":-1}", FL_EINVAL, "boot"},
	{K_PRESENCE, "{\"online\":true,\"agent\":\"a b\"}", FL_EINVAL, "agent"},
	{K_PRESENCE, "[[[[[[[[1]]]]]]]]", FL_ETOOBIG, "payload"},
	{K_CMD,
	 "{\"type\":\"cancel\",\"job\":5,\"expires\":100,\"issued\":200}",
	 FL_EINVAL, "issued"},
	{K_CMD, "{\"type\":\"reboot\",\"job\":5,\"expires\":100}", FL_ENOTSUP,
	 "type"},
	{K_CMD, "{\"type\":\"cancel\",\"job\":0,\"expires\":100}", FL_EINVAL,
	 "job"},
	{K_CMD, "{\"type\":\"cancel\",\"job\":5}", FL_EINVAL, "expires"},
	{K_CMD, "{\"type\":\"offer\",\"job\":5,\"expires\":100}", FL_EINVAL,
	 "manifest"},
	{K_STATUS, "{\"job\":1,\"state\":\"idle\"}", FL_EINVAL, "result"},
	{K_STATUS, "{\"job\":1,\"state\":\"waiting\",\"reason\":\"Bad\"}",
	 FL_EINVAL, "reason"},
	{K_STATUS, "{\"job\":1,\"state\":\"sleeping\"}", FL_EINVAL, "state"},
	{K_STATUS,
	 "{\"job\":1,\"state\":\"downloading\",\"bytes\":9,\"total\":8}",
	 FL_EINVAL, "bytes"},
	{K_STATUS,
	 "{\"job\":1,\"state\":\"waiting\",\"detail\":\"0123456789012345678901"
	 "23456789012345678901234567890123456789012345678901234567890123456789"
	 "0123456789\"}",
	 FL_ETOOBIG, "detail"},
	{K_HEALTH, "{\"uptime_s\":1,\"boot\":1,\"metrics\":{\"x\":\"a\"}}",
	 FL_EINVAL, "metrics"},
	{K_HEALTH, "{\"uptime_s\":1,\"boot\":1,\"job\":3}", FL_EINVAL, "job"},
	{K_REPORTED, "{\"model\":\"m\",\"labels\":{\"k\":\"v\",\"k2\":1}}",
	 FL_EINVAL, "labels"},
	{K_REPORTED, "{\"model\":\"m\",\"booted\":1}", FL_EINVAL, "booted"},
	{K_REPORTED, "{\"model\":\"m\",\"slots\":[{\"state\":\"lost\"}]}",
	 FL_EINVAL, "state"},
	/* The envelope's own checks (manifest.c): its format is still
	 * growing, so only "some field, the same in both builds". */
	{K_ENV, "{\"v\":1,\"kid\":\"zz\",\"body\":\"e30=\",\"sig\":\"AA==\"}",
	 0, NULL},
	{K_ENV, "{\"v\":7}", 0, NULL},
};

static int decode(const struct bad *c, struct fl_proto_diag *d)
{
	static union {
		struct fl_presence presence;
		struct fl_reported reported;
		struct fl_cmd cmd;
		struct fl_status status;
		struct fl_health health;
		struct fl_manifest_env env;
	} out;
	size_t len = strlen(c->in);

	switch (c->kind) {
	case K_PRESENCE:
		return fl_proto_decode_presence(&out.presence, c->in, len, d);
	case K_REPORTED:
		return fl_proto_decode_reported(&out.reported, c->in, len, d);
	case K_CMD: return fl_proto_decode_cmd(&out.cmd, c->in, len, d);
	case K_STATUS:
		return fl_proto_decode_status(&out.status, c->in, len, d);
	case K_HEALTH:
		return fl_proto_decode_health(&out.health, c->in, len, d);
	default: return fl_manifest_env_decode(&out.env, c->in, len, d);
	}
}

/* The field a diagnostic names: all of it (compact) or up to ": ". */
static size_t field_len(const char *msg)
{
	const char *colon = strstr(msg, ": ");

	return colon != NULL ? (size_t)(colon - msg) : strlen(msg);
}

static void test_diag__same_code_and_field_in_both_builds(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad *c = &cases[i];
		struct fl_proto_diag d;
		int rc;

		memset(&d, 0x55, sizeof(d));
		rc = decode(c, &d);
		print_message("%s -> %d \"%s\"\n", c->in, rc, d.msg);
		assert_int_not_equal(rc, 0);
		if (c->rc != 0)
			assert_int_equal(rc, c->rc);
		assert_non_null(memchr(d.msg, '\0', sizeof(d.msg)));
		assert_true(field_len(d.msg) > 0);
		if (c->field != NULL) {
			assert_int_equal(field_len(d.msg), strlen(c->field));
			assert_memory_equal(d.msg, c->field, strlen(c->field));
		}
#ifdef FL_PROTO_COMPACT_DIAG
		/* The field alone: a name, no prose. */
		assert_null(strchr(d.msg, ' '));
#else
		/* The field, then the reason. */
		assert_non_null(strstr(d.msg, ": "));
		assert_true(strlen(d.msg) > field_len(d.msg) + 2);
#endif
	}
}

/* A decoder without a diagnostic fails the same way. */
static void test_diag__null_diag(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fl_proto_diag d;
		int rc = decode(&cases[i], &d);

		assert_int_equal(decode(&cases[i], NULL), rc);
	}
}

/* Every vocabulary: each named value round-trips, nothing else has a
 * name, and an empty name is no value (the unused values' slots). */
static void test_names__every_vocabulary(void **state)
{
	const char *(*const name_of[])(int) = {
		fl_result_name,		 fl_update_state_name,
		fl_wire_slot_state_name, fl_wire_reset_name,
		fl_cmd_type_name,	 fl_topic_kind_name,
	};
	static const int n_named[] = {25, 6, 6, 6, 3, 5};
	int v;

	(void)state;
	for (size_t t = 0; t < sizeof(name_of) / sizeof(name_of[0]); t++) {
		int named = 0;

		for (v = -300; v < 300; v++) {
			const char *n = name_of[t](v);

			if (n == NULL)
				continue;
			named++;
			assert_true(n[0] != '\0');
			if (t == 0) {
				int back = -1;

				assert_int_equal(fl_result_parse(&back, n), 0);
				assert_int_equal(back, v);
			} else if (t == 1) {
				int back = -1;

				assert_int_equal(
					fl_update_state_parse(&back, n), 0);
				assert_int_equal(back, v);
			}
		}
		assert_int_equal(named, n_named[t]);
	}
	assert_null(fl_result_name(10));
	assert_null(fl_result_name(31));
	assert_string_equal(fl_result_name(32), "retry_later");
	assert_string_equal(fl_result_name(46), "invalid_command");
	assert_null(fl_result_name(47));
	assert_null(fl_cmd_type_name(FL_CMD_NONE));
	assert_string_equal(fl_cmd_type_name(FL_CMD_OFFER), "offer");
	assert_int_equal(fl_result_parse(&v, ""), FL_EINVAL);
	assert_int_equal(fl_result_parse(&v, NULL), FL_EINVAL);
	assert_int_equal(fl_update_state_parse(&v, ""), FL_EINVAL);
	assert_int_equal(fl_result_parse(&v, "succes"), FL_EINVAL);
	assert_int_equal(fl_result_parse(&v, "successs"), FL_EINVAL);
}

/* The parsers the decoders use for slot states, resets, command types
 * and activation modes, through the decoders. */
static void test_names__through_the_decoders(void **state)
{
	static char out[FL_PROTO_MSG_MAX + 1];
	char in[256];
	struct fl_status st;
	struct fl_reported rep;
	struct fl_cmd cmd;

	(void)state;
	strcpy(in, "{\"job\":1,\"state\":\"trial\",\"reset\":\"brownout\"}");
	assert_int_equal(fl_proto_decode_status(&st, in, strlen(in), NULL), 0);
	assert_int_equal(st.reset, FL_WIRE_RESET_BROWNOUT);
	assert_int_equal(st.state, FL_STATE_TRIAL);
	strcpy(in, "{\"model\":\"m\",\"slots\":[{\"state\":\"confirmed\"},{"
		   "\"state\":\"bad\"}]}");
	assert_int_equal(fl_proto_decode_reported(&rep, in, strlen(in), NULL),
			 0);
	assert_int_equal(rep.slots[0].state, FL_WIRE_SLOT_CONFIRMED);
	assert_int_equal(rep.slots[1].state, FL_WIRE_SLOT_BAD);
	strcpy(in, "{\"type\":\"cancel\",\"job\":2,\"expires\":9}");
	assert_int_equal(fl_proto_decode_cmd(&cmd, in, strlen(in), NULL), 0);
	assert_int_equal(cmd.type, FL_CMD_CANCEL);
	strcpy(in, "{\"type\":\"\",\"job\":2,\"expires\":9}");
	assert_int_equal(fl_proto_decode_cmd(&cmd, in, strlen(in), NULL),
			 FL_ENOTSUP);
	/* Activation modes: through an offer, encoded and decoded. */
	for (uint8_t a = FL_ACTIVATE_NOW; a <= FL_ACTIVATE_WINDOW; a++) {
		static struct fl_cmd m, back;
		size_t len = 0;

		memset(&m, 0, sizeof(m));
		m.type = FL_CMD_OFFER;
		m.job = 3;
		m.expires = 99;
		m.manifest.v = FL_MANIFEST_ENV_VERSION;
		m.manifest.body_len = 2;
		memcpy(m.manifest.body, "{}", 2);
		m.activate = a;
		m.window_start_min = 60;
		m.window_end_min = 120;
		assert_int_equal(
			fl_proto_encode_cmd(out, sizeof(out), &len, &m), 0);
		assert_int_equal(strstr(out, "\"activate\":\"idle\"") != NULL,
				 a == FL_ACTIVATE_IDLE);
		assert_int_equal(strstr(out, "\"window\":\"01:00-02:00\"") !=
					 NULL,
				 a == FL_ACTIVATE_WINDOW);
		assert_int_equal(fl_proto_decode_cmd(&back, out, len, NULL), 0);
		assert_int_equal(back.activate, a);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diag__same_code_and_field_in_both_builds),
		cmocka_unit_test(test_diag__null_diag),
		cmocka_unit_test(test_names__every_vocabulary),
		cmocka_unit_test(test_names__through_the_decoders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
