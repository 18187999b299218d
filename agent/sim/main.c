/*
 * main.c -- fleet-sim: thousands of simulated devices running agent/core,
 * each with its own MQTT session, identity, labels and simulated flash
 * (docs/fleet-sim.md).
 *
 *   fleet-sim --broker URL --count N [--prefix P] [--model M]
 *             [--labels k=v,...] [--tz TZ] [--version V] [--image FILE]
 *             [--key FILE]... [--root-key FILE]... [--wrap-keys DIR]
 *             [--wrap-group NAME=FILE]... [--chunk-max N]
 *             [--bad-version V]... [--fail-rate P]
 *             [--offline-rate P] [--power-cut-rate P] [--rate BYTES_PER_S]
 *             [--seed S] [--duration S] [--progress] [--json] ...
 *
 * This file sets up what every device shares (trusted keys, the factory
 * image, the options), raises the descriptor limit, and either runs the
 * fleet itself or, past --per-process devices, forks worker processes,
 * each running one slice of the ids (libmosquitto holds three descriptors
 * per client, so one process carries about 6,000 sessions). The parent
 * forwards SIGINT and SIGTERM, gathers the workers' summaries from pipes
 * (sim.h's line format), prints progress and the final summary.
 *
 * Exit status: 0 success, 1 a failure (message on stderr), 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "fl/bytes.h"
#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/proto.h"
#include "fl/seal_openssl.h"
#include "sim.h"

#define EXIT_FAIL   1
#define EXIT_USAGE  2
#define FILE_MAX    (64 * 1024)
#define WORKERS_MAX 256

static const char USAGE[] =
	"usage: fleet-sim --broker URL --count N [options]\n"
	"devices:\n"
	"  --prefix P          device ids P-000001 ... [sim]\n"
	"  --model M           hardware model [sim-model]\n"
	"  --labels k=v,...    labels (at most 8)\n"
	"  --tz TZ             IANA time zone of every device\n"
	"  --version V         factory version in slot A [1.0.0]\n"
	"  --seq N             its anti-rollback counter [1]\n"
	"  --image FILE        factory image [generated, --image-size]\n"
	"  --image-size N      size of the generated image [65536]\n"
	"  --slot-size N       bytes per slot [1048576]\n"
	"  --key FILE          trusted manifest key (fleet-manifest pubkey "
	"output,\n"
	"                      or PEM); repeatable\n"
	"  --root-key FILE     trusted root key: certifies signing keys "
	"(envelope 2);\n"
	"                      repeatable\n"
	"  --wrap-keys DIR     encrypted images: each device's wrap key "
	"DIR/ID.wrap.pem,\n"
	"                      read at each offer that carries a key [--certs "
	"DIR]\n"
	"  --wrap-group NAME=FILE  a group's wrap key (PEM) every device "
	"holds;\n"
	"                      repeatable, at most 7\n"
	"  --chunk-max N       largest chunk of an encrypted image taken "
	"[16384]\n"
	"  --trial-tries N     boots granted to a trial [1]\n"
	"  --health-interval S health reports [60]\n"
	"faults (reproducible with --seed S):\n"
	"  --bad-version V     devices booting V fail their trial; repeatable\n"
	"  --fail-rate P       fraction of devices whose installs fail health\n"
	"  --offline-rate P    fraction offline (never connect, or drop off)\n"
	"  --offline-period S  rhythm of the devices that drop off [40]\n"
	"  --power-cut-rate P  fraction taking a power cut during an install\n"
	"  --rate BYTES_PER_S  slow links: download rate per device\n"
	"  --reboot-ms MS      simulated reboot delay [1000]\n"
	"running:\n"
	"  --root R            topic root [fleet]\n"
	"  --cafile FILE       the fleet CA (mqtts:// and https:// "
	"downloads)\n"
	"  --certs DIR         device certificates DIR/ID.crt, DIR/ID.key "
	"(mqtts://;\n"
	"                      fleetd pki devices makes them), and "
	"DIR/ID.wrap.pem\n"
	"  --keepalive S       MQTT keep-alive [120]\n"
	"  --connect-rate N    devices powered on per second [1000]\n"
	"  --per-process N     devices per worker process [5000]\n"
	"  --duration S        stop after S seconds [run until "
	"SIGINT/SIGTERM]\n"
	"  --progress          one line of progress on stderr every 5 s\n"
	"  --progress-ms MS    ... every MS milliseconds\n"
	"  --json              final summary as JSON\n"
	"  --verbose           log device errors\n";

__attribute__((format(printf, 1, 2))) static int usage(const char *fmt, ...)
{
	va_list ap;

	fputs("fleet-sim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see fleet-sim --help)\n", stderr);
	return EXIT_USAGE;
}

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fleet-sim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

/* ---- parsing ------------------------------------------------------------- */

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(s, min, max, &v) != 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_rate(const char *s, double *out)
{
	char *end = NULL;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0 && v <= 1.0))
		return -1;
	*out = v;
	return 0;
}

/* mqtt://host[:port], mqtts://host[:port], or host[:port]. */
static int parse_broker(struct sim_options *o, const char *url)
{
	const char *p = url, *colon;
	size_t n;
	uint32_t port;

	if (strncmp(p, "mqtt://", 7) == 0) {
		p += 7;
	} else if (strncmp(p, "mqtts://", 8) == 0) {
		p += 8;
		o->is_tls = true;
	} else if (strstr(p, "://") != NULL) {
		return -1;
	}
	colon = strrchr(p, ':');
	n = colon != NULL ? (size_t)(colon - p) : strlen(p);
	if (n == 0 || n >= sizeof(o->host) || memchr(p, '/', n) != NULL)
		return -1;
	memcpy(o->host, p, n);
	o->host[n] = '\0';
	o->port = o->is_tls ? 8883 : 1883;
	if (colon != NULL) {
		if (parse_u32(colon + 1, 1, 65535, &port) != 0)
			return -1;
		o->port = (uint16_t)port;
	}
	return 0;
}

static bool is_ident(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		      s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* k=v,k=v: keys ident <= 31, values printable without '"' and '\\'. */
static int parse_labels(struct sim_options *o, char *list)
{
	char *save = NULL;

	for (char *kv = strtok_r(list, ",", &save); kv != NULL;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		struct fl_label *l;

		if (eq == NULL || o->n_labels == FL_PROTO_LABELS_MAX)
			return -1;
		*eq = '\0';
		if (!is_ident(kv, sizeof(l->key)) ||
		    strlen(eq + 1) >= sizeof(l->value))
			return -1;
		for (const char *c = eq + 1; *c; c++)
			if (*c < 0x20 || *c > 0x7E || *c == '"' || *c == '\\')
				return -1;
		l = &o->labels[o->n_labels++];
		(void)fl_strlcpy(l->key, kv, sizeof(l->key));
		(void)fl_strlcpy(l->value, eq + 1, sizeof(l->value));
	}
	return 0;
}

/* Reads a whole file of at most max bytes (NUL added). The buffer is the
 * caller's (free). */
static int read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;
	int rc = EXIT_FAIL;

	if (f == NULL)
		return fail("%s: %s", path, strerror(errno));
	for (;;) {
		size_t k;

		if (n + 1 >= cap) {
			uint8_t *nb;

			cap = cap == 0 ? 65536 : cap * 2;
			if (cap > max + 2)
				cap = max + 2;
			if (n + 1 >= cap) {
				fail("%s: larger than %zu bytes", path, max);
				goto out;
			}
			nb = realloc(buf, cap);
			if (nb == NULL) {
				fail("%s: out of memory", path);
				goto out;
			}
			buf = nb;
		}
		k = fread(buf + n, 1, cap - n - 1, f);
		n += k;
		if (k == 0)
			break;
	}
	if (ferror(f)) {
		fail("%s: read error", path);
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	fclose(f);
	return rc;
}

/* A trusted key: the hex line `fleet-manifest pubkey` prints, or a PEM
 * public or private P-256 key. */
static int load_key(const char *path, struct fl_manifest_key *key)
{
	uint8_t *buf = NULL;
	size_t len = 0, n = 0;
	EVP_PKEY *pkey = NULL;
	FILE *f;
	int rc = read_file(path, FILE_MAX, &buf, &len);

	if (rc != 0)
		return rc;
	if (strstr((char *)buf, "-----BEGIN") == NULL) {
		rc = fl_manifest_key_parse(key, &fl_crypto_openssl,
					   (const char *)buf, len);
		free(buf);
		return rc == 0 ? 0
			       : fail("%s: not a public key (130 hex digits "
				      "or PEM)",
				      path);
	}
	free(buf);
	f = fopen(path, "r");
	if (f == NULL)
		return fail("%s: %s", path, strerror(errno));
	pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	if (pkey == NULL) {
		rewind(f);
		pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	}
	fclose(f);
	if (pkey == NULL ||
	    !EVP_PKEY_get_octet_string_param(
		    pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, key->pub,
		    FL_MANIFEST_PUB_BYTES, &n) ||
	    n != FL_MANIFEST_PUB_BYTES || key->pub[0] != 0x04 ||
	    fl_manifest_kid(key->kid, &fl_crypto_openssl, key->pub) != 0)
		rc = fail("%s: not a P-256 key", path);
	EVP_PKEY_free(pkey);
	return rc;
}

/* --wrap-group NAME=FILE: a group's wrap key (a P-256 private key, PEM),
 * held by every device; names and keys are each their own. */
static int load_group(struct sim_options *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char name[FL_WRAP_NAME_MAX];
	struct fl_wrap_key *k;
	struct fl_seal_diag d;
	size_t n;
	int rc;

	if (o->n_groups == SIM_GROUPS_MAX)
		return usage("--wrap-group: at most %d", SIM_GROUPS_MAX);
	n = eq != NULL ? (size_t)(eq - arg) : 0;
	if (n == 0 || n >= sizeof(name) || eq[1] == '\0')
		return usage("--wrap-group: NAME=FILE");
	memcpy(name, arg, n);
	name[n] = '\0';
	if (!is_ident(name, sizeof(name)))
		return usage("--wrap-group: %s: a name of [A-Za-z0-9._-], at "
			     "most %d",
			     name, FL_WRAP_NAME_MAX - 1);
	for (unsigned i = 0; i < o->n_groups; i++)
		if (strcmp(o->groups[i].name, name) == 0)
			return usage("--wrap-group: %s: given twice", name);
	k = &o->groups[o->n_groups];
	memset(&d, 0, sizeof(d));
	rc = fl_seal_wrap_key_load(k, eq + 1, name, &d);
	if (rc != 0)
		return fail("--wrap-group: %s",
			    d.msg[0] != '\0' ? d.msg : fl_strerror(rc));
	for (unsigned i = 0; i < o->n_groups; i++)
		if (memcmp(o->groups[i].kid, k->kid, FL_WRAP_KID_BYTES) == 0) {
			OPENSSL_cleanse(k, sizeof(*k));
			return fail("--wrap-group: %s: the same key as "
				    "group %s's: each group has its own",
				    eq + 1, o->groups[i].name);
		}
	o->n_groups++;
	return 0;
}

/* The generated factory image: bytes from the version string, so that
 * the same version gives the same image in every run. */
static int make_image(struct sim_options *o, uint32_t len)
{
	uint32_t x = 2166136261u;

	for (const char *c = o->version; *c; c++)
		x = (x ^ (uint8_t)*c) * 16777619u;
	o->image = malloc(len);
	if (o->image == NULL)
		return fail("out of memory");
	for (uint32_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		o->image[i] = (uint8_t)x;
	}
	o->image_len = len;
	return 0;
}

enum {
	OPT_BROKER = 256,
	OPT_COUNT,
	OPT_PREFIX,
	OPT_MODEL,
	OPT_LABELS,
	OPT_TZ,
	OPT_VERSION,
	OPT_SEQ,
	OPT_IMAGE,
	OPT_IMAGE_SIZE,
	OPT_SLOT_SIZE,
	OPT_KEY,
	OPT_ROOT_KEY,
	OPT_WRAP_KEYS,
	OPT_WRAP_GROUP,
	OPT_CHUNK_MAX,
	OPT_TRIAL_TRIES,
	OPT_HEALTH_INTERVAL,
	OPT_BAD_VERSION,
	OPT_FAIL_RATE,
	OPT_OFFLINE_RATE,
	OPT_OFFLINE_PERIOD,
	OPT_POWER_CUT_RATE,
	OPT_RATE,
	OPT_SEED,
	OPT_REBOOT_MS,
	OPT_ROOT,
	OPT_CAFILE,
	OPT_CERTS,
	OPT_KEEPALIVE,
	OPT_CONNECT_RATE,
	OPT_PER_PROCESS,
	OPT_DURATION,
	OPT_PROGRESS,
	OPT_PROGRESS_MS,
	OPT_JSON,
	OPT_VERBOSE,
	OPT_HELP,
};

static const struct option LONG_OPTS[] = {
	{"broker", required_argument, NULL, OPT_BROKER},
	{"count", required_argument, NULL, OPT_COUNT},
	{"prefix", required_argument, NULL, OPT_PREFIX},
	{"model", required_argument, NULL, OPT_MODEL},
	{"labels", required_argument, NULL, OPT_LABELS},
	{"tz", required_argument, NULL, OPT_TZ},
	{"version", required_argument, NULL, OPT_VERSION},
	{"seq", required_argument, NULL, OPT_SEQ},
	{"image", required_argument, NULL, OPT_IMAGE},
	{"image-size", required_argument, NULL, OPT_IMAGE_SIZE},
	{"slot-size", required_argument, NULL, OPT_SLOT_SIZE},
	{"key", required_argument, NULL, OPT_KEY},
	{"root-key", required_argument, NULL, OPT_ROOT_KEY},
	{"wrap-keys", required_argument, NULL, OPT_WRAP_KEYS},
	{"wrap-group", required_argument, NULL, OPT_WRAP_GROUP},
	{"chunk-max", required_argument, NULL, OPT_CHUNK_MAX},
	{"trial-tries", required_argument, NULL, OPT_TRIAL_TRIES},
	{"health-interval", required_argument, NULL, OPT_HEALTH_INTERVAL},
	{"bad-version", required_argument, NULL, OPT_BAD_VERSION},
	{"fail-rate", required_argument, NULL, OPT_FAIL_RATE},
	{"offline-rate", required_argument, NULL, OPT_OFFLINE_RATE},
	{"offline-period", required_argument, NULL, OPT_OFFLINE_PERIOD},
	{"power-cut-rate", required_argument, NULL, OPT_POWER_CUT_RATE},
	{"rate", required_argument, NULL, OPT_RATE},
	{"seed", required_argument, NULL, OPT_SEED},
	{"reboot-ms", required_argument, NULL, OPT_REBOOT_MS},
	{"root", required_argument, NULL, OPT_ROOT},
	{"cafile", required_argument, NULL, OPT_CAFILE},
	{"certs", required_argument, NULL, OPT_CERTS},
	{"keepalive", required_argument, NULL, OPT_KEEPALIVE},
	{"connect-rate", required_argument, NULL, OPT_CONNECT_RATE},
	{"per-process", required_argument, NULL, OPT_PER_PROCESS},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"progress", no_argument, NULL, OPT_PROGRESS},
	{"progress-ms", required_argument, NULL, OPT_PROGRESS_MS},
	{"json", no_argument, NULL, OPT_JSON},
	{"verbose", no_argument, NULL, OPT_VERBOSE},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0},
};

/* Parses argv into o; returns 0, or an exit status after a message. */
static int parse_args(struct sim_options *o, int argc, char **argv)
{
	const char *image = NULL, *broker = NULL;
	uint32_t image_size = 65536, u32;
	uint64_t u64;
	bool has_count = false;
	int c, rc;

	memset(o, 0, sizeof(*o));
	o->prefix = "sim";
	o->model = "sim-model";
	o->version = "1.0.0";
	o->factory_seq = 1;
	o->slot_bytes = 1u << 20;
	o->trial_tries = 1;
	o->health_interval_s = 60;
	o->reboot_ms = 1000;
	o->offline_period_s = 40;
	o->root = "fleet";
	o->keepalive_s = 120;
	o->connect_per_s = 1000;
	o->per_process = 5000;
	o->chunk_max = 4u * FL_SEAL_CHUNK_MIN;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", LONG_OPTS, NULL)) != -1) {
		switch (c) {
		case OPT_BROKER: broker = optarg; break;
		case OPT_COUNT:
			if (parse_u32(optarg, 0, SIM_COUNT_MAX, &o->count))
				return usage("--count: 0 to %u", SIM_COUNT_MAX);
			has_count = true;
			break;
		case OPT_PREFIX: o->prefix = optarg; break;
		case OPT_MODEL:
			if (!is_ident(optarg, FL_PROTO_NAME_MAX))
				return usage("--model: an ident of at most 31 "
					     "characters");
			o->model = optarg;
			break;
		case OPT_LABELS:
			if (parse_labels(o, optarg) != 0)
				return usage("--labels: k=v,... (at most 8; "
					     "keys [A-Za-z0-9._-])");
			break;
		case OPT_TZ:
			if (strlen(optarg) >= FL_PROTO_TZ_MAX ||
			    optarg[0] == '\0' ||
			    strspn(optarg,
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
				   "klmnopqrstuvwxyz0123456789/_+-") !=
				    strlen(optarg))
				return usage("--tz: an IANA zone name such as "
					     "Europe/Paris");
			o->tz = optarg;
			break;
		case OPT_VERSION: o->version = optarg; break;
		case OPT_SEQ:
			if (parse_u64(optarg, 0, FL_PROTO_UINT_MAX,
				      &o->factory_seq))
				return usage("--seq: a sequence number");
			break;
		case OPT_IMAGE: image = optarg; break;
		case OPT_IMAGE_SIZE:
			if (parse_u32(optarg, 1, SIM_IMAGE_MAX, &image_size))
				return usage("--image-size: 1 to %u",
					     SIM_IMAGE_MAX);
			break;
		case OPT_SLOT_SIZE:
			if (parse_u32(optarg, 4096, 1u << 30, &o->slot_bytes))
				return usage("--slot-size: 4096 to 2^30");
			break;
		case OPT_KEY:
			if (o->n_keys == SIM_KEYS_MAX)
				return usage("--key: at most %d", SIM_KEYS_MAX);
			rc = load_key(optarg, &o->keys[o->n_keys]);
			if (rc != 0)
				return rc;
			o->n_keys++;
			break;
		case OPT_ROOT_KEY:
			if (o->n_roots == SIM_KEYS_MAX)
				return usage("--root-key: at most %d",
					     SIM_KEYS_MAX);
			rc = load_key(optarg, &o->roots[o->n_roots]);
			if (rc != 0)
				return rc;
			o->n_roots++;
			break;
		case OPT_WRAP_KEYS: o->wrapdir = optarg; break;
		case OPT_WRAP_GROUP:
			rc = load_group(o, optarg);
			if (rc != 0)
				return rc;
			break;
		case OPT_CHUNK_MAX:
			if (parse_u32(optarg, FL_SEAL_CHUNK_MIN,
				      FL_SEAL_CHUNK_MAX, &o->chunk_max) ||
			    o->chunk_max % FL_SEAL_CHUNK_MIN != 0)
				return usage("--chunk-max: a multiple of %u "
					     "from %u to %u",
					     FL_SEAL_CHUNK_MIN,
					     FL_SEAL_CHUNK_MIN,
					     FL_SEAL_CHUNK_MAX);
			break;
		case OPT_TRIAL_TRIES:
			if (parse_u32(optarg, 1, 255, &u32))
				return usage("--trial-tries: 1 to 255");
			o->trial_tries = (uint8_t)u32;
			break;
		case OPT_HEALTH_INTERVAL:
			if (parse_u32(optarg, 1, 86400, &o->health_interval_s))
				return usage("--health-interval: 1 to 86400");
			break;
		case OPT_BAD_VERSION:
			if (o->n_bad == SIM_BAD_MAX)
				return usage("--bad-version: at most %d",
					     SIM_BAD_MAX);
			o->bad_versions[o->n_bad++] = optarg;
			break;
		case OPT_FAIL_RATE:
			if (parse_rate(optarg, &o->fail_rate))
				return usage("--fail-rate: 0 to 1");
			break;
		case OPT_OFFLINE_RATE:
			if (parse_rate(optarg, &o->offline_rate))
				return usage("--offline-rate: 0 to 1");
			break;
		case OPT_OFFLINE_PERIOD:
			if (parse_u32(optarg, 1, 86400, &o->offline_period_s))
				return usage("--offline-period: 1 to 86400");
			break;
		case OPT_POWER_CUT_RATE:
			if (parse_rate(optarg, &o->power_cut_rate))
				return usage("--power-cut-rate: 0 to 1");
			break;
		case OPT_RATE:
			if (parse_u64(optarg, 1, UINT32_MAX,
				      &o->rate_bytes_per_s))
				return usage("--rate: bytes per second");
			break;
		case OPT_SEED:
			if (parse_u64(optarg, 0, UINT64_MAX, &o->seed))
				return usage("--seed: an integer");
			break;
		case OPT_REBOOT_MS:
			if (parse_u32(optarg, 0, 3600000, &o->reboot_ms))
				return usage("--reboot-ms: 0 to 3600000");
			break;
		case OPT_ROOT:
			if (fl_topic_root_check(optarg) != 0)
				return usage("--root: not a topic root");
			o->root = optarg;
			break;
		case OPT_CAFILE: o->cafile = optarg; break;
		case OPT_CERTS: o->certdir = optarg; break;
		case OPT_KEEPALIVE:
			if (parse_u32(optarg, 5, 65535, &u32))
				return usage("--keepalive: 5 to 65535");
			o->keepalive_s = (uint16_t)u32;
			break;
		case OPT_CONNECT_RATE:
			if (parse_u32(optarg, 1, 1000000, &o->connect_per_s))
				return usage("--connect-rate: 1 to 1000000");
			break;
		case OPT_PER_PROCESS:
			if (parse_u32(optarg, 1, SIM_PER_PROC_MAX,
				      &o->per_process))
				return usage("--per-process: 1 to %u",
					     SIM_PER_PROC_MAX);
			break;
		case OPT_DURATION:
			if (parse_u32(optarg, 1, 30u * 86400, &o->duration_s))
				return usage("--duration: seconds");
			break;
		case OPT_PROGRESS:
			if (o->progress_ms == 0)
				o->progress_ms = 5000;
			break;
		case OPT_PROGRESS_MS:
			if (parse_u64(optarg, 10, 3600000, &u64))
				return usage("--progress-ms: 10 to 3600000");
			o->progress_ms = (uint32_t)u64;
			break;
		case OPT_JSON: o->is_json = true; break;
		case OPT_VERBOSE: o->is_verbose = true; break;
		case OPT_HELP: fputs(USAGE, stdout); exit(0);
		default:
			return usage("unexpected '%s'",
				     argv[optind - 1] ? argv[optind - 1] : "");
		}
	}
	if (optind < argc)
		return usage("unexpected '%s'", argv[optind]);
	if (broker == NULL || !has_count)
		return usage("--broker URL and --count N are required");
	if (parse_broker(o, broker) != 0)
		return usage("--broker: mqtt://HOST[:PORT] or "
			     "mqtts://HOST[:PORT]");
	if (o->is_tls && o->cafile == NULL)
		return usage("mqtts:// needs --cafile");
	if (o->certdir != NULL && !o->is_tls)
		return usage("--certs needs an mqtts:// broker");
	if (o->wrapdir != NULL) {
		struct stat sb;

		if (stat(o->wrapdir, &sb) != 0)
			return fail("--wrap-keys: %s: %s", o->wrapdir,
				    strerror(errno));
		if (!S_ISDIR(sb.st_mode))
			return fail("--wrap-keys: %s: not a folder",
				    o->wrapdir);
	} else {
		o->wrapdir = o->certdir;
	}
	{
		char id[FL_DEVICE_ID_MAX + 16];

		snprintf(id, sizeof(id), "%s-%06u", o->prefix, SIM_COUNT_MAX);
		if (strlen(o->prefix) + 8 >= FL_DEVICE_ID_MAX ||
		    fl_device_id_check(id) != 0)
			return usage("--prefix: ids must be device ids "
				     "([A-Za-z0-9._-], at most 63)");
	}
	if (!is_ident(o->version, FL_PROTO_VERSION_MAX))
		return usage("--version: a version of at most 31 characters");
	for (unsigned i = 0; i < o->n_bad; i++)
		if (strlen(o->bad_versions[i]) >= FL_PROTO_VERSION_MAX)
			return usage("--bad-version: too long");
	if (image != NULL) {
		size_t len = 0;

		rc = read_file(image, SIM_IMAGE_MAX, &o->image, &len);
		if (rc != 0)
			return rc;
		if (len == 0)
			return fail("%s: empty image", image);
		o->image_len = (uint32_t)len;
	} else {
		rc = make_image(o, image_size);
		if (rc != 0)
			return rc;
	}
	if (o->image_len > o->slot_bytes)
		return usage("the factory image (%" PRIu32
			     " bytes) is larger than --slot-size",
			     o->image_len);
	if (o->n_keys == 0 && o->n_roots == 0) {
		/* A key nothing is signed with: the agent needs one. */
		memset(&o->keys[0], 0xFF, sizeof(o->keys[0]));
		o->n_keys = 1;
		fprintf(stderr,
			"fleet-sim: no --key or --root-key: every offer "
			"will be refused (bad_signature)\n");
	}
	return 0;
}

/* ---- processes ----------------------------------------------------------- */

static volatile sig_atomic_t got_signal;
static int sig_pipe[2] = {-1, -1};

static void on_signal_worker(int sig)
{
	got_signal = sig;
	sim_fleet_stop();
}

static void on_signal_parent(int sig)
{
	int saved = errno;

	got_signal = sig;
	if (sig_pipe[1] >= 0)
		(void)!write(sig_pipe[1], "s", 1);
	errno = saved;
}

static void set_signals(void (*fn)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* Raises the soft descriptor limit to the hard one; returns the limit. */
static uint64_t raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur;
}

struct worker {
	pid_t pid;
	int fd; /* read end; -1 once closed */
	char line[256];
	size_t fill;
	struct sim_summary cur, last; /* block being read, last complete */
	bool has_last;
};

/* Reads what a worker sent; returns false at EOF or an error. */
static bool worker_read(struct worker *w)
{
	char buf[4096];
	ssize_t n = read(w->fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	for (ssize_t i = 0; i < n; i++) {
		int rc;

		if (buf[i] != '\n') {
			if (w->fill < sizeof(w->line) - 1)
				w->line[w->fill++] = buf[i];
			continue;
		}
		w->line[w->fill] = '\0';
		w->fill = 0;
		rc = sim_summary_parse_line(&w->cur, w->line);
		if (rc == 1) {
			w->last = w->cur;
			w->has_last = true;
			memset(&w->cur, 0, sizeof(w->cur));
		} else if (rc < 0) {
			fprintf(stderr, "fleet-sim: bad line from worker %d\n",
				(int)w->pid);
		}
	}
	return true;
}

static void gather(struct worker *w, unsigned n, struct sim_summary *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < n; i++)
		if (w[i].has_last)
			sim_summary_merge(out, &w[i].last);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int run_workers(struct sim_options *o, unsigned n_workers)
{
	static struct worker w[WORKERS_MAX];
	struct pollfd pfd[WORKERS_MAX + 1];
	struct sim_summary sum;
	uint64_t next_progress = mono_ms() + o->progress_ms;
	unsigned open_fds = 0, started = 0;
	int status = 0;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return fail("pipe: %s", strerror(errno));
	set_signals(on_signal_parent);
	for (unsigned i = 0; i < n_workers; i++) {
		uint32_t first = (uint32_t)((uint64_t)o->count * i / n_workers);
		uint32_t end =
			(uint32_t)((uint64_t)o->count * (i + 1) / n_workers);
		int p[2];

		w[i].fd = -1;
		if (got_signal || pipe2(p, O_CLOEXEC) != 0)
			break;
		fflush(NULL);
		w[i].pid = fork();
		if (w[i].pid < 0) {
			close(p[0]);
			close(p[1]);
			break;
		}
		if (w[i].pid == 0) {
			struct sim_summary s;
			int rc;

			set_signals(on_signal_worker);
			if (got_signal)
				sim_fleet_stop(); /* came before the fork */
			close(p[0]);
			close(sig_pipe[0]);
			close(sig_pipe[1]);
			for (unsigned k = 0; k < i; k++)
				close(w[k].fd);
			rc = sim_fleet_run(o, first, end - first, p[1], &s);
			if (rc == 0 && sim_summary_write(p[1], &s) != 0)
				rc = -1;
			close(p[1]);
			_exit(rc == 0 ? 0 : EXIT_FAIL);
		}
		close(p[1]);
		w[i].fd = p[0];
		open_fds++;
		started++;
	}
	if (started < n_workers) {
		fail("could not start worker %u: %s", started,
		     got_signal ? "interrupted" : strerror(errno));
		status = EXIT_FAIL;
		for (unsigned i = 0; i < started; i++)
			kill(w[i].pid, SIGTERM);
	}
	while (open_fds > 0) {
		unsigned np = 0;
		int64_t wait = -1;
		int rc;

		pfd[np].fd = sig_pipe[0];
		pfd[np++].events = POLLIN;
		for (unsigned i = 0; i < started; i++) {
			pfd[np].fd = w[i].fd;
			pfd[np++].events = POLLIN;
		}
		if (o->progress_ms != 0) {
			uint64_t now = mono_ms();

			wait = next_progress > now
				       ? (int64_t)(next_progress - now)
				       : 0;
		}
		rc = poll(pfd, np, (int)wait);
		if (rc < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN) {
			char b[64];

			while (read(sig_pipe[0], b, sizeof(b)) > 0)
				;
			for (unsigned i = 0; i < started; i++)
				if (w[i].fd >= 0)
					kill(w[i].pid, (int)got_signal);
		}
		for (unsigned i = 0; i < started; i++) {
			if (w[i].fd < 0 || !(pfd[i + 1].revents &
					     (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (!worker_read(&w[i])) {
				close(w[i].fd);
				w[i].fd = -1;
				pfd[i + 1].fd = -1;
				open_fds--;
			}
		}
		if (o->progress_ms != 0 && mono_ms() >= next_progress) {
			next_progress = mono_ms() + o->progress_ms;
			gather(w, started, &sum);
			sim_summary_progress(stderr, &sum);
		}
	}
	for (unsigned i = 0; i < started; i++) {
		int ws = 0;

		while (waitpid(w[i].pid, &ws, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
			fail("worker %u (pid %d) failed", i, (int)w[i].pid);
			status = EXIT_FAIL;
		}
	}
	gather(w, started, &sum);
	sim_summary_print(stdout, &sum, o->is_json);
	fflush(stdout);
	return status;
}

int main(int argc, char **argv)
{
	struct sim_options o;
	struct sim_summary sum;
	uint64_t nofile, per;
	unsigned n_workers;
	int rc;

	rc = parse_args(&o, argc, argv);
	if (rc != 0)
		return rc;
	if (o.tz != NULL && setenv("TZ", o.tz, 1) == 0)
		tzset(); /* windows and blackouts in the devices' zone */
	nofile = raise_nofile();
	/* Three descriptors per session, one or two per download, some
	 * for the process itself. */
	per = nofile > 256 ? (nofile - 128) / 4 : 32;
	if (per > o.per_process)
		per = o.per_process;
	n_workers = (unsigned)((o.count + per - 1) / per);
	if (n_workers > WORKERS_MAX) {
		free(o.image);
		OPENSSL_cleanse(o.groups, sizeof(o.groups));
		return fail("%" PRIu32 " devices need %u processes (at most "
			    "%d): raise --per-process or the file limit",
			    o.count, n_workers, WORKERS_MAX);
	}
	if (n_workers <= 1) {
		set_signals(on_signal_worker);
		rc = sim_fleet_run(&o, 0, o.count, -1, &sum);
		if (rc == 0)
			sim_summary_print(stdout, &sum, o.is_json);
		rc = rc == 0 ? 0 : EXIT_FAIL;
	} else {
		rc = run_workers(&o, n_workers);
	}
	free(o.image);
	OPENSSL_cleanse(o.groups, sizeof(o.groups));
	return rc;
}
