#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Store round trips per login on PostgreSQL (issue #14): the daemon logs,
# at debug level, each transaction's synchronous exchanges with the server
# ("store: txn N: R round trips, T in all"); after a first login has
# prepared the statements on the connection, a password authentication
# costs at most 4 and a complete password login through PAM
# (authenticate, acct_mgmt, open_session) at most 8, the figures of
# docs/performance.md "Fleet": each step's reads in one pipeline
# (mamori_store_prefetch), its writes with its COMMIT.  A password+TOTP
# authentication costs at most 7 (one more load; the step's conditional
# UPDATE, whose count the decision reads; the audit tail read at the
# append, after the credential row's lock).  The background
# threads' transactions are labelled in the log and not counted.
# PostgreSQL only: `make check-postgresql` runs it.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "oathtool" command -v oathtool
if ! on_postgresql; then
	echo "1..0 # SKIP round trips to PostgreSQL are counted on PostgreSQL only (make check-postgresql)"
	exit 0
fi

# One connection in the pool, so that every login after the first finds
# its statements prepared.  A service that asks for a password and a TOTP
# code, for the second-factor count.
EXTRA_CONF="[service rt-totp]
require = password+totp"
new_env
make_service rt-totp
sed -i '/^\[store\]$/a pool_size = 1' "$T/mamori.conf"
start_daemon || { echo "Bail out! the daemon did not start"; exit 1; }

# The round trips of the request transactions logged after line $1 of
# the daemon's log: "store: txn N: R round trips"; a background thread's
# transactions (housekeeping's time-box check every second, the fleet
# sweep) are labelled "store: txn N (housekeeping): ..." and not counted.
request_round_trips_after() {
	tail -n +"$(($1 + 1))" "$T/daemon.log" |
		sed -n 's/.*store: txn [0-9]*: \([0-9]*\) round trips, [0-9]* in all.*/\1/p' |
		awk '{ n += $1 } END { print n + 0 }'
}

# login_round_trips OPS...: one pam_client run as rt.user; prints the round
# trips its requests cost.
login_round_trips() {
	local before
	sleep 0.2
	before=$(wc -l <"$T/daemon.log")
	pam -p 'Kumo-no-Ue-2030' mamori-test rt.user "$@" >/dev/null || return 1
	sleep 0.2
	request_round_trips_after "$before"
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

t_password_auth_round_trips() {
	local n
	n=$(login_round_trips auth=SUCCESS) || { fail "the authentication failed"; return; }
	echo "# password authentication (pam_authenticate): $n round trips"
	[ "$n" -ge 1 ] && [ "$n" -le "$MAX_PASSWORD_AUTH" ] ||
		fail "a password authentication took $n round trips (at most $MAX_PASSWORD_AUTH)"
}

# A password+TOTP authentication: what the TOTP code adds (its credential
# read with the answer, its step taken in the decision: a conditional
# UPDATE whose count is read).
t_totp_auth_round_trips() {
	local secret n
	add_user rt.totp 'Kumo-no-Ue-2030'
	secret=$(enroll_totp rt.totp) || { fail "TOTP enrolment failed"; return; }
	advance_clock 30 || return
	pam -p 'Kumo-no-Ue-2030' -p "$(totp_code "$secret")" rt-totp rt.totp auth=SUCCESS >/dev/null ||
		{ fail "the warm-up authentication failed"; return; }
	advance_clock 30 || return
	sleep 0.2
	local before
	before=$(wc -l <"$T/daemon.log")
	pam -p 'Kumo-no-Ue-2030' -p "$(totp_code "$secret")" rt-totp rt.totp auth=SUCCESS >/dev/null ||
		{ fail "the authentication failed"; return; }
	sleep 0.2
	n=$(request_round_trips_after "$before")
	echo "# password+TOTP authentication (pam_authenticate): $n round trips"
	[ "$n" -ge 1 ] && [ "$n" -le "$MAX_TOTP_AUTH" ] ||
		fail "a password+TOTP authentication took $n round trips (at most $MAX_TOTP_AUTH)"
}

t_background_labelled() {
	grep -Eq 'store: txn [0-9]+ \(housekeeping\): [0-9]+ round trips' "$T/daemon.log" ||
		fail "no housekeeping transaction labelled in the daemon's debug log"
}

# [store] prepared = no (PgBouncer in transaction mode before 1.21):
# statements sent unnamed and the timeouts with each transaction's BEGIN,
# in the same pipelines: a login costs the same round trips.  The daemon
# is restarted with it (its connection made anew), and the timeouts are
# no longer set on the connection.
t_unprepared_same_round_trips() {
	local n
	stop_daemon
	sed -i '/^\[store\]$/a prepared = no' "$T/mamori.conf"
	start_daemon || { fail "the daemon did not start with prepared = no"; return; }
	n=$(login_round_trips auth=SUCCESS acct=SUCCESS open=SUCCESS) || { fail "the login failed"; return; }
	echo "# password login, prepared = no: $n round trips"
	[ "$n" -ge 1 ] && [ "$n" -le "$MAX_PASSWORD_LOGIN" ] ||
		fail "a password login took $n round trips with prepared = no (at most $MAX_PASSWORD_LOGIN)"
	n=$(login_round_trips auth=SUCCESS) || { fail "the authentication failed"; return; }
	[ "$n" -ge 1 ] && [ "$n" -le "$MAX_PASSWORD_AUTH" ] ||
		fail "a password authentication took $n round trips with prepared = no (at most $MAX_PASSWORD_AUTH)"
}

MAX_PASSWORD_LOGIN=${MAX_PASSWORD_LOGIN:-4}
MAX_PASSWORD_AUTH=${MAX_PASSWORD_AUTH:-2}
MAX_TOTP_AUTH=${MAX_TOTP_AUTH:-5}
run_test "round trips of each transaction are in the daemon's debug log" t_round_trips_logged
run_test "a password login (authenticate, acct_mgmt, open_session) costs at most $MAX_PASSWORD_LOGIN round trips" \
	t_password_login_round_trips
run_test "a password authentication (pam_authenticate) costs at most $MAX_PASSWORD_AUTH round trips" \
	t_password_auth_round_trips
run_clock_test "a password+TOTP authentication costs at most $MAX_TOTP_AUTH round trips" t_totp_auth_round_trips
run_test "the housekeeping thread's transactions are labelled apart from the requests'" t_background_labelled
run_test "with prepared = no (nothing prepared) a password login costs the same round trips" \
	t_unprepared_same_round_trips
tap_done
