/*
 * flash_sim.c -- NOR flash simulator with power cuts and I/O errors.
 *
 * Method: every operation first takes the next index and consults the fault
 * plan. An I/O error fails the operation before it touches the medium. A
 * cut lands the chosen damage on the operation's range, clears is_powered
 * and returns FL_EPOWER; from then on nothing reaches the medium, exactly
 * as a device that has lost power. Torn damage follows NOR physics:
 * programming can only clear bits, erasing can only set them, so a torn
 * write is "old AND (some of the new bits)" and a torn erase is "old OR
 * (some bits set)". Garbage ignores physics on purpose: it models a cut
 * that leaves the range undefined.
 */
#include "fl/flash_sim.h"

#include <string.h>

#include "fl/err.h"

/* xorshift64*: small, seedable, good enough to choose cut positions. */
static uint64_t sim_rand(struct fl_sim *s)
{
	uint64_t x = s->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static uint32_t sim_rand_below(struct fl_sim *s, uint32_t n)
{
	return n == 0 ? 0 : (uint32_t)(sim_rand(s) % n);
}

/* Returns 0 to go ahead, FL_EIO, or FL_EPOWER after landing the cut's
 * damage (the caller then does nothing more). */
static int sim_begin(struct fl_sim *s, enum fl_sim_op op, uint32_t off,
		     const uint8_t *src, size_t len)
{
	const struct fl_sim_faults *f = &s->faults;
	uint8_t *mem = s->mem + off;
	uint8_t erased = s->flash.geom.erased_value;
	uint32_t n;

	if (!s->is_powered)
		return FL_EPOWER;
	s->ops++;
	s->count[op]++;
	if (f->eio_at != 0 &&
	    (s->ops == f->eio_at || (f->is_eio_sticky && s->ops > f->eio_at)))
		return FL_EIO;
	if (f->cut_at == 0 || s->ops != f->cut_at)
		return 0;

	s->is_powered = 0;
	s->last_cut_op = (uint8_t)op;
	s->last_cut_off = off;
	s->last_cut_len = (uint32_t)len;
	if (op != FL_SIM_OP_WRITE && op != FL_SIM_OP_ERASE)
		return FL_EPOWER;
	switch (f->cut_mode) {
	case FL_SIM_CUT_TORN:
		n = sim_rand_below(s, (uint32_t)len);
		if (op == FL_SIM_OP_WRITE && f->torn_bytes != 0 &&
		    f->torn_bytes < len)
			n = f->torn_bytes;
		if (op == FL_SIM_OP_WRITE) {
			for (uint32_t i = 0; i < n; i++)
				mem[i] &= src[i];
			/* The byte being programmed got some of its bits. */
			mem[n] &= (uint8_t)(src[n] | sim_rand(s));
		} else {
			uint32_t unit = s->flash.geom.erase_bytes;
			uint32_t done = n / unit * unit;

			memset(mem, erased, done);
			for (uint32_t i = done; i < done + unit && i < len; i++)
				mem[i] =
					(uint8_t)(erased == 0xFF
							  ? mem[i] | sim_rand(s)
							  : mem[i] &
								    sim_rand(
									    s));
		}
		break;
	case FL_SIM_CUT_GARBAGE:
		for (size_t i = 0; i < len; i++)
			mem[i] = (uint8_t)sim_rand(s);
		break;
	default: /* CLEAN: the operation never happened */ break;
	}
	return FL_EPOWER;
}

static int sim_read(struct fl_flash *fl, uint32_t off, void *dst, size_t len)
{
	struct fl_sim *s = fl->priv;
	int rc = sim_begin(s, FL_SIM_OP_READ, off, NULL, len);

	if (rc != 0)
		return rc;
	memcpy(dst, s->mem + off, len);
	return 0;
}

static int sim_write(struct fl_flash *fl, uint32_t off, const void *src,
		     size_t len)
{
	struct fl_sim *s = fl->priv;
	const uint8_t *p = src;
	uint8_t erased = fl->geom.erased_value;
	int rc;

	/* NOR rule, checked before anything happens: only erased bytes may
	 * be programmed. A write that breaks it is a bug in the caller. */
	for (size_t i = 0; i < len; i++)
		if (s->mem[off + i] != erased && s->is_powered)
			return FL_ENOTERASED;
	rc = sim_begin(s, FL_SIM_OP_WRITE, off, p, len);
	if (rc != 0)
		return rc;
	memcpy(s->mem + off, p, len);
	return 0;
}

static int sim_erase(struct fl_flash *fl, uint32_t off, size_t len)
{
	struct fl_sim *s = fl->priv;
	int rc = sim_begin(s, FL_SIM_OP_ERASE, off, NULL, len);

	if (rc != 0)
		return rc;
	memset(s->mem + off, fl->geom.erased_value, len);
	return 0;
}

static int sim_sync(struct fl_flash *fl)
{
	return sim_begin(fl->priv, FL_SIM_OP_SYNC, 0, NULL, 0);
}

static const struct fl_flash_ops sim_ops = {
	.version = FL_FLASH_OPS_VERSION,
	.name = "sim",
	.read = sim_read,
	.write = sim_write,
	.erase = sim_erase,
	.sync = sim_sync,
};

int fl_sim_init(struct fl_sim *s, const struct fl_flash_geom *geom,
		uint8_t *mem, const struct fl_sim_faults *faults)
{
	if (s == NULL || mem == NULL || fl_flash_geom_check(geom) != 0)
		return FL_EINVAL;
	memset(s, 0, sizeof(*s));
	s->flash.ops = &sim_ops;
	s->flash.geom = *geom;
	s->flash.priv = s;
	s->mem = mem;
	if (faults != NULL)
		s->faults = *faults;
	s->rng = s->faults.seed * 0x9E3779B97F4A7C15ull + 0x243F6A8885A308D3ull;
	if (s->rng == 0)
		s->rng = 1;
	s->is_powered = 1;
	return 0;
}

void fl_sim_wipe(struct fl_sim *s)
{
	memset(s->mem, s->flash.geom.erased_value, s->flash.geom.size_bytes);
}
