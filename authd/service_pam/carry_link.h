/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_PAM_CARRY_LINK_H
#define MAMORI_PAM_CARRY_LINK_H

/* What a successful authentication read of the account, carried to the
 * same PAM client's account check and session open (store.h carries), so
 * that each is one round trip: kept in memory, for PAM_CARRY_TTL
 * seconds, under the client's process (pid and start time, SO_PEERCRED),
 * the account and the service.  Only a saving: a carry is checked by the
 * store against the rows as they are when it is used, and a step without
 * one reads them. */

#include <stdint.h>

#include "core/daemon.h"
#include "store/store.h"

#define PAM_CARRY_TTL 300 /* seconds */
#define PAM_CARRY_MAX 64 /* kept at once; the oldest goes first */

/* Keep carry (taken: freed now when it cannot be kept). */
void pam_carry_keep(const struct mamori_conn *c, const char *user, const char *service,
                    struct mamori_store_carry *carry, int64_t now);
/* This client's carry for user and service, taken out (the caller frees
 * it, or keeps it again); NULL when there is none. */
struct mamori_store_carry *pam_carry_take(const struct mamori_conn *c, const char *user, const char *service,
                                          int64_t now);

#endif
