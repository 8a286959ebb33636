#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The password login end to end: real daemon, pam_mamori.so, PAM stacks
# through pam_wrapper and libpamtest.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "pam_wrapper" test -n "$PAM_WRAPPER_LIB"
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "pam_mamori.so" test -f "$BUILT_MODULE"
require "pamtester" command -v pamtester
require "sqlite3" command -v sqlite3

# Minimum password age is tested in test-policy.sh; here passwords change
# several times a day.
# console-only and no-remote refuse remote logins (P-REMOTE); an empty
# PAM_RHOST is local on the first only.
EXTRA_CONF=$'[policy staff]\nmin_age_days = 0\n\n[service console-only]\nremote = no\nrhost_empty = local\n\n[service no-remote]\nremote = no'
new_env
make_service console-only
make_service no-remote
# The test hook that holds a request at a named point (t_disabled_before_decision).
PAUSE=$T/pause
export MAMORI_TEST_PAUSE_FILE=$PAUSE
start_daemon || { echo "Bail out! daemon did not start"; cat "$T/daemon.log"; exit 1; }
add_user alice 'Correct-Horse-42'

t_correct_password() {
	pam -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS acct=SUCCESS
}

t_wrong_password() {
	pam -p 'wrong-password' mamori-test alice auth=AUTH_ERR
}

t_unknown_user_same_prompts() {
	local known unknown
	# Both fail (their status is checked); their transcripts must match.
	known=$(printf 'nope\n' | pamtester_run mamori-test alice authenticate 2>&1) && fail "a wrong password authenticated"
	unknown=$(printf 'nope\n' | pamtester_run mamori-test nosuchuser authenticate 2>&1) && fail "an unknown user authenticated"
	known=$(sed 's/alice/USER/g' <<<"$known")
	unknown=$(sed 's/nosuchuser/USER/g' <<<"$unknown")
	echo "known:   $known"
	echo "unknown: $unknown"
	expect_eq "$unknown" "$known" "pamtester transcript"
	expect_match "$known" 'Password: ' "prompt"
	pam -p 'Correct-Horse-42' mamori-test nosuchuser auth=AUTH_ERR
}

t_temporary_password_forced_change() {
	local temp out
	ctl user add bob >/dev/null
	temp=$(ctl password temp bob | tail -n 1)
	[ ${#temp} -ge 12 ] || fail "generated password too short: '$temp'"
	out=$(pam -p "$temp" -p 'Kaede-no-Aki-2030' -p 'Kaede-no-Aki-2030' mamori-test bob \
		auth=SUCCESS acct=NEW_AUTHTOK_REQD chauthtok=SUCCESS)
	echo "$out"
	expect_match "$out" 'change your temporary password' "account message"
	pam -p 'Kaede-no-Aki-2030' mamori-test bob auth=SUCCESS acct=SUCCESS
	pam -p "$temp" mamori-test bob auth=AUTH_ERR
}

t_chauthtok_asks_current_password_without_ticket() {
	add_user greta 'Ichigo-Daifuku-2030'
	pam -p 'Ichigo-Daifuku-2030' -p 'Another-Secret-77' -p 'Another-Secret-77' mamori-test greta chauthtok=SUCCESS
	pam -p 'Another-Secret-77' mamori-test greta auth=SUCCESS
	pam -p 'wrong-current' -p 'x' -p 'x' mamori-test greta chauthtok=AUTHTOK_RECOVERY_ERR
	pam -p 'Another-Secret-77' -p 'Third-Secret-88' -p 'Mismatch-99' mamori-test greta chauthtok=AUTHTOK_ERR
	pam -p 'Another-Secret-77' -p 'Fourth-Secret-Kumo-9' -p 'Fourth-Secret-Kumo-9' mamori-test greta chauthtok=SUCCESS
	pam -p 'Fourth-Secret-Kumo-9' mamori-test greta auth=SUCCESS
}

t_change_through_another_system_replaces_the_password_in_effect() {
	local temp
	ctl user add fumi >/dev/null
	temp=$(ctl password temp fumi | tail -n 1)
	pam -p "$temp" -p 'Momiji-no-Aka-2030' -p 'Momiji-no-Aka-2030' mamori-mn fumi \
		auth=SUCCESS acct=NEW_AUTHTOK_REQD chauthtok=SUCCESS
	pam -p 'Momiji-no-Aka-2030' mamori-test fumi auth=SUCCESS acct=SUCCESS
	pam -p 'Momiji-no-Aka-2030' mamori-mn fumi auth=SUCCESS acct=SUCCESS
	pam -p "$temp" mamori-test fumi auth=AUTH_ERR
	expect_eq "$(ctl --json user show fumi | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["password"]["temporary"])')" False "temporary flag"
}

t_disabled_user_refused() {
	add_user carol 'Tsubaki-no-Hana-11'
	pam -p 'Tsubaki-no-Hana-11' mamori-test carol auth=SUCCESS acct=SUCCESS
	ctl user disable carol >/dev/null
	pam -p 'Tsubaki-no-Hana-11' mamori-test carol auth=AUTH_ERR
	pam mamori-test carol acct=ACCT_EXPIRED
	ctl user enable carol >/dev/null
	pam -p 'Tsubaki-no-Hana-11' mamori-test carol auth=SUCCESS acct=SUCCESS
}

# held BG OUT WHAT CHECK...: the background PAM client BG (its output in
# OUT) is held where the test wants it (CHECK succeeds within 10 s), or it
# is killed and the test fails with WHAT.
held() {
	local bg=$1 out=$2 what=$3
	shift 3
	wait_until 200 "$@" && return 0
	kill "$bg" 2>/dev/null
	wait "$bg" 2>/dev/null
	fail "$what: $(cat "$out")"
	return 1
}

# disable_then_release USER BG OUT RELEASE...: USER disabled while BG is
# held, BG released (RELEASE) and its expected codes checked, USER enabled.
disable_then_release() {
	local user=$1 bg=$2 out=$3
	shift 3
	ctl user disable "$user" >/dev/null
	"$@"
	wait "$bg" || fail "the step after a disable: $(cat "$out")"
	ctl user enable "$user" >/dev/null
}

# An account disabled between pam_authenticate and pam_acct_mgmt of one PAM
# handle: the account check refuses it.  On a shared store the check
# decides on what the authentication read (a carry), checked against the
# rows at its commit: the disable fails that check, and it reads anew.
t_disabled_between_steps() {
	local bg
	add_user kaede 'Hanabi-no-Yoru-33'
	: >"$T/paused.out"
	# Not through pam(): its retry wrapper holds the output until the end.
	env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" "${VALGRIND[@]}" \
		"$PAM_CLIENT" -P -p 'Hanabi-no-Yoru-33' mamori-test kaede auth=SUCCESS acct=ACCT_EXPIRED \
		>"$T/paused.out" 2>&1 &
	bg=$!
	held "$bg" "$T/paused.out" "pam_client did not pause after the authentication" \
		grep -q '^PAUSED [0-9]*$' "$T/paused.out" || return
	disable_then_release kaede "$bg" "$T/paused.out" \
		kill -USR1 "$(sed -n 's/^PAUSED \([0-9]*\)$/\1/p' "$T/paused.out")"
	# Enabled again: the same steps succeed (the carry, when there is one).
	pam -p 'Hanabi-no-Yoru-33' mamori-test kaede auth=SUCCESS acct=SUCCESS open=SUCCESS close=SUCCESS >/dev/null ||
		fail "the login after the enable"
}

# An account disabled between the password's check and the decision (the
# daemon held there by the test hook MAMORI_TEST_PAUSE_FILE): the
# authentication refuses it.  On a shared store the decision decides on
# what the answer's load read (a carry), checked against the rows at its
# commit: the disable fails that check, and it reads anew.
t_disabled_before_decision() {
	local bg
	add_user kikyo 'Suzumushi-no-Koe-33'
	: >"$T/decide.out"
	echo decide >"$PAUSE"
	pam -p 'Suzumushi-no-Koe-33' mamori-test kikyo auth=AUTH_ERR >"$T/decide.out" 2>&1 &
	bg=$!
	if ! held "$bg" "$T/decide.out" "the daemon did not pause before the decision" \
		grep -qx "paused decide" "$PAUSE"; then
		rm -f "$PAUSE"
		return 1
	fi
	disable_then_release kikyo "$bg" "$T/decide.out" rm -f "$PAUSE"
	pam -p 'Suzumushi-no-Koe-33' mamori-test kikyo auth=SUCCESS >/dev/null || fail "the login after the enable"
}

t_expired_account_refused() {
	set_clock "$(date -d '2030-01-20 12:00' +%s)"
	add_user dave 'Ajisai-no-Ame-22' --expires 2030-01-31
	set_clock "$(date -d '2030-01-31 12:00' +%s)"
	pam -p 'Ajisai-no-Ame-22' mamori-test dave auth=SUCCESS acct=SUCCESS
	set_clock "$(date -d '2030-02-01 00:00:01' +%s)"
	pam mamori-test dave acct=ACCT_EXPIRED
	# The authentication alone refuses it too (stacks without account
	# management).
	pam -p 'Ajisai-no-Ame-22' mamori-test dave auth=AUTH_ERR
	set_clock "$(date +%s)"
}

t_unused_temporary_password_expires() {
	local temp
	ctl user add erin >/dev/null
	temp=$(ctl password temp erin | tail -n 1)
	advance_clock $((72 * 3600 + 1))
	pam -p "$temp" mamori-test erin auth=AUTH_ERR
	set_clock "$(date +%s)"
	pam -p "$temp" mamori-test erin auth=SUCCESS
}

t_unknown_user_account_check() {
	pam mamori-test nosuchuser acct=USER_UNKNOWN
}

t_session_open_close() {
	local before after
	before=$(sql "SELECT count(*) FROM sessions WHERE closed_at IS NULL")
	pam -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS open=SUCCESS close=SUCCESS
	after=$(sql "SELECT count(*) FROM sessions WHERE closed_at IS NULL")
	expect_eq "$after" "$before" "open sessions after close"
	expect_eq "$(sql "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.name = 'alice' AND closed_at IS NOT NULL")" 1 "closed sessions"
}

t_non_root_caller_only_for_itself() {
	# nobody is a real local user: it may authenticate as "nobody", never as alice.
	add_user nobody 'Kinmokusei-33x'
	pam -u nobody -p 'Kinmokusei-33x' mamori-test nobody auth=SUCCESS
	pam -u nobody -p 'Correct-Horse-42' mamori-test alice auth=AUTH_ERR
	pam -u nobody mamori-test alice acct=PERM_DENIED
	grep -q 'may not act for alice' "$T/daemon.log" || fail "refusal not logged"
}

# raw_as USER MESSAGE...: calls on pam.sock as USER, through rawclient.py
# (copied where every user can read it).
raw_as() {
	local who=$1
	shift
	cp -f "$top_srcdir/tests/integration/rawclient.py" "$T/rawclient.py"
	chmod 755 "$T/rawclient.py"
	runuser -u "$who" -- /usr/bin/python3 "$T/rawclient.py" "$T/run/pam.sock" "$@"
}

open_sessions() {
	sql "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.name = '$1' AND s.closed_at IS NULL"
}

ensure_nobody() {
	[ "$(sql "SELECT count(*) FROM users WHERE name = 'nobody'")" = 1 ] || add_user nobody 'Kinmokusei-33x'
}

t_sessions_of_others() {
	local out n id
	ensure_nobody
	pam -p 'Correct-Horse-42' -t pts/7 mamori-test alice auth=SUCCESS open=SUCCESS >/dev/null
	n=$(open_sessions alice)
	[ "$n" -ge 1 ] || fail "alice has no open session"
	# uid daemon has no mamori account; it names alice as PAM_RUSER.
	out=$(raw_as daemon '{"method":"io.mamori.Pam.CloseSession","parameters":{"service":"mamori-test","user":"daemon","ruser":"alice"}}')
	echo "$out"
	expect_match "$out" 'io.mamori.Error.PermissionDenied' "close naming alice"
	expect_eq "$(open_sessions alice)" "$n" "alice's open sessions"
	out=$(raw_as daemon '{"method":"io.mamori.Pam.OpenSession","parameters":{"service":"mamori-priv","user":"daemon","ruser":"alice","tty":"pts/8"}}')
	echo "$out"
	expect_match "$out" 'io.mamori.Error.PermissionDenied' "open naming alice"
	! grep -q 'Last login' <<<"$out" || fail "alice's last login shown to uid daemon"
	expect_eq "$(sql "SELECT count(*) FROM sessions WHERE tty = 'pts/8'")" 0 "session opened for alice"
	# Through PAM, with PAM_RUSER set by the application: the same.
	pam -u daemon -R alice mamori-test daemon open=SESSION_ERR close=SESSION_ERR
	expect_eq "$(open_sessions alice)" "$n" "alice's open sessions"
	# nobody has an account of its own: alice's session id does not close
	# alice's session under nobody's name.
	id=$(sql "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.name = 'alice' AND s.closed_at IS NULL ORDER BY s.id DESC LIMIT 1")
	out=$(raw_as nobody "{\"method\":\"io.mamori.Pam.CloseSession\",\"parameters\":{\"service\":\"mamori-test\",\"user\":\"nobody\",\"session_id\":$id}}")
	echo "$out"
	expect_match "$out" 'io.mamori.Error.NotFound' "close of alice's session id"
	expect_eq "$(open_sessions alice)" "$n" "alice's open sessions"
}

t_leader_running_session_not_closed_by_others() {
	local out pid id i
	ensure_nobody
	cat >"$T/pam_client_env" <<SH
#!/bin/sh
exec env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" "$PAM_CLIENT" "\$@"
SH
	chmod 755 "$T/pam_client_env"
	# A privileged session whose leader (root's login service) runs on.
	setsid "$T/pam_client_env" -S -p 'Kinmokusei-33x' -t pts/5 mamori-priv nobody auth=SUCCESS open=SUCCESS \
		>"$T/leader.out" 2>&1 &
	for i in $(seq 1 50); do grep -q READY "$T/leader.out" && break; sleep 0.1; done
	pid=$(sed -n 's/^READY //p' "$T/leader.out")
	[ -n "$pid" ] || { cat "$T/leader.out"; fail "session did not open"; }
	id=$(sql "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.name = 'nobody' AND s.service = 'mamori-priv' AND s.closed_at IS NULL ORDER BY s.id DESC LIMIT 1")
	[ -n "$id" ] || fail "no open session"
	# From inside it, the user tries to close it: the newest, and by id.
	# (A new interval of the refusal summary: the first refusal is a row.)
	advance_clock 61
	out=$(raw_as nobody '{"method":"io.mamori.Pam.CloseSession","parameters":{"service":"mamori-priv","user":"nobody"}}')
	echo "$out"
	expect_match "$out" 'io.mamori.Error.PermissionDenied' "close of the newest session"
	out=$(raw_as nobody "{\"method\":\"io.mamori.Pam.CloseSession\",\"parameters\":{\"service\":\"mamori-priv\",\"user\":\"nobody\",\"session_id\":$id}}")
	echo "$out"
	expect_match "$out" 'io.mamori.Error.PermissionDenied' "close by id"
	pam -u nobody mamori-priv nobody close=SESSION_ERR
	expect_eq "$(sql "SELECT count(*) FROM sessions WHERE id = $id AND closed_at IS NULL")" 1 "session still open"
	[ "$(sql "SELECT count(*) FROM audit WHERE category = 'session' AND result = 'perm_denied' AND reason = 'session leader still running'")" -ge 1 ] ||
		fail "refusal not audited"
	# Once the leader has gone, its owner may close the record.
	kill "$pid"
	for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	out=$(raw_as nobody "{\"method\":\"io.mamori.Pam.CloseSession\",\"parameters\":{\"service\":\"mamori-priv\",\"user\":\"nobody\",\"session_id\":$id}}")
	echo "$out"
	expect_match "$out" '"result":"success"' "close after the leader exited"
}

# raw_many WHO N MESSAGE: N copies of MESSAGE on one connection to pam.sock,
# as user WHO, or, when WHO is setuid:UID, as a setuid program run by UID
# is (real uid UID, effective uid 0), or as root when WHO is root.
raw_many() {
	local who=$1 n=$2 msg=$3 i args=()
	for i in $(seq 1 "$n"); do args+=("$msg"); done
	cp -f "$top_srcdir/tests/integration/rawclient.py" "$T/rawclient.py"
	chmod 755 "$T/rawclient.py"
	case $who in
	root) /usr/bin/python3 "$T/rawclient.py" "$T/run/pam.sock" "${args[@]}" ;;
	setuid:*)
		/usr/bin/python3 -c 'import os, sys; os.setresuid(int(sys.argv[1]), 0, 0); sys.argv = sys.argv[2:]; exec(open(sys.argv[0]).read())' \
			"${who#setuid:}" "$T/rawclient.py" "$T/run/pam.sock" "${args[@]}"
		;;
	*) runuser -u "$who" -- /usr/bin/python3 "$T/rawclient.py" "$T/run/pam.sock" "${args[@]}" ;;
	esac
}

t_pam_actor_is_the_kernel_attested_uid() {
	local actor out
	ensure_nobody
	pam -u nobody -p 'Kinmokusei-33x' mamori-test nobody auth=SUCCESS >/dev/null
	actor=$(sql "SELECT actor FROM audit WHERE category = 'auth' AND \"user\" = 'nobody' AND peer_uid = 65534 ORDER BY id DESC LIMIT 1")
	expect_eq "$actor" nobody "actor"
	# PAM_RUSER from a non-root caller names nobody else.
	out=$(pam -u nobody -R alice -p 'Kinmokusei-33x' mamori-test nobody auth=AUTHINFO_UNAVAIL auth=AUTHINFO_UNAVAIL 2>&1 || true)
	echo "$out"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE actor = 'alice' AND peer_uid = 65534")" 0 "rows naming alice as actor"
}

t_refusals_audited_and_summarised() {
	local out n
	advance_clock 61 # a new interval of the summary
	# Housekeeping writes the summary of the interval before (earlier
	# tests' refusals) first; the next refusal would write it otherwise.
	sleep 2.5
	n=$(sql "SELECT count(*) FROM audit WHERE peer_uid = 1 AND result = 'perm_denied'")
	# uid daemon tries 50 times to act for alice: one row, then a summary.
	out=$(raw_many daemon 50 '{"method":"io.mamori.Pam.AccountCheck","parameters":{"service":"mamori-test","user":"alice"}}')
	expect_eq "$(echo "$out" | grep -c 'io.mamori.Error.PermissionDenied')" 50 "refusals"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE peer_uid = 1 AND result = 'perm_denied'")" $((n + 1)) "rows during the interval"
	expect_eq "$(sql "SELECT actor || ' ' || \"user\" || ' ' || reason FROM audit WHERE peer_uid = 1 AND result = 'perm_denied' ORDER BY id DESC LIMIT 1")" \
		"daemon alice caller may act only for itself" "the first refusal's row"
	advance_clock 61
	sleep 2.5 # housekeeping writes the summary
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE peer_uid = 1 AND result = 'perm_denied'")" $((n + 2)) "rows after the interval"
	expect_eq "$(sql "SELECT reason || ' ' || $(sql_json detail count) FROM audit WHERE peer_uid = 1 AND result = 'perm_denied' ORDER BY id DESC LIMIT 1")" \
		"further refusals summarised 49" "summary row"
}

t_account_and_session_calls_rate_limited() {
	local out n
	ensure_nobody
	advance_clock 61
	n=$(sql "SELECT count(*) FROM audit WHERE result = 'rate_limited'")
	# A setuid-like client (real uid nobody, effective uid 0), as su or
	# sudo is: counted against nobody, rate-limited like Start.
	out=$(raw_many setuid:65534 40 '{"method":"io.mamori.Pam.AccountCheck","parameters":{"service":"mamori-test","user":"alice"}}')
	echo "$out" | sort | uniq -c
	[ "$(echo "$out" | grep -c '"result":"perm_denied"')" -ge 5 ] || fail "AccountCheck not rate-limited"
	expect_match "$out" 'Too many attempts' "message"
	# OpenSession and CloseSession by nobody itself.
	out=$(raw_many nobody 40 '{"method":"io.mamori.Pam.CloseSession","parameters":{"service":"mamori-test","user":"nobody"}}')
	[ "$(echo "$out" | grep -c 'io.mamori.Error.Busy')" -ge 5 ] || fail "CloseSession not rate-limited"
	out=$(raw_many nobody 40 '{"method":"io.mamori.Pam.OpenSession","parameters":{"service":"mamori-test","user":"nobody"}}')
	[ "$(echo "$out" | grep -c 'io.mamori.Error.Busy')" -ge 35 ] || fail "OpenSession not rate-limited"
	# Audited, summarised: one row for the first refusal in this interval.
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE result = 'rate_limited'")" $((n + 1)) "rate-limit rows"
	# Real root is not limited.
	out=$(raw_many root 40 '{"method":"io.mamori.Pam.AccountCheck","parameters":{"service":"mamori-test","user":"alice"}}')
	expect_eq "$(echo "$out" | grep -c '"result":"success"')" 40 "real root's account checks"
}

t_remote_hosts() {
	local h
	# Loopback addresses, by inet_pton, and the name localhost: local.
	for h in localhost 127.0.0.1 127.1.2.3 ::1 0:0:0:0:0:0:0:1 ::ffff:127.0.0.1; do
		echo "local: $h"
		pam -r "$h" -p 'Correct-Horse-42' console-only alice auth=SUCCESS acct=SUCCESS >/dev/null
	done
	# Other addresses, and every other host name, however it starts.
	for h in 127.example.org 127.0.0.1.example.org 127.0.0.1x localhost.example.org 203.0.113.5 10.0.0.1 \
		::ffff:10.0.0.1 2001:db8::1 ::1%lo "$(hostname)"; do
		echo "remote: $h"
		pam -r "$h" -p 'Correct-Horse-42' console-only alice auth=AUTH_ERR >/dev/null
		pam -r "$h" console-only alice acct=PERM_DENIED >/dev/null
	done
	# No PAM_RHOST: local where the service says so, remote elsewhere.
	pam -p 'Correct-Horse-42' console-only alice auth=SUCCESS acct=SUCCESS >/dev/null
	pam -p 'Correct-Horse-42' no-remote alice auth=AUTH_ERR >/dev/null
	pam no-remote alice acct=PERM_DENIED >/dev/null
	pam -r 127.0.0.1 -p 'Correct-Horse-42' no-remote alice auth=SUCCESS acct=SUCCESS >/dev/null
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'alice' AND service = 'console-only' AND rhost = '127.example.org' AND reason = 'remote login not permitted'")" -ge 2 ] ||
		fail "refusal not audited"
}

t_non_root_cannot_use_admin_socket() {
	local rc=0 out
	# The program itself runs as nobody: the refusal below is the socket's.
	runuser -u nobody -- "$RUNAS_CTL" --version >/dev/null || fail "nobody cannot run mamorictl"
	out=$(runuser -u nobody -- "$RUNAS_CTL" --socket "$T/run/admin.sock" user list 2>&1) || rc=$?
	echo "$out"
	[ "$rc" -ne 0 ] || fail "nobody listed users"
	expect_match "$out" 'cannot connect to .*/admin\.sock: Permission denied' "the refusal"
}

t_audit_records_attempts() {
	local n
	n=$(sql "SELECT count(*) FROM audit WHERE category = 'auth' AND \"user\" = 'alice' AND result = 'auth_err' AND reason = 'wrong password'")
	[ "$n" -ge 1 ] || fail "no audit row for the wrong password"
	n=$(sql "SELECT count(*) FROM audit WHERE category = 'auth' AND \"user\" = 'nosuchuser' AND reason = 'unknown user'")
	[ "$n" -ge 1 ] || fail "no audit row for the unknown user"
	n=$(sql "SELECT count(*) FROM audit WHERE category = 'admin' AND reason = 'password temp' AND \"user\" = 'bob' AND actor IS NOT NULL")
	[ "$n" -ge 1 ] || fail "no audit row for the admin action"
	n=$(sql "SELECT count(*) FROM audit WHERE category = 'auth' AND peer_pid IS NOT NULL AND peer_uid = 0")
	[ "$n" -ge 1 ] || fail "peer credentials not recorded"
}

t_audit_verify_detects_tampering() {
	ctl audit verify
	sql "UPDATE audit SET result = 'success' WHERE id = (SELECT min(id) FROM audit WHERE result = 'auth_err')"
	local rc=0 out
	out=$(ctl audit verify 2>&1) || rc=$?
	echo "$out"
	[ "$rc" -ne 0 ] || fail "audit verify passed after tampering"
	expect_match "$out" 'row [0-9]+' "verify message"
}

t_secrets_never_logged() {
	! grep -q 'Correct-Horse-42' "$T/daemon.log" || fail "password in daemon log"
	expect_not_in_store "the password" 'Correct-Horse-42'
}

t_daemon_stopped_authinfo_unavail() {
	stop_daemon
	[ ! -e "$T/run/pam.sock" ] || fail "pam.sock left behind after SIGTERM"
	pam -p 'Correct-Horse-42' mamori-test alice auth=AUTHINFO_UNAVAIL
	pam mamori-test alice acct=AUTHINFO_UNAVAIL
	start_daemon
	pam -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS
}

run_test "correct password succeeds" t_correct_password
run_test "wrong password gives PAM_AUTH_ERR" t_wrong_password
run_test "unknown user sees the same prompts and fails" t_unknown_user_same_prompts
run_test "P-PW-TEMP temporary password forces a change at first login" t_temporary_password_forced_change
run_test "chauthtok asks for the current password without a ticket" t_chauthtok_asks_current_password_without_ticket
run_test "P-PW-TEMP a change through another system's service replaces the password in effect" t_change_through_another_system_replaces_the_password_in_effect
run_test "disabled user refused" t_disabled_user_refused
run_test "P-ID-LIFECYCLE an account disabled between authentication and account check is refused" \
	t_disabled_between_steps
run_hooks_test "P-ID-LIFECYCLE an account disabled between the password's check and the decision is refused" \
	t_disabled_before_decision
run_clock_test "expired account refused by account management" t_expired_account_refused
run_clock_test "P-PW-TEMP unused temporary password expires" t_unused_temporary_password_expires
run_test "account check of an unknown user" t_unknown_user_account_check
run_test "sessions are registered and closed" t_session_open_close
run_test "non-root caller may act only for its own user" t_non_root_caller_only_for_itself
run_test "P-PRIV-TIME a non-root caller cannot open, close or read another user's sessions" t_sessions_of_others
run_clock_test "P-PRIV-TIME a non-root caller cannot close a session whose leader still runs" \
	t_leader_running_session_not_closed_by_others
run_test "P-AUDIT the actor of a non-root caller's row is its own uid's name, not PAM_RUSER" \
	t_pam_actor_is_the_kernel_attested_uid
run_clock_test "P-AUDIT refusals to act for another user are audited, summarised" t_refusals_audited_and_summarised
run_clock_test "P-CRED-STORE AccountCheck, OpenSession and CloseSession are rate-limited per real uid" \
	t_account_and_session_calls_rate_limited
run_test "P-REMOTE loopback addresses and localhost are local, other names and addresses remote" t_remote_hosts
run_test "non-root caller cannot use the admin socket" t_non_root_cannot_use_admin_socket
run_test "P-AUDIT attempts and admin actions are audited" t_audit_records_attempts
run_test "P-AUDIT audit verify detects an altered row" t_audit_verify_detects_tampering
run_test "P-PW-SECRET passwords are not logged or stored in clear" t_secrets_never_logged
run_test "daemon stopped gives PAM_AUTHINFO_UNAVAIL" t_daemon_stopped_authinfo_unavail
tap_done
