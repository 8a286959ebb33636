#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Two daemons, one store (issue #14): daemons A and B, each with its own
# runtime and state directories, sockets and PAM service files, share one
# PostgreSQL database, the sealing key (store.key) and the audit key (A's
# copied to B, as docs/deployment.md installs one on each terminal) and
# the test clock.  What one decides, the other sees at once.  PostgreSQL
# only: `make check-postgresql` runs it.  A third daemon on the store
# checks that its listener's messages name the listener's own server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fleet_lib.sh"

require "oathtool" command -v oathtool
require_test_hooks "needs the test clock"
fleet_require

EXTRA_CONF=$MN_LOGIN_CONF

# Daemon A: a database of its own, its keys made at its first start.
new_env
A=$T
make_service mn-login
set_clock "$(date -d '2030-02-04 10:00:00' +%s)"
start_daemon || { echo "Bail out! daemon A did not start"; exit 1; }

# Daemon B: A's database, A's keys, A's clock; everything else its own.
MAMORI_TEST_SHARE_DB=$(cat "$A/pgdb") new_env
B=$T
make_service mn-login
mkdir -p "$B/state"
chmod 700 "$B/state"
cp -p "$A/state/store.key" "$A/state/audit.key" "$B/state/"
cp -p "$A/clock" "$B/clock" # a file of its own, kept equal to A's by advance_both
start_daemon || { echo "Bail out! daemon B did not start"; exit 1; }
[ "$(cat "$A/pgdb")" = "$(cat "$B/pgdb")" ] && [ "$A/run/pam.sock" != "$B/run/pam.sock" ] ||
	{ echo "Bail out! the two daemons are not set up as meant"; exit 1; }

# advance_both SECONDS: both daemons' clocks, together.
advance_both() {
	echo $(($(cat "$A/clock") + $1)) >"$A/clock"
	cp "$A/clock" "$B/clock"
}


totp_code() {
	oathtool --totp -b "$1" --now "@$(cat "$A/clock")"
}

# ------------------------------------------------------------ lockout

t_lockout_reached_on_a_holds_on_b() {
	fleet_lockout_a_to_b fl.one 'Ame-no-Hi-2030'
	# B says locked too.
	expect_eq "$(ctl --json user show fl.one | json 'd["user"]["locked"]')" True "B's user show"
}

t_lockout_failures_split_add_up() {
	on_a
	add_user fl.two 'Kaze-no-Oto-2030'
	# Alternating daemons: the fifth failure, wherever it lands, locks.
	pam -p 'wrong' mamori-test fl.two auth=AUTH_ERR
	on_b
	pam -p 'wrong' mamori-test fl.two auth=AUTH_ERR
	on_a
	pam -p 'wrong' mamori-test fl.two auth=AUTH_ERR
	on_b
	pam -p 'wrong' mamori-test fl.two auth=AUTH_ERR
	pam -p 'wrong' mamori-test fl.two auth=MAXTRIES
	on_a
	pam -p 'Kaze-no-Oto-2030' mamori-test fl.two auth=MAXTRIES
	expect_eq "$(sql "SELECT failures FROM lockouts WHERE name = 'fl.two'")" 5 "failures of both daemons"
}

# Concurrent failures on both daemons are each counted once.
t_lockout_concurrent_failures_counted_once() {
	local i pids=()
	on_a
	add_user fl.three 'Yuki-no-Yoru-2030'
	for i in 1 2; do
		(use_env "$A" && pam -p 'wrong' mamori-test fl.three auth=AUTH_ERR) >"$A/conc-a$i.out" 2>&1 &
		pids+=($!)
		(use_env "$B" && pam -p 'wrong' mamori-test fl.three auth=AUTH_ERR) >"$A/conc-b$i.out" 2>&1 &
		pids+=($!)
	done
	local rc=0
	for i in "${pids[@]}"; do wait "$i" || rc=1; done
	[ "$rc" -eq 0 ] || { cat "$A"/conc-*.out; fail "a failure was not refused as AUTH_ERR"; }
	expect_eq "$(sql "SELECT failures FROM lockouts WHERE name = 'fl.three'")" 4 "four failures, four counts"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'fl.three' AND reason = 'wrong password'")" 4 \
		"four audit rows"
}

# ------------------------------------------------------------ TOTP

TARO_SECRET=""
t_totp_accepted_on_a_refused_on_b() {
	local code
	on_a
	add_user fl.taro 'Sakura-no-Ki-2030'
	TARO_SECRET=$(enroll_totp fl.taro)
	echo "$TARO_SECRET" >"$A/taro.secret"
	advance_both 30
	code=$(totp_code "$TARO_SECRET")
	pam -p 'Sakura-no-Ki-2030' -p "$code" mn-login fl.taro auth=SUCCESS
	on_b
	pam -p 'Sakura-no-Ki-2030' -p "$code" mn-login fl.taro auth=AUTH_ERR
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'fl.taro' AND reason = 'totp code replayed'")" -ge 1 ] ||
		fail "the replay on B is not audited"
	# The secret sealed on A opens on B: the next step's code works there.
	advance_both 30
	pam -p 'Sakura-no-Ki-2030' -p "$(totp_code "$TARO_SECRET")" mn-login fl.taro auth=SUCCESS
	# ...and is then refused on A.
	on_a
	pam -p 'Sakura-no-Ki-2030' -p "$(totp_code "$TARO_SECRET")" mn-login fl.taro auth=AUTH_ERR
}

# ------------------------------------------------------- disable, revoke

t_disabled_on_a_refused_on_b() {
	on_a
	add_user fl.dis 'Tsuki-no-Hikari-2030'
	on_b
	pam -p 'Tsuki-no-Hikari-2030' mamori-test fl.dis auth=SUCCESS acct=SUCCESS
	on_a
	ctl user disable fl.dis >/dev/null
	on_b
	! pam -p 'Tsuki-no-Hikari-2030' mamori-test fl.dis auth=SUCCESS acct=SUCCESS >/dev/null 2>&1 ||
		fail "a disabled account logged in on B"
	expect_eq "$(ctl --json user show fl.dis | json 'd["user"]["state"]')" disabled "B's user show"
}

t_revoked_on_a_refused_on_b() {
	local secret
	secret=$(cat "$A/taro.secret")
	advance_both 30
	on_b
	pam -p 'Sakura-no-Ki-2030' -p "$(totp_code "$secret")" mn-login fl.taro auth=SUCCESS
	on_a
	ctl factor revoke fl.taro --factor totp --reason 'phone lost' >/dev/null
	advance_both 30
	on_b
	pam -p 'Sakura-no-Ki-2030' -p "$(totp_code "$secret")" mn-login fl.taro auth=AUTH_ERR
}

# ------------------------------------------------------------ audit

# A and B keep the default node name (the host's): one chain that both
# append to, each following the other's rows; A says so in its log.
t_audit_one_chain_verified_on_both() {
	local i
	on_a
	add_user fl.aud 'Hoshi-no-Umi-2030'
	for i in 1 2 3; do
		on_a
		pam -p 'Hoshi-no-Umi-2030' mamori-test fl.aud auth=SUCCESS
		on_b
		pam -p 'Hoshi-no-Umi-2030' mamori-test fl.aud auth=SUCCESS
		pam -p 'wrong' mamori-test fl.aud auth=AUTH_ERR
	done
	on_a
	ctl audit verify
	on_b
	ctl audit verify
	on_a
	ctl audit verify
	# One chain: every row links to the one before it, whoever wrote it.
	expect_eq "$(sql "SELECT count(*) FROM audit a JOIN audit b ON b.id = a.id - 1 WHERE a.prev_hash <> b.hash")" 0 \
		"broken links"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'fl.aud' AND result = 'success' AND category = 'auth'")" -ge 6 ] ||
		fail "the logins of both daemons are not all in the one log"
	grep -q "without this daemon: another daemon appends to it (or commits of this one whose answers were lost); give each terminal its own \[store\] node" \
		"$A/daemon.log" || fail "A does not warn of a second writer of its chain"
}

# A third daemon on the same store (its environment made below, so that
# cleanup_all stops it and removes it) whose listener ([store]
# listen_conninfo) names a server that refuses it: its log names that
# server, not the pool's (which it reaches: it starts).
t_listener_log_names_its_server() {
	local i
	use_env "$L"
	start_daemon || fail "the third daemon did not start"
	for i in $(seq 1 100); do
		grep -q "cannot open the event connection" "$T/daemon.log" && break
		sleep 0.05
	done
	grep -q "store postgresql://127.0.0.1:9/mamori_listen_elsewhere: cannot open the event connection" \
		"$T/daemon.log" || fail "the listener's failure does not name its server: $(grep 'event connection' "$T/daemon.log")"
	stop_daemon
}

run_test "P-LOGIN-UI a lockout reached by failures on daemon A holds on daemon B at once" \
	t_lockout_reached_on_a_holds_on_b
run_test "P-LOGIN-UI failures split across daemons A and B add up to one lockout" t_lockout_failures_split_add_up
run_test "P-LOGIN-UI concurrent failures on both daemons are each counted once" \
	t_lockout_concurrent_failures_counted_once
run_test "P-CRED-STORE a TOTP code accepted on A is refused on B (replay); a secret sealed on A opens on B" \
	t_totp_accepted_on_a_refused_on_b
run_test "P-ID-LIFECYCLE an account disabled on A is refused on B" t_disabled_on_a_refused_on_b
run_test "P-CRED-STORE a credential revoked on A is refused on B" t_revoked_on_a_refused_on_b
run_test "P-AUDIT one node name, one audit chain: audit verify passes on A and on B after interleaved logins; A warns" \
	t_audit_one_chain_verified_on_both
MAMORI_TEST_SHARE_DB=$(cat "$A/pgdb") new_env
L=$T
mkdir -p "$L/state"
chmod 700 "$L/state"
cp -p "$A/state/store.key" "$A/state/audit.key" "$L/state/"
cp -p "$A/clock" "$L/clock"
sed -i "/^\[store\]$/a listen_conninfo = host=127.0.0.1 port=9 dbname=mamori_listen_elsewhere connect_timeout=1" \
	"$L/mamori.conf"
run_test "the fleet listener's messages name its own server (listen_conninfo), not the pool's" \
	t_listener_log_names_its_server
tap_done
