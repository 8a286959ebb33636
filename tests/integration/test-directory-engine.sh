#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The HR directory engine itself (issue #13, authd/directory/engine.c,
# persist.c): what test-directory.sh does not look at.  A real
# mamori-authd following a real slapd with syncprov (persist mode),
# synthetic people only (P-TESTDATA):
#   - the directory going away while the daemon follows it: the error is
#     reported, directory_unreachable raised once for the outage, the
#     engine reconnects with its back-off and follows the directory again;
#   - in persist mode, disables within 10 minutes count against the
#     safety stop: the one past max_disable_percent halts the engine and is
#     not applied, until `directory sync --force`; a disable whose
#     transaction the store refused and ran again counts once;
#   - a reload without [directory] stops the engine, one with it starts it.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/directory/slapd_lib.sh"

require "root" test "$(id -u)" = 0
slapd_require

PEOPLE="/usr/bin/python3 $top_srcdir/tests/directory/people.py"

SLAPD_ROOT=$(mktemp -d /tmp/mamori-slapd.XXXXXX)
trap 'slapd_cleanup_all; cleanup_all; rm -rf "$SLAPD_ROOT"' EXIT
# The store's refusal hook (test-store-retry.sh), idle until a test fills it.
REFUSE=$SLAPD_ROOT/refuse
echo 0 >"$REFUSE"
export MAMORI_TEST_STORE_REFUSE_FILE=$REFUSE

ustate() { ctl --json user show "$1" | json 'd["user"]["state"]'; }
dstatus() { ctl --json directory status | json "d.get('$1')"; }
exists() { ctl user show "$1" >/dev/null 2>&1; }
state_is() { [ "$(ustate "$1")" = "$2" ]; }
wait_for() {
	local limit=$1 i
	shift
	for i in $(seq 1 $((limit * 10))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "not within ${limit}s: $*"
}
# For wait_for, which runs its command again: these read the status anew.
dstatus_is() { [ "$(dstatus "$1")" = "$2" ]; }
dstatus_not() { [ "$(dstatus "$1")" != "$2" ]; }
dstatus_ge() { [ "$(dstatus "$1")" -ge "$2" ]; }
incidents_ge() { [ "$(incidents "$1")" -ge "$2" ]; }
incidents() { grep -c "\"kind\": *\"$1\"" "$T/incidents" 2>/dev/null || true; }
person_dn() { echo "uid=$1,$SLAPD_PEOPLE"; }
set_attr() { # set_attr UID ATTR VALUE
	printf 'dn: %s\nchangetype: modify\nreplace: %s\n%s: %s\n' "$(person_dn "$1")" "$2" "$2" "$3" |
		slapd_ldap ldapmodify >/dev/null
}
add_person() {
	slapd_ldap ldapadd >/dev/null <<LDIF
dn: $(person_dn "$1")
objectClass: inetOrgPerson
uid: $1
cn: Test Person $1
sn: Person $1
employeeNumber: X-$1
departmentNumber: Finance
employeeType: staff
LDIF
}

# The [directory] of $T, following the current slapd in persist mode.
directory_section() {
	cat <<CONF
[directory]
uri = $SLAPD_URI
bind = simple
bind_dn = $SLAPD_READER
bind_password_file = $T/dir.pw
base = $SLAPD_PEOPLE
tls = none
mode = persist
timeout = 5
backoff_max = 2
max_disable_percent = ${1:-10}
CONF
}

# env_with_directory PERCENT: a new $T following the current slapd; its
# incidents gathered in $T/incidents.  Started.
env_with_directory() {
	new_env
	install -m 600 "$SLAPD_READER_PW" "$T/dir.pw"
	printf '#!/bin/sh\ncat >>"%s/incidents"\necho >>"%s/incidents"\n' "$T" "$T" >"$T/hook"
	chmod 700 "$T/hook"
	cp "$T/mamori.conf" "$T/mamori.conf.base"
	printf '\n[incident]\nhook = %s/hook\n\n' "$T" >>"$T/mamori.conf"
	directory_section "$1" >>"$T/mamori.conf"
	start_daemon || {
		echo "Bail out! the daemon did not start"
		exit 1
	}
}

mkdir -p "$SLAPD_ROOT/e"
$PEOPLE --count 10 --prefix e >"$SLAPD_ROOT/e/people.ldif"
slapd_start "$SLAPD_ROOT/e" --syncprov --ldif "$SLAPD_ROOT/e/people.ldif" || slapd_bail "slapd did not start"
env_with_directory 10

t_unreachable_then_back() {
	wait_for 20 exists e000010
	expect_eq "$(dstatus mode)" persist "mode"
	expect_eq "$(dstatus connected)" True "connected"
	: >"$T/incidents"
	slapd_kill
	wait_for 10 dstatus_not error None
	expect_eq "$(dstatus connected)" False "connected while slapd is down"
	# The back-off (1, 2, 2 ... s): several tries, one incident.
	wait_for 15 dstatus_ge failures 3
	wait_for 5 incidents_ge directory_unreachable 1
	expect_eq "$(incidents directory_unreachable)" 1 "directory_unreachable raised once for the outage"
	# Nothing changed meanwhile.
	expect_eq "$(ustate e000001)" pending "an account while the directory is down"
	slapd_restart
	wait_for 15 dstatus_is error None
	expect_eq "$(dstatus failures)" 0 "failures after the directory came back"
	# It follows the directory again.
	add_person e000011
	wait_for 10 exists e000011
}

t_persist_disables_counted_in_window() {
	local i out
	wait_for 10 exists e000011
	# 11 managed accounts, every one active; max_disable_percent 10: one
	# disable is allowed (100 <= 110), a second within 10 minutes is not.
	for i in $(seq -w 1 11); do
		printf 'Temp-%s-Pass-x1\n' "$i" | ctl password temp "e0000$i" --password-stdin >/dev/null
	done
	: >"$T/incidents"
	# The first retirement's transaction refused once by the store (test
	# hooks): its second run is the one disable counted, not a second.
	[ "$HAVE_TEST_HOOKS" != 1 ] || echo "1 retire" >"$REFUSE"
	set_attr e000001 employeeType retired
	wait_for 10 state_is e000001 retired
	[ "$HAVE_TEST_HOOKS" != 1 ] || expect_eq "$(cat "$REFUSE")" "0 retire" "the retirement refused once"
	expect_eq "$(dstatus halted)" False "halted after one retirement"
	set_attr e000002 employeeType retired
	wait_for 10 dstatus_is halted True
	sleep 1
	expect_eq "$(ustate e000002)" active "the retirement past the safety stop"
	wait_for 5 incidents_ge directory_safety_stop 1
	# Other changes still apply while halted.
	add_person e000012
	wait_for 10 exists e000012
	# --force applies what was held back and lifts the halt.
	out=$(ctl --json directory sync --force)
	echo "$out"
	expect_eq "$(ustate e000002)" retired "after --force"
	expect_eq "$(dstatus halted)" False "halted after --force"
}

t_reload_stops_and_starts() {
	cp "$T/mamori.conf.base" "$T/mamori.conf"
	kill -HUP "$(cat "$T/daemon.pid")"
	wait_for 10 dstatus_is configured False
	expect_eq "$(dstatus connected)" False "connected without [directory]"
	add_person e000013
	sleep 2
	! exists e000013 || fail "followed the directory without [directory]"
	printf '\n' >>"$T/mamori.conf"
	directory_section 10 >>"$T/mamori.conf"
	kill -HUP "$(cat "$T/daemon.pid")"
	wait_for 15 exists e000013
	expect_eq "$(dstatus connected)" True "connected after the reload"
}

run_test "P-ID-LIFECYCLE directory unreachable: reported once, retried with back-off, followed again after" \
	t_unreachable_then_back
run_test "P-ID-LIFECYCLE persist mode: disables within 10 minutes count against the safety stop (a refused run once)" \
	t_persist_disables_counted_in_window
run_test "P-ID-LIFECYCLE a reload stops the engine without [directory] and starts it with" t_reload_stops_and_starts
stop_daemon
slapd_cleanup_all
tap_done
