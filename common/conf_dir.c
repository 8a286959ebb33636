/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldap.h>

#include "conf.h"

struct mamori_dir_conf *
mamori_conf_dir_new(void)
{
	struct mamori_dir_conf *dc = calloc(1, sizeof(*dc));

	if (dc == NULL)
		return NULL;
	dc->bind = MAMORI_DIR_BIND_SIMPLE;
	dc->tls = MAMORI_DIR_TLS_STARTTLS;
	dc->scope = MAMORI_DIR_SCOPE_SUB;
	dc->mode = MAMORI_DIR_MODE_AUTO;
	dc->poll_interval = 60;
	dc->timeout = 10;
	dc->backoff_max = 300;
	dc->max_disable_percent = 5;
	dc->filter = strdup("(objectClass=inetOrgPerson)");
	dc->attr_employee_number = strdup("employeeNumber");
	dc->attr_uid = strdup("uid");
	dc->attr_display_name = strdup("displayName");
	dc->attr_department = strdup("departmentNumber");
	dc->attr_status = strdup("employeeType");
	dc->attr_manager = strdup("manager");
	dc->retired_values = strdup("retired,terminated");
	dc->contractor_values = strdup("contractor");
	if (dc->filter == NULL || dc->attr_employee_number == NULL || dc->attr_uid == NULL ||
	    dc->attr_display_name == NULL || dc->attr_department == NULL || dc->attr_status == NULL ||
	    dc->attr_manager == NULL || dc->retired_values == NULL || dc->contractor_values == NULL)
		mamori_conf_dir_free(&dc);
	return dc;
}

static void
free_uris(struct mamori_dir_conf *dc)
{
	for (unsigned i = 0; i < dc->nuris; i++) {
		free(dc->uris[i]);
		dc->uris[i] = NULL;
	}
	dc->nuris = 0;
}

void
mamori_conf_dir_free(struct mamori_dir_conf **dcp)
{
	struct mamori_dir_conf *dc;

	if (dcp == NULL || *dcp == NULL)
		return;
	dc = *dcp;
	free_uris(dc);
	free(dc->bind_dn);
	free(dc->bind_password_file);
	free(dc->ca_file);
	free(dc->ca_dir);
	free(dc->base);
	free(dc->filter);
	free(dc->attr_employee_number);
	free(dc->attr_uid);
	free(dc->attr_display_name);
	free(dc->attr_department);
	free(dc->attr_status);
	free(dc->attr_start);
	free(dc->attr_end);
	free(dc->attr_secondment_start);
	free(dc->attr_secondment_end);
	free(dc->attr_manager);
	free(dc->retired_values);
	free(dc->contractor_values);
	for (size_t i = 0; dc->attrs != NULL && dc->attrs[i] != NULL; i++)
		free(dc->attrs[i]);
	free(dc->attrs);
	free(dc);
	*dcp = NULL;
}

/* One URI: libldap parses it; only the scheme, the host and the port. */
static int
uri_check(const char *uri, char *reason, size_t len)
{
	LDAPURLDesc *u = NULL;
	int ok = 0;

	if (strchr(uri, '?') != NULL || ldap_url_parse(uri, &u) != LDAP_URL_SUCCESS) {
		snprintf(reason, len, "uri \"%s\" is not an LDAP URL (ldap://host[:port], ldaps://... or ldapi://...)",
		         uri);
		return -1;
	}
	if (strcasecmp(u->lud_scheme, "ldap") != 0 && strcasecmp(u->lud_scheme, "ldaps") != 0 &&
	    strcasecmp(u->lud_scheme, "ldapi") != 0)
		snprintf(reason, len, "uri \"%s\": the scheme must be ldap, ldaps or ldapi", uri);
	else if (u->lud_dn != NULL && u->lud_dn[0] != '\0')
		snprintf(reason, len, "uri \"%s\" has a DN: set base instead", uri);
	else if (strcasecmp(u->lud_scheme, "ldapi") != 0 &&
	         (u->lud_host == NULL || u->lud_host[0] == '\0' || strchr(u->lud_host, ' ') != NULL))
		snprintf(reason, len, "uri \"%s\" names no host", uri);
	else if (strcasecmp(u->lud_scheme, "ldapi") != 0 && (u->lud_port <= 0 || u->lud_port > 65535))
		snprintf(reason, len, "uri \"%s\": the port must be 1 to 65535", uri);
	else
		ok = 1;
	ldap_free_urldesc(u);
	return ok ? 0 : -1;
}

int
mamori_conf_dir_set_uris(struct mamori_dir_conf *dc, const char *value, char *reason, size_t len)
{
	const char *p = value;

	free_uris(dc);
	for (;;) {
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		n = strcspn(p, " \t,");
		if (dc->nuris == MAMORI_DIR_URIS_MAX) {
			snprintf(reason, len, "uri: at most %d URIs", MAMORI_DIR_URIS_MAX);
			goto fail;
		}
		if ((dc->uris[dc->nuris] = strndup(p, n)) == NULL) {
			snprintf(reason, len, "out of memory");
			goto fail;
		}
		dc->nuris++;
		if (uri_check(dc->uris[dc->nuris - 1], reason, len) != 0)
			goto fail;
		p += n;
	}
	if (dc->nuris == 0) {
		snprintf(reason, len, "uri must name at least one URI");
		return -1;
	}
	return 0;
fail:
	free_uris(dc);
	return -1;
}

int
mamori_conf_dir_attr_valid(const char *name)
{
	size_t n = strlen(name);
	int dot = 1; /* the previous character was a dot, or there is none */

	if (n == 0 || n > MAMORI_DIR_ATTR_NAME_MAX)
		return 0;
	if ((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z'))
		return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") == n;
	/* A numeric OID: digits separated by single dots, at least two arcs. */
	for (size_t i = 0; i < n; i++) {
		if (name[i] == '.') {
			if (dot)
				return 0;
			dot = 1;
		} else if (name[i] >= '0' && name[i] <= '9') {
			/* No leading zero in an arc, except "0" itself. */
			if (name[i] == '0' && dot && i + 1 < n && name[i + 1] != '.')
				return 0;
			dot = 0;
		} else {
			return 0;
		}
	}
	return !dot && strchr(name, '.') != NULL;
}

int
mamori_conf_dir_filter_valid(const char *filter)
{
	size_t n = strlen(filter);
	int depth = 0;

	if (n < 3 || n > MAMORI_DIR_FILTER_MAX || filter[0] != '(' || filter[n - 1] != ')')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)filter[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c == '(')
			depth++;
		else if (c == ')' && --depth < 0)
			return 0;
		/* The outer parentheses close only at the end. */
		if (depth == 0 && i + 1 < n)
			return 0;
		if (c == '(' && filter[i + 1] == ')')
			return 0;
	}
	return depth == 0;
}

int
mamori_conf_dir_dn_valid(const char *dn)
{
	LDAPDN parsed = NULL;

	if (ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
		return 0;
	ldap_dnfree(parsed);
	return 1;
}

int
mamori_conf_dir_values_valid(const char *list)
{
	for (const char *p = list;;) {
		size_t n = strcspn(p, ",");
		size_t b = 0;

		while (b < n && (p[b] == ' ' || p[b] == '\t'))
			b++;
		if (b == n)
			return 0;
		for (size_t i = 0; i < n; i++) {
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return 0;
		}
		if (p[n] == '\0')
			return 1;
		p += n + 1;
	}
}

int
mamori_conf_dir_uri_ldapi(const char *uri)
{
	return strncasecmp(uri, "ldapi://", 8) == 0;
}

int
mamori_conf_dir_uri_loopback(const char *uri)
{
	LDAPURLDesc *u = NULL;
	unsigned char a[16];
	int lo = 0;

	if (strncasecmp(uri, "ldapi://", 8) == 0 || ldap_url_parse(uri, &u) != LDAP_URL_SUCCESS)
		return 0;
	if (u->lud_host != NULL) {
		if (strcasecmp(u->lud_host, "localhost") == 0)
			lo = 1;
		else if (inet_pton(AF_INET, u->lud_host, a) == 1)
			lo = a[0] == 127;
		else if (inet_pton(AF_INET6, u->lud_host, a) == 1)
			lo = !memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
	}
	ldap_free_urldesc(u);
	return lo;
}

/* The bind is complete and fits the URIs. */
static int
check_bind(const struct mamori_dir_conf *dc, const struct mamori_conf_dir_lines *l, char *reason, size_t len, int *line)
{
	if (dc->bind == MAMORI_DIR_BIND_EXTERNAL) {
		for (unsigned i = 0; i < dc->nuris; i++) {
			if (!mamori_conf_dir_uri_ldapi(dc->uris[i])) {
				snprintf(reason, len,
				         "[directory] bind = external needs every uri to be ldapi://, not \"%s\"",
				         dc->uris[i]);
				*line = l->bind;
				return -1;
			}
		}
		if (dc->bind_dn != NULL || dc->bind_password_file != NULL) {
			snprintf(reason, len, "[directory] bind_dn and bind_password_file are for bind = simple");
			*line = dc->bind_dn != NULL ? l->bind_dn : l->bind_password_file;
			return -1;
		}
		return 0;
	}
	if (dc->bind_dn == NULL || dc->bind_password_file == NULL) {
		snprintf(reason, len, "[directory] bind = simple needs bind_dn and bind_password_file");
		*line = l->bind != 0 ? l->bind : dc->line;
		return -1;
	}
	return 0;
}

int
mamori_conf_dir_check(const struct mamori_dir_conf *dc, const struct mamori_conf_dir_lines *l, char *reason, size_t len,
                      int *line)
{
	*line = dc->line;
	if (dc->nuris == 0) {
		snprintf(reason, len, "[directory] needs uri");
		return -1;
	}
	if (dc->base == NULL) {
		snprintf(reason, len, "[directory] needs base");
		return -1;
	}
	if (check_bind(dc, l, reason, len, line) != 0)
		return -1;
	if (dc->tls == MAMORI_DIR_TLS_NONE) {
		/* ldaps:// is TLS from the start whatever tls says. */
		for (unsigned i = 0; i < dc->nuris; i++) {
			const char *u = dc->uris[i];
			if (!mamori_conf_dir_uri_ldapi(u) && !mamori_conf_dir_uri_loopback(u) &&
			    strncasecmp(u, "ldaps://", 8) != 0) {
				snprintf(reason, len,
				         "[directory] tls = none only for ldapi:// and the loopback: \"%s\" needs "
				         "starttls "
				         "or ldaps://",
				         u);
				*line = l->tls;
				return -1;
			}
		}
	}
	return 0;
}

int
mamori_conf_dir_attrs_build(struct mamori_dir_conf *dc)
{
	const char *names[] = {
		dc->attr_employee_number, dc->attr_uid,     dc->attr_display_name, dc->attr_department,
		dc->attr_status,          dc->attr_start,   dc->attr_end,          dc->attr_secondment_start,
		dc->attr_secondment_end,  dc->attr_manager, "entryUUID",           "modifyTimestamp",
	};
	size_t count = sizeof(names) / sizeof(names[0]), n = 0;
	char **attrs = calloc(count + 1, sizeof(*attrs));

	if (attrs == NULL)
		return -1;
	for (size_t i = 0; i < count; i++) {
		int dup = names[i] == NULL;
		for (size_t j = 0; j < n && !dup; j++)
			dup = strcasecmp(attrs[j], names[i]) == 0;
		if (dup)
			continue;
		if ((attrs[n++] = strdup(names[i])) == NULL) {
			for (size_t j = 0; j < n; j++)
				free(attrs[j]);
			free(attrs);
			return -1;
		}
	}
	for (size_t i = 0; dc->attrs != NULL && dc->attrs[i] != NULL; i++)
		free(dc->attrs[i]);
	free(dc->attrs);
	dc->attrs = attrs;
	return 0;
}
