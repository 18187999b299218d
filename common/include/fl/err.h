/*
 * err.h -- the one error enum of the project.
 *
 * Every fallible function returns int: 0 on success or one of the negative
 * codes below. Codes are propagated unchanged; context goes into a
 * caller-owned diagnostic, never into a global "last error".
 */
#ifndef FL_ERR_H
#define FL_ERR_H

enum fl_err {
	FL_OK = 0,
	FL_EINVAL = -1,	     /* invalid argument */
	FL_ERANGE = -2,	     /* offset or length outside the area */
	FL_EALIGN = -3,	     /* offset or length not aligned to the unit */
	FL_EIO = -4,	     /* the medium or device reported an error */
	FL_ENOSPC = -5,	     /* does not fit */
	FL_ENOMEM = -6,	     /* allocation failed */
	FL_ECORRUPT = -7,    /* magic, version or CRC check failed */
	FL_ENOENT = -8,	     /* nothing there */
	FL_ESTATE = -9,	     /* not allowed in the current state */
	FL_EVERIFY = -10,    /* digest or signature mismatch */
	FL_EPOWER = -11,     /* (simulator) power is off */
	FL_ENOTERASED = -12, /* NOR rule broken: write over unerased bytes */
	FL_EBUSY = -13,	     /* resource in use */
	FL_ENOTSUP = -14,    /* not supported by this backend */
	FL_EROLLBACK = -15,  /* refused by the anti-rollback rule */
	FL_ETRIAL = -16,     /* refused: a trial boot is not yet confirmed */
	FL_ECRYPTO = -17,    /* crypto backend failure */
	FL_ETOOBIG = -18,    /* exceeds a fixed bound */
	FL_EBRICK = -19,     /* no bootable image (must never happen) */
};

/* A short fixed English description of an error code; never NULL. */
const char *fl_strerror(int err);

#endif
