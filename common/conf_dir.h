/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CONF_DIR_H
#define MAMORI_CONF_DIR_H

/* [directory] of mamori.conf: the defaults and the checks of conf.c,
 * with libldap's own URL and DN parsers.  Each check returns 0 or -1
 * with the reason in reason. */

#include <stddef.h>

#include "conf.h"

#define MAMORI_DIR_URIS_MAX 8
#define MAMORI_DIR_ATTR_NAME_MAX 128
#define MAMORI_DIR_FILTER_MAX 1024

/* A struct mamori_dir_conf with the documented defaults (no uri, no base). */
struct mamori_dir_conf *mamori_conf_dir_new(void);
void mamori_conf_dir_free(struct mamori_dir_conf **dc);

/* "uri": one to MAMORI_DIR_URIS_MAX ldap://, ldaps:// or ldapi:// URLs,
 * separated by spaces or commas, without a DN, attributes, scope, filter
 * or extensions (those are keys of their own); replaces dc->uris. */
int mamori_conf_dir_set_uris(struct mamori_dir_conf *dc, const char *value, char *reason, size_t len);
/* An attribute description: a name ([A-Za-z][A-Za-z0-9-]*) or a numeric OID. */
int mamori_conf_dir_attr_valid(const char *name);
/* A search filter: one parenthesised filter, the parentheses balanced
 * (literal ones are escaped as \28 and \29 in LDAP), printable. */
int mamori_conf_dir_filter_valid(const char *filter);
/* A distinguished name libldap parses (RFC 4514). */
int mamori_conf_dir_dn_valid(const char *dn);
/* A comma-separated list of non-empty values (retired_values, ...). */
int mamori_conf_dir_values_valid(const char *list);
/* What a URI is: ldapi://; on the loopback (ldap:// or ldaps:// to
 * 127.0.0.0/8, ::1 or localhost).  0 for anything unparsable. */
int mamori_conf_dir_uri_ldapi(const char *uri);
int mamori_conf_dir_uri_loopback(const char *uri);

/* The lines of the keys the cross-checks blame (0: not given). */
struct mamori_conf_dir_lines {
	int uri, bind, bind_dn, bind_password_file, tls;
};
/* Once the section is read: base and uri given, the bind complete, TLS
 * required off the loopback.  *line: the line to blame (dc->line when the
 * problem is a missing key). */
int mamori_conf_dir_check(const struct mamori_dir_conf *dc, const struct mamori_conf_dir_lines *lines, char *reason,
                          size_t len, int *line);

/* Fill dc->attrs from the attr_* keys (each once, without regard to
 * case), entryUUID and modifyTimestamp: 0, or -1 out of memory.  Done by
 * mamori_conf_load; a hand-made dc (tests) calls it itself. */
int mamori_conf_dir_attrs_build(struct mamori_dir_conf *dc);

#endif
