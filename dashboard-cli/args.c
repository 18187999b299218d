/*
 * args.c -- the command lines of fleetctl's server commands, parsed into
 * struct fl_srv_args (server.h) with nothing but string work, so that
 * every usage error is a unit test; and the y/N question before a
 * rollback.
 *
 * Options may come before, between or after the positional arguments;
 * `--` ends them. `--name VALUE` and `--name=VALUE` are the same. In
 * `label`, an argument `-KEY` removes the label KEY (`--remove KEY` too),
 * so a single dash there names a key, except `-h`, which is help as
 * everywhere.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fl/err.h"
#include "server.h"

#define USAGE_PREFIX "usage: fleetctl [--server URL] [--json] "

/* Which options a command takes. */
enum {
	O_REASON = 1 << 0,   /* --reason TEXT */
	O_ROLLBACK = 1 << 1, /* --yes, --wait */
	O_STATE = 1 << 2,    /* --active, --finished, --all */
	O_FILTER = 1 << 3,   /* --model, --label, --online, --offline */
	O_EVENTS = 1 << 4,   /* --follow, --after */
	O_LABEL = 1 << 5,    /* -KEY, --remove KEY */
};

static const struct {
	const char *word, *sub;
	int cmd;
	unsigned min_args, max_args; /* positional */
	unsigned opts;
	const char *usage;
} cmds[] = {
	{"rollout", "start", FL_SRV_START, 1, 1, 0,
	 USAGE_PREFIX "rollout start FILE\n"},
	{"rollout", "list", FL_SRV_LIST, 0, 0, O_STATE,
	 USAGE_PREFIX "rollout list [--active|--finished|--all]\n"},
	{"rollout", "status", FL_SRV_STATUS, 1, 1, 0,
	 USAGE_PREFIX "rollout status NAME\n"},
	{"pause", NULL, FL_SRV_PAUSE, 1, 1, O_REASON,
	 USAGE_PREFIX "pause NAME [--reason TEXT]\n"},
	{"resume", NULL, FL_SRV_RESUME, 1, 1, O_REASON,
	 USAGE_PREFIX "resume NAME [--reason TEXT]\n"},
	{"approve", NULL, FL_SRV_APPROVE, 2, 2, O_REASON,
	 USAGE_PREFIX "approve NAME STAGE|HOLD [--reason TEXT]\n"},
	{"rollback", NULL, FL_SRV_ROLLBACK, 0, 1, O_REASON | O_ROLLBACK,
	 USAGE_PREFIX "rollback [NAME] [--yes] [--wait] [--reason TEXT]\n"},
	{"cancel", NULL, FL_SRV_CANCEL, 1, 1, O_REASON,
	 USAGE_PREFIX "cancel NAME [--reason TEXT]\n"},
	{"devices", NULL, FL_SRV_DEVICES, 0, 0, O_FILTER,
	 USAGE_PREFIX "devices [--model M] [--label KEY=VALUE]... "
		      "[--online|--offline]\n"},
	{"device", NULL, FL_SRV_DEVICE, 1, 1, 0, USAGE_PREFIX "device ID\n"},
	{"events", NULL, FL_SRV_EVENTS, 0, 1, O_EVENTS,
	 USAGE_PREFIX "events [NAME] [--follow] [--after SEQ]\n"},
	{"label", NULL, FL_SRV_LABEL, 1, 1 + FL_SRV_MAX_LABELS, O_LABEL,
	 USAGE_PREFIX "label ID KEY=VALUE... [-KEY]... [--remove KEY]...\n"},
	{"watch", NULL, FL_SRV_WATCH, 0, 1, 0, USAGE_PREFIX "watch [NAME]\n"},
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

const char *fl_srv_usage(int cmd)
{
	if (cmd == FL_SRV_NCMDS)
		return USAGE_PREFIX "rollout start FILE\n" USAGE_PREFIX
				    "rollout list "
				    "[--active|--finished|--all]\n" USAGE_PREFIX
				    "rollout status NAME\n";
	for (size_t i = 0; i < NCMDS; i++)
		if (cmds[i].cmd == cmd)
			return cmds[i].usage;
	return "";
}

static int fail(char *why, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return FL_EINVAL;
}

/* docs/protocol.md: an ident of at most max characters. */
static int is_ident(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max || !isalnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

/* docs/protocol.md: a label value, printable ASCII without " and \. */
static int is_value(const char *s)
{
	size_t n = strlen(s);

	if (n > FL_SRV_LABEL_VAL_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}

/* Adds KEY=VALUE (value NULL: arg is a bare KEY to remove). */
static int add_label(struct fl_srv_args *a, const char *cmd, const char *arg,
		     int is_remove, char *why, size_t size)
{
	const char *eq = is_remove ? NULL : strchr(arg, '=');
	size_t klen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
	struct fl_srv_label *l;

	if (!is_remove && eq == NULL)
		return fail(why, size, "%s: `%s` is not KEY=VALUE", cmd, arg);
	if (!is_ident(arg, klen, FL_SRV_LABEL_KEY_MAX))
		return fail(why, size,
			    "%s: `%.*s` is not a label key (letters, digits, "
			    ". _ -, first a letter or digit, at most %d)",
			    cmd, (int)(klen > 64 ? 64 : klen), arg,
			    FL_SRV_LABEL_KEY_MAX);
	if (eq != NULL && !is_value(eq + 1))
		return fail(why, size,
			    "%s: the value of `%.*s` is not a label value "
			    "(printable, no \" or \\, at most %d)",
			    cmd, (int)klen, arg, FL_SRV_LABEL_VAL_MAX);
	for (unsigned i = 0; i < a->nlabels; i++)
		if (strlen(a->labels[i].key) == klen &&
		    memcmp(a->labels[i].key, arg, klen) == 0)
			return fail(why, size, "%s: label `%.*s` given twice",
				    cmd, (int)klen, arg);
	if (a->nlabels == FL_SRV_MAX_LABELS)
		return fail(why, size, "%s: at most %d labels", cmd,
			    FL_SRV_MAX_LABELS);
	l = &a->labels[a->nlabels++];
	memcpy(l->key, arg, klen);
	l->key[klen] = '\0';
	l->value = eq != NULL ? eq + 1 : NULL;
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return FL_EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return FL_EINVAL;
	*out = v;
	return 0;
}

/* The option o (with its value v, or NULL for a flag) of command k. */
static int option(struct fl_srv_args *a, size_t k, const char *cmd,
		  const char *o, const char *v, char *why, size_t size)
{
	unsigned opts = cmds[k].opts;

	if ((opts & O_REASON) && strcmp(o, "--reason") == 0) {
		a->reason = v;
	} else if ((opts & O_ROLLBACK) &&
		   (strcmp(o, "--yes") == 0 || strcmp(o, "-y") == 0)) {
		a->is_yes = 1;
	} else if ((opts & O_ROLLBACK) && strcmp(o, "--wait") == 0) {
		a->is_wait = 1;
	} else if ((opts & O_STATE) &&
		   (strcmp(o, "--active") == 0 ||
		    strcmp(o, "--finished") == 0 || strcmp(o, "--all") == 0)) {
		/* o is the caller's scratch copy: keep a literal. */
		const char *s = strcmp(o, "--all") == 0	     ? "all"
				: strcmp(o, "--active") == 0 ? "active"
							     : "finished";

		if (a->state != NULL && strcmp(a->state, s) != 0)
			return fail(why, size,
				    "%s: only one of --active, --finished and "
				    "--all",
				    cmd);
		a->state = s;
	} else if ((opts & O_FILTER) && strcmp(o, "--model") == 0) {
		if (v[0] == '\0')
			return fail(why, size, "%s: --model needs a model",
				    cmd);
		a->model = v;
	} else if ((opts & O_FILTER) && strcmp(o, "--label") == 0) {
		return add_label(a, cmd, v, 0, why, size);
	} else if ((opts & O_FILTER) && (strcmp(o, "--online") == 0 ||
					 strcmp(o, "--offline") == 0)) {
		int online = strcmp(o, "--online") == 0;

		if (a->online >= 0 && a->online != online)
			return fail(why, size,
				    "%s: --online and --offline exclude each "
				    "other",
				    cmd);
		a->online = online;
	} else if ((opts & O_EVENTS) &&
		   (strcmp(o, "--follow") == 0 || strcmp(o, "-f") == 0)) {
		a->is_follow = 1;
	} else if ((opts & O_EVENTS) && strcmp(o, "--after") == 0) {
		if (parse_u64(v, &a->after) != 0)
			return fail(why, size,
				    "%s: --after wants an event's sequence "
				    "number, not `%s`",
				    cmd, v);
		a->has_after = 1;
	} else if ((opts & O_LABEL) && strcmp(o, "--remove") == 0) {
		return add_label(a, cmd, v, 1, why, size);
	} else {
		return fail(why, size, "%s: unknown option %s", cmd, o);
	}
	return 0;
}

/* Options that take a value. */
static int takes_value(const char *name)
{
	return strcmp(name, "--reason") == 0 || strcmp(name, "--model") == 0 ||
	       strcmp(name, "--label") == 0 || strcmp(name, "--after") == 0 ||
	       strcmp(name, "--remove") == 0;
}

int fl_srv_parse(int argc, char **argv, struct fl_srv_args *a, char *why,
		 size_t why_size)
{
	char cmd[32];
	const char *pos[2 + FL_SRV_MAX_LABELS];
	unsigned npos = 0;
	int i, first = 1, only_pos = 0, is_word = 0;
	size_t k;

	memset(a, 0, sizeof(*a));
	a->online = -1;
	why[0] = '\0';
	if (argc < 1)
		return FL_ENOENT;
	for (k = 0; k < NCMDS; k++) {
		if (strcmp(argv[0], cmds[k].word) != 0)
			continue;
		is_word = 1;
		if (cmds[k].sub == NULL)
			break;
		if (argc >= 2 && strcmp(argv[1], cmds[k].sub) == 0) {
			first = 2;
			break;
		}
	}
	if (!is_word)
		return FL_ENOENT;
	if (k == NCMDS) {
		if (argc < 2)
			return fail(why, why_size,
				    "%s: which subcommand? start, list or "
				    "status",
				    argv[0]);
		if (strcmp(argv[1], "--help") == 0 ||
		    strcmp(argv[1], "-h") == 0) {
			a->cmd = FL_SRV_NCMDS; /* the usage of all three */
			a->is_help = 1;
			return 0;
		}
		return fail(why, why_size, "%s: unknown subcommand `%.40s`",
			    argv[0], argv[1]);
	}
	a->cmd = cmds[k].cmd;
	snprintf(cmd, sizeof(cmd), "%s%s%s", cmds[k].word,
		 cmds[k].sub ? " " : "", cmds[k].sub ? cmds[k].sub : "");
	for (i = first; i < argc; i++) {
		const char *o = argv[i], *eq, *v = NULL;
		char name[24];
		size_t nlen;
		int rc;

		if (only_pos || o[0] != '-' || o[1] == '\0') {
			if (npos == sizeof(pos) / sizeof(pos[0]) ||
			    npos >= cmds[k].max_args)
				return fail(why, why_size,
					    "%s: too many arguments (`%.40s`)",
					    cmd, o);
			pos[npos++] = o;
			continue;
		}
		if (strcmp(o, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (strcmp(o, "--json") == 0) {
			a->is_json = 1;
			continue;
		}
		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			a->is_help = 1;
			return 0;
		}
		if ((cmds[k].opts & O_LABEL) && o[1] != '-') {
			rc = add_label(a, cmd, o + 1, 1, why, why_size);
			if (rc != 0)
				return rc;
			continue;
		}
		eq = o[1] == '-' ? strchr(o, '=') : NULL;
		nlen = eq != NULL ? (size_t)(eq - o) : strlen(o);
		if (nlen >= sizeof(name))
			return fail(why, why_size, "%s: unknown option %.40s",
				    cmd, o);
		memcpy(name, o, nlen);
		name[nlen] = '\0';
		if (takes_value(name)) {
			if (eq != NULL)
				v = eq + 1;
			else if (i + 1 < argc)
				v = argv[++i];
			else
				return fail(why, why_size,
					    "%s: %s needs a value", cmd, name);
		} else if (eq != NULL) {
			return fail(why, why_size, "%s: %s takes no value", cmd,
				    name);
		}
		rc = option(a, k, cmd, name, v, why, why_size);
		if (rc != 0)
			return rc;
	}
	if (npos < cmds[k].min_args) {
		static const char *const what[] = {
			[FL_SRV_START] = "FILE",   [FL_SRV_STATUS] = "NAME",
			[FL_SRV_PAUSE] = "NAME",   [FL_SRV_RESUME] = "NAME",
			[FL_SRV_APPROVE] = "NAME", [FL_SRV_CANCEL] = "NAME",
			[FL_SRV_DEVICE] = "ID",	   [FL_SRV_LABEL] = "ID",
		};

		if (a->cmd == FL_SRV_APPROVE && npos == 1)
			return fail(why, why_size,
				    "%s: which stage or hold? (approve NAME "
				    "STAGE|HOLD)",
				    cmd);
		return fail(why, why_size, "%s: no %s given", cmd,
			    (size_t)a->cmd < sizeof(what) / sizeof(what[0]) &&
					    what[a->cmd] != NULL
				    ? what[a->cmd]
				    : "argument");
	}
	if (npos > 0)
		a->name = pos[0];
	if (a->cmd == FL_SRV_APPROVE)
		a->what = pos[1];
	if (a->name != NULL && a->name[0] == '\0')
		return fail(why, why_size, "%s: an empty name", cmd);
	/* Names and ids longer than any fleetd accepts would be cut. */
	if (a->cmd != FL_SRV_START && a->name != NULL &&
	    strlen(a->name) > FL_SRV_NAME_MAX)
		return fail(why, why_size,
			    "%s: `%.20s...` is longer than %d characters", cmd,
			    a->name, FL_SRV_NAME_MAX);
	if (a->what != NULL && strlen(a->what) > FL_SRV_NAME_MAX)
		return fail(why, why_size,
			    "%s: `%.20s...` is longer than %d characters", cmd,
			    a->what, FL_SRV_NAME_MAX);
	if (a->cmd == FL_SRV_LABEL) {
		for (unsigned p = 1; p < npos; p++) {
			int rc = add_label(a, cmd, pos[p], 0, why, why_size);

			if (rc != 0)
				return rc;
		}
		if (a->nlabels == 0)
			return fail(why, why_size,
				    "%s: no change given: KEY=VALUE, -KEY or "
				    "--remove KEY",
				    cmd);
	}
	if (a->reason != NULL && strlen(a->reason) > 255)
		return fail(why, why_size,
			    "%s: --reason is at most 255 characters", cmd);
	return 0;
}

int fl_srv_confirm(FILE *in, FILE *out, const char *question)
{
	char line[64];
	size_t b = 0, e;

	fprintf(out, "%s [y/N] ", question);
	fflush(out);
	if (fgets(line, sizeof(line), in) == NULL) {
		fputc('\n', out);
		return 0;
	}
	e = strlen(line);
	while (b < e && isspace((unsigned char)line[b]))
		b++;
	while (e > b && isspace((unsigned char)line[e - 1]))
		e--;
	line[e] = '\0';
	return strcasecmp(line + b, "y") == 0 ||
	       strcasecmp(line + b, "yes") == 0;
}
