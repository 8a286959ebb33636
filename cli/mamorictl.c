/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <jansson.h>

#include "args.h"
#include "commands.h"
#include "output.h"

enum {
	OPT_SOCKET = 256,
	OPT_CONFIG,
	OPT_PAM_SOCKET,
	OPT_JSON,
	OPT_VERSION,
};

/* One entry a line reads better than the columns clang-format packs. */
/* clang-format off */
static const struct option global_options[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "pam-socket", required_argument, NULL, OPT_PAM_SOCKET },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* clang-format on */

/* jansson keeps copies of every string it parses or builds (a generated
 * password among them) and frees them without wiping: wipe on free. */
static void *
json_alloc(size_t size)
{
	return malloc(size);
}

static void
json_free_wiped(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/* Report a failed write to stdout (a full disk, a closed pipe) as a
 * failure instead of exiting 0 with truncated output. */
static int
close_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		output_error("cannot write to standard output: %s", strerror(errno));
		return status == CLI_EXIT_OK ? CLI_EXIT_FAILED : status;
	}
	return status;
}

int
main(int argc, char **argv)
{
	struct cli cli = { 0 };
	struct rlimit no_core = { 0, 0 };
	int c, status;

	/* Temporary passwords, the caller's own password in password
	 * compromised and TOTP secrets pass through this process: no core
	 * dumps. */
	setrlimit(RLIMIT_CORE, &no_core);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	json_set_alloc_funcs(json_alloc, json_free_wiped);
	/* LC_CTYPE only: column widths of non-ASCII text. */
	setlocale(LC_CTYPE, "");

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", global_options, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET:
			cli.socket_opt = optarg;
			break;
		case OPT_CONFIG:
			cli.config_opt = optarg;
			break;
		case OPT_PAM_SOCKET:
			cli.pam_socket_opt = optarg;
			break;
		case OPT_JSON:
			cli.json = 1;
			break;
		case 'h':
			cli_usage();
			return close_stdout(CLI_EXIT_OK);
		case OPT_VERSION:
			printf("mamorictl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return close_stdout(CLI_EXIT_OK);
		case ':':
			output_error("option '%s' needs an argument", argv[optind - 1]);
			return CLI_EXIT_USAGE;
		default:
			if (optopt != 0 && optopt < 256)
				output_error("unknown option '-%c' (see mamorictl --help)", optopt);
			else
				output_error("unknown option '%s' (see mamorictl --help)", argv[optind - 1]);
			return CLI_EXIT_USAGE;
		}
	}
	if (cli.socket_opt != NULL && cli.config_opt != NULL) {
		output_error("--socket and --config exclude each other");
		return CLI_EXIT_USAGE;
	}
	if (optind >= argc) {
		output_error("missing command (see mamorictl --help)");
		return CLI_EXIT_USAGE;
	}
	status = cli_dispatch(&cli, argc - optind, argv + optind);
	return close_stdout(status);
}
