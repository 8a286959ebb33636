# SPDX-License-Identifier: BSD-2-Clause
# Two daemons on one PostgreSQL store for the fleet sweep's end-to-end tests
# (issue #14): source after lib.sh.  Daemon A (node term-a) and daemon B
# (node term-b) share the database, the sealing key and the audit key.
#
#   fleet_require                  root, pam_client and python3, or fail;
#                                  SKIP the whole script off PostgreSQL
#   fleet_new_a                    new_env for A (node term-a); sets A
#   fleet_new_b [KEY=VALUE...]     new_env for B on A's database, with A's
#                                  keys and clock, more [store] lines; sets B
#   fleet_start                    start $T's daemon, or Bail out
#   set_store_lines KEY=VALUE...   lines added to $T's [store] section
#   on_a / on_b                    use_env A / B
#   now_ms                         the wall clock in milliseconds
#   open_session SERVICE USER SECRET [TTY]
#                                  a live session through $T's PAM stack,
#                                  with a leader that stays; prints its pid
#   running PID / session_of PID / wait_gone PID MAX_MS
#   ended_by_b SID END_REASON AUDIT_REASON
#   end_leaders                    the leaders a failed test left running
#   fleet_time TEXT / show_times   a timing a test measured; all of them as
#                                  TAP comments after the test
#   fleet_done                     end_leaders and the timings' file

# fleet_require: what every fleet test runs; two daemons share a store on
# PostgreSQL only.
fleet_require() {
	require "root" test "$(id -u)" = 0
	require "pam_client" test -x "$BUILT_PAM_CLIENT"
	require "python3" test -x /usr/bin/python3
	if ! on_postgresql; then
		echo "1..0 # SKIP two daemons share a store on PostgreSQL only (make check-postgresql)"
		exit 0
	fi
}

# fleet_lockout_a_to_b NAME PASSWORD: NAME made on A fails five times
# there, the fifth locking it; at once B refuses the right password as
# locked, and the store holds one count of five.  Leaves B in use.
fleet_lockout_a_to_b() {
	local i
	on_a
	add_user "$1" "$2"
	for i in 1 2 3 4; do pam -p 'wrong' mamori-test "$1" auth=AUTH_ERR >/dev/null; done
	pam -p 'wrong' mamori-test "$1" auth=MAXTRIES
	on_b
	pam -p "$2" mamori-test "$1" auth=MAXTRIES
	expect_eq "$(sql "SELECT failures FROM lockouts WHERE name = '$1'")" 5 "one count in the store"
}

set_store_lines() {
	local kv
	for kv in "$@"; do
		sed -i "/^\[store\]$/a ${kv%%=*} = ${kv#*=}" "$T/mamori.conf"
	done
}

fleet_new_a() {
	LEADERS=$(mktemp)
	TIMES=$(mktemp)
	new_env
	A=$T
	set_store_lines node=term-a
}

# fleet_new_b: after A's daemon has started (its keys are made then).
fleet_new_b() {
	MAMORI_TEST_SHARE_DB=$(cat "$A/pgdb") new_env
	B=$T
	set_store_lines node=term-b "$@"
	mkdir -p "$B/state"
	chmod 700 "$B/state"
	cp -p "$A/state/store.key" "$A/state/audit.key" "$B/state/"
	cp -p "$A/clock" "$B/clock"
}

fleet_start() {
	start_daemon || {
		echo "Bail out! daemon $T did not start"
		exit 1
	}
}

on_a() { use_env "$A"; }
on_b() { use_env "$B"; }
now_ms() { date +%s%3N; }

# Leaders a failed test left running are ended too (only a pid still
# running this script's pam_client -S: a pid may have been used again).
# $LEADERS and $TIMES are made by fleet_new_a.
LEADERS=""
end_leaders() {
	local p
	[ -f "$LEADERS" ] || return 0
	while read -r p; do
		tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" | grep -q '/mamori-test\.[^/]*/pam_client -S ' || continue
		kill -TERM "$p" 2>/dev/null || true # (it may have ended meanwhile)
	done <"$LEADERS"
	rm -f "$LEADERS"
}

# open_session SERVICE USER SECRET [TTY]: a live session of USER through the
# current environment's PAM stack (SECRET answers the first prompt: a
# password or a security key's PIN), with a leader process that stays
# (pam_client -S, in a session of its own); prints the leader's pid.
open_session() {
	local service=$1 user=$2 secret=$3 tty=${4:-pts/7} out i pid
	out=$T/leader-$user-$RANDOM.out
	cat >"$T/pam_client_env" <<SH
#!/bin/sh
exec env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" "$PAM_CLIENT" "\$@"
SH
	chmod 755 "$T/pam_client_env"
	setsid "$T/pam_client_env" -S -p "$secret" -t "$tty" "$service" "$user" auth=SUCCESS open=SUCCESS >"$out" 2>&1 &
	for i in $(seq 1 100); do grep -q READY "$out" && break; sleep 0.1; done
	pid=$(sed -n 's/^READY //p' "$out")
	[ -n "$pid" ] || { cat "$out" >&2; return 1; }
	echo "$pid" >>"$LEADERS"
	echo "$pid"
}

# running PID: whether PID runs (a zombie has ended: nobody reaps it here).
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

# ended_by_b SID END_REASON AUDIT_REASON: session SID (on node term-b) is
# recorded ended with END_REASON, one audit row of its end says
# AUDIT_REASON, and only B's daemon ended it: B's log names it, A's does not.
ended_by_b() {
	local sid=$1 reason=$2 audit=$3 i
	for i in $(seq 1 50); do
		[ -n "$(sql "SELECT closed_at FROM sessions WHERE id = $sid")" ] && break
		sleep 0.1
	done
	expect_eq "$(sql "SELECT node FROM sessions WHERE id = $sid")" term-b "the session's node"
	expect_eq "$(sql "SELECT CASE WHEN closed_at IS NOT NULL THEN 1 ELSE 0 END FROM sessions WHERE id = $sid")" 1 \
		"session $sid recorded ended"
	expect_eq "$(sql "SELECT end_reason FROM sessions WHERE id = $sid")" "$reason" "end reason"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'session' AND result = 'ended'
		AND $(sql_json_int detail session_id) = $sid")" 1 "audit rows of the end of session $sid"
	expect_eq "$(sql "SELECT reason FROM audit WHERE category = 'session' AND result = 'ended'
		AND $(sql_json_int detail session_id) = $sid")" "$audit" "the audit row's reason"
	grep -q "fleet sweep: session $sid of " "$B/daemon.log" || fail "B's log does not say its sweep ended $sid"
	grep -q "session $sid of .* ended: " "$B/daemon.log" || fail "B's log does not say $sid ended"
	! grep -q "session $sid of " "$A/daemon.log" || fail "A's log names session $sid"
}

TIMES=""
# fleet_time TEXT: one timing, shown after the test (show_times).
fleet_time() { echo "$*" | tee -a "$TIMES"; }
show_times() {
	sed 's/^/# /' "$TIMES"
	: >"$TIMES"
}
# fleet_done: the leaders and the timings' file, before tap_done.
fleet_done() {
	end_leaders
	rm -f "$TIMES"
}
