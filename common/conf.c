/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "conf.h"
#include "names.h"

enum conf_type { CONF_STRING, CONF_PATH, CONF_UINT, CONF_BOOL, CONF_ENUM };

struct conf_key {
	const char *section;
	const char *key;
	enum conf_type type;
	size_t offset;
	unsigned long min, max;
	const char *const *choices; /* CONF_ENUM */
};

static const char *const store_backends[] = { "sqlite", NULL };

#define OFF(field) offsetof(struct mamori_conf, field)

static const struct conf_key conf_keys[] = {
	{ "daemon", "runtime_dir", CONF_PATH, OFF(runtime_dir), 0, 0, NULL },
	{ "daemon", "state_dir", CONF_PATH, OFF(state_dir), 0, 0, NULL },
	{ "daemon", "admin_group", CONF_STRING, OFF(admin_group), 0, 0, NULL },
	{ "daemon", "max_connections", CONF_UINT, OFF(max_connections), 1, 65536, NULL },
	{ "daemon", "max_connections_per_uid", CONF_UINT, OFF(max_connections_per_uid), 1, 65536, NULL },
	{ "daemon", "max_argon2", CONF_UINT, OFF(max_argon2), 0, 1024, NULL },
	{ "daemon", "idle_timeout", CONF_UINT, OFF(idle_timeout), 1, 3600, NULL },
	{ "daemon", "debug", CONF_BOOL, OFF(debug), 0, 1, NULL },
	{ "store", "backend", CONF_ENUM, OFF(store_backend), 0, 0, store_backends },
	{ "store", "path", CONF_PATH, OFF(store_path), 0, 0, NULL },
	{ "password", "argon2_t", CONF_UINT, OFF(argon2_t), 1, 64, NULL },
	/* libargon2 needs at least 8 KiB per lane; 4 GiB is a sane ceiling. */
	{ "password", "argon2_m_kib", CONF_UINT, OFF(argon2_m_kib), 8, 4194304, NULL },
	{ "password", "argon2_p", CONF_UINT, OFF(argon2_p), 1, 64, NULL },
	{ "password", "temp_length", CONF_UINT, OFF(temp_length), 12, 64, NULL },
};

struct parse_ctx {
	struct mamori_conf *conf;
	char reason[256];
};

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

	if (value[0] == '\0' || value[0] == '-' || value[0] == '+')
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
	s->next = conf->services;
	conf->services = s;
	return s;
}

static int
handle_service(struct parse_ctx *ctx, const char *service, const char *key, const char *value)
{
	struct mamori_service_conf *s;

	if (!mamori_service_name_valid(service)) {
		snprintf(ctx->reason, sizeof(ctx->reason), "invalid service name \"%s\"", service);
		return 0;
	}
	s = service_get(ctx->conf, service, 1);
	if (s == NULL) {
		snprintf(ctx->reason, sizeof(ctx->reason), "out of memory");
		return 0;
	}
	if (key == NULL)
		return 1;
	if (!strcmp(key, "system")) {
		if (!mamori_service_name_valid(value)) {
			snprintf(ctx->reason, sizeof(ctx->reason), "invalid system name \"%s\"", value);
			return 0;
		}
		if (set_string(&s->system, value) != 0) {
			snprintf(ctx->reason, sizeof(ctx->reason), "out of memory");
			return 0;
		}
		return 1;
	}
	snprintf(ctx->reason, sizeof(ctx->reason), "unknown key \"%s\" in [service %s]", key, service);
	return 0;
}

static int
handle_key(struct parse_ctx *ctx, const struct conf_key *k, const char *value)
{
	char *base = (char *)ctx->conf;
	unsigned long n;
	int b;

	switch (k->type) {
	case CONF_PATH:
		if (value[0] != '/') {
			snprintf(ctx->reason, sizeof(ctx->reason), "%s must be an absolute path", k->key);
			return 0;
		}
		if (strlen(value) > 200) {
			snprintf(ctx->reason, sizeof(ctx->reason), "%s is too long", k->key);
			return 0;
		}
		/* fall through */
	case CONF_STRING:
		if (value[0] == '\0') {
			snprintf(ctx->reason, sizeof(ctx->reason), "%s must not be empty", k->key);
			return 0;
		}
		if (set_string((char **)(void *)(base + k->offset), value) != 0) {
			snprintf(ctx->reason, sizeof(ctx->reason), "out of memory");
			return 0;
		}
		return 1;
	case CONF_ENUM:
		for (const char *const *c = k->choices; *c != NULL; c++) {
			if (!strcmp(*c, value))
				return set_string((char **)(void *)(base + k->offset), value) == 0;
		}
		snprintf(ctx->reason, sizeof(ctx->reason), "unsupported %s \"%s\"", k->key, value);
		return 0;
	case CONF_UINT:
		if (parse_uint(value, k->min, k->max, &n) != 0) {
			snprintf(ctx->reason, sizeof(ctx->reason), "%s must be a whole number from %lu to %lu", k->key,
			         k->min, k->max);
			return 0;
		}
		/* Every CONF_UINT field is an unsigned int or a uint32_t. */
		*(unsigned *)(void *)(base + k->offset) = (unsigned)n;
		return 1;
	case CONF_BOOL:
		if (parse_bool(value, &b) != 0) {
			snprintf(ctx->reason, sizeof(ctx->reason), "%s must be yes or no", k->key);
			return 0;
		}
		*(int *)(void *)(base + k->offset) = b;
		return 1;
	}
	return 0;
}

static int
conf_ini_handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	int known_section = 0;

	if (ctx->reason[0] != '\0')
		return 0;
	if (!strncmp(section, "service ", 8))
		return handle_service(ctx, section + 8, name, value);
	for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++) {
		const struct conf_key *k = &conf_keys[i];
		if (strcmp(k->section, section) != 0)
			continue;
		known_section = 1;
		if (name != NULL && !strcmp(k->key, name))
			return handle_key(ctx, k, value);
	}
	if (!known_section) {
		snprintf(ctx->reason, sizeof(ctx->reason), "unknown section [%s]", section);
		return 0;
	}
	if (name == NULL)
		return 1;
	snprintf(ctx->reason, sizeof(ctx->reason), "unknown key \"%s\" in [%s]", name, section);
	return 0;
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
	if (c->runtime_dir == NULL || c->state_dir == NULL || c->admin_group == NULL || c->store_backend == NULL) {
		mamori_conf_free(&c);
		return NULL;
	}
	c->max_connections = 256;
	c->max_connections_per_uid = 16;
	c->max_argon2 = 0;
	c->idle_timeout = 120;
	c->argon2_t = 3;
	c->argon2_m_kib = 65536;
	c->argon2_p = 1;
	c->temp_length = 16;
	return c;
}

struct mamori_conf *
mamori_conf_load(const char *path, char *err, size_t errlen)
{
	struct parse_ctx ctx = { 0 };
	struct stat st;
	FILE *f;
	int fd, line;

	ctx.conf = mamori_conf_defaults();
	if (ctx.conf == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		goto fail;
	}
	f = fdopen(fd, "r");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		goto fail;
	}
	line = ini_parse_file(f, conf_ini_handler, &ctx);
	fclose(f);
	if (line != 0) {
		if (line < 0)
			snprintf(err, errlen, "%s: cannot read", path);
		else if (ctx.reason[0] != '\0')
			snprintf(err, errlen, "%s:%d: %s", path, line, ctx.reason);
		else
			snprintf(err, errlen, "%s:%d: syntax error", path, line);
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
	for (s = c->services; s != NULL; s = next) {
		next = s->next;
		free(s->name);
		free(s->system);
		free(s);
	}
	free(c);
	*confp = NULL;
}

const char *
mamori_conf_service_system(const struct mamori_conf *conf, const char *service)
{
	for (const struct mamori_service_conf *s = conf->services; s != NULL; s = s->next) {
		if (!strcmp(s->name, service))
			return s->system;
	}
	return "default";
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
