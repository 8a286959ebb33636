/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include "error.h"

const char *
mamori_strerror(int err)
{
	switch (err) {
	case MAMORI_OK:
		return "success";
	case MAMORI_ERR_INTERNAL:
		return "internal error";
	case MAMORI_ERR_NOMEM:
		return "out of memory";
	case MAMORI_ERR_IO:
		return "input/output error";
	case MAMORI_ERR_PROTOCOL:
		return "protocol error";
	case MAMORI_ERR_TOO_LARGE:
		return "message too large";
	case MAMORI_ERR_CLOSED:
		return "connection closed";
	case MAMORI_ERR_TIMEOUT:
		return "timed out";
	case MAMORI_ERR_CONFIG:
		return "configuration error";
	case MAMORI_ERR_STORE:
		return "store error";
	case MAMORI_ERR_NOT_FOUND:
		return "not found";
	case MAMORI_ERR_EXISTS:
		return "already exists";
	case MAMORI_ERR_INVALID:
		return "invalid argument";
	case MAMORI_ERR_DENIED:
		return "permission denied";
	case MAMORI_ERR_RETRY:
		return "transaction to be retried";
	case MAMORI_ERR_BUSY:
		return "too busy";
	case MAMORI_ERR_CRYPTO:
		return "cryptographic failure";
	case MAMORI_ERR_OUTCOME:
		return "commit outcome unknown";
	}
	return "unknown error";
}
