/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_DIR_PERSON_H
#define MAMORI_DIR_PERSON_H

/* One person of the HR directory, as mamori understands it, and the
 * mapping from an LDAP entry to it ([directory] attr_*).  The mapping is a
 * pure function of the entry, the configuration and today's date, so that
 * it can be fuzzed (tests/fuzz/fuzz_directory.c) without a server. */

#include <stddef.h>

#include "conf.h"
#include "names.h"

#define MAMORI_DIR_UUID_MAX 36 /* entryUUID, 8-4-4-4-12 lower-case hex */
#define MAMORI_DIR_DN_MAX 1024
#define MAMORI_DIR_EMPLOYEE_MAX 64
#define MAMORI_DIR_TEXT_MAX 256 /* display name, department, manager */
#define MAMORI_DIR_DATE_LEN 10 /* YYYY-MM-DD */

/* One attribute of an entry as the server sent it: values are byte
 * strings, not NUL-terminated, and may hold anything. */
struct mamori_dir_attr {
	const char *name;
	size_t nvalues;
	const char *const *values;
	const size_t *lens;
};

struct mamori_dir_entry {
	const char *dn;
	const char *uuid; /* entryUUID as text, or NULL when the server gave none */
	size_t nattrs;
	const struct mamori_dir_attr *attrs;
};

struct mamori_dir_person {
	char uuid[MAMORI_DIR_UUID_MAX + 1];
	char dn[MAMORI_DIR_DN_MAX + 1];
	char employee_number[MAMORI_DIR_EMPLOYEE_MAX + 1];
	char name[MAMORI_USER_NAME_MAX + 1]; /* the account name: attr_uid, normalised (names.h) */
	char display_name[MAMORI_DIR_TEXT_MAX + 1]; /* UTF-8, control characters refused */
	char department[MAMORI_DIR_TEXT_MAX + 1];
	char manager[MAMORI_DIR_TEXT_MAX + 1]; /* as the directory holds it (a DN); "" when none */
	char status[MAMORI_DIR_TEXT_MAX + 1]; /* attr_status's value, "" when none */
	int contractor; /* status is one of contractor_values */
	int retired_status; /* status is one of retired_values */
	/* YYYY-MM-DD, "" when the attribute is unset or not mapped.  Values are
	 * accepted as GeneralizedTime (YYYYMMDD[HHMM[SS]][.f][Z|±HHMM], the
	 * date taken in Japan time) or YYYY-MM-DD; anything else refuses the
	 * entry. */
	char start[MAMORI_DIR_DATE_LEN + 1];
	char end[MAMORI_DIR_DATE_LEN + 1];
	char secondment_start[MAMORI_DIR_DATE_LEN + 1];
	char secondment_end[MAMORI_DIR_DATE_LEN + 1];
};

/* Map entry e to *out.  MAMORI_OK, or MAMORI_ERR_INVALID with the reason
 * in err ("no employeeNumber", "uid \"..\" is not a valid account name",
 * "two values of uid", "displayName is not UTF-8", "bad date in
 * hrEndDate", "no entryUUID"): such an entry is refused, never half
 * taken.  Every single-valued attribute must have at most one value;
 * values longer than the field are refused, not cut. */
int mamori_dir_map(const struct mamori_dir_conf *dc, const struct mamori_dir_entry *e, struct mamori_dir_person *out,
                   char *err, size_t errlen);

/* What the person's dates say on day `today` (YYYY-MM-DD), by string
 * comparison of ISO dates:
 * - retired: retired_status, or end set and end < today;
 * - not yet hired: start set and today < start (treated like a hire, the
 *   account pending);
 * - seconded: secondment_start set, secondment_start <= today, and
 *   (secondment_end empty or today <= secondment_end). */
int mamori_dir_person_retired(const struct mamori_dir_person *p, const char *today);
int mamori_dir_person_seconded(const struct mamori_dir_person *p, const char *today);

#endif
