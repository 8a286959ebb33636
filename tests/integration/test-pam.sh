#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The password login end to end: real daemon, pam_mamori.so, PAM stacks
# through pam_wrapper and libpamtest.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "pam_wrapper" test -n "$PAM_WRAPPER_LIB"
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "pam_mamori.so" test -f "$BUILT_MODULE"
require "pamtester" command -v pamtester
require "sqlite3" command -v sqlite3

# Minimum password age is tested in test-policy.sh; here passwords change
# several times a day.
EXTRA_CONF=$'[policy staff]\nmin_age_days = 0'
new_env
start_daemon || { echo "Bail out! daemon did not start"; cat "$T/daemon.log"; exit 1; }
add_user alice 'Correct-Horse-42'

t_correct_password() {
	pam -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS acct=SUCCESS
}

t_wrong_password() {
	pam -p 'wrong-password' mamori-test alice auth=AUTH_ERR
}

t_unknown_user_same_prompts() {
	local known unknown
	# Both fail (their status is checked); their transcripts must match.
	known=$(printf 'nope\n' | pamtester_run mamori-test alice authenticate 2>&1) && fail "a wrong password authenticated"
	unknown=$(printf 'nope\n' | pamtester_run mamori-test nosuchuser authenticate 2>&1) && fail "an unknown user authenticated"
	known=$(sed 's/alice/USER/g' <<<"$known")
	unknown=$(sed 's/nosuchuser/USER/g' <<<"$unknown")
	echo "known:   $known"
	echo "unknown: $unknown"
	expect_eq "$unknown" "$known" "pamtester transcript"
	expect_match "$known" 'Password: ' "prompt"
	pam -p 'Correct-Horse-42' mamori-test nosuchuser auth=AUTH_ERR
}

t_temporary_password_forced_change() {
	local temp out
	ctl user add bob >/dev/null
	temp=$(ctl password temp bob | tail -n 1)
	[ ${#temp} -ge 12 ] || fail "generated password too short: '$temp'"
	out=$(pam -p "$temp" -p 'Kaede-no-Aki-2030' -p 'Kaede-no-Aki-2030' mamori-test bob \
		auth=SUCCESS acct=NEW_AUTHTOK_REQD chauthtok=SUCCESS)
	echo "$out"
	expect_match "$out" 'change your temporary password' "account message"
	pam -p 'Kaede-no-Aki-2030' mamori-test bob auth=SUCCESS acct=SUCCESS
	pam -p "$temp" mamori-test bob auth=AUTH_ERR
}

t_chauthtok_asks_current_password_without_ticket() {
	add_user greta 'Ichigo-Daifuku-2030'
	pam -p 'Ichigo-Daifuku-2030' -p 'Another-Secret-77' -p 'Another-Secret-77' mamori-test greta chauthtok=SUCCESS
	pam -p 'Another-Secret-77' mamori-test greta auth=SUCCESS
	pam -p 'wrong-current' -p 'x' -p 'x' mamori-test greta chauthtok=AUTHTOK_RECOVERY_ERR
	pam -p 'Another-Secret-77' -p 'Third-Secret-88' -p 'Mismatch-99' mamori-test greta chauthtok=AUTHTOK_ERR
	pam -p 'Another-Secret-77' -p 'Fourth-Secret-Kumo-9' -p 'Fourth-Secret-Kumo-9' mamori-test greta chauthtok=SUCCESS
	pam -p 'Fourth-Secret-Kumo-9' mamori-test greta auth=SUCCESS
}

t_change_through_another_system_replaces_the_password_in_effect() {
	local temp
	ctl user add fumi >/dev/null
	temp=$(ctl password temp fumi | tail -n 1)
	pam -p "$temp" -p 'Momiji-no-Aka-2030' -p 'Momiji-no-Aka-2030' mamori-mn fumi \
		auth=SUCCESS acct=NEW_AUTHTOK_REQD chauthtok=SUCCESS
	pam -p 'Momiji-no-Aka-2030' mamori-test fumi auth=SUCCESS acct=SUCCESS
	pam -p 'Momiji-no-Aka-2030' mamori-mn fumi auth=SUCCESS acct=SUCCESS
	pam -p "$temp" mamori-test fumi auth=AUTH_ERR
	expect_eq "$(ctl --json user show fumi | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["password"]["temporary"])')" False "temporary flag"
}

t_disabled_user_refused() {
	add_user carol 'Tsubaki-no-Hana-11'
	pam -p 'Tsubaki-no-Hana-11' mamori-test carol auth=SUCCESS acct=SUCCESS
	ctl user disable carol >/dev/null
	pam -p 'Tsubaki-no-Hana-11' mamori-test carol auth=AUTH_ERR
	pam mamori-test carol acct=ACCT_EXPIRED
	ctl user enable carol >/dev/null
	pam -p 'Tsubaki-no-Hana-11' mamori-test carol auth=SUCCESS acct=SUCCESS
}

t_expired_account_refused() {
	set_clock "$(date -d '2030-01-20 12:00' +%s)"
	add_user dave 'Ajisai-no-Ame-22' --expires 2030-01-31
	set_clock "$(date -d '2030-01-31 12:00' +%s)"
	pam -p 'Ajisai-no-Ame-22' mamori-test dave auth=SUCCESS acct=SUCCESS
	set_clock "$(date -d '2030-02-01 00:00:01' +%s)"
	pam mamori-test dave acct=ACCT_EXPIRED
	# The authentication alone refuses it too (stacks without account
	# management).
	pam -p 'Ajisai-no-Ame-22' mamori-test dave auth=AUTH_ERR
	set_clock "$(date +%s)"
}

t_unused_temporary_password_expires() {
	local temp
	ctl user add erin >/dev/null
	temp=$(ctl password temp erin | tail -n 1)
	advance_clock $((72 * 3600 + 1))
	pam -p "$temp" mamori-test erin auth=AUTH_ERR
	set_clock "$(date +%s)"
	pam -p "$temp" mamori-test erin auth=SUCCESS
}

t_unknown_user_account_check() {
	pam mamori-test nosuchuser acct=USER_UNKNOWN
}

t_session_open_close() {
	local before after
	before=$(sql "SELECT count(*) FROM sessions WHERE closed_at IS NULL")
	pam -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS open=SUCCESS close=SUCCESS
	after=$(sql "SELECT count(*) FROM sessions WHERE closed_at IS NULL")
	expect_eq "$after" "$before" "open sessions after close"
	expect_eq "$(sql "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.name = 'alice' AND closed_at IS NOT NULL")" 1 "closed sessions"
}

t_non_root_caller_only_for_itself() {
	# nobody is a real local user: it may authenticate as "nobody", never as alice.
	add_user nobody 'Kinmokusei-33x'
	pam -u nobody -p 'Kinmokusei-33x' mamori-test nobody auth=SUCCESS
	pam -u nobody -p 'Correct-Horse-42' mamori-test alice auth=AUTH_ERR
	pam -u nobody mamori-test alice acct=PERM_DENIED
	grep -q 'may not act for alice' "$T/daemon.log" || fail "refusal not logged"
}

t_non_root_cannot_use_admin_socket() {
	local rc=0 out
	# The program itself runs as nobody: the refusal below is the socket's.
	runuser -u nobody -- "$RUNAS_CTL" --version >/dev/null || fail "nobody cannot run mamorictl"
	out=$(runuser -u nobody -- "$RUNAS_CTL" --socket "$T/run/admin.sock" user list 2>&1) || rc=$?
	echo "$out"
	[ "$rc" -ne 0 ] || fail "nobody listed users"
	expect_match "$out" 'cannot connect to .*/admin\.sock: Permission denied' "the refusal"
}

t_audit_records_attempts() {
	local n
	n=$(sql "SELECT count(*) FROM audit WHERE category = 'auth' AND user = 'alice' AND result = 'auth_err' AND reason = 'wrong password'")
	[ "$n" -ge 1 ] || fail "no audit row for the wrong password"
	n=$(sql "SELECT count(*) FROM audit WHERE category = 'auth' AND user = 'nosuchuser' AND reason = 'unknown user'")
	[ "$n" -ge 1 ] || fail "no audit row for the unknown user"
	n=$(sql "SELECT count(*) FROM audit WHERE category = 'admin' AND reason = 'password temp' AND user = 'bob' AND actor IS NOT NULL")
	[ "$n" -ge 1 ] || fail "no audit row for the admin action"
	n=$(sql "SELECT count(*) FROM audit WHERE category = 'auth' AND peer_pid IS NOT NULL AND peer_uid = 0")
	[ "$n" -ge 1 ] || fail "peer credentials not recorded"
}

t_audit_verify_detects_tampering() {
	ctl audit verify
	sql "UPDATE audit SET result = 'success' WHERE id = (SELECT min(id) FROM audit WHERE result = 'auth_err')"
	local rc=0 out
	out=$(ctl audit verify 2>&1) || rc=$?
	echo "$out"
	[ "$rc" -ne 0 ] || fail "audit verify passed after tampering"
	expect_match "$out" 'row [0-9]+' "verify message"
}

t_secrets_never_logged() {
	! grep -q 'Correct-Horse-42' "$T/daemon.log" || fail "password in daemon log"
	expect_not_in_store "the password" 'Correct-Horse-42'
}

t_daemon_stopped_authinfo_unavail() {
	stop_daemon
	[ ! -e "$T/run/pam.sock" ] || fail "pam.sock left behind after SIGTERM"
	pam -p 'Correct-Horse-42' mamori-test alice auth=AUTHINFO_UNAVAIL
	pam mamori-test alice acct=AUTHINFO_UNAVAIL
	start_daemon
	pam -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS
}

run_test "correct password succeeds" t_correct_password
run_test "wrong password gives PAM_AUTH_ERR" t_wrong_password
run_test "unknown user sees the same prompts and fails" t_unknown_user_same_prompts
run_test "P-PW-TEMP temporary password forces a change at first login" t_temporary_password_forced_change
run_test "chauthtok asks for the current password without a ticket" t_chauthtok_asks_current_password_without_ticket
run_test "P-PW-TEMP a change through another system's service replaces the password in effect" t_change_through_another_system_replaces_the_password_in_effect
run_test "disabled user refused" t_disabled_user_refused
run_clock_test "expired account refused by account management" t_expired_account_refused
run_clock_test "P-PW-TEMP unused temporary password expires" t_unused_temporary_password_expires
run_test "account check of an unknown user" t_unknown_user_account_check
run_test "sessions are registered and closed" t_session_open_close
run_test "non-root caller may act only for its own user" t_non_root_caller_only_for_itself
run_test "non-root caller cannot use the admin socket" t_non_root_cannot_use_admin_socket
run_test "P-AUDIT attempts and admin actions are audited" t_audit_records_attempts
run_test "P-AUDIT audit verify detects an altered row" t_audit_verify_detects_tampering
run_test "P-PW-SECRET passwords are not logged or stored in clear" t_secrets_never_logged
run_test "daemon stopped gives PAM_AUTHINFO_UNAVAIL" t_daemon_stopped_authinfo_unavail
tap_done
