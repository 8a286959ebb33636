#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The fleet sweep end to end (issue #14): daemons A and B, nodes term-a and
# term-b, share one PostgreSQL database, the sealing key and the audit key
# (as test-fleet.sh sets them up).  A session opened through B's PAM stack,
# with a leader process that stays, is ended by B within 1 s when A disables
# its account (A's NOTIFY wakes B's sweep); A, whose node it is not, never
# touches it; so when A's housekeeping disables an unused account.  With the
# notifications undeliverable the backstop
# (sweep_interval, 2 s on B) still ends it, and a listener that was lost
# comes back.  PostgreSQL only: `make check-postgresql` runs it.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "python3" test -x /usr/bin/python3
if ! on_postgresql; then
	echo "1..0 # SKIP two daemons share a store on PostgreSQL only (make check-postgresql)"
	exit 0
fi

# Backends stopped by a test (SIGSTOP) are continued whatever happens, or
# dropping the database and stopping the cluster would wait for them.
STOPPED=""
cont_stopped() {
	local p
	for p in $STOPPED; do kill -CONT "$p" 2>/dev/null || true; done # (it may have gone)
	STOPPED=""
}
# Leaders a failed test left running are ended too (only a pid still
# running this script's pam_client -S: a pid may have been used again).
LEADERS=$(mktemp)
end_leaders() {
	local p
	[ -f "$LEADERS" ] || return 0
	while read -r p; do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q '/mamori-test\.[^/]*/pam_client -S ' || continue
		kill -TERM "$p" 2>/dev/null || true # (it may have ended meanwhile)
	done <"$LEADERS"
	rm -f "$LEADERS"
}
trap 'cont_stopped; end_leaders; cleanup_all' EXIT

# set_store_lines KEY=VALUE...: lines added to $T's [store] section.
set_store_lines() {
	local kv
	for kv in "$@"; do
		sed -i "/^\[store\]$/a ${kv%%=*} = ${kv#*=}" "$T/mamori.conf"
	done
}

# Daemon A: a database of its own, its keys made at its first start.
new_env
A=$T
set_store_lines node=term-a
# A's housekeeping disables accounts unused for 30 days (the last test moves
# A's clock past that).
printf '\n[accounts]\nstale_disable = yes\nstale_after_days = 30\n' >>"$A/mamori.conf"
start_daemon || { echo "Bail out! daemon A did not start"; exit 1; }

# Daemon B: A's database and keys; the backstop every 2 s.
MAMORI_TEST_SHARE_DB=$(cat "$A/pgdb") new_env
B=$T
set_store_lines node=term-b sweep_interval=2
mkdir -p "$B/state"
chmod 700 "$B/state"
cp -p "$A/state/store.key" "$A/state/audit.key" "$B/state/"
cp -p "$A/clock" "$B/clock"
start_daemon || { echo "Bail out! daemon B did not start"; exit 1; }
[ "$(cat "$A/pgdb")" = "$(cat "$B/pgdb")" ] && [ "$A/run/pam.sock" != "$B/run/pam.sock" ] ||
	{ echo "Bail out! the two daemons are not set up as meant"; exit 1; }

on_a() { use_env "$A"; }
on_b() { use_env "$B"; }
now_ms() { date +%s%3N; }

# open_session USER PW: a live session of USER through the current
# environment's PAM stack, with a leader process that stays (pam_client -S,
# in a session of its own); prints the leader's pid.
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
	echo "$pid" >>"$LEADERS"
	echo "$pid"
}
running() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "${st%% *}" != Z ]
}

# session_of PID: the open session whose leader is PID.
session_of() {
	sql "SELECT id FROM sessions WHERE leader_pid = $1 AND closed_at IS NULL ORDER BY id DESC LIMIT 1"
}

# wait_gone PID MAX_MS: waits until the process PID has ended, at most
# MAX_MS (polling every 10 ms); prints the milliseconds since $START.
wait_gone() {
	local pid=$1 limit=$(($(now_ms) + $2))
	while running "$pid" && [ "$(now_ms)" -lt "$limit" ]; do sleep 0.01; done
	if running "$pid"; then
		fail "the session's leader $pid still runs after $2 ms"
		return 1
	fi
	echo $(($(now_ms) - START))
}

# ended_by_b SID REASON: session SID is recorded ended with REASON, one
# audit row says so (P-ID-LIFECYCLE, ended), and only B's daemon ended it:
# B's log names it, A's does not.
ended_by_b() {
	local sid=$1 reason=$2 i
	for i in $(seq 1 50); do
		[ -n "$(sql "SELECT closed_at FROM sessions WHERE id = $sid")" ] && break
		sleep 0.1
	done
	expect_eq "$(sql "SELECT node FROM sessions WHERE id = $sid")" term-b "the session's node"
	expect_eq "$(sql "SELECT CASE WHEN closed_at IS NOT NULL THEN 1 ELSE 0 END FROM sessions WHERE id = $sid")" 1 \
		"session $sid recorded ended"
	expect_eq "$(sql "SELECT end_reason FROM sessions WHERE id = $sid")" "$reason" "end reason"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'session' AND result = 'ended'
		AND reason = 'P-ID-LIFECYCLE: account $reason' AND $(sql_json_int detail session_id) = $sid")" 1 \
		"audit rows of the end of session $sid"
	grep -q "fleet sweep: session $sid of " "$B/daemon.log" || fail "B's log does not say its sweep ended $sid"
	grep -q "session $sid of .* ended: " "$B/daemon.log" || fail "B's log does not say $sid ended"
	! grep -q "session $sid of " "$A/daemon.log" || fail "A's log names session $sid"
}

TIMES=$(mktemp)

# ------------------------------------------------ disable on A, session on B

t_disable_on_a_ends_session_on_b() {
	local pid sid ms
	on_a
	add_user fs.one 'Haru-no-Kaze-2030'
	on_b
	pid=$(open_session fs.one 'Haru-no-Kaze-2030')
	sid=$(session_of "$pid")
	[ -n "$sid" ] || fail "no open session"
	expect_eq "$(sql "SELECT node FROM sessions WHERE id = $sid")" term-b "the node of B's session"
	sleep 0.3 # (the sweeps that followed the session's opening are over)
	on_a
	START=$(now_ms)
	ctl user disable fs.one >/dev/null
	ms=$(wait_gone "$pid" 5000) || return 1
	echo "disable on A -> session on B ended: $ms ms" | tee -a "$TIMES"
	[ "$ms" -le 1000 ] || fail "the session ended after $ms ms (more than 1 s)"
	ended_by_b "$sid" disabled
}

# Several sessions of one account on both terminals: each daemon ends its
# own node's sessions, within 1 s, each once.
t_disable_on_a_ends_sessions_on_both() {
	local pa pb1 pb2 sa sb1 sb2 ms
	on_a
	add_user fs.two 'Natsu-no-Umi-2030'
	pa=$(open_session fs.two 'Natsu-no-Umi-2030')
	sa=$(session_of "$pa")
	on_b
	pb1=$(open_session fs.two 'Natsu-no-Umi-2030')
	pb2=$(open_session fs.two 'Natsu-no-Umi-2030')
	sb1=$(session_of "$pb1")
	sb2=$(session_of "$pb2")
	[ -n "$sa" ] && [ -n "$sb1" ] && [ -n "$sb2" ] || fail "the sessions did not open"
	expect_eq "$(sql "SELECT node FROM sessions WHERE id = $sa")" term-a "the node of A's session"
	sleep 0.3
	on_a
	START=$(now_ms)
	ctl user disable fs.two >/dev/null
	ms=$(wait_gone "$pb1" 5000) || return 1
	ms=$(wait_gone "$pb2" 5000) || return 1
	echo "disable on A -> two sessions on B ended: $ms ms" | tee -a "$TIMES"
	[ "$ms" -le 1000 ] || fail "B's sessions ended after $ms ms (more than 1 s)"
	ms=$(wait_gone "$pa" 5000) || return 1
	echo "disable on A -> the session on A ended: $ms ms" | tee -a "$TIMES"
	[ "$ms" -le 1000 ] || fail "A's session ended after $ms ms (more than 1 s)"
	ended_by_b "$sb1" disabled
	ended_by_b "$sb2" disabled
	# A's own session: ended by A, once; B never named it.
	on_a
	expect_eq "$(sql "SELECT end_reason FROM sessions WHERE id = $sa")" disabled "end reason of A's session"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'session' AND result = 'ended'
		AND $(sql_json_int detail session_id) = $sa")" 1 "audit rows of the end of A's session"
	grep -q "fleet sweep: session $sa of " "$A/daemon.log" || fail "A's log does not say its sweep ended $sa"
	! grep -q "session $sa of " "$B/daemon.log" || fail "B's log names A's session $sa"
}

# ------------------------------------------------ notifications unavailable

# listeners: the backends of the daemons' event connections.
listeners() {
	sql "SELECT pid FROM pg_stat_activity WHERE datname = current_database()
		AND application_name = 'mamori-authd-listen' AND query LIKE 'LISTEN%' ORDER BY pid"
}

# The listeners' backends stopped (SIGSTOP): their connections look alive
# and the commits' notifications are never delivered.  B's backstop
# (sweep_interval = 2) ends the session within 2 s (3 s with the time to
# end it), and no event woke B.
t_backstop_without_notifications() {
	local pid sid ms p events_before
	on_a
	add_user fs.three 'Aki-no-Tsuki-2030'
	on_b
	pid=$(open_session fs.three 'Aki-no-Tsuki-2030')
	sid=$(session_of "$pid")
	[ -n "$sid" ] || fail "no open session"
	[ "$(listeners | wc -l)" -eq 2 ] || fail "not two listeners: $(listeners | tr '\n' ' ')"
	for p in $(listeners); do
		STOPPED="$STOPPED $p"
		kill -STOP "$p"
	done
	sleep 0.3
	events_before=$(grep -c 'fleet sweep: event' "$B/daemon.log" || true)
	on_a
	START=$(now_ms)
	ctl user disable fs.three >/dev/null
	ms=$(wait_gone "$pid" 6000) || return 1
	echo "disable on A, no notifications -> session on B ended by the backstop: $ms ms" | tee -a "$TIMES"
	[ "$ms" -le 3000 ] || fail "the session ended after $ms ms (more than sweep_interval + 1 s)"
	expect_eq "$(grep -c 'fleet sweep: event' "$B/daemon.log" || true)" "$events_before" \
		"events B received meanwhile"
	ended_by_b "$sid" disabled
	cont_stopped
}

# The listeners' backends terminated: each daemon reconnects, and a later
# disable on A again ends a session on B within 1 s.
t_listener_reconnects() {
	local pid sid ms old new i
	old=$(listeners | tr '\n' ' ')
	[ -n "$old" ] || fail "no listener"
	sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()
		AND query LIKE 'LISTEN%'" >/dev/null
	for i in $(seq 1 100); do
		new=$(listeners | tr '\n' ' ')
		[ "$(wc -w <<<"$new")" -eq 2 ] && [ "$new" != "$old" ] && break
		sleep 0.1
	done
	[ "$(wc -w <<<"$new")" -eq 2 ] || fail "the listeners did not come back: '$new' (before: '$old')"
	for i in $old; do
		! grep -qw "$i" <<<"$new" || fail "listener $i was not terminated"
	done
	grep -q 'the event connection was lost' "$B/daemon.log" || fail "B did not see its listener lost"
	on_a
	add_user fs.four 'Fuyu-no-Yuki-2030'
	on_b
	pid=$(open_session fs.four 'Fuyu-no-Yuki-2030')
	sid=$(session_of "$pid")
	[ -n "$sid" ] || fail "no open session"
	sleep 0.3
	on_a
	START=$(now_ms)
	ctl user disable fs.four >/dev/null
	ms=$(wait_gone "$pid" 5000) || return 1
	echo "listener reconnected; disable on A -> session on B ended: $ms ms" | tee -a "$TIMES"
	[ "$ms" -le 1000 ] || fail "the session ended after $ms ms (more than 1 s)"
	ended_by_b "$sid" disabled
}

# ------------------------------------------------ housekeeping's disable

# A's housekeeping disables an unused account (P-ID-STALE): its commit
# sends the fleet event as an administrator's disable does, and B's sweep,
# woken by it, ends the account's session on B within 1 s.  A's clock moves
# 31 days: this test runs last.
t_stale_on_a_ends_session_on_b() {
	local pid sid ms events i
	on_a
	add_user fs.five 'Fuyu-no-Hoshi-2030'
	on_b
	pid=$(open_session fs.five 'Fuyu-no-Hoshi-2030')
	sid=$(session_of "$pid")
	[ -n "$sid" ] || fail "no open session"
	sleep 0.3
	events=$(grep -c 'fleet sweep: event' "$B/daemon.log" || true)
	on_a
	advance_clock $((31 * 86400))
	# The housekeeping tick (every second) disables it: from its audit row.
	for i in $(seq 1 500); do
		[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'fs.five' AND reason = 'P-ID-STALE: unused'")" = 1 ] &&
			break
		sleep 0.01
	done
	START=$(now_ms)
	[ "$i" -lt 500 ] || fail "A's housekeeping did not disable fs.five"
	ms=$(wait_gone "$pid" 5000) || return 1
	echo "stale disable by A's housekeeping -> session on B ended: $ms ms" | tee -a "$TIMES"
	[ "$ms" -le 1000 ] || fail "the session ended after $ms ms (more than 1 s)"
	[ "$(grep -c 'fleet sweep: event' "$B/daemon.log" || true)" -gt "$events" ] ||
		fail "no event woke B's sweep"
	ended_by_b "$sid" disabled
}

show_times() {
	sed 's/^/# /' "$TIMES"
	: >"$TIMES"
}

run_test "P-ID-LIFECYCLE an account disabled on A: its session on B ends within 1 s, ended and audited by B only" \
	t_disable_on_a_ends_session_on_b
show_times
run_test "P-ID-LIFECYCLE an account disabled on A: its sessions on B and on A each end within 1 s, each by its own daemon, once" \
	t_disable_on_a_ends_sessions_on_both
show_times
run_test "P-ID-LIFECYCLE notifications undelivered: B's backstop (sweep_interval 2 s) ends the session within 3 s" \
	t_backstop_without_notifications
show_times
run_test "P-ID-LIFECYCLE listeners terminated: they reconnect, and a disable on A again ends B's session within 1 s" \
	t_listener_reconnects
show_times
run_clock_test "P-ID-LIFECYCLE P-ID-STALE an account disabled by A's housekeeping: its session on B ends within 1 s, woken by the event" \
	t_stale_on_a_ends_session_on_b
show_times
rm -f "$TIMES"
end_leaders
tap_done
