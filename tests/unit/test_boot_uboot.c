/*
 * test_boot_uboot.c -- the "uboot" boot backend against file-backed U-Boot
 * environments (one copy, and two copies = redundant), with a U-Boot
 * emulator that boots the device from the environment files alone.
 *
 * The emulator does not use libubootenv: it reads and writes the binary
 * environment as U-Boot does (CRC-32 of the data area, a flag byte per
 * copy when redundant, the valid copy with the higher flag wins, a save
 * writes the other copy with the flag one higher) and runs, by hand, what
 * CONFIG_BOOTCOUNT_LIMIT + CONFIG_BOOTCOUNT_ENV and the sample bootcmd and
 * altbootcmd of firmware-hal/linux/README-uboot.md do at power-on. So the
 * tests also check that what libubootenv writes is what U-Boot reads.
 *
 * Every boot is followed by a fresh fl_boot_uboot_open(), as a new agent
 * process after a reboot would do, reading the kernel command line the
 * emulator wrote.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fl/boot_uboot.h"
#include "fl/bytes.h"
#include "fl/err.h"

/* libubootenv 0.3.2 leaks its image buffer when an environment does not
 * fit (libuboot_env_store returns -ENOMEM without freeing it). That is
 * the library's, not ours: keep LeakSanitizer quiet about it only. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libuboot_env_store\n";
}

#define ENV_SIZE   0x1000u
#define VARS_MAX   32u
#define NAME_MAX_  32u
#define VALUE_MAX_ 512u

/* The sample boot script of README-uboot.md (kept in the environment so
 * that it looks like a real one; the emulator below runs it by hand). */
#define BOOTCMD                                                                \
	"if test \"${fl_slot}\" = b; then setenv fl_part 3; else setenv "      \
	"fl_slot a; setenv fl_part 2; fi; setenv bootargs \"${fl_bootargs} "   \
	"root=/dev/mmcblk0p${fl_part} rootwait fl.slot=${fl_slot}\"; "         \
	"ext4load mmc 0:${fl_part} ${kernel_addr_r} /boot/Image && booti "     \
	"${kernel_addr_r} - ${fdtcontroladdr}; reset"
#define ALTBOOTCMD                                                             \
	"setenv fl_reverted ${fl_slot}; setenv fl_slot ${fl_committed}; "      \
	"setenv upgrade_available 0; setenv bootcount 0; saveenv; run bootcmd"

enum mode { SINGLE = 0, REDUNDANT = 1 };
static const enum mode mode_single = SINGLE;
static const enum mode mode_redundant = REDUNDANT;

struct fx {
	enum mode mode;
	char dir[64];
	char env[2][128];
	char cfg[2][128]; /* [SINGLE], [REDUNDANT] */
	char cmdline[128];
	struct fl_boot_uboot_config bcfg;
};

/* --- files -------------------------------------------------------------- */

static void write_bytes(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_text(const char *path, const char *text)
{
	write_bytes(path, text, strlen(text));
}

static void read_env_file(const char *path, uint8_t buf[ENV_SIZE])
{
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	assert_int_equal(fread(buf, 1, ENV_SIZE, f), ENV_SIZE);
	assert_int_equal(fclose(f), 0);
}

/* --- the environment as U-Boot holds it --------------------------------- */

struct uenv {
	unsigned n;
	char name[VARS_MAX][NAME_MAX_];
	char value[VARS_MAX][VALUE_MAX_];
	uint8_t flags; /* flag byte of the copy it came from (redundant) */
	int copy;      /* the copy it came from */
};

static const char *uenv_get(const struct uenv *e, const char *name)
{
	unsigned i;

	for (i = 0; i < e->n; i++)
		if (strcmp(e->name[i], name) == 0)
			return e->value[i];
	return NULL;
}

/* setenv: a NULL or empty value deletes, as U-Boot's setenv does. */
static void uenv_set(struct uenv *e, const char *name, const char *value)
{
	unsigned i;

	for (i = 0; i < e->n; i++)
		if (strcmp(e->name[i], name) == 0)
			break;
	if (value == NULL || value[0] == '\0') {
		if (i < e->n) {
			e->n--;
			memmove(e->name[i], e->name[i + 1],
				(e->n - i) * sizeof(e->name[0]));
			memmove(e->value[i], e->value[i + 1],
				(e->n - i) * sizeof(e->value[0]));
		}
		return;
	}
	if (i == e->n) {
		assert_true(e->n < VARS_MAX);
		assert_int_equal(fl_strlcpy(e->name[e->n], name, NAME_MAX_), 0);
		e->n++;
	}
	assert_int_equal(fl_strlcpy(e->value[i], value, VALUE_MAX_), 0);
}

/* env_get_ulong(name, 10, 0). */
static unsigned long uenv_ulong(const struct uenv *e, const char *name)
{
	const char *v = uenv_get(e, name);

	return v != NULL ? strtoul(v, NULL, 10) : 0;
}

static size_t hdr_size(enum mode m)
{
	return m == REDUNDANT ? 5u : 4u;
}

static void encode(const struct uenv *e, enum mode m, uint8_t flags,
		   uint8_t buf[ENV_SIZE])
{
	size_t off = hdr_size(m);
	unsigned i;

	memset(buf, 0, ENV_SIZE);
	for (i = 0; i < e->n; i++) {
		int len = snprintf((char *)buf + off, ENV_SIZE - off, "%s=%s",
				   e->name[i], e->value[i]);

		assert_true(len > 0 && off + (size_t)len + 2 <= ENV_SIZE);
		off += (size_t)len + 1;
	}
	if (m == REDUNDANT)
		buf[4] = flags;
	fl_put_le32(buf,
		    fl_crc32(0, buf + hdr_size(m), ENV_SIZE - hdr_size(m)));
}

/* 0 with *e, or -1 when the CRC or the layout is wrong. */
static int decode(const uint8_t buf[ENV_SIZE], enum mode m, struct uenv *e)
{
	size_t off = hdr_size(m);

	memset(e, 0, sizeof(*e));
	if (fl_get_le32(buf) !=
	    fl_crc32(0, buf + hdr_size(m), ENV_SIZE - hdr_size(m)))
		return -1;
	e->flags = m == REDUNDANT ? buf[4] : 0;
	while (off < ENV_SIZE && buf[off] != '\0') {
		const char *line = (const char *)buf + off;
		size_t len = strnlen(line, ENV_SIZE - off);
		const char *eq = memchr(line, '=', len);
		char name[NAME_MAX_];

		if (len == ENV_SIZE - off || eq == NULL ||
		    (size_t)(eq - line) >= NAME_MAX_)
			return -1;
		memcpy(name, line, (size_t)(eq - line));
		name[eq - line] = '\0';
		if (strlen(eq + 1) >= VALUE_MAX_)
			return -1;
		uenv_set(e, name, eq + 1);
		off += len + 1;
	}
	return 0;
}

/* env_load(): U-Boot's choice of copy (env_import_redund). 0 or -1 (no
 * valid copy: U-Boot would run its default environment). */
static int uboot_load(const struct fx *f, struct uenv *e)
{
	uint8_t buf[2][ENV_SIZE];
	struct uenv c[2];
	int ok[2] = {0, 0};
	int pick;

	read_env_file(f->env[0], buf[0]);
	ok[0] = decode(buf[0], f->mode, &c[0]) == 0;
	if (f->mode == SINGLE) {
		if (!ok[0])
			return -1;
		*e = c[0];
		e->copy = 0;
		return 0;
	}
	read_env_file(f->env[1], buf[1]);
	ok[1] = decode(buf[1], f->mode, &c[1]) == 0;
	if (!ok[0] && !ok[1])
		return -1;
	if (ok[0] && !ok[1])
		pick = 0;
	else if (!ok[0] && ok[1])
		pick = 1;
	else if (c[0].flags == 255 && c[1].flags == 0)
		pick = 1;
	else if (c[1].flags == 255 && c[0].flags == 0)
		pick = 0;
	else
		pick = c[1].flags > c[0].flags ? 1 : 0;
	*e = c[pick];
	e->copy = pick;
	return 0;
}

/* saveenv: the copy not in use, flag one higher. */
static void uboot_save(const struct fx *f, struct uenv *e)
{
	uint8_t buf[ENV_SIZE];
	int copy = f->mode == REDUNDANT ? 1 - e->copy : 0;

	e->flags = (uint8_t)(e->flags + 1u);
	encode(e, f->mode, e->flags, buf);
	write_bytes(f->env[copy], buf, ENV_SIZE);
	e->copy = copy;
}

/*
 * Power-on: what U-Boot does with CONFIG_BOOTCOUNT_LIMIT and
 * CONFIG_BOOTCOUNT_ENV and the sample scripts, from the files alone.
 * Returns the slot booted and writes the kernel command line bootcmd
 * passes; -1 when U-Boot would fall back to its default environment.
 */
static int uboot_power_on(const struct fx *f)
{
	unsigned long bootcount, bootlimit;
	struct uenv e;
	char num[24];
	const char *s;
	int slot;

	if (uboot_load(f, &e) != 0)
		return -1;
	/* bootcount_load() + 1, then bootcount_store(): saved only while
	 * upgrade_available is not 0. */
	bootcount = uenv_ulong(&e, "upgrade_available") != 0
			    ? uenv_ulong(&e, "bootcount")
			    : 0;
	bootcount++;
	snprintf(num, sizeof(num), "%lu", bootcount);
	uenv_set(&e, "bootcount", num);
	if (uenv_ulong(&e, "upgrade_available") != 0)
		uboot_save(f, &e);
	bootlimit = uenv_ulong(&e, "bootlimit");
	if (bootlimit != 0 && bootcount > bootlimit) {
		/* altbootcmd */
		char abandoned[VALUE_MAX_], committed[VALUE_MAX_];

		s = uenv_get(&e, "fl_slot");
		fl_strlcpy(abandoned, s != NULL ? s : "", sizeof(abandoned));
		s = uenv_get(&e, "fl_committed");
		fl_strlcpy(committed, s != NULL ? s : "", sizeof(committed));
		uenv_set(&e, "fl_reverted", abandoned);
		uenv_set(&e, "fl_slot", committed);
		uenv_set(&e, "upgrade_available", "0");
		uenv_set(&e, "bootcount", "0");
		uboot_save(f, &e);
	}
	/* bootcmd */
	s = uenv_get(&e, "fl_slot");
	slot = s != NULL && strcmp(s, "b") == 0 ? 1 : 0;
	write_text(f->cmdline, slot == 1 ? "console=ttyS0 root=/dev/mmcblk0p3 "
					   "rootwait fl.slot=b\n"
					 : "console=ttyS0 root=/dev/mmcblk0p2 "
					   "rootwait fl.slot=a\n");
	return slot;
}

static int boot(const struct fx *f)
{
	int slot = uboot_power_on(f);

	assert_true(slot == 0 || slot == 1);
	return slot;
}

/* The value of a variable U-Boot would see, or "" when absent. */
static const char *var(const struct fx *f, const char *name)
{
	static struct uenv e; /* test helper: valid until the next call */
	const char *v;

	assert_int_equal(uboot_load(f, &e), 0);
	v = uenv_get(&e, name);
	return v != NULL ? v : "";
}

/* Writes a fresh environment holding vars ("name=value" strings, NULL-
 * terminated) to every copy, copy i with flag i. */
static void provision(const struct fx *f, const char *const *vars)
{
	uint8_t buf[ENV_SIZE];
	struct uenv e;
	unsigned i;

	memset(&e, 0, sizeof(e));
	for (i = 0; vars[i] != NULL; i++) {
		char name[NAME_MAX_];
		const char *eq = strchr(vars[i], '=');

		assert_non_null(eq);
		memcpy(name, vars[i], (size_t)(eq - vars[i]));
		name[eq - vars[i]] = '\0';
		uenv_set(&e, name, eq + 1);
	}
	for (i = 0; i < (f->mode == REDUNDANT ? 2u : 1u); i++) {
		encode(&e, f->mode, (uint8_t)i, buf);
		write_bytes(f->env[i], buf, ENV_SIZE);
	}
}

static const char *const factory_vars[] = {
	"bootcmd=" BOOTCMD,
	"altbootcmd=" ALTBOOTCMD,
	"bootdelay=0",
	"fl_slot=a",
	"fl_committed=a",
	"upgrade_available=0",
	NULL,
};

/* --- fixture -------------------------------------------------------------- */

static int setup(void **state)
{
	const enum mode *m = *state;
	struct fx *f = calloc(1, sizeof(*f));
	char text[512];
	unsigned i;

	assert_non_null(f);
	f->mode = m != NULL ? *m : SINGLE;
	snprintf(f->dir, sizeof(f->dir), "/tmp/fl-uboot-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	for (i = 0; i < 2; i++)
		snprintf(f->env[i], sizeof(f->env[i]), "%s/uboot%u.env", f->dir,
			 i);
	snprintf(f->cfg[SINGLE], sizeof(f->cfg[0]), "%s/fw_env.config", f->dir);
	snprintf(f->cfg[REDUNDANT], sizeof(f->cfg[1]),
		 "%s/fw_env_redund.config", f->dir);
	snprintf(f->cmdline, sizeof(f->cmdline), "%s/cmdline", f->dir);

	snprintf(text, sizeof(text), "# device offset env-size\n%s 0x0 0x%x\n",
		 f->env[0], ENV_SIZE);
	write_text(f->cfg[SINGLE], text);
	snprintf(text, sizeof(text),
		 "# device offset env-size: two lines, redundant\n"
		 "%s 0x0 0x%x\n%s 0x0 0x%x\n",
		 f->env[0], ENV_SIZE, f->env[1], ENV_SIZE);
	write_text(f->cfg[REDUNDANT], text);

	provision(f, factory_vars);
	f->bcfg.fw_env_config = f->cfg[f->mode];
	f->bcfg.cmdline_path = f->cmdline;
	f->bcfg.reset_reason = FL_RESET_POWER_ON;
	assert_int_equal(boot(f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char path[160];

	unlink(f->env[0]);
	unlink(f->env[1]);
	unlink(f->cfg[0]);
	unlink(f->cfg[1]);
	unlink(f->cmdline);
	snprintf(path, sizeof(path), "%s/missing.config", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/small.env", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/small.config", f->dir);
	unlink(path);
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

/* Opens the backend as the agent does after a boot. */
static void open_b(const struct fx *f, struct fl_boot *b)
{
	struct fl_boot_uboot_diag d;
	int rc = fl_boot_uboot_open(b, &f->bcfg, &d);

	if (rc != 0)
		fail_msg("fl_boot_uboot_open: %d: %s", rc, d.msg);
	assert_string_equal(b->ops->name, "uboot");
}

static struct fl_boot_status status_of(const struct fx *f)
{
	struct fl_boot_status st;
	struct fl_boot b;

	memset(&st, 0xEE, sizeof(st));
	open_b(f, &b);
	assert_int_equal(b.ops->status(&b, &st), 0);
	fl_boot_uboot_close(&b);
	return st;
}

/* Runs one operation on a freshly opened backend: 't' set_trial(slot,
 * tries), 'c' commit(slot), 'p' set_permanent(slot). */
static int op(const struct fx *f, char which, unsigned slot, unsigned tries)
{
	struct fl_boot b;
	int rc;

	open_b(f, &b);
	switch (which) {
	case 't': rc = b.ops->set_trial(&b, slot, tries); break;
	case 'c': rc = b.ops->commit(&b, slot); break;
	default: rc = b.ops->set_permanent(&b, slot); break;
	}
	fl_boot_uboot_close(&b);
	return rc;
}

static void assert_status(const struct fx *f, unsigned booted, int is_trial,
			  int is_reverted)
{
	struct fl_boot_status st = status_of(f);

	assert_int_equal(st.booted_slot, booted);
	assert_int_equal(st.is_trial, is_trial);
	assert_int_equal(st.is_reverted, is_reverted);
	assert_int_equal(st.reset_reason, FL_RESET_POWER_ON);
}

/* Both environment files, to see whether an operation wrote. */
struct snap {
	uint8_t env[2][ENV_SIZE];
};

static void take(const struct fx *f, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	read_env_file(f->env[0], s->env[0]);
	if (f->mode == REDUNDANT)
		read_env_file(f->env[1], s->env[1]);
}

static void put(const struct fx *f, const struct snap *s)
{
	write_bytes(f->env[0], s->env[0], ENV_SIZE);
	if (f->mode == REDUNDANT)
		write_bytes(f->env[1], s->env[1], ENV_SIZE);
}

static int same(const struct snap *a, const struct snap *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* --- sequences (each runs on one copy and on two) ------------------------ */

static void test_uboot__status_reports_booted_slot_from_cmdline(void **state)
{
	struct fx *f = *state;

	assert_status(f, 0, 0, 0);
	write_text(f->cmdline, "console=ttyS0 fl.slot=b quiet\n");
	assert_status(f, 1, 0, 0);
}

static void test_uboot__trial_boots_new_slot_and_commit_keeps_it(void **state)
{
	struct fx *f = *state;

	assert_int_equal(op(f, 't', 1, 1), 0);
	assert_status(f, 0, 0, 0); /* armed, not yet booted */
	assert_string_equal(var(f, "upgrade_available"), "1");
	assert_string_equal(var(f, "bootlimit"), "1");

	assert_int_equal(boot(f), 1);
	assert_status(f, 1, 1, 0);
	assert_int_equal(op(f, 'c', 1, 0), 0);
	assert_status(f, 1, 0, 0);
	assert_string_equal(var(f, "fl_committed"), "b");
	assert_string_equal(var(f, "upgrade_available"), "0");
	assert_string_equal(var(f, "bootcount"), "0");
	assert_string_equal(var(f, "fl_slot"), "b");

	assert_int_equal(boot(f), 1);
	assert_int_equal(boot(f), 1);
	assert_status(f, 1, 0, 0);
}

static void test_uboot__uncommitted_trial_reverts_after_one_try(void **state)
{
	struct fx *f = *state;

	assert_int_equal(op(f, 't', 1, 1), 0);
	assert_int_equal(boot(f), 1);
	assert_status(f, 1, 1, 0);
	/* the new image never commits: the next boot exceeds bootlimit */
	assert_int_equal(boot(f), 0);
	assert_status(f, 0, 0, 1);
	assert_string_equal(var(f, "fl_reverted"), "b");
	assert_string_equal(var(f, "fl_slot"), "a");
	assert_string_equal(var(f, "upgrade_available"), "0");

	/* it stays reverted, and stops counting boots */
	assert_int_equal(boot(f), 0);
	assert_status(f, 0, 0, 1);
	assert_string_equal(var(f, "bootcount"), "0");

	/* until the next trial */
	assert_int_equal(op(f, 't', 1, 1), 0);
	assert_status(f, 0, 0, 0);
	assert_string_equal(var(f, "fl_reverted"), "");
}

static void
test_uboot__three_tries_survive_two_brownouts_then_commit(void **state)
{
	struct fx *f = *state;

	assert_int_equal(op(f, 't', 1, 3), 0);
	assert_int_equal(boot(f), 1); /* brown-out before commit */
	assert_status(f, 1, 1, 0);
	assert_int_equal(boot(f), 1); /* brown-out again */
	assert_status(f, 1, 1, 0);
	assert_int_equal(boot(f), 1);
	assert_status(f, 1, 1, 0);
	assert_int_equal(op(f, 'c', 1, 0), 0);
	assert_int_equal(boot(f), 1);
	assert_int_equal(boot(f), 1);
	assert_status(f, 1, 0, 0);
}

static void test_uboot__trial_slot_gets_exactly_tries_boots(void **state)
{
	struct fx *f = *state;
	unsigned tries, n;

	for (tries = 1; tries <= 4; tries++) {
		assert_int_equal(op(f, 't', 1, tries), 0);
		n = 0;
		while (boot(f) == 1) {
			n++;
			assert_true(n <= tries);
		}
		assert_int_equal(n, tries);
		assert_status(f, 0, 0, 1);
	}
}

static void test_uboot__set_permanent_switches_back_without_trial(void **state)
{
	struct fx *f = *state;

	assert_int_equal(op(f, 't', 1, 1), 0);
	assert_int_equal(boot(f), 1);
	assert_int_equal(op(f, 'c', 1, 0), 0);
	assert_int_equal(boot(f), 1);

	/* roll back to the image still in slot a, without a download */
	assert_int_equal(op(f, 'p', 0, 0), 0);
	assert_status(f, 1, 0, 0);
	assert_int_equal(boot(f), 0);
	assert_status(f, 0, 0, 0);
	assert_int_equal(boot(f), 0);
	assert_string_equal(var(f, "fl_committed"), "a");
}

static void test_uboot__set_permanent_rejects_a_running_trial(void **state)
{
	struct fx *f = *state;

	assert_int_equal(op(f, 't', 1, 3), 0);
	assert_int_equal(boot(f), 1);
	assert_status(f, 1, 1, 0);
	/* the agent finds the new image bad: back to a, not a revert */
	assert_int_equal(op(f, 'p', 0, 0), 0);
	assert_status(f, 1, 0, 0);
	assert_int_equal(op(f, 'c', 1, 0), FL_ESTATE);
	assert_int_equal(boot(f), 0);
	assert_status(f, 0, 0, 0);
	assert_int_equal(boot(f), 0);
}

static void test_uboot__every_operation_is_idempotent(void **state)
{
	struct fx *f = *state;
	struct snap s1, s2;

	assert_int_equal(op(f, 't', 1, 2), 0);
	take(f, &s1);
	assert_int_equal(op(f, 't', 1, 2), 0);
	take(f, &s2);
	assert_true(same(&s1, &s2)); /* nothing written the second time */

	assert_int_equal(boot(f), 1);
	assert_int_equal(op(f, 'c', 1, 0), 0);
	take(f, &s1);
	assert_int_equal(op(f, 'c', 1, 0), 0);
	take(f, &s2);
	assert_true(same(&s1, &s2));
	assert_status(f, 1, 0, 0);

	assert_int_equal(op(f, 'p', 0, 0), 0);
	take(f, &s1);
	assert_int_equal(op(f, 'p', 0, 0), 0);
	take(f, &s2);
	assert_true(same(&s1, &s2));
	assert_int_equal(boot(f), 0);
	assert_status(f, 0, 0, 0);
}

static void test_uboot__set_trial_again_after_a_boot_rearms_it(void **state)
{
	struct fx *f = *state;

	/* resumable: calling it again after a boot gives the tries back */
	assert_int_equal(op(f, 't', 1, 1), 0);
	assert_int_equal(boot(f), 1);
	assert_string_equal(var(f, "bootcount"), "1");
	assert_int_equal(op(f, 't', 1, 1), 0);
	assert_string_equal(var(f, "bootcount"), "0");
	assert_int_equal(boot(f), 1);
	assert_int_equal(boot(f), 0);
}

static void
test_uboot__board_without_fl_committed_reverts_to_booted(void **state)
{
	struct fx *f = *state;
	static const char *const bare[] = {
		"bootcmd=" BOOTCMD,
		"altbootcmd=" ALTBOOTCMD,
		NULL,
	};

	provision(f, bare);
	assert_int_equal(boot(f), 0);
	assert_status(f, 0, 0, 0);
	assert_int_equal(op(f, 't', 1, 1), 0);
	assert_string_equal(var(f, "fl_committed"), "a");
	assert_int_equal(boot(f), 1);
	assert_int_equal(boot(f), 0);
	assert_status(f, 0, 0, 1);
}

static void test_uboot__status_reads_values_as_uboot_does(void **state)
{
	static const struct {
		const char *upgrade, *slot, *reverted;
		int is_trial, is_reverted;
	} cases[] = {
		{"upgrade_available=1", "fl_slot=b", "fl_reverted=", 1, 0},
		{"upgrade_available=2", "fl_slot=b", "fl_reverted=0", 1, 0},
		{"upgrade_available=1x", "fl_slot=b", "fl_reverted=a", 1, 1},
		{"upgrade_available=0", "fl_slot=b", "fl_reverted=b", 0, 1},
		{"upgrade_available=", "fl_slot=b", "fl_reverted=1", 0, 1},
		{"upgrade_available=x1", "fl_slot=b", "fl_reverted=", 0, 0},
		{"upgrade_available=1", "fl_slot=B", "fl_reverted=", 0, 0},
		{"upgrade_available=1", "fl_slot=a", "fl_reverted=", 0, 0},
		{"upgrade_available=1",
		 "fl_slot="
		 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
		 "fl_reverted=", 0, 0},
		{"upgrade_available=00000000000000000000000000000000000000001",
		 "fl_slot=b", "fl_reverted=", 1, 0},
		{"upgrade_available=00000000000000000000000000000000000000000",
		 "fl_slot=b", "fl_reverted=", 0, 0},
		{"upgrade_available=99999999999999999999999999999999999999999",
		 "fl_slot=b", "fl_reverted=", 1, 0},
	};
	struct fx *f = *state;
	size_t i;

	write_text(f->cmdline, "fl.slot=b");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *vars[] = {"bootcmd=" BOOTCMD, cases[i].upgrade,
				      cases[i].slot, cases[i].reverted, NULL};
		struct fl_boot_status st;

		provision(f, vars);
		st = status_of(f);
		if (st.is_trial != cases[i].is_trial ||
		    st.is_reverted != cases[i].is_reverted)
			fail_msg("%s %s %s: is_trial %u is_reverted %u",
				 cases[i].upgrade, cases[i].slot,
				 cases[i].reverted, st.is_trial,
				 st.is_reverted);
	}
}

/* --- errors ----------------------------------------------------------------
 */

static void test_uboot__commit_refused_when_not_on_trial(void **state)
{
	struct fx *f = *state;
	struct snap s1, s2;

	take(f, &s1);
	assert_int_equal(op(f, 'c', 0, 0), 0); /* a committed: no-op */
	/* armed but not booted yet: booted a is not the trial slot */
	assert_int_equal(op(f, 't', 1, 1), 0);
	take(f, &s1);
	assert_int_equal(op(f, 'c', 1, 0), FL_ESTATE);
	assert_int_equal(op(f, 'c', 0, 0), FL_ESTATE);
	take(f, &s2);
	assert_true(same(&s1, &s2));
	/* after a revert, running a: b cannot be committed */
	assert_int_equal(boot(f), 1);
	assert_int_equal(boot(f), 0);
	assert_int_equal(op(f, 'c', 1, 0), FL_ESTATE);
}

static void test_uboot__commit_refused_for_the_other_slot(void **state)
{
	struct fx *f = *state;
	struct fl_boot b;
	const char *msg;

	assert_int_equal(op(f, 't', 1, 2), 0);
	assert_int_equal(boot(f), 1);
	open_b(f, &b);
	assert_int_equal(b.ops->commit(&b, 0), FL_ESTATE);
	msg = fl_boot_uboot_last_error(&b)->msg;
	assert_non_null(strstr(msg, "not the booted slot"));
	fl_boot_uboot_close(&b);
	assert_status(f, 1, 1, 0);
}

static void test_uboot__bad_slot_or_tries_is_einval(void **state)
{
	struct fx *f = *state;
	struct snap s1, s2;

	take(f, &s1);
	assert_int_equal(op(f, 't', 2, 1), FL_EINVAL);
	assert_int_equal(op(f, 't', 1, 0), FL_EINVAL);
	assert_int_equal(op(f, 't', 1, FL_BOOT_UBOOT_TRIES_MAX + 1), FL_EINVAL);
	assert_int_equal(op(f, 'c', 2, 0), FL_EINVAL);
	assert_int_equal(op(f, 'p', 2, 0), FL_EINVAL);
	take(f, &s2);
	assert_true(same(&s1, &s2));
	assert_int_equal(op(f, 't', 1, FL_BOOT_UBOOT_TRIES_MAX), 0);
	assert_string_equal(var(f, "bootlimit"), "255");
}

static void test_uboot__open_fails_without_config_file(void **state)
{
	struct fx *f = *state;
	struct fl_boot_uboot_config c = f->bcfg;
	struct fl_boot_uboot_diag d;
	char path[160];
	struct fl_boot b;

	snprintf(path, sizeof(path), "%s/missing.config", f->dir);
	c.fw_env_config = path;
	memset(&b, 0xAB, sizeof(b));
	assert_int_equal(fl_boot_uboot_open(&b, &c, &d), FL_ENOENT);
	assert_null(b.ops);
	assert_null(b.priv);
	assert_non_null(strstr(d.msg, "missing.config"));
	fl_boot_uboot_close(&b);

	/* a config naming an environment file that does not exist */
	write_text(path, "/nonexistent/fl-uboot.env 0x0 0x1000\n");
	assert_int_equal(fl_boot_uboot_open(&b, &c, &d), FL_EINVAL);
	assert_null(b.ops);
}

static void test_uboot__open_fails_on_unreadable_env(void **state)
{
	struct fx *f = *state;
	struct fl_boot_uboot_diag d;
	struct fl_boot b;

	/* shorter than the configured size */
	write_text(f->env[0], "short");
	assert_int_equal(fl_boot_uboot_open(&b, &f->bcfg, &d), FL_EIO);
	assert_null(b.ops);
	assert_true(d.msg[0] != '\0');
}

static void test_uboot__open_refuses_env_without_valid_copy(void **state)
{
	struct fx *f = *state;
	struct fl_boot_uboot_diag d;
	struct snap s1, s2;
	struct fl_boot b;
	unsigned i;

	take(f, &s1);
	for (i = 0; i < (f->mode == REDUNDANT ? 2u : 1u); i++)
		s1.env[i][100] ^= 0x5A; /* bad CRC in every copy */
	put(f, &s1);
	assert_int_equal(fl_boot_uboot_open(&b, &f->bcfg, &d), FL_ECORRUPT);
	assert_null(b.ops);
	assert_non_null(strstr(d.msg, "CRC"));
	take(f, &s2);
	assert_true(same(&s1, &s2)); /* never written over */
}

static void test_uboot__status_fails_when_env_goes_bad(void **state)
{
	struct fx *f = *state;
	struct fl_boot_status st;
	struct snap s;
	struct fl_boot b;
	unsigned i;

	open_b(f, &b);
	take(f, &s);
	for (i = 0; i < (f->mode == REDUNDANT ? 2u : 1u); i++)
		s.env[i][200] ^= 0x01;
	put(f, &s);
	assert_int_equal(b.ops->status(&b, &st), FL_ECORRUPT);
	assert_int_equal(b.ops->set_trial(&b, 1, 1), FL_ECORRUPT);
	assert_int_equal(b.ops->commit(&b, 0), FL_ECORRUPT);
	assert_int_equal(b.ops->set_permanent(&b, 0), FL_ECORRUPT);
	assert_non_null(strstr(fl_boot_uboot_last_error(&b)->msg, "CRC"));
	fl_boot_uboot_close(&b);
}

static void test_uboot__open_reads_the_booted_slot_strictly(void **state)
{
	static const struct {
		const char *line;
		int rc;
		unsigned slot;
	} cases[] = {
		{"fl.slot=a", 0, 0},
		{"root=/dev/mmcblk0p3 fl.slot=b rootwait\n", 0, 1},
		{"fl.slot=a fl.slot=b", 0, 1}, /* the last one counts */
		{"fl.slot=\"b\"", 0, 1},
		{"foo=\"x fl.slot=b\" fl.slot=a", 0,
		 0}, /* quoted: not a token */
		{"xfl.slot=b fl.slot=a", 0, 0},
		{"", FL_ENOENT, 0},
		{"root=/dev/sda1 quiet", FL_ENOENT, 0},
		{"fl.slot=c", FL_EINVAL, 0},
		{"fl.slot=", FL_EINVAL, 0},
		{"fl.slot=bb", FL_EINVAL, 0},
		{"fl.slot=b fl.slot=A", FL_EINVAL, 0},
	};
	struct fx *f = *state;
	struct fl_boot_uboot_diag d;
	struct fl_boot_status st;
	struct fl_boot b;
	char *long_line;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_text(f->cmdline, cases[i].line);
		assert_int_equal(fl_boot_uboot_open(&b, &f->bcfg, &d),
				 cases[i].rc);
		if (cases[i].rc != 0) {
			assert_null(b.ops);
			assert_non_null(strstr(d.msg, "fl.slot="));
			continue;
		}
		assert_int_equal(b.ops->status(&b, &st), 0);
		assert_int_equal(st.booted_slot, cases[i].slot);
		fl_boot_uboot_close(&b);
	}

	long_line = malloc(FL_BOOT_UBOOT_CMDLINE_MAX + 2);
	assert_non_null(long_line);
	memset(long_line, 'x', FL_BOOT_UBOOT_CMDLINE_MAX + 1);
	long_line[FL_BOOT_UBOOT_CMDLINE_MAX + 1] = '\0';
	memcpy(long_line, "fl.slot=a ", 10);
	write_text(f->cmdline, long_line);
	free(long_line);
	assert_int_equal(fl_boot_uboot_open(&b, &f->bcfg, &d), FL_ETOOBIG);

	unlink(f->cmdline);
	assert_int_equal(fl_boot_uboot_open(&b, &f->bcfg, &d), FL_ENOENT);
	assert_non_null(strstr(d.msg, "cmdline"));
}

static void test_uboot__forced_booted_slot_replaces_cmdline(void **state)
{
	struct fx *f = *state;
	struct fl_boot_uboot_config c = f->bcfg;
	struct fl_boot_status st;
	struct fl_boot b;

	unlink(f->cmdline);
	c.cmdline_path = NULL;
	c.is_booted_slot_forced = 1;
	c.booted_slot = 1;
	c.reset_reason = FL_RESET_BROWNOUT;
	assert_int_equal(fl_boot_uboot_open(&b, &c, NULL), 0);
	assert_int_equal(b.ops->status(&b, &st), 0);
	assert_int_equal(st.booted_slot, 1);
	assert_int_equal(st.reset_reason, FL_RESET_BROWNOUT);
	fl_boot_uboot_close(&b);

	c.booted_slot = 2;
	assert_int_equal(fl_boot_uboot_open(&b, &c, NULL), FL_EINVAL);
	assert_int_equal(fl_boot_uboot_open(NULL, &c, NULL), FL_EINVAL);
}

static void test_uboot__full_env_is_enospc_and_unchanged(void **state)
{
	struct fx *f = *state;
	char path[160], cfgpath[160], text[256];
	struct fl_boot_uboot_config c = f->bcfg;
	uint8_t buf[0x100];
	struct fl_boot b;
	size_t len;

	/* a 256-byte single-copy environment nearly full already */
	snprintf(path, sizeof(path), "%s/small.env", f->dir);
	snprintf(cfgpath, sizeof(cfgpath), "%s/small.config", f->dir);
	snprintf(text, sizeof(text), "%s 0x0 0x100\n", path);
	write_text(cfgpath, text);
	memset(buf, 0, sizeof(buf));
	len = (size_t)snprintf((char *)buf + 4, sizeof(buf) - 4, "fl_slot=a") +
	      1;
	len += (size_t)snprintf((char *)buf + 4 + len, sizeof(buf) - 4 - len,
				"filler=");
	memset(buf + 4 + len, 'x', sizeof(buf) - 4 - len - 30);
	fl_put_le32(buf, fl_crc32(0, buf + 4, sizeof(buf) - 4));
	write_bytes(path, buf, sizeof(buf));
	c.fw_env_config = cfgpath;

	assert_int_equal(fl_boot_uboot_open(&b, &c, NULL), 0);
	assert_int_equal(b.ops->set_trial(&b, 1, 1), FL_ENOSPC);
	fl_boot_uboot_close(&b);
	{
		uint8_t after[0x100];
		FILE *fp = fopen(path, "rb");

		assert_non_null(fp);
		assert_int_equal(fread(after, 1, sizeof(after), fp),
				 sizeof(after));
		fclose(fp);
		assert_memory_equal(buf, after, sizeof(buf));
	}
}

static void test_uboot__close_and_last_error_accept_null(void **state)
{
	struct fl_boot zero;
	int other = 0;
	struct fl_boot_ops foreign = {.version = FL_BOOT_OPS_VERSION};

	memset(&zero, 0, sizeof(zero));
	fl_boot_uboot_close(NULL);
	fl_boot_uboot_close(&zero);
	assert_string_equal(fl_boot_uboot_last_error(NULL)->msg, "");
	assert_string_equal(fl_boot_uboot_last_error(&zero)->msg, "");
	zero.ops = &foreign;
	zero.priv = &other;
	fl_boot_uboot_close(&zero); /* not ours: left alone */
	assert_ptr_equal(zero.ops, &foreign);
	assert_string_equal(fl_boot_uboot_last_error(&zero)->msg, "");
}

/* --- redundant environment: torn and corrupt copies ----------------------- */

/* Our six variables as U-Boot sees them, one string. */
static void state_of(const struct fx *f, char *out, size_t size)
{
	static const char *const names[] = {
		"fl_slot",   "fl_committed", "upgrade_available",
		"bootcount", "bootlimit",    "fl_reverted",
	};
	struct uenv e;
	size_t i, off = 0;

	if (uboot_load(f, &e) != 0) {
		snprintf(out, size, "(no valid copy)");
		return;
	}
	out[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *v = uenv_get(&e, names[i]);

		off += (size_t)snprintf(out + off, size - off, "%s=%s;",
					names[i], v != NULL ? v : "");
		assert_true(off < size);
	}
}

/* For each operation, a store cut after every 64th byte of the copy being
 * written (and at the header's edges) leaves U-Boot and the backend on
 * the state before or the state after, never on a mix; the operation
 * then completes when called again. */
static void test_uboot__torn_store_leaves_old_or_new_state(void **state)
{
	static const size_t edges[] = {0, 1, 4, 5, 6, ENV_SIZE - 1};
	static const struct {
		char which;
		unsigned slot, tries, boot_first;
	} ops[] = {
		{'t', 1, 2, 0},
		{'c', 1, 0, 1},
		{'p', 0, 0, 0},
	};
	struct fx *f = *state;
	char old_state[512], new_state[512], got[512];
	struct snap before, after, torn;
	size_t i, k;
	int copy;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (ops[i].boot_first)
			assert_int_equal(boot(f), 1);
		take(f, &before);
		state_of(f, old_state, sizeof(old_state));
		assert_int_equal(op(f, ops[i].which, ops[i].slot, ops[i].tries),
				 0);
		take(f, &after);
		state_of(f, new_state, sizeof(new_state));
		assert_string_not_equal(old_state, new_state);
		/* one copy changed: the one not in use */
		assert_true(memcmp(before.env[0], after.env[0], ENV_SIZE) ==
				    0 ||
			    memcmp(before.env[1], after.env[1], ENV_SIZE) == 0);
		copy = memcmp(before.env[0], after.env[0], ENV_SIZE) != 0 ? 0
									  : 1;
		for (k = 0; k <= ENV_SIZE + sizeof(edges) / sizeof(edges[0]);
		     k++) {
			size_t cut = k < sizeof(edges) / sizeof(edges[0])
					     ? edges[k]
					     : (k - sizeof(edges) /
							    sizeof(edges[0])) *
						       64u;
			struct fl_boot_status st;

			if (cut >= ENV_SIZE)
				break;
			torn = before;
			memcpy(torn.env[copy], after.env[copy], cut);
			put(f, &torn);
			state_of(f, got, sizeof(got));
			if (strcmp(got, old_state) != 0 &&
			    strcmp(got, new_state) != 0)
				fail_msg("op %c cut at %zu: %s", ops[i].which,
					 cut, got);
			st = status_of(f);
			assert_int_equal(
				st.is_trial,
				strstr(got, "upgrade_available=1;") != NULL &&
					strstr(got, st.booted_slot == 1
							    ? "fl_slot=b;"
							    : "fl_slot=a;") !=
						NULL);
			assert_int_equal(st.is_reverted,
					 strstr(got, "fl_reverted=;") == NULL);
			/* calling it again finishes the transition */
			assert_int_equal(
				op(f, ops[i].which, ops[i].slot, ops[i].tries),
				0);
			state_of(f, got, sizeof(got));
			assert_string_equal(got, new_state);
		}
		put(f, &after);
	}
}

static void test_uboot__corrupt_copy_falls_back_to_the_other(void **state)
{
	struct fx *f = *state;
	struct snap before, after;
	int copy;

	take(f, &before);
	assert_int_equal(op(f, 't', 1, 1), 0);
	take(f, &after);
	copy = memcmp(before.env[0], after.env[0], ENV_SIZE) != 0 ? 0 : 1;

	/* the older copy goes bad: the armed trial is still there */
	after.env[1 - copy][300] ^= 0xFF;
	put(f, &after);
	assert_status(f, 0, 0, 0);
	assert_string_equal(var(f, "upgrade_available"), "1");
	assert_int_equal(boot(f), 1);
	assert_status(f, 1, 1, 0);
	assert_int_equal(op(f, 'c', 1, 0), 0);
	assert_int_equal(boot(f), 1);

	/* the newest copy goes bad: the state before the last store wins,
	 * for the backend and U-Boot alike */
	take(f, &after);
	assert_int_equal(op(f, 'p', 0, 0), 0);
	take(f, &before);
	copy = memcmp(before.env[0], after.env[0], ENV_SIZE) != 0 ? 0 : 1;
	before.env[copy][7] ^= 0x20;
	put(f, &before);
	assert_string_equal(var(f, "fl_slot"), "b");
	assert_int_equal(boot(f), 1);
	assert_status(f, 1, 0, 0);
}

/* --- library failures ------------------------------------------------------
 */

struct fake {
	struct fl_boot_uboot_lib table;
	const struct fl_boot_uboot_lib *real;
	unsigned calls;	   /* fallible calls so far */
	unsigned fail_at;  /* that call fails (1-based); 0: none */
	int fail_errno;	   /* with -fail_errno */
	int is_store_lost; /* env_store reports success, writes nothing */
	unsigned stores;   /* env_store calls */
};

static int hit(struct fake *k)
{
	return ++k->calls == k->fail_at;
}

static int fake_initialize(void *ctx, struct uboot_ctx **out)
{
	struct fake *k = ctx;

	if (hit(k))
		return -k->fail_errno;
	return k->real->initialize(k->real->ctx, out);
}

static int fake_read_config(void *ctx, struct uboot_ctx *u, const char *p)
{
	struct fake *k = ctx;

	if (hit(k))
		return -k->fail_errno;
	return k->real->read_config(k->real->ctx, u, p);
}

static int fake_open(void *ctx, struct uboot_ctx *u)
{
	struct fake *k = ctx;

	if (hit(k))
		return -k->fail_errno;
	return k->real->open(k->real->ctx, u);
}

static void fake_close(void *ctx, struct uboot_ctx *u)
{
	struct fake *k = ctx;

	k->real->close(k->real->ctx, u);
}

static void fake_exit(void *ctx, struct uboot_ctx *u)
{
	struct fake *k = ctx;

	k->real->exit(k->real->ctx, u);
}

static int fake_set_env(void *ctx, struct uboot_ctx *u, const char *name,
			const char *value)
{
	struct fake *k = ctx;

	if (hit(k))
		return -k->fail_errno;
	return k->real->set_env(k->real->ctx, u, name, value);
}

static int fake_env_store(void *ctx, struct uboot_ctx *u)
{
	struct fake *k = ctx;

	k->stores++;
	if (hit(k))
		return -k->fail_errno;
	if (k->is_store_lost)
		return 0;
	return k->real->env_store(k->real->ctx, u);
}

static void fake_init(struct fake *k)
{
	memset(k, 0, sizeof(*k));
	k->real = fl_boot_uboot_lib_default();
	k->table.version = FL_BOOT_UBOOT_LIB_VERSION;
	k->table.ctx = k;
	k->table.initialize = fake_initialize;
	k->table.read_config = fake_read_config;
	k->table.open = fake_open;
	k->table.close = fake_close;
	k->table.exit = fake_exit;
	k->table.set_env = fake_set_env;
	k->table.env_store = fake_env_store;
	k->fail_errno = EIO;
}

static void test_uboot__open_fails_cleanly_at_every_library_call(void **state)
{
	struct fx *f = *state;
	struct fl_boot_uboot_config c = f->bcfg;
	struct fl_boot b;
	struct fake k;
	unsigned n, at;

	fake_init(&k);
	c.lib = &k.table;
	assert_int_equal(fl_boot_uboot_open(&b, &c, NULL), 0);
	fl_boot_uboot_close(&b);
	n = k.calls;
	assert_int_equal(n, 3); /* initialize, read_config, open */
	for (at = 1; at <= n; at++) {
		static const int errs[] = {EIO, ENOMEM};
		size_t e;

		for (e = 0; e < 2; e++) {
			struct fl_boot_uboot_diag d;
			int rc;

			fake_init(&k);
			k.fail_at = at;
			k.fail_errno = errs[e];
			rc = fl_boot_uboot_open(&b, &c, &d);
			if (errs[e] == ENOMEM)
				assert_int_equal(rc, FL_ENOMEM);
			else
				assert_int_equal(rc,
						 at == 2 ? FL_EINVAL : FL_EIO);
			assert_null(b.ops);
			assert_true(d.msg[0] != '\0');
		}
	}
	k.table.version = 99;
	assert_int_equal(fl_boot_uboot_open(&b, &c, NULL), FL_EINVAL);
}

static int run_op(struct fl_boot *b, char which, unsigned slot, unsigned tries)
{
	switch (which) {
	case 't': return b->ops->set_trial(b, slot, tries);
	case 'c': return b->ops->commit(b, slot);
	default: return b->ops->set_permanent(b, slot);
	}
}

/* Every fallible library call of each transition fails in turn: the
 * operation returns FL_EIO, the environment holds the state before (or,
 * when only the read-back failed, the state after), and calling it again
 * completes it. */
static void test_uboot__transitions_survive_each_failing_call(void **state)
{
	static const struct {
		char which;
		unsigned slot, tries, boot_first;
	} ops[] = {
		{'t', 1, 3, 0},
		{'c', 1, 0, 1},
		{'p', 0, 0, 0},
	};
	struct fx *f = *state;
	struct fl_boot_uboot_config c = f->bcfg;
	char old_state[512], new_state[512], got[512];
	struct snap before, after;
	struct fl_boot b;
	struct fake k;
	size_t i;

	c.lib = &k.table;
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		unsigned n, at;

		if (ops[i].boot_first)
			assert_int_equal(boot(f), 1);
		take(f, &before);
		state_of(f, old_state, sizeof(old_state));

		/* a clean run counts the calls */
		fake_init(&k);
		assert_int_equal(fl_boot_uboot_open(&b, &c, NULL), 0);
		k.calls = 0;
		assert_int_equal(
			run_op(&b, ops[i].which, ops[i].slot, ops[i].tries), 0);
		n = k.calls;
		fl_boot_uboot_close(&b);
		take(f, &after);
		state_of(f, new_state, sizeof(new_state));
		assert_string_not_equal(old_state, new_state);
		assert_true(n >= 4); /* load, set_env..., store, load */

		for (at = 1; at <= n; at++) {
			put(f, &before);
			fake_init(&k);
			assert_int_equal(fl_boot_uboot_open(&b, &c, NULL), 0);
			k.calls = 0;
			k.fail_at = at;
			assert_int_equal(run_op(&b, ops[i].which, ops[i].slot,
						ops[i].tries),
					 FL_EIO);
			assert_true(fl_boot_uboot_last_error(&b)->msg[0] !=
				    '\0');
			fl_boot_uboot_close(&b);
			state_of(f, got, sizeof(got));
			if (at < n)
				assert_string_equal(got, old_state);
			else
				assert_string_equal(got, new_state);
			assert_int_equal(
				op(f, ops[i].which, ops[i].slot, ops[i].tries),
				0);
			state_of(f, got, sizeof(got));
			assert_string_equal(got, new_state);
		}
		put(f, &after);
	}
}

static void test_uboot__lost_store_is_caught_by_read_back(void **state)
{
	struct fx *f = *state;
	struct fl_boot_uboot_config c = f->bcfg;
	struct fl_boot b;
	struct fake k;

	fake_init(&k);
	c.lib = &k.table;
	assert_int_equal(fl_boot_uboot_open(&b, &c, NULL), 0);
	k.is_store_lost = 1;
	assert_int_equal(b.ops->set_trial(&b, 1, 1), FL_EIO);
	assert_non_null(strstr(fl_boot_uboot_last_error(&b)->msg, "read back"));
	assert_int_equal(k.stores, 1);
	/* a store that fails for want of memory: FL_ENOSPC (libubootenv
	 * says -ENOMEM for both) */
	k.is_store_lost = 0;
	k.calls = 0;
	k.fail_at = 7; /* load, 5 x set_env, store */
	k.fail_errno = ENOMEM;
	assert_int_equal(b.ops->set_trial(&b, 1, 1), FL_ENOSPC);
	k.calls = 0;
	k.fail_at = 2; /* the first set_env */
	assert_int_equal(b.ops->set_trial(&b, 1, 1), FL_ENOMEM);
	k.calls = 0;
	k.fail_at = 1; /* the load */
	assert_int_equal(b.ops->set_trial(&b, 1, 1), FL_ENOMEM);
	fl_boot_uboot_close(&b);
	assert_string_equal(var(f, "upgrade_available"), "0");
}

int main(void)
{
#define BOTH(n)                                                                \
	cmocka_unit_test_prestate_setup_teardown(n, setup, teardown,           \
						 (void *)&mode_single),        \
		cmocka_unit_test_prestate_setup_teardown(                      \
			n, setup, teardown, (void *)&mode_redundant)
#define ONE(n)                                                                 \
	cmocka_unit_test_prestate_setup_teardown(n, setup, teardown,           \
						 (void *)&mode_single)
#define REDUND(n)                                                              \
	cmocka_unit_test_prestate_setup_teardown(n, setup, teardown,           \
						 (void *)&mode_redundant)
	const struct CMUnitTest tests[] = {
		BOTH(test_uboot__status_reports_booted_slot_from_cmdline),
		BOTH(test_uboot__trial_boots_new_slot_and_commit_keeps_it),
		BOTH(test_uboot__uncommitted_trial_reverts_after_one_try),
		BOTH(test_uboot__three_tries_survive_two_brownouts_then_commit),
		BOTH(test_uboot__trial_slot_gets_exactly_tries_boots),
		BOTH(test_uboot__set_permanent_switches_back_without_trial),
		BOTH(test_uboot__set_permanent_rejects_a_running_trial),
		BOTH(test_uboot__every_operation_is_idempotent),
		BOTH(test_uboot__set_trial_again_after_a_boot_rearms_it),
		BOTH(test_uboot__board_without_fl_committed_reverts_to_booted),
		ONE(test_uboot__status_reads_values_as_uboot_does),
		BOTH(test_uboot__commit_refused_when_not_on_trial),
		BOTH(test_uboot__commit_refused_for_the_other_slot),
		BOTH(test_uboot__bad_slot_or_tries_is_einval),
		ONE(test_uboot__open_fails_without_config_file),
		BOTH(test_uboot__open_fails_on_unreadable_env),
		BOTH(test_uboot__open_refuses_env_without_valid_copy),
		BOTH(test_uboot__status_fails_when_env_goes_bad),
		ONE(test_uboot__open_reads_the_booted_slot_strictly),
		ONE(test_uboot__forced_booted_slot_replaces_cmdline),
		ONE(test_uboot__full_env_is_enospc_and_unchanged),
		ONE(test_uboot__close_and_last_error_accept_null),
		REDUND(test_uboot__torn_store_leaves_old_or_new_state),
		REDUND(test_uboot__corrupt_copy_falls_back_to_the_other),
		ONE(test_uboot__open_fails_cleanly_at_every_library_call),
		BOTH(test_uboot__transitions_survive_each_failing_call),
		ONE(test_uboot__lost_store_is_caught_by_read_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
