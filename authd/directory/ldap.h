/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_DIR_LDAP_H
#define MAMORI_DIR_LDAP_H

/* The connection to the HR directory, with libldap: the URIs of
 * [directory] tried in order, TLS as configured (StartTLS or ldaps://
 * with the certificate checked against ca_file/ca_dir, TLS 1.2 at least;
 * none only for ldapi:// and the loopback, which conf.c has checked), the
 * bind (simple with the password read from bind_password_file, which must
 * be a regular file not readable or writable by group and others, wiped
 * after the bind; or SASL EXTERNAL over ldapi://), and [directory]
 * timeout on the network and on every operation.  Nothing here changes the
 * store. */

#include <stddef.h>

#include <ldap.h>

#include "conf.h"
#include "directory/person.h"

struct mamori_dir_conn;

/* Connect and bind.  MAMORI_OK; MAMORI_ERR_IO with err set ("ldap://host:
 * Can't contact LDAP server", "StartTLS: ...", "bind as cn=...: Invalid
 * credentials") when no URI could be used; MAMORI_ERR_CONFIG when the
 * password file is unsafe or unreadable. */
int mamori_dir_connect(const struct mamori_dir_conf *dc, struct mamori_dir_conn **out, char *err, size_t errlen);
void mamori_dir_close(struct mamori_dir_conn **c);
/* The libldap handle (for ldap_sync_*), and the URI in use. */
LDAP *mamori_dir_ldap(struct mamori_dir_conn *c);
const char *mamori_dir_uri(const struct mamori_dir_conn *c);
/* Whether the root DSE lists the RFC 4533 sync control
 * (1.3.6.1.4.1.4203.1.9.1.1) in supportedControl: 1, 0, or an error. */
int mamori_dir_has_syncprov(struct mamori_dir_conn *c);

/* The attributes to ask for: the mapped ones, entryUUID and
 * modifyTimestamp; a NULL-terminated array that lives as long as dc. */
char **mamori_dir_attrs(const struct mamori_dir_conf *dc);

/* Turn a libldap entry of msg into the mapping's view (person.h) and call
 * cb; the strings live until cb returns.  uuid_override: the entryUUID
 * that ldap_sync gives beside the entry (NULL: read the attribute). */
typedef int (*mamori_dir_entry_cb)(const struct mamori_dir_entry *e, void *data);
int mamori_dir_entry_from_message(LDAP *ld, LDAPMessage *entry, const struct berval *uuid_override,
                                  mamori_dir_entry_cb cb, void *data);

/* Search base/filter/scope of dc, with the simple paged results control
 * (pages of 1000), calling cb for every entry.  since: only entries with
 * modifyTimestamp >= since (GeneralizedTime, "20261205093000Z"), NULL for
 * all; *newest (when not NULL, at least 16 bytes) gets the highest
 * modifyTimestamp seen.  cb returning non-zero ends the search with that
 * value.  MAMORI_ERR_IO with err set when the search fails midway (the
 * caller then changes nothing of a full refresh). */
int mamori_dir_search(struct mamori_dir_conn *c, const struct mamori_dir_conf *dc, const char *since, char *newest,
                      size_t newest_len, mamori_dir_entry_cb cb, void *data, char *err, size_t errlen);

#endif
