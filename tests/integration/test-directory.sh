#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The ID lifecycle driven by the HR directory, end to end (issue #13;
# P-ID-LIFECYCLE, P-ID-STALE, P-DEV-ID): a real mamori-authd following a
# real slapd (tests/directory/slapd_lib.sh: syncprov, a private port, TLS
# made at run time) loaded with synthetic people (tests/directory/people.py,
# P-TESTDATA).  Each daemon below has its own slapd:
#   A  persist mode (syncprov): hire, transfer, secondment, retirement
#      reflected within seconds, removal, refused names, restart from the
#      cookie;
#   B  poll mode with a long interval (only `directory sync` acts): the
#      safety stop, --dry-run, --json, the stale report and its CSV;
#   C  auto mode against a slapd without syncprov: polling;
#   TLS: tls=none refused off the loopback, StartTLS required, a wrong bind;
#   H  the directory going away in the middle of a sync of 3,000 people;
#   S  stale_disable and development IDs (housekeeping, no directory).
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/directory/slapd_lib.sh"

require "root" test "$(id -u)" = 0
require "sqlite3" command -v sqlite3
require "oathtool" command -v oathtool
require "pam_client" test -x "$BUILT_PAM_CLIENT"
slapd_require
require_test_hooks "needs the test clock"

PEOPLE="/usr/bin/python3 $top_srcdir/tests/directory/people.py"
SLAPD_ROOT=$(mktemp -d /tmp/mamori-slapd.XXXXXX)
# Slapds and daemons started inside a test (a subshell) are stopped too.
SLAPD_REGISTRY="$SLAPD_ROOT/slapds"
ENV_REGISTRY="$SLAPD_ROOT/envs"
cleanup_directory() {
	local e
	slapd_cleanup_all
	for e in $(cat "$ENV_REGISTRY" 2>/dev/null); do ENVS="$ENVS $e"; done
	cleanup_all
	rm -rf "$SLAPD_ROOT"
}
trap cleanup_directory EXIT

# ------------------------------------------------------------- helpers

# dir_env NAME SLAPD_DIR KEYS: a new environment ($T) whose [directory]
# follows the slapd of SLAPD_DIR, bound as the read-only account; KEYS are
# more "key = value" lines of [directory] (mode, tls, ...), then more
# sections after a blank line.  The daemon is not started.  $T/incidents
# gathers every incident; T_<NAME> remembers $T.
dir_env() {
	local name=$1 sd=$2 keys=$3
	new_env
	echo "$T" >>"$ENV_REGISTRY"
	eval "T_$name=\$T"
	slapd_set_current "$sd"
	install -m 600 "$SLAPD_READER_PW" "$T/dir.pw"
	cat >"$T/hook" <<HOOK
#!/bin/sh
cat >>"$T/incidents"
echo >>"$T/incidents"
HOOK
	chmod 700 "$T/hook"
	cat >>"$T/mamori.conf" <<CONF

[incident]
hook = $T/hook

[directory]
uri = $SLAPD_URI
bind = simple
bind_dn = $SLAPD_READER
bind_password_file = $T/dir.pw
base = $SLAPD_PEOPLE
attr_start = hrStartDate
attr_end = hrEndDate
attr_secondment_start = hrSecondmentStart
attr_secondment_end = hrSecondmentEnd
timeout = 5
backoff_max = 2
$keys
CONF
}

ustate() { ctl --json user show "$1" | json 'd["user"]["state"]'; }
ufield() { ctl --json user show "$1" | json "d['user'].get('$2')"; }
dstatus() { ctl --json directory status | json "d.get('$1')"; }

# wait_for SECONDS CMD...: CMD succeeds within SECONDS (tried every 0.1 s).
wait_for() {
	local limit=$1 i
	shift
	for i in $(seq 1 $((limit * 10))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "not within ${limit}s: $*"
}
# For wait_for, which runs its command again at each try: the value is
# read anew every time.
ufield_is() { [ "$(ufield "$1" "$2")" = "$3" ]; }
dstatus_is() { [ "$(dstatus "$1")" = "$2" ]; }
dstatus_not() { [ "$(dstatus "$1")" != "$2" ]; }
# not CMD...: CMD must fail (a bare "! CMD" would never fail a test: set -e
# ignores it).
not() {
	if "$@"; then fail "succeeded, should not have: $*"; fi
}
state_is() { [ "$(ustate "$1")" = "$2" ]; }
exists() { ctl user show "$1" >/dev/null 2>&1; }

# audited NAME: the audit log has a row of category directory about NAME.
audited() {
	[ "$(sql "SELECT count(*) FROM audit WHERE category = 'directory' AND \"user\" = '$1'")" -ge 1 ] ||
		fail "no directory audit row for $1"
}

# sync_retry ARGS...: directory sync, again while the daemon's own sync
# runs (exit status 1, "busy"); prints its output, returns its status.
sync_retry() {
	local i rc out
	for i in $(seq 1 20); do
		rc=0
		out=$(ctl "$@" 2>&1) || rc=$?
		[ "$rc" = 1 ] && grep -qi 'busy\|another sync' <<<"$out" || break
		sleep 0.5
	done
	echo "$out"
	[ "$rc" = 0 ] || echo "directory sync exited $rc: $out" >&2
	return "$rc"
}

wait_incident() {
	local kind=$1 i
	for i in $(seq 1 50); do
		grep -q "\"kind\": *\"$kind\"" "$T/incidents" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no $kind incident reached the hook"
}

# issue_password NAME PW: an administrator issues a temporary password (a
# pending account becomes active) and NAME changes it to PW.
issue_password() {
	local name=$1 pw=$2 temp="Temp-$RANDOM-$RANDOM-x" out
	printf '%s\n' "$temp" | ctl password temp "$name" --password-stdin >/dev/null
	out=$(pam -p "$temp" -p "$pw" -p "$pw" mamori-test "$name" auth=SUCCESS chauthtok=SUCCESS) || {
		echo "issue_password $name: $out" >&2
		return 1
	}
}

totp_code() { oathtool --totp -b "$1" --now "@$(cat "$T/clock")"; }
enroll_totp() {
	local out secret
	out=$($RAW "$T/run/admin.sock" "{\"method\":\"io.mamori.Admin.TotpEnroll\",\"parameters\":{\"name\":\"$1\"}}")
	secret=$(json 'd["parameters"]["secret"]' <<<"${out%%$'\n'*}")
	out=$($RAW "$T/run/admin.sock" \
		"{\"method\":\"io.mamori.Admin.TotpConfirm\",\"parameters\":{\"name\":\"$1\",\"code\":\"$(totp_code "$secret")\"}}")
	grep -q '"totp"' <<<"$out" || { echo "confirm failed: $out" >&2; return 1; }
}

# A live session of USER (password PW) through PAM, with a leader process
# that stays; prints the leader's pid.
open_session() {
	local user=$1 pw=$2 out=$T/leader-$1-$RANDOM.out i pid
	cat >"$T/pam_client_env" <<SH
#!/bin/sh
exec env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" "$PAM_CLIENT" "\$@"
SH
	chmod 755 "$T/pam_client_env"
	setsid "$T/pam_client_env" -S -p "$pw" -t pts/7 mamori-test "$user" auth=SUCCESS open=SUCCESS >"$out" 2>&1 &
	for i in $(seq 1 100); do grep -q READY "$out" && break; sleep 0.1; done
	pid=$(sed -n 's/^READY //p' "$out")
	[ -n "$pid" ] || { cat "$out" >&2; return 1; }
	echo "$pid"
}
running() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "${st%% *}" != Z ]
}

# The day (YYYY-MM-DD, Japan time, as mamori reads the directory's dates)
# of the test clock plus DAYS, as GeneralizedTime.
gtime() { TZ=Asia/Tokyo date -d "@$(($(cat "$T/clock") + $1 * 86400))" +%Y%m%d000000+0900; }

ldmod() { slapd_ldap ldapmodify "$@" >/dev/null; }
person_dn() { echo "uid=$1,$SLAPD_PEOPLE"; }
set_attr() { # set_attr UID ATTR VALUE
	printf 'dn: %s\nchangetype: modify\nreplace: %s\n%s: %s\n' "$(person_dn "$1")" "$2" "$2" "$3" | ldmod
}
add_person() { # add_person UID [DEPARTMENT]: one synthetic person with that uid
	slapd_ldap ldapadd >/dev/null <<LDIF
dn: $(person_dn "$1")
objectClass: inetOrgPerson
uid: $1
cn: Test Person $1
sn: Person $1
displayName: Test Person $1
employeeNumber: X-$1
departmentNumber: ${2:-Finance}
employeeType: staff
LDIF
}

# start_env: start $T's daemon, or Bail out.
start_env() {
	start_daemon || {
		echo "Bail out! the daemon did not start"
		exit 1
	}
}

# ===================================================== A: persist mode

mkdir -p "$SLAPD_ROOT/a"
$PEOPLE --count 40 --hr >"$SLAPD_ROOT/a/people.ldif"
slapd_start "$SLAPD_ROOT/a" --syncprov --ldif "$SLAPD_ROOT/a/people.ldif" || slapd_bail "slapd did not start"
EXTRA_CONF="[service grp-svc]
allow_groups = mamori-dtgrp"
dir_env A "$SLAPD_ROOT/a" "tls = none
mode = persist
max_disable_percent = 50"
echo "$SLAPD_ROOT/a" >"$T/slapd-dir"
EXTRA_CONF=""
make_service grp-svc
# A local Unix account for t000003 (uid >= 1000: not a system account) in
# the group that grp-svc admits.
groupadd mamori-dtgrp && echo mamori-dtgrp >>"$T/cleanup-groups"
useradd -M -N -g mamori-dtgrp -u 41013 -s /usr/sbin/nologin t000003 && echo t000003 >>"$T/cleanup-users"
start_env

t_hire_pending_no_credential() {
	wait_for 10 exists t000001
	expect_eq "$(ustate t000001)" pending "a hire's state"
	expect_eq "$(ufield t000001 kind)" staff "kind"
	expect_eq "$(ctl --json factor list --user t000001 | json 'len(d["credentials"])')" 0 "credentials of a hire"
	# No credential: no login, whatever is typed.
	not pam -p 'Any-Password-123' mamori-test t000001 auth=SUCCESS >/dev/null
	wait_for 10 exists t000040
	# Contractors are contractors.
	local c
	c=$(slapd_ldap ldapsearch -LLL -b "$SLAPD_PEOPLE" "(employeeType=contractor)" uid | sed -n 's/^uid: //p' | head -n 1)
	[ -n "$c" ] || fail "no contractor among the people"
	expect_eq "$(ufield "$c" kind)" contractor "kind of $c"
	# A hire written now is created within seconds.
	add_person t000041
	wait_for 10 exists t000041
	expect_eq "$(ustate t000041)" pending "state of a new hire"
}

t_transfer_needs_review() {
	issue_password t000002 'Tenkai-no-Hi-2031x'
	ctl user set t000002 --privileged >/dev/null
	issue_password t000003 'Hashi-no-Ue-2031x'
	pam -p 'Tenkai-no-Hi-2031x' mamori-test t000002 auth=SUCCESS acct=SUCCESS >/dev/null
	pam -p 'Hashi-no-Ue-2031x' grp-svc t000003 auth=SUCCESS acct=SUCCESS >/dev/null
	set_attr t000002 departmentNumber "Transfer Target A"
	set_attr t000003 departmentNumber "Transfer Target B"
	wait_for 10 ufield_is t000002 review_required True
	wait_for 10 ufield_is t000003 review_required True
	expect_eq "$(ustate t000002)" active "a transfer does not disable"
	# The privileged account is refused everywhere, the group-bound service
	# refuses the other; a service bound to no group still admits it.
	not pam -p 'Tenkai-no-Hi-2031x' mamori-test t000002 auth=SUCCESS acct=SUCCESS >/dev/null
	not pam -p 'Hashi-no-Ue-2031x' grp-svc t000003 auth=SUCCESS acct=SUCCESS >/dev/null
	pam -p 'Hashi-no-Ue-2031x' mamori-test t000003 auth=SUCCESS acct=SUCCESS >/dev/null
	ctl directory approve t000002 >/dev/null
	ctl directory approve t000003 >/dev/null
	expect_eq "$(ufield t000002 review_required)" False "after approval"
	pam -p 'Tenkai-no-Hi-2031x' mamori-test t000002 auth=SUCCESS acct=SUCCESS >/dev/null
	pam -p 'Hashi-no-Ue-2031x' grp-svc t000003 auth=SUCCESS acct=SUCCESS >/dev/null
	# Audited.
	audited t000002
}

t_secondment_disables_then_enables() {
	local t0
	t0=$(cat "$T/clock")
	issue_password t000004 'Shukko-Saki-2031x'
	set_attr t000004 hrSecondmentStart "$(gtime 10)"
	set_attr t000004 hrSecondmentEnd "$(gtime 20)"
	sleep 1
	sync_retry directory sync >/dev/null
	expect_eq "$(ustate t000004)" active "before the secondment"
	advance_clock $((15 * 86400))
	sync_retry directory sync >/dev/null
	expect_eq "$(ustate t000004)" disabled "during the secondment"
	expect_eq "$(ufield t000004 state_reason)" secondment "reason"
	not pam -p 'Shukko-Saki-2031x' mamori-test t000004 auth=SUCCESS acct=SUCCESS >/dev/null
	advance_clock $((10 * 86400))
	sync_retry directory sync >/dev/null
	expect_eq "$(ustate t000004)" active "after the secondment"
	set_clock "$t0"
	sync_retry directory sync >/dev/null
}

# Retirement written to LDAP, reflected in persist mode: the account is
# retired, its TOTP revoked, its live session ended, the incident raised.
# 10 s is a failure bound, not the 2 s target (tests/bench/directory).
t_retirement_revokes_and_ends_sessions() {
	local pid sid start i ms
	issue_password t000005 'Taishoku-no-Hi-2031x'
	pid=$(open_session t000005 'Taishoku-no-Hi-2031x')
	enroll_totp t000005
	sid=$(sql "SELECT id FROM sessions WHERE leader_pid = $pid AND closed_at IS NULL ORDER BY id DESC LIMIT 1")
	[ -n "$sid" ] || fail "no open session"
	: >"$T/incidents"
	start=$(date +%s%3N)
	set_attr t000005 employeeType retired
	for i in $(seq 1 100); do
		[ "$(ustate t000005)" = retired ] && break
		sleep 0.1
	done
	ms=$(($(date +%s%3N) - start))
	echo "retired after ${ms} ms"
	expect_eq "$(ustate t000005)" retired "state"
	expect_eq "$(ufield t000005 state_reason)" retired "reason"
	for i in $(seq 1 50); do running "$pid" || break; sleep 0.1; done
	! running "$pid" || fail "the session's leader still runs"
	expect_eq "$(sql "SELECT CASE WHEN closed_at IS NOT NULL THEN 1 ELSE 0 END FROM sessions WHERE id = $sid")" 1 "session recorded ended"
	expect_eq "$(sql "SELECT end_reason FROM sessions WHERE id = $sid")" retired "end reason"
	ctl --json factor list --user t000005 --revoked | json '[c for c in d["credentials"] if c["factor"] == "totp" and c["state"] == "revoked"][0]' >/dev/null ||
		fail "the TOTP factor is not revoked"
	expect_eq "$(ctl --json factor list --user t000005 | json 'len([c for c in d["credentials"] if c["state"] == "active"])')" 0 \
		"active credentials left"
	not pam -p 'Taishoku-no-Hi-2031x' mamori-test t000005 auth=SUCCESS >/dev/null
	wait_incident directory_retired
	grep '"directory_retired"' "$T/incidents" | grep -q 't000005' || fail "the incident names t000005"
}

t_removal_disables_at_once() {
	issue_password t000006 'Sakujo-Sareta-2031x'
	: >"$T/incidents"
	slapd_ldap ldapdelete "$(person_dn t000006)"
	wait_for 10 state_is t000006 retired
	expect_eq "$(ufield t000006 state_reason)" removed "reason"
	not pam -p 'Sakujo-Sareta-2031x' mamori-test t000006 auth=SUCCESS >/dev/null
	wait_incident directory_retired
}

t_conflicting_names_refused() {
	local out before
	ctl user add hanako >/dev/null
	before=$(ctl --json user show hanako)
	: >"$T/incidents"
	add_person daemon
	add_person admin
	add_person hanako
	sleep 1
	out=$(sync_retry --json directory sync)
	echo "$out"
	[ "$(json 'd["refused"]' <<<"$out")" -ge 3 ] || fail "three names refused"
	# A system account and a reserved name are not taken; the local
	# account is left as it was.
	not exists daemon
	not exists admin
	expect_eq "$(ctl --json user show hanako)" "$before" "hanako untouched"
	wait_incident directory_conflict
	for n in daemon admin hanako; do
		grep '"directory_conflict"' "$T/incidents" | grep -q "\"$n\"" || fail "no conflict incident for $n"
	done
	audited hanako
}

# A restart resumes from the cookie: what changed while the daemon was
# down is applied, and the accounts already made are not made again.
t_restart_resumes_from_cookie() {
	local created_before id_before
	wait_for 10 dstatus_not cookie_age None
	id_before=$(sql "SELECT id FROM users WHERE name = 't000010'")
	created_before=$(sql "SELECT created_at FROM users WHERE name = 't000010'")
	stop_daemon
	set_attr t000011 departmentNumber "Moved While Down"
	add_person t000042
	start_env
	wait_for 10 exists t000042
	wait_for 10 ufield_is t000011 review_required True
	expect_eq "$(sql "SELECT id FROM users WHERE name = 't000010'")" "$id_before" "t000010 kept its id"
	expect_eq "$(sql "SELECT created_at FROM users WHERE name = 't000010'")" "$created_before" "t000010 not made again"
	expect_eq "$(sql "SELECT count(*) FROM users WHERE name LIKE 't0000%'")" \
		"$(sql "SELECT count(DISTINCT name) FROM users WHERE name LIKE 't0000%'")" "no duplicate"
	[ "$(dstatus cookie_age)" != None ] || fail "no cookie after the restart"
	expect_eq "$(dstatus mode)" persist "mode"
}

run_test "P-ID-LIFECYCLE hire creates a pending account with no credential; login refused" t_hire_pending_no_credential
run_test "P-ID-LIFECYCLE transfer flags review: privileged and group-bound access refused until approved" t_transfer_needs_review
run_clock_test "P-ID-LIFECYCLE secondment disables for the period and enables after" t_secondment_disables_then_enables
run_test "P-ID-LIFECYCLE retirement in persist mode: disabled, TOTP revoked, session ended, incident" t_retirement_revokes_and_ends_sessions
run_test "P-ID-LIFECYCLE removal from the directory disables at once" t_removal_disables_at_once
run_test "P-ID-LIFECYCLE system, reserved and unmanaged names are refused and reported" t_conflicting_names_refused
run_test "P-ID-LIFECYCLE a restart resumes from the sync cookie" t_restart_resumes_from_cookie
stop_daemon

# ============================ B: poll mode, only `directory sync` acts

mkdir -p "$SLAPD_ROOT/b"
$PEOPLE --count 40 --prefix b >"$SLAPD_ROOT/b/people.ldif"
slapd_start "$SLAPD_ROOT/b" --syncprov --ldif "$SLAPD_ROOT/b/people.ldif" || slapd_bail "slapd did not start"
dir_env B "$SLAPD_ROOT/b" "tls = none
mode = poll
poll_interval = 3600
max_disable_percent = 5

[accounts]
stale_after_days = 30"
echo "$SLAPD_ROOT/b" >"$T/slapd-dir"
# The store's refusal hook (tests/integration/test-store-retry.sh): "N
# text" refuses the next N commits whose audit rows' reason holds text.
echo 0 >"$T/refuse"
export MAMORI_TEST_STORE_REFUSE_FILE=$T/refuse
start_env

t_safety_stop() {
	local i rc out
	wait_for 20 exists b000040
	# Every account active (a password issued), then 10 of 40 people gone.
	for i in $(seq -w 1 40); do
		printf 'Temp-%s-%s-x%s\n' "$RANDOM" "$RANDOM" "$i" | ctl password temp "b0000$i" --password-stdin >/dev/null
	done
	: >"$T/incidents"
	for i in $(seq -w 1 10); do slapd_ldap ldapdelete "$(person_dn "b0000$i")"; done
	rc=0
	out=$(ctl --json directory sync) || rc=$?
	echo "$out"
	expect_eq "$rc" 4 "exit status of a safety stop (mamorictl(8): 3 is an unreachable daemon)"
	for i in $(seq -w 1 10); do expect_eq "$(ustate "b0000$i")" active "b0000$i after the stop"; done
	wait_incident directory_safety_stop
	expect_eq "$(dstatus halted)" True "halted"
	# P-PRIV-CONTRACTOR: --force from a caller with no login uid (who might
	# be a contractor) is refused, audited, and changes nothing.
	rc=0
	ctl_nologin directory sync --force >"$T/out" 2>"$T/err" || rc=$?
	cat "$T/out" "$T/err"
	expect_eq "$rc" 1 "exit status of a forced sync with no login uid"
	expect_match "$(cat "$T/err")" 'P-PRIV-CONTRACTOR' "the refusal"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'admin' AND result = 'failure'
		AND reason LIKE '%force a directory sync%P-PRIV-CONTRACTOR%'")" 1 "the refusal audited"
	for i in $(seq -w 1 10); do expect_eq "$(ustate "b0000$i")" active "b0000$i after the refused --force"; done
	expect_eq "$(dstatus halted)" True "still halted"
	out=$(ctl --json directory sync --force)
	echo "$out"
	expect_eq "$(json 'd["retired"] + d["disabled"]' <<<"$out")" 10 "disabled with --force"
	for i in $(seq -w 1 10); do expect_eq "$(ustate "b0000$i")" retired "b0000$i after --force"; done
	expect_eq "$(ustate b000011)" active "the others"
	expect_eq "$(dstatus halted)" False "no longer halted"
}

t_dry_run_and_json() {
	local out
	add_person b000100
	set_attr b000020 departmentNumber "Dry Run Department"
	out=$(sync_retry --json directory sync --dry-run)
	echo "$out"
	expect_eq "$(json 'd["created"]' <<<"$out")" 1 "created (dry run)"
	[ "$(json 'd["changed"]' <<<"$out")" -ge 1 ] || fail "changed (dry run)"
	not exists b000100
	expect_eq "$(ufield b000020 review_required)" False "no review after a dry run"
	out=$(sync_retry --json directory sync)
	echo "$out"
	json '[d[k] for k in ("created", "changed", "disabled", "refused", "unchanged", "total")]' <<<"$out" >/dev/null
	expect_eq "$(json 'd["created"]' <<<"$out")" 1 "created"
	exists b000100
	expect_eq "$(ufield b000020 review_required)" True "review after the sync"
	# Without --json: a summary line.
	out=$(ctl directory sync)
	expect_match "$out" "created" "summary"
	expect_match "$(ctl directory status)" "." "status"
}

# P-ID-LIFECYCLE, P-AUDIT: the sync's own audit row, written after its
# changes committed, refused once by the store is written again: the sync
# succeeds, with one row.
t_sync_audit_row_refused_once() {
	local out before
	add_person b000300
	before=$(sql "SELECT count(*) FROM audit WHERE reason = 'directory sync'")
	echo "1 directory sync" >"$T/refuse"
	out=$(sync_retry --json directory sync) || fail "directory sync failed: $out"
	echo "$out"
	expect_eq "$(cat "$T/refuse")" "0 directory sync" "the refusal was used"
	expect_eq "$(json 'd["created"]' <<<"$out")" 1 "created"
	exists b000300
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE reason = 'directory sync'")" $((before + 1)) "one more row"
}

# P-ID-STALE: an account unused for stale_after_days is reported; the CSV
# parses, and a department like a spreadsheet formula is defused.
t_stale_report_and_csv() {
	local out
	add_person b000200 '=HYPERLINK("http://example.test/x","y")'
	sync_retry directory sync >/dev/null
	issue_password b000200 'Furui-Kouza-2031x'
	ctl user add b.dev --kind dev --expires "$(date -d "@$(cat "$T/clock")" +%Y-%m-%d)" >/dev/null
	# Active (a password issued): housekeeping disables active ones.
	printf 'Temp-%s-%s-xd\n' "$RANDOM" "$RANDOM" | ctl password temp b.dev --password-stdin >/dev/null
	advance_clock $((45 * 86400))
	sleep 2.5 # housekeeping: the development ID past its expiry
	out=$(ctl --json report stale)
	head -c 2000 <<<"$out"
	echo
	json '[a for a in d["accounts"] if a["name"] == "b000200"][0]["days_unused"]' <<<"$out" >/dev/null ||
		fail "b000200 not reported"
	[ "$(json '[a for a in d["accounts"] if a["name"] == "b000200"][0]["days_unused"]' <<<"$out")" -ge 30 ] ||
		fail "days unused"
	json '[a for a in d["dev_expired"] if a["name"] == "b.dev"][0]' <<<"$out" >/dev/null || fail "b.dev not reported"
	expect_eq "$(ustate b.dev)" disabled "a development ID past its expiry"
	ctl report stale --csv >"$T/stale.csv"
	/usr/bin/python3 - "$T/stale.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert len(rows) >= 2, rows
for row in rows:
    for f in row:
        assert not f.startswith(("=", "+", "-", "@")) or f.lstrip("-").replace(".", "").isdigit(), "formula: %r" % f
assert any("b000200" in r for r in rows), "b000200 not in the CSV"
assert any(f.startswith("'=HYPERLINK(") for r in rows for f in r), "the department is kept, defused"
PY
}

run_test "P-ID-LIFECYCLE safety stop: 10 of 40 gone stops with exit 4 and an incident; --force applies (P-PRIV-CONTRACTOR: not from a caller with no login uid)" t_safety_stop
run_test "P-ID-LIFECYCLE directory sync --dry-run changes nothing; --json summary" t_dry_run_and_json
run_test "P-ID-LIFECYCLE P-AUDIT directory sync whose own audit row is refused once: one row, success" \
	t_sync_audit_row_refused_once
run_clock_test "P-ID-STALE P-DEV-ID report stale lists unused and expired development IDs; CSV defused" t_stale_report_and_csv
stop_daemon
unset MAMORI_TEST_STORE_REFUSE_FILE

# ================================== C: a slapd without syncprov: polling

mkdir -p "$SLAPD_ROOT/c"
$PEOPLE --count 5 --prefix c >"$SLAPD_ROOT/c/people.ldif"
slapd_start "$SLAPD_ROOT/c" --ldif "$SLAPD_ROOT/c/people.ldif" || slapd_bail "slapd did not start"
dir_env C "$SLAPD_ROOT/c" "tls = none
mode = auto
poll_interval = 5"
echo "$SLAPD_ROOT/c" >"$T/slapd-dir"
start_env

t_polling_sees_a_change() {
	wait_for 20 exists c000005
	expect_eq "$(dstatus mode)" poll "mode without syncprov"
	sleep 1 # modifyTimestamp has a resolution of a second
	set_attr c000002 departmentNumber "Polled Department"
	add_person c000006
	wait_for 12 exists c000006
	wait_for 12 ufield_is c000002 review_required True
}
run_test "P-ID-LIFECYCLE polling mode (no syncprov) sees a change within poll_interval" t_polling_sees_a_change
stop_daemon

# ============================================ TLS and the bind

t_tls_none_refused_off_loopback() {
	local rc=0
	dir_env TN "$SLAPD_ROOT/c" "tls = none"
	sed -i "s|^uri = .*|uri = ldap://192.0.2.10:389/|" "$T/mamori.conf"
	"$AUTHD" --config "$T/mamori.conf" --foreground >"$T/start.out" 2>&1 &
	local pid=$! i
	for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		fail "the daemon started with tls = none off the loopback"
	fi
	wait "$pid" || rc=$?
	[ "$rc" -ne 0 ] || fail "exit status 0"
	cat "$T/start.out"
	grep -Eq "$T/mamori.conf:[0-9]+" "$T/start.out" || fail "no FILE:LINE"
}

t_starttls_required() {
	local rc
	# Against a slapd without TLS: nothing is made, the status says why.
	dir_env TS "$SLAPD_ROOT/c" "tls = starttls
mode = poll
poll_interval = 3600"
	echo "$SLAPD_ROOT/c" >"$T/slapd-dir"
	start_env
	wait_for 10 dstatus_not error None
	dstatus error
	not exists c000001
	rc=0
	ctl directory sync >/dev/null 2>&1 || rc=$?
	expect_eq "$rc" 5 "directory sync when the directory cannot be read"
	not exists c000001
	stop_daemon
	# Against a slapd with TLS, with its CA: it works.
	mkdir -p "$SLAPD_ROOT/t"
	$PEOPLE --count 3 --prefix s >"$SLAPD_ROOT/t/people.ldif"
	slapd_start "$SLAPD_ROOT/t" --syncprov --tls --ldif "$SLAPD_ROOT/t/people.ldif"
	dir_env TT "$SLAPD_ROOT/t" "tls = starttls
ca_file = $SLAPD_CA"
	echo "$SLAPD_ROOT/t" >"$T/slapd-dir"
	start_env
	wait_for 15 exists s000003
	expect_eq "$(dstatus error)" None "no error"
	stop_daemon
}

# libldap reads ldaprc and .ldaprc in the working directory: the daemon
# started from a directory holding one that trusts the test CA (TLS_CACERT)
# must not trust it, since [directory] names no ca_file.  (The daemon works
# from "/"; the handle's own TLS context, LDAP_OPT_X_TLS_NEWCTX, does not
# take the file's CA either: this guards both.)
t_ldaprc_in_cwd_ignored() {
	dir_env RC "$SLAPD_ROOT/t" "tls = starttls
mode = poll
poll_interval = 3600"
	echo "$SLAPD_ROOT/t" >"$T/slapd-dir"
	mkdir "$T/cwd"
	printf 'TLS_CACERT %s\nTLS_REQCERT never\n' "$SLAPD_CA" >"$T/cwd/ldaprc"
	cp "$T/cwd/ldaprc" "$T/cwd/.ldaprc"
	cd "$T/cwd"
	start_env
	cd /
	wait_for 10 dstatus_not error None
	dstatus error
	not exists s000001
	stop_daemon
}

t_wrong_bind_password() {
	local rc
	dir_env WB "$SLAPD_ROOT/c" "tls = none
mode = poll
poll_interval = 3600"
	echo "$SLAPD_ROOT/c" >"$T/slapd-dir"
	printf 'not-the-password' >"$T/dir.pw"
	start_env
	wait_for 10 dstatus_not error None
	dstatus error
	not exists c000001
	rc=0
	ctl directory sync >/dev/null 2>&1 || rc=$?
	expect_eq "$rc" 5 "directory sync when the directory cannot be read"
	not exists c000001
	! grep -q 'not-the-password' "$T/daemon.log" || fail "the password is in the log"
	wait_incident directory_unreachable
	stop_daemon
}

run_test "P-ID-LIFECYCLE tls = none off the loopback is refused at start (FILE:LINE)" t_tls_none_refused_off_loopback
run_test "P-ID-LIFECYCLE StartTLS required: a slapd without TLS changes nothing; with TLS it works" t_starttls_required
run_test "P-ID-LIFECYCLE a wrong bind password changes nothing and is reported" t_wrong_bind_password
run_test "P-ID-LIFECYCLE an ldaprc in the daemon's working directory does not make its CA trusted" t_ldaprc_in_cwd_ignored

# ================ H: the directory going away in the middle of a sync

mkdir -p "$SLAPD_ROOT/h"
$PEOPLE --count 3000 --prefix h >"$SLAPD_ROOT/h/people.ldif"
slapd_start "$SLAPD_ROOT/h" --syncprov --ldif "$SLAPD_ROOT/h/people.ldif" || slapd_bail "slapd did not start"
dir_env H "$SLAPD_ROOT/h" "tls = none
mode = poll
poll_interval = 3600"
echo "$SLAPD_ROOT/h" >"$T/slapd-dir"
start_env

not_active_or_pending() { sql "SELECT count(*) FROM users WHERE name LIKE 'h%' AND state NOT IN ('pending', 'active')"; }

# The sync is caught in its search: slapd is stopped (SIGSTOP) a moment
# after the sync began, the daemon's status must show the sync searching,
# and only then is slapd killed.  When the sync was already past its search,
# slapd goes on and the next try stops it sooner.
t_directory_goes_away_mid_sync() {
	local delay rc out phase killed=0 spid
	wait_for 60 exists h003000
	wait_for 20 dstatus_is running None
	for delay in 0.2 0.1 0.05 0.02 0.01 0; do
		ctl --json directory sync >"$T/sync.out" 2>&1 &
		spid=$!
		sleep "$delay"
		kill -STOP "$SLAPD_PID"
		phase=$(dstatus running)
		echo "after ${delay}s: $phase"
		if kill -0 "$spid" 2>/dev/null && [[ $phase == *search* ]]; then
			slapd_kill
			killed=1
		else
			kill -CONT "$SLAPD_PID"
		fi
		rc=0
		wait "$spid" || rc=$?
		cat "$T/sync.out"
		if [ "$killed" = 1 ] && [ "$rc" = 0 ]; then
			# Every entry had reached the daemon before the kill (its
			# phase not yet past the search: a loaded machine): no
			# sync was cut short; again, sooner.
			echo "after ${delay}s: the sync had all it needed before the kill"
			killed=0
			slapd_restart
			continue
		fi
		[ "$killed" = 1 ] && break
	done
	[ "$killed" = 1 ] || fail "could not catch a sync in its search"
	expect_eq "$rc" 5 "exit status of a sync cut short (the directory unavailable)"
	grep -q unavailable "$T/sync.out" || fail "the sync does not say unavailable"
	expect_eq "$(not_active_or_pending)" 0 "accounts disabled or retired"
	expect_eq "$(sql "SELECT count(*) FROM users WHERE name LIKE 'h%'")" 3000 "accounts"
	slapd_restart
	out=$(sync_retry --json directory sync)
	echo "$out"
	expect_eq "$(json 'd["total"]' <<<"$out")" 3000 "entries seen after the restart"
	expect_eq "$(not_active_or_pending)" 0 "accounts disabled or retired after"
}
run_test "P-ID-LIFECYCLE the directory going away mid-sync leaves nothing half-applied" t_directory_goes_away_mid_sync
stop_daemon

# ======================== S: stale_disable and development IDs

t_stale_disable() {
	EXTRA_CONF="[accounts]
stale_after_days = 30
stale_disable = yes

[incident]
hook = /tmp/mamori-hook-placeholder"
	new_env
	echo "$T" >>"$ENV_REGISTRY"
	EXTRA_CONF=""
	cat >"$T/hook" <<HOOK
#!/bin/sh
cat >>"$T/incidents"
echo >>"$T/incidents"
HOOK
	chmod 700 "$T/hook"
	sed -i "s|/tmp/mamori-hook-placeholder|$T/hook|" "$T/mamori.conf"
	start_env
	add_user furui 'Kasumi-no-Oka-2031x'
	advance_clock $((31 * 86400))
	# Made today: not stale.
	add_user atarashii 'Hoshizora-2031x-Q'
	sleep 2.5 # housekeeping ticks every second
	wait_for 10 state_is furui disabled
	expect_eq "$(ufield furui state_reason)" stale "reason"
	expect_eq "$(ustate atarashii)" active "an account used today"
	wait_incident stale_disabled
	not pam -p 'Kasumi-no-Oka-2031x' mamori-test furui auth=SUCCESS >/dev/null
	stop_daemon
}
run_clock_test "P-ID-STALE stale_disable disables an account unused for stale_after_days" t_stale_disable

tap_done
