# SPDX-License-Identifier: BSD-2-Clause
# A private OpenLDAP slapd for the HR directory tests and benchmark (#13).
# Sourced by tests/integration/test-directory.sh and tests/bench/directory:
#
#   . "$top_srcdir/tests/directory/slapd_lib.sh"
#   slapd_require                       # Bail out! when slapd is missing
#   D=$(mktemp -d /tmp/mamori-slapd.XXXXXX)
#   people.py --count 40 >"$D/people.ldif"
#   slapd_start "$D" --syncprov [--tls] [--no-ldapi] [--ldif "$D/people.ldif"]
#   ldapmodify -H "$SLAPD_URI" -x -D "$SLAPD_ROOTDN" -y "$SLAPD_PW" ...
#   slapd_ldap ldapmodify <<LDIF ... LDIF  # the same, bound as the rootdn
#   slapd_kill; slapd_restart; slapd_stop [DIR]
#   slapd_cleanup_all                   # before tap_done (it does not know it)
#
# Each slapd lives in its own directory DIR (slapd.conf, db/, bind.pw, the
# ldapi socket, the pid file, slapd.log, and with --tls ca.pem, server.pem,
# server.key) and listens on a free loopback port picked at start: several
# tests (make -j) each have their own.  The suffix is dc=example,dc=test,
# people go under ou=people; the rootdn's password is random, in DIR/bind.pw
# (mode 0600).  Over ldapi, root's peer credentials map to the rootdn
# (SASL EXTERNAL).  No procps: the pid comes from $! and is checked in /proc.
#
# After slapd_start these describe the slapd started last (slapd_restart,
# slapd_stop and slapd_kill act on it unless given another DIR):
#   SLAPD_DIR SLAPD_URI (ldap://127.0.0.1:PORT) SLAPD_PORT SLAPD_LDAPI
#   (ldapi://..., empty with --no-ldapi) SLAPD_LDAPS_URI (with --tls)
#   SLAPD_PID SLAPD_CA (with --tls, else empty) SLAPD_PW (the password file)
#   SLAPD_ROOTDN SLAPD_SUFFIX SLAPD_PEOPLE (ou=people,dc=example,dc=test)
#   SLAPD_READER (cn=mamori,dc=example,dc=test: may read everything, the
#   account to give the daemon) SLAPD_READER_PW (its password file)

SLAPD_BIN=${SLAPD_BIN:-/usr/sbin/slapd}
SLAPADD_BIN=${SLAPADD_BIN:-/usr/sbin/slapadd}
SLAPD_SCHEMA_DIR=${SLAPD_SCHEMA_DIR:-/etc/ldap/schema}
SLAPD_MODULE_DIR=${SLAPD_MODULE_DIR:-/usr/lib/ldap}
SLAPD_SUFFIX="dc=example,dc=test"
SLAPD_ROOTDN="cn=admin,dc=example,dc=test"
SLAPD_PEOPLE="ou=people,dc=example,dc=test"
# A read-only account, as a deployment would give mamori (password in
# DIR/reader.pw, mode 0600).
SLAPD_READER="cn=mamori,dc=example,dc=test"
SLAPD_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The mamoriHrPerson schema (hrStartDate, secondment, ...), from the
# mapping's examples; included when present.
SLAPD_HR_SCHEMA=${SLAPD_HR_SCHEMA:-$SLAPD_LIB_DIR/../../examples/directory/mamori-hr.schema}
SLAPD_DIRS=""
SLAPD_DIR=""
SLAPD_URI=""
SLAPD_PORT=""
SLAPD_LDAPI=""
SLAPD_LDAPS_URI=""
SLAPD_PID=""
SLAPD_CA=""
SLAPD_PW=""
SLAPD_READER_PW=""

slapd_bail() {
	echo "Bail out! $*"
	exit 1
}

# slapd_require: every program the directory tests use (a failure, not a
# skip: CI installs them).
slapd_require() {
	[ "$(id -u)" = 0 ] || slapd_bail "directory tests need root"
	[ -x "$SLAPD_BIN" ] || slapd_bail "slapd is missing (package slapd)"
	[ -x "$SLAPADD_BIN" ] || slapd_bail "slapadd is missing (package slapd)"
	command -v ldapsearch >/dev/null || slapd_bail "ldapsearch is missing (package ldap-utils)"
	command -v openssl >/dev/null || slapd_bail "openssl is missing"
	[ -f "$SLAPD_MODULE_DIR/back_mdb.la" ] || [ -f "$SLAPD_MODULE_DIR/back_mdb.so" ] ||
		slapd_bail "back_mdb is missing in $SLAPD_MODULE_DIR"
}

# slapd_free_port: a TCP port free on 127.0.0.1 right now (the kernel's
# pick); slapd_start tries again with another one if slapd cannot bind it.
slapd_free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# slapd_urlencode PATH: a socket path as an ldapi:// host.
slapd_urlencode() {
	/usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"
}

# slapd_make_tls DIR: a CA and a server certificate for 127.0.0.1 and
# localhost, made now (nothing secret in the tree).
slapd_make_tls() {
	local d=$1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=mamori test CA" -keyout "$d/ca.key" -out "$d/ca.pem" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		>/dev/null 2>&1 || return 1
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
		-keyout "$d/server.key" -out "$d/server.csr" >/dev/null 2>&1 || return 1
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
		>"$d/server.ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile "$d/server.ext" -out "$d/server.pem" >/dev/null 2>&1 || return 1
	chmod 600 "$d/ca.key" "$d/server.key"
	chmod 644 "$d/ca.pem" "$d/server.pem"
}

# slapd_write_conf DIR SYNCPROV TLS: DIR/slapd.conf.
slapd_write_conf() {
	local d=$1 syncprov=$2 tls=$3 pw schema
	pw=$(cat "$d/bind.pw")
	{
		for schema in core cosine nis inetorgperson; do
			echo "include $SLAPD_SCHEMA_DIR/$schema.schema"
		done
		[ -f "$SLAPD_HR_SCHEMA" ] && echo "include $(cd "$(dirname "$SLAPD_HR_SCHEMA")" && pwd)/$(basename "$SLAPD_HR_SCHEMA")"
		echo "pidfile $d/slapd.pid"
		echo "argsfile $d/slapd.args"
		echo "modulepath $SLAPD_MODULE_DIR"
		echo "moduleload back_mdb"
		[ "$syncprov" = 1 ] && echo "moduleload syncprov"
		# Root over ldapi (SASL EXTERNAL) is the rootdn.
		echo 'authz-regexp "gidNumber=0[+]uidNumber=0,cn=peercred,cn=external,cn=auth" "'"$SLAPD_ROOTDN"'"'
		if [ "$tls" = 1 ]; then
			echo "TLSCACertificateFile $d/ca.pem"
			echo "TLSCertificateFile $d/server.pem"
			echo "TLSCertificateKeyFile $d/server.key"
		fi
		echo "database mdb"
		echo "maxsize 4294967296"
		echo "suffix \"$SLAPD_SUFFIX\""
		echo "rootdn \"$SLAPD_ROOTDN\""
		echo "rootpw \"$pw\""
		echo "directory $d/db"
		echo "dbnosync"
		echo "index objectClass,uid,entryUUID,entryCSN eq"
		echo "limits dn.exact=\"$SLAPD_ROOTDN\" size=unlimited time=unlimited"
		echo "limits dn.exact=\"$SLAPD_READER\" size=unlimited time=unlimited"
		echo "access to attrs=userPassword by anonymous auth by * none"
		echo "access to * by dn.exact=\"$SLAPD_READER\" read by * none"
		if [ "$syncprov" = 1 ]; then
			echo "overlay syncprov"
			echo "syncprov-checkpoint 100 1"
		fi
	} >"$d/slapd.conf"
	chmod 600 "$d/slapd.conf"
}

# slapd_base_ldif READER_PW_FILE: the suffix, ou=people and the reader.
slapd_base_ldif() {
	cat <<LDIF
dn: $SLAPD_SUFFIX
objectClass: dcObject
objectClass: organization
dc: example
o: Example City (synthetic test data)

dn: $SLAPD_PEOPLE
objectClass: organizationalUnit
ou: people

dn: $SLAPD_READER
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: mamori
userPassword: $(cat "$1")

LDIF
}

# slapd_start DIR [--syncprov] [--tls] [--no-ldapi] [--ldif FILE]...:
# a new slapd in DIR (made if missing), loaded offline with slapadd with the
# base entries and each FILE, and running when this returns.
slapd_start() {
	local d=$1 syncprov=0 tls=0 ldapi=1 ldifs=()
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--syncprov) syncprov=1 ;;
		--tls) tls=1 ;;
		--no-ldapi) ldapi=0 ;;
		--ldif)
			ldifs+=("$2")
			shift
			;;
		*)
			echo "slapd_start: unknown option $1" >&2
			return 1
			;;
		esac
		shift
	done
	mkdir -p "$d/db" || return 1
	d=$(cd "$d" && pwd)
	(
		umask 077
		/usr/bin/python3 -c 'import secrets; print(secrets.token_urlsafe(24), end="")' >"$d/bind.pw"
	) || return 1
	(
		umask 077
		/usr/bin/python3 -c 'import secrets; print(secrets.token_urlsafe(24), end="")' >"$d/reader.pw"
	) || return 1
	chmod 600 "$d/bind.pw" "$d/reader.pw"
	if [ "$tls" = 1 ]; then
		slapd_make_tls "$d" || {
			echo "slapd_start: cannot make the test certificates" >&2
			return 1
		}
	fi
	slapd_write_conf "$d" "$syncprov" "$tls"
	(umask 077; slapd_base_ldif "$d/reader.pw" >"$d/base.ldif")
	"$SLAPADD_BIN" -q -f "$d/slapd.conf" -l "$d/base.ldif" >"$d/slapadd.log" 2>&1 || {
		cat "$d/slapadd.log" >&2
		return 1
	}
	local f
	for f in ${ldifs[@]+"${ldifs[@]}"}; do
		"$SLAPADD_BIN" -q -f "$d/slapd.conf" -l "$f" >>"$d/slapadd.log" 2>&1 || {
			tail -n 20 "$d/slapadd.log" >&2
			return 1
		}
	done
	echo "$tls" >"$d/tls"
	if [ "$ldapi" = 1 ]; then
		echo "ldapi://$(slapd_urlencode "$d/ldapi")" >"$d/ldapi.uri"
	else
		: >"$d/ldapi.uri"
	fi
	rm -f "$d/port"
	case " $SLAPD_DIRS " in *" $d "*) ;; *) SLAPD_DIRS="$SLAPD_DIRS $d" ;; esac
	# A slapd started in a subshell (a test function) is known to the
	# parent's slapd_cleanup_all through this file.
	[ -z "${SLAPD_REGISTRY:-}" ] || echo "$d" >>"$SLAPD_REGISTRY"
	slapd_run "$d"
}

# slapd_run DIR: start the slapd of DIR (configured by slapd_start) on its
# port (a new free one the first time) and wait until it answers.
slapd_run() {
	local d=$1 try port pid i urls
	for try in 1 2 3 4 5; do
		if [ -s "$d/port" ]; then
			port=$(cat "$d/port")
		else
			port=$(slapd_free_port) || return 1
		fi
		urls="ldap://127.0.0.1:$port/"
		[ "$(cat "$d/tls")" = 1 ] && urls="$urls ldaps://127.0.0.1:$((port + 1))/"
		[ -s "$d/ldapi.uri" ] && urls="$urls $(cat "$d/ldapi.uri")"
		rm -f "$d/slapd.pid" "$d/ldapi"
		# Not a job of this shell (no "Killed" notices, nothing to reap):
		# started from a subshell that exits at once.
		(
			"$SLAPD_BIN" -f "$d/slapd.conf" -h "$urls" -d 0 >>"$d/slapd.log" 2>&1 </dev/null &
			echo $! >"$d/pid"
		)
		pid=$(cat "$d/pid")
		for i in $(seq 1 200); do
			[ -d "/proc/$pid" ] || break
			if ldapsearch -x -H "ldap://127.0.0.1:$port/" -D "$SLAPD_ROOTDN" -y "$d/bind.pw" \
				-b "$SLAPD_SUFFIX" -s base dn >/dev/null 2>&1; then
				echo "$port" >"$d/port"
				slapd_set_current "$d"
				return 0
			fi
			sleep 0.05
		done
		# Most likely the port was taken meanwhile: another one, unless
		# this slapd keeps its own (a restart).
		slapd_wait_gone "$pid" KILL
	done
	echo "slapd did not start in $d:" >&2
	tail -n 20 "$d/slapd.log" >&2
	return 1
}

# slapd_set_current DIR: the SLAPD_* variables describe DIR's slapd.
slapd_set_current() {
	local d=$1
	SLAPD_DIR=$d
	SLAPD_PORT=$(cat "$d/port")
	SLAPD_URI="ldap://127.0.0.1:$SLAPD_PORT"
	SLAPD_LDAPI=$(cat "$d/ldapi.uri")
	SLAPD_PID=$(cat "$d/pid" 2>/dev/null || true)
	SLAPD_PW="$d/bind.pw"
	SLAPD_READER_PW="$d/reader.pw"
	if [ "$(cat "$d/tls")" = 1 ]; then
		SLAPD_CA="$d/ca.pem"
		SLAPD_LDAPS_URI="ldaps://127.0.0.1:$((SLAPD_PORT + 1))"
	else
		SLAPD_CA=""
		SLAPD_LDAPS_URI=""
	fi
	export SLAPD_DIR SLAPD_URI SLAPD_PORT SLAPD_LDAPI SLAPD_LDAPS_URI SLAPD_PID SLAPD_CA SLAPD_PW
	export SLAPD_ROOTDN SLAPD_SUFFIX SLAPD_PEOPLE SLAPD_READER SLAPD_READER_PW
}

# slapd_wait_gone PID [SIGNAL]: signal PID (TERM by default) and wait until
# it is gone (slapd's shutdown may take more than 0.5 s); KILL after 10 s.
slapd_wait_gone() {
	local pid=$1 sig=${2:-TERM} i
	[ -n "$pid" ] || return 0
	kill "-$sig" "$pid" 2>/dev/null || true # gone already: stopped either way
	for i in $(seq 1 200); do
		[ -d "/proc/$pid" ] || break
		# A zombie child of this shell is gone for slapd's purposes.
		grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return 0
}

# slapd_stop [DIR]: stop DIR's slapd (the current one by default).
slapd_stop() {
	local d=${1:-$SLAPD_DIR}
	[ -n "$d" ] || return 0
	slapd_wait_gone "$(cat "$d/pid" 2>/dev/null)" TERM
	rm -f "$d/pid"
}

# slapd_kill [DIR]: SIGKILL, the directory going away without a word.
slapd_kill() {
	local d=${1:-$SLAPD_DIR}
	[ -n "$d" ] || return 0
	slapd_wait_gone "$(cat "$d/pid" 2>/dev/null)" KILL
	rm -f "$d/pid"
}

# slapd_restart [DIR]: stop (if running) and start again, same port, same
# data, same certificates.
slapd_restart() {
	local d=${1:-$SLAPD_DIR}
	slapd_stop "$d"
	slapd_run "$d"
}

# slapd_ldap TOOL ARGS...: an ldap-utils TOOL (ldapmodify, ldapadd,
# ldapdelete, ldapsearch) bound as the rootdn on the current slapd.
slapd_ldap() {
	local tool=$1
	shift
	"$tool" -x -H "$SLAPD_URI" -D "$SLAPD_ROOTDN" -y "$SLAPD_PW" "$@"
}

# slapd_cleanup_all: stop every slapd this script started and remove their
# directories (with SLAPD_REGISTRY set to a file, also those started in
# subshells).
slapd_cleanup_all() {
	local d
	if [ -n "${SLAPD_REGISTRY:-}" ] && [ -f "$SLAPD_REGISTRY" ]; then
		SLAPD_DIRS="$SLAPD_DIRS $(tr '\n' ' ' <"$SLAPD_REGISTRY")"
		rm -f "$SLAPD_REGISTRY"
	fi
	for d in $SLAPD_DIRS; do
		slapd_stop "$d"
		rm -rf "$d"
	done
	SLAPD_DIRS=""
}
