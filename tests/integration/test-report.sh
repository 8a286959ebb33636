#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# mamorictl report stale and the directory commands that need no LDAP
# server (issue #13): the stale-ID report (P-ID-STALE) with the test clock,
# as a table, JSON and RFC 4180 CSV, paged past one message; development
# IDs past their expiry (P-DEV-ID); DirectoryStatus and DirectorySync
# without [directory]; DirectoryApprove's refusals and its success on an
# account put under review through the store (P-ID-LIFECYCLE).  The
# directory itself, against a real slapd, is test-directory.sh.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "mamorictl" test -x "$CTL"
require "python3" test -x /usr/bin/python3
require "sqlite3" command -v sqlite3
require_test_hooks "needs the test clock"

# raw MESSAGE: the daemon's first reply to one message on admin.sock.
raw() {
	$RAW "$T/run/admin.sock" "$1" >"$T/raw"
	head -n 1 "$T/raw"
}

DAY=86400
EXTRA_CONF="[accounts]
stale_after_days = 30"
new_env
START=$(date -d '2030-02-04 10:00:00' +%s)
set_clock "$START"
start_daemon || { echo "Bail out! daemon did not start"; exit 1; }

today() { date -d "@$(cat "$T/clock")" +%Y-%m-%d; }
ustate() { sql "SELECT state FROM users WHERE name = '$1'"; }
# audit_rows REASON: the audit rows with that reason, as "result user" lines.
audit_rows() {
	ctl --json audit show |
		json "'\n'.join('%s %s' % (r['result'], r['user']) for r in d['records'] if r['reason'] == '$1')"
}
# manage NAME DEPARTMENT: a directory row for the account, as the sync
# would write it (the tests here have no directory).
manage() {
	sql "INSERT INTO directory_people (uuid, user_id, dn, employee_number, department, updated_at)
	     SELECT 'uuid-$1', id, 'uid=$1,ou=people,dc=example,dc=test', 'E-$1', '$2', 0
	     FROM users WHERE name = '$1'"
}

# ------------------------------------------------------------ the report

# Accounts made at START; 40 days later st.new logs in, st.old does not.
add_user st.old 'Furui-Kouza-2031x'
add_user st.new 'Atarashii-Kouza-2031x'
add_user st.formula 'Keisan-Hyou-2031x'
ctl user add st.pending >/dev/null
add_user dev.past 'Kaihatsu-Kigen-2031x' --kind dev --expires "$(today)"
ctl user add dev.future --kind dev --expires 2031-12-31 >/dev/null
manage st.old 'Tax, "Revenue" Division'
manage st.formula '=HYPERLINK("http://example.test/x","y")'
advance_clock $((40 * DAY))
pam -p 'Atarashii-Kouza-2031x' mamori-test st.new auth=SUCCESS acct=SUCCESS >/dev/null
# Housekeeping disables the development ID past its expiry (P-DEV-ID).
for _ in $(seq 1 100); do [ "$(ustate dev.past)" = disabled ] && break; sleep 0.1; done

t_stale_json() {
	local out
	out=$(ctl --json report stale)
	echo "$out"
	expect_eq "$(json 'd["stale_after_days"]' <<<"$out")" 30 "stale_after_days"
	expect_eq "$(json 'd["disable"]' <<<"$out")" False "disable"
	expect_eq "$(json 'd["generated_at"]' <<<"$out")" "$(cat "$T/clock")" "generated_at (the daemon's clock)"
	expect_eq "$(json '[a["name"] for a in d["accounts"]]' <<<"$out")" "['st.formula', 'st.old']" \
		"active accounts unused for 30 days, in name order (not st.new, used; not st.pending, not active)"
	expect_eq "$(json '[a for a in d["accounts"] if a["name"] == "st.old"][0]["days_unused"]' <<<"$out")" 40 \
		"days unused"
	expect_eq "$(json '[a for a in d["accounts"] if a["name"] == "st.old"][0]["managed"]' <<<"$out")" True "managed"
	expect_eq "$(json '[a for a in d["accounts"] if a["name"] == "st.old"][0]["department"]' <<<"$out")" \
		'Tax, "Revenue" Division' "department"
	expect_eq "$(json '[a for a in d["accounts"] if a["name"] == "st.old"][0]["last_used"]' <<<"$out")" \
		"$(sql "SELECT last_success_at FROM logins l JOIN users u ON u.id = l.user_id WHERE u.name = 'st.old'")" \
		"last used: the last login"
	expect_eq "$(json '[a["kind"] + " " + a["state"] for a in d["accounts"]]' <<<"$out")" \
		"['staff active', 'staff active']" "kind and state"
	# P-DEV-ID: the development ID whose last valid day has passed, not
	# the one still valid; housekeeping disables it.
	expect_eq "$(json '[a["name"] for a in d["dev_expired"]]' <<<"$out")" "['dev.past']" "dev_expired"
	expect_eq "$(json 'd["dev_expired"][0]["state"]' <<<"$out")" disabled "reported in any state"
	expect_eq "$(json 'd["dev_expired"][0]["expires"]' <<<"$out")" "$(date -d "@$START" +%Y-%m-%d)" "expires"
}

t_stale_table() {
	local out
	out=$(ctl report stale)
	echo "$out"
	expect_match "$out" '^stale accounts: active and unused for 30 days or more' "heading"
	expect_match "$out" '^NAME +KIND +STATE +LAST-USED +DAYS-UNUSED +MANAGED +DEPARTMENT' "header"
	expect_match "$out" '^st\.old +staff +active +2030-02-04 [0-9:]{8} +40 +yes +Tax, "Revenue" Division' "row"
	expect_match "$out" '^development IDs past their expiry:' "second heading"
	expect_match "$out" '^dev\.past +[0-9-]{10} +disabled' "dev row"
	! grep -q 'st\.new\|st\.pending\|dev\.future' <<<"$out" || fail "an account that is not stale"
}

# RFC 4180: CRLF, a header line, quoted fields with their quotes doubled;
# a field a spreadsheet would run as a formula begins with '; UTF-8 with
# no byte order mark.
t_stale_csv() {
	ctl report stale --csv >"$T/stale.csv"
	cat -A "$T/stale.csv"
	/usr/bin/python3 - "$T/stale.csv" <<'PY'
import csv, io, sys
raw = open(sys.argv[1], "rb").read()
assert not raw.startswith(b"\xef\xbb\xbf"), "a byte order mark"
raw.decode("utf-8")
assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b""), "lines end in CRLF"
assert b'"Tax, ""Revenue"" Division"' in raw, "quoting"
rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
assert rows[0] == ["list", "name", "kind", "state", "state_reason", "privileged", "managed", "department",
                   "last_used", "days_unused", "created_at", "expires"], rows[0]
by = {(r[0], r[1]): dict(zip(rows[0], r)) for r in rows[1:]}
assert set(by) == {("stale", "st.formula"), ("stale", "st.old"), ("dev_expired", "dev.past")}, set(by)
old = by[("stale", "st.old")]
assert old["department"] == 'Tax, "Revenue" Division', old
assert old["days_unused"] == "40" and old["managed"] == "yes" and old["state"] == "active", old
assert old["last_used"].startswith("2030-02-04T"), old
assert by[("stale", "st.formula")]["department"] == "'=HYPERLINK(\"http://example.test/x\",\"y\")", by
for r in rows:
    for f in r:
        assert not f.startswith(("=", "+", "-", "@", "\t", "\r")), "formula: %r" % f
assert by[("dev_expired", "dev.past")]["state"] == "disabled"
PY
}

# More stale accounts and expired development IDs than one message holds:
# the daemon pages them, mamorictl fetches every page.
t_stale_paged() {
	local out old=$((START - 100 * DAY))
	sql "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 700)
	     INSERT INTO users (name, kind, state, created_at, updated_at)
	     SELECT 'bulk' || substr('0000' || i, length('0000' || i) - 3), 'staff', 'active', $old, $old FROM c"
	sql "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 700)
	     INSERT INTO users (name, kind, state, expires, created_at, updated_at)
	     SELECT 'dev' || substr('0000' || i, length('0000' || i) - 3), 'dev', 'disabled', '2029-01-01', $old, $old FROM c"
	# One page is not all of it.
	out=$(raw '{"method":"io.mamori.Admin.ReportStale","parameters":{}}')
	expect_eq "$(json 'd["parameters"]["more"]' <<<"$out")" True "a first page that says more"
	[ "${#out}" -lt 65536 ] || fail "a page larger than a message"
	out=$(raw '{"method":"io.mamori.Admin.ReportStale","parameters":{"dev_after":"dev0600"}}')
	expect_eq "$(json '[len(d["parameters"]["accounts"]), len(d["parameters"]["dev_expired"])]' <<<"$out")" \
		"[0, 100]" "the development IDs after dev_after alone"
	out=$(ctl --json report stale)
	expect_eq "$(json 'len([a for a in d["accounts"] if a["name"].startswith("bulk")])' <<<"$out")" 700 \
		"every stale account"
	expect_eq "$(json 'len(set(a["name"] for a in d["accounts"])) == len(d["accounts"])' <<<"$out")" True \
		"none twice"
	expect_eq "$(json '[a["name"] for a in d["accounts"]] == sorted(a["name"] for a in d["accounts"])' <<<"$out")" \
		True "in name order"
	expect_eq "$(json 'len([a for a in d["dev_expired"] if a["name"].startswith("dev0")])' <<<"$out")" 700 \
		"every expired development ID"
	expect_eq "$(ctl report stale --csv | grep -c '^stale,bulk')" 700 "CSV rows"
	sql "DELETE FROM users WHERE name LIKE 'bulk%' OR name LIKE 'dev0%'"
}

t_usage() {
	local rc
	rc=0; ctl report stale --csv --json 2>"$T/err" || rc=$?
	expect_eq "$rc" 2 "--csv with --json"
	expect_match "$(cat "$T/err")" 'exclude each other' "message"
	rc=0; ctl report stale extra 2>/dev/null || rc=$?
	expect_eq "$rc" 2 "an operand"
	rc=0; ctl report 2>/dev/null || rc=$?
	expect_eq "$rc" 2 "report without a subcommand"
	rc=0; ctl directory sync --frobnicate 2>/dev/null || rc=$?
	expect_eq "$rc" 2 "unknown option"
	rc=0; ctl directory approve 2>/dev/null || rc=$?
	expect_eq "$rc" 2 "approve without a name"
	rc=0; ctl directory approve 'bad/name' 2>/dev/null || rc=$?
	expect_eq "$rc" 2 "approve with an invalid name"
	expect_match "$(ctl --help)" 'report stale \[--csv\]' "usage"
}

run_test "P-ID-STALE report stale: unused active accounts with the test clock; P-DEV-ID expired dev IDs" t_stale_json
run_test "P-ID-STALE report stale as a table" t_stale_table
run_test "P-ID-STALE report stale --csv: RFC 4180, CRLF, no BOM, formulas defused" t_stale_csv
run_test "P-ID-STALE report stale pages past one message and mamorictl fetches every page" t_stale_paged
run_test "report and directory usage errors exit 2" t_usage

# --------------------------------------------- without [directory]

t_directory_not_configured() {
	local out rc
	out=$(ctl --json directory status)
	expect_eq "$(json 'd["configured"]' <<<"$out")" False "configured"
	expect_match "$(ctl directory status)" '^configured: +no' "status"
	for opt in "" --dry-run; do
		rc=0
		ctl directory sync $opt >"$T/out" 2>"$T/err" || rc=$?
		expect_eq "$rc" 1 "exit status of sync $opt"
		expect_eq "$(cat "$T/out")" "" "nothing on stdout"
		expect_eq "$(wc -l <"$T/err")" 1 "one error line"
		expect_match "$(cat "$T/err")" '^mamorictl: the HR directory is not configured' "message"
	done
	out=$(raw '{"method":"io.mamori.Admin.DirectorySync","parameters":{}}')
	expect_eq "$(json 'd["error"]' <<<"$out")" io.mamori.Error.NotConfigured "error name"
	# One admin row per sync asked for, saying how it ended.
	expect_eq "$(audit_rows 'directory sync' | sort | uniq -c | awk '{print $1, $2}')" "3 failure" "audited"
	rc=0
	raw '{"method":"io.mamori.Admin.DirectorySync","parameters":{"dry_run":"yes"}}' | grep -q 'InvalidParameter' ||
		fail "dry_run that is not a boolean"
}

# P-ID-LIFECYCLE: DirectoryApprove re-approves an account after a
# transfer, and refuses one that no transfer put under review.
t_directory_approve() {
	local rc out
	rc=0; ctl directory approve nosuch.user 2>"$T/err" || rc=$?
	expect_eq "$rc" 1 "unknown account"
	expect_match "$(cat "$T/err")" 'nosuch\.user.*no such account' "message"
	rc=0; ctl directory approve st.old 2>"$T/err" || rc=$?
	expect_eq "$rc" 1 "an account not under review"
	expect_eq "$(wc -l <"$T/err")" 1 "one error line"
	expect_match "$(cat "$T/err")" '^mamorictl: user st\.old: not under review' "message"
	expect_eq "$(audit_rows 'not under review: no transfer waits for approval')" "failure st.old" "refusal audited"
	# Under review, as a transfer seen in the directory leaves it.
	sql "UPDATE users SET review_required = 1 WHERE name = 'st.old'"
	out=$(ctl directory approve st.old)
	expect_eq "$out" "user st.old: transfer approved; review cleared" "confirmation"
	expect_eq "$(sql "SELECT review_required FROM users WHERE name = 'st.old'")" 0 "review cleared"
	expect_eq "$(audit_rows 'directory approve')" "success st.old" "approval audited"
	sql "UPDATE users SET review_required = 1 WHERE name = 'st.old'"
	out=$(ctl --json directory approve st.old)
	expect_eq "$(json 'd["user"]["name"]' <<<"$out")" st.old "the user object"
	expect_eq "$(json 'd["user"]["review_required"]' <<<"$out")" False "review_required in the reply"
	# P-PRIV-CONTRACTOR: approving gives back privileged access; a
	# contractor (the local user daemon, as login uid) may not.
	ctl user add pr.transfer --privileged >/dev/null
	sql "UPDATE users SET review_required = 1 WHERE name = 'pr.transfer'"
	ctl user add daemon --kind contractor >/dev/null
	rc=0
	(echo "$(id -u daemon)" >/proc/self/loginuid && exec "$CTL" --socket "$T/run/admin.sock" \
		directory approve pr.transfer) 2>"$T/err" || rc=$?
	ctl user delete daemon >/dev/null
	expect_eq "$rc" 1 "a contractor approves a privileged ID"
	expect_match "$(cat "$T/err")" 'P-PRIV-CONTRACTOR' "message"
	expect_eq "$(sql "SELECT review_required FROM users WHERE name = 'pr.transfer'")" 1 "still under review"
}

run_test "P-ID-LIFECYCLE directory status and sync without [directory]: not configured, audited" \
	t_directory_not_configured
run_test "P-ID-LIFECYCLE P-PRIV-CONTRACTOR directory approve: refusals (unknown, not under review, contractor) and approval" \
	t_directory_approve
stop_daemon

# ------------------------------- directory sync against a scripted socket
# What mamorictl makes of each DirectorySync reply, and its progress bar
# on a terminal, against fake_admin.py (no LDAP server, no daemon).

FAKE="/usr/bin/python3 $top_srcdir/tests/integration/fake_admin.py"
fake() {
	fake_stop
	printf '%s' "$1" >"$T/script.json"
	: >"$T/calls"
	$FAKE "$T/fake.sock" "$T/script.json" "$T/calls" 2>>"$T/fake.log" &
	echo $! >"$T/fake.pid"
	local i
	for i in $(seq 1 100); do
		[ -S "$T/fake.sock" ] && return 0
		sleep 0.05
	done
	fail "the scripted admin socket did not start"
}
fake_stop() {
	if [ -f "$T/fake.pid" ]; then
		kill "$(cat "$T/fake.pid")" 2>/dev/null || true
		wait "$(cat "$T/fake.pid")" 2>/dev/null || true
		rm -f "$T/fake.pid" "$T/fake.sock"
	fi
}
fctl() { "$CTL" --socket "$T/fake.sock" "$@"; }
# on_pty ARGS...: mamorictl with its standard output and error on a
# terminal; what it wrote, as bytes, on standard output; its exit status.
on_pty() {
	/usr/bin/python3 - "$CTL" --socket "$T/fake.sock" "$@" <<'PY'
import os, pty, select, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
while True:
    r, _, _ = select.select([fd], [], [], 20)
    if not r:
        break
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
_, st = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(st))
PY
}

SUMMARY='{"created": 3, "changed": 2, "disabled": 1, "enabled": 0, "retired": 1, "refused": 1, "unchanged": 92,
 "total": 100, "sessions_ended": 2, "safety_stop": false, "would_disable": 2, "managed_active": 97,
 "dry_run": false, "force": false}'

t_sync_progress_on_terminal() {
	local out rc=0
	fake '{"io.mamori.Admin.DirectorySync": [{"sleep": 1.5, "then": {"parameters": '"$SUMMARY"'}}],
	       "io.mamori.Admin.DirectoryStatus": [{"parameters": {"configured": true,
	         "running": {"phase": "plan", "done": 45, "total": 100}}}]}'
	out=$(on_pty directory sync | cat -v) || rc=$?
	echo "$out"
	expect_eq "$rc" 0 "exit status"
	expect_match "$out" '\[#########\.\.\.\.\.\.\.\.\.\.\.\]  45% 45/100 plan' "the progress bar"
	expect_match "$out" 'plan\^M\^\[\[Kcreated: +3' "the bar erased before the summary"
	expect_match "$out" 'sessions ended: +2' "summary"
	[ "$(grep -c DirectoryStatus "$T/calls")" -ge 3 ] || fail "DirectoryStatus asked every 200 ms"
	expect_eq "$(grep DirectorySync "$T/calls" | json 'd["parameters"]')" "{'dry_run': False, 'force': False}" \
		"the call"
	# Not on a terminal, or with --json: no bar, no second connection.
	: >"$T/calls"
	out=$(fctl directory sync 2>"$T/err")
	expect_eq "$(cat "$T/err")" "" "nothing on stderr"
	expect_eq "$(printf '%s\n' "$out" | awk -F': *' '{print $1 "=" $2}' | tr '\n' ' ')" \
		"created=3 changed=2 disabled=1 enabled=0 retired=1 refused=1 unchanged=92 total=100 sessions ended=2 " \
		"one line per figure"
	out=$(on_pty --json directory sync --dry-run --force | tr -d '\r')
	expect_eq "$(json 'd["created"]' <<<"$out")" 3 "JSON summary"
	expect_eq "$(grep -c DirectoryStatus "$T/calls")" 0 "no status asked"
	expect_eq "$(grep DirectorySync "$T/calls" | tail -n 1 | json 'd["parameters"]')" \
		"{'dry_run': True, 'force': True}" "--dry-run --force"
	fake_stop
}

t_sync_safety_stop() {
	local rc
	fake '{"io.mamori.Admin.DirectorySync": [{"error": "io.mamori.Error.SafetyStop", "parameters": {"message":
	  "would disable 10 of 40 managed accounts (more than max_disable_percent, 5 %); nothing changed; run with --force after checking the directory",
	  "summary": {"created": 0, "changed": 0, "disabled": 0, "enabled": 0, "retired": 0, "refused": 0,
	  "unchanged": 30, "total": 30, "sessions_ended": 0, "safety_stop": true, "would_disable": 10,
	  "managed_active": 40}}}]}'
	rc=0; fctl directory sync >"$T/out" 2>"$T/err" || rc=$?
	expect_eq "$rc" 4 "exit status of a safety stop"
	expect_match "$(cat "$T/out")" '^unchanged: +30' "the figures"
	expect_eq "$(wc -l <"$T/err")" 1 "one error line"
	expect_match "$(cat "$T/err")" '^mamorictl: would disable 10 of 40 managed accounts .*run with --force' "message"
	rc=0; fctl --json directory sync >"$T/out" 2>/dev/null || rc=$?
	expect_eq "$rc" 4 "exit status with --json"
	expect_eq "$(json 'd["summary"]["would_disable"]' <"$T/out")" 10 "the summary as JSON"
	fake_stop
}

t_sync_unavailable_and_busy() {
	local rc
	fake '{"io.mamori.Admin.DirectorySync": [{"error": "io.mamori.Error.Unavailable", "parameters": {"message":
	  "the HR directory is unavailable: Can'"'"'t contact LDAP server; nothing was changed"}},
	  {"error": "io.mamori.Error.Busy", "parameters": {"message": "another directory sync is running; try again later"}}]}'
	rc=0; fctl directory sync >"$T/out" 2>"$T/err" || rc=$?
	expect_eq "$rc" 5 "exit status when the directory is unavailable"
	expect_eq "$(cat "$T/err")" "mamorictl: the HR directory is unavailable: Can't contact LDAP server; nothing was changed" \
		"message"
	[ ! -s "$T/out" ] || fail "output on an error"
	rc=0; fctl directory sync >"$T/out" 2>"$T/err" || rc=$?
	expect_eq "$rc" 1 "exit status while another sync runs"
	expect_match "$(cat "$T/err")" 'another directory sync is running' "busy"
	fake_stop
}

t_sync_dry_run_would_stop() {
	local out
	fake '{"io.mamori.Admin.DirectorySync": [{"parameters": {"created": 0, "changed": 0, "disabled": 0,
	  "enabled": 0, "retired": 9, "refused": 0, "unchanged": 31, "total": 31, "sessions_ended": 0,
	  "safety_stop": true, "would_disable": 9, "managed_active": 40, "dry_run": true, "force": false}}]}'
	out=$(fctl directory sync --dry-run)
	echo "$out"
	expect_eq "$(head -n 1 <<<"$out")" "dry run: nothing changed" "first line"
	expect_match "$out" '^a sync would stop: it would disable 9 of 40 managed accounts' "the stop it would meet"
	fake_stop
}

t_status_human() {
	local out
	fake '{"io.mamori.Admin.DirectoryStatus": [{"parameters": {"configured": true, "mode": "persist",
	  "connected": false, "uri": "ldap://127.0.0.1:3899", "last_sync": 1900000000, "last_full_sync": 1899990000,
	  "cookie_age": 3725, "halted": true, "error": "Can'"'"'t contact LDAP server\u001b[2J", "error_at": 1900000100,
	  "failures": 3, "managed": 40, "running": null,
	  "last": {"created": 1, "changed": 0, "disabled": 0, "enabled": 0, "retired": 0, "refused": 0,
	  "unchanged": 39, "total": 40, "sessions_ended": 0, "safety_stop": true, "would_disable": 10,
	  "managed_active": 40}}}]}'
	out=$(fctl directory status)
	echo "$out"
	expect_match "$out" '^mode: +persist$' "mode"
	expect_match "$out" "^last sync: +$(date -d @1900000000 +%Y-%m-%dT%H:%M:%S)[+-][0-9]{2}:[0-9]{2}$" \
		"last sync, local ISO 8601"
	expect_match "$out" '^cookie age: +01:02:05$' "cookie age"
	expect_match "$out" '^halted: +yes$' "halted"
	expect_match "$out" "^last error: +Can't contact LDAP server\?\[2J$" "the error, its escape defused"
	expect_match "$out" '^failures: +3$' "failures"
	expect_match "$out" '^managed accounts: +40$' "managed"
	expect_match "$out" '^last summary: +created 1, .* total 40, sessions ended 0 \(safety stop\)$' "last summary"
	fake_stop
}

run_test "P-ID-LIFECYCLE directory sync: progress bar on a terminal, erased; the summary, one figure a line" \
	t_sync_progress_on_terminal
run_test "P-ID-LIFECYCLE directory sync: a safety stop prints the figures and exits 4" t_sync_safety_stop
run_test "P-ID-LIFECYCLE directory sync: directory unavailable exits 5; busy exits 1" t_sync_unavailable_and_busy
run_test "P-ID-LIFECYCLE directory sync --dry-run says nothing changed and that a sync would stop" \
	t_sync_dry_run_would_stop
run_test "P-ID-LIFECYCLE directory status: times in ISO 8601, cookie age, the last error defused" t_status_human

# ------------------------------------------------ stale_after_days = 0

t_stale_off() {
	local out
	EXTRA_CONF="[accounts]
stale_after_days = 0"
	new_env
	EXTRA_CONF=""
	set_clock "$START"
	start_daemon
	add_user off.user 'Tsukawanai-Kouza-2031x'
	advance_clock $((400 * DAY))
	out=$(ctl --json report stale)
	expect_eq "$(json '[d["stale_after_days"], d["accounts"]]' <<<"$out")" "[0, []]" "nothing reported"
	expect_match "$(ctl report stale)" '^stale accounts: not reported \(\[accounts\] stale_after_days = 0\)' "text"
	stop_daemon
}
run_test "P-ID-STALE stale_after_days = 0 reports no account" t_stale_off

tap_done
