/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hours.h"

static const char *const day_names[7] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };

static int
parse_day(const char **p)
{
	for (int i = 0; i < 7; i++) {
		if (strncasecmp(*p, day_names[i], 3) == 0) {
			*p += 3;
			return i;
		}
	}
	return -1;
}

static int
parse_time(const char **p, int allow_24)
{
	const char *s = *p;
	int h, m;

	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] != ':' || s[3] < '0' || s[3] > '9' ||
	    s[4] < '0' || s[4] > '9')
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_24)))
		return -1;
	*p += 5;
	return h * 60 + m;
}

static void
skip_spaces(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

int
mamori_hours_parse(const char *spec, struct mamori_hours *out, char *err, size_t errlen)
{
	const char *p = spec;

	memset(out, 0, sizeof(*out));
	skip_spaces(&p);
	if (*p == '\0' || strcasecmp(p, "any") == 0)
		return 0;
	for (;;) {
		struct mamori_hours_rule r = { 0 };
		int first, last, start, end;

		if (out->count == MAMORI_HOURS_MAX_RULES) {
			snprintf(err, errlen, "more than %d rules", MAMORI_HOURS_MAX_RULES);
			return -1;
		}
		skip_spaces(&p);
		if ((first = parse_day(&p)) < 0)
			goto bad;
		last = first;
		if (*p == '-') {
			p++;
			if ((last = parse_day(&p)) < 0)
				goto bad;
		}
		/* Mon-Fri, or a range that wraps: Sat-Mon. */
		for (int d = first;; d = (d + 1) % 7) {
			r.days |= (uint8_t)(1u << d);
			if (d == last)
				break;
		}
		skip_spaces(&p);
		if ((start = parse_time(&p, 0)) < 0 || *p++ != '-' || (end = parse_time(&p, 1)) < 0)
			goto bad;
		if (end <= start) {
			snprintf(err, errlen, "the end of a period must come after its start");
			return -1;
		}
		r.start = (uint16_t)start;
		r.end = (uint16_t)end;
		out->rule[out->count++] = r;
		skip_spaces(&p);
		if (*p == '\0')
			return 0;
		if (*p != ',')
			goto bad;
		p++;
	}
bad:
	snprintf(err, errlen, "expected periods like \"Mon-Fri 08:00-20:00, Sat 09:00-12:00\"");
	return -1;
}

int
mamori_hours_allow(const struct mamori_hours *h, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	int day, minute;

	if (h->count == 0)
		return 1;
	if (localtime_r(&tt, &tm) == NULL)
		return 0;
	day = (tm.tm_wday + 6) % 7; /* tm_wday counts from Sunday */
	minute = tm.tm_hour * 60 + tm.tm_min;
	for (unsigned i = 0; i < h->count; i++) {
		const struct mamori_hours_rule *r = &h->rule[i];
		if ((r->days & (1u << day)) && minute >= r->start && minute < r->end)
			return 1;
	}
	return 0;
}
