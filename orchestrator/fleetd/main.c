/*
 * main.c -- fleetd, the orchestrator:
 *
 *   fleetd [--config FILE] [--data DIR] [--broker URL|embedded]
 *          [--listen ADDR:PORT] [--log-level LEVEL] [--insecure]
 *          [--version] [--help]
 *
 * Takes the data directory (created 0700; a lock file keeps a second
 * fleetd out of it), opens the store (DATA/fleet.db), the signing key
 * (DATA/keys/), the HTTP side (REST API, artifacts, /metrics), the broker
 * (the embedded mosquitto unless --broker names one), the runner and the
 * MQTT client, and runs everything on one fl_loop until SIGTERM or SIGINT.
 *
 * The runner is driven by a timer armed for the time it asks (its tick's
 * next_ms), earlier when something arrived: within its flush delay after
 * device messages (reports are written in batches), at once after an API
 * request (an action or a start may have changed what it must do), and
 * at least every TICK_MAX_MS.
 *
 * A clean stop (SIGTERM, SIGINT): the API answers 503, a last tick, the
 * MQTT client drains and disconnects, the runner writes the reports it
 * holds, the store is closed, the broker is stopped. SIGHUP re-reads
 * the certificate revocation list at once. A kill -9 at any point loses nothing
 * the runner committed (runner.h, CRASH SAFETY), and the broker, which gets
 * SIGTERM when fleetd dies, is replaced at the next start.
 *
 * Revocation (pki.h): the CRL DATA/pki/crl.pem is watched (a stat every
 * CRL_POLL_MS, and at SIGHUP): when it lists another set of serials
 * (`fleetd pki revoke`), the embedded broker is restarted, which
 * disconnects every client, so that a revoked device already connected
 * is refused when it comes back; when only its dates changed (re-signed)
 * the broker reloads it (SIGHUP) and nobody is disconnected. fleetd
 * re-signs the CRL before it lapses, at start and every CRL_CHECK_MS.
 *
 * Exit status: 0 after a clean stop, 1 a failure (one line on stderr
 * says why), 2 a usage error. Logs: one line each on stderr,
 * "fleetd: LEVEL: message". The line saying where the API and the broker
 * are goes to stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "broker.h"
#include "config.h"
#include "fl/log.h"
#include "fl/bytes.h"
#include "fl/err.h"
#include "fl/loop.h"
#include "fl/store.h"
#include "fl/tzfile.h"
#include "http.h"
#include "keys_cmd.h"
#include "mqtt_server.h"
#include "pki.h"
#include "pki_cmd.h"
#include "runner.h"
#include "signer.h"
#include "imgkeys.h"
#include "wrapkey_cmd.h"
#include "token_cmd.h"

#ifndef FLEETD_VERSION
#define FLEETD_VERSION "0.0.0"
#endif

#define EXIT_USAGE	  2
#define TICK_MAX_MS	  1000u
#define TICK_RETRY_MS	  1000u
#define STOP_WAIT_MS	  2000u
#define CLIENT_ID_SETTING "fleetd.mqtt_client_id"
#define URL_MAX		  (FLD_URL_MAX + 64)
#define CRL_POLL_MS	  1000u
#define CRL_CHECK_MS	  (24u * 3600u * 1000u)
#define PUB_RENEW_DAYS	  30 /* a publisher certificate made again */

static int log_max = FL_LOG_INFO;

/* ---- logging ------------------------------------------------------------- */

static void log_write(int level, const char *who, const char *msg)
{
	static const char *const names[] = {"error", "warning", "info",
					    "debug"};
	char line[640];
	int n;

	if (level > log_max || level < 0 || level > FL_LOG_DEBUG)
		return;
	n = snprintf(line, sizeof(line), "fleetd: %s: %s%s%s\n", names[level],
		     who != NULL && who[0] != '\0' ? who : "",
		     who != NULL && who[0] != '\0' ? ": " : "", msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per line: lines of concurrent writers do not mix. */
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

__attribute__((format(printf, 2, 3))) static void say(int level,
						      const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_write(level, NULL, msg);
}

static void log_lib(void *ctx, int level, const char *msg)
{
	(void)ctx;
	log_write(level, NULL, msg);
}

static void log_runner(void *ctx, const char *device, const char *msg)
{
	char m[400];

	(void)ctx;
	snprintf(m, sizeof(m), "runner: %s%s%s", device ? device : "",
		 device ? ": " : "", msg);
	log_write(FL_LOG_INFO, NULL, m);
}

/* ---- the application ----------------------------------------------------- */

struct app {
	struct fld_config cfg;
	char data[PATH_MAX];
	int lock_fd, sig_fd;
	struct fl_loop *loop;
	struct fl_store st;
	bool is_store_open;
	struct fl_signer *signer;
	struct fld_imgkeys *imgkeys; /* the keys of encrypted images */
	struct fl_tzdb *tzdb;
	struct fl_tz_ops tz;
	struct fl_http *http;
	struct fl_broker *broker;
	struct fl_mqtt_srv *mqtt;
	struct fl_runner *runner;
	struct fld_pki_paths pki; /* DATA/pki/ */
	struct fld_pki_state pki_st;
	struct fl_loop_timer crl_timer;
	struct stat crl_sb;	  /* crl.pem when last checked */
	uint64_t crl_check_at_ms; /* the next re-signing check */
	bool is_crl_bad;	  /* said so already */
	bool is_tls;		  /* not --insecure: everything over TLS */
	struct fl_loop_timer tick_timer;
	uint64_t tick_at_ms; /* when tick_timer fires; 0: not armed */
	uint64_t requests_seen;
	bool is_stopping;
	bool is_embedded;
	bool is_connected;
	char broker_host[FL_MQTT_SRV_HOST_MAX];
	uint16_t broker_port;
	char broker_url[URL_MAX];
	char artifact_url[URL_MAX];
	char api_url[FLD_URL_MAX];
	char client_id[FL_DEVICE_ID_MAX];
	/* DATA/pki/fleetd-pI.key, .crt: the publishers' identities */
	char pub_key[FL_MQTT_SRV_PUBS_MAX][FLD_PKI_PATH_MAX];
	char pub_crt[FL_MQTT_SRV_PUBS_MAX][FLD_PKI_PATH_MAX];
};

static struct app app;

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage(const char *fmt, ...)
{
	if (fmt != NULL) {
		va_list ap;

		fputs("fleetd: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fputs("usage: fleetd [--config FILE] [--data DIR] "
	      "[--broker URL|embedded]\n"
	      "              [--listen ADDR:PORT] [--log-level LEVEL] "
	      "[--insecure]\n"
	      "  --config FILE        settings in YAML (docs/operations.md); "
	      "flags win\n"
	      "  --data DIR           store, keys, artifacts, embedded broker\n"
	      "                       [$XDG_STATE_HOME/fleetd or "
	      "~/.local/state/fleetd]\n"
	      "  --broker URL         mqtt://HOST[:PORT] of an MQTT 5 "
	      "broker, or embedded\n"
	      "                       [embedded: fleetd runs mosquitto "
	      "itself]\n"
	      "  --listen ADDR:PORT   REST API and artifacts "
	      "[127.0.0.1:8780]\n"
	      "  --log-level LEVEL    error, warning, info or debug [info]\n"
	      "  --insecure           plain MQTT and HTTP, an anonymous "
	      "broker, no ACL\n"
	      "                       [TLS with the fleet CA of DATA/pki/]\n"
	      "  --version, --help\n"
	      "       fleetd pki init|server|device|devices|client ...   "
	      "the fleet CA\n"
	      "                                             (fleetd pki "
	      "--help)\n"
	      "       fleetd token create|list|revoke ...   API tokens "
	      "(fleetd token --help)\n",
	      stderr);
	return EXIT_USAGE;
}

/* ---- start-up ------------------------------------------------------------ */

static int open_data(struct app *a)
{
	const char *d = a->cfg.data;
	char def[PATH_MAX], lock[PATH_MAX + 16];
	struct stat sb;

	if (d[0] == '\0') {
		if (fld_default_data_dir(def, sizeof(def)) != 0) {
			say(FL_LOG_ERROR, "no data directory: give --data DIR "
					  "(neither XDG_STATE_HOME nor HOME "
					  "is set)");
			return FL_EINVAL;
		}
		d = def;
	}
	if (fld_make_dirs(d) != 0 || realpath(d, a->data) == NULL ||
	    stat(a->data, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		say(FL_LOG_ERROR, "data directory %s: %s", d,
		    errno != 0 ? strerror(errno) : "not a directory");
		return FL_EIO;
	}
	if (strlen(a->data) > FLD_PATH_MAX - 64) {
		say(FL_LOG_ERROR, "data directory %s: path too long", a->data);
		return FL_EINVAL;
	}
	if (sb.st_mode & 077)
		say(FL_LOG_WARN,
		    "data directory %s is open to group or others (mode "
		    "%03o): chmod 700 it",
		    a->data, (unsigned)(sb.st_mode & 0777));
	/* One fleetd per data directory. The lock dies with the process. */
	snprintf(lock, sizeof(lock), "%s/fleetd.lock", a->data);
	a->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (a->lock_fd < 0) {
		say(FL_LOG_ERROR, "%s: %s", lock, strerror(errno));
		return FL_EIO;
	}
	if (flock(a->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		say(FL_LOG_ERROR,
		    "another fleetd uses %s (%s is locked): stop it first",
		    a->data, lock);
		return FL_EBUSY;
	}
	if (ftruncate(a->lock_fd, 0) == 0)
		dprintf(a->lock_fd, "%ld\n", (long)getpid());
	return 0;
}

static int open_store(struct app *a)
{
	char path[PATH_MAX + 16];
	int rc;

	snprintf(path, sizeof(path), "%s/fleet.db", a->data);
	rc = fl_store_open_sqlite(&a->st, path, NULL);
	if (rc != 0) {
		say(FL_LOG_ERROR, "store %s: %s", path,
		    fl_store_errmsg(&a->st));
		fl_store_close(&a->st);
		return rc;
	}
	a->is_store_open = true;
	return 0;
}

/* The MQTT client id: configured, else kept in the store since the first
 * start ("fleetd-<host>-<pid>" of that start), so that a restarted fleetd
 * finds its session, and the statuses queued in it, again. */
static int client_id(struct app *a)
{
	char host[64], id[FL_DEVICE_ID_MAX];
	int rc;

	if (a->cfg.client_id[0] != '\0') {
		(void)fl_strlcpy(a->client_id, a->cfg.client_id,
				 sizeof(a->client_id));
		return 0;
	}
	rc = fl_store_setting_get(&a->st, CLIENT_ID_SETTING, id, sizeof(id));
	if (rc == 0 && fl_device_id_check(id) == 0) {
		(void)fl_strlcpy(a->client_id, id, sizeof(a->client_id));
		return 0;
	}
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		      *p == '_'))
			*p = '-';
	snprintf(id, sizeof(id), "fleetd-%.40s-%ld", host, (long)getpid());
	if (fl_device_id_check(id) != 0)
		snprintf(id, sizeof(id), "fleetd-%ld", (long)getpid());
	rc = fl_store_setting_set(&a->st, CLIENT_ID_SETTING, id);
	if (rc != 0) {
		say(FL_LOG_ERROR, "store: %s", fl_store_errmsg(&a->st));
		return rc;
	}
	(void)fl_strlcpy(a->client_id, id, sizeof(a->client_id));
	return 0;
}

/* The first start's admin token, for fleetctl on this machine. */
static int admin_token(struct app *a)
{
	char msg[PATH_MAX + 64];
	int made = 0;
	int rc = fld_token_bootstrap(&a->st, a->data, now_s(), &made, msg,
				     sizeof(msg));

	if (rc != 0)
		say(FL_LOG_ERROR, "admin token: %s", msg);
	else if (made)
		say(FL_LOG_INFO,
		    "API token 'admin' (role admin) written to %s/admin.token "
		    "(fleetctl on this machine reads it; fleetd token create "
		    "makes others)",
		    a->data);
	return rc;
}

static void on_broker_state(void *ctx, bool is_up)
{
	struct app *a = ctx;

	if (is_up)
		fl_mqtt_srv_kick(a->mqtt);
}

static int open_broker(struct app *a)
{
	const char *b = a->cfg.broker;

	if (b[0] != '\0' && strcmp(b, "embedded") != 0) {
		bool is_tls = false;

		if (fld_parse_broker(b, a->broker_host, sizeof(a->broker_host),
				     &a->broker_port, &is_tls) != 0) {
			say(FL_LOG_ERROR,
			    "--broker %s: not mqtts://HOST[:PORT] or "
			    "mqtt://HOST[:PORT]",
			    b);
			return FL_EINVAL;
		}
		if (is_tls != a->is_tls) {
			say(FL_LOG_ERROR,
			    is_tls ? "--broker %s: TLS, but --insecure turns "
				     "TLS off: drop one of them"
				   : "--broker %s: plain text: use mqtts:// "
				     "(or --insecure)",
			    b);
			return FL_EINVAL;
		}
		(void)fl_strlcpy(a->broker_url, b, sizeof(a->broker_url));
		return 0;
	}
	{
		struct fl_broker_config bc;
		struct fl_broker_diag diag;
		int rc;

		memset(&bc, 0, sizeof(bc));
		bc.loop = a->loop;
		bc.data_dir = a->data;
		bc.port = a->cfg.broker_port;
		bc.exe = a->cfg.mosquitto[0] ? a->cfg.mosquitto : NULL;
		bc.is_verbose = log_max >= FL_LOG_DEBUG;
		bc.on_state = on_broker_state;
		bc.cb_ctx = a;
		bc.log = log_lib;
		bc.root = a->cfg.root;
		if (a->is_tls) {
			bc.cafile = a->pki.ca_crt;
			bc.certfile = a->pki.srv_crt;
			bc.keyfile = a->pki.srv_key;
			bc.fleetd_cn = a->pki_st.client_cn;
			bc.fleetd_pubs = a->cfg.mqtt_publishers;
			bc.crlfile = a->pki.crl;
		}
		rc = fl_broker_start(&a->broker, &bc, &diag);
		if (rc != 0) {
			say(FL_LOG_ERROR, "embedded broker: %s", diag.msg);
			return rc;
		}
	}
	a->is_embedded = true;
	(void)fl_strlcpy(a->broker_host, "127.0.0.1", sizeof(a->broker_host));
	a->broker_port = fl_broker_port(a->broker);
	snprintf(a->broker_url, sizeof(a->broker_url), "%s://127.0.0.1:%u",
		 a->is_tls ? "mqtts" : "mqtt", (unsigned)a->broker_port);
	return 0;
}

/* The fleet CA and fleetd's certificates (pki.h): made at the first
 * start, checked at every one. */
/* What the CRL holds, when it was made or re-signed or is_always. */
static void say_crl(struct app *a, const struct fld_pki_crl_state *c,
		    bool is_always)
{
	char next[32];
	time_t t = (time_t)c->next_update;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(next, sizeof(next), "%Y-%m-%d %H:%M UTC", &tm) == 0)
		snprintf(next, sizeof(next), "?");
	if (c->is_new || c->is_resigned || is_always)
		say(FL_LOG_INFO, "pki: CRL %s%s: %zu revoked, next update %s",
		    a->pki.crl,
		    c->is_new	     ? " created"
		    : c->is_resigned ? " re-signed"
				     : "",
		    c->n_revoked, next);
}

static bool is_file(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/*
 * A client certificate for each MQTT publisher (mqtt_server.h): a broker
 * that takes the client id from the certificate (the embedded one) would
 * otherwise see one client id on every connection and let each take over
 * the last. Made by the fleet CA, CN fl_broker_pub_cn(); checked at every
 * start and made again (they are fleetd's own, nobody else holds them)
 * when half written by a crash, not a pair, issued by another CA (after
 * `fleetd pki init --force`), named otherwise (another host name), or
 * expiring within PUB_RENEW_DAYS: the broker would refuse such a
 * publisher at every connection.
 */
static int publisher_certs(struct app *a)
{
	struct fld_pki_diag diag;
	struct fld_pki_ca *ca = NULL;
	int rc = 0;

	memset(&diag, 0, sizeof(diag));
	for (unsigned i = 0; i < a->cfg.mqtt_publishers && rc == 0; i++) {
		char cn[FLD_PKI_CN_MAX];
		struct fld_pki_req r = {FLD_PKI_CLIENT,
					cn,
					NULL,
					0,
					FLD_PKI_DEV_DAYS,
					a->pub_key[i],
					a->pub_crt[i],
					true};

		if (snprintf(a->pub_key[i], sizeof(a->pub_key[i]),
			     "%s/fleetd-p%u.key", a->pki.dir,
			     i) >= (int)sizeof(a->pub_key[i]) ||
		    snprintf(a->pub_crt[i], sizeof(a->pub_crt[i]),
			     "%s/fleetd-p%u.crt", a->pki.dir,
			     i) >= (int)sizeof(a->pub_crt[i]) ||
		    fl_broker_pub_cn(cn, sizeof(cn), a->pki_st.client_cn, i) !=
			    0) {
			say(FL_LOG_ERROR, "pki: %s: path or name too long",
			    a->pki.dir);
			rc = FL_EINVAL;
			break;
		}
		if (ca == NULL)
			rc = fld_pki_ca_load(&ca, &a->pki, &diag);
		if (rc != 0) {
			say(FL_LOG_ERROR, "pki: %s", diag.msg);
			break;
		}
		if (is_file(a->pub_key[i]) && is_file(a->pub_crt[i])) {
			char had[FLD_PKI_CN_MAX];
			int days = 0;
			int crc = fld_pki_check_pair(
				ca, a->pub_key[i], a->pub_crt[i],
				"fleetd does it now", &days, had, sizeof(had),
				&diag);

			if (crc == 0 && strcmp(had, cn) == 0 &&
			    days >= PUB_RENEW_DAYS)
				continue;
			say(FL_LOG_INFO,
			    "pki: publisher certificate %s: %s: made again",
			    a->pub_crt[i],
			    crc != 0		   ? diag.msg
			    : strcmp(had, cn) != 0 ? "another name"
						   : "expires soon");
		}
		rc = fld_pki_issue(ca, &r, &diag);
		if (rc == 0)
			say(FL_LOG_INFO, "pki: publisher certificate %s (%s)",
			    a->pub_crt[i], cn);
		else
			say(FL_LOG_ERROR, "pki: %s", diag.msg);
	}
	fld_pki_ca_free(ca);
	return rc;
}

static int open_pki(struct app *a)
{
	struct fld_pki_diag diag;
	struct fld_pki_state *st = &a->pki_st;
	int rc;

	if (!a->is_tls)
		return 0;
	memset(&diag, 0, sizeof(diag));
	if (fld_pki_paths(&a->pki, a->data) != 0) {
		say(FL_LOG_ERROR, "data directory %s: path too long", a->data);
		return FL_EINVAL;
	}
	rc = fld_pki_ensure(&a->pki, st, &diag);
	if (rc != 0) {
		say(FL_LOG_ERROR, "pki: %s", diag.msg);
		return rc;
	}
	if (st->is_ca_new)
		say(FL_LOG_INFO,
		    "pki: fleet CA created: %s (devices, fleet-sim and "
		    "fleetctl trust it; its key %s never leaves this "
		    "machine: back it up)",
		    a->pki.ca_crt, a->pki.ca_key);
	if (st->is_srv_new)
		say(FL_LOG_INFO, "pki: server certificate created: %s",
		    a->pki.srv_crt);
	if (st->is_cli_new)
		say(FL_LOG_INFO, "pki: fleetd's client certificate created: %s",
		    a->pki.cli_crt);
	if (st->srv_days_left < (int)FLD_PKI_WARN_DAYS)
		say(FL_LOG_WARN,
		    "pki: the server certificate expires in %d days: `fleetd "
		    "pki server --force` and a restart renew it",
		    st->srv_days_left);
	say(FL_LOG_INFO, "TLS: fleet CA %s; fleetd is %s on the broker",
	    a->pki.ca_crt, st->client_cn);
	say_crl(a, &st->crl, true);
	if (stat(a->pki.crl, &a->crl_sb) != 0)
		memset(&a->crl_sb, 0, sizeof(a->crl_sb));
	a->crl_check_at_ms = fl_loop_now_ms() + CRL_CHECK_MS;
	return publisher_certs(a);
}

/* ---- the certificate revocation list ------------------------------------ */

static bool is_same_file(const struct stat *x, const struct stat *y)
{
	return x->st_ino == y->st_ino && x->st_dev == y->st_dev &&
	       x->st_size == y->st_size &&
	       x->st_mtim.tv_sec == y->st_mtim.tv_sec &&
	       x->st_mtim.tv_nsec == y->st_mtim.tv_nsec;
}

/*
 * Checks the CRL again (re-signing it if it is about to lapse) and
 * applies what changed to the embedded broker: a restart for another set
 * of serials, a reload for new dates.
 */
static void crl_apply(struct app *a)
{
	struct fld_pki_crl_state st, *was = &a->pki_st.crl;
	struct fld_pki_diag diag;
	struct fld_pki_ca *ca = NULL;
	int rc;

	memset(&diag, 0, sizeof(diag));
	rc = fld_pki_ca_load(&ca, &a->pki, &diag);
	if (rc == 0)
		rc = fld_pki_crl_check(ca, &a->pki, now_s(),
				       FLD_PKI_CRL_RENEW_DAYS, &st, &diag);
	fld_pki_ca_free(ca);
	if (stat(a->pki.crl, &a->crl_sb) != 0)
		memset(&a->crl_sb, 0, sizeof(a->crl_sb));
	if (rc != 0) {
		if (!a->is_crl_bad)
			say(FL_LOG_ERROR,
			    "pki: %s (the broker keeps the list it has; it "
			    "will not start again until this is fixed)",
			    diag.msg);
		a->is_crl_bad = true;
		return;
	}
	a->is_crl_bad = false;
	say_crl(a, &st, false);
	if (memcmp(st.digest, was->digest, sizeof(st.digest)) != 0) {
		say(FL_LOG_INFO,
		    "pki: the CRL lists %zu revoked certificates (was %zu)%s",
		    st.n_revoked, was->n_revoked,
		    a->broker != NULL ? ": restarting the broker, so that "
					"every client connects again"
				      : ": reload your broker (it is not "
					"fleetd's)");
		(void)fl_broker_restart(a->broker);
	} else if (st.next_update != was->next_update) {
		(void)fl_broker_reload(a->broker);
	}
	*was = st;
}

static void on_crl_timer(void *ctx)
{
	struct app *a = ctx;
	struct stat sb;
	uint64_t now = fl_loop_now_ms();

	if (stat(a->pki.crl, &sb) != 0)
		memset(&sb, 0, sizeof(sb));
	if (!is_same_file(&sb, &a->crl_sb) || now >= a->crl_check_at_ms) {
		if (now >= a->crl_check_at_ms)
			a->crl_check_at_ms = now + CRL_CHECK_MS;
		crl_apply(a);
	}
	(void)fl_loop_timer_at(a->loop, &a->crl_timer, now + CRL_POLL_MS);
}

/* ---- the tick ------------------------------------------------------------ */

static void arm_tick(struct app *a, uint32_t in_ms)
{
	uint64_t at = fl_loop_now_ms() + in_ms;

	if (a->runner == NULL || a->is_stopping)
		return;
	if (a->tick_at_ms != 0 && a->tick_at_ms <= at)
		return; /* it fires sooner already */
	if (fl_loop_timer_at(a->loop, &a->tick_timer, at) != 0) {
		say(FL_LOG_ERROR, "no memory for a timer");
		return;
	}
	a->tick_at_ms = at;
}

static void on_tick(void *ctx)
{
	struct app *a = ctx;
	uint32_t next = TICK_RETRY_MS;
	int rc;

	a->tick_at_ms = 0;
	rc = fl_runner_tick(a->runner, now_s(), &next);

	if (rc != 0) {
		say(FL_LOG_ERROR, "runner: %s (%s); trying again",
		    fl_strerror(rc), fl_store_errmsg(&a->st));
		next = TICK_RETRY_MS;
	}
	fl_http_events_appended(a->http);
	arm_tick(a, next < TICK_MAX_MS ? next : TICK_MAX_MS);
}

static void on_mqtt_input(void *ctx)
{
	struct app *a = ctx;

	arm_tick(a, a->cfg.report_flush_ms ? a->cfg.report_flush_ms : 50u);
}

static void on_mqtt_connection(void *ctx, bool is_connected)
{
	struct app *a = ctx;

	a->is_connected = is_connected;
	fl_http_set_broker(a->http, a->broker_url, a->is_embedded,
			   is_connected);
	if (is_connected) {
		say(FL_LOG_INFO, "mqtt: subscribed to the fleet's reports");
		arm_tick(a, 0); /* what waited for the broker goes now */
	}
}

static int open_mqtt(struct app *a)
{
	struct fl_mqtt_srv_config mc;
	int rc;

	memset(&mc, 0, sizeof(mc));
	mc.host = a->broker_host;
	mc.port = a->broker_port;
	mc.root = a->cfg.root;
	mc.client_id = a->client_id;
	mc.is_shared = a->cfg.is_shared;
	mc.publishers = a->cfg.mqtt_publishers;
	if (a->is_tls) {
		mc.cafile = a->pki.ca_crt;
		mc.certfile = a->pki.cli_crt;
		mc.keyfile = a->pki.cli_key;
		for (unsigned i = 0; i < mc.publishers; i++) {
			mc.pub_certfile[i] = a->pub_crt[i];
			mc.pub_keyfile[i] = a->pub_key[i];
		}
	}
	mc.on_input = on_mqtt_input;
	mc.on_connection = on_mqtt_connection;
	mc.cb_ctx = a;
	mc.log = log_lib;
	mc.counters = fl_http_counters(a->http);
	rc = fl_mqtt_srv_new(&a->mqtt, a->loop, &mc);
	if (rc != 0)
		say(FL_LOG_ERROR, "mqtt: %s", fl_strerror(rc));
	return rc;
}

static int open_http(struct app *a)
{
	struct fl_http_config hc;
	struct fl_http_diag diag;
	char *cert = NULL, *key = NULL;
	int rc;

	memset(&hc, 0, sizeof(hc));
	if (a->is_tls) {
		struct fld_pki_diag pd;

		memset(&pd, 0, sizeof(pd));
		rc = fld_pki_read(a->pki.srv_crt, &cert, &pd);
		if (rc == 0)
			rc = fld_pki_read(a->pki.srv_key, &key, &pd);
		if (rc != 0) {
			say(FL_LOG_ERROR, "pki: %s", pd.msg);
			free(cert);
			return rc;
		}
		hc.tls_cert_pem = cert;
		hc.tls_key_pem = key;
	}
	hc.loop = a->loop;
	hc.listen = a->cfg.listen[0] ? a->cfg.listen : NULL;
	hc.data_dir = a->data;
	hc.store = &a->st;
	hc.signer = a->signer;
	hc.imgkeys = a->imgkeys;
	hc.version = FLEETD_VERSION;
	hc.is_insecure = a->cfg.is_insecure;
	hc.is_sigpipe_ignored = true;
	hc.log = log_lib;
	rc = fl_http_new(&a->http, &hc, &diag);
	if (key != NULL)
		explicit_bzero(key, strlen(key));
	free(key);
	free(cert);
	if (rc != 0) {
		say(FL_LOG_ERROR, "%s",
		    diag.msg[0] ? diag.msg : fl_strerror(rc));
		return rc;
	}
	fl_http_set_available(a->http, false);
	return 0;
}

/* The URLs of the API and of the images (devices download from there). */
static int make_urls(struct app *a)
{
	const char *l =
		a->cfg.listen[0] ? a->cfg.listen : FL_HTTP_LISTEN_DEFAULT;
	const char *colon = strrchr(l, ':');
	char host[FLD_LISTEN_MAX];
	size_t n = colon != NULL ? (size_t)(colon - l) : 0;
	unsigned port = fl_http_port(a->http);

	if (n >= sizeof(host))
		n = sizeof(host) - 1;
	memcpy(host, l, n);
	host[n] = '\0';
	if (n == 0 || strcmp(host, "0.0.0.0") == 0 ||
	    strcmp(host, "[::]") == 0) {
		char name[256];

		if (gethostname(name, sizeof(name)) != 0)
			snprintf(name, sizeof(name), "localhost");
		name[sizeof(name) - 1] = '\0';
		snprintf(host, sizeof(host), "%.100s", name);
		if (a->cfg.artifact_url[0] == '\0')
			say(FL_LOG_WARN,
			    "listening on every address: devices download "
			    "from %s://%s:%u/artifacts/ (set artifact_url "
			    "if they cannot reach that name)",
			    a->is_tls ? "https" : "http", host, port);
	}
	snprintf(a->api_url, sizeof(a->api_url), "%s://%s:%u",
		 a->is_tls ? "https" : "http", host, port);
	if (a->cfg.artifact_url[0] != '\0') {
		size_t k = strlen(a->cfg.artifact_url);

		snprintf(a->artifact_url, sizeof(a->artifact_url), "%s%s",
			 a->cfg.artifact_url,
			 a->cfg.artifact_url[k - 1] == '/' ? "" : "/");
	} else {
		snprintf(a->artifact_url, sizeof(a->artifact_url),
			 "%s/artifacts/", a->api_url);
	}
	if (strlen(a->artifact_url) + 64 >= FL_MANIFEST_URL_MAX) {
		say(FL_LOG_ERROR,
		    "artifact URL %s: too long for a manifest (at most %d "
		    "characters before the digest)",
		    a->artifact_url, FL_MANIFEST_URL_MAX - 65);
		return FL_EINVAL;
	}
	return 0;
}

static int open_runner(struct app *a)
{
	struct fl_runner_config rc;
	int err;

	memset(&rc, 0, sizeof(rc));
	rc.store = &a->st;
	rc.cmd = fl_mqtt_srv_cmd_ops;
	rc.cmd_ctx = a->mqtt;
	rc.sign = fl_signer_sign_ops;
	rc.sign_ctx = a->signer;
	rc.key = fld_imgkeys_key_ops;
	rc.key_ctx = a->imgkeys;
	rc.tz = a->tzdb != NULL ? &a->tz : NULL;
	rc.artifact_url = a->artifact_url;
	rc.offer_ttl_s = a->cfg.offer_ttl_s;
	rc.resend_s = a->cfg.resend_s;
	rc.report_batch = a->cfg.report_batch;
	rc.report_flush_ms = a->cfg.report_flush_ms;
	rc.log = log_runner;
	err = fl_runner_open(&a->runner, &rc, now_s());
	if (err == FL_ECORRUPT)
		say(FL_LOG_ERROR, "runner: cannot open: a rollout's log does "
				  "not replay (nothing was changed)");
	else if (err != 0)
		say(FL_LOG_ERROR, "runner: cannot open: %s (store: %s)",
		    fl_strerror(err), fl_store_errmsg(&a->st));
	return err;
}

static void on_signal(void *ctx, int fd, uint32_t events)
{
	struct app *a = ctx;
	struct signalfd_siginfo si;

	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			say(FL_LOG_INFO, "SIGHUP: %s",
			    a->is_tls ? "reading the CRL again"
				      : "nothing to reopen");
			if (a->is_tls)
				crl_apply(a);
			continue;
		}
		say(FL_LOG_INFO, "%s: stopping", strsignal((int)si.ssi_signo));
		a->is_stopping = true;
	}
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int start(struct app *a)
{
	struct fl_signer_diag sdiag;
	struct fld_imgkeys_diag kdiag;
	int rc;

	rc = open_data(a);
	if (rc == 0)
		rc = fl_loop_new(&a->loop);
	if (rc == 0)
		rc = fl_loop_fd_add(a->loop, a->sig_fd, EPOLLIN, on_signal, a);
	if (rc != 0)
		return rc;
	fl_loop_timer_init(&a->tick_timer, on_tick, a);
	fl_loop_timer_init(&a->crl_timer, on_crl_timer, a);
	rc = open_store(a);
	if (rc == 0)
		rc = client_id(a);
	if (rc == 0)
		rc = admin_token(a);
	if (rc != 0)
		return rc;
	memset(&sdiag, 0, sizeof(sdiag));
	rc = fl_signer_open(&a->signer, a->data, &sdiag);
	if (rc != 0) {
		say(FL_LOG_ERROR, "signing key: %s",
		    sdiag.msg[0] ? sdiag.msg : fl_strerror(rc));
		return rc;
	}
	memset(&kdiag, 0, sizeof(kdiag));
	rc = fld_imgkeys_open(&a->imgkeys, a->data, &kdiag);
	if (rc == 0) {
		/* made at the first encrypted import; checked now if there */
		rc = fld_imgkeys_kek(a->imgkeys, false, &kdiag);
		if (rc == FL_ENOENT)
			rc = 0;
	}
	if (rc != 0) {
		say(FL_LOG_ERROR, "image keys: %s",
		    kdiag.msg[0] ? kdiag.msg : fl_strerror(rc));
		return rc;
	}
	if (fl_signer_is_new(a->signer))
		say(FL_LOG_INFO,
		    "signing key created: %s (devices trust %s/keys/"
		    "signing.pub)",
		    fl_signer_path(a->signer), a->data);
	if (fl_tzdb_open(&a->tzdb, NULL, 0) == 0)
		fl_tzdb_ops(a->tzdb, &a->tz);
	else
		say(FL_LOG_WARN, "no time-zone database: windows in UTC");
	rc = open_pki(a);
	if (rc == 0)
		rc = open_http(a);
	if (rc == 0)
		rc = make_urls(a);
	if (rc == 0)
		rc = open_broker(a);
	if (rc == 0)
		rc = open_mqtt(a);
	if (rc == 0)
		rc = open_runner(a);
	if (rc != 0)
		return rc;
	if (a->is_tls)
		(void)fl_loop_timer_at(a->loop, &a->crl_timer,
				       fl_loop_now_ms() + CRL_POLL_MS);
	fl_mqtt_srv_set_runner(a->mqtt, a->runner);
	fl_http_set_runner(a->http, a->runner);
	fl_http_set_broker(a->http, a->broker_url, a->is_embedded, false);
	fl_http_set_available(a->http, true);
	rc = fl_mqtt_srv_start(a->mqtt);
	if (rc != 0)
		return rc;
	arm_tick(a, 0);
	if (!a->is_tls)
		say(FL_LOG_WARN,
		    "--insecure: MQTT and HTTP are plain text%s: anyone who "
		    "reaches them can read everything and publish as any "
		    "device (/metrics: fleet_insecure 1)",
		    a->is_embedded ? ", the broker anonymous and without ACL"
				   : "");
	printf("fleetd: API on %s, broker %s%s, data %s%s%s\n", a->api_url,
	       a->broker_url, a->is_embedded ? " (embedded)" : "", a->data,
	       a->is_tls ? ", fleet CA " : " (--insecure: plain text)",
	       a->is_tls ? a->pki.ca_crt : "");
	fflush(stdout);
	say(FL_LOG_INFO,
	    "fleetd %s: API on %s, broker %s%s, data %s, MQTT "
	    "client %s",
	    FLEETD_VERSION, a->api_url, a->broker_url,
	    a->is_embedded ? " (embedded)" : "", a->data, a->client_id);
	return 0;
}

static int run(struct app *a)
{
	while (!a->is_stopping) {
		struct fl_http_stats hs;
		int rc = fl_loop_run_once(a->loop, -1);

		if (rc != 0) {
			say(FL_LOG_ERROR, "event loop: %s", fl_strerror(rc));
			return 1;
		}
		/* An API request may have started or changed a rollout. */
		fl_http_stats(a->http, &hs);
		if (hs.requests != a->requests_seen) {
			a->requests_seen = hs.requests;
			arm_tick(a, 0);
		}
	}
	return 0;
}

static void stop(struct app *a)
{
	struct fl_mqtt_srv_stats ms;

	if (a->http != NULL)
		fl_http_set_available(a->http, false);
	if (a->runner != NULL) {
		uint32_t next;

		if (fl_runner_tick(a->runner, now_s(), &next) != 0)
			say(FL_LOG_WARN, "runner: last tick: %s",
			    fl_store_errmsg(&a->st));
	}
	if (a->mqtt != NULL) {
		fl_mqtt_srv_stop(a->mqtt, STOP_WAIT_MS);
		fl_mqtt_srv_stats(a->mqtt, &ms);
		say(FL_LOG_INFO,
		    "mqtt: %llu messages received (%llu refused), %llu "
		    "commands sent, %llu acknowledged",
		    (unsigned long long)ms.received, (unsigned long long)ms.bad,
		    (unsigned long long)ms.sent, (unsigned long long)ms.acked);
	}
	if (a->loop != NULL) {
		fl_loop_timer_stop(a->loop, &a->tick_timer);
		fl_loop_timer_stop(a->loop, &a->crl_timer);
	}
	if (a->http != NULL)
		fl_http_set_runner(a->http, NULL);
	fl_mqtt_srv_set_runner(a->mqtt, NULL);
	fl_runner_free(a->runner);
	a->runner = NULL;
	fl_http_free(a->http);
	fl_mqtt_srv_free(a->mqtt);
	fl_broker_free(a->broker);
	fl_signer_free(a->signer);
	fld_imgkeys_free(a->imgkeys);
	fl_tzdb_free(a->tzdb);
	if (a->is_store_open)
		fl_store_close(&a->st);
	if (a->loop != NULL)
		fl_loop_fd_del(a->loop, a->sig_fd);
	fl_loop_free(a->loop);
	if (a->lock_fd >= 0)
		close(a->lock_fd);
}

/* ---- flags --------------------------------------------------------------- */

/* The value of --name VALUE or --name=VALUE at argv[*i], else NULL. */
static const char *flag(int argc, char **argv, int *i, const char *name,
			bool *is_missing)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*is_missing = true;
		return NULL;
	}
	return argv[++*i];
}

int main(int argc, char **argv)
{
	struct fld_config *cfg = &app.cfg;
	const char *config = NULL, *data = NULL, *broker = NULL, *listen = NULL,
		   *level = NULL;
	bool is_insecure = false;
	sigset_t mask;
	int rc = 1;

	if (argc > 1 && strcmp(argv[1], "token") == 0)
		return fld_token_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "pki") == 0)
		return fld_pki_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "keys") == 0)
		return fld_keys_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "wrapkey") == 0)
		return fld_wrapkey_main(argc - 1, argv + 1);
	for (int i = 1; i < argc; i++) {
		bool is_missing = false;
		const char *v;

		if ((v = flag(argc, argv, &i, "--config", &is_missing)))
			config = v;
		else if ((v = flag(argc, argv, &i, "--data", &is_missing)))
			data = v;
		else if ((v = flag(argc, argv, &i, "--broker", &is_missing)))
			broker = v;
		else if ((v = flag(argc, argv, &i, "--listen", &is_missing)))
			listen = v;
		else if ((v = flag(argc, argv, &i, "--log-level", &is_missing)))
			level = v;
		else if (is_missing)
			return usage("%s needs a value", argv[i]);
		else if (strcmp(argv[i], "--insecure") == 0)
			is_insecure = true;
		else if (strcmp(argv[i], "--version") == 0) {
			printf("fleetd %s\n", FLEETD_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 ||
			   strcmp(argv[i], "-h") == 0) {
			usage(NULL);
			return 0;
		} else
			return usage("unexpected '%.64s'", argv[i]);
		if (v != NULL && v[0] == '\0')
			return usage("%s needs a value", argv[i - 1]);
	}
	fld_config_defaults(cfg);
	if (config != NULL) {
		struct fld_diags *diags = calloc(1, sizeof(*diags));

		if (diags == NULL)
			return 1;
		if (fld_config_load(cfg, config, diags) != 0) {
			fld_diags_print(diags, stderr);
			free(diags);
			return 1;
		}
		free(diags);
	}
	/* Flags win over the file. */
	if (data != NULL && fl_strlcpy(cfg->data, data, sizeof(cfg->data)) != 0)
		return usage("--data: path too long");
	if (listen != NULL &&
	    fl_strlcpy(cfg->listen, listen, sizeof(cfg->listen)) != 0)
		return usage("--listen: not ADDR:PORT");
	if (broker != NULL) {
		char host[FL_MQTT_SRV_HOST_MAX];
		uint16_t port;
		bool is_tls;

		if (strcmp(broker, "embedded") != 0 &&
		    fld_parse_broker(broker, host, sizeof(host), &port,
				     &is_tls) != 0)
			return usage("--broker: mqtts://HOST[:PORT], "
				     "mqtt://HOST[:PORT] or embedded");
		(void)fl_strlcpy(cfg->broker, broker, sizeof(cfg->broker));
	}
	if (level != NULL && fld_parse_log_level(level, &cfg->log_level) != 0)
		return usage("--log-level: error, warning, info or debug");
	if (is_insecure)
		cfg->is_insecure = true;
	app.is_tls = !cfg->is_insecure;
	log_max = cfg->log_level;

	/* SIGTERM, SIGINT and SIGHUP arrive through the loop. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
	app.lock_fd = -1;
	if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0 ||
	    (app.sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) <
		    0) {
		say(FL_LOG_ERROR, "signals: %s", strerror(errno));
		return 1;
	}
	raise_nofile();
	if (mosquitto_lib_init() != MOSQ_ERR_SUCCESS) {
		say(FL_LOG_ERROR, "cannot initialise libmosquitto");
		return 1;
	}
	if (start(&app) == 0)
		rc = run(&app);
	stop(&app);
	close(app.sig_fd);
	mosquitto_lib_cleanup();
	if (rc == 0)
		say(FL_LOG_INFO, "stopped");
	return rc;
}
