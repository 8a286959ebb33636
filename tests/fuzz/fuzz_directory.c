/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for the mapping from an LDAP entry of the HR directory
 * to a person (authd/directory/person.c, issue #13): everything in the
 * entry is the directory's, untrusted.
 *
 * The input is a list of records, each a kind byte, a 16-bit big-endian
 * length and that many bytes (a record cut short takes what is left):
 *   0  the DN (NUL-terminated here at its length: a NUL inside cuts it);
 *   1  the entryUUID, likewise (no such record: the entry has none);
 *   2  a new attribute, its name;
 *   anything else: one more value of the last attribute (bytes as they
 *      are, NULs included; before any attribute, ignored).
 * The configuration is fixed and maps every attribute, the four dates
 * included; retired_values and contractor_values hold lists.
 *
 * Invariants checked (abort() on violation): MAMORI_OK or
 * MAMORI_ERR_INVALID only; a refusal leaves the person all zero with a
 * reason; a person taken has a valid account name (names.h), a lower-case
 * UUID, an employee number, text fields that are NUL-terminated, within
 * their bounds, UTF-8 without control characters, dates that are "" or
 * YYYY-MM-DD of a real day; the same entry maps the same way twice; the
 * date rules answer 0 or 1. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conf.h"
#include "error.h"
#include "names.h"
#include "directory/person.h"

#define MAX_ATTRS 32
#define MAX_VALUES 16
#define MAX_TEXT 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mamori_dir_conf *
fixed_conf(void)
{
	static struct mamori_dir_conf *dc;

	if (dc != NULL)
		return dc;
	dc = mamori_conf_dir_new();
	check(dc != NULL);
	dc->attr_start = strdup("hrStartDate");
	dc->attr_end = strdup("hrEndDate");
	dc->attr_secondment_start = strdup("hrSecondmentStart");
	dc->attr_secondment_end = strdup("hrSecondmentEnd");
	free(dc->retired_values);
	dc->retired_values = strdup("retired, terminated,退職");
	free(dc->contractor_values);
	dc->contractor_values = strdup("contractor , 委託");
	check(dc->attr_start != NULL && dc->attr_end != NULL && dc->attr_secondment_start != NULL &&
	      dc->attr_secondment_end != NULL && dc->retired_values != NULL && dc->contractor_values != NULL);
	return dc;
}

struct input {
	char dn[MAX_TEXT + 1], uuid[MAX_TEXT + 1];
	int has_dn, has_uuid;
	char names[MAX_ATTRS][MAX_TEXT + 1];
	const char *values[MAX_ATTRS][MAX_VALUES];
	size_t lens[MAX_ATTRS][MAX_VALUES];
	struct mamori_dir_attr attrs[MAX_ATTRS];
	size_t nattrs;
};

static void
copy_text(char *dst, const uint8_t *p, size_t n)
{
	if (n > MAX_TEXT)
		n = MAX_TEXT;
	memcpy(dst, p, n);
	dst[n] = '\0';
}

static void
parse(const uint8_t *data, size_t size, struct input *in)
{
	size_t i = 0;

	while (i < size) {
		uint8_t kind = data[i++];
		size_t n = i + 2 <= size ? ((size_t)data[i] << 8 | data[i + 1]) : 0;
		i = i + 2 <= size ? i + 2 : size;
		if (n > size - i)
			n = size - i;
		if (kind == 0) {
			copy_text(in->dn, data + i, n);
			in->has_dn = 1;
		} else if (kind == 1) {
			copy_text(in->uuid, data + i, n);
			in->has_uuid = 1;
		} else if (kind == 2 && in->nattrs < MAX_ATTRS) {
			struct mamori_dir_attr *a = &in->attrs[in->nattrs];
			copy_text(in->names[in->nattrs], data + i, n);
			a->name = in->names[in->nattrs];
			a->values = in->values[in->nattrs];
			a->lens = in->lens[in->nattrs];
			in->nattrs++;
		} else if (kind > 2 && in->nattrs > 0 && in->attrs[in->nattrs - 1].nvalues < MAX_VALUES) {
			struct mamori_dir_attr *a = &in->attrs[in->nattrs - 1];
			in->values[in->nattrs - 1][a->nvalues] = (const char *)data + i;
			in->lens[in->nattrs - 1][a->nvalues] = n;
			a->nvalues++;
		}
		i += n;
	}
}

static int
terminated(const char *field, size_t size)
{
	return memchr(field, '\0', size) != NULL;
}

#define TERMINATED(f) terminated((f), sizeof(f))

static int
text_ok(const char *s, size_t size)
{
	return terminated(s, size) && mamori_text_valid(s, strlen(s));
}

static int
date_ok(const char *d)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int m, day;

	if (d[0] == '\0')
		return 1;
	if (strlen(d) != MAMORI_DIR_DATE_LEN || d[4] != '-' || d[7] != '-')
		return 0;
	for (int i = 0; i < MAMORI_DIR_DATE_LEN; i++) {
		if (i != 4 && i != 7 && (d[i] < '0' || d[i] > '9'))
			return 0;
	}
	m = (d[5] - '0') * 10 + (d[6] - '0');
	day = (d[8] - '0') * 10 + (d[9] - '0');
	return strncmp(d, "0000", 4) != 0 && m >= 1 && m <= 12 && day >= 1 && day <= mdays[m - 1];
}

static void
check_person(const struct mamori_dir_person *p)
{
	check(TERMINATED(p->uuid) && strlen(p->uuid) == MAMORI_DIR_UUID_MAX);
	check(strspn(p->uuid, "0123456789abcdef-") == MAMORI_DIR_UUID_MAX);
	check(TERMINATED(p->dn) && p->dn[0] != '\0' && text_ok(p->dn, sizeof(p->dn)));
	check(TERMINATED(p->employee_number) && p->employee_number[0] != '\0');
	check(text_ok(p->employee_number, sizeof(p->employee_number)));
	check(TERMINATED(p->name) && mamori_user_name_valid(p->name));
	check(text_ok(p->display_name, sizeof(p->display_name)));
	check(text_ok(p->department, sizeof(p->department)));
	check(text_ok(p->manager, sizeof(p->manager)));
	check(text_ok(p->status, sizeof(p->status)));
	check(p->contractor == 0 || p->contractor == 1);
	check(p->retired_status == 0 || p->retired_status == 1);
	check(!(p->retired_status || p->contractor) || p->status[0] != '\0');
	check(TERMINATED(p->start) && date_ok(p->start));
	check(TERMINATED(p->end) && date_ok(p->end));
	check(TERMINATED(p->secondment_start) && date_ok(p->secondment_start));
	check(TERMINATED(p->secondment_end) && date_ok(p->secondment_end));
	for (int t = 0; t < 2; t++) {
		const char *today = t == 0 ? "2027-04-01" : "1999-12-31";
		int r = mamori_dir_person_retired(p, today), s = mamori_dir_person_seconded(p, today);
		check(r == 0 || r == 1);
		check(s == 0 || s == 1);
		if (p->retired_status)
			check(r == 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct mamori_dir_person zero;
	struct input *in = calloc(1, sizeof(*in));
	struct mamori_dir_person p, again;
	struct mamori_dir_entry e;
	char err[256], err2[256];
	int rc;

	check(in != NULL);
	parse(data, size, in);
	e.dn = in->has_dn ? in->dn : NULL;
	e.uuid = in->has_uuid ? in->uuid : NULL;
	e.nattrs = in->nattrs;
	e.attrs = in->attrs;
	rc = mamori_dir_map(fixed_conf(), &e, &p, err, sizeof(err));
	check(rc == MAMORI_OK || rc == MAMORI_ERR_INVALID);
	check(terminated(err, sizeof(err)));
	if (rc == MAMORI_OK)
		check_person(&p);
	else
		check(memcmp(&p, &zero, sizeof(p)) == 0 && err[0] != '\0');
	check(mamori_dir_map(fixed_conf(), &e, &again, err2, sizeof(err2)) == rc);
	check(memcmp(&p, &again, sizeof(p)) == 0);
	free(in);
	return 0;
}
