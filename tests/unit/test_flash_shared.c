/*
 * test_flash_shared.c -- fleet-sim's shared-page flash (agent/sim,
 * fl/flash_shared.h) and simulated device (fl/simdev.h): NOR rules; the
 * same results as firmware-hal's simulator, byte for byte, on random
 * operations with and without every kind of fault; sharing (N devices
 * with the same image cost about one image, and equal images written by
 * each device are shared again); isolation between clones; allocation
 * failures; and a power-cut sweep of a whole install on a cloned device.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fl/crypto_openssl.h"
#include "fl/err.h"
#include "fl/flash_shared.h"
#include "fl/flash_sim.h"
#include "fl/installer.h"
#include "fl/simdev.h"

#define UNIT  4096u
#define UNITS 80u /* more than two leaves */
#define SIZE  (UNITS * UNIT)

static uint64_t rng_state;

static uint32_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return (uint32_t)(x >> 11);
}

static void fill(uint8_t *d, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 7;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		d[i] = (uint8_t)x;
	}
}

static struct fl_shpool *pool_new(uint32_t fail_at, uint64_t max_bytes)
{
	struct fl_shpool_config c = {UNIT, 0xFF, max_bytes, fail_at};
	struct fl_shpool *p = NULL;

	assert_int_equal(fl_shpool_new(&p, &c), 0);
	return p;
}

static uint64_t pool_bytes(const struct fl_shpool *p)
{
	struct fl_shpool_stats st;

	fl_shpool_stats(p, &st);
	return st.bytes;
}

/* Every flash of the pool released: no page, no leaf left. */
static void assert_empty(const struct fl_shpool *p)
{
	struct fl_shpool_stats st;

	fl_shpool_stats(p, &st);
	assert_int_equal(st.pages, 0);
	assert_int_equal(st.page_bytes, 0);
	assert_int_equal(st.leaves, 0);
}

/* ---- rules --------------------------------------------------------------- */

static void test_shflash__config_is_checked(void **state)
{
	struct fl_shpool_config c = {3000, 0xFF, 0, 0};
	struct fl_shpool *p = NULL;
	struct fl_shflash f;

	(void)state;
	assert_int_equal(fl_shpool_new(&p, &c), FL_EINVAL);
	c.page_bytes = 128;
	assert_int_equal(fl_shpool_new(&p, &c), FL_EINVAL);
	p = pool_new(0, 0);
	assert_int_equal(fl_shflash_init(&f, p, SIZE + 1, 1, NULL), FL_EINVAL);
	assert_int_equal(fl_shflash_init(&f, p, SIZE, 3, NULL), FL_EINVAL);
	assert_int_equal(fl_shflash_init(&f, p, SIZE, 8192, NULL), FL_EINVAL);
	fl_shpool_free(p);
}

static void test_shflash__nor_rules(void **state)
{
	struct fl_shpool *p = pool_new(0, 0);
	struct fl_shflash f;
	struct fl_area a;
	uint8_t buf[64], got[64];

	(void)state;
	assert_int_equal(fl_shflash_init(&f, p, SIZE, 16, NULL), 0);
	assert_int_equal(fl_area_init(&a, &f.flash, 0, SIZE), 0);
	/* Erased reads as 0xFF and costs no page. */
	assert_int_equal(fl_area_read(&a, 5000, got, sizeof(got)), 0);
	for (unsigned i = 0; i < sizeof(got); i++)
		assert_int_equal(got[i], 0xFF);
	fill(buf, sizeof(buf), 1);
	assert_int_equal(fl_area_write(&a, UNIT - 32, buf, sizeof(buf)), 0);
	assert_int_equal(fl_area_read(&a, UNIT - 32, got, sizeof(got)), 0);
	assert_memory_equal(buf, got, sizeof(buf));
	/* Programming over programmed bytes is refused and changes
	 * nothing. */
	memset(buf, 0, 16);
	assert_int_equal(fl_area_write(&a, UNIT, buf, 16), FL_ENOTERASED);
	assert_int_equal(fl_area_read(&a, UNIT - 32, got, sizeof(got)), 0);
	fill(buf, sizeof(buf), 1);
	assert_memory_equal(buf, got, sizeof(got));
	assert_int_equal(fl_area_write(&a, 8, buf, 15), FL_EALIGN);
	/* Erase sets the whole unit and only it. */
	assert_int_equal(fl_area_erase(&a, UNIT, UNIT), 0);
	assert_int_equal(fl_area_read(&a, UNIT - 32, got, sizeof(got)), 0);
	assert_memory_equal(buf, got, 32);
	for (unsigned i = 32; i < sizeof(got); i++)
		assert_int_equal(got[i], 0xFF);
	assert_int_equal(fl_area_write(&a, UNIT, buf, 16), 0);
	assert_int_equal(fl_area_sync(&a), 0);
	fl_shflash_release(&f);
	assert_empty(p);
	fl_shpool_free(p);
}

/* ---- the same as firmware-hal's simulator -------------------------------- */

struct pair {
	struct fl_sim sim;
	uint8_t *mem;
	struct fl_shflash sh;
	struct fl_area a, b; /* sim, shared */
};

static void pair_init(struct pair *pr, struct fl_shpool *p, uint32_t wunit,
		      const struct fl_sim_faults *f)
{
	struct fl_flash_geom g = {SIZE, UNIT, wunit, 0xFF};

	pr->mem = malloc(SIZE);
	assert_non_null(pr->mem);
	assert_int_equal(fl_sim_init(&pr->sim, &g, pr->mem, f), 0);
	fl_sim_wipe(&pr->sim);
	assert_int_equal(fl_shflash_init(&pr->sh, p, SIZE, wunit, f), 0);
	assert_int_equal(fl_area_init(&pr->a, &pr->sim.flash, 0, SIZE), 0);
	assert_int_equal(fl_area_init(&pr->b, &pr->sh.flash, 0, SIZE), 0);
}

static void pair_free(struct pair *pr)
{
	fl_shflash_release(&pr->sh);
	free(pr->mem);
}

/* The shared flash's whole contents equal the simulator's memory (read
 * with power back on, as the next boot would). */
static void pair_compare(struct pair *pr)
{
	uint8_t *got = malloc(SIZE);
	struct fl_sim_faults none;

	assert_non_null(got);
	memset(&none, 0, sizeof(none));
	fl_shflash_power_on(&pr->sh, &none);
	assert_int_equal(fl_area_read(&pr->b, 0, got, SIZE), 0);
	assert_memory_equal(got, pr->mem, SIZE);
	free(got);
}

/* One random operation on both; they must answer the same. Returns the
 * answer. */
static int pair_step(struct pair *pr, uint32_t wunit)
{
	static uint8_t buf[3 * UNIT], got_a[3 * UNIT], got_b[3 * UNIT];
	uint32_t kind = rnd() % 10, off, len;
	int ra, rb;

	switch (kind) {
	case 0:
	case 1: /* erase 1 to 3 units */
		off = rnd() % UNITS * UNIT;
		len = (1 + rnd() % 3) * UNIT;
		if (off + len > SIZE)
			len = SIZE - off;
		ra = fl_area_erase(&pr->a, off, len);
		rb = fl_area_erase(&pr->b, off, len);
		break;
	case 2: /* sync */
		ra = fl_area_sync(&pr->a);
		rb = fl_area_sync(&pr->b);
		break;
	case 3: /* read */
		off = rnd() % (SIZE - 1);
		len = 1 + rnd() % (2 * UNIT);
		if (off + len > SIZE)
			len = SIZE - off;
		ra = fl_area_read(&pr->a, off, got_a, len);
		rb = fl_area_read(&pr->b, off, got_b, len);
		if (ra == 0 && rb == 0)
			assert_memory_equal(got_a, got_b, len);
		break;
	default: /* write, sometimes across units, sometimes over data */
		off = rnd() % (SIZE / wunit) * wunit;
		len = (1 + rnd() % (2 * UNIT / wunit)) * wunit;
		if (off + len > SIZE)
			len = SIZE - off;
		fill(buf, len, rnd());
		if (rnd() % 4 == 0)
			memset(buf, 0xFF, len / 2); /* erased-looking data */
		ra = fl_area_write(&pr->a, off, buf, len);
		rb = fl_area_write(&pr->b, off, buf, len);
		break;
	}
	assert_int_equal(ra, rb);
	return ra;
}

static void test_shflash__same_as_simulator(void **state)
{
	static const uint32_t wunits[] = {1, 16, 256};
	struct fl_shpool *p = pool_new(0, 0);

	(void)state;
	for (unsigned w = 0; w < 3; w++) {
		struct pair pr;

		rng_state = 0x1234567ull + w;
		pair_init(&pr, p, wunits[w], NULL);
		for (unsigned i = 0; i < 3000; i++)
			(void)pair_step(&pr, wunits[w]);
		pair_compare(&pr);
		pair_free(&pr);
	}
	assert_empty(p);
	fl_shpool_free(p);
}

/* Every cut mode and I/O error, at many points of random sequences:
 * same answers, same damage. */
static void test_shflash__same_faults_as_simulator(void **state)
{
	struct fl_shpool *p = pool_new(0, 0);
	unsigned cuts = 0;

	(void)state;
	for (unsigned run = 0; run < 60; run++) {
		struct fl_sim_faults f;
		struct pair pr;
		uint32_t w = run % 2 ? 16 : 1;
		unsigned i;

		memset(&f, 0, sizeof(f));
		if (run % 5 == 4) {
			f.eio_at = 20 + run * 3;
			f.is_eio_sticky = (uint8_t)(run % 2);
		} else {
			f.cut_at = 20 + run * 7;
			f.cut_mode = (uint8_t)(run % FL_SIM_CUT_MODES);
			f.torn_bytes = run % 3 == 0 ? 5 : 0;
		}
		f.seed = 1000 + run;
		rng_state = 0xABCDEFull + run;
		pair_init(&pr, p, w, &f);
		for (i = 0; i < 600; i++)
			(void)pair_step(&pr, w);
		assert_int_equal(pr.sh.is_powered, pr.sim.is_powered);
		if (!pr.sim.is_powered) {
			assert_int_equal(pr.sh.last_cut_op, pr.sim.last_cut_op);
			cuts++;
		}
		pair_compare(&pr);
		pair_free(&pr);
	}
	assert_true(cuts >= 30);
	assert_empty(p);
	fl_shpool_free(p);
}

/* ---- sharing ------------------------------------------------------------- */

#define N_DEV	 100
#define IMG_LEN	 (200 * 1024 + 77)
#define SLOT_LEN (256 * 1024)

static void test_shflash__devices_share_one_image(void **state)
{
	struct fl_simdev_layout l;
	struct fl_shpool *p = pool_new(0, 0);
	struct fl_shflash tmpl, *dev = calloc(N_DEV, sizeof(*dev));
	struct fl_slots *scratch = malloc(sizeof(*scratch));
	uint8_t *img = malloc(IMG_LEN), *img2 = malloc(IMG_LEN);
	uint64_t base, one, after_clones, after_writes;
	struct fl_shpool_stats st;

	(void)state;
	fill(img, IMG_LEN, 11);
	fill(img2, IMG_LEN, 12);
	assert_int_equal(fl_simdev_layout_make(&l, UNIT, 16, SLOT_LEN, 0xFF),
			 0);
	base = pool_bytes(p);
	assert_int_equal(fl_shflash_init(&tmpl, p, l.geom.size_bytes, 16, NULL),
			 0);
	assert_int_equal(fl_simdev_provision(&tmpl.flash, &l,
					     &fl_crypto_openssl, img, IMG_LEN,
					     "1.0.0", 1, scratch),
			 0);
	fl_shflash_settle(&tmpl);
	one = pool_bytes(p) - base;
	assert_true(one >= IMG_LEN);
	assert_true(one < IMG_LEN + IMG_LEN / 8);

	for (unsigned i = 0; i < N_DEV; i++)
		assert_int_equal(fl_shflash_clone(&dev[i], &tmpl), 0);
	after_clones = pool_bytes(p) - base;
	/* A clone costs its directory only. */
	assert_true(after_clones - one <= N_DEV * 64u);
	assert_true(fl_shflash_own_bytes(&dev[0]) <= 64u);

	/* Every device boots its copy and writes the same new image into
	 * slot B through the installer: still about one more image, plus
	 * each device's own records and leaves. */
	for (unsigned i = 0; i < N_DEV; i++) {
		struct fl_simdev_run *r = calloc(1, sizeof(*r));
		struct fl_install *in = calloc(1, sizeof(*in));
		struct fl_install_target t;

		assert_int_equal(fl_simdev_power_on(r, &dev[i].flash, &l,
						    &fl_crypto_openssl, 1,
						    FL_RESET_POWER_ON, scratch),
				 0);
		assert_string_equal(fl_simdev_running(r), "1.0.0");
		memset(&t, 0, sizeof(t));
		t.attempt_id = 7;
		t.image_len = IMG_LEN;
		t.counter = 2;
		strcpy(t.version, "2.0.0");
		assert_int_equal(
			fl_sha256(&fl_crypto_openssl, img2, IMG_LEN, t.sha256),
			0);
		assert_int_equal(fl_install_begin(in, &r->slots, &t), 0);
		for (uint32_t off = 0; off < IMG_LEN; off += 1000)
			assert_int_equal(
				fl_install_write(in, img2 + off,
						 IMG_LEN - off < 1000
							 ? IMG_LEN - off
							 : 1000),
				0);
		assert_int_equal(fl_install_finish(in), 0);
		assert_int_equal(fl_install_activate(in), 0);
		free(in);
		/* Reboot into the trial and commit. */
		assert_int_equal(fl_simdev_power_on(r, &dev[i].flash, &l,
						    &fl_crypto_openssl, 1,
						    FL_RESET_SOFTWARE, scratch),
				 0);
		assert_string_equal(fl_simdev_running(r), "2.0.0");
		assert_int_equal(fl_slots_confirm(&r->slots), 0);
		free(r);
	}
	after_writes = pool_bytes(p) - base;
	fl_shpool_stats(p, &st);
	print_message("one image %llu B; %d clones %llu B; after %d installs "
		      "%llu B (%llu pages, %llu shared on write)\n",
		      (unsigned long long)one, N_DEV,
		      (unsigned long long)after_clones, N_DEV,
		      (unsigned long long)after_writes,
		      (unsigned long long)st.pages,
		      (unsigned long long)st.dedup_hits);
	assert_true(after_writes < 2 * one + N_DEV * 4096u);
	assert_true(fl_shflash_own_bytes(&dev[0]) < 4096u);

	/* The template still holds the factory state. */
	{
		struct fl_simdev_run *r = calloc(1, sizeof(*r));

		assert_int_equal(fl_simdev_power_on(r, &tmpl.flash, &l,
						    &fl_crypto_openssl, 1,
						    FL_RESET_POWER_ON, scratch),
				 0);
		assert_string_equal(fl_simdev_running(r), "1.0.0");
		assert_int_equal(r->slots.info[1].state, FL_SLOT_EMPTY);
		free(r);
	}
	for (unsigned i = 0; i < N_DEV; i++)
		fl_shflash_release(&dev[i]);
	fl_shflash_release(&tmpl);
	/* Everything came back. */
	assert_empty(p);
	fl_shpool_free(p);
	free(dev);
	free(scratch);
	free(img);
	free(img2);
}

static void test_shflash__clones_are_isolated(void **state)
{
	struct fl_shpool *p = pool_new(0, 0);
	struct fl_shflash a, b;
	struct fl_area aa, ab;
	uint8_t buf[UNIT], got[UNIT], want[UNIT];

	(void)state;
	assert_int_equal(fl_shflash_init(&a, p, SIZE, 16, NULL), 0);
	assert_int_equal(fl_area_init(&aa, &a.flash, 0, SIZE), 0);
	fill(buf, UNIT, 3);
	memcpy(want, buf, UNIT);
	assert_int_equal(fl_area_write(&aa, 0, buf, 2048), 0);
	/* Clone mid-unit: b gets the settled half unit. */
	assert_int_equal(fl_shflash_clone(&b, &a), 0);
	assert_int_equal(fl_area_init(&ab, &b.flash, 0, SIZE), 0);
	assert_int_equal(fl_area_write(&aa, 2048, buf + 2048, 2048), 0);
	assert_int_equal(fl_area_read(&ab, 0, got, UNIT), 0);
	assert_memory_equal(got, want, 2048);
	for (unsigned i = 2048; i < UNIT; i++)
		assert_int_equal(got[i], 0xFF);
	/* b programs other bytes into the same unit and erases another;
	 * a does not see it. */
	fill(buf, UNIT, 4);
	assert_int_equal(fl_area_write(&ab, 2048, buf, 1024), 0);
	assert_int_equal(fl_area_read(&aa, 0, got, UNIT), 0);
	assert_memory_equal(got, want, UNIT);
	assert_int_equal(fl_area_erase(&ab, 0, UNIT), 0);
	assert_int_equal(fl_area_read(&aa, 0, got, UNIT), 0);
	assert_memory_equal(got, want, UNIT);
	/* A cut on b lands on b only. */
	{
		struct fl_sim_faults f;

		memset(&f, 0, sizeof(f));
		f.cut_at = b.ops + 1;
		f.cut_mode = FL_SIM_CUT_GARBAGE;
		f.seed = 9;
		fl_shflash_set_faults(&b, &f);
		assert_int_equal(fl_area_write(&ab, UNIT, buf, UNIT),
				 FL_EPOWER);
		assert_int_equal(fl_area_read(&ab, 0, got, 16), FL_EPOWER);
		assert_int_equal(fl_area_read(&aa, UNIT, got, UNIT), 0);
		for (unsigned i = 0; i < UNIT; i++)
			assert_int_equal(got[i], 0xFF);
	}
	fl_shflash_release(&a);
	fl_shflash_release(&b);
	assert_empty(p);
	fl_shpool_free(p);
}

/* Each allocation of a write sequence fails in turn: the operation
 * returns FL_ENOMEM, nothing leaks, and the flash still reads back what
 * the operations that succeeded wrote. */
static void test_shflash__allocation_failures(void **state)
{
	uint8_t buf[3 * UNIT], got[3 * UNIT];
	unsigned failed = 0;

	(void)state;
	fill(buf, sizeof(buf), 5);
	for (uint32_t n = 1; n < 40; n++) {
		struct fl_shpool *p = pool_new(n, 0);
		struct fl_shflash f, c;
		struct fl_area a;
		int rc;

		rc = fl_shflash_init(&f, p, SIZE, 16, NULL);
		if (rc != 0) {
			assert_int_equal(rc, FL_ENOMEM);
			failed++;
			fl_shpool_free(p);
			continue;
		}
		assert_int_equal(fl_area_init(&a, &f.flash, 0, SIZE), 0);
		rc = fl_area_write(&a, UNIT / 2, buf, sizeof(buf) - UNIT);
		if (rc == 0)
			rc = fl_area_sync(&a);
		if (rc == 0)
			rc = fl_shflash_clone(&c, &f);
		if (rc == 0) {
			rc = fl_area_erase(&a, UNIT, UNIT);
			fl_shflash_release(&c);
		}
		if (rc != 0) {
			assert_int_equal(rc, FL_ENOMEM);
			failed++;
		} else {
			assert_int_equal(
				fl_area_read(&a, UNIT / 2, got, UNIT / 2), 0);
			assert_memory_equal(got, buf, UNIT / 2);
		}
		fl_shflash_release(&f);
		assert_empty(p);
		fl_shpool_free(p);
	}
	assert_true(failed > 3);
}

static void test_shflash__memory_limit(void **state)
{
	struct fl_shpool *p = pool_new(0, 64 * 1024);
	struct fl_shflash f;
	struct fl_area a;
	uint8_t buf[UNIT];
	int rc = 0;
	unsigned i;

	(void)state;
	assert_int_equal(fl_shflash_init(&f, p, SIZE, 16, NULL), 0);
	assert_int_equal(fl_area_init(&a, &f.flash, 0, SIZE), 0);
	for (i = 0; i < UNITS && rc == 0; i++) {
		fill(buf, UNIT, i);
		rc = fl_area_write(&a, i * UNIT, buf, UNIT);
	}
	assert_int_equal(rc, FL_ENOMEM);
	assert_true(i > 8 && i < 20);
	assert_true(pool_bytes(p) <= 64 * 1024);
	fl_shflash_release(&f);
	assert_empty(p);
	fl_shpool_free(p);
}

/* ---- power cuts through a whole install ---------------------------------- */

/* Counts the flash operations of a clean install of a new image on a
 * clone, then cuts power at each of them in turn (each mode), powers on
 * from the flash alone and checks that the device boots the old or the
 * new image, never nothing, and that the template is untouched. */
static void test_shflash__install_survives_every_cut(void **state)
{
	enum { LEN = 20000 };
	struct fl_simdev_layout l;
	struct fl_shpool *p = pool_new(0, 0);
	struct fl_shflash tmpl, d;
	struct fl_slots *scratch = malloc(sizeof(*scratch));
	struct fl_simdev_run *r = malloc(sizeof(*r));
	struct fl_install *in = malloc(sizeof(*in));
	uint8_t *img = malloc(LEN), *img2 = malloc(LEN);
	struct fl_install_target t;
	struct fl_shpool_stats st0, st;
	uint32_t total = 0, cuts = 0, news = 0;

	(void)state;
	fill(img, LEN, 21);
	fill(img2, LEN, 22);
	assert_int_equal(fl_simdev_layout_make(&l, UNIT, 16, 32768, 0xFF), 0);
	assert_int_equal(fl_shflash_init(&tmpl, p, l.geom.size_bytes, 16, NULL),
			 0);
	assert_int_equal(fl_simdev_provision(&tmpl.flash, &l,
					     &fl_crypto_openssl, img, LEN,
					     "1.0.0", 1, scratch),
			 0);
	fl_shflash_settle(&tmpl);
	fl_shpool_stats(p, &st0);
	memset(&t, 0, sizeof(t));
	t.attempt_id = 3;
	t.image_len = LEN;
	t.counter = 2;
	strcpy(t.version, "2.0.0");
	assert_int_equal(fl_sha256(&fl_crypto_openssl, img2, LEN, t.sha256), 0);

	for (uint32_t cut = 0;; cut++) {
		for (uint8_t mode = 0; mode < FL_SIM_CUT_MODES; mode++) {
			struct fl_sim_faults f;
			uint32_t ops0;
			int rc;

			assert_int_equal(fl_shflash_clone(&d, &tmpl), 0);
			assert_int_equal(
				fl_simdev_power_on(r, &d.flash, &l,
						   &fl_crypto_openssl, 1,
						   FL_RESET_POWER_ON, scratch),
				0);
			ops0 = d.ops;
			memset(&f, 0, sizeof(f));
			f.cut_at = cut == 0 ? 0 : ops0 + cut;
			f.cut_mode = mode;
			f.seed = cut * 3 + mode;
			fl_shflash_set_faults(&d, &f);
			rc = fl_install_begin(in, &r->slots, &t);
			for (uint32_t off = 0; rc == 0 && off < LEN; off += 700)
				rc = fl_install_write(
					in, img2 + off,
					LEN - off < 700 ? LEN - off : 700);
			if (rc == 0)
				rc = fl_install_finish(in);
			if (rc == 0)
				rc = fl_install_activate(in);
			if (cut == 0) {
				assert_int_equal(rc, 0);
				total = d.ops - ops0;
			} else {
				assert_int_equal(rc, FL_EPOWER);
				cuts++;
			}
			/* Power on from the flash alone. */
			fl_shflash_power_on(&d, NULL);
			assert_int_equal(
				fl_simdev_power_on(r, &d.flash, &l,
						   &fl_crypto_openssl, 1,
						   FL_RESET_POWER_ON, scratch),
				0);
			if (strcmp(fl_simdev_running(r), "2.0.0") == 0)
				news++;
			else
				assert_string_equal(fl_simdev_running(r),
						    "1.0.0");
			fl_shflash_release(&d);
			fl_shpool_stats(p, &st);
			assert_int_equal(st.pages, st0.pages);
			assert_int_equal(st.leaves, st0.leaves);
			if (cut == 0)
				break;
		}
		if (cut > 0 && cut >= total)
			break;
	}
	print_message("install: %u flash operations, %u cuts, %u booted the "
		      "new image\n",
		      total, cuts, news);
	assert_true(total > 40);
	assert_true(news > 0); /* cuts after the trial record */
	fl_shflash_release(&tmpl);
	assert_empty(p);
	fl_shpool_free(p);
	free(scratch);
	free(r);
	free(in);
	free(img);
	free(img2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shflash__config_is_checked),
		cmocka_unit_test(test_shflash__nor_rules),
		cmocka_unit_test(test_shflash__same_as_simulator),
		cmocka_unit_test(test_shflash__same_faults_as_simulator),
		cmocka_unit_test(test_shflash__devices_share_one_image),
		cmocka_unit_test(test_shflash__clones_are_isolated),
		cmocka_unit_test(test_shflash__allocation_failures),
		cmocka_unit_test(test_shflash__memory_limit),
		cmocka_unit_test(test_shflash__install_survives_every_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
