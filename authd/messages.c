/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stddef.h>

#include "messages.h"

#define N_(s) s

static const char *const messages[MSG_COUNT] = {
	[MSG_PASSWORD_PROMPT] = N_("Password: "),
	[MSG_CURRENT_PASSWORD_PROMPT] = N_("Current password: "),
	[MSG_NEW_PASSWORD_PROMPT] = N_("New password: "),
	[MSG_RETYPE_PASSWORD_PROMPT] = N_("Retype new password: "),
	[MSG_ACCOUNT_DISABLED] = N_("This account is disabled. Contact your administrator."),
	[MSG_ACCOUNT_EXPIRED] = N_("This account has expired. Contact your administrator."),
	[MSG_ACCOUNT_PENDING] = N_("This account has no password yet. Contact your administrator."),
	[MSG_MUST_CHANGE_TEMPORARY] = N_("You must change your temporary password now."),
	[MSG_TEMPORARY_EXPIRED] = N_("Your temporary password has expired. Ask your administrator for a new one."),
	[MSG_PASSWORD_CHANGED] = N_("Your password has been changed."),
	[MSG_CURRENT_PASSWORD_WRONG] = N_("The current password is not correct."),
	[MSG_PASSWORDS_DIFFER] = N_("The passwords do not match."),
	[MSG_PASSWORD_EMPTY] = N_("The new password must not be empty."),
	[MSG_PASSWORD_TOO_LONG] = N_("The new password is too long."),
	[MSG_PASSWORD_SAME] = N_("The new password must differ from the current one."),
	[MSG_CHANGE_NOT_ALLOWED] = N_("The password of this account cannot be changed here."),
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
