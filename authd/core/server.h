/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_SERVER_H
#define MAMORI_SERVER_H

#include "conf.h"

/* Create the sockets in runtime_dir with their modes and group. */
int mamori_server_listen(const struct mamori_conf *conf);
/* Serve until SIGTERM or SIGINT; SIGHUP reloads the configuration. */
int mamori_server_run(void);
/* Close and unlink the sockets, end live connections; returns how many
 * connection threads are still running after a grace period. */
unsigned mamori_server_shutdown(void);

#endif
