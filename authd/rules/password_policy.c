/* SPDX-License-Identifier: BSD-2-Clause */
/* P-PW-STRENGTH: whether a new password may be used.  Our own rules (length,
 * classes, block list, user name and its parts, the organisation's words)
 * come first; libpwquality and cracklib follow for the dictionary and the
 * rest of their checks, then zxcvbn's estimate of the guesses needed.  The
 * block list and the dictionary also see the candidate normalised: years
 * taken out, digits and symbols at either end stripped, leetspeak folded,
 * so that "Password2024!" is "password". */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pwquality.h>
#include <zxcvbn.h>

#include "error.h"
#include "log.h"
#include "names.h"
#include "rules/password_policy.h"
#include "secure.h"

/* Marks the reasons for xgettext; messages.c translates them by their text. */
#define N_(s) s

/* pwquality_set_int_value raises anything lower to this. */
#define PWQUALITY_MIN_LENGTH 6
/* cracklib's answers when the check could not be made: its dictionary is
 * missing, or the daemon's own uid has no passwd entry (cracklib compares
 * every password with that entry).  They are failures, not verdicts. */
#define CRACKLIB_NO_DICTIONARY "error loading dictionary"
#define CRACKLIB_NO_PASSWD_ENTRY "you are not registered in the password file"
#define CRACKLIB_NO_MEMORY "memory allocation error"
#define USER_NAME_MIN 3
/* cracklib looks at no more than 255 bytes of a password. */
#define CRACKLIB_FILLER_LEN 255
/* More than libpwquality and cracklib use below our frame for a check. */
#define STACK_SCRUB_BYTES 32768

/* ------------------------------------------------------------------ our rules */

/* The number of code points when s is valid UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), else the number of bytes. */
static size_t
character_count(const unsigned char *s, size_t len)
{
	size_t i = 0, count = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t need;
		unsigned char lo = 0x80, hi = 0xbf; /* range of the first continuation byte */

		if (c < 0x80)
			need = 0;
		else if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return len;
		if (need > len - i - 1)
			return len;
		for (size_t k = 1; k <= need; k++) {
			unsigned char d = s[i + k];
			if (k == 1 ? d < lo || d > hi : d < 0x80 || d > 0xbf)
				return len;
		}
		i += need + 1;
		count++;
	}
	return count;
}

/* Of lower-case ASCII, upper-case ASCII, digits and everything else. */
static unsigned
class_count(const unsigned char *s, size_t len)
{
	unsigned lower = 0, upper = 0, digit = 0, other = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			lower = 1;
		else if (s[i] >= 'A' && s[i] <= 'Z')
			upper = 1;
		else if (s[i] >= '0' && s[i] <= '9')
			digit = 1;
		else
			other = 1;
	}
	return lower + upper + digit + other;
}

/* Whether pw contains user, forwards or backwards, ignoring ASCII case.
 * libpwquality does this too, but only for names of four or more bytes. */
static int
contains_user_name(const unsigned char *pw, size_t len, const char *user)
{
	const unsigned char *u = (const unsigned char *)user;
	size_t ulen = strlen(user);

	if (ulen < USER_NAME_MIN || ulen > len)
		return 0;
	for (size_t i = 0; i + ulen <= len; i++) {
		int forwards = 1, backwards = 1;
		for (size_t k = 0; k < ulen && (forwards || backwards); k++) {
			unsigned char c = mamori_pw_ascii_lower(pw[i + k]);
			if (c != mamori_pw_ascii_lower(u[k]))
				forwards = 0;
			if (c != mamori_pw_ascii_lower(u[ulen - 1 - k]))
				backwards = 0;
		}
		if (forwards || backwards)
			return 1;
	}
	return 0;
}

/* Whether byte c of a candidate can stand for byte w of a word (lower
 * case): the same letter in either case, or leetspeak for it ('1' for 'l'
 * as well as 'i'). */
static int
stands_for(unsigned char c, unsigned char w)
{
	unsigned char l = mamori_pw_leet_letter(c);

	return mamori_pw_ascii_lower(c) == w || l == w || (c == '1' && w == 'l');
}

/* Whether pw contains word (wlen bytes, lower case), forwards or backwards,
 * read through stands_for. */
static int
contains_word(const unsigned char *pw, size_t len, const unsigned char *word, size_t wlen)
{
	if (wlen == 0 || wlen > len)
		return 0;
	for (size_t i = 0; i + wlen <= len; i++) {
		int forwards = 1, backwards = 1;
		for (size_t k = 0; k < wlen && (forwards || backwards); k++) {
			if (!stands_for(pw[i + k], word[k]))
				forwards = 0;
			if (!stands_for(pw[i + k], word[wlen - 1 - k]))
				backwards = 0;
		}
		if (forwards || backwards)
			return 1;
	}
	return 0;
}

/* Split list at any of seps into words of at least min bytes, ASCII
 * letters lower-cased, written into buf from *used on (which moves past
 * them), with their starts in words[], at most max of them; returns how
 * many.  With trim, spaces and tabs around each word are dropped. */
static size_t
split_words(const char *list, const char *seps, int trim, size_t min, char *buf, size_t buflen, size_t *used,
            const char **words, size_t max)
{
	size_t count = 0;

	for (const char *p = list; p != NULL && *p != '\0' && count < max;) {
		size_t n = strcspn(p, seps);
		const char *start = p;

		p = p[n] != '\0' ? p + n + 1 : NULL;
		if (trim) {
			while (n > 0 && (*start == ' ' || *start == '\t')) {
				start++;
				n--;
			}
			while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t'))
				n--;
		}
		if (n < min || n + 1 > buflen - *used)
			continue;
		for (size_t k = 0; k < n; k++)
			buf[*used + k] = (char)mamori_pw_ascii_lower((unsigned char)start[k]);
		buf[*used + n] = '\0';
		words[count++] = buf + *used;
		*used += n + 1;
	}
	return count;
}

static void verdict(struct mamori_pw_verdict *v, enum mamori_pw_rule rule, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
verdict(struct mamori_pw_verdict *v, enum mamori_pw_rule rule, const char *fmt, ...)
{
	va_list ap;

	v->rule = rule;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
}

/* Library text becomes one line ending in a full stop, like ours. */
static void
verdict_from_library(struct mamori_pw_verdict *v, enum mamori_pw_rule rule, const char *text)
{
	size_t n;

	v->rule = rule;
	snprintf(v->reason, sizeof(v->reason), "%s",
	         text != NULL && text[0] != '\0' ? text : N_("The password is too weak."));
	for (n = 0; v->reason[n] != '\0'; n++)
		if ((unsigned char)v->reason[n] < 0x20 || v->reason[n] == 0x7f)
			v->reason[n] = ' ';
	if (n > 0 && v->reason[n - 1] != '.' && n + 1 < sizeof(v->reason)) {
		v->reason[n] = '.';
		v->reason[n + 1] = '\0';
	}
}

/* ------------------------------------------------------------------ libpwquality */

/* libpwquality calls cracklib, which keeps static state and is not
 * thread-safe; every call into either goes through this lock. */
static pthread_mutex_t pwquality_lock = PTHREAD_MUTEX_INITIALIZER;

/* Only the rules we delegate; everything else is ours or off.  The
 * settings come from pwquality_default_settings and never from
 * /etc/security/pwquality.conf, so the host cannot weaken them. */
static int
pwquality_configure(pwquality_settings_t *settings, const struct mamori_policy_conf *policy)
{
	static const int zero[] = {
		PWQ_SETTING_DIG_CREDIT,       PWQ_SETTING_UP_CREDIT,    PWQ_SETTING_LOW_CREDIT,
		PWQ_SETTING_OTH_CREDIT,       PWQ_SETTING_MIN_CLASS,    PWQ_SETTING_MAX_REPEAT,
		PWQ_SETTING_MAX_CLASS_REPEAT, PWQ_SETTING_MAX_SEQUENCE, PWQ_SETTING_GECOS_CHECK,
	};

	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]); i++)
		if (pwquality_set_int_value(settings, zero[i], 0) != 0)
			return -1;
	if (pwquality_set_int_value(settings, PWQ_SETTING_MIN_LENGTH, PWQUALITY_MIN_LENGTH) != 0 ||
	    pwquality_set_int_value(settings, PWQ_SETTING_DICT_CHECK, policy->dictionary_check ? 1 : 0) != 0 ||
	    pwquality_set_int_value(settings, PWQ_SETTING_USER_CHECK, policy->user_check ? 1 : 0) != 0 ||
	    pwquality_set_int_value(settings, PWQ_SETTING_ENFORCING, 1) != 0)
		return -1;
#ifdef MAMORI_TEST_HOOKS
	{
		/* Lets tests point cracklib at a missing dictionary. */
		const char *dict = getenv("MAMORI_TEST_CRACKLIB_DICT");
		if (dict != NULL && dict[0] != '\0' &&
		    pwquality_set_str_value(settings, PWQ_SETTING_DICT_PATH, dict) != 0)
			return -1;
	}
#endif
	return 0;
}

/* cracklib copies the password into buffers on its stack and leaves them
 * there; overwrite the stack below our frame, where they were. */
static __attribute__((noinline)) void
scrub_stack(void)
{
	unsigned char area[STACK_SCRUB_BYTES];

	explicit_bzero(area, sizeof(area));
	__asm__ __volatile__("" : : "r"(area) : "memory");
}

/* cracklib also leaves lower-cased, reversed and mangled forms of the last
 * password it saw in static buffers.  Checking a filler of the longest
 * length cracklib reads, which meets every condition of cracklib's mangling
 * rules that the password met, overwrites all of them.  The rules test for
 * '$', the digits 0 to 5, punctuation, symbols and other non-alphanumeric
 * characters; the filler carries one of each kind the password has (and no
 * more, since each costs a sweep of dictionary look-ups) between letters 7
 * apart in the alphabet, which cracklib does not find "systematic". */
static void
cracklib_flush(pwquality_settings_t *settings, const unsigned char *pw, size_t len)
{
	char filler[CRACKLIB_FILLER_LEN + 1], special[16];
	char buf[PWQ_MAX_ERROR_MESSAGE_LEN];
	int has_digit[6] = { 0 }, has_dollar = 0, has_punct = 0, has_symbol = 0, has_other = 0;
	size_t nspecial = 0, k = 0;
	void *aux = NULL;
	int score;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = pw[i];
		if (c >= '0' && c <= '5')
			has_digit[c - '0'] = 1;
		else if (c == '$')
			has_dollar = 1;
		else if (c != '\0' && strchr(".`,:;'!?\"", c) != NULL)
			has_punct = 1;
		else if (c != '\0' && strchr("%^&*()-_+=|\\[]{}#@/~", c) != NULL)
			has_symbol = 1;
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			has_other = 1;
	}
	for (int d = 0; d < 6; d++)
		if (has_digit[d])
			special[nspecial++] = (char)('0' + d);
	if (has_dollar)
		special[nspecial++] = '$';
	if (has_punct)
		special[nspecial++] = '!';
	if (has_symbol)
		special[nspecial++] = '-';
	if (has_other)
		special[nspecial++] = '<';
	for (size_t i = 0; i < CRACKLIB_FILLER_LEN; i++)
		filler[i] = (i % 10 == 5 && k < nspecial) ? special[k++] : (char)('a' + (i * 7) % 26);
	filler[CRACKLIB_FILLER_LEN] = '\0';
	score = pwquality_check(settings, filler, NULL, NULL, &aux);
	if (score < 0)
		(void)pwquality_strerror(buf, sizeof(buf), score, aux);
}

static int
pwquality_verdict(const struct mamori_policy_conf *policy, const char *user, const char *pw, size_t len,
                  struct mamori_pw_verdict *v)
{
	pwquality_settings_t *settings = NULL;
	locale_t c_locale = (locale_t)0, saved;
	char *copy = NULL;
	char text[PWQ_MAX_ERROR_MESSAGE_LEN], buf[PWQ_MAX_ERROR_MESSAGE_LEN];
	void *aux = NULL;
	const char *cracklib_failure = NULL;
	int rc = MAMORI_ERR_INTERNAL, score;

	if (len == SIZE_MAX)
		return MAMORI_ERR_TOO_LARGE;
	/* pwquality_check wants a C string; this copy is wiped below. */
	if ((copy = malloc(len + 1)) == NULL)
		return MAMORI_ERR_NOMEM;
	memcpy(copy, pw, len);
	copy[len] = '\0';
	if ((settings = pwquality_default_settings()) == NULL) {
		rc = MAMORI_ERR_NOMEM;
		goto fail;
	}
	if (pwquality_configure(settings, policy) != 0) {
		mamori_log_err("%s: libpwquality refused a setting", __func__);
		goto fail;
	}
	/* Messages in English whatever the daemon's locale: "C" needs no
	 * allocation and makes gettext return the untranslated text. */
	if ((c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0)) == (locale_t)0) {
		rc = MAMORI_ERR_NOMEM;
		goto fail;
	}
	text[0] = '\0';
	pthread_mutex_lock(&pwquality_lock);
	saved = uselocale(c_locale);
	score = pwquality_check(settings, copy, NULL, user, &aux);
	if (score < 0) {
		if (score == PWQ_ERROR_CRACKLIB_CHECK && aux != NULL) {
			if (strcmp(aux, CRACKLIB_NO_DICTIONARY) == 0)
				cracklib_failure = "could not load its dictionary";
			else if (strcmp(aux, CRACKLIB_NO_PASSWD_ENTRY) == 0)
				cracklib_failure = "found no passwd entry for the daemon's uid";
			else if (strcmp(aux, CRACKLIB_NO_MEMORY) == 0)
				cracklib_failure = "ran out of memory";
		}
		/* Always called, since it frees aux for the errors that allocate it. */
		snprintf(text, sizeof(text), "%s", pwquality_strerror(buf, sizeof(buf), score, aux));
	}
	if (policy->dictionary_check)
		cracklib_flush(settings, (const unsigned char *)copy, len);
	uselocale(saved);
	pthread_mutex_unlock(&pwquality_lock);
	scrub_stack();

	if (score >= 0) {
		v->rule = MAMORI_PW_OK;
		v->reason[0] = '\0';
		rc = MAMORI_OK;
	} else if (cracklib_failure != NULL) {
		mamori_log_err("%s: cracklib %s", __func__, cracklib_failure);
		rc = MAMORI_ERR_INTERNAL;
	} else if (score == PWQ_ERROR_MEM_ALLOC) {
		rc = MAMORI_ERR_NOMEM;
	} else if (score == PWQ_ERROR_FATAL_FAILURE) {
		mamori_log_err("%s: %s", __func__, text);
		rc = MAMORI_ERR_INTERNAL;
	} else {
		enum mamori_pw_rule rule = score == PWQ_ERROR_CRACKLIB_CHECK ? MAMORI_PW_DICTIONARY
		                           : score == PWQ_ERROR_USER_CHECK   ? MAMORI_PW_USER_NAME
		                                                             : MAMORI_PW_WEAK;
		verdict_from_library(v, rule, text);
		rc = MAMORI_OK;
	}

fail:
	if (c_locale != (locale_t)0)
		freelocale(c_locale);
	pwquality_free_settings(settings);
	mamori_freezero(copy, len + 1);
	return rc;
}

/* ------------------------------------------------------------------ zxcvbn */

/* zxcvbn's estimate of the guesses an attacker needs, as log10, with the
 * user's name, its parts and the organisation's words as its own most
 * likely words.  zxcvbn copies the password into buffers on the heap and
 * the stack; the stack below our frame is scrubbed after it. */
static double
zxcvbn_guesses_log10(const char *pw, const char *const *dict)
{
	double bits = ZxcvbnMatch(pw, (const char **)(uintptr_t)dict, NULL);

	scrub_stack();
	return bits * log10(2.0);
}

/* ------------------------------------------------------------------ the check */

/* Room for the words the check compares with: the user name, its parts
 * and the organisation's words. */
#define NAME_PARTS_MAX 8
#define WORDS_MAX (1 + NAME_PARTS_MAX + MAMORI_ORG_WORDS_MAX)
#define WORDS_BUF (2 * (MAMORI_USER_NAME_MAX + 1) + MAMORI_ORG_WORDS_MAX * (MAMORI_ORG_WORD_MAX + 1))

int
mamori_password_policy_check(const struct mamori_policy_conf *policy, const struct mamori_blocklist *bl,
                             const char *org_words, const char *user, const char *pw, size_t len,
                             struct mamori_pw_verdict *v)
{
	const unsigned char *p = (const unsigned char *)pw;
	const char *words[WORDS_MAX + 1];
	char wordbuf[WORDS_BUF];
	size_t characters, nparts = 0, norg = 0, nwords = 0, nlen = 0, used = 0;
	unsigned char *norm = NULL;
	unsigned classes;
	int rc = MAMORI_OK;

	if (v != NULL) {
		/* Default deny: a caller that ignores rc still sees a refusal. */
		v->rule = MAMORI_PW_WEAK;
		snprintf(v->reason, sizeof(v->reason), "%s", N_("The password could not be checked."));
	}
	if (policy == NULL || v == NULL || (pw == NULL && len > 0))
		return MAMORI_ERR_INVALID;
	if (pw == NULL)
		pw = "";
	/* No password can hold a NUL, and libpwquality would stop there. */
	if (memchr(pw, '\0', len) != NULL)
		return MAMORI_ERR_INVALID;
	if (user != NULL && user[0] == '\0')
		user = NULL;
	if (user != NULL && strlen(user) > MAMORI_USER_NAME_MAX)
		return MAMORI_ERR_INVALID;

	characters = character_count(p, len);
	if (characters < policy->min_length) {
		verdict(v, MAMORI_PW_TOO_SHORT, N_("The password must have at least %u characters."),
		        policy->min_length);
		return MAMORI_OK;
	}
	if (characters > policy->max_length) {
		verdict(v, MAMORI_PW_TOO_LONG, N_("The password must have at most %u characters."), policy->max_length);
		return MAMORI_OK;
	}
	classes = class_count(p, len);
	if (classes < policy->min_classes) {
		verdict(v, MAMORI_PW_CLASSES,
		        N_("The password must mix at least %u of: lower-case letters, upper-case letters, digits, "
		           "other characters."),
		        policy->min_classes);
		return MAMORI_OK;
	}
	if (mamori_blocklist_contains(bl, pw, len)) {
		verdict(v, MAMORI_PW_BLOCKLIST,
		        N_("The password is on the organisation's list of forbidden passwords."));
		return MAMORI_OK;
	}
	if ((norm = malloc(len + 1)) == NULL)
		return MAMORI_ERR_NOMEM;
	nlen = mamori_pw_normalise(p, len, norm);
	norm[nlen] = '\0';
	if (mamori_blocklist_contains_normalised(bl, (const char *)norm, nlen)) {
		verdict(v, MAMORI_PW_BLOCKLIST,
		        N_("The password is a forbidden password with digits, symbols or a year added."));
		goto out;
	}

	/* The words: the whole user name, its parts (split at '.', '_', '-'),
	 * the organisation's. */
	if (user != NULL)
		nwords = split_words(user, "", 0, 1, wordbuf, sizeof(wordbuf), &used, words, 1);
	if (user != NULL)
		nparts = split_words(user, "._-", 0, USER_NAME_MIN, wordbuf, sizeof(wordbuf), &used, words + nwords,
		                     NAME_PARTS_MAX);
	nwords += nparts;
	norg = split_words(org_words, ",", 1, MAMORI_ORG_WORD_MIN, wordbuf, sizeof(wordbuf), &used, words + nwords,
	                   MAMORI_ORG_WORDS_MAX);
	words[nwords + norg] = NULL;

	if (policy->user_check && user != NULL) {
		int found = contains_user_name(p, len, user);
		for (size_t i = 1; !found && i <= nparts; i++)
			found = contains_word(p, len, (const unsigned char *)words[i], strlen(words[i]));
		if (found) {
			verdict(v, MAMORI_PW_USER_NAME, N_("The password contains the user name in some form."));
			goto out;
		}
	}
	for (size_t i = nwords; i < nwords + norg; i++) {
		if (contains_word(p, len, (const unsigned char *)words[i], strlen(words[i]))) {
			verdict(v, MAMORI_PW_ORG_WORD,
			        N_("The password contains the name of the organisation or of a place it names."));
			goto out;
		}
	}
	nwords += norg;

	rc = pwquality_verdict(policy, user, pw, len, v);
	if (rc != MAMORI_OK || v->rule != MAMORI_PW_OK)
		goto out;
	/* The dictionary again, on the normalised form, when it differs and
	 * is long enough for cracklib to judge on its merits. */
	if (policy->dictionary_check && nlen >= PWQUALITY_MIN_LENGTH && (nlen != len || memcmp(norm, pw, len) != 0)) {
		rc = pwquality_verdict(policy, user, (const char *)norm, nlen, v);
		if (rc != MAMORI_OK)
			goto out;
		if (v->rule == MAMORI_PW_DICTIONARY)
			goto out;
		v->rule = MAMORI_PW_OK;
		v->reason[0] = '\0';
	}
	if (policy->min_guesses_log10 > 0) {
		char *copy = malloc(len + 1);
		double guesses;

		if (copy == NULL) {
			rc = MAMORI_ERR_NOMEM;
			goto out;
		}
		memcpy(copy, pw, len);
		copy[len] = '\0';
		guesses = zxcvbn_guesses_log10(copy, words);
		mamori_freezero(copy, len + 1);
		if (guesses < (double)policy->min_guesses_log10) {
			verdict(v, MAMORI_PW_WEAK,
			        N_("The password is too easy to guess. A longer phrase of unrelated words is better."));
			goto out;
		}
	}
	v->rule = MAMORI_PW_OK;
	v->reason[0] = '\0';
out:
	if (rc != MAMORI_OK && v->rule == MAMORI_PW_OK) {
		v->rule = MAMORI_PW_WEAK;
		snprintf(v->reason, sizeof(v->reason), "%s", N_("The password could not be checked."));
	}
	mamori_wipe(wordbuf, sizeof(wordbuf));
	mamori_freezero(norm, len + 1);
	return rc;
}
