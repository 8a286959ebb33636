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
. "$(dirname "$0")/fleet_lib.sh"

fleet_require

# Backends stopped by a test (SIGSTOP) are continued whatever happens, or
# dropping the database and stopping the cluster would wait for them.
STOPPED=""
cont_stopped() {
	local p
	for p in $STOPPED; do kill -CONT "$p" 2>/dev/null || true; done # (it may have gone)
	STOPPED=""
}
trap 'cont_stopped; fleet_done; cleanup_all' EXIT

# Daemon A: a database of its own, its keys made at its first start.
fleet_new_a
# A's housekeeping disables accounts unused for 30 days (the last test moves
# A's clock past that).
printf '\n[accounts]\nstale_disable = yes\nstale_after_days = 30\n' >>"$A/mamori.conf"
fleet_start

# Daemon B: A's database and keys; the backstop every 2 s.
fleet_new_b sweep_interval=2
fleet_start
[ "$(cat "$A/pgdb")" = "$(cat "$B/pgdb")" ] && [ "$A/run/pam.sock" != "$B/run/pam.sock" ] ||
	{ echo "Bail out! the two daemons are not set up as meant"; exit 1; }

# session_on_b USER PW: USER added on A, and a live session of it opened
# through B's PAM stack (node term-b): its leader in PID, its id in SID.
session_on_b() {
	on_a
	add_user "$1" "$2"
	on_b
	PID=$(open_session mamori-test "$1" "$2")
	SID=$(session_of "$PID")
	[ -n "$SID" ] || fail "no open session"
	expect_eq "$(sql "SELECT node FROM sessions WHERE id = $SID")" term-b "the node of B's session"
}

# disable_on_a USER: once the sweeps that followed the sessions' opening are
# over, A disables USER; START is when, EVENTS the events B had received.
disable_on_a() {
	sleep 0.3
	on_a
	EVENTS=$(events_of_b)
	START=$(now_ms)
	ctl user disable "$1" >/dev/null
}
events_of_b() { grep -c 'fleet sweep: event' "$B/daemon.log" || true; }
# woken_by_event: an event reached B's sweep since disable_on_a (with
# sweep_interval 2 s, the backstop alone meets a 1 s bound in some runs).
woken_by_event() {
	[ "$(events_of_b)" -gt "$EVENTS" ] || fail "no event woke B's sweep"
}

# ended_within PID MS TEXT: the session's leader PID has ended within MS
# of $START (waited for 5 s more); TEXT and the time are shown.
ended_within() {
	local ms
	ms=$(wait_gone "$1" $(($2 + 5000))) || return 1
	fleet_time "$3: $ms ms"
	[ "$ms" -le "$2" ] || fail "$3 after $ms ms (more than $2 ms)"
}

# ended_disabled_by_b SID: ended by B's sweep as the account's disable.
ended_disabled_by_b() {
	ended_by_b "$1" disabled "P-ID-LIFECYCLE: account disabled"
}

# ------------------------------------------------ disable on A, session on B

t_disable_on_a_ends_session_on_b() {
	session_on_b fs.one 'Haru-no-Kaze-2030'
	disable_on_a fs.one
	ended_within "$PID" 1000 "disable on A -> session on B ended"
	woken_by_event
	ended_disabled_by_b "$SID"
}

# Several sessions of one account on both terminals: each daemon ends its
# own node's sessions, within 1 s, each once.
t_disable_on_a_ends_sessions_on_both() {
	local pw='Natsu-no-Umi-2030' pa pb1 pb2 sa sb1 sb2
	session_on_b fs.two "$pw"
	pb1=$PID
	sb1=$SID
	pb2=$(open_session mamori-test fs.two "$pw")
	sb2=$(session_of "$pb2")
	on_a
	pa=$(open_session mamori-test fs.two "$pw")
	sa=$(session_of "$pa")
	[ -n "$sa" ] && [ -n "$sb2" ] || fail "the sessions did not open"
	expect_eq "$(sql "SELECT node FROM sessions WHERE id = $sa")" term-a "the node of A's session"
	disable_on_a fs.two
	ended_within "$pb1" 1000 "disable on A -> the first session on B ended"
	ended_within "$pb2" 1000 "disable on A -> the second session on B ended"
	ended_within "$pa" 1000 "disable on A -> the session on A ended"
	woken_by_event
	ended_disabled_by_b "$sb1"
	ended_disabled_by_b "$sb2"
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
	local p
	session_on_b fs.three 'Aki-no-Tsuki-2030'
	[ "$(listeners | wc -l)" -eq 2 ] || fail "not two listeners: $(listeners | tr '\n' ' ')"
	for p in $(listeners); do
		STOPPED="$STOPPED $p"
		kill -STOP "$p"
	done
	disable_on_a fs.three
	ended_within "$PID" 3000 "disable on A, no notifications -> session on B ended by the backstop"
	expect_eq "$(events_of_b)" "$EVENTS" "events B received meanwhile"
	ended_disabled_by_b "$SID"
	cont_stopped
}

# The listeners' backends terminated: each daemon reconnects, and a later
# disable on A again ends a session on B within 1 s.
t_listener_reconnects() {
	local old new i
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
	session_on_b fs.four 'Fuyu-no-Yuki-2030'
	disable_on_a fs.four
	ended_within "$PID" 1000 "listener reconnected; disable on A -> session on B ended"
	woken_by_event
	ended_disabled_by_b "$SID"
}

# ------------------------------------------------ housekeeping's disable

# A's housekeeping disables an unused account (P-ID-STALE): its commit
# sends the fleet event as an administrator's disable does, and B's sweep,
# woken by it, ends the account's session on B within 1 s.  A's clock moves
# 31 days: this test runs last.
t_stale_on_a_ends_session_on_b() {
	local events i
	session_on_b fs.five 'Fuyu-no-Hoshi-2030'
	sleep 0.3
	events=$(events_of_b)
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
	ended_within "$PID" 1000 "stale disable by A's housekeeping -> session on B ended"
	[ "$(events_of_b)" -gt "$events" ] || fail "no event woke B's sweep"
	ended_disabled_by_b "$SID"
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
fleet_done
tap_done
