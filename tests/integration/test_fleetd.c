/*
 * test_fleetd.c -- fleetd end to end: the real fleetd program with its
 * embedded mosquitto, fleets of fleet-sim devices, rollouts started and
 * followed through the REST API (libcurl), the event log and the devices
 * read back from it.
 *
 *   test_fleetd SCENARIO FLEETD FLEET_SIM MOSQUITTO [FLEETCTL]
 *
 * One scenario per run (ctest runs them side by side), each in its own
 * temporary folder with its own ports:
 *
 *   basics    usage errors (exit 2), --version, a bad configuration
 *             (exit 1, FILE:LINE:COL), a second fleetd on the same data
 *             refused, SIGTERM and SIGINT stop fleetd and its broker,
 *             kill -9 leaves no broker behind and the next start copes
 *             with the stale broker.pid; a stale broker still running
 *             is stopped; the broker's port taken by another program is
 *             refused with the reason;
 *   good      a good version through a canary and two waves to complete
 *             (started and checked with fleetctl when it is given),
 *             every device on it; every command seen by another client:
 *             QoS 1, not retained, message expiry = expires - now;
 *   canary    a bad version caught in the canary and rolled back: no
 *             device beyond the canary offered, every device back;
 *   wave      a bad version (on the main fleet only) caught in a later
 *             wave: the canary, which had committed it, rolled back with
 *             the rest, every device back on its old version;
 *   kill      fleetd killed with -9 at four points of a rollout and
 *             started again each time: the rollout completes, the event
 *             log has no gap, every device got one offer job, succeeded
 *             once and never failed;
 *   broker    the embedded broker killed mid-rollout: fleetd starts it
 *             again, its client (statuses through shared subscriptions)
 *             and the devices reconnect, the rollout completes;
 *   offline   part of the fleet offline when its stage starts: unreached,
 *             never offered while away, the stage waits; the devices come
 *             back later, are offered and install it;
 *   window    a maintenance window in the devices' own zone (a TZif
 *             file the test writes in its $TZDIR, so that 03:00 there
 *             is seconds away) delays the first stage: it starts, its
 *             member waits, nothing is offered; offers once it opens;
 *   hold      a stage awaiting approval, then its members held by a
 *             hold: nothing offered past it until `fleetctl approve`
 *             lifts it; both approvals in the log with who and when;
 *   rollback_away  a canary device away (its process frozen, its Will
 *             published) during a fleet-wide rollback: the rollout stays
 *             rolling_back with it "rollback unreached", through a kill
 *             -9, until health.rollback_timeout; rolled back; fleetd
 *             killed again; the device returns, is told again, and its
 *             late revert is recorded;
 *   away      devices away during their offer: frozen before it reached
 *             them (unreached, offered again on return, same job) and in
 *             the middle of a slow download (in flight while away); all
 *             finish their one job.
 *
 *   security  device identity and the wire: no certificate, another
 *             CA's, plain text all refused by the broker; a device
 *             publishing as another refused and never delivered; a
 *             device asking for another's client id; a device
 *             subscribed to another's commands gets none of them; HTTPS
 *             without the fleet CA or with another refused;
 *   insecure  --insecure: plain text, the warning, fleet_insecure 1.
 *   revoke    `fleetd pki revoke` while fleetd runs: the broker restarts,
 *             the revoked device's open connection is dropped and it is
 *             refused from then on, another device reconnects, a rollout
 *             still completes; revoking again, an unknown id, a bad
 *             serial change nothing; a CRL near its next update is
 *             re-signed (running: without a broker restart; and at
 *             start); a revocation made while fleetd is stopped holds at
 *             its next start, and a device issued again connects; a
 *             publisher certificate not its key's is made again at start.
 *
 * fleetd runs with TLS as it does by default: the helpers trust its CA
 * (DATA/pki/ca.crt: curl, fleetctl through FLEET_CA), fleet-sim connects
 * with mqtts:// and per-device certificates issued by `fleetd pki
 * devices`, the watcher of `good` is observer@fleet. A scenario that
 * wants plain text puts `insecure: true` in its configuration lines; the
 * helpers follow what fleetd's start line says.
 *
 * FLEETD_TEST_KEEP=1 keeps the folder (fleetd.log, sim-*.log) for a look.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <openssl/evp.h>

extern char **environ;

#define WAIT_S	    90 /* any one wait; ASan on two slow cores */
#define MODEL	    "sim-model"
#define IMAGE_BYTES 20000
#define MAX_EVENTS  20000
#define MAX_DEVS    64
#define PATH_LEN    512

static const char *scenario, *fleetd_bin, *sim_bin, *mosquitto_bin;
static const char *fleetctl_bin; /* NULL: started through the API */
static char tmp[256];
static char sha[65]; /* the 2.0.0 image */

/* ---- small things -------------------------------------------------------- */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000),
			      (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void path_of(char *out, size_t size, const char *name)
{
	int n = snprintf(out, size, "%s/%s", tmp, name);

	assert_true(n > 0 && (size_t)n < size);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	n = (long)fread(buf, 1, (size_t)n, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static uint16_t free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(s);
	return port;
}

static bool can_connect(uint16_t port)
{
	struct sockaddr_in a;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	ok = s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (s >= 0)
		close(s);
	return ok;
}

static bool is_alive(pid_t pid)
{
	char path[64], buf[512];
	FILE *f;
	size_t n;
	const char *p;

	if (pid <= 0 || kill(pid, 0) != 0)
		return false;
	/* A zombie (its parent gone and nobody reaping) is not alive. */
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p == NULL || p[1] != ' ' || (p[2] != 'Z' && p[2] != 'X');
}

/* ---- processes ----------------------------------------------------------- */

/* Starts argv with stdout and stderr appended to files (NULL: /dev/null). */
static pid_t spawn(const char *const argv[], const char *out, const char *err)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out ? out : "/dev/null",
					 O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err ? err : "/dev/null",
					 O_WRONLY | O_CREAT | O_APPEND, 0600);
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL,
				     (char *const *)argv, environ),
			 0);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

/* Waits for pid to end, at most ms; its exit status, or -1 (still running,
 * or killed by a signal: -signal). */
static int wait_pid(pid_t pid, unsigned ms)
{
	uint64_t end = now_ms() + ms;
	int st = 0;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
		if (r < 0 || now_ms() >= end)
			return -1000;
		sleep_ms(20);
	}
}

static int run_status(const char *const argv[], const char *err)
{
	pid_t pid = spawn(argv, NULL, err);

	return wait_pid(pid, WAIT_S * 1000);
}

static void stop_pid(pid_t *pid, int sig)
{
	if (*pid <= 0)
		return;
	kill(*pid, sig);
	if (wait_pid(*pid, 20000) == -1000) {
		kill(*pid, SIGKILL);
		(void)wait_pid(*pid, 5000);
	}
	*pid = -1;
}

/* ---- fleetd -------------------------------------------------------------- */

struct fleetd {
	pid_t pid;
	unsigned starts;
	uint16_t broker_port;
	char conf[PATH_LEN], log[PATH_LEN], data[PATH_LEN];
	char api[128];
	/* TLS (fleetd's default): its CA, which http(), metric(), fleetctl
	 * (FLEET_CA) and fleet-sim trust; "" with `insecure: true`. */
	char ca[PATH_LEN + 32];
};

static struct fleetd fd_;

static void fleetd_config(struct fleetd *f, const char *extra)
{
	char text[2048];

	path_of(f->conf, sizeof(f->conf), "fleetd.yaml");
	path_of(f->log, sizeof(f->log), "fleetd.log");
	path_of(f->data, sizeof(f->data), "data");
	/* Fixed ports: the manifests of a rollout name the artifact server's
	 * address, and devices are configured with the broker's. */
	f->broker_port = free_port();
	snprintf(text, sizeof(text),
		 "# fleetd for %s\n"
		 "data: %s\n"
		 "listen: 127.0.0.1:%u\n"
		 "broker: embedded\n"
		 "broker_port: %u\n"
		 "mosquitto: %s\n"
		 "log_level: debug\n"
		 "resend: 3s\n"
		 "offer_ttl: 1h\n"
		 "%s",
		 scenario, f->data, (unsigned)free_port(),
		 (unsigned)f->broker_port, mosquitto_bin,
		 extra != NULL ? extra : "");
	write_text(f->conf, text);
}

/* "Authorization: Bearer TOKEN" of the admin token fleetd wrote at its
 * first start (DATA/admin.token): every request of http() and metric()
 * sends it, and fleetctl gets it through FLEET_TOKEN. */
static char auth_hdr[256];

static void read_admin_token(const struct fleetd *f)
{
	char path[PATH_LEN + 32];
	char *text;
	size_t n;

	snprintf(path, sizeof(path), "%s/admin.token", f->data);
	text = read_text(path);
	assert_non_null(text);
	n = strcspn(text, "\r\n");
	text[n] = '\0';
	assert_true(n > 0 && n < sizeof(auth_hdr) - 32);
	snprintf(auth_hdr, sizeof(auth_hdr), "Authorization: Bearer %s", text);
	assert_int_equal(setenv("FLEET_TOKEN", text, 1), 0);
	free(text);
}

/* The token of operator `name` (made with `fleetd token create NAME
 * --role ROLE` the first time, in the running fleetd's data folder): its
 * text in raw (cap bytes) and its Authorization header (static, one per
 * name). An action's `who` is its token's name. */
static const char *token_of(const char *name, const char *role, char *raw,
			    size_t cap)
{
	static struct {
		char name[33], raw[200], hdr[232];
	} made[8];
	static unsigned n_made;
	char out[PATH_LEN], err[PATH_LEN];
	char *text;
	unsigned i;

	for (i = 0; i < n_made; i++)
		if (strcmp(made[i].name, name) == 0)
			break;
	if (i == n_made) {
		const char *argv[] = {fleetd_bin, "token",  "create",
				      name,	  "--role", role,
				      "--data",	  fd_.data, NULL};
		size_t n;

		assert_true(n_made < 8);
		path_of(out, sizeof(out), "token.out");
		path_of(err, sizeof(err), "token.err");
		unlink(out);
		assert_int_equal(wait_pid(spawn(argv, out, err), WAIT_S * 1000),
				 0);
		text = read_text(out);
		assert_non_null(text);
		n = strcspn(text, "\r\n");
		text[n] = '\0';
		assert_true(n > 0 && n < sizeof(made[0].raw));
		snprintf(made[i].name, sizeof(made[i].name), "%s", name);
		snprintf(made[i].raw, sizeof(made[i].raw), "%s", text);
		snprintf(made[i].hdr, sizeof(made[i].hdr),
			 "Authorization: Bearer %s", text);
		free(text);
		n_made++;
	}
	if (raw != NULL)
		snprintf(raw, cap, "%s", made[i].raw);
	return made[i].hdr;
}

/* Starts fleetd and waits for its "API on" line. */
static void fleetd_start(struct fleetd *f)
{
	char out[PATH_LEN], name[32];
	const char *argv[] = {fleetd_bin, "--config", f->conf, NULL};
	uint64_t end = now_ms() + WAIT_S * 1000u;

	snprintf(name, sizeof(name), "fleetd-%u.out", ++f->starts);
	path_of(out, sizeof(out), name);
	f->pid = spawn(argv, out, f->log);
	for (;;) {
		char *text = read_text(out);
		const char *p = text ? strstr(text, "fleetd: API on ") : NULL;
		unsigned bport = 0;

		if (p != NULL) {
			char api[128];

			const char *b = strstr(p, "://127.0.0.1:");

			/* https:// and mqtts:// unless `insecure: true`. */
			assert_int_equal(
				sscanf(p, "fleetd: API on %127[^,], ", api), 1);
			assert_non_null(b);
			b = strstr(b + 1, "://127.0.0.1:");
			assert_non_null(b);
			assert_int_equal(sscanf(b, "://127.0.0.1:%u", &bport),
					 1);
			snprintf(f->api, sizeof(f->api), "%s", api);
			assert_int_equal(bport, f->broker_port);
			f->ca[0] = '\0';
			if (strncmp(api, "https://", 8) == 0) {
				assert_non_null(strstr(p, ", broker mqtts://"));
				snprintf(f->ca, sizeof(f->ca), "%s/pki/ca.crt",
					 f->data);
				assert_int_equal(setenv("FLEET_CA", f->ca, 1),
						 0);
			} else {
				assert_non_null(strstr(p, "(--insecure"));
			}
			free(text);
			read_admin_token(f);
			return;
		}
		free(text);
		if (!is_alive(f->pid) || now_ms() > end) {
			char *log = read_text(f->log);

			fprintf(stderr, "fleetd did not start:\n%s\n",
				log ? log : "");
			free(log);
			fail();
		}
		sleep_ms(50);
	}
}

static pid_t broker_pid(const struct fleetd *f)
{
	char path[PATH_LEN + 32];
	char *text;
	long pid = -1;

	snprintf(path, sizeof(path), "%s/mosquitto/broker.pid", f->data);
	text = read_text(path);
	if (text != NULL && sscanf(text, "%ld", &pid) != 1)
		pid = -1;
	free(text);
	return (pid_t)pid;
}

/* ---- HTTP ---------------------------------------------------------------- */

struct buf {
	char *p;
	size_t n;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;
	char *q = realloc(b->p, b->n + size * n + 1);

	assert_non_null(q);
	memcpy(q + b->n, p, size * n);
	b->n += size * n;
	q[b->n] = '\0';
	b->p = q;
	return size * n;
}

/* One request to fleetd's API with this Authorization header (NULL:
 * none); the status (0: no answer), the JSON body in *json if asked (the
 * caller's, cJSON_Delete). */
static long http_as(const char *auth, const char *method, const char *path,
		    const void *body, size_t len, const char *type,
		    cJSON **json)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct buf b = {NULL, 0};
	char url[512], ct[64];
	long status = 0;

	assert_non_null(c);
	snprintf(url, sizeof(url), "%s%s", fd_.api, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (fd_.ca[0] != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, fd_.ca);
	if (auth != NULL)
		h = curl_slist_append(h, auth);
	if (body != NULL) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", type);
		h = curl_slist_append(h, ct);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
	}
	if (h != NULL)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (json != NULL)
		*json = b.p != NULL ? cJSON_Parse(b.p) : NULL;
	free(b.p);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

/* http_as() with the admin token. */
static long http(const char *method, const char *path, const void *body,
		 size_t len, const char *type, cJSON **json)
{
	return http_as(auth_hdr, method, path, body, len, type, json);
}

static cJSON *get_json(const char *path)
{
	cJSON *j = NULL;
	long st = http("GET", path, NULL, 0, NULL, &j);

	if (st != 200) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* ---- the fleet ----------------------------------------------------------- */

struct sim {
	pid_t pid;
	char prefix[16];
	unsigned n;
	const char *labels, *bad;
	unsigned seed;
	const char *tz;	    /* --tz, NULL: UTC */
	unsigned keepalive; /* --keepalive, 0: 10 s */
	unsigned rate;	    /* --rate (bytes/s), 0: unlimited */
	unsigned chunk_max; /* --chunk-max (bytes), 0: fleet-sim's 16 KiB */
};

/* Certificates for prefix-000001 ... prefix-n in dir, from fleetd's CA
 * (fleetd pki devices); those already there are kept. */
static void sim_certs(const char *prefix, unsigned n, const char *dir)
{
	char count[16], err[PATH_LEN], first[PATH_LEN + 64];
	const char *argv[] = {fleetd_bin, "pki",     "devices", "--prefix",
			      prefix,	  "--count", count,	"--out",
			      dir,	  "--data",  fd_.data,	NULL};

	snprintf(first, sizeof(first), "%s/%s-%06u.crt", dir, prefix, n);
	if (access(first, F_OK) == 0)
		return;
	(void)mkdir(dir, 0700);
	snprintf(count, sizeof(count), "%u", n);
	path_of(err, sizeof(err), "pki.err");
	assert_int_equal(run_status(argv, err), 0);
}

static void sim_start(struct sim *s)
{
	char certs[PATH_LEN];
	char broker[64], count[16], key[PATH_LEN + 32], log[PATH_LEN], name[48],
		seed[16], keepalive[16], rate[16], chunk_max[16];
	const char *argv[40];
	int i = 0;

	snprintf(broker, sizeof(broker), "%s://127.0.0.1:%u",
		 fd_.ca[0] ? "mqtts" : "mqtt", (unsigned)fd_.broker_port);
	snprintf(count, sizeof(count), "%u", s->n);
	snprintf(key, sizeof(key), "%s/keys/signing.pub", fd_.data);
	snprintf(name, sizeof(name), "sim-%s.log", s->prefix);
	snprintf(seed, sizeof(seed), "%u", s->seed);
	snprintf(keepalive, sizeof(keepalive), "%u",
		 s->keepalive ? s->keepalive : 10);
	snprintf(rate, sizeof(rate), "%u", s->rate);
	path_of(log, sizeof(log), name);
	argv[i++] = sim_bin;
	argv[i++] = "--broker";
	argv[i++] = broker;
	argv[i++] = "--count";
	argv[i++] = count;
	argv[i++] = "--prefix";
	argv[i++] = s->prefix;
	argv[i++] = "--model";
	argv[i++] = MODEL;
	argv[i++] = "--version";
	argv[i++] = "1.0.0";
	argv[i++] = "--key";
	argv[i++] = key;
	argv[i++] = "--reboot-ms";
	argv[i++] = "200";
	argv[i++] = "--health-interval";
	argv[i++] = "1";
	argv[i++] = "--keepalive";
	argv[i++] = keepalive;
	argv[i++] = "--image-size";
	argv[i++] = "8192";
	argv[i++] = "--seed";
	argv[i++] = seed;
	argv[i++] = "--verbose";
	if (s->labels != NULL) {
		argv[i++] = "--labels";
		argv[i++] = s->labels;
	}
	if (s->bad != NULL) {
		argv[i++] = "--bad-version";
		argv[i++] = s->bad;
	}
	if (s->tz != NULL) {
		argv[i++] = "--tz";
		argv[i++] = s->tz;
	}
	if (s->rate != 0) {
		argv[i++] = "--rate";
		argv[i++] = rate;
	}
	if (s->chunk_max != 0) {
		snprintf(chunk_max, sizeof(chunk_max), "%u", s->chunk_max);
		argv[i++] = "--chunk-max";
		argv[i++] = chunk_max;
	}
	if (fd_.ca[0] != '\0') {
		/* Each device its certificate, issued by fleetd's CA. */
		path_of(certs, sizeof(certs), "certs");
		sim_certs(s->prefix, s->n, certs);
		argv[i++] = "--cafile";
		argv[i++] = fd_.ca;
		argv[i++] = "--certs";
		argv[i++] = certs;
	}
	argv[i] = NULL;
	s->pid = spawn(argv, log, log);
}

/* The devices fleetd knows with this prefix: how many, how many online,
 * how many run version v (NULL: not counted). */
struct census {
	unsigned known, online, on_version;
};

static struct census census(const char *prefix, const char *v)
{
	struct census c = {0, 0, 0};
	cJSON *j = get_json("/api/v1/devices?limit=1000");
	const cJSON *d;

	if (j == NULL)
		return c;
	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(j, "devices"))
	{
		const char *id = jstr(d, "id");
		const cJSON *vers, *fw;

		if (id == NULL || strncmp(id, prefix, strlen(prefix)) != 0 ||
		    id[strlen(prefix)] != '-')
			continue;
		c.known++;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "online")))
			c.online++;
		vers = cJSON_GetObjectItemCaseSensitive(d, "versions");
		fw = cJSON_GetObjectItemCaseSensitive(vers, "firmware");
		if (v != NULL && cJSON_IsString(fw) &&
		    strcmp(fw->valuestring, v) == 0)
			c.on_version++;
	}
	cJSON_Delete(j);
	return c;
}

static void wait_online(const char *prefix, unsigned n)
{
	uint64_t end = now_ms() + WAIT_S * 1000u;
	struct census c;

	while ((c = census(prefix, NULL)).online < n) {
		if (now_ms() > end) {
			fprintf(stderr, "%s: %u of %u devices online\n", prefix,
				c.online, n);
			fail();
		}
		sleep_ms(200);
	}
}

static void wait_versions(const char *prefix, unsigned n, const char *v)
{
	uint64_t end = now_ms() + WAIT_S * 1000u;
	struct census c;

	while ((c = census(prefix, v)).on_version < n) {
		if (now_ms() > end) {
			fprintf(stderr, "%s: %u of %u devices on %s\n", prefix,
				c.on_version, n, v);
			fail();
		}
		sleep_ms(200);
	}
}

/* A sample of /metrics by its name and labels; -1 if absent. */
static double metric(const char *series)
{
	struct buf b = {NULL, 0};
	CURL *c = curl_easy_init();
	struct curl_slist *h;
	char url[256];
	double v = -1;
	const char *p;

	snprintf(url, sizeof(url), "%s/metrics", fd_.api);
	h = curl_slist_append(NULL, auth_hdr);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (fd_.ca[0] != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, fd_.ca);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	if (curl_easy_perform(c) == CURLE_OK && b.p != NULL)
		for (p = b.p; p != NULL; p = strchr(p, '\n')) {
			if (*p == '\n')
				p++;
			if (strncmp(p, series, strlen(series)) == 0 &&
			    p[strlen(series)] == ' ') {
				v = strtod(p + strlen(series) + 1, NULL);
				break;
			}
		}
	free(b.p);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return v;
}

/* ---- rollouts ------------------------------------------------------------ */

static void make_image(void)
{
	unsigned char img[IMAGE_BYTES], md[32];
	unsigned md_len = 0;
	char path[PATH_LEN];
	FILE *f;

	for (size_t i = 0; i < sizeof(img); i++)
		img[i] = (unsigned char)(i * 7u + 3u);
	memcpy(img, "fw 2.0.0", 8);
	assert_int_equal(
		EVP_Digest(img, sizeof(img), md, &md_len, EVP_sha256(), NULL),
		1);
	for (unsigned i = 0; i < 32; i++)
		snprintf(sha + 2 * i, 3, "%02x", md[i]);
	path_of(path, sizeof(path), "fw-2.0.0.bin");
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(img, 1, sizeof(img), f), sizeof(img));
	assert_int_equal(fclose(f), 0);
}

static void upload_image(void)
{
	char path[PATH_LEN], url[128];
	char *img;
	long st;

	path_of(path, sizeof(path), "fw-2.0.0.bin");
	img = read_text(path);
	assert_non_null(img);
	/* Over TLS every device has a wrap key (fleetd pki devices): the
	 * image is stored and sent encrypted; insecure runs store it plain
	 * (their plans say encrypt: false). */
	snprintf(url, sizeof(url), "/api/v1/artifacts/%s%s", sha,
		 fd_.ca[0] ? "" : "?encrypt=false");
	st = http("PUT", url, img, IMAGE_BYTES, "application/octet-stream",
		  NULL);
	free(img);
	assert_true(st == 200 || st == 201);
}

/* A plan for 2.0.0: a short soak, more health keys (YAML lines indented
 * by two, or ""), more top-level sections (windows, holds; or ""), its
 * stages. */
static void plan_text_x(char *plan, size_t cap, const char *name,
			const char *health, const char *sections,
			const char *stages)
{
	snprintf(plan, cap,
		 "rollout: %s\n"
		 "artifact:\n"
		 "  version: 2.0.0\n"
		 "  file: fw-2.0.0.bin\n"
		 "  hardware: [" MODEL "]\n"
		 "%s"
		 "health:\n"
		 "  soak: 2s\n"
		 "  on_failure: rollback\n"
		 "%s"
		 "%s"
		 "stages:\n%s",
		 name, fd_.ca[0] ? "" : "  encrypt: false\n", health, sections,
		 stages);
}

static void plan_text(char *plan, size_t cap, const char *name,
		      const char *stages)
{
	plan_text_x(plan, cap, name, "", "", stages);
}

static void start_plan(const char *plan);

static void start_rollout(const char *name, const char *stages)
{
	char plan[2048];

	plan_text(plan, sizeof(plan), name, stages);
	start_plan(plan);
}

static void start_plan(const char *plan)
{
	cJSON *req = cJSON_CreateObject(), *ans = NULL;
	char *body;
	long st;

	cJSON_AddStringToObject(req, "plan", plan);
	cJSON_AddStringToObject(req, "plan_file", "test.yaml");
	cJSON_AddStringToObject(req, "artifact_sha256", sha);
	cJSON_AddStringToObject(req, "who", "test");
	body = cJSON_PrintUnformatted(req);
	st = http("POST", "/api/v1/rollouts", body, strlen(body),
		  "application/json", &ans);
	if (st != 201) {
		char *a = ans ? cJSON_Print(ans) : NULL;

		fprintf(stderr, "rollout start: %ld %s\n", st, a ? a : "");
		free(a);
	}
	assert_int_equal(st, 201);
	cJSON_Delete(ans);
	cJSON_Delete(req);
	free(body);
}

static char *rollout_state(const char *name)
{
	char path[128];
	cJSON *j;
	char *s = NULL;

	snprintf(path, sizeof(path), "/api/v1/rollouts/%s", name);
	j = get_json(path);
	if (j != NULL && jstr(j, "state") != NULL)
		s = strdup(jstr(j, "state"));
	cJSON_Delete(j);
	return s;
}

static void wait_state(const char *name, const char *want)
{
	uint64_t end = now_ms() + WAIT_S * 1000u;

	for (;;) {
		char *s = rollout_state(name);
		bool is_it = s != NULL && strcmp(s, want) == 0;

		if (is_it) {
			free(s);
			return;
		}
		if (now_ms() > end) {
			fprintf(stderr, "rollout %s is %s, not %s\n", name,
				s ? s : "(no answer)", want);
			free(s);
			fail();
		}
		free(s);
		sleep_ms(200);
	}
}

/* ---- the event log ------------------------------------------------------- */

struct ev {
	uint64_t seq;
	int64_t at;
	char kind[40];
	char device[64];
	char stage[32];
	char who[32]; /* detail.who */
	uint32_t job;
	int why; /* detail.why, 0 when absent */
};

static struct ev evs[MAX_EVENTS];
static size_t n_evs;

/* Reads the whole log (every rollout) into evs. */
static void read_events(void)
{
	uint64_t after = 0;

	n_evs = 0;
	for (;;) {
		char path[96];
		cJSON *j, *list;
		const cJSON *e;
		int n;

		snprintf(path, sizeof(path),
			 "/api/v1/events?after=%llu&limit=1000",
			 (unsigned long long)after);
		j = get_json(path);
		assert_non_null(j);
		list = cJSON_GetObjectItemCaseSensitive(j, "events");
		n = cJSON_GetArraySize(list);
		cJSON_ArrayForEach(e, list)
		{
			struct ev *x = &evs[n_evs];
			const cJSON *detail =
				cJSON_GetObjectItemCaseSensitive(e, "detail");
			double job = jnum(detail, "job");

			assert_true(n_evs < MAX_EVENTS);
			memset(x, 0, sizeof(*x));
			x->seq = (uint64_t)jnum(e, "seq");
			x->at = (int64_t)jnum(e, "at");
			snprintf(x->who, sizeof(x->who), "%s",
				 jstr(detail, "who") ? jstr(detail, "who")
						     : "");
			x->why = jnum(detail, "why") > 0
					 ? (int)jnum(detail, "why")
					 : 0;
			snprintf(x->kind, sizeof(x->kind), "%s",
				 jstr(e, "kind") ? jstr(e, "kind") : "");
			snprintf(x->device, sizeof(x->device), "%s",
				 jstr(e, "device") ? jstr(e, "device") : "");
			snprintf(x->stage, sizeof(x->stage), "%s",
				 jstr(e, "stage") ? jstr(e, "stage") : "");
			x->job = job > 0 ? (uint32_t)job : 0;
			after = x->seq;
			n_evs++;
		}
		cJSON_Delete(j);
		if (n == 0)
			break;
	}
}

static bool has_event(const char *kind, const char *device)
{
	for (size_t i = 0; i < n_evs; i++)
		if (strcmp(evs[i].kind, kind) == 0 &&
		    (device == NULL || strcmp(evs[i].device, device) == 0))
			return true;
	return false;
}

static unsigned count_events(const char *kind, const char *device)
{
	unsigned n = 0;

	for (size_t i = 0; i < n_evs; i++)
		if (strcmp(evs[i].kind, kind) == 0 &&
		    (device == NULL || strcmp(evs[i].device, device) == 0))
			n++;
	return n;
}

/* Waits until the log holds an event of this kind (any device). */
static void wait_event(const char *kind)
{
	uint64_t end = now_ms() + WAIT_S * 1000u;

	for (;;) {
		read_events();
		if (has_event(kind, NULL))
			return;
		if (now_ms() > end) {
			fprintf(stderr, "no %s event\n", kind);
			fail();
		}
		sleep_ms(100);
	}
}

/* The log has no gap: sequence numbers 1, 2, 3 ... */
static void check_log_whole(void)
{
	read_events();
	assert_true(n_evs > 0);
	for (size_t i = 0; i < n_evs; i++)
		if (evs[i].seq != i + 1) {
			fprintf(stderr, "event %zu has seq %llu\n", i + 1,
				(unsigned long long)evs[i].seq);
			fail();
		}
}

/* Every device of prefix: one offer job at most (re-sends carry the same
 * id), at most one of device_succeeded / device_failed. */
static void check_one_decision_each(const char *prefix, unsigned n)
{
	for (unsigned d = 1; d <= n; d++) {
		char id[64];
		uint32_t job = 0;
		unsigned ok, bad;

		snprintf(id, sizeof(id), "%s-%06u", prefix, d);
		for (size_t i = 0; i < n_evs; i++) {
			if (strcmp(evs[i].kind, "decision.offer") != 0 ||
			    strcmp(evs[i].device, id) != 0)
				continue;
			if (job != 0 && evs[i].job != job) {
				fprintf(stderr, "%s: offers %u and %u\n", id,
					job, evs[i].job);
				fail();
			}
			job = evs[i].job;
		}
		ok = count_events("decision.device_succeeded", id);
		bad = count_events("decision.device_failed", id);
		if (ok + bad > 1) {
			fprintf(stderr, "%s: %u successes, %u failures\n", id,
				ok, bad);
			fail();
		}
	}
}

/* A rollout is rolled back only once every device sent a rollback has
 * answered it (done, failed, or its own revert): each reboots into its
 * old version, offline for a moment, and is waited for. */
static void check_rollback_answered(void)
{
	uint64_t end = 0;

	for (size_t i = 0; i < n_evs; i++)
		if (strcmp(evs[i].kind, "decision.rolled_back") == 0)
			end = evs[i].seq;
	assert_true(end > 0);
	for (size_t i = 0; i < n_evs; i++) {
		bool answered = false;

		if (strcmp(evs[i].kind, "decision.rollback_device") != 0)
			continue;
		for (size_t k = i + 1; k < n_evs && evs[k].seq < end; k++)
			if (strcmp(evs[k].device, evs[i].device) == 0 &&
			    (strcmp(evs[k].kind, "report.rollback_done") == 0 ||
			     strcmp(evs[k].kind, "report.rollback_failed") ==
				     0 ||
			     strcmp(evs[k].kind, "report.reverted") == 0))
				answered = true;
		if (!answered) {
			fprintf(stderr, "%s: rolled back before it answered\n",
				evs[i].device);
			fail();
		}
	}
}

/* ---- set-up -------------------------------------------------------------- */

static int rm_entry(const char *p, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static struct sim sims[3];

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/fleetd-test-%s.XXXXXX", scenario);
	if (mkdtemp(tmp) == NULL)
		return -1;
	memset(&fd_, 0, sizeof(fd_));
	fd_.pid = -1;
	for (unsigned i = 0; i < 3; i++)
		sims[i].pid = -1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static int teardown(void **state)
{
	pid_t b = broker_pid(&fd_);
	int rc = 0;

	(void)state;
	for (unsigned i = 0; i < 3; i++) {
		if (sims[i].pid > 0)
			kill(sims[i].pid, SIGCONT); /* one a test froze */
		stop_pid(&sims[i].pid, SIGTERM);
	}
	/* A clean stop exits 0: no sanitizer report, no leak. */
	if (fd_.pid > 0) {
		kill(fd_.pid, SIGTERM);
		rc = wait_pid(fd_.pid, 30000);
		if (rc != 0) {
			fprintf(stderr,
				"fleetd: exit status %d at SIGTERM (%s)\n", rc,
				fd_.log);
			stop_pid(&fd_.pid, SIGKILL);
			rc = -1;
		}
		fd_.pid = -1;
	}
	/* fleetd stops its broker; one left by a failure is ours to end. */
	if (b > 0 && is_alive(b)) {
		kill(b, SIGKILL);
		sleep_ms(100);
	}
	curl_global_cleanup();
	if (getenv("FLEETD_TEST_KEEP") == NULL && rc == 0)
		nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	else
		fprintf(stderr, "kept %s\n", tmp);
	return rc;
}

/* fleetd up (extra: configuration lines), the 2.0.0 image uploaded. */
static void bring_up_with(const char *extra)
{
	fleetd_config(&fd_, extra);
	fleetd_start(&fd_);
	make_image();
	upload_image();
}

static void bring_up(void)
{
	bring_up_with(NULL);
}

static void fleet(unsigned i, const char *prefix, unsigned n,
		  const char *labels, const char *bad)
{
	struct sim *s = &sims[i];

	snprintf(s->prefix, sizeof(s->prefix), "%s", prefix);
	s->n = n;
	s->labels = labels;
	s->bad = bad;
	s->seed = 11 + i;
	sim_start(s);
	wait_online(prefix, n);
}

/* ---- scenarios ----------------------------------------------------------- */

#define STAGES_3                                                               \
	"  - name: canary\n"                                                   \
	"    count: 2\n"                                                       \
	"  - name: wave-1\n"                                                   \
	"    percent: 50\n"                                                    \
	"  - name: wave-2\n"                                                   \
	"    percent: 100\n"

static void test_fleetd__basics(void **state)
{
	const char *v[] = {fleetd_bin, "--version", NULL};
	const char *bogus[] = {fleetd_bin, "--bogus", NULL};
	const char *novalue[] = {fleetd_bin, "--listen", NULL};
	const char *badbroker[] = {fleetd_bin, "--broker", "http://x", NULL};
	char bad_conf[PATH_LEN], err[PATH_LEN];
	const char *badc[] = {fleetd_bin, "--config", bad_conf, NULL};
	const char *second[] = {fleetd_bin, "--config", fd_.conf, NULL};
	char *text;
	pid_t b, b2;

	(void)state;
	path_of(err, sizeof(err), "cli.err");
	assert_int_equal(run_status(v, err), 0);
	assert_int_equal(run_status(bogus, err), 2);
	assert_int_equal(run_status(novalue, err), 2);
	assert_int_equal(run_status(badbroker, err), 2);
	/* A bad configuration: every problem at its line and column. */
	path_of(bad_conf, sizeof(bad_conf), "bad.yaml");
	write_text(bad_conf, "listen: 127.0.0.1:0\n"
			     "brokr: embedded\n"
			     "log_level: loud\n"
			     "broker_port: 70000\n");
	unlink(err);
	assert_int_equal(run_status(badc, err), 1);
	text = read_text(err);
	assert_non_null(text);
	assert_non_null(strstr(text, "bad.yaml:2:1: error: unknown key "
				     "`brokr`; did you mean `broker`?"));
	assert_non_null(strstr(text, "bad.yaml:3:12: error: `log_level`"));
	assert_non_null(strstr(text, "bad.yaml:4:14: error: `broker_port`"));
	free(text);

	/* Up, with its broker; a second fleetd on the same data refused. */
	bring_up();
	b = broker_pid(&fd_);
	assert_true(is_alive(b));
	unlink(err);
	assert_int_equal(run_status(second, err), 1);
	text = read_text(err);
	assert_non_null(strstr(text, "another fleetd uses"));
	free(text);
	{
		cJSON *st = get_json("/api/v1/status");
		const cJSON *br =
			cJSON_GetObjectItemCaseSensitive(st, "broker");

		assert_non_null(st);
		assert_true(cJSON_IsTrue(
			cJSON_GetObjectItemCaseSensitive(br, "embedded")));
		assert_true(cJSON_IsTrue(
			cJSON_GetObjectItemCaseSensitive(st, "ready")));
		cJSON_Delete(st);
	}

	/* SIGTERM: a clean stop, the broker with it. */
	kill(fd_.pid, SIGTERM);
	assert_int_equal(wait_pid(fd_.pid, 30000), 0);
	fd_.pid = -1;
	assert_false(is_alive(b));

	/* kill -9: the broker ends too (its death signal); the next start
	 * finds the stale broker.pid and starts on the same port. */
	fleetd_start(&fd_);
	b = broker_pid(&fd_);
	assert_true(is_alive(b));
	kill(fd_.pid, SIGKILL);
	assert_int_equal(wait_pid(fd_.pid, 10000), -SIGKILL);
	fd_.pid = -1;
	for (int i = 0; i < 250 && is_alive(b); i++)
		sleep_ms(20);
	assert_false(is_alive(b));
	fleetd_start(&fd_);
	b2 = broker_pid(&fd_);
	assert_true(is_alive(b2));
	assert_true(b2 != b);
	/* Stopped by SIGINT as well. */
	kill(fd_.pid, SIGINT);
	assert_int_equal(wait_pid(fd_.pid, 30000), 0);
	fd_.pid = -1;
	assert_false(is_alive(b2));

	/* A broker of a previous fleetd that still runs (its broker.pid
	 * and its command line say so) is stopped before ours starts. */
	{
		char conf[PATH_LEN + 32], pidf[PATH_LEN + 32], line[32];
		const char *mq[] = {mosquitto_bin, "-c", conf, NULL};
		pid_t stale;

		snprintf(conf, sizeof(conf), "%s/mosquitto/mosquitto.conf",
			 fd_.data);
		snprintf(pidf, sizeof(pidf), "%s/mosquitto/broker.pid",
			 fd_.data);
		stale = spawn(mq, NULL, NULL);
		for (int i = 0; i < 250 && !can_connect(fd_.broker_port); i++)
			sleep_ms(20);
		assert_true(can_connect(fd_.broker_port));
		snprintf(line, sizeof(line), "%ld\n", (long)stale);
		write_text(pidf, line);
		fleetd_start(&fd_);
		assert_true(wait_pid(stale, 10000) != -1000);
		assert_true(broker_pid(&fd_) != stale);
		text = read_text(fd_.log);
		assert_non_null(strstr(text, "of a previous fleetd still "
					     "runs: stopping it"));
		free(text);
		kill(fd_.pid, SIGTERM);
		assert_int_equal(wait_pid(fd_.pid, 30000), 0);
		fd_.pid = -1;
	}

	/* The configured broker port taken by something else: refused,
	 * with the reason. */
	{
		struct sockaddr_in a;
		int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
		const char *again[] = {fleetd_bin, "--config", fd_.conf, NULL};

		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a.sin_port = htons(fd_.broker_port);
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(listen(s, 4), 0);
		unlink(err);
		assert_int_equal(run_status(again, err), 1);
		close(s);
		text = read_text(err);
		assert_non_null(strstr(text, "is in use"));
		free(text);
	}
}

/* ---- what fleetd publishes, seen by another MQTT 5 client ---------------- */

struct watch {
	pthread_mutex_t lock;
	unsigned n, n_qos1, n_retained, n_expiry_ok;
	uint32_t min_expiry, max_expiry;
};

static struct watch watch = {
	PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, UINT32_MAX, 0};

static void on_watch(struct mosquitto *m, void *obj,
		     const struct mosquitto_message *msg,
		     const mosquitto_property *props)
{
	uint32_t expiry = 0;
	bool has_expiry = mosquitto_property_read_int32(
				  props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL,
				  &expiry, false) != NULL;

	(void)m;
	(void)obj;
	pthread_mutex_lock(&watch.lock);
	watch.n++;
	watch.n_qos1 += msg->qos == 1;
	watch.n_retained += msg->retain;
	if (has_expiry) {
		/* offer_ttl 1h: expires - now, less the time in flight */
		watch.n_expiry_ok += expiry <= 3600 && expiry >= 3540;
		if (expiry < watch.min_expiry)
			watch.min_expiry = expiry;
		if (expiry > watch.max_expiry)
			watch.max_expiry = expiry;
	}
	pthread_mutex_unlock(&watch.lock);
}

/* Subscribes to every device's cmd topic, retain flags as published. */
static struct mosquitto *watch_start(void)
{
	struct mosquitto *m;

	mosquitto_lib_init();
	m = mosquitto_new(NULL, true, NULL);
	assert_non_null(m);
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_message_v5_callback_set(m, on_watch);
	if (fd_.ca[0] != '\0') {
		/* The ACL lets observer@fleet read every device topic. */
		char crt[PATH_LEN + 32], key[PATH_LEN + 32], err[PATH_LEN];
		const char *argv[] = {
			fleetd_bin, "pki", "client", "observer@fleet",
			"--out",    tmp,   "--data", fd_.data,
			"--force",  NULL};

		path_of(err, sizeof(err), "pki.err");
		assert_int_equal(run_status(argv, err), 0);
		path_of(crt, sizeof(crt), "observer@fleet.crt");
		path_of(key, sizeof(key), "observer@fleet.key");
		assert_int_equal(
			mosquitto_tls_set(m, fd_.ca, NULL, crt, key, NULL), 0);
	}
	assert_int_equal(mosquitto_connect(m, "127.0.0.1", fd_.broker_port, 30),
			 0);
	assert_int_equal(
		mosquitto_subscribe_v5(m, NULL, "fleet/v1/dev/+/cmd", 1,
				       MQTT_SUB_OPT_RETAIN_AS_PUBLISHED, NULL),
		0);
	assert_int_equal(mosquitto_loop_start(m), 0);
	sleep_ms(200); /* the SUBACK */
	return m;
}

static void watch_stop(struct mosquitto *m)
{
	mosquitto_disconnect(m);
	mosquitto_loop_stop(m, false);
	mosquitto_destroy(m);
	mosquitto_lib_cleanup();
}

/* fleetctl against this fleetd: its exit status, stdout in out. */
static int fleetctl(const char *out, const char *a1, const char *a2,
		    const char *a3)
{
	char err[PATH_LEN];
	const char *argv[] = {fleetctl_bin, "--server", fd_.api, a1,
			      a2,	    a3,		NULL};

	path_of(err, sizeof(err), "fleetctl.err");
	unlink(out);
	return wait_pid(spawn(argv, out, err), WAIT_S * 1000);
}

static void test_fleetd__good(void **state)
{
	struct mosquitto *w;

	(void)state;
	bring_up();
	fleet(0, "g", 8, NULL, NULL);
	w = watch_start();
	if (fleetctl_bin != NULL) {
		/* As an operator would: fleetctl rollout start FILE. */
		char plan[2048], file[PATH_LEN], out[PATH_LEN];
		char *text;

		plan_text(plan, sizeof(plan), "good-2.0.0", STAGES_3);
		path_of(file, sizeof(file), "good.yaml");
		path_of(out, sizeof(out), "fleetctl.out");
		write_text(file, plan);
		assert_int_equal(fleetctl(out, "rollout", "start", file), 0);
		text = read_text(out);
		assert_non_null(strstr(text, "started rollout good-2.0.0"));
		free(text);
	} else {
		start_rollout("good-2.0.0", STAGES_3);
	}
	wait_state("good-2.0.0", "complete");
	if (fleetctl_bin != NULL) {
		char out[PATH_LEN];
		cJSON *j;
		char *text;

		path_of(out, sizeof(out), "fleetctl.out");
		assert_int_equal(fleetctl(out, "--json", "rollout", "status"),
				 2); /* no name: a usage error */
		{
			const char *argv[] = {fleetctl_bin, "--server",
					      fd_.api,	    "--json",
					      "rollout",    "status",
					      "good-2.0.0", NULL};
			char err[PATH_LEN];

			path_of(err, sizeof(err), "fleetctl.err");
			unlink(out);
			assert_int_equal(
				wait_pid(spawn(argv, out, err), WAIT_S * 1000),
				0);
		}
		text = read_text(out);
		j = cJSON_Parse(text);
		assert_non_null(j);
		assert_string_equal(jstr(j, "state"), "complete");
		cJSON_Delete(j);
		free(text);
	}
	wait_versions("g", 8, "2.0.0");
	watch_stop(w);
	check_log_whole();
	check_one_decision_each("g", 8);
	assert_int_equal(count_events("decision.device_succeeded", NULL), 8);
	assert_true(has_event("decision.complete", NULL));
	assert_false(has_event("decision.rollback_started", NULL));
	/* Every offer went out QoS 1, not retained, with a message expiry
	 * of expires - now (docs/protocol.md, server rules). */
	assert_true(watch.n >= 8);
	assert_int_equal(watch.n_qos1, watch.n);
	assert_int_equal(watch.n_retained, 0);
	if (watch.n_expiry_ok != watch.n)
		fprintf(stderr, "message expiry %u..%u s\n", watch.min_expiry,
			watch.max_expiry);
	assert_int_equal(watch.n_expiry_ok, watch.n);
	assert_true(metric("fleet_commands_total{type=\"offer\"}") >=
		    (double)watch.n);
}

static void test_fleetd__canary(void **state)
{
	(void)state;
	bring_up();
	fleet(0, "c", 8, NULL, "2.0.0");
	start_rollout("bad-canary", STAGES_3);
	wait_state("bad-canary", "rolled_back");
	wait_versions("c", 8, "1.0.0");
	check_log_whole();
	check_one_decision_each("c", 8);
	check_rollback_answered();
	assert_true(has_event("decision.rollback_started", NULL));
	/* Nobody beyond the canary was offered the bad version. */
	assert_true(count_events("decision.offer", NULL) >= 1);
	for (size_t i = 0; i < n_evs; i++)
		if (strcmp(evs[i].kind, "decision.offer") == 0)
			assert_string_equal(evs[i].stage, "canary");
	assert_int_equal(count_events("decision.stage_started", NULL), 1);
	/* ... and no job ever reached the others: the canary is 2 of 8 */
	{
		unsigned offered = 0;

		for (unsigned d = 1; d <= 8; d++) {
			char id[32], path[64];
			cJSON *j;

			snprintf(id, sizeof(id), "c-%06u", d);
			snprintf(path, sizeof(path), "/api/v1/devices/%s", id);
			j = get_json(path);
			assert_non_null(j);
			if (has_event("decision.offer", id)) {
				offered++;
				assert_true(
					cJSON_GetArraySize(
						cJSON_GetObjectItemCaseSensitive(
							j, "jobs")) >= 1);
			} else
				assert_int_equal(
					cJSON_GetArraySize(
						cJSON_GetObjectItemCaseSensitive(
							j, "jobs")),
					0);
			cJSON_Delete(j);
		}
		assert_int_equal(offered, 2);
	}
}

static void test_fleetd__wave(void **state)
{
	unsigned canary_ok = 0;

	(void)state;
	bring_up();
	fleet(0, "k", 3, "ring=canary", NULL);
	fleet(1, "m", 6, "ring=main", "2.0.0");
	start_rollout("bad-wave", "  - name: canary\n"
				  "    match: {ring: canary}\n"
				  "  - name: wave-1\n"
				  "    percent: 100\n");
	wait_state("bad-wave", "rolled_back");
	wait_versions("k", 3, "1.0.0");
	wait_versions("m", 6, "1.0.0");
	check_log_whole();
	check_one_decision_each("k", 3);
	check_one_decision_each("m", 6);
	check_rollback_answered();
	/* The canary committed 2.0.0 and was taken back by the rollback. */
	for (unsigned d = 1; d <= 3; d++) {
		char id[32];

		snprintf(id, sizeof(id), "k-%06u", d);
		if (has_event("decision.device_succeeded", id))
			canary_ok++;
		assert_true(has_event("decision.rollback_device", id));
		assert_true(has_event("report.rollback_done", id));
	}
	assert_int_equal(canary_ok, 3);
	/* The commands went out over MQTT: an offer to each device, a
	 * rollback to each device that was running 2.0.0. */
	assert_true(metric("fleet_commands_total{type=\"offer\"}") >= 9);
	assert_true(metric("fleet_commands_total{type=\"rollback\"}") >= 3);
	assert_true(metric("fleet_reports_total{topic=\"status\"}") > 0);
	assert_true(has_event("decision.stage_passed", NULL));
	assert_true(has_event("decision.stage_failed", NULL));
	assert_true(has_event("decision.rollback_started", NULL));
}

static void test_fleetd__kill(void **state)
{
	static const char *const points[] = {
		"decision.offer", "report.downloading", "decision.stage_passed",
		"decision.device_succeeded"};
	char plan[2048], *soak;

	(void)state;
	bring_up();
	fleet(0, "x", 10, NULL, NULL);
	/* A device on trial when fleetd is killed (its embedded broker with
	 * it) must reach the broker again within its trial window, the soak:
	 * longer than a restart on a loaded machine, else it reverts
	 * (health:broker) and fails the canary. */
	plan_text(plan, sizeof(plan), "crashy", STAGES_3);
	soak = strstr(plan, "soak: 2s");
	assert_non_null(soak);
	memcpy(soak, "soak: 9s", 8);
	start_plan(plan);
	for (unsigned i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		char *s;

		wait_event(points[i]);
		s = rollout_state("crashy");
		if (s != NULL && strcmp(s, "complete") == 0) {
			free(s);
			break;
		}
		free(s);
		kill(fd_.pid, SIGKILL);
		assert_int_equal(wait_pid(fd_.pid, 10000), -SIGKILL);
		fd_.pid = -1;
		fleetd_start(&fd_);
	}
	wait_state("crashy", "complete");
	wait_versions("x", 10, "2.0.0");
	check_log_whole();
	check_one_decision_each("x", 10);
	for (unsigned d = 1; d <= 10; d++) {
		char id[32];

		snprintf(id, sizeof(id), "x-%06u", d);
		assert_int_equal(count_events("decision.device_succeeded", id),
				 1);
		assert_true(has_event("report.committed", id));
	}
	assert_false(has_event("decision.device_failed", NULL));
	assert_true(fd_.starts >= 4);
}

static void test_fleetd__broker(void **state)
{
	pid_t b, b2 = -1;
	char *log;

	(void)state;
	/* Statuses and health through $share/fleetd/... as several fleetd
	 * instances would take them. */
	bring_up_with("shared_subscriptions: true\n");
	fleet(0, "b", 8, NULL, NULL);
	start_rollout("broker-restart", STAGES_3);
	wait_event("decision.offer");
	b = broker_pid(&fd_);
	assert_true(is_alive(b));
	kill(b, SIGKILL);
	for (int i = 0; i < 500; i++) {
		b2 = broker_pid(&fd_);
		if (b2 > 0 && b2 != b && is_alive(b2))
			break;
		sleep_ms(20);
	}
	assert_true(b2 > 0 && b2 != b);
	wait_state("broker-restart", "complete");
	wait_versions("b", 8, "2.0.0");
	check_log_whole();
	check_one_decision_each("b", 8);
	log = read_text(fd_.log);
	assert_non_null(strstr(log, "broker: mosquitto killed by signal 9"));
	assert_non_null(strstr(log, "mqtt: connection to 127.0.0.1"));
	free(log);
	{
		cJSON *st = get_json("/api/v1/status");
		const cJSON *br =
			cJSON_GetObjectItemCaseSensitive(st, "broker");

		assert_true(cJSON_IsTrue(
			cJSON_GetObjectItemCaseSensitive(br, "connected")));
		cJSON_Delete(st);
	}
}

static void test_fleetd__offline(void **state)
{
	(void)state;
	bring_up();
	fleet(0, "on", 3, "ring=canary", NULL);
	fleet(1, "late", 5, "ring=main", NULL);
	/* The late devices go away (their Wills say offline) before the
	 * rollout reaches them. */
	stop_pid(&sims[1].pid, SIGKILL);
	{
		uint64_t end = now_ms() + WAIT_S * 1000u;

		while (census("late", NULL).online > 0) {
			assert_true(now_ms() < end);
			sleep_ms(200);
		}
	}
	start_rollout("late-comers", "  - name: canary\n"
				     "    match: {ring: canary}\n"
				     "  - name: rest\n"
				     "    percent: 100\n");
	wait_versions("on", 3, "2.0.0");
	/* Their stage starts while they are away: they are unreached (no
	 * offer goes to a device known to be offline), and the stage waits
	 * for them rather than pass on no evidence. */
	{
		uint64_t end = now_ms() + WAIT_S * 1000u;
		unsigned n;

		for (;;) {
			read_events();
			n = count_events("decision.device_unreached", NULL);
			if (n >= 5)
				break;
			assert_true(now_ms() < end);
			sleep_ms(200);
		}
		assert_int_equal(n, 5);
		for (unsigned d = 1; d <= 5; d++) {
			char id[32];

			snprintf(id, sizeof(id), "late-%06u", d);
			assert_true(has_event("decision.device_unreached", id));
			assert_false(has_event("decision.offer", id));
		}
	}
	sleep_ms(1500); /* a few ticks: still waiting */
	{
		char *s = rollout_state("late-comers");

		assert_string_equal(s, "running");
		free(s);
	}
	/* They come back: offered then, and they install it. */
	sim_start(&sims[1]);
	wait_state("late-comers", "complete");
	wait_versions("late", 5, "2.0.0");
	check_log_whole();
	check_one_decision_each("late", 5);
	check_one_decision_each("on", 3);
	for (unsigned d = 1; d <= 5; d++) {
		char id[32];

		snprintf(id, sizeof(id), "late-%06u", d);
		assert_true(has_event("decision.offer", id));
		assert_int_equal(count_events("decision.device_succeeded", id),
				 1);
	}
}

/* ---- windows, holds and approvals, devices away ---------------------------
 */

static cJSON *get_rollout(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/rollouts/%s", name);
	return get_json(path);
}

static const cJSON *jget(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* The stage of a rollout answer by name. */
static const cJSON *stage_of(const cJSON *ro, const char *name)
{
	const cJSON *st;

	cJSON_ArrayForEach(st, jget(ro, "stages"))
	{
		if (jstr(st, "name") != NULL &&
		    strcmp(jstr(st, "name"), name) == 0)
			return st;
	}
	return NULL;
}

/* Members of a rollout with this status (docs/api.md), at most 1000; the
 * number, and whether each has the prefix when one is given. */
static unsigned members_with(const char *rollout, const char *status,
			     const char *prefix)
{
	char path[192];
	cJSON *j;
	const cJSON *d;
	unsigned n = 0;

	snprintf(path, sizeof(path),
		 "/api/v1/rollouts/%s/devices?status=%s&limit=1000", rollout,
		 status);
	j = get_json(path);
	assert_non_null(j);
	cJSON_ArrayForEach(d, jget(j, "devices"))
	{
		const char *id = jstr(d, "id");

		if (prefix == NULL ||
		    (id != NULL && strncmp(id, prefix, strlen(prefix)) == 0))
			n++;
	}
	cJSON_Delete(j);
	return n;
}

/* A member's field ("rollback", "status" ...) as the API gives it. */
static char *member_field(const char *rollout, const char *id,
			  const char *field)
{
	char path[192];
	cJSON *j;
	const cJSON *d;
	char *v = NULL;

	snprintf(path, sizeof(path), "/api/v1/rollouts/%s/devices?limit=1000",
		 rollout);
	j = get_json(path);
	assert_non_null(j);
	cJSON_ArrayForEach(d, jget(j, "devices"))
	{
		if (jstr(d, "id") != NULL && strcmp(jstr(d, "id"), id) == 0 &&
		    jstr(d, field) != NULL)
			v = strdup(jstr(d, field));
	}
	cJSON_Delete(j);
	return v;
}

/* The first event of a kind (and device, if given); NULL if none. */
static const struct ev *find_event(const char *kind, const char *device)
{
	for (size_t i = 0; i < n_evs; i++)
		if (strcmp(evs[i].kind, kind) == 0 &&
		    (device == NULL || strcmp(evs[i].device, device) == 0))
			return &evs[i];
	return NULL;
}

/* Approves a stage or lifts a hold as the operator `who` would: with
 * fleetctl when it is given ($USER is who it records), else the API. */
/* Approves as `who`: with the approver token of that name. */
static void approve(const char *rollout, const char *what, const char *who)
{
	char raw[200];
	const char *auth = token_of(who, "approver", raw, sizeof(raw));

	if (fleetctl_bin != NULL) {
		char out[PATH_LEN], admin[200];
		char *text;

		path_of(out, sizeof(out), "fleetctl.out");
		snprintf(admin, sizeof(admin), "%s", getenv("FLEET_TOKEN"));
		setenv("FLEET_TOKEN", raw, 1);
		assert_int_equal(fleetctl(out, "approve", rollout, what), 0);
		setenv("FLEET_TOKEN", admin, 1);
		text = read_text(out);
		assert_non_null(text);
		assert_non_null(strstr(text, "approved"));
		free(text);
	} else {
		char path[160], body[160];

		snprintf(path, sizeof(path), "/api/v1/rollouts/%s/approve",
			 rollout);
		snprintf(body, sizeof(body), "{\"name\": \"%s\"}", what);
		assert_int_equal(http_as(auth, "POST", path, body, strlen(body),
					 "application/json", NULL),
				 202);
	}
}

/* A TZif file (RFC 8536, version 1) for a zone with one fixed offset. */
static void write_zone(const char *path, int32_t offset_s)
{
	unsigned char b[44 + 6 + 4];
	uint32_t off = (uint32_t)offset_s;
	FILE *f;

	memset(b, 0, sizeof(b));
	memcpy(b, "TZif", 4);
	b[39] = 1; /* one local time type */
	b[43] = 4; /* "TST\0" */
	b[44] = (unsigned char)(off >> 24);
	b[45] = (unsigned char)(off >> 16);
	b[46] = (unsigned char)(off >> 8);
	b[47] = (unsigned char)off;
	memcpy(b + 50, "TST", 4);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, sizeof(b), f), sizeof(b));
	assert_int_equal(fclose(f), 0);
}

#define WINDOW_IN_S 12 /* the window opens this long after the start */

static void test_fleetd__window(void **state)
{
	char zdir[PATH_LEN], zone[PATH_LEN + 32], plan[2048];
	int64_t open_at, until = 0;
	int32_t off;
	cJSON *j;
	const cJSON *w, *st;

	(void)state;
	/* The devices' zone is made for the test: fleetd reads zones from
	 * $TZDIR, so a window in device time that opens within seconds
	 * needs no clock of fleetd's to be touched. */
	path_of(zdir, sizeof(zdir), "zoneinfo");
	assert_int_equal(mkdir(zdir, 0700), 0);
	snprintf(zone, sizeof(zone), "%s/Fleet", zdir);
	assert_int_equal(mkdir(zone, 0700), 0);
	snprintf(zone, sizeof(zone), "%s/Fleet/Window", zdir);
	setenv("TZDIR", zdir, 1);
	bring_up();
	sims[0].tz = "Fleet/Window";
	fleet(0, "w", 4, NULL, NULL);
	/* 03:00 in Fleet/Window is WINDOW_IN_S seconds from now. */
	open_at = (int64_t)time(NULL) + WINDOW_IN_S;
	off = (int32_t)(((3 * 3600 - open_at % 86400) % 86400 + 86400) % 86400);
	write_zone(zone, off);
	plan_text_x(plan, sizeof(plan), "windowed", "",
		    "windows:\n"
		    "  - from: \"03:00\"\n"
		    "    to: \"04:00\"\n"
		    "    tz: device\n",
		    "  - name: canary\n"
		    "    count: 1\n"
		    "  - name: rest\n"
		    "    percent: 100\n");
	start_plan(plan);
	/* Closed: the canary stage started, its member waits, nothing is
	 * offered, and the rollout says what it waits for and until when. */
	wait_event("decision.wait");
	j = get_rollout("windowed");
	assert_non_null(j);
	assert_string_equal(jstr(j, "state"), "running");
	w = jget(j, "waiting");
	assert_non_null(jstr(w, "why"));
	assert_string_equal(jstr(w, "why"), "window");
	until = (int64_t)jnum(w, "until");
	assert_int_equal(until, open_at);
	st = stage_of(j, "canary");
	assert_non_null(st);
	assert_string_equal(jstr(st, "state"), "running");
	assert_int_equal((int)jnum(jget(st, "counts"), "pending"), 1);
	cJSON_Delete(j);
	read_events();
	assert_int_equal(find_event("decision.wait", NULL)->why, 2);
	assert_true(has_event("decision.stage_started", NULL));
	assert_false(has_event("decision.offer", NULL));
	if ((int64_t)time(NULL) >= open_at) {
		fprintf(stderr, "the window opened before the test looked\n");
		fail();
	}
	sleep_ms(1500); /* a few ticks: still closed, still nothing */
	read_events();
	assert_false(has_event("decision.offer", NULL));
	/* Open: offered from then on; the rollout completes. */
	wait_state("windowed", "complete");
	wait_versions("w", 4, "2.0.0");
	check_log_whole();
	check_one_decision_each("w", 4);
	assert_int_equal(count_events("decision.offer", NULL), 4);
	for (size_t i = 0; i < n_evs; i++)
		if (strcmp(evs[i].kind, "decision.offer") == 0 &&
		    evs[i].at < open_at) {
			fprintf(stderr, "%s offered at %lld, window at %lld\n",
				evs[i].device, (long long)evs[i].at,
				(long long)open_at);
			fail();
		}
}

static void test_fleetd__hold(void **state)
{
	char plan[2048];
	const struct ev *lift;
	cJSON *j;
	const cJSON *w, *a;
	unsigned n_appr = 0;

	(void)state;
	bring_up();
	fleet(0, "hc", 2, "ring=canary", NULL);
	fleet(1, "hm", 4, "ring=main", NULL);
	plan_text_x(plan, sizeof(plan), "held", "",
		    "holds:\n"
		    "  - name: radio-cert\n"
		    "    match: {ring: main}\n"
		    "    reason: Awaiting the radio certificate\n"
		    "    until: approved\n",
		    "  - name: canary\n"
		    "    match: {ring: canary}\n"
		    "  - name: rest\n"
		    "    percent: 100\n"
		    "    approval: required\n");
	start_plan(plan);
	wait_versions("hc", 2, "2.0.0");
	/* The stage after the canary waits for its approval ... */
	wait_event("decision.await_approval");
	j = get_rollout("held");
	w = jget(j, "waiting");
	assert_string_equal(jstr(w, "why"), "approval");
	assert_string_equal(jstr(w, "stage"), "rest");
	cJSON_Delete(j);
	approve("held", "rest", "carol");
	/* ... then starts, and its members are held: nothing is offered
	 * past the hold, and the stage does not pass without them. */
	for (uint64_t end = now_ms() + WAIT_S * 1000u;;) {
		const struct ev *x;

		read_events();
		x = NULL;
		for (size_t i = 0; i < n_evs; i++)
			if (strcmp(evs[i].kind, "decision.wait") == 0 &&
			    evs[i].why == 1) /* FL_WHY_HOLD */
				x = &evs[i];
		if (x != NULL)
			break;
		assert_true(now_ms() < end);
		sleep_ms(100);
	}
	assert_int_equal(members_with("held", "held", "hm-"), 4);
	sleep_ms(2000); /* a few ticks */
	j = get_rollout("held");
	assert_string_equal(jstr(j, "state"), "running");
	w = jget(j, "waiting");
	assert_string_equal(jstr(w, "why"), "hold");
	assert_string_equal(jstr(w, "hold"), "radio-cert");
	assert_string_equal(jstr(stage_of(j, "rest"), "state"), "running");
	cJSON_Delete(j);
	read_events();
	for (size_t i = 0; i < n_evs; i++)
		if (strcmp(evs[i].kind, "decision.offer") == 0)
			assert_true(strncmp(evs[i].device, "hm-", 3) != 0);
	assert_int_equal(members_with("held", "held", "hm-"), 4);
	/* Lifted by an approval: offered, installed, complete. */
	approve("held", "radio-cert", "dave");
	wait_state("held", "complete");
	wait_versions("hm", 4, "2.0.0");
	check_log_whole();
	check_one_decision_each("hm", 4);
	/* Both approvals are in the log with who gave them and when, and
	 * nothing was offered to a held device before the hold's. */
	assert_int_equal(count_events("action.approve", NULL), 2);
	lift = NULL;
	for (size_t i = 0; i < n_evs; i++) {
		if (strcmp(evs[i].kind, "action.approve") != 0)
			continue;
		assert_true(evs[i].at > 0);
		assert_true(strcmp(evs[i].who, "carol") == 0 ||
			    strcmp(evs[i].who, "dave") == 0);
		if (strcmp(evs[i].who, "dave") == 0)
			lift = &evs[i];
	}
	assert_non_null(lift);
	for (size_t i = 0; i < n_evs; i++)
		if (strcmp(evs[i].kind, "decision.offer") == 0 &&
		    strncmp(evs[i].device, "hm-", 3) == 0)
			assert_true(evs[i].seq > lift->seq);
	j = get_rollout("held");
	cJSON_ArrayForEach(a, jget(j, "approvals"))
	{
		const char *name = jstr(a, "name"), *who = jstr(a, "who");
		bool is_hold = cJSON_IsTrue(jget(a, "hold"));

		assert_non_null(name);
		assert_non_null(who);
		assert_true(jnum(a, "at") > 0);
		if (strcmp(name, "radio-cert") == 0) {
			assert_true(is_hold);
			assert_string_equal(who, "dave");
			assert_int_equal((int64_t)jnum(a, "at"), lift->at);
		} else {
			assert_string_equal(name, "rest");
			assert_false(is_hold);
			assert_string_equal(who, "carol");
		}
		n_appr++;
	}
	assert_int_equal(n_appr, 2);
	cJSON_Delete(j);
}

/* A canary device goes away (its process frozen: the broker publishes its
 * Will) after committing the new version, and a later wave fails: the
 * rollback waits for it, through a kill -9 of fleetd, until
 * health.rollback_timeout; rolled back, fleetd killed again; the device
 * returns, is told again, and its revert is recorded. */
static void test_fleetd__rollback_away(void **state)
{
	char plan[2048];
	const struct ev *end, *late;
	cJSON *j;
	char *s;
	int64_t started;

	(void)state;
	bring_up();
	fleet(0, "rk", 2, "ring=canary", NULL);
	sims[1].keepalive = 5;
	fleet(1, "rx", 1, "ring=canary", NULL);
	fleet(2, "rm", 4, "ring=main", "2.0.0");
	plan_text_x(plan, sizeof(plan), "rb-away", "  rollback_timeout: 30s\n",
		    "",
		    "  - name: canary\n"
		    "    match: {ring: canary}\n"
		    "  - name: wave-1\n"
		    "    percent: 100\n");
	start_plan(plan);
	for (uint64_t t = now_ms() + WAIT_S * 1000u;;) {
		read_events();
		if (has_event("report.committed", "rx-000001"))
			break;
		assert_true(now_ms() < t);
		sleep_ms(50);
	}
	kill(sims[1].pid, SIGSTOP);
	/* The wave fails; everyone else reports its rollback; rx is
	 * "rollback unreached" and the rollout still rolling back. */
	for (uint64_t t = now_ms() + WAIT_S * 1000u;;) {
		const cJSON *rb;
		bool away;

		j = get_rollout("rb-away");
		rb = jget(j, "rollback");
		away = rb != NULL && jnum(rb, "unreached") == 1 &&
		       jnum(rb, "pending") == 1;
		if (away) {
			assert_string_equal(jstr(j, "state"), "rolling_back");
			started = (int64_t)jnum(rb, "started");
			cJSON_Delete(j);
			break;
		}
		cJSON_Delete(j);
		assert_true(now_ms() < t);
		sleep_ms(200);
	}
	wait_versions("rk", 2, "1.0.0");
	s = member_field("rb-away", "rx-000001", "rollback");
	assert_non_null(s);
	assert_string_equal(s, "unreached");
	free(s);
	/* fleetd killed while rolling back: still rolling back, waiting */
	kill(fd_.pid, SIGKILL);
	assert_int_equal(wait_pid(fd_.pid, 10000), -SIGKILL);
	fd_.pid = -1;
	fleetd_start(&fd_);
	if ((int64_t)time(NULL) < started + 28) {
		s = rollout_state("rb-away");
		assert_string_equal(s, "rolling_back");
		free(s);
	} else {
		fprintf(stderr, "slow machine: the deadline passed during "
				"the restart\n");
	}
	/* The deadline: rolled back, rx still owing its result. */
	wait_state("rb-away", "rolled_back");
	read_events();
	end = find_event("decision.rolled_back", NULL);
	assert_non_null(end);
	assert_int_equal(end->why, 12); /* FL_WHY_TIMEOUT */
	assert_true(end->at >= started + 30);
	assert_false(has_event("report.rollback_done", "rx-000001"));
	/* killed again: a rolled back rollout with a device owing its
	 * result is rebuilt at start */
	kill(fd_.pid, SIGKILL);
	assert_int_equal(wait_pid(fd_.pid, 10000), -SIGKILL);
	fd_.pid = -1;
	fleetd_start(&fd_);
	/* rx returns: told again, reverts, and that is recorded */
	kill(sims[1].pid, SIGCONT);
	wait_versions("rx", 1, "1.0.0");
	for (uint64_t t = now_ms() + WAIT_S * 1000u;;) {
		read_events();
		if (has_event("report.rollback_done", "rx-000001"))
			break;
		assert_true(now_ms() < t);
		sleep_ms(200);
	}
	check_log_whole();
	end = find_event("decision.rolled_back", NULL);
	late = find_event("report.rollback_done", "rx-000001");
	assert_true(late->seq > end->seq);
	assert_int_equal(count_events("decision.rolled_back", NULL), 1);
	s = member_field("rb-away", "rx-000001", "rollback");
	assert_non_null(s);
	assert_string_equal(s, "done");
	free(s);
	s = rollout_state("rb-away");
	assert_string_equal(s, "rolled_back");
	free(s);
	j = get_rollout("rb-away");
	assert_int_equal((int)jnum(jget(j, "rollback"), "unreached"), 0);
	cJSON_Delete(j);
	wait_versions("rm", 4, "1.0.0");
}

/* Devices away during their offer: some frozen before it reaches them
 * (offered while fleetd still saw them online; unreached when their Wills
 * came), some frozen in the middle of a slow download (in flight while
 * away). Back later, each finishes its one job. */
static void test_fleetd__away(void **state)
{
	(void)state;
	bring_up();
	fleet(0, "ok", 2, NULL, NULL);
	sims[1].keepalive = 5;
	fleet(1, "aw", 3, NULL, NULL);
	sims[2].keepalive = 5;
	sims[2].rate = 2000; /* a 20 kB image: about 10 s */
	fleet(2, "ad", 2, NULL, NULL);
	kill(sims[1].pid, SIGSTOP);
	start_rollout("away", "  - name: all\n"
			      "    percent: 100\n");
	for (uint64_t t = now_ms() + WAIT_S * 1000u;;) {
		read_events();
		if (has_event("report.downloading", "ad-000001") &&
		    has_event("report.downloading", "ad-000002"))
			break;
		assert_true(now_ms() < t);
		sleep_ms(50);
	}
	kill(sims[2].pid, SIGSTOP);
	read_events();
	for (unsigned d = 1; d <= 3; d++) {
		char id[32];

		snprintf(id, sizeof(id), "aw-%06u", d);
		assert_true(has_event("decision.offer", id));
		assert_false(has_event("report.acked", id));
	}
	assert_false(has_event("report.committed", "ad-000001"));
	assert_false(has_event("report.committed", "ad-000002"));
	/* Their Wills: offline. The ones that never acknowledged are
	 * unreached; the ones downloading stay in flight. */
	for (uint64_t t = now_ms() + WAIT_S * 1000u;;) {
		if (census("aw", NULL).online == 0 &&
		    census("ad", NULL).online == 0)
			break;
		assert_true(now_ms() < t);
		sleep_ms(200);
	}
	for (uint64_t t = now_ms() + WAIT_S * 1000u;;) {
		if (members_with("away", "unreached", "aw-") == 3)
			break;
		assert_true(now_ms() < t);
		sleep_ms(200);
	}
	assert_int_equal(members_with("away", "in_flight", "ad-"), 2);
	sleep_ms(1500); /* a few ticks: the stage waits for them */
	{
		char *s = rollout_state("away");

		assert_string_equal(s, "running");
		free(s);
	}
	/* Back: each finishes the job it was offered. */
	kill(sims[1].pid, SIGCONT);
	kill(sims[2].pid, SIGCONT);
	wait_state("away", "complete");
	wait_versions("aw", 3, "2.0.0");
	wait_versions("ad", 2, "2.0.0");
	wait_versions("ok", 2, "2.0.0");
	check_log_whole();
	check_one_decision_each("aw", 3);
	check_one_decision_each("ad", 2);
	check_one_decision_each("ok", 2);
	for (unsigned d = 1; d <= 3; d++) {
		char id[32];

		snprintf(id, sizeof(id), "aw-%06u", d);
		assert_true(has_event("report.offline", id));
		assert_true(find_event("report.offline", id)->seq >
			    find_event("decision.offer", id)->seq);
		assert_int_equal(count_events("decision.device_succeeded", id),
				 1);
	}
	for (unsigned d = 1; d <= 2; d++) {
		char id[32];

		snprintf(id, sizeof(id), "ad-%06u", d);
		assert_true(has_event("report.offline", id));
		assert_true(find_event("report.offline", id)->seq >
			    find_event("report.downloading", id)->seq);
		assert_true(find_event("report.committed", id)->seq >
			    find_event("report.offline", id)->seq);
		assert_int_equal(count_events("decision.device_succeeded", id),
				 1);
	}
}

/* ---- operators: tokens, roles, four eyes, audit -------------------------
 */

/* POSTs a rollout of plan with auth; the status. */
static long start_as(const char *auth, const char *plan)
{
	cJSON *req = cJSON_CreateObject();
	char *body;
	long st;

	cJSON_AddStringToObject(req, "plan", plan);
	cJSON_AddStringToObject(req, "artifact_sha256", sha);
	cJSON_AddStringToObject(req, "who", "mallory"); /* not believed */
	body = cJSON_PrintUnformatted(req);
	st = http_as(auth, "POST", "/api/v1/rollouts", body, strlen(body),
		     "application/json", NULL);
	cJSON_Delete(req);
	free(body);
	return st;
}

/* POSTs an action (name: the stage or hold of an approve, or NULL) with
 * auth; the status, and error.code in code when it is an error. */
static long action_as(const char *auth, const char *rollout, const char *act,
		      const char *name, char *code, size_t cap)
{
	char path[160], body[160];
	cJSON *ans = NULL;
	long st;

	snprintf(path, sizeof(path), "/api/v1/rollouts/%s/%s", rollout, act);
	snprintf(body, sizeof(body), "{\"name\": \"%s\"}", name ? name : "");
	st = http_as(auth, "POST", path, name ? body : "{}",
		     strlen(name ? body : "{}"), "application/json", &ans);
	if (code != NULL) {
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(ans, "error");

		snprintf(code, cap, "%s",
			 jstr(e, "code") ? jstr(e, "code") : "");
	}
	cJSON_Delete(ans);
	return st;
}

static unsigned rollout_count(const char *auth)
{
	cJSON *j = NULL;
	unsigned n;

	assert_int_equal(
		http_as(auth, "GET", "/api/v1/rollouts", NULL, 0, NULL, &j),
		200);
	n = (unsigned)cJSON_GetArraySize(
		cJSON_GetObjectItemCaseSensitive(j, "rollouts"));
	cJSON_Delete(j);
	return n;
}

static void test_fleetd__auth(void **state)
{
	char plan[2048], code[64], raw[200];
	const char *viewer, *oper, *qa;
	cJSON *j;
	unsigned n_approve = 0;

	(void)state;
	bring_up();
	viewer = token_of("view-1", "viewer", NULL, 0);
	oper = token_of("ops-1", "operator", NULL, 0);
	qa = token_of("qa-1", "approver", raw, sizeof(raw));
	fleet(0, "au", 4, NULL, NULL);

	/* No token, a viewer's: refused, nothing started. */
	plan_text_x(plan, sizeof(plan), "eyes", "",
		    "four_eyes: true\nholds:\n  - name: review\n    until: "
		    "approved\n",
		    "  - name: all\n    percent: 100\n");
	assert_int_equal(start_as(NULL, plan), 401);
	assert_int_equal(start_as(viewer, plan), 403);
	assert_int_equal(
		http_as(NULL, "GET", "/api/v1/rollouts", NULL, 0, NULL, NULL),
		401);
	assert_int_equal(rollout_count(viewer), 0);

	/* The admin starts it: the rollout records the token's name. */
	assert_int_equal(start_as(auth_hdr, plan), 201);
	j = get_rollout("eyes");
	assert_non_null(j);
	assert_string_equal(jstr(j, "started_by"), "admin");
	cJSON_Delete(j);

	/* Too weak: refused, nothing changed. */
	assert_int_equal(
		action_as(viewer, "eyes", "pause", NULL, code, sizeof(code)),
		403);
	assert_string_equal(code, "forbidden");
	assert_int_equal(action_as(oper, "eyes", "approve", "review", code,
				   sizeof(code)),
			 403);
	assert_int_equal(
		action_as(NULL, "eyes", "cancel", NULL, code, sizeof(code)),
		401);
	/* Four eyes: the starter may not approve; nothing changes. */
	assert_int_equal(action_as(auth_hdr, "eyes", "approve", "review", code,
				   sizeof(code)),
			 403);
	assert_string_equal(code, "four_eyes");
	j = get_rollout("eyes");
	assert_false(cJSON_IsTrue(jget(j, "paused")));
	assert_string_equal(jstr(j, "state"), "running");
	assert_int_equal(cJSON_GetArraySize(jget(j, "approvals")), 0);
	cJSON_Delete(j);
	read_events();
	assert_int_equal(count_events("action.approve", NULL), 0);
	assert_int_equal(count_events("action.pause", NULL), 0);
	assert_int_equal(count_events("action.cancel", NULL), 0);
	/* A second person may. */
	assert_int_equal(action_as(qa, "eyes", "approve", "review", NULL, 0),
			 202);
	assert_int_equal(action_as(oper, "eyes", "cancel", NULL, NULL, 0), 202);
	wait_state("eyes", "cancelled");

	/* Without four_eyes, who started a rollout may approve it. */
	plan_text_x(plan, sizeof(plan), "open", "",
		    "holds:\n  - name: review\n    until: approved\n",
		    "  - name: all\n    percent: 100\n");
	assert_int_equal(start_as(auth_hdr, plan), 201);
	assert_int_equal(
		action_as(auth_hdr, "open", "approve", "review", NULL, 0), 202);
	assert_int_equal(action_as(oper, "open", "cancel", NULL, NULL, 0), 202);

	/* The audit: every action with who (the token's name) and when. */
	read_events();
	for (size_t i = 0; i < n_evs; i++) {
		if (strncmp(evs[i].kind, "action.", 7) != 0)
			continue;
		assert_true(evs[i].at > 0);
		assert_null(strstr(evs[i].who, "mallory"));
		if (strcmp(evs[i].kind, "action.approve") == 0) {
			assert_true(strcmp(evs[i].who, "qa-1") == 0 ||
				    strcmp(evs[i].who, "admin") == 0);
			n_approve++;
		} else {
			assert_string_equal(evs[i].kind, "action.cancel");
			assert_string_equal(evs[i].who, "ops-1");
		}
	}
	assert_int_equal(n_approve, 2);
	assert_int_equal(count_events("action.cancel", NULL), 2);

	if (fleetctl_bin != NULL) {
		char out[PATH_LEN], err[PATH_LEN], admin[200];
		char *text;

		/* fleetctl events shows who */
		path_of(out, sizeof(out), "fleetctl.out");
		path_of(err, sizeof(err), "fleetctl.err");
		assert_int_equal(fleetctl(out, "events", "eyes", NULL), 0);
		text = read_text(out);
		assert_non_null(text);
		assert_non_null(strstr(text, "action.approve"));
		assert_non_null(strstr(text, "who=qa-1"));
		assert_non_null(strstr(text, "who=ops-1"));
		free(text);
		/* a too-weak token: one clear line */
		snprintf(admin, sizeof(admin), "%s", getenv("FLEET_TOKEN"));
		setenv("FLEET_TOKEN", raw, 1);
		assert_int_equal(fleetctl(out, "pause", "open", NULL), 1);
		text = read_text(err);
		assert_non_null(text);
		assert_non_null(strstr(text, "forbidden: needs role operator, "
					     "token 'qa-1' has approver"));
		free(text);
		setenv("FLEET_TOKEN", admin, 1);
	}

	/* A revoked token is refused from the next request. */
	{
		const char *argv[] = {fleetd_bin, "token",  "revoke", "qa-1",
				      "--data",	  fd_.data, NULL};

		assert_int_equal(http_as(qa, "GET", "/api/v1/status", NULL, 0,
					 NULL, NULL),
				 200);
		assert_int_equal(run_status(argv, NULL), 0);
		assert_int_equal(http_as(qa, "GET", "/api/v1/status", NULL, 0,
					 NULL, NULL),
				 401);
	}
}

/* ---- device identity and the wire (docs/security.md) ----------------------
 */

/* One MQTT 5 client of the attacks, on libmosquitto's own thread. */
struct peer {
	struct mosquitto *m;
	pthread_mutex_t lock;
	int connack;	    /* -1: none yet; else the reason code */
	unsigned n_msgs;    /* messages received */
	unsigned n_denied;  /* PUBACKs "not authorized" */
	unsigned n_acked;   /* PUBACKs, any reason */
	unsigned n_offline; /* presence {"online":false} received */
	unsigned n_connects, n_disconnects;
};

static void on_peer_connect(struct mosquitto *m, void *obj, int rc, int flags,
			    const mosquitto_property *props)
{
	struct peer *p = obj;

	(void)m;
	(void)flags;
	(void)props;
	pthread_mutex_lock(&p->lock);
	if (p->connack != 0)
		p->connack = rc;
	p->n_connects += rc == 0;
	pthread_mutex_unlock(&p->lock);
}

static void on_peer_disconnect(struct mosquitto *m, void *obj, int rc,
			       const mosquitto_property *props)
{
	struct peer *p = obj;

	(void)m;
	(void)rc;
	(void)props;
	pthread_mutex_lock(&p->lock);
	p->n_disconnects++;
	pthread_mutex_unlock(&p->lock);
}

static void on_peer_message(struct mosquitto *m, void *obj,
			    const struct mosquitto_message *msg,
			    const mosquitto_property *props)
{
	struct peer *p = obj;
	const char *t = msg->topic;
	size_t n = strlen(t);

	(void)m;
	(void)props;
	pthread_mutex_lock(&p->lock);
	p->n_msgs++;
	if (n > 9 && strcmp(t + n - 9, "/presence") == 0 &&
	    msg->payloadlen > 0 && msg->payloadlen < 256) {
		char body[256];

		memcpy(body, msg->payload, (size_t)msg->payloadlen);
		body[msg->payloadlen] = '\0';
		p->n_offline += strstr(body, "\"online\":false") != NULL;
	}
	pthread_mutex_unlock(&p->lock);
}

static void on_peer_publish(struct mosquitto *m, void *obj, int mid, int reason,
			    const mosquitto_property *props)
{
	struct peer *p = obj;

	(void)m;
	(void)mid;
	(void)props;
	pthread_mutex_lock(&p->lock);
	p->n_acked++;
	p->n_denied += reason == MQTT_RC_NOT_AUTHORIZED;
	pthread_mutex_unlock(&p->lock);
}

/* A certificate from fleetd's CA (data: fleetd's data folder, or another
 * one for a foreign CA) as tmp/NAME.crt and tmp/NAME.key. */
static void issue(const char *verb, const char *name, const char *data)
{
	char err[PATH_LEN];
	const char *argv[] = {fleetd_bin, "pki",    verb, name,	     "--out",
			      tmp,	  "--data", data, "--force", NULL};

	path_of(err, sizeof(err), "pki.err");
	assert_int_equal(run_status(argv, err), 0);
}

/* Connects as client id id with tmp/NAME.crt (NULL: no certificate),
 * trusting ca (NULL: plain text); whether the broker accepted it (a
 * CONNACK with success within 10 s). */
static bool peer_open(struct peer *p, const char *id, const char *name,
		      const char *ca)
{
	char crt[PATH_LEN + 32], key[PATH_LEN + 32];
	uint64_t end = now_ms() + 10000;
	int ack;

	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	p->connack = -1;
	p->m = mosquitto_new(id, true, p);
	assert_non_null(p->m);
	mosquitto_int_option(p->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_connect_v5_callback_set(p->m, on_peer_connect);
	mosquitto_disconnect_v5_callback_set(p->m, on_peer_disconnect);
	mosquitto_message_v5_callback_set(p->m, on_peer_message);
	mosquitto_publish_v5_callback_set(p->m, on_peer_publish);
	if (ca != NULL) {
		if (name != NULL) {
			snprintf(crt, sizeof(crt), "%s/%s.crt", tmp, name);
			snprintf(key, sizeof(key), "%s/%s.key", tmp, name);
		}
		assert_int_equal(mosquitto_tls_set(p->m, ca, NULL,
						   name ? crt : NULL,
						   name ? key : NULL, NULL),
				 0);
	}
	assert_int_equal(mosquitto_loop_start(p->m), 0);
	(void)mosquitto_connect_async(p->m, "127.0.0.1", fd_.broker_port, 30);
	do {
		sleep_ms(50);
		pthread_mutex_lock(&p->lock);
		ack = p->connack;
		pthread_mutex_unlock(&p->lock);
	} while (ack != 0 && now_ms() < end);
	return ack == 0;
}

static void peer_close(struct peer *p)
{
	mosquitto_disconnect(p->m);
	mosquitto_loop_stop(p->m, true);
	mosquitto_destroy(p->m);
	pthread_mutex_destroy(&p->lock);
}

static unsigned peer_count(struct peer *p, const unsigned *what)
{
	unsigned n;

	pthread_mutex_lock(&p->lock);
	n = *what;
	pthread_mutex_unlock(&p->lock);
	return n;
}

static void peer_sub(struct peer *p, const char *filter)
{
	assert_int_equal(mosquitto_subscribe_v5(p->m, NULL, filter, 1, 0, NULL),
			 0);
}

static void peer_pub(struct peer *p, const char *topic, const char *payload,
		     bool is_retained)
{
	assert_int_equal(mosquitto_publish_v5(p->m, NULL, topic,
					      (int)strlen(payload), payload, 1,
					      is_retained, NULL),
			 0);
}

static long device_status(const char *id)
{
	char path[128];

	snprintf(path, sizeof(path), "/api/v1/devices/%s", id);
	return http("GET", path, NULL, 0, NULL, NULL);
}

#define REPORTED                                                               \
	"{\"model\":\"" MODEL "\",\"boot\":1,\"agent\":\"0.1.0\","             \
	"\"components\":[{\"name\":\"firmware\",\"version\":\"1.0.0\"}],"      \
	"\"slots\":[{\"state\":\"confirmed\",\"version\":\"1.0.0\","           \
	"\"seq\":1},{\"state\":\"empty\"}],\"floor\":1}"

static void test_fleetd__security(void **state)
{
	struct peer obs, evil, victim, x;
	char other[PATH_LEN], out[PATH_LEN];
	uint64_t end;
	char *text;

	(void)state;
	mosquitto_lib_init();
	bring_up();
	assert_true(strncmp(fd_.api, "https://", 8) == 0);
	assert_true(metric("fleet_insecure") == 0);
	text = read_text(fd_.log);
	assert_non_null(strstr(text, "(TLS, client certificates of the fleet "
				     "CA, ACL)"));
	assert_null(strstr(text, "--insecure"));
	free(text);

	/* Who may connect: a certificate of fleetd's CA, nothing else. */
	issue("device", "evil-1", fd_.data);
	issue("client", "observer@fleet", fd_.data);
	path_of(other, sizeof(other), "other");
	{
		const char *argv[] = {fleetd_bin, "pki", "init",
				      "--data",	  other, NULL};

		path_of(out, sizeof(out), "pki.err");
		assert_int_equal(run_status(argv, out), 0);
	}
	issue("device", "stranger-1", other);
	assert_false(peer_open(&x, "nocert-1", NULL, fd_.ca));
	peer_close(&x);
	assert_false(peer_open(&x, "stranger-1", "stranger-1", fd_.ca));
	peer_close(&x);
	assert_false(peer_open(&x, "plain-1", NULL, NULL));
	peer_close(&x);
	/* A client that does not know the fleet CA refuses the broker. */
	{
		char ca2[PATH_LEN + 32];

		snprintf(ca2, sizeof(ca2), "%s/pki/ca.crt", other);
		assert_false(peer_open(&x, "evil-1", "evil-1", ca2));
		peer_close(&x);
	}

	/* Two real devices, and an observer that sees every device topic. */
	fleet(0, "sec", 2, NULL, NULL);
	assert_true(peer_open(&obs, "observer", "observer@fleet", fd_.ca));
	peer_sub(&obs, "fleet/v1/dev/+/cmd");
	peer_sub(&obs, "fleet/v1/dev/sec-000001/presence");
	peer_sub(&obs, "fleet/v1/dev/ghost-1/#");

	/* A device with its own certificate asks for another's client id:
	 * the broker gives it its own (its CN), the other stays connected. */
	assert_true(peer_open(&evil, "sec-000001", "evil-1", fd_.ca));
	peer_sub(&evil, "fleet/v1/dev/sec-000001/cmd");
	peer_sub(&evil, "fleet/v1/dev/+/cmd");
	peer_sub(&evil, "#");
	sleep_ms(1000); /* SUBACKs, and a kicked device would show */
	assert_int_equal(peer_count(&obs, &obs.n_offline), 0);

	/* Publishing as another device: refused, never delivered. */
	peer_pub(&evil, "fleet/v1/dev/ghost-1/reported", REPORTED, true);
	peer_pub(&evil, "fleet/v1/dev/ghost-1/presence",
		 "{\"online\":true,\"boot\":1,\"conn\":1}", true);
	peer_pub(&evil, "fleet/v1/dev/sec-000001/presence",
		 "{\"online\":false,\"boot\":9,\"conn\":9}", true);
	/* ... while its own topics work (the same connection, after). */
	peer_pub(&evil, "fleet/v1/dev/evil-1/reported", REPORTED, true);
	end = now_ms() + WAIT_S * 1000u;
	while (device_status("evil-1") != 200) {
		assert_true(now_ms() < end);
		sleep_ms(100);
	}
	assert_int_equal(device_status("ghost-1"), 404);
	assert_int_equal(peer_count(&evil, &evil.n_acked), 4);
	assert_int_equal(peer_count(&evil, &evil.n_denied), 3);
	{
		cJSON *d = get_json("/api/v1/devices/sec-000001");

		assert_non_null(d);
		assert_true(cJSON_IsTrue(
			cJSON_GetObjectItemCaseSensitive(d, "online")));
		cJSON_Delete(d);
	}
	/* No subscriber saw the forgeries (observer@fleet reads it all). */
	assert_int_equal(peer_count(&obs, &obs.n_offline), 0);

	/* Reading another's commands: fleetd offers 2.0.0 to both devices;
	 * the observer sees the offers, the other device nothing at all
	 * (its own cmd topic has none). Over HTTPS the devices download. */
	start_rollout("sec", "  - name: all\n    percent: 100\n");
	end = now_ms() + WAIT_S * 1000u;
	while (peer_count(&obs, &obs.n_msgs) < 2) {
		assert_true(now_ms() < end);
		sleep_ms(100);
	}
	wait_state("sec", "complete");
	wait_versions("sec", 2, "2.0.0");
	assert_int_equal(peer_count(&evil, &evil.n_msgs), 0);

	/* The device's own cmd topic is its own: a valid device reading it
	 * gets nothing another was sent. */
	issue("device", "sec-000009", fd_.data);
	assert_true(peer_open(&victim, "sec-000009", "sec-000009", fd_.ca));
	peer_sub(&victim, "fleet/v1/dev/sec-000001/cmd");
	peer_sub(&victim, "fleet/v1/dev/sec-000009/cmd");
	sleep_ms(500);
	assert_int_equal(peer_count(&victim, &victim.n_msgs), 0);
	peer_close(&victim);
	peer_close(&evil);
	peer_close(&obs);

	/* HTTPS: with the CA it answers (above); without it, or with
	 * another CA, the client refuses fleetd. */
	{
		char ca[sizeof(fd_.ca)];
		char ca2[PATH_LEN + 32], err[PATH_LEN];

		memcpy(ca, fd_.ca, sizeof(ca));
		fd_.ca[0] = '\0'; /* the system's CAs */
		assert_int_equal(
			http("GET", "/api/v1/status", NULL, 0, NULL, NULL), 0);
		snprintf(fd_.ca, sizeof(fd_.ca), "%s/pki/ca.crt", other);
		assert_int_equal(
			http("GET", "/api/v1/status", NULL, 0, NULL, NULL), 0);
		memcpy(fd_.ca, ca, sizeof(ca));
		assert_int_equal(
			http("GET", "/api/v1/status", NULL, 0, NULL, NULL),
			200);
		if (fleetctl_bin != NULL) {
			snprintf(ca2, sizeof(ca2), "%s/pki/ca.crt", other);
			assert_int_equal(setenv("FLEET_CA", ca2, 1), 0);
			path_of(out, sizeof(out), "fleetctl.out");
			assert_int_equal(fleetctl(out, "devices", NULL, NULL),
					 1);
			path_of(err, sizeof(err), "fleetctl.err");
			text = read_text(err);
			assert_non_null(strstr(text, "cannot trust fleetd"));
			free(text);
			assert_int_equal(setenv("FLEET_CA", fd_.ca, 1), 0);
			assert_int_equal(fleetctl(out, "devices", NULL, NULL),
					 0);
		}
	}
	mosquitto_lib_cleanup();
}

/* ---- revocation (docs/security.md, "Operating the PKI") ------------------
 */

/* `fleetd pki VERB [A] [B] --data DATA`: its exit status; its stdout in
 * tmp/pki.out, its stderr in tmp/pki.err (both replaced). */
static int pki(const char *verb, const char *a, const char *b)
{
	char out[PATH_LEN], err[PATH_LEN];
	const char *argv[8];
	int n = 0;

	argv[n++] = fleetd_bin;
	argv[n++] = "pki";
	argv[n++] = verb;
	if (a != NULL)
		argv[n++] = a;
	if (b != NULL)
		argv[n++] = b;
	argv[n++] = "--data";
	argv[n++] = fd_.data;
	argv[n] = NULL;
	path_of(out, sizeof(out), "pki.out");
	path_of(err, sizeof(err), "pki.err");
	unlink(out);
	unlink(err);
	return wait_pid(spawn(argv, out, err), WAIT_S * 1000);
}

static bool pki_said(const char *which, const char *what)
{
	char path[PATH_LEN];
	char *text;
	bool is_there;

	path_of(path, sizeof(path), which);
	text = read_text(path);
	is_there = text != NULL && strstr(text, what) != NULL;
	if (!is_there)
		fprintf(stderr, "%s: no \"%s\" in:\n%s\n", which, what,
			text ? text : "(nothing)");
	free(text);
	return is_there;
}

static unsigned log_count(const char *what)
{
	char *text = read_text(fd_.log);
	unsigned n = 0;

	for (const char *p = text; p != NULL && (p = strstr(p, what)) != NULL;
	     p++)
		n++;
	free(text);
	return n;
}

/* The CRL's next update, as `fleetd pki list` prints it, is at least
 * days away. */
static void crl_valid_for(unsigned days)
{
	char path[PATH_LEN], want[32];
	time_t t = time(NULL) + (time_t)days * 86400;
	struct tm tm;
	char *text;
	const char *p;

	assert_int_equal(pki("list", NULL, NULL), 0);
	path_of(path, sizeof(path), "pki.out");
	text = read_text(path);
	assert_non_null(text);
	p = strstr(text, "next update ");
	assert_non_null(p);
	gmtime_r(&t, &tm);
	strftime(want, sizeof(want), "%Y-%m-%d", &tm);
	assert_true(strncmp(p + 12, want, 10) >= 0);
	free(text);
}

static char *crl_text(void)
{
	char path[PATH_LEN + 32];

	snprintf(path, sizeof(path), "%s/pki/crl.pem", fd_.data);
	return read_text(path);
}

static void test_fleetd__revoke(void **state)
{
	struct peer a, b, x;
	pid_t br, br2 = -1;
	char path[PATH_LEN + 32];
	char *text, *crl;
	uint64_t end;
	unsigned b_connects;

	(void)state;
	mosquitto_lib_init();
	bring_up();
	snprintf(path, sizeof(path), "%s/mosquitto/mosquitto.conf", fd_.data);
	text = read_text(path);
	assert_non_null(strstr(text, "/pki/crl.pem\n"));
	free(text);
	assert_true(log_count("pki: CRL ") >= 1);
	issue("device", "rv-1", fd_.data);
	issue("device", "rv-2", fd_.data);
	fleet(0, "rv", 2, NULL, NULL);
	assert_true(peer_open(&a, "rv-1", "rv-1", fd_.ca));
	assert_true(peer_open(&b, "rv-2", "rv-2", fd_.ca));
	br = broker_pid(&fd_);
	assert_true(br > 0);

	/* Revoked while fleetd runs: its broker restarts, which drops every
	 * connection; rv-1 cannot come back, rv-2 does. */
	assert_int_equal(pki("revoke", "rv-1", NULL), 0);
	assert_true(pki_said("pki.out", "rv-1: 1 certificate revoked"));
	end = now_ms() + WAIT_S * 1000u;
	for (;;) {
		br2 = broker_pid(&fd_);
		if (br2 > 0 && br2 != br && is_alive(br2) &&
		    peer_count(&b, &b.n_connects) >= 2)
			break;
		assert_true(now_ms() < end);
		sleep_ms(50);
	}
	assert_true(log_count("restarting the broker") == 1);
	assert_true(peer_count(&a, &a.n_disconnects) >= 1);
	/* Its wrap key is gone (no new image keys), rv-2's is kept. */
	snprintf(path, sizeof(path), "%s/wrap/rv-2.pem", fd_.data);
	if (access(path, F_OK) == 0) {
		snprintf(path, sizeof(path), "%s/wrap/rv-1.pem", fd_.data);
		assert_int_equal(access(path, F_OK), -1);
	}
	sleep_ms(3000); /* libmosquitto tries again every second */
	assert_int_equal(peer_count(&a, &a.n_connects), 1);
	assert_false(peer_open(&x, "rv-1", "rv-1", fd_.ca));
	peer_close(&x);
	assert_true(peer_open(&x, "rv-2b", "rv-2", fd_.ca));
	peer_close(&x);

	/* Again, an unknown id, a bad serial: said, nothing changed, no
	 * restart. */
	crl = crl_text();
	assert_non_null(crl);
	assert_int_equal(pki("revoke", "rv-1", NULL), 0);
	assert_true(pki_said("pki.out", "rv-1: already revoked, nothing "
					"changed"));
	assert_int_equal(pki("revoke", "nobody", NULL), 1);
	assert_true(pki_said("pki.err", "no certificate was issued to "
					"`nobody`"));
	assert_int_equal(pki("revoke", "--serial", "xyz"), 1);
	assert_true(pki_said("pki.err", "serial `xyz`"));
	assert_int_equal(pki("revoke", NULL, NULL), 2);
	text = crl_text();
	assert_string_equal(text, crl);
	free(text);
	free(crl);
	sleep_ms(1500); /* fleetd looks every second */
	assert_int_equal(broker_pid(&fd_), br2);
	assert_true(log_count("restarting the broker") == 1);

	/* fleetd kept its state: the fleet's rollout completes. */
	wait_online("rv", 2);
	start_rollout("rv", "  - name: all\n    percent: 100\n");
	wait_state("rv", "complete");
	wait_versions("rv", 2, "2.0.0");
	assert_int_equal(pki("list", NULL, NULL), 0);
	assert_true(pki_said("pki.out", "revoked"));
	assert_true(pki_said("pki.out", "1 serial revoked"));

	/* Two days from lapsing: fleetd re-signs it, and the broker reloads
	 * it without dropping anyone. */
	b_connects = peer_count(&b, &b.n_connects);
	assert_int_equal(pki("crl", "--days", "2"), 0);
	end = now_ms() + WAIT_S * 1000u;
	while (log_count(" re-signed: 1 revoked") < 1) {
		assert_true(now_ms() < end);
		sleep_ms(100);
	}
	crl_valid_for(29);
	sleep_ms(1500);
	assert_int_equal(broker_pid(&fd_), br2);
	assert_int_equal(peer_count(&b, &b.n_connects), b_connects);
	assert_true(peer_open(&x, "rv-2c", "rv-2", fd_.ca));
	peer_close(&x);
	assert_false(peer_open(&x, "rv-1", "rv-1", fd_.ca));
	peer_close(&x);
	peer_close(&a);
	peer_close(&b);

	/* fleetd stopped: rv-2 revoked, rv-1 issued again, the CRL a day
	 * from lapsing. At the next start: re-signed, rv-2 refused, the new
	 * rv-1 in. */
	kill(fd_.pid, SIGTERM);
	assert_int_equal(wait_pid(fd_.pid, 30000), 0);
	fd_.pid = -1;
	assert_int_equal(pki("revoke", "rv-2", NULL), 0);
	issue("device", "rv-1", fd_.data);
	assert_int_equal(pki("crl", "--days", "1"), 0);
	/* A publisher's certificate that is not its key's (and names
	 * another publisher): made again at the start, the others kept. */
	{
		char p0[PATH_LEN + 32], p1[PATH_LEN + 32];
		char cmd[3 * PATH_LEN];

		snprintf(p0, sizeof(p0), "%s/pki/fleetd-p0.crt", fd_.data);
		snprintf(p1, sizeof(p1), "%s/pki/fleetd-p1.crt", fd_.data);
		snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", p1, p0);
		assert_int_equal(system(cmd), 0);
	}
	fleetd_start(&fd_);
	assert_int_equal(log_count(" re-signed: 2 revoked"), 1);
	assert_int_equal(log_count("fleetd-p0.crt: "), 1);
	assert_int_equal(log_count("does not belong"), 1);
	assert_int_equal(log_count(": made again"), 1);
	crl_valid_for(29);
	assert_false(peer_open(&x, "rv-2", "rv-2", fd_.ca));
	peer_close(&x);
	assert_true(peer_open(&x, "rv-1", "rv-1", fd_.ca));
	peer_close(&x);
	mosquitto_lib_cleanup();
}

/* --insecure: plain text, said at start and in /metrics; TLS gone. */
/* ---- encrypted images ---------------------------------------------------- */

/* The plain image's bytes at [off, off + 64): the marker looked for. */
static bool file_has_plain(const char *path, const unsigned char *img)
{
	char *t = NULL;
	size_t n = 0;
	FILE *f = fopen(path, "rb");
	bool hit = false;

	if (f == NULL)
		return false;
	t = malloc(1 << 20);
	assert_non_null(t);
	n = fread(t, 1, 1 << 20, f);
	fclose(f);
	for (size_t i = 0; !hit && n >= 64 && i + 64 <= n; i++)
		hit = memcmp(t + i, img + 1000, 64) == 0 ||
		      memcmp(t + i, img, 64) == 0;
	free(t);
	return hit;
}

static const unsigned char *scan_img;
static unsigned scan_files, scan_hits;

static int scan_entry(const char *p, const struct stat *sb, int flag,
		      struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_F && S_ISREG(sb->st_mode)) {
		scan_files++;
		if (file_has_plain(p, scan_img)) {
			fprintf(stderr, "plain image bytes in %s\n", p);
			scan_hits++;
		}
	}
	return 0;
}

/* fleetd's own commands on its data folder; their exit status. */
static int fleetd_cmd(const char *a1, const char *a2, const char *a3,
		      const char *a4)
{
	const char *argv[] = {fleetd_bin, a1, a2, "--data",
			      fd_.data,	  a3, a4, NULL};
	char err[PATH_LEN];

	path_of(err, sizeof(err), "fleetd-cmd.err");
	return run_status(argv, err);
}

/*
 * fleetd encrypts what it imports and wraps the key per device: over TLS,
 * three devices (e-*) with the wrap keys `fleetd pki devices` made take an
 * encrypted 2.0.0 and commit it; a device whose key was removed from the
 * registry (n-000001) is not offered and fails with no_key, the start
 * having warned about it; a device whose registered key was swapped for
 * another's (s-000001) is offered a key it cannot open and refuses it
 * (not_for_this_device). Neither installs anything. fleetd's data folder
 * holds no byte of the plain image, /artifacts/ does not serve it, the
 * KEK is 32 bytes, 0600, and fleetd refuses to start once it is open to
 * others; `wrapkey add` refuses bad input and changes nothing.
 */
static void test_fleetd__encrypted(void **state)
{
	unsigned char img[IMAGE_BYTES];
	char path[PATH_LEN + 32], swap[PATH_LEN + 32], plan[2048], *v;
	cJSON *req, *ans = NULL, *ro;
	const cJSON *nk;
	struct stat sb;
	char *body;
	long st;

	(void)state;
	bring_up();
	assert_true(fd_.ca[0] != '\0'); /* TLS: devices have wrap keys */
	fleet(0, "e", 3, NULL, NULL);
	fleet(1, "n", 1, NULL, NULL);
	fleet(2, "s", 1, NULL, NULL);
	assert_int_equal(fleetd_cmd("wrapkey", "remove", "n-000001", NULL), 0);
	snprintf(swap, sizeof(swap), "%s/wrap/e-000001.pem", fd_.data);
	{
		const char *argv[] = {fleetd_bin, "wrapkey", "add",
				      "s-000001", swap,	     "--replace",
				      "--data",	  fd_.data,  NULL};
		char err[PATH_LEN];

		path_of(err, sizeof(err), "fleetd-cmd.err");
		assert_int_equal(run_status(argv, err), 0);
	}
	/* bad input: refused, the registry unchanged */
	snprintf(path, sizeof(path), "%s/wrap", fd_.data);
	{
		char priv[PATH_LEN + 32], before[64], after[64];
		struct stat a, b;

		path_of(priv, sizeof(priv), "certs/e-000002.wrap.pem");
		assert_int_equal(stat(path, &a), 0);
		snprintf(before, sizeof(before), "%lld", (long long)a.st_mtime);
		assert_int_equal(fleetd_cmd("wrapkey", "add", "x-1", priv), 1);
		assert_int_equal(fleetd_cmd("wrapkey", "add", "../x", swap), 1);
		assert_int_equal(fleetd_cmd("wrapkey", "add", "e-000002", swap),
				 1);
		path_of(priv, sizeof(priv), "fw-2.0.0.bin");
		assert_int_equal(fleetd_cmd("wrapkey", "add", "x-2", priv), 1);
		assert_int_equal(stat(path, &b), 0);
		snprintf(after, sizeof(after), "%lld", (long long)b.st_mtime);
		assert_string_equal(before, after);
		snprintf(priv, sizeof(priv), "%s/wrap/x-1.pem", fd_.data);
		assert_int_not_equal(access(priv, F_OK), 0);
	}

	/* the image is stored encrypted only */
	snprintf(path, sizeof(path), "/artifacts/%s", sha);
	assert_int_equal(http("GET", path, NULL, 0, NULL, NULL), 404);
	snprintf(path, sizeof(path), "/api/v1/artifacts/%s", sha);
	ans = get_json(path);
	assert_non_null(ans);
	assert_true(cJSON_IsTrue(jget(ans, "encrypted")));
	assert_false(cJSON_IsTrue(jget(ans, "plain")));
	cJSON_Delete(ans);
	ans = NULL;

	plan_text_x(plan, sizeof(plan), "enc-2.0.0",
		    "  max_failure_rate: 50%\n  min_devices: 5\n", "",
		    "  - name: all\n    percent: 100\n");
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "plan", plan);
	cJSON_AddStringToObject(req, "artifact_sha256", sha);
	body = cJSON_PrintUnformatted(req);
	st = http("POST", "/api/v1/rollouts", body, strlen(body),
		  "application/json", &ans);
	assert_int_equal(st, 201);
	assert_true(cJSON_IsTrue(jget(ans, "encrypted")));
	nk = jget(ans, "no_key");
	assert_int_equal((int)jnum(nk, "count"), 1);
	assert_string_equal(
		cJSON_GetArrayItem(jget(nk, "devices"), 0)->valuestring,
		"n-000001");
	cJSON_Delete(ans);
	cJSON_Delete(req);
	free(body);

	wait_state("enc-2.0.0", "complete");
	wait_versions("e", 3, "2.0.0");
	v = member_field("enc-2.0.0", "n-000001", "fail_reason");
	assert_non_null(v);
	assert_string_equal(v, "no_key");
	free(v);
	v = member_field("enc-2.0.0", "s-000001", "reason");
	assert_non_null(v);
	assert_string_equal(v, "not_for_this_device");
	free(v);
	assert_int_equal(census("n", "1.0.0").on_version, 1);
	assert_int_equal(census("s", "1.0.0").on_version, 1);
	ro = get_rollout("enc-2.0.0");
	assert_non_null(ro);
	assert_true(cJSON_IsTrue(jget(ro, "encrypted")));
	cJSON_Delete(ro);
	read_events();
	assert_true(has_event("note.refused", "n-000001"));

	/* no plain byte in fleetd's data folder */
	path_of(path, sizeof(path), "fw-2.0.0.bin");
	{
		FILE *f = fopen(path, "rb");

		assert_non_null(f);
		assert_int_equal(fread(img, 1, sizeof(img), f), sizeof(img));
		fclose(f);
	}
	scan_img = img;
	assert_int_equal(nftw(fd_.data, scan_entry, 16, FTW_PHYS), 0);
	assert_true(scan_files > 5);
	assert_int_equal(scan_hits, 0);

	/* the KEK: 32 bytes, 0600; fleetd refuses it open to others */
	snprintf(path, sizeof(path), "%s/keys/kek", fd_.data);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 32);
	assert_int_equal(sb.st_mode & 0777, 0600);
	kill(fd_.pid, SIGTERM);
	assert_int_equal(wait_pid(fd_.pid, 30000), 0);
	fd_.pid = -1;
	assert_int_equal(chmod(path, 0640), 0);
	{
		const char *argv[] = {fleetd_bin, "--config", fd_.conf, NULL};
		char err[PATH_LEN], *text;

		path_of(err, sizeof(err), "fleetd-kek.err");
		assert_int_equal(run_status(argv, err), 1);
		text = read_text(err);
		assert_non_null(text);
		assert_non_null(strstr(text, "keys/kek: mode 0640"));
		free(text);
	}
	assert_int_equal(chmod(path, 0600), 0);
}

/* A plan for 2.0.0 encrypted in the form compress, chunk, to the
 * devices labelled ring: ring. */
static void plan_form(char *plan, size_t cap, const char *name,
		      const char *compress, const char *chunk, const char *ring)
{
	snprintf(plan, cap,
		 "rollout: %s\n"
		 "artifact:\n"
		 "  version: 2.0.0\n"
		 "  file: fw-2.0.0.bin\n"
		 "  hardware: [" MODEL "]\n"
		 "  compress: %s\n"
		 "  chunk: %s\n"
		 "targets:\n"
		 "  match: {ring: %s}\n"
		 "health:\n"
		 "  soak: 2s\n"
		 "  max_failure_rate: 50%%\n"
		 "  min_devices: 5\n"
		 "stages:\n"
		 "  - name: all\n"
		 "    percent: 100\n",
		 name, compress, chunk, ring);
}

/* POST /api/v1/rollouts of plan: the status, *ans the answer. */
static long post_plan(const char *plan, cJSON **ans)
{
	cJSON *req = cJSON_CreateObject();
	char *body;
	long st;

	cJSON_AddStringToObject(req, "plan", plan);
	cJSON_AddStringToObject(req, "artifact_sha256", sha);
	body = cJSON_PrintUnformatted(req);
	st = http("POST", "/api/v1/rollouts", body, strlen(body),
		  "application/json", ans);
	cJSON_Delete(req);
	free(body);
	return st;
}

/*
 * Encrypted images for microcontrollers (no zstd, little RAM): fleet-sim
 * devices taking chunks of at most 4 KiB (--chunk-max 4096). A plan with
 * compress: false and chunk: 4KiB is refused 409 not_stored until the
 * image is stored in that form; the upload with ?compress=false&chunk=4096
 * stores a second container beside the default one (uncompressed: longer
 * than the image), a content record of its own; bad forms are a 400. The
 * rollout then installs on its devices. A plan whose chunk (8 KiB,
 * uploaded by fleetctl with ?chunk=8192) is larger than what its device
 * takes is refused by the device (chunk_size), nothing installed.
 */
static void test_fleetd__mcu(void **state)
{
	char plan[2048], path[PATH_LEN + 96], *img, *v;
	const char *c16, *c4;
	cJSON *ans = NULL, *def = NULL, *ro;
	uint64_t end;
	long st;

	(void)state;
	bring_up(); /* the image stored in the default form */
	assert_true(fd_.ca[0] != '\0');
	sims[0].chunk_max = 4096;
	fleet(0, "m", 2, "ring=a", NULL);
	sims[1].chunk_max = 4096;
	fleet(1, "w", 1, "ring=b", NULL);

	/* not stored in the plan's form: 409, nothing started */
	plan_form(plan, sizeof(plan), "mcu", "false", "4KiB", "a");
	st = post_plan(plan, &ans);
	assert_int_equal(st, 409);
	assert_string_equal(jstr(jget(ans, "error"), "code"), "not_stored");
	assert_non_null(strstr(jstr(jget(ans, "error"), "message"),
			       "?compress=false&chunk=4096"));
	cJSON_Delete(ans);
	ans = NULL;
	assert_null(get_rollout("mcu"));

	/* bad forms: 400, nothing stored */
	path_of(path, sizeof(path), "fw-2.0.0.bin");
	img = read_text(path);
	assert_non_null(img);
	{
		static const char *const bad[] = {
			"?compress=no",
			"?chunk=5000",
			"?chunk=2048",
			"?chunk=2097152",
			"?chunk=04096",
			"?chunk=4096x",
			"?encrypt=false&chunk=4096",
			"?encrypt=false&compress=false",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			snprintf(path, sizeof(path), "/api/v1/artifacts/%s%s",
				 sha, bad[i]);
			st = http("PUT", path, img, IMAGE_BYTES,
				  "application/octet-stream", NULL);
			if (st != 400)
				fprintf(stderr, "%s: %ld\n", bad[i], st);
			assert_int_equal(st, 400);
		}
	}
	snprintf(path, sizeof(path),
		 "/api/v1/artifacts/%s?compress=false&chunk=4096", sha);
	assert_int_equal(http("GET", path, NULL, 0, NULL, NULL), 404);

	/* stored in that form too: a container of its own */
	st = http("PUT", path, img, IMAGE_BYTES, "application/octet-stream",
		  &ans);
	free(img);
	assert_int_equal(st, 201);
	assert_true(cJSON_IsTrue(jget(ans, "encrypted")));
	assert_false(cJSON_IsTrue(jget(ans, "compressed")));
	assert_int_equal((int)jnum(ans, "chunk"), 4096);
	assert_true(jnum(ans, "container_length") > IMAGE_BYTES);
	c4 = jstr(ans, "container");
	assert_non_null(c4);
	snprintf(path, sizeof(path), "/api/v1/artifacts/%s", sha);
	def = get_json(path);
	assert_non_null(def);
	assert_true(cJSON_IsTrue(jget(def, "compressed")));
	assert_int_equal((int)jnum(def, "chunk"), 16384);
	assert_true(jnum(def, "container_length") < IMAGE_BYTES);
	c16 = jstr(def, "container");
	assert_non_null(c16);
	assert_string_not_equal(c4, c16);
	snprintf(path, sizeof(path), "%s/keys/content/%s", fd_.data, sha);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/keys/content/%s.none-4096", fd_.data,
		 sha);
	assert_int_equal(access(path, F_OK), 0);
	cJSON_Delete(def);
	cJSON_Delete(ans);
	ans = NULL;

	/* installs on devices that take 4 KiB chunks */
	st = post_plan(plan, &ans);
	assert_int_equal(st, 201);
	cJSON_Delete(ans);
	ans = NULL;
	ro = get_rollout("mcu");
	assert_non_null(ro);
	assert_true(cJSON_IsTrue(jget(ro, "encrypted")));
	assert_false(cJSON_IsTrue(jget(ro, "compressed")));
	assert_int_equal((int)jnum(ro, "chunk"), 4096);
	cJSON_Delete(ro);
	wait_state("mcu", "complete");
	wait_versions("m", 2, "2.0.0");

	/* a chunk larger than the device takes: refused, nothing installed */
	plan_form(plan, sizeof(plan), "mcu-big", "false", "8KiB", "b");
	if (fleetctl_bin != NULL) {
		char file[PATH_LEN], out[PATH_LEN];

		path_of(file, sizeof(file), "mcu-big.yaml");
		path_of(out, sizeof(out), "fleetctl.out");
		write_text(file, plan);
		assert_int_equal(fleetctl(out, "rollout", "start", file), 0);
	} else {
		path_of(path, sizeof(path), "fw-2.0.0.bin");
		img = read_text(path);
		assert_non_null(img);
		snprintf(path, sizeof(path),
			 "/api/v1/artifacts/%s?compress=false&chunk=8192", sha);
		st = http("PUT", path, img, IMAGE_BYTES,
			  "application/octet-stream", NULL);
		free(img);
		assert_int_equal(st, 201);
		assert_int_equal(post_plan(plan, &ans), 201);
		cJSON_Delete(ans);
		ans = NULL;
	}
	end = now_ms() + WAIT_S * 1000u;
	while ((v = member_field("mcu-big", "w-000001", "reason")) == NULL) {
		assert_true(now_ms() < end);
		sleep_ms(200);
	}
	assert_string_equal(v, "chunk_size");
	free(v);
	assert_int_equal(census("w", "1.0.0").on_version, 1);
	snprintf(path, sizeof(path), "%s/keys/content/%s.none-8192", fd_.data,
		 sha);
	assert_int_equal(access(path, F_OK), 0);
}

static void test_fleetd__insecure(void **state)
{
	struct peer p;
	char *text;

	(void)state;
	mosquitto_lib_init();
	bring_up_with("insecure: true\n");
	assert_true(strncmp(fd_.api, "http://", 7) == 0);
	assert_true(metric("fleet_insecure") == 1);
	text = read_text(fd_.log);
	assert_non_null(strstr(text, "warning: --insecure: MQTT and HTTP are "
				     "plain text"));
	free(text);
	assert_true(peer_open(&p, "anyone", NULL, NULL));
	peer_close(&p);
	fleet(0, "ins", 2, NULL, NULL);
	start_rollout("ins", "  - name: all\n    percent: 100\n");
	wait_state("ins", "complete");
	mosquitto_lib_cleanup();
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		struct CMUnitTest t;
	} all[] = {
		{"basics", cmocka_unit_test_setup_teardown(test_fleetd__basics,
							   setup, teardown)},
		{"good", cmocka_unit_test_setup_teardown(test_fleetd__good,
							 setup, teardown)},
		{"canary", cmocka_unit_test_setup_teardown(test_fleetd__canary,
							   setup, teardown)},
		{"wave", cmocka_unit_test_setup_teardown(test_fleetd__wave,
							 setup, teardown)},
		{"kill", cmocka_unit_test_setup_teardown(test_fleetd__kill,
							 setup, teardown)},
		{"broker", cmocka_unit_test_setup_teardown(test_fleetd__broker,
							   setup, teardown)},
		{"offline", cmocka_unit_test_setup_teardown(
				    test_fleetd__offline, setup, teardown)},
		{"window", cmocka_unit_test_setup_teardown(test_fleetd__window,
							   setup, teardown)},
		{"hold", cmocka_unit_test_setup_teardown(test_fleetd__hold,
							 setup, teardown)},
		{"rollback_away",
		 cmocka_unit_test_setup_teardown(test_fleetd__rollback_away,
						 setup, teardown)},
		{"away", cmocka_unit_test_setup_teardown(test_fleetd__away,
							 setup, teardown)},
		{"auth", cmocka_unit_test_setup_teardown(test_fleetd__auth,
							 setup, teardown)},
		{"security", cmocka_unit_test_setup_teardown(
				     test_fleetd__security, setup, teardown)},
		{"insecure", cmocka_unit_test_setup_teardown(
				     test_fleetd__insecure, setup, teardown)},
		{"revoke", cmocka_unit_test_setup_teardown(test_fleetd__revoke,
							   setup, teardown)},
		{"encrypted", cmocka_unit_test_setup_teardown(
				      test_fleetd__encrypted, setup, teardown)},
		{"mcu", cmocka_unit_test_setup_teardown(test_fleetd__mcu, setup,
							teardown)},
	};

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: test_fleetd SCENARIO FLEETD FLEET_SIM "
				"MOSQUITTO [FLEETCTL]\n");
		return 2;
	}
	scenario = argv[1];
	fleetd_bin = argv[2];
	sim_bin = argv[3];
	mosquitto_bin = argv[4];
	fleetctl_bin = argc == 6 ? argv[5] : NULL;
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i].name, scenario) == 0) {
			struct CMUnitTest t[1];

			t[0] = all[i].t;
			return cmocka_run_group_tests_name(scenario, t, NULL,
							   NULL);
		}
	fprintf(stderr, "test_fleetd: no scenario '%s'\n", scenario);
	return 2;
}
