/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_PASSWORD_POLICY_H
#define MAMORI_PASSWORD_POLICY_H

#include <stddef.h>

#include "conf.h"

/* P-PW-STRENGTH: the rules a new password must pass, and the organisation's
 * block list of forbidden passwords. */

#include "rules/blocklist.h"

enum mamori_pw_rule {
	MAMORI_PW_OK,
	MAMORI_PW_TOO_SHORT,
	MAMORI_PW_TOO_LONG,
	MAMORI_PW_CLASSES,
	MAMORI_PW_USER_NAME,
	MAMORI_PW_DICTIONARY,
	MAMORI_PW_BLOCKLIST,
	MAMORI_PW_ORG_WORD,
	MAMORI_PW_WEAK,
};

struct mamori_pw_verdict {
	enum mamori_pw_rule rule;
	/* One line of English saying which rule the password broke (empty when
	 * it broke none); never contains the password. */
	char reason[256];
};

/* Check a candidate new password (len bytes) for user against policy, the
 * block list bl (NULL: none) and org_words ([password] org_words, NULL:
 * none).  The rules, in this order: length in characters (UTF-8 code
 * points, or bytes when pw is not valid UTF-8), character classes, block
 * list (as given, then both normalised: years out, digits and symbols at
 * either end stripped, leetspeak folded), user name and its parts split at
 * '.', '_' and '-' (when policy->user_check), the organisation's words
 * (both found in any case, leetspeak or reversed), libpwquality with
 * cracklib (when policy->dictionary_check; the normalised form too), then
 * zxcvbn's guess estimate against policy->min_guesses_log10.  Returns
 * MAMORI_OK with v filled (v->rule == MAMORI_PW_OK when the password is
 * acceptable), or an error when the check could not be made, and then the
 * caller must refuse the change.  user may be NULL.  Thread-safe. */
int mamori_password_policy_check(const struct mamori_policy_conf *policy, const struct mamori_blocklist *bl,
                                 const char *org_words, const char *user, const char *pw, size_t len,
                                 struct mamori_pw_verdict *v);

#endif
