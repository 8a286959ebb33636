#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The real sudo, in a private mount namespace whose /etc/pam.d/sudo uses the
# built module and a privileged service policy: password + TOTP, and a time
# box that ends a long-running command.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "unshare" command -v unshare
require "sudo" test -u "$(command -v sudo)"
require "oathtool" command -v oathtool
require "python3" test -x /usr/bin/python3
# TOTP codes and the time box follow the test clock.
require_test_hooks "needs the test clock"

EXTRA_CONF="[service sudo]
privileged = yes
require = password+totp

[policy staff]
min_age_days = 0

[policy privileged]
session_limit = 600"
new_env
set_clock "$(date -d '2030-03-05 10:00:00' +%s)"
# The store's refusal hook (tests/integration/test-store-retry.sh): "N
# text" refuses the next N commits whose audit rows' reason holds text.
REFUSE=$T/refuse
echo 0 >"$REFUSE"
export MAMORI_TEST_STORE_REFUSE_FILE=$REFUSE
start_daemon || { echo "Bail out! daemon did not start"; exit 1; }
ns_setup
ns_pam sudo

totp_code() { oathtool --totp -b "$1" --now "@$(($(cat "$T/clock") + ${2:-0}))"; }
add_user mamori-ns 'Sudo-no-Kagi-2030'
out=$($RAW "$T/run/admin.sock" '{"method":"io.mamori.Admin.TotpEnroll","parameters":{"name":"mamori-ns"}}')
SECRET=$(json 'd["parameters"]["secret"]' <<<"${out%%$'\n'*}")
$RAW "$T/run/admin.sock" "{\"method\":\"io.mamori.Admin.TotpConfirm\",\"parameters\":{\"name\":\"mamori-ns\",\"code\":\"$(totp_code "$SECRET")\"}}" >/dev/null

# sudo_as ANSWERS COMMAND...: the test account runs sudo -S COMMAND, typing
# ANSWERS (one per line); prints sudo's output and exit status.
cat >"$T/sudo.sh" <<'SH'
answers=$1
shift
rc=0
printf '%b' "$answers" | runuser -u mamori-ns -- sudo -S "$@" 2>&1 || rc=$?
echo "rc=$rc"
SH

t_sudo_password_and_totp() {
	local out
	advance_clock 30
	out=$(ns_run "$T/sudo.sh" "Sudo-no-Kagi-2030\n$(totp_code "$SECRET")\n" id -un)
	echo "$out"
	expect_match "$out" 'Verification code: ' "code prompt"
	expect_match "$out" '(^|: )root$' "command ran as root"
	expect_match "$out" 'rc=0' "sudo status"
	[ "$(sql "SELECT count(*) FROM audit WHERE service = 'sudo' AND \"user\" = 'mamori-ns' AND result = 'success' AND category = 'auth'")" -ge 1 ] ||
		fail "not audited"
}

t_sudo_wrong_factors_refused() {
	local out
	advance_clock 30
	out=$(ns_run "$T/sudo.sh" "Sudo-no-Kagi-2030\n000000\n" id -un)
	echo "$out"
	! grep -Eq '(^|: )root$' <<<"$out" || fail "command ran with a wrong code"
	expect_match "$out" 'rc=1' "sudo status"
	out=$(ns_run "$T/sudo.sh" "wrong-password\n$(totp_code "$SECRET")\n" id -un)
	! grep -Eq '(^|: )root$' <<<"$out" || fail "command ran with a wrong password"
	out=$(ns_run "$T/sudo.sh" "Sudo-no-Kagi-2030\n" id -un)
	! grep -Eq '(^|: )root$' <<<"$out" || fail "command ran with the password alone"
}

time_box_rows() {
	sql "SELECT count(*) FROM audit WHERE \"user\" = 'mamori-ns' AND reason LIKE '%time box%'"
}

# Housekeeping runs every second: wait for two of its ticks.
housekeeping_ticks() { sleep 2.5; }

t_sudo_session_closed_never_time_boxed() {
	local out before
	advance_clock 30
	before=$(time_box_rows)
	out=$(ns_run "$T/sudo.sh" "Sudo-no-Kagi-2030\n$(totp_code "$SECRET")\n" id -un)
	echo "$out"
	expect_match "$out" 'rc=0' "sudo status"
	# sudo opened its session for root, recorded under mamori-ns; its close
	# (PAM_USER root) closes that record.
	expect_eq "$(sql "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.name = 'mamori-ns' AND s.service = 'sudo' AND s.closed_at IS NULL")" 0 "open sudo sessions"
	[ "$(sql "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.name = 'mamori-ns' AND s.service = 'sudo' AND s.closed_at IS NOT NULL")" -ge 1 ] ||
		fail "no closed sudo session"
	# An hour later, the time box has nothing to say about it.
	advance_clock 3600
	housekeeping_ticks
	expect_eq "$(time_box_rows)" "$before" "time box rows"
}

t_exited_leader_recorded_as_a_normal_end() {
	local id before
	advance_clock 30
	before=$(time_box_rows)
	# A privileged session whose leader exits without closing it.
	pam -p 'Sudo-no-Kagi-2030' mamori-priv mamori-ns auth=SUCCESS open=SUCCESS >/dev/null
	id=$(sql "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.name = 'mamori-ns' AND s.service = 'mamori-priv' AND s.closed_at IS NULL ORDER BY s.id DESC LIMIT 1")
	[ -n "$id" ] || fail "no open session"
	[ "$(sql "SELECT deadline FROM sessions WHERE id = $id")" -gt 0 ] || fail "no time box"
	advance_clock 601
	housekeeping_ticks
	expect_eq "$(sql "SELECT end_reason FROM sessions WHERE id = $id")" "leader exited" "end reason"
	expect_eq "$(time_box_rows)" "$before" "time box rows"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'mamori-ns' AND service = 'mamori-priv' AND category = 'session' AND reason = 'session closed: its leader had exited'")" = 1 ] ||
		fail "the end is not audited"
}

t_sudo_time_box_ends_long_command() {
	local i pid
	advance_clock 30
	# A length of its own, so that no other run's command is taken for it.
	ns_run "$T/sudo.sh" "Sudo-no-Kagi-2030\n$(totp_code "$SECRET")\n" sleep "1000.$$" >"$T/sudo-long.out" 2>&1 &
	local nspid=$!
	for i in $(seq 1 100); do
		pid=$(pids_by_cmdline "^sleep 1000\\.$$\$")
		pid=${pid%%$'\n'*} # the first
		[ -n "$pid" ] && break
		sleep 0.1
	done
	[ -n "$pid" ] || { cat "$T/sudo-long.out"; fail "the command did not start"; }
	advance_clock 601
	for i in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		sql "SELECT * FROM sessions WHERE service = 'sudo'"
		tail -n 15 "$T/daemon.log"
		fail "the time box did not end the command"
	fi
	wait "$nspid" || true # sudo ended by the time box fails: its status says nothing here
	cat "$T/sudo-long.out"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'mamori-ns' AND service = 'sudo' AND reason LIKE '%time box%'")" -ge 1 ] ||
		fail "not audited"
}

# P-PRIV-TIME P-AUDIT: the time box's end is recorded (the session closed
# "time box", its "ended" audit row) after the leader was ended; that
# record refused N times by the store, as a shared store refuses a
# serialization failure: once, it is written again at once; at each of
# the tick's 4 runs, the next tick writes it, still as the time box's end
# (the leader is gone by then, which must not make it a normal end).
time_box_record_refused() {
	local pid id out=$T/tb-leader.out
	advance_clock 30
	setsid env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" "$PAM_CLIENT" -S \
		-p 'Sudo-no-Kagi-2030' -t pts/9 mamori-priv mamori-ns auth=SUCCESS open=SUCCESS >"$out" 2>&1 &
	wait_until 400 grep -q 'READY\|FAILED' "$out"
	pid=$(sed -n 's/^READY //p' "$out")
	[ -n "$pid" ] || { cat "$out"; fail "session did not open"; }
	id=$(sql "SELECT id FROM sessions WHERE leader_pid = $pid AND closed_at IS NULL ORDER BY id DESC LIMIT 1")
	[ -n "$id" ] || fail "no open session"
	echo "$1 privileged time box expired" >"$REFUSE"
	advance_clock 601
	wait_until 400 eval "! kill -0 $pid 2>/dev/null"
	! kill -0 "$pid" 2>/dev/null || { kill "$pid"; fail "the time box did not end the session"; }
	wait_until 400 eval '[ -n "$(sql "SELECT end_reason FROM sessions WHERE id = $id")" ]'
	housekeeping_ticks # nothing more comes
	expect_eq "$(cut -d' ' -f1 "$REFUSE")" 0 "the refusal was used"
	grep -q "store: test hook: a commit refused" "$T/daemon.log" || fail "no refusal logged"
	expect_eq "$(grep -c "sent SIGTERM to leader $pid\$" "$T/daemon.log")" 1 "the leader signalled once"
	expect_eq "$(sql "SELECT end_reason FROM sessions WHERE id = $id")" "time box" "end reason"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'session' AND result = 'ended' AND reason = 'privileged time box expired' AND $(sql_json_int detail session_id) = $id")" \
		1 "the time box's end audited once"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'session' AND reason <> 'session opened' AND $(sql_json_int detail session_id) = $id")" \
		1 "no other end audited"
}

t_time_box_record_refused_once() { time_box_record_refused 1; }
t_time_box_record_refused_a_whole_tick() { time_box_record_refused 4; }

t_sudo_daemon_down_fails_closed() {
	local out
	stop_daemon
	out=$(ns_run "$T/sudo.sh" "Sudo-no-Kagi-2030\n123456\n" id -un)
	echo "$out"
	! grep -Eq '(^|: )root$' <<<"$out" || fail "command ran without the daemon"
	start_daemon
}

run_test "P-MFA-ALL real sudo -S needs password and TOTP" t_sudo_password_and_totp
run_test "P-PRIV-STRICT real sudo refuses wrong or missing factors" t_sudo_wrong_factors_refused
run_test "P-PRIV-TIME real sudo's session is recorded closed, and no time box ends it afterwards" \
	t_sudo_session_closed_never_time_boxed
run_test "P-PRIV-TIME a session whose leader had exited is recorded closed, not ended by its time box" \
	t_exited_leader_recorded_as_a_normal_end
run_test "P-PRIV-TIME the privileged time box ends a long sudo command" t_sudo_time_box_ends_long_command
run_test "P-PRIV-TIME P-AUDIT the time box's record refused once by the store is written again: ended once, one audit row" \
	t_time_box_record_refused_once
run_test "P-PRIV-TIME P-AUDIT the time box's record refused at every run of a tick is written at the next, as the time box's" \
	t_time_box_record_refused_a_whole_tick
run_test "real sudo fails closed when the daemon is down" t_sudo_daemon_down_fails_closed
tap_done
