/*
 * string.h -- the whole C library the portable cores may use, for the
 * freestanding cross-builds in cross/.
 *
 * The cross-build compiles with -nostdinc: the only headers on the path are
 * the compiler's own (stddef.h, stdint.h, stdbool.h, ...) and this one. So
 * an #include <stdio.h>, <stdlib.h> or any OS header in a portable source
 * fails the build, and only these five functions can be called; a firmware
 * supplies them from its C library (cross/freestanding.c stands in for it).
 * This list is the contract: check-link.sh allows exactly the functions
 * declared here. Extending it means adding the function here and to
 * freestanding.c, and is a decision about every supported target.
 */
#ifndef FL_CROSS_STRING_H
#define FL_CROSS_STRING_H

#include <stddef.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif
