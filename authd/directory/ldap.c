/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "error.h"
#include "directory/ldap.h"

struct mamori_dir_conn {
	LDAP *ld;
	const char *uri;
};

int
mamori_dir_connect(const struct mamori_dir_conf *dc, struct mamori_dir_conn **out, char *err, size_t errlen)
{
	(void)dc;
	*out = NULL;
	snprintf(err, errlen, "not implemented");
	return MAMORI_ERR_IO;
}

void
mamori_dir_close(struct mamori_dir_conn **c)
{
	if (c == NULL || *c == NULL)
		return;
	if ((*c)->ld != NULL)
		ldap_unbind_ext_s((*c)->ld, NULL, NULL);
	free(*c);
	*c = NULL;
}

LDAP *
mamori_dir_ldap(struct mamori_dir_conn *c)
{
	return c->ld;
}

const char *
mamori_dir_uri(const struct mamori_dir_conn *c)
{
	return c->uri;
}

int
mamori_dir_has_syncprov(struct mamori_dir_conn *c)
{
	(void)c;
	return MAMORI_ERR_IO;
}

char **
mamori_dir_attrs(const struct mamori_dir_conf *dc)
{
	(void)dc;
	return NULL;
}

int
mamori_dir_entry_from_message(LDAP *ld, LDAPMessage *entry, const struct berval *uuid_override,
                              mamori_dir_entry_cb cb, void *data)
{
	(void)ld;
	(void)entry;
	(void)uuid_override;
	(void)cb;
	(void)data;
	return MAMORI_ERR_INVALID;
}

int
mamori_dir_search(struct mamori_dir_conn *c, const struct mamori_dir_conf *dc, const char *since, char *newest,
                  size_t newest_len, mamori_dir_entry_cb cb, void *data, char *err, size_t errlen)
{
	(void)c;
	(void)dc;
	(void)since;
	(void)newest;
	(void)newest_len;
	(void)cb;
	(void)data;
	snprintf(err, errlen, "not implemented");
	return MAMORI_ERR_IO;
}
