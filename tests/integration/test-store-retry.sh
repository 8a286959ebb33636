#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Transactions a shared store refuses are run again, and nothing is counted
# twice (issue #14).  The test hook MAMORI_TEST_STORE_REFUSE_FILE makes the
# daemon refuse the next N commits of writing transactions (those that
# append to the audit log) as PostgreSQL refuses a serialization failure or
# a deadlock (MAMORI_ERR_RETRY), on either backend.  Refused once, the
# administrator's call and the password change succeed with one audit row
# and one failure count; refused every time (4 runs), they fail closed:
# "busy", nothing changed.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "oathtool" command -v oathtool
require_test_hooks "needs the store's refusal hook"

# incident_hook: $T's daemon hands its incidents to a hook that keeps them
# in $T/incidents (one JSON object a line).
incident_hook() {
	cat >"$T/hook" <<HOOK
#!/bin/sh
cat >>"$T/incidents"
echo >>"$T/incidents"
HOOK
	chmod 700 "$T/hook"
	printf '\n[incident]\nhook = %s\n' "$T/hook" >>"$T/mamori.conf"
}

new_env
incident_hook
REFUSE=$T/refuse
echo 0 >"$REFUSE"
export MAMORI_TEST_STORE_REFUSE_FILE=$REFUSE
PAUSE=$T/pause
export MAMORI_TEST_PAUSE_FILE=$PAUSE
start_daemon || { echo "Bail out! daemon did not start"; exit 1; }

# refuse N: the next N writing commits are refused.
refuse() { echo "$1" >"$REFUSE"; }
audit_count() { sql "SELECT count(*) FROM audit WHERE \"user\" = '$1' AND reason = '$2'"; }
rows_of() { sql "SELECT count(*) FROM audit WHERE reason = '$1'"; }
next_key_loaded() { [ "$(ctl --json key status | json 'd["keys"]["next"]')" != None ]; }
reruns() { grep -c "admin: $1 refused by the store, run again" "$T/daemon.log" || true; }

# P-AUDIT, P-LOGIN-UI: an administrator's lock refused once runs again:
# the account is locked, with one audit row.
t_admin_lock_refused_once() {
	add_user rt.lock 'Hoshi-no-Yoru-2030'
	local before
	before=$(reruns io.mamori.Admin.UserLock)
	refuse 1
	ctl user lock rt.lock >/dev/null
	expect_eq "$(cat "$REFUSE")" 0 "the refusal was used"
	expect_eq "$(reruns io.mamori.Admin.UserLock)" $((before + 1)) "run a second time"
	expect_eq "$(audit_count rt.lock 'user lock')" 1 "one audit row"
	pam -p 'Hoshi-no-Yoru-2030' mamori-test rt.lock auth=MAXTRIES >/dev/null
}

# P-ID-LIFECYCLE: a disable refused at every run fails closed: busy, and
# the account stays active with no audit row of the disable.
t_admin_disable_busy() {
	add_user rt.busy 'Tsuki-no-Umi-2030'
	local out rc=0
	refuse 4
	out=$(ctl user disable rt.busy 2>&1) || rc=$?
	refuse 0
	[ "$rc" -ne 0 ] || fail "the disable succeeded: $out"
	expect_match "$out" "the store is busy, try again; nothing was changed"
	expect_eq "$(audit_count rt.busy 'user disable')" 0 "no audit row"
	pam -p 'Tsuki-no-Umi-2030' mamori-test rt.busy auth=SUCCESS >/dev/null
}

# P-LOGIN-UI: a wrong current password whose count is refused once is
# counted once, with one audit row.
t_chauthtok_failure_counted_once() {
	add_user rt.count 'Yuki-no-Hana-2030'
	advance_clock $((8 * 86400)) # past the minimum age
	refuse 1
	pam -p 'wrong-current' -p 'x' -p 'x' mamori-test rt.count chauthtok=AUTHTOK_RECOVERY_ERR >/dev/null
	expect_eq "$(cat "$REFUSE")" 0 "the refusal was used"
	expect_eq "$(sql "SELECT failures FROM lockouts WHERE name = 'rt.count'")" 1 "one failure"
	expect_eq "$(audit_count rt.count 'wrong current password')" 1 "one audit row"
}

# P-PW-AGE: a password change refused once is made once.
t_chauthtok_change_refused_once() {
	add_user rt.change 'Sora-no-Iro-2030'
	advance_clock $((8 * 86400)) # past the minimum age
	local before
	before=$(audit_count rt.change 'password changed')
	refuse 1
	pam -p 'Sora-no-Iro-2030' -p 'Umi-no-Koe-2031' -p 'Umi-no-Koe-2031' mamori-test rt.change \
		chauthtok=SUCCESS >/dev/null
	expect_eq "$(cat "$REFUSE")" 0 "the refusal was used"
	expect_eq "$(audit_count rt.change 'password changed')" $((before + 1)) "one more audit row"
	pam -p 'Umi-no-Koe-2031' mamori-test rt.change auth=SUCCESS >/dev/null
}

# A change refused at every run fails closed: the old password stays.
t_chauthtok_change_busy() {
	add_user rt.cbusy 'Kawa-no-Oto-2030'
	advance_clock $((8 * 86400)) # past the minimum age
	local before rc=0
	before=$(audit_count rt.cbusy 'password changed')
	refuse 4
	pam -p 'Kawa-no-Oto-2030' -p 'Mori-no-Ki-2031' -p 'Mori-no-Ki-2031' mamori-test rt.cbusy \
		chauthtok=SUCCESS >/dev/null 2>&1 || rc=$?
	refuse 0
	[ "$rc" -ne 0 ] || fail "the change succeeded"
	expect_eq "$(audit_count rt.cbusy 'password changed')" "$before" "no audit row"
	pam -p 'Kawa-no-Oto-2030' mamori-test rt.cbusy auth=SUCCESS >/dev/null
}

# P-CRED-STORE: key rotate commits each secret's re-seal, then the batch's
# audit row; that row's commit refused once is made again on its own (the
# call is not run again, its secrets are re-sealed already): the rotation
# succeeds with one audit row.  Refused at every attempt, the reply says
# the secrets were re-sealed but not recorded (never "nothing was
# changed").
t_key_rotate_audit_refused_once() {
	local out before
	add_user rt.key 'Kaze-no-Uta-2030'
	enroll_totp rt.key >/dev/null
	ctl key new "$T/state/store.key.next" >/dev/null
	kill -HUP "$(cat "$T/daemon.pid")"
	wait_until 200 next_key_loaded || fail "the next key was not loaded"
	before=$(sql "SELECT count(*) FROM audit WHERE reason = 'key rotate'")
	refuse 4
	out=$(ctl key rotate 2>&1) && fail "key rotate succeeded with its audit row refused every time: $out"
	expect_eq "$(cat "$REFUSE")" 0 "the refusals were used"
	expect_match "$out" "1 secrets were re-sealed under key .*, but the store failed to record them" \
		"the reply"
	grep -q "key rotate: 1 secrets re-sealed under store key .* the store refused the batch's audit row" \
		"$T/daemon.log" || fail "not in the daemon's log"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE reason = 'key rotate'")" "$before" "no audit row"
	add_user rt.key2 'Kaze-no-Uta-2031'
	enroll_totp rt.key2 >/dev/null
	refuse 1
	out=$(ctl key rotate 2>&1) || fail "key rotate failed: $out"
	expect_eq "$(cat "$REFUSE")" 0 "the refusal was used"
	expect_match "$out" "^1 secrets re-sealed" "the count"
	expect_eq "$(reruns io.mamori.Admin.KeyRotate)" 0 "the call not run again"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE reason = 'key rotate'")" $((before + 1)) "one audit row"
	grep -q "store: test hook: a commit refused" "$T/daemon.log" || fail "no refusal logged"
}

# P-AUDIT: the daemon's own rows ("daemon stopped", "daemon started"), a
# transaction of their own each, refused once: written at the second run.
t_daemon_rows_refused_once() {
	local stopped started
	stopped=$(rows_of 'daemon stopped')
	started=$(rows_of 'daemon started')
	refuse "1 daemon stopped"
	stop_daemon
	expect_eq "$(cat "$REFUSE")" "0 daemon stopped" "the refusal was used"
	refuse "1 daemon started"
	start_daemon || fail "the daemon did not start"
	expect_eq "$(cat "$REFUSE")" "0 daemon started" "the refusal was used"
	expect_eq "$(rows_of 'daemon stopped')" $((stopped + 1)) "one stop row"
	expect_eq "$(rows_of 'daemon started')" $((started + 1)) "one start row"
}

# P-AUDIT: the row of a caller refused for acting for another user,
# refused once by the store: written at the second run, once.
t_refusal_row_refused_once() {
	local n out i
	n=$(sql "SELECT count(*) FROM audit WHERE peer_uid = 1 AND reason = 'caller may act only for itself'")
	cp -f "$top_srcdir/tests/integration/rawclient.py" "$T/rawclient.py"
	chmod 755 "$T/rawclient.py"
	refuse "1 caller may act only for itself"
	out=$(runuser -u daemon -- /usr/bin/python3 "$T/rawclient.py" "$T/run/pam.sock" \
		'{"method":"io.mamori.Pam.AccountCheck","parameters":{"service":"mamori-test","user":"rt.other"}}')
	expect_match "$out" "io.mamori.Error.PermissionDenied" "the refusal"
	for i in $(seq 1 50); do
		[ "$(cat "$REFUSE")" = "0 caller may act only for itself" ] && break
		sleep 0.1
	done
	expect_eq "$(cat "$REFUSE")" "0 caller may act only for itself" "the refusal was used"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE peer_uid = 1 AND reason = 'caller may act only for itself'")" \
		$((n + 1)) "one row"
}

# P-PW-TEMP: a temporary password whose commit is refused once is set by
# the call run again (the password checks' reads before it commit
# nothing), with one audit row.
t_password_temp_refused_once() {
	local out before
	ctl user add rt.temp >/dev/null
	before=$(reruns io.mamori.Admin.PasswordTemp)
	refuse 1
	out=$(printf 'Hoshi-Temp-Pass-1\n' | ctl password temp rt.temp --password-stdin 2>&1) ||
		fail "password temp failed: $out"
	expect_eq "$(cat "$REFUSE")" 0 "the refusal was used"
	expect_eq "$(reruns io.mamori.Admin.PasswordTemp)" $((before + 1)) "run a second time"
	expect_eq "$(audit_count rt.temp 'password temp')" 1 "one audit row"
	pam -p 'Hoshi-Temp-Pass-1' mamori-test rt.temp auth=SUCCESS acct=NEW_AUTHTOK_REQD >/dev/null
}

# P-PW-TEMP: an account's first password is prepared against no
# comparison key; another temporary password made the key meanwhile (the
# first call held by the pause hook between its preparation and its
# store).  The first call is run again, prepared anew: it succeeds, and
# its password is the one in effect.
t_password_temp_key_made_meanwhile() {
	local bg out before
	ctl user add rt.race >/dev/null
	before=$(reruns io.mamori.Admin.PasswordTemp)
	echo password-temp >"$PAUSE"
	printf 'Kaze-Temp-Pass-1\n' | ctl password temp rt.race --password-stdin >"$T/race.out" 2>&1 &
	bg=$!
	wait_until 400 grep -qx "paused password-temp" "$PAUSE" || fail "the first call never paused"
	out=$(printf 'Kumo-Temp-Pass-2\n' | ctl password temp rt.race --password-stdin 2>&1) ||
		fail "the second call failed: $out"
	rm -f "$PAUSE"
	wait "$bg" || fail "the first call failed: $(cat "$T/race.out")"
	expect_eq "$(reruns io.mamori.Admin.PasswordTemp)" $((before + 1)) "the first call run again"
	expect_eq "$(audit_count rt.race 'password temp')" 2 "audit rows"
	pam -p 'Kaze-Temp-Pass-1' mamori-test rt.race auth=SUCCESS acct=NEW_AUTHTOK_REQD >/dev/null
}

# incidents KIND: how many KIND incidents reached the hook, once the hook
# has been given time for more than the first.
incidents() {
	local i
	for i in $(seq 1 50); do
		grep -q "\"kind\": *\"$1\"" "$T/incidents" 2>/dev/null && break
		sleep 0.1
	done
	sleep 1
	grep -c "\"kind\": *\"$1\"" "$T/incidents" || true
}

# P-PW-LEAK: a password marked compromised whose commit is refused once is
# marked by the call run again; password_compromised is raised once, after
# the commit.
t_password_compromised_refused_once() {
	local out
	add_user rt.leak 'Hana-no-Michi-2030'
	: >"$T/incidents"
	refuse 1
	out=$(ctl password compromised rt.leak 2>&1) || fail "password compromised failed: $out"
	expect_eq "$(cat "$REFUSE")" 0 "the refusal was used"
	expect_eq "$(audit_count rt.leak 'password compromised')" 1 "one audit row"
	expect_eq "$(incidents password_compromised)" 1 "one incident"
}

# P-AUDIT, P-INCIDENT: the row of a verification that found the log broken,
# refused once, is written again on its own; the alert and audit_tampered
# are raised once.  The log is tampered with: a daemon of its own.
t_audit_verify_broken_refused_once() {
	new_env
	trap 'stop_daemon; rm -rf "$T"' EXIT
	incident_hook
	start_daemon
	ctl user add rt.tamper >/dev/null
	sql "UPDATE audit SET \"user\" = 'mallory' WHERE id = (SELECT min(id) FROM audit)"
	local rc=0
	refuse 1
	ctl audit verify >"$T/out" 2>&1 || rc=$?
	cat "$T/out"
	expect_eq "$rc" 1 "audit verify exit status"
	expect_match "$(cat "$T/out")" "audit chain broken" "the verdict"
	expect_eq "$(cat "$REFUSE")" 0 "the refusal was used"
	expect_eq "$(reruns io.mamori.Admin.AuditVerify)" 0 "the call not run again"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE reason = 'audit verify: broken'")" 1 "one audit row"
	expect_eq "$(incidents audit_tampered)" 1 "one incident"
	expect_eq "$(grep -c 'audit log verification failed' "$T/daemon.log")" 1 "one alert"
}

run_test "admin lock refused once: run again, one audit row (P-AUDIT)" t_admin_lock_refused_once
run_test "admin disable refused every time: busy, nothing changed (P-ID-LIFECYCLE)" t_admin_disable_busy
run_test "chauthtok wrong password refused once: counted once (P-LOGIN-UI)" t_chauthtok_failure_counted_once
run_test "chauthtok change refused once: made once (P-PW-AGE)" t_chauthtok_change_refused_once
run_test "chauthtok change refused every time: fails closed" t_chauthtok_change_busy
run_test "the daemon's stop and start rows refused once: written once each (P-AUDIT)" t_daemon_rows_refused_once
run_test "a refused caller's row refused once: written once (P-AUDIT)" t_refusal_row_refused_once
run_test "key rotate's audit row refused once: made again, one row (P-CRED-STORE)" t_key_rotate_audit_refused_once
run_test "P-PW-TEMP password temp refused once: run again, set, one audit row" t_password_temp_refused_once
run_test "P-PW-TEMP password temp whose account's comparison key was made meanwhile: run again, set" \
	t_password_temp_key_made_meanwhile
run_test "P-PW-LEAK password compromised refused once: one audit row, one incident" t_password_compromised_refused_once
run_test "P-AUDIT P-INCIDENT audit verify of a broken log, its row refused once: one row, one alert" \
	t_audit_verify_broken_refused_once
tap_done
