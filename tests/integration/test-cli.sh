#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# mamorictl against a real daemon.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "mamorictl" test -x "$CTL"
require "python3" test -x /usr/bin/python3

new_env
start_daemon || { echo "Bail out! daemon did not start"; exit 1; }

json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

t_user_lifecycle() {
	local out
	ctl user add sato.taro --kind contractor --expires 2031-03-31 >/dev/null
	out=$(ctl --json user show sato.taro)
	expect_eq "$(echo "$out" | json 'd["user"]["kind"]')" contractor "kind"
	expect_eq "$(echo "$out" | json 'd["user"]["state"]')" pending "state before a password"
	expect_eq "$(echo "$out" | json 'd["user"]["expires"]')" 2031-03-31 "expires"
	expect_eq "$(echo "$out" | json 'd["user"]["privileged"]')" False "privileged"
	ctl user add suzuki.admin --privileged >/dev/null
	expect_eq "$(ctl --json user show suzuki.admin | json 'd["user"]["privileged"]')" True "privileged"
	out=$(ctl user list)
	echo "$out"
	expect_match "$out" 'sato\.taro +contractor' "list"
	ctl user disable sato.taro >/dev/null
	expect_eq "$(ctl --json user show sato.taro | json 'd["user"]["state"]')" disabled "after disable"
	ctl user enable sato.taro >/dev/null
	expect_eq "$(ctl --json user show sato.taro | json 'd["user"]["state"]')" pending "enable without password"
	ctl user delete sato.taro >/dev/null
	local rc=0
	ctl user show sato.taro 2>"$T/err" || rc=$?
	expect_eq "$rc" 1 "exit status for a missing user"
	expect_eq "$(wc -l <"$T/err")" 1 "one error line"
	expect_match "$(cat "$T/err")" '^mamorictl: .*sato\.taro.*' "error line"
}

t_errors_are_one_line_and_nonzero() {
	local rc
	ctl user add tanaka >/dev/null
	rc=0; ctl user add tanaka 2>"$T/err" || rc=$?
	expect_eq "$rc" 1 "duplicate add"
	expect_eq "$(wc -l <"$T/err")" 1 "one line"
	rc=0; ctl user add 'bad/name' 2>"$T/err" || rc=$?
	expect_eq "$rc" 2 "invalid name"
	rc=0; ctl user add x1 --kind boss 2>"$T/err" || rc=$?
	expect_eq "$rc" 2 "invalid kind"
	rc=0; ctl user add x2 --expires 2026-02-31 2>"$T/err" || rc=$?
	[ "$rc" -ne 0 ] || fail "impossible date accepted"
	rc=0; ctl frobnicate 2>"$T/err" || rc=$?
	expect_eq "$rc" 2 "unknown command"
	rc=0; "$CTL" --socket "$T/run/nonexistent.sock" status 2>"$T/err" || rc=$?
	expect_eq "$rc" 3 "unreachable daemon"
	expect_eq "$(wc -l <"$T/err")" 1 "one line"
}

t_password_temp_generated_is_last_line() {
	local out last
	ctl user add ito >/dev/null
	out=$(ctl password temp ito)
	last=$(echo "$out" | tail -n 1)
	echo "$out"
	expect_match "$last" '^[A-Za-z2-9]{16}$' "generated password line"
	pam -p "$last" mamori-test ito auth=SUCCESS acct=NEW_AUTHTOK_REQD
	out=$(ctl --json password temp ito)
	expect_match "$(echo "$out" | json 'd["password"]')" '^[A-Za-z2-9]{16}$' "json password"
}

t_password_temp_stdin() {
	local out
	ctl user add kato >/dev/null
	out=$(printf 'Kato-Temp-Pass-1\n' | ctl password temp kato --password-stdin)
	! echo "$out" | grep -q 'Kato-Temp-Pass-1' || fail "password echoed"
	pam -p 'Kato-Temp-Pass-1' mamori-test kato auth=SUCCESS
	local rc=0
	printf '\n' | ctl password temp kato --password-stdin 2>/dev/null || rc=$?
	[ "$rc" -ne 0 ] || fail "empty password accepted"
}

t_audit_show_and_since() {
	local out n
	out=$(ctl --json audit show)
	n=$(echo "$out" | json 'len(d["records"])')
	[ "$n" -ge 5 ] || fail "only $n records"
	advance_clock 86400
	ctl user add late.comer >/dev/null
	out=$(ctl --json audit show --since "$(cat "$T/clock")")
	echo "$out" | json '"\n".join(r["reason"] or "" for r in d["records"])'
	expect_eq "$(echo "$out" | json 'd["records"][0]["reason"]')" "user add" "first record since"
	out=$(ctl audit show)
	expect_match "$out" 'user add' "human audit listing"
	# The row of an account made or changed records what was set.
	ctl user add early.bird --hours 'Mon-Fri 07:00-09:00' >/dev/null
	ctl user set early.bird --kind contractor >/dev/null
	out=$(ctl --json audit show --since "$(cat "$T/clock")")
	expect_eq "$(echo "$out" | json '[r["detail"]["hours"] for r in d["records"] if r["user"] == "early.bird"]')" \
		"['Mon-Fri 07:00-09:00', 'Mon-Fri 07:00-09:00']" "hours in the user add and user set rows"
	expect_eq "$(echo "$out" | json '[r["detail"]["kind"] for r in d["records"] if r["user"] == "early.bird"]')" \
		"['staff', 'contractor']" "kind in the user add and user set rows"
	set_clock "$(date +%s)"
}

t_listings_longer_than_one_message() {
	# 400 users and their audit rows are far more than 64 KiB.
	local i n
	for i in $(seq 1 400); do echo "user$i"; done | while read -r u; do ctl user add "$u" >/dev/null; done
	n=$(ctl --json user list | json 'len(d["users"])')
	[ "$n" -ge 400 ] || fail "user list gave $n users"
	expect_eq "$(ctl user list | grep -c '^user[0-9]')" 400 "human user list"
	n=$(ctl --json audit show | json 'len(d["records"])')
	[ "$n" -ge 400 ] || fail "audit show gave $n records"
	expect_eq "$(ctl --json audit show --limit 250 | json 'len(d["records"])')" 250 "audit show --limit"
	ctl audit verify
}

t_status() {
	local out
	out=$(ctl --json status)
	expect_match "$(echo "$out" | json 'd["store"]["backend"]')" sqlite "backend"
	[ "$(echo "$out" | json 'd["users"]')" -ge 1 ] || fail "users"
	out=$(ctl status)
	expect_match "$out" 'version' "human status"
}

t_acting_admin_recorded() {
	# The audit row names the login uid of the caller when one is set.
	local actor
	actor=$(sql "SELECT actor FROM audit WHERE category = 'admin' AND reason = 'user add' LIMIT 1")
	[ -n "$actor" ] || fail "no actor recorded"
	expected=$(cat /proc/self/loginuid 2>/dev/null || echo 4294967295)
	if [ "$expected" = 4294967295 ]; then
		expect_eq "$actor" root "actor without a login uid"
	else
		expect_eq "$actor" "$(getent passwd "$expected" | cut -d: -f1)" "actor from the login uid"
	fi
}

t_failed_attempts_count_the_locking_failure() {
	# The failure that locks an account is one of its failed attempts.
	local i
	add_user fa.kudo 'Hoshi-no-Yoru-2030'
	for i in 1 2 3 4; do pam -p 'wrong' mamori-test fa.kudo auth=AUTH_ERR >/dev/null; done
	expect_eq "$(ctl --json user show fa.kudo | json 'd["user"]["failed_attempts"]')" 4 "after 4 failures"
	pam -p 'wrong' mamori-test fa.kudo auth=MAXTRIES >/dev/null
	expect_eq "$(ctl --json user show fa.kudo | json 'd["user"]["locked"]')" True "locked after 5"
	expect_eq "$(ctl --json user show fa.kudo | json 'd["user"]["failed_attempts"]')" 5 "after the 5th, which locked"
	expect_match "$(ctl user show fa.kudo)" 'failed attempts: *5' "human user show"
	# Once the lock has run out, the next failure opens a new window.
	advance_clock 901
	expect_eq "$(ctl --json user show fa.kudo | json 'd["user"]["failed_attempts"]')" 0 "after the lock ran out"
	pam -p 'wrong' mamori-test fa.kudo auth=AUTH_ERR >/dev/null
	expect_eq "$(ctl --json user show fa.kudo | json 'd["user"]["failed_attempts"]')" 1 "a new window"
	pam -p 'Hoshi-no-Yoru-2030' mamori-test fa.kudo auth=SUCCESS >/dev/null
	expect_eq "$(ctl --json user show fa.kudo | json 'd["user"]["failed_attempts"]')" 0 "after a success"
	set_clock "$(date +%s)"
}

run_test "user add, show, list, disable, enable, delete" t_user_lifecycle
run_test "errors are one line on stderr with a non-zero exit" t_errors_are_one_line_and_nonzero
run_test "P-PW-TEMP a generated temporary password is the last line" t_password_temp_generated_is_last_line
run_test "P-PW-SECRET password temp --password-stdin" t_password_temp_stdin
run_test "P-AUDIT audit show and --since" t_audit_show_and_since
run_test "listings longer than one message are paged" t_listings_longer_than_one_message
run_test "status" t_status
run_test "P-AUDIT the acting administrator is recorded" t_acting_admin_recorded
run_test "P-LOGIN-UI user show counts the failure that locked the account" t_failed_attempts_count_the_locking_failure
tap_done
