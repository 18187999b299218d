/*
 * test_agent_device.c -- fleet-agent's device port and commands
 * (agent/linux/device.c, hook.c) on real files and real processes: facts
 * from files (battery, charging, busy, veto, free space, blackout),
 * health samples (crashes, boot-ok flag, custom metrics, bad values left
 * out), the health hook only on trial (pending, passed, failed, killed
 * with its whole process group at the timeout), the reboot in both modes
 * and the reset reason it leaves for the next start.
 *
 * Every file lives in a mkdtemp directory removed at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "device.h"
#include "fl/err.h"
#include "hook.h"

static char tmpdir[256];
static struct fla_config cfg;
static struct fl_loop *loop;
static struct fla_device dev;

static void path_of(char *out, const char *name)
{
	snprintf(out, FLA_PATH_MAX, "%s/%s", tmpdir, name);
}

static void put(const char *name, const char *content)
{
	char p[FLA_PATH_MAX];
	FILE *f;

	path_of(p, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void rm(const char *name)
{
	char p[FLA_PATH_MAX];

	path_of(p, name);
	unlink(p);
}

static int setup(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/fl-agent-device-XXXXXX",
		 base != NULL && base[0] != '\0' ? base : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", tmpdir);
	path_of(cfg.battery_file, "capacity");
	path_of(cfg.charging_file, "status");
	path_of(cfg.busy_file, "busy");
	path_of(cfg.veto_file, "veto");
	path_of(cfg.crashes_file, "crashes");
	path_of(cfg.boot_ok_file, "ready");
	path_of(cfg.reset_reason_file, "reset");
	cfg.n_metrics = 2;
	strcpy(cfg.metrics[0].name, "temp_c");
	path_of(cfg.metrics[0].path, "temp");
	strcpy(cfg.metrics[1].name, "queue");
	path_of(cfg.metrics[1].path, "queue");
	cfg.hook_timeout_s = 1;
	cfg.reboot_mode = FLA_REBOOT_EXIT;
	if (fl_loop_new(&loop) != 0)
		return -1;
	fla_device_init(&dev, &cfg, loop);
	return 0;
}

static int teardown(void **state)
{
	char p[FLA_PATH_MAX + 300];
	struct dirent *e;
	DIR *d;

	(void)state;
	fla_device_fini(&dev);
	fl_loop_free(loop);
	d = opendir(tmpdir);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
		unlink(p);
	}
	closedir(d);
	return rmdir(tmpdir);
}

static struct fl_agent_facts facts(void)
{
	struct fl_agent_facts f;

	assert_int_equal(fla_device_ops.facts(&dev, &f), 0);
	return f;
}

static void test_device__facts_from_files(void **state)
{
	struct fl_agent_facts f;

	(void)state;
	f = facts();
	assert_int_equal(f.battery_pct, FL_AGENT_BATTERY_NONE);
	assert_false(f.is_charging);
	assert_false(f.is_busy);
	assert_false(f.is_vetoed);
	assert_true(f.free_bytes > 0);
	assert_false(f.has_blackout);
	put("capacity", "  57\n");
	put("status", "Charging\n");
	f = facts();
	assert_int_equal(f.battery_pct, 57);
	assert_true(f.is_charging);
	put("status", "Discharging\n");
	assert_false(facts().is_charging);
	put("status", "1");
	assert_true(facts().is_charging);
	/* Values out of range or not numbers: no battery. */
	put("capacity", "101\n");
	assert_int_equal(facts().battery_pct, FL_AGENT_BATTERY_NONE);
	put("capacity", "5x\n");
	assert_int_equal(facts().battery_pct, FL_AGENT_BATTERY_NONE);
	put("capacity", "");
	assert_int_equal(facts().battery_pct, FL_AGENT_BATTERY_NONE);
	put("busy", "");
	assert_true(facts().is_busy);
	rm("busy");
	assert_false(facts().is_busy);
	put("veto", "");
	assert_true(facts().is_vetoed);
	rm("veto");
	cfg.has_blackout = true;
	cfg.blackout_start_min = 22 * 60;
	cfg.blackout_end_min = 6 * 60;
	f = facts();
	assert_true(f.has_blackout);
	assert_int_equal(f.blackout_start_min, 22 * 60);
	assert_int_equal(f.blackout_end_min, 6 * 60);
	cfg.has_blackout = false;
	rm("capacity");
	rm("status");
}

static struct fl_agent_health_sample sample(bool is_trial)
{
	struct fl_agent_health_sample s;

	assert_int_equal(fla_device_ops.health(&dev, is_trial, &s), 0);
	return s;
}

static void test_device__health_samples_from_files(void **state)
{
	struct fl_agent_health_sample s;

	(void)state;
	s = sample(false);
	assert_false(s.is_boot_ok); /* boot_ok_file set, file absent */
	assert_int_equal(s.crashes, 0);
	assert_int_equal(s.n_metrics, 0);
	assert_int_equal(s.hook, FL_AGENT_HOOK_NONE);
	put("ready", "");
	put("crashes", "3\n");
	put("temp", "41.5\n");
	put("queue", "nan\n");
	s = sample(false);
	assert_true(s.is_boot_ok);
	assert_int_equal(s.crashes, 3);
	assert_int_equal(s.n_metrics, 1); /* nan is left out */
	assert_string_equal(s.metrics[0].name, "temp_c");
	assert_true(s.metrics[0].value == 41.5);
	put("queue", "12");
	put("temp", "hot");
	s = sample(false);
	assert_int_equal(s.n_metrics, 1);
	assert_string_equal(s.metrics[0].name, "queue");
	assert_true(s.metrics[0].value == 12.0);
	put("crashes", "-1");
	assert_int_equal(sample(false).crashes, 0);
	rm("ready");
	rm("crashes");
	rm("temp");
	rm("queue");
}

/* Samples on trial until the hook has an answer (runs the loop). */
static uint8_t hook_result(void)
{
	uint8_t h = FL_AGENT_HOOK_PENDING;

	for (int i = 0; i < 400 && h == FL_AGENT_HOOK_PENDING; i++) {
		h = sample(true).hook;
		if (h == FL_AGENT_HOOK_PENDING)
			assert_int_equal(fl_loop_run_once(loop, 50), 0);
	}
	return h;
}

static void restart_device(void)
{
	fla_device_fini(&dev);
	fla_device_init(&dev, &cfg, loop);
}

static void test_device__hook_runs_once_on_trial(void **state)
{
	(void)state;
	snprintf(cfg.hook, sizeof(cfg.hook), "sleep 0.1; exit 0");
	restart_device();
	/* Not on trial: not run. */
	assert_int_equal(sample(false).hook, FL_AGENT_HOOK_NONE);
	assert_false(dev.is_hook_started);
	assert_int_equal(sample(true).hook, FL_AGENT_HOOK_PENDING);
	assert_int_equal(hook_result(), FL_AGENT_HOOK_PASS);
	/* Once per start: the answer stays. */
	assert_int_equal(sample(true).hook, FL_AGENT_HOOK_PASS);
	snprintf(cfg.hook, sizeof(cfg.hook), "echo not healthy; exit 4");
	restart_device();
	assert_int_equal(hook_result(), FL_AGENT_HOOK_FAIL);
	assert_true(dev.hook.is_done);
	assert_memory_equal(dev.hook.out, "not healthy\n", 12);
	/* A hook that closes its output early is still waited for. */
	snprintf(cfg.hook, sizeof(cfg.hook), "exec >&- 2>&-; sleep 0.2");
	restart_device();
	assert_int_equal(hook_result(), FL_AGENT_HOOK_PASS);
	cfg.hook[0] = '\0';
	restart_device();
	assert_int_equal(sample(true).hook, FL_AGENT_HOOK_NONE);
}

static void test_device__hook_timeout_kills_its_group(void **state)
{
	char p[FLA_PATH_MAX], stat_path[64], st[256] = "";
	unsigned long child = 0;
	FILE *f;

	(void)state;
	/* The shell and a child of it, both far past the 1 s timeout. */
	path_of(p, "child.pid");
	snprintf(cfg.hook, sizeof(cfg.hook),
		 "sleep 30 & echo $! > %.900s; sleep 30", p);
	restart_device();
	assert_int_equal(sample(true).hook, FL_AGENT_HOOK_PENDING);
	assert_true(dev.hook.pid > 0);
	assert_int_equal(hook_result(), FL_AGENT_HOOK_FAIL);
	assert_true(dev.hook.is_timed_out);
	assert_int_equal(dev.hook.pid, 0);
	/* The shell's child is dead too: gone, or a zombie waiting for
	 * whoever reaps orphans. */
	f = fopen(p, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%lu", &child), 1);
	fclose(f);
	snprintf(stat_path, sizeof(stat_path), "/proc/%lu/stat", child);
	for (int i = 0; i < 100; i++) {
		f = fopen(stat_path, "r");
		if (f == NULL)
			break;
		st[0] = '\0';
		if (fgets(st, sizeof(st), f) == NULL)
			st[0] = '\0';
		fclose(f);
		if (strstr(st, ") Z ") != NULL)
			break;
		usleep(10000);
	}
	assert_true(f == NULL || strstr(st, ") Z ") != NULL);
	rm("child.pid");
	cfg.hook[0] = '\0';
	restart_device();
}

static void test_device__cancel_kills_a_running_command(void **state)
{
	struct fla_proc p;
	pid_t pid;

	(void)state;
	fla_proc_init(&p, loop, "test", NULL, NULL);
	assert_int_equal(fla_proc_start(&p, "sleep 30", 60000), 0);
	assert_int_equal(fla_proc_start(&p, "true", 1000), FL_EBUSY);
	pid = p.pid;
	fla_proc_cancel(&p);
	assert_int_equal(p.pid, 0);
	assert_int_equal(kill(pid, 0), -1);
	fla_proc_cancel(&p); /* idle: nothing */
}

static void test_device__reboot_and_reset_reason(void **state)
{
	char p[FLA_PATH_MAX];

	(void)state;
	/* No marker, no file: the fallback. */
	assert_int_equal(fla_reset_reason(&cfg, FL_RESET_POWER_ON),
			 FL_RESET_POWER_ON);
	put("reset", "watchdog\n");
	assert_int_equal(fla_reset_reason(&cfg, FL_RESET_POWER_ON),
			 FL_RESET_WATCHDOG);
	put("reset", "sideways\n");
	assert_int_equal(fla_reset_reason(&cfg, FL_RESET_UNKNOWN),
			 FL_RESET_UNKNOWN);
	/* The exit mode: main is told, the marker says software next. */
	fla_device_ops.reboot(&dev);
	assert_true(dev.is_reboot_requested);
	assert_int_equal(fla_reset_reason(&cfg, FL_RESET_POWER_ON),
			 FL_RESET_SOFTWARE);
	/* The marker is used up. */
	assert_int_equal(fla_reset_reason(&cfg, FL_RESET_UNKNOWN),
			 FL_RESET_UNKNOWN);
	rm("reset");
	/* The command mode runs the command. */
	cfg.reboot_mode = FLA_REBOOT_COMMAND;
	path_of(p, "rebooted");
	snprintf(cfg.reboot_command, sizeof(cfg.reboot_command),
		 "echo bye > %.900s", p);
	restart_device();
	fla_device_ops.reboot(&dev);
	for (int i = 0; i < 200 && access(p, F_OK) != 0; i++)
		assert_int_equal(fl_loop_run_once(loop, 20), 0);
	assert_int_equal(access(p, F_OK), 0);
	for (int i = 0; i < 200 && dev.reboot_cmd.pid != 0; i++)
		assert_int_equal(fl_loop_run_once(loop, 20), 0);
	assert_true(fla_proc_passed(&dev.reboot_cmd));
	assert_int_equal(fla_reset_reason(&cfg, FL_RESET_POWER_ON),
			 FL_RESET_SOFTWARE);
	cfg.reboot_mode = FLA_REBOOT_EXIT;
	rm("rebooted");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device__facts_from_files),
		cmocka_unit_test(test_device__health_samples_from_files),
		cmocka_unit_test(test_device__hook_runs_once_on_trial),
		cmocka_unit_test(test_device__hook_timeout_kills_its_group),
		cmocka_unit_test(test_device__cancel_kills_a_running_command),
		cmocka_unit_test(test_device__reboot_and_reset_reason),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
