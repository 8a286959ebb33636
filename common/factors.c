/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "factors.h"

static const struct {
	const char *name;
	unsigned categories; /* always */
	unsigned extra; /* when the answer shows them */
} factors[MAMORI_FACTOR_COUNT] = {
	[MAMORI_FACTOR_PASSWORD] = { "password", MAMORI_CATEGORY_KNOWLEDGE, 0 },
	[MAMORI_FACTOR_TOTP] = { "totp", MAMORI_CATEGORY_POSSESSION, 0 },
	/* The key's signed UV flag, by its PIN or its own fingerprint reader. */
	[MAMORI_FACTOR_FIDO2] = { "fido2", MAMORI_CATEGORY_POSSESSION,
	                          MAMORI_CATEGORY_KNOWLEDGE | MAMORI_CATEGORY_INHERENCE },
	/* The card verifies its PIN: possession and knowledge in one. */
	[MAMORI_FACTOR_CARD] = { "card", MAMORI_CATEGORY_POSSESSION | MAMORI_CATEGORY_KNOWLEDGE, 0 },
	[MAMORI_FACTOR_FINGERPRINT] = { "fingerprint", MAMORI_CATEGORY_INHERENCE, 0 },
};

const char *
mamori_factor_name(enum mamori_factor f)
{
	return (unsigned)f < MAMORI_FACTOR_COUNT ? factors[f].name : "unknown";
}

int
mamori_factor_parse(const char *name, size_t len, enum mamori_factor *out)
{
	for (unsigned i = 0; i < MAMORI_FACTOR_COUNT; i++) {
		if (strlen(factors[i].name) == len && strncmp(factors[i].name, name, len) == 0) {
			*out = (enum mamori_factor)i;
			return 0;
		}
	}
	return -1;
}

unsigned
mamori_factor_categories(enum mamori_factor f)
{
	return (unsigned)f < MAMORI_FACTOR_COUNT ? factors[f].categories : 0;
}

unsigned
mamori_factor_categories_max(enum mamori_factor f)
{
	return (unsigned)f < MAMORI_FACTOR_COUNT ? factors[f].categories | factors[f].extra : 0;
}

unsigned
mamori_category_span(unsigned categories)
{
	unsigned n = 0;

	for (; categories != 0; categories >>= 1)
		n += categories & 1u;
	return n;
}

unsigned
mamori_factor_set_categories(const struct mamori_factor_set *set)
{
	unsigned c = 0;

	for (unsigned i = 0; i < set->count; i++)
		c |= mamori_factor_categories(set->factor[i]);
	return c;
}

unsigned
mamori_factor_set_span(const struct mamori_factor_set *set)
{
	return mamori_category_span(mamori_factor_set_categories(set));
}

unsigned
mamori_factor_set_span_max(const struct mamori_factor_set *set)
{
	unsigned c = 0;

	for (unsigned i = 0; i < set->count; i++)
		c |= mamori_factor_categories_max(set->factor[i]);
	return mamori_category_span(c);
}

int
mamori_factor_set_has(const struct mamori_factor_set *set, enum mamori_factor f)
{
	for (unsigned i = 0; i < set->count; i++) {
		if (set->factor[i] == f)
			return 1;
	}
	return 0;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int
mamori_factor_sets_parse(const char *spec, struct mamori_factor_set *sets, unsigned *count, char *err, size_t errlen)
{
	const char *p = spec;

	*count = 0;
	for (;;) {
		struct mamori_factor_set set = { 0 };

		if (*count == MAMORI_SETS_MAX) {
			snprintf(err, errlen, "more than %d factor sets", MAMORI_SETS_MAX);
			return -1;
		}
		for (;;) {
			const char *start;
			enum mamori_factor f;

			while (is_blank(*p))
				p++;
			start = p;
			while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
				p++;
			if (p == start || mamori_factor_parse(start, (size_t)(p - start), &f) != 0) {
				snprintf(err, errlen,
				         "unknown factor \"%.*s\" (password, totp, fido2, card or fingerprint)",
				         (int)(p - start > 0 ? p - start : 1), start);
				return -1;
			}
			if (mamori_factor_set_has(&set, f)) {
				snprintf(err, errlen, "factor %s appears twice in one set", mamori_factor_name(f));
				return -1;
			}
			if (set.count == MAMORI_SET_FACTORS_MAX) {
				snprintf(err, errlen, "more than %d factors in one set", MAMORI_SET_FACTORS_MAX);
				return -1;
			}
			set.factor[set.count++] = f;
			while (is_blank(*p))
				p++;
			if (*p != '+')
				break;
			p++;
		}
		sets[(*count)++] = set;
		if (*p == '\0')
			return 0;
		if (*p != ',') {
			snprintf(err, errlen, "expected sets like \"password+totp, card+fingerprint\"");
			return -1;
		}
		p++;
	}
}

void
mamori_factor_set_format(const struct mamori_factor_set *set, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (unsigned i = 0; i < set->count && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i > 0 ? "+" : "", mamori_factor_name(set->factor[i]));
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

void
mamori_factor_set_default(struct mamori_factor_set *set)
{
	memset(set, 0, sizeof(*set));
	set->count = 1;
	set->factor[0] = MAMORI_FACTOR_PASSWORD;
}
