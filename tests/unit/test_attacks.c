/*
 * test_attacks.c -- one test per attack on a device's updates, each
 * through agent/core on the simulated device of agent_fixture.h (its flash,
 * slot manager, flash store and fake ports): the refusal's result and
 * reason must be the specific one of docs/protocol.md, and nothing may be
 * installed or changed.
 *
 * "Nothing changed" is checked on bytes. For an attack refused at the
 * manifest (tampered manifest or certificate, unknown key or root, revoked
 * or expired key, wrong role, downgrade, wrong model, expired manifest,
 * replayed command) the whole flash is compared before and after: slot
 * records, both slots and the agent's store (so its persisted state, its
 * last job and its key floor), and the anti-rollback floor. For an attack
 * on the image itself (tampered image, download longer than signed) the
 * offer is genuine and is taken, so the install begins; then what must
 * hold is that nothing becomes bootable: the booted slot's records and
 * image are byte-identical, the target slot ends BAD (never STAGED or
 * TRIAL), nothing past the signed length reaches it, and the floor and
 * key floor do not move.
 *
 * The device trusts one root (envelope 2) and, as the fixture sets it up,
 * one signing key directly (envelope 1). Signing keys are certified here
 * with the codec's fl_manifest_certify(), as fleet-manifest and fleetd do.
 * The same attacks over the wire, against fleet-agent, a real broker and
 * a real HTTP server: tests/integration/fleet_agent_attacks.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "agent_fixture.h"
#include "fl/bytes.h"

#define IMG_LEN (40 * 1024 + 5)
#define YEAR_S	(365ull * 86400)

struct at {
	struct fx *f;
	struct fx_key root, s1, s2, stranger;
	struct fl_manifest_key roots[1];
	uint8_t cert1[FL_CERT_BYTES]; /* s1: generation 1, floor 1 */
	uint8_t cert2[FL_CERT_BYTES]; /* s2: generation 2, floor 2 */
};

static struct at *at;

static void certify(uint8_t out[FL_CERT_BYTES], const struct fx_key *root,
		    const struct fx_key *key, uint16_t generation,
		    uint16_t floor, uint8_t roles, uint64_t not_before,
		    uint64_t not_after)
{
	struct fl_manifest_cert c;

	memset(&c, 0, sizeof(c));
	c.roles = roles;
	c.generation = generation;
	c.floor = floor;
	memcpy(c.root_kid, root->pub.kid, FL_MANIFEST_KID_BYTES);
	c.not_before = not_before;
	c.not_after = not_after;
	memcpy(c.pub, key->pub.pub, FL_MANIFEST_PUB_BYTES);
	assert_int_equal(fl_manifest_certify(out, &c, &fl_crypto_openssl,
					     fx_sign, root->pkey),
			 0);
}

#define ROLES_ALL (FL_CERT_ROLE_RELEASE | FL_CERT_ROLE_ROLLBACK)

static int setup(void **state)
{
	(void)state;
	at = calloc(1, sizeof(*at));
	assert_non_null(at);
	at->f = fx_new(&fx_layouts[0], 1, IMG_LEN);
	assert_non_null(at->f);
	assert_int_equal(fx_key_make(&at->root), 0);
	assert_int_equal(fx_key_make(&at->s1), 0);
	assert_int_equal(fx_key_make(&at->s2), 0);
	assert_int_equal(fx_key_make(&at->stranger), 0);
	at->roots[0] = at->root.pub;
	certify(at->cert1, &at->root, &at->s1, 1, 1, ROLES_ALL, FX_T0 - YEAR_S,
		FX_T0 + YEAR_S);
	certify(at->cert2, &at->root, &at->s2, 2, 2, ROLES_ALL, FX_T0 - YEAR_S,
		FX_T0 + YEAR_S);
	at->f->base.roots = at->roots;
	at->f->base.n_roots = 1;
	assert_int_equal(fx_power_on(at->f, NULL, FL_RESET_POWER_ON), 0);
	assert_int_equal(fx_connect(at->f), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_key_free(&at->root);
	fx_key_free(&at->s1);
	fx_key_free(&at->s2);
	fx_key_free(&at->stranger);
	fx_free(at->f);
	free(at);
	at = NULL;
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static void seal2(struct fl_manifest_env *env, const struct fl_manifest *m,
		  const struct fx_key *k, const uint8_t cert[FL_CERT_BYTES])
{
	assert_int_equal(fl_manifest_seal_certified(env, m, cert,
						    &fl_crypto_openssl, fx_sign,
						    k->pkey),
			 0);
}

/* What must not change: the whole flash, the floor and the key floor. */
struct before {
	uint8_t *mem;
	uint64_t floor;
	uint16_t key_floor;
	uint32_t last_job;
	unsigned starts;
};

static void take_before(struct before *b)
{
	struct fx *f = at->f;

	b->mem = malloc(f->lay->geom.size_bytes);
	assert_non_null(b->mem);
	memcpy(b->mem, f->dev.mem, f->lay->geom.size_bytes);
	b->floor = fl_slots_floor(fx_slots(f));
	b->key_floor = f->run->agent.st.key_floor;
	b->last_job = f->run->agent.st.last_job;
	b->starts = f->w.n_starts;
}

static void assert_nothing_changed(struct before *b)
{
	struct fx *f = at->f;

	assert_memory_equal(b->mem, f->dev.mem, f->lay->geom.size_bytes);
	assert_int_equal(fl_slots_floor(fx_slots(f)), b->floor);
	assert_int_equal(f->run->agent.st.key_floor, b->key_floor);
	assert_int_equal(f->run->agent.st.last_job, b->last_job);
	assert_int_equal(f->w.n_starts, b->starts); /* nothing downloaded */
	assert_false(f->w.reboot_requested);
	free(b->mem);
	b->mem = NULL;
}

static void assert_answer(uint32_t job, int result, const char *reason)
{
	const struct fl_status *s = fx_last(at->f, job);

	assert_non_null(s);
	if (s->result != result || s->state != FL_STATE_IDLE ||
	    strcmp(s->reason, reason) != 0)
		fail_msg("job %u: state %u result %u (%s) reason '%s', want "
			 "%d (%s) '%s'",
			 (unsigned)job, s->state, s->result,
			 fl_result_name(s->result), s->reason, result,
			 fl_result_name(result), reason);
}

/* Sends a command with env and checks that it is refused with result and
 * reason, and that nothing changed, even after running on a while. */
static void refused(uint8_t type, uint32_t job,
		    const struct fl_manifest_env *env, int result,
		    const char *reason)
{
	struct before b;
	struct fl_cmd c;

	take_before(&b);
	fx_cmd(&c, type, job, env);
	assert_int_equal(fl_agent_on_cmd(&at->f->run->agent, &c), 0);
	assert_int_equal(fx_run_for(at->f, 10000), 0);
	assert_answer(job, result, reason);
	assert_nothing_changed(&b);
}

/* Installs image i (seq) with an envelope 2 by key k, and commits it. */
static void install2(uint32_t job, int i, uint64_t seq, const struct fx_key *k,
		     const uint8_t cert[FL_CERT_BYTES])
{
	struct fx *f = at->f;
	struct fl_manifest m;
	struct fl_manifest_env env;
	struct fl_cmd c;

	fx_manifest_of(&m, &f->img[i], seq);
	seal2(&env, &m, k, cert);
	fx_cmd(&c, FL_CMD_OFFER, job, &env);
	f->w.content = f->img[i].data;
	f->w.content_len = f->img[i].len;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_true(f->w.reboot_requested);
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_SOFTWARE), 0);
	assert_int_equal(fx_connect(f), 0);
	assert_int_equal(fx_run_for(f, 60000), 0);
	assert_answer(job, FL_RESULT_SUCCESS, "");
	assert_string_equal(fx_running(f), f->img[i].version);
}

/* For the attacks on the image: the offer is taken, nothing bootable may
 * come of it. Copies the booted slot's records and image. */
static uint8_t *booted_copy(uint32_t *meta_len, uint32_t *slot_off)
{
	struct fx *f = at->f;
	unsigned b = fl_slots_booted(fx_slots(f));
	uint32_t unit = f->lay->geom.erase_bytes;
	uint8_t *p = malloc(2 * unit + f->lay->slot_size);

	assert_non_null(p);
	*meta_len = 2 * unit;
	*slot_off = f->lay->slot_off[b];
	memcpy(p, f->dev.mem + f->lay->meta_off + 2 * unit * b, 2 * unit);
	memcpy(p + 2 * unit, f->dev.mem + *slot_off, f->lay->slot_size);
	return p;
}

static void assert_booted_unchanged(uint8_t *copy, uint32_t meta_len,
				    uint32_t slot_off)
{
	struct fx *f = at->f;
	unsigned b = fl_slots_booted(fx_slots(f));

	assert_memory_equal(copy, f->dev.mem + f->lay->meta_off + meta_len * b,
			    meta_len);
	assert_memory_equal(copy + meta_len, f->dev.mem + slot_off,
			    f->lay->slot_size);
	free(copy);
}

/* ---- the manifest --------------------------------------------------------
 */

static void test_attacks__tampered_manifest(void **state)
{
	struct fx *f = at->f;
	struct fl_manifest m;
	struct fl_manifest_env env;

	(void)state;
	/* Envelope 1: one bit of the signed body (its version) flipped. */
	fx_manifest_of(&m, &f->img[1], 2);
	assert_int_equal(fx_seal(&env, &m, &f->key), 0);
	env.body[30] ^= 0x01;
	refused(FL_CMD_OFFER, 10, &env, FL_RESULT_BAD_SIGNATURE, "");
	/* Envelope 2: the body changed, the certificate intact. */
	seal2(&env, &m, &at->s1, at->cert1);
	env.body[env.body_len - 2] ^= 0x01;
	refused(FL_CMD_OFFER, 11, &env, FL_RESULT_BAD_SIGNATURE, "");
	/* Envelope 2: the certificate changed (its generation raised to
	 * outrank the key floor): the root's signature no longer holds. */
	seal2(&env, &m, &at->s1, at->cert1);
	env.cert[2] = 9;
	refused(FL_CMD_OFFER, 12, &env, FL_RESULT_BAD_SIGNATURE,
		"bad_certificate");
	/* Another key's certificate spliced onto a body s1 signed. */
	seal2(&env, &m, &at->s1, at->cert1);
	memcpy(env.cert, at->cert2, FL_CERT_BYTES);
	refused(FL_CMD_OFFER, 13, &env, FL_RESULT_BAD_SIGNATURE,
		"bad_certificate");
	/* The signature over the body swapped for one over another body. */
	{
		struct fl_manifest_env other;

		fx_manifest_of(&m, &f->img[2], 3);
		seal2(&other, &m, &at->s1, at->cert1);
		fx_manifest_of(&m, &f->img[1], 2);
		seal2(&env, &m, &at->s1, at->cert1);
		memcpy(env.sig, other.sig, FL_MANIFEST_SIG_BYTES);
		refused(FL_CMD_OFFER, 14, &env, FL_RESULT_BAD_SIGNATURE, "");
	}
	assert_string_equal(fx_running(f), "1.0.0");
}

static void test_attacks__unknown_key(void **state)
{
	struct fx *f = at->f;
	struct fl_manifest m;
	struct fl_manifest_env env;
	uint8_t cert[FL_CERT_BYTES];

	(void)state;
	fx_manifest_of(&m, &f->img[1], 2);
	/* Envelope 1 by a key the device does not trust. */
	assert_int_equal(fx_seal(&env, &m, &at->stranger), 0);
	refused(FL_CMD_OFFER, 20, &env, FL_RESULT_BAD_SIGNATURE, "unknown_key");
	/* Envelope 2 whose certificate comes from a root it does not
	 * trust. */
	certify(cert, &at->stranger, &at->s1, 5, 5, ROLES_ALL, FX_T0 - 60,
		FX_T0 + YEAR_S);
	seal2(&env, &m, &at->s1, cert);
	refused(FL_CMD_OFFER, 21, &env, FL_RESULT_BAD_SIGNATURE,
		"unknown_root");
	/* A certificate that names the trusted root but is signed by
	 * another key. */
	certify(cert, &at->stranger, &at->s1, 5, 5, ROLES_ALL, FX_T0 - 60,
		FX_T0 + YEAR_S);
	memcpy(cert + 6, at->root.pub.kid, FL_MANIFEST_KID_BYTES);
	seal2(&env, &m, &at->s1, cert);
	refused(FL_CMD_OFFER, 22, &env, FL_RESULT_BAD_SIGNATURE,
		"bad_certificate");
	/* A signing key presented as if it were itself a trusted key: a
	 * certified key is trusted only through its certificate. */
	assert_int_equal(fx_seal(&env, &m, &at->s1), 0);
	refused(FL_CMD_OFFER, 23, &env, FL_RESULT_BAD_SIGNATURE, "unknown_key");
}

static void test_attacks__revoked_signing_key(void **state)
{
	struct fx *f = at->f;
	struct fl_manifest m;
	struct fl_manifest_env env;

	(void)state;
	/* Generation 1 is good while nothing revokes it. */
	install2(30, 1, 2, &at->s1, at->cert1);
	assert_int_equal(f->run->agent.st.key_floor, 1);
	/* The rotated key (generation 2, floor 2) revokes generation 1 on
	 * the first manifest the device takes from it; the floor is saved
	 * with that job, before the download begins. */
	install2(31, 2, 3, &at->s2, at->cert2);
	assert_int_equal(f->run->agent.st.key_floor, 2);
	/* Generation 1 now: refused, even for a newer image, and after a
	 * power cycle (the floor is persisted). */
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_POWER_ON), 0);
	assert_int_equal(fx_connect(f), 0);
	assert_int_equal(f->run->agent.st.key_floor, 2);
	fx_manifest_of(&m, &f->img[2], 9);
	strcpy(m.version, "4.0.0");
	seal2(&env, &m, &at->s1, at->cert1);
	refused(FL_CMD_OFFER, 32, &env, FL_RESULT_BAD_SIGNATURE, "revoked_key");
	/* A rollback signed by the revoked key: refused just the same. */
	fx_manifest_of(&m, &f->img[0], 10);
	m.is_rollback = true;
	seal2(&env, &m, &at->s1, at->cert1);
	refused(FL_CMD_ROLLBACK, 33, &env, FL_RESULT_BAD_SIGNATURE,
		"revoked_key");
	assert_string_equal(fx_running(f), "3.0.0");
}

static void test_attacks__expired_or_not_yet_valid_key(void **state)
{
	struct fx *f = at->f;
	struct fl_manifest m;
	struct fl_manifest_env env;
	uint8_t cert[FL_CERT_BYTES];

	(void)state;
	fx_manifest_of(&m, &f->img[1], 2);
	/* The certificate ended before now. */
	certify(cert, &at->root, &at->s1, 1, 1, ROLES_ALL, FX_T0 - YEAR_S,
		FX_T0 - 60);
	m.issued = FX_T0 - 3600;
	seal2(&env, &m, &at->s1, cert);
	refused(FL_CMD_OFFER, 40, &env, FL_RESULT_BAD_SIGNATURE, "key_expired");
	/* Without a trusted clock, the manifest's issued time is checked:
	 * signed after the certificate ended. */
	f->w.now_s = 0;
	m.issued = FX_T0 - 30;
	seal2(&env, &m, &at->s1, cert);
	refused(FL_CMD_OFFER, 41, &env, FL_RESULT_BAD_SIGNATURE, "key_expired");
	/* Signed before the certificate began. */
	certify(cert, &at->root, &at->s1, 1, 1, ROLES_ALL, FX_T0,
		FX_T0 + YEAR_S);
	m.issued = FX_T0 - 3600;
	seal2(&env, &m, &at->s1, cert);
	refused(FL_CMD_OFFER, 42, &env, FL_RESULT_BAD_SIGNATURE,
		"key_not_yet_valid");
	f->w.now_s = FX_T0;
}

static void test_attacks__rollback_by_a_release_only_key(void **state)
{
	struct fx *f = at->f;
	struct fl_manifest m;
	struct fl_manifest_env env;
	uint8_t cert[FL_CERT_BYTES];

	(void)state;
	install2(50, 1, 2, &at->s1, at->cert1);
	/* A key certified for releases only cannot sign a rollback (which
	 * may point at an older version) ... */
	certify(cert, &at->root, &at->s2, 2, 1, FL_CERT_ROLE_RELEASE,
		FX_T0 - YEAR_S, FX_T0 + YEAR_S);
	fx_manifest_of(&m, &f->img[0], 3);
	m.is_rollback = true;
	seal2(&env, &m, &at->s2, cert);
	refused(FL_CMD_ROLLBACK, 51, &env, FL_RESULT_BAD_SIGNATURE,
		"not_a_rollback_key");
	/* ... and a rollback-only key cannot sign a release. */
	certify(cert, &at->root, &at->s2, 2, 1, FL_CERT_ROLE_ROLLBACK,
		FX_T0 - YEAR_S, FX_T0 + YEAR_S);
	fx_manifest_of(&m, &f->img[2], 3);
	seal2(&env, &m, &at->s2, cert);
	refused(FL_CMD_OFFER, 52, &env, FL_RESULT_BAD_SIGNATURE,
		"not_a_release_key");
	assert_string_equal(fx_running(f), "2.0.0");
}

static void test_attacks__downgrade(void **state)
{
	struct fx *f = at->f;
	struct fl_manifest m;
	struct fl_manifest_env env;

	(void)state;
	install2(60, 1, 2, &at->s1, at->cert1);
	/* An older version with a higher sequence number, not a rollback. */
	fx_manifest_of(&m, &f->img[0], 7);
	seal2(&env, &m, &at->s1, at->cert1);
	refused(FL_CMD_OFFER, 61, &env, FL_RESULT_DOWNGRADE, "");
	/* The same older image under its old sequence number. */
	fx_manifest_of(&m, &f->img[3], 1);
	seal2(&env, &m, &at->s1, at->cert1);
	refused(FL_CMD_OFFER, 62, &env, FL_RESULT_ANTI_ROLLBACK, "");
	/* Called a rollback by the offer, but not a rollback manifest. */
	fx_manifest_of(&m, &f->img[0], 8);
	seal2(&env, &m, &at->s1, at->cert1);
	refused(FL_CMD_ROLLBACK, 63, &env, FL_RESULT_BAD_COMMAND,
		"not_a_rollback_manifest");
	assert_string_equal(fx_running(f), "2.0.0");
}

static void test_attacks__wrong_model(void **state)
{
	struct fx *f = at->f;
	struct fl_manifest m;
	struct fl_manifest_env env;

	(void)state;
	fx_manifest_of(&m, &f->img[1], 2);
	strcpy(m.hardware[0], "acme-gw-3");
	seal2(&env, &m, &at->s1, at->cert1);
	refused(FL_CMD_OFFER, 70, &env, FL_RESULT_WRONG_MODEL, "");
	assert_int_equal(fx_seal(&env, &m, &f->key), 0);
	refused(FL_CMD_OFFER, 71, &env, FL_RESULT_WRONG_MODEL, "");
}

static void test_attacks__expired_manifest(void **state)
{
	struct fx *f = at->f;
	struct fl_manifest m;
	struct fl_manifest_env env;

	(void)state;
	fx_manifest_of(&m, &f->img[1], 2);
	m.issued = FX_T0 - 7200;
	m.expires = FX_T0;
	seal2(&env, &m, &at->s1, at->cert1);
	refused(FL_CMD_OFFER, 80, &env, FL_RESULT_EXPIRED, "");
	assert_int_equal(fx_seal(&env, &m, &f->key), 0);
	refused(FL_CMD_OFFER, 81, &env, FL_RESULT_EXPIRED, "");
}

static void test_attacks__replayed_old_command(void **state)
{
	struct fx *f = at->f;
	struct fl_manifest m;
	struct fl_manifest_env env;
	struct fl_cmd old, c;
	struct before b;

	(void)state;
	/* 2.0.0 (job 90), then 3.0.0 (job 91). */
	fx_manifest_of(&m, &f->img[1], 2);
	seal2(&env, &m, &at->s1, at->cert1);
	fx_cmd(&old, FL_CMD_OFFER, 90, &env);
	install2(90, 1, 2, &at->s1, at->cert1);
	install2(91, 2, 3, &at->s1, at->cert1);

	/* The old command again, as captured: stale. */
	take_before(&b);
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &old), 0);
	assert_int_equal(fx_run_for(f, 10000), 0);
	assert_answer(90, FL_RESULT_STALE, "");
	assert_nothing_changed(&b);
	/* The last command again: a duplicate, its final status re-sent. */
	fx_manifest_of(&m, &f->img[2], 3);
	seal2(&env, &m, &at->s1, at->cert1);
	fx_cmd(&c, FL_CMD_OFFER, 91, &env);
	take_before(&b);
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
	assert_answer(91, FL_RESULT_SUCCESS, "");
	assert_nothing_changed(&b);
	/* The old signed manifest re-wrapped in a new command with the
	 * highest job id there is: refused by its sequence number, and the
	 * job id does not stick (a later genuine job is still taken). */
	refused(FL_CMD_OFFER, UINT32_MAX, &old.manifest,
		FL_RESULT_ANTI_ROLLBACK, "");
	refused(FL_CMD_ROLLBACK, UINT32_MAX - 1, &old.manifest,
		FL_RESULT_BAD_COMMAND, "not_a_rollback_manifest");
	fx_manifest_of(&m, &f->img[2], 5);
	seal2(&env, &m, &at->s1, at->cert1);
	fx_cmd(&c, FL_CMD_OFFER, 92, &env);
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
	assert_answer(92, FL_RESULT_SUCCESS, "already_installed");
	assert_int_equal(f->run->agent.st.last_job, 92);
}

/* ---- the image ------------------------------------------------------------
 */

static void test_attacks__tampered_image(void **state)
{
	struct fx *f = at->f;
	struct fl_manifest m;
	struct fl_manifest_env env;
	struct fl_cmd c;
	uint8_t *bad = malloc(f->img[1].len), *copy;
	uint32_t meta_len, slot_off;
	uint64_t floor = fl_slots_floor(fx_slots(f));

	(void)state;
	assert_non_null(bad);
	memcpy(bad, f->img[1].data, f->img[1].len);
	bad[f->img[1].len / 2] ^= 0x80;
	copy = booted_copy(&meta_len, &slot_off);
	fx_manifest_of(&m, &f->img[1], 2);
	seal2(&env, &m, &at->s1, at->cert1);
	fx_cmd(&c, FL_CMD_OFFER, 100, &env);
	f->w.content = bad;
	f->w.content_len = f->img[1].len;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
	assert_int_equal(fx_run_for(f, 600000), 0);
	assert_answer(100, FL_RESULT_INTEGRITY, "digest");
	assert_false(f->w.reboot_requested);
	assert_int_equal(fx_slots(f)->info[1].state, FL_SLOT_BAD);
	assert_booted_unchanged(copy, meta_len, slot_off);
	assert_int_equal(fl_slots_floor(fx_slots(f)), floor);
	assert_string_equal(fx_running(f), "1.0.0");
	/* And after a power cycle the boot loader still boots 1.0.0. */
	assert_int_equal(fx_power_on(f, NULL, FL_RESET_POWER_ON), 0);
	assert_string_equal(fx_running(f), "1.0.0");
	free(bad);
}

static void test_attacks__download_longer_than_signed(void **state)
{
	struct fx *f = at->f;
	uint32_t len = f->img[1].len, meta_len, slot_off;
	uint8_t *big = malloc(len + 4096), *copy, tail[64];
	struct fl_manifest m;
	struct fl_manifest_env env;
	struct fl_cmd c;
	uint16_t key_floor = f->run->agent.st.key_floor;

	(void)state;
	assert_non_null(big);
	memcpy(big, f->img[1].data, len);
	memset(big + len, 0xA5, 4096);
	copy = booted_copy(&meta_len, &slot_off);
	fx_manifest_of(&m, &f->img[1], 2);
	seal2(&env, &m, &at->s1, at->cert1);
	fx_cmd(&c, FL_CMD_OFFER, 110, &env);
	/* The server sends the signed image and more, without saying how
	 * long the body is. */
	f->w.content = big;
	f->w.content_len = len + 4096;
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	assert_int_equal(fx_serve(f, UINT64_MAX, 4096, false), FL_ETOOBIG);
	assert_answer(110, FL_RESULT_INTEGRITY, "too_long");
	assert_int_equal(fx_slots(f)->info[1].state, FL_SLOT_BAD);
	/* Not one byte past the signed length reached the slot. */
	memset(tail, 0xFF, sizeof(tail));
	assert_memory_equal(f->dev.mem + f->lay->slot_off[1] + len, tail,
			    sizeof(tail));
	assert_booted_unchanged(copy, meta_len, slot_off);
	/* A server that says so up front is stopped before any byte. */
	copy = booted_copy(&meta_len, &slot_off);
	f->w.claimed_total = len + 4096;
	f->w.bytes_served = 0;
	fx_cmd(&c, FL_CMD_OFFER, 111, &env);
	assert_int_equal(fl_agent_on_cmd(&f->run->agent, &c), 0);
	assert_int_equal(fl_agent_poll(&f->run->agent, NULL), 0);
	assert_int_equal(fx_serve(f, UINT64_MAX, 4096, false), FL_ETOOBIG);
	assert_int_equal(f->w.bytes_served, 0);
	assert_answer(111, FL_RESULT_INTEGRITY, "length");
	assert_booted_unchanged(copy, meta_len, slot_off);
	/* The offer was genuine: its certificate's floor (1) is all that
	 * moved. */
	assert_int_equal(key_floor, 0);
	assert_int_equal(f->run->agent.st.key_floor, 1);
	assert_false(f->w.reboot_requested);
	assert_string_equal(fx_running(f), "1.0.0");
	f->w.claimed_total = 0;
	free(big);
}

/* ---- the key floor survives what it must ---------------------------------
 */

static void test_attacks__revocation_survives_an_older_agent(void **state)
{
	struct fx *f = at->f;
	struct fl_agent_state st;
	uint8_t blob[FL_AGENT_BLOB_MAX];

	(void)state;
	/* What is persisted carries the floor (revision 1 and later) ... */
	install2(120, 1, 2, &at->s2, at->cert2);
	memset(&st, 0, sizeof(st));
	st = f->run->agent.st;
	assert_int_equal(fl_agent_state_encode(blob, &st), 728);
	assert_int_equal(blob[5], 2);
	assert_int_equal(fl_get_le16(blob + 646), 2);
	/* ... and a state written by an agent before revision 1 (646 bytes,
	 * no floor) still reads: the floor then starts again at 0, and comes
	 * back with the next manifest the device takes. */
	blob[5] = 0;
	assert_int_equal(fl_agent_state_decode(&st, blob, 646), 0);
	assert_int_equal(st.key_floor, 0);
	assert_int_equal(st.boot, f->run->agent.st.boot);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_attacks__tampered_manifest),
		T(test_attacks__unknown_key),
		T(test_attacks__revoked_signing_key),
		T(test_attacks__expired_or_not_yet_valid_key),
		T(test_attacks__rollback_by_a_release_only_key),
		T(test_attacks__downgrade),
		T(test_attacks__wrong_model),
		T(test_attacks__expired_manifest),
		T(test_attacks__replayed_old_command),
		T(test_attacks__tampered_image),
		T(test_attacks__download_longer_than_signed),
		T(test_attacks__revocation_survives_an_older_agent),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
