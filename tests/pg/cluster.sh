#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A throw-away PostgreSQL cluster for the tests (TESTING.md "PostgreSQL: a
# throw-away cluster"): initdb as the postgres user in a directory of its
# own, the server listening on a Unix socket in that directory only (no
# TCP), fsync off.  The system's cluster, if any, is never touched.
#
#   cluster.sh start DIR   make DIR (it must not exist, or be empty), start
#                          the cluster, print its conninfo (no dbname, no
#                          password: trust on the private socket only)
#   cluster.sh stop DIR    stop it (fast shutdown) and remove DIR
#   cluster.sh conninfo DIR
#
# PG_BINDIR names the server binaries (default: the newest
# /usr/lib/postgresql/*/bin).  Run as root: initdb refuses root, so the
# cluster belongs to the postgres user.
set -euo pipefail

PG_BINDIR=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

die() {
	echo "cluster.sh: $*" >&2
	exit 1
}

as_postgres() {
	runuser -u postgres -- "$@"
}

conninfo() {
	echo "host=$1 user=postgres"
}

start() {
	local dir=$1
	[ -n "$PG_BINDIR" ] && [ -x "$PG_BINDIR/initdb" ] || die "no PostgreSQL server binaries (set PG_BINDIR)"
	id postgres >/dev/null 2>&1 || die "no postgres user"
	mkdir -p "$dir"
	[ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
	# The socket's path must fit in sun_path (107 bytes).
	[ ${#dir} -le 80 ] || die "$dir: too long a path for the socket"
	chown postgres: "$dir"
	chmod 700 "$dir"
	as_postgres "$PG_BINDIR/initdb" -D "$dir/data" -U postgres -A trust --no-sync --locale=C -E UTF8 \
		>"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
	# listen_addresses empty: the Unix socket in $dir, nothing else.
	if ! as_postgres "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w -t 60 \
		-o "-k $dir -h '' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
		start >/dev/null; then
		tail -n 20 "$dir/pg.log" >&2 || true
		die "the server did not start"
	fi
	conninfo "$dir"
}

stop() {
	local dir=$1
	[ -d "$dir/data" ] || die "$dir: no cluster"
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_postgres "$PG_BINDIR/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null ||
			die "the server in $dir did not stop"
	fi
	rm -rf "$dir"
}

[ $# -eq 2 ] || die "usage: cluster.sh start|stop|conninfo DIR"
case $1 in
start) start "$2" ;;
stop) stop "$2" ;;
conninfo) conninfo "$2" ;;
*) die "usage: cluster.sh start|stop|conninfo DIR" ;;
esac
