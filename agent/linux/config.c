/*
 * config.c -- reads fleet-agent's YAML configuration (docs/agent-config.md)
 * and checks all of it before anything starts.
 *
 * Method: the file (at most FLA_FILE_MAX bytes) is first run through
 * libyaml's event parser, which reports syntax errors with their position
 * and lets anchors, aliases, tags and second documents be refused before
 * anything is built (a configuration is read as written; refusing aliases
 * makes an alias bomb cost nothing). The file is then loaded as a libyaml
 * document and walked section by section. Every mapping is matched against
 * the keys its section knows: an unknown key is an error that suggests the
 * nearest known one, a key given twice is an error, a missing required key
 * is an error at its section. Every value is checked for its type, charset
 * and range; files the agent must read at start (trusted keys, the factory
 * image) are read now. All errors are collected (up to FLA_DIAGS_MAX) and
 * printed as FILE:LINE:COL: error: MESSAGE, like the plan parser's.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <yaml.h>

#include "config.h"
#include "fl/bytes.h"
#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/seal_openssl.h"
#include "fl/semver.h"

#define KEY_FILE_MAX 8192
#define WALK_MAX     4096 /* nodes visited: bounds any document */
#define FIELDS_MAX   16

struct ctx {
	struct fla_config *cfg;
	struct fla_diags *diags;
	yaml_document_t *doc;
	char dir[FLA_PATH_MAX]; /* the file's directory, for relative paths */
	bool is_text_only;	/* FLA_CONFIG_TEXT_ONLY: no file is looked at */
	unsigned walked;
};

/* ---- diagnostics --------------------------------------------------------- */

__attribute__((format(printf, 4, 5))) static void
add(struct fla_diags *d, uint32_t line, uint32_t col, const char *fmt, ...)
{
	struct fla_diag *e;
	va_list ap;

	if (d->n >= FLA_DIAGS_MAX) {
		d->n_dropped++;
		return;
	}
	e = &d->d[d->n++];
	e->line = line ? line : 1;
	e->col = line ? col : 1;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void
err(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[sizeof(c->diags->d[0].msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	add(c->diags, n ? (uint32_t)n->start_mark.line + 1 : 1,
	    n ? (uint32_t)n->start_mark.column + 1 : 1, "%s", msg);
}

void fla_diags_print(struct fla_diags *d, FILE *f)
{
	/* Insertion sort into source order; stable. */
	for (unsigned i = 1; i < d->n; i++) {
		struct fla_diag t = d->d[i];
		unsigned j = i;

		while (j > 0 && (d->d[j - 1].line > t.line ||
				 (d->d[j - 1].line == t.line &&
				  d->d[j - 1].col > t.col))) {
			d->d[j] = d->d[j - 1];
			j--;
		}
		d->d[j] = t;
	}
	for (unsigned i = 0; i < d->n; i++)
		fprintf(f, "%s:%u:%u: error: %s\n", d->file,
			(unsigned)d->d[i].line, (unsigned)d->d[i].col,
			d->d[i].msg);
	if (d->n_dropped > 0)
		fprintf(f, "%s: note: %u more errors not shown\n", d->file,
			d->n_dropped);
}

/* ---- did you mean
 * ------------------------------------------------------------ */

/* Levenshtein distance of two short strings (longer ones: far). */
static unsigned distance(const char *a, const char *b)
{
	unsigned row[33], la = (unsigned)strlen(a), lb = (unsigned)strlen(b);

	if (la > 32 || lb > 32)
		return 1000;
	for (unsigned j = 0; j <= lb; j++)
		row[j] = j;
	for (unsigned i = 1; i <= la; i++) {
		unsigned diag = row[0], v;

		row[0] = i;
		for (unsigned j = 1; j <= lb; j++) {
			unsigned up = row[j];

			v = diag + (a[i - 1] != b[j - 1]);
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

static const char *nearest(const char *key, const char *const *names)
{
	const char *best = NULL;
	unsigned best_d = 1000, limit = (unsigned)strlen(key) / 3 + 1;

	for (unsigned i = 0; names[i] != NULL; i++) {
		unsigned d = distance(key, names[i]);

		if (d < best_d) {
			best_d = d;
			best = names[i];
		}
	}
	return best_d <= limit && best_d <= 3 ? best : NULL;
}

/* ---- nodes
 * ---------------------------------------------------------------------- */

static yaml_node_t *node(struct ctx *c, int i)
{
	if (++c->walked > WALK_MAX)
		return NULL;
	return yaml_document_get_node(c->doc, i);
}

static const char *text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool is_scalar(struct ctx *c, const yaml_node_t *n, const char *name)
{
	if (n->type == YAML_SCALAR_NODE)
		return true;
	err(c, n, "`%s` takes a single value, not a %s", name,
	    n->type == YAML_MAPPING_NODE ? "mapping" : "list");
	return false;
}

/* A scalar that is present and not empty. */
static bool is_value(struct ctx *c, const yaml_node_t *n, const char *name)
{
	if (!is_scalar(c, n, name))
		return false;
	if (n->data.scalar.length == 0 ||
	    (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	     (strcmp(text(n), "~") == 0 || strcmp(text(n), "null") == 0))) {
		err(c, n, "`%s` needs a value (leave the key out for none)",
		    name);
		return false;
	}
	return true;
}

static bool is_mapping(struct ctx *c, const yaml_node_t *n, const char *name)
{
	if (n->type == YAML_MAPPING_NODE)
		return true;
	err(c, n, "`%s` is a mapping of keys", name);
	return false;
}

/*
 * Matches the keys of map against names (NULL-terminated): vals[i] gets
 * the value of names[i] (NULL if absent). Reports unknown keys (with the
 * nearest known one) and keys given twice. where names the section for
 * messages ("`broker`", "the file").
 */
static void fields(struct ctx *c, const yaml_node_t *map, const char *where,
		   const char *const *names, yaml_node_t **vals)
{
	for (unsigned i = 0; names[i] != NULL; i++)
		vals[i] = NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
		const char *hint;
		unsigned i;

		if (k == NULL || v == NULL)
			return;
		if (k->type != YAML_SCALAR_NODE) {
			err(c, k, "a key in %s must be a plain word", where);
			continue;
		}
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(names[i], text(k)) == 0)
				break;
		if (names[i] == NULL) {
			hint = nearest(text(k), names);
			if (hint != NULL)
				err(c, k,
				    "unknown key `%.64s` in %s; did you "
				    "mean `%s`?",
				    text(k), where, hint);
			else
				err(c, k, "unknown key `%.64s` in %s", text(k),
				    where);
			continue;
		}
		if (vals[i] != NULL) {
			err(c, k, "`%s` given twice in %s", names[i], where);
			continue;
		}
		vals[i] = v;
	}
}

static void need(struct ctx *c, const yaml_node_t *map, const yaml_node_t *v,
		 const char *where, const char *name)
{
	if (v == NULL)
		err(c, map, "%s needs `%s`", where, name);
}

/* ---- values
 * --------------------------------------------------------------------- */

static bool get_u64(struct ctx *c, const yaml_node_t *n, const char *name,
		    uint64_t min, uint64_t max, uint64_t *out)
{
	const char *s;
	uint64_t v = 0;

	if (!is_value(c, n, name))
		return false;
	s = text(n);
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || p - s > 15 ||
		    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
			err(c, n, "`%s`: `%.64s`: not a whole number", name, s);
			return false;
		}
		v = v * 10u + (uint64_t)(*p - '0');
	}
	if (v < min || v > max) {
		err(c, n, "`%s`: %llu is out of range (%llu to %llu)", name,
		    (unsigned long long)v, (unsigned long long)min,
		    (unsigned long long)max);
		return false;
	}
	*out = v;
	return true;
}

static void opt_u32(struct ctx *c, const yaml_node_t *n, const char *name,
		    uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (n != NULL && get_u64(c, n, name, min, max, &v))
		*out = (uint32_t)v;
}

static void opt_u64(struct ctx *c, const yaml_node_t *n, const char *name,
		    uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (n != NULL && get_u64(c, n, name, min, max, &v))
		*out = v;
}

static void opt_bool(struct ctx *c, const yaml_node_t *n, const char *name,
		     bool *out)
{
	if (n == NULL || !is_value(c, n, name))
		return;
	if (strcmp(text(n), "true") == 0)
		*out = true;
	else if (strcmp(text(n), "false") == 0)
		*out = false;
	else
		err(c, n, "`%s`: `%.64s`: write true or false", name, text(n));
}

/* Which characters a string may hold. */
enum charset {
	CS_IDENT,   /* [A-Za-z0-9._-], first alphanumeric */
	CS_VERSION, /* [A-Za-z0-9.+_-] */
	CS_TZ,	    /* [A-Za-z0-9/_+-] */
	CS_VALUE,   /* printable ASCII without " and \ */
	CS_TEXT,    /* printable ASCII */
};

static bool in_charset(const char *s, enum charset cs)
{
	for (const char *p = s; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;
		bool is_alnum = (ch >= 'a' && ch <= 'z') ||
				(ch >= 'A' && ch <= 'Z') ||
				(ch >= '0' && ch <= '9');

		switch (cs) {
		case CS_IDENT:
			if (!is_alnum &&
			    (p == s || (ch != '.' && ch != '_' && ch != '-')))
				return false;
			break;
		case CS_VERSION:
			if (!is_alnum && ch != '.' && ch != '+' && ch != '_' &&
			    ch != '-')
				return false;
			break;
		case CS_TZ:
			if (!is_alnum && ch != '/' && ch != '_' && ch != '+' &&
			    ch != '-')
				return false;
			break;
		case CS_VALUE:
			if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\')
				return false;
			break;
		case CS_TEXT:
			if (ch < 0x20 || ch > 0x7e)
				return false;
			break;
		}
	}
	return true;
}

static const char *charset_name(enum charset cs)
{
	switch (cs) {
	case CS_IDENT:
		return "letters, digits, `.`, `_` and `-`, starting with a "
		       "letter or digit";
	case CS_VERSION: return "letters, digits, `.`, `+`, `_` and `-`";
	case CS_TZ: return "an IANA zone such as Europe/Paris";
	default: return "printable ASCII";
	}
}

static bool get_str(struct ctx *c, const yaml_node_t *n, const char *name,
		    char *out, size_t size, enum charset cs)
{
	if (!is_value(c, n, name))
		return false;
	if (n->data.scalar.length >= size) {
		err(c, n, "`%s`: longer than %zu characters", name, size - 1);
		return false;
	}
	if (!in_charset(text(n), cs)) {
		err(c, n, "`%s`: `%.64s`: only %s", name, text(n),
		    charset_name(cs));
		return false;
	}
	memcpy(out, text(n), n->data.scalar.length + 1);
	return true;
}

static void opt_str(struct ctx *c, const yaml_node_t *n, const char *name,
		    char *out, size_t size, enum charset cs)
{
	if (n != NULL)
		(void)get_str(c, n, name, out, size, cs);
}

/* A path, relative ones taken from the file's directory. */
static bool get_path(struct ctx *c, const yaml_node_t *n, const char *name,
		     char *out)
{
	const char *s;
	int len;

	if (!is_value(c, n, name))
		return false;
	s = text(n);
	if (!in_charset(s, CS_TEXT)) {
		err(c, n, "`%s`: not a printable path", name);
		return false;
	}
	if (s[0] == '/')
		len = snprintf(out, FLA_PATH_MAX, "%s", s);
	else
		len = snprintf(out, FLA_PATH_MAX, "%s/%s", c->dir, s);
	if (len < 0 || len >= FLA_PATH_MAX) {
		err(c, n, "`%s`: path longer than %d characters", name,
		    FLA_PATH_MAX - 1);
		out[0] = '\0';
		return false;
	}
	return true;
}

static void opt_path(struct ctx *c, const yaml_node_t *n, const char *name,
		     char *out)
{
	if (n != NULL)
		(void)get_path(c, n, name, out);
}

/* A path to a file the agent reads at start: it must be there now. */
static void opt_file(struct ctx *c, const yaml_node_t *n, const char *name,
		     char *out)
{
	if (n != NULL && get_path(c, n, name, out) && !c->is_text_only &&
	    access(out, R_OK) != 0)
		err(c, n, "`%s`: `%s`: %s", name, text(n), strerror(errno));
}

/* One of words (NULL-terminated); returns its index or -1. */
static int get_word(struct ctx *c, const yaml_node_t *n, const char *name,
		    const char *const *words)
{
	char list[128] = "";
	const char *hint;

	if (!is_value(c, n, name))
		return -1;
	for (int i = 0; words[i] != NULL; i++) {
		if (strcmp(words[i], text(n)) == 0)
			return i;
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", i ? ", " : "", words[i]);
	}
	hint = nearest(text(n), words);
	if (hint != NULL)
		err(c, n, "`%s`: `%.64s` is not one of %s; did you mean `%s`?",
		    name, text(n), list, hint);
	else
		err(c, n, "`%s`: `%.64s` is not one of %s", name, text(n),
		    list);
	return -1;
}

/* "HH:MM" at s; returns minutes after midnight or -1. */
static int hhmm(const char *s)
{
	int h, m;

	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' ||
	    s[2] != ':' || s[3] < '0' || s[3] > '9' || s[4] < '0' || s[4] > '9')
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	return h < 24 && m < 60 ? h * 60 + m : -1;
}

/* ---- sections
 * -------------------------------------------------------------------- */

static void device(struct ctx *c, yaml_node_t *map)
{
	static const char *const names[] = {"id",	 "model",  "tz",
					    "component", "labels", NULL};
	struct fla_config *cfg = c->cfg;
	yaml_node_t *v[6];

	if (!is_mapping(c, map, "device"))
		return;
	fields(c, map, "`device`", names, v);
	need(c, map, v[0], "`device`", "id");
	need(c, map, v[1], "`device`", "model");
	if (v[0] != NULL &&
	    get_str(c, v[0], "id", cfg->id, sizeof(cfg->id), CS_IDENT) &&
	    fl_device_id_check(cfg->id) != 0)
		err(c, v[0], "`id`: not a device id");
	opt_str(c, v[1], "model", cfg->model, sizeof(cfg->model), CS_IDENT);
	if (v[2] != NULL &&
	    get_str(c, v[2], "tz", cfg->tz, sizeof(cfg->tz), CS_TZ)) {
		char zone[FLA_PATH_MAX];
		const char *tzdir = getenv("TZDIR");
		struct stat sb;

		snprintf(zone, sizeof(zone), "%s/%s",
			 tzdir != NULL && tzdir[0] != '\0'
				 ? tzdir
				 : "/usr/share/zoneinfo",
			 cfg->tz);
		if (strstr(cfg->tz, "..") != NULL || stat(zone, &sb) != 0 ||
		    !S_ISREG(sb.st_mode))
			err(c, v[2],
			    "`tz`: `%s`: unknown time zone (not in "
			    "the tz database)",
			    cfg->tz);
	}
	opt_str(c, v[3], "component", cfg->component, sizeof(cfg->component),
		CS_IDENT);
	if (v[4] == NULL || !is_mapping(c, v[4], "labels"))
		return;
	for (yaml_node_pair_t *p = v[4]->data.mapping.pairs.start;
	     p < v[4]->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(c, p->key), *val = node(c, p->value);
		struct fl_label *l;

		if (k == NULL || val == NULL)
			return;
		if (cfg->n_labels == FL_PROTO_LABELS_MAX) {
			err(c, k, "`labels`: at most %d labels",
			    FL_PROTO_LABELS_MAX);
			return;
		}
		l = &cfg->labels[cfg->n_labels];
		if (!get_str(c, k, "labels", l->key, sizeof(l->key), CS_IDENT))
			continue;
		for (unsigned i = 0; i < cfg->n_labels; i++)
			if (strcmp(cfg->labels[i].key, l->key) == 0)
				err(c, k, "label `%s` given twice", l->key);
		if (!is_scalar(c, val, l->key))
			continue;
		if (val->data.scalar.length >= sizeof(l->value) ||
		    !in_charset(text(val), CS_VALUE)) {
			err(c, val,
			    "label `%s`: at most %zu printable "
			    "characters, without `\"` and `\\`",
			    l->key, sizeof(l->value) - 1);
			continue;
		}
		memcpy(l->value, text(val), val->data.scalar.length + 1);
		cfg->n_labels++;
	}
}

static void broker(struct ctx *c, yaml_node_t *map)
{
	static const char *const names[] = {
		"host", "port", "root", "keepalive_s", "session_expiry_s",
		"tls",	NULL};
	static const char *const tls_names[] = {"cafile", "certfile", "keyfile",
						NULL};
	struct fla_config *cfg = c->cfg;
	yaml_node_t *v[7], *t[4];
	uint32_t port = 0, keepalive = 60;

	if (!is_mapping(c, map, "broker"))
		return;
	fields(c, map, "`broker`", names, v);
	need(c, map, v[0], "`broker`", "host");
	if (v[0] != NULL &&
	    get_str(c, v[0], "host", cfg->host, sizeof(cfg->host), CS_TEXT) &&
	    strchr(cfg->host, ' ') != NULL)
		err(c, v[0], "`host`: `%s`: a host name or address", cfg->host);
	opt_u32(c, v[1], "port", 1, 65535, &port);
	if (v[2] != NULL &&
	    get_str(c, v[2], "root", cfg->root, sizeof(cfg->root), CS_TEXT) &&
	    fl_topic_root_check(cfg->root) != 0)
		err(c, v[2],
		    "`root`: `%s`: one or more `/`-separated levels "
		    "of letters, digits, `.`, `_` and `-`",
		    cfg->root);
	opt_u32(c, v[3], "keepalive_s", 5, 65535, &keepalive);
	cfg->keepalive_s = (uint16_t)keepalive;
	opt_u32(c, v[4], "session_expiry_s", 1, UINT32_MAX - 1,
		&cfg->session_expiry_s);
	if (v[5] != NULL && is_mapping(c, v[5], "tls")) {
		fields(c, v[5], "`tls`", tls_names, t);
		need(c, v[5], t[0], "`tls`", "cafile");
		opt_file(c, t[0], "cafile", cfg->cafile);
		opt_file(c, t[1], "certfile", cfg->certfile);
		opt_file(c, t[2], "keyfile", cfg->keyfile);
		if ((t[1] == NULL) != (t[2] == NULL))
			err(c, v[5],
			    "`tls`: `certfile` and `keyfile` go "
			    "together");
	}
	cfg->port = (uint16_t)(port != 0 ? port : v[5] != NULL ? 8883 : 1883);
}

static void state(struct ctx *c, yaml_node_t *map)
{
	static const char *const names[] = {"dir", NULL};
	yaml_node_t *v[1];
	struct stat sb;

	if (!is_mapping(c, map, "state"))
		return;
	fields(c, map, "`state`", names, v);
	need(c, map, v[0], "`state`", "dir");
	if (v[0] == NULL || !get_path(c, v[0], "dir", c->cfg->state_dir))
		return;
	if (c->is_text_only)
		return;
	if (stat(c->cfg->state_dir, &sb) != 0)
		err(c, v[0], "`dir`: `%s`: %s", text(v[0]), strerror(errno));
	else if (!S_ISDIR(sb.st_mode))
		err(c, v[0], "`dir`: `%s`: not a directory", text(v[0]));
}

static bool is_pow2(uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

static void factory(struct ctx *c, yaml_node_t *map)
{
	static const char *const names[] = {"image", "version", "seq", NULL};
	struct fla_config *cfg = c->cfg;
	yaml_node_t *v[3];
	struct fl_semver sv;
	struct stat sb;

	if (!is_mapping(c, map, "factory"))
		return;
	fields(c, map, "`factory`", names, v);
	need(c, map, v[0], "`factory`", "image");
	need(c, map, v[1], "`factory`", "version");
	need(c, map, v[2], "`factory`", "seq");
	if (v[0] != NULL && get_path(c, v[0], "image", cfg->factory_image) &&
	    !c->is_text_only) {
		if (stat(cfg->factory_image, &sb) != 0)
			err(c, v[0], "`image`: `%s`: %s", text(v[0]),
			    strerror(errno));
		else if (!S_ISREG(sb.st_mode) || sb.st_size == 0)
			err(c, v[0],
			    "`image`: `%s`: not a regular file with "
			    "content",
			    text(v[0]));
		else if (cfg->slot_bytes != 0 &&
			 (uint64_t)sb.st_size > cfg->slot_bytes)
			err(c, v[0],
			    "`image`: %lld bytes do not fit a slot of "
			    "%u bytes",
			    (long long)sb.st_size, (unsigned)cfg->slot_bytes);
	}
	if (v[1] != NULL &&
	    get_str(c, v[1], "version", cfg->factory_version,
		    sizeof(cfg->factory_version), CS_VERSION) &&
	    fl_semver_parse(&sv, cfg->factory_version,
			    strlen(cfg->factory_version)) != 0)
		err(c, v[1], "`version`: `%s`: not a semantic version",
		    cfg->factory_version);
	opt_u64(c, v[2], "seq", 1, FL_PROTO_UINT_MAX, &cfg->factory_seq);
}

static void flash(struct ctx *c, yaml_node_t *map)
{
	static const char *const names[] = {
		"backend",    "path",	     "erase_bytes",   "write_bytes",
		"slot_bytes", "meta_offset", "slot_a_offset", "slot_b_offset",
		"factory",    NULL};
	static const char *const backends[] = {"file", "block", "mtd", NULL};
	struct fla_config *cfg = c->cfg;
	yaml_node_t *v[9];
	int b = -1;

	if (!is_mapping(c, map, "flash"))
		return;
	fields(c, map, "`flash`", names, v);
	need(c, map, v[0], "`flash`", "backend");
	need(c, map, v[1], "`flash`", "path");
	need(c, map, v[4], "`flash`", "slot_bytes");
	if (v[0] != NULL)
		b = get_word(c, v[0], "backend", backends);
	if (b >= 0)
		cfg->flash_backend = (uint8_t)b;
	if (v[1] != NULL && get_path(c, v[1], "path", cfg->flash_path) &&
	    b > 0 && !c->is_text_only) {
		struct stat sb;

		/* A device is there before the agent; a demo file is made. */
		if (stat(cfg->flash_path, &sb) != 0)
			err(c, v[1], "`path`: `%s`: %s", text(v[1]),
			    strerror(errno));
	}
	if (b == FLA_FLASH_MTD && v[2] != NULL)
		err(c, v[2], "`erase_bytes`: an MTD device says its own");
	if (b == FLA_FLASH_MTD && v[3] != NULL)
		err(c, v[3], "`write_bytes`: an MTD device says its own");
	opt_u32(c, v[2], "erase_bytes", 512, 1u << 20, &cfg->erase_bytes);
	if (v[2] != NULL && !is_pow2(cfg->erase_bytes))
		err(c, v[2], "`erase_bytes`: %u is not a power of two",
		    (unsigned)cfg->erase_bytes);
	opt_u32(c, v[3], "write_bytes", 1, 256, &cfg->write_bytes);
	if (v[3] != NULL && !is_pow2(cfg->write_bytes))
		err(c, v[3], "`write_bytes`: %u is not a power of two",
		    (unsigned)cfg->write_bytes);
	opt_u32(c, v[4], "slot_bytes", 4096, 1u << 30, &cfg->slot_bytes);
	if (v[4] != NULL && b != FLA_FLASH_MTD &&
	    cfg->slot_bytes % cfg->erase_bytes != 0)
		err(c, v[4],
		    "`slot_bytes`: %u is not a multiple of the "
		    "erase unit (%u)",
		    (unsigned)cfg->slot_bytes, (unsigned)cfg->erase_bytes);
	if (b == FLA_FLASH_FILE) {
		for (int i = 5; i < 8; i++)
			if (v[i] != NULL)
				err(c, v[i],
				    "`%s`: the file backend has a "
				    "fixed layout (metadata, slot A, "
				    "slot B)",
				    names[i]);
		cfg->meta_offset = 0;
		cfg->slot_offset[0] = 4 * cfg->erase_bytes;
		cfg->slot_offset[1] = 4 * cfg->erase_bytes + cfg->slot_bytes;
	} else if (b > 0) {
		need(c, map, v[5], "`flash`", "meta_offset");
		need(c, map, v[6], "`flash`", "slot_a_offset");
		need(c, map, v[7], "`flash`", "slot_b_offset");
		opt_u32(c, v[5], "meta_offset", 0, UINT32_MAX,
			&cfg->meta_offset);
		opt_u32(c, v[6], "slot_a_offset", 0, UINT32_MAX,
			&cfg->slot_offset[0]);
		opt_u32(c, v[7], "slot_b_offset", 0, UINT32_MAX,
			&cfg->slot_offset[1]);
		if (v[8] != NULL)
			err(c, v[8], "`factory`: only with the file backend");
	}
	if (b == FLA_FLASH_BLOCK && v[5] && v[6] && v[7]) {
		uint64_t m = cfg->meta_offset,
			 m_end = m + 4ull * cfg->erase_bytes;
		uint64_t a = cfg->slot_offset[0], b_off = cfg->slot_offset[1];
		uint64_t s = cfg->slot_bytes;

		if (m % cfg->erase_bytes || a % cfg->erase_bytes ||
		    b_off % cfg->erase_bytes)
			err(c, map,
			    "`flash`: offsets must be multiples of the "
			    "erase unit (%u)",
			    (unsigned)cfg->erase_bytes);
		else if ((a < m_end && m < a + s) ||
			 (b_off < m_end && m < b_off + s) ||
			 (a < b_off + s && b_off < a + s))
			err(c, map,
			    "`flash`: the metadata (4 erase units) and "
			    "the two slots overlap");
	}
	if (b == FLA_FLASH_FILE && v[8] != NULL)
		factory(c, v[8]);
}

static void boot(struct ctx *c, yaml_node_t *map)
{
	static const char *const names[] = {"backend", "trial_tries",
					    "fw_env_config", "cmdline", NULL};
	static const char *const backends[] = {"sim", "uboot", NULL};
	struct fla_config *cfg = c->cfg;
	yaml_node_t *v[4];
	uint32_t tries = 1;
	int b = FLA_BOOT_SIM;

	if (!is_mapping(c, map, "boot"))
		return;
	fields(c, map, "`boot`", names, v);
	if (v[0] != NULL)
		b = get_word(c, v[0], "backend", backends);
	if (b >= 0)
		cfg->boot_backend = (uint8_t)b;
	opt_u32(c, v[1], "trial_tries", 1, 255, &tries);
	cfg->trial_tries = (uint8_t)tries;
	if (b == FLA_BOOT_SIM) {
		if (v[2] != NULL)
			err(c, v[2],
			    "`fw_env_config`: only with the uboot "
			    "backend");
		if (v[3] != NULL)
			err(c, v[3], "`cmdline`: only with the uboot backend");
	}
	opt_file(c, v[2], "fw_env_config", cfg->fw_env_config);
	opt_path(c, v[3], "cmdline", cfg->cmdline);
}

/* Reads a trusted key: 130 hex digits (fleet-manifest pubkey) or a PEM
 * P-256 public key. */
static void key_file(struct ctx *c, const yaml_node_t *n, const char *path,
		     struct fl_manifest_key *key)
{
	char buf[KEY_FILE_MAX];
	char group[64] = "";
	size_t len, pub_len = 0;
	EVP_PKEY *pkey = NULL;
	BIO *bio;
	FILE *f;

	if (c->is_text_only) {
		/* A distinct stand-in, so that "the same key" stays checked. */
		memset(key, 0, sizeof(*key));
		memcpy(key->kid, &c->cfg->n_keys, sizeof(c->cfg->n_keys));
		key->kid[7] = (uint8_t)c->cfg->n_roots;
		return;
	}
	f = fopen(path, "rb");
	if (f == NULL) {
		err(c, n, "`file`: `%s`: %s", text(n), strerror(errno));
		return;
	}
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	if (strstr(buf, "-----BEGIN") == NULL) {
		if (fl_manifest_key_parse(key, &fl_crypto_openssl, buf, len) !=
		    0)
			err(c, n,
			    "`file`: `%s`: not a public key (130 hex "
			    "digits, or PEM)",
			    text(n));
		return;
	}
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio != NULL)
		pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (pkey == NULL || !EVP_PKEY_is_a(pkey, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
					    group, sizeof(group), NULL) ||
	    strcmp(group, "prime256v1") != 0 ||
	    !EVP_PKEY_get_octet_string_param(
		    pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, key->pub,
		    sizeof(key->pub), &pub_len) ||
	    pub_len != FL_MANIFEST_PUB_BYTES ||
	    fl_manifest_kid(key->kid, &fl_crypto_openssl, key->pub) != 0)
		err(c, n, "`file`: `%s`: not a PEM P-256 public key", text(n));
	EVP_PKEY_free(pkey);
}

static void keys(struct ctx *c, yaml_node_t *list)
{
	static const char *const names[] = {"file", "rollback", NULL};
	struct fla_config *cfg = c->cfg;

	if (list->type != YAML_SEQUENCE_NODE) {
		err(c, list, "`keys` is a list of key files");
		return;
	}
	if (list->data.sequence.items.top == list->data.sequence.items.start)
		err(c, list, "`keys`: at least one trusted key");
	for (yaml_node_item_t *it = list->data.sequence.items.start;
	     it < list->data.sequence.items.top; it++) {
		yaml_node_t *item = node(c, *it), *v[2], *file;
		struct fl_manifest_key *k = &cfg->keys[cfg->n_keys];
		char path[FLA_PATH_MAX];
		bool is_rollback = false;
		size_t before = c->diags->n;

		if (item == NULL)
			return;
		if (cfg->n_keys == FLA_KEYS_MAX) {
			err(c, item, "`keys`: at most %d keys", FLA_KEYS_MAX);
			return;
		}
		if (item->type == YAML_SCALAR_NODE) {
			file = item; /* a plain path */
		} else if (is_mapping(c, item, "a key")) {
			fields(c, item, "a key", names, v);
			need(c, item, v[0], "a key", "file");
			file = v[0];
			opt_bool(c, v[1], "rollback", &is_rollback);
		} else {
			continue;
		}
		if (file == NULL || !get_path(c, file, "file", path))
			continue;
		key_file(c, file, path, k);
		if (c->diags->n != before)
			continue;
		for (unsigned i = 0; i < cfg->n_keys; i++)
			if (memcmp(cfg->keys[i].kid, k->kid,
				   FL_MANIFEST_KID_BYTES) == 0) {
				err(c, file,
				    "`file`: `%s`: the same key as "
				    "another one",
				    text(file));
				return;
			}
		if (is_rollback)
			memcpy(cfg->rollback_kids[cfg->n_rollback_kids++],
			       k->kid, FL_MANIFEST_KID_BYTES);
		cfg->n_keys++;
	}
}

/* roots: a list of 1..4 root key files (the form keys take). */
static void roots(struct ctx *c, yaml_node_t *list)
{
	struct fla_config *cfg = c->cfg;

	if (list->type != YAML_SEQUENCE_NODE ||
	    list->data.sequence.items.top == list->data.sequence.items.start) {
		err(c, list, "`roots` is a list of 1 to %d root key files",
		    FLA_ROOTS_MAX);
		return;
	}
	for (yaml_node_item_t *it = list->data.sequence.items.start;
	     it < list->data.sequence.items.top; it++) {
		yaml_node_t *file = node(c, *it);
		struct fl_manifest_key *k = &cfg->roots[cfg->n_roots];
		char path[FLA_PATH_MAX];
		size_t before = c->diags->n;

		if (file == NULL)
			return;
		if (cfg->n_roots == FLA_ROOTS_MAX) {
			err(c, file, "`roots`: at most %d roots",
			    FLA_ROOTS_MAX);
			return;
		}
		if (!get_path(c, file, "roots", path))
			continue;
		key_file(c, file, path, k);
		if (c->diags->n != before)
			continue;
		for (unsigned i = 0; i < cfg->n_roots; i++)
			if (memcmp(cfg->roots[i].kid, k->kid,
				   FL_MANIFEST_KID_BYTES) == 0) {
				err(c, file,
				    "`roots`: `%s`: the same key as another "
				    "root",
				    text(file));
				return;
			}
		cfg->n_roots++;
	}
}

/* A wrap key file (a P-256 private key, PEM) read as the key of name:
 * a regular file that only its owner may read or write (0600, 0400). */
static void wrap_key_file(struct ctx *c, const yaml_node_t *n, const char *what,
			  const char *name)
{
	struct fla_config *cfg = c->cfg;
	struct fl_wrap_key *k = &cfg->wrap_keys[cfg->n_wrap_keys];
	char path[FLA_PATH_MAX];
	struct fl_seal_diag d;
	struct stat sb;
	int rc;

	if (!get_path(c, n, what, path))
		return;
	if (c->is_text_only) {
		/* A stand-in: the file is not looked at. */
		memset(k, 0, sizeof(*k));
		(void)fl_strlcpy(k->name, name, sizeof(k->name));
		k->kid[0] = (uint8_t)cfg->n_wrap_keys;
		cfg->n_wrap_keys++;
		return;
	}
	if (stat(path, &sb) != 0) {
		err(c, n, "`%s`: `%s`: %s", what, text(n), strerror(errno));
		return;
	}
	if (!S_ISREG(sb.st_mode)) {
		err(c, n, "`%s`: `%s`: not a regular file", what, text(n));
		return;
	}
	if ((sb.st_mode & 077) != 0) {
		err(c, n,
		    "`%s`: `%s`: a private key open to others (mode %04o): "
		    "chmod 600 it",
		    what, text(n), (unsigned)(sb.st_mode & 07777));
		return;
	}
	memset(&d, 0, sizeof(d));
	rc = fl_seal_wrap_key_load(k, path, name, &d);
	if (rc == FL_EINVAL) {
		err(c, n, "`%s`: `%s`: not a P-256 private key (PEM)", what,
		    text(n));
		return;
	}
	if (rc != 0) {
		err(c, n, "`%s`: %s", what,
		    d.msg[0] != '\0' ? d.msg : fl_strerror(rc));
		return;
	}
	for (unsigned i = 0; i < cfg->n_wrap_keys; i++)
		if (memcmp(cfg->wrap_keys[i].kid, k->kid, FL_WRAP_KID_BYTES) ==
		    0) {
			err(c, n,
			    "`%s`: `%s`: the same key as `%s`'s: each "
			    "recipient has its own",
			    what, text(n), cfg->wrap_keys[i].name);
			memset(k, 0, sizeof(*k));
			return;
		}
	cfg->n_wrap_keys++;
}

/* encryption: the device's wrap key, its groups' keys, the chunk limit. */
static void encryption(struct ctx *c, yaml_node_t *map)
{
	static const char *const names[] = {"wrap_key", "groups", "chunk_max",
					    NULL};
	static const char *const group_names[] = {"name", "key", NULL};
	struct fla_config *cfg = c->cfg;
	yaml_node_t *v[3], *g[2];
	char group[FL_WRAP_NAME_MAX];

	if (!is_mapping(c, map, "encryption"))
		return;
	fields(c, map, "`encryption`", names, v);
	need(c, map, v[0], "`encryption`", "wrap_key");
	opt_u32(c, v[2], names[2], FL_SEAL_CHUNK_MIN, FL_SEAL_CHUNK_MAX,
		&cfg->seal_chunk_max);
	if (v[2] != NULL && cfg->seal_chunk_max % FL_SEAL_CHUNK_MIN != 0)
		err(c, v[2], "`chunk_max`: %u is not a multiple of %u",
		    (unsigned)cfg->seal_chunk_max, FL_SEAL_CHUNK_MIN);
	if (v[0] != NULL)
		wrap_key_file(c, v[0], "wrap_key",
			      cfg->id[0] != '\0' ? cfg->id : "-");
	if (v[1] == NULL)
		return;
	if (v[1]->type != YAML_SEQUENCE_NODE ||
	    v[1]->data.sequence.items.top == v[1]->data.sequence.items.start) {
		err(c, v[1],
		    "`groups` is a list of 1 to %d groups, each `name` and "
		    "`key`",
		    FLA_WRAP_KEYS_MAX - 1);
		return;
	}
	for (yaml_node_item_t *it = v[1]->data.sequence.items.start;
	     it < v[1]->data.sequence.items.top; it++) {
		yaml_node_t *item = node(c, *it);
		bool is_dup = false;

		if (item == NULL)
			return;
		if (it - v[1]->data.sequence.items.start ==
		    FLA_WRAP_KEYS_MAX - 1) {
			err(c, item, "`groups`: at most %d groups",
			    FLA_WRAP_KEYS_MAX - 1);
			return;
		}
		if (!is_mapping(c, item, "a group"))
			continue;
		fields(c, item, "a group", group_names, g);
		need(c, item, g[0], "a group", "name");
		need(c, item, g[1], "a group", "key");
		if (g[0] == NULL || g[1] == NULL ||
		    !get_str(c, g[0], "name", group, sizeof(group), CS_IDENT))
			continue;
		for (unsigned i = 0; i < cfg->n_wrap_keys; i++)
			if (strcmp(cfg->wrap_keys[i].name, group) == 0)
				is_dup = true;
		if (is_dup) {
			err(c, g[0],
			    "`name`: `%s`: given twice (or the device's own "
			    "id)",
			    group);
			continue;
		}
		wrap_key_file(c, g[1], "key", group);
	}
}

static void policy(struct ctx *c, yaml_node_t *map)
{
	static const char *const names[] = {"min_battery_pct",
					    "min_free_bytes",
					    "retry_s",
					    "max_waits",
					    "health_window_s",
					    "health_interval_s",
					    "health_sample_ms",
					    "checkpoint_bytes",
					    "checkpoint_ms",
					    "download_retry_base_s",
					    "download_retry_max_s",
					    "download_max_tries",
					    NULL};
	struct fla_config *cfg = c->cfg;
	yaml_node_t *v[12];
	uint32_t pct = 0, tries = 0;

	if (!is_mapping(c, map, "policy"))
		return;
	fields(c, map, "`policy`", names, v);
	opt_u32(c, v[0], names[0], 0, 100, &pct);
	cfg->min_battery_pct = (uint8_t)pct;
	opt_u64(c, v[1], names[1], 0, FL_PROTO_UINT_MAX, &cfg->min_free_bytes);
	opt_u32(c, v[2], names[2], 1, 7 * 86400, &cfg->retry_s);
	opt_u32(c, v[3], names[3], 0, 1000000, &cfg->max_waits);
	opt_u32(c, v[4], names[4], 1, 7 * 86400, &cfg->health_window_s);
	opt_u32(c, v[5], names[5], 1, 86400, &cfg->health_interval_s);
	opt_u32(c, v[6], names[6], 100, 60000, &cfg->health_sample_ms);
	opt_u32(c, v[7], names[7], 4096, 1u << 24, &cfg->checkpoint_bytes);
	opt_u32(c, v[8], names[8], 0, 600000, &cfg->checkpoint_min_ms);
	opt_u32(c, v[9], names[9], 1, 3600, &cfg->dl_retry_base_s);
	opt_u32(c, v[10], names[10], 1, 86400, &cfg->dl_retry_max_s);
	opt_u32(c, v[11], names[11], 1, 1000, &tries);
	cfg->dl_max_tries = (uint16_t)tries;
	if (v[9] != NULL && v[10] != NULL &&
	    cfg->dl_retry_max_s < cfg->dl_retry_base_s)
		err(c, v[10],
		    "`download_retry_max_s`: below "
		    "`download_retry_base_s`");
}

static void download(struct ctx *c, yaml_node_t *map)
{
	static const char *const names[] = {"cafile", "connect_timeout_s",
					    "stall_timeout_s",
					    "max_bytes_per_s", NULL};
	struct fla_config *cfg = c->cfg;
	yaml_node_t *v[4];

	if (!is_mapping(c, map, "download"))
		return;
	fields(c, map, "`download`", names, v);
	opt_file(c, v[0], "cafile", cfg->dl_cafile);
	opt_u32(c, v[1], names[1], 1, 600, &cfg->connect_timeout_s);
	opt_u32(c, v[2], names[2], 1, 3600, &cfg->stall_timeout_s);
	opt_u64(c, v[3], names[3], 0, 1000000000000ull, &cfg->max_bytes_per_s);
}

static void facts(struct ctx *c, yaml_node_t *map)
{
	static const char *const names[] = {"battery_file", "charging_file",
					    "busy_file",    "veto_file",
					    "blackout",	    NULL};
	struct fla_config *cfg = c->cfg;
	yaml_node_t *v[5];

	if (!is_mapping(c, map, "facts"))
		return;
	fields(c, map, "`facts`", names, v);
	opt_path(c, v[0], names[0], cfg->battery_file);
	opt_path(c, v[1], names[1], cfg->charging_file);
	opt_path(c, v[2], names[2], cfg->busy_file);
	opt_path(c, v[3], names[3], cfg->veto_file);
	if (v[4] != NULL && is_value(c, v[4], "blackout")) {
		const char *s = text(v[4]);
		int a = -1, b = -1;

		if (strlen(s) == 11 && s[5] == '-') {
			a = hhmm(s);
			b = hhmm(s + 6);
		}
		if (a < 0 || b < 0)
			err(c, v[4],
			    "`blackout`: `%.64s`: write HH:MM-HH:MM, "
			    "local time (22:00-06:00)",
			    s);
		else if (a == b)
			err(c, v[4],
			    "`blackout`: `%s`: start and end are the "
			    "same",
			    s);
		else {
			cfg->has_blackout = true;
			cfg->blackout_start_min = (uint16_t)a;
			cfg->blackout_end_min = (uint16_t)b;
		}
	}
}

static void health(struct ctx *c, yaml_node_t *map)
{
	static const char *const names[] = {"reset_reason_file",
					    "crashes_file",
					    "boot_ok_file",
					    "metrics",
					    "hook",
					    "hook_timeout_s",
					    NULL};
	struct fla_config *cfg = c->cfg;
	yaml_node_t *v[6];

	if (!is_mapping(c, map, "health"))
		return;
	fields(c, map, "`health`", names, v);
	opt_path(c, v[0], names[0], cfg->reset_reason_file);
	opt_path(c, v[1], names[1], cfg->crashes_file);
	opt_path(c, v[2], names[2], cfg->boot_ok_file);
	if (v[4] != NULL && get_str(c, v[4], "hook", cfg->hook,
				    sizeof(cfg->hook), CS_TEXT) == false)
		cfg->hook[0] = '\0';
	opt_u32(c, v[5], names[5], 1, 3600, &cfg->hook_timeout_s);
	if (v[5] != NULL && v[4] == NULL)
		err(c, v[5], "`hook_timeout_s` without a `hook`");
	if (v[3] == NULL || !is_mapping(c, v[3], "metrics"))
		return;
	for (yaml_node_pair_t *p = v[3]->data.mapping.pairs.start;
	     p < v[3]->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(c, p->key), *val = node(c, p->value);
		struct fla_metric_file *m = &cfg->metrics[cfg->n_metrics];

		if (k == NULL || val == NULL)
			return;
		if (cfg->n_metrics == FL_PROTO_METRICS_MAX) {
			err(c, k, "`metrics`: at most %d",
			    FL_PROTO_METRICS_MAX);
			return;
		}
		if (!get_str(c, k, "metrics", m->name, sizeof(m->name),
			     CS_IDENT))
			continue;
		if (strcmp(m->name, "crashes") == 0 ||
		    strcmp(m->name, "uptime_s") == 0) {
			err(c, k, "metric `%s` is built in", m->name);
			continue;
		}
		for (unsigned i = 0; i < cfg->n_metrics; i++)
			if (strcmp(cfg->metrics[i].name, m->name) == 0)
				err(c, k, "metric `%s` given twice", m->name);
		if (get_path(c, val, m->name, m->path))
			cfg->n_metrics++;
	}
}

static void reboot(struct ctx *c, yaml_node_t *map)
{
	static const char *const names[] = {"mode", "command", NULL};
	static const char *const modes[] = {"command", "exit", NULL};
	struct fla_config *cfg = c->cfg;
	yaml_node_t *v[2];
	int m = FLA_REBOOT_COMMAND;

	if (!is_mapping(c, map, "reboot"))
		return;
	fields(c, map, "`reboot`", names, v);
	if (v[0] != NULL)
		m = get_word(c, v[0], "mode", modes);
	if (m >= 0)
		cfg->reboot_mode = (uint8_t)m;
	if (v[1] != NULL && m == FLA_REBOOT_EXIT)
		err(c, v[1], "`command`: not used with mode exit");
	opt_str(c, v[1], "command", cfg->reboot_command,
		sizeof(cfg->reboot_command), CS_TEXT);
}

static void logging(struct ctx *c, yaml_node_t *map)
{
	static const char *const names[] = {"verbose", NULL};
	yaml_node_t *v[1];

	if (!is_mapping(c, map, "log"))
		return;
	fields(c, map, "`log`", names, v);
	opt_bool(c, v[0], "verbose", &c->cfg->is_verbose);
}

static void top(struct ctx *c, yaml_node_t *root)
{
	static const char *const names[] = {
		"device", "broker", "state",	"flash",      "boot",
		"keys",	  "policy", "download", "facts",      "health",
		"reboot", "log",    "roots",	"encryption", NULL};
	yaml_node_t *v[14];

	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		err(c, root,
		    "the file is a mapping of sections (device, "
		    "broker, state, flash, keys ...)");
		return;
	}
	fields(c, root, "the file", names, v);
	need(c, root, v[0], "the file", "device");
	need(c, root, v[1], "the file", "broker");
	need(c, root, v[2], "the file", "state");
	need(c, root, v[3], "the file", "flash");
	if (v[5] == NULL && v[12] == NULL)
		err(c, root, "the file needs `keys` or `roots`");
	if (v[0])
		device(c, v[0]);
	if (v[1])
		broker(c, v[1]);
	if (v[2])
		state(c, v[2]);
	if (v[3])
		flash(c, v[3]);
	if (v[4])
		boot(c, v[4]);
	if (v[5])
		keys(c, v[5]);
	if (v[12])
		roots(c, v[12]);
	if (v[13])
		encryption(c, v[13]);
	if (v[6])
		policy(c, v[6]);
	if (v[7])
		download(c, v[7]);
	if (v[8])
		facts(c, v[8]);
	if (v[9])
		health(c, v[9]);
	if (v[10])
		reboot(c, v[10]);
	if (v[11])
		logging(c, v[11]);
	if (c->cfg->boot_backend == FLA_BOOT_UBOOT &&
	    c->cfg->flash_backend == FLA_FLASH_FILE && v[3] && v[4])
		err(c, v[4],
		    "`boot`: uboot needs a real device: flash "
		    "backend block or mtd");
}

/* ---- the file
 * ------------------------------------------------------------------ */

static void defaults(struct fla_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	(void)fl_strlcpy(cfg->component, "firmware", sizeof(cfg->component));
	(void)fl_strlcpy(cfg->root, "fleet", sizeof(cfg->root));
	cfg->port = 1883;
	cfg->keepalive_s = 60;
	cfg->session_expiry_s = 604800;
	cfg->erase_bytes = 4096;
	cfg->write_bytes = 1;
	cfg->boot_backend = FLA_BOOT_SIM;
	cfg->trial_tries = 1;
	(void)fl_strlcpy(cfg->fw_env_config, "/etc/fw_env.config",
			 sizeof(cfg->fw_env_config));
	(void)fl_strlcpy(cfg->cmdline, "/proc/cmdline", sizeof(cfg->cmdline));
	cfg->hook_timeout_s = 30;
	cfg->checkpoint_min_ms = 1000;
	cfg->reboot_mode = FLA_REBOOT_COMMAND;
	(void)fl_strlcpy(cfg->reboot_command, "systemctl reboot",
			 sizeof(cfg->reboot_command));
}

static int read_file(const char *path, char *buf, size_t size, size_t *len,
		     struct fla_diags *d)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL) {
		int e = errno;

		add(d, 0, 0, "cannot read: %s", strerror(e));
		return e == ENOENT ? FL_ENOENT : FL_EIO;
	}
	n = fread(buf, 1, size - 1, f);
	if (ferror(f)) {
		fclose(f);
		add(d, 0, 0, "cannot read: I/O error");
		return FL_EIO;
	}
	if (n == size - 1 && fgetc(f) != EOF) {
		fclose(f);
		add(d, 0, 0, "larger than %zu bytes", size - 1);
		return FL_ETOOBIG;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return 0;
}

/* The event pass: syntax errors, and what a configuration may not use. */
static bool syntax_ok(const char *buf, size_t len, struct fla_diags *d)
{
	yaml_parser_t p;
	yaml_event_t ev;
	unsigned docs = 0, events = 0;
	bool ok = true;

	if (!yaml_parser_initialize(&p)) {
		add(d, 0, 0, "out of memory");
		return false;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (ok) {
		if (!yaml_parser_parse(&p, &ev)) {
			add(d, (uint32_t)p.problem_mark.line + 1,
			    (uint32_t)p.problem_mark.column + 1, "%s%s%s",
			    p.problem ? p.problem : "syntax error",
			    p.context ? " " : "", p.context ? p.context : "");
			ok = false;
			break;
		}
		if (++events > WALK_MAX) {
			add(d, (uint32_t)ev.start_mark.line + 1,
			    (uint32_t)ev.start_mark.column + 1,
			    "too many values (over %d)", WALK_MAX);
			ok = false;
		} else if (ev.type == YAML_ALIAS_EVENT ||
			   (ev.type == YAML_SCALAR_EVENT &&
			    ev.data.scalar.anchor) ||
			   (ev.type == YAML_MAPPING_START_EVENT &&
			    ev.data.mapping_start.anchor) ||
			   (ev.type == YAML_SEQUENCE_START_EVENT &&
			    ev.data.sequence_start.anchor)) {
			add(d, (uint32_t)ev.start_mark.line + 1,
			    (uint32_t)ev.start_mark.column + 1,
			    "anchors and aliases are not allowed: write each "
			    "value out");
			ok = false;
		} else if ((ev.type == YAML_SCALAR_EVENT &&
			    ev.data.scalar.tag) ||
			   (ev.type == YAML_MAPPING_START_EVENT &&
			    ev.data.mapping_start.tag) ||
			   (ev.type == YAML_SEQUENCE_START_EVENT &&
			    ev.data.sequence_start.tag)) {
			add(d, (uint32_t)ev.start_mark.line + 1,
			    (uint32_t)ev.start_mark.column + 1,
			    "tags are not allowed");
			ok = false;
		} else if (ev.type == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
			add(d, (uint32_t)ev.start_mark.line + 1,
			    (uint32_t)ev.start_mark.column + 1,
			    "one document per file");
			ok = false;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		yaml_event_delete(&ev);
	}
	if (ok && docs == 0) {
		add(d, 0, 0, "empty file");
		ok = false;
	}
	yaml_parser_delete(&p);
	return ok;
}

int fla_config_load(struct fla_config *cfg, const char *path,
		    struct fla_diags *diags)
{
	static char buf[FLA_FILE_MAX + 1];
	char dir[FLA_PATH_MAX];
	const char *slash;
	size_t len = 0;
	int rc;

	memset(diags, 0, sizeof(*diags));
	diags->file = path;
	defaults(cfg);
	rc = read_file(path, buf, sizeof(buf), &len, diags);
	if (rc != 0)
		return rc;
	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	return fla_config_parse(cfg, buf, len, dir, 0, diags);
}

int fla_config_parse(struct fla_config *cfg, const char *buf, size_t len,
		     const char *dir, unsigned flags, struct fla_diags *diags)
{
	struct ctx c;
	yaml_parser_t p;
	yaml_document_t doc;
	const char *file = diags->file;

	memset(diags, 0, sizeof(*diags));
	diags->file = file != NULL ? file : "<config>";
	defaults(cfg);
	if (len > FLA_FILE_MAX) {
		add(diags, 0, 0, "larger than %d bytes", FLA_FILE_MAX);
		return FL_ETOOBIG;
	}
	if (memchr(buf, '\0', len) != NULL) {
		add(diags, 0, 0, "a NUL byte: not a text file");
		return FL_EINVAL;
	}
	if (!syntax_ok(buf, len, diags))
		return FL_EINVAL;
	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.diags = diags;
	c.doc = &doc;
	c.is_text_only = (flags & FLA_CONFIG_TEXT_ONLY) != 0;
	snprintf(c.dir, sizeof(c.dir), "%s", dir != NULL ? dir : ".");
	if (!yaml_parser_initialize(&p)) {
		add(diags, 0, 0, "out of memory");
		return FL_ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&p, &doc)) {
		add(diags, (uint32_t)p.problem_mark.line + 1,
		    (uint32_t)p.problem_mark.column + 1, "%s",
		    p.problem ? p.problem : "syntax error");
		yaml_parser_delete(&p);
		return FL_EINVAL;
	}
	top(&c, yaml_document_get_root_node(&doc));
	if (c.walked > WALK_MAX)
		add(diags, 0, 0, "too many values (over %d)", WALK_MAX);
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	return diags->n == 0 && diags->n_dropped == 0 ? 0 : FL_EINVAL;
}
