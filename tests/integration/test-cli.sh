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

run_test "user add, show, list, disable, enable, delete" t_user_lifecycle
run_test "errors are one line on stderr with a non-zero exit" t_errors_are_one_line_and_nonzero
run_test "P-PW-TEMP a generated temporary password is the last line" t_password_temp_generated_is_last_line
run_test "P-PW-SECRET password temp --password-stdin" t_password_temp_stdin
run_test "P-AUDIT audit show and --since" t_audit_show_and_since
run_test "listings longer than one message are paged" t_listings_longer_than_one_message
run_test "status" t_status
run_test "P-AUDIT the acting administrator is recorded" t_acting_admin_recorded
# ------------------------------------------------------------ P-AUDIT anchoring
# Each test below tampers with the log, so it runs its own daemon (in the
# test's subshell; stopped and removed when the subshell exits).
own_daemon() {
	new_env
	trap 'stop_daemon; rm -rf "$T"' EXIT
	start_daemon
}

# verify_fails PATTERN [CTL OPTIONS]: audit verify exits 1 with PATTERN in
# its message (the reply, with --json, in $T/out).
verify_fails() {
	local rc=0
	ctl "${@:2}" audit verify >"$T/out" 2>"$T/err" || rc=$?
	cat "$T/out" "$T/err"
	expect_eq "$rc" 1 "audit verify exit status"
	expect_match "$(cat "$T/err")" "$1" "audit verify message"
}

t_audit_deleted_newest_rows() {
	own_daemon
	local i max
	for i in 1 2 3 4 5; do ctl user add "trunc$i" >/dev/null; done
	ctl audit verify
	max=$(sql "SELECT max(id) FROM audit")
	sql "DELETE FROM audit WHERE id > $((max - 3))"
	verify_fails "^mamorictl: audit chain broken: 3 rows missing" --json
	expect_eq "$(json 'd["missing"]' <"$T/out")" 3 "missing rows in --json"
	expect_eq "$(json 'd["checkpoint_rows"]' <"$T/out")" "$max" "checkpoint rows in --json"
}

t_audit_deleted_all_rows() {
	own_daemon
	local max
	ctl user add gone1 >/dev/null
	max=$(sql "SELECT max(id) FROM audit")
	sql "DELETE FROM audit"
	verify_fails "audit chain broken: $max rows missing"
}

# The newest row edited and its hash recomputed, as anyone who can write
# the store can: the links hold, the MAC (under a key the store lacks)
# does not.
t_audit_edited_row_mac() {
	own_daemon
	ctl user add edit.me >/dev/null
	/usr/bin/python3 - "$T/state/mamori.db" <<'PY'
import hashlib, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.row_factory = sqlite3.Row
r = dict(db.execute("SELECT * FROM audit ORDER BY id DESC LIMIT 1").fetchone())
r["user"] = "mallory"
canon = {k: r[k] for k in ("actor", "category", "detail", "id", "peer_pid", "peer_uid", "prev_hash",
                          "reason", "result", "rhost", "service", "ts", "tty", "user")}
text = json.dumps(canon, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
h = hashlib.sha256((r["prev_hash"] + "\n" + text).encode()).hexdigest()
db.execute("UPDATE audit SET user = ?, hash = ? WHERE id = ?", ("mallory", h, r["id"]))
db.commit()
PY
	verify_fails "audit chain broken at row [0-9]+: row MAC does not match"
}

t_audit_checkpoint_missing_or_tampered() {
	own_daemon
	ctl user add cp.user >/dev/null
	[ -f "$T/state/audit.checkpoint" ] || fail "no checkpoint file"
	expect_eq "$(stat -c %a "$T/state/audit.checkpoint")" 600 "checkpoint mode"
	expect_eq "$(stat -c %a "$T/state/audit.key")" 600 "audit key mode"
	rm "$T/state/audit.checkpoint"
	verify_fails "audit checkpoint .*: missing"
	# The verify's own row rewrote it from what the daemon wrote.
	ctl audit verify
	sed -i 's/"rows":[0-9]*/"rows":1/' "$T/state/audit.checkpoint"
	verify_fails "audit checkpoint .*: its MAC does not match"
}

# A transaction that fails at COMMIT (a deferred foreign key, checked only
# then) rolls back: its audit row never reaches the log (the daemon's log
# stands in for syslog here: in the foreground it copies every line there).
t_audit_rollback_not_logged() {
	own_daemon
	sql "CREATE TABLE trap (x INTEGER REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED);
	     CREATE TRIGGER trap_t AFTER INSERT ON audit WHEN NEW.user = 'rolled.back'
	     BEGIN INSERT INTO trap VALUES (424242); END;"
	local rc=0
	ctl user add rolled.back 2>"$T/err" || rc=$?
	expect_eq "$rc" 1 "user add whose commit fails"
	sql "DROP TRIGGER trap_t; DROP TABLE trap;"
	ctl user add committed.user >/dev/null
	grep -q 'audit id=[0-9]* category=admin .*user=committed\.user' "$T/daemon.log" ||
		fail "the committed row is not in the daemon's log"
	! grep 'user=rolled\.back' "$T/daemon.log" || fail "a rolled-back row reached the log"
	ctl audit verify
}

# Verify walks a snapshot of its own: a login completes while it runs.
t_audit_login_during_verify() {
	own_daemon
	add_user walker 'Quiet-Harbor-7391x'
	stop_daemon
	"$top_builddir/tests/bench/audit-fill" "$T/mamori.conf" 150000
	start_daemon
	ctl audit verify >"$T/verify.out" 2>&1 &
	local vpid=$! i
	# Wait until the daemon is walking (its read connection is open).
	for i in $(seq 1 100); do
		[ "$(ls -l /proc/"$(cat "$T/daemon.pid")"/fd 2>/dev/null | grep -c 'mamori\.db$')" -ge 2 ] && break
		sleep 0.02
	done
	pam -p 'Quiet-Harbor-7391x' mamori-test walker auth=SUCCESS
	kill -0 "$vpid" 2>/dev/null || fail "verify ended before the login did: the log is too small to tell"
	wait "$vpid"
	expect_match "$(cat "$T/verify.out")" 'audit chain intact: 1500[0-9][0-9] rows' "verify"
}

run_test "P-AUDIT verify reports deleted newest rows and how many are missing" t_audit_deleted_newest_rows
run_test "P-AUDIT verify reports a log whose rows were all deleted" t_audit_deleted_all_rows
run_test "P-AUDIT verify finds an edited row whose hash was recomputed (MAC)" t_audit_edited_row_mac
run_test "P-AUDIT verify reports a missing or tampered checkpoint file" t_audit_checkpoint_missing_or_tampered
run_test "P-AUDIT a rolled-back transaction leaves no audit line in the log" t_audit_rollback_not_logged
run_test "P-AUDIT a login completes while verify walks a large log" t_audit_login_during_verify
tap_done
