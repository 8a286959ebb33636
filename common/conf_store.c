/* SPDX-License-Identifier: BSD-2-Clause */
/* [store] conninfo and listen_conninfo (backend = postgresql): what conf.c checks of a libpq
 * connection string when it loads mamori.conf, with libpq's own parser.
 * Nothing here prints the conninfo or a part of it. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "conf.h"

/* One entry of a host or hostaddr list: a Unix socket directory, the
 * loopback, or empty (libpq's default: the Unix socket). */
static int
host_local(const char *h, size_t n)
{
	char buf[256];
	unsigned char a[16];

	if (n == 0 || h[0] == '/' || h[0] == '@')
		return 1;
	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, h, n);
	buf[n] = '\0';
	if (strcasecmp(buf, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, buf, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, buf, a) == 1)
		return !memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16);
	return 0;
}

/* Every host of a comma-separated list (host=a,b) is local. */
static int
hosts_local(const char *list)
{
	while (list != NULL) {
		const char *comma = strchr(list, ',');
		size_t n = comma != NULL ? (size_t)(comma - list) : strlen(list);
		if (!host_local(list, n))
			return 0;
		list = comma != NULL ? comma + 1 : NULL;
	}
	return 1;
}

/* The n-th entry of a comma-separated list (its only entry when it has
 * one, for all n: libpq's rule for port=), "" when the list is NULL. */
static size_t
list_entry(const char *list, unsigned n, const char **start)
{
	const char *comma;

	*start = "";
	if (list == NULL)
		return 0;
	if (strchr(list, ',') == NULL)
		n = 0;
	for (; n > 0 && list != NULL; n--) {
		comma = strchr(list, ',');
		list = comma != NULL ? comma + 1 : NULL;
	}
	if (list == NULL)
		return 0;
	*start = list;
	comma = strchr(list, ',');
	return comma != NULL ? (size_t)(comma - list) : strlen(list);
}

static unsigned
list_count(const char *list)
{
	unsigned n = 1;

	for (; list != NULL && *list != '\0'; list++)
		n += *list == ',';
	return n;
}

/* Whether the conninfo may reach more than one server: several entries
 * in host, hostaddr or port, unless each is the loopback on one port
 * (host=localhost,::1 is one server, as host=localhost is). */
static int
several_servers(const char *host, const char *hostaddr, const char *port)
{
	const char *hosts = hostaddr != NULL ? hostaddr : host, *h0, *hi, *p0, *pi;
	unsigned n = list_count(hosts), np = list_count(port);
	size_t lh0, lp0;

	if (np > n)
		n = np;
	lh0 = list_entry(hosts, 0, &h0);
	lp0 = list_entry(port, 0, &p0);
	for (unsigned i = 1; i < n; i++) {
		size_t lh = list_entry(hosts, i, &hi), lp = list_entry(port, i, &pi);
		int same_host = (lh == lh0 && !strncmp(hi, h0, lh)) ||
		                (lh > 0 && lh0 > 0 && hi[0] != '/' && h0[0] != '/' && hi[0] != '@' && h0[0] != '@' &&
		                 host_local(hi, lh) && host_local(h0, lh0));
		if (!same_host || lp != lp0 || strncmp(pi, p0, lp) != 0)
			return 1;
	}
	return 0;
}

static const char *
option(const PQconninfoOption *opts, const char *keyword)
{
	for (const PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (!strcmp(o->keyword, keyword))
			return o->val;
	}
	return NULL;
}

int
mamori_conf_conninfo_check(const char *key, const char *conninfo, char *reason, size_t len)
{
	PQconninfoOption *opts;
	const char *v, *mode;
	char *msg = NULL;
	int rc = -1;

	opts = PQconninfoParse(conninfo, &msg);
	PQfreemem(msg); /* it may quote the conninfo */
	if (opts == NULL) {
		snprintf(reason, len, "%s is not a libpq connection string (keyword=value ... or postgresql://)", key);
		return -1;
	}
	mode = option(opts, "sslmode");
	if (option(opts, "password") != NULL) {
		snprintf(reason, len,
		         "%s must not hold a password: use passfile= or a client certificate "
		         "(sslcert=, sslkey=)",
		         key);
	} else if (option(opts, "sslpassword") != NULL) {
		snprintf(reason, len,
		         "%s must not hold the client key's passphrase (sslpassword=): use a key without one, "
		         "readable only by the daemon",
		         key);
	} else if (option(opts, "service") != NULL) {
		snprintf(reason, len, "%s must name its hosts itself, not a service= of pg_service.conf", key);
	} else if ((v = option(opts, "dbname")) != NULL && (strchr(v, '=') != NULL || strstr(v, "://") != NULL)) {
		snprintf(reason, len, "%s: dbname must be a database name", key);
	} else if ((!hosts_local(option(opts, "host")) || !hosts_local(option(opts, "hostaddr"))) &&
	           (mode == NULL || strcmp(mode, "verify-full") != 0)) {
		snprintf(reason, len, "%s reaches a host off the loopback: sslmode must be verify-full", key);
	} else if (several_servers(option(opts, "host"), option(opts, "hostaddr"), option(opts, "port")) &&
	           ((v = option(opts, "target_session_attrs")) == NULL ||
	            (strcmp(v, "read-write") != 0 && strcmp(v, "primary") != 0))) {
		snprintf(reason, len,
		         "%s names several servers: target_session_attrs must be read-write or primary "
		         "(never write to a standby)",
		         key);
	} else {
		rc = 0;
	}
	PQconninfoFree(opts);
	return rc;
}
