/*
 * f64.h -- IEEE 754 binary64 on its bit pattern: the few things the codec
 * and the agent do with doubles (metrics, health limits, JSON numbers),
 * without floating-point arithmetic.
 *
 * On a microcontroller without a double-precision FPU (RV32IMC, Cortex-M4,
 * every ESP32) each operation on a double is a libgcc routine: a
 * comparison costs 140 to 270 bytes of code, a subtraction 2 KiB, a
 * conversion 160 to 450. None of that arithmetic is needed here, and each
 * function below is exact on the bits. They give the same answers as the C
 * operators named beside them (tests/unit/test_bytes.c compares them on
 * the host, over edge cases and a million pseudo-random values).
 */
#ifndef FL_F64_H
#define FL_F64_H

#include <stdbool.h>
#include <stdint.h>

/* v is neither infinite nor NaN (isfinite(v)). */
bool fl_f64_is_finite(double v);

/* v is NaN (v != v). */
bool fl_f64_is_nan(double v);

/* a <= b, false when either is NaN; -0 equals +0. */
bool fl_f64_le(double a, double b);

/* When v is exactly an integer of [0, max] (-0 is 0), sets *out and returns
 * true; else (a fraction, negative, over max, infinite, NaN) false. */
bool fl_f64_to_u64(uint64_t *out, double v, uint64_t max);

/* (double)v: the nearest double, ties to even. */
double fl_f64_from_u64(uint64_t v);

#endif
