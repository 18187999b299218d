/*
 * f64.c -- doubles read from their bits (fl/f64.h): sign (1 bit), biased
 * exponent (11; 0x7FF is infinity or NaN) and fraction (52, with an
 * implicit leading 1 unless the exponent is 0).
 *
 * Method for the order: flipping every bit of a negative number and only
 * the sign bit of a positive one turns the bits into an unsigned key that
 * sorts like the numbers, once -0 is made +0 and NaN is set aside.
 */
#include "fl/f64.h"

#include <string.h>

#define F64_SIGN     0x8000000000000000ull
#define F64_FRACTION 0x000FFFFFFFFFFFFFull
#define F64_EXP_BIAS 1023

static uint64_t f64_bits(double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	return u;
}

static unsigned f64_exp(uint64_t u)
{
	return (unsigned)(u >> 52) & 0x7FFu;
}

bool fl_f64_is_finite(double v)
{
	return f64_exp(f64_bits(v)) != 0x7FFu;
}

bool fl_f64_is_nan(double v)
{
	uint64_t u = f64_bits(v);

	return f64_exp(u) == 0x7FFu && (u & F64_FRACTION) != 0;
}

/* The order key of a double that is not NaN (the file comment). */
static uint64_t f64_key(uint64_t u)
{
	if ((u & ~F64_SIGN) == 0)
		return F64_SIGN; /* -0 and +0 */
	return (u & F64_SIGN) ? ~u : u | F64_SIGN;
}

bool fl_f64_le(double a, double b)
{
	if (fl_f64_is_nan(a) || fl_f64_is_nan(b))
		return false;
	return f64_key(f64_bits(a)) <= f64_key(f64_bits(b));
}

bool fl_f64_to_u64(uint64_t *out, double v, uint64_t max)
{
	uint64_t u = f64_bits(v), m = 0;
	int shift;

	if ((u & ~F64_SIGN) != 0) {
		/* Not zero: positive, at least 1 and below 2^64. */
		if ((u & F64_SIGN) || f64_exp(u) < F64_EXP_BIAS ||
		    f64_exp(u) > F64_EXP_BIAS + 63)
			return false;
		m = (u & F64_FRACTION) | (F64_FRACTION + 1);
		shift = (int)f64_exp(u) - (F64_EXP_BIAS + 52);
		if (shift < 0) {
			if ((m & ((1ull << -shift) - 1)) != 0)
				return false; /* a fraction */
			m >>= -shift;
		} else {
			m <<= shift;
		}
	}
	if (m > max)
		return false;
	*out = m;
	return true;
}

double fl_f64_from_u64(uint64_t v)
{
	uint64_t u = 0, rest, half;
	unsigned top = 63, shift;
	double d;

	if (v != 0) {
		while ((v >> top) == 0)
			top--;
		if (top <= 52) {
			v <<= 52 - top;
		} else {
			/* Keep 53 bits and round the rest, ties to even. */
			shift = top - 52;
			rest = v & ((1ull << shift) - 1);
			half = 1ull << (shift - 1);
			v >>= shift;
			if (rest > half || (rest == half && (v & 1))) {
				v++;
				if ((v >> 53) != 0) {
					v >>= 1;
					top++;
				}
			}
		}
		u = ((uint64_t)(top + F64_EXP_BIAS) << 52) | (v & F64_FRACTION);
	}
	memcpy(&d, &u, sizeof(d));
	return d;
}
