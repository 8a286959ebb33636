/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_HOURS_H
#define MAMORI_HOURS_H

#include <stddef.h>
#include <stdint.h>

/* Hours of use (P-PRIV-TIME): a list of rules such as
 * "Mon-Fri 08:00-20:00, Sat 09:00-12:00", in local time.  An empty list
 * allows every hour. */

#define MAMORI_HOURS_MAX_RULES 8

struct mamori_hours_rule {
	uint8_t days; /* bit 0 Monday ... bit 6 Sunday */
	uint16_t start; /* minutes after midnight, inclusive */
	uint16_t end; /* minutes after midnight, exclusive; 1440 is midnight */
};

struct mamori_hours {
	unsigned count;
	struct mamori_hours_rule rule[MAMORI_HOURS_MAX_RULES];
};

/* Parse spec ("" or "any" for always).  Returns 0, or -1 with a reason. */
int mamori_hours_parse(const char *spec, struct mamori_hours *out, char *err, size_t errlen);
/* Whether the local time of epoch t falls inside the hours. */
int mamori_hours_allow(const struct mamori_hours *h, int64_t t);

#endif
