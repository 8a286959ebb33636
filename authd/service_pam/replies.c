/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam: the replies every handler builds, and the one-time
 * tickets of a password change that follows an authentication. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "names.h"
#include "protocol.h"
#include "secure.h"
#include "core/daemon.h"
#include "service_pam/replies.h"

#define TICKET_LIFETIME 300
#define TICKET_SLOTS 64

/* ------------------------------------------------------------ tickets */

/* One-time tickets that let chauthtok skip the current password right after
 * a successful authentication in the same PAM handle.  Memory only. */
struct ticket {
	char hex[TICKET_HEX + 1];
	char user[MAMORI_USER_NAME_MAX + 1];
	char service[MAMORI_SERVICE_NAME_MAX + 1];
	int64_t expires;
};

static pthread_mutex_t tickets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ticket tickets[TICKET_SLOTS];

int
pam_ticket_issue(const char *user, const char *service, int64_t now, char hex[TICKET_HEX + 1])
{
	unsigned char raw[TICKET_HEX / 2];
	struct ticket *slot = NULL;
	int rc;

	if (mamori_random_bytes(raw, sizeof(raw)) != 0)
		return MAMORI_ERR_CRYPTO;
	rc = mamori_hex_encode(raw, sizeof(raw), hex, TICKET_HEX + 1);
	mamori_wipe(raw, sizeof(raw));
	if (rc != 0)
		return MAMORI_ERR_CRYPTO;
	pthread_mutex_lock(&tickets_lock);
	for (size_t i = 0; i < TICKET_SLOTS; i++) {
		/* An empty or expired slot, else the one closest to expiry. */
		if (tickets[i].expires <= now) {
			slot = &tickets[i];
			break;
		}
		if (slot == NULL || tickets[i].expires < slot->expires)
			slot = &tickets[i];
	}
	memcpy(slot->hex, hex, sizeof(slot->hex));
	snprintf(slot->user, sizeof(slot->user), "%s", user);
	snprintf(slot->service, sizeof(slot->service), "%s", service);
	slot->expires = now + TICKET_LIFETIME;
	pthread_mutex_unlock(&tickets_lock);
	return MAMORI_OK;
}

/* Consume a ticket: 1 when it was valid for user and service. */
int
pam_ticket_redeem(const char *hex, const char *user, const char *service, int64_t now)
{
	int ok = 0;

	if (hex == NULL || strlen(hex) != TICKET_HEX)
		return 0;
	pthread_mutex_lock(&tickets_lock);
	for (size_t i = 0; i < TICKET_SLOTS; i++) {
		struct ticket *t = &tickets[i];
		if (t->expires <= now || mamori_memeq_consttime(t->hex, hex, TICKET_HEX) != 0)
			continue;
		ok = !strcmp(t->user, user) && !strcmp(t->service, service);
		mamori_wipe(t, sizeof(*t));
		break;
	}
	pthread_mutex_unlock(&tickets_lock);
	return ok;
}

/* ------------------------------------------------------------ replies */

json_t *
pam_error(const char *error, const char *key, const char *value)
{
	return mamori_wire_error(error, json_pack("{s:s}", key, value));
}

json_t *
pam_internal_error(void)
{
	return pam_error(MAMORI_ERROR_INTERNAL, "message", "the authentication service failed");
}

json_t *
pam_store_error(int rc)
{
	/* A shared store refused the transaction each time it ran: nothing of
	 * it happened, and the client may try again. */
	if (rc == MAMORI_ERR_BUSY)
		return pam_error(MAMORI_ERROR_BUSY, "message", "the store is busy: try again");
	return pam_internal_error();
}

json_t *
pam_prompt(const char *style, const char *text)
{
	return mamori_wire_reply(json_pack("{s:s,s:[{s:s,s:s}]}", "state", MAMORI_STATE_PROMPT, "prompts", "style",
	                                   style, "text", text));
}

json_t *
pam_messages_append(json_t *messages, const char *style, const char *text)
{
	if (text != NULL && text[0] != '\0')
		json_array_append_new(messages, json_pack("{s:s,s:s}", "style", style, "text", text));
	return messages;
}

json_t *
pam_done(const char *result, const char *style, const char *text, const char *ticket)
{
	json_t *p = json_pack("{s:s,s:s,s:[]}", "state", MAMORI_STATE_DONE, "result", result, "messages");

	if (p == NULL)
		return NULL;
	if (text != NULL && text[0] != '\0')
		json_array_append_new(json_object_get(p, "messages"),
		                      json_pack("{s:s,s:s}", "style", style, "text", text));
	if (ticket != NULL)
		json_object_set_new(p, "ticket", json_string(ticket));
	return mamori_wire_reply(p);
}

/* ------------------------------------------------------------ requests */
