/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_ERROR_H
#define MAMORI_ERROR_H

/* Error codes shared by every component.  Zero is success; every error is
 * negative so that "rc < 0" is the one test callers need. */
enum mamori_error {
	MAMORI_OK = 0,
	MAMORI_ERR_INTERNAL = -1,
	MAMORI_ERR_NOMEM = -2,
	MAMORI_ERR_IO = -3,
	MAMORI_ERR_PROTOCOL = -4,
	MAMORI_ERR_TOO_LARGE = -5,
	MAMORI_ERR_CLOSED = -6,
	MAMORI_ERR_TIMEOUT = -7,
	MAMORI_ERR_CONFIG = -8,
	MAMORI_ERR_STORE = -9,
	MAMORI_ERR_NOT_FOUND = -10,
	MAMORI_ERR_EXISTS = -11,
	MAMORI_ERR_INVALID = -12,
	MAMORI_ERR_DENIED = -13,
	MAMORI_ERR_BUSY = -14,
	MAMORI_ERR_CRYPTO = -15,
	/* The store refused the transaction (a serialization failure or a
	 * deadlock, SQLSTATE 40001/40P01): nothing of it happened; the caller
	 * may run the whole transaction again (store.h). */
	MAMORI_ERR_RETRY = -16,
	/* A COMMIT whose outcome is unknown (the connection lost after it was
	 * sent, or committed on the primary only): never a success, never run
	 * again, and never a sign that the store is out of reach (offline.h). */
	MAMORI_ERR_OUTCOME = -17,
};

const char *mamori_strerror(int err);

#endif
