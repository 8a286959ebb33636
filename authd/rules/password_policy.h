/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_PASSWORD_POLICY_H
#define MAMORI_PASSWORD_POLICY_H

#include <stddef.h>

#include "conf.h"

/* P-PW-STRENGTH: the rules a new password must pass, and the organisation's
 * block list of forbidden passwords. */

/* The longest block list line accepted, in bytes, without its line end. */
#define MAMORI_BLOCKLIST_LINE_MAX 4096
/* The largest block list file accepted, in bytes. */
#define MAMORI_BLOCKLIST_FILE_MAX ((size_t)1 << 30)

struct mamori_blocklist;

/* Load an organisation block list: one password per line, compared without
 * regard to ASCII case.  Empty lines, lines of only spaces and tabs, and
 * lines starting with '#' are ignored; a trailing "\n" or "\r\n" is
 * stripped; a line longer than MAMORI_BLOCKLIST_LINE_MAX bytes or holding a
 * NUL byte is refused.  The file must be a regular file, not a symbolic link
 * and not writable by everyone.  Returns MAMORI_OK, or an error with *out set
 * to NULL and err filled with "PATH:LINE: reason" or "PATH: reason". */
int mamori_blocklist_load(const char *path, struct mamori_blocklist **out, char *err, size_t errlen);
/* Free a block list and set *bl to NULL; NULL and *bl == NULL are fine. */
void mamori_blocklist_free(struct mamori_blocklist **bl);
/* The number of distinct entries; 0 for NULL. */
size_t mamori_blocklist_count(const struct mamori_blocklist *bl);
/* 1 when pw (len bytes, any byte but NUL) is on the list, else 0; O(log n).
 * bl may be NULL (an empty list).  Safe to call from many threads at once. */
int mamori_blocklist_contains(const struct mamori_blocklist *bl, const char *pw, size_t len);

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
