/*
 * agent_image.c -- a firmware's use of the agent, for measuring it: the
 * agent, the slot manager, the flash store and the struct the MQTT
 * adapter decodes a command into are statics; every entry point of the
 * agent is called, and the transport stand-in does what a real MQTT
 * adapter does with the codec (agent/esp32): decode a command
 * (fl_proto_decode_cmd) straight from the MQTT client's receive buffer,
 * encode status, reported, health and presence (fl_proto_encode_*) in the
 * agent's message buffer (fl_agent_msg_buf(): a message is encoded in
 * place, and the client copies it into its outbox), build its topics. So
 * the static RAM is the agent's, with no payload buffer that would
 * duplicate the client's, and a --gc-sections link from
 * fl_agent_image_main keeps exactly the code a device runs.
 * bench/sizes.sh links it twice: with external_stub.c standing in for the
 * codec (the agent, slot manager, installer, flash interface and helpers),
 * and with the codec itself (common/proto: the device's real link); .text
 * + .rodata is the code, .data + .bss the static RAM.
 *
 * Not counted, because each is the platform's and not the agent's: the
 * MQTT client, the HTTP client, TLS, Mbed TLS (the crypto port's table is
 * replaced by a stand-in here), the flash driver, cJSON and the C library
 * (bench/sizes.sh names the functions they supply), and the stack. The
 * port functions below are the thinnest stand-ins that let it link.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fl/agent.h"
#include "fl/err.h"

void fl_agent_image_main(void);

/* ---- what a firmware keeps in RAM for the agent -------------------------- */

static struct fl_agent agent;
static struct fl_slots slots;
static struct fl_agent_flash_store store;
static struct fl_cmd cmd; /* the adapter decodes a command into this */
static struct fl_boot_status handoff;
static char topic[FL_TOPIC_MAX];
/* A received message: where the MQTT client's receive buffer holds it
 * (the client's memory, not the firmware's). */
static const char *volatile rx_data;
static volatile size_t rx_len;

/* ---- stand-ins for the platform --------------------------------------------
 */

static int flash_read(struct fl_flash *fl, uint32_t off, void *dst, size_t len)
{
	(void)fl;
	(void)off;
	(void)dst;
	(void)len;
	return FL_EIO;
}

static int flash_write(struct fl_flash *fl, uint32_t off, const void *src,
		       size_t len)
{
	(void)fl;
	(void)off;
	(void)src;
	(void)len;
	return FL_EIO;
}

static int flash_erase(struct fl_flash *fl, uint32_t off, size_t len)
{
	(void)fl;
	(void)off;
	(void)len;
	return FL_EIO;
}

static const struct fl_flash_ops flash_ops = {
	.version = FL_FLASH_OPS_VERSION,
	.name = "mcu",
	.read = flash_read,
	.write = flash_write,
	.erase = flash_erase,
};

static struct fl_flash flash = {&flash_ops, {1u << 20, 4096, 4, 0xFF}, NULL};

static int boot_status(struct fl_boot *b, struct fl_boot_status *st)
{
	*st = *(const struct fl_boot_status *)b->priv;
	return 0;
}

static const struct fl_boot_ops boot_ops = {
	FL_BOOT_OPS_VERSION, "native", boot_status, NULL, NULL, NULL,
};

static struct fl_boot boot = {&boot_ops, &handoff};

static int sha_init(struct fl_hash_ctx *ctx)
{
	(void)ctx;
	return FL_ECRYPTO;
}

static int sha_update(struct fl_hash_ctx *ctx, const void *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	return FL_ECRYPTO;
}

static int sha_final(struct fl_hash_ctx *ctx, uint8_t out[FL_SHA256_BYTES])
{
	(void)ctx;
	(void)out;
	return FL_ECRYPTO;
}

static int p256_verify(const uint8_t pub[65],
		       const uint8_t digest[FL_SHA256_BYTES],
		       const uint8_t sig[64])
{
	(void)pub;
	(void)digest;
	(void)sig;
	return FL_ECRYPTO;
}

static int gcm_open(const uint8_t key[FL_AES256_KEY_BYTES],
		    const uint8_t iv[FL_GCM_IV_BYTES], const uint8_t *aad,
		    size_t aad_len, uint8_t *buf, size_t len,
		    const uint8_t tag[FL_GCM_TAG_BYTES])
{
	(void)key;
	(void)iv;
	(void)aad;
	(void)aad_len;
	(void)buf;
	(void)len;
	(void)tag;
	return FL_ECRYPTO;
}

static int p256_ecdh(const uint8_t priv[FL_P256_PRIV_BYTES],
		     const uint8_t peer[65], uint8_t out[FL_ECDH_BYTES])
{
	(void)priv;
	(void)peer;
	(void)out;
	return FL_ECRYPTO;
}

static const struct fl_crypto_ops crypto = {
	FL_CRYPTO_OPS_VERSION, "stand-in", sha_init,  sha_update, sha_final,
	p256_verify,	       gcm_open,   p256_ecdh,
};

#ifndef FL_IMAGE_PLAIN
/* Encrypted images without compression (no zstd on the device): one
 * record of the largest chunk taken (FL_IMAGE_CHUNK, 4 KiB unless the
 * build says) and its tag, and the device's wrap key. Built with
 * FL_IMAGE_PLAIN, the firmware leaves encrypted images out (linked with
 * agent/core/noseal/sealed_none.c) and has neither. */
#ifndef FL_IMAGE_CHUNK
#define FL_IMAGE_CHUNK FL_SEAL_CHUNK_MIN
#endif
static uint8_t seal_rec[FL_SEAL_BUF_BYTES(FL_IMAGE_CHUNK)];
static struct fl_agent_seal_bufs seal_bufs = {seal_rec, sizeof(seal_rec), 0, 0};
static struct fl_wrap_key wrap_key;
#endif

/* The MQTT adapter: encode in place in the agent's message buffer, then
 * hand the bytes to the client, which copies them into its outbox (here:
 * nowhere). */
static size_t pub_len;

static int pub_status(void *ctx, const struct fl_status *m)
{
	size_t size;
	char *out = fl_agent_msg_buf(&agent, &size);

	(void)ctx;
	return fl_proto_encode_status(out, size, &pub_len, m);
}

static int pub_reported(void *ctx, const struct fl_reported *m)
{
	size_t size;
	char *out = fl_agent_msg_buf(&agent, &size);

	(void)ctx;
	return fl_proto_encode_reported(out, size, &pub_len, m);
}

static int pub_health(void *ctx, const struct fl_health *m)
{
	size_t size;
	char *out = fl_agent_msg_buf(&agent, &size);

	(void)ctx;
	return fl_proto_encode_health(out, size, &pub_len, m);
}

static const struct fl_agent_transport_ops transport_ops = {
	FL_AGENT_PORT_VERSION, "mqtt", pub_status, pub_reported, pub_health,
};

static int dl_start(void *ctx, const struct fl_agent_dl_request *req)
{
	(void)ctx;
	(void)req;
	return 0;
}

static void dl_stop(void *ctx)
{
	(void)ctx;
}

static const struct fl_agent_downloader_ops downloader_ops = {
	FL_AGENT_PORT_VERSION,
	"http",
	dl_start,
	dl_stop,
};

static uint64_t now_s(void *ctx)
{
	(void)ctx;
	return 0;
}

static uint64_t mono_ms(void *ctx)
{
	(void)ctx;
	return 0;
}

static const struct fl_agent_clock_ops clock_ops = {
	FL_AGENT_PORT_VERSION, "rtc", now_s, mono_ms, NULL,
};

static int facts(void *ctx, struct fl_agent_facts *out)
{
	(void)ctx;
	(void)out;
	return 0;
}

static int health(void *ctx, bool is_trial, struct fl_agent_health_sample *out)
{
	(void)ctx;
	(void)is_trial;
	(void)out;
	return 0;
}

static void reboot(void *ctx)
{
	(void)ctx;
}

static const struct fl_agent_device_ops device_ops = {
	FL_AGENT_PORT_VERSION, "board", facts, health, reboot,
};

/* ---- the firmware's agent task ---------------------------------------------
 */

void fl_agent_image_main(void)
{
	static const struct fl_manifest_key keys[1];
	static const uint8_t chunk[4];
	/* Copied by fl_slots_open, fl_agent_flash_store_init and
	 * fl_agent_init: a firmware keeps them on the stack. */
	struct fl_agent_config cfg = {0};
	struct fl_slots_config sc = {0};
	struct fl_area store_area = {0};
	struct fl_agent_dl_response r = {206, 0, 0, ""};
	struct fl_presence presence = {0};
	uint32_t next = 0;
	size_t size;
	char *out;

	(void)fl_area_init(&sc.meta, &flash, 0, 4 * 4096);
	(void)fl_area_init(&sc.slot[0], &flash, 4 * 4096, 480 * 1024);
	(void)fl_area_init(&sc.slot[1], &flash, 4 * 4096 + 480 * 1024,
			   480 * 1024);
	(void)fl_area_init(&store_area, &flash, 1024 * 1024 - 2 * 4096,
			   2 * 4096);
	sc.boot = &boot;
	sc.crypto = &crypto;
	if (fl_slots_open(&slots, &sc) != 0 ||
	    fl_agent_flash_store_init(&store, &store_area) != 0)
		return;
	cfg.slots = &slots;
	cfg.crypto = &crypto;
	cfg.keys = keys;
	cfg.n_keys = 1;
	cfg.transport.ops = &transport_ops;
	cfg.downloader.ops = &downloader_ops;
	cfg.clock.ops = &clock_ops;
	cfg.store.ops = &fl_agent_flash_store_ops;
	cfg.store.ctx = &store;
	cfg.device.ops = &device_ops;
	cfg.model = "acme-gw-2";
	cfg.device_id = "dev-1";
#ifndef FL_IMAGE_PLAIN
	cfg.wrap_keys = &wrap_key;
	cfg.n_wrap_keys = 1;
	cfg.seal_chunk_max = FL_IMAGE_CHUNK;
	cfg.seal_bufs = &seal_bufs;
#endif
	if (fl_agent_init(&agent, &cfg) != 0)
		return;
	/* Connected: the adapter publishes presence, then tells the agent. */
	if (fl_topic_build(topic, sizeof(topic), "fleet", "dev-1",
			   FL_TOPIC_PRESENCE) != 0)
		return;
	presence.is_online = true;
	presence.boot = fl_agent_boot_count(&agent);
	out = fl_agent_msg_buf(&agent, &size);
	(void)fl_proto_encode_presence(out, size, &pub_len, &presence);
	(void)fl_agent_on_connect(&agent);
	/* A message on the cmd topic, decoded where the client received it. */
	if (fl_proto_decode_cmd(&cmd, rx_data, rx_len, NULL) == 0)
		(void)fl_agent_on_cmd(&agent, &cmd);
	else
		(void)fl_agent_on_cmd_invalid(&agent, cmd.job, NULL);
	for (;;) {
		if (fl_agent_poll(&agent, &next) != 0)
			return;
		(void)fl_agent_on_dl_response(&agent, &r);
		(void)fl_agent_on_dl_data(&agent, chunk, sizeof(chunk));
		(void)fl_agent_on_dl_done(&agent, 0);
		if (next == 0)
			fl_agent_on_disconnect(&agent);
	}
}
