#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Failover (issue #14): a daemon whose conninfo names a primary and its
# synchronous standby (host=DIR1,DIR2 target_session_attrs=read-write),
# two local clusters this script starts itself (Unix sockets in a mktemp
# directory, as the postgres user).  The primary stops; while no standby
# is promoted a login is refused (fail closed); once the standby is
# promoted, logins resume without restarting the daemon, and every
# acknowledged failure and audit row is on the new primary.  PostgreSQL
# only (make check-postgresql, PG_ONLY_TESTS).
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "pam_client" test -x "$BUILT_PAM_CLIENT"
if ! on_postgresql; then
	echo "1..0 # SKIP failover of a PostgreSQL store (make check-postgresql)"
	exit 0
fi
PGBIN=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
require "PostgreSQL server binaries" test -x "$PGBIN/pg_basebackup"

as_pg() { runuser -u postgres -- "$@"; }
now_ms() { date +%s%3N; }

# ------------------------------------------------------- two clusters

PGD=$(mktemp -d /tmp/mamori-failover.XXXXXX)
chmod 755 "$PGD"
stop_clusters() {
	local d
	for d in p1 p2; do
		[ -f "$PGD/$d/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$PGD/$d" -m immediate -w stop >/dev/null 2>&1
	done
	rm -rf "$PGD"
}
trap 'cleanup_all; stop_clusters' EXIT
mkdir "$PGD/s1" "$PGD/s2"
chown postgres: "$PGD" "$PGD/s1" "$PGD/s2"

# pg_on N SQL: a query on cluster N (1 or 2), unaligned, no header.
pg_on() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 -d "host=$PGD/s$1 dbname=postgres user=postgres" -c "$2"
}

start_cluster() { # N
	as_pg "$PGBIN/pg_ctl" -D "$PGD/p$1" -l "$PGD/p$1.log" -w -t 60 \
		-o "-k $PGD/s$1 -h '' -c fsync=off -c wal_level=replica -c max_wal_senders=4 -c hot_standby=on" \
		start >/dev/null
}

as_pg "$PGBIN/initdb" -D "$PGD/p1" -U postgres -A trust --no-sync --locale=C -E UTF8 >/dev/null &&
	start_cluster 1 &&
	as_pg "$PGBIN/pg_basebackup" -h "$PGD/s1" -U postgres -D "$PGD/p2" -R -X stream >/dev/null &&
	start_cluster 2 &&
	pg_on 1 "ALTER SYSTEM SET synchronous_standby_names = '*'" >/dev/null &&
	pg_on 1 "ALTER SYSTEM SET synchronous_commit = on" >/dev/null &&
	pg_on 1 "SELECT pg_reload_conf()" >/dev/null ||
	{ echo "Bail out! cannot start a primary and its standby"; exit 1; }
for i in $(seq 1 100); do
	[ "$(pg_on 1 "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" = 1 ] && break
	sleep 0.1
done
[ "$(pg_on 1 "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" = 1 ] ||
	{ echo "Bail out! the standby is not synchronous"; exit 1; }

# The daemon: both hosts, the primary wanted.
new_env
sed -i "s|^conninfo = .*|conninfo = host=$PGD/s1,$PGD/s2 dbname=postgres user=postgres\\
    target_session_attrs=read-write|" "$T/mamori.conf"
start_daemon || { echo "Bail out! the daemon did not start"; exit 1; }

# -------------------------------------------------------------- tests

t_logins_and_failures_acknowledged() {
	local i
	add_user fo.one 'Hoshi-no-Umi-2030'
	add_user fo.two 'Tsuki-no-Kage-2030'
	pam -p 'Hoshi-no-Umi-2030' mamori-test fo.one auth=SUCCESS
	# Each failure is answered: the daemon committed it (and the
	# synchronous standby has it) before the answer.
	for i in 1 2 3; do pam -p 'wrong' mamori-test fo.two auth=AUTH_ERR; done
	expect_eq "$(pg_on 1 "SELECT failures FROM lockouts WHERE name = 'fo.two'")" 3 "three failures on the primary"
	# mamorictl status names the server connected to, never a user.
	ctl status >"$T/status1"
	grep -q "postgresql://$PGD/s1:5432/postgres" "$T/status1" || fail "status: $(cat "$T/status1")"
	! grep -q "$PGD/s2\|user=" "$T/status1" || fail "status names more: $(cat "$T/status1")"
}

# With the standby gone, a commit waits for it; an operator who cancels
# that wait (pg_cancel_backend) leaves the transaction committed on the
# primary only, with a WARNING: the daemon must not take it as a commit.
t_sync_wait_cancelled_not_accepted() {
	local pid i rc=0 cancelled=0
	as_pg "$PGBIN/pg_ctl" -D "$PGD/p2" -m fast -w stop >/dev/null
	pam -p 'Hoshi-no-Umi-2030' mamori-test fo.one auth=SUCCESS >"$T/cancelled.out" 2>&1 &
	pid=$!
	# Cancel every wait for the standby until the login has its answer.
	for i in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || break
		cancelled=$((cancelled + $(pg_on 1 "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity
			WHERE wait_event = 'SyncRep'")))
		sleep 0.1
	done
	wait "$pid" || rc=$?
	start_cluster 2
	for i in $(seq 1 100); do
		[ "$(pg_on 1 "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" = 1 ] && break
		sleep 0.1
	done
	[ "$cancelled" -gt 0 ] || fail "no commit waited for the standby"
	[ "$rc" -ne 0 ] || fail "a login whose commit is on the primary only was accepted: $(cat "$T/cancelled.out")"
	grep -q "committed on the primary only" "$T/daemon.log" || fail "the daemon did not say why"
	expect_eq "$(pg_on 1 "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" 1 "the standby back"
}

t_refused_while_no_primary() {
	as_pg "$PGBIN/pg_ctl" -D "$PGD/p1" -m immediate -w stop >/dev/null
	now_ms >"$T/stopped_at"
	! pam -p 'Hoshi-no-Umi-2030' mamori-test fo.one auth=SUCCESS >"$T/refused.out" 2>&1 ||
		fail "a login was accepted with no primary: $(cat "$T/refused.out")"
	grep -q "connection lost\|cannot connect" "$T/daemon.log" || fail "the daemon did not see the primary go"
}

t_resume_after_promotion() {
	local start end promoted ok=0
	as_pg "$PGBIN/pg_ctl" -D "$PGD/p2" -w promote >/dev/null
	promoted=$(now_ms)
	start=$(cat "$T/stopped_at")
	while [ $(($(now_ms) - start)) -lt 15000 ]; do
		if pam -p 'Hoshi-no-Umi-2030' mamori-test fo.one auth=SUCCESS >/dev/null 2>&1; then
			ok=1
			break
		fi
		sleep 0.1
	done
	end=$(now_ms)
	echo "# time to resume: $((end - start)) ms from the primary's stop (the refused login and the" \
		"promotion included), $((end - promoted)) ms from the promotion" >>"$T/times"
	[ "$ok" = 1 ] || fail "no login within 15 s of the primary's stop"
	ctl status >"$T/status2"
	grep -q "postgresql://$PGD/s2:5432/postgres" "$T/status2" || fail "status: $(cat "$T/status2")"
}

t_nothing_acknowledged_lost() {
	expect_eq "$(pg_on 2 "SELECT failures FROM lockouts WHERE name = 'fo.two'")" 3 \
		"every acknowledged failure on the new primary"
	expect_eq "$(pg_on 2 "SELECT count(*) FROM audit WHERE \"user\" = 'fo.two' AND reason = 'wrong password'")" \
		3 "every acknowledged audit row on the new primary"
	pam -p 'wrong' mamori-test fo.two auth=AUTH_ERR
	expect_eq "$(pg_on 2 "SELECT failures FROM lockouts WHERE name = 'fo.two'")" 4 "counting goes on"
	ctl audit verify
}

run_test "P-LOGIN-UI logins and acknowledged failures on the primary; status names the connected server only" \
	t_logins_and_failures_acknowledged
run_test "P-AUDIT a commit whose wait for the synchronous standby was cancelled is not taken as one" \
	t_sync_wait_cancelled_not_accepted
run_test "P-LOGIN-UI fail closed: with the primary stopped and no standby promoted, a login is refused" \
	t_refused_while_no_primary
run_test "P-LOGIN-UI logins resume on the promoted standby without a daemon restart (< 15 s)" \
	t_resume_after_promotion
[ -f "$T/times" ] && cat "$T/times"
run_test "P-AUDIT no acknowledged lockout count or audit row lost (synchronous standby); audit verify passes" \
	t_nothing_acknowledged_lost
tap_done
