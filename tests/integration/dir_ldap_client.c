/* SPDX-License-Identifier: BSD-2-Clause */
/* The daemon's LDAP code (authd/directory/ldap.c and person.c) driven from
 * the command line, for tests/integration/test-dir-ldap.sh:
 *
 *   dir_ldap_client CONF search [SINCE]   each entry mapped, one JSON line
 *                                         each; "count N newest TS" on stderr
 *   dir_ldap_client CONF syncprov         1 or 0
 *   dir_ldap_client CONF connect          "connected URI"
 *
 * CONF is a mamori.conf with a [directory] section.  Exit 0; 2 when the
 * connection or the search fails (the reason on stderr); 3 for a
 * configuration error (MAMORI_ERR_CONFIG). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "conf.h"
#include "error.h"
#include "directory/ldap.h"
#include "directory/person.h"

struct counts {
	const struct mamori_dir_conf *dc;
	unsigned long mapped, refused;
};

static int
print_person(const struct mamori_dir_entry *e, void *data)
{
	struct counts *n = data;
	struct mamori_dir_person p;
	char err[512];
	json_t *o;

	if (mamori_dir_map(n->dc, e, &p, err, sizeof(err)) != MAMORI_OK) {
		o = json_pack("{s:s, s:s}", "refused", e->dn, "reason", err);
		n->refused++;
	} else {
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:s, s:s, s:s, s:s}", "uuid", p.uuid,
		              "dn", p.dn, "employee_number", p.employee_number, "name", p.name, "display_name",
		              p.display_name, "department", p.department, "manager", p.manager, "status", p.status,
		              "contractor", p.contractor, "retired_status", p.retired_status, "start", p.start, "end",
		              p.end, "secondment_start", p.secondment_start, "secondment_end", p.secondment_end);
		n->mapped++;
	}
	if (o == NULL)
		return MAMORI_ERR_NOMEM;
	if (json_dumpf(o, stdout, JSON_COMPACT | JSON_SORT_KEYS) != 0) {
		json_decref(o);
		return MAMORI_ERR_IO;
	}
	putchar('\n');
	json_decref(o);
	return 0;
}

int
main(int argc, char **argv)
{
	struct mamori_conf *conf;
	struct mamori_dir_conn *c = NULL;
	struct counts n = { 0 };
	char err[1024], newest[64];
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: %s CONF search [SINCE] | syncprov | connect\n", argv[0]);
		return 64;
	}
	if ((conf = mamori_conf_load(argv[1], err, sizeof(err))) == NULL || conf->directory == NULL) {
		fprintf(stderr, "%s\n", conf == NULL ? err : "no [directory]");
		mamori_conf_free(&conf);
		return 3;
	}
	rc = mamori_dir_connect(conf->directory, &c, err, sizeof(err));
	if (rc != MAMORI_OK) {
		fprintf(stderr, "%s\n", err);
		mamori_conf_free(&conf);
		return rc == MAMORI_ERR_CONFIG ? 3 : 2;
	}
	if (!strcmp(argv[2], "connect")) {
		printf("connected %s\n", mamori_dir_uri(c));
	} else if (!strcmp(argv[2], "syncprov")) {
		rc = mamori_dir_has_syncprov(c);
		if (rc >= 0)
			printf("%d\n", rc);
	} else {
		n.dc = conf->directory;
		rc = mamori_dir_search(c, conf->directory, argc > 3 ? argv[3] : NULL, newest, sizeof(newest),
		                       print_person, &n, err, sizeof(err));
		if (rc != MAMORI_OK)
			fprintf(stderr, "%s\n", err);
		else
			fprintf(stderr, "count %lu refused %lu newest %s\n", n.mapped, n.refused, newest);
	}
	mamori_dir_close(&c);
	mamori_conf_free(&conf);
	return rc < 0 ? 2 : 0;
}
