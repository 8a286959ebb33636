/* SPDX-License-Identifier: BSD-2-Clause */
/* mamorictl store migrate --to postgresql: move this terminal's SQLite
 * store into the central PostgreSQL store.  Unlike every other command it
 * does not ask the daemon: it runs the store code itself, as root, with the
 * daemon stopped (docs/architecture.md "Moving a terminal to the central
 * store"). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "client.h"
#include "commands.h"
#include "conf.h"
#include "error.h"
#include "log.h"
#include "output.h"
#include "store/migrate.h"

enum {
	OPT_TO = CLI_OPT_FIRST,
	OPT_CONNINFO,
	OPT_TARGET_CONFIG,
	OPT_TARGET_KEY,
	OPT_TARGET_AUDIT_KEY,
	OPT_DRY_RUN,
};

/* clang-format off */
static const struct option migrate_options[] = {
	{ "to", required_argument, NULL, OPT_TO },
	{ "conninfo", required_argument, NULL, OPT_CONNINFO },
	{ "config", required_argument, NULL, OPT_TARGET_CONFIG },
	{ "target-key", required_argument, NULL, OPT_TARGET_KEY },
	{ "target-audit-key", required_argument, NULL, OPT_TARGET_AUDIT_KEY },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	CLI_OPTIONS_END,
};
/* clang-format on */

struct migrate_args {
	const char *to, *conninfo, *target_config;
	struct mamori_migrate_opts o;
};

static int
parse(struct cli *cli, const char *cmd, int argc, char **argv, struct migrate_args *a)
{
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", migrate_options, NULL)) != -1) {
		switch (c) {
		case OPT_TO:
			a->to = optarg;
			break;
		case OPT_CONNINFO:
			a->conninfo = optarg;
			break;
		case OPT_TARGET_CONFIG:
			a->target_config = optarg;
			break;
		case OPT_TARGET_KEY:
			a->o.target_key = optarg;
			break;
		case OPT_TARGET_AUDIT_KEY:
			a->o.target_audit_key = optarg;
			break;
		case OPT_DRY_RUN:
			a->o.dry_run = 1;
			break;
		default:
			if ((rc = cli_common_option(cli, cmd, c, argv)) != CLI_CONTINUE)
				return rc;
		}
	}
	if ((rc = cli_check_operands(cmd, "", argc, argv, 0)) != CLI_CONTINUE)
		return rc;
	if (a->to == NULL || strcmp(a->to, "postgresql") != 0) {
		output_error("%s: --to postgresql is required (the only target)", cmd);
		return CLI_EXIT_USAGE;
	}
	if ((a->conninfo == NULL) == (a->target_config == NULL)) {
		output_error("%s: give the target with exactly one of --conninfo and --config", cmd);
		return CLI_EXIT_USAGE;
	}
	return CLI_CONTINUE;
}

/* The target's configuration: --config FILE, or the terminal's own with
 * [store] backend = postgresql and conninfo = --conninfo (checked as
 * mamori.conf's is: no password in it). */
static struct mamori_conf *
target_conf(const struct migrate_args *a, const char *source_path, const char *cmd)
{
	struct mamori_conf *conf;
	char err[512];

	conf = mamori_conf_load(a->target_config ? a->target_config : source_path, err, sizeof(err));
	if (conf == NULL) {
		output_error("%s: %s", cmd, err);
		return NULL;
	}
	if (a->conninfo != NULL) {
		char *backend = strdup("postgresql"), *conninfo = strdup(a->conninfo);

		if (backend == NULL || conninfo == NULL ||
		    mamori_conf_conninfo_check("conninfo", conninfo, err, sizeof(err)) != 0) {
			output_error("%s: --conninfo: %s", cmd, backend && conninfo ? err : "out of memory");
			free(backend);
			free(conninfo);
			mamori_conf_free(&conf);
			return NULL;
		}
		free(conf->store_backend);
		free(conf->store_conninfo);
		conf->store_backend = backend;
		conf->store_conninfo = conninfo;
	}
	if (conf->store_backend == NULL || strcmp(conf->store_backend, "postgresql") != 0) {
		output_error("%s: %s: [store] backend is not postgresql", cmd, a->target_config);
		mamori_conf_free(&conf);
	}
	return conf;
}

/* The daemon must be stopped: its admin socket must not answer. */
static int
daemon_running(const struct mamori_conf *conf)
{
	char path[CLI_SOCKET_PATH_MAX];
	int fd;

	if (mamori_conf_admin_socket(conf, path, sizeof(path)) != 0)
		return 0;
	fd = mamori_client_connect(path, 0);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static void
show_progress(void *data, const char *phase, int64_t done, int64_t total)
{
	int tty = *(int *)data, width = 30, fill = total > 0 ? (int)(done * width / total) : width;

	if (!tty) {
		if (done == total)
			fprintf(stderr, "migrate: %s %lld/%lld\n", phase, (long long)done, (long long)total);
		return;
	}
	fprintf(stderr, "\r%-9s [%.*s%*s] %lld/%lld", phase, fill, "##############################", width - fill, "",
	        (long long)done, (long long)total);
	if (done == total)
		fputc('\n', stderr);
}

int
cmd_store_migrate(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "store migrate";
	const char *source_path = cli->config_opt ? cli->config_opt : MAMORI_DEFAULT_CONFIG;
	struct migrate_args a = { .o = { .out = stdout } };
	struct mamori_conf *source = NULL, *target = NULL;
	char err[1024];
	int rc, tty = isatty(STDERR_FILENO);

	if ((rc = parse(cli, cmd, argc, argv, &a)) != CLI_CONTINUE)
		return rc;
	if ((source = mamori_conf_load(source_path, err, sizeof(err))) == NULL) {
		output_error("%s: %s", cmd, err);
		return CLI_EXIT_USAGE;
	}
	if ((target = target_conf(&a, source_path, cmd)) == NULL) {
		mamori_conf_free(&source);
		return CLI_EXIT_USAGE;
	}
	if (daemon_running(source)) {
		output_error("%s: mamori-authd is running on this terminal: stop it first (the store is moved with "
		             "the daemon stopped)",
		             cmd);
		rc = CLI_EXIT_FAILED;
		goto out;
	}
	/* The store's own errors to syslog (err says what failed); not to
	 * stderr, where each imported audit row would be copied too. */
	mamori_log_init("mamorictl", 0, 0);
	a.o.source = source;
	a.o.target = target;
	a.o.progress = show_progress;
	a.o.progress_data = &tty;
	rc = mamori_migrate_run(&a.o, err, sizeof(err));
	if (rc != MAMORI_OK)
		output_error("%s: %s", cmd, err);
	rc = rc == MAMORI_OK ? CLI_EXIT_OK : CLI_EXIT_FAILED;
out:
	mamori_conf_free(&target);
	mamori_conf_free(&source);
	return rc;
}
