/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "directory/person.h"

int
mamori_dir_map(const struct mamori_dir_conf *dc, const struct mamori_dir_entry *e, struct mamori_dir_person *out,
               char *err, size_t errlen)
{
	(void)dc;
	(void)e;
	memset(out, 0, sizeof(*out));
	snprintf(err, errlen, "not implemented");
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
