/*
 * boot_uboot.c -- the "uboot" boot control backend: asks U-Boot to try,
 * keep or abandon a slot through its environment, read and written with
 * libubootenv, and tells what U-Boot did from the environment and the
 * kernel command line.
 *
 * The environment contract. Slots are "a" (slot 0) and "b" (slot 1) in
 * the environment. The backend and the boot script share six variables:
 *
 *   fl_slot            "a" or "b": the slot the boot script boots. Written
 *                      by set_trial and set_permanent, and by altbootcmd
 *                      when it reverts. The sample script boots "a" for
 *                      any other value.
 *   fl_committed       "a" or "b": the last slot known good, where
 *                      altbootcmd returns. Written by commit and
 *                      set_permanent; set_trial writes the booted slot
 *                      there when it holds neither "a" nor "b" (a board
 *                      provisioned without it).
 *   upgrade_available  "1" while a trial is pending, "0" otherwise (absent
 *                      reads as 0; like U-Boot, any leading decimal number
 *                      counts). U-Boot's CONFIG_BOOTCOUNT_ENV counts boots
 *                      only while it is not 0, so resets outside a trial
 *                      (brown-outs included) spend no attempt.
 *   bootcount          decimal. U-Boot (CONFIG_BOOTCOUNT_LIMIT) adds one
 *                      at every boot and, with CONFIG_BOOTCOUNT_ENV, saves
 *                      it while upgrade_available is not 0. The backend
 *                      writes "0" whenever it arms, commits or cancels.
 *   bootlimit          decimal, the `tries` of the last set_trial. U-Boot
 *                      runs altbootcmd instead of bootcmd when bootcount >
 *                      bootlimit (bootlimit 0 or absent: never), so the
 *                      trial slot gets exactly `tries` boots.
 *   fl_reverted        the slot altbootcmd abandoned ("a" or "b"). Set,
 *                      not empty and not "0" means status().is_reverted;
 *                      only set_trial deletes it.
 *
 * The transitions, each one libuboot_env_store():
 *
 *   set_trial(s, n)   fl_slot=s upgrade_available=1 bootcount=0
 *                     bootlimit=n, fl_reverted deleted (fl_committed=
 *                     booted slot when missing)
 *   commit(s)         s must be the booted slot, on trial (fl_slot=s,
 *                     upgrade_available not 0) or already committed:
 *                     upgrade_available=0 bootcount=0 fl_committed=s
 *   set_permanent(s)  fl_slot=s fl_committed=s upgrade_available=0
 *                     bootcount=0
 *   altbootcmd        (U-Boot, when bootcount > bootlimit) fl_reverted=
 *                     ${fl_slot} fl_slot=${fl_committed}
 *                     upgrade_available=0 bootcount=0, saveenv, then boot
 *                     as bootcmd does
 *
 * and status() reports booted_slot from the "fl.slot=a|b" token the boot
 * script appends to the kernel command line, is_trial = (upgrade_available
 * is not 0 and fl_slot is the booted slot), is_reverted from fl_reverted,
 * and the reset reason of the configuration. README-uboot.md has the boot
 * script and a fw_env.config.
 *
 * Method: every operation loads the environment afresh (another process,
 * fw_setenv or U-Boot itself may have changed it), decides, and when a
 * variable must change sets them all and stores once. With a redundant
 * environment libubootenv writes the copy that is not in use, with a CRC
 * over its whole data area and a flag byte one above the other copy's;
 * U-Boot and libubootenv both take the valid copy with the higher flag.
 * A power cut during the store leaves a copy with a bad CRC and the other
 * copy in force: a transition happens entirely or not at all, and calling
 * it again finishes it. A transition whose variables already hold their
 * target values writes nothing, so repeating one costs no flash wear and
 * leaves the older copy a complete previous state. After a store the
 * environment is loaded again and must hold what was written. A single-
 * copy environment has no such guarantee (a torn write makes U-Boot fall
 * back to its built-in default environment); use two copies. No copy with
 * a valid CRC is an error (FL_ECORRUPT) and the backend never stores then:
 * storing would replace U-Boot's default environment, bootcmd included,
 * with our six variables.
 */
#include "fl/boot_uboot.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libuboot.h> /* after stddef.h: it uses size_t without it */

#include "fl/bytes.h"
#include "fl/err.h"

/* --- the real libubootenv -------------------------------------------- */

static int real_initialize(void *ctx, struct uboot_ctx **out)
{
	return libuboot_initialize(out, NULL);
}

static int real_read_config(void *ctx, struct uboot_ctx *u, const char *path)
{
	return libuboot_read_config(u, path);
}

static int real_open(void *ctx, struct uboot_ctx *u)
{
	return libuboot_open(u);
}

static void real_close(void *ctx, struct uboot_ctx *u)
{
	libuboot_close(u);
}

static void real_exit(void *ctx, struct uboot_ctx *u)
{
	libuboot_exit(u);
}

static int real_set_env(void *ctx, struct uboot_ctx *u, const char *name,
			const char *value)
{
	return libuboot_set_env(u, name, value);
}

static int real_env_store(void *ctx, struct uboot_ctx *u)
{
	return libuboot_env_store(u);
}

static const struct fl_boot_uboot_lib real_lib = {
	.version = FL_BOOT_UBOOT_LIB_VERSION,
	.initialize = real_initialize,
	.read_config = real_read_config,
	.open = real_open,
	.close = real_close,
	.exit = real_exit,
	.set_env = real_set_env,
	.env_store = real_env_store,
};

const struct fl_boot_uboot_lib *fl_boot_uboot_lib_default(void)
{
	return &real_lib;
}

/* --- the variables of the contract ------------------------------------ */

enum var {
	V_SLOT,
	V_COMMITTED,
	V_UPGRADE,
	V_BOOTCOUNT,
	V_BOOTLIMIT,
	V_REVERTED,
	V_COUNT
};

static const char *const var_names[V_COUNT] = {
	"fl_slot",   "fl_committed", "upgrade_available",
	"bootcount", "bootlimit",    "fl_reverted",
};

static const char *const slot_names[FL_SLOT_COUNT] = {"a", "b"};

/* Longest value kept from a load; a longer one is none of ours and never
 * equals a value we write. */
#define VALUE_MAX 24u

/* Our variables as one load found them. */
struct env {
	uint8_t is_set[V_COUNT];
	uint8_t is_long[V_COUNT];
	char value[V_COUNT][VALUE_MAX];
	unsigned long num[V_COUNT]; /* parse_ulong() of the whole value */
};

/* One variable to write; value NULL deletes it. */
struct assign {
	enum var var;
	const char *value;
};

struct ub {
	const struct fl_boot_uboot_lib *lib;
	struct uboot_ctx *u;
	uint8_t booted_slot;
	uint8_t reset_reason;
	struct fl_boot_uboot_diag last;
};

static const struct fl_boot_ops uboot_ops;

/* Describes a failure in d and returns err. */
static int say(struct fl_boot_uboot_diag *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int say(struct fl_boot_uboot_diag *d, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	return err;
}

/* A value as U-Boot's env_get_ulong(name, 10, 0) reads it: its leading
 * decimal digits, 0 when there are none (saturates). */
static unsigned long parse_ulong(const char *p)
{
	unsigned long n = 0;

	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned digit = (unsigned)(*p - '0');

		if (n > (ULONG_MAX - digit) / 10u)
			return ULONG_MAX;
		n = n * 10u + digit;
	}
	return n;
}

/* A variable as a number, 0 when absent. */
static unsigned long env_ulong(const struct env *e, enum var v)
{
	return e->is_set[v] ? e->num[v] : 0;
}

/* The slot a variable names: 0, 1, or -1 for anything else. */
static int env_slot(const struct env *e, enum var v)
{
	unsigned s;

	if (!e->is_set[v] || e->is_long[v])
		return -1;
	for (s = 0; s < FL_SLOT_COUNT; s++)
		if (strcmp(e->value[v], slot_names[s]) == 0)
			return (int)s;
	return -1;
}

static int env_is_reverted(const struct env *e)
{
	return e->is_set[V_REVERTED] && e->value[V_REVERTED][0] != '\0' &&
	       strcmp(e->value[V_REVERTED], "0") != 0;
}

/* Whether variable a->var already holds a->value. */
static int holds(const struct env *e, const struct assign *a)
{
	if (a->value == NULL)
		return !e->is_set[a->var];
	return e->is_set[a->var] && !e->is_long[a->var] &&
	       strcmp(e->value[a->var], a->value) == 0;
}

static int all_hold(const struct env *e, const struct assign *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!holds(e, &a[i]))
			return 0;
	return 1;
}

/* Copies our variables out of the loaded environment. */
static void read_vars(struct uboot_ctx *u, struct env *e)
{
	void *it;

	memset(e, 0, sizeof(*e));
	for (it = libuboot_iterator(u, NULL); it != NULL;
	     it = libuboot_iterator(u, it)) {
		const char *name = libuboot_getname(it);
		const char *value = libuboot_getvalue(it);
		unsigned v;

		if (name == NULL || value == NULL)
			continue;
		for (v = 0; v < V_COUNT; v++) {
			if (strcmp(name, var_names[v]) != 0)
				continue;
			e->is_set[v] = 1;
			e->num[v] = parse_ulong(value);
			e->is_long[v] =
				fl_strlcpy(e->value[v], value, VALUE_MAX) != 0;
		}
	}
}

/* Loads the environment and copies our variables into *e. On success the
 * environment stays loaded: release it with unload(). Returns 0,
 * FL_ECORRUPT, FL_ENOMEM, FL_EIO. */
static int load(struct ub *ub, struct env *e, struct fl_boot_uboot_diag *d)
{
	int rc = ub->lib->open(ub->lib->ctx, ub->u);

	if (rc == 0) {
		read_vars(ub->u, e);
		return 0;
	}
	ub->lib->close(ub->lib->ctx, ub->u); /* releases the lock */
	if (rc == -ENODATA)
		return say(d, FL_ECORRUPT,
			   "uboot: no copy of the U-Boot environment has a "
			   "valid CRC (U-Boot would use its default "
			   "environment); not writing over it");
	if (rc == -ENOMEM)
		return say(d, FL_ENOMEM, "uboot: loading the environment: %s",
			   strerror(ENOMEM));
	return say(d, FL_EIO,
		   "uboot: cannot read the U-Boot environment (libubootenv: "
		   "%s)",
		   strerror(rc < 0 ? -rc : EIO));
}

static void unload(struct ub *ub)
{
	ub->lib->close(ub->lib->ctx, ub->u);
}

/*
 * Makes the variables of a[] hold their values, the environment loaded as
 * *e: nothing when they all hold already, else one store, then a fresh
 * load that must show them. Unloads the environment in every case.
 * Returns 0, FL_ENOSPC, FL_ECORRUPT, FL_ENOMEM, FL_EIO.
 */
static int apply(struct ub *ub, struct env *e, const struct assign *a, size_t n,
		 const char *op)
{
	struct fl_boot_uboot_diag *d = &ub->last;
	size_t i;
	int rc = 0;

	if (all_hold(e, a, n)) {
		unload(ub);
		return 0;
	}
	for (i = 0; i < n; i++) {
		rc = ub->lib->set_env(ub->lib->ctx, ub->u, var_names[a[i].var],
				      a[i].value);
		if (rc != 0) {
			rc = say(d, rc == -ENOMEM ? FL_ENOMEM : FL_EIO,
				 "uboot: %s: setting %s: %s (a read-only "
				 "variable in .flags?)",
				 op, var_names[a[i].var],
				 strerror(rc < 0 ? -rc : EIO));
			goto out;
		}
	}
	rc = ub->lib->env_store(ub->lib->ctx, ub->u);
	if (rc == -ENOMEM) {
		rc = say(d, FL_ENOSPC,
			 "uboot: %s: the environment does not fit its size "
			 "(or out of memory: libubootenv does not tell)",
			 op);
	} else if (rc != 0) {
		rc = say(d, FL_EIO, "uboot: %s: storing the environment: %s",
			 op, strerror(rc < 0 ? -rc : EIO));
	}
out:
	unload(ub);
	if (rc != 0)
		return rc;
	rc = load(ub, e, d);
	if (rc != 0)
		return rc;
	unload(ub);
	if (!all_hold(e, a, n))
		return say(d, FL_EIO,
			   "uboot: %s: the environment read back after the "
			   "store does not hold what was written",
			   op);
	return 0;
}

/* --- the operations --------------------------------------------------- */

static int uboot_status(struct fl_boot *b, struct fl_boot_status *st)
{
	struct ub *ub = b->priv;
	struct env e;
	int rc;

	rc = load(ub, &e, &ub->last);
	if (rc != 0)
		return rc;
	unload(ub);
	st->booted_slot = ub->booted_slot;
	st->is_trial = env_ulong(&e, V_UPGRADE) != 0 &&
		       env_slot(&e, V_SLOT) == (int)ub->booted_slot;
	st->is_reverted = (uint8_t)env_is_reverted(&e);
	st->reset_reason = ub->reset_reason;
	return 0;
}

static int uboot_set_trial(struct fl_boot *b, unsigned slot, unsigned tries)
{
	struct ub *ub = b->priv;
	struct assign a[6];
	char limit[16];
	struct env e;
	size_t n = 0;
	int rc;

	if (slot >= FL_SLOT_COUNT)
		return say(&ub->last, FL_EINVAL, "uboot: set_trial: no slot %u",
			   slot);
	if (tries == 0 || tries > FL_BOOT_UBOOT_TRIES_MAX)
		return say(&ub->last, FL_EINVAL,
			   "uboot: set_trial: %u tries (1 to %u)", tries,
			   FL_BOOT_UBOOT_TRIES_MAX);
	snprintf(limit, sizeof(limit), "%u", tries);
	a[n++] = (struct assign){V_SLOT, slot_names[slot]};
	a[n++] = (struct assign){V_UPGRADE, "1"};
	a[n++] = (struct assign){V_BOOTCOUNT, "0"};
	a[n++] = (struct assign){V_BOOTLIMIT, limit};
	a[n++] = (struct assign){V_REVERTED, NULL};
	rc = load(ub, &e, &ub->last);
	if (rc != 0)
		return rc;
	if (env_slot(&e, V_COMMITTED) < 0)
		a[n++] = (struct assign){V_COMMITTED,
					 slot_names[ub->booted_slot]};
	return apply(ub, &e, a, n, "set_trial");
}

static int uboot_commit(struct fl_boot *b, unsigned slot)
{
	struct ub *ub = b->priv;
	struct assign a[3];
	struct env e;
	int on_trial, is_committed;
	int rc;

	if (slot >= FL_SLOT_COUNT)
		return say(&ub->last, FL_EINVAL, "uboot: commit: no slot %u",
			   slot);
	if (slot != ub->booted_slot)
		return say(&ub->last, FL_ESTATE,
			   "uboot: commit: slot %s is not the booted slot %s",
			   slot_names[slot], slot_names[ub->booted_slot]);
	rc = load(ub, &e, &ub->last);
	if (rc != 0)
		return rc;
	on_trial = env_ulong(&e, V_UPGRADE) != 0 &&
		   env_slot(&e, V_SLOT) == (int)slot;
	is_committed = env_ulong(&e, V_UPGRADE) == 0 &&
		       env_slot(&e, V_SLOT) == (int)slot &&
		       env_slot(&e, V_COMMITTED) == (int)slot;
	if (!on_trial && !is_committed) {
		unload(ub);
		return say(&ub->last, FL_ESTATE,
			   "uboot: commit: no trial of slot %s is pending "
			   "(fl_slot=%s upgrade_available=%lu)",
			   slot_names[slot],
			   e.is_set[V_SLOT] ? e.value[V_SLOT] : "",
			   env_ulong(&e, V_UPGRADE));
	}
	a[0] = (struct assign){V_UPGRADE, "0"};
	a[1] = (struct assign){V_BOOTCOUNT, "0"};
	a[2] = (struct assign){V_COMMITTED, slot_names[slot]};
	return apply(ub, &e, a, 3, "commit");
}

static int uboot_set_permanent(struct fl_boot *b, unsigned slot)
{
	struct ub *ub = b->priv;
	struct assign a[4];
	struct env e;
	int rc;

	if (slot >= FL_SLOT_COUNT)
		return say(&ub->last, FL_EINVAL,
			   "uboot: set_permanent: no slot %u", slot);
	rc = load(ub, &e, &ub->last);
	if (rc != 0)
		return rc;
	a[0] = (struct assign){V_SLOT, slot_names[slot]};
	a[1] = (struct assign){V_COMMITTED, slot_names[slot]};
	a[2] = (struct assign){V_UPGRADE, "0"};
	a[3] = (struct assign){V_BOOTCOUNT, "0"};
	return apply(ub, &e, a, 4, "set_permanent");
}

static const struct fl_boot_ops uboot_ops = {
	.version = FL_BOOT_OPS_VERSION,
	.name = "uboot",
	.status = uboot_status,
	.set_trial = uboot_set_trial,
	.commit = uboot_commit,
	.set_permanent = uboot_set_permanent,
};

/* --- open and close ---------------------------------------------------- */

/*
 * The slot of the last "fl.slot=" token of a kernel command line, split
 * as the kernel splits it: on white space outside double quotes, quotes
 * removed. Returns 0 with *slot, FL_ENOENT (no token), FL_EINVAL (a value
 * other than "a" or "b").
 */
static int cmdline_slot(const char *line, unsigned *slot,
			struct fl_boot_uboot_diag *d)
{
	static const char key[] = "fl.slot=";
	const char *p = line;
	int rc = FL_ENOENT;

	while (*p != '\0') {
		char tok[32];
		size_t len = 0;
		int in_quote = 0, is_long = 0;
		unsigned s;

		while (*p != '\0' && isspace((unsigned char)*p))
			p++;
		while (*p != '\0' &&
		       (in_quote || !isspace((unsigned char)*p))) {
			if (*p == '"')
				in_quote = !in_quote;
			else if (len + 1 < sizeof(tok))
				tok[len++] = *p;
			else
				is_long = 1;
			p++;
		}
		tok[len] = '\0';
		if (strncmp(tok, key, sizeof(key) - 1) != 0)
			continue;
		rc = FL_EINVAL;
		for (s = 0; s < FL_SLOT_COUNT && !is_long; s++) {
			if (strcmp(tok + sizeof(key) - 1, slot_names[s]) == 0) {
				*slot = s;
				rc = 0;
			}
		}
	}
	if (rc == FL_ENOENT)
		return say(d, rc,
			   "uboot: no \"fl.slot=\" on the kernel command line "
			   "(the boot script must add it)");
	if (rc == FL_EINVAL)
		return say(d, rc,
			   "uboot: the kernel command line's \"fl.slot=\" is "
			   "neither a nor b");
	return 0;
}

/* Reads the booted slot from the command line file at path. Returns 0,
 * FL_ENOENT, FL_EINVAL, FL_ETOOBIG, FL_EIO. */
static int read_booted_slot(const char *path, unsigned *slot,
			    struct fl_boot_uboot_diag *d)
{
	char line[FL_BOOT_UBOOT_CMDLINE_MAX + 1];
	size_t len;
	FILE *f;
	int rc;

	f = fopen(path, "r");
	if (f == NULL) {
		int err = errno;

		return say(d, err == ENOENT ? FL_ENOENT : FL_EIO,
			   "uboot: %s: %s", path, strerror(err));
	}
	len = fread(line, 1, sizeof(line), f);
	if (ferror(f)) {
		rc = say(d, FL_EIO, "uboot: %s: read error", path);
		goto out;
	}
	if (len > FL_BOOT_UBOOT_CMDLINE_MAX) {
		rc = say(d, FL_ETOOBIG, "uboot: %s: longer than %u bytes", path,
			 FL_BOOT_UBOOT_CMDLINE_MAX);
		goto out;
	}
	line[len] = '\0';
	if (strlen(line) != len) {
		rc = say(d, FL_EINVAL, "uboot: %s: holds a NUL byte", path);
		goto out;
	}
	rc = cmdline_slot(line, slot, d);
out:
	fclose(f);
	return rc;
}

int fl_boot_uboot_open(struct fl_boot *out,
		       const struct fl_boot_uboot_config *cfg,
		       struct fl_boot_uboot_diag *diag)
{
	static const struct fl_boot_uboot_config defaults;
	struct fl_boot_uboot_diag scratch;
	struct fl_boot_uboot_diag *d = diag != NULL ? diag : &scratch;
	const struct fl_boot_uboot_lib *lib;
	const char *config;
	struct ub *ub = NULL;
	unsigned booted = 0;
	struct env e;
	int rc;

	d->msg[0] = '\0';
	if (out == NULL)
		return say(d, FL_EINVAL, "uboot: open: NULL out");
	out->ops = NULL;
	out->priv = NULL;
	if (cfg == NULL)
		cfg = &defaults;
	lib = cfg->lib != NULL ? cfg->lib : &real_lib;
	if (lib->version != FL_BOOT_UBOOT_LIB_VERSION)
		return say(d, FL_EINVAL,
			   "uboot: open: library table version %u, not %u",
			   lib->version, FL_BOOT_UBOOT_LIB_VERSION);
	config = cfg->fw_env_config != NULL ? cfg->fw_env_config
					    : FL_BOOT_UBOOT_FW_ENV_CONFIG;

	if (cfg->is_booted_slot_forced) {
		if (cfg->booted_slot >= FL_SLOT_COUNT)
			return say(d, FL_EINVAL, "uboot: open: no slot %u",
				   (unsigned)cfg->booted_slot);
		booted = cfg->booted_slot;
	} else {
		rc = read_booted_slot(cfg->cmdline_path != NULL
					      ? cfg->cmdline_path
					      : FL_BOOT_UBOOT_CMDLINE,
				      &booted, d);
		if (rc != 0)
			return rc;
	}

	ub = calloc(1, sizeof(*ub));
	if (ub == NULL)
		return say(d, FL_ENOMEM, "uboot: open: out of memory");
	ub->lib = lib;
	ub->booted_slot = (uint8_t)booted;
	ub->reset_reason = cfg->reset_reason;

	rc = lib->initialize(lib->ctx, &ub->u);
	if (rc != 0) {
		ub->u = NULL;
		rc = say(d, rc == -ENOMEM ? FL_ENOMEM : FL_EIO,
			 "uboot: libuboot_initialize: %s",
			 strerror(rc < 0 ? -rc : EIO));
		goto out;
	}
	if (access(config, R_OK) != 0) {
		int err = errno;

		rc = say(d, err == ENOENT ? FL_ENOENT : FL_EIO, "uboot: %s: %s",
			 config, strerror(err));
		goto out;
	}
	rc = lib->read_config(lib->ctx, ub->u, config);
	if (rc != 0) {
		rc = say(d, rc == -ENOMEM ? FL_ENOMEM : FL_EINVAL,
			 "uboot: %s: libubootenv refuses it (%s): check "
			 "its lines and that the devices they name exist",
			 config, strerror(rc < 0 ? -rc : EINVAL));
		goto out;
	}
	rc = load(ub, &e, d);
	if (rc != 0)
		goto out;
	unload(ub);
	out->ops = &uboot_ops;
	out->priv = ub;
	ub = NULL;
out:
	if (ub != NULL) {
		if (ub->u != NULL)
			lib->exit(lib->ctx, ub->u);
		free(ub);
	}
	return rc;
}

void fl_boot_uboot_close(struct fl_boot *b)
{
	struct ub *ub;

	if (b == NULL || b->ops != &uboot_ops)
		return;
	ub = b->priv;
	if (ub != NULL) {
		ub->lib->exit(ub->lib->ctx, ub->u);
		free(ub);
	}
	b->ops = NULL;
	b->priv = NULL;
}

const struct fl_boot_uboot_diag *
fl_boot_uboot_last_error(const struct fl_boot *b)
{
	static const struct fl_boot_uboot_diag none;

	if (b == NULL || b->ops != &uboot_ops || b->priv == NULL)
		return &none;
	return &((const struct ub *)b->priv)->last;
}
