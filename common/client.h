/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CLIENT_H
#define MAMORI_CLIENT_H

#include <jansson.h>

#include "wire.h"

/* Connect to a daemon socket.  When require_root is set the socket file and
 * the process listening on it must both belong to root.  Returns a
 * close-on-exec fd or a MAMORI_ERR_* code. */
int mamori_client_connect(const char *path, int require_root);

/* Send call, then wait up to timeout_ms for one reply.  Returns MAMORI_OK
 * with a new reference in *reply (which may be an error reply), or an error
 * code.  The call is left untouched; the caller wipes secrets it holds. */
int mamori_client_call(struct mamori_wire *w, const json_t *call, json_t **reply, int timeout_ms);

#endif
