#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The fingerprint factor through real PAM (pam_wrapper + pam_client): the
# real fprintd with libfprint's virtual device and a polkit mock on a
# private system bus (fprint_lib.sh), prints enrolled with fprintd's own
# Enroll calls, approvals given with `mamorictl finger allow`; and the set
# card+fingerprint on a My Number service, with a real pcscd and the
# suite's virtual cards (card_lib.sh), and fido2+fingerprint with the
# suite's software authenticator (softkey_lib.sh) and the real
# mamori-fido2-helper.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/card_lib.sh"
. "$(dirname "$0")/fprint_lib.sh"
. "$(dirname "$0")/softkey_lib.sh"

require "root" test "$(id -u)" = 0
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "python3" test -x /usr/bin/python3
fprint_require
card_require
require_test_hooks "needs the test clock"

HELPER="$top_builddir/authd/card/mamori-card-helper"
require "the card helper" test -x "$HELPER"
FIDO2_HELPER="$top_builddir/authd/fido2/mamori-fido2-helper"
require "the fido2 helper" test -x "$FIDO2_HELPER"
require "python3-cbor2" /usr/bin/python3 -c "import cbor2, cryptography"
FIDO2_GROUP=$(getent group nogroup >/dev/null && echo nogroup || echo nobody)

EXTRA_CONF="[system mn]
mynumber = yes

[service finger-login]
require = fingerprint

[service mn-card-finger]
system = mn
require = card+fingerprint
rhost_empty = local

[service mn-fido2-finger]
system = mn
require = fido2+fingerprint
rhost_empty = local

[fido2]
rp_id = mamori.example
wait = 3
helper = $FIDO2_HELPER
helper_user = nobody
helper_group = $FIDO2_GROUP

[fingerprint]
timeout = 5

[card]
wait = 3
helper = $HELPER
helper_user = nobody

[policy staff]
min_age_days = 0

[daemon]
rate_limit = 1000"
new_env
cp "$HELPER" "$T/mamori-card-helper"
chmod 755 "$T/mamori-card-helper"
sed -i "s|^helper = $HELPER\$|helper = $T/mamori-card-helper|" "$T/mamori.conf"
cp "$FIDO2_HELPER" "$T/mamori-fido2-helper"
chmod 755 "$T/mamori-fido2-helper"
sed -i "s|^helper = $FIDO2_HELPER\$|helper = $T/mamori-fido2-helper|" "$T/mamori.conf"
for s in finger-login mn-card-finger mn-fido2-finger; do make_service "$s"; done

mkdir -p "$T/locale/ja/LC_MESSAGES"
msgfmt --check -o "$T/locale/ja/LC_MESSAGES/mamori.mo" "$top_srcdir/po/ja.po" ||
	{ echo "Bail out! po/ja.po does not compile"; exit 1; }
chmod -R a+rX "$T/locale"
export MAMORI_TEST_LOCALEDIR="$T/locale"

fprint_start || { echo "Bail out! fprintd did not start"; exit 1; }
pcscd_start || { echo "Bail out! pcscd did not start"; exit 1; }
FIDO2_PIN=4321
softkey_start k1 --pin "$FIDO2_PIN" || { echo "Bail out! the software key did not start"; exit 1; }
export MAMORI_TEST_FIDO2_DEVICES="$(softkey_sock k1)"
# The daemon inherits DBUS_SYSTEM_BUS_ADDRESS: it reaches fprintd there.
LANG=C LC_ALL=C start_daemon || { echo "Bail out! daemon did not start"; cat "$T/daemon.log"; exit 1; }
set_clock $(($(date +%s) + 600))

PIV_PIN=123456
add_user taro 'Sakura-no-Ki-2030'
add_user hanako 'Ume-no-Hana-2030x'
add_user jiro 'Matsu-no-Ki-2030y'
add_user ume 'Kiri-no-Hana-2030z'
# Prints in fprintd: taro 1, jiro 3, ume 4; hanako has none.
fprint_enroll taro 1 || { echo "Bail out! enrolment in fprintd failed"; cat "$FP_DIR/fprintd.log"; exit 1; }
fprint_enroll jiro 3 || { echo "Bail out! enrolment in fprintd failed"; exit 1; }
fprint_enroll ume 4 || { echo "Bail out! enrolment in fprintd failed"; exit 1; }
# Approved: taro, hanako, ume; jiro is not.
for u in taro hanako ume; do ctl finger allow "$u" >/dev/null || { echo "Bail out! finger allow $u"; exit 1; }; done

# finger USER SERVICE OPS... with the commands CMDS (a variable) sent to the
# device as it waits for a finger; prints pam_client's output.
FP_CMDS=""
finger() {
	local sender="" out rc=0
	if [ -n "$FP_CMDS" ]; then
		fprint_send "$FP_CMDS" >"$T/send.out" 2>&1 &
		sender=$!
	fi
	out=$(pam "$@") || rc=$?
	[ -z "$sender" ] || wait "$sender" || { cat "$T/send.out"; echo "the device was never asked for a finger"; }
	echo "$out"
	return "$rc"
}

jget() { # EXPR: a field of the JSON on stdin, e.g. "['approvals'][0]['state']"
	/usr/bin/python3 -c "import json, sys; print(json.load(sys.stdin)$1)"
}

audit_reason() { # USER SERVICE: the reason of USER's last auth row on SERVICE
	sql "SELECT reason FROM audit WHERE \"user\" = '$1' AND service = '$2' AND category = 'auth' ORDER BY id DESC LIMIT 1"
}

t_matching_finger() {
	local out
	out=$(FP_CMDS="SCAN 1" finger finger-login taro auth=SUCCESS acct=SUCCESS)
	echo "$out"
	expect_match "$out" '^info: Place your finger on the reader\.$' "the prompt"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'taro' AND service = 'finger-login' AND result = 'success' AND detail LIKE '%\"factors\":[\"fingerprint\"]%'")" -ge 1 ] ||
		fail "the audit row does not record the fingerprint"
	[ "$(sql "SELECT last_used_at FROM credentials WHERE factor = 'fingerprint' AND state = 'active' AND user_id = (SELECT id FROM users WHERE name = 'taro')")" -gt 0 ] ||
		fail "the use is not recorded"
}

t_non_matching_finger() {
	local out
	out=$(FP_CMDS="SCAN 4" finger finger-login taro auth=AUTH_ERR)
	echo "$out"
	expect_eq "$(audit_reason taro finger-login)" "wrong fingerprint" "audit reason"
}

t_retry_messages() {
	local out
	# libfprint's FpDeviceRetry: 1 too short, 2 not centred, 0 general, 3 remove.
	out=$(FP_CMDS="RETRY 1|RETRY 2|SCAN 1" finger finger-login taro auth=SUCCESS)
	echo "$out"
	expect_match "$out" '^error: The swipe was too short\. Swipe your finger again\.$' "too short"
	expect_match "$out" '^error: Your finger was not in the middle of the reader\. Place it again\.$' "not centred"
	out=$(FP_CMDS="RETRY 0|RETRY 3|SCAN 1" finger finger-login taro auth=SUCCESS)
	echo "$out"
	expect_match "$out" '^error: The reader could not read your finger\. Place it on the reader again\.$' "general"
	expect_match "$out" '^error: Lift your finger, then place it on the reader again\.$' "remove"
}

t_retry_in_japanese() {
	local out
	out=$(FP_CMDS="RETRY 1|SCAN 1" LANG=ja_JP.UTF-8 LC_ALL=ja_JP.UTF-8 finger finger-login taro auth=SUCCESS)
	echo "$out"
	expect_match "$out" '^info: 指を読み取り装置に置いてください。$' "the prompt in Japanese"
	expect_match "$out" '^error: 指の動きが短すぎました。' "the retry in Japanese"
}

t_device_disappears() {
	local out
	# FpDeviceError 5 (PROTO): fprintd's verify-disconnected, the reader
	# gone while it waited for a finger.
	out=$(FP_CMDS="ERROR 5" finger finger-login taro auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" '^error: The fingerprint reader was disconnected\.$' "disconnected"
	# fprintd without its reader: the same message for every name.
	fprintd_kill
	out=$(finger finger-login taro auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" '^error: No fingerprint reader is available\. Contact your administrator\.$' "no reader"
	local unknown
	unknown=$(finger finger-login nosuchuser auth=AUTH_ERR | sed 's/nosuchuser/U/g')
	expect_eq "$unknown" "$(sed 's/taro/U/g' <<<"$out")" "an unknown name without a reader"
	fprintd_run
	out=$(FP_CMDS="SCAN 1" finger finger-login taro auth=SUCCESS)
	echo "$out"
}

t_no_enrolled_print() {
	local out
	out=$(finger finger-login hanako auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" '^info: Place your finger on the reader\.$' "the prompt"
	expect_eq "$(audit_reason hanako finger-login)" "wrong fingerprint" "audit reason"
	grep -q 'fingerprint of hanako: NoEnrolledPrints' "$T/daemon.log" || fail "the log does not say why"
}

t_not_approved_refused() {
	local out
	out=$(FP_CMDS="SCAN 3" finger finger-login jiro auth=AUTH_ERR)
	echo "$out"
	grep -q 'fingerprint of jiro matched, but is not approved' "$T/daemon.log" || fail "the log does not say why"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'jiro' AND service = 'finger-login' AND result <> 'success' AND category = 'auth'")" -ge 1 ] ||
		fail "not audited"
}

t_unknown_noprint_unapproved_see_the_same() {
	local unknown noprint unapproved
	unknown=$(finger finger-login nosuchuser auth=AUTH_ERR | sed 's/nosuchuser/U/g')
	echo "$unknown"
	noprint=$(finger finger-login hanako auth=AUTH_ERR | sed 's/hanako/U/g')
	expect_eq "$noprint" "$unknown" "a name with no print in fprintd"
	unapproved=$(FP_CMDS="SCAN 3" finger finger-login jiro auth=AUTH_ERR | sed 's/jiro/U/g')
	expect_eq "$unapproved" "$unknown" "a name whose print is not approved"
	wrong=$(FP_CMDS="SCAN 3" finger finger-login taro auth=AUTH_ERR | sed 's/taro/U/g')
	expect_eq "$wrong" "$unknown" "a name whose finger did not match"
}

t_cli_allow_list_revoke() {
	local out
	out=$(ctl finger list)
	echo "$out"
	expect_match "$out" 'APPROVED-BY' "table header"
	expect_match "$out" 'taro +active' "taro's approval"
	! grep -q 'jiro' <<<"$out" || fail "jiro is listed"
	out=$(ctl --json finger list taro)
	echo "$out"
	[ "$(jget "['approvals'][0]['state']" <<<"$out")" = active ] || fail "json state"
	[ "$(jget "['approvals'][0]['approved_by']" <<<"$out")" = root ] || fail "json approved_by"
	# Approving twice is refused.
	rc=0
	ctl finger allow taro >/dev/null 2>&1 || rc=$?
	[ "$rc" -ne 0 ] || fail "a second approval was accepted"
	out=$(ctl finger allow jiro)
	expect_match "$out" 'fingerprint of jiro approved for login \(by root\)' "allow"
	out=$(FP_CMDS="SCAN 3" finger finger-login jiro auth=SUCCESS)
	out=$(ctl finger revoke jiro --reason 'left the office')
	expect_match "$out" '1 fingerprint approval\(s\) of jiro revoked' "revoke"
	out=$(ctl --json finger list jiro --revoked)
	echo "$out"
	[ "$(jget "['approvals'][0]['reason']" <<<"$out")" = "left the office" ] || fail "reason"
	[ "$(jget "['approvals'][0]['revoked_by']" <<<"$out")" = root ] || fail "revoked_by"
	[ "$(sql "SELECT count(*) FROM audit WHERE category = 'admin' AND \"user\" = 'jiro' AND reason = 'fingerprint revoke'")" = 1 ] ||
		fail "revocation not audited"
	[ "$(sql "SELECT count(*) FROM audit WHERE category = 'admin' AND \"user\" = 'jiro' AND reason = 'fingerprint allow'")" = 1 ] ||
		fail "approval not audited"
	out=$(FP_CMDS="SCAN 3" finger finger-login jiro auth=AUTH_ERR)
	rc=0
	ctl finger revoke jiro >/dev/null 2>&1 || rc=$?
	[ "$rc" -ne 0 ] || fail "revoking nothing succeeded"
}

# P-MFA-MN: card (possession + knowledge) and fingerprint (inherence).
card_start taro-piv --profile piv --key rsa2048 --pin "$PIV_PIN" ||
	{ echo "Bail out! the card did not start"; exit 1; }
ctl card enroll taro >/dev/null || { echo "Bail out! card enroll"; exit 1; }

t_card_and_fingerprint_on_mynumber() {
	local out
	out=$(FP_CMDS="SCAN 1" finger -p "$PIV_PIN" mn-card-finger taro auth=SUCCESS acct=SUCCESS)
	echo "$out"
	expect_match "$out" '^info: Insert your card\.$' "the card first"
	expect_match "$out" '^info: Place your finger on the reader\.$' "then the finger"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'taro' AND service = 'mn-card-finger' AND result = 'success' AND detail LIKE '%\"factors\":[\"card\",\"fingerprint\"]%'")" -ge 1 ] ||
		fail "the audit row does not record both"
	# Another finger with the right card fails.
	out=$(FP_CMDS="SCAN 4" finger -p "$PIV_PIN" mn-card-finger taro auth=AUTH_ERR)
	echo "$out"
	expect_eq "$(audit_reason taro mn-card-finger)" "wrong fingerprint" "audit reason"
}

t_fido2_and_fingerprint_on_mynumber() {
	local out
	out=$(echo "$FIDO2_PIN" | ctl fido2 enroll taro --label blue --pin-stdin) || fail "fido2 enroll: $out"
	out=$(FP_CMDS="SCAN 1" finger -p "$FIDO2_PIN" mn-fido2-finger taro auth=SUCCESS acct=SUCCESS)
	echo "$out"
	expect_match "$out" '^info: Touch your security key\.$' "the key first"
	expect_match "$out" '^info: Place your finger on the reader\.$' "then the finger"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'taro' AND service = 'mn-fido2-finger' AND result = 'success' AND detail LIKE '%\"factors\":[\"fido2\",\"fingerprint\"]%'")" -ge 1 ] ||
		fail "the audit row does not record both"
	# The right key with another finger fails.
	out=$(FP_CMDS="SCAN 4" finger -p "$FIDO2_PIN" mn-fido2-finger taro auth=AUTH_ERR)
	echo "$out"
	expect_eq "$(audit_reason taro mn-fido2-finger)" "wrong fingerprint" "audit reason"
}

t_P_MFA_MN_fingerprint_needs_possession() {
	local conf="$T/bad.conf" out rc=0
	sed 's/^require = card+fingerprint$/require = password+fingerprint/' "$T/mamori.conf" >"$conf"
	sed -i "s|^runtime_dir = .*|runtime_dir = $T/run-bad|" "$conf"
	out=$("$AUTHD" --config "$conf" --foreground 2>&1) || rc=$?
	echo "$out"
	[ "$rc" -ne 0 ] || fail "started with password+fingerprint on a My Number service"
	expect_match "$out" 'bad.conf:[0-9]+: .*"password\+fingerprint" has a fingerprint without a possession factor' \
		"FILE:LINE"
}

run_test "fingerprint: a matching finger logs in, the use is recorded" t_matching_finger
run_test "fingerprint: a finger that does not match fails" t_non_matching_finger
run_test "fingerprint: retries are told (too short, off centre, remove, again) while the scan goes on" \
	t_retry_messages
run_test "fingerprint: the prompt and the retries in Japanese" t_retry_in_japanese
run_test "fingerprint: a reader that disappears fails with a message; fprintd without a reader" t_device_disappears
run_test "fingerprint: no print enrolled in fprintd fails" t_no_enrolled_print
run_test "fingerprint: a matching finger of a person not approved is refused" t_not_approved_refused
run_test "P-INPUT fingerprint: unknown names, names without a print, not approved or not matching see the same" \
	t_unknown_noprint_unapproved_see_the_same
run_test "fingerprint: mamorictl finger allow, list, revoke (audited)" t_cli_allow_list_revoke
run_test "P-MFA-MN fingerprint: card+fingerprint on a My Number service" t_card_and_fingerprint_on_mynumber
run_test "P-MFA-MN fingerprint: fido2+fingerprint on a My Number service" t_fido2_and_fingerprint_on_mynumber
run_test "P-MFA-MN fingerprint: a My Number set with a fingerprint and no possession factor does not start" \
	t_P_MFA_MN_fingerprint_needs_possession
card_cleanup
softkey_cleanup
fprint_stop
tap_done
