/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_FACTORS_H
#define MAMORI_FACTORS_H

#include <stddef.h>

/* Authentication factors and the categories they supply (DESIGN.md
 * "Factors and categories"; P-MFA-MN, P-MFA-ALL). */

enum mamori_factor {
	MAMORI_FACTOR_PASSWORD,
	MAMORI_FACTOR_TOTP,
	MAMORI_FACTOR_FIDO2,
	MAMORI_FACTOR_CARD,
	MAMORI_FACTOR_FINGERPRINT,
	MAMORI_FACTOR_COUNT
};

enum {
	MAMORI_CATEGORY_KNOWLEDGE = 1,
	MAMORI_CATEGORY_POSSESSION = 2,
	MAMORI_CATEGORY_INHERENCE = 4,
};

#define MAMORI_SET_FACTORS_MAX 4
#define MAMORI_SETS_MAX 8

/* One accepted combination, asked in this order. */
struct mamori_factor_set {
	unsigned count;
	enum mamori_factor factor[MAMORI_SET_FACTORS_MAX];
};

const char *mamori_factor_name(enum mamori_factor f);
int mamori_factor_parse(const char *name, size_t len, enum mamori_factor *out);
/* The categories (MAMORI_CATEGORY_* bits) a factor always supplies. */
unsigned mamori_factor_categories(enum mamori_factor f);
/* The categories it may supply when its answer shows more (a FIDO2 key:
 * + knowledge when the user was verified by the key's PIN, + inherence by
 * its built-in fingerprint reader); the factor sets the proof's categories
 * (factor.h) at each login. */
unsigned mamori_factor_categories_max(enum mamori_factor f);
unsigned mamori_factor_set_categories(const struct mamori_factor_set *set);
/* The number of distinct categories a set spans. */
unsigned mamori_factor_set_span(const struct mamori_factor_set *set);
/* The same with every factor's mamori_factor_categories_max. */
unsigned mamori_factor_set_span_max(const struct mamori_factor_set *set);
/* The number of distinct categories in a MAMORI_CATEGORY_* mask. */
unsigned mamori_category_span(unsigned categories);
int mamori_factor_set_has(const struct mamori_factor_set *set, enum mamori_factor f);
/* "password+totp, card+fingerprint": at most MAMORI_SETS_MAX sets of at
 * most MAMORI_SET_FACTORS_MAX distinct factors.  0, or -1 with a reason. */
int mamori_factor_sets_parse(const char *spec, struct mamori_factor_set *sets, unsigned *count, char *err,
                             size_t errlen);
/* The set a service that names none accepts: the password alone. */
void mamori_factor_set_default(struct mamori_factor_set *set);
/* "password+totp". */
void mamori_factor_set_format(const struct mamori_factor_set *set, char *buf, size_t len);

#endif
