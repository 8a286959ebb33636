#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The fleet sweep end to end for a security key revoked and for a person
# retired in the HR directory (issue #14): daemons A and B (nodes term-a,
# term-b) share one PostgreSQL database and its keys (fleet_lib.sh), the
# suite's software FIDO2 authenticator (tests/fido2/softkey.py) and a
# private slapd with syncprov that A follows in persist mode (synthetic
# people only, P-TESTDATA).  Sessions are opened through B's PAM stack,
# with a leader process that stays; what A does ends them within 1 s:
#   - `fido2 revoke` on A's admin socket ends the session on B opened
#     with that key (A's reply: none of its own; the incident is A's
#     only); the account's session opened with its other key stays;
#   - a retirement written to the directory, applied by A's engine, ends
#     the account's sessions on B, the password one and the one opened
#     with a security key, each recorded as the account's retirement
#     (P-ID-LIFECYCLE), as A records the ends of its own sessions.
# B ends, records and audits each once; A never names them.  B keeps
# the default sweep_interval (30 s): only A's event (NOTIFY) ends them
# within 1 s.  PostgreSQL only: `make check-postgresql` runs it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/softkey_lib.sh"
. "$(dirname "$0")/fleet_lib.sh"
. "$top_srcdir/tests/directory/slapd_lib.sh"

require "python3-cbor2" /usr/bin/python3 -c "import cbor2, cryptography"
require_test_hooks "needs the software authenticator's transport"
fleet_require
slapd_require

HELPER="$top_builddir/authd/fido2/mamori-fido2-helper"
require "the fido2 helper" test -x "$HELPER"
GROUP=$(getent group nogroup >/dev/null && echo nogroup || echo nobody)
PEOPLE="/usr/bin/python3 $top_srcdir/tests/directory/people.py"
PIN=4321

# Two keys, k1 and k2; a test plugs in the one it means (only).
SOFTKEY_DIR=$(mktemp -d /tmp/mamori-softkey.XXXXXX)
chmod 755 "$SOFTKEY_DIR"
export MAMORI_TEST_FIDO2_DEVICES="$SOFTKEY_DIR/k1:$SOFTKEY_DIR/k2"
SLAPD_ROOT=$(mktemp -d /tmp/mamori-slapd.XXXXXX)
trap 'fleet_done; softkey_cleanup; slapd_cleanup_all; cleanup_all; rm -rf "$SLAPD_ROOT"' EXIT
for k in k1 k2; do
	softkey_start "$k" --pin "$PIN" || { echo "Bail out! key $k did not start"; exit 1; }
done

# only KEY: KEY is the only key plugged in (the other one's socket is moved
# out of the names MAMORI_TEST_FIDO2_DEVICES lists); both: both plugged in.
both() {
	local k
	for k in k1 k2; do
		[ -S "$SOFTKEY_DIR/$k.away" ] && mv "$SOFTKEY_DIR/$k.away" "$SOFTKEY_DIR/$k"
	done
	return 0
}
only() {
	local k
	both
	for k in k1 k2; do
		[ "$k" = "$1" ] || mv "$SOFTKEY_DIR/$k" "$SOFTKEY_DIR/$k.away"
	done
}

mkdir -p "$SLAPD_ROOT/d"
$PEOPLE --count 10 --prefix f >"$SLAPD_ROOT/d/people.ldif"
slapd_start "$SLAPD_ROOT/d" --syncprov --ldif "$SLAPD_ROOT/d/people.ldif" || slapd_bail "slapd did not start"

EXTRA_CONF="[service fido2-login]
require = fido2
rhost_empty = local

[fido2]
rp_id = mamori.example
wait = 3
helper = $HELPER
helper_user = nobody
helper_group = $GROUP"

# fido2_env: $T's own copy of the helper (nobody must reach it), the
# fido2-login service, and its incidents gathered in $T/incidents.
fido2_env() {
	cp "$HELPER" "$T/mamori-fido2-helper"
	chmod 755 "$T/mamori-fido2-helper"
	sed -i "s|^helper = .*|helper = $T/mamori-fido2-helper|" "$T/mamori.conf"
	make_service fido2-login
	printf '#!/bin/sh\ncat >>"%s/incidents"\necho >>"%s/incidents"\n' "$T" "$T" >"$T/hook"
	chmod 700 "$T/hook"
	printf '\n[incident]\nhook = %s/hook\n' "$T" >>"$T/mamori.conf"
	: >"$T/incidents"
}

# Daemon A: follows the directory (persist mode).
fleet_new_a
fido2_env
install -m 600 "$SLAPD_READER_PW" "$A/dir.pw"
cat >>"$A/mamori.conf" <<CONF

[directory]
uri = $SLAPD_URI
bind = simple
bind_dn = $SLAPD_READER
bind_password_file = $A/dir.pw
base = $SLAPD_PEOPLE
tls = none
mode = persist
timeout = 5
backoff_max = 2
max_disable_percent = 50
CONF
fleet_start

# Daemon B: no directory; the default sweep_interval (30 s).
fleet_new_b
fido2_env
fleet_start

events_of_b() { grep -c 'fleet sweep: event' "$B/daemon.log" || true; }

# --------------------------------------------- a security key revoked on A

t_fido2_revoked_on_a_ends_session_on_b() {
	local id pid sid pid2 sid2 ms events out i
	on_a
	add_user ff.taro 'Kagi-no-Ana-2031-Yoru'
	only k1
	echo "$PIN" | ctl fido2 enroll ff.taro --label blue --pin-stdin >/dev/null
	only k2
	echo "$PIN" | ctl fido2 enroll ff.taro --label green --pin-stdin >/dev/null
	id=$(ctl --json fido2 list ff.taro | json "[k['id'] for k in d['keys'] if k['label'] == 'blue'][0]")
	# On B: a session with k2, then one with k1.
	on_b
	pid2=$(open_session fido2-login ff.taro "$PIN" pts/8)
	only k1
	pid=$(open_session fido2-login ff.taro "$PIN" pts/9)
	both
	sid=$(session_of "$pid")
	sid2=$(session_of "$pid2")
	[ -n "$sid" ] && [ -n "$sid2" ] || fail "the sessions did not open"
	expect_eq "$(sql "SELECT node FROM sessions WHERE id = $sid")" term-b "the node of B's session"
	expect_eq "$(sql "SELECT count(*) FROM session_credentials WHERE session_id = $sid AND credential_id = $id")" 1 \
		"the session linked to the key"
	expect_eq "$(sql "SELECT count(*) FROM session_credentials WHERE session_id = $sid2 AND credential_id = $id")" 0 \
		"the other session not linked to it"
	sleep 0.3 # (the sweeps that followed the sessions' opening are over)
	events=$(events_of_b)
	on_a
	: >"$A/incidents"
	: >"$B/incidents"
	START=$(now_ms)
	ctl --json fido2 revoke ff.taro --id "$id" --reason lost >"$A/revoke.out"
	ms=$(wait_gone "$pid" 5000) || return 1
	fleet_time "fido2 revoke on A -> the key's session on B ended: $ms ms"
	[ "$ms" -le 1000 ] || fail "the session ended after $ms ms (more than 1 s)"
	out=$(json "(d['revoked'], d['sessions_ended'])" <"$A/revoke.out")
	expect_eq "$out" "(1, 0)" "A's reply: no session of A's"
	[ "$(events_of_b)" -gt "$events" ] || fail "no event woke B's sweep"
	ended_by_b "$sid" "security key revoked" "P-CARD-LOST: security key revoked (lost)"
	# The session opened with k2 stays; the incident is A's, raised once.
	sleep 0.5
	for i in $(seq 1 50); do grep -q '"fido2_lost"' "$A/incidents" && break; sleep 0.1; done
	expect_eq "$(grep -c '"fido2_lost"' "$A/incidents" || true)" 1 "fido2_lost incidents on A"
	expect_eq "$(grep -c '"kind"' "$B/incidents" || true)" 0 "incidents on B"
	running "$pid2" || fail "the session opened with the other key ended"
	expect_eq "$(sql "SELECT CASE WHEN closed_at IS NULL THEN 1 ELSE 0 END FROM sessions WHERE id = $sid2")" 1 \
		"the other session still open"
	# The revoked key is refused on B.
	on_b
	only k1
	pam -p "$PIN" fido2-login ff.taro auth=AUTH_ERR >/dev/null
	both
}

# ------------------------------------------- a retirement in the directory

# issue_password NAME PW: on the current daemon, a temporary password (a
# pending account becomes active) that NAME changes to PW.
issue_password() {
	local name=$1 pw=$2 temp="Temp-$RANDOM-$RANDOM-x" out
	printf '%s\n' "$temp" | ctl password temp "$name" --password-stdin >/dev/null
	out=$(pam -p "$temp" -p "$pw" -p "$pw" mamori-test "$name" auth=SUCCESS chauthtok=SUCCESS) || {
		echo "issue_password $name: $out" >&2
		return 1
	}
}

exists() { ctl user show "$1" >/dev/null 2>&1; }

t_retired_on_a_ends_sessions_on_b() {
	local i pid sid kpid ksid ms events u=f000003 pw='Taishoku-no-Asa-2031x'
	on_a
	for i in $(seq 1 100); do exists "$u" && break; sleep 0.1; done
	exists "$u" || fail "A did not create $u from the directory"
	issue_password "$u" "$pw"
	only k1
	echo "$PIN" | ctl fido2 enroll "$u" --label key --pin-stdin >/dev/null
	on_b
	pid=$(open_session mamori-test "$u" "$pw" pts/7)
	kpid=$(open_session fido2-login "$u" "$PIN" pts/8)
	both
	sid=$(session_of "$pid")
	ksid=$(session_of "$kpid")
	[ -n "$sid" ] && [ -n "$ksid" ] || fail "the sessions did not open"
	expect_eq "$(sql "SELECT count(*) FROM session_credentials WHERE session_id = $ksid")" 1 \
		"the key's session linked to it"
	sleep 0.3
	events=$(events_of_b)
	: >"$A/incidents"
	: >"$B/incidents"
	START=$(now_ms)
	printf 'dn: uid=%s,%s\nchangetype: modify\nreplace: employeeType\nemployeeType: retired\n' "$u" "$SLAPD_PEOPLE" |
		slapd_ldap ldapmodify >/dev/null
	ms=$(wait_gone "$pid" 5000) || return 1
	fleet_time "retired in the directory, applied by A -> the password session on B ended: $ms ms"
	[ "$ms" -le 1000 ] || fail "the session ended after $ms ms (more than 1 s)"
	ms=$(wait_gone "$kpid" 5000) || return 1
	fleet_time "retired in the directory, applied by A -> the key's session on B ended: $ms ms"
	[ "$ms" -le 1000 ] || fail "the key's session ended after $ms ms (more than 1 s)"
	[ "$(events_of_b)" -gt "$events" ] || fail "no event woke B's sweep"
	on_a
	expect_eq "$(ctl --json user show "$u" | json 'd["user"]["state"]')" retired "the account's state"
	# Each ended as the account's retirement, as A ends its own.
	ended_by_b "$sid" retired "P-ID-LIFECYCLE: account retired"
	ended_by_b "$ksid" retired "P-ID-LIFECYCLE: account retired"
	sleep 0.5
	for i in $(seq 1 50); do grep -q '"directory_retired"' "$A/incidents" && break; sleep 0.1; done
	expect_eq "$(grep -c '"directory_retired"' "$A/incidents" || true)" 1 "directory_retired incidents on A"
	expect_eq "$(grep -c '"kind"' "$B/incidents" || true)" 0 "incidents on B"
}

run_test "P-CARD-LOST a security key revoked on A: its session on B ends within 1 s, ended and audited by B; another key's stays" \
	t_fido2_revoked_on_a_ends_session_on_b
show_times
run_test "P-ID-LIFECYCLE a retirement in the directory, applied by A: the account's sessions on B end within 1 s, ended and audited by B" \
	t_retired_on_a_ends_sessions_on_b
show_times
fleet_done
softkey_cleanup
slapd_cleanup_all
tap_done
