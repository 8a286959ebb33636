#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The daemon's connection to the HR directory (authd/directory/ldap.c) and
# the mapping of what it reads (person.c), through
# tests/integration/dir_ldap_client against real slapds
# (tests/directory/slapd_lib.sh) holding synthetic people only
# (P-TESTDATA):
#   A  syncprov, TLS (a CA and a server certificate made now), ldapi;
#      2,500 people and a few made to be refused;
#   B  no syncprov, no TLS.
# The simple bind and a wrong password, the password file's checks,
# StartTLS with the certificate checked and StartTLS refused, ldaps://,
# SASL EXTERNAL over ldapi as root, the URIs tried in order, the paged
# search returning every entry, a search since a modifyTimestamp, the
# syncprov overlay seen or not in the root DSE.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/directory/slapd_lib.sh"

require "root" test "$(id -u)" = 0
slapd_require
CLIENT="$top_builddir/tests/integration/dir_ldap_client"
require "dir_ldap_client" test -x "$CLIENT"

PEOPLE="/usr/bin/python3 $top_srcdir/tests/directory/people.py"
W=$(mktemp -d /tmp/mamori-dir-ldap.XXXXXX)
trap 'slapd_cleanup_all; rm -rf "$W"' EXIT

# Entries the mapping refuses or converts, beside the 2,500.
cat >"$W/odd.ldif" <<'LDIF'
dn: uid=hr.dates,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
objectClass: mamoriHrPerson
uid: hr.dates
cn: HR Dates
sn: Dates
displayName: 試験 花子
employeeNumber: X000001
departmentNumber: 総務課
employeeType: Retired
hrStartDate: 20200331150000Z
hrEndDate: 20270331235959+0900
hrSecondmentStart: 20260930150000Z

dn: uid=has space,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: has space
cn: Bad Name
sn: Name
employeeNumber: X000002

dn: uid=two.uids,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: two.uids
uid: second.uid
cn: Two Uids
sn: Uids
employeeNumber: X000003

dn: uid=no.number,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: no.number
cn: No Number
sn: Number
LDIF
$PEOPLE --count 2500 --hr >"$W/people.ldif"
slapd_start "$W/a" --syncprov --tls --ldif "$W/people.ldif" --ldif "$W/odd.ldif" || slapd_bail "slapd A did not start"
A_URI=$SLAPD_URI A_LDAPS=$SLAPD_LDAPS_URI A_LDAPI=$SLAPD_LDAPI A_CA=$SLAPD_CA A_ROOT_PW=$SLAPD_PW
install -m 600 "$SLAPD_READER_PW" "$W/reader.pw"
slapd_start "$W/b" || slapd_bail "slapd B did not start"
B_URI=$SLAPD_URI
install -m 600 "$SLAPD_READER_PW" "$W/reader-b.pw"
slapd_set_current "$W/a"

# conf NAME KEYS...: $W/NAME.conf, a mamori.conf whose [directory] has
# base and filter and each KEY line.
conf() {
	local name=$1
	shift
	{
		echo "[directory]"
		echo "base = $SLAPD_PEOPLE"
		echo "filter = (objectClass=inetOrgPerson)"
		echo "timeout = ${TIMEOUT:-5}"
		printf '%s\n' "$@"
	} >"$W/$name.conf"
	chmod 600 "$W/$name.conf"
	echo "$W/$name.conf"
}

reader_a() {
	conf "$1" "uri = ${2:-$A_URI}" "bind_dn = $SLAPD_READER" "bind_password_file = ${3:-$W/reader.pw}" \
		"ca_file = $A_CA" "attr_start = hrStartDate" "attr_end = hrEndDate" \
		"attr_secondment_start = hrSecondmentStart" "attr_secondment_end = hrSecondmentEnd"
}

# run_client CONF ARGS...: the client's stdout in $W/out, stderr in
# $W/err, its exit status in RC.
run_client() {
	RC=0
	"$CLIENT" "$@" >"$W/out" 2>"$W/err" || RC=$?
}

t_simple_bind_starttls() {
	run_client "$(reader_a starttls)" connect
	expect_eq "$RC" 0 "exit status ($(cat "$W/err"))"
	expect_eq "$(cat "$W/out")" "connected $A_URI"
}

t_wrong_password() {
	printf 'not the password\n' >"$W/wrong.pw"
	chmod 600 "$W/wrong.pw"
	run_client "$(reader_a wrong "$A_URI" "$W/wrong.pw")" connect
	expect_eq "$RC" 2 "exit status"
	expect_match "$(cat "$W/err")" "^$A_URI: bind as $SLAPD_READER: Invalid credentials"
}

t_password_file_checked() {
	install -m 644 "$W/reader.pw" "$W/open.pw"
	run_client "$(reader_a open "$A_URI" "$W/open.pw")" connect
	expect_eq "$RC" 3 "exit status, mode 0644"
	expect_match "$(cat "$W/err")" "^bind_password_file: readable by others"
	ln -sf "$W/reader.pw" "$W/link.pw"
	run_client "$(reader_a link "$A_URI" "$W/link.pw")" connect
	expect_eq "$RC" 3 "exit status, a symlink"
	: >"$W/empty.pw"
	chmod 600 "$W/empty.pw"
	run_client "$(reader_a empty "$A_URI" "$W/empty.pw")" connect
	expect_eq "$RC" 3 "exit status, empty (an anonymous bind)"
	expect_match "$(cat "$W/err")" "empty"
	# One trailing newline is not part of the password.
	{ cat "$W/reader.pw"; echo; } >"$W/nl.pw"
	chmod 600 "$W/nl.pw"
	run_client "$(reader_a nl "$A_URI" "$W/nl.pw")" connect
	expect_eq "$RC" 0 "exit status, a trailing newline ($(cat "$W/err"))"
}

t_starttls_checks_the_certificate() {
	# Without the test CA the server's certificate is not trusted.
	conf noca "uri = $A_URI" "bind_dn = $SLAPD_READER" "bind_password_file = $W/reader.pw" >/dev/null
	run_client "$W/noca.conf" connect
	expect_eq "$RC" 2 "exit status"
	expect_match "$(cat "$W/err")" "^$A_URI: StartTLS: "
}

t_starttls_refused_without_tls() {
	conf notls "uri = $B_URI" "bind_dn = $SLAPD_READER" "bind_password_file = $W/reader-b.pw" >/dev/null
	run_client "$W/notls.conf" connect
	expect_eq "$RC" 2 "exit status"
	expect_match "$(cat "$W/err")" "^$B_URI: StartTLS: "
	# tls = none is for the loopback: allowed here.
	conf plain "uri = $B_URI" "bind_dn = $SLAPD_READER" "bind_password_file = $W/reader-b.pw" "tls = none" >/dev/null
	run_client "$W/plain.conf" connect
	expect_eq "$RC" 0 "exit status, tls = none ($(cat "$W/err"))"
}

t_ldaps() {
	run_client "$(reader_a ldaps "$A_LDAPS")" connect
	expect_eq "$RC" 0 "exit status ($(cat "$W/err"))"
	expect_eq "$(cat "$W/out")" "connected $A_LDAPS"
	conf ldapsnoca "uri = $A_LDAPS" "bind_dn = $SLAPD_READER" "bind_password_file = $W/reader.pw" >/dev/null
	run_client "$W/ldapsnoca.conf" connect
	expect_eq "$RC" 2 "exit status, the CA unknown"
	expect_match "$(cat "$W/err")" "^$A_LDAPS: Can't contact LDAP server \\(TLS\\)"
}

# A server that takes the connection and never answers: timeout bounds
# the wait, and nothing is taken for an answer.
t_silent_server_times_out() {
	local port pid start end
	port=$(slapd_free_port)
	/usr/bin/python3 -c 'import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
conns = []
while True:
    c, _ = s.accept()
    conns.append(c)' "$port" >/dev/null 2>&1 &
	pid=$!
	sleep 0.3
	TIMEOUT=1 conf silent "uri = ldap://127.0.0.1:$port" "bind_dn = $SLAPD_READER" \
		"bind_password_file = $W/reader.pw" "tls = none" >/dev/null
	start=$(date +%s)
	run_client "$W/silent.conf" connect
	end=$(date +%s)
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	expect_eq "$RC" 2 "exit status ($(cat "$W/err"))"
	expect_match "$(cat "$W/err")" "^ldap://127.0.0.1:$port: bind as $SLAPD_READER: (Timed out|Can't contact LDAP server)"
	[ $((end - start)) -le 4 ] || fail "took $((end - start)) s with timeout = 1"
}

t_sasl_external_over_ldapi() {
	conf ldapi "uri = $A_LDAPI" "bind = external" >/dev/null
	run_client "$W/ldapi.conf" search
	expect_eq "$RC" 0 "exit status ($(cat "$W/err"))"
	expect_match "$(cat "$W/err")" "^count 2501 refused 3 newest [0-9]{14}Z$"
}

t_uris_in_order() {
	# Port 1 on the loopback: nobody listens.
	run_client "$(reader_a order "ldap://127.0.0.1:1 $A_URI")" connect
	expect_eq "$RC" 0 "exit status ($(cat "$W/err"))"
	expect_eq "$(cat "$W/out")" "connected $A_URI"
	run_client "$(reader_a dead "ldap://127.0.0.1:1, ldap://127.0.0.2:1")" connect
	expect_eq "$RC" 2 "exit status"
	expect_match "$(cat "$W/err")" "^ldap://127.0.0.1:1: Can't contact LDAP server; ldap://127.0.0.2:1: Can't contact LDAP server$"
}

t_paged_search_returns_all() {
	run_client "$(reader_a all)" search
	expect_eq "$RC" 0 "exit status ($(cat "$W/err"))"
	# 2,500 people in three pages, hr.dates, and three refused.
	expect_eq "$(grep -c '"uuid"' "$W/out")" 2501 "people"
	expect_eq "$(grep -c '"refused"' "$W/out")" 3 "refused"
	expect_eq "$(grep -o '"name":"t[0-9]*"' "$W/out" | sort -u | wc -l)" 2500 "distinct names"
	expect_match "$(cat "$W/err")" "^count 2501 refused 3 newest [0-9]{14}Z$"
	grep -q '"name":"t002500"' "$W/out" || fail "the last person is missing"
}

t_mapping_through_ldap() {
	local line
	run_client "$(reader_a map)" search
	expect_eq "$RC" 0 "exit status ($(cat "$W/err"))"
	line=$(grep '"name":"hr.dates"' "$W/out")
	expect_match "$line" '"display_name":"試験 花子"'
	expect_match "$line" '"department":"総務課"'
	expect_match "$line" '"employee_number":"X000001"'
	expect_match "$line" '"retired_status":true'
	expect_match "$line" '"start":"2020-04-01"'
	expect_match "$line" '"end":"2027-03-31"'
	expect_match "$line" '"secondment_start":"2026-10-01"'
	expect_match "$line" '"secondment_end":""'
	expect_match "$line" '"uuid":"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"'
	expect_match "$(grep 'has space' "$W/out")" '"reason":"uid \\"has space\\" is not a valid account name"'
	expect_match "$(grep 'two.uids' "$W/out")" '"reason":"two values of uid"'
	expect_match "$(grep 'no.number' "$W/out")" '"reason":"no employeeNumber"'
}

t_search_since() {
	local since
	sleep 1.1
	since=$(date -u +%Y%m%d%H%M%SZ)
	slapd_ldap ldapmodify >/dev/null <<LDIF
dn: uid=t000042,$SLAPD_PEOPLE
changetype: modify
replace: departmentNumber
departmentNumber: Transferred
LDIF
	run_client "$(reader_a since)" search "$since"
	expect_eq "$RC" 0 "exit status ($(cat "$W/err"))"
	expect_eq "$(wc -l <"$W/out")" 1 "entries since $since"
	expect_match "$(cat "$W/out")" '"name":"t000042"'
	expect_match "$(cat "$W/out")" '"department":"Transferred"'
	# A timestamp that is not one never reaches the filter.
	run_client "$(reader_a since)" search "2026)(uid=*"
	expect_eq "$RC" 2 "exit status, a bad timestamp"
}

t_syncprov_seen() {
	run_client "$(reader_a sync)" syncprov
	expect_eq "$RC" 0 "exit status ($(cat "$W/err"))"
	expect_eq "$(cat "$W/out")" 1 "slapd A"
	conf syncb "uri = $B_URI" "bind_dn = $SLAPD_READER" "bind_password_file = $W/reader-b.pw" "tls = none" >/dev/null
	run_client "$W/syncb.conf" syncprov
	expect_eq "$RC" 0 "exit status ($(cat "$W/err"))"
	expect_eq "$(cat "$W/out")" 0 "slapd B"
}

run_test "simple bind with StartTLS, the certificate checked against ca_file" t_simple_bind_starttls
run_test "a wrong password is refused, the error names the URI and the DN" t_wrong_password
run_test "bind_password_file: not readable by others, no symlink, not empty, one newline stripped" t_password_file_checked
run_test "StartTLS fails when the server's certificate is not trusted" t_starttls_checks_the_certificate
run_test "StartTLS is required: a server without TLS is refused; tls = none on the loopback" t_starttls_refused_without_tls
run_test "ldaps:// with the certificate checked" t_ldaps
run_test "a server that never answers: the connection times out" t_silent_server_times_out
run_test "SASL EXTERNAL over ldapi:// as root" t_sasl_external_over_ldapi
run_test "the URIs are tried in order; every failure is reported" t_uris_in_order
run_test "a paged search returns all 2,500 people (three pages)" t_paged_search_returns_all
run_test "entries mapped through LDAP: Japan dates, UTF-8, status; refusals with their reason" t_mapping_through_ldap
run_test "a search since a modifyTimestamp returns only what changed" t_search_since
run_test "the syncprov overlay is seen in the root DSE, and its absence" t_syncprov_seen
tap_done
