#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The fido2 factor end to end through real PAM (pam_wrapper + pam_client,
# and the real sudo in a mount namespace): the real daemon and
# mamori-fido2-helper, the suite's software authenticators
# (tests/fido2/softkey.py, real P-256 keys, PIN, UV, counter) over the test
# transport (MAMORI_TEST_FIDO2_DEVICES), keys enrolled with `mamorictl
# fido2 enroll` and by their owner (op "fido2_enroll").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/softkey_lib.sh"

require "root" test "$(id -u)" = 0
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "python3-cbor2" /usr/bin/python3 -c "import cbor2, cryptography"
require "unshare" command -v unshare
require "sudo" test -u "$(command -v sudo)"
require_test_hooks "needs the software authenticator's transport"

HELPER="$top_builddir/authd/fido2/mamori-fido2-helper"
require "the fido2 helper" test -x "$HELPER"
GROUP=$(getent group nogroup >/dev/null && echo nogroup || echo nobody)

EXTRA_CONF="[system mn]
mynumber = yes

[service fido2-login]
require = fido2
rhost_empty = local

[service fido2-mn]
system = mn
require = fido2
rhost_empty = local

[service sudo]
require = fido2

[fido2]
rp_id = mamori.example
wait = 3
helper = $HELPER
helper_user = nobody
helper_group = $GROUP

[incident]
hook = /tmp/mamori-hook-placeholder

[daemon]
rate_limit = 1000"
new_env
cp "$HELPER" "$T/mamori-fido2-helper"
chmod 755 "$T/mamori-fido2-helper"
sed -i "s|^helper = .*|helper = $T/mamori-fido2-helper|" "$T/mamori.conf"
cat >"$T/hook" <<HOOK
#!/bin/sh
cat >>"$T/incidents"
echo >>"$T/incidents"
HOOK
chmod 700 "$T/hook"
sed -i "s|/tmp/mamori-hook-placeholder|$T/hook|" "$T/mamori.conf"
for s in fido2-login fido2-mn; do make_service "$s"; done

PIN=4321
# The keys a test may plug in: each one listens only while it is plugged.
SOFTKEY_DIR=$(mktemp -d /tmp/mamori-softkey.XXXXXX)
chmod 755 "$SOFTKEY_DIR"
KEYS="k1 k2 k3 k4 k5 k6 k7"
export MAMORI_TEST_FIDO2_DEVICES="$SOFTKEY_DIR/k1:$SOFTKEY_DIR/k2:$SOFTKEY_DIR/k3:$SOFTKEY_DIR/k4:$SOFTKEY_DIR/k5:$SOFTKEY_DIR/k6:$SOFTKEY_DIR/k7"
# The store's refusal hook (tests/integration/test-store-retry.sh): "N"
# refuses the next N commits of requests' transactions that append to the
# audit log.
REFUSE=$T/refuse
echo 0 >"$REFUSE"
export MAMORI_TEST_STORE_REFUSE_FILE=$REFUSE
trap 'for n in $KEYS; do softkey_stop "$n"; done; rm -rf "$SOFTKEY_DIR"; cleanup_all' EXIT
LANG=C LC_ALL=C start_daemon || { echo "Bail out! daemon did not start"; cat "$T/daemon.log"; exit 1; }

# plug NAME [softkey options]: NAME (k1..k6) is the only key plugged in,
# started with the options the first time.  An unplugged key keeps running
# (and keeps its credentials): its socket is moved out of the name the
# daemon's MAMORI_TEST_FIDO2_DEVICES lists, so no key answers there.
unplug_all() {
	local n
	for n in $KEYS; do
		[ -S "$SOFTKEY_DIR/$n" ] && mv "$SOFTKEY_DIR/$n" "$SOFTKEY_DIR/$n.away"
	done
	return 0
}
plug() {
	local name=$1
	shift
	unplug_all
	if [ -S "$SOFTKEY_DIR/$name.away" ]; then
		mv "$SOFTKEY_DIR/$name.away" "$SOFTKEY_DIR/$name"
	else
		softkey_start "$name" "$@"
	fi
}

wait_incident() {
	local kind=$1 i
	for i in $(seq 1 50); do
		grep -q "\"kind\": *\"$kind\"" "$T/incidents" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no $kind incident reached the hook"
}

key_id_of() { # USER N: the id of USER's Nth key (1-based)
	ctl --json fido2 list "$1" | json "[k['id'] for k in d['keys'] if k['state'] == 'active'][$2 - 1]"
}

add_user taro 'Sakura-no-Ki-2030'
add_user hanako 'Ume-no-Hana-2030x'
add_user nokey 'Take-no-Ha-2030w'

t_admin_enroll() {
	local out
	plug k1 --pin "$PIN"
	out=$(echo "$PIN" | ctl fido2 enroll taro --label blue --pin-stdin) || fail "fido2 enroll: $out"
	echo "$out"
	expect_match "$out" '^security key blue enrolled for taro \(id [0-9]+, key [0-9a-f]{16}\)$' "enroll line"
	out=$(ctl --json fido2 list taro)
	echo "$out"
	expect_eq "$(echo "$out" | json '[(k["label"], k["state"], k["aaguid"], k["pin"]) for k in d["keys"]]')" \
		"[('blue', 'active', '6d616d6f726920736f66746b65790001', True)]" "listed"
	expect_match "$(ctl fido2 list)" 'taro +blue +active' "the table"
	# One credential, one key: the same key enrolled again makes another credential.
	expect_eq "$(softkey_state k1 credentials)" 1 "credentials on the key"
	[ "$(sql "SELECT count(*) FROM audit WHERE reason = 'fido2 enroll' AND result = 'success'")" -ge 1 ] ||
		fail "not audited"
}
run_test "fido2: mamorictl fido2 enroll makes a credential on the key, checked and listed" t_admin_enroll

# P-AUDIT: the binding of a key's new credential refused once by the store
# is made again by the daemon (Fido2Enroll is never run again whole: the
# key made its credential): one touch, one credential, one audit row.
t_admin_enroll_refused_once() {
	local out
	add_user rt.fido 'Kumo-no-Ue-2030z'
	plug k7 --pin "$PIN"
	echo 1 >"$REFUSE"
	out=$(echo "$PIN" | ctl fido2 enroll rt.fido --label retried --pin-stdin 2>&1) || fail "fido2 enroll: $out"
	echo "$out"
	expect_eq "$(cat "$REFUSE")" 0 "the refusal was used"
	expect_match "$out" '^security key retried enrolled for rt\.fido' "enroll line"
	expect_eq "$(softkey_state k7 credentials)" 1 "credentials on the key"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'rt.fido' AND reason = 'fido2 enroll'")" 1 \
		"one audit row"
	expect_eq "$(ctl --json fido2 list rt.fido | json '[(k["label"], k["state"]) for k in d["keys"]]')" \
		"[('retried', 'active')]" "listed"
	grep -q "Fido2Enroll: a step refused by the store, run again" "$T/daemon.log" ||
		fail "no run again logged"
	pam -p "$PIN" fido2-login rt.fido auth=SUCCESS >/dev/null
}
run_test "P-AUDIT fido2: an enrolment whose binding is refused once is bound, one credential, one audit row" \
	t_admin_enroll_refused_once

t_right_key() {
	local out
	plug k1 --pin "$PIN"
	out=$(pam -p "$PIN" fido2-login taro auth=SUCCESS acct=SUCCESS open=SUCCESS close=SUCCESS)
	echo "$out"
	expect_match "$out" '^info: Connect your security key\.$' "connect message"
	expect_match "$out" '^prompt: Security key PIN \(8 tries left\): $' "PIN prompt with the retries"
	expect_match "$out" '^info: Touch your security key\.$' "touch message"
	[ "$(softkey_state k1 signatures)" -ge 1 ] || fail "the key did not sign"
	[ "$(sql "SELECT counter FROM credentials WHERE factor = 'fido2' AND user_id = (SELECT id FROM users WHERE name = 'taro')")" -ge 1 ] ||
		fail "the sign count is not stored"
	[ "$(sql "SELECT count(*) FROM session_credentials sc JOIN credentials c ON c.id = sc.credential_id WHERE c.factor = 'fido2' AND sc.reader LIKE 'fido2:unix:%'")" -ge 1 ] ||
		fail "the session is not linked to the key"
}
run_test "fido2: the right key with its PIN logs in; the count is stored and the session linked" t_right_key

t_refused_modes() {
	local mode out before
	plug k1 --pin "$PIN"
	for mode in wrong_rp wrong_cdh replay; do
		softkey_set k1 "{\"mode\":\"$mode\"}"
		before=$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'taro' AND reason = 'wrong fido2'")
		out=$(pam -p "$PIN" fido2-login taro auth=AUTH_ERR)
		echo "$mode: $out"
		expect_eq "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'taro' AND reason = 'wrong fido2'")" \
			"$((before + 1))" "$mode refused as a wrong factor"
	done
	softkey_set k1 '{"mode":"normal"}'
	pam -p "$PIN" fido2-login taro auth=SUCCESS >/dev/null || fail "the key works again"
}
run_test "fido2: the wrong rp id, a signature over another challenge, a replayed assertion are refused" t_refused_modes

t_clone() {
	local out
	plug k1 --pin "$PIN"
	: >"$T/incidents"
	softkey_set k1 '{"counter":1}'
	out=$(pam -p "$PIN" fido2-login taro auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" '^error: This security key cannot be used: it may have been copied\. Contact your administrator\.$' \
		"clone message"
	wait_incident fido2_clone_suspected
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'taro' AND reason = 'fido2 sign count did not grow'")" -ge 1 ] ||
		fail "not audited"
	softkey_set k1 '{"counter":1000}'
	pam -p "$PIN" fido2-login taro auth=SUCCESS >/dev/null || fail "a count that grows again works"
}
run_test "fido2: a sign count that goes back is refused with fido2_clone_suspected" t_clone

t_unknown_credential() {
	local out
	plug k2 --pin "$PIN"
	out=$(pam -p "$PIN" fido2-login taro auth=AUTH_ERR)
	echo "$out"
	# Told with the decision, after the touch.
	expect_match "$(tail -n 2 <<<"$out" | head -n 1)" \
		'^error: This security key is not registered for this account\.$' "told after the decision"
}
run_test "fido2: a key that holds no credential of the account is refused" t_unknown_credential

t_uv_required_not_given() {
	local out
	# A key with neither a PIN nor its own verification.
	plug k3
	ctl fido2 enroll hanako --label plain >/dev/null || fail "enroll"
	out=$(pam fido2-login hanako auth=AUTH_ERR)
	echo "$out"
	! grep -q '^prompt: ' <<<"$out" || fail "a PIN was asked of a key without one"
}
run_test "fido2: user verification required and not given is refused" t_uv_required_not_given

t_pin_wrong_then_blocked() {
	local out
	plug k1 --pin "$PIN"
	out=$(pam -p 0000 fido2-login taro auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" '^error: Wrong security key PIN \(7 tries left\)\.$' "wrong PIN with the retries"
	expect_eq "$(softkey_state k1 pin_retries)" 7 "the key counted it"
	softkey_set k1 '{"pin_retries":0}'
	out=$(pam fido2-login taro auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" "^error: This security key's PIN is blocked" "blocked message"
	! grep -q '^prompt: ' <<<"$out" || fail "a PIN was asked for a blocked key"
	expect_eq "$(softkey_state k1 pin_retries)" 0 "no PIN was sent"
	softkey_set k1 '{"pin_retries":8}'
}
run_test "fido2: a wrong PIN counts down; a blocked PIN is told and never sent" t_pin_wrong_then_blocked

t_several_keys() {
	local out
	plug k2 --pin "$PIN"
	echo "$PIN" | ctl fido2 enroll taro --label green --pin-stdin >/dev/null || fail "a second key"
	expect_eq "$(ctl --json fido2 list taro | json 'len([k for k in d["keys"] if k["state"] == "active"])')" 2 "two keys"
	pam -p "$PIN" fido2-login taro auth=SUCCESS >/dev/null || fail "the second key"
	plug k1 --pin "$PIN"
	pam -p "$PIN" fido2-login taro auth=SUCCESS >/dev/null || fail "the first key"
}
run_test "fido2: an account with several keys logs in with each" t_several_keys

t_mynumber_uv() {
	local out
	# P-MFA-MN: fido2 alone passes with the key's PIN (knowledge) ...
	plug k1 --pin "$PIN"
	pam -p "$PIN" fido2-mn taro auth=SUCCESS >/dev/null || fail "knowledge by the PIN"
	# ... or its own fingerprint (inherence); its own UV that is no
	# fingerprint is possession alone.
	plug k4 --uv builtin --bio
	ctl fido2 enroll nokey --label bio >/dev/null || fail "enroll a bio key"
	out=$(pam fido2-mn nokey auth=SUCCESS) || fail "inherence by the key's fingerprint: $out"
	ctl fido2 revoke nokey --reason removed >/dev/null
	plug k5 --uv builtin
	ctl fido2 enroll nokey --label uvonly >/dev/null || fail "enroll a uv key"
	out=$(pam fido2-mn nokey auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" 'two kinds of factor' "one category refused"
	pam fido2-login nokey auth=SUCCESS >/dev/null || fail "the same key elsewhere"
	ctl fido2 remove nokey >/dev/null
}
run_test "P-MFA-MN fido2 alone on a My Number service passes only with the key's PIN or its fingerprint" t_mynumber_uv

t_same_prompts() {
	local unknown nokey
	plug k1 --pin "$PIN"
	unknown=$(pam -p "$PIN" fido2-login nosuchuser auth=AUTH_ERR | sed 's/nosuchuser/U/g')
	echo "$unknown"
	nokey=$(pam -p "$PIN" fido2-login nokey auth=AUTH_ERR | sed 's/nokey/U/g')
	expect_eq "$nokey" "$unknown" "an account without a key"
	expect_match "$unknown" 'Touch your security key' "the same steps"
}
run_test "P-INPUT fido2: unknown names and names without a key see the same prompts" t_same_prompts

PAM_CLIENT_ENV="$T/pam_client_env"
cat >"$PAM_CLIENT_ENV" <<SH
#!/bin/sh
exec env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" "$PAM_CLIENT" "\$@"
SH
chmod 755 "$PAM_CLIENT_ENV"

# Whether PID runs (a zombie has ended: nobody here reaps it at once).
running() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "${st%% *}" != Z ]
}

t_revoked_key_session_ended() {
	local out id pid i start ms sid held=$T/held.out
	plug k1 --pin "$PIN"
	id=$(key_id_of taro 1)
	setsid "$PAM_CLIENT_ENV" -S -p "$PIN" -t pts/8 fido2-login taro auth=SUCCESS open=SUCCESS >"$held" 2>&1 &
	for i in $(seq 1 100); do grep -q READY "$held" && break; sleep 0.1; done
	pid=$(sed -n 's/^READY //p' "$held")
	[ -n "$pid" ] || fail "no session: $(cat "$held")"
	sid=$(sql "SELECT id FROM sessions WHERE leader_pid = $pid AND closed_at IS NULL ORDER BY id DESC LIMIT 1")
	expect_eq "$(sql "SELECT count(*) FROM session_credentials WHERE session_id = $sid AND credential_id = $id")" 1 \
		"the session is linked to the key"
	: >"$T/incidents"
	start=$(date +%s%3N)
	out=$(ctl fido2 revoke taro --id "$id" --reason lost) || fail "revoke: $out"
	for i in $(seq 1 500); do running "$pid" || break; sleep 0.01; done
	! running "$pid" || { kill "$pid"; fail "leader $pid still running"; }
	ms=$(($(date +%s%3N) - start))
	echo "$out; leader gone after ${ms} ms"
	[ "$ms" -le 1000 ] || fail "the session outlived the revocation by ${ms} ms"
	expect_match "$out" '^1 security key\(s\) of taro revoked; 1 session\(s\) ended$' "revoked, session ended"
	expect_eq "$(sql "SELECT end_reason FROM sessions WHERE id = $sid")" "security key revoked" "end reason"
	wait_incident fido2_lost
	grep '"fido2_lost"' "$T/incidents" | grep -q '"user": *"taro"' || fail "incident names taro"
	pam -p "$PIN" fido2-login taro auth=AUTH_ERR >/dev/null || fail "the revoked key is refused"
	expect_eq "$(ctl --json fido2 list taro | json '[k["reason"] for k in d["keys"] if k["id"] == '"$id"']')" \
		"['lost']" "listed as lost"
}
run_test "fido2: a key revoked as lost ends its live session within 1 s, raises fido2_lost, and is refused after" \
	t_revoked_key_session_ended

t_self_enrolment() {
	local out code
	plug k2 --pin "$PIN"
	cat >"$T/self.py" <<'PY'
import json, socket, sys
path, user, pw, code, pin = sys.argv[1:6]
s = socket.socket(socket.AF_UNIX); s.connect(path); buf = b""
def call(m):
    global buf
    s.sendall(json.dumps(m).encode() + b"\0")
    while b"\0" not in buf:
        buf += s.recv(65536)
    r, buf = buf.split(b"\0", 1)
    return json.loads(r)
r = call({"method": "io.mamori.Pam.Start", "parameters": {"op": "fido2_enroll", "service": "mamori-test", "user": user}})
r = call({"method": "io.mamori.Pam.Answer", "parameters": {"answers": [pw]}})
p = r["parameters"]
if p.get("state") == "prompt" and p["prompts"][0]["text"].startswith("Enrolment code"):
    r = call({"method": "io.mamori.Pam.Answer", "parameters": {"answers": [code]}})
    p = r["parameters"]
if p.get("state") != "prompt":
    print("RESULT", p.get("result")); sys.exit(0)
for q in p["prompts"]:
    print("SHOW", q["style"], q["text"])
r = call({"method": "io.mamori.Pam.Answer", "parameters": {"answers": [None, pin]}})
print("RESULT", r["parameters"].get("result"), json.dumps(r))
PY
	code=$(ctl totp enroll-code hanako | tail -n 1)
	add_user kumi 'Kiri-no-Hana-2030z' || fail "add kumi"
	code=$(ctl totp enroll-code kumi | tail -n 1)
	out=$(/usr/bin/python3 "$T/self.py" "$T/run/pam.sock" kumi 'Kiri-no-Hana-2030z' "$code" "$PIN")
	echo "$out"
	expect_match "$out" 'SHOW echo_off Security key PIN \(empty if it has none\): ' "the PIN asked"
	expect_match "$out" 'RESULT success' "enrolled by its owner"
	expect_match "$(ctl fido2 list kumi)" 'kumi +- +active' "listed"
	pam -p "$PIN" fido2-login kumi auth=SUCCESS >/dev/null || fail "the new key logs in"
	# The key holds one of the account's credentials: it is excluded.
	out=$(echo "$PIN" | ctl fido2 enroll kumi --pin-stdin 2>&1) && fail "the same key enrolled twice"
	expect_match "$out" 'excluded' "a key that holds one of the account's credentials"
}
run_test "fido2: self-enrolment (op fido2_enroll) with the key's PIN, confirmed by its attestation" t_self_enrolment

t_remove() {
	local out
	out=$(ctl fido2 remove hanako) || fail "remove: $out"
	echo "$out"
	expect_match "$out" 'security key\(s\) of hanako revoked' "removed"
	expect_eq "$(ctl --json fido2 list hanako | json '[k["state"] for k in d["keys"] if k["state"] == "active"]')" \
		"[]" "none active"
	out=$(ctl fido2 revoke hanako --reason stolen 2>&1) && fail "an unknown reason was accepted"
	expect_match "$out" 'invalid --reason' "reason checked"
}
run_test "fido2: mamorictl fido2 remove and revoke" t_remove

# The real sudo: a key of the test account, its PIN typed on stdin.
cat >"$T/sudo.sh" <<'SH'
answers=$1
shift
rc=0
printf '%b' "$answers" | runuser -u mamori-ns -- sudo -S "$@" 2>&1 || rc=$?
echo "rc=$rc"
SH
ns_setup
ns_pam sudo

t_real_sudo() {
	local out
	add_user mamori-ns 'Sudo-no-Kagi-2030' || fail "add mamori-ns"
	plug k6 --pin "$PIN"
	echo "$PIN" | ctl fido2 enroll mamori-ns --pin-stdin >/dev/null || fail "enroll"
	out=$(ns_run "$T/sudo.sh" "$PIN\n" id -un)
	echo "$out"
	expect_match "$out" 'PIN \(8 tries left\): root$' "sudo ran the command"
	expect_match "$out" 'rc=0' "sudo status"
	out=$(ns_run "$T/sudo.sh" "0000\n" id -un)
	echo "second: $out"
	expect_match "$out" 'rc=1' "a wrong PIN"
}
run_test "fido2: the real sudo with a key and its PIN" t_real_sudo

# [fido2] user_verification = preferred: asked where the key can, and
# counted only where its signed UV flag says so.
stop_daemon
sed -i 's/^\[fido2\]$/[fido2]\nuser_verification = preferred/' "$T/mamori.conf"
LANG=C LC_ALL=C start_daemon || { echo "Bail out! daemon did not restart"; cat "$T/daemon.log"; exit 1; }

t_uv_preferred() {
	local out
	# A key without a PIN or its own verification: presence is enough ...
	plug k3
	ctl fido2 enroll hanako --label plain2 >/dev/null || fail "enroll"
	out=$(pam fido2-login hanako auth=SUCCESS) || fail "presence only: $out"
	echo "$out"
	! grep -q '^prompt: ' <<<"$out" || fail "a PIN was asked of a key without one"
	# ... but it is one category on a My Number service.
	out=$(pam fido2-mn hanako auth=AUTH_ERR)
	expect_match "$out" 'two kinds of factor' "one category refused"
	# A key with a PIN is still asked for it, and then counts as knowledge.
	plug k6
	out=$(pam -p "$PIN" fido2-mn mamori-ns auth=SUCCESS) || fail "knowledge by the PIN: $out"
	expect_match "$out" '^prompt: Security key PIN' "the PIN asked"
}
run_test "P-MFA-MN fido2 with user_verification = preferred: UV asked where the key can, counted only when shown" t_uv_preferred

# Each test runs in a subshell: the keys are stopped by their pid files.
for n in $KEYS; do softkey_stop "$n"; done
rm -rf "$SOFTKEY_DIR"
tap_done
