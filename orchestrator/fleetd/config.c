/*
 * config.c -- reads fleetd's YAML configuration (config.h) and the value
 * forms its flags share with it.
 *
 * Method: the file (at most FLD_FILE_MAX bytes) is parsed by libyaml's
 * event parser alone: it must be one document holding one flat mapping of
 * plain keys to scalar values. Anchors, aliases, tags, nested mappings
 * and lists are refused where they appear (a configuration is read as
 * written). Each key is matched against the known ones: an unknown key is
 * an error suggesting the nearest known one, a key given twice is an
 * error. Each value is checked for its form and range. Every problem is
 * collected (up to FLD_DIAGS_MAX) with its line and column and printed as
 * FILE:LINE:COL: error: MESSAGE, like fleet-agent's and the plan parser's.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <yaml.h>

#include "config.h"
#include "fl/log.h"
#include "fl/bytes.h"
#include "fl/err.h"

#define EVENTS_MAX 512

enum key {
	K_DATA,
	K_LISTEN,
	K_BROKER,
	K_BROKER_PORT,
	K_MOSQUITTO,
	K_ROOT,
	K_ARTIFACT_URL,
	K_CLIENT_ID,
	K_SHARED,
	K_INSECURE,
	K_LOG_LEVEL,
	K_OFFER_TTL,
	K_RESEND,
	K_REPORT_FLUSH_MS,
	K_REPORT_BATCH,
	K_MQTT_PUBLISHERS,
	K_COUNT
};

static const char *const key_names[K_COUNT + 1] = {
	"data",
	"listen",
	"broker",
	"broker_port",
	"mosquitto",
	"root",
	"artifact_url",
	"client_id",
	"shared_subscriptions",
	"insecure",
	"log_level",
	"offer_ttl",
	"resend",
	"report_flush_ms",
	"report_batch",
	"mqtt_publishers",
	NULL,
};

__attribute__((format(printf, 4, 5))) static void
add(struct fld_diags *d, uint32_t line, uint32_t col, const char *fmt, ...)
{
	struct fld_diag *e;
	va_list ap;

	if (d->n >= FLD_DIAGS_MAX) {
		d->n_dropped++;
		return;
	}
	e = &d->d[d->n++];
	e->line = line;
	e->col = line != 0 ? col : 0;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

void fld_diags_print(const struct fld_diags *d, FILE *f)
{
	for (unsigned i = 0; i < d->n; i++) {
		if (d->d[i].line != 0)
			fprintf(f, "%s:%u:%u: error: %s\n", d->file,
				(unsigned)d->d[i].line, (unsigned)d->d[i].col,
				d->d[i].msg);
		else
			fprintf(f, "%s: error: %s\n", d->file, d->d[i].msg);
	}
	if (d->n_dropped > 0)
		fprintf(f, "%s: note: %u more errors not shown\n", d->file,
			d->n_dropped);
}

/* ---- did you mean -------------------------------------------------------- */

static unsigned distance(const char *a, const char *b)
{
	unsigned row[33], la = (unsigned)strlen(a), lb = (unsigned)strlen(b);

	if (la > 32 || lb > 32)
		return 1000;
	for (unsigned j = 0; j <= lb; j++)
		row[j] = j;
	for (unsigned i = 1; i <= la; i++) {
		unsigned diag = row[0];

		row[0] = i;
		for (unsigned j = 1; j <= lb; j++) {
			unsigned up = row[j], v = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < v)
				v = up + 1;
			if (row[j - 1] + 1 < v)
				v = row[j - 1] + 1;
			row[j] = v;
			diag = up;
		}
	}
	return row[lb];
}

static const char *nearest(const char *key)
{
	const char *best = NULL;
	unsigned best_d = 1000, limit = (unsigned)strlen(key) / 3 + 1;

	for (unsigned i = 0; key_names[i] != NULL; i++) {
		unsigned d = distance(key, key_names[i]);

		if (d < best_d) {
			best_d = d;
			best = key_names[i];
		}
	}
	return best_d <= limit && best_d <= 3 ? best : NULL;
}

/* ---- value forms --------------------------------------------------------- */

static bool get_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0' || strlen(s) > 15)
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10u + (uint64_t)(*s - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

int fld_parse_duration(const char *s, uint32_t *out_s)
{
	static const struct {
		char unit;
		uint32_t s;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	char num[16];
	size_t n = strlen(s);
	uint32_t mult = 1;
	uint64_t v;

	if (n == 0 || n >= sizeof(num))
		return FL_EINVAL;
	memcpy(num, s, n + 1);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (num[n - 1] == units[i].unit) {
			mult = units[i].s;
			num[--n] = '\0';
			break;
		}
	if (!get_uint(num, UINT32_MAX, &v) || v == 0 || v > UINT32_MAX / mult)
		return FL_EINVAL;
	*out_s = (uint32_t)v * mult;
	return 0;
}

int fld_parse_log_level(const char *s, int *out)
{
	static const char *const names[] = {"error", "warning", "info",
					    "debug"};

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	return FL_EINVAL;
}

int fld_parse_broker_url(const char *url, char *host, size_t cap,
			 uint16_t *port)
{
	bool is_tls = false;

	if (fld_parse_broker(url, host, cap, port, &is_tls) != 0 || is_tls)
		return FL_EINVAL;
	return 0;
}

int fld_parse_broker(const char *url, char *host, size_t cap, uint16_t *port,
		     bool *is_tls)
{
	const char *h, *colon;
	uint64_t p = 1883;
	size_t n;

	*is_tls = strncmp(url, "mqtts://", 8) == 0;
	if (*is_tls)
		p = 8883;
	else if (strncmp(url, "mqtt://", 7) != 0)
		return FL_EINVAL;
	h = url + (*is_tls ? 8 : 7);
	if (h[0] == '[') {
		const char *end = strchr(h, ']');

		if (end == NULL)
			return FL_EINVAL;
		n = (size_t)(end - h - 1);
		h++;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return FL_EINVAL;
	} else {
		colon = strchr(h, ':');
		n = colon != NULL ? (size_t)(colon - h) : strlen(h);
	}
	if (n == 0 || n >= cap || memchr(h, '/', n) != NULL)
		return FL_EINVAL;
	if (colon != NULL && (!get_uint(colon + 1, 65535, &p) || p == 0))
		return FL_EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	*port = (uint16_t)p;
	return 0;
}

/* ---- the file ------------------------------------------------------------ */

struct ctx {
	struct fld_config *cfg;
	struct fld_diags *d;
	char dir[FLD_PATH_MAX]; /* the file's folder, for relative paths */
	bool seen[K_COUNT];
};

__attribute__((format(printf, 3, 4))) static void
err(struct ctx *c, const yaml_event_t *ev, const char *fmt, ...)
{
	char msg[sizeof(c->d->d[0].msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	add(c->d, (uint32_t)ev->start_mark.line + 1,
	    (uint32_t)ev->start_mark.column + 1, "%s", msg);
}

static void set_str(struct ctx *c, const yaml_event_t *ev, const char *name,
		    const char *v, char *out, size_t cap)
{
	if (v[0] == '\0' || strlen(v) >= cap) {
		err(c, ev, "`%s`: 1 to %zu characters", name, cap - 1);
		return;
	}
	(void)fl_strlcpy(out, v, cap);
}

static void set_path(struct ctx *c, const yaml_event_t *ev, const char *name,
		     const char *v, char *out, size_t cap)
{
	int n;

	if (v[0] == '\0') {
		err(c, ev, "`%s` needs a path", name);
		return;
	}
	n = v[0] == '/' ? snprintf(out, cap, "%s", v)
			: snprintf(out, cap, "%s/%s", c->dir, v);
	if (n < 0 || (size_t)n >= cap) {
		out[0] = '\0';
		err(c, ev, "`%s`: a path of at most %zu characters", name,
		    cap - 1);
	}
}

static void set_bool(struct ctx *c, const yaml_event_t *ev, const char *name,
		     const char *v, bool *out)
{
	if (strcmp(v, "true") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0)
		*out = false;
	else
		err(c, ev, "`%s`: `%.64s`: write true or false", name, v);
}

static void value(struct ctx *c, enum key k, const yaml_event_t *ev)
{
	struct fld_config *cfg = c->cfg;
	const char *v = (const char *)ev->data.scalar.value;
	const char *name = key_names[k];
	char host[256];
	uint16_t port;
	bool is_tls = false;
	uint64_t n;

	switch (k) {
	case K_DATA:
		set_path(c, ev, name, v, cfg->data, sizeof(cfg->data));
		break;
	case K_MOSQUITTO:
		set_path(c, ev, name, v, cfg->mosquitto,
			 sizeof(cfg->mosquitto));
		break;
	case K_LISTEN:
		set_str(c, ev, name, v, cfg->listen, sizeof(cfg->listen));
		break;
	case K_BROKER:
		if (strcmp(v, "embedded") != 0 &&
		    fld_parse_broker(v, host, sizeof(host), &port, &is_tls) !=
			    0) {
			err(c, ev,
			    "`broker`: `%.64s`: write embedded, "
			    "mqtts://HOST[:PORT] or mqtt://HOST[:PORT]",
			    v);
			break;
		}
		set_str(c, ev, name, v, cfg->broker, sizeof(cfg->broker));
		break;
	case K_BROKER_PORT:
		if (!get_uint(v, 65535, &n) || n == 0)
			err(c, ev, "`broker_port`: `%.64s`: 1 to 65535", v);
		else
			cfg->broker_port = (uint16_t)n;
		break;
	case K_ROOT:
		if (fl_topic_root_check(v) != 0)
			err(c, ev,
			    "`root`: `%.64s`: /-separated levels of "
			    "[A-Za-z0-9._-], at most %d characters",
			    v, FL_TOPIC_ROOT_MAX - 1);
		else
			(void)fl_strlcpy(cfg->root, v, sizeof(cfg->root));
		break;
	case K_ARTIFACT_URL:
		if (strncmp(v, "http://", 7) != 0 &&
		    strncmp(v, "https://", 8) != 0)
			err(c, ev,
			    "`artifact_url`: `%.64s`: an http:// or "
			    "https:// URL",
			    v);
		else
			set_str(c, ev, name, v, cfg->artifact_url,
				sizeof(cfg->artifact_url));
		break;
	case K_CLIENT_ID:
		if (fl_device_id_check(v) != 0)
			err(c, ev,
			    "`client_id`: `%.64s`: 1 to 63 of "
			    "[A-Za-z0-9._-], first alphanumeric",
			    v);
		else
			(void)fl_strlcpy(cfg->client_id, v,
					 sizeof(cfg->client_id));
		break;
	case K_SHARED: set_bool(c, ev, name, v, &cfg->is_shared); break;
	case K_INSECURE: set_bool(c, ev, name, v, &cfg->is_insecure); break;
	case K_LOG_LEVEL:
		if (fld_parse_log_level(v, &cfg->log_level) != 0)
			err(c, ev,
			    "`log_level`: `%.64s`: error, warning, info or "
			    "debug",
			    v);
		break;
	case K_OFFER_TTL:
	case K_RESEND:
		if (fld_parse_duration(v, k == K_OFFER_TTL
						  ? &cfg->offer_ttl_s
						  : &cfg->resend_s) != 0)
			err(c, ev,
			    "`%s`: `%.64s`: a duration such as 90s, 5m, 2h "
			    "or 1d",
			    name, v);
		break;
	case K_REPORT_FLUSH_MS:
		if (!get_uint(v, 60000, &n) || n == 0)
			err(c, ev, "`report_flush_ms`: `%.64s`: 1 to 60000", v);
		else
			cfg->report_flush_ms = (uint32_t)n;
		break;
	case K_REPORT_BATCH:
		if (!get_uint(v, 1000, &n) || n == 0)
			err(c, ev, "`report_batch`: `%.64s`: 1 to 1000", v);
		else
			cfg->report_batch = (uint32_t)n;
		break;
	case K_MQTT_PUBLISHERS:
		if (!get_uint(v, 32, &n))
			err(c, ev, "`mqtt_publishers`: `%.64s`: 0 to 32", v);
		else
			cfg->mqtt_publishers = (uint32_t)n;
		break;
	default: break;
	}
}

/* What may not appear in a configuration. */
static bool refused(struct ctx *c, const yaml_event_t *ev)
{
	const unsigned char *anchor = NULL, *tag = NULL;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		err(c, ev,
		    "anchors and aliases are not allowed: write each "
		    "value out");
		return true;
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		break;
	default: return false;
	}
	if (anchor != NULL) {
		err(c, ev,
		    "anchors and aliases are not allowed: write each "
		    "value out");
		return true;
	}
	if (tag != NULL) {
		err(c, ev, "tags are not allowed");
		return true;
	}
	return false;
}

static int parse(struct ctx *c, const char *buf, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, key = -1; /* key: waiting for its value */
	unsigned events = 0, docs = 0;
	bool is_done = false, has_map = false;

	if (!yaml_parser_initialize(&p))
		return FL_ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!is_done) {
		if (!yaml_parser_parse(&p, &ev)) {
			add(c->d, (uint32_t)p.problem_mark.line + 1,
			    (uint32_t)p.problem_mark.column + 1, "%s%s%s",
			    p.problem ? p.problem : "syntax error",
			    p.context ? " " : "", p.context ? p.context : "");
			break;
		}
		if (++events > EVENTS_MAX) {
			err(c, &ev, "too many values (over %d)", EVENTS_MAX);
			yaml_event_delete(&ev);
			break;
		}
		if (refused(c, &ev)) {
			yaml_event_delete(&ev);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT: is_done = true; break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				err(c, &ev, "one document per file");
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (depth == 0 && ev.type == YAML_MAPPING_START_EVENT) {
				has_map = true;
			} else if (depth == 0) {
				err(c, &ev,
				    "the file is one mapping of "
				    "`key: value` lines");
			} else if (key >= 0) {
				err(c, &ev, "`%s` takes a single value",
				    key_names[key]);
				key = -1;
			} else if (depth == 1) {
				err(c, &ev, "a key must be a plain word");
			}
			depth++;
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT: depth--; break;
		case YAML_SCALAR_EVENT: {
			const char *s = (const char *)ev.data.scalar.value;

			if (depth == 0) {
				if (ev.data.scalar.length != 0)
					err(c, &ev,
					    "the file is one mapping of `key: "
					    "value` lines");
			} else if (depth > 1) {
				/* inside a refused value */
			} else if (key < 0) {
				int k;

				for (k = 0; k < K_COUNT; k++)
					if (strcmp(s, key_names[k]) == 0)
						break;
				if (k == K_COUNT) {
					const char *hint = nearest(s);

					err(c, &ev, "unknown key `%.64s`%s%s%s",
					    s, hint ? "; did you mean `" : "",
					    hint ? hint : "", hint ? "`?" : "");
					key = K_COUNT; /* skip its value */
				} else if (c->seen[k]) {
					err(c, &ev, "`%s` given twice", s);
					key = K_COUNT;
				} else {
					c->seen[k] = true;
					key = k;
				}
			} else {
				if (key < K_COUNT) {
					if (ev.data.scalar.length == 0 ||
					    (ev.data.scalar.style ==
						     YAML_PLAIN_SCALAR_STYLE &&
					     (strcmp(s, "~") == 0 ||
					      strcmp(s, "null") == 0)))
						err(c, &ev,
						    "`%s` needs a value (leave "
						    "the key out for the "
						    "default)",
						    key_names[key]);
					else
						value(c, (enum key)key, &ev);
				}
				key = -1;
			}
			break;
		}
		default: break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (is_done && !has_map && c->d->n == 0)
		add(c->d, 0, 0, "empty file: write `key: value` lines");
	return c->d->n == 0 ? 0 : FL_EINVAL;
}

void fld_config_defaults(struct fld_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	(void)fl_strlcpy(cfg->root, "fleet", sizeof(cfg->root));
	cfg->log_level = FL_LOG_INFO;
	cfg->mqtt_publishers = 8;
}

int fld_config_load(struct fld_config *cfg, const char *path,
		    struct fld_diags *diags)
{
	static char buf[FLD_FILE_MAX + 1];
	struct ctx c;
	const char *slash;
	size_t n;
	FILE *f;

	memset(diags, 0, sizeof(*diags));
	diags->file = path;
	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.d = diags;
	f = fopen(path, "rb");
	if (f == NULL) {
		int e = errno;

		add(diags, 0, 0, "cannot read: %s", strerror(e));
		return e == ENOENT ? FL_ENOENT : FL_EIO;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	if (ferror(f) || (n == sizeof(buf) - 1 && fgetc(f) != EOF)) {
		bool is_big = !ferror(f);

		fclose(f);
		if (is_big)
			add(diags, 0, 0, "larger than %d bytes", FLD_FILE_MAX);
		else
			add(diags, 0, 0, "cannot read: I/O error");
		return is_big ? FL_ETOOBIG : FL_EIO;
	}
	fclose(f);
	buf[n] = '\0';
	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(c.dir, sizeof(c.dir), ".");
	else if (slash == path)
		snprintf(c.dir, sizeof(c.dir), "/");
	else
		snprintf(c.dir, sizeof(c.dir), "%.*s", (int)(slash - path),
			 path);
	return parse(&c, buf, n);
}

int fld_default_data_dir(char *out, size_t cap)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(out, cap, "%s/fleetd", xdg);
	else if (home != NULL && home[0] == '/')
		n = snprintf(out, cap, "%s/.local/state/fleetd", home);
	else
		return -1;
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int fld_data_dir(const char *data, const char *config_path, char *dir,
		 size_t cap, const char *who)
{
	struct fld_config cfg;

	fld_config_defaults(&cfg);
	if (config_path != NULL) {
		struct fld_diags *diags = calloc(1, sizeof(*diags));

		if (diags == NULL) {
			fprintf(stderr, "%s: out of memory\n", who);
			return 1;
		}
		if (fld_config_load(&cfg, config_path, diags) != 0) {
			fld_diags_print(diags, stderr);
			free(diags);
			return 1;
		}
		free(diags);
		if (data == NULL && cfg.data[0] != '\0')
			data = cfg.data;
	}
	if (data != NULL) {
		if (snprintf(dir, cap, "%s", data) >= (int)cap) {
			fprintf(stderr, "%s: --data: path too long\n", who);
			return 1;
		}
	} else if (fld_default_data_dir(dir, cap) != 0) {
		fprintf(stderr,
			"%s: no data directory: give --data DIR (neither "
			"XDG_STATE_HOME nor HOME is set)\n",
			who);
		return 1;
	}
	return 0;
}

int fld_make_dirs(const char *path)
{
	char p[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(p)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(p, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			return -1;
		p[i] = i < n ? '/' : '\0';
	}
	return 0;
}
