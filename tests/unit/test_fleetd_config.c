/*
 * test_fleetd_config.c -- fleetd's configuration (orchestrator/fleetd/
 * config.c): every key read, relative paths from the file's folder, every
 * refusal with its line and column (unknown keys with a did-you-mean,
 * keys given twice, values of the wrong form or range, nested values,
 * anchors, aliases, tags, empty and oversized files), and the value forms
 * the flags share (durations, log levels, broker URLs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "fl/err.h"
#include "fl/log.h"

static char dir[64];
static char path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/fleetd-config.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/fleetd.yaml", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

/* Loads text as the configuration file; the diagnostics in *d. */
static int load(struct fld_config *cfg, const char *text, struct fld_diags *d)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	fld_config_defaults(cfg);
	return fld_config_load(cfg, path, d);
}

/* The diagnostics printed, for matching. */
static const char *printed(const struct fld_diags *d)
{
	static char buf[8192];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	assert_non_null(f);
	fld_diags_print(d, f);
	fclose(f);
	return buf;
}

static void expect_error(const char *text, const char *where, const char *what)
{
	struct fld_config cfg;
	struct fld_diags d;
	char want[256];
	const char *out;

	assert_int_equal(load(&cfg, text, &d), FL_EINVAL);
	out = printed(&d);
	snprintf(want, sizeof(want), "%s%s%s: error: %s", path,
		 where[0] != '\0' ? ":" : "", where, what);
	if (strstr(out, want) == NULL) {
		fprintf(stderr, "want: %s\ngot:  %s", want, out);
		fail();
	}
}

static void test_config__defaults_and_every_key(void **state)
{
	struct fld_config cfg;
	struct fld_diags d;
	char want[256];

	(void)state;
	fld_config_defaults(&cfg);
	assert_string_equal(cfg.root, "fleet");
	assert_int_equal(cfg.log_level, FL_LOG_INFO);
	assert_string_equal(cfg.data, "");
	assert_int_equal(cfg.mqtt_publishers, 8);
	assert_int_equal(load(&cfg,
			      "# fleetd\n"
			      "data: state\n"
			      "listen: \"[::1]:8780\"\n"
			      "broker: mqtt://broker.local:1884\n"
			      "broker_port: 1999\n"
			      "mosquitto: /usr/sbin/mosquitto\n"
			      "root: acme/prod\n"
			      "artifact_url: http://fleet.example:8780/"
			      "artifacts/\n"
			      "client_id: fleetd-a\n"
			      "shared_subscriptions: true\n"
			      "insecure: true\n"
			      "log_level: debug\n"
			      "offer_ttl: 2h\n"
			      "resend: 90s\n"
			      "report_flush_ms: 20\n"
			      "report_batch: 100\n"
			      "mqtt_publishers: 3\n",
			      &d),
			 0);
	snprintf(want, sizeof(want), "%s/state", dir);
	assert_string_equal(cfg.data, want);
	assert_string_equal(cfg.listen, "[::1]:8780");
	assert_string_equal(cfg.broker, "mqtt://broker.local:1884");
	assert_int_equal(cfg.broker_port, 1999);
	assert_string_equal(cfg.mosquitto, "/usr/sbin/mosquitto");
	assert_string_equal(cfg.root, "acme/prod");
	assert_string_equal(cfg.artifact_url,
			    "http://fleet.example:8780/artifacts/");
	assert_string_equal(cfg.client_id, "fleetd-a");
	assert_true(cfg.is_shared);
	assert_true(cfg.is_insecure);
	assert_int_equal(cfg.log_level, FL_LOG_DEBUG);
	assert_int_equal(cfg.offer_ttl_s, 7200);
	assert_int_equal(cfg.resend_s, 90);
	assert_int_equal(cfg.report_flush_ms, 20);
	assert_int_equal(cfg.report_batch, 100);
	assert_int_equal(cfg.mqtt_publishers, 3);
	/* embedded, absolute data */
	assert_int_equal(load(&cfg, "broker: embedded\ndata: /var/lib/f\n", &d),
			 0);
	assert_string_equal(cfg.broker, "embedded");
	assert_string_equal(cfg.data, "/var/lib/f");
}

static void test_config__keys_refused_where_they_are(void **state)
{
	(void)state;
	expect_error("listen: 127.0.0.1:1\nbrokr: embedded\n", "2:1",
		     "unknown key `brokr`; did you mean `broker`?");
	expect_error("zzzzzz: 1\n", "1:1", "unknown key `zzzzzz`");
	expect_error("root: a\nroot: b\n", "2:1", "`root` given twice");
	expect_error("data:\n  a: b\n", "2:3", "`data` takes a single value");
	expect_error("data: [a, b]\n", "1:7", "`data` takes a single value");
	expect_error("data: ~\n", "1:7", "`data` needs a value");
	expect_error("data: \"\"\n", "1:7", "`data` needs a value");
	expect_error("- a\n- b\n", "1:1", "the file is one mapping");
	expect_error("just words\n", "1:1", "the file is one mapping");
	expect_error("root: &r fleet\n", "1:7", "anchors and aliases");
	expect_error("root: !!str fleet\n", "1:7", "tags are not allowed");
	expect_error("root: fleet\n---\nroot: x\n", "2:1",
		     "one document per file");
	expect_error("root: [\n", "2:1", "did not find expected node");
}

static void test_config__values_refused(void **state)
{
	(void)state;
	expect_error("broker: mqtts//h:8883\n", "1:9",
		     "`broker`: `mqtts//h:8883`: write embedded, "
		     "mqtts://HOST[:PORT] or mqtt://HOST[:PORT]");
	expect_error("broker: tcp://h\n", "1:9", "`broker`: `tcp://h`");
	expect_error("broker_port: 0\n", "1:14", "`broker_port`: `0`: 1 to");
	expect_error("broker_port: 70000\n", "1:14", "`broker_port`");
	expect_error("broker_port: -1\n", "1:14", "`broker_port`");
	expect_error("root: a/+/b\n", "1:7", "`root`: `a/+/b`");
	expect_error("root: $SYS\n", "1:7", "`root`");
	expect_error("log_level: loud\n", "1:12",
		     "`log_level`: `loud`: error, warning, info or debug");
	expect_error("offer_ttl: 0s\n", "1:12", "`offer_ttl`: `0s`");
	expect_error("resend: soon\n", "1:9", "`resend`: `soon`");
	expect_error("client_id: -x\n", "1:12", "`client_id`: `-x`");
	expect_error("artifact_url: ftp://x/\n", "1:15", "`artifact_url`");
	expect_error("insecure: yes\n", "1:11",
		     "`insecure`: `yes`: write true or false");
	expect_error("report_batch: 5000\n", "1:15", "`report_batch`");
	expect_error("mqtt_publishers: 33\n", "1:18",
		     "`mqtt_publishers`: `33`: 0 to 32");
	expect_error("mqtt_publishers: -1\n", "1:18", "`mqtt_publishers`");
	expect_error("report_flush_ms: 0\n", "1:18", "`report_flush_ms`");
}

static void test_config__several_errors_at_once(void **state)
{
	struct fld_config cfg;
	struct fld_diags d;

	(void)state;
	assert_int_equal(load(&cfg,
			      "log_level: loud\n"
			      "brokr: x\n"
			      "broker_port: 0\n",
			      &d),
			 FL_EINVAL);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.d[0].line, 1);
	assert_int_equal(d.d[1].line, 2);
	assert_int_equal(d.d[2].line, 3);
}

static void test_config__files(void **state)
{
	struct fld_config cfg;
	struct fld_diags d;
	char *big;

	(void)state;
	expect_error("", "", "empty file");
	expect_error("# only a comment\n", "", "empty file");
	fld_config_defaults(&cfg);
	assert_int_equal(fld_config_load(&cfg, "/nonexistent/fleetd.yaml", &d),
			 FL_ENOENT);
	assert_non_null(strstr(printed(&d), "cannot read"));
	big = malloc(FLD_FILE_MAX + 2);
	assert_non_null(big);
	memset(big, '#', FLD_FILE_MAX + 1);
	big[FLD_FILE_MAX + 1] = '\0';
	assert_int_equal(load(&cfg, big, &d), FL_ETOOBIG);
	free(big);
	/* A file of exactly the limit is read. */
	big = malloc(FLD_FILE_MAX + 1);
	assert_non_null(big);
	memset(big, '#', FLD_FILE_MAX);
	memcpy(big, "root: x\n", 8);
	big[FLD_FILE_MAX] = '\0';
	assert_int_equal(load(&cfg, big, &d), 0);
	assert_string_equal(cfg.root, "x");
	free(big);
}

static void test_config__value_forms(void **state)
{
	uint32_t s = 0;
	int level = -1;
	char host[64];
	uint16_t port = 0;
	bool is_tls = false;

	(void)state;
	assert_int_equal(fld_parse_duration("90s", &s), 0);
	assert_int_equal(s, 90);
	assert_int_equal(fld_parse_duration("5m", &s), 0);
	assert_int_equal(s, 300);
	assert_int_equal(fld_parse_duration("2h", &s), 0);
	assert_int_equal(s, 7200);
	assert_int_equal(fld_parse_duration("1d", &s), 0);
	assert_int_equal(s, 86400);
	assert_int_equal(fld_parse_duration("42", &s), 0);
	assert_int_equal(s, 42);
	assert_int_equal(fld_parse_duration("0", &s), FL_EINVAL);
	assert_int_equal(fld_parse_duration("", &s), FL_EINVAL);
	assert_int_equal(fld_parse_duration("s", &s), FL_EINVAL);
	assert_int_equal(fld_parse_duration("1w", &s), FL_EINVAL);
	assert_int_equal(fld_parse_duration("-1s", &s), FL_EINVAL);
	assert_int_equal(fld_parse_duration("50000d", &s), FL_EINVAL);
	assert_int_equal(fld_parse_duration("4294967296", &s), FL_EINVAL);

	assert_int_equal(fld_parse_log_level("warning", &level), 0);
	assert_int_equal(level, FL_LOG_WARN);
	assert_int_equal(fld_parse_log_level("WARN", &level), FL_EINVAL);

	assert_int_equal(
		fld_parse_broker_url("mqtt://b", host, sizeof(host), &port), 0);
	assert_string_equal(host, "b");
	assert_int_equal(port, 1883);
	assert_int_equal(fld_parse_broker_url("mqtt://10.0.0.1:1884", host,
					      sizeof(host), &port),
			 0);
	assert_string_equal(host, "10.0.0.1");
	assert_int_equal(port, 1884);
	assert_int_equal(fld_parse_broker_url("mqtt://[::1]:1885", host,
					      sizeof(host), &port),
			 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 1885);
	assert_int_equal(
		fld_parse_broker_url("mqtt://[::1]", host, sizeof(host), &port),
		0);
	assert_int_equal(port, 1883);
	assert_int_equal(
		fld_parse_broker_url("mqtt://", host, sizeof(host), &port),
		FL_EINVAL);
	assert_int_equal(
		fld_parse_broker_url("mqtt://b:0", host, sizeof(host), &port),
		FL_EINVAL);
	assert_int_equal(fld_parse_broker_url("mqtt://b:65536", host,
					      sizeof(host), &port),
			 FL_EINVAL);
	assert_int_equal(
		fld_parse_broker_url("mqtt://b:", host, sizeof(host), &port),
		FL_EINVAL);
	assert_int_equal(
		fld_parse_broker_url("mqtt://b/x", host, sizeof(host), &port),
		FL_EINVAL);
	assert_int_equal(
		fld_parse_broker_url("mqtt://[::1", host, sizeof(host), &port),
		FL_EINVAL);
	assert_int_equal(fld_parse_broker_url("mqtt://[::1]x", host,
					      sizeof(host), &port),
			 FL_EINVAL);
	assert_int_equal(
		fld_parse_broker_url("http://b", host, sizeof(host), &port),
		FL_EINVAL);
	assert_int_equal(fld_parse_broker_url("mqtt://abcdef", host, 4, &port),
			 FL_EINVAL);
	/* TLS: mqtts://, 8883 by default; the plain-only parser refuses it. */
	assert_int_equal(fld_parse_broker("mqtts://b", host, sizeof(host),
					  &port, &is_tls),
			 0);
	assert_true(is_tls);
	assert_string_equal(host, "b");
	assert_int_equal(port, 8883);
	assert_int_equal(fld_parse_broker("mqtts://[::1]:1884", host,
					  sizeof(host), &port, &is_tls),
			 0);
	assert_true(is_tls);
	assert_int_equal(port, 1884);
	assert_int_equal(fld_parse_broker("mqtt://b", host, sizeof(host), &port,
					  &is_tls),
			 0);
	assert_false(is_tls);
	assert_int_equal(fld_parse_broker("mqtts:/b", host, sizeof(host), &port,
					  &is_tls),
			 FL_EINVAL);
	assert_int_equal(
		fld_parse_broker_url("mqtts://b", host, sizeof(host), &port),
		FL_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config__defaults_and_every_key),
		cmocka_unit_test(test_config__keys_refused_where_they_are),
		cmocka_unit_test(test_config__values_refused),
		cmocka_unit_test(test_config__several_errors_at_once),
		cmocka_unit_test(test_config__files),
		cmocka_unit_test(test_config__value_forms),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
