/*
 * fuzz_proto.c -- libFuzzer target for the MQTT payload decoders and the
 * topic parser (common/proto). The first byte picks the decoder, the rest
 * is the payload. Besides not crashing, leaking or reading out of bounds,
 * the codec must keep its contract:
 *
 *   - a failed decode leaves the struct cleared (a command keeps only its
 *     type and job);
 *   - whatever decodes re-encodes (or is too big only because a peer wrote
 *     a number shorter than we print it), and the re-encoding is a fixed
 *     point: decode(encode(m)) encodes to the same bytes; for messages
 *     without floating-point fields it also gives back the same struct.
 *
 * Built with FL_FUZZ_REPLAY, the file is a plain program that replays the
 * corpus (tests/fuzz/corpus/proto) as a ctest test.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fl/err.h"
#include "fl/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		if (b[i])
			return false;
	}
	return true;
}

/* One message type: decode, and on success check the fixed point. */
#define ROUND_TRIP(type, dec, enc, exact)                                      \
	do {                                                                   \
		static type a, b;                                              \
		static char t1[FL_PROTO_MSG_MAX + 1],                          \
			t2[FL_PROTO_MSG_MAX + 1];                              \
		size_t n1, n2;                                                 \
		int err = dec(&a, text, len, &diag);                           \
		if (err) {                                                     \
			check(err == FL_EINVAL || err == FL_ETOOBIG ||         \
			      err == FL_ENOTSUP);                              \
			check(diag.msg[0] != '\0');                            \
			break;                                                 \
		}                                                              \
		err = enc(t1, sizeof(t1), &n1, &a);                            \
		check(err == 0 || err == FL_ETOOBIG);                          \
		if (err)                                                       \
			break;                                                 \
		check(n1 == strlen(t1) && n1 <= FL_PROTO_MSG_MAX);             \
		check(dec(&b, t1, n1, NULL) == 0);                             \
		if (exact)                                                     \
			check(memcmp(&a, &b, sizeof(a)) == 0);                 \
		check(enc(t2, sizeof(t2), &n2, &b) == 0);                      \
		check(n1 == n2 && memcmp(t1, t2, n1) == 0);                    \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fl_proto_diag diag = {""};
	const char *text;
	size_t len;

	if (size < 1)
		return 0;
	text = (const char *)data + 1;
	len = size - 1;
	switch (data[0] % 8) {
	case 0:
		ROUND_TRIP(struct fl_presence, fl_proto_decode_presence,
			   fl_proto_encode_presence, true);
		break;
	case 1:
		ROUND_TRIP(struct fl_reported, fl_proto_decode_reported,
			   fl_proto_encode_reported, true);
		break;
	case 2: {
		static struct fl_cmd c;

		if (fl_proto_decode_cmd(&c, text, len, NULL) != 0) {
			/* cleared but for type and job */
			uint8_t type = c.type;
			uint32_t job = c.job;

			c.type = 0;
			c.job = 0;
			check(all_zero(&c, sizeof(c)));
			check(type <= FL_CMD_ROLLBACK);
			(void)job;
			break;
		}
		ROUND_TRIP(struct fl_cmd, fl_proto_decode_cmd,
			   fl_proto_encode_cmd, false);
		break;
	}
	case 3:
		ROUND_TRIP(struct fl_status, fl_proto_decode_status,
			   fl_proto_encode_status, true);
		break;
	case 4:
		ROUND_TRIP(struct fl_health, fl_proto_decode_health,
			   fl_proto_encode_health, false);
		break;
	case 5:
		ROUND_TRIP(struct fl_manifest_env, fl_manifest_env_decode,
			   fl_manifest_env_encode, true);
		break;
	case 6: {
		char id[FL_DEVICE_ID_MAX], t[FL_TOPIC_MAX];
		int kind = -1;

		if (fl_topic_parse(id, &kind, text, len, "fleet") == 0) {
			check(fl_topic_build(t, sizeof(t), "fleet", id, kind) ==
			      0);
			check(strlen(t) == len && memcmp(t, text, len) == 0);
		} else {
			check(id[0] == '\0');
		}
		break;
	}
	default: {
		static uint8_t bin[FL_PROTO_MSG_MAX];
		static char back[2 * FL_PROTO_MSG_MAX + 8];
		size_t n, m;

		if (len > FL_PROTO_MSG_MAX)
			break;
		if (fl_base64_decode(bin, sizeof(bin), &n, text, len) == 0) {
			check(fl_base64_encode(back, sizeof(back), &m, bin,
					       n) == 0);
			check(m == len && memcmp(back, text, len) == 0);
		}
		break;
	}
	}
	return 0;
}

#ifdef FL_FUZZ_REPLAY
#include "fuzz_replay.h"
#endif
