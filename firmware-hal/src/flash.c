/*
 * flash.c -- range and alignment checks, once, above every flash backend.
 */
#include "fl/flash.h"

#include "fl/err.h"

static int is_pow2(uint32_t v)
{
	return v != 0 && (v & (v - 1)) == 0;
}

int fl_flash_geom_check(const struct fl_flash_geom *g)
{
	if (g == NULL || !is_pow2(g->erase_bytes) || !is_pow2(g->write_bytes))
		return FL_EINVAL;
	if (g->write_bytes > g->erase_bytes || g->size_bytes == 0 ||
	    g->size_bytes % g->erase_bytes != 0)
		return FL_EINVAL;
	return 0;
}

int fl_area_init(struct fl_area *a, struct fl_flash *fl, uint32_t off,
		 uint32_t size)
{
	if (a == NULL || fl == NULL || fl->ops == NULL ||
	    fl->ops->version != FL_FLASH_OPS_VERSION ||
	    fl_flash_geom_check(&fl->geom) != 0 || size == 0)
		return FL_EINVAL;
	if (off % fl->geom.erase_bytes != 0 || size % fl->geom.erase_bytes != 0)
		return FL_EALIGN;
	if (off > fl->geom.size_bytes || size > fl->geom.size_bytes - off)
		return FL_ERANGE;
	a->fl = fl;
	a->off = off;
	a->size = size;
	return 0;
}

static int in_range(const struct fl_area *a, uint32_t off, size_t len)
{
	return off <= a->size && len <= (size_t)(a->size - off);
}

int fl_area_read(const struct fl_area *a, uint32_t off, void *dst, size_t len)
{
	if (!in_range(a, off, len))
		return FL_ERANGE;
	if (len == 0)
		return 0;
	return a->fl->ops->read(a->fl, a->off + off, dst, len);
}

int fl_area_write(const struct fl_area *a, uint32_t off, const void *src,
		  size_t len)
{
	uint32_t unit = a->fl->geom.write_bytes;

	if (!in_range(a, off, len))
		return FL_ERANGE;
	if (off % unit != 0 || len % unit != 0)
		return FL_EALIGN;
	if (len == 0)
		return 0;
	return a->fl->ops->write(a->fl, a->off + off, src, len);
}

int fl_area_erase(const struct fl_area *a, uint32_t off, size_t len)
{
	uint32_t unit = a->fl->geom.erase_bytes;

	if (!in_range(a, off, len))
		return FL_ERANGE;
	if (off % unit != 0 || len % unit != 0)
		return FL_EALIGN;
	if (len == 0)
		return 0;
	return a->fl->ops->erase(a->fl, a->off + off, len);
}

int fl_area_sync(const struct fl_area *a)
{
	if (a->fl->ops->sync == NULL)
		return 0;
	return a->fl->ops->sync(a->fl);
}
