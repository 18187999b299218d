/*
 * flash_shared.c -- NOR flash whose erase units are shared by content
 * across devices (see fl/flash_shared.h).
 *
 * Method: a device's flash is a directory of leaves, each leaf
 * FL_SHFLASH_LEAF_UNITS pointers to pages; NULL is an erased unit. A page
 * is either shared (in the pool's hash table, immutable, trimmed to its
 * last byte that is not erased, any number of references) or private (one
 * reference, a whole unit, being programmed by one device, listed in that
 * device's open list). Leaves carry a reference count too: a leaf with
 * more than one owner is copied before it is changed.
 *
 * A write first checks the NOR rule on the current bytes, then takes the
 * next operation index and consults the fault plan exactly as
 * flash_sim.c does (same order of random draws, so the same plan lands
 * the same damage), then makes the unit's page private (copying a shared
 * one, or taking it back from the table when nobody else holds it) and
 * programs it. A device has at most FL_SHFLASH_OPEN_MAX private pages:
 * opening one more settles the oldest, and every sync settles them all.
 * Settling trims a page, looks its bytes up in the pool and either drops
 * it for the equal page already there or enters it. An erase just drops
 * the unit's page; erasing an erased unit changes nothing (the installer
 * erases ahead of the data).
 *
 * Invariant (checked by the unit test through the pool's counts): a
 * private page has exactly one reference, from a leaf with exactly one
 * owner, and is in its device's open list. So programming in place never
 * shows through another device, and cloning (which settles first) never
 * shares a page that can still change.
 */
#include "fl/flash_shared.h"

#include <stdlib.h>
#include <string.h>

#include "fl/err.h"

#define L_UNITS FL_SHFLASH_LEAF_UNITS

struct fl_shpage {
	struct fl_shpage *next; /* hash chain */
	uint64_t hash;
	uint32_t refs;
	uint32_t len;	   /* bytes stored: a whole unit while private */
	uint8_t is_shared; /* in the hash table: immutable */
	uint8_t data[];
};

struct fl_shleaf {
	uint32_t refs;
	struct fl_shpage *page[L_UNITS];
};

struct fl_shpool {
	struct fl_shpool_config cfg;
	struct fl_shpage **bucket;
	size_t n_buckets; /* a power of two */
	struct fl_shpool_stats st;
};

/* ---- memory, accounted against the pool's limit -------------------------- */

static void *pool_alloc(struct fl_shpool *p, size_t n)
{
	void *m;

	p->st.allocs++;
	if (p->cfg.fail_alloc_at != 0 && p->st.allocs == p->cfg.fail_alloc_at)
		return NULL;
	if (p->cfg.max_bytes != 0 && p->st.bytes + n > p->cfg.max_bytes)
		return NULL;
	m = malloc(n);
	if (m != NULL)
		p->st.bytes += n;
	return m;
}

static void pool_release(struct fl_shpool *p, void *m, size_t n)
{
	if (m == NULL)
		return;
	p->st.bytes -= n;
	free(m);
}

static size_t page_size(uint32_t len)
{
	return sizeof(struct fl_shpage) + len;
}

/* ---- the hash table of shared pages -------------------------------------- */

/* 64-bit multiply-xorshift over 8-byte words; collisions are settled by
 * comparing the bytes. */
static uint64_t hash_bytes(const uint8_t *d, uint32_t len)
{
	uint64_t h = 0x243F6A8885A308D3ull ^ (len * 0x9E3779B97F4A7C15ull);
	uint32_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, d + i, 8);
		h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
		h ^= h >> 31;
	}
	for (; i < len; i++) {
		h = (h ^ d[i]) * 0x94D049BB133111EBull;
		h ^= h >> 29;
	}
	h ^= h >> 32;
	return h * 0xD6E8FEB86659FD93ull;
}

static struct fl_shpage *pool_find(const struct fl_shpool *p, uint64_t h,
				   const uint8_t *d, uint32_t len)
{
	struct fl_shpage *pg;

	if (p->n_buckets == 0)
		return NULL;
	for (pg = p->bucket[h & (p->n_buckets - 1)]; pg != NULL; pg = pg->next)
		if (pg->hash == h && pg->len == len &&
		    memcmp(pg->data, d, len) == 0)
			return pg;
	return NULL;
}

/* Doubles the table when it is full; best effort (a failed allocation
 * only makes the chains longer). */
static void pool_grow(struct fl_shpool *p)
{
	size_t n = p->n_buckets == 0 ? 256 : p->n_buckets * 2;
	struct fl_shpage **b;

	if (p->st.pages < p->n_buckets)
		return;
	b = pool_alloc(p, n * sizeof(*b));
	if (b == NULL)
		return;
	memset(b, 0, n * sizeof(*b));
	for (size_t i = 0; i < p->n_buckets; i++) {
		struct fl_shpage *pg = p->bucket[i], *next;

		for (; pg != NULL; pg = next) {
			next = pg->next;
			pg->next = b[pg->hash & (n - 1)];
			b[pg->hash & (n - 1)] = pg;
		}
	}
	pool_release(p, p->bucket, p->n_buckets * sizeof(*p->bucket));
	p->bucket = b;
	p->n_buckets = n;
}

static void pool_insert(struct fl_shpool *p, struct fl_shpage *pg)
{
	pool_grow(p);
	if (p->n_buckets == 0)
		return; /* no table at all: the page stays private */
	pg->next = p->bucket[pg->hash & (p->n_buckets - 1)];
	p->bucket[pg->hash & (p->n_buckets - 1)] = pg;
	pg->is_shared = 1;
	p->st.pages++;
	p->st.page_bytes += pg->len;
}

static void pool_remove(struct fl_shpool *p, struct fl_shpage *pg)
{
	struct fl_shpage **pp = &p->bucket[pg->hash & (p->n_buckets - 1)];

	while (*pp != pg)
		pp = &(*pp)->next;
	*pp = pg->next;
	pg->next = NULL;
	pg->is_shared = 0;
	p->st.pages--;
	p->st.page_bytes -= pg->len;
}

/* ---- pages and leaves ---------------------------------------------------- */

static void page_unref(struct fl_shpool *p, struct fl_shpage *pg)
{
	if (pg == NULL || --pg->refs > 0)
		return;
	if (pg->is_shared)
		pool_remove(p, pg);
	pool_release(p, pg, page_size(pg->len));
}

static void leaf_unref(struct fl_shpool *p, struct fl_shleaf *l)
{
	if (l == NULL || --l->refs > 0)
		return;
	for (unsigned i = 0; i < L_UNITS; i++)
		page_unref(p, l->page[i]);
	pool_release(p, l, sizeof(*l));
	p->st.leaves--;
}

static uint32_t trimmed_len(const uint8_t *d, uint32_t len, uint8_t erased)
{
	while (len > 0 && d[len - 1] == erased)
		len--;
	return len;
}

static struct fl_shpage **unit_slot(struct fl_shflash *f, uint32_t unit)
{
	return &f->dir[unit / L_UNITS]->page[unit % L_UNITS];
}

static void open_remove(struct fl_shflash *f, uint32_t unit)
{
	for (uint32_t i = 0; i < f->n_open; i++) {
		if (f->open_unit[i] != unit)
			continue;
		memmove(&f->open_unit[i], &f->open_unit[i + 1],
			(f->n_open - i - 1) * sizeof(f->open_unit[0]));
		f->n_open--;
		return;
	}
}

/* Commits the private page of unit to the pool. */
static void settle_unit(struct fl_shflash *f, uint32_t unit)
{
	struct fl_shpool *p = f->pool;
	struct fl_shpage **slot = unit_slot(f, unit), *pg = *slot, *dup, *small;
	uint32_t n;
	uint64_t h;

	open_remove(f, unit);
	if (pg == NULL || pg->is_shared)
		return;
	n = trimmed_len(pg->data, pg->len, p->cfg.erased_value);
	if (n == 0) {
		page_unref(p, pg);
		*slot = NULL;
		return;
	}
	h = hash_bytes(pg->data, n);
	dup = pool_find(p, h, pg->data, n);
	if (dup != NULL) {
		dup->refs++;
		p->st.dedup_hits++;
		page_unref(p, pg);
		*slot = dup;
		return;
	}
	/* Shrinking cannot fail in practice; if it does, the block is
	 * only larger than it needs to be. */
	p->st.bytes -= pg->len - n;
	pg->len = n;
	small = realloc(pg, page_size(n));
	if (small != NULL) {
		pg = small;
		*slot = pg;
	}
	pg->hash = h;
	pool_insert(p, pg);
}

/* Makes leaf li owned by f alone (allocating an empty one). */
static int leaf_for_write(struct fl_shflash *f, uint32_t li)
{
	struct fl_shpool *p = f->pool;
	struct fl_shleaf *l = f->dir[li], *c;

	if (l != NULL && l->refs == 1)
		return 0;
	c = pool_alloc(p, sizeof(*c));
	if (c == NULL)
		return FL_ENOMEM;
	p->st.leaves++;
	if (l == NULL) {
		memset(c, 0, sizeof(*c));
	} else {
		*c = *l;
		for (unsigned i = 0; i < L_UNITS; i++)
			if (c->page[i] != NULL)
				c->page[i]->refs++;
		l->refs--;
	}
	c->refs = 1;
	f->dir[li] = c;
	return 0;
}

/* The bytes of unit, private to f and whole, to program in place. */
static int page_for_write(struct fl_shflash *f, uint32_t unit, uint8_t **out)
{
	struct fl_shpool *p = f->pool;
	uint32_t size = f->flash.geom.erase_bytes;
	struct fl_shpage **slot, *pg, *c;
	int rc = leaf_for_write(f, unit / L_UNITS);

	if (rc != 0)
		return rc;
	slot = unit_slot(f, unit);
	pg = *slot;
	if (pg != NULL && !pg->is_shared) {
		*out = pg->data; /* private already (in the open list) */
		return 0;
	}
	if (f->n_open == FL_SHFLASH_OPEN_MAX)
		settle_unit(f, f->open_unit[0]);
	if (pg != NULL && pg->refs == 1) {
		/* Nobody else holds it: take it back from the table. */
		pool_remove(p, pg);
		c = pool_alloc(p, page_size(size));
		if (c == NULL) {
			pool_insert(p, pg);
			return FL_ENOMEM;
		}
		memcpy(c, pg, page_size(pg->len));
		pool_release(p, pg, page_size(pg->len));
	} else {
		c = pool_alloc(p, page_size(size));
		if (c == NULL)
			return FL_ENOMEM;
		memset(c, 0, sizeof(*c));
		if (pg != NULL) {
			memcpy(c->data, pg->data, pg->len);
			c->len = pg->len;
			page_unref(p, pg);
		}
	}
	memset(c->data + c->len, p->cfg.erased_value, size - c->len);
	c->len = size;
	c->refs = 1;
	c->is_shared = 0;
	c->next = NULL;
	*slot = c;
	f->open_unit[f->n_open++] = unit;
	*out = c->data;
	return 0;
}

/* The page of unit, NULL when erased. */
static const struct fl_shpage *page_at(const struct fl_shflash *f,
				       uint32_t unit)
{
	const struct fl_shleaf *l = f->dir[unit / L_UNITS];

	return l != NULL ? l->page[unit % L_UNITS] : NULL;
}

/* true if every byte of [off, off + len) is erased. */
static bool is_erased(const struct fl_shflash *f, uint32_t off, size_t len)
{
	uint32_t unit_bytes = f->flash.geom.erase_bytes;
	uint8_t erased = f->flash.geom.erased_value;

	for (size_t i = 0; i < len;) {
		uint32_t at = off + (uint32_t)i, in = at % unit_bytes;
		uint32_t n = unit_bytes - in;
		const struct fl_shpage *pg = page_at(f, at / unit_bytes);

		if (n > len - i)
			n = (uint32_t)(len - i);
		for (uint32_t k = in; pg != NULL && k < in + n && k < pg->len;
		     k++)
			if (pg->data[k] != erased)
				return false;
		i += n;
	}
	return true;
}

static int erase_unit(struct fl_shflash *f, uint32_t unit)
{
	struct fl_shleaf *l = f->dir[unit / L_UNITS];
	struct fl_shpage **slot;
	int rc;

	if (l == NULL || l->page[unit % L_UNITS] == NULL)
		return 0; /* erased already */
	rc = leaf_for_write(f, unit / L_UNITS);
	if (rc != 0)
		return rc;
	open_remove(f, unit);
	slot = unit_slot(f, unit);
	page_unref(f->pool, *slot);
	*slot = NULL;
	l = f->dir[unit / L_UNITS];
	for (unsigned i = 0; i < L_UNITS; i++)
		if (l->page[i] != NULL)
			return 0;
	leaf_unref(f->pool, l);
	f->dir[unit / L_UNITS] = NULL;
	return 0;
}

/* ---- the fault plan, as flash_sim.c -------------------------------------- */

static uint64_t sh_rand(struct fl_shflash *f)
{
	uint64_t x = f->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	f->rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static uint32_t sh_rand_below(struct fl_shflash *f, uint32_t n)
{
	return n == 0 ? 0 : (uint32_t)(sh_rand(f) % n);
}

static void seed_rng(struct fl_shflash *f)
{
	f->rng = f->faults.seed * 0x9E3779B97F4A7C15ull + 0x243F6A8885A308D3ull;
	if (f->rng == 0)
		f->rng = 1;
}

enum damage { D_AND_SRC, D_AND_SRC_OR_RAND, D_ERASE_RAND, D_RANDOM };

/* Applies one kind of damage to [off, off + len), byte by byte in
 * address order (the order of the random draws). */
static void damage(struct fl_shflash *f, uint32_t off, const uint8_t *src,
		   uint32_t len, enum damage kind)
{
	uint32_t unit_bytes = f->flash.geom.erase_bytes;
	uint8_t erased = f->flash.geom.erased_value;

	for (uint32_t i = 0; i < len;) {
		uint32_t at = off + i, in = at % unit_bytes;
		uint32_t n = unit_bytes - in;
		uint8_t *d;

		if (n > len - i)
			n = len - i;
		if (page_for_write(f, at / unit_bytes, &d) != 0)
			return; /* no memory: the damage is lost */
		d += in;
		for (uint32_t k = 0; k < n; k++) {
			switch (kind) {
			case D_AND_SRC: d[k] &= src[i + k]; break;
			case D_AND_SRC_OR_RAND:
				d[k] &= (uint8_t)(src[i + k] | sh_rand(f));
				break;
			case D_ERASE_RAND:
				d[k] = (uint8_t)(erased == 0xFF
							 ? d[k] | sh_rand(f)
							 : d[k] & sh_rand(f));
				break;
			default: d[k] = (uint8_t)sh_rand(f); break;
			}
		}
		i += n;
	}
}

/* Returns 0 to go ahead, FL_EIO, or FL_EPOWER after landing the cut's
 * damage. */
static int sh_begin(struct fl_shflash *f, enum fl_sim_op op, uint32_t off,
		    const uint8_t *src, uint32_t len)
{
	const struct fl_sim_faults *fp = &f->faults;
	uint32_t unit = f->flash.geom.erase_bytes, n;

	if (!f->is_powered)
		return FL_EPOWER;
	f->ops++;
	if (fp->eio_at != 0 && (f->ops == fp->eio_at ||
				(fp->is_eio_sticky && f->ops > fp->eio_at)))
		return FL_EIO;
	if (fp->cut_at == 0 || f->ops != fp->cut_at)
		return 0;
	f->is_powered = 0;
	f->last_cut_op = (uint8_t)op;
	if (op == FL_SIM_OP_WRITE || op == FL_SIM_OP_ERASE) {
		switch (fp->cut_mode) {
		case FL_SIM_CUT_TORN:
			n = sh_rand_below(f, len);
			if (op == FL_SIM_OP_WRITE) {
				if (fp->torn_bytes != 0 && fp->torn_bytes < len)
					n = fp->torn_bytes;
				damage(f, off, src, n, D_AND_SRC);
				damage(f, off + n, src + n, 1,
				       D_AND_SRC_OR_RAND);
			} else {
				uint32_t done = n / unit * unit;

				for (uint32_t u = 0; u < done; u += unit)
					(void)erase_unit(f, (off + u) / unit);
				damage(f, off + done, NULL,
				       len - done < unit ? len - done : unit,
				       D_ERASE_RAND);
			}
			break;
		case FL_SIM_CUT_GARBAGE:
			damage(f, off, NULL, len, D_RANDOM);
			break;
		default: break; /* CLEAN: it never happened */
		}
	}
	if (f->on_cut != NULL)
		f->on_cut(f->cut_ctx);
	return FL_EPOWER;
}

/* ---- the flash operations ------------------------------------------------ */

static int sh_read(struct fl_flash *fl, uint32_t off, void *dst, size_t len)
{
	struct fl_shflash *f = fl->priv;
	uint32_t unit_bytes = fl->geom.erase_bytes;
	uint8_t *out = dst;
	int rc = sh_begin(f, FL_SIM_OP_READ, off, NULL, (uint32_t)len);

	if (rc != 0)
		return rc;
	for (size_t i = 0; i < len;) {
		uint32_t at = off + (uint32_t)i, unit = at / unit_bytes;
		uint32_t in = at % unit_bytes, n = unit_bytes - in, have;
		const struct fl_shpage *pg = page_at(f, unit);

		if (n > len - i)
			n = (uint32_t)(len - i);
		have = pg == NULL || pg->len <= in ? 0 : pg->len - in;
		if (have > n)
			have = n;
		if (have > 0)
			memcpy(out + i, pg->data + in, have);
		memset(out + i + have, fl->geom.erased_value, n - have);
		i += n;
	}
	return 0;
}

static int sh_write(struct fl_flash *fl, uint32_t off, const void *src,
		    size_t len)
{
	struct fl_shflash *f = fl->priv;
	uint32_t unit_bytes = fl->geom.erase_bytes;
	const uint8_t *p = src;
	int rc;

	/* NOR rule, before anything happens, as the simulator. */
	if (f->is_powered && !is_erased(f, off, len))
		return FL_ENOTERASED;
	rc = sh_begin(f, FL_SIM_OP_WRITE, off, p, (uint32_t)len);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < len;) {
		uint32_t at = off + (uint32_t)i, in = at % unit_bytes;
		uint32_t n = unit_bytes - in;
		uint8_t *d;

		if (n > len - i)
			n = (uint32_t)(len - i);
		rc = page_for_write(f, at / unit_bytes, &d);
		if (rc != 0)
			return rc;
		memcpy(d + in, p + i, n);
		i += n;
	}
	return 0;
}

static int sh_erase(struct fl_flash *fl, uint32_t off, size_t len)
{
	struct fl_shflash *f = fl->priv;
	uint32_t unit_bytes = fl->geom.erase_bytes;
	int rc = sh_begin(f, FL_SIM_OP_ERASE, off, NULL, (uint32_t)len);

	for (size_t i = 0; rc == 0 && i < len; i += unit_bytes)
		rc = erase_unit(f, (off + (uint32_t)i) / unit_bytes);
	return rc;
}

static int sh_sync(struct fl_flash *fl)
{
	struct fl_shflash *f = fl->priv;
	int rc = sh_begin(f, FL_SIM_OP_SYNC, 0, NULL, 0);

	if (rc == 0)
		fl_shflash_settle(f);
	return rc;
}

static const struct fl_flash_ops sh_ops = {
	.version = FL_FLASH_OPS_VERSION,
	.name = "shared",
	.read = sh_read,
	.write = sh_write,
	.erase = sh_erase,
	.sync = sh_sync,
};

/* ---- public -------------------------------------------------------------- */

int fl_shpool_new(struct fl_shpool **out, const struct fl_shpool_config *cfg)
{
	struct fl_shpool *p;
	uint32_t pb;

	if (out == NULL || cfg == NULL)
		return FL_EINVAL;
	*out = NULL;
	pb = cfg->page_bytes;
	if (pb < 256 || pb > (1u << 20) || (pb & (pb - 1)) != 0)
		return FL_EINVAL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return FL_ENOMEM;
	p->cfg = *cfg;
	p->st.bytes = sizeof(*p);
	*out = p;
	return 0;
}

void fl_shpool_free(struct fl_shpool *p)
{
	if (p == NULL)
		return;
	free(p->bucket);
	free(p);
}

void fl_shpool_stats(const struct fl_shpool *p, struct fl_shpool_stats *out)
{
	*out = p->st;
}

int fl_shflash_init(struct fl_shflash *f, struct fl_shpool *pool,
		    uint32_t size_bytes, uint32_t write_bytes,
		    const struct fl_sim_faults *faults)
{
	struct fl_flash_geom g;
	uint32_t units;

	if (f == NULL || pool == NULL)
		return FL_EINVAL;
	memset(f, 0, sizeof(*f));
	g.size_bytes = size_bytes;
	g.erase_bytes = pool->cfg.page_bytes;
	g.write_bytes = write_bytes;
	g.erased_value = pool->cfg.erased_value;
	if (fl_flash_geom_check(&g) != 0)
		return FL_EINVAL;
	units = size_bytes / g.erase_bytes;
	f->n_leaves = (units + L_UNITS - 1) / L_UNITS;
	f->dir = pool_alloc(pool, f->n_leaves * sizeof(*f->dir));
	if (f->dir == NULL)
		return FL_ENOMEM;
	memset(f->dir, 0, f->n_leaves * sizeof(*f->dir));
	f->flash.ops = &sh_ops;
	f->flash.geom = g;
	f->flash.priv = f;
	f->pool = pool;
	fl_shflash_power_on(f, faults);
	return 0;
}

int fl_shflash_clone(struct fl_shflash *dst, struct fl_shflash *src)
{
	struct fl_shpool *p = src->pool;

	fl_shflash_settle(src);
	memset(dst, 0, sizeof(*dst));
	dst->dir = pool_alloc(p, src->n_leaves * sizeof(*dst->dir));
	if (dst->dir == NULL)
		return FL_ENOMEM;
	memcpy(dst->dir, src->dir, src->n_leaves * sizeof(*dst->dir));
	for (uint32_t i = 0; i < src->n_leaves; i++)
		if (dst->dir[i] != NULL)
			dst->dir[i]->refs++;
	dst->n_leaves = src->n_leaves;
	dst->flash = src->flash;
	dst->flash.priv = dst;
	dst->pool = p;
	fl_shflash_power_on(dst, NULL);
	return 0;
}

void fl_shflash_release(struct fl_shflash *f)
{
	if (f == NULL || f->dir == NULL)
		return;
	for (uint32_t i = 0; i < f->n_leaves; i++)
		leaf_unref(f->pool, f->dir[i]);
	pool_release(f->pool, f->dir, f->n_leaves * sizeof(*f->dir));
	f->dir = NULL;
	f->n_leaves = 0;
	f->n_open = 0;
}

void fl_shflash_power_on(struct fl_shflash *f,
			 const struct fl_sim_faults *faults)
{
	fl_shflash_settle(f);
	memset(&f->faults, 0, sizeof(f->faults));
	if (faults != NULL)
		f->faults = *faults;
	seed_rng(f);
	f->ops = 0;
	f->is_powered = 1;
	f->last_cut_op = 0;
}

void fl_shflash_set_faults(struct fl_shflash *f,
			   const struct fl_sim_faults *faults)
{
	memset(&f->faults, 0, sizeof(f->faults));
	if (faults != NULL)
		f->faults = *faults;
	seed_rng(f);
}

void fl_shflash_settle(struct fl_shflash *f)
{
	while (f->n_open > 0)
		settle_unit(f, f->open_unit[0]);
}

uint64_t fl_shflash_own_bytes(const struct fl_shflash *f)
{
	uint64_t n = (uint64_t)f->n_leaves * sizeof(*f->dir);

	for (uint32_t i = 0; i < f->n_leaves; i++) {
		const struct fl_shleaf *l = f->dir[i];

		if (l == NULL || l->refs > 1)
			continue;
		n += sizeof(*l);
		for (unsigned k = 0; k < L_UNITS; k++)
			if (l->page[k] != NULL && l->page[k]->refs == 1)
				n += page_size(l->page[k]->len);
	}
	return n;
}
