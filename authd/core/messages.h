/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_MESSAGES_H
#define MAMORI_MESSAGES_H

#include <stddef.h>

#include "factors.h"

/* Every text a user sees comes from here, so that it can be translated for
 * the caller's locale.  Message ids are English; the comment after each id
 * gives the arguments its text takes, in order. */
enum mamori_msg_id {
	MSG_PASSWORD_PROMPT,
	MSG_CURRENT_PASSWORD_PROMPT,
	MSG_NEW_PASSWORD_PROMPT,
	MSG_RETYPE_PASSWORD_PROMPT,
	MSG_MEMBER_PROMPT,
	MSG_MEMBER_PASSWORD_PROMPT, /* member name */
	MSG_ACCOUNT_DISABLED,
	MSG_ACCOUNT_EXPIRED,
	MSG_ACCOUNT_PENDING,
	MSG_MUST_CHANGE_TEMPORARY,
	MSG_MUST_CHANGE_COMPROMISED,
	MSG_PASSWORD_EXPIRED,
	MSG_PASSWORD_EXPIRES_SOON, /* days (unsigned) */
	MSG_TEMPORARY_EXPIRED,
	MSG_PASSWORD_CHANGED,
	MSG_CURRENT_PASSWORD_WRONG,
	MSG_PASSWORDS_DIFFER,
	MSG_PASSWORD_EMPTY,
	MSG_PASSWORD_TOO_LONG,
	MSG_PASSWORD_REUSED,
	MSG_PASSWORD_CROSS_SYSTEM,
	MSG_PASSWORD_TOO_YOUNG, /* date and time of the earliest change */
	MSG_CHANGE_NOT_ALLOWED,
	MSG_CONTRACTOR_PRIVILEGED,
	MSG_LOCKED, /* the same for every account and every kind of lock */
	MSG_RATE_LIMITED,
	MSG_OUTSIDE_HOURS,
	MSG_NOT_A_MEMBER,
	MSG_LAST_LOGIN, /* time, place */
	MSG_LAST_LOGIN_NEVER,
	MSG_FAILURES_SINCE, /* count (long long) */
	MSG_LAST_LOGOUT, /* time */
	MSG_SESSION_DEADLINE, /* time */
	MSG_COMPROMISED_REPORTED,
	MSG_TOTP_PROMPT,
	MSG_CHOOSE_METHOD, /* list of numbered sets, default number (unsigned) */
	MSG_NO_FACTOR, /* accepted sets */
	MSG_REMOTE_REFUSED,
	MSG_ACCESS_DENIED,
	MSG_TOTP_ENROLL_INTRO,
	MSG_TOTP_ENROLLED,
	MSG_TOTP_WRONG,
	MSG_CHANGE_PASSWORD_FIRST,
	MSG_ENROLL_CODE_PROMPT,
	MSG_ENROLL_CODE_WRONG,
	MSG_SERVICE_ERROR,
	MSG_CARD_INSERT,
	MSG_CARD_PIN_PROMPT,
	MSG_CARD_PIN_TRIES_PROMPT, /* tries left (int), 2 or more */
	MSG_CARD_PIN_LAST_TRY_PROMPT,
	MSG_CARD_LOCKED,
	MSG_CARD_NONE,
	MSG_CARD_UNREADABLE,
	MSG_CARD_REVOKED,
	MSG_FACTOR_CATEGORIES,
	MSG_FIDO2_CONNECT,
	MSG_FIDO2_TOUCH,
	MSG_FIDO2_PIN_PROMPT,
	MSG_FIDO2_PIN_TRIES_PROMPT, /* retries left (int) */
	MSG_FIDO2_PIN_WRONG, /* retries left (int) */
	MSG_FIDO2_PIN_BLOCKED,
	MSG_FIDO2_NONE,
	MSG_FIDO2_NO_TOUCH,
	MSG_FIDO2_UNREADABLE,
	MSG_FIDO2_NOT_REGISTERED,
	MSG_FIDO2_CLONED,
	MSG_FIDO2_REVOKED,
	MSG_FIDO2_ENROLL_INTRO,
	MSG_FIDO2_ENROLL_PIN_PROMPT,
	MSG_FIDO2_ENROLLED,
	MSG_FIDO2_ENROLL_FAILED,
	MSG_FINGER_PLACE,
	MSG_FINGER_RETRY_SCAN,
	MSG_FINGER_SWIPE_TOO_SHORT,
	MSG_FINGER_NOT_CENTERED,
	MSG_FINGER_REMOVE_AND_RETRY,
	MSG_FINGER_NO_READER,
	MSG_FINGER_DISCONNECTED,
	MSG_FINGER_NOT_APPROVED,
	MSG_ACCOUNT_REVIEW, /* P-ID-LIFECYCLE: a transfer not yet re-approved */
	MSG_COUNT
};

/* Bind the message catalogue and load the ja_JP.UTF-8 locale; call once at
 * start-up, after mamori_log_init and before any thread starts (it removes
 * LANGUAGE from the environment).  Returns 0, or -1 when Japanese callers
 * will be answered in English (logged); the daemon can go on either way. */
int mamori_messages_init(void);
/* The text of id for locale (may be NULL; "C" when unknown): Japanese for
 * "ja" and "ja_*", English otherwise.  Thread-safe. */
const char *mamori_msg(const char *locale, enum mamori_msg_id id);
/* Format the text of id with its arguments into buf. */
void mamori_msgf(char *buf, size_t len, const char *locale, enum mamori_msg_id id, ...);
/* The translation of an English text that comes from a library (libpwquality
 * reasons); the text itself when there is none.  The result may live in a
 * per-thread buffer that the thread's next call reuses. */
const char *mamori_msg_text(const char *locale, const char *english);

/* The messages of a factor's self-enrolment in a conversation, for the
 * engine that does not name factors.  A factor that has none of its own
 * gets the authenticator app's. */
enum mamori_factor_msg {
	MAMORI_FMSG_ENROLLED, /* it is set up */
	MAMORI_FMSG_WRONG, /* the answer that was to confirm it is wrong */
	MAMORI_FMSG_RENEW_FIRST, /* another credential must be renewed first */
};
enum mamori_msg_id mamori_msg_factor(enum mamori_factor f, enum mamori_factor_msg which);

#endif
