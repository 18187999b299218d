/*
 * test_agent.c -- agent/core's state machine over fake ports on a
 * simulated device (agent_fixture.h): every transition of an update, the
 * preconditions and their outcomes, resumable downloads, the manifest's
 * refusals, commands that are duplicated, stale, replayed, malformed or
 * oversized, activation modes, the trial's health check, reverts by the
 * image itself and by the boot loader, and the rollback command.
 *
 * "Nothing changed" is checked on the bytes: the slot metadata and slot
 * areas (and, for refused commands, the agent's store) are compared before
 * and after.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>

#include <cmocka.h>

#include "agent_fixture.h"

#define IMG_LEN (40 * 1024 + 5)

static const struct fl_layout *lay(void)
{
	return &fx_layouts[0];
}

static struct fx *boot_new(uint8_t tries)
{
	struct fx *f = fx_new(lay(), tries, IMG_LEN);

	assert_non_null(f);
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_POWER_ON), 0);
	assert_int_equal(fx_connect(f), 0);
	return f;
}

/* Copies of the slot metadata + slots, and of the agent's store. */
static uint8_t *snap(const struct fx *f, int with_store)
{
	uint32_t n = with_store ? f->lay->geom.size_bytes
				: fx_store_off(f->lay) -
					  2 * f->lay->geom.erase_bytes;
	uint8_t *p = malloc(f->lay->geom.size_bytes);

	memcpy(p, f->dev.mem, n);
	memset(p + n, 0, f->lay->geom.size_bytes - n);
	return p;
}

static void assert_unchanged(const struct fx *f, uint8_t *before,
			     int with_store)
{
	uint32_t n = with_store ? f->lay->geom.size_bytes
				: fx_store_off(f->lay) -
					  2 * f->lay->geom.erase_bytes;

	assert_memory_equal(before, f->dev.mem, n);
	free(before);
}

static const struct fl_status *last(const struct fx *f, uint32_t job)
{
	const struct fl_status *s = fx_last(f, job);

	assert_non_null(s);
	return s;
}

static void assert_final(const struct fx *f, uint32_t job, int result,
			 const char *reason)
{
	const struct fl_status *s = last(f, job);

	if (s->result != result || s->state != FL_STATE_IDLE)
		fail_msg("job %u: state %u result %u (%s) reason '%s', want "
			 "result %d (%s)",
			 job, s->state, s->result, fl_result_name(s->result),
			 s->reason, result, fl_result_name(result));
	if (reason != NULL)
		assert_string_equal(s->reason, reason);
}

/* Statuses of each job are strictly ordered by (boot, n). */
static void assert_ordered(const struct fx *f)
{
	for (unsigned i = 0; i < f->w.n_log; i++)
		for (unsigned k = i + 1; k < f->w.n_log; k++) {
			const struct fl_status *x = &f->w.log[i];
			const struct fl_status *y = &f->w.log[k];

			assert_true(y->boot > x->boot ||
				    (y->boot == x->boot && y->n > x->n));
		}
}

/* Reboots as asked: the boot loader decides from flash alone. */
static void reboot(struct fx *f)
{
	assert_true(f->w.reboot_requested);
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_SOFTWARE), 0);
	assert_int_equal(fx_connect(f), 0);
}

/* Offer image i as job, download, activate, reboot into the trial. */
static void to_trial(struct fx *f, uint32_t job, int i, uint64_t seq)
{
	struct fl_cmd c;

	assert_int_equal(fx_offer(f, job, i, seq, &c), 0);
	assert_int_equal(fx_run_for(f, 60000), 0);
	reboot(f);
	assert_string_equal(fx_running(f), f->img[i].version);
	assert_int_equal(last(f, job)->state, FL_STATE_TRIAL);
}

static void update(struct fx *f, uint32_t job, int i, uint64_t seq)
{
	to_trial(f, job, i, seq);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_final(f, job, FL_RESULT_SUCCESS, "");
}

/* ---- the whole update ---------------------------------------------------- */

static void test_agent__fresh_device_reports_inventory(void **state)
{
	struct fx *f = boot_new(1);
	const struct fl_reported *r = &f->w.reported;

	(void)state;
	assert_int_equal(f->w.n_log, 0);
	assert_int_equal(f->w.n_reported, 1);
	assert_string_equal(r->model, FX_MODEL);
	assert_int_equal(r->boot, 1);
	assert_int_equal(r->n_components, 1);
	assert_string_equal(r->components[0].name, "firmware");
	assert_string_equal(r->components[0].version, "1.0.0");
	assert_int_equal(r->n_slots, 2);
	assert_int_equal(r->slots[0].state, FL_WIRE_SLOT_CONFIRMED);
	assert_int_equal(r->slots[1].state, FL_WIRE_SLOT_EMPTY);
	assert_int_equal(r->floor, 1);
	assert_int_equal(r->job, 0);
	assert_int_equal(f->w.n_health, 1); /* once right after boot */
	assert_int_equal(fl_agent_boot_count(&f->run->agent), 1);
	fx_free(f);
}

static void test_agent__offer_downloads_activates_and_commits(void **state)
{
	struct fx *f = boot_new(1);
	const struct fl_status *s;
	unsigned states = 0;

	(void)state;
	update(f, 100, 1, 2);
	for (unsigned i = 0; i < f->w.n_log; i++) {
		s = &f->w.log[i];
		assert_int_equal(s->job, 100);
		states |= 1u << s->state;
		assert_true(s->bytes <= s->total);
	}
	assert_true(states & (1u << FL_STATE_DOWNLOADING));
	assert_true(states & (1u << FL_STATE_DOWNLOADED));
	assert_true(states & (1u << FL_STATE_UPDATING));
	assert_true(states & (1u << FL_STATE_TRIAL));
	assert_true(states & (1u << FL_STATE_IDLE));
	assert_ordered(f);
	assert_string_equal(fx_running(f), "2.0.0");
	assert_int_equal(fl_slots_floor(fx_slots(f)), 2);
	assert_int_equal(f->w.reported.job, 100);
	assert_int_equal(f->w.reported.result, FL_RESULT_SUCCESS);
	assert_int_equal(f->w.reported.floor, 2);
	assert_string_equal(f->w.reported.components[0].version, "2.0.0");
	assert_true(f->w.health.boot == 2);
	assert_int_equal(f->w.n_starts, 1);
	assert_int_equal(f->w.bytes_served, IMG_LEN);
	/* A second update goes the other way round. */
	update(f, 101, 2, 3);
	assert_string_equal(fx_running(f), "3.0.0");
	fx_free(f);
}

static void test_agent__already_installed_succeeds_at_once(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c;

	(void)state;
	assert_int_equal(fx_offer(f, 7, 0, 1, &c), 0);
	assert_final(f, 7, FL_RESULT_SUCCESS, "already_installed");
	assert_int_equal(f->w.n_starts, 0);
	fx_free(f);
}

/* ---- preconditions ------------------------------------------------------- */

/* The sequence number of the agent's newest saved state (flash store
 * frames, docs/formats.md): one more for every save. */
static uint64_t store_seq(const struct fx *f)
{
	const uint8_t *p = f->dev.mem + fx_store_off(f->lay);
	uint64_t best = 0;

	for (unsigned c = 0; c < 2; c++, p += f->lay->geom.erase_bytes)
		if (fl_get_le32(p) == 0x54534C46u && fl_get_le64(p + 8) > best)
			best = fl_get_le64(p + 8);
	return best;
}

static void test_agent__offer_ready_at_once_is_saved_once(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c;
	uint64_t seq = store_seq(f);

	(void)state;
	assert_true(seq > 0);
	/* Taken and persisted as DOWNLOADING in one save, not as WAITING
	 * first: no waiting status, and the download starts without
	 * another save. */
	assert_int_equal(fx_offer(f, 20, 1, 2, &c), 0);
	assert_int_equal(store_seq(f), seq + 1);
	assert_int_equal(last(f, 20)->state, FL_STATE_DOWNLOADING);
	for (unsigned i = 0; i < f->w.n_log; i++)
		assert_int_not_equal(f->w.log[i].state, FL_STATE_WAITING);
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	assert_true(f->w.dl_pending);
	assert_int_equal(store_seq(f), seq + 1);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_true(f->w.reboot_requested);
	fx_free(f);
}

static void test_agent__preconditions_retry_later_then_proceed(void **state)
{
	struct fx *f;
	struct fl_cmd c;
	const struct fl_status *s;

	(void)state;
	f = fx_new(lay(), 1, IMG_LEN);
	f->base.min_battery_pct = 30;
	f->base.min_free_bytes = 1000000;
	f->base.retry_s = 120;
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_POWER_ON), 0);
	assert_int_equal(fx_connect(f), 0);

	f->w.facts.battery_pct = 10;
	assert_int_equal(fx_offer(f, 10, 1, 2, &c), 0);
	assert_int_equal(fx_run_for(f, 1000), 0);
	s = last(f, 10);
	assert_int_equal(s->state, FL_STATE_WAITING);
	assert_int_equal(s->result, FL_RESULT_RETRY_LATER);
	assert_string_equal(s->reason, "battery_low");
	assert_int_equal(s->retry_s, 120);
	assert_int_equal(f->w.n_starts, 0);
	/* Charging is good enough. */
	f->w.facts.is_charging = true;
	f->w.facts.is_busy = true;
	assert_int_equal(fx_run_for(f, 121000), 0);
	assert_string_equal(last(f, 10)->reason, "busy");
	f->w.facts.is_busy = false;
	f->w.facts.free_bytes = 10;
	assert_int_equal(fx_run_for(f, 121000), 0);
	assert_string_equal(last(f, 10)->reason, "storage_low");
	f->w.facts.free_bytes = 1u << 30;
	f->w.facts_rc = FL_EIO;
	assert_int_equal(fx_run_for(f, 121000), 0);
	assert_string_equal(last(f, 10)->reason, "facts");
	f->w.facts_rc = 0;
	assert_int_equal(f->w.n_starts, 0);
	assert_int_equal(fx_run_for(f, 121000), 0);
	assert_true(f->w.reboot_requested);
	assert_int_equal(f->w.n_starts, 1);
	reboot(f);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_final(f, 10, FL_RESULT_SUCCESS, "");
	fx_free(f);
}

static void test_agent__blackout_waits_until_its_end(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c;
	const struct fl_status *s;

	(void)state;
	/* 00:00 UTC, local time UTC+1 = 01:00, blackout 00:30-03:00. */
	f->w.utc_offset_s = 3600;
	f->w.facts.has_blackout = true;
	f->w.facts.blackout_start_min = 30;
	f->w.facts.blackout_end_min = 180;
	assert_int_equal(fx_offer(f, 11, 1, 2, &c), 0);
	assert_int_equal(fx_run_for(f, 1000), 0);
	s = last(f, 11);
	assert_int_equal(s->result, FL_RESULT_RETRY_LATER);
	assert_string_equal(s->reason, "blackout");
	assert_int_equal(s->retry_s, 120 * 60);
	/* Without a trusted clock the blackout cannot be ruled out. */
	f->w.now_s = 0;
	assert_int_equal(fx_run_for(f, 120 * 60 * 1000 + 1000), 0);
	assert_int_equal(f->w.n_starts, 0);
	f->w.now_s = FX_T0 + 3 * 3600;
	assert_int_equal(fx_run_for(f, 600 * 1000), 0);
	assert_int_equal(f->w.n_starts, 1);
	assert_true(f->w.reboot_requested);
	fx_free(f);
}

static void test_agent__preconditions_rejected_after_max_waits(void **state)
{
	struct fx *f = fx_new(lay(), 1, IMG_LEN);
	struct fl_cmd c;

	(void)state;
	f->base.max_waits = 3;
	f->base.retry_s = 10;
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_POWER_ON), 0);
	assert_int_equal(fx_connect(f), 0);
	f->w.facts.is_busy = true;
	assert_int_equal(fx_offer(f, 12, 1, 2, &c), 0);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_final(f, 12, FL_RESULT_REJECTED, "busy");
	assert_int_equal(f->w.n_starts, 0);
	fx_free(f);
}

static void test_agent__application_veto_rejects(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c;

	(void)state;
	f->w.facts.is_vetoed = true;
	assert_int_equal(fx_offer(f, 14, 1, 2, &c), 0);
	assert_int_equal(fx_run_for(f, 1000), 0);
	assert_final(f, 14, FL_RESULT_REJECTED, "vetoed");
	assert_int_equal(f->w.n_starts, 0);
	/* Before the reboot too: the staged image is dropped. */
	f->w.facts.is_vetoed = false;
	assert_int_equal(fx_offer(f, 15, 1, 2, &c), 0);
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	f->w.facts.is_vetoed = true;
	assert_int_equal(fx_run_for(f, 5000), 0);
	assert_final(f, 15, FL_RESULT_REJECTED, "vetoed");
	assert_int_equal(fx_slots(f)->info[1].state, FL_SLOT_BAD);
	assert_false(f->w.reboot_requested);
	fx_free(f);
}

static void test_agent__preconditions_checked_again_before_reboot(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c;
	const struct fl_status *s;

	(void)state;
	assert_int_equal(fx_offer(f, 13, 1, 2, &c), 0);
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	assert_true(f->w.dl_pending);
	f->w.facts.is_busy = true; /* set while it downloads */
	assert_int_equal(fx_run_for(f, 5000), 0);
	assert_false(f->w.reboot_requested);
	s = last(f, 13);
	assert_int_equal(s->state, FL_STATE_WAITING);
	assert_int_equal(s->result, FL_RESULT_RETRY_LATER);
	assert_string_equal(s->reason, "busy");
	assert_int_equal(fx_slots(f)->info[1].state, FL_SLOT_STAGED);
	f->w.facts.is_busy = false;
	assert_int_equal(fx_run_for(f, 301000), 0);
	assert_true(f->w.reboot_requested);
	assert_int_equal(fx_slots(f)->info[1].state, FL_SLOT_TRIAL);
	fx_free(f);
}

/* ---- downloads ------------------------------------------------------------
 */

static void test_agent__download_resumes_with_range(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c;

	(void)state;
	assert_int_equal(fx_offer(f, 20, 1, 2, &c), 0);
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	assert_int_equal(f->w.req.offset, 0);
	assert_string_equal(f->w.req.validator, "");
	assert_int_equal(fx_serve(f, 15000, 1000, true), 0); /* cut */
	assert_int_equal(last(f, 20)->state, FL_STATE_DOWNLOADING);
	/* Backoff: nothing for 5 s, then a ranged request. */
	assert_int_equal(fx_run_for(f, 4000), 0);
	assert_int_equal(f->w.n_starts, 1);
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	fx_advance(f, 1000);
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	assert_int_equal(f->w.n_starts, 2);
	assert_int_equal(f->w.req.offset, 15000);
	assert_string_equal(f->w.req.validator, f->w.etag);
	assert_int_equal(fx_serve(f, UINT64_MAX, 777, false), 0);
	assert_int_equal(f->w.bytes_served, IMG_LEN);
	assert_int_equal(fx_run_for(f, 1000), 0);
	reboot(f);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_final(f, 20, FL_RESULT_SUCCESS, "");
	fx_free(f);
}

static void test_agent__download_resumes_after_power_loss(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c;

	(void)state;
	assert_int_equal(fx_offer(f, 21, 1, 2, &c), 0);
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	assert_int_equal(fx_serve(f, 30000, 1000, false), 0);
	/* Power lost mid-transfer: the checkpoint (every 8 KiB) holds. */
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_POWER_ON), 0);
	assert_int_equal(fx_connect(f), 0);
	assert_int_equal(last(f, 21)->boot, 2);
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	assert_true(f->w.dl_pending);
	assert_true(f->w.req.offset >= 24576 && f->w.req.offset <= 30000);
	assert_string_equal(f->w.req.validator, f->w.etag);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_true(f->w.bytes_served < IMG_LEN + 30000 - 24576 + 1);
	reboot(f);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_final(f, 21, FL_RESULT_SUCCESS, "");
	fx_free(f);
}

static void test_agent__if_range_mismatch_restarts_at_zero(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c;

	(void)state;
	assert_int_equal(fx_offer(f, 22, 1, 2, &c), 0);
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	assert_int_equal(fx_serve(f, 20000, 1000, true), 0);
	/* The file was republished: its ETag changed. */
	snprintf(f->w.etag, sizeof(f->w.etag), "\"etag-2\"");
	assert_int_equal(fx_run_for(f, 6000), 0);
	assert_int_equal(f->w.n_starts, 2);
	assert_int_equal(f->w.req.offset, 20000);
	assert_string_equal(f->w.req.validator, "\"etag-1\"");
	/* The server answered 200: the image started again at 0. */
	assert_int_equal(f->w.bytes_served, 20000 + IMG_LEN);
	assert_true(f->w.reboot_requested);
	reboot(f);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_final(f, 22, FL_RESULT_SUCCESS, "");
	fx_free(f);
}

static void test_agent__oversize_data_refused(void **state)
{
	struct fx *f = boot_new(1);
	uint8_t *big = malloc(IMG_LEN + 100);
	struct fl_cmd c;
	uint8_t tail[64];
	uint32_t slot1 = f->lay->slot_off[1];

	(void)state;
	assert_int_equal(fx_offer(f, 23, 1, 2, &c), 0);
	memcpy(big, f->img[1].data, IMG_LEN);
	memset(big + IMG_LEN, 0xA5, 100);
	f->w.content = big;
	f->w.content_len = IMG_LEN + 100;
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	assert_int_equal(fx_serve(f, UINT64_MAX, 4096, false), FL_ETOOBIG);
	assert_final(f, 23, FL_RESULT_INTEGRITY, "too_long");
	assert_int_equal(fx_slots(f)->info[1].state, FL_SLOT_BAD);
	/* Nothing past the signed length reached the slot. */
	memset(tail, 0xFF, sizeof(tail));
	assert_memory_equal(f->dev.mem + slot1 + IMG_LEN - 5 + 5, tail,
			    sizeof(tail));
	assert_false(f->w.reboot_requested);
	assert_string_equal(fx_running(f), "1.0.0");

	/* A Content-Length that disagrees stops it before any byte. */
	f->w.content = f->img[1].data;
	f->w.content_len = IMG_LEN;
	f->w.claimed_total = IMG_LEN + 1;
	assert_int_equal(fx_offer(f, 24, 1, 2, &c), 0);
	f->w.bytes_served = 0;
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	assert_int_equal(fx_serve(f, UINT64_MAX, 4096, false), FL_ETOOBIG);
	assert_int_equal(f->w.bytes_served, 0);
	assert_final(f, 24, FL_RESULT_INTEGRITY, "length");
	free(big);
	fx_free(f);
}

static void test_agent__wrong_bytes_fail_the_digest(void **state)
{
	struct fx *f = boot_new(1);
	uint8_t *bad = malloc(IMG_LEN);
	struct fl_cmd c;

	(void)state;
	assert_int_equal(fx_offer(f, 25, 1, 2, &c), 0);
	memcpy(bad, f->img[1].data, IMG_LEN);
	bad[IMG_LEN / 2] ^= 1;
	f->w.content = bad;
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_final(f, 25, FL_RESULT_INTEGRITY, "digest");
	assert_false(f->w.reboot_requested);
	assert_int_equal(fx_slots(f)->info[1].state, FL_SLOT_BAD);
	free(bad);
	fx_free(f);
}

static void test_agent__spliced_image_fetched_again_once(void **state)
{
	struct fx *f = boot_new(1);
	uint8_t *other = malloc(IMG_LEN);
	struct fl_cmd c;

	(void)state;
	assert_int_equal(fx_offer(f, 26, 1, 2, &c), 0);
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	/* The first half came from another file; the server gives no
	 * validator, so the resumed tail is spliced onto it. */
	memcpy(other, f->img[1].data, IMG_LEN);
	memset(other, 0x11, 10000);
	f->w.content = other;
	f->w.etag[0] = '\0';
	assert_int_equal(fx_serve(f, 20000, 1000, true), 0);
	f->w.content = f->img[1].data;
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_true(f->w.reboot_requested);
	assert_int_equal(f->w.n_starts, 3);
	assert_int_equal(f->w.req.offset, 0);
	reboot(f);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_final(f, 26, FL_RESULT_SUCCESS, "");
	free(other);
	fx_free(f);
}

static void test_agent__http_errors(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c;

	(void)state;
	f->w.force_status = 404;
	assert_int_equal(fx_offer(f, 27, 1, 2, &c), 0);
	assert_int_equal(fx_run_for(f, 1000), 0);
	assert_final(f, 27, FL_RESULT_INVALID_URI, "http:404");
	assert_int_equal(fx_slots(f)->info[1].state, FL_SLOT_BAD);
	/* 5xx and cuts are retried with backoff, then connection_lost. */
	f->w.force_status = 503;
	assert_int_equal(fx_offer(f, 28, 1, 2, &c), 0);
	assert_int_equal(fx_run_for(f, 3600 * 1000), 0);
	assert_final(f, 28, FL_RESULT_CONNECTION_LOST, "http:503");
	assert_int_equal(f->w.n_starts, 1 + 10);
	fx_free(f);
}

/* ---- manifest refusals ----------------------------------------------------
 */

static void refused(struct fx *f, uint32_t job, const struct fl_manifest *m,
		    const struct fx_key *k, int result, const char *reason)
{
	struct fl_manifest_env env;
	struct fl_cmd c;
	uint8_t *before = snap(f, 1);
	unsigned starts = f->w.n_starts;

	assert_int_equal(fx_seal(&env, m, k), 0);
	fx_cmd(&c, FL_CMD_OFFER, job, &env);
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
	assert_int_equal(fx_run_for(f, 10000), 0);
	assert_final(f, job, result, reason);
	assert_int_equal(f->w.n_starts, starts);
	assert_false(f->w.reboot_requested);
	assert_unchanged(f, before, 1); /* nothing installed, nothing kept */
}

static void test_agent__manifest_refusals_install_nothing(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_manifest m;
	struct fl_manifest_env env;
	struct fl_cmd c;
	uint8_t *before;

	(void)state;
	fx_manifest_of(&m, &f->img[1], 2);
	refused(f, 30, &m, &f->other, FL_RESULT_BAD_SIGNATURE, "unknown_key");
	strcpy(m.hardware[0], "acme-other");
	refused(f, 31, &m, &f->key, FL_RESULT_WRONG_MODEL, "");
	fx_manifest_of(&m, &f->img[3], 2);
	refused(f, 32, &m, &f->key, FL_RESULT_DOWNGRADE, "");
	fx_manifest_of(&m, &f->img[1], 2);
	m.expires = FX_T0 - 1;
	m.issued = FX_T0 - 100;
	refused(f, 33, &m, &f->key, FL_RESULT_EXPIRED, "");
	fx_manifest_of(&m, &f->img[1], 2);
	strcpy(m.component, "modem");
	refused(f, 34, &m, &f->key, FL_RESULT_NOT_APPLICABLE, "");
	fx_manifest_of(&m, &f->img[1], 2);
	strcpy(m.from, ">=1.5.0");
	refused(f, 35, &m, &f->key, FL_RESULT_NOT_APPLICABLE, "");
	fx_manifest_of(&m, &f->img[1], 2);
	m.length = 1u << 20; /* larger than the slot */
	refused(f, 36, &m, &f->key, FL_RESULT_NO_FLASH, "");

	/* A bad signature: one bit of the body flipped after signing. */
	fx_manifest_of(&m, &f->img[1], 2);
	assert_int_equal(fx_seal(&env, &m, &f->key), 0);
	env.body[10] ^= 1;
	before = snap(f, 1);
	fx_cmd(&c, FL_CMD_OFFER, 37, &env);
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
	assert_final(f, 37, FL_RESULT_BAD_SIGNATURE, "");
	/* An envelope of another version. */
	assert_int_equal(fx_seal(&env, &m, &f->key), 0);
	env.v = 3;
	fx_cmd(&c, FL_CMD_OFFER, 38, &env);
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
	assert_final(f, 38, FL_RESULT_BAD_MANIFEST, "");
	/* Refusals are answered, not taken: the store is unchanged too. */
	assert_unchanged(f, before, 1);
	assert_int_equal(f->run->agent.st.last_job, 0);
	fx_free(f);
}

static void test_agent__anti_rollback_floor(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_manifest m;

	(void)state;
	update(f, 40, 1, 5); /* floor 5 */
	fx_manifest_of(&m, &f->img[2], 4);
	refused(f, 41, &m, &f->key, FL_RESULT_ANTI_ROLLBACK, "");
	/* A rollback manifest must be above the floor. */
	fx_manifest_of(&m, &f->img[0], 5);
	m.is_rollback = true;
	refused(f, 42, &m, &f->key, FL_RESULT_ANTI_ROLLBACK, "");
	fx_free(f);
}

/* ---- commands ---------------------------------------------------------------
 */

static void test_agent__duplicate_stale_and_replayed_commands(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c, old;
	unsigned n;
	uint8_t *before;

	(void)state;
	assert_int_equal(fx_offer(f, 50, 1, 2, &old), 0);
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	assert_int_equal(fx_serve(f, 8000, 1000, false), 0);
	/* A duplicate mid-download re-sends the status, restarts nothing. */
	n = f->w.n_log;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &old), 0);
	assert_int_equal(f->w.n_log, n + 1);
	assert_int_equal(last(f, 50)->state, FL_STATE_DOWNLOADING);
	assert_int_equal(f->w.n_starts, 1);
	assert_true(f->w.dl_pending);
	assert_int_equal(fx_serve(f, UINT64_MAX, 1000, false), 0);
	assert_int_equal(fx_run_for(f, 1000), 0);
	reboot(f);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_final(f, 50, FL_RESULT_SUCCESS, "");

	/* Replays after the end: same final answer, no change at all. */
	before = snap(f, 1);
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &old), 0);
	assert_final(f, 50, FL_RESULT_SUCCESS, "");
	assert_int_equal(fx_offer(f, 49, 2, 3, &c), 0);
	assert_final(f, 49, FL_RESULT_STALE, "");
	c.type = FL_CMD_CANCEL;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
	assert_final(f, 49, FL_RESULT_STALE, "");
	old.type = FL_CMD_CANCEL;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &old), 0);
	assert_final(f, 50, FL_RESULT_SUCCESS, "");
	assert_unchanged(f, before, 1);
	assert_int_equal(f->w.n_starts, 1);
	assert_ordered(f);
	fx_free(f);
}

static void test_agent__expired_command_answered_not_taken(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_manifest m;
	struct fl_manifest_env env;
	struct fl_cmd c;
	uint8_t *before = snap(f, 1);

	(void)state;
	fx_manifest_of(&m, &f->img[1], 2);
	assert_int_equal(fx_seal(&env, &m, &f->key), 0);
	fx_cmd(&c, FL_CMD_OFFER, 60, &env);
	c.expires = FX_T0;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
	assert_final(f, 60, FL_RESULT_EXPIRED, "");
	assert_unchanged(f, before, 1);
	assert_int_equal(f->run->agent.st.last_job, 0);
	fx_free(f);
}

static void test_agent__malformed_and_oversized_commands(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_manifest m;
	struct fl_manifest_env env;
	struct fl_cmd c, bad;
	struct fl_proto_diag diag;
	char json[4096];
	uint8_t *before;
	unsigned n;

	(void)state;
	update(f, 70, 1, 2);
	before = snap(f, 1);
	fx_manifest_of(&m, &f->img[2], 3);
	assert_int_equal(fx_seal(&env, &m, &f->key), 0);
	fx_cmd(&c, FL_CMD_OFFER, 71, &env);

	bad = c;
	bad.n_limits = FL_PROTO_LIMITS_MAX + 1;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &bad), 0);
	assert_final(f, 71, FL_RESULT_BAD_COMMAND, "bad_field");
	assert_string_equal(last(f, 71)->detail, "health");
	bad = c;
	bad.manifest.body_len = FL_MANIFEST_BODY_MAX + 1;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &bad), 0);
	assert_string_equal(last(f, 71)->detail, "manifest");
	bad = c;
	bad.type = 9;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &bad), 0);
	bad = c;
	bad.activate = FL_ACTIVATE_WINDOW;
	bad.window_start_min = bad.window_end_min = 60;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &bad), 0);
	assert_string_equal(last(f, 71)->detail, "window");
	bad = c;
	bad.n_limits = 1;
	memset(bad.limits[0].metric, 'x', sizeof(bad.limits[0].metric));
	bad.limits[0].has_max = true;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &bad), 0);

	/* Through the codec: garbage, and a payload over 2 KiB. */
	memset(&bad, 0, sizeof(bad));
	strcpy(json, "{\"type\":\"offer\",\"job\":72,");
	assert_true(fl_proto_decode_cmd(&bad, json, strlen(json), &diag) != 0);
	assert_int_equal(
		fl_agent_on_cmd_invalid(&f->run->agent, bad.job, diag.msg), 0);
	memset(json, ' ', sizeof(json));
	memcpy(json, "{\"type\":\"cancel\",\"job\":73,\"expires\":9}", 38);
	assert_int_equal(fl_proto_decode_cmd(&bad, json, sizeof(json), &diag),
			 FL_ETOOBIG);
	assert_int_equal(fl_agent_on_cmd_invalid(&f->run->agent, 73, diag.msg),
			 0);
	assert_final(f, 73, FL_RESULT_BAD_COMMAND, "bad_field");
	/* A garbled duplicate of the last job must not overwrite it. */
	n = f->w.n_log;
	assert_int_equal(fl_agent_on_cmd_invalid(&f->run->agent, 70, "x"), 0);
	bad = c;
	bad.job = 70;
	bad.n_limits = 99;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &bad), 0);
	assert_int_equal(f->w.n_log, n);
	assert_final(f, 70, FL_RESULT_SUCCESS, "");

	assert_unchanged(f, before, 1);
	fx_free(f);
}

static void test_agent__cancel_in_each_phase(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c, cancel;

	(void)state;
	/* Waiting on a precondition. */
	f->w.facts.is_busy = true;
	assert_int_equal(fx_offer(f, 80, 1, 2, &c), 0);
	assert_int_equal(fx_run_for(f, 1000), 0);
	fx_cmd(&cancel, FL_CMD_CANCEL, 80, NULL);
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &cancel), 0);
	assert_final(f, 80, FL_RESULT_CANCELLED, "requested");
	f->w.facts.is_busy = false;

	/* Downloading: the transfer stops, the slot is marked bad. */
	assert_int_equal(fx_offer(f, 81, 1, 2, &c), 0);
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	assert_int_equal(fx_serve(f, 10000, 1000, false), 0);
	assert_int_equal(fx_slots(f)->info[1].state, FL_SLOT_WRITING);
	cancel.job = 81;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &cancel), 0);
	assert_final(f, 81, FL_RESULT_CANCELLED, "requested");
	assert_false(f->w.dl_pending);
	assert_int_equal(f->w.n_stops, 1);
	assert_int_equal(fx_slots(f)->info[1].state, FL_SLOT_BAD);
	assert_int_equal(fx_slots(f)->info[1].reason, FL_REASON_CANCELLED);

	/* Downloaded, waiting for its window. */
	assert_int_equal(fx_offer(f, 0, 1, 2, &c), 0);
	c.job = 82;
	c.activate = FL_ACTIVATE_WINDOW;
	c.window_start_min = 120;
	c.window_end_min = 240;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
	assert_int_equal(fx_run_for(f, 10000), 0);
	assert_int_equal(last(f, 82)->state, FL_STATE_DOWNLOADED);
	assert_string_equal(last(f, 82)->reason, "window");
	assert_int_equal(fx_slots(f)->info[1].state, FL_SLOT_STAGED);
	cancel.job = 82;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &cancel), 0);
	assert_final(f, 82, FL_RESULT_CANCELLED, "requested");
	assert_int_equal(fx_slots(f)->info[1].state, FL_SLOT_BAD);

	/* Activated: too late. */
	assert_int_equal(fx_offer(f, 83, 1, 2, &c), 0);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_true(f->w.reboot_requested);
	cancel.job = 83;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &cancel), 0);
	assert_int_equal(last(f, 83)->state, FL_STATE_UPDATING);
	assert_string_equal(last(f, 83)->reason, "too_late_to_cancel");
	reboot(f);
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &cancel), 0);
	assert_int_equal(last(f, 83)->state, FL_STATE_TRIAL);
	assert_string_equal(last(f, 83)->reason, "too_late_to_cancel");
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_final(f, 83, FL_RESULT_SUCCESS, "");
	fx_free(f);
}

static void test_agent__cancel_before_its_offer(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c, cancel;

	(void)state;
	fx_cmd(&cancel, FL_CMD_CANCEL, 90, NULL);
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &cancel), 0);
	assert_final(f, 90, FL_RESULT_CANCELLED, "requested");
	assert_int_equal(fx_offer(f, 90, 1, 2, &c), 0);
	assert_final(f, 90, FL_RESULT_CANCELLED, "requested");
	assert_int_equal(fx_run_for(f, 10000), 0);
	assert_int_equal(f->w.n_starts, 0);
	fx_free(f);
}

static void test_agent__newer_offer_supersedes(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c;

	(void)state;
	assert_int_equal(fx_offer(f, 91, 1, 2, &c), 0);
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	assert_int_equal(fx_serve(f, 10000, 1000, false), 0);
	assert_int_equal(fx_offer(f, 92, 2, 3, &c), 0);
	assert_final(f, 91, FL_RESULT_CANCELLED, "superseded");
	assert_int_equal(f->w.n_stops, 1);
	assert_int_equal(fx_run_for(f, 60000), 0);
	reboot(f);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_final(f, 92, FL_RESULT_SUCCESS, "");
	assert_string_equal(fx_running(f), "3.0.0");
	fx_free(f);
}

static void test_agent__offer_during_trial_is_not_taken(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c;
	const struct fl_status *s;

	(void)state;
	assert_int_equal(fx_offer(f, 95, 1, 2, &c), 0);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_true(f->w.reboot_requested); /* activated, not yet booted */
	assert_int_equal(fx_offer(f, 96, 2, 3, &c), 0);
	s = last(f, 96);
	assert_int_equal(s->state, FL_STATE_WAITING);
	assert_int_equal(s->result, FL_RESULT_RETRY_LATER);
	assert_string_equal(s->reason, "trial_pending");
	assert_int_equal(s->retry_s, 0);
	assert_int_equal(f->run->agent.st.last_job, 95);
	reboot(f);
	assert_int_equal(fx_offer(f, 96, 2, 3, &c), 0);
	assert_string_equal(last(f, 96)->reason, "trial_pending");
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_final(f, 95, FL_RESULT_SUCCESS, "");
	/* fleetd asks again: now it is taken, and with nothing to wait for
	 * goes straight to the download. */
	assert_int_equal(fx_offer(f, 96, 2, 3, &c), 0);
	assert_int_equal(last(f, 96)->state, FL_STATE_DOWNLOADING);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_true(f->w.reboot_requested);
	fx_free(f);
}

/* ---- activation -------------------------------------------------------------
 */

static void test_agent__window_activation(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_manifest m;
	struct fl_manifest_env env;
	struct fl_cmd c;

	(void)state;
	/* Local time UTC-2: 22:00 at FX_T0; window 23:30-00:30 wraps. */
	f->w.utc_offset_s = -2 * 3600;
	fx_manifest_of(&m, &f->img[1], 2);
	assert_int_equal(fx_seal(&env, &m, &f->key), 0);
	fx_cmd(&c, FL_CMD_OFFER, 110, &env);
	c.activate = FL_ACTIVATE_WINDOW;
	c.window_start_min = 23 * 60 + 30;
	c.window_end_min = 30;
	f->w.content = f->img[1].data;
	f->w.content_len = f->img[1].len;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
	assert_int_equal(fx_run_for(f, 60 * 60 * 1000), 0);
	assert_false(f->w.reboot_requested);
	assert_int_equal(last(f, 110)->state, FL_STATE_DOWNLOADED);
	assert_string_equal(last(f, 110)->reason, "window");
	assert_int_equal(fx_run_for(f, 40 * 60 * 1000), 0);
	assert_true(f->w.reboot_requested);
	assert_true(f->w.now_s >= FX_T0 + 90 * 60 &&
		    f->w.now_s <= FX_T0 + 92 * 60);
	fx_free(f);
}

static void test_agent__idle_activation(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_manifest m;
	struct fl_manifest_env env;
	struct fl_cmd c;

	(void)state;
	fx_manifest_of(&m, &f->img[1], 2);
	assert_int_equal(fx_seal(&env, &m, &f->key), 0);
	fx_cmd(&c, FL_CMD_OFFER, 111, &env);
	c.activate = FL_ACTIVATE_IDLE;
	f->w.content = f->img[1].data;
	f->w.content_len = f->img[1].len;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	f->w.facts.is_busy = true; /* busy once it is downloaded */
	assert_int_equal(fx_run_for(f, 600000), 0);
	assert_false(f->w.reboot_requested);
	assert_int_equal(last(f, 111)->state, FL_STATE_DOWNLOADED);
	assert_string_equal(last(f, 111)->reason, "idle");
	f->w.facts.is_busy = false;
	assert_int_equal(fx_run_for(f, 5000), 0);
	assert_true(f->w.reboot_requested);
	fx_free(f);
}

/* ---- trial and health
 * ---------------------------------------------------------- */

static void offer_with_limits(struct fx *f, uint32_t job, int i, uint64_t seq,
			      const char *metric, double min, double max)
{
	struct fl_manifest m;
	struct fl_manifest_env env;
	struct fl_cmd c;

	fx_manifest_of(&m, &f->img[i], seq);
	assert_int_equal(fx_seal(&env, &m, &f->key), 0);
	fx_cmd(&c, FL_CMD_OFFER, job, &env);
	c.health_window_s = 20;
	c.n_limits = 1;
	strcpy(c.limits[0].metric, metric);
	c.limits[0].has_min = min == min;
	c.limits[0].min = min == min ? min : 0;
	c.limits[0].has_max = max == max;
	c.limits[0].max = max == max ? max : 0;
	f->w.content = f->img[i].data;
	f->w.content_len = f->img[i].len;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
	assert_int_equal(fx_run_for(f, 60000), 0);
	reboot(f);
	assert_int_equal(last(f, job)->state, FL_STATE_TRIAL);
}

static void test_agent__health_failure_rejects_and_reverts(void **state)
{
	struct fx *f = boot_new(1);
	double nan = NAN;

	(void)state;
	offer_with_limits(f, 120, 1, 2, "crashes", nan, 0);
	f->w.sample.crashes = 1;
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_true(f->w.reboot_requested);
	assert_int_equal(last(f, 120)->state, FL_STATE_TRIAL);
	reboot(f); /* the old image is back */
	assert_string_equal(fx_running(f), "1.0.0");
	assert_final(f, 120, FL_RESULT_REVERTED, "health:crashes");
	assert_int_equal(fl_slots_floor(fx_slots(f)), 1);
	assert_int_equal(f->w.reported.result, FL_RESULT_REVERTED);
	f->w.sample.crashes = 0;

	/* A limited metric that never shows up fails the trial too. */
	offer_with_limits(f, 121, 1, 2, "Free_Heap", 20000, nan);
	assert_int_equal(fx_run_for(f, 60000), 0);
	reboot(f);
	assert_final(f, 121, FL_RESULT_REVERTED, "health:free_heap");

	/* Within its limits it passes. */
	f->w.sample.n_metrics = 1;
	strcpy(f->w.sample.metrics[0].name, "Free_Heap");
	f->w.sample.metrics[0].value = 40000;
	offer_with_limits(f, 122, 1, 2, "Free_Heap", 20000, nan);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_final(f, 122, FL_RESULT_SUCCESS, "");
	fx_free(f);
}

static void test_agent__trial_needs_broker_boot_and_hook(void **state)
{
	struct fx *f = boot_new(1);
	double nan = NAN;

	(void)state;
	offer_with_limits(f, 130, 1, 2, "uptime_s", 0, nan);
	f->w.sample.hook = FL_AGENT_HOOK_FAIL;
	assert_int_equal(fx_run_for(f, 60000), 0);
	reboot(f);
	assert_final(f, 130, FL_RESULT_REVERTED, "health:hook");
	f->w.sample.hook = FL_AGENT_HOOK_PASS;

	f->w.sample.is_boot_ok = false;
	offer_with_limits(f, 131, 1, 2, "uptime_s", 0, nan);
	assert_int_equal(fx_run_for(f, 60000), 0);
	reboot(f);
	assert_final(f, 131, FL_RESULT_REVERTED, "health:boot");
	f->w.sample.is_boot_ok = true;
	f->w.sample.hook = FL_AGENT_HOOK_PENDING;
	offer_with_limits(f, 132, 1, 2, "uptime_s", 0, nan);
	assert_int_equal(fx_run_for(f, 60000), 0);
	reboot(f);
	assert_final(f, 132, FL_RESULT_REVERTED, "health:hook");
	fx_free(f);
}

static void test_agent__trial_without_broker_reverts(void **state)
{
	struct fx *f = boot_new(2);
	struct fl_cmd c;

	(void)state;
	assert_int_equal(fx_offer(f, 133, 1, 2, &c), 0);
	assert_int_equal(fx_run_for(f, 60000), 0);
	f->w.is_online = false;
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_SOFTWARE), 0);
	assert_string_equal(fx_running(f), "2.0.0");
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_true(f->w.reboot_requested);
	reboot(f);
	assert_string_equal(fx_running(f), "1.0.0");
	assert_final(f, 133, FL_RESULT_REVERTED, "health:broker");
	fx_free(f);
}

static void test_agent__boot_loader_revert_is_reported(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c;
	const struct fl_status *s;

	(void)state;
	assert_int_equal(fx_offer(f, 140, 1, 2, &c), 0);
	assert_int_equal(fx_run_for(f, 60000), 0);
	/* The trial boot dies (watchdog) before the agent commits: the
	 * boot loader returns to 1.0.0 and says nothing to the image. */
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_SOFTWARE), 0);
	assert_string_equal(fx_running(f), "2.0.0");
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_WATCHDOG), 0);
	assert_string_equal(fx_running(f), "1.0.0");
	assert_int_equal(fx_connect(f), 0);
	s = last(f, 140);
	assert_int_equal(s->state, FL_STATE_IDLE);
	assert_int_equal(s->result, FL_RESULT_REVERTED);
	assert_string_equal(s->reason, "not_confirmed");
	assert_int_equal(s->reset, FL_WIRE_RESET_WATCHDOG);
	assert_int_equal(f->w.reported.result, FL_RESULT_REVERTED);
	fx_free(f);
}

static void test_agent__external_boot_loader_revert_is_reported(void **state)
{
	struct fx *f = fx_new(lay(), 1, IMG_LEN);
	struct fl_cmd c;

	(void)state;
	f->dev.is_external = 1;
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_POWER_ON), 0);
	assert_int_equal(fx_connect(f), 0);
	assert_int_equal(fx_offer(f, 141, 1, 2, &c), 0);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_SOFTWARE), 0);
	assert_string_equal(fx_running(f), "2.0.0");
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_PANIC), 0);
	assert_string_equal(fx_running(f), "1.0.0");
	assert_int_equal(fx_connect(f), 0);
	assert_final(f, 141, FL_RESULT_REVERTED, "bootloader");
	assert_int_equal(last(f, 141)->reset, FL_WIRE_RESET_PANIC);
	/* And an update through it commits. */
	update(f, 142, 1, 2);
	fx_free(f);
}

static void test_agent__kill_after_activation_reboots_again(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c;

	(void)state;
	assert_int_equal(fx_offer(f, 150, 1, 2, &c), 0);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_true(f->w.reboot_requested);
	/* The process dies instead: systemd starts the agent again. */
	f->w.reboot_requested = false;
	assert_int_equal(fx_restart(f, NULL), 0);
	assert_true(f->w.reboot_requested);
	reboot(f);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_final(f, 150, FL_RESULT_SUCCESS, "");
	fx_free(f);
}

/* ---- rollback
 * ------------------------------------------------------------------ */

static void rollback_cmd(struct fx *f, uint32_t job, int i, uint64_t seq,
			 bool is_rollback)
{
	struct fl_manifest m;
	struct fl_manifest_env env;
	struct fl_cmd c;

	fx_manifest_of(&m, &f->img[i], seq);
	m.is_rollback = is_rollback;
	assert_int_equal(fx_seal(&env, &m, &f->key), 0);
	fx_cmd(&c, FL_CMD_ROLLBACK, job, &env);
	f->w.content = f->img[i].data;
	f->w.content_len = f->img[i].len;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
}

static void test_agent__rollback_switches_without_download(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c;

	(void)state;
	update(f, 160, 1, 2);
	rollback_cmd(f, 161, 0, 3, false);
	assert_final(f, 161, FL_RESULT_BAD_COMMAND, "not_a_rollback_manifest");
	rollback_cmd(f, 162, 0, 3, true);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_true(f->w.reboot_requested);
	assert_int_equal(f->w.n_starts, 1); /* only 2.0.0's download */
	reboot(f);
	assert_string_equal(fx_running(f), "1.0.0");
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_final(f, 162, FL_RESULT_ROLLED_BACK, "");
	assert_int_equal(fl_slots_floor(fx_slots(f)), 3);
	assert_int_equal(f->w.reported.floor, 3);
	/* The rolled-back version's old manifest is refused now. */
	assert_int_equal(fx_offer(f, 163, 1, 2, &c), 0);
	assert_final(f, 163, FL_RESULT_ANTI_ROLLBACK, "");
	fx_free(f);
}

static void test_agent__rollback_needs_the_rollback_key(void **state)
{
	struct fx *f = fx_new(lay(), 1, IMG_LEN);
	struct fl_manifest_key keys[2];
	uint8_t kids[1][FL_MANIFEST_KID_BYTES];
	struct fl_manifest m;
	struct fl_manifest_env env;
	struct fl_cmd c;

	(void)state;
	assert_non_null(f);
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_POWER_ON), 0);
	assert_int_equal(fx_connect(f), 0);
	update(f, 190, 1, 2);
	/* Both keys are trusted; only "other" (fleetd's) signs rollbacks. */
	keys[0] = f->key.pub;
	keys[1] = f->other.pub;
	memcpy(kids[0], f->other.pub.kid, FL_MANIFEST_KID_BYTES);
	f->run->agent.cfg.keys = keys;
	f->run->agent.cfg.n_keys = 2;
	f->run->agent.cfg.rollback_kids = kids;
	f->run->agent.cfg.n_rollback_kids = 1;
	rollback_cmd(f, 191, 0, 3, true); /* signed with the release key */
	assert_final(f, 191, FL_RESULT_BAD_SIGNATURE, "not_a_rollback_key");
	fx_manifest_of(&m, &f->img[0], 3);
	m.is_rollback = true;
	assert_int_equal(fx_seal(&env, &m, &f->other), 0);
	fx_cmd(&c, FL_CMD_ROLLBACK, 192, &env);
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_true(f->w.reboot_requested);
	assert_int_equal(fx_slots(f)->info[0].state, FL_SLOT_TRIAL);
	fx_free(f);
}

static void test_agent__rollback_during_trial_abandons_it(void **state)
{
	struct fx *f = boot_new(1);

	(void)state;
	to_trial(f, 170, 1, 2);
	rollback_cmd(f, 171, 0, 3, true);
	assert_final(f, 170, FL_RESULT_REVERTED, "rollback");
	assert_true(f->w.reboot_requested);
	reboot(f);
	assert_string_equal(fx_running(f), "1.0.0");
	assert_int_equal(fx_run_for(f, 10000), 0);
	assert_final(f, 171, FL_RESULT_ROLLED_BACK, "already_installed");
	assert_int_equal(f->w.n_starts, 1);
	fx_free(f);
}

static void test_agent__rollback_downloads_when_not_at_hand(void **state)
{
	struct fx *f = boot_new(1);

	(void)state;
	update(f, 180, 1, 2);
	update(f, 181, 2, 3);		  /* slot A now holds 3.0.0, B 2.0.0 */
	rollback_cmd(f, 182, 3, 4, true); /* 0.9.0: nowhere on the device */
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_int_equal(f->w.n_starts, 3);
	reboot(f);
	assert_string_equal(fx_running(f), "0.9.0");
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_final(f, 182, FL_RESULT_ROLLED_BACK, "");
	assert_int_equal(fl_slots_floor(fx_slots(f)), 4);
	fx_free(f);
}

static void test_agent__store_error_halts_until_restart(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_sim *sim = &f->run->hal.sim;
	struct fl_cmd c;

	(void)state;
	/* The save that takes the job fails: nothing is reported, and the
	 * agent does nothing more until it is started again. */
	sim->faults.eio_at = sim->ops + 1;
	assert_int_equal(fx_offer(f, 300, 1, 2, &c), FL_EIO);
	assert_null(fx_last(f, 300));
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), FL_EIO);
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), FL_EIO);
	assert_int_equal(f->w.n_starts, 0);
	/* Restarted, it takes the offer fleetd sends again. */
	assert_int_equal(fx_restart(f, NULL), 0);
	assert_int_equal(fx_connect(f), 0);
	assert_null(fx_last(f, 300));
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
	assert_int_equal(fx_run_for(f, 60000), 0);
	reboot(f);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_final(f, 300, FL_RESULT_SUCCESS, "");
	fx_free(f);
}

static void test_agent__offline_reports_sent_after_reconnect(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_cmd c;
	struct fl_agent_info info;

	(void)state;
	f->w.is_online = false;
	fl_agent_on_disconnect(&f->run->agent);
	f->w.facts.is_busy = true;
	assert_int_equal(fx_offer(f, 310, 1, 2, &c), 0);
	assert_int_equal(fx_run_for(f, 5000), 0);
	assert_null(fx_last(f, 310));
	fl_agent_info(&f->run->agent, &info);
	assert_int_equal(info.job, 310);
	assert_int_equal(info.phase, FL_AGENT_WAITING);
	assert_int_equal(info.result, FL_RESULT_RETRY_LATER);
	assert_string_equal(info.reason, "busy");
	assert_int_equal(fx_connect(f), 0);
	assert_int_equal(last(f, 310)->result, FL_RESULT_RETRY_LATER);
	assert_int_equal(f->w.reported.job, 310);
	assert_int_equal(f->w.reported.state, FL_STATE_WAITING);
	fx_free(f);
}

/* Offline with a health report due, the agent does not ask to be polled
 * again at once (a busy loop on a device that cannot reach its broker);
 * the report goes out at the reconnect. */
static void test_agent__offline_health_due_no_busy_poll(void **state)
{
	struct fx *f = boot_new(1);
	unsigned n_health, polls = 0;
	uint64_t end;

	(void)state;
	f->w.is_online = false;
	fl_agent_on_disconnect(&f->run->agent);
	n_health = f->w.n_health;
	/* ten health intervals (the default: 60 s) offline */
	end = f->w.mono_ms + 600000u;
	while (f->w.mono_ms < end) {
		uint32_t next = 0;

		assert_int_equal(fl_agent_poll(&f->run->agent, &next), 0);
		assert_true(next >= 1000u);
		polls++;
		fx_advance(f, next);
	}
	assert_true(polls <= 600u);
	assert_int_equal(f->w.n_health, n_health);
	assert_int_equal(fx_connect(f), 0);
	assert_int_equal(f->w.n_health, n_health + 1);
	/* and on schedule again once connected */
	assert_int_equal(fx_run_for(f, 61000), 0);
	assert_int_equal(f->w.n_health, n_health + 2);
	fx_free(f);
}

/* ---- stores and sizes
 * ------------------------------------------------------------ */

static void test_agent__state_format_round_trip(void **state)
{
	struct fl_agent_state a, b;
	uint8_t blob[FL_AGENT_BLOB_MAX];
	size_t n;

	(void)state;
	memset(&a, 0, sizeof(a));
	a.boot = 7;
	a.last_job = 99;
	a.precancelled = 100;
	a.job.id = 99;
	a.job.phase = FL_AGENT_DOWNLOADING;
	a.job.length = 1000;
	a.job.offset = 512;
	strcpy(a.job.version, "2.0.0");
	strcpy(a.job.url, "http://x/y");
	strcpy(a.job.validator, "\"e\"");
	a.job.n_limits = 1;
	strcpy(a.job.limits[0].metric, "temp_c");
	a.job.limits[0].has_max = true;
	a.job.limits[0].max = 71.5;
	a.key_floor = 3;
	n = fl_agent_state_encode(blob, &a);
	assert_int_equal(n, 728);
	assert_int_equal(blob[5], 2); /* revision */
	assert_int_equal(fl_agent_state_decode(&b, blob, n), 0);
	assert_int_equal(b.boot, 7);
	assert_int_equal(b.job.offset, 512);
	assert_string_equal(b.job.limits[0].metric, "temp_c");
	assert_true(b.job.limits[0].max == 71.5);
	assert_int_equal(b.key_floor, 3);
	assert_int_equal(fl_agent_state_decode(&b, blob, n - 1), FL_ECORRUPT);
	/* Revision 0 (646 bytes, an older agent's): read, key floor 0. */
	blob[5] = 0;
	assert_int_equal(fl_agent_state_decode(&b, blob, 646), 0);
	assert_int_equal(b.key_floor, 0);
	assert_int_equal(b.boot, 7);
	assert_int_equal(fl_agent_state_decode(&b, blob, 645), FL_ECORRUPT);
	/* Revision 1 (650 bytes): read, no encrypted job. */
	blob[5] = 1;
	assert_int_equal(fl_agent_state_decode(&b, blob, 650), 0);
	assert_int_equal(b.key_floor, 3);
	blob[5] = 2;
	assert_int_equal(fl_agent_state_decode(&b, blob, 650), FL_ECORRUPT);
	memset(blob + 100, 'x', 32); /* version without its NUL */
	assert_int_equal(fl_agent_state_decode(&b, blob, n), FL_ECORRUPT);
}

static void test_agent__flash_store_keeps_the_last_good_copy(void **state)
{
	struct fx *f = fx_new(lay(), 1, IMG_LEN);
	struct fl_sim sim;
	struct fl_area area;
	struct fl_agent_flash_store st;
	uint8_t buf[FL_AGENT_BLOB_MAX];
	size_t len = 0;
	uint32_t off = fx_store_off(f->lay);

	(void)state;
	fl_sim_init(&sim, &f->lay->geom, f->dev.mem, NULL);
	assert_int_equal(fl_area_init(&area, &sim.flash, off, 8192), 0);
	assert_int_equal(fl_agent_flash_store_init(&st, &area), 0);
	assert_int_equal(
		fl_agent_flash_store_ops.load(&st, buf, sizeof(buf), &len),
		FL_ENOENT);
	assert_int_equal(
		fl_agent_flash_store_ops.save(&st, (const uint8_t *)"one", 3),
		0);
	assert_int_equal(
		fl_agent_flash_store_ops.save(&st, (const uint8_t *)"two!", 4),
		0);
	assert_int_equal(
		fl_agent_flash_store_ops.load(&st, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(buf, "two!", 4);
	/* Garbage over the newest copy: the older one is in force. */
	f->dev.mem[off + 4096 + 17] ^= 0x40;
	assert_int_equal(fl_agent_flash_store_init(&st, &area), 0);
	assert_int_equal(
		fl_agent_flash_store_ops.load(&st, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 3);
	assert_int_equal(fl_agent_flash_store_ops.load(&st, buf, 2, &len),
			 FL_ETOOBIG);
	/* A save goes over the bad copy. */
	assert_int_equal(
		fl_agent_flash_store_ops.save(&st, (const uint8_t *)"3", 1), 0);
	assert_int_equal(
		fl_agent_flash_store_ops.load(&st, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 1);
	assert_int_equal(fl_area_init(&area, &sim.flash, off, 4096), 0);
	assert_int_equal(fl_agent_flash_store_init(&st, &area), FL_EINVAL);
	fx_free(f);
}

static void test_agent__bad_config_refused(void **state)
{
	struct fx *f = boot_new(1);
	struct fl_agent_config c = f->run->cfg;
	static struct fl_agent a;
	struct fl_agent_transport_ops t = fx_transport_ops;

	(void)state;
	c.model = NULL;
	assert_int_equal(fl_agent_init(&a, &c), FL_EINVAL);
	c = f->run->cfg;
	c.n_keys = 0;
	assert_int_equal(fl_agent_init(&a, &c), FL_EINVAL);
	c = f->run->cfg;
	t.version = 2;
	c.transport.ops = &t;
	assert_int_equal(fl_agent_init(&a, &c), FL_EINVAL);
	fx_free(f);
}

static void test_agent__sizes(void **state)
{
	(void)state;
	printf("[ sizes    ] struct fl_agent %zu bytes (state %zu, "
	       "installer %zu, scratch %zu, status %zu, sample %zu); "
	       "struct fl_agent_flash_store %zu; struct fl_slots %zu; "
	       "persisted blob %u bytes\n",
	       sizeof(struct fl_agent), sizeof(struct fl_agent_state),
	       sizeof(struct fl_install),
	       sizeof(((struct fl_agent *)0)->scratch),
	       sizeof(struct fl_status), sizeof(struct fl_agent_health_sample),
	       sizeof(struct fl_agent_flash_store), sizeof(struct fl_slots),
	       646u);
	assert_true(sizeof(struct fl_agent) < 8192);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent__fresh_device_reports_inventory),
		cmocka_unit_test(
			test_agent__offer_downloads_activates_and_commits),
		cmocka_unit_test(
			test_agent__already_installed_succeeds_at_once),
		cmocka_unit_test(
			test_agent__preconditions_retry_later_then_proceed),
		cmocka_unit_test(test_agent__offer_ready_at_once_is_saved_once),
		cmocka_unit_test(test_agent__blackout_waits_until_its_end),
		cmocka_unit_test(
			test_agent__preconditions_rejected_after_max_waits),
		cmocka_unit_test(test_agent__application_veto_rejects),
		cmocka_unit_test(
			test_agent__preconditions_checked_again_before_reboot),
		cmocka_unit_test(test_agent__download_resumes_with_range),
		cmocka_unit_test(test_agent__download_resumes_after_power_loss),
		cmocka_unit_test(
			test_agent__if_range_mismatch_restarts_at_zero),
		cmocka_unit_test(test_agent__oversize_data_refused),
		cmocka_unit_test(test_agent__wrong_bytes_fail_the_digest),
		cmocka_unit_test(test_agent__spliced_image_fetched_again_once),
		cmocka_unit_test(test_agent__http_errors),
		cmocka_unit_test(test_agent__manifest_refusals_install_nothing),
		cmocka_unit_test(test_agent__anti_rollback_floor),
		cmocka_unit_test(
			test_agent__duplicate_stale_and_replayed_commands),
		cmocka_unit_test(
			test_agent__expired_command_answered_not_taken),
		cmocka_unit_test(test_agent__malformed_and_oversized_commands),
		cmocka_unit_test(test_agent__cancel_in_each_phase),
		cmocka_unit_test(test_agent__cancel_before_its_offer),
		cmocka_unit_test(test_agent__newer_offer_supersedes),
		cmocka_unit_test(test_agent__offer_during_trial_is_not_taken),
		cmocka_unit_test(test_agent__window_activation),
		cmocka_unit_test(test_agent__idle_activation),
		cmocka_unit_test(
			test_agent__health_failure_rejects_and_reverts),
		cmocka_unit_test(test_agent__offline_health_due_no_busy_poll),
		cmocka_unit_test(test_agent__trial_needs_broker_boot_and_hook),
		cmocka_unit_test(test_agent__trial_without_broker_reverts),
		cmocka_unit_test(test_agent__boot_loader_revert_is_reported),
		cmocka_unit_test(
			test_agent__external_boot_loader_revert_is_reported),
		cmocka_unit_test(
			test_agent__kill_after_activation_reboots_again),
		cmocka_unit_test(
			test_agent__rollback_switches_without_download),
		cmocka_unit_test(test_agent__rollback_needs_the_rollback_key),
		cmocka_unit_test(test_agent__rollback_during_trial_abandons_it),
		cmocka_unit_test(
			test_agent__rollback_downloads_when_not_at_hand),
		cmocka_unit_test(test_agent__store_error_halts_until_restart),
		cmocka_unit_test(
			test_agent__offline_reports_sent_after_reconnect),
		cmocka_unit_test(test_agent__state_format_round_trip),
		cmocka_unit_test(
			test_agent__flash_store_keeps_the_last_good_copy),
		cmocka_unit_test(test_agent__bad_config_refused),
		cmocka_unit_test(test_agent__sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
