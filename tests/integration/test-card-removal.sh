#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Card removal (issue #11): a session opened through real PAM (pam_wrapper +
# pam_client, a real leader process) after a card login follows the card.
# Real pcscd with vpcd, the suite's virtual card, the real card helper run
# by the daemon's watcher (`mamori-card-helper --watch`), the card bound
# with `mamorictl card enroll`, and logind as python3-dbusmock's template on
# a private system bus: pulling the card makes the daemon call
# LockSession(id) (on_removal = lock), TerminateSession(id) (terminate), or
# nothing (none); a logind id of another uid is never trusted; a session not
# authenticated by card is untouched.  The logind id reaches pam_mamori as
# XDG_SESSION_ID in the PAM environment (pam_env before it, as pam_systemd
# would set it).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/card_lib.sh"

require "root" test "$(id -u)" = 0
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "pam_env" test -e /lib/x86_64-linux-gnu/security/pam_env.so -o -e /lib64/security/pam_env.so \
	-o -e /usr/lib64/security/pam_env.so
card_require dbus

HELPER="$top_builddir/authd/card/mamori-card-helper"
require "the card helper" test -x "$HELPER"
require_test_hooks "needs the test clock (certificates made during the run)"

# A uid no account has: the owner of "another user's" logind session.
OTHER_UID=4242
PIN=123456
READER0="Virtual PCD 00 00"

EXTRA_CONF="[card]
wait = 3
helper = HELPER_PLACEHOLDER
helper_user = nobody
on_removal = lock

[service card-c1]
require = card
[service card-c2]
require = card
[service card-c3]
require = card
[service card-c4]
require = card
[service card-c5]
require = card
[service card-c6]
require = card
[service card-c7]
require = card
[service pw-c9]
require = password

[policy staff]
min_age_days = 0

[daemon]
rate_limit = 1000"
new_env
trap 'card_cleanup; cleanup_all' EXIT
# The daemon's clock a day on: the certificates made during the run are
# valid from the second they are made.
set_clock $(($(date +%s) + 86400))
# The helper runs as nobody: everything it reaches must be reachable.
cp "$HELPER" "$T/mamori-card-helper"
chmod 755 "$T/mamori-card-helper"
sed -i "s|^helper = HELPER_PLACEHOLDER|helper = $T/mamori-card-helper|" "$T/mamori.conf"

# A local account (the logind owner check resolves its uid).
USER_NAME=mamori-rm$$
USER_NAME=${USER_NAME:0:31}
useradd -r -M -N -g nogroup -s /usr/sbin/nologin "$USER_NAME"
echo "$USER_NAME" >>"$T/cleanup-users"
USER_UID=$(id -u "$USER_NAME")

# make_logind_service NAME LOGIND_ID: pam_mamori for every type, with
# XDG_SESSION_ID=LOGIND_ID put in the PAM environment before the session.
make_logind_service() {
	local name=$1 id=$2 opts="socket=$T/run/pam.sock"
	printf 'XDG_SESSION_ID=%s\n' "$id" >"$T/env-$id"
	chmod 644 "$T/env-$id"
	cat >"$T/services/$name" <<SVC
auth required $MODULE $opts
account required $MODULE $opts
password required $MODULE $opts
session required pam_env.so readenv=1 envfile=$T/env-$id user_readenv=0 conffile=/dev/null
session required $MODULE $opts
SVC
	chmod 644 "$T/services/$name"
}
for i in 1 2 3 4 5 6 7; do make_logind_service "card-c$i" "c$i"; done
make_logind_service pw-c9 c9

PAM_CLIENT_ENV="$T/pam_client_env"
cat >"$PAM_CLIENT_ENV" <<SH
#!/bin/sh
exec env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" "$PAM_CLIENT" "\$@"
SH
chmod 755 "$PAM_CLIENT_ENV"

# The store's refusal hook (tests/integration/test-store-retry.sh): "N
# text" refuses the next N commits whose audit rows' reason holds text.
REFUSE=$T/refuse
echo 0 >"$REFUSE"
export MAMORI_TEST_STORE_REFUSE_FILE=$REFUSE

pcscd_start || { echo "Bail out! pcscd did not start"; exit 1; }
logind_start || { echo "Bail out! the logind mock did not start"; exit 1; }
LANG=C LC_ALL=C start_daemon || { echo "Bail out! daemon did not start"; cat "$T/daemon.log"; exit 1; }

for id in c1 c2 c3 c5 c6 c7 c9; do
	logind_add_session "$id" seat0 "$USER_UID" "$USER_NAME" 1 >/dev/null ||
		{ echo "Bail out! AddSession $id"; exit 1; }
done
logind_add_session c4 seat0 "$OTHER_UID" intruder 1 >/dev/null || { echo "Bail out! AddSession c4"; exit 1; }

card_start card --profile piv --key rsa2048 --pin "$PIN" ||
	{ echo "Bail out! the virtual card did not start"; exit 1; }
add_user "$USER_NAME" 'Kado-no-Akari-2031-Yoru' || { echo "Bail out! add_user"; exit 1; }
ctl card enroll "$USER_NAME" >/dev/null || { echo "Bail out! card enroll"; cat "$T/daemon.log"; exit 1; }

# on_removal VALUE: the setting changed and the daemon reloaded (SIGHUP);
# the watcher follows within a second.
on_removal() {
	sed -i "s/^on_removal = .*/on_removal = $1/" "$T/mamori.conf"
	local before
	before=$(grep -c 'configuration reloaded' "$T/daemon.log" || true)
	kill -HUP "$(cat "$T/daemon.pid")"
	for _ in $(seq 1 50); do
		[ "$(grep -c 'configuration reloaded' "$T/daemon.log" || true)" -gt "$before" ] && break
		sleep 0.1
	done
	sleep 1.5
}

# leader SERVICE [PIN]: a live session opened through PAM after a card
# login (a password login on pw-*), its pam_client staying as the leader;
# prints the leader's pid.
leader() {
	local service=$1 out=$T/leader-$1-$RANDOM.out pid
	local secret=${2:-$PIN}
	setsid "$PAM_CLIENT_ENV" -S -p "$secret" -t pts/7 "$service" "$USER_NAME" auth=SUCCESS acct=SUCCESS \
		open=SUCCESS >"$out" 2>&1 &
	for _ in $(seq 1 100); do grep -q 'READY\|FAILED' "$out" && break; sleep 0.1; done
	pid=$(sed -n 's/^READY //p' "$out")
	[ -n "$pid" ] || { cat "$out" >&2; return 1; }
	echo "$pid"
}

running() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "${st%% *}" != Z ]
}

end_leader() {
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# session_of LOGIND_ID: the id of the newest session recorded with it.
session_of() { sql "SELECT id FROM sessions WHERE logind_id = '$1' ORDER BY id DESC LIMIT 1"; }

# audit_removal SID RESULT: card-removal audit rows of session SID.
audit_removal() {
	sql "SELECT count(*) FROM audit WHERE category = 'session' AND reason LIKE 'card removed%'
		AND result = '$2' AND $(sql_json_int detail session_id) = $1"
}

t_lock_on_removal() {
	local card_pid pw_pid sid pw_sid
	on_removal lock
	card_insert card
	card_pid=$(leader card-c1)
	pw_pid=$(leader pw-c9 'Kado-no-Akari-2031-Yoru')
	sid=$(session_of c1)
	pw_sid=$(session_of c9)
	[ -n "$sid" ] && [ -n "$pw_sid" ] || fail "the sessions were not recorded with their logind ids"
	expect_eq "$(sql "SELECT reader FROM session_credentials WHERE session_id = $sid")" "$READER0" \
		"the card session is linked to its reader"
	expect_eq "$(sql "SELECT count(*) FROM session_credentials WHERE session_id = $pw_sid")" 0 \
		"the password session is linked to no card"
	logind_clear_calls
	card_remove card
	logind_wait_call LockSession c1 3 >/dev/null || fail "no LockSession(c1) after the card left"
	sleep 0.5
	logind_called LockSession c9 && fail "the password session was locked"
	logind_called TerminateSession c1 && fail "the card session was terminated, not locked"
	running "$card_pid" || fail "the locked session's leader was ended"
	expect_eq "$(sql "SELECT CASE WHEN closed_at IS NULL THEN 1 ELSE 0 END FROM sessions WHERE id = $sid")" 1 "a locked session stays open"
	expect_eq "$(audit_removal "$sid" locked)" 1 "the lock is audited"
	end_leader "$card_pid"
	end_leader "$pw_pid"
}

# terminated_by_removal C [CMD...]: the card session whose logind id is C
# sees its card leave with on_removal = terminate (CMD run just before),
# and logind asked to end it; its leader and session id in REM_PID and
# REM_SID.
terminated_by_removal() {
	local c=$1
	shift
	on_removal terminate
	card_insert card
	REM_PID=$(leader "card-$c")
	REM_SID=$(session_of "$c")
	[ -n "$REM_SID" ] || fail "the session was not recorded with its logind id"
	logind_clear_calls
	[ $# -eq 0 ] || "$@"
	card_remove card
	logind_wait_call TerminateSession "$c" 3 >/dev/null || fail "no TerminateSession($c) after the card left"
}

end_reason_is() { [ "$(sql "SELECT end_reason FROM sessions WHERE id = $1")" = "$2" ]; }
removal_audited() { [ "$(audit_removal "$1" "$2")" = 1 ]; }

t_terminate_on_removal() {
	local pid sid
	terminated_by_removal c2
	pid=$REM_PID sid=$REM_SID
	logind_called LockSession c2 && fail "locked instead"
	wait_until 400 end_reason_is "$sid" "card removed"
	expect_eq "$(sql "SELECT end_reason FROM sessions WHERE id = $sid")" "card removed" "the session's end"
	expect_eq "$(audit_removal "$sid" ended)" 1 "the end is audited"
	end_leader "$pid"
}

t_none_on_removal() {
	local pid sid
	on_removal none
	card_insert card
	pid=$(leader card-c3)
	sid=$(session_of c3)
	logind_clear_calls
	card_remove card
	sleep 2
	logind_called LockSession c3 && fail "locked with on_removal = none"
	logind_called TerminateSession c3 && fail "terminated with on_removal = none"
	running "$pid" || fail "the leader was ended"
	expect_eq "$(sql "SELECT CASE WHEN closed_at IS NULL THEN 1 ELSE 0 END FROM sessions WHERE id = $sid")" 1 "the session stays open"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE reason LIKE 'card removed%' AND $(sql_json_int detail session_id) = $sid")" \
		0 "nothing audited"
	grep -q 'card watcher: stopped' "$T/daemon.log" || fail "the watcher did not stop for none"
	end_leader "$pid"
}

# A session that names another uid's logind session: lock does not touch
# it (no fallback, audited failed); terminate ends it through its leader.
t_other_uid_never_trusted() {
	local pid sid
	on_removal lock
	card_insert card
	pid=$(leader card-c4)
	sid=$(session_of c4)
	logind_clear_calls
	card_remove card
	for _ in $(seq 1 30); do
		[ "$(audit_removal "$sid" failed)" = 1 ] && break
		sleep 0.1
	done
	expect_eq "$(audit_removal "$sid" failed)" 1 "the failed lock is audited"
	logind_called LockSession c4 && fail "LockSession for another uid's logind session"
	running "$pid" || fail "the leader was ended by a lock"

	on_removal terminate
	card_insert card
	logind_clear_calls
	card_remove card
	for _ in $(seq 1 50); do running "$pid" || break; sleep 0.1; done
	running "$pid" && fail "terminate did not end the leader"
	logind_called TerminateSession c4 && fail "TerminateSession for another uid's logind session"
	expect_eq "$(audit_removal "$sid" ended)" 1 "the end is audited"
}

# The helper dies: the watcher starts it again (logged, counted) and goes
# on acting on removals.
t_helper_restarted() {
	local pid hpid
	on_removal lock
	card_insert card
	pid=$(leader card-c5)
	# This environment's helper only: another script's, running at the
	# same time, is not ours to kill (and a second match made head's
	# early exit fail the pipeline).
	hpid=$(pids_by_cmdline "^$T/mamori-card-helper .*--watch" | head -n 1)
	[ -n "$hpid" ] || fail "no watcher helper running"
	kill -KILL "$hpid"
	for _ in $(seq 1 30); do grep -q 'card watcher: the helper exited.*restart 1)' "$T/daemon.log" && break; sleep 0.1; done
	grep -q 'card watcher: the helper exited.*restart 1)' "$T/daemon.log" || fail "the helper's death was not logged"
	sleep 1.5
	logind_clear_calls
	card_remove card
	logind_wait_call LockSession c5 3 >/dev/null || fail "no LockSession(c5) after the helper came back"
	end_leader "$pid"
}

# P-AUDIT: the end's record (the session closed, its audit row) refused
# once by the store, as a shared store refuses a serialization failure,
# is written again: the session was ended once, recorded once.
t_removal_record_refused_once() {
	local pid sid
	terminated_by_removal c7 eval 'echo "1 card removed" >"$REFUSE"'
	pid=$REM_PID sid=$REM_SID
	wait_until 400 removal_audited "$sid" ended
	sleep 0.5 # nothing more comes
	expect_eq "$(cut -d' ' -f1 "$REFUSE")" 0 "the refusal was used"
	grep -q "store: test hook: a commit refused" "$T/daemon.log" || fail "no refusal logged"
	expect_eq "$(logind_calls | grep -c 'TerminateSession.*c7')" 1 "TerminateSession(c7) calls"
	expect_eq "$(sql "SELECT end_reason FROM sessions WHERE id = $sid")" "card removed" "the session's end"
	expect_eq "$(audit_removal "$sid" ended)" 1 "the end is audited once"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE reason LIKE 'card removed%' AND $(sql_json_int detail session_id) = $sid")" \
		1 "no other removal row"
	end_leader "$pid"
}

# P-CARD-LOST: revoking the card ends its live session through logind's
# TerminateSession (the session has a logind id of its own user) within a
# second of the call.  Last: the card stays revoked.
t_revoke_terminates_through_logind() {
	local pid sid t0 t1
	on_removal none
	card_insert card
	pid=$(leader card-c6)
	sid=$(session_of c6)
	[ -n "$sid" ] || fail "the session was not recorded with its logind id"
	logind_clear_calls
	t0=$(date +%s%N)
	ctl card revoke "$USER_NAME" --reason lost >/dev/null || fail "card revoke failed"
	logind_wait_call TerminateSession c6 1 >/dev/null || fail "no TerminateSession(c6) within 1 s of the revocation"
	t1=$(date +%s%N)
	[ $(((t1 - t0) / 1000000)) -le 1000 ] || fail "TerminateSession came $(((t1 - t0) / 1000000)) ms after the call"
	expect_eq "$(sql "SELECT end_reason FROM sessions WHERE id = $sid")" "card revoked" "the session's end"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'session' AND result = 'ended'
		AND reason LIKE 'P-CARD-LOST%' AND $(sql_json_int detail session_id) = $sid")" 1 "the end is audited"
	end_leader "$pid"
}

run_test "card removal: on_removal = lock calls logind LockSession for the card's session only, audited" \
	t_lock_on_removal
run_test "card removal: on_removal = terminate calls TerminateSession, the session closed 'card removed'" \
	t_terminate_on_removal
run_test "card removal: on_removal = none does nothing (and the watcher stops on SIGHUP)" t_none_on_removal
run_test "card removal: a logind session of another uid is never trusted (lock fails, terminate signals the leader)" \
	t_other_uid_never_trusted
run_test "card removal: a helper that dies is started again and removals still act" t_helper_restarted
run_test "P-AUDIT card removal: the end's record refused once by the store is written again, one audit row" \
	t_removal_record_refused_once
run_test "P-CARD-LOST card revoke ends the card's live session through logind TerminateSession within 1 s" \
	t_revoke_terminates_through_logind

card_cleanup
tap_done
