/* SPDX-License-Identifier: BSD-2-Clause */
/* mamorictl key: the store key that seals TOTP secrets (P-CRED-STORE).
 * key new writes a fresh key file; key status lists the keys the daemon
 * holds and how many secrets each seals; key rotate re-seals every secret
 * under the next key, batch after batch, with its progress. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "args.h"
#include "commands.h"
#include "error.h"
#include "output.h"
#include "protocol.h"
#include "secure.h"
#include "wire.h"

#define KEY_LEN 32

/* Write KEY_LEN random bytes to a new file at path, 0600; never over an
 * existing file or through a symbolic link. */
static int
key_write(const char *path)
{
	unsigned char key[KEY_LEN];
	size_t done = 0;
	ssize_t n;
	int fd, rc = -1;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, S_IRUSR | S_IWUSR);
	if (fd < 0) {
		output_error("key new: %s: %s", path, strerror(errno));
		return -1;
	}
	if (mamori_random_bytes(key, sizeof(key)) != 0 || fchmod(fd, S_IRUSR | S_IWUSR) != 0)
		goto out;
	while (done < sizeof(key)) {
		n = write(fd, key + done, sizeof(key) - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		done += (size_t)n;
	}
	if (fsync(fd) == 0)
		rc = 0;
out:
	if (rc != 0)
		output_error("key new: %s: %s", path, strerror(errno));
	mamori_wipe(key, sizeof(key));
	if (close(fd) != 0)
		rc = -1;
	if (rc != 0)
		(void)unlink(path);
	return rc;
}

int
cmd_key_new(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "key new";
	int rc;

	rc = cli_parse_no_options(cli, cmd, argc, argv);
	if (rc != CLI_CONTINUE)
		return rc;
	rc = cli_check_operands(cmd, "PATH", argc, argv, 1);
	if (rc != CLI_CONTINUE)
		return rc;
	if (key_write(argv[optind]) != 0)
		return CLI_EXIT_FAILED;
	printf("new store key written to %s (32 bytes, mode 0600): install it as [store] next_key on every "
	       "terminal, owned by the daemon's user, and reload each daemon\n",
	       argv[optind]);
	return CLI_EXIT_OK;
}

int
cmd_key_status(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "key status";
	const json_t *params, *keys, *row;
	struct output_list l = { .n = 0 };
	json_t *reply;
	size_t i;
	int rc;

	rc = cli_bare_call(cli, cmd, MAMORI_ADMIN_KEY_STATUS, argc, argv, &reply);
	if (rc != CLI_CONTINUE)
		return rc;
	params = mamori_wire_parameters(reply);
	keys = json_object_get(params, "keys");
	output_list_value(&l, "current key", json_object_get(keys, "current"), "-");
	output_list_value(&l, "next key", json_object_get(keys, "next"), "-");
	output_list_value(&l, "previous key", json_object_get(keys, "previous"), "-");
	output_list_value(&l, "sealed secrets", json_object_get(params, "total"), "-");
	output_list_print(&l);
	json_array_foreach (json_object_get(params, "sealed"), i, row) {
		const json_t *id = json_object_get(row, "key_id");

		printf("  under %-18s %lld%s\n", json_is_string(id) ? json_string_value(id) : "(unrecorded)",
		       (long long)json_integer_value(json_object_get(row, "count")),
		       json_is_true(json_object_get(row, "loaded")) ? "" : "  NOT LOADED HERE");
	}
	json_decref(reply);
	return CLI_EXIT_OK;
}

/* One batch's unopened credentials, reported as they come. */
static long long
report_unopened(const json_t *params, json_t *all)
{
	const json_t *u;
	size_t i;

	json_array_foreach (json_object_get(params, "unopened"), i, u) {
		const json_t *id = json_object_get(u, "key_id");

		output_error("credential %lld of user id %lld (store key %s) does not open with the keys loaded",
		             (long long)json_integer_value(json_object_get(u, "credential")),
		             (long long)json_integer_value(json_object_get(u, "user_id")),
		             json_is_string(id) ? json_string_value(id) : "unrecorded");
		json_array_append(all, (json_t *)u);
	}
	return (long long)i;
}

/* --batch N: secrets re-sealed per call (1 to 10000, default 100). */
static int
rotate_options(struct cli *cli, const char *cmd, int argc, char **argv, long long *batch)
{
	static const struct option options[] = { { "batch", required_argument, NULL, CLI_OPT_FIRST }, CLI_OPTIONS_END };
	char *end;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		if (c == CLI_OPT_FIRST) {
			errno = 0;
			*batch = strtoll(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || *batch < 1 || *batch > 10000) {
				output_error("%s: invalid --batch '%.64s' (want 1 to 10000)", cmd, optarg);
				return CLI_EXIT_USAGE;
			}
			continue;
		}
		rc = cli_common_option(cli, cmd, c, argv);
		if (rc != CLI_CONTINUE)
			return rc;
	}
	return CLI_CONTINUE;
}

int
cmd_key_rotate(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "key rotate", *target = "?";
	long long after = 0, last = 0, done = 0, changed = 0, n = 0, failed = 0, batch = 100;
	int more = 0;
	const json_t *params;
	json_t *reply = NULL, *unopened = json_array();
	char target_buf[64] = "";
	int rc;

	rc = rotate_options(cli, cmd, argc, argv, &batch);
	if (rc == CLI_CONTINUE)
		rc = cli_check_operands(cmd, "", argc, argv, 0);
	if (rc != CLI_CONTINUE || unopened == NULL) {
		json_decref(unopened);
		return rc != CLI_CONTINUE ? rc : CLI_EXIT_FAILED;
	}
	do {
		rc = cli_admin_call(cli, MAMORI_ADMIN_KEY_ROTATE,
		                    json_pack("{s:I,s:I}", "batch", (json_int_t)batch, "after_id", (json_int_t)after),
		                    "key rotate", &reply);
		if (rc != CLI_EXIT_OK)
			break;
		params = mamori_wire_parameters(reply);
		if (mamori_wire_get_string(params, "key_id", 32, &target) == MAMORI_OK)
			snprintf(target_buf, sizeof(target_buf), "%s", target);
		if (mamori_wire_get_int(params, "last_id", 0, INT64_MAX, &last) != MAMORI_OK ||
		    !json_is_boolean(json_object_get(params, "more"))) {
			rc = cli_unexpected_reply("no last_id or more");
			break;
		}
		more = json_is_true(json_object_get(params, "more"));
		mamori_wire_get_int(params, "resealed", 0, INT64_MAX, &n);
		done += n;
		mamori_wire_get_int(params, "changed", 0, INT64_MAX, &n);
		changed += n;
		failed += report_unopened(params, unopened);
		json_decref(reply);
		reply = NULL;
		if (!cli->json)
			fprintf(stderr, "key rotate: %lld re-sealed, %s\n", done, more ? "more to go" : "none to go");
		/* No step forward: nothing more this call can do. */
		if (last <= after)
			break;
		after = last;
	} while (more);
	json_decref(reply);
	if (rc == CLI_EXIT_OK && cli->json) {
		json_t *out = json_pack("{s:s,s:I,s:I,s:O}", "key_id", target_buf, "resealed", (json_int_t)done,
		                        "changed", (json_int_t)changed, "unopened", unopened);
		rc = out != NULL && json_dumpf(out, stdout, JSON_COMPACT) == 0 && puts("") >= 0 ? CLI_EXIT_OK
		                                                                                : CLI_EXIT_FAILED;
		json_decref(out);
	} else if (rc == CLI_EXIT_OK) {
		printf("%lld secrets re-sealed under store key %s (%lld changed meanwhile, %lld would not open)\n",
		       done, target_buf, changed, failed);
	}
	json_decref(unopened);
	return rc == CLI_EXIT_OK && failed > 0 ? CLI_EXIT_FAILED : rc;
}
