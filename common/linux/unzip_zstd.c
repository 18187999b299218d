/*
 * unzip_zstd.c -- the decompression port on libzstd (unzip_zstd.h).
 *
 * Method: a chunk of an encrypted image is one whole zstd frame that
 * decompresses into the caller's chunk buffer in one call
 * (ZSTD_decompressDCtx), so zstd needs no window buffer of its own: the
 * output is the window. Before that the frame is checked to be exactly
 * one frame filling the input, with its content size written and not
 * above the buffer, and the window it asks for is capped at the buffer's
 * size (ZSTD_d_windowLogMax), so a crafted frame can neither make zstd
 * allocate nor write past the chunk. The context is made once; no call
 * allocates.
 */
#include "fl/unzip_zstd.h"

#include <stdlib.h>

#include <zstd.h>

#include "fl/err.h"

struct fl_unzip_zstd {
	ZSTD_DCtx *dctx;
};

int fl_unzip_zstd_new(struct fl_unzip_zstd **out)
{
	struct fl_unzip_zstd *z;

	if (out == NULL)
		return FL_EINVAL;
	*out = NULL;
	z = calloc(1, sizeof(*z));
	if (z == NULL)
		return FL_ENOMEM;
	z->dctx = ZSTD_createDCtx();
	if (z->dctx == NULL) {
		free(z);
		return FL_ENOMEM;
	}
	*out = z;
	return 0;
}

void fl_unzip_zstd_free(struct fl_unzip_zstd *z)
{
	if (z == NULL)
		return;
	ZSTD_freeDCtx(z->dctx);
	free(z);
}

size_t fl_unzip_zstd_bytes(const struct fl_unzip_zstd *z)
{
	return z != NULL ? ZSTD_sizeof_DCtx(z->dctx) : 0;
}

/* Errors: FL_EINVAL, FL_ECORRUPT. */
static int zstd_frame(void *ctx, const uint8_t *src, size_t src_len,
		      uint8_t *dst, size_t dst_cap, size_t *out_len)
{
	struct fl_unzip_zstd *z = ctx;
	unsigned long long content;
	size_t n;
	int wlog = 10;

	if (z == NULL || src == NULL || dst == NULL || out_len == NULL)
		return FL_EINVAL;
	*out_len = 0;
	if (ZSTD_findFrameCompressedSize(src, src_len) != src_len)
		return FL_ECORRUPT; /* not exactly one frame */
	content = ZSTD_getFrameContentSize(src, src_len);
	if (content == ZSTD_CONTENTSIZE_UNKNOWN ||
	    content == ZSTD_CONTENTSIZE_ERROR || content > dst_cap)
		return FL_ECORRUPT;
	while (wlog < 30 && ((size_t)1 << wlog) < dst_cap)
		wlog++;
	if (ZSTD_isError(ZSTD_DCtx_reset(z->dctx, ZSTD_reset_session_only)) ||
	    ZSTD_isError(
		    ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax, wlog)))
		return FL_ECORRUPT;
	n = ZSTD_decompressDCtx(z->dctx, dst, dst_cap, src, src_len);
	if (ZSTD_isError(n) || n != content)
		return FL_ECORRUPT;
	*out_len = n;
	return 0;
}

static const struct fl_unzip_ops zstd_ops = {
	.version = FL_UNZIP_OPS_VERSION,
	.name = "zstd",
	.frame = zstd_frame,
};

struct fl_unzip fl_unzip_zstd_port(struct fl_unzip_zstd *z)
{
	struct fl_unzip u = {&zstd_ops, z};

	return u;
}
