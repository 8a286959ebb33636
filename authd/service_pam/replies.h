/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_PAM_REPLIES_H
#define MAMORI_PAM_REPLIES_H

/* io.mamori.Pam's replies (replies.c): errors, prompts, the end of a
 * conversation; and the one-time tickets. */

#include <stdint.h>

#include <jansson.h>

#define TICKET_HEX 64

/* One-time tickets that let chauthtok skip the current password right after
 * a successful authentication in the same PAM handle.  Memory only. */
int pam_ticket_issue(const char *user, const char *service, int64_t now, char hex[TICKET_HEX + 1]);
/* Consume a ticket: 1 when it was valid for user and service. */
int pam_ticket_redeem(const char *hex, const char *user, const char *service, int64_t now);

json_t *pam_error(const char *error, const char *key, const char *value);
json_t *pam_internal_error(void);
/* The reply to a store that failed with rc: busy (MAMORI_ERR_BUSY, after
 * mamori_store_retry gave up), else an internal error; never a success. */
json_t *pam_store_error(int rc);
json_t *pam_prompt(const char *style, const char *text);
json_t *pam_messages_append(json_t *messages, const char *style, const char *text);
json_t *pam_done(const char *result, const char *style, const char *text, const char *ticket);

#endif
