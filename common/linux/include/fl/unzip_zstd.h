/*
 * unzip_zstd.h -- the decompression port (fl/seal.h, struct fl_unzip_ops)
 * on libzstd, for fleet-agent and fleet-sim: one decompression context
 * made once, reused for every chunk, shareable by every agent of one
 * thread (a chunk is decompressed within one call).
 */
#ifndef FL_UNZIP_ZSTD_H
#define FL_UNZIP_ZSTD_H

#include <stddef.h>

#include "fl/seal.h"

struct fl_unzip_zstd;

/* Makes the context. Returns 0 or FL_ENOMEM. */
int fl_unzip_zstd_new(struct fl_unzip_zstd **out);

/* Accepts NULL. */
void fl_unzip_zstd_free(struct fl_unzip_zstd *z);

/* The port over z (borrowed for the port's use). */
struct fl_unzip fl_unzip_zstd_port(struct fl_unzip_zstd *z);

/* What the context holds, in bytes (ZSTD_sizeof_DCtx). */
size_t fl_unzip_zstd_bytes(const struct fl_unzip_zstd *z);

#endif
