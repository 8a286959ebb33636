/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "conf.h"
#include "names.h"

/* CONF_ENUM keeps the chosen string; CONF_CHOICE its index in choices, as an
 * int (an enum of conf.h in the same order); CONF_PROFILES a card profile
 * list ("piv, jpki").  The [directory] types (conf.h): CONF_URIS the
 * uri list; CONF_ATTR an attribute name, empty for "not mapped" unless min
 * is 1; CONF_DN a distinguished name; CONF_FILTER a search filter;
 * CONF_VALUES a comma-separated list of values.  CONF_CONNINFO a libpq
 * connection string (conf_store.c).  CONF_NODE a terminal's name
 * ([store] node: mamori_conf_node_valid). */
enum conf_type {
	CONF_STRING,
	CONF_PATH,
	CONF_UINT,
	CONF_BOOL,
	CONF_ENUM,
	CONF_CHOICE,
	CONF_PROFILES,
	CONF_HOURS,
	CONF_URIS,
	CONF_ATTR,
	CONF_DN,
	CONF_FILTER,
	CONF_VALUES,
	CONF_NODE,
	CONF_CONNINFO,
};

/* Where a key's value lives: in struct mamori_conf itself, in the struct
 * mamori_policy_conf of the section's role, or in its struct
 * mamori_dir_conf. */
enum conf_scope { SCOPE_GLOBAL, SCOPE_POLICY, SCOPE_DIRECTORY };

struct conf_key {
	const char *section; /* "policy" for both [policy staff] and [policy privileged] */
	const char *key;
	enum conf_type type;
	enum conf_scope scope;
	size_t offset;
	unsigned long min, max;
	const char *const *choices; /* CONF_ENUM */
};

static const char *const store_backends[] = { "sqlite", "postgresql", NULL };
static const char *const totp_algorithms[] = { "sha1", "sha256", "sha512", NULL };
static const char *const totp_first_enrolls[] = { "code", "password", NULL };
/* In the order of enum mamori_card_removal. */
static const char *const card_removals[] = { "lock", "terminate", "none", NULL };
/* In the order of enum mamori_fido2_uv. */
static const char *const fido2_uvs[] = { "required", "preferred", "discouraged", NULL };
static const char *const role_names[MAMORI_ROLE_COUNT] = { "staff", "privileged" };
/* In the order of the enums of conf.h. */
static const char *const dir_binds[] = { "simple", "external", NULL };
static const char *const dir_tlss[] = { "starttls", "none", NULL };
static const char *const dir_scopes[] = { "sub", "one", "base", NULL };
static const char *const dir_modes[] = { "auto", "persist", "poll", NULL };

/* P-PRIV-NAME: default names a privileged ID may never have. */
static const char *const builtin_reserved[] = {
	"root",       "admin",  "administrator", "adm",    "sysadmin", "superuser", "su",
	"supervisor", "system", "operator",      "guest",  "test",     "user",      "daemon",
	"bin",        "sys",    "sync",          "nobody", "toor",     NULL,
};

#define G(field) SCOPE_GLOBAL, offsetof(struct mamori_conf, field)
#define P(field) SCOPE_POLICY, offsetof(struct mamori_policy_conf, field)
#define D(field) SCOPE_DIRECTORY, offsetof(struct mamori_dir_conf, field)

static const struct conf_key conf_keys[] = {
	{ "daemon", "runtime_dir", CONF_PATH, G(runtime_dir), 0, 0, NULL },
	{ "daemon", "state_dir", CONF_PATH, G(state_dir), 0, 0, NULL },
	{ "daemon", "admin_group", CONF_STRING, G(admin_group), 0, 0, NULL },
	{ "daemon", "max_connections", CONF_UINT, G(max_connections), 1, 65536, NULL },
	{ "daemon", "max_connections_per_uid", CONF_UINT, G(max_connections_per_uid), 1, 65536, NULL },
	{ "daemon", "max_argon2", CONF_UINT, G(max_argon2), 0, 1024, NULL },
	{ "daemon", "idle_timeout", CONF_UINT, G(idle_timeout), 1, 3600, NULL },
	{ "daemon", "rate_limit", CONF_UINT, G(rate_limit), 1, 100000, NULL },
	{ "daemon", "clock_check_interval", CONF_UINT, G(clock_check_interval), 10, 86400, NULL },
	{ "daemon", "debug", CONF_BOOL, G(debug), 0, 1, NULL },
	{ "store", "backend", CONF_ENUM, G(store_backend), 0, 0, store_backends },
	{ "store", "path", CONF_PATH, G(store_path), 0, 0, NULL },
	{ "store", "conninfo", CONF_CONNINFO, G(store_conninfo), 0, 0, NULL },
	{ "store", "listen_conninfo", CONF_CONNINFO, G(store_listen_conninfo), 0, 0, NULL },
	{ "store", "prepared", CONF_BOOL, G(store_prepared), 0, 1, NULL },
	{ "store", "pool_size", CONF_UINT, G(store_pool_size), 1, 64, NULL },
	{ "store", "connect_timeout", CONF_UINT, G(store_connect_timeout), 1, 600, NULL },
	{ "store", "statement_timeout", CONF_UINT, G(store_statement_timeout), 1, 3600, NULL },
	{ "store", "lock_timeout", CONF_UINT, G(store_lock_timeout), 1, 3600, NULL },
	{ "store", "key", CONF_PATH, G(store_key), 0, 0, NULL },
	{ "store", "audit_key", CONF_PATH, G(audit_key), 0, 0, NULL },
	{ "store", "audit_checkpoint", CONF_PATH, G(audit_checkpoint), 0, 0, NULL },
	{ "store", "next_key", CONF_PATH, G(store_next_key), 0, 0, NULL },
	{ "store", "previous_key", CONF_PATH, G(store_previous_key), 0, 0, NULL },
	{ "store", "node", CONF_NODE, G(store_node), 0, 0, NULL },
	{ "store", "sweep_interval", CONF_UINT, G(store_sweep_interval), 1, 86400, NULL },
	{ "offline", "enabled", CONF_BOOL, G(offline_enabled), 0, 1, NULL },
	{ "offline", "max_hours", CONF_UINT, G(offline_max_hours), 1, 8760, NULL },
	{ "offline", "max_entries", CONF_UINT, G(offline_max_entries), 1, 65536, NULL },
	{ "offline", "max_failures", CONF_UINT, G(offline_max_failures), 1, 100, NULL },
	{ "offline", "allow_privileged", CONF_BOOL, G(offline_allow_privileged), 0, 1, NULL },
	{ "offline", "allow_mynumber", CONF_BOOL, G(offline_allow_mynumber), 0, 1, NULL },
	{ "offline", "probe_interval", CONF_UINT, G(offline_probe_interval), 1, 3600, NULL },
	{ "totp", "issuer", CONF_STRING, G(totp_issuer), 0, 0, NULL },
	{ "totp", "algorithm", CONF_ENUM, G(totp_algorithm), 0, 0, totp_algorithms },
	{ "totp", "digits", CONF_UINT, G(totp_digits), 6, 8, NULL },
	{ "totp", "period", CONF_UINT, G(totp_period), 15, 120, NULL },
	{ "totp", "window", CONF_UINT, G(totp_window), 0, 10, NULL },
	{ "totp", "first_enroll", CONF_ENUM, G(totp_first_enroll), 0, 0, totp_first_enrolls },
	{ "totp", "enroll_code_lifetime", CONF_UINT, G(totp_enroll_code_lifetime), 300, 2592000, NULL },
	{ "card", "wait", CONF_UINT, G(card_wait), 1, 3600, NULL },
	{ "card", "profiles", CONF_PROFILES, G(card_profiles), 0, 0, NULL },
	{ "card", "helper", CONF_PATH, G(card_helper), 0, 0, NULL },
	{ "card", "helper_user", CONF_STRING, G(card_helper_user), 0, 0, NULL },
	{ "card", "ca_file", CONF_PATH, G(card_ca_file), 0, 0, NULL },
	{ "card", "crl_file", CONF_PATH, G(card_crl_file), 0, 0, NULL },
	{ "card", "check_validity", CONF_BOOL, G(card_check_validity), 0, 1, NULL },
	{ "card", "on_removal", CONF_CHOICE, G(card_on_removal), 0, 0, card_removals },
	{ "fido2", "rp_id", CONF_STRING, G(fido2_rp_id), 0, 0, NULL },
	{ "fido2", "user_verification", CONF_CHOICE, G(fido2_uv), 0, 0, fido2_uvs },
	{ "fido2", "wait", CONF_UINT, G(fido2_wait), 1, 3600, NULL },
	{ "fido2", "helper", CONF_PATH, G(fido2_helper), 0, 0, NULL },
	{ "fido2", "helper_user", CONF_STRING, G(fido2_helper_user), 0, 0, NULL },
	{ "fido2", "helper_group", CONF_STRING, G(fido2_helper_group), 0, 0, NULL },
	{ "fingerprint", "timeout", CONF_UINT, G(fingerprint_timeout), 1, 600, NULL },
	{ "password", "argon2_t", CONF_UINT, G(argon2_t), 1, 64, NULL },
	/* libargon2 needs at least 8 KiB per lane; 4 GiB is a sane ceiling. */
	{ "password", "argon2_m_kib", CONF_UINT, G(argon2_m_kib), 8, 4194304, NULL },
	{ "password", "argon2_p", CONF_UINT, G(argon2_p), 1, 64, NULL },
	{ "password", "temp_length", CONF_UINT, G(temp_length), 12, 64, NULL },
	{ "password", "temp_lifetime", CONF_UINT, G(temp_lifetime), 60, 31536000, NULL },
	{ "password", "history", CONF_UINT, G(history), 0, 400, NULL },
	{ "password", "blocklist", CONF_PATH, G(blocklist), 0, 0, NULL },
	{ "password", "org_words", CONF_STRING, G(org_words), 0, 0, NULL },
	{ "login", "banner", CONF_PATH, G(banner), 0, 0, NULL },
	{ "accounts", "reserved_names", CONF_STRING, G(reserved_names), 0, 0, NULL },
	{ "accounts", "stale_after_days", CONF_UINT, G(stale_after_days), 0, 36500, NULL },
	{ "accounts", "stale_disable", CONF_BOOL, G(stale_disable), 0, 1, NULL },
	{ "directory", "uri", CONF_URIS, D(uris), 0, 0, NULL },
	{ "directory", "bind", CONF_CHOICE, D(bind), 0, 0, dir_binds },
	{ "directory", "bind_dn", CONF_DN, D(bind_dn), 0, 0, NULL },
	{ "directory", "bind_password_file", CONF_PATH, D(bind_password_file), 0, 0, NULL },
	{ "directory", "tls", CONF_CHOICE, D(tls), 0, 0, dir_tlss },
	{ "directory", "ca_file", CONF_PATH, D(ca_file), 0, 0, NULL },
	{ "directory", "ca_dir", CONF_PATH, D(ca_dir), 0, 0, NULL },
	{ "directory", "base", CONF_DN, D(base), 0, 0, NULL },
	{ "directory", "filter", CONF_FILTER, D(filter), 0, 0, NULL },
	{ "directory", "scope", CONF_CHOICE, D(scope), 0, 0, dir_scopes },
	{ "directory", "attr_employee_number", CONF_ATTR, D(attr_employee_number), 1, 0, NULL },
	{ "directory", "attr_uid", CONF_ATTR, D(attr_uid), 1, 0, NULL },
	{ "directory", "attr_display_name", CONF_ATTR, D(attr_display_name), 0, 0, NULL },
	{ "directory", "attr_department", CONF_ATTR, D(attr_department), 0, 0, NULL },
	{ "directory", "attr_status", CONF_ATTR, D(attr_status), 0, 0, NULL },
	{ "directory", "attr_start", CONF_ATTR, D(attr_start), 0, 0, NULL },
	{ "directory", "attr_end", CONF_ATTR, D(attr_end), 0, 0, NULL },
	{ "directory", "attr_secondment_start", CONF_ATTR, D(attr_secondment_start), 0, 0, NULL },
	{ "directory", "attr_secondment_end", CONF_ATTR, D(attr_secondment_end), 0, 0, NULL },
	{ "directory", "attr_manager", CONF_ATTR, D(attr_manager), 0, 0, NULL },
	{ "directory", "retired_values", CONF_VALUES, D(retired_values), 0, 0, NULL },
	{ "directory", "contractor_values", CONF_VALUES, D(contractor_values), 0, 0, NULL },
	{ "directory", "mode", CONF_CHOICE, D(mode), 0, 0, dir_modes },
	{ "directory", "poll_interval", CONF_UINT, D(poll_interval), 5, 86400, NULL },
	{ "directory", "timeout", CONF_UINT, D(timeout), 1, 600, NULL },
	{ "directory", "backoff_max", CONF_UINT, D(backoff_max), 1, 86400, NULL },
	{ "directory", "max_disable_percent", CONF_UINT, D(max_disable_percent), 0, 100, NULL },
	{ "incident", "hook", CONF_PATH, G(incident_hook), 0, 0, NULL },
	{ "incident", "storm_threshold", CONF_UINT, G(storm_threshold), 2, 100000, NULL },
	{ "incident", "storm_window", CONF_UINT, G(storm_window), 1, 86400, NULL },
	{ "policy", "min_length", CONF_UINT, P(min_length), 8, 256, NULL },
	{ "policy", "max_length", CONF_UINT, P(max_length), 256, 4096, NULL },
	{ "policy", "min_guesses_log10", CONF_UINT, P(min_guesses_log10), 0, 40, NULL },
	{ "policy", "min_classes", CONF_UINT, P(min_classes), 0, 4, NULL },
	{ "policy", "dictionary_check", CONF_BOOL, P(dictionary_check), 0, 1, NULL },
	{ "policy", "user_check", CONF_BOOL, P(user_check), 0, 1, NULL },
	{ "policy", "max_age_days", CONF_UINT, P(max_age_days), 0, 3650, NULL },
	{ "policy", "min_age_days", CONF_UINT, P(min_age_days), 0, 365, NULL },
	{ "policy", "warn_days", CONF_UINT, P(warn_days), 0, 365, NULL },
	{ "policy", "lockout_threshold", CONF_UINT, P(lockout_threshold), 0, 1000, NULL },
	{ "policy", "lockout_window", CONF_UINT, P(lockout_window), 1, 31536000, NULL },
	{ "policy", "lockout_duration", CONF_UINT, P(lockout_duration), 1, 31536000, NULL },
	{ "policy", "lockout_max_duration", CONF_UINT, P(lockout_max_duration), 1, 31536000, NULL },
	{ "policy", "lockout_until_unlock", CONF_BOOL, P(lockout_until_unlock), 0, 1, NULL },
	{ "policy", "hours", CONF_HOURS, P(hours), 0, 0, NULL },
	{ "policy", "session_limit", CONF_UINT, P(session_limit), 0, 31536000, NULL },
};

#define N_KEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

struct service_seen;

struct parse_ctx {
	struct mamori_conf *conf;
	FILE *file;
	int line; /* the line the reader handed out last */
	int error_line; /* the first error found by the reader or a handler */
	char reason[256]; /* its reason */
	unsigned char seen[N_KEYS][MAMORI_ROLE_COUNT];
	int key_line[N_KEYS]; /* where each global or [directory] key was set */
	int directory_line; /* the first [directory] line */
	char *linebuf;
	size_t linecap;
	struct service_seen *services_seen;
	/* A conninfo being read: indented lines right below its key go on
	 * with its value (inih's continuation lines); it is checked once it
	 * ends, and blamed on its key's line. */
	char **cont_field;
	const char *cont_key;
	int cont_line;
	int continuing; /* the line handed out last continues it */
};

static int error_at(struct parse_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Keep the first error only: inih goes on after a refused line. */
static int
error_at(struct parse_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx->error_line == 0) {
		ctx->error_line = ctx->line;
		va_start(ap, fmt);
		vsnprintf(ctx->reason, sizeof(ctx->reason), fmt, ap);
		va_end(ap);
	}
	return 0;
}

static int
set_string(char **dst, const char *value)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return -1;
	free(*dst);
	*dst = copy;
	return 0;
}

static int
parse_uint(const char *value, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (value[0] < '0' || value[0] > '9')
		return -1;
	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
parse_bool(const char *value, int *out)
{
	if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "on")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "off")) {
		*out = 0;
		return 0;
	}
	return -1;
}

static struct mamori_service_conf *
service_get(struct mamori_conf *conf, const char *name, int create)
{
	struct mamori_service_conf *s;

	for (s = conf->services; s != NULL; s = s->next) {
		if (!strcmp(s->name, name))
			return s;
	}
	if (!create)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->name = strdup(name)) == NULL || (s->system = strdup("default")) == NULL) {
		if (s != NULL) {
			free(s->name);
			free(s);
		}
		return NULL;
	}
	s->remote = -1;
	s->rhost_empty_local = -1;
	s->next = conf->services;
	conf->services = s;
	return s;
}

/* [service NAME]: keys are checked for repeats through a small bitmask kept
 * beside the entry while parsing. */
static const char *const service_keys[] = { "system", "privileged",    "require",     "allow_users", "allow_groups",
	                                    "remote", "member_prompt", "rhost_empty", NULL };

struct service_seen {
	struct mamori_service_conf *service;
	unsigned seen;
	struct service_seen *next;
};

static int
comma_list_valid(const char *value)
{
	/* Names separated by commas: each a valid user or group name. */
	char name[MAMORI_USER_NAME_MAX + 1];
	const char *p = value;

	for (;;) {
		size_t n = 0;
		while (*p == ' ')
			p++;
		while (*p != '\0' && *p != ',' && *p != ' ' && n < sizeof(name) - 1)
			name[n++] = *p++;
		name[n] = '\0';
		while (*p == ' ')
			p++;
		if (!mamori_user_name_valid(name))
			return 0;
		if (*p == '\0')
			return 1;
		if (*p++ != ',')
			return 0;
	}
}

/* [card] profiles: "piv" and "jpki", separated by commas, each once, in
 * the order they are tried. */
static int
profiles_valid(const char *value)
{
	int seen_piv = 0, seen_jpki = 0;
	const char *p = value;

	for (;;) {
		size_t n = 0;
		while (*p == ' ')
			p++;
		while (p[n] != '\0' && p[n] != ',' && p[n] != ' ')
			n++;
		if (n == 3 && !strncmp(p, "piv", 3) && !seen_piv)
			seen_piv = 1;
		else if (n == 4 && !strncmp(p, "jpki", 4) && !seen_jpki)
			seen_jpki = 1;
		else
			return 0;
		p += n;
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return 1;
		if (*p++ != ',')
			return 0;
	}
}

static int
handle_service(struct parse_ctx *ctx, const char *service, const char *key, const char *value)
{
	struct mamori_service_conf *s;
	struct service_seen *seen;
	unsigned bit = 0, index;
	char reason[160];
	int b;

	if (!mamori_service_name_valid(service))
		return error_at(ctx, "invalid service name \"%s\"", service);
	s = service_get(ctx->conf, service, 1);
	if (s == NULL)
		return error_at(ctx, "out of memory");
	for (seen = ctx->services_seen; seen != NULL && seen->service != s; seen = seen->next)
		;
	if (seen == NULL) {
		if ((seen = calloc(1, sizeof(*seen))) == NULL)
			return error_at(ctx, "out of memory");
		seen->service = s;
		seen->next = ctx->services_seen;
		ctx->services_seen = seen;
	}
	for (index = 0; service_keys[index] != NULL; index++) {
		if (!strcmp(key, service_keys[index])) {
			bit = 1u << index;
			break;
		}
	}
	if (bit == 0)
		return error_at(ctx, "unknown key \"%s\" in [service %s]", key, service);
	if (seen->seen & bit)
		return error_at(ctx, "\"%s\" repeated in [service %s]", key, service);
	seen->seen |= bit;
	switch (index) {
	case 0: /* system */
		if (!mamori_service_name_valid(value))
			return error_at(ctx, "invalid system name \"%s\"", value);
		return set_string(&s->system, value) == 0 ? 1 : error_at(ctx, "out of memory");
	case 1: /* privileged */
	case 5: /* remote */
	case 6: /* member_prompt */
		if (parse_bool(value, &b) != 0)
			return error_at(ctx, "%s must be yes or no", key);
		if (index == 1)
			s->privileged = b;
		else if (index == 5)
			s->remote = b;
		else
			s->member_prompt = b;
		return 1;
	case 2: /* require */
		if (mamori_factor_sets_parse(value, s->require, &s->require_count, reason, sizeof(reason)) != 0)
			return error_at(ctx, "require: %s", reason);
		s->require_line = ctx->line;
		return 1;
	case 7: /* rhost_empty */
		if (strcmp(value, "local") != 0 && strcmp(value, "remote") != 0)
			return error_at(ctx, "rhost_empty must be local or remote");
		s->rhost_empty_local = strcmp(value, "local") == 0;
		return 1;
	case 3: /* allow_users */
	case 4: /* allow_groups */
		if (!comma_list_valid(value))
			return error_at(ctx, "%s must be names separated by commas", key);
		return set_string(index == 3 ? &s->allow_users : &s->allow_groups, value) == 0
		               ? 1
		               : error_at(ctx, "out of memory");
	}
	return 0;
}

static int
handle_system(struct parse_ctx *ctx, const char *system, const char *key, const char *value)
{
	struct mamori_system_conf *sys;
	int b;

	if (!mamori_service_name_valid(system))
		return error_at(ctx, "invalid system name \"%s\"", system);
	for (sys = ctx->conf->systems; sys != NULL && strcmp(sys->name, system) != 0; sys = sys->next)
		;
	if (sys == NULL) {
		sys = calloc(1, sizeof(*sys));
		if (sys == NULL || (sys->name = strdup(system)) == NULL) {
			free(sys);
			return error_at(ctx, "out of memory");
		}
		sys->next = ctx->conf->systems;
		ctx->conf->systems = sys;
	}
	if (strcmp(key, "mynumber") != 0)
		return error_at(ctx, "unknown key \"%s\" in [system %s]", key, system);
	if (sys->seen)
		return error_at(ctx, "\"%s\" repeated in [system %s]", key, system);
	sys->seen = 1;
	if (parse_bool(value, &b) != 0)
		return error_at(ctx, "mynumber must be yes or no");
	sys->mynumber = b;
	return 1;
}

/* The value types of [directory] (conf.h). */
static int
handle_dir_key(struct parse_ctx *ctx, const struct conf_key *k, void *base, const char *value)
{
	char *field = (char *)base + k->offset;
	char reason[256];

	switch (k->type) {
	case CONF_URIS:
		if (mamori_conf_dir_set_uris(base, value, reason, sizeof(reason)) != 0)
			return error_at(ctx, "%s", reason);
		return 1;
	case CONF_ATTR:
		if (value[0] == '\0' && k->min == 0) {
			free(*(char **)(void *)field);
			*(char **)(void *)field = NULL;
			return 1;
		}
		if (!mamori_conf_dir_attr_valid(value))
			return error_at(ctx, "%s must be an attribute name (letters, digits, '-') or an OID", k->key);
		break;
	case CONF_DN:
		if (!mamori_conf_dir_dn_valid(value) || value[0] == '\0')
			return error_at(ctx, "%s \"%s\" is not a distinguished name", k->key, value);
		break;
	case CONF_FILTER:
		if (!mamori_conf_dir_filter_valid(value))
			return error_at(ctx, "filter must be one LDAP filter in balanced parentheses, at most %d bytes",
			                MAMORI_DIR_FILTER_MAX);
		break;
	case CONF_VALUES:
		if (!mamori_conf_dir_values_valid(value))
			return error_at(ctx, "%s must be values separated by commas", k->key);
		break;
	default:
		return error_at(ctx, "internal error: type of %s", k->key);
	}
	if (set_string((char **)(void *)field, value) != 0)
		return error_at(ctx, "out of memory");
	return 1;
}

static int
handle_key(struct parse_ctx *ctx, const struct conf_key *k, void *base, const char *value)
{
	char *field = (char *)base + k->offset;
	char reason[160];
	unsigned long n;
	int b;

	switch (k->type) {
	case CONF_PATH:
		if (value[0] != '/')
			return error_at(ctx, "%s must be an absolute path", k->key);
		/* fall through */
	case CONF_STRING:
		if (value[0] == '\0')
			return error_at(ctx, "%s must not be empty", k->key);
		if (set_string((char **)(void *)field, value) != 0)
			return error_at(ctx, "out of memory");
		return 1;
	case CONF_ENUM:
		for (const char *const *c = k->choices; *c != NULL; c++) {
			if (!strcmp(*c, value))
				return set_string((char **)(void *)field, value) == 0;
		}
		return error_at(ctx, "unsupported %s \"%s\"", k->key, value);
	case CONF_CHOICE:
		for (int i = 0; k->choices[i] != NULL; i++) {
			if (!strcmp(k->choices[i], value)) {
				*(int *)(void *)field = i;
				return 1;
			}
		}
		return error_at(ctx, "unsupported %s \"%s\"", k->key, value);
	case CONF_PROFILES:
		if (!profiles_valid(value))
			return error_at(ctx, "%s must be piv, jpki or both, separated by a comma", k->key);
		if (set_string((char **)(void *)field, value) != 0)
			return error_at(ctx, "out of memory");
		return 1;
	case CONF_UINT:
		if (parse_uint(value, k->min, k->max, &n) != 0) {
			snprintf(reason, sizeof(reason), "%s must be a whole number from %lu to %lu", k->key, k->min,
			         k->max);
			return error_at(ctx, "%s", reason);
		}
		/* Every CONF_UINT field is an unsigned int or a uint32_t. */
		*(unsigned *)(void *)field = (unsigned)n;
		return 1;
	case CONF_BOOL:
		if (parse_bool(value, &b) != 0)
			return error_at(ctx, "%s must be yes or no", k->key);
		*(int *)(void *)field = b;
		return 1;
	case CONF_NODE:
		if (!mamori_conf_node_valid(value))
			return error_at(ctx, "%s must be 1 to %d printable characters without spaces", k->key,
			                MAMORI_NODE_MAX);
		if (set_string((char **)(void *)field, value) != 0)
			return error_at(ctx, "out of memory");
		return 1;
	case CONF_HOURS:
		if (mamori_hours_parse(value, (struct mamori_hours *)(void *)field, reason, sizeof(reason)) != 0)
			return error_at(ctx, "hours: %s", reason);
		return 1;
	case CONF_CONNINFO:
		/* Checked when its last line has been read (conninfo_end). */
		if (set_string((char **)(void *)field, value) != 0)
			return error_at(ctx, "out of memory");
		ctx->cont_field = (char **)(void *)field;
		ctx->cont_key = k->key;
		ctx->cont_line = ctx->line;
		return 1;
	case CONF_URIS:
	case CONF_ATTR:
	case CONF_DN:
	case CONF_FILTER:
	case CONF_VALUES:
		return handle_dir_key(ctx, k, base, value);
	}
	return 0;
}

/* The longest conninfo, its continuation lines joined. */
#define CONNINFO_MAX 4096

/* A continuation line of the conninfo being read: joined with a space. */
static int
conninfo_more(struct parse_ctx *ctx, const char *value)
{
	size_t have = strlen(*ctx->cont_field), more = strlen(value);
	char *joined;

	ctx->continuing = 0;
	if (more == 0)
		return 1;
	if (have + 1 + more > CONNINFO_MAX)
		return error_at(ctx, "%s longer than %d characters", ctx->cont_key, CONNINFO_MAX);
	joined = realloc(*ctx->cont_field, have + more + 2);
	if (joined == NULL)
		return error_at(ctx, "out of memory");
	joined[have] = ' ';
	memcpy(joined + have + 1, value, more + 1);
	*ctx->cont_field = joined;
	return 1;
}

/* The conninfo's last line has been read: check the whole of it, and
 * blame its key's line. */
static void
conninfo_end(struct parse_ctx *ctx)
{
	char reason[256];
	int line = ctx->line;

	if (ctx->cont_field == NULL)
		return;
	if (ctx->error_line == 0 &&
	    mamori_conf_conninfo_check(ctx->cont_key, *ctx->cont_field, reason, sizeof(reason)) != 0) {
		ctx->line = ctx->cont_line;
		error_at(ctx, "%s", reason);
		ctx->line = line;
	}
	ctx->cont_field = NULL;
}

static int
conf_ini_handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	const char *table_section = section;
	void *base = ctx->conf;
	enum conf_scope scope = SCOPE_GLOBAL;
	int role = 0, known_section = 0;

	if (ctx->error_line != 0)
		return 0;
	if (ctx->continuing)
		return conninfo_more(ctx, value);
	if (!strncmp(section, "service ", 8))
		return handle_service(ctx, section + 8, name, value);
	if (!strncmp(section, "system ", 7))
		return handle_system(ctx, section + 7, name, value);
	if (!strncmp(section, "policy ", 7)) {
		for (role = 0; role < MAMORI_ROLE_COUNT; role++) {
			if (!strcmp(section + 7, role_names[role]))
				break;
		}
		if (role == MAMORI_ROLE_COUNT)
			return error_at(ctx, "unknown role in [%s] (staff or privileged)", section);
		table_section = "policy";
		base = &ctx->conf->policy[role];
		scope = SCOPE_POLICY;
	}
	if (!strcmp(section, "directory")) {
		if (ctx->conf->directory == NULL && (ctx->conf->directory = mamori_conf_dir_new()) == NULL)
			return error_at(ctx, "out of memory");
		ctx->conf->directory->line = ctx->directory_line != 0 ? ctx->directory_line : ctx->line;
		base = ctx->conf->directory;
		scope = SCOPE_DIRECTORY;
	}
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct conf_key *k = &conf_keys[i];
		if (strcmp(k->section, table_section) != 0)
			continue;
		/* Policy keys live in a role's struct: only [policy ROLE] may set
		 * them, never a bare [policy] (found by fuzz_conf). */
		if (k->scope != scope)
			continue;
		known_section = 1;
		if (strcmp(k->key, name) != 0)
			continue;
		if (ctx->seen[i][role])
			return error_at(ctx, "\"%s\" repeated in [%s]", name, section);
		ctx->seen[i][role] = 1;
		ctx->key_line[i] = ctx->line;
		return handle_key(ctx, k, base, value);
	}
	if (!known_section)
		return error_at(ctx, "unknown section [%s]", section);
	return error_at(ctx, "unknown key \"%s\" in [%s]", name, section);
}

/* inih's reader: count lines ourselves, and refuse what inih would quietly
 * misread: lines longer than its buffer (it would split them), section
 * names longer than its section buffer (it would cut them). */
static char *
conf_reader(char *str, int num, void *stream)
{
	struct parse_ctx *ctx = stream;
	ssize_t len;
	const char *p;

	if (ctx->error_line != 0)
		return NULL;
	len = getline(&ctx->linebuf, &ctx->linecap, ctx->file);
	if (len < 0) {
		conninfo_end(ctx);
		return NULL;
	}
	ctx->line++;
	if (memchr(ctx->linebuf, '\0', (size_t)len) != NULL) {
		error_at(ctx, "NUL byte in line");
		return NULL;
	}
	if (len >= num - 1 || len >= MAMORI_CONF_LINE_MAX) {
		error_at(ctx, "line longer than %d characters", MAMORI_CONF_LINE_MAX - 2);
		return NULL;
	}
	/* Leading blanks go: inih would read an indented line as the
	 * continuation of the value above it.  Only a conninfo goes on so,
	 * over the indented lines right below its key. */
	p = ctx->linebuf;
	while (*p == ' ' || *p == '\t')
		p++;
	if (ctx->cont_field != NULL && p > ctx->linebuf && strchr("\r\n;#", *p) == NULL) {
		ctx->continuing = 1;
		memcpy(str, ctx->linebuf, (size_t)len + 1);
		return str;
	}
	conninfo_end(ctx);
	if (ctx->error_line != 0)
		return NULL;
	if (*p == '[') {
		const char *close = strchr(p, ']');
		/* inih keeps 50 bytes of a section name. */
		if (close != NULL && close - p - 1 > 49) {
			error_at(ctx, "section name too long");
			return NULL;
		}
		if (close != NULL && close - p - 1 == 9 && !strncmp(p + 1, "directory", 9) && ctx->directory_line == 0)
			ctx->directory_line = ctx->line;
	}
	memcpy(str, p, (size_t)len + 1 - (size_t)(p - ctx->linebuf));
	return str;
}

static void
policy_defaults(struct mamori_conf *c)
{
	struct mamori_policy_conf *s = &c->policy[MAMORI_ROLE_STAFF];
	struct mamori_policy_conf *p = &c->policy[MAMORI_ROLE_PRIVILEGED];

	s->min_length = 12;
	s->max_length = 1024;
	s->min_guesses_log10 = 10;
	s->min_classes = 0;
	s->dictionary_check = 1;
	s->user_check = 1;
	s->max_age_days = 90;
	s->min_age_days = 1;
	s->warn_days = 14;
	s->lockout_threshold = 5;
	s->lockout_window = 900;
	s->lockout_duration = 900;
	s->lockout_max_duration = 86400;
	s->lockout_until_unlock = 0;
	s->session_limit = 0;

	*p = *s;
	p->min_length = 15;
	p->min_guesses_log10 = 12;
	p->min_classes = 3;
	p->max_age_days = 30;
	p->warn_days = 7;
	p->lockout_threshold = 3;
	p->lockout_duration = 1800;
	p->lockout_until_unlock = 1;
	p->session_limit = 3600;
}

int
mamori_conf_node_valid(const char *node)
{
	size_t n = node != NULL ? strlen(node) : 0;

	if (n == 0 || n > MAMORI_NODE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (node[i] <= ' ' || node[i] > '~')
			return 0;
	return 1;
}

/* The default [store] node: the host name, cut to MAMORI_NODE_MAX bytes;
 * "localhost" when it cannot be read or is no valid node name. */
static char *
default_node(void)
{
	char host[256] = "";

	if (gethostname(host, sizeof(host) - 1) != 0)
		host[0] = '\0';
	host[MAMORI_NODE_MAX] = '\0';
	return strdup(mamori_conf_node_valid(host) ? host : "localhost");
}

struct mamori_conf *
mamori_conf_defaults(void)
{
	struct mamori_conf *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->runtime_dir = strdup("/run/mamori");
	c->state_dir = strdup(LOCALSTATEDIR "/lib/mamori");
	c->admin_group = strdup("mamori-admin");
	c->store_backend = strdup("sqlite");
	c->store_node = default_node();
	if (c->runtime_dir == NULL || c->state_dir == NULL || c->admin_group == NULL || c->store_backend == NULL ||
	    c->store_node == NULL) {
		mamori_conf_free(&c);
		return NULL;
	}
	c->store_pool_size = 4;
	c->store_connect_timeout = 5;
	c->store_statement_timeout = 5;
	c->store_lock_timeout = 2;
	c->store_prepared = 1;
	c->max_connections = 256;
	c->max_connections_per_uid = 16;
	c->max_argon2 = 0;
	c->idle_timeout = 120;
	c->rate_limit = 30;
	c->clock_check_interval = 3600;
	c->store_sweep_interval = 30;
	c->offline_max_hours = 72;
	c->offline_max_entries = 256;
	c->offline_max_failures = 5;
	c->offline_probe_interval = 10;
	c->argon2_t = 3;
	c->argon2_m_kib = 65536;
	c->argon2_p = 1;
	c->temp_length = 16;
	c->temp_lifetime = 72 * 3600;
	c->history = 24;
	c->storm_threshold = 10;
	c->storm_window = 300;
	c->totp_digits = 6;
	c->totp_period = 30;
	c->totp_window = 1;
	c->totp_enroll_code_lifetime = 86400;
	c->store_key = strdup(SYSCONFDIR "/mamori/store.key");
	c->audit_key = strdup(SYSCONFDIR "/mamori/audit.key");
	c->totp_issuer = strdup("mamori");
	c->totp_algorithm = strdup("sha1");
	c->totp_first_enroll = strdup("code");
	c->card_wait = 30;
	c->card_check_validity = 1;
	c->card_on_removal = MAMORI_CARD_REMOVAL_LOCK;
	c->card_profiles = strdup("piv, jpki");
	c->card_helper = strdup(LIBEXECDIR "/mamori/mamori-card-helper");
	c->card_helper_user = strdup("nobody");
	c->fido2_rp_id = strdup("mamori");
	c->fido2_uv = MAMORI_FIDO2_UV_REQUIRED;
	c->fido2_wait = 30;
	c->fido2_helper = strdup(LIBEXECDIR "/mamori/mamori-fido2-helper");
	c->fido2_helper_user = strdup("nobody");
	c->fido2_helper_group = strdup("mamori-fido");
	c->fingerprint_timeout = 30;
	c->stale_after_days = 90;
	if (c->fido2_rp_id == NULL || c->fido2_helper == NULL || c->fido2_helper_user == NULL ||
	    c->fido2_helper_group == NULL) {
		mamori_conf_free(&c);
		return NULL;
	}
	if (c->store_key == NULL || c->audit_key == NULL || c->totp_issuer == NULL || c->totp_algorithm == NULL ||
	    c->totp_first_enroll == NULL || c->card_profiles == NULL || c->card_helper == NULL ||
	    c->card_helper_user == NULL) {
		mamori_conf_free(&c);
		return NULL;
	}
	policy_defaults(c);
	return c;
}

/* [password] org_words: words of MAMORI_ORG_WORD_MIN to MAMORI_ORG_WORD_MAX
 * bytes, split at commas, spaces around each trimmed. */
static int
org_words_check(const char *list, char *reason, size_t len)
{
	unsigned count = 0;

	for (const char *p = list; p != NULL;) {
		const char *end = strchr(p, ',');
		size_t n;

		while (*p == ' ' || *p == '\t')
			p++;
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n < MAMORI_ORG_WORD_MIN || n > MAMORI_ORG_WORD_MAX) {
			snprintf(reason, len, "[password] org_words: each word must have %d to %d bytes",
			         MAMORI_ORG_WORD_MIN, MAMORI_ORG_WORD_MAX);
			return -1;
		}
		if (++count > MAMORI_ORG_WORDS_MAX) {
			snprintf(reason, len, "[password] org_words: at most %d words", MAMORI_ORG_WORDS_MAX);
			return -1;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return 0;
}

/* Cross-key checks, once every key is known.  *line is set when the
 * problem belongs to one line. */
static int
conf_check(const struct mamori_conf *c, char *reason, size_t len, int *line)
{
	*line = 0;
	if (c->totp_digits != 6 && c->totp_digits != 8) {
		snprintf(reason, len, "[totp] digits must be 6 or 8");
		return -1;
	}
	if (c->fido2_rp_id[0] == '\0' || strlen(c->fido2_rp_id) > 253 || strpbrk(c->fido2_rp_id, " \t/:") != NULL) {
		snprintf(reason, len, "[fido2] rp_id must be a name like \"example.lg.jp\" (no spaces, '/' or ':')");
		return -1;
	}
	/* Services without a [service] section belong to the default system and
	 * ask for a password alone: it cannot be a My Number system. */
	if (mamori_conf_system_mynumber(c, "default")) {
		snprintf(reason, len,
		         "[system default] cannot be a My Number system: name one for its services (P-MFA-MN)");
		return -1;
	}
	/* P-MFA-MN: a My Number service whose accepted sets cannot all span two
	 * categories is a configuration error, never a weaker login.  A set
	 * that reaches two only through what a FIDO2 key's answer shows (its
	 * user verification) is checked again at each decision. */
	for (const struct mamori_service_conf *s = c->services; s != NULL; s = s->next) {
		if (!mamori_conf_system_mynumber(c, s->system))
			continue;
		if (s->require_count == 0) {
			snprintf(reason, len,
			         "[service %s] is on My Number system %s and needs require = with two categories "
			         "(P-MFA-MN)",
			         s->name, s->system);
			return -1;
		}
		for (unsigned i = 0; i < s->require_count; i++) {
			if (mamori_factor_set_span_max(&s->require[i]) < 2) {
				char set[128];
				mamori_factor_set_format(&s->require[i], set, sizeof(set));
				snprintf(reason, len,
				         "[service %s] is on My Number system %s: \"%s\" spans one category of "
				         "knowledge, possession and inherence, two are required (P-MFA-MN)",
				         s->name, s->system, set);
				*line = s->require_line;
				return -1;
			}
			/* A fingerprint only together with a possession factor
			 * (as NIST SP 800-63B requires of biometrics). */
			if (mamori_factor_set_has(&s->require[i], MAMORI_FACTOR_FINGERPRINT) &&
			    !(mamori_factor_set_categories(&s->require[i]) & MAMORI_CATEGORY_POSSESSION)) {
				char set[128];
				mamori_factor_set_format(&s->require[i], set, sizeof(set));
				snprintf(reason, len,
				         "[service %s] is on My Number system %s: \"%s\" has a fingerprint without a "
				         "possession factor (card, fido2 or totp) (P-MFA-MN)",
				         s->name, s->system, set);
				*line = s->require_line;
				return -1;
			}
		}
	}
	if (org_words_check(c->org_words, reason, len) != 0)
		return -1;
	if (c->argon2_m_kib < 8 * c->argon2_p) {
		snprintf(reason, len, "argon2_m_kib must be at least 8 times argon2_p");
		return -1;
	}
	for (int r = 0; r < MAMORI_ROLE_COUNT; r++) {
		const struct mamori_policy_conf *p = &c->policy[r];
		if (p->min_length > p->max_length) {
			snprintf(reason, len, "[policy %s] min_length is larger than max_length", role_names[r]);
			return -1;
		}
		if (p->max_age_days != 0 && p->min_age_days >= p->max_age_days) {
			snprintf(reason, len, "[policy %s] min_age_days must be below max_age_days", role_names[r]);
			return -1;
		}
		if (p->lockout_max_duration < p->lockout_duration) {
			snprintf(reason, len, "[policy %s] lockout_max_duration is below lockout_duration",
			         role_names[r]);
			return -1;
		}
	}
	return 0;
}

/* The line where [directory] KEY was set, 0 when it was not. */
static int
dir_key_line(const struct parse_ctx *ctx, const char *key)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		if (!strcmp(conf_keys[i].section, "directory") && !strcmp(conf_keys[i].key, key))
			return ctx->key_line[i];
	}
	return 0;
}

/* [store] backend = postgresql needs its conninfo: blame the backend's
 * line. */
static int
store_check(const struct parse_ctx *ctx, char *reason, size_t len, int *line)
{
	*line = 0;
	/* Offline logins stand in for a shared store out of reach: a local
	 * SQLite store is never out of reach, and the key is refused there. */
	if (ctx->conf->offline_enabled && strcmp(ctx->conf->store_backend, "postgresql") != 0) {
		for (size_t i = 0; i < N_KEYS; i++) {
			if (!strcmp(conf_keys[i].section, "offline") && !strcmp(conf_keys[i].key, "enabled"))
				*line = ctx->key_line[i];
		}
		snprintf(reason, len, "offline logins need backend = postgresql");
		return -1;
	}
	if (strcmp(ctx->conf->store_backend, "postgresql") != 0 || ctx->conf->store_conninfo != NULL)
		return 0;
	for (size_t i = 0; i < N_KEYS; i++) {
		if (!strcmp(conf_keys[i].section, "store") && !strcmp(conf_keys[i].key, "backend"))
			*line = ctx->key_line[i];
	}
	snprintf(reason, len, "backend = postgresql needs a conninfo");
	return -1;
}

/* [directory], once read whole: a section without keys still needs its
 * uri and base. */
static int
directory_check(struct parse_ctx *ctx, char *reason, size_t len, int *line)
{
	struct mamori_conf_dir_lines lines;

	*line = 0;
	if (ctx->directory_line != 0 && ctx->conf->directory == NULL) {
		if ((ctx->conf->directory = mamori_conf_dir_new()) == NULL) {
			snprintf(reason, len, "out of memory");
			return -1;
		}
		ctx->conf->directory->line = ctx->directory_line;
	}
	if (ctx->conf->directory == NULL)
		return 0;
	lines.uri = dir_key_line(ctx, "uri");
	lines.bind = dir_key_line(ctx, "bind");
	lines.bind_dn = dir_key_line(ctx, "bind_dn");
	lines.bind_password_file = dir_key_line(ctx, "bind_password_file");
	lines.tls = dir_key_line(ctx, "tls");
	if (mamori_conf_dir_check(ctx->conf->directory, &lines, reason, len, line) != 0)
		return -1;
	if (mamori_conf_dir_attrs_build(ctx->conf->directory) != 0) {
		snprintf(reason, len, "out of memory");
		return -1;
	}
	return 0;
}

struct mamori_conf *
mamori_conf_load(const char *path, char *err, size_t errlen)
{
	struct parse_ctx ctx = { 0 };
	struct service_seen *seen, *next;
	struct stat st;
	int fd, line;
	char reason[256];

	ctx.conf = mamori_conf_defaults();
	if (ctx.conf == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	/* O_NONBLOCK so that a FIFO in the way cannot hang start-up. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		goto fail;
	}
	if ((st.st_mode & 022) != 0 || (st.st_uid != 0 && st.st_uid != geteuid())) {
		snprintf(err, errlen, "%s: writable by others or owned by another user (mode %04o, uid %lu)", path,
		         (unsigned)(st.st_mode & 07777), (unsigned long)st.st_uid);
		close(fd);
		goto fail;
	}
	ctx.file = fdopen(fd, "r");
	if (ctx.file == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		goto fail;
	}
	line = ini_parse_stream(conf_reader, &ctx, conf_ini_handler, &ctx);
	fclose(ctx.file);
	free(ctx.linebuf);
	for (seen = ctx.services_seen; seen != NULL; seen = next) {
		next = seen->next;
		free(seen);
	}
	/* inih reports the first line it could not parse; our reader and
	 * handler report the first line they refused.  The earlier wins. */
	if (ctx.error_line != 0 && (line <= 0 || ctx.error_line <= line)) {
		snprintf(err, errlen, "%s:%d: %s", path, ctx.error_line, ctx.reason);
		goto fail;
	}
	if (line != 0) {
		if (line < 0)
			snprintf(err, errlen, "%s: cannot read", path);
		else
			snprintf(err, errlen, "%s:%d: syntax error", path, line);
		goto fail;
	}
	if (store_check(&ctx, reason, sizeof(reason), &line) != 0 ||
	    directory_check(&ctx, reason, sizeof(reason), &line) != 0 ||
	    conf_check(ctx.conf, reason, sizeof(reason), &line) != 0) {
		if (line > 0)
			snprintf(err, errlen, "%s:%d: %s", path, line, reason);
		else
			snprintf(err, errlen, "%s: %s", path, reason);
		goto fail;
	}
	return ctx.conf;
fail:
	mamori_conf_free(&ctx.conf);
	return NULL;
}

void
mamori_conf_free(struct mamori_conf **confp)
{
	struct mamori_conf *c;
	struct mamori_service_conf *s, *next;

	if (confp == NULL || *confp == NULL)
		return;
	c = *confp;
	free(c->runtime_dir);
	free(c->state_dir);
	free(c->admin_group);
	free(c->store_backend);
	free(c->store_path);
	free(c->store_node);
	free(c->store_conninfo);
	free(c->store_listen_conninfo);
	free(c->blocklist);
	free(c->org_words);
	free(c->banner);
	free(c->reserved_names);
	free(c->incident_hook);
	free(c->store_key);
	free(c->audit_key);
	free(c->audit_checkpoint);
	free(c->store_next_key);
	free(c->store_previous_key);
	free(c->totp_issuer);
	free(c->totp_algorithm);
	free(c->totp_first_enroll);
	free(c->card_profiles);
	free(c->card_helper);
	free(c->card_helper_user);
	free(c->card_ca_file);
	free(c->card_crl_file);
	free(c->fido2_rp_id);
	free(c->fido2_helper);
	free(c->fido2_helper_user);
	free(c->fido2_helper_group);
	mamori_conf_dir_free(&c->directory);
	for (s = c->services; s != NULL; s = next) {
		next = s->next;
		free(s->name);
		free(s->system);
		free(s->allow_users);
		free(s->allow_groups);
		free(s);
	}
	for (struct mamori_system_conf *sys = c->systems, *sn; sys != NULL; sys = sn) {
		sn = sys->next;
		free(sys->name);
		free(sys);
	}
	free(c);
	*confp = NULL;
}

const struct mamori_service_conf *
mamori_conf_service(const struct mamori_conf *conf, const char *service)
{
	for (const struct mamori_service_conf *s = conf->services; s != NULL; s = s->next) {
		if (!strcmp(s->name, service))
			return s;
	}
	return NULL;
}

const char *
mamori_conf_service_system(const struct mamori_conf *conf, const char *service)
{
	const struct mamori_service_conf *s = mamori_conf_service(conf, service);

	return s != NULL ? s->system : "default";
}

int
mamori_conf_system_mynumber(const struct mamori_conf *conf, const char *system)
{
	for (const struct mamori_system_conf *s = conf->systems; s != NULL; s = s->next) {
		if (!strcmp(s->name, system))
			return s->mynumber;
	}
	return 0;
}

int
mamori_conf_service_remote(const struct mamori_conf *conf, const char *service)
{
	const struct mamori_service_conf *s = mamori_conf_service(conf, service);

	if (s != NULL && s->remote >= 0)
		return s->remote;
	/* P-REMOTE: off by default on My Number systems. */
	return !mamori_conf_system_mynumber(conf, s != NULL ? s->system : "default");
}

/* The PAM services of clients that run at the machine itself, where no
 * PAM_RHOST means the console (or the session the user is already in). */
static const char *const console_services[] = {
	"login",         "su",
	"su-l",          "sudo",
	"sudo-i",        "runuser",
	"runuser-l",     "passwd",
	"gdm-password",  "gdm-fingerprint",
	"gdm-smartcard", "gdm-autologin",
	"lightdm",       "lightdm-autologin",
	"sddm",          "sddm-autologin",
	"xdm",           "kde",
	"xscreensaver",  "i3lock",
	"swaylock",      NULL,
};

int
mamori_conf_rhost_empty_local(const struct mamori_conf *conf, const char *service)
{
	const struct mamori_service_conf *s = mamori_conf_service(conf, service);

	if (s != NULL && s->rhost_empty_local >= 0)
		return s->rhost_empty_local;
	for (size_t i = 0; console_services[i] != NULL; i++) {
		if (!strcmp(service, console_services[i]))
			return 1;
	}
	return 0;
}

int
mamori_conf_name_reserved(const struct mamori_conf *conf, const char *name)
{
	const char *p;
	size_t len = strlen(name);

	for (const char *const *r = builtin_reserved; *r != NULL; r++) {
		if (strcasecmp(*r, name) == 0)
			return 1;
	}
	for (p = conf->reserved_names; p != NULL && *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t n;

		while (*p == ' ')
			p++;
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n == len && strncasecmp(p, name, n) == 0)
			return 1;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return 0;
}

static int
join(char *buf, size_t len, const char *dir, const char *file)
{
	int n = snprintf(buf, len, "%s/%s", dir, file);

	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

int
mamori_conf_pam_socket(const struct mamori_conf *conf, char *buf, size_t len)
{
	return join(buf, len, conf->runtime_dir, "pam.sock");
}

int
mamori_conf_admin_socket(const struct mamori_conf *conf, char *buf, size_t len)
{
	return join(buf, len, conf->runtime_dir, "admin.sock");
}

int
mamori_conf_store_path(const struct mamori_conf *conf, char *buf, size_t len)
{
	if (conf->store_path != NULL) {
		int n = snprintf(buf, len, "%s", conf->store_path);
		return (n < 0 || (size_t)n >= len) ? -1 : 0;
	}
	return join(buf, len, conf->state_dir, "mamori.db");
}

int
mamori_conf_audit_checkpoint_path(const struct mamori_conf *conf, char *buf, size_t len)
{
	if (conf->audit_checkpoint != NULL) {
		int n = snprintf(buf, len, "%s", conf->audit_checkpoint);
		return (n < 0 || (size_t)n >= len) ? -1 : 0;
	}
	return join(buf, len, conf->state_dir, "audit.checkpoint");
}

static int
key_beside(const char *set, const char *key, const char *suffix, char *buf, size_t len)
{
	int n = set != NULL ? snprintf(buf, len, "%s", set) : snprintf(buf, len, "%s%s", key, suffix);

	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

int
mamori_conf_next_key_path(const struct mamori_conf *conf, char *buf, size_t len)
{
	return key_beside(conf->store_next_key, conf->store_key, ".next", buf, len);
}

int
mamori_conf_previous_key_path(const struct mamori_conf *conf, char *buf, size_t len)
{
	return key_beside(conf->store_previous_key, conf->store_key, ".previous", buf, len);
}
