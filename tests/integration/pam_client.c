/* SPDX-License-Identifier: BSD-2-Clause */
/* A PAM client for the integration tests, built on libpamtest: runs the
 * given operations in one PAM handle, checks each return code, and prints
 * what the modules said.  Run it under pam_wrapper.
 *
 *   pam_client [-p ANSWER]... [-e ANSWER]... SERVICE USER OP=CODE...
 *
 * OP is auth, setcred, acct, open, close or chauthtok; CODE is a PAM return
 * code name without the PAM_ prefix (SUCCESS, AUTH_ERR, ...).  Exit status 0
 * when every operation returned its expected code. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpamtest.h>
#include <security/pam_appl.h>

#define MAX_ANSWERS 32
#define MAX_CASES 16
#define MAX_MESSAGES 32

struct code_name {
	const char *name;
	int code;
};

static const struct code_name codes[] = {
	{ "SUCCESS", PAM_SUCCESS },
	{ "AUTH_ERR", PAM_AUTH_ERR },
	{ "USER_UNKNOWN", PAM_USER_UNKNOWN },
	{ "AUTHINFO_UNAVAIL", PAM_AUTHINFO_UNAVAIL },
	{ "CRED_INSUFFICIENT", PAM_CRED_INSUFFICIENT },
	{ "MAXTRIES", PAM_MAXTRIES },
	{ "ACCT_EXPIRED", PAM_ACCT_EXPIRED },
	{ "NEW_AUTHTOK_REQD", PAM_NEW_AUTHTOK_REQD },
	{ "PERM_DENIED", PAM_PERM_DENIED },
	{ "AUTHTOK_ERR", PAM_AUTHTOK_ERR },
	{ "AUTHTOK_RECOVERY_ERR", PAM_AUTHTOK_RECOVERY_ERR },
	{ "TRY_AGAIN", PAM_TRY_AGAIN },
	{ "SYSTEM_ERR", PAM_SYSTEM_ERR },
	{ "SERVICE_ERR", PAM_SERVICE_ERR },
	{ "SESSION_ERR", PAM_SESSION_ERR },
	{ "IGNORE", PAM_IGNORE },
	{ "ABORT", PAM_ABORT },
	{ "CONV_ERR", PAM_CONV_ERR },
	{ "BUF_ERR", PAM_BUF_ERR },
};

static const char *
code_name(int code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		if (codes[i].code == code)
			return codes[i].name;
	}
	return "UNKNOWN";
}

static int
parse_case(const char *arg, struct pam_testcase *tc)
{
	static const struct {
		const char *name;
		enum pamtest_ops op;
	} ops[] = {
		{ "auth", PAMTEST_AUTHENTICATE },   { "setcred", PAMTEST_SETCRED },
		{ "acct", PAMTEST_ACCOUNT },        { "open", PAMTEST_OPEN_SESSION },
		{ "close", PAMTEST_CLOSE_SESSION }, { "chauthtok", PAMTEST_CHAUTHTOK },
	};
	const char *eq = strchr(arg, '=');

	if (eq == NULL)
		return -1;
	memset(tc, 0, sizeof(*tc));
	tc->pam_operation = (enum pamtest_ops) - 1;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strlen(ops[i].name) == (size_t)(eq - arg) && !strncmp(arg, ops[i].name, (size_t)(eq - arg)))
			tc->pam_operation = ops[i].op;
	}
	if (tc->pam_operation == (enum pamtest_ops) - 1)
		return -1;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		if (!strcmp(eq + 1, codes[i].name)) {
			tc->expected_rv = codes[i].code;
			return 0;
		}
	}
	return -1;
}

int
main(int argc, char **argv)
{
	const char *echo_off[MAX_ANSWERS + 1] = { NULL }, *echo_on[MAX_ANSWERS + 1] = { NULL };
	char *out_err[MAX_MESSAGES + 1] = { NULL }, *out_info[MAX_MESSAGES + 1] = { NULL };
	struct pam_testcase cases[MAX_CASES];
	struct pamtest_conv_data conv = { 0 };
	size_t n_off = 0, n_on = 0, n_cases = 0;
	enum pamtest_err perr;
	int i, status = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-p") && i + 1 < argc && n_off < MAX_ANSWERS)
			echo_off[n_off++] = argv[++i];
		else if (!strcmp(argv[i], "-e") && i + 1 < argc && n_on < MAX_ANSWERS)
			echo_on[n_on++] = argv[++i];
		else
			break;
	}
	if (argc - i < 3) {
		fprintf(stderr, "usage: pam_client [-p ANSWER]... [-e ANSWER]... SERVICE USER OP=CODE...\n");
		return 2;
	}
	const char *service = argv[i], *user = argv[i + 1];
	for (i += 2; i < argc; i++) {
		if (n_cases >= MAX_CASES || parse_case(argv[i], &cases[n_cases]) != 0) {
			fprintf(stderr, "pam_client: bad operation \"%s\"\n", argv[i]);
			return 2;
		}
		n_cases++;
	}
	for (i = 0; i < MAX_MESSAGES; i++) {
		out_err[i] = calloc(1, PAM_MAX_MSG_SIZE);
		out_info[i] = calloc(1, PAM_MAX_MSG_SIZE);
		if (out_err[i] == NULL || out_info[i] == NULL)
			return 2;
	}
	conv.in_echo_off = echo_off;
	conv.in_echo_on = echo_on;
	conv.out_err = out_err;
	conv.out_info = out_info;

	/* run_pamtest() is a macro over a fixed-size array; call the function
	 * it expands to with the number of cases given. */
	perr = _pamtest(service, user, &conv, cases, n_cases, NULL);
	for (size_t c = 0; c < n_cases; c++)
		printf("op %zu: %s (expected %s)\n", c + 1, code_name(cases[c].op_rv), code_name(cases[c].expected_rv));
	for (i = 0; i < MAX_MESSAGES && out_info[i][0] != '\0'; i++)
		printf("info: %s\n", out_info[i]);
	for (i = 0; i < MAX_MESSAGES && out_err[i][0] != '\0'; i++)
		printf("error: %s\n", out_err[i]);
	if (perr != PAMTEST_ERR_OK) {
		const struct pam_testcase *failed = pamtest_failed_case(cases);
		if (failed != NULL)
			printf("FAILED: operation %ld returned %s, expected %s\n", (long)(failed - cases) + 1,
			       code_name(failed->op_rv), code_name(failed->expected_rv));
		else
			printf("FAILED: %s\n", pamtest_strerror(perr));
		status = 1;
	}
	for (i = 0; i < MAX_MESSAGES; i++) {
		free(out_err[i]);
		free(out_info[i]);
	}
	return status;
}
