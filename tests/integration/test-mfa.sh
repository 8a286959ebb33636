#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The multi-factor policy engine and TOTP through real PAM stacks
# (pam_wrapper), with the injectable clock.  Codes come from oathtool.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "python3" test -x /usr/bin/python3
require "oathtool" command -v oathtool
# TOTP codes are computed for the test clock, which the script moves.
require_test_hooks "needs the test clock"

EXTRA_CONF="$MN_LOGIN_CONF

[service mn-remote]
system = mn
require = password+totp
remote = yes

[service two-ways]
require = password+totp, password

[service counter-only]
allow_users = alice, carol
allow_groups = nogroup

[incident]
hook = /tmp/mamori-hook-placeholder

[policy staff]
min_age_days = 0"
new_env
cat >"$T/hook" <<HOOK
#!/bin/sh
cat >>"$T/incidents"
echo >>"$T/incidents"
HOOK
chmod 700 "$T/hook"
sed -i "s|/tmp/mamori-hook-placeholder|$T/hook|" "$T/mamori.conf"
for s in mn-login mn-remote two-ways counter-only; do make_service "$s"; done
set_clock "$(date -d '2030-02-04 10:00:00' +%s)"
start_daemon || { echo "Bail out! daemon did not start"; cat "$T/daemon.log"; exit 1; }

add_user taro 'Sakura-no-Ki-2030'
TARO_SECRET=$(enroll_totp taro)
add_user jiro 'Ume-no-Hana-2030x'
add_user alice 'Correct-Horse-42'

t_mynumber_password_and_totp() {
	local out
	advance_clock 30
	out=$(pam -p 'Sakura-no-Ki-2030' -p "$(totp_code "$TARO_SECRET")" mn-login taro auth=SUCCESS acct=SUCCESS)
	echo "$out"
	expect_match "$out" 'prompt: Password: ' "password prompt"
	expect_match "$out" 'prompt: Verification code: ' "code prompt"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'taro' AND service = 'mn-login' AND result = 'success' AND detail LIKE '%\"factors\":[\"password\",\"totp\"]%'")" -ge 1 ] ||
		fail "the audit row does not record the factors"
}

t_mynumber_password_alone_refused() {
	local out
	advance_clock 30
	out=$(pam -p 'Sakura-no-Ki-2030' -p '000000' mn-login taro auth=AUTH_ERR)
	echo "$out"
	# The same answer whichever factor was wrong.
	! grep -q '^error:' <<<"$out" || fail "the failure says which factor"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'taro' AND reason = 'wrong totp'")" -ge 1 ] || fail "not audited"
	out=$(pam -p 'wrong-password' -p "$(totp_code "$TARO_SECRET")" mn-login taro auth=AUTH_ERR)
	expect_match "$out" 'prompt: Verification code: ' "every factor is asked"
}

t_no_second_factor_refused_with_reason() {
	local out
	# P-INPUT: an account without TOTP is asked every factor of the
	# service, like any other name; the reason comes after the decision,
	# to the owner of the password only.
	out=$(pam -p 'Ume-no-Hana-2030x' -p '123456' mn-login jiro auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" 'error: This service requires password\+totp, which is not set up' "message"
	expect_match "$out" 'prompt: Verification code: ' "asked every factor of the service"
	out=$(pam -p 'wrong-password' -p '123456' mn-login jiro auth=AUTH_ERR)
	! grep -q 'not set up' <<<"$out" || fail "the reason shown without the password"
	# Unknown users, an account with the factors, an account without TOTP
	# and an account with nothing to verify it with see the same prompts
	# and the same answer.
	local unknown pending enrolled without
	advance_clock 30
	unknown=$(pam -p 'x' -p '123456' mn-login nosuchuser auth=AUTH_ERR | sed 's/nosuchuser/U/g')
	expect_match "$unknown" 'prompt: Verification code: ' "unknown user prompts"
	ctl user add no.password >/dev/null
	pending=$(pam -p 'x' -p '123456' mn-login no.password auth=AUTH_ERR | sed 's/no.password/U/g')
	expect_eq "$pending" "$unknown" "an account without factors"
	enrolled=$(pam -p 'x' -p '123456' mn-login taro auth=AUTH_ERR | sed 's/taro/U/g')
	expect_eq "$enrolled" "$unknown" "an account with TOTP"
	without=$(pam -p 'x' -p '123456' mn-login jiro auth=AUTH_ERR | sed 's/jiro/U/g')
	expect_eq "$without" "$unknown" "an account without TOTP"
}

t_choice_offered_to_every_name() {
	local out ref
	advance_clock 30
	out=$(pam -e 2 -p 'Sakura-no-Ki-2030' two-ways taro auth=SUCCESS)
	echo "$out"
	expect_match "$out" 'prompt-echo: Choose a method: 1\) password\+totp, 2\) password \[1\]: ' "choice prompt"
	! grep -q 'Verification code' <<<"$out" || fail "asked for TOTP after choosing password"
	# P-INPUT: the default is the service's first set, whatever the name
	# chose before (a remembered default would tell names apart).
	out=$(pam -e 2 -p 'Sakura-no-Ki-2030' two-ways taro auth=SUCCESS)
	expect_match "$out" '\[1\]: ' "the default is the service's"
	# Every name sees the same choice: with TOTP, without, or unknown.
	ref=$(pam -e 1 -p 'x' -p '123456' two-ways taro auth=AUTH_ERR | sed 's/taro/U/g')
	expect_match "$ref" 'Choose a method' "choice with TOTP"
	expect_eq "$(pam -e 1 -p 'x' -p '123456' two-ways jiro auth=AUTH_ERR | sed 's/jiro/U/g')" "$ref" "without TOTP"
	expect_eq "$(pam -e 1 -p 'x' -p '123456' two-ways nosuchuser auth=AUTH_ERR | sed 's/nosuchuser/U/g')" "$ref" \
		"unknown name"
	# An account without TOTP logs in by choosing password.
	pam -e 2 -p 'Ume-no-Hana-2030x' two-ways jiro auth=SUCCESS >/dev/null
}

t_totp_replay_refused() {
	local code out
	advance_clock 30
	: >"$T/incidents"
	code=$(totp_code "$TARO_SECRET")
	pam -p 'Sakura-no-Ki-2030' -p "$code" mn-login taro auth=SUCCESS >/dev/null
	out=$(pam -p 'Sakura-no-Ki-2030' -p "$code" mn-login taro auth=AUTH_ERR)
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'taro' AND reason = 'totp code replayed'")" -ge 1 ] ||
		fail "replay not audited"
	for i in $(seq 1 50); do grep -q '"totp_replay"' "$T/incidents" 2>/dev/null && break; sleep 0.1; done
	grep -q '"totp_replay"' "$T/incidents" || fail "no incident"
	# A code of the step before, already used, stays used.
	advance_clock 30
	pam -p 'Sakura-no-Ki-2030' -p "$code" mn-login taro auth=AUTH_ERR >/dev/null
	pam -p 'Sakura-no-Ki-2030' -p "$(totp_code "$TARO_SECRET")" mn-login taro auth=SUCCESS >/dev/null
}

t_totp_failures_count_toward_lockout() {
	local i
	add_user hanako 'Fuji-no-Yama-2030'
	HANAKO=$(enroll_totp hanako)
	for i in 1 2 3 4; do
		pam -p 'Fuji-no-Yama-2030' -p '111111' mn-login hanako auth=AUTH_ERR >/dev/null
	done
	pam -p 'Fuji-no-Yama-2030' -p '111111' mn-login hanako auth=MAXTRIES >/dev/null
	advance_clock 30
	pam -p 'Fuji-no-Yama-2030' -p "$(totp_code "$HANAKO")" mn-login hanako auth=MAXTRIES >/dev/null
	ctl unlock hanako >/dev/null
}

t_wrong_category_refused_at_start() {
	local conf="$T/bad-mfa.conf" out rc=0
	cat >"$conf" <<CONF
[daemon]
runtime_dir = $T/run-bad
state_dir = $T/state-bad

[system mn]
mynumber = yes

[service mn-weak]
system = mn
require = password+totp, password

[store]
key = $T/state-bad/store.key
audit_key = $T/state-bad/audit.key
CONF
	chmod 644 "$conf"
	out=$("$AUTHD" --config "$conf" --foreground 2>&1) || rc=$?
	echo "$out"
	[ "$rc" -ne 0 ] || fail "started with a one-category set"
	expect_match "$out" 'bad-mfa.conf:10: .*"password" spans one category.*P-MFA-MN' "error"
	# Sets of two categories each are accepted: the daemon loads the
	# configuration and listens.
	sed -i 's/^require = .*/require = password+fido2, card, fingerprint+totp/' "$conf"
	local pid i
	setsid "$AUTHD" --config "$conf" --foreground >"$T/multi.log" 2>&1 &
	pid=$!
	for i in $(seq 1 100); do
		[ -S "$T/run-bad/pam.sock" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	[ -S "$T/run-bad/pam.sock" ] || { cat "$T/multi.log"; kill "$pid" 2>/dev/null; fail "multi-category sets refused"; }
	kill -TERM "$pid"
	wait "$pid" || fail "the daemon with multi-category sets did not stop cleanly"
	! grep -q 'spans one category' "$T/multi.log" || fail "a multi-category set was called one category"
	# Two possession factors are one category; fido2 with totp is not
	# (the key's user verification adds one, checked at each decision:
	# test-fido2.sh).
	sed -i 's/^require = .*/require = totp+password, totp/' "$conf"
	rc=0
	out=$(timeout 10 "$AUTHD" --config "$conf" --foreground 2>&1) || rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "started with a possession-only set"
	expect_match "$out" '"totp" spans one category' "one possession factor is one category"
	sed -i 's/^require = .*/require = card+fingerprint, password+fingerprint/' "$conf"
	rc=0
	out=$(timeout 10 "$AUTHD" --config "$conf" --foreground 2>&1) || rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "started with a fingerprint without possession"
	expect_match "$out" 'bad-mfa.conf:10: .*"password\+fingerprint" has a fingerprint without a possession factor.*P-MFA-MN' \
		"a fingerprint needs a possession factor"
	sed -i '/^require = /d' "$conf"
	rc=0
	out=$("$AUTHD" --config "$conf" --foreground 2>&1) || rc=$?
	[ "$rc" -ne 0 ] || fail "a My Number service without require started"
}

t_remote_login() {
	local out
	advance_clock 30
	out=$(pam -r 203.0.113.5 -p 'Sakura-no-Ki-2030' -p "$(totp_code "$TARO_SECRET")" mn-login taro auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" 'error: Logins from other hosts are not allowed' "refusal"
	! grep -q 'prompt:' <<<"$out" || fail "factors were asked before refusing"
	pam -r 203.0.113.5 -p 'Sakura-no-Ki-2030' -p "$(totp_code "$TARO_SECRET")" mn-remote taro auth=SUCCESS >/dev/null
	advance_clock 30
	pam -r localhost -p 'Sakura-no-Ki-2030' -p "$(totp_code "$TARO_SECRET")" mn-login taro auth=SUCCESS >/dev/null
	# Other systems allow remote logins unless configured.
	pam -r 203.0.113.5 -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS >/dev/null
}

t_access_by_user_and_group() {
	local out
	out=$(pam -p 'Correct-Horse-42' counter-only alice auth=SUCCESS)
	out=$(pam -p 'Ume-no-Hana-2030x' counter-only jiro auth=AUTH_ERR)
	expect_match "$out" 'not permitted to use this service' "refusal"
	# nobody's primary group is nogroup.
	add_user nobody 'Dare-mo-Inai-2030'
	pam -p 'Dare-mo-Inai-2030' counter-only nobody auth=SUCCESS >/dev/null
}

t_step_up_asks_again() {
	local out
	advance_clock 30
	pam -p 'Sakura-no-Ki-2030' -p "$(totp_code "$TARO_SECRET")" mn-login taro auth=SUCCESS open=SUCCESS >/dev/null
	advance_clock 5
	out=$(pam -p 'Sakura-no-Ki-2030' -p '000000' mn-login taro auth=AUTH_ERR)
	expect_match "$out" 'prompt: Verification code: ' "asked again"
}

t_totp_required_at_next_login() {
	local out uri secret
	add_user mika 'Yuzu-no-Kaori-2030'
	ctl totp require mika >/dev/null
	# First run: read the URI, then answer with its code in a second handle.
	cat >"$T/enroll.py" <<'PY'
import json, socket, subprocess, sys
path, user, pw, now, enrol_code = sys.argv[1:6]
s = socket.socket(socket.AF_UNIX); s.connect(path); buf = b""
def call(m):
    global buf
    s.sendall(json.dumps(m).encode() + b"\0")
    while b"\0" not in buf:
        buf += s.recv(65536)
    r, buf = buf.split(b"\0", 1)
    return json.loads(r)
r = call({"method": "io.mamori.Pam.Start", "parameters": {"op": "authenticate", "service": "mamori-test", "user": user}})
r = call({"method": "io.mamori.Pam.Answer", "parameters": {"answers": [pw]}})
prompts = r["parameters"]["prompts"]
if len(prompts) == 1 and prompts[0]["text"].startswith("Enrolment code"):
    print("CODE-PROMPT", prompts[0]["style"])
    r = call({"method": "io.mamori.Pam.Answer", "parameters": {"answers": [enrol_code]}})
    if r["parameters"].get("state") != "prompt":
        print("RESULT", r["parameters"]["result"], r["parameters"].get("messages"))
        sys.exit(0)
    prompts = r["parameters"]["prompts"]
uri = prompts[1]["text"]
secret = uri.split("secret=")[1].split("&")[0]
code = subprocess.check_output(["oathtool", "--totp", "-b", secret, "--now", "@" + now]).decode().strip()
print("URI", uri)
r = call({"method": "io.mamori.Pam.Answer", "parameters": {"answers": [None, None, code]}})
print("RESULT", r["parameters"]["result"])
PY
	# P-MFA-ALL: the password alone does not bind the first authenticator.
	out=$(/usr/bin/python3 "$T/enroll.py" "$T/run/pam.sock" mika 'Yuzu-no-Kaori-2030' "$(cat "$T/clock")" '')
	echo "$out"
	expect_match "$out" 'CODE-PROMPT echo_off' "enrolment code asked"
	expect_match "$out" 'RESULT auth_err' "refused without a code"
	out=$(/usr/bin/python3 "$T/enroll.py" "$T/run/pam.sock" mika 'Yuzu-no-Kaori-2030' "$(cat "$T/clock")" \
		"$(ctl totp enroll-code mika | tail -n 1)")
	echo "$out"
	expect_match "$out" 'URI otpauth://totp/mamori:mika\?secret=' "otpauth URI"
	expect_match "$out" 'RESULT success' "enrolment"
	expect_eq "$(ctl --json user show mika | json '"totp" in d["user"]["factors"]')" True "factor listed"
	expect_eq "$(ctl --json user show mika | json 'd["user"]["totp_required"]')" False "requirement cleared"
}

t_self_service_enrolment() {
	local out
	add_user kenji 'Kaki-no-Tane-2030'
	cat >"$T/self.py" <<'PY'
import json, socket, subprocess, sys
path, user, pw, now = sys.argv[1:5]
s = socket.socket(socket.AF_UNIX); s.connect(path); buf = b""
def call(m):
    global buf
    s.sendall(json.dumps(m).encode() + b"\0")
    while b"\0" not in buf:
        buf += s.recv(65536)
    r, buf = buf.split(b"\0", 1)
    return json.loads(r)
enrol_code = sys.argv[5] if len(sys.argv) > 5 else None
r = call({"method": "io.mamori.Pam.Start", "parameters": {"op": "totp_enroll", "service": "mamori-test", "user": user}})
print("PROMPT", r["parameters"]["prompts"][0]["text"])
r = call({"method": "io.mamori.Pam.Answer", "parameters": {"answers": [pw]}})
p = r["parameters"]
if p.get("state") != "prompt":
    print("RESULT", p.get("result")); sys.exit(0)
if enrol_code is not None and len(p["prompts"]) == 1 and p["prompts"][0]["text"].startswith("Enrolment code"):
    print("CODE-PROMPT", p["prompts"][0]["style"])
    r = call({"method": "io.mamori.Pam.Answer", "parameters": {"answers": [enrol_code]}})
    p = r["parameters"]
    if p.get("state") != "prompt":
        print("RESULT", p.get("result"), p.get("messages")); sys.exit(0)
if len(p["prompts"]) == 1:
    print("NEXT", p["prompts"][0]["text"]); sys.exit(0)
uri = p["prompts"][1]["text"]
secret = uri.split("secret=")[1].split("&")[0]
code = subprocess.check_output(["oathtool", "--totp", "-b", secret, "--now", "@" + now]).decode().strip()
r = call({"method": "io.mamori.Pam.Answer", "parameters": {"answers": [None, None, code]}})
print("RESULT", r["parameters"]["result"])
PY
	out=$(/usr/bin/python3 "$T/self.py" "$T/run/pam.sock" kenji 'wrong-password' "$(cat "$T/clock")")
	expect_match "$out" 'RESULT auth_err' "enrolment needs the current factors"
	out=$(/usr/bin/python3 "$T/self.py" "$T/run/pam.sock" kenji 'Kaki-no-Tane-2030' "$(cat "$T/clock")" \
		"$(ctl totp enroll-code kenji | tail -n 1)")
	echo "$out"
	expect_match "$out" 'RESULT success' "self-service enrolment"
	expect_eq "$(ctl --json user show kenji | json '"totp" in d["user"]["factors"]')" True "factor listed"
	# Replacing it needs the current code, not the password alone.
	advance_clock 30
	out=$(/usr/bin/python3 "$T/self.py" "$T/run/pam.sock" kenji 'Kaki-no-Tane-2030' "$(cat "$T/clock")")
	expect_match "$out" 'PROMPT Password: ' "password first"
	expect_match "$out" 'NEXT Verification code: ' "then the current code"
	# A password that must change does not enrol anything.
	local temp
	ctl user add shin >/dev/null
	temp=$(ctl password temp shin | tail -n 1)
	out=$(/usr/bin/python3 "$T/self.py" "$T/run/pam.sock" shin "$temp" "$(cat "$T/clock")")
	expect_match "$out" 'RESULT auth_err' "temporary password"
}

# totp_rows NAME: the TOTP factors of NAME (not revoked), id:active.
totp_rows() {
	sql "SELECT $(sql_group_concat "t.id || ':' || CASE WHEN t.state = 'active' THEN 1 ELSE 0 END") FROM credentials t JOIN users u ON u.id = t.user_id
		WHERE u.name = '$1' AND t.factor = 'totp' AND t.state <> 'revoked'"
}

t_first_enrolment_needs_a_code() {
	local out code1 code2 code3 wrong
	add_user nao 'Nashi-no-Hana-2030'
	# The password alone no longer binds the first authenticator.
	out=$(/usr/bin/python3 "$T/self.py" "$T/run/pam.sock" nao 'Nashi-no-Hana-2030' "$(cat "$T/clock")" '')
	echo "$out"
	expect_match "$out" 'CODE-PROMPT echo_off' "enrolment code asked after the password"
	expect_match "$out" 'RESULT auth_err .*enrolment code is not correct or has expired' "no code"
	expect_eq "$(totp_rows nao)" "" "nothing bound without a code"
	expect_eq "$(sql "SELECT result || ': ' || reason FROM audit WHERE category = 'enroll' AND \"user\" = 'nao'
		ORDER BY id DESC LIMIT 1")" "auth_err: totp enrolment refused: no valid enrolment code" "refusal audited"
	# An administrator issues a code: single use, stored as a digest only.
	code1=$(ctl totp enroll-code nao | tail -n 1)
	expect_match "$code1" '^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$' "code format"
	expect_eq "$(sql "SELECT actor || ' ' || reason FROM audit WHERE category = 'admin' AND \"user\" = 'nao'
		ORDER BY id DESC LIMIT 1")" "root totp enroll-code" "issue audited"
	expect_eq "$(sql "SELECT length(digest) FROM enroll_codes e JOIN users u ON u.id = e.user_id
		WHERE u.name = 'nao'")" 32 "digest stored"
	expect_not_in_store "the enrolment code" "$code1" "$(echo "$code1" | tr -d -)"
	wrong=$(echo "$code1" | tr 'A-Z2-7' 'B-Z2-7A')
	out=$(/usr/bin/python3 "$T/self.py" "$T/run/pam.sock" nao 'Nashi-no-Hana-2030' "$(cat "$T/clock")" "$wrong")
	expect_match "$out" 'RESULT auth_err' "a wrong code"
	# Typed in lower case without dashes, it binds the authenticator.
	out=$(/usr/bin/python3 "$T/self.py" "$T/run/pam.sock" nao 'Nashi-no-Hana-2030' "$(cat "$T/clock")" \
		"$(echo "$code1" | tr -d - | tr 'A-Z' 'a-z')")
	echo "$out"
	expect_match "$out" 'RESULT success' "enrolment with the code"
	expect_match "$(totp_rows nao)" '^[0-9]+:1$' "factor active"
	expect_eq "$(sql "SELECT reason FROM audit WHERE category = 'enroll' AND \"user\" = 'nao' ORDER BY id DESC LIMIT 1")" \
		"totp enrolled with an enrolment code" "enrolment audited"
	# Used once: with the factor gone, the same code binds nothing.
	ctl totp remove nao >/dev/null
	out=$(/usr/bin/python3 "$T/self.py" "$T/run/pam.sock" nao 'Nashi-no-Hana-2030' "$(cat "$T/clock")" "$code1")
	expect_match "$out" 'RESULT auth_err' "a used code"
	expect_eq "$(totp_rows nao)" "" "nothing bound with a used code"
	# A code expires after [totp] enroll_code_lifetime (a day by default).
	code2=$(ctl totp enroll-code nao | tail -n 1)
	advance_clock 86400
	out=$(/usr/bin/python3 "$T/self.py" "$T/run/pam.sock" nao 'Nashi-no-Hana-2030' "$(cat "$T/clock")" "$code2")
	expect_match "$out" 'RESULT auth_err' "an expired code"
	code3=$(ctl totp enroll-code nao | tail -n 1)
	advance_clock 86399
	out=$(/usr/bin/python3 "$T/self.py" "$T/run/pam.sock" nao 'Nashi-no-Hana-2030' "$(cat "$T/clock")" "$code3")
	expect_match "$out" 'RESULT success' "a code just before it expires"
	expect_eq "$(sql "SELECT count(*) FROM enroll_codes")" 0 "codes used up"
}

t_totp_secret_sealed() {
	# P-CRED-STORE: the store holds the secret only sealed.
	local b32hex
	b32hex=$(/usr/bin/python3 -c "import base64,sys; s=sys.argv[1]; print(base64.b32decode(s + '=' * (-len(s) % 8)).hex())" "$TARO_SECRET")
	expect_not_in_store "the TOTP secret" "$TARO_SECRET" "hex:$b32hex"
	expect_eq "$(stat -c %a "$T/state/store.key")" 600 "key mode"
}

# P-LOGIN-UI, P-AUDIT: a conversation that ends at the second prompt, with
# no decision, is a failure of the name tried: counted and audited.
t_abandoned_conversation_counts() {
	local out start pw i
	add_user hanzo 'Kusunoki-no-Ha-2030'
	enroll_totp hanzo >/dev/null
	start='{"method":"io.mamori.Pam.Start","parameters":{"op":"authenticate","service":"mn-login","user":"hanzo"}}'
	pw='{"method":"io.mamori.Pam.Answer","parameters":{"answers":["Kusunoki-no-Ha-2030"]}}'
	hanzo_failed() { ctl user show hanzo | sed -n 's/^ *failed attempts: *//p'; }
	expect_eq "$(hanzo_failed)" 0 "no failure yet"
	# The client hangs up at the code prompt, after a right password.
	out=$($RAW "$T/run/pam.sock" "$start" "$pw")
	echo "$out"
	expect_match "$out" 'Verification code' "second prompt reached"
	expect_match "$out" 'CLOSED' "client hung up"
	for i in $(seq 1 50); do [ "$(hanzo_failed)" = 1 ] && break; sleep 0.1; done
	expect_eq "$(hanzo_failed)" 1 "abandonment counted"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'hanzo' AND category = 'auth' AND result = 'auth_err' AND reason = 'abandoned after factor 1'")" 1 "abandonment audited"
	# A new Start on the same connection abandons the first conversation.
	out=$($RAW "$T/run/pam.sock" "$start" "$pw" "$start")
	echo "$out"
	expect_match "$out" 'OutOfOrder' "second Start refused"
	for i in $(seq 1 50); do [ "$(hanzo_failed)" = 2 ] && break; sleep 0.1; done
	expect_eq "$(hanzo_failed)" 2 "second abandonment counted"
	# A wrong password then a hang-up counts once, like the right one.
	out=$($RAW "$T/run/pam.sock" "$start" '{"method":"io.mamori.Pam.Answer","parameters":{"answers":["wrong"]}}')
	for i in $(seq 1 50); do [ "$(hanzo_failed)" = 3 ] && break; sleep 0.1; done
	expect_eq "$(hanzo_failed)" 3 "wrong password abandoned counted"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'hanzo' AND reason = 'abandoned after factor 1'")" 3 "every abandonment audited"
	# Hanging up at the first prompt tested nothing: not counted.
	$RAW "$T/run/pam.sock" "$start" >/dev/null
	sleep 0.5
	expect_eq "$(hanzo_failed)" 3 "nothing answered, nothing counted"
	# A client that stays silent at the code prompt past idle_timeout.
	sed -i 's/^idle_timeout = .*/idle_timeout = 2/' "$T/mamori.conf"
	kill -HUP "$(cat "$T/daemon.pid")"
	sleep 0.5
	$RAW "$T/run/pam.sock" --hold 4 "$start" "$pw" >/dev/null
	for i in $(seq 1 50); do [ "$(hanzo_failed)" = 4 ] && break; sleep 0.1; done
	expect_eq "$(hanzo_failed)" 4 "idle timeout counted"
	sed -i 's/^idle_timeout = .*/idle_timeout = 30/' "$T/mamori.conf"
	kill -HUP "$(cat "$T/daemon.pid")"
	# The daemon stopping while a conversation waits at the code prompt.
	$RAW "$T/run/pam.sock" --hold 5 "$start" "$pw" >"$T/held.out" 2>&1 &
	for i in $(seq 1 50); do grep -q 'Verification code' "$T/held.out" && break; sleep 0.1; done
	stop_daemon
	wait
	start_daemon
	# The fifth failure locks the name (lockout_threshold 5).
	expect_eq "$(ctl --json user show hanzo | json 'd["user"]["locked"]')" True "daemon stop counted: locked"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'hanzo' AND reason = 'abandoned after factor 1'")" 5 "all five audited"
	expect_eq "$(sql "SELECT result FROM audit WHERE \"user\" = 'hanzo' ORDER BY id DESC LIMIT 1")" maxtries "the locking one"
	ctl unlock hanzo >/dev/null
	# An answer refused as invalid ends the conversation too: too_long at a
	# login prompt (only a password change takes it), or not a boolean.
	out=$($RAW "$T/run/pam.sock" "$start" "$pw" \
		'{"method":"io.mamori.Pam.Answer","parameters":{"answers":[""],"too_long":true}}')
	expect_match "$out" 'InvalidParameter' "too_long at a login prompt"
	for i in $(seq 1 50); do [ "$(hanzo_failed)" = 1 ] && break; sleep 0.1; done
	expect_eq "$(hanzo_failed)" 1 "too_long at the code prompt counted"
	out=$($RAW "$T/run/pam.sock" "$start" "$pw" \
		'{"method":"io.mamori.Pam.Answer","parameters":{"answers":["123456"],"too_long":"no"}}')
	expect_match "$out" 'InvalidParameter' "too_long not a boolean"
	for i in $(seq 1 50); do [ "$(hanzo_failed)" = 2 ] && break; sleep 0.1; done
	expect_eq "$(hanzo_failed)" 2 "an invalid too_long at the code prompt counted"
	ctl unlock hanzo >/dev/null
	ctl audit verify >/dev/null
}

run_test "P-MFA-MN a My Number service accepts password and TOTP" t_mynumber_password_and_totp
run_test "P-MFA-MN password alone is refused; every factor is asked" t_mynumber_password_alone_refused
run_test "P-MFA-MN P-INPUT a user without a second factor is asked every factor, then refused with the reason" \
	t_no_second_factor_refused_with_reason
run_test "P-MFA-ALL P-INPUT two acceptable sets: the same choice for every name" t_choice_offered_to_every_name
run_test "P-CRED-STORE P-INCIDENT a TOTP code is never accepted twice" t_totp_replay_refused
run_test "P-LOGIN-UI TOTP failures count toward the lockout" t_totp_failures_count_toward_lockout
run_test "P-MFA-MN a one-category set, or a fingerprint without possession, on a My Number system stops start-up" t_wrong_category_refused_at_start
run_test "P-REMOTE remote logins refused on My Number services unless permitted" t_remote_login
run_test "P-ACCESS who may use a service, by user and group" t_access_by_user_and_group
run_test "P-MFA-MN step-up: factors are asked again at every authentication" t_step_up_asks_again
run_test "P-MFA-ALL an administrator requires TOTP enrolment at next login" t_totp_required_at_next_login
run_test "P-MFA-ALL self-service TOTP enrolment after authenticating" t_self_service_enrolment
run_test "P-MFA-ALL the first TOTP self-enrolment needs a one-time enrolment code" t_first_enrolment_needs_a_code
run_test "P-CRED-STORE TOTP secrets are sealed; the key file is 0600" t_totp_secret_sealed
run_test "P-LOGIN-UI P-AUDIT a conversation abandoned at the second prompt counts as a failure and is audited" \
	t_abandoned_conversation_counts
tap_done
