/* SPDX-License-Identifier: BSD-2-Clause */
/* P-LOGIN-UI: every text a user sees, in the caller's language.  The daemon
 * answers many callers at once from many threads, so the process locale is
 * never changed: a Japanese caller's text is looked up with dgettext under a
 * per-thread uselocale() of one shared ja_JP.UTF-8 locale object, and every
 * other caller gets the English message id itself. */
#include "config.h"

#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef ENABLE_NLS
#include <libintl.h>
#endif

#include "log.h"
#include "core/messages.h"

#define N_(s) s

/* The catalogue is po/ja.po, installed as LOCALEDIR/ja/LC_MESSAGES/mamori.mo. */
#define TEXT_DOMAIN PACKAGE
#define JAPANESE_LOCALE "ja_JP.UTF-8"
/* Room for a translated password-policy reason (struct mamori_pw_verdict). */
#define TEXT_MAX 256
/* The longest number mamori_msg_text puts back into a reason: fits unsigned. */
#define NUMBER_DIGITS_MAX 9

static const char *const messages[MSG_COUNT] = {
	[MSG_PASSWORD_PROMPT] = N_("Password: "),
	[MSG_CURRENT_PASSWORD_PROMPT] = N_("Current password: "),
	[MSG_NEW_PASSWORD_PROMPT] = N_("New password: "),
	[MSG_RETYPE_PASSWORD_PROMPT] = N_("Retype new password: "),
	[MSG_MEMBER_PROMPT] = N_("Member name: "),
	/* TRANSLATORS: %s is the member's user name.  Prompts end in ": ". */
	[MSG_MEMBER_PASSWORD_PROMPT] = N_("Password of %s: "),
	[MSG_ACCOUNT_DISABLED] = N_("This account is disabled. Contact your administrator."),
	[MSG_ACCOUNT_EXPIRED] = N_("This account has expired. Contact your administrator."),
	[MSG_ACCOUNT_PENDING] = N_("This account has no password yet. Contact your administrator."),
	[MSG_MUST_CHANGE_TEMPORARY] = N_("You must change your temporary password now."),
	[MSG_MUST_CHANGE_COMPROMISED] = N_("Your password was reported compromised. You must change it now."),
	[MSG_PASSWORD_EXPIRED] = N_("Your password has expired. You must change it now."),
	[MSG_PASSWORD_EXPIRES_SOON] = N_("Your password expires in %u days. Please change it."),
	[MSG_TEMPORARY_EXPIRED] = N_("Your temporary password has expired. Ask your administrator for a new one."),
	[MSG_PASSWORD_CHANGED] = N_("Your password has been changed."),
	[MSG_CURRENT_PASSWORD_WRONG] = N_("The current password is not correct."),
	[MSG_PASSWORDS_DIFFER] = N_("The passwords do not match."),
	[MSG_PASSWORD_EMPTY] = N_("The new password must not be empty."),
	[MSG_PASSWORD_TOO_LONG] = N_("The new password is too long."),
	[MSG_PASSWORD_REUSED] = N_("The new password was used before. Choose one you have not used."),
	[MSG_PASSWORD_CROSS_SYSTEM] = N_("The new password is in use on another system. Choose a different one."),
	/* TRANSLATORS: %s is a date and time, "2030-01-09 10:15:00". */
	[MSG_PASSWORD_TOO_YOUNG] = N_("Your password was changed too recently. You can change it after %s."),
	[MSG_CHANGE_NOT_ALLOWED] = N_("The password of this account cannot be changed here."),
	[MSG_CONTRACTOR_PRIVILEGED] = N_("A contractor may not change the password of a privileged ID."),
	[MSG_LOCKED] = N_("This account is locked after too many failed attempts. Try again later, or ask an "
	                  "administrator to unlock it."),
	[MSG_RATE_LIMITED] = N_("Too many attempts. Wait a minute and try again."),
	[MSG_OUTSIDE_HOURS] = N_("This account may not be used at this time."),
	[MSG_NOT_A_MEMBER] = N_("Only named members may use this shared account."),
	/* TRANSLATORS: a date and time, then a host name or "HOST on TTY". */
	[MSG_LAST_LOGIN] = N_("Last login: %s from %s"),
	[MSG_LAST_LOGIN_NEVER] = N_("This is the first login of this account."),
	[MSG_FAILURES_SINCE] = N_("Failed login attempts since the last login: %lld"),
	[MSG_LAST_LOGOUT] = N_("Last logout: %s"),
	[MSG_SESSION_DEADLINE] = N_("This privileged session will be ended at %s."),
	[MSG_COMPROMISED_REPORTED] = N_("Your password is marked compromised; you must change it at your next login. "
	                                "The security manager has been told."),
	[MSG_TOTP_PROMPT] = N_("Verification code: "),
	/* TRANSLATORS: %s lists the choices ("1) password+totp, 2) password+card"), %u is the default. */
	[MSG_CHOOSE_METHOD] = N_("Choose a method: %s [%u]: "),
	/* TRANSLATORS: %s lists the accepted factor sets, "password+totp". */
	[MSG_NO_FACTOR] = N_("This service requires %s, which is not set up for your account. "
	                     "Contact your administrator."),
	[MSG_REMOTE_REFUSED] = N_("Logins from other hosts are not allowed for this service."),
	[MSG_ACCESS_DENIED] = N_("You are not permitted to use this service."),
	[MSG_TOTP_ENROLL_INTRO] = N_("Add this key to your authenticator app, then enter the code it shows:"),
	[MSG_TOTP_ENROLLED] = N_("Your authenticator app is set up."),
	[MSG_TOTP_WRONG] = N_("The verification code is not correct."),
	[MSG_CHANGE_PASSWORD_FIRST] = N_("Change your password before setting up an authenticator app."),
	/* TRANSLATORS: the one-time code an administrator hands out for setting up an authenticator app. */
	[MSG_ENROLL_CODE_PROMPT] = N_("Enrolment code from your administrator: "),
	[MSG_ENROLL_CODE_WRONG] = N_("The enrolment code is not correct or has expired. "
	                             "Ask your administrator for a new one."),
	[MSG_SERVICE_ERROR] = N_("The authentication service failed. Try again later."),
	/* TRANSLATORS: an IC card (a staff card, the My Number card) in a card reader. */
	[MSG_CARD_INSERT] = N_("Insert your card."),
	[MSG_CARD_PIN_PROMPT] = N_("PIN: "),
	/* TRANSLATORS: %d is the number of PIN attempts the card allows before it locks (2 or more). */
	[MSG_CARD_PIN_TRIES_PROMPT] = N_("PIN (%d tries left): "),
	[MSG_CARD_PIN_LAST_TRY_PROMPT] = N_("PIN (1 try left; a wrong PIN locks the card): "),
	[MSG_CARD_LOCKED] = N_("This card is locked: its PIN was entered wrongly too many times. "
	                       "Take your card to the counter."),
	[MSG_CARD_NONE] = N_("No card was inserted in time."),
	[MSG_CARD_UNREADABLE] = N_("The card could not be read. Try again, or take your card to the counter."),
	[MSG_CARD_REVOKED] = N_("This card is no longer valid. Contact your administrator."),
	[MSG_FACTOR_CATEGORIES] =
	        N_("This login needs two kinds of factor: your security key did not verify you (PIN or fingerprint)."),
	[MSG_FIDO2_CONNECT] = N_("Connect your security key."),
	[MSG_FIDO2_TOUCH] = N_("Touch your security key."),
	[MSG_FIDO2_PIN_PROMPT] = N_("Security key PIN: "),
	/* TRANSLATORS: %d is the number of PIN attempts the security key allows before it blocks its PIN. */
	[MSG_FIDO2_PIN_TRIES_PROMPT] = N_("Security key PIN (%d tries left): "),
	/* TRANSLATORS: %d is the number of PIN attempts left. */
	[MSG_FIDO2_PIN_WRONG] = N_("Wrong security key PIN (%d tries left)."),
	[MSG_FIDO2_PIN_BLOCKED] = N_("This security key's PIN is blocked: it was entered wrongly too many times. "
	                             "Reset the key or ask your administrator for help."),
	[MSG_FIDO2_NONE] = N_("No security key was found."),
	[MSG_FIDO2_NO_TOUCH] = N_("The security key was not touched in time."),
	[MSG_FIDO2_UNREADABLE] = N_("The security key could not be used. Connect it again and retry."),
	[MSG_FIDO2_NOT_REGISTERED] = N_("This security key is not registered for this account."),
	[MSG_FIDO2_CLONED] =
	        N_("This security key cannot be used: it may have been copied. Contact your administrator."),
	[MSG_FIDO2_REVOKED] = N_("This security key is no longer valid. Contact your administrator."),
	[MSG_FIDO2_ENROLL_INTRO] =
	        N_("Connect the security key to register, enter its PIN, then touch the key when it asks."),
	[MSG_FIDO2_ENROLL_PIN_PROMPT] = N_("Security key PIN (empty if it has none): "),
	[MSG_FIDO2_ENROLLED] = N_("Your security key is registered."),
	[MSG_FIDO2_ENROLL_FAILED] = N_("The security key could not be registered."),
	/* TRANSLATORS: a fingerprint reader (fprintd). */
	[MSG_FINGER_PLACE] = N_("Place your finger on the reader."),
	[MSG_FINGER_RETRY_SCAN] = N_("The reader could not read your finger. Place it on the reader again."),
	[MSG_FINGER_SWIPE_TOO_SHORT] = N_("The swipe was too short. Swipe your finger again."),
	[MSG_FINGER_NOT_CENTERED] = N_("Your finger was not in the middle of the reader. Place it again."),
	[MSG_FINGER_REMOVE_AND_RETRY] = N_("Lift your finger, then place it on the reader again."),
	[MSG_FINGER_NO_READER] = N_("No fingerprint reader is available. Contact your administrator."),
	[MSG_FINGER_DISCONNECTED] = N_("The fingerprint reader was disconnected."),
	[MSG_FINGER_NOT_APPROVED] = N_("Your fingerprint is not approved for login. Contact your administrator."),
	[MSG_ACCOUNT_REVIEW] = N_("This account is under review after a transfer. Ask an administrator."),
};

/* The refusals libpwquality and cracklib word, as password_policy.c passes
 * them on (asked for in the C locale, with a full stop added).  Only those
 * our settings can produce: no old password is given, and the credits,
 * class, repeat, sequence, GECOS and bad-word checks are off.  The table is
 * here for xgettext; mamori_msg_text finds any catalogue entry by its text. */
static const char *const library_reasons[] __attribute__((unused)) = {
	N_("The password is a palindrome."),
	N_("The password contains the user name in some form."),
	N_("The password fails the dictionary check."),
	N_("The password fails the dictionary check - it is WAY too short."),
	N_("The password fails the dictionary check - it is too short."),
	N_("The password fails the dictionary check - it does not contain enough DIFFERENT characters."),
	N_("The password fails the dictionary check - it is all whitespace."),
	N_("The password fails the dictionary check - it is too simplistic/systematic."),
	N_("The password fails the dictionary check - it looks like a National Insurance number."),
	N_("The password fails the dictionary check - it is based on a dictionary word."),
	N_("The password fails the dictionary check - it is based on a (reversed) dictionary word."),
	N_("The password fails the dictionary check - It is based on your username."),
	N_("The password fails the dictionary check - it is based upon your password entry."),
	N_("The password fails the dictionary check - it is derived from your password entry."),
	N_("The password fails the dictionary check - it is derivable from your password entry."),
};

/* ------------------------------------------------------------------ catalogue */

static pthread_once_t catalogue_once = PTHREAD_ONCE_INIT;
/* LC_MESSAGES of ja_JP.UTF-8, the rest "C"; (locale_t)0 when Japanese
 * cannot be given, and then every caller is answered in English. */
static locale_t japanese = (locale_t)0;

static const char *
catalogue_dir(void)
{
#ifdef MAMORI_TEST_HOOKS
	/* Test builds only: MAMORI_TEST_LOCALEDIR names a directory holding
	 * ja/LC_MESSAGES/mamori.mo, so that the integration tests use the
	 * catalogue the build made (po/ja.gmo) without installing it. */
	const char *dir = getenv("MAMORI_TEST_LOCALEDIR");

	if (dir != NULL && dir[0] != '\0')
		return dir;
#endif
	return LOCALEDIR;
}

static void
catalogue_open(void)
{
#ifdef ENABLE_NLS
	const char *dir = catalogue_dir();
	locale_t loc, saved;
	const char *probe;

	if (bindtextdomain(TEXT_DOMAIN, dir) == NULL || bind_textdomain_codeset(TEXT_DOMAIN, "UTF-8") == NULL) {
		mamori_log_err("%s: cannot bind the message catalogue in %s; every caller gets English", __func__, dir);
		return;
	}
	loc = newlocale(LC_MESSAGES_MASK, JAPANESE_LOCALE, (locale_t)0);
	if (loc == (locale_t)0) {
		mamori_log_warn("%s: locale %s is not installed; Japanese callers get English", __func__,
		                JAPANESE_LOCALE);
		return;
	}
	/* A missing mamori.mo is not an error to gettext; say so once here. */
	saved = uselocale(loc);
	probe = dgettext(TEXT_DOMAIN, messages[MSG_PASSWORD_PROMPT]);
	uselocale(saved);
	if (probe == messages[MSG_PASSWORD_PROMPT]) {
		mamori_log_warn("%s: no Japanese catalogue %s/ja/LC_MESSAGES/%s.mo; Japanese callers get English",
		                __func__, dir, TEXT_DOMAIN);
		freelocale(loc);
		return;
	}
	japanese = loc;
#endif
}

int
mamori_messages_init(void)
{
	/* glibc's gettext lets LANGUAGE override the thread's LC_MESSAGES,
	 * which would answer a Japanese caller in the daemon's language.
	 * Changing the environment is safe only while there is one thread. */
	unsetenv("LANGUAGE");
	pthread_once(&catalogue_once, catalogue_open);
	return japanese != (locale_t)0 ? 0 : -1;
}

/* Japanese for "ja", "ja_JP", "ja_JP.UTF-8", "ja_JP.eucJP", "ja@…"; English
 * for everything else, NULL and "C" included.  Texts are UTF-8 whatever the
 * caller's codeset, since the protocol is JSON. */
static int
locale_is_japanese(const char *locale)
{
	return locale != NULL && locale[0] == 'j' && locale[1] == 'a' &&
	       (locale[2] == '\0' || locale[2] == '_' || locale[2] == '.' || locale[2] == '@');
}

/* The Japanese text of english, or english itself (the same pointer) when
 * the catalogue has none. */
static const char *
japanese_text(const char *english)
{
#ifdef ENABLE_NLS
	locale_t saved;
	const char *text;

	/* dgettext("") would return the catalogue's header. */
	if (english[0] == '\0')
		return english;
	pthread_once(&catalogue_once, catalogue_open);
	if (japanese == (locale_t)0)
		return english;
	saved = uselocale(japanese);
	text = dgettext(TEXT_DOMAIN, english);
	uselocale(saved);
	return text;
#else
	return english;
#endif
}

/* ------------------------------------------------------------------ API */

const char *
mamori_msg(const char *locale, enum mamori_msg_id id)
{
	if ((unsigned)id >= MSG_COUNT || messages[id] == NULL)
		return "";
	return locale_is_japanese(locale) ? japanese_text(messages[id]) : messages[id];
}

/* A cut made by vsnprintf may split a UTF-8 sequence; drop its start so
 * that the text stays valid UTF-8 (JSON strings must be).  used is the
 * length of the text in buf. */
static void
utf8_trim_partial(char *buf, size_t used)
{
	size_t i = used, need;
	unsigned char lead;

	/* Back over at most three continuation bytes to the last lead byte. */
	while (i > 0 && used - i < 3 && ((unsigned char)buf[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0 || (lead = (unsigned char)buf[i - 1]) < 0xc0)
		return;
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	if (used - (i - 1) < need)
		buf[i - 1] = '\0';
}

void
mamori_msgf(char *buf, size_t len, const char *locale, enum mamori_msg_id id, ...)
{
	va_list ap;
	int n;

	if (buf == NULL || len == 0)
		return;
	va_start(ap, id);
	/* The formats are the fixed table above and their translations, which
	 * msgfmt --check-format keeps to the same arguments. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = vsnprintf(buf, len, mamori_msg(locale, id), ap);
#pragma GCC diagnostic pop
	va_end(ap);
	if (n >= 0 && (size_t)n >= len)
		utf8_trim_partial(buf, len - 1);
}

/* When english has exactly one run of decimal digits (and no '%'), write
 * it to pattern with "%u" in place of the run and the number to *value:
 * "…at least 12 characters." becomes "…at least %u characters.".  Returns 0,
 * or -1 when english has no such form. */
static int
number_pattern(const char *english, char *pattern, size_t size, unsigned *value)
{
	const char *run = NULL, *end = NULL, *p;
	unsigned long number = 0;
	int n;

	for (p = english; *p != '\0'; p++) {
		if (*p == '%')
			return -1;
		if (*p < '0' || *p > '9')
			continue;
		if (run != NULL)
			return -1;
		run = p;
		while (p[1] >= '0' && p[1] <= '9')
			p++;
		end = p + 1;
	}
	/* A leading zero would not survive the round trip through %u. */
	if (run == NULL || end - run > NUMBER_DIGITS_MAX || (run[0] == '0' && end - run > 1))
		return -1;
	for (p = run; p < end; p++)
		number = number * 10 + (unsigned long)(*p - '0');
	n = snprintf(pattern, size, "%.*s%%u%s", (int)(run - english), english, end);
	if (n < 0 || (size_t)n >= size)
		return -1;
	*value = (unsigned)number;
	return 0;
}

const char *
mamori_msg_text(const char *locale, const char *english)
{
	/* Per thread, so that concurrent callers never share it; the caller
	 * copies the text before its next call. */
	static _Thread_local char formatted[TEXT_MAX];
	char pattern[TEXT_MAX];
	const char *text;
	unsigned value;
	int n;

	if (english == NULL)
		return "";
	if (!locale_is_japanese(locale) || english[0] == '\0')
		return english;
	if ((text = japanese_text(english)) != english)
		return text;
	/* The reasons with a number (password_policy.c's "at least %u
	 * characters") are found by their format.  A translation found so is
	 * of a msgid with one "%u" and no other '%', and msgfmt
	 * --check-format holds it to the same. */
	if (number_pattern(english, pattern, sizeof(pattern), &value) != 0)
		return english;
	if ((text = japanese_text(pattern)) == pattern)
		return english;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	n = snprintf(formatted, sizeof(formatted), text, value);
#pragma GCC diagnostic pop
	if (n < 0)
		return english;
	if ((size_t)n >= sizeof(formatted))
		utf8_trim_partial(formatted, sizeof(formatted) - 1);
	return formatted;
}

enum mamori_msg_id
mamori_msg_factor(enum mamori_factor f, enum mamori_factor_msg which)
{
	static const enum mamori_msg_id totp[] = {
		[MAMORI_FMSG_ENROLLED] = MSG_TOTP_ENROLLED,
		[MAMORI_FMSG_WRONG] = MSG_TOTP_WRONG,
		[MAMORI_FMSG_RENEW_FIRST] = MSG_CHANGE_PASSWORD_FIRST,
	};

	static const enum mamori_msg_id fido2[] = {
		[MAMORI_FMSG_ENROLLED] = MSG_FIDO2_ENROLLED,
		[MAMORI_FMSG_WRONG] = MSG_FIDO2_ENROLL_FAILED,
		[MAMORI_FMSG_RENEW_FIRST] = MSG_CHANGE_PASSWORD_FIRST,
	};

	if (f == MAMORI_FACTOR_FIDO2)
		return (size_t)which < sizeof(fido2) / sizeof(fido2[0]) ? fido2[which] : MSG_SERVICE_ERROR;
	return (size_t)which < sizeof(totp) / sizeof(totp[0]) ? totp[which] : MSG_SERVICE_ERROR;
}
