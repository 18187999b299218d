/*
 * arena.c -- the bounded bump allocator behind a plan and its YAML tree.
 *
 * Everything a plan points to is allocated here and released at once by
 * plan__arena_free, so the validator never frees piecemeal and a half-built
 * plan cannot leak. Chunks grow geometrically (4 KiB up to 1 MiB) and an
 * allocation larger than a chunk gets a chunk of its own; the total of all
 * chunks is capped, and reaching the cap is an error, not a crash.
 */
#include <stdlib.h>
#include <string.h>

#include "fl/err.h"
#include "plan_int.h"

#define CHUNK_MIN (4u << 10)
#define CHUNK_MAX (1u << 20)
#define ALIGN	  _Alignof(max_align_t)

struct chunk {
	struct chunk *next;
	size_t size, used;
	_Alignas(max_align_t) unsigned char data[];
};

struct plan__arena {
	struct chunk *head;
	size_t total, cap, next_size;
	int err;
};

struct plan__arena *plan__arena_new(size_t cap_bytes)
{
	struct plan__arena *a = malloc(sizeof(*a));

	if (a == NULL)
		return NULL;
	memset(a, 0, sizeof(*a));
	a->cap = cap_bytes;
	a->next_size = CHUNK_MIN;
	return a;
}

static struct chunk *grow(struct plan__arena *a, size_t need)
{
	size_t size = a->next_size;
	struct chunk *c;

	if (size < need)
		size = need;
	if (size > a->cap - a->total) {
		size = need; /* the last chunk may be just what is needed */
		if (size > a->cap - a->total) {
			a->err = FL_ETOOBIG;
			return NULL;
		}
	}
	c = malloc(sizeof(*c) + size);
	if (c == NULL) {
		a->err = FL_ENOMEM;
		return NULL;
	}
	c->size = size;
	c->used = 0;
	c->next = a->head;
	a->head = c;
	a->total += size;
	if (a->next_size < CHUNK_MAX)
		a->next_size *= 2;
	return c;
}

void *plan__arena_alloc(struct plan__arena *a, size_t size)
{
	struct chunk *c;
	size_t need;
	void *p;

	if (a->err != 0)
		return NULL;
	if (size > a->cap) {
		a->err = FL_ETOOBIG;
		return NULL;
	}
	need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (need == 0)
		need = ALIGN;
	c = a->head;
	if (c == NULL || c->size - c->used < need) {
		c = grow(a, need);
		if (c == NULL)
			return NULL;
	}
	p = c->data + c->used;
	c->used += need;
	memset(p, 0, need);
	return p;
}

char *plan__arena_strndup(struct plan__arena *a, const char *s, size_t len)
{
	char *p;

	if (len >= a->cap) {
		a->err = FL_ETOOBIG;
		return NULL;
	}
	p = plan__arena_alloc(a, len + 1);
	if (p != NULL && len > 0)
		memcpy(p, s, len);
	return p;
}

int plan__arena_error(const struct plan__arena *a)
{
	return a->err;
}

void plan__arena_free(struct plan__arena *a)
{
	struct chunk *c, *next;

	if (a == NULL)
		return;
	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}
