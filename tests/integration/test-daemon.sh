#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# mamori-authd on its own: protocol limits, configuration, signals, rehash.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "python3" test -x /usr/bin/python3
require "pam_client" test -x "$BUILT_PAM_CLIENT"

new_env
start_daemon || { echo "Bail out! daemon did not start"; exit 1; }
add_user alice 'Correct-Horse-42'

START='{"method":"io.mamori.Pam.Start","parameters":{"op":"authenticate","service":"mamori-test","user":"alice"}}'

t_getinfo_on_both_sockets() {
	local out
	out=$($RAW "$T/run/pam.sock" '{"method":"org.varlink.service.GetInfo"}')
	expect_match "$out" '"interfaces":\["org.varlink.service","io.mamori.Pam"\]' "pam GetInfo"
	out=$($RAW "$T/run/admin.sock" '{"method":"org.varlink.service.GetInfo"}')
	expect_match "$out" '"io.mamori.Admin"' "admin GetInfo"
	expect_match "$out" '"version":"[0-9.]+"' "version"
}

t_oversized_message_closes() {
	local out
	out=$($RAW "$T/run/pam.sock" @big:70000 '{"method":"org.varlink.service.GetInfo"}')
	echo "$out"
	expect_match "$out" 'io.mamori.Error.Malformed' "oversized reply"
	expect_match "$(echo "$out" | tail -n 1)" '^CLOSED$' "connection"
	! grep -q '"vendor"' <<<"$out" || fail "served a call after an oversized message"
}

t_malformed_message_closes() {
	local out m
	for m in 'not json' '[1,2,3]' '{"method":"x","method":"y"}' '{"parameters":{}}' \
		'{"method":"io.mamori.Pam.Start","parameters":"str"}' '@raw:7b226d6574686f64223a22c3283c227d00'; do
		out=$($RAW "$T/run/pam.sock" "$m" '{"method":"org.varlink.service.GetInfo"}')
		echo "$m -> $out"
		expect_match "$out" 'io.mamori.Error.Malformed' "reply to $m"
		! grep -q '"vendor"' <<<"$out" || fail "served a call after $m"
	done
}

t_unknown_method_and_bad_parameters() {
	local out
	out=$($RAW "$T/run/pam.sock" '{"method":"io.mamori.Pam.Nope"}' '{"method":"org.varlink.service.GetInfo"}')
	expect_match "$out" 'org.varlink.service.MethodNotFound' "unknown method"
	expect_match "$out" '"vendor"' "connection kept after a well-formed bad call"
	for u in '../etc' 'a b' 'a/b' '-x' "$(printf 'x%.0s' $(seq 1 65))"; do
		out=$($RAW "$T/run/pam.sock" "{\"method\":\"io.mamori.Pam.Start\",\"parameters\":{\"op\":\"authenticate\",\"service\":\"mamori-test\",\"user\":\"$u\"}}")
		expect_match "$out" '"parameter":"user"' "user name '$u'"
	done
	out=$($RAW "$T/run/pam.sock" '{"method":"io.mamori.Pam.Start","parameters":{"op":"authenticate","service":"mamori-test","user":"alice","tty":"a\u0001b"}}')
	expect_match "$out" '"parameter":"tty"' "control character in tty"
	out=$($RAW "$T/run/pam.sock" '{"method":"io.mamori.Pam.Start","parameters":{"op":"authenticate","service":"mamori-test","user":5}}')
	expect_match "$out" '"parameter":"user"' "wrong type"
}

t_out_of_order_calls() {
	local out
	out=$($RAW "$T/run/pam.sock" '{"method":"io.mamori.Pam.Answer","parameters":{"answers":["x"]}}')
	expect_match "$out" 'io.mamori.Error.OutOfOrder' "Answer before Start"
	out=$($RAW "$T/run/pam.sock" "$START" "$START")
	expect_match "$out" 'io.mamori.Error.OutOfOrder' "Start while waiting"
	out=$($RAW "$T/run/pam.sock" "$START" '{"method":"io.mamori.Pam.Answer","parameters":{"answers":["a","b"]}}')
	expect_match "$out" '"parameter":"answers"' "two answers to one prompt"
}

t_full_conversation_over_raw_socket() {
	local out
	out=$($RAW "$T/run/pam.sock" "$START" '{"method":"io.mamori.Pam.Answer","parameters":{"answers":["Correct-Horse-42"]}}')
	expect_match "$out" '"state":"prompt".*"style":"echo_off"' "prompt"
	expect_match "$out" '"state":"done","result":"success"' "result"
}

# Each Argon2id evaluation's memory (8 MiB here) goes back when it ends:
# with many connection threads logging in at once, the daemon's peak stays
# near max_argon2 (= CPUs) blocks, not one per thread or malloc arena.
# Before the fixed mmap threshold (main.c) 16 such clients took it past
# 200 MiB.
t_argon2_memory_returned() {
	local i j hwm budget answer out
	answer='{"method":"io.mamori.Pam.Answer","parameters":{"answers":["Correct-Horse-42"]}}'
	echo 5 >"/proc/$DAEMON_PID/clear_refs"
	for i in $(seq 1 24); do
		(
			for j in 1 2 3 4; do
				# (the whole reply first: grep -q closing the pipe early would
				# fail the client, and so the pipeline)
				out=$($RAW "$T/run/pam.sock" "$START" "$answer") && grep -q '"result":"success"' <<<"$out" ||
					echo "client $i login $j failed" >>"$T/argon2-memory.err"
			done
		) &
	done
	wait
	[ ! -s "$T/argon2-memory.err" ] || fail "$(cat "$T/argon2-memory.err")"
	hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$DAEMON_PID/status")
	budget=$(($(nproc) * 8192 + 32768))
	echo "# peak RSS during 96 logins from 24 clients: $hwm KiB; budget $budget KiB"
	[ "$hwm" -le "$budget" ] || fail "peak RSS $hwm KiB over $budget KiB"
}

t_idle_connection_times_out() {
	# idle_timeout is 2 s in this environment.  The client sends half a
	# message and keeps the connection open (no half-close, which the
	# daemon would take as the end): only the idle timeout can close it.
	local out tenths
	out=$($RAW "$T/run/pam.sock" --wait-close 10 "$START" '@raw:7b22')
	echo "$out"
	tenths=$(sed -n 's/^CLOSED after \([0-9]*\)\.\([0-9]\) s$/\1\2/p' <<<"$out")
	[ -n "$tenths" ] || fail "the idle connection was not closed within 10 s"
	tenths=$((10#$tenths))
	[ "$tenths" -ge 18 ] && [ "$tenths" -le 80 ] || fail "closed after $tenths tenths of a second, not at the idle timeout (2 s)"
}

# Before: the daemon's sends restarted the socket's send timeout at every
# partial send, so a client reading 4 KiB every 0.1 s (each part of a reply
# got through within idle_timeout) was served for as long as it kept
# reading.  Each reply now has one deadline, idle_timeout.  Its own daemon,
# with an audit log of filler rows (the chain does not matter here) so that
# each AuditShow page is about 60000 bytes.
t_slow_reader_cut_off_at_the_send_deadline() {
	local out secs
	IDLE_TIMEOUT=2 new_env
	trap 'stop_daemon; rm -rf "$T"' EXIT
	start_daemon
	sql "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
	     INSERT INTO audit (id, ts, category, actor, \"user\", result, reason, detail, prev_hash, hash)
	     SELECT (SELECT COALESCE(MAX(id), 0) FROM audit) + i, 1700000000 + i, 'admin', 'root', 'filler', 'success', 'filler', '{\"pad\":\"$(printf '0%.0s' $(seq 300))\"}',
	            'x', 'x' FROM n"
	# Pages are full: the replies are large.
	out=$($RAW "$T/run/admin.sock" '{"method":"io.mamori.Admin.AuditShow","parameters":{"after_id":1}}')
	[ "${#out}" -gt 50000 ] || fail "an AuditShow page is only ${#out} bytes"
	# A reader that lets each part through in time, 30 replies queued.
	out=$(/usr/bin/python3 "$top_srcdir/tests/integration/slow_reader.py" "$T/run/admin.sock" 30 4096 0.1 12)
	echo "trickle: $out"
	expect_match "$out" '^CUT ' "a reader taking 4 KiB every 0.1 s"
	secs=$(echo "$out" | awk '{ print int($2) }')
	[ "$secs" -le 5 ] || fail "cut off after $secs s, idle_timeout is 2 s"
	# One byte a second.
	out=$(/usr/bin/python3 "$top_srcdir/tests/integration/slow_reader.py" "$T/run/admin.sock" 30 1 1 12)
	echo "byte a second: $out"
	expect_match "$out" '^CUT ' "a reader taking a byte a second"
	secs=$(echo "$out" | awk '{ print int($2) }')
	[ "$secs" -le 5 ] || fail "cut off after $secs s, idle_timeout is 2 s"
	# The daemon serves others meanwhile and after.
	out=$($RAW "$T/run/pam.sock" '{"method":"org.varlink.service.GetInfo","parameters":{}}')
	expect_match "$out" '"product":"mamori-authd"' "GetInfo after the slow readers"
}

t_connection_limit_per_uid() {
	# max_connections_per_uid is 4 here: a local user's fifth concurrent
	# connection is refused.  Root's callers (login services) are not
	# limited per uid.
	local pids=() i out nraw
	cp "$top_srcdir/tests/integration/rawclient.py" "$T/rawclient.py"
	chmod 755 "$T/rawclient.py"
	nraw="runuser -u nobody -- /usr/bin/python3 $T/rawclient.py"
	for i in 1 2 3 4; do
		$nraw "$T/run/pam.sock" --hold 1.5 '{"method":"org.varlink.service.GetInfo"}' >/dev/null &
		pids+=($!)
	done
	sleep 0.5
	out=$($nraw "$T/run/pam.sock" '{"method":"org.varlink.service.GetInfo"}')
	echo "$out"
	expect_match "$out" 'io.mamori.Error.Busy' "fifth connection"
	out=$($RAW "$T/run/pam.sock" '{"method":"org.varlink.service.GetInfo"}')
	expect_match "$out" '"vendor"' "root is not limited per uid"
	wait "${pids[@]}"
	out=$($nraw "$T/run/pam.sock" '{"method":"org.varlink.service.GetInfo"}')
	expect_match "$out" '"vendor"' "after the others closed"
}

t_bad_config_refused_at_start() {
	local conf="$T/bad.conf" out rc=0
	printf '[daemon]\nruntime_dir = %s/run2\n\n[password]\nargon2_t = lots\n' "$T" >"$conf"
	out=$("$AUTHD" --config "$conf" --foreground 2>&1) || rc=$?
	echo "$out"
	[ "$rc" -ne 0 ] || fail "started with a bad value"
	expect_match "$out" "bad.conf:5: argon2_t must be a whole number" "error"
	printf '[daemon]\nruntime_dir = %s/run2\nsocket_mode = 777\n' "$T" >"$conf"
	rc=0
	out=$("$AUTHD" --config "$conf" --foreground 2>&1) || rc=$?
	[ "$rc" -ne 0 ] || fail "started with an unknown key"
	expect_match "$out" 'bad.conf:3: unknown key "socket_mode" in \[daemon\]' "error"
	printf '[deamon]\nruntime_dir = /tmp\n' >"$conf"
	rc=0
	out=$("$AUTHD" --config "$conf" --foreground 2>&1) || rc=$?
	[ "$rc" -ne 0 ] || fail "started with an unknown section"
	expect_match "$out" 'bad.conf:2: unknown section \[deamon\]' "error"
}

t_sighup_reload() {
	local pid
	pid=$(cat "$T/daemon.pid")
	cp "$T/mamori.conf" "$T/mamori.conf.good"
	echo "bogus line without equals" >>"$T/mamori.conf"
	kill -HUP "$pid"
	sleep 0.3
	grep -q 'reload refused, keeping the running configuration' "$T/daemon.log" || fail "bad reload not logged"
	kill -0 "$pid" || fail "daemon died on a bad reload"
	pam -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS
	cp "$T/mamori.conf.good" "$T/mamori.conf"
	sed -i 's/^argon2_t = .*/argon2_t = 2/' "$T/mamori.conf"
	kill -HUP "$pid"
	sleep 0.3
	grep -q 'configuration reloaded' "$T/daemon.log" || fail "reload not logged"
}

t_rehash_on_login_after_parameter_change() {
	# The previous test raised argon2_t to 2: the next login rehashes.
	local before after
	before=$(sql "SELECT hash FROM passwords p JOIN users u ON u.id = p.user_id WHERE u.name = 'alice' AND current = 1")
	expect_match "$before" 't=1,' "hash before"
	pam -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS
	after=$(sql "SELECT hash FROM passwords p JOIN users u ON u.id = p.user_id WHERE u.name = 'alice' AND current = 1")
	expect_match "$after" '^\$argon2id\$v=19\$m=8192,t=2,p=1\$' "hash after"
	pam -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS
	pam -p 'wrong' mamori-test alice auth=AUTH_ERR
}

t_sigterm_removes_sockets_and_closes_store() {
	stop_daemon
	[ ! -e "$T/run/pam.sock" ] && [ ! -e "$T/run/admin.sock" ] || fail "sockets left behind"
	grep -q 'mamori-authd stopped' "$T/daemon.log" || fail "no clean stop"
	expect_eq "$(store_integrity)" ok "store integrity"
	[ "$(sql "SELECT reason FROM audit ORDER BY id DESC LIMIT 1")" = "daemon stopped" ] || fail "stop not audited"
	start_daemon
}

t_store_file_modes() {
	expect_eq "$(stat -c %a "$T/state/mamori.db")" 600 "store mode"
	expect_eq "$(stat -c %a "$T/run/pam.sock")" 666 "pam.sock mode"
	expect_eq "$(stat -c %a "$T/run/admin.sock")" 600 "admin.sock mode (no mamori-admin group)"
	stop_daemon
	chmod 644 "$T/state/mamori.db"
	local rc=0
	MAMORI_TEST_CLOCK_FILE="$T/clock" "$AUTHD" --config "$T/mamori.conf" --foreground >"$T/refused.log" 2>&1 || rc=$?
	cat "$T/refused.log"
	[ "$rc" -ne 0 ] || fail "started with a readable store"
	grep -q 'mode 0644' "$T/refused.log" || fail "reason not given"
	chmod 600 "$T/state/mamori.db"
	start_daemon
}

t_admin_group_socket() {
	local out group="mamtest$$"
	getent group "$group" >/dev/null && fail "host already has $group"
	groupadd -r "$group"
	echo "$group" >>"$T/cleanup-groups"
	stop_daemon
	sed -i "s/^\[daemon\]$/[daemon]\nadmin_group = $group/" "$T/mamori.conf"
	start_daemon
	expect_eq "$(stat -c '%a %G' "$T/run/admin.sock")" "660 $group" "admin.sock"
	local rc=0
	usermod -a -G "$group" nobody
	out=$(runuser -u nobody -- "$RUNAS_CTL" --socket "$T/run/admin.sock" --json status 2>&1) || rc=$?
	gpasswd -d nobody "$group" >/dev/null
	echo "$out"
	[ "$rc" -eq 0 ] || fail "a group member was refused (status $rc)"
	expect_match "$out" '"version"' "group member served"
	rc=0
	out=$(runuser -u daemon -- "$RUNAS_CTL" --socket "$T/run/admin.sock" --json status 2>&1) || rc=$?
	echo "$out"
	[ "$rc" -ne 0 ] || fail "a non-member's mamorictl succeeded"
	! grep -q '"version"' <<<"$out" || fail "a non-member was served"
}

t_test_hooks_warned_at_start() {
	# The daemon started by start_daemon above, with --debug.
	if [ "$HAVE_TEST_HOOKS" = 1 ]; then
		grep -q 'built with --enable-test-hooks.*never deploy this build' "$T/daemon.log" ||
			fail "a test-hooks daemon started without a warning"
	else
		! grep -q 'enable-test-hooks' "$T/daemon.log" || fail "a release build warned of test hooks"
	fi
	grep -q 'started (store' "$T/daemon.log" || fail "no start-up line: wrong log"
}

t_admin_group_reload() {
	# SIGHUP reads admin_group again: the socket's group and who is served
	# follow at once, for a connection already open too.
	local out old new="mamnew$$" i
	old=$(sed -n 's/^admin_group = //p' "$T/mamori.conf")
	[ -n "$old" ] || fail "the previous test set no admin_group"
	getent group "$new" >/dev/null && fail "host already has $new"
	groupadd -r "$new"
	echo "$new" >>"$T/cleanup-groups"
	usermod -a -G "$old" nobody
	usermod -a -G "$new" daemon
	# nobody, a member of the old group, opens a connection and keeps it.
	rm -f "$T/hup-done"
	runuser -u nobody -- /usr/bin/python3 -c '
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
def call(method):
    s.sendall(b"{\"method\":\"" + method + b"\"}\0")
    buf = b""
    while not buf.endswith(b"\0"):
        d = s.recv(65536)
        if not d:
            return "CLOSED"
        buf += d
    return buf[:-1].decode()
print(call(b"io.mamori.Admin.Status"), flush=True)
# Calls keep the connection from timing out (idle_timeout is short here);
# the first one after the reload must be refused.
while True:
    if os.path.exists(sys.argv[2]):
        print(call(b"io.mamori.Admin.Status"), flush=True)
        break
    r = call(b"org.varlink.service.GetInfo")
    if "io.mamori.Admin" not in r:
        print(r, flush=True)
        break
    time.sleep(0.2)
' "$T/run/admin.sock" "$T/hup-done" >"$T/held.out" 2>&1 &
	local held=$!
	for i in $(seq 1 100); do [ -s "$T/held.out" ] && break; sleep 0.05; done
	sed -i "s/^admin_group = .*/admin_group = $new/" "$T/mamori.conf"
	: >"$T/reload.mark"
	kill -HUP "$(cat "$T/daemon.pid")"
	for i in $(seq 1 100); do
		[ "$(stat -c %G "$T/run/admin.sock")" = "$new" ] && break
		sleep 0.05
	done
	touch "$T/hup-done"
	wait "$held" || true
	gpasswd -d nobody "$old" >/dev/null
	cat "$T/held.out"
	expect_match "$(sed -n 1p "$T/held.out")" '"version"' "open connection served before the reload"
	expect_match "$(sed -n 2p "$T/held.out")" 'PermissionDenied' "open connection after the reload"
	expect_eq "$(stat -c '%a %G' "$T/run/admin.sock")" "660 $new" "admin.sock after the reload"
	out=$(runuser -u daemon -- "$RUNAS_CTL" --socket "$T/run/admin.sock" --json status 2>&1) || true
	gpasswd -d daemon "$new" >/dev/null
	echo "$out"
	expect_match "$out" '"version"' "member of the new group served"
	usermod -a -G "$old" nobody
	out=$(runuser -u nobody -- "$RUNAS_CTL" --socket "$T/run/admin.sock" --json status 2>&1) || true
	gpasswd -d nobody "$old" >/dev/null
	echo "$out"
	! grep -q '"version"' <<<"$out" || fail "a member of the old group was served"
	# A group that does not exist: root only, mode 0600.
	sed -i "s/^admin_group = .*/admin_group = mamori-none-$$/" "$T/mamori.conf"
	kill -HUP "$(cat "$T/daemon.pid")"
	for i in $(seq 1 100); do
		[ "$(stat -c %a "$T/run/admin.sock")" = 600 ] && break
		sleep 0.05
	done
	expect_eq "$(stat -c '%a %G' "$T/run/admin.sock")" "600 root" "admin.sock without a group"
	ctl status >/dev/null
}

t_lost_store_key_refused() {
	# A store that holds sealed TOTP secrets never gets a new key: the
	# daemon refuses to start, naming the file and what to do.
	local rc key="$T/state/store.key"
	expect_match "$($RAW "$T/run/admin.sock" '{"method":"io.mamori.Admin.TotpEnroll","parameters":{"name":"alice"}}')" \
		'"secret"' "a pending TOTP factor"
	[ "$(sql "SELECT count(*) FROM credentials WHERE factor = 'totp'")" -ge 1 ] || fail "no sealed secret in the store"
	stop_daemon
	mv "$key" "$T/store.key.saved"
	rc=0
	MAMORI_TEST_CLOCK_FILE="$T/clock" timeout 20 "$AUTHD" --config "$T/mamori.conf" --foreground \
		>"$T/nokey.log" 2>&1 || rc=$?
	cat "$T/nokey.log"
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "started without its store key (status $rc)"
	[ ! -e "$key" ] || fail "a new store key was made"
	grep -qF "$key is missing, but the store holds 1 sealed TOTP secrets" "$T/nokey.log" || fail "no reason given"
	grep -q 'restore it from a backup' "$T/nokey.log" || fail "what to do not said"
	# Another key does not open them either.
	head -c 32 /dev/urandom >"$key"
	chmod 600 "$key"
	rc=0
	MAMORI_TEST_CLOCK_FILE="$T/clock" timeout 20 "$AUTHD" --config "$T/mamori.conf" --foreground \
		>"$T/badkey.log" 2>&1 || rc=$?
	cat "$T/badkey.log"
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "started with another key (status $rc)"
	grep -qF "$key does not open the sealed TOTP secrets" "$T/badkey.log" || fail "no reason given for another key"
	# The right key back: it starts.
	mv "$T/store.key.saved" "$key"
	start_daemon
	# Without sealed secrets a missing key is made, as on first start.
	ctl totp remove alice >/dev/null
	stop_daemon
	cp -p "$key" "$T/store.key.saved"
	rm "$key"
	if on_postgresql; then
		# A shared store keeps the key its first daemon recorded: a new
		# one is refused even with no secret sealed (the other terminals
		# hold the first), until the store's key is back.
		rc=0
		MAMORI_TEST_CLOCK_FILE="$T/clock" timeout 20 "$AUTHD" --config "$T/mamori.conf" --foreground \
			>"$T/newkey.log" 2>&1 || rc=$?
		cat "$T/newkey.log"
		[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "started on a shared store with a new key (status $rc)"
		grep -q "is not the key of this shared store: the first daemon started on it uses store key" \
			"$T/newkey.log" || fail "no reason given for the new key"
		mv "$T/store.key.saved" "$key"
		start_daemon
		return
	fi
	start_daemon
	expect_eq "$(stat -c '%a %s' "$key")" "600 32" "new store key"
}

t_socket_activation() {
	# The service manager passes the sockets: the daemon uses them, and
	# leaves them in place when it stops.
	local out pid i
	command -v systemd-socket-activate >/dev/null || fail "systemd-socket-activate is missing"
	stop_daemon
	rm -f "$T/run/pam.sock" "$T/run/admin.sock"
	MAMORI_TEST_CLOCK_FILE="$T/clock" setsid systemd-socket-activate -l "$T/run/pam.sock" -l "$T/run/admin.sock" \
		"$AUTHD" --config "$T/mamori.conf" --foreground >>"$T/daemon.log" 2>&1 &
	pid=$!
	for i in $(seq 1 50); do [ -S "$T/run/admin.sock" ] && break; sleep 0.1; done
	out=$($RAW "$T/run/pam.sock" '{"method":"org.varlink.service.GetInfo"}')
	expect_match "$out" '"io.mamori.Pam"' "pam.sock served"
	out=$($RAW "$T/run/admin.sock" '{"method":"org.varlink.service.GetInfo"}')
	expect_match "$out" '"io.mamori.Admin"' "admin.sock served"
	grep -q 'passed by the service manager' "$T/daemon.log" || fail "the passed sockets were not used"
	kill -TERM "$pid"
	for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	wait "$pid" 2>/dev/null || true # the exit status after SIGTERM: t_sigterm_removes_sockets_and_closes_store
	[ -S "$T/run/pam.sock" ] || fail "the service manager's socket was removed"
	rm -f "$T/run/pam.sock" "$T/run/admin.sock"
	start_daemon
}

# Limits small enough to reach in a test.
sed -i 's/^idle_timeout = .*/idle_timeout = 2\nmax_connections_per_uid = 4/' "$T/mamori.conf"
stop_daemon
start_daemon

run_test "GetInfo answers on both sockets" t_getinfo_on_both_sockets
run_test "P-INPUT an oversized message gets an error and the connection is closed" t_oversized_message_closes
run_test "P-INPUT malformed messages get an error and the connection is closed" t_malformed_message_closes
run_test "P-INPUT unknown methods and invalid parameters are refused" t_unknown_method_and_bad_parameters
run_test "calls out of order in the conversation are refused" t_out_of_order_calls
run_test "a whole conversation over the raw socket" t_full_conversation_over_raw_socket
# ASan's allocator replaces glibc's malloc, whose behaviour this is about.
if [ -z "${MAMORI_SANITIZER_PRELOAD:-}" ]; then
	run_test "Argon2id memory is returned after each evaluation under concurrent logins" t_argon2_memory_returned
else
	tap_skip "Argon2id memory is returned after each evaluation under concurrent logins" \
		"under AddressSanitizer, whose allocator replaces glibc's"
fi
run_test "an idle connection times out" t_idle_connection_times_out
run_test "a client reading its replies slowly is cut off at the send deadline (idle_timeout)" t_slow_reader_cut_off_at_the_send_deadline
run_test "connections per uid are limited" t_connection_limit_per_uid
run_test "a bad configuration stops start-up with file:line" t_bad_config_refused_at_start
run_test "SIGHUP reloads, and keeps the old configuration when the new one is bad" t_sighup_reload
run_test "P-CRED-STORE the password is rehashed when the Argon2 parameters change" t_rehash_on_login_after_parameter_change
run_test "SIGTERM removes the sockets and closes the store" t_sigterm_removes_sockets_and_closes_store
# The mode of the SQLite file: no file on PostgreSQL.
if on_postgresql; then
	tap_skip "P-CRED-STORE store and socket modes; a readable store is refused" "about the SQLite file only"
else
	run_test "P-CRED-STORE store and socket modes; a readable store is refused" t_store_file_modes
fi
run_test "admin.sock belongs to the mamori-admin group when it exists" t_admin_group_socket
run_test "SIGHUP reads admin_group again: socket group and who is served" t_admin_group_reload
run_test "P-CRED-STORE a lost store key is not replaced while sealed secrets exist (nor, on a shared store, ever)" t_lost_store_key_refused
run_test "socket activation: passed sockets are used and left in place" t_socket_activation
run_test "a test-hooks build says so at start-up" t_test_hooks_warned_at_start
tap_done
