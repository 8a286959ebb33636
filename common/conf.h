/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CONF_H
#define MAMORI_CONF_H

#include <stddef.h>
#include <stdint.h>

/* mamori.conf(5): an INI file read with libinih.  Unknown sections and keys
 * and bad values are errors reported as "file:line: reason". */

#define MAMORI_DEFAULT_CONFIG SYSCONFDIR "/mamori/mamori.conf"

struct mamori_service_conf {
	char *name; /* PAM service name */
	char *system; /* the system it belongs to (password reuse is per system) */
	struct mamori_service_conf *next;
};

struct mamori_conf {
	/* [daemon] */
	char *runtime_dir;
	char *state_dir;
	char *admin_group;
	unsigned max_connections;
	unsigned max_connections_per_uid;
	unsigned max_argon2; /* 0: number of online CPUs */
	unsigned idle_timeout; /* seconds a conversation may wait for input */
	int debug;
	/* [store] */
	char *store_backend;
	char *store_path; /* NULL: state_dir/mamori.db */
	/* [password] */
	uint32_t argon2_t;
	uint32_t argon2_m_kib;
	uint32_t argon2_p;
	unsigned temp_length;
	/* [service NAME] */
	struct mamori_service_conf *services;
};

/* Parse path into a new configuration.  On failure returns NULL and writes
 * "file:line: reason" (or "file: reason") into err. */
struct mamori_conf *mamori_conf_load(const char *path, char *err, size_t errlen);
/* A configuration with every default, for tools that run without a file. */
struct mamori_conf *mamori_conf_defaults(void);
void mamori_conf_free(struct mamori_conf **conf);

/* The system a PAM service belongs to: its [service] entry's system, else
 * "default". */
const char *mamori_conf_service_system(const struct mamori_conf *conf, const char *service);
/* Paths derived from the configuration, written into buf. */
int mamori_conf_pam_socket(const struct mamori_conf *conf, char *buf, size_t len);
int mamori_conf_admin_socket(const struct mamori_conf *conf, char *buf, size_t len);
int mamori_conf_store_path(const struct mamori_conf *conf, char *buf, size_t len);

#endif
