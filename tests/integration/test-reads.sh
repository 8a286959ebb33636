#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# One subject per conversation step (issue #10): a password+TOTP login
# reads the user row and the lockout row once per answer and once more in
# the decision, each step in one transaction, and nothing before the
# first prompt.  Counted in the real daemon,
# run under gdb, at the store's door (mamori_store_user_get,
# mamori_lockout_state, mamori_store_begin) for the calls that come from
# the io.mamori.Pam service (not housekeeping's).
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "gdb" command -v gdb
require "python3" test -x /usr/bin/python3
require "oathtool" command -v oathtool
require_test_hooks "needs the test clock"
# LeakSanitizer does not work under ptrace: in the sanitizer build this
# script (its daemon runs under gdb) keeps AddressSanitizer and UBSan but
# leaves leak checking out; every other test checks leaks.
if [ -n "${MAMORI_SANITIZER_PRELOAD:-}" ]; then
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi

EXTRA_CONF="[service mn-login]
require = password+totp
rhost_empty = local"
new_env
make_service mn-login
set_clock "$(date -d '2030-02-04 10:00:00' +%s)"

# The daemon under gdb: each call of the three functions made from the
# io.mamori.Pam service writes a COUNT line to the daemon's log.
cat >"$T/gdb-commands" <<'GDB'
set pagination off
set print thread-events off
set confirm off
dprintf mamori_store_user_get,"COUNT user\n"
condition 1 $_any_caller_matches("^(pam_|auth_|enrol_|chauthtok_|mamori_pam_service_handle)", 12)
dprintf mamori_lockout_state,"COUNT lockout\n"
condition 2 $_any_caller_matches("^(pam_|auth_|enrol_|chauthtok_|mamori_pam_service_handle)", 12)
dprintf mamori_store_begin,"COUNT transaction\n"
condition 3 $_any_caller_matches("^(pam_|auth_|enrol_|chauthtok_|mamori_pam_service_handle)", 12)
run
GDB
cat >"$T/authd-under-gdb" <<SH
#!/bin/sh
exec gdb -q -batch -x "$T/gdb-commands" --args "$AUTHD" "\$@"
SH
chmod 755 "$T/authd-under-gdb"
start_daemon_slow() {
	chmod 644 "$T/mamori.conf"
	MAMORI_TEST_CLOCK_FILE="$T/clock" setsid "$T/authd-under-gdb" --config "$T/mamori.conf" --foreground \
		--debug >>"$T/daemon.log" 2>&1 &
	echo $! >"$T/daemon.pid"
	local i
	for i in $(seq 1 300); do
		[ -S "$T/run/admin.sock" ] && [ -S "$T/run/pam.sock" ] && return 0
		sleep 0.1
	done
	return 1
}
start_daemon_slow || { echo "Bail out! daemon did not start under gdb"; cat "$T/daemon.log"; exit 1; }

add_user taro 'Sakura-no-Ki-2030'
out=$($RAW "$T/run/admin.sock" '{"method":"io.mamori.Admin.TotpEnroll","parameters":{"name":"taro"}}')
SECRET=$(json 'd["parameters"]["secret"]' <<<"${out%%$'\n'*}")
out=$($RAW "$T/run/admin.sock" "{\"method\":\"io.mamori.Admin.TotpConfirm\",\"parameters\":{\"name\":\"taro\",\
\"code\":\"$(oathtool --totp -b "$SECRET" --now "@$(cat "$T/clock")")\"}}")
grep -q '"totp"' <<<"$out" || { echo "Bail out! TOTP not enrolled: $out"; exit 1; }

# count_between FROM TO WHAT: the COUNT lines of WHAT between two marks.
count_between() {
	sed -n "/^MARK $1\$/,/^MARK $2\$/p" "$T/daemon.log" | grep -c "^COUNT $3\$" || true
}

t_one_subject_per_step() {
	advance_clock 60
	cat >"$T/login.py" <<PY
import json, socket, time
s = socket.socket(socket.AF_UNIX)
s.connect("$T/run/pam.sock")
def call(m):
    s.sendall(json.dumps(m).encode() + b"\0")
    b = b""
    while not b.endswith(b"\0"):
        b += s.recv(65536)
    return json.loads(b[:-1])["parameters"]
def mark(t):
    # After the daemon answered, and after gdb wrote what it counted.
    time.sleep(0.5)
    with open("$T/daemon.log", "a") as f:
        f.write("MARK " + t + "\n")
mark("start")
r = call({"method": "io.mamori.Pam.Start", "parameters": {"op": "authenticate", "service": "mn-login", "user": "taro"}})
assert r["prompts"][0]["text"] == "Password: ", r
mark("password")
r = call({"method": "io.mamori.Pam.Answer", "parameters": {"answers": ["Sakura-no-Ki-2030"]}})
assert r["prompts"][0]["text"] == "Verification code: ", r
mark("totp")
r = call({"method": "io.mamori.Pam.Answer", "parameters": {"answers": ["$(oathtool --totp -b "$SECRET" --now "@$(cat "$T/clock")")"]}})
mark("end")
print(r["result"])
PY
	expect_eq "$(/usr/bin/python3 "$T/login.py")" success "password+TOTP login"
	# Start: nothing of the subject (the prompts are the service's, P-INPUT).
	expect_eq "$(count_between start password user)" 0 "Start: user reads"
	expect_eq "$(count_between start password lockout)" 0 "Start: lockout reads"
	expect_eq "$(count_between start password transaction)" 0 "Start: transactions"
	# The password: the subject, what it has enrolled and the password's
	# hash, in one transaction.
	expect_eq "$(count_between password totp user)" 1 "password: user reads"
	expect_eq "$(count_between password totp lockout)" 1 "password: lockout reads"
	expect_eq "$(count_between password totp transaction)" 1 "password: transactions"
	# The code: the subject and the credential, then the decision, which
	# reads the account and the lock again in its own transaction.
	expect_eq "$(count_between totp end user)" 2 "TOTP and decision: user reads"
	expect_eq "$(count_between totp end lockout)" 2 "TOTP and decision: lockout reads"
	expect_eq "$(count_between totp end transaction)" 2 "TOTP and decision: transactions"
}

# The daemon is gdb's child: stopped through it, so that none is left.
stop_daemon_under_gdb() {
	local gdb child i
	gdb=$(cat "$T/daemon.pid" 2>/dev/null) || return 0
	child=""
	read -r child _ <"/proc/$gdb/task/$gdb/children" 2>/dev/null || true
	[ -n "$child" ] && kill -TERM "$child" 2>/dev/null
	for i in $(seq 1 100); do
		kill -0 "$gdb" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$child" ] && kill -KILL "$child" 2>/dev/null
	kill -KILL "$gdb" 2>/dev/null
	rm -f "$T/daemon.pid"
}

run_test "issue #10 a password+TOTP login reads its subject once per answer and once in the decision, none at Start" \
	t_one_subject_per_step
stop_daemon_under_gdb
tap_done
