#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# mamorictl factor and enroll-code: the command line, what each command
# sends and how it reads the replies (good and malformed), against a
# scripted admin socket (fake_admin.py); then, when the daemon has the
# generic factor calls, end to end against it.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "mamorictl" test -x "$CTL"
require "python3" test -x /usr/bin/python3
require "oathtool" command -v oathtool

FAKE="/usr/bin/python3 $top_srcdir/tests/integration/fake_admin.py"

new_env
start_daemon || { echo "Bail out! daemon did not start"; exit 1; }

URI='otpauth://totp/mamori:alice?secret=JBSWY3DPEHPK3PXP&issuer=mamori&algorithm=SHA1&digits=6&period=30'
ALICE='{"parameters": {"user": {"name": "alice", "factors": ["password", "totp"]}}}'

# fake SCRIPT: serve SCRIPT (JSON: method -> replies) on $T/fake.sock;
# the calls received go to $T/calls, one JSON line each.
fake() {
	fake_stop
	printf '%s' "$1" >"$T/script.json"
	: >"$T/calls"
	$FAKE "$T/fake.sock" "$T/script.json" "$T/calls" 2>>"$T/fake.log" &
	echo $! >"$T/fake.pid"
	local i
	for i in $(seq 1 100); do
		[ -S "$T/fake.sock" ] && return 0
		sleep 0.05
	done
	fail "the scripted admin socket did not start"
}

fake_stop() {
	if [ -f "$T/fake.pid" ]; then
		kill "$(cat "$T/fake.pid")" 2>/dev/null || true
		wait "$(cat "$T/fake.pid")" 2>/dev/null || true
		rm -f "$T/fake.pid" "$T/fake.sock"
	fi
}

fctl() { "$CTL" --socket "$T/fake.sock" "$@"; }

# call N EXPR: EXPR of the Nth call received (1 is the first), as d.
call() { sed -n "${1}p" "$T/calls" | json "$2"; }

# usage ARGS...: exit status 2, one error line, nothing sent.
usage() {
	local rc=0
	fctl "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	expect_eq "$rc" 2 "$*: exit status"
	expect_eq "$(wc -l <"$T/err")" 1 "$*: one error line"
	[ ! -s "$T/out" ] || fail "$*: output on a usage error"
	expect_eq "$(wc -l <"$T/calls")" 0 "$*: nothing sent"
}

t_usage_errors() {
	fake '{}'
	usage factor
	usage factor frobnicate alice
	usage factor enroll alice
	usage factor enroll --factor totp
	usage factor enroll alice --factor TOTP
	usage factor enroll alice --factor 'totp;rm'
	usage factor enroll alice --factor "$(printf 'x%.0s' $(seq 1 33))"
	usage factor enroll 'bad/name' --factor totp
	usage factor enroll alice bob --factor totp
	usage factor enroll alice --factor totp --label ''
	usage factor enroll alice --factor totp --label "$(printf 'a\tb')"
	usage factor enroll alice --factor totp --reason x
	usage factor confirm alice --factor totp
	usage factor confirm alice --factor totp abc\ def\ ghi\ "$(printf 'x%.0s' $(seq 1 300))"
	usage factor confirm alice --factor totp '   '
	usage factor confirm alice --factor totp "$(printf '12\t34')"
	usage factor confirm alice 123456
	usage factor list alice
	usage factor list --user 'no/such'
	usage factor list --label x
	usage factor revoke alice --factor totp
	usage factor revoke alice --factor totp --reason ''
	usage factor revoke alice --factor totp --reason lost --id 0
	usage factor revoke alice --factor totp --reason lost --id x1
	usage factor revoke alice --reason lost
	usage factor require alice
	usage factor require alice --factor totp --no-qr
	usage enroll-code
	usage enroll-code alice bob
	usage enroll-code --factor totp alice
	# The code is a secret until used: never in the error line.
	fctl factor confirm alice --factor totp 'sec ret!'"$(printf '\001')" 2>"$T/err" || true
	! grep -q 'ret' "$T/err" || fail "the code was shown"
}

t_enroll_shows_the_handover() {
	fake '{"io.mamori.Admin.FactorEnroll": [{"parameters": {"id": 7, "factor": "totp", "label": "phone",
		"uri": "'"$URI"'", "secret": "JBSWY3DPEHPK3PXP", "algorithm": "SHA1", "digits": 6, "period": 30}}]}'
	fctl factor enroll alice --factor totp --label phone >"$T/out"
	cat "$T/out"
	expect_eq "$(call 1 'd["method"]')" io.mamori.Admin.FactorEnroll "method"
	expect_eq "$(call 1 'sorted(d["parameters"].items())')" "[('factor', 'totp'), ('label', 'phone'), ('name', 'alice')]" \
		"parameters"
	expect_match "$(head -n 1 "$T/out")" '^New totp credential 7 for alice, label "phone" \(pending until confirmed\):$' \
		"heading"
	grep -qxF "uri:       $URI" "$T/out" || fail "no URI line"
	grep -qx 'secret:    JBSWY3DPEHPK3PXP' "$T/out" || fail "no secret line"
	grep -qx 'period:    30 seconds' "$T/out" || fail "no period line"
	grep -q '█' "$T/out" || fail "no QR code"
	expect_eq "$(tail -n 1 "$T/out")" "Confirm it with: mamorictl factor confirm alice --factor totp CODE" "last line"
	# Without a label, without the QR code.
	fctl factor enroll alice --factor totp --no-qr >"$T/out"
	expect_eq "$(call 2 'sorted(d["parameters"])')" "['factor', 'name']" "no label sent"
	! grep -q '█' "$T/out" || fail "QR code drawn with --no-qr"
	# --json: the reply.
	expect_eq "$(fctl --json factor enroll alice --factor totp | json 'd["secret"]')" JBSWY3DPEHPK3PXP "json"
}

t_enroll_handover_without_uri() {
	fake '{"io.mamori.Admin.FactorEnroll": [{"parameters": {"id": 9, "factor": "card", "label": null,
		"challenge": "c2FtcGxl", "slot": 2}}]}'
	fctl factor enroll alice --factor card >"$T/out"
	cat "$T/out"
	expect_match "$(head -n 1 "$T/out")" '^New card credential 9 for alice \(pending until confirmed\):$' "heading"
	grep -qx 'challenge: c2FtcGxl' "$T/out" || fail "no challenge"
	grep -qx 'slot:      2' "$T/out" || fail "no slot"
	! grep -q '^id:\|^factor:' "$T/out" || fail "heading fields repeated"
}

t_enroll_malformed_handover() {
	local rc=0
	fake '{"io.mamori.Admin.FactorEnroll": [{"parameters": {"id": 7, "factor": "totp",
		"uri": "otpauth://totp/x?secret=AAAA\u001b[2J", "secret": "AAAA"}}]}'
	fctl factor enroll alice --factor totp >"$T/out" 2>"$T/err" || rc=$?
	expect_eq "$rc" 1 "exit status"
	expect_match "$(cat "$T/err")" 'unexpected reply from the daemon: no usable otpauth:// URI' "error"
	! grep -q AAAA "$T/out" || fail "part of the handover shown"
}

t_confirm_sends_the_code() {
	fake '{"io.mamori.Admin.FactorConfirm": ['"$ALICE"']}'
	expect_eq "$(fctl factor confirm alice --factor totp '123 456')" "totp confirmed for alice" "output"
	expect_eq "$(call 1 'd["method"]')" io.mamori.Admin.FactorConfirm "method"
	expect_eq "$(call 1 'sorted(d["parameters"].items())')" "[('code', '123456'), ('factor', 'totp'), ('name', 'alice')]" \
		"parameters"
	expect_eq "$(fctl --json factor confirm alice --factor totp 654321 | json 'd["user"]["name"]')" alice "json"
}

t_list_pages_and_filters() {
	fake '{"io.mamori.Admin.FactorList": [
		{"parameters": {"credentials": [{"id": 1, "name": "alice", "factor": "totp", "label": "phone",
			"state": "active", "created_at": 1893456000, "last_used_at": null}], "more": true, "next": "c1"}},
		{"parameters": {"credentials": [{"id": 2, "name": "bob", "factor": "totp", "label": null,
			"state": "revoked", "created_at": 1893456000, "last_used_at": 1893457000, "revoked_at": 1893458000,
			"reason": "lost phone", "revoked_by": "root"}], "more": false}}]}'
	fctl factor list >"$T/out"
	cat "$T/out"
	expect_match "$(head -n 1 "$T/out")" '^ID +NAME +FACTOR +LABEL +STATE +CREATED +LAST-USED$' "header"
	expect_match "$(sed -n 2p "$T/out")" '^1 +alice +totp +phone +active +20[0-9-]+ [0-9:]+ +never$' "row 1"
	expect_match "$(sed -n 3p "$T/out")" '^2 +bob +totp +- +revoked ' "row 2"
	expect_eq "$(call 1 'd["parameters"]')" "{}" "first page: no filter"
	expect_eq "$(call 2 'd["parameters"]')" "{'after': 'c1'}" "second page: the cursor"
	fctl factor list --factor totp --user bob --revoked >"$T/out"
	cat "$T/out"
	expect_eq "$(call 3 'sorted(d["parameters"].items())')" "[('factor', 'totp'), ('name', 'bob'), ('revoked', True)]" \
		"filters"
	expect_match "$(head -n 1 "$T/out")" 'LAST-USED +REVOKED +REASON +REVOKED-BY$' "revoked columns"
	expect_match "$(tail -n 1 "$T/out")" 'lost phone +root$' "reason and who"
	expect_eq "$(fctl --json factor list | json 'len(d["credentials"])')" 1 "json"
}

t_revoke_and_require() {
	fake '{"io.mamori.Admin.FactorRevoke": ['"$ALICE"'], "io.mamori.Admin.FactorRequire": ['"$ALICE"']}'
	expect_eq "$(fctl factor revoke alice --factor totp --reason 'lost phone')" "totp revoked for alice" "revoke all"
	expect_eq "$(call 1 'sorted(d["parameters"].items())')" \
		"[('factor', 'totp'), ('name', 'alice'), ('reason', 'lost phone')]" "revoke parameters"
	expect_eq "$(fctl factor revoke alice --factor totp --id 12 --reason stolen)" \
		"totp credential 12 revoked for alice" "revoke one"
	expect_eq "$(call 2 'd["parameters"]["id"]')" 12 "id sent"
	expect_eq "$(fctl factor require alice --factor totp)" "user alice must enrol totp at the next login" "require"
	expect_eq "$(call 3 'd["method"] + " " + str(sorted(d["parameters"].items()))')" \
		"io.mamori.Admin.FactorRequire [('factor', 'totp'), ('name', 'alice')]" "require call"
}

t_enroll_code() {
	fake '{"io.mamori.Admin.EnrollCode": [{"parameters": {"code": "ABCD-EFGH-IJKL-MN23", "expires_at": 1893456000}}]}'
	fctl enroll-code alice >"$T/out"
	cat "$T/out"
	expect_match "$(head -n 1 "$T/out")" '^Enrolment code for alice \(one use, expires .*\):$' "heading"
	expect_eq "$(tail -n 1 "$T/out")" ABCD-EFGH-IJKL-MN23 "code alone as the last line"
	expect_eq "$(call 1 'd["method"] + " " + str(d["parameters"])')" "io.mamori.Admin.EnrollCode {'name': 'alice'}" "call"
}

# error ARGS...: exit status 1 with one error line matching $ERR.
error() {
	local rc=0
	fctl "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	cat "$T/err"
	expect_eq "$rc" "${RC:-1}" "$*: exit status"
	expect_eq "$(wc -l <"$T/err")" 1 "$*: one error line"
	expect_match "$(cat "$T/err")" "$ERR" "$*: error"
	[ ! -s "$T/out" ] || fail "$*: output on an error"
}

t_error_replies() {
	fake '{"io.mamori.Admin.FactorRevoke": [
		{"error": "io.mamori.Error.NotFound"},
		{"error": "io.mamori.Error.PermissionDenied", "parameters": {"message": "P-PRIV-CONTRACTOR: refused"}},
		{"error": "org.varlink.service.InvalidParameter", "parameters": {"parameter": "factor"}},
		{"error": "io.mamori.Error.\u001b[2JBusy"},
		{"error": 5},
		{"parameters": []},
		{"parameters": {"no_user": 1}},
		"raw:{\"parameters\": {} garbage"]}'
	local a=(factor revoke bob --factor totp --reason r)
	ERR='^mamorictl: user bob: not found$' error "${a[@]}"
	ERR='^mamorictl: P-PRIV-CONTRACTOR: refused$' error "${a[@]}"
	ERR="^mamorictl: user bob: the daemon refused parameter 'factor'$" error "${a[@]}"
	ERR='malformed error reply from the daemon$' error "${a[@]}"
	ERR='malformed error reply from the daemon$' error "${a[@]}"
	ERR='io.mamori.Admin.FactorRevoke: unexpected reply from the daemon$' error "${a[@]}"
	ERR='unexpected reply from the daemon: no user object$' error "${a[@]}"
	RC=3 ERR='closed the connection or sent a malformed reply' error "${a[@]}"
	# A daemon without the generic calls.
	ERR='^mamorictl: the daemon does not know io.mamori.Admin.FactorList$' error factor list
}

t_totp_commands_unchanged() {
	fake '{"io.mamori.Admin.TotpList": [{"parameters": {"factors": [], "more": false}}],
		"io.mamori.Admin.TotpEnrollCode": [{"parameters": {"code": "WXYZ-2345", "expires_at": 1893456000}}]}'
	fctl totp list >/dev/null
	fctl totp enroll-code alice >/dev/null
	expect_eq "$(call 1 'd["method"]')" io.mamori.Admin.TotpList "totp list"
	expect_eq "$(call 2 'd["method"]')" io.mamori.Admin.TotpEnrollCode "totp enroll-code"
}

totp_code() {
	oathtool --totp -b "$1" --now "@$(cat "$T/clock" 2>/dev/null || date +%s)"
}

# End to end, when the daemon has the generic calls.
t_end_to_end() {
	local out secret id
	ctl user add fumiko >/dev/null
	out=$(ctl --json factor enroll fumiko --factor totp --label phone)
	secret=$(echo "$out" | json 'd["secret"]')
	id=$(echo "$out" | json 'd["id"]')
	expect_eq "$(ctl --json factor list --user fumiko | json '[c["state"] for c in d["credentials"]]')" "['pending']" \
		"pending"
	expect_eq "$(ctl factor confirm fumiko --factor totp "$(totp_code "$secret")")" "totp confirmed for fumiko" "confirm"
	expect_eq "$(ctl --json factor list --user fumiko --factor totp | json '[(c["id"], c["label"], c["state"]) for c in d["credentials"]]')" \
		"[($id, 'phone', 'active')]" "active"
	ctl factor revoke fumiko --factor totp --id "$id" --reason 'lost phone' >/dev/null
	expect_eq "$(ctl --json factor list --user fumiko --revoked | json '[(c["state"], c["reason"]) for c in d["credentials"]]')" \
		"[('revoked', 'lost phone')]" "revoked with its reason"
	ctl factor require fumiko --factor totp >/dev/null
	expect_match "$(ctl enroll-code fumiko | tail -n 1)" '^[A-Z0-9-]{8,}$' "enrolment code"
}

run_test "mamorictl factor: usage errors are one line, exit 2, and send nothing" t_usage_errors
run_test "mamorictl factor enroll: the handover (URI, secret, QR code) and what is sent" t_enroll_shows_the_handover
run_test "mamorictl factor enroll: a handover without a URI is shown field by field" t_enroll_handover_without_uri
run_test "mamorictl factor enroll: a malformed handover is refused and not shown" t_enroll_malformed_handover
run_test "mamorictl factor confirm: the code, spaces dropped" t_confirm_sends_the_code
run_test "mamorictl factor list: every page, the filters, the revoked columns" t_list_pages_and_filters
run_test "mamorictl factor revoke and require: what is sent and printed" t_revoke_and_require
run_test "mamorictl enroll-code: the code as the last line" t_enroll_code
run_test "mamorictl factor: error and malformed replies are one error line, never success" t_error_replies
run_test "mamorictl totp: the 0.2 calls, unchanged" t_totp_commands_unchanged
fake_stop
if ctl factor list >/dev/null 2>"$T/err" || ! grep -q 'does not know' "$T/err"; then
	run_test "mamorictl factor: enrol, confirm, list, revoke, require, enroll-code end to end" t_end_to_end
else
	tap_skip "mamorictl factor: enrol, confirm, list, revoke, require, enroll-code end to end" \
		"the daemon has no io.mamori.Admin.FactorList yet"
fi
tap_done
