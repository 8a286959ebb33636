/* SPDX-License-Identifier: BSD-2-Clause */
/* The daemon set up once for the request-handler fuzz targets
 * (fuzz_pam_request, fuzz_admin_request): a scratch state directory, a
 * store with a few accounts made through the handlers themselves, and a
 * fixed clock, then each input replayed as the messages of one connection. */
#ifndef MAMORI_FUZZ_REQUEST_FIXTURE_H
#define MAMORI_FUZZ_REQUEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "core/daemon.h"

/* The wall clock every run sees (MAMORI_TEST_CLOCK_FILE; needs
 * --enable-test-hooks): Thursday 2026-01-15 10:00:00 JST. */
#define FUZZ_CLOCK 1768438800
/* At most this many messages per input, separated by NUL bytes. */
#define FUZZ_MESSAGES_MAX 8
/* A Start parameter "ticket" with this value is replaced by the ticket of
 * the last "done" reply of the same input, so that the ticket path of
 * chauthtok is reachable. */
#define FUZZ_TICKET_PLACEHOLDER "$ticket"

/* Build the daemon state; abort()s when it cannot. */
void fuzz_fixture_init(void);
/* Replay one input: byte 0 picks the peer (low two bits: root, alice,
 * carol, a uid without a name), the rest is split on NUL bytes into up to
 * FUZZ_MESSAGES_MAX messages handled in order on one connection of kind,
 * as server.c would.  The store is restored to its initial content first.
 * abort()s when a reply or the state after it breaks an invariant. */
void fuzz_fixture_run(enum mamori_conn_kind kind, const uint8_t *data, size_t size);

#endif
