/*
 * agent_fixture.h -- a simulated device running agent/core, with fake
 * ports, for the agent's tests.
 *
 * The device is hal_fixture.h's simulated flash (metadata, two slots, an
 * external boot loader's environment) plus two erase units for the agent's
 * own flash store. Everything that exists only while the device is powered
 * (simulator, slot manager, flash store, the agent) lives in struct
 * fx_run and is rebuilt from the flash contents at every power-on. What
 * lives outside the device (the broker's view of what was published, the
 * HTTP server, the clock, the application's facts and health) lives in
 * struct fx_world and survives reboots.
 *
 * Manifests are signed here with OpenSSL (EVP), through the codec's
 * fl_manifest_seal(), the path fleetd and fleet-manifest use.
 */
#ifndef FL_AGENT_FIXTURE_H
#define FL_AGENT_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "fl/agent.h"
#include "fl/proto.h"
#include "hal_fixture.h"

/* Geometries: hal_fixture's, with room for the agent's store after the
 * external boot loader's environment (env_off + 2 units). */
static const struct fl_layout fx_layouts[] = {
	{"nor-4k-w1",
	 {8 * 4096 + 2 * 65536, 4096, 1, 0xFF},
	 0,
	 {4 * 4096, 4 * 4096 + 65536},
	 65536,
	 4 * 4096 + 2 * 65536},
	{"esp32-like",
	 {2 * 0x18000 + 0xC000, 4096, 16, 0xFF},
	 0x30000,
	 {0, 0x18000},
	 0x18000,
	 0x34000},
	{"big-128k-w16",
	 {8 * 131072 + 2 * 262144, 131072, 16, 0xFF},
	 0,
	 {4 * 131072, 4 * 131072 + 262144},
	 262144,
	 4 * 131072 + 2 * 262144},
};

static inline uint32_t fx_store_off(const struct fl_layout *l)
{
	return l->env_off + 2 * l->geom.erase_bytes;
}

/* ---- signing ------------------------------------------------------------ */

struct fx_key {
	EVP_PKEY *pkey;
	struct fl_manifest_key pub;
};

static inline int fx_key_make(struct fx_key *k)
{
	size_t n = 0;

	memset(k, 0, sizeof(*k));
	k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (k->pkey == NULL ||
	    !EVP_PKEY_get_octet_string_param(
		    k->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, k->pub.pub,
		    FL_MANIFEST_PUB_BYTES, &n) ||
	    n != FL_MANIFEST_PUB_BYTES)
		return FL_ECRYPTO;
	return fl_manifest_kid(k->pub.kid, &fl_crypto_openssl, k->pub.pub);
}

static inline void fx_key_free(struct fx_key *k)
{
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
}

static inline int fx_sign(void *ctx, const uint8_t digest[FL_SHA256_BYTES],
			  uint8_t sig[FL_MANIFEST_SIG_BYTES])
{
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new((EVP_PKEY *)ctx, NULL);
	unsigned char der[128];
	const unsigned char *p = der;
	size_t der_len = sizeof(der);
	ECDSA_SIG *es = NULL;
	const BIGNUM *r, *s;
	int err = FL_ECRYPTO;

	if (pctx == NULL || EVP_PKEY_sign_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_sign(pctx, der, &der_len, digest, FL_SHA256_BYTES) != 1)
		goto out;
	es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (es == NULL)
		goto out;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, 32) == 32 &&
	    BN_bn2binpad(s, sig + 32, 32) == 32)
		err = 0;
out:
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(pctx);
	return err;
}

#define FX_MODEL "acme-gw-2"
#define FX_T0	 1748736000ull /* 2025-06-01T00:00:00Z */

/* A manifest body for img, before sealing (callers may change fields). */
static inline void fx_manifest_of(struct fl_manifest *m,
				  const struct fl_image *img, uint64_t seq)
{
	memset(m, 0, sizeof(*m));
	m->v = 1;
	strcpy(m->component, "firmware");
	strcpy(m->version, img->version);
	m->n_hardware = 1;
	strcpy(m->hardware[0], FX_MODEL);
	m->length = img->len;
	memcpy(m->sha256, img->sha256, FL_SHA256_BYTES);
	snprintf(m->url, sizeof(m->url), "http://fleet.test/fw-%s.bin",
		 img->version);
	m->seq = seq;
	m->issued = FX_T0 - 3600;
	m->expires = FX_T0 + 30 * 86400;
}

static inline int fx_seal(struct fl_manifest_env *env,
			  const struct fl_manifest *m, const struct fx_key *k)
{
	return fl_manifest_seal(env, m, k->pub.kid, &fl_crypto_openssl, fx_sign,
				k->pkey);
}

/* ---- the world outside the device ---------------------------------------- */

#define FX_LOG_MAX 1024

struct fx_world {
	/* broker: what the device published while online */
	bool is_online;
	struct fl_status log[FX_LOG_MAX];
	unsigned n_log;
	struct fl_reported reported;
	unsigned n_reported;
	struct fl_health health;
	unsigned n_health;
	/* HTTP server */
	bool dl_pending;
	bool dl_open;	 /* the response was sent; the body goes on */
	uint32_t dl_pos; /* next byte of the open body */
	struct {
		char url[FL_MANIFEST_URL_MAX];
		uint32_t offset, length;
		char validator[FL_AGENT_VALIDATOR_MAX];
	} req;
	unsigned n_starts, n_stops;
	int start_rc;
	const uint8_t *content; /* what the server sends */
	uint32_t content_len;
	char etag[FL_AGENT_VALIDATOR_MAX];
	uint16_t force_status;	/* answer this instead (0: normal) */
	uint32_t claimed_total; /* Content-Length to claim (0: the truth) */
	uint64_t bytes_served;
	/* clock */
	uint64_t now_s; /* 0: not trusted */
	uint64_t mono_ms;
	int32_t utc_offset_s;
	/* application */
	struct fl_agent_facts facts;
	int facts_rc;
	struct fl_agent_health_sample sample;
	int health_rc;
	bool reboot_requested;
	unsigned n_reboots;
};

static inline int fx_pub_status(void *ctx, const struct fl_status *m)
{
	struct fx_world *w = ctx;

	if (!w->is_online)
		return FL_EIO;
	if (w->n_log < FX_LOG_MAX)
		w->log[w->n_log++] = *m;
	return 0;
}

static inline int fx_pub_reported(void *ctx, const struct fl_reported *m)
{
	struct fx_world *w = ctx;

	if (!w->is_online)
		return FL_EIO;
	w->reported = *m;
	w->n_reported++;
	return 0;
}

static inline int fx_pub_health(void *ctx, const struct fl_health *m)
{
	struct fx_world *w = ctx;

	if (!w->is_online)
		return FL_EIO;
	w->health = *m;
	w->n_health++;
	return 0;
}

static const struct fl_agent_transport_ops fx_transport_ops = {
	FL_AGENT_PORT_VERSION, "fake",	      fx_pub_status,
	fx_pub_reported,       fx_pub_health,
};

static inline int fx_dl_start(void *ctx, const struct fl_agent_dl_request *r)
{
	struct fx_world *w = ctx;

	w->n_starts++;
	if (w->start_rc != 0)
		return w->start_rc;
	memset(&w->req, 0, sizeof(w->req));
	snprintf(w->req.url, sizeof(w->req.url), "%s", r->url);
	w->req.offset = r->offset;
	w->req.length = r->length;
	snprintf(w->req.validator, sizeof(w->req.validator), "%s",
		 r->validator);
	w->dl_pending = true;
	w->dl_open = false;
	return 0;
}

static inline void fx_dl_stop(void *ctx)
{
	struct fx_world *w = ctx;

	w->dl_pending = false;
	w->dl_open = false;
	w->n_stops++;
}

static const struct fl_agent_downloader_ops fx_downloader_ops = {
	FL_AGENT_PORT_VERSION,
	"fake",
	fx_dl_start,
	fx_dl_stop,
};

static inline uint64_t fx_now_s(void *ctx)
{
	return ((struct fx_world *)ctx)->now_s;
}

static inline uint64_t fx_mono_ms(void *ctx)
{
	return ((struct fx_world *)ctx)->mono_ms;
}

static inline int32_t fx_utc_offset(void *ctx, uint64_t now)
{
	(void)now;
	return ((struct fx_world *)ctx)->utc_offset_s;
}

static const struct fl_agent_clock_ops fx_clock_ops = {
	FL_AGENT_PORT_VERSION, "fake", fx_now_s, fx_mono_ms, fx_utc_offset,
};

static inline int fx_facts(void *ctx, struct fl_agent_facts *out)
{
	struct fx_world *w = ctx;

	*out = w->facts;
	return w->facts_rc;
}

static inline int fx_health(void *ctx, bool is_trial,
			    struct fl_agent_health_sample *out)
{
	struct fx_world *w = ctx;

	(void)is_trial;
	*out = w->sample;
	return w->health_rc;
}

static inline void fx_reboot(void *ctx)
{
	struct fx_world *w = ctx;

	w->reboot_requested = true;
	w->n_reboots++;
}

static const struct fl_agent_device_ops fx_device_ops = {
	FL_AGENT_PORT_VERSION, "fake", fx_facts, fx_health, fx_reboot,
};

/* ---- the device ------------------------------------------------------------
 */

/* Everything that exists only while the device is powered. */
struct fx_run {
	struct fl_dev_boot hal;
	struct fl_area store_area;
	struct fl_agent_flash_store store;
	struct fl_agent agent;
	struct fl_agent_config cfg;
};

struct fx {
	const struct fl_layout *lay;
	struct fl_dev dev;
	struct fx_world w;
	struct fx_run *run;
	struct fl_image img[4]; /* 1.0.0 (factory), 2.0.0, 3.0.0, 0.9.0 */
	struct fx_key key, other;
	struct fl_manifest_key trusted[1];
	struct fl_label labels[1];
	struct fl_agent_config base; /* policy knobs the test may change */
};

static inline void fx_config(struct fx *f)
{
	struct fl_agent_config *c = &f->run->cfg;

	*c = f->base;
	c->slots = &f->run->hal.slots;
	c->crypto = &fl_crypto_openssl;
	c->keys = f->trusted;
	c->n_keys = 1;
	c->transport.ops = &fx_transport_ops;
	c->transport.ctx = &f->w;
	c->downloader.ops = &fx_downloader_ops;
	c->downloader.ctx = &f->w;
	c->clock.ops = &fx_clock_ops;
	c->clock.ctx = &f->w;
	c->store.ops = &fl_agent_flash_store_ops;
	c->store.ctx = &f->run->store;
	c->device.ops = &fx_device_ops;
	c->device.ctx = &f->w;
	c->model = FX_MODEL;
	c->agent_version = "0.1.0";
	c->labels = f->labels;
	c->n_labels = 1;
}

/* Starts the agent over a slot manager already opened in f->run->hal. */
static inline int fx_start_agent(struct fx *f)
{
	const struct fl_layout *l = f->lay;
	int rc;

	rc = fl_area_init(&f->run->store_area, &f->run->hal.sim.flash,
			  fx_store_off(l), 2 * l->geom.erase_bytes);
	if (rc == 0)
		rc = fl_agent_flash_store_init(&f->run->store,
					       &f->run->store_area);
	if (rc != 0)
		return rc;
	fx_config(f);
	return fl_agent_init(&f->run->agent, &f->run->cfg);
}

/* Power-on from the flash contents alone: boot loader, slot manager,
 * agent. The monotonic clock starts again at 0. */
static inline int fx_power_on(struct fx *f, const struct fl_sim_faults *faults,
			      uint8_t reset_reason)
{
	int rc;

	f->w.mono_ms = 0;
	f->w.reboot_requested = false;
	f->w.dl_pending = false;
	f->w.dl_open = false;
	memset(f->run, 0, sizeof(*f->run));
	rc = fl_dev_power_on(&f->dev, &f->run->hal, faults, reset_reason);
	if (rc != 0)
		return rc;
	return fx_start_agent(f);
}

/* The agent process restarts (kill -9, systemd restarts it): no reboot,
 * the same boot status, flash as it is. */
static inline int fx_restart(struct fx *f, const struct fl_sim_faults *faults)
{
	struct fl_boot_status handoff = f->run->hal.handoff;
	uint8_t env_booted = f->run->hal.env.booted;
	uint8_t env_reset = f->run->hal.env.reset_reason;
	struct fl_dev_boot *b = &f->run->hal;
	int rc;

	f->w.dl_pending = false;
	f->w.dl_open = false;
	memset(f->run, 0, sizeof(*f->run));
	fl_sim_init(&b->sim, &f->lay->geom, f->dev.mem, faults);
	fl_dev_config(&f->dev, b);
	if (f->dev.is_external) {
		/* The boot loader's variables as this boot left them. */
		fl_area_init(&b->env.area, &b->sim.flash, f->lay->env_off,
			     2 * f->lay->geom.erase_bytes);
		rc = envsim_load(&b->env, &b->env.st);
		if (rc != 0)
			return rc;
		b->env.booted = env_booted;
		b->env.reset_reason = env_reset;
		b->boot.ops = &envsim_ops;
		b->boot.priv = &b->env;
	} else {
		b->handoff = handoff;
		fl_boot_native_init(&b->boot, &b->handoff);
	}
	rc = fl_slots_open(&b->slots, &b->cfg);
	if (rc != 0)
		return rc;
	return fx_start_agent(f);
}

static inline int fx_connect(struct fx *f)
{
	f->w.is_online = true;
	return fl_agent_on_connect(&f->run->agent);
}

/* A factory device with 1.0.0 (seq 1) in slot A. */
static inline struct fx *fx_new(const struct fl_layout *lay, uint8_t tries,
				uint32_t image_len)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint32_t unit = lay->geom.write_bytes;

	f->lay = lay;
	f->run = calloc(1, sizeof(*f->run));
	fl_image_make(&f->img[0], fl_align_up(image_len / 2, unit), 1, "1.0.0",
		      1);
	fl_image_make(&f->img[1], image_len, 2, "2.0.0", 2);
	fl_image_make(&f->img[2], image_len - 999, 3, "3.0.0", 3);
	fl_image_make(&f->img[3], image_len / 3, 4, "0.9.0", 0);
	if (fx_key_make(&f->key) != 0 || fx_key_make(&f->other) != 0 ||
	    fl_dev_factory(&f->dev, lay, &f->img[0], tries) != 0) {
		free(f);
		return NULL;
	}
	f->trusted[0] = f->key.pub;
	strcpy(f->labels[0].key, "ring");
	strcpy(f->labels[0].value, "beta");
	f->w.now_s = FX_T0;
	f->w.facts.battery_pct = FL_AGENT_BATTERY_NONE;
	f->w.facts.free_bytes = 1u << 30;
	f->w.sample.is_boot_ok = true;
	snprintf(f->w.etag, sizeof(f->w.etag), "\"etag-1\"");
	f->base.health_window_s = 30;
	f->base.checkpoint_bytes = 8192;
	return f;
}

static inline void fx_free(struct fx *f)
{
	if (f == NULL)
		return;
	for (int i = 0; i < 4; i++)
		fl_image_free(&f->img[i]);
	fx_key_free(&f->key);
	fx_key_free(&f->other);
	free(f->dev.mem);
	free(f->run);
	free(f);
}

/* An offer (or rollback) command for job with a sealed manifest. */
static inline void fx_cmd(struct fl_cmd *c, uint8_t type, uint32_t job,
			  const struct fl_manifest_env *env)
{
	memset(c, 0, sizeof(*c));
	c->type = type;
	c->job = job;
	c->issued = FX_T0;
	c->expires = FX_T0 + 3600;
	if (env != NULL)
		c->manifest = *env;
}

/* Offers image i (a fresh manifest, seq s) as job. */
static inline int fx_offer(struct fx *f, uint32_t job, int i, uint64_t seq,
			   struct fl_cmd *c)
{
	struct fl_manifest m;
	struct fl_manifest_env env;
	int rc;

	fx_manifest_of(&m, &f->img[i], seq);
	rc = fx_seal(&env, &m, &f->key);
	if (rc != 0)
		return rc;
	fx_cmd(c, FL_CMD_OFFER, job, &env);
	f->w.content = f->img[i].data;
	f->w.content_len = f->img[i].len;
	return fl_agent_on_cmd(&f->run->agent, c);
}

/* The HTTP server answers the pending request: at most max_bytes of the
 * body in chunks of `chunk`, then the end (or a cut if it stopped short
 * and `cut` is set). Returns the first non-zero callback return. */
static inline int fx_serve(struct fx *f, uint64_t max_bytes, uint32_t chunk,
			   bool cut)
{
	struct fx_world *w = &f->w;
	struct fl_agent *a = &f->run->agent;
	struct fl_agent_dl_response r;
	uint32_t from = 0, end;
	int rc;

	if (!w->dl_pending)
		return 0;
	memset(&r, 0, sizeof(r));
	if (w->dl_open) {
		from = w->dl_pos;
		goto body;
	}
	if (w->force_status != 0) {
		r.http_status = w->force_status;
	} else if (w->req.offset > 0 && w->req.offset < w->content_len &&
		   (w->req.validator[0] == '\0' ||
		    strcmp(w->req.validator, w->etag) == 0)) {
		r.http_status = 206;
		r.first_byte = from = w->req.offset;
		r.total_bytes = w->content_len;
	} else {
		r.http_status = 200;
		r.total_bytes = w->claimed_total;
	}
	snprintf(r.validator, sizeof(r.validator), "%s", w->etag);
	rc = fl_agent_on_dl_response(a, &r);
	if (rc != 0 || w->force_status != 0) {
		w->dl_pending = false;
		return rc;
	}
	w->dl_open = true;
body:
	end = w->content_len;
	if (max_bytes < end - from)
		end = from + (uint32_t)max_bytes;
	while (from < end) {
		uint32_t n = end - from < chunk ? end - from : chunk;

		rc = fl_agent_on_dl_data(a, w->content + from, n);
		w->bytes_served += n;
		if (rc != 0) {
			w->dl_pending = false;
			return rc;
		}
		from += n;
		if (!w->dl_pending) /* the agent stopped it */
			return 0;
	}
	w->dl_pos = from;
	if (from < w->content_len && !cut)
		return 0; /* the transfer stays open */
	w->dl_pending = false;
	w->dl_open = false;
	return fl_agent_on_dl_done(a, from == w->content_len ? 0 : FL_EIO);
}

/* Moves both clocks on (the wall clock only if it is trusted). */
static inline void fx_advance(struct fx *f, uint64_t ms)
{
	uint64_t before = f->w.mono_ms / 1000u;

	f->w.mono_ms += ms;
	if (f->w.now_s != 0)
		f->w.now_s += f->w.mono_ms / 1000u - before;
}

/* Runs the agent for ms of monotonic time (polling at its deadlines),
 * serving downloads whole, until a reboot is requested. Returns the
 * first error of the agent. */
static inline int fx_run_for(struct fx *f, uint64_t ms)
{
	uint64_t end = f->w.mono_ms + ms;
	int rc;

	while (f->w.mono_ms < end && !f->w.reboot_requested) {
		uint32_t next = 0;

		rc = fl_agent_poll(&f->run->agent, &next);
		if (rc != 0)
			return rc;
		if (f->w.dl_pending) {
			rc = fx_serve(f, UINT64_MAX, 4096, false);
			if (rc != 0 && rc != FL_ETOOBIG && rc != FL_EINVAL)
				return rc;
			continue;
		}
		if (f->w.reboot_requested)
			break;
		fx_advance(f, next > 0 ? next : 1);
	}
	return 0;
}

/* The last status the broker got for job, or NULL. */
static inline const struct fl_status *fx_last(const struct fx *f, uint32_t job)
{
	for (unsigned i = f->w.n_log; i > 0; i--)
		if (f->w.log[i - 1].job == job)
			return &f->w.log[i - 1];
	return NULL;
}

static inline struct fl_slots *fx_slots(struct fx *f)
{
	return &f->run->hal.slots;
}

/* The booted slot's version. */
static inline const char *fx_running(struct fx *f)
{
	struct fl_slots *s = fx_slots(f);

	return s->info[fl_slots_booted(s)].version;
}

#endif
