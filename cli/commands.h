/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CLI_COMMANDS_H
#define MAMORI_CLI_COMMANDS_H

#include "runtime.h"

/* One function per command, in one file per group (cmd_GROUP.c).  argv[0]
 * is the command's last word ("add", "list", "status"); options are parsed
 * with getopt_long from argv[1].  Each returns an enum cli_exit value after
 * printing its result or one error line. */
int cmd_user_add(struct cli *cli, int argc, char **argv);
int cmd_user_show(struct cli *cli, int argc, char **argv);
int cmd_user_list(struct cli *cli, int argc, char **argv);
int cmd_user_disable(struct cli *cli, int argc, char **argv);
int cmd_user_enable(struct cli *cli, int argc, char **argv);
int cmd_user_delete(struct cli *cli, int argc, char **argv);
int cmd_user_set(struct cli *cli, int argc, char **argv);
int cmd_user_rename(struct cli *cli, int argc, char **argv);
int cmd_user_lock(struct cli *cli, int argc, char **argv);
int cmd_user_unlock(struct cli *cli, int argc, char **argv);
int cmd_user_members(struct cli *cli, int argc, char **argv);
/* lock and unlock as one-word commands: the same calls as user lock and
 * user unlock, with their own name in messages. */
int cmd_lock(struct cli *cli, int argc, char **argv);
int cmd_unlock(struct cli *cli, int argc, char **argv);
int cmd_password_temp(struct cli *cli, int argc, char **argv);
int cmd_password_compromised(struct cli *cli, int argc, char **argv);
int cmd_totp_enroll(struct cli *cli, int argc, char **argv);
int cmd_totp_remove(struct cli *cli, int argc, char **argv);
int cmd_totp_list(struct cli *cli, int argc, char **argv);
int cmd_totp_require(struct cli *cli, int argc, char **argv);
int cmd_totp_enroll_code(struct cli *cli, int argc, char **argv);
int cmd_factor_enroll(struct cli *cli, int argc, char **argv);
int cmd_factor_confirm(struct cli *cli, int argc, char **argv);
int cmd_factor_list(struct cli *cli, int argc, char **argv);
int cmd_factor_revoke(struct cli *cli, int argc, char **argv);
int cmd_factor_require(struct cli *cli, int argc, char **argv);
int cmd_enroll_code(struct cli *cli, int argc, char **argv);
int cmd_card_enroll(struct cli *cli, int argc, char **argv);
int cmd_card_list(struct cli *cli, int argc, char **argv);
int cmd_card_revoke(struct cli *cli, int argc, char **argv);
int cmd_card_report_lost(struct cli *cli, int argc, char **argv);
int cmd_fido2_enroll(struct cli *cli, int argc, char **argv);
int cmd_fido2_list(struct cli *cli, int argc, char **argv);
int cmd_fido2_remove(struct cli *cli, int argc, char **argv);
int cmd_fido2_revoke(struct cli *cli, int argc, char **argv);
int cmd_finger_allow(struct cli *cli, int argc, char **argv);
int cmd_finger_revoke(struct cli *cli, int argc, char **argv);
int cmd_finger_list(struct cli *cli, int argc, char **argv);
int cmd_audit_show(struct cli *cli, int argc, char **argv);
int cmd_audit_verify(struct cli *cli, int argc, char **argv);
int cmd_key_new(struct cli *cli, int argc, char **argv);
int cmd_key_status(struct cli *cli, int argc, char **argv);
int cmd_key_rotate(struct cli *cli, int argc, char **argv);
int cmd_directory_sync(struct cli *cli, int argc, char **argv);
int cmd_directory_status(struct cli *cli, int argc, char **argv);
int cmd_directory_approve(struct cli *cli, int argc, char **argv);
int cmd_report_stale(struct cli *cli, int argc, char **argv);
int cmd_status(struct cli *cli, int argc, char **argv);
/* store migrate runs locally, without the daemon (cmd_store.c). */
int cmd_store_migrate(struct cli *cli, int argc, char **argv);

/* Run the command argv[0] [argv[1]] names, from the one table of commands
 * (commands.c).  An enum cli_exit value. */
int cli_dispatch(struct cli *cli, int argc, char **argv);

#endif
