/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_MESSAGES_H
#define MAMORI_MESSAGES_H

/* Every text a user sees comes from here, so that it can be translated for
 * the caller's locale.  Message ids are English. */
enum mamori_msg_id {
	MSG_PASSWORD_PROMPT,
	MSG_CURRENT_PASSWORD_PROMPT,
	MSG_NEW_PASSWORD_PROMPT,
	MSG_RETYPE_PASSWORD_PROMPT,
	MSG_ACCOUNT_DISABLED,
	MSG_ACCOUNT_EXPIRED,
	MSG_ACCOUNT_PENDING,
	MSG_MUST_CHANGE_TEMPORARY,
	MSG_TEMPORARY_EXPIRED,
	MSG_PASSWORD_CHANGED,
	MSG_CURRENT_PASSWORD_WRONG,
	MSG_PASSWORDS_DIFFER,
	MSG_PASSWORD_EMPTY,
	MSG_PASSWORD_TOO_LONG,
	MSG_PASSWORD_SAME,
	MSG_CHANGE_NOT_ALLOWED,
	MSG_SERVICE_ERROR,
	MSG_COUNT
};

/* The text of id for locale (may be NULL; "C" when unknown). */
const char *mamori_msg(const char *locale, enum mamori_msg_id id);

#endif
