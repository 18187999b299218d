/*
 * encoding.c -- strict base64 (RFC 4648, standard alphabet, padded) and
 * hex, the two byte encodings the manifest envelope and body use.
 *
 * Strict means one text per byte string: decode refuses whitespace, a
 * missing or extra '=', characters outside the alphabet, and pad bits that
 * are not zero, so a signature or body can be carried in exactly one way.
 */
#include <string.h>

#include "fl/err.h"
#include "fl/proto.h"

static const char B64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int fl_base64_encode(char *out, size_t out_size, size_t *out_len,
		     const uint8_t *in, size_t len)
{
	size_t need, o = 0;

	if (out == NULL || (in == NULL && len > 0))
		return FL_EINVAL;
	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return FL_ETOOBIG;
	need = (len + 2) / 3 * 4;
	if (need + 1 > out_size)
		return FL_ETOOBIG;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t rest = len - i;

		if (rest > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (rest > 2)
			v |= in[i + 2];
		out[o++] = B64[(v >> 18) & 63];
		out[o++] = B64[(v >> 12) & 63];
		out[o++] = rest > 1 ? B64[(v >> 6) & 63] : '=';
		out[o++] = rest > 2 ? B64[v & 63] : '=';
	}
	out[o] = '\0';
	if (out_len != NULL)
		*out_len = o;
	return 0;
}

/* Value of a base64 character, or -1. */
static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int fl_base64_decode(uint8_t *out, size_t out_size, size_t *out_len,
		     const char *in, size_t len)
{
	size_t pad = 0, n, o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	if (out_len != NULL)
		*out_len = 0;
	if (in == NULL || (out == NULL && out_size > 0) || len % 4 != 0)
		return FL_EINVAL;
	if (len >= 1 && in[len - 1] == '=')
		pad++;
	if (len >= 2 && in[len - 2] == '=')
		pad++;
	n = len / 4 * 3 - pad;
	if (n > out_size)
		return FL_ETOOBIG;
	/* Six bits a character, a byte out whenever eight are in; '=' is
	 * not in the alphabet, so one before the padding is refused. */
	for (size_t i = 0; i < len - pad; i++) {
		int v = b64_value(in[i]);

		if (v < 0)
			return FL_EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if ((acc & ((1u << bits) - 1u)) != 0)
		return FL_EINVAL; /* pad bits must be zero */
	if (out_len != NULL)
		*out_len = o;
	return 0;
}

int fl_hex_encode(char *out, size_t out_size, const uint8_t *in, size_t len)
{
	static const char HEX[] = "0123456789abcdef";

	if (out == NULL || (in == NULL && len > 0))
		return FL_EINVAL;
	if (len > (SIZE_MAX - 1) / 2 || 2 * len + 1 > out_size)
		return FL_ETOOBIG;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = HEX[in[i] >> 4];
		out[2 * i + 1] = HEX[in[i] & 15];
	}
	out[2 * len] = '\0';
	return 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int fl_hex_decode(uint8_t *out, size_t out_len, const char *in, size_t len)
{
	if (in == NULL || (out == NULL && out_len > 0))
		return FL_EINVAL;
	if (len > 2 * out_len)
		return FL_ETOOBIG;
	if (len != 2 * out_len)
		return FL_EINVAL;
	for (size_t i = 0; i < out_len; i++) {
		int hi = hex_value(in[2 * i]);
		int lo = hex_value(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return FL_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
