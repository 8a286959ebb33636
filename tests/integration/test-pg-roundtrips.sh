#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Store round trips per login on PostgreSQL (issue #14): the daemon logs,
# at debug level, each transaction's synchronous exchanges with the server
# ("store: txn N: R round trips, T in all"); a complete password login
# through PAM (authenticate, acct_mgmt, open_session), after a first login
# has prepared the statements on the connection, costs at most the figure
# docs/performance.md "Fleet" gives: 39, with each transaction's BEGIN
# sent in the pipeline of its first statement (45 without; the issue's
# target, 4, needs one transaction per login: see performance.md).
# PostgreSQL only: `make check-postgresql` runs it.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "pam_client" test -x "$BUILT_PAM_CLIENT"
if ! on_postgresql; then
	echo "1..0 # SKIP round trips to PostgreSQL are counted on PostgreSQL only (make check-postgresql)"
	exit 0
fi

# One connection in the pool, so that every login after the first finds
# its statements prepared.
new_env
sed -i '/^\[store\]$/a pool_size = 1' "$T/mamori.conf"
start_daemon || { echo "Bail out! the daemon did not start"; exit 1; }

# The round trips counted so far ("T in all" of the last line).
round_trips_so_far() {
	sed -n 's/.*store: txn [0-9]*: [0-9]* round trips, \([0-9]*\) in all.*/\1/p' "$T/daemon.log" | tail -n 1
}

# login_round_trips OPS...: one pam_client run as rt.user; prints the round
# trips it cost (the daemon's background work, housekeeping and the fleet
# sweep, runs every sweep_interval, 30 s: not within one login).
login_round_trips() {
	local before after
	sleep 0.2
	before=$(round_trips_so_far)
	pam -p 'Kumo-no-Ue-2030' mamori-test rt.user "$@" >/dev/null || return 1
	sleep 0.2
	after=$(round_trips_so_far)
	echo $((after - ${before:-0}))
}

t_round_trips_logged() {
	add_user rt.user 'Kumo-no-Ue-2030'
	grep -Eq 'store: txn [0-9]+: [0-9]+ round trips, [0-9]+ in all' "$T/daemon.log" ||
		fail "no transaction's round trips in the daemon's debug log"
}

t_password_login_round_trips() {
	local n
	pam -p 'Kumo-no-Ue-2030' mamori-test rt.user auth=SUCCESS acct=SUCCESS open=SUCCESS >/dev/null # warm-up
	n=$(login_round_trips auth=SUCCESS acct=SUCCESS open=SUCCESS) || { fail "the login failed"; return; }
	echo "# password login (authenticate, acct_mgmt, open_session): $n round trips"
	[ "$n" -ge 1 ] && [ "$n" -le "$MAX_PASSWORD_LOGIN" ] ||
		fail "a password login took $n round trips (at most $MAX_PASSWORD_LOGIN)"
}

MAX_PASSWORD_LOGIN=${MAX_PASSWORD_LOGIN:-39}
run_test "round trips of each transaction are in the daemon's debug log" t_round_trips_logged
run_test "a password login (authenticate, acct_mgmt, open_session) costs at most $MAX_PASSWORD_LOGIN round trips" \
	t_password_login_round_trips
tap_done
