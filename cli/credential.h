/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CLI_CREDENTIAL_H
#define MAMORI_CLI_CREDENTIAL_H

#include <stddef.h>

#include <jansson.h>

#include "conversation.h"
#include "runtime.h"

/* The daemon's limit on a verification code. */
#define CLI_CODE_MAX 10
#define CLI_CODE_PROMPT "Verification code: "

/* A verification code as typed: spaces dropped ("123 456", as
 * authenticator apps show it), then 1 to CLI_CODE_MAX digits.  Rewritten
 * in place.  CLI_CONTINUE, or CLI_EXIT_USAGE after reporting (without the
 * code: it is a secret until used). */
int cli_code_check(const char *cmd, char *code, size_t *lenp);

/* The handover of a new credential for the person to load into an
 * authenticator (FactorEnroll's or TotpEnroll's reply): its URI, secret and
 * parameters as key: value lines, then the URI as a QR code unless cv->qr
 * is 0.  Written with write(2) to conversation_info_fd and wiped.
 * CLI_CONTINUE, or an exit status after reporting. */
int cli_handover_show(const struct conversation *cv, const json_t *params);

/* The whole of a command that asks method ({name} -> {code, expires_at})
 * for a one-time enrolment code: the code alone is the last line, for
 * scripts. */
int cli_enroll_code(struct cli *cli, int argc, char **argv, const char *cmd, const char *method);

#endif
