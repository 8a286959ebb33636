/* SPDX-License-Identifier: BSD-2-Clause */
/* mamorictl status: the daemon at a glance. */
#include "config.h"

#include <stdio.h>

#include <jansson.h>

#include "args.h"
#include "commands.h"
#include "output.h"
#include "protocol.h"
#include "wire.h"

/* [offline] enabled: "store: online", or "store: offline since TIME (N
 * logins, M audit rows waiting)". */
static void
status_offline(struct output_list *l, const json_t *offline)
{
	long long since = json_integer_value(json_object_get(offline, "since"));
	long long waiting = json_integer_value(json_object_get(offline, "waiting"));
	char when[64], text[160];

	if (!json_is_object(offline))
		return;
	if (since == 0)
		snprintf(text, sizeof(text), "online (%lld offline audit rows waiting)", waiting);
	else
		snprintf(text, sizeof(text), "offline since %s (%lld logins, %lld audit rows waiting)",
		         output_time_zoned(since, when, sizeof(when)),
		         (long long)json_integer_value(json_object_get(offline, "logins")), waiting);
	output_list_text(l, "store", text);
}

int
cmd_status(struct cli *cli, int argc, char **argv)
{
	const char *cmd = "status";
	const json_t *params, *store, *uptime;
	struct output_list l = { .n = 0 };
	char buf[64];
	json_t *reply;
	int rc;

	rc = cli_bare_call(cli, cmd, MAMORI_ADMIN_STATUS, argc, argv, &reply);
	if (rc != CLI_CONTINUE)
		return rc;
	params = mamori_wire_parameters(reply);
	store = json_object_get(params, "store");
	uptime = json_object_get(params, "uptime");
	output_list_text(&l, "socket", cli->socket_path);
	output_list_value(&l, "version", json_object_get(params, "version"), "-");
	output_list_time(&l, "started", json_object_get(params, "started_at"), "-");
	if (json_is_integer(uptime))
		output_list_text(&l, "uptime",
		                 output_duration((long long)json_integer_value(uptime), buf, sizeof(buf)));
	else
		output_list_value(&l, "uptime", uptime, "-");
	output_list_value(&l, "store backend", json_object_get(store, "backend"), "-");
	output_list_value(&l, "store path", json_object_get(store, "path"), "-");
	status_offline(&l, json_object_get(params, "offline"));
	output_list_value(&l, "users", json_object_get(params, "users"), "-");
	output_list_value(&l, "audit rows", json_object_get(params, "audit_rows"), "-");
	output_list_value(&l, "connections", json_object_get(params, "connections"), "-");
	output_list_print(&l);
	json_decref(reply);
	return CLI_EXIT_OK;
}
