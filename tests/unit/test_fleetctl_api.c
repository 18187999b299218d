/*
 * test_fleetctl_api.c -- the parts of fleetctl's API client (dashboard-
 * cli/api.c) that need no server: the base URL and its checks, escaped
 * paths and queries with their bound, the HTTP status to error mapping,
 * and a refused connection on a loopback port nobody listens on (the
 * answers of a real HTTP server are tests/integration/fleetctl_server.sh's).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "api.h"
#include "fl/err.h"

static void test_api__base_url(void **state)
{
	struct fl_api *api;
	struct fl_api_diag d;

	(void)state;
	/* fleetd speaks HTTPS unless started with --insecure */
	assert_string_equal(fl_api_base_url(NULL), "https://127.0.0.1:8780");
	assert_string_equal(fl_api_base_url(""), "https://127.0.0.1:8780");
	assert_string_equal(fl_api_base_url("http://h:1"), "http://h:1");
	assert_int_equal(fl_api_open(&api, "http://fleetd.example:8780//", &d),
			 0);
	assert_string_equal(fl_api_url(api), "http://fleetd.example:8780");
	fl_api_close(api);
	assert_int_equal(fl_api_open(&api, "HTTPS://h", &d), 0);
	fl_api_close(api);
	fl_api_close(NULL);
}

static void test_api__bad_urls(void **state)
{
	struct fl_api *api = (struct fl_api *)1;
	struct fl_api_diag d;
	char long_url[400];

	(void)state;
	assert_int_equal(fl_api_open(&api, "ftp://h", &d), FL_EINVAL);
	assert_null(api);
	assert_string_equal(d.msg, "the server must be an http:// or "
				   "https:// URL, not `ftp://h`");
	assert_int_equal(fl_api_open(&api, "127.0.0.1:8780", &d), FL_EINVAL);
	assert_int_equal(fl_api_open(&api, "http://h /x", &d), FL_EINVAL);
	assert_string_equal(d.msg, "the server URL has a space or a control "
				   "character");
	snprintf(long_url, sizeof(long_url), "http://%0300d", 0);
	assert_int_equal(fl_api_open(&api, long_url, &d), FL_EINVAL);
	assert_string_equal(d.msg, "the server URL is too long");
}

static void test_api__paths_escape_segments_and_values(void **state)
{
	struct fl_api_path p;

	(void)state;
	fl_api_path_init(&p, "/api/v1/rollouts");
	fl_api_path_seg(&p, "thermo-2.4.0_x~");
	fl_api_path_add(&p, "/pause");
	assert_string_equal(p.s, "/api/v1/rollouts/thermo-2.4.0_x~/pause");
	fl_api_path_init(&p, "/api/v1/devices");
	fl_api_path_seg(&p, "a/b c?d");
	assert_string_equal(p.s, "/api/v1/devices/a%2Fb%20c%3Fd");
	fl_api_path_init(&p, "/api/v1/devices");
	fl_api_path_query(&p, "label", "region=eu&x");
	fl_api_path_query(&p, "label", "site=lyon");
	fl_api_path_query(&p, "limit", "1000");
	assert_string_equal(p.s, "/api/v1/devices?label=region%3Deu%26x"
				 "&label=site%3Dlyon&limit=1000");
	assert_false(p.is_bad);
}

static void test_api__overlong_path_is_bad(void **state)
{
	struct fl_api_path p;
	char seg[FL_API_URL_MAX];

	(void)state;
	memset(seg, '/', sizeof(seg) - 1); /* each becomes %2F */
	seg[sizeof(seg) - 1] = '\0';
	fl_api_path_init(&p, "/api/v1/devices");
	fl_api_path_seg(&p, seg);
	assert_true(p.is_bad);
	assert_true(p.n < sizeof(p.s));
	assert_int_equal(p.s[p.n], '\0');
}

static void test_api__status_to_error(void **state)
{
	(void)state;
	assert_int_equal(fl_api_status_err(400), FL_EINVAL);
	assert_int_equal(fl_api_status_err(401), FL_ENOTSUP);
	assert_int_equal(fl_api_status_err(403), FL_ENOTSUP);
	assert_int_equal(fl_api_status_err(404), FL_ENOENT);
	assert_int_equal(fl_api_status_err(405), FL_ENOTSUP);
	assert_int_equal(fl_api_status_err(409), FL_ESTATE);
	assert_int_equal(fl_api_status_err(413), FL_ETOOBIG);
	assert_int_equal(fl_api_status_err(422), FL_EINVAL);
	assert_int_equal(fl_api_status_err(500), FL_EIO);
	assert_int_equal(fl_api_status_err(503), FL_EBUSY);
	assert_int_equal(fl_api_status_err(418), FL_EIO);
}

/* A loopback port bound but not listening: a connection is refused, and
 * no other process can take the port while *fd is open. */
static unsigned closed_port(int *fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(s >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
	*fd = s;
	return ntohs(sa.sin_port);
}

static void
test_api__refused_connection_says_fleetd_is_not_running(void **state)
{
	struct fl_api *api;
	struct fl_api_reply r;
	struct fl_api_diag d;
	struct fl_api_path p;
	char url[64], want[128];
	int fd;

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", closed_port(&fd));
	assert_int_equal(fl_api_open(&api, url, &d), 0);
	fl_api_path_init(&p, "/api/v1/status");
	assert_int_equal(fl_api_get(api, &p, 0, &r, &d), FL_EIO);
	assert_int_equal(r.status, 0);
	assert_null(r.json);
	url[strlen(url) - 1] = '\0';
	snprintf(want, sizeof(want), "fleetd is not running at %s", url);
	assert_string_equal(d.msg, want);
	/* a bad path fails before any connection */
	p.is_bad = 1;
	assert_int_equal(fl_api_get(api, &p, 0, &r, &d), FL_ETOOBIG);
	fl_api_reply_clear(&r);
	fl_api_close(api);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api__base_url),
		cmocka_unit_test(test_api__bad_urls),
		cmocka_unit_test(test_api__paths_escape_segments_and_values),
		cmocka_unit_test(test_api__overlong_path_is_bad),
		cmocka_unit_test(test_api__status_to_error),
		cmocka_unit_test(
			test_api__refused_connection_says_fleetd_is_not_running),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
