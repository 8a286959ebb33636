#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The suite's software FIDO2 authenticator (tests/fido2/softkey.py) as
# libfido2 itself reads it, through mamori's test transport
# (authd/fido2/devsock.c) in tests/fido2/softkey_check: getInfo, a
# credential with "packed" self attestation (fido_cred_verify_self),
# assertions with and without PIN (fido_assert_verify), a wrong PIN that
# counts down and a blocked PIN, the UV flag only when the user was
# verified, a sign count that grows (or stays 0 with --no-counter), and the
# broken answers the factor's tests need (another client-data hash, a
# replayed assertion, another rp id, no UP) failing fido_assert_verify.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/softkey_lib.sh"

require_test_hooks "the socket transport of FIDO2 keys is a test hook"
require "python3-cryptography and python3-cbor2" /usr/bin/python3 -c 'import cryptography, cbor2'

CHECK="$top_builddir/tests/fido2/softkey_check"
RP=mamori.test
trap 'softkey_cleanup' EXIT

# sk NAME ARGS...: softkey_check on key NAME; its output in $OUT, its exit
# status in $RC (never fails itself).
sk() {
	local name=$1
	shift
	OUT=$(timeout 60 "$CHECK" "$(softkey_sock "$name")" "$@" 2>&1) && RC=0 || RC=$?
}
field() {
	sed -n "s/^$1=//p" <<<"$OUT"
}
# enrol NAME ARGS...: a credential on NAME, its id in $CID and key in $PK.
enrol() {
	sk "$@"
	expect_eq "$RC" 0 "make-cred exit ($OUT)"
	CID=$(field cred_id)
	PK=$(field pk)
}

softkey_start pin --pin 1234 || { echo "Bail out! softkey.py did not start"; exit 1; }
softkey_start plain || { echo "Bail out! softkey.py did not start"; exit 1; }
softkey_start bio --uv builtin --bio --counter 100 || { echo "Bail out! softkey.py did not start"; exit 1; }
softkey_start nocount --no-counter || { echo "Bail out! softkey.py did not start"; exit 1; }
softkey_start few --pin 1234 --pin-retries 2 || { echo "Bail out! softkey.py did not start"; exit 1; }

t_info() {
	sk pin info
	expect_eq "$RC" 0 "info exit ($OUT)"
	expect_eq "$(field version)" FIDO_2_0 "versions"
	expect_eq "$(field option.clientPin)" 1 "clientPin"
	expect_eq "$(field option.uv)" "" "uv option of a PIN-only key"
	expect_eq "$(field pin_protocol)" 1 "pinUvAuthProtocols"
	expect_eq "$(field is_fido2)" 1 "CTAPHID INIT's CBOR capability"
	expect_eq "$(field pin_retries)" 8 "retries"
	sk plain info
	expect_eq "$(field option.clientPin)" 0 "clientPin of a key without PIN"
	sk bio info
	expect_eq "$(field option.uv)" 1 "built-in uv"
	expect_eq "$(field option.bioEnroll)" 1 "bioEnroll"
	expect_eq "$(field has_uv)" 1 "fido_dev_has_uv"
}
run_test "getInfo through the socket transport: versions, options, PIN protocol 1, retries" t_info

t_make_cred() {
	enrol pin make-cred "$RP" -p 1234
	expect_eq "$(field fmt)" packed "fmt"
	expect_eq "$(field verify)" ok "fido_cred_verify_self"
	expect_eq "$(field aaguid)" 6d616d6f726920736f66746b65790001 "aaguid"
	# UP 0x01, UV 0x04 (the PIN), AT 0x40
	expect_eq "$(field flags)" 69 "flags"
	[ ${#CID} -ge 64 ] && [ ${#CID} -le 128 ] || fail "credential id of ${#CID} hex digits"
	expect_eq "${#PK}" 128 "ES256 public key x||y"
	# Two credentials never share an id.
	local first=$CID
	enrol pin make-cred "$RP" -p 1234
	[ "$CID" != "$first" ] || fail "the same credential id twice"
	# CTAP2.0: a key with a PIN makes no credential without it.
	sk pin make-cred "$RP"
	expect_eq "$RC" 1 "make-cred without PIN"
	expect_eq "$(field error)" FIDO_ERR_PIN_REQUIRED "error"
}
run_test "makeCredential: packed self attestation that fido_cred_verify_self accepts; PIN required" t_make_cred

t_assert_pin() {
	enrol pin make-cred "$RP" -p 1234
	sk pin assert "$RP" "$CID" "$PK"
	expect_eq "$RC" 0 "assert without PIN ($OUT)"
	expect_eq "$(field verify)" ok "fido_assert_verify without PIN"
	expect_eq "$(field flags)" 1 "UP only: no UV without the PIN"
	expect_eq "$(field cred_id)" "$CID" "credential"
	sk pin assert "$RP" "$CID" "$PK" -p 1234
	expect_eq "$RC" 0 "assert with PIN ($OUT)"
	expect_eq "$(field verify)" ok "fido_assert_verify with PIN"
	expect_eq "$(field flags)" 5 "UP and UV with the PIN"
	expect_eq "$(softkey_state pin pin_retries)" 8 "retries after a right PIN"
}
run_test "getAssertion with and without PIN verifies; UV only with the PIN" t_assert_pin

t_uv() {
	# A PIN-only key cannot verify its user without the PIN.
	enrol pin make-cred "$RP" -p 1234
	sk pin assert "$RP" "$CID" "$PK" -u
	expect_eq "$(field error)" FIDO_ERR_UNSUPPORTED_OPTION "uv asked of a key without built-in uv"
	# Built-in UV: the flag without a PIN, and fido_assert_verify with
	# fido_assert_set_uv(FIDO_OPT_TRUE) accepts it.
	enrol bio make-cred "$RP" -u
	expect_eq "$(field flags)" 69 "make-cred flags with built-in uv"
	sk bio assert "$RP" "$CID" "$PK" -u
	expect_eq "$RC" 0 "assert with built-in uv ($OUT)"
	expect_eq "$(field flags)" 5 "UP and UV"
	sk bio assert "$RP" "$CID" "$PK"
	expect_eq "$(field flags)" 1 "UV not asked: not set"
	# A key that does not set UV though asked: fido_assert_verify refuses.
	softkey_set bio '{"uv":false}'
	sk bio assert "$RP" "$CID" "$PK" -u
	expect_eq "$RC" 2 "UV flag missing ($OUT)"
	expect_eq "$(field flags)" 1 "flags"
	softkey_set bio '{"uv":null}'
}
run_test "UV: set only when the PIN or built-in UV verified; without it fido_assert_verify refuses" t_uv

t_wrong_pin() {
	enrol few make-cred "$RP" -p 1234
	# The right PIN gave the key its 8 retries back.
	expect_eq "$(softkey_state few pin_retries)" 8 "retries after the right PIN"
	softkey_set few '{"pin_retries":2}'
	sk few assert "$RP" "$CID" "$PK" -p 9999
	expect_eq "$(field error)" FIDO_ERR_PIN_INVALID "first wrong PIN"
	expect_eq "$(softkey_state few pin_retries)" 1 "retries after one wrong PIN"
	sk few info
	expect_eq "$(field pin_retries)" 1 "getRetries"
	sk few assert "$RP" "$CID" "$PK" -p 9999
	expect_eq "$(field error)" FIDO_ERR_PIN_BLOCKED "the last try"
	expect_eq "$(softkey_state few pin_retries)" 0 "retries"
	# Blocked: even the right PIN is refused.
	sk few assert "$RP" "$CID" "$PK" -p 1234
	expect_eq "$(field error)" FIDO_ERR_PIN_BLOCKED "the right PIN on a blocked key"
	sk few info
	expect_eq "$(field pin_retries)" 0 "getRetries when blocked"
	softkey_set few '{"pin_retries":8}'
	sk few assert "$RP" "$CID" "$PK" -p 1234
	expect_eq "$RC" 0 "unblocked by the control socket ($OUT)"
}
run_test "a wrong PIN counts down, then the PIN is blocked" t_wrong_pin

t_counter() {
	local c1 c2
	enrol bio make-cred "$RP"
	expect_eq "$(field count)" "$(softkey_state bio counter)" "make-cred's count"
	sk bio assert "$RP" "$CID" "$PK"
	c1=$(field count)
	[ "$c1" -gt 100 ] || fail "count $c1 did not start from --counter 100"
	sk bio assert "$RP" "$CID" "$PK"
	c2=$(field count)
	expect_eq "$c2" $((c1 + 1)) "the count grows by one"
	# A count set back (a clone): the key says so, libfido2 does not care.
	softkey_set bio '{"counter":5}'
	sk bio assert "$RP" "$CID" "$PK"
	expect_eq "$(field count)" 6 "count after set counter 5"
	expect_eq "$(field verify)" ok "fido_assert_verify ignores the count"
	enrol nocount make-cred "$RP"
	sk nocount assert "$RP" "$CID" "$PK"
	expect_eq "$(field count)" 0 "--no-counter"
	sk nocount assert "$RP" "$CID" "$PK"
	expect_eq "$(field count)" 0 "--no-counter, twice"
	expect_eq "$(field verify)" ok "verify"
}
run_test "the sign count grows by one per assertion; --no-counter keeps 0" t_counter

t_broken() {
	enrol plain make-cred "$RP"
	softkey_set plain '{"mode":"wrong_cdh"}'
	sk plain assert "$RP" "$CID" "$PK"
	expect_eq "$RC" 2 "wrong_cdh ($OUT)"
	expect_eq "$(field verify)" FIDO_ERR_INVALID_SIG "wrong_cdh"
	softkey_set plain '{"mode":"normal"}'
	sk plain assert "$RP" "$CID" "$PK"
	expect_eq "$RC" 0 "normal again ($OUT)"
	local before=$OUT
	softkey_set plain '{"mode":"replay"}'
	sk plain assert "$RP" "$CID" "$PK"
	expect_eq "$RC" 2 "replay ($OUT)"
	expect_eq "$(field verify)" FIDO_ERR_INVALID_SIG "replay"
	expect_eq "$(field count)" "$(sed -n 's/^count=//p' <<<"$before")" "the replayed count"
	softkey_set plain '{"mode":"wrong_rp"}'
	sk plain assert "$RP" "$CID" "$PK"
	expect_eq "$RC" 2 "wrong_rp ($OUT)"
	expect_eq "$(field verify)" FIDO_ERR_INVALID_PARAM "wrong_rp"
	softkey_set plain '{"mode":"normal","up":false}'
	sk plain assert "$RP" "$CID" "$PK"
	expect_eq "$RC" 2 "no UP flag ($OUT)"
	expect_eq "$(field flags)" 0 "flags without UP"
	softkey_set plain '{"up":true}'
	sk plain assert "$RP" "$CID" "$PK"
	expect_eq "$RC" 0 "right again ($OUT)"
}
run_test "wrong_cdh, replay, wrong_rp and no UP fail fido_assert_verify" t_broken

t_credentials() {
	enrol plain make-cred "$RP"
	# Unknown credential, and another rp id.
	sk plain assert "$RP" 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff "$PK"
	expect_eq "$(field error)" FIDO_ERR_NO_CREDENTIALS "unknown credential"
	sk plain assert other.test "$CID" "$PK"
	expect_eq "$(field error)" FIDO_ERR_NO_CREDENTIALS "credential of another rp"
	# excludeList
	sk plain make-cred "$RP" -x "$CID"
	expect_eq "$(field error)" FIDO_ERR_CREDENTIAL_EXCLUDED "excluded"
	# A resident credential answers an assertion without allowList.
	enrol plain make-cred rk.test -r
	sk plain assert rk.test "" "$PK"
	expect_eq "$RC" 0 "resident credential ($OUT)"
	expect_eq "$(field cred_id)" "$CID" "the resident credential"
	expect_eq "$(softkey_state plain credentials)" 3 "credentials held"
}
run_test "allowList, unknown credentials, excludeList, a resident credential" t_credentials

t_no_touch() {
	local start end ms
	enrol plain make-cred "$RP"
	softkey_set plain '{"touch":false}'
	start=$(date +%s%N)
	OUT=$(timeout 60 "$CHECK" -t 1000 "$(softkey_sock plain)" assert "$RP" "$CID" "$PK" 2>&1) && RC=0 || RC=$?
	end=$(date +%s%N)
	softkey_set plain '{"touch":true}'
	expect_eq "$RC" 1 "no touch ($OUT)"
	expect_eq "$(field at)" fido_dev_get_assert "where it failed"
	ms=$(((end - start) / 1000000))
	# Keepalives skipped while it waited; the 1 s timeout honoured.
	[ "$ms" -ge 1000 ] && [ "$ms" -lt 5000 ] || fail "gave up after $ms ms"
	sk plain assert "$RP" "$CID" "$PK"
	expect_eq "$RC" 0 "touched again ($OUT)"
}
run_test "no touch: keepalives until the transport's timeout" t_no_touch

t_latency() {
	local n last
	enrol plain make-cred "$RP"
	softkey_set plain '{"latency_ms":80}'
	n=$(softkey_state plain signatures)
	sk plain assert "$RP" "$CID" "$PK"
	softkey_set plain '{"latency_ms":0}'
	expect_eq "$RC" 0 "assert ($OUT)"
	expect_eq "$(softkey_state plain signatures)" $((n + 1)) "signatures"
	last=$(softkey_state plain last_sign_ms)
	/usr/bin/python3 -c "import sys; sys.exit(0 if 80 <= $last < 1000 else 1)" || fail "last_sign_ms $last"
}
run_test "latency_ms: the key's own signing time, in the state" t_latency

t_manifest() {
	OUT=$(MAMORI_TEST_FIDO2_DEVICES="$(softkey_sock plain):$SOFTKEY_DIR/nothing:$(softkey_sock pin)" \
		timeout 60 "$CHECK" manifest 2>&1) && RC=0 || RC=$?
	expect_eq "$RC" 0 "manifest ($OUT)"
	expect_eq "$(field keys)" 2 "keys (a socket nobody listens on left out)"
	expect_eq "$(field path | head -1)" "unix:$(softkey_sock plain)" "first path"
	expect_eq "$(field opened | tr -d '\n')" 11 "both opened with fido_dev_open_with_info"
	OUT=$(env -u MAMORI_TEST_FIDO2_DEVICES timeout 60 "$CHECK" manifest 2>&1) && RC=0 || RC=$?
	expect_eq "$RC" 1 "no variable: -1, the caller uses hidraw"
}
run_test "mamori_fido2_devsock_manifest: the keys of MAMORI_TEST_FIDO2_DEVICES" t_manifest

tap_done
