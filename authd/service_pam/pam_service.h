/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_PAM_SERVICE_H
#define MAMORI_PAM_SERVICE_H

#include <jansson.h>

#include "core/daemon.h"

/* io.mamori.Pam: handle one call on a pam.sock connection and return the
 * reply (a new reference).  Answers carrying secrets are wiped here. */
json_t *mamori_pam_service_handle(struct mamori_conn *conn, const char *method, json_t *params);
/* Write the summary rows of refusals whose interval is over (all of them
 * when all is set), for housekeeping and shutdown. */
void mamori_pam_service_refusals_flush(int64_t now, int all);
/* Forget every carry kept for a client's next step (they hold password
 * hashes: wiped), at shutdown once no connection thread is left. */
void mamori_pam_service_carries_forget(void);
/* Drop the connection's conversation, wiping what it held. */
void mamori_pam_service_end(struct mamori_conn *conn);

#endif
