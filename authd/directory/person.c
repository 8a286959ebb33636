/* SPDX-License-Identifier: BSD-2-Clause */
/* The mapping from an LDAP entry to a person (person.h).  Everything the
 * entry holds is untrusted: each value is checked for its length, its
 * encoding and its form before it is copied, and one bad value refuses the
 * whole entry. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "names.h"
#include "directory/person.h"

/* An attribute's one value, or none. */
struct value {
	const char *v;
	size_t len;
};

/* Write value v into err's reason, printable ASCII as is and the rest as
 * \xNN, cut after 64 bytes: what an administrator reads in the log. */
static void
quote(char *buf, size_t buflen, const char *v, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && i < 64 && o + 5 < buflen; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", c);
	}
	if (len > 64 && o + 4 < buflen) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

/* The single value of attribute name in e: 1 with *out set, 0 when the
 * entry has none (or name is NULL: not mapped), -1 with err set when it
 * has more than one. */
static int
single(const struct mamori_dir_entry *e, const char *name, struct value *out, char *err, size_t errlen)
{
	int found = 0;

	out->v = NULL;
	out->len = 0;
	if (name == NULL)
		return 0;
	for (size_t i = 0; i < e->nattrs; i++) {
		const struct mamori_dir_attr *a = &e->attrs[i];
		if (a->name == NULL || strcasecmp(a->name, name) != 0 || a->nvalues == 0)
			continue;
		if (found || a->nvalues > 1 || a->values == NULL || a->lens == NULL || a->values[0] == NULL) {
			snprintf(err, errlen, "two values of %s", name);
			return -1;
		}
		out->v = a->values[0];
		out->len = a->lens[0];
		found = 1;
	}
	return found;
}

/* Copy a text value into dst (max bytes and a NUL): UTF-8, no control
 * characters, not longer than the field. */
static int
text(const char *name, const struct value *v, char *dst, size_t max, char *err, size_t errlen)
{
	if (v->len > max) {
		snprintf(err, errlen, "%s is longer than %zu bytes", name, max);
		return -1;
	}
	for (size_t i = 0; i < v->len; i++) {
		unsigned char c = (unsigned char)v->v[i];
		if (c < 0x20 || c == 0x7f) {
			snprintf(err, errlen, "%s has a control character", name);
			return -1;
		}
	}
	if (!mamori_text_valid(v->v, v->len)) {
		snprintf(err, errlen, "%s is not UTF-8 (or has a C1 control character)", name);
		return -1;
	}
	memcpy(dst, v->v, v->len);
	dst[v->len] = '\0';
	return 0;
}

static int
digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return 29;
	return days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard
 * Hinnant's civil algorithms). */
static long
days_from_civil(int y, int m, int d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(long z, int *y, int *m, int *d)
{
	long era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* The time of day and zone of a GeneralizedTime after its date:
 * [HH[MM[SS]][(.|,)fraction]][Z|(+|-)HH[MM]].  *minutes gets the local
 * time of day, *offset the zone's offset east of UTC (both in minutes);
 * *zoned whether a zone was given. */
static int
gtime_rest(const char *s, size_t n, int *minutes, int *offset, int *zoned)
{
	int v[3] = { 0, 0, 0 }, lim[3] = { 23, 59, 60 }, k = 0, oh = 0, om = 0;
	size_t i = 0;

	while (k < 3 && i + 2 <= n && s[i] >= '0' && s[i] <= '9') {
		if (digits(s + i, 2, &v[k]) != 0 || v[k] > lim[k])
			return -1;
		i += 2;
		k++;
	}
	if (k > 0 && i < n && (s[i] == '.' || s[i] == ',')) {
		size_t f = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == f)
			return -1;
	}
	*minutes = v[0] * 60 + v[1];
	*offset = 0;
	*zoned = i < n;
	if (i < n && s[i] == 'Z')
		return i + 1 == n ? 0 : -1;
	if (i < n && (s[i] == '+' || s[i] == '-')) {
		size_t z = n - i - 1;
		if ((z != 2 && z != 4) || digits(s + i + 1, 2, &oh) != 0 || oh > 23 ||
		    (z == 4 && (digits(s + i + 3, 2, &om) != 0 || om > 59)))
			return -1;
		*offset = (s[i] == '+' ? 1 : -1) * (oh * 60 + om);
		return 0;
	}
	return i == n ? 0 : -1;
}

/* A date value to YYYY-MM-DD in Japan time (UTC+9): YYYY-MM-DD as it is,
 * or a GeneralizedTime, converted from its zone (a time without a zone
 * is taken as Japan time already). */
static int
date_value(const char *s, size_t n, char out[MAMORI_DIR_DATE_LEN + 1])
{
	int y, m, d, minutes = 0, offset = 0, zoned = 0;

	if (n == 10 && s[4] == '-' && s[7] == '-') {
		if (digits(s, 4, &y) != 0 || digits(s + 5, 2, &m) != 0 || digits(s + 8, 2, &d) != 0)
			return -1;
	} else {
		if (n < 8 || digits(s, 4, &y) != 0 || digits(s + 4, 2, &m) != 0 || digits(s + 6, 2, &d) != 0)
			return -1;
		if (gtime_rest(s + 8, n - 8, &minutes, &offset, &zoned) != 0)
			return -1;
	}
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return -1;
	if (zoned) {
		/* Local time - offset = UTC; + 9 h = Japan. */
		long t = days_from_civil(y, m, d) * 1440L + minutes - offset + 9 * 60;
		long day = t >= 0 ? t / 1440 : -((-t + 1439) / 1440);
		civil_from_days(day, &y, &m, &d);
		if (y < 1 || y > 9999)
			return -1;
	}
	/* y 1..9999, m 1..12, d 1..31: exactly ten characters. */
	snprintf(out, MAMORI_DIR_DATE_LEN + 1, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
	         (unsigned)d % 100u);
	return 0;
}

/* Whether v is one of list's comma-separated values, without regard to
 * ASCII case, spaces around each ignored. */
static int
in_list(const char *list, const char *v)
{
	size_t vlen = strlen(v);

	for (const char *p = list; p != NULL && vlen > 0;) {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == vlen && strncasecmp(p, v, n) == 0)
			return 1;
		p = end != NULL ? end + 1 : NULL;
	}
	return 0;
}

/* entryUUID: 8-4-4-4-12 hex digits, made lower-case. */
static int
map_uuid(const char *uuid, char out[MAMORI_DIR_UUID_MAX + 1], char *err, size_t errlen)
{
	size_t n = uuid != NULL ? strnlen(uuid, MAMORI_DIR_UUID_MAX + 1) : 0;

	if (uuid == NULL) {
		snprintf(err, errlen, "no entryUUID");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = uuid[i];
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			n = 0;
		else
			out[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a') : c;
	}
	if (n != MAMORI_DIR_UUID_MAX) {
		snprintf(err, errlen, "entryUUID is not a UUID");
		return -1;
	}
	out[n] = '\0';
	return 0;
}

static int
map_name(const struct mamori_dir_conf *dc, const struct mamori_dir_entry *e, struct mamori_dir_person *out, char *err,
         size_t errlen)
{
	struct value v;
	char shown[300];
	int r;

	if ((r = single(e, dc->attr_employee_number, &v, err, errlen)) < 0)
		return -1;
	if (r == 0 || v.len == 0) {
		snprintf(err, errlen, "no %s", dc->attr_employee_number);
		return -1;
	}
	if (text(dc->attr_employee_number, &v, out->employee_number, MAMORI_DIR_EMPLOYEE_MAX, err, errlen) != 0)
		return -1;
	if ((r = single(e, dc->attr_uid, &v, err, errlen)) < 0)
		return -1;
	if (r == 0 || v.len == 0) {
		snprintf(err, errlen, "no %s", dc->attr_uid);
		return -1;
	}
	if (v.len > MAMORI_USER_NAME_MAX || memchr(v.v, '\0', v.len) != NULL) {
		quote(shown, sizeof(shown), v.v, v.len);
		snprintf(err, errlen, "%s \"%s\" is not a valid account name", dc->attr_uid, shown);
		return -1;
	}
	memcpy(out->name, v.v, v.len);
	out->name[v.len] = '\0';
	if (!mamori_user_name_valid(out->name)) {
		quote(shown, sizeof(shown), v.v, v.len);
		snprintf(err, errlen, "%s \"%s\" is not a valid account name", dc->attr_uid, shown);
		return -1;
	}
	return 0;
}

/* An optional attribute into dst: text, or a date when date is set. */
static int
map_optional(const struct mamori_dir_entry *e, const char *attr, char *dst, size_t max, int date, char *err,
             size_t errlen)
{
	struct value v;
	int r = single(e, attr, &v, err, errlen);

	dst[0] = '\0';
	if (r <= 0)
		return r;
	if (!date)
		return text(attr, &v, dst, max, err, errlen);
	if (date_value(v.v, v.len, dst) != 0) {
		dst[0] = '\0';
		snprintf(err, errlen, "bad date in %s", attr);
		return -1;
	}
	return 0;
}

static int
map_fields(const struct mamori_dir_conf *dc, const struct mamori_dir_entry *e, struct mamori_dir_person *out, char *err,
           size_t errlen)
{
	const struct {
		const char *attr;
		char *dst;
		size_t max;
		int date;
	} fields[] = {
		{ dc->attr_display_name, out->display_name, MAMORI_DIR_TEXT_MAX, 0 },
		{ dc->attr_department, out->department, MAMORI_DIR_TEXT_MAX, 0 },
		{ dc->attr_manager, out->manager, MAMORI_DIR_TEXT_MAX, 0 },
		{ dc->attr_status, out->status, MAMORI_DIR_TEXT_MAX, 0 },
		{ dc->attr_start, out->start, MAMORI_DIR_DATE_LEN, 1 },
		{ dc->attr_end, out->end, MAMORI_DIR_DATE_LEN, 1 },
		{ dc->attr_secondment_start, out->secondment_start, MAMORI_DIR_DATE_LEN, 1 },
		{ dc->attr_secondment_end, out->secondment_end, MAMORI_DIR_DATE_LEN, 1 },
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (map_optional(e, fields[i].attr, fields[i].dst, fields[i].max, fields[i].date, err, errlen) < 0)
			return -1;
	}
	out->retired_status = out->status[0] != '\0' && in_list(dc->retired_values, out->status);
	out->contractor = out->status[0] != '\0' && in_list(dc->contractor_values, out->status);
	return 0;
}

int
mamori_dir_map(const struct mamori_dir_conf *dc, const struct mamori_dir_entry *e, struct mamori_dir_person *out,
               char *err, size_t errlen)
{
	size_t dnlen;

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (dc == NULL || e == NULL || (e->nattrs > 0 && e->attrs == NULL)) {
		snprintf(err, errlen, "no entry");
		return MAMORI_ERR_INVALID;
	}
	dnlen = e->dn != NULL ? strnlen(e->dn, MAMORI_DIR_DN_MAX + 1) : 0;
	if (dnlen == 0 || dnlen > MAMORI_DIR_DN_MAX || !mamori_text_valid(e->dn, dnlen)) {
		snprintf(err, errlen, dnlen == 0 ? "no DN" : "the DN is too long or not UTF-8");
		goto refuse;
	}
	memcpy(out->dn, e->dn, dnlen + 1);
	if (map_uuid(e->uuid, out->uuid, err, errlen) != 0 || map_name(dc, e, out, err, errlen) != 0 ||
	    map_fields(dc, e, out, err, errlen) != 0)
		goto refuse;
	return MAMORI_OK;
refuse:
	/* Never half taken. */
	memset(out, 0, sizeof(*out));
	return MAMORI_ERR_INVALID;
}

int
mamori_dir_person_retired(const struct mamori_dir_person *p, const char *today)
{
	return p->retired_status || (p->end[0] != '\0' && strcmp(p->end, today) < 0);
}

int
mamori_dir_person_seconded(const struct mamori_dir_person *p, const char *today)
{
	return p->secondment_start[0] != '\0' && strcmp(p->secondment_start, today) <= 0 &&
	       (p->secondment_end[0] == '\0' || strcmp(today, p->secondment_end) <= 0);
}
