/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_ADMIN_SERVICE_H
#define MAMORI_ADMIN_SERVICE_H

#include <jansson.h>

#include "core/daemon.h"

/* io.mamori.Admin: handle one call on an admin.sock connection and return
 * the reply (a new reference). */
json_t *mamori_admin_service_handle(struct mamori_conn *conn, const char *method, json_t *params);

#endif
