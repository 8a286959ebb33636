/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "messages.h"

#define N_(s) s

static const char *const messages[MSG_COUNT] = {
	[MSG_PASSWORD_PROMPT] = N_("Password: "),
	[MSG_CURRENT_PASSWORD_PROMPT] = N_("Current password: "),
	[MSG_NEW_PASSWORD_PROMPT] = N_("New password: "),
	[MSG_RETYPE_PASSWORD_PROMPT] = N_("Retype new password: "),
	[MSG_MEMBER_PROMPT] = N_("Member name: "),
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
	[MSG_PASSWORD_TOO_YOUNG] = N_("Your password was changed too recently. You can change it after %s."),
	[MSG_CHANGE_NOT_ALLOWED] = N_("The password of this account cannot be changed here."),
	[MSG_CONTRACTOR_PRIVILEGED] = N_("A contractor may not change the password of a privileged ID."),
	[MSG_LOCKED_UNTIL] = N_("This account is locked after too many failed attempts until %s."),
	[MSG_LOCKED_ADMIN] = N_("This account is locked. An administrator must unlock it."),
	[MSG_RATE_LIMITED] = N_("Too many attempts. Wait a minute and try again."),
	[MSG_OUTSIDE_HOURS] = N_("This account may not be used at this time."),
	[MSG_NOT_A_MEMBER] = N_("Only named members may use this shared account."),
	[MSG_LAST_LOGIN] = N_("Last login: %s from %s"),
	[MSG_LAST_LOGIN_NEVER] = N_("This is the first login of this account."),
	[MSG_FAILURES_SINCE] = N_("Failed login attempts since the last login: %lld"),
	[MSG_LAST_LOGOUT] = N_("Last logout: %s"),
	[MSG_SESSION_DEADLINE] = N_("This privileged session will be ended at %s."),
	[MSG_COMPROMISED_REPORTED] = N_("Your password is marked compromised; you must change it at your next login. "
	                                "The security manager has been told."),
	[MSG_SERVICE_ERROR] = N_("The authentication service failed. Try again later."),
};

const char *
mamori_msg(const char *locale, enum mamori_msg_id id)
{
	/* Translation arrives with the message catalogues; until then every
	 * locale gets the English text. */
	(void)locale;
	if ((unsigned)id >= MSG_COUNT || messages[id] == NULL)
		return "";
	return messages[id];
}

void
mamori_msgf(char *buf, size_t len, const char *locale, enum mamori_msg_id id, ...)
{
	va_list ap;

	va_start(ap, id);
	/* The formats are the fixed table above (and its translations, which
	 * msgfmt --check-format keeps to the same arguments). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	vsnprintf(buf, len, mamori_msg(locale, id), ap);
#pragma GCC diagnostic pop
	va_end(ap);
}

const char *
mamori_msg_text(const char *locale, const char *english)
{
	(void)locale;
	return english;
}
