#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# P-CRED-STORE: the store key's rotation (issue #14; docs/architecture.md
# "Sealing key and its rotation", docs/deployment.md).  A next key is
# installed beside store.key and the daemon reloaded; `mamorictl key rotate`
# re-seals every TOTP secret under it while TOTP logins go on; then the next
# key becomes the key, the old one stays as the previous key until no row
# names it, and goes.  On PostgreSQL also with two daemons on one store:
# rotate on A while B keeps logging in, then B switches.  Both backends.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "python3" test -x /usr/bin/python3
require "oathtool" command -v oathtool
require_test_hooks "needs the test clock"

EXTRA_CONF=$MN_LOGIN_CONF

new_env
A=$T
make_service mn-login
set_clock "$(date -d '2030-02-04 10:00:00' +%s)"
start_daemon || { echo "Bail out! the daemon did not start"; exit 1; }

totp_code() { oathtool --totp -b "$1" --now "@$(cat "$A/clock")"; }

# key_id SLOT: the id of the key the daemon holds in SLOT (current, next,
# previous), or None.
key_id() { ctl --json key status | json "d[\"keys\"][\"$1\"]"; }
# rows_under ID: sealed secrets whose row names key ID.
rows_under() { sql "SELECT count(*) FROM credentials WHERE sealed IS NOT NULL AND seal_key_id = '$1'"; }
rows_sealed() { sql "SELECT count(*) FROM credentials WHERE sealed IS NOT NULL"; }
reload_daemon() {
	kill -HUP "$(cat "$T/daemon.pid")"
	sleep 0.5
}
new_key() { head -c 32 /dev/urandom >"$1" && chmod 600 "$1"; }

# login NAME SECRET: password and this step's code; the clock moves on a
# step first, so that no code is a replay.
PW='Sakura-no-Ki-2030'
login() {
	echo $(($(cat "$A/clock") + 30)) >"$A/clock"
	[ -z "${B:-}" ] || cp "$A/clock" "$B/clock"
	pam -p "$PW" -p "$(totp_code "$2")" mn-login "$1" auth=SUCCESS
}

# Each test runs in a subshell: what the next ones need is kept in files
# under $A (secret.NAME, old.id, new.id).
sec() { cat "$A/secret.$1"; }

t_rows_name_their_key() {
	local i
	for i in 1 2 3; do
		add_user "kr.u$i" "$PW"
		enroll_totp "kr.u$i" >"$A/secret.kr.u$i"
	done
	# Secrets only for the rotation's volume: accounts without a password.
	for i in $(seq 1 80); do
		ctl user add "kr.v$i" >/dev/null
		enroll_totp "kr.v$i" >/dev/null
	done
	OLD_ID=$(key_id current)
	echo "$OLD_ID" >"$A/old.id"
	[[ $OLD_ID =~ ^[0-9a-f]{16}$ ]] || fail "no current key id: $OLD_ID"
	expect_eq "$(key_id next)" None "no next key yet"
	expect_eq "$(rows_under "$OLD_ID")" 83 "every secret names the current key"
	expect_eq "$(rows_sealed)" 83 "secrets"
	login kr.u1 "$(sec kr.u1)"
}

t_rotate_refused_without_next_key() {
	local out rc=0 OLD_ID
	OLD_ID=$(cat "$A/old.id")
	out=$(ctl key rotate 2>&1) || rc=$?
	[ "$rc" -ne 0 ] || fail "key rotate ran without a next key"
	expect_match "$out" "no next store key is loaded" "the refusal"
	expect_eq "$(rows_under "$OLD_ID")" 83 "nothing re-sealed"
	login kr.u2 "$(sec kr.u2)"
}

t_key_new_then_reload() {
	local out OLD_ID NEW_ID
	OLD_ID=$(cat "$A/old.id")
	out=$(ctl key new "$T/state/store.key.next")
	expect_match "$out" "store.key.next" "key new names where it wrote"
	expect_eq "$(stat -c '%a %s' "$T/state/store.key.next")" "600 32" "the new key file"
	# Never over an existing file.
	! ctl key new "$T/state/store.key.next" >/dev/null 2>&1 || fail "key new replaced a key"
	reload_daemon
	NEW_ID=$(key_id next)
	echo "$NEW_ID" >"$A/new.id"
	[[ $NEW_ID =~ ^[0-9a-f]{16}$ ]] && [ "$NEW_ID" != "$OLD_ID" ] || fail "next key not loaded: $NEW_ID"
	expect_eq "$(key_id current)" "$OLD_ID" "the current key stays"
	# New enrolments are still sealed under the current key.
	add_user kr.u4 "$PW"
	enroll_totp kr.u4 >"$A/secret.kr.u4"
	expect_eq "$(rows_under "$OLD_ID")" 84 "a new secret under the current key"
}

t_logins_go_on_during_rotation() {
	local pid rc=0 mixed=0 n=0 under_old under_new out u OLD_ID NEW_ID
	OLD_ID=$(cat "$A/old.id")
	NEW_ID=$(cat "$A/new.id")
	ctl key rotate --batch 1 >"$T/rotate.out" 2>"$T/rotate.err" &
	pid=$!
	# Logins while it runs, each also noting whether both keys were in use.
	while kill -0 "$pid" 2>/dev/null; do
		under_old=$(rows_under "$OLD_ID")
		under_new=$(rows_under "$NEW_ID")
		login "kr.u$((n % 4 + 1))" "$(sec "kr.u$((n % 4 + 1))")" || { rc=1; break; }
		[ "$under_old" -gt 0 ] && [ "$under_new" -gt 0 ] && mixed=$((mixed + 1))
		n=$((n + 1))
	done
	wait "$pid" || fail "key rotate failed: $(cat "$T/rotate.err")"
	[ "$rc" -eq 0 ] || fail "a login failed during the rotation"
	[ "$mixed" -ge 1 ] || fail "no login happened while both keys sealed rows ($n logins)"
	echo "# $n logins during the rotation, $mixed with rows under both keys" >"$A/during"
	out=$(cat "$T/rotate.out")
	expect_match "$out" "84 secrets re-sealed under store key $NEW_ID" "the final count"
	grep -q "to go" "$T/rotate.err" || fail "no progress shown"
	expect_eq "$(rows_under "$OLD_ID")" 0 "no row under the old key"
	expect_eq "$(rows_under "$NEW_ID")" 84 "every row under the next key"
	[ "$(sql "SELECT count(*) FROM audit WHERE reason = 'key rotate'")" -ge 84 ] || fail "batches not audited"
	# A second run finds nothing to do.
	expect_match "$(ctl key rotate)" "^0 secrets re-sealed" "a second run"
	for u in kr.u1 kr.u2 kr.u3 kr.u4; do login "$u" "$(sec "$u")"; done
}

t_switch_then_old_key_removed() {
	local u OLD_ID NEW_ID
	OLD_ID=$(cat "$A/old.id")
	NEW_ID=$(cat "$A/new.id")
	# The switch on this terminal: next becomes the key, the old key the
	# previous one, then a reload.
	mv "$T/state/store.key" "$T/state/store.key.previous"
	mv "$T/state/store.key.next" "$T/state/store.key"
	reload_daemon
	expect_eq "$(key_id current)" "$NEW_ID" "the new key is the current one"
	expect_eq "$(key_id previous)" "$OLD_ID" "the old key kept"
	expect_eq "$(key_id next)" None "no next key"
	add_user kr.u5 "$PW"
	enroll_totp kr.u5 >"$A/secret.kr.u5"
	expect_eq "$(rows_under "$NEW_ID")" 85 "new secrets under the new key"
	# No row names the old key: it goes.
	expect_match "$(ctl key status)" "under $NEW_ID +85" "key status"
	rm "$T/state/store.key.previous"
	reload_daemon
	expect_eq "$(key_id previous)" None "the old key gone"
	for u in kr.u1 kr.u2 kr.u3 kr.u4 kr.u5; do login "$u" "$(sec "$u")"; done
	# ...and after a restart.
	stop_daemon
	start_daemon || fail "the daemon did not start with the new key alone"
	login kr.u3 "$(sec kr.u3)"
}

# A secret under a key the daemon lacks: that login fails closed with the
# key named; the others go on; rotate reports it and fails.
t_missing_key_fails_closed() {
	local lost rc=0 out
	new_key "$T/state/store.key.next"
	reload_daemon
	lost=$(key_id next)
	ctl key rotate >/dev/null
	expect_eq "$(rows_under "$lost")" 85 "all under the third key"
	rm "$T/state/store.key.next"
	reload_daemon
	echo $(($(cat "$A/clock") + 30)) >"$A/clock"
	# As any secret that does not open: io.mamori.Error.Internal, PAM_SYSTEM_ERR.
	pam -p "$PW" -p "$(totp_code "$(sec kr.u1)")" mn-login kr.u1 auth=SYSTEM_ERR
	grep -q "sealed under store key $lost, which is not loaded" "$T/daemon.log" || fail "the key id is not named"
	expect_match "$(ctl key status)" "under $lost +85 +NOT LOADED HERE" "key status names it"
	# A rotation to a new next key cannot open them: it says which.
	new_key "$T/state/store.key.next"
	reload_daemon
	out=$(ctl key rotate 2>&1) || rc=$?
	[ "$rc" -ne 0 ] || fail "rotate succeeded with secrets it cannot open"
	expect_match "$out" "store key $lost\) does not open" "the unopened secrets named"
	expect_match "$out" "0 secrets re-sealed" "nothing re-sealed"
}

run_test "P-CRED-STORE each sealed secret names the key that sealed it (schema 10)" t_rows_name_their_key
run_test "P-CRED-STORE key rotate refuses to start without a next key loaded" t_rotate_refused_without_next_key
run_test "P-CRED-STORE key new writes a 0600 key; a reload loads it as the next key" t_key_new_then_reload
run_test "P-CRED-STORE TOTP logins go on during key rotate; after it no row names the old key" \
	t_logins_go_on_during_rotation
cat "$A/during" 2>/dev/null || true
run_test "P-CRED-STORE after the switch and with the old key removed, logins still work" \
	t_switch_then_old_key_removed
run_test "P-CRED-STORE a secret under a key not loaded fails closed, named by its key id" \
	t_missing_key_fails_closed

if ! on_postgresql; then
	tap_done
	exit
fi

# ------------------------------------------------- two daemons, one store

# A afresh: the secrets of the tests above are under a key gone (revoked
# here, as a lost phone would be), and no next key; B: A's database, keys
# and clock.
stop_daemon
sql "UPDATE credentials SET state = 'revoked', sealed = NULL, nonce = NULL WHERE sealed IS NOT NULL" >/dev/null
rm -f "$A/state/store.key.next"
start_daemon || { echo "Bail out! A did not restart"; exit 1; }
MAMORI_TEST_SHARE_DB=$(cat "$A/pgdb") new_env
B=$T
# Its own node, as every terminal of a fleet has (A keeps the host name).
sed -i '/^\[store\]$/a node = kr-term-b' "$B/mamori.conf"
make_service mn-login
mkdir -p "$B/state"
chmod 700 "$B/state"
cp -p "$A/state/store.key" "$A/state/audit.key" "$B/state/"
cp -p "$A/clock" "$B/clock"
start_daemon || { echo "Bail out! daemon B did not start"; exit 1; }
on_a() { use_env "$A"; }
on_b() { use_env "$B"; }

t_fleet_rotate_on_a_while_b_logs_in() {
	local pid rc=0 n=0 mixed=0 out cur next
	on_a
	out=$(ctl key rotate 2>&1) && fail "A rotated without a next key"
	for i in 1 2; do enroll_totp "kr.u$i" >"$A/secret.kr.u$i"; done
	for i in $(seq 1 60); do enroll_totp "kr.v$i" >/dev/null; done
	cur=$(key_id current)
	# Step 1: the next key on every terminal, each daemon reloaded.
	new_key "$A/state/store.key.next"
	cp -p "$A/state/store.key.next" "$B/state/"
	on_a
	reload_daemon
	on_b
	reload_daemon
	next=$(key_id next)
	[ "$next" = "$(on_a; key_id next)" ] && [ "$next" != None ] || fail "the next key is not on both"
	# Step 2: rotate on A while B logs in.
	on_a
	ctl key rotate --batch 1 >"$A/frotate.out" 2>&1 &
	pid=$!
	on_b
	while kill -0 "$pid" 2>/dev/null; do
		local uo un
		uo=$(rows_under "$cur")
		un=$(rows_under "$next")
		login "kr.u$((n % 2 + 1))" "$(sec "kr.u$((n % 2 + 1))")" || { rc=1; break; }
		[ "$uo" -gt 0 ] && [ "$un" -gt 0 ] && mixed=$((mixed + 1))
		n=$((n + 1))
	done
	wait "$pid" || fail "rotate on A failed: $(cat "$A/frotate.out")"
	[ "$rc" -eq 0 ] || fail "a login on B failed during A's rotation"
	[ "$mixed" -ge 1 ] || fail "no login on B while both keys sealed rows ($n logins)"
	echo "# $n logins on B during A's rotation, $mixed with rows under both keys" >"$A/during"
	expect_eq "$(rows_under "$cur")" 0 "no row under the old key"
	# Step 3: B switches (and keeps the old key as previous), then A.
	mv "$B/state/store.key" "$B/state/store.key.previous"
	mv "$B/state/store.key.next" "$B/state/store.key"
	reload_daemon
	expect_eq "$(key_id current)" "$next" "B's current key"
	login kr.u1 "$(sec kr.u1)"
	on_a
	login kr.u2 "$(sec kr.u2)"
	mv "$A/state/store.key" "$A/state/store.key.previous"
	mv "$A/state/store.key.next" "$A/state/store.key"
	reload_daemon
	# The old key goes on both once no row names it.
	expect_eq "$(rows_under "$cur")" 0 "no row under the old key"
	rm "$A/state/store.key.previous" "$B/state/store.key.previous"
	reload_daemon
	on_b
	reload_daemon
	login kr.u1 "$(sec kr.u1)"
	on_a
	login kr.u2 "$(sec kr.u2)"
}

# B without the next key: it refuses nothing it opened before, and its
# rotate refuses to start.
t_fleet_b_without_next_key() {
	local cur rc=0 out
	on_a
	cur=$(key_id current)
	new_key "$A/state/store.key.next"
	reload_daemon
	on_b
	expect_eq "$(key_id next)" None "B has no next key"
	out=$(ctl key rotate 2>&1) || rc=$?
	[ "$rc" -ne 0 ] || fail "B rotated without a next key"
	expect_match "$out" "no next store key is loaded" "B's refusal"
	expect_eq "$(rows_under "$cur")" 62 "nothing re-sealed"
	login kr.u1 "$(sec kr.u1)"
	login kr.u2 "$(sec kr.u2)"
}

run_test "P-CRED-STORE two daemons: rotate on A while B logs in with TOTP, no login fails; then B switches keys" \
	t_fleet_rotate_on_a_while_b_logs_in
cat "$A/during" 2>/dev/null || true
run_test "P-CRED-STORE two daemons: B without the next key logs in as before, and its rotate refuses" \
	t_fleet_b_without_next_key
tap_done
