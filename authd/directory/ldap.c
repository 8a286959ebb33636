/* SPDX-License-Identifier: BSD-2-Clause */
/* The connection to the HR directory with libldap (ldap.h): the URIs of
 * [directory] in order, TLS checked, the bind, paged searches, and the
 * entries handed to the mapping as byte strings. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "conf.h"
#include "error.h"
#include "secure.h"
#include "directory/ldap.h"

#define PASSWORD_MAX 4096
#define PAGE_SIZE 1000
#define SYNC_CONTROL_OID "1.3.6.1.4.1.4203.1.9.1.1"

struct mamori_dir_conn {
	LDAP *ld;
	char *uri;
};

/* Append "; " and a formatted reason to err (the reasons of several URIs). */
static void errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	size_t used = strnlen(err, errlen);
	va_list ap;

	if (errlen == 0 || used + 1 >= errlen)
		return;
	if (used > 0) {
		snprintf(err + used, errlen - used, "; ");
		used = strnlen(err, errlen);
	}
	va_start(ap, fmt);
	vsnprintf(err + used, errlen - used, fmt, ap);
	va_end(ap);
}

/* The server's diagnostic message, printable ASCII only (it is the
 * server's text), or "". */
static void
diagnostic(LDAP *ld, char *buf, size_t len)
{
	char *msg = NULL;
	size_t o = 0;

	buf[0] = '\0';
	if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) != LDAP_OPT_SUCCESS || msg == NULL)
		return;
	o = (size_t)snprintf(buf, len, " (");
	for (size_t i = 0; msg[i] != '\0' && o + 2 < len && i < 200; i++)
		buf[o++] = (msg[i] >= 0x20 && msg[i] < 0x7f) ? msg[i] : '?';
	if (o == 2)
		o = 0;
	else
		buf[o++] = ')';
	buf[o < len ? o : len - 1] = '\0';
	ldap_memfree(msg);
}

/* bind_password_file: a regular file, not a link, not readable or
 * writable by group or others, one trailing newline taken off.  *pw is
 * malloc'd, to be wiped with mamori_freezero(*pw, PASSWORD_MAX + 1). */
static int
read_password(const char *path, char **pw, size_t *pwlen, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd;

	*pw = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		errf(err, errlen, "bind_password_file: %s: %s", path, strerror(errno));
		return MAMORI_ERR_CONFIG;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		errf(err, errlen, "bind_password_file: %s: not a regular file", path);
		close(fd);
		return MAMORI_ERR_CONFIG;
	}
	if ((st.st_mode & 077) != 0 || (st.st_uid != 0 && st.st_uid != geteuid())) {
		errf(err, errlen, "bind_password_file: readable by others (%s: mode %04o, uid %lu)", path,
		     (unsigned)(st.st_mode & 07777), (unsigned long)st.st_uid);
		close(fd);
		return MAMORI_ERR_CONFIG;
	}
	if ((*pw = calloc(1, PASSWORD_MAX + 1)) == NULL) {
		close(fd);
		return MAMORI_ERR_NOMEM;
	}
	n = read(fd, *pw, PASSWORD_MAX + 1);
	close(fd);
	if (n > 0 && (*pw)[n - 1] == '\n')
		n--;
	if (n <= 0 || n > PASSWORD_MAX) {
		/* An empty password would make the bind an anonymous one. */
		errf(err, errlen, "bind_password_file: %s: %s", path,
		     n < 0    ? strerror(errno)
		     : n == 0 ? "empty"
		              : "longer than 4096 bytes");
		mamori_freezero(*pw, PASSWORD_MAX + 1);
		*pw = NULL;
		return MAMORI_ERR_CONFIG;
	}
	(*pw)[n] = '\0';
	*pwlen = (size_t)n;
	return MAMORI_OK;
}

/* The handle's options: LDAPv3, no referrals, the timeouts, and TLS with
 * the certificate checked when the URI or the configuration asks for it. */
static int
set_options(LDAP *ld, const struct mamori_dir_conf *dc, int tls)
{
	int version = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, min = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2, zero = 0;
	struct timeval tv = { .tv_sec = (time_t)dc->timeout, .tv_usec = 0 };

	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS)
		return -1;
	if (!tls)
		return 0;
	if (ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &min) != LDAP_OPT_SUCCESS)
		return -1;
	if (dc->ca_file != NULL && ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, dc->ca_file) != LDAP_OPT_SUCCESS)
		return -1;
	if (dc->ca_dir != NULL && ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTDIR, dc->ca_dir) != LDAP_OPT_SUCCESS)
		return -1;
	/* A context of the handle's own, made from the options above. */
	return ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) == LDAP_OPT_SUCCESS ? 0 : -1;
}

/* SASL EXTERNAL asks nothing: the identity is the peer's credentials. */
static int
sasl_quiet(LDAP *ld, unsigned flags, void *defaults, void *interact)
{
	(void)ld;
	(void)flags;
	(void)defaults;
	(void)interact;
	return LDAP_SUCCESS;
}

/* One URI: initialise, TLS, bind.  MAMORI_OK with *out, or MAMORI_ERR_IO
 * with the reason appended to err. */
static int
connect_one(const struct mamori_dir_conf *dc, const char *uri, const char *pw, size_t pwlen, LDAP **out, char *err,
            size_t errlen)
{
	int ldaps = strncasecmp(uri, "ldaps://", 8) == 0, ldapi = mamori_conf_dir_uri_ldapi(uri);
	int starttls = !ldaps && !ldapi && dc->tls == MAMORI_DIR_TLS_STARTTLS;
	struct berval cred;
	char diag[256];
	LDAP *ld = NULL;
	int rc;

	*out = NULL;
	if ((rc = ldap_initialize(&ld, uri)) != LDAP_SUCCESS) {
		errf(err, errlen, "%s: %s", uri, ldap_err2string(rc));
		return MAMORI_ERR_IO;
	}
	if (set_options(ld, dc, ldaps || starttls) != 0) {
		errf(err, errlen, "%s: cannot set the connection's options (TLS)", uri);
		goto fail;
	}
	/* Connect first, so that an unreachable server says so (for ldaps://
	 * the TLS handshake is part of it). */
	if ((rc = ldap_connect(ld)) != LDAP_SUCCESS) {
		diagnostic(ld, diag, sizeof(diag));
		errf(err, errlen, "%s: %s%s%s", uri, ldap_err2string(rc), ldaps ? " (TLS)" : "", diag);
		goto fail;
	}
	if (starttls && (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
		diagnostic(ld, diag, sizeof(diag));
		errf(err, errlen, "%s: StartTLS: %s%s", uri, ldap_err2string(rc), diag);
		goto fail;
	}
	if (dc->bind == MAMORI_DIR_BIND_EXTERNAL) {
		rc = ldap_sasl_interactive_bind_s(ld, NULL, "EXTERNAL", NULL, NULL, LDAP_SASL_QUIET, sasl_quiet, NULL);
	} else {
		cred.bv_val = (char *)(uintptr_t)pw;
		cred.bv_len = pwlen;
		rc = ldap_sasl_bind_s(ld, dc->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	}
	if (rc != LDAP_SUCCESS) {
		diagnostic(ld, diag, sizeof(diag));
		if (dc->bind == MAMORI_DIR_BIND_EXTERNAL)
			errf(err, errlen, "%s: SASL EXTERNAL bind: %s%s", uri, ldap_err2string(rc), diag);
		else
			errf(err, errlen, "%s: bind as %s: %s%s", uri, dc->bind_dn, ldap_err2string(rc), diag);
		goto fail;
	}
	*out = ld;
	return MAMORI_OK;
fail:
	ldap_unbind_ext_s(ld, NULL, NULL);
	return MAMORI_ERR_IO;
}

int
mamori_dir_connect(const struct mamori_dir_conf *dc, struct mamori_dir_conn **out, char *err, size_t errlen)
{
	struct mamori_dir_conn *c;
	char *pw = NULL;
	size_t pwlen = 0;
	LDAP *ld = NULL;
	int rc = MAMORI_ERR_IO;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if (dc->nuris == 0) {
		errf(err, errlen, "no uri");
		return MAMORI_ERR_CONFIG;
	}
	if (dc->bind == MAMORI_DIR_BIND_SIMPLE) {
		if (dc->bind_dn == NULL || dc->bind_password_file == NULL) {
			errf(err, errlen, "bind = simple needs bind_dn and bind_password_file");
			return MAMORI_ERR_CONFIG;
		}
		if ((rc = read_password(dc->bind_password_file, &pw, &pwlen, err, errlen)) != MAMORI_OK)
			return rc;
	}
	for (unsigned i = 0; i < dc->nuris && ld == NULL; i++) {
		if ((rc = connect_one(dc, dc->uris[i], pw, pwlen, &ld, err, errlen)) == MAMORI_OK) {
			if ((c = calloc(1, sizeof(*c))) == NULL || (c->uri = strdup(dc->uris[i])) == NULL) {
				free(c);
				ldap_unbind_ext_s(ld, NULL, NULL);
				ld = NULL;
				rc = MAMORI_ERR_NOMEM;
				break;
			}
			c->ld = ld;
			*out = c;
			if (errlen > 0)
				err[0] = '\0';
		}
	}
	if (pw != NULL)
		mamori_freezero(pw, PASSWORD_MAX + 1);
	return rc;
}

void
mamori_dir_close(struct mamori_dir_conn **c)
{
	if (c == NULL || *c == NULL)
		return;
	if ((*c)->ld != NULL)
		ldap_unbind_ext_s((*c)->ld, NULL, NULL);
	free((*c)->uri);
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
	char *attrs[] = { "supportedControl", NULL };
	LDAPMessage *res = NULL, *e;
	struct berval **vals;
	int rc, found = 0;

	rc = ldap_search_ext_s(c->ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL, NULL, 1, &res);
	if (rc != LDAP_SUCCESS) {
		ldap_msgfree(res);
		return MAMORI_ERR_IO;
	}
	if ((e = ldap_first_entry(c->ld, res)) != NULL &&
	    (vals = ldap_get_values_len(c->ld, e, "supportedControl")) != NULL) {
		for (size_t i = 0; vals[i] != NULL; i++) {
			if (vals[i]->bv_len == strlen(SYNC_CONTROL_OID) &&
			    !memcmp(vals[i]->bv_val, SYNC_CONTROL_OID, vals[i]->bv_len))
				found = 1;
		}
		ldap_value_free_len(vals);
	}
	ldap_msgfree(res);
	return found;
}

char **
mamori_dir_attrs(const struct mamori_dir_conf *dc)
{
	return dc->attrs;
}

/* An entry's attributes, as libldap gives them, in the mapping's view. */
struct entry_view {
	struct mamori_dir_attr *attrs;
	char **names;
	struct berval ***bvals;
	const char ***values;
	size_t **lens;
	size_t n;
};

static void
view_free(struct entry_view *v)
{
	for (size_t i = 0; i < v->n; i++) {
		ldap_memfree(v->names[i]);
		ldap_value_free_len(v->bvals[i]);
		free(v->values[i]);
		free(v->lens[i]);
	}
	free(v->attrs);
	free(v->names);
	free(v->bvals);
	free(v->values);
	free(v->lens);
	memset(v, 0, sizeof(*v));
}

/* Room for one more attribute (the arrays grow together). */
static int
view_grow(struct entry_view *v, size_t *cap)
{
	size_t c = *cap == 0 ? 16 : *cap * 2;
	void *p;

	if (v->n < *cap)
		return 0;
	if ((p = reallocarray(v->attrs, c, sizeof(*v->attrs))) == NULL)
		return -1;
	v->attrs = p;
	if ((p = reallocarray(v->names, c, sizeof(*v->names))) == NULL)
		return -1;
	v->names = p;
	if ((p = reallocarray(v->bvals, c, sizeof(*v->bvals))) == NULL)
		return -1;
	v->bvals = p;
	if ((p = reallocarray(v->values, c, sizeof(*v->values))) == NULL)
		return -1;
	v->values = p;
	if ((p = reallocarray(v->lens, c, sizeof(*v->lens))) == NULL)
		return -1;
	v->lens = p;
	*cap = c;
	return 0;
}

static int
view_build(LDAP *ld, LDAPMessage *entry, struct entry_view *v)
{
	BerElement *ber = NULL;
	size_t cap = 0;
	int rc = MAMORI_OK;

	for (char *name = ldap_first_attribute(ld, entry, &ber); name != NULL;
	     name = ldap_next_attribute(ld, entry, ber)) {
		struct berval **b;
		size_t k = 0;

		if (view_grow(v, &cap) != 0) {
			ldap_memfree(name);
			rc = MAMORI_ERR_NOMEM;
			break;
		}
		b = ldap_get_values_len(ld, entry, name);
		while (b != NULL && b[k] != NULL)
			k++;
		v->names[v->n] = name;
		v->bvals[v->n] = b;
		v->values[v->n] = calloc(k + 1, sizeof(char *));
		v->lens[v->n] = calloc(k + 1, sizeof(size_t));
		v->n++;
		if (v->values[v->n - 1] == NULL || v->lens[v->n - 1] == NULL) {
			rc = MAMORI_ERR_NOMEM;
			break;
		}
		for (size_t j = 0; j < k; j++) {
			v->values[v->n - 1][j] = b[j]->bv_val;
			v->lens[v->n - 1][j] = b[j]->bv_len;
		}
		v->attrs[v->n - 1] = (struct mamori_dir_attr){ name, k, v->values[v->n - 1], v->lens[v->n - 1] };
	}
	ber_free(ber, 0);
	return rc;
}

/* entryUUID as text: the 16 bytes ldap_sync gives, or the attribute's
 * text; "" when it is neither (the mapping refuses it), NULL when none. */
static const char *
entry_uuid(const struct entry_view *v, const struct berval *override, char buf[MAMORI_DIR_UUID_MAX + 1])
{
	const struct berval *b = override;
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; b == NULL && i < v->n; i++) {
		if (strcasecmp(v->names[i], "entryUUID") == 0 && v->attrs[i].nvalues > 0)
			b = v->attrs[i].nvalues == 1 ? v->bvals[i][0] : NULL;
		if (strcasecmp(v->names[i], "entryUUID") == 0 && b == NULL)
			return buf;
	}
	if (b == NULL)
		return NULL;
	if (b->bv_len == 16) {
		for (size_t i = 0; i < 16; i++) {
			if (i == 4 || i == 6 || i == 8 || i == 10)
				buf[o++] = '-';
			snprintf(buf + o, 3, "%02x", (unsigned char)b->bv_val[i]);
			o += 2;
		}
		buf[o] = '\0';
	} else if (b->bv_len == MAMORI_DIR_UUID_MAX && memchr(b->bv_val, '\0', b->bv_len) == NULL) {
		memcpy(buf, b->bv_val, MAMORI_DIR_UUID_MAX);
		buf[MAMORI_DIR_UUID_MAX] = '\0';
	}
	return buf;
}

int
mamori_dir_entry_from_message(LDAP *ld, LDAPMessage *entry, const struct berval *uuid_override, mamori_dir_entry_cb cb,
                              void *data)
{
	struct entry_view v = { 0 };
	struct mamori_dir_entry e = { 0 };
	char uuid[MAMORI_DIR_UUID_MAX + 1];
	char *dn = ldap_get_dn(ld, entry);
	int rc;

	if (dn == NULL)
		return MAMORI_ERR_INVALID;
	rc = view_build(ld, entry, &v);
	if (rc == MAMORI_OK) {
		e.dn = dn;
		e.uuid = entry_uuid(&v, uuid_override, uuid);
		e.nattrs = v.n;
		e.attrs = v.attrs;
		rc = cb(&e, data);
	}
	view_free(&v);
	ldap_memfree(dn);
	return rc;
}

/* A GeneralizedTime's characters, 10 to 32 of them: what may go into a
 * filter as since, and what is kept as newest. */
static int
timestamp_valid(const char *s, size_t n)
{
	if (n < 10 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (strchr("0123456789.,Z+-", s[i]) == NULL || s[i] == '\0')
			return 0;
	}
	return 1;
}

/* Keep in newest the highest modifyTimestamp (the server writes them all
 * in one form, so the string order is the time order). */
static void
note_newest(LDAP *ld, LDAPMessage *entry, char *newest, size_t len)
{
	struct berval **b = ldap_get_values_len(ld, entry, "modifyTimestamp");

	if (b != NULL && b[0] != NULL && b[0]->bv_len < len && timestamp_valid(b[0]->bv_val, b[0]->bv_len)) {
		char ts[64];
		memcpy(ts, b[0]->bv_val, b[0]->bv_len);
		ts[b[0]->bv_len] = '\0';
		if (strcmp(ts, newest) > 0)
			snprintf(newest, len, "%s", ts);
	}
	ldap_value_free_len(b);
}

struct search {
	struct mamori_dir_conn *c;
	const struct mamori_dir_conf *dc;
	char *filter;
	char *newest;
	size_t newest_len;
	mamori_dir_entry_cb cb;
	void *data;
	char *err;
	size_t errlen;
};

/* One page: the search with the paged results control (critical: a server
 * without it refuses rather than stopping at its size limit), each entry
 * handed on, the cookie of the next page into *cookie (empty: the last). */
static int
search_page(struct search *s, struct berval *cookie)
{
	static const int scopes[] = { LDAP_SCOPE_SUBTREE, LDAP_SCOPE_ONELEVEL, LDAP_SCOPE_BASE };
	LDAPControl *page = NULL, *ctrls[2] = { NULL, NULL }, **rctrls = NULL, *resp;
	LDAPMessage *res = NULL;
	char diag[256];
	ber_int_t count;
	int rc, lrc, err = 0;
	LDAP *ld = s->c->ld;

	if ((rc = ldap_create_page_control(ld, PAGE_SIZE, cookie, 1, &page)) != LDAP_SUCCESS) {
		errf(s->err, s->errlen, "%s: paged results control: %s", s->c->uri, ldap_err2string(rc));
		return MAMORI_ERR_IO;
	}
	ctrls[0] = page;
	rc = ldap_search_ext_s(ld, s->dc->base, scopes[s->dc->scope], s->filter, mamori_dir_attrs(s->dc), 0, ctrls,
	                       NULL, NULL, LDAP_NO_LIMIT, &res);
	ldap_control_free(page);
	if (rc == LDAP_SUCCESS || rc == LDAP_PARTIAL_RESULTS || res != NULL) {
		lrc = ldap_parse_result(ld, res, &err, NULL, NULL, NULL, &rctrls, 0);
		rc = lrc != LDAP_SUCCESS ? lrc : err;
	}
	if (rc != LDAP_SUCCESS) {
		diagnostic(ld, diag, sizeof(diag));
		errf(s->err, s->errlen, "%s: search of %s: %s%s", s->c->uri, s->dc->base, ldap_err2string(rc), diag);
		ldap_controls_free(rctrls);
		ldap_msgfree(res);
		return MAMORI_ERR_IO;
	}
	ber_memfree(cookie->bv_val);
	cookie->bv_val = NULL;
	cookie->bv_len = 0;
	resp = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls, NULL);
	if (resp != NULL && ldap_parse_pageresponse_control(ld, resp, &count, cookie) != LDAP_SUCCESS) {
		errf(s->err, s->errlen, "%s: bad paged results response", s->c->uri);
		rc = MAMORI_ERR_IO;
	}
	ldap_controls_free(rctrls);
	for (LDAPMessage *e = ldap_first_entry(ld, res); rc == LDAP_SUCCESS && e != NULL; e = ldap_next_entry(ld, e)) {
		if (s->newest != NULL)
			note_newest(ld, e, s->newest, s->newest_len);
		rc = mamori_dir_entry_from_message(ld, e, NULL, s->cb, s->data);
	}
	ldap_msgfree(res);
	return rc;
}

int
mamori_dir_search(struct mamori_dir_conn *c, const struct mamori_dir_conf *dc, const char *since, char *newest,
                  size_t newest_len, mamori_dir_entry_cb cb, void *data, char *err, size_t errlen)
{
	struct search s = { c, dc, NULL, newest, newest_len, cb, data, err, errlen };
	struct berval cookie = { 0, NULL };
	size_t flen;
	int rc;

	if (errlen > 0)
		err[0] = '\0';
	if (newest != NULL && newest_len > 0)
		newest[0] = '\0';
	if (since != NULL && !timestamp_valid(since, strlen(since))) {
		errf(err, errlen, "bad modifyTimestamp \"%.32s\"", since);
		return MAMORI_ERR_INVALID;
	}
	if (dc->attrs == NULL || dc->base == NULL || dc->filter == NULL) {
		errf(err, errlen, "[directory] not loaded");
		return MAMORI_ERR_CONFIG;
	}
	flen = strlen(dc->filter) + (since != NULL ? strlen(since) : 0) + 32;
	if ((s.filter = malloc(flen)) == NULL)
		return MAMORI_ERR_NOMEM;
	if (since != NULL)
		snprintf(s.filter, flen, "(&%s(modifyTimestamp>=%s))", dc->filter, since);
	else
		snprintf(s.filter, flen, "%s", dc->filter);
	do {
		rc = search_page(&s, &cookie);
	} while (rc == MAMORI_OK && cookie.bv_len > 0);
	ber_memfree(cookie.bv_val);
	free(s.filter);
	return rc;
}
