/*
 * err.c -- descriptions of the project-wide error codes.
 */
#include "fl/err.h"

const char *fl_strerror(int err)
{
	switch (err) {
	case FL_OK: return "success";
	case FL_EINVAL: return "invalid argument";
	case FL_ERANGE: return "out of range";
	case FL_EALIGN: return "misaligned offset or length";
	case FL_EIO: return "I/O error";
	case FL_ENOSPC: return "no space";
	case FL_ENOMEM: return "out of memory";
	case FL_ECORRUPT: return "corrupt record";
	case FL_ENOENT: return "not found";
	case FL_ESTATE: return "not allowed in this state";
	case FL_EVERIFY: return "verification failed";
	case FL_EPOWER: return "power is off";
	case FL_ENOTERASED: return "write to unerased flash";
	case FL_EBUSY: return "busy";
	case FL_ENOTSUP: return "not supported";
	case FL_EROLLBACK: return "refused by anti-rollback";
	case FL_ETRIAL: return "a trial boot is not confirmed yet";
	case FL_ECRYPTO: return "crypto failure";
	case FL_ETOOBIG: return "exceeds a fixed limit";
	case FL_EBRICK: return "no bootable image";
	default: return "unknown error";
	}
}
