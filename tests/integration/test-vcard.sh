#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The suite's virtual card (tests/card/vcard.py), checked by a client nobody
# here wrote: OpenSC's PIV and jpki drivers, through a real pcscd with vpcd
# (card_lib.sh).  PIV with RSA-2048 and with P-256, a JPKI-only card (as a
# My Number card), the PIN counters, blocked PINs, removal, status words
# for malformed commands.  If OpenSC works with the card, the card tests of
# mamori's own helper test against something real.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/card_lib.sh"

card_require
require "opensc" command -v pkcs11-tool
[ -f "$OPENSC_PKCS11" ] || card_bail "opensc-pkcs11.so is missing (package opensc)"

T=$(mktemp -d /tmp/mamori-vcard.XXXXXX)
chmod 755 "$T"
trap 'card_cleanup; rm -rf "$T"' EXIT
pcscd_start || card_bail "pcscd did not start"
MSG="$T/msg"
echo "mamori: a message the card signs" >"$MSG"

# p11 ARGS...: pkcs11-tool on OpenSC's module, bounded in time.
p11() { timeout 60 pkcs11-tool --module "$OPENSC_PKCS11" "$@"; }
pubkey() { openssl x509 -in "$(card_cert "$1")" -pubkey -noout >"$T/$1.pub"; }
# apdus READER APDU...: raw APDUs (opensc-tool -s, one connection); prints
# the status words, one a line ("6D00").
apdus() {
	local r=$1 a args=()
	shift
	for a in "$@"; do args+=(-s "$a"); done
	timeout 30 opensc-tool -r "$r" "${args[@]}" 2>&1 | sed -n 's/.*SW1=0x\(..\), SW2=0x\(..\).*/\1\2/p' | tr 'a-f' 'A-F'
}

SELECT_PIV=00:A4:04:00:09:A0:00:00:03:08:00:00:10:00:00
SELECT_JPKI=00:A4:04:0C:0A:D3:92:F0:00:26:01:00:00:00:01

card_start piv-rsa --reader 0 --profile piv --key rsa2048 --pin 123456 || card_bail "the PIV card did not start"
card_start piv-ec --reader 1 --profile piv --key p256 --pin 87654321 || card_bail "the P-256 card did not start"

t_two_readers() {
	local out
	out=$(timeout 30 opensc-tool -l)
	expect_match "$out" '0 +Yes +Virtual PCD 00 00' "reader 0"
	expect_match "$out" '1 +Yes +Virtual PCD 00 01' "reader 1"
}
run_test "two readers, a card in each" t_two_readers

t_piv_name() {
	expect_eq "$(timeout 30 opensc-tool -r 0 -n 2>/dev/null)" "Personal Identity Verification Card" "card 0"
	expect_eq "$(timeout 30 opensc-tool -r 1 -n 2>/dev/null)" "Personal Identity Verification Card" "card 1"
}
run_test "OpenSC's PIV driver takes both cards (opensc-tool -n)" t_piv_name

t_piv_certs() {
	local out serial
	out=$(timeout 30 pkcs15-tool --reader 0 --list-certificates)
	expect_match "$out" 'Certificate for PIV Authentication' "pkcs15-tool"
	serial=$(card_serial piv-rsa)
	expect_match "$(tr -d ' ' <<<"$out" | tr 'a-f' 'A-F')" "$serial" "the certificate's serial"
	# the certificate OpenSC read is the card's, byte for byte
	timeout 30 pkcs15-tool --reader 0 --read-certificate 01 >"$T/read.pem"
	expect_eq "$(openssl x509 -in "$T/read.pem" -outform DER | sha256sum)" "$(sha256sum <"$(card_cert_der piv-rsa)")" "certificate"
}
run_test "PIV: pkcs15-tool lists and reads the certificate of key 9A (GET DATA 5FC105, GET RESPONSE chaining)" t_piv_certs

t_piv_rsa_sign() {
	card_log_clear piv-rsa
	p11 --slot-index 0 --login --pin 123456 --sign -m SHA256-RSA-PKCS --id 01 -i "$MSG" -o "$T/sig" >/dev/null
	pubkey piv-rsa
	openssl dgst -sha256 -verify "$T/piv-rsa.pub" -signature "$T/sig" "$MSG"
	# the PIN went padded with FF to 8 bytes, reference 80
	expect_eq "$(card_count piv-rsa '^002000800831323334353666FF$|^0020008008313233343536FFFF$')" 1 "VERIFY 123456+FFFF"
	# GENERAL AUTHENTICATE, RSA-2048 (07), key 9A, in a command chain (CLA 10)
	[ "$(card_count piv-rsa '^1087079A')" -ge 1 ] || fail "no chained GENERAL AUTHENTICATE"
	expect_eq "$(card_tries piv-rsa)" 3 "tries"
}
run_test "PIV RSA-2048: pkcs11-tool --login --sign, verified by openssl" t_piv_rsa_sign

t_piv_ec_sign() {
	openssl dgst -sha256 -binary "$MSG" >"$T/hash"
	p11 --slot-index 1 --login --pin 87654321 --sign -m ECDSA --signature-format openssl --id 01 \
		-i "$T/hash" -o "$T/sig" >/dev/null
	pubkey piv-ec
	openssl dgst -sha256 -verify "$T/piv-ec.pub" -signature "$T/sig" "$MSG"
	[ "$(card_count piv-ec '^0087119A')" -ge 1 ] || fail "no GENERAL AUTHENTICATE 11 9A"
}
run_test "PIV P-256: pkcs11-tool --login --sign (ECDSA), verified by openssl" t_piv_ec_sign

t_piv_wrong_pin() {
	card_log_clear piv-rsa
	if p11 --slot-index 0 --login --pin 111111 --sign -m SHA256-RSA-PKCS --id 01 -i "$MSG" -o "$T/sig" >/dev/null 2>&1; then
		fail "a wrong PIN signed"
	fi
	expect_eq "$(card_tries piv-rsa)" 2 "tries after one wrong PIN"
	expect_match "$(card_apdus piv-rsa)" '^0020008008313131313131FFFF 63C2$' "the card's answer"
	# VERIFY without data tells the tries left, and sends no PIN
	expect_eq "$(apdus 0 $SELECT_PIV 00:20:00:80 | tail -n 1)" 63C2 "VERIFY without data"
	# the right PIN resets the counter
	p11 --slot-index 0 --login --pin 123456 --sign -m SHA256-RSA-PKCS --id 01 -i "$MSG" -o "$T/sig" >/dev/null
	expect_eq "$(card_tries piv-rsa)" 3 "tries after the right PIN"
}
run_test "PIV: a wrong PIN counts down (63 Cx), the right one resets the counter" t_piv_wrong_pin

t_piv_blocked() {
	card_set_tries piv-ec 1
	p11 --slot-index 1 --login --pin 11111111 --sign -m ECDSA -i "$T/hash" -o "$T/sig" >/dev/null 2>&1 && fail "signed"
	expect_eq "$(card_tries piv-ec)" 0 "tries"
	expect_eq "$(apdus 1 $SELECT_PIV 00:20:00:80)" "$(printf '9000\n6983')" "VERIFY without data on a blocked card"
	# even the right PIN is refused now
	expect_eq "$(apdus 1 $SELECT_PIV 00:20:00:80:08:38:37:36:35:34:33:32:31 | tail -n 1)" 6983 "the right PIN"
	p11 --slot-index 1 --login --pin 87654321 --sign -m ECDSA -i "$T/hash" -o "$T/sig" >/dev/null 2>&1 && fail "a blocked card signed"
	return 0
}
run_test "PIV: a blocked PIN answers 69 83, the right PIN included" t_piv_blocked

t_piv_counter_persists() {
	card_stop piv-ec
	card_start piv-ec --reader 1 --profile piv --key p256 --pin 87654321
	expect_eq "$(card_tries piv-ec)" 0 "tries after a restart of the card"
	card_set_tries piv-ec 3
}
run_test "the PIN counter survives a restart of the card process (--state)" t_piv_counter_persists

t_piv_no_auth_without_pin() {
	# power the card again (no PIN verified), then GENERAL AUTHENTICATE: 69 82
	card_remove piv-rsa
	card_insert piv-rsa
	local ga="00:87:07:9A:0A:7C:08:82:00:81:04:01:02:03:04"
	expect_eq "$(apdus 0 $SELECT_PIV $ga)" "$(printf '9000\n6982')" "GENERAL AUTHENTICATE without the PIN"
}
run_test "PIV: GENERAL AUTHENTICATE is refused (69 82) until the PIN is verified" t_piv_no_auth_without_pin

t_latency_stats() {
	card_latency piv-rsa 30 200
	card_log_clear piv-rsa
	card_stats_reset piv-rsa
	local s e n busy
	s=$(date +%s%N)
	p11 --slot-index 0 --login --pin 123456 --sign -m SHA256-RSA-PKCS --id 01 -i "$MSG" -o "$T/sig" >/dev/null
	e=$(date +%s%N)
	card_latency piv-rsa 0 0
	n=$(card_stats piv-rsa apdus)
	busy=$(card_stats piv-rsa busy_ms)
	expect_eq "$n" "$(card_apdus piv-rsa | wc -l)" "APDUs counted"
	# every APDU took its 30 ms, the signature 200 ms more; all of it within the client's time
	/usr/bin/python3 -c "import sys; n,b,w=int(sys.argv[1]),float(sys.argv[2]),(int(sys.argv[4])-int(sys.argv[3]))/1e6
assert n > 5 and 30*n + 200 <= b < w, (n, b, w)" "$n" "$busy" "$s" "$e"
}
run_test "latency per APDU and per signature, and the card's own time (stats)" t_latency_stats

t_status_words() {
	local out
	out=$(apdus 0 $SELECT_PIV 00:FF:00:00 A0:A4:04:00:01:A0 00:20:00:80:03:31:32:33 \
		00:CB:3F:FF:03:5C:01:7E 00:A4:04:00:05:A0:00:00:00:99 00:C0:00:00:00 00:CB:3F:FF:02:5C:05)
	expect_eq "$(echo $out)" "9000 6D00 6E00 6700 6A82 6A82 6985 6A80" "status words"
	# still alive and well
	expect_eq "$(apdus 0 $SELECT_PIV)" 9000 "SELECT afterwards"
	/usr/bin/python3 "$CARD_SRC/vcard_fuzz.py" 3000 \
		"piv:rsa2048:$(card_cert piv-rsa):$CARD_PKI/piv-rsa.key" "piv:p256:$(card_cert piv-ec):$CARD_PKI/piv-ec.key"
}
run_test "malformed commands get status words (6D 00, 6E 00, 67 00, 6A 82, ...), never a crash" t_status_words

t_removal() {
	card_remove piv-ec # (returns once pcscd has seen it)
	local out
	out=$(timeout 30 opensc-tool -l)
	expect_match "$out" '1 +No +Virtual PCD 00 01' "reader 1 after remove"
	expect_eq "$(card_state piv-ec connected)" false "connected"
	card_insert piv-ec
	expect_match "$(timeout 30 opensc-tool -l)" '1 +Yes +Virtual PCD 00 01' "reader 1 after insert"
}
run_test "remove empties the reader, insert fills it again" t_removal

t_load() {
	card_make piv-ec2 --key p256 >/dev/null
	card_ctl piv-ec load "$(card_cert piv-ec2)" "$CARD_PKI/piv-ec2.key" && fail "load while in the reader"
	card_make piv-rsa2 --key rsa2048 >/dev/null
	card_remove piv-ec
	card_ctl piv-ec load "$(card_cert piv-rsa2)" "$CARD_PKI/piv-rsa2.key" && fail "an RSA key in a P-256 card"
	card_ctl piv-ec load "$(card_cert piv-ec2)" "$CARD_PKI/piv-ec2.key"
	card_insert piv-ec
	expect_match "$(timeout 30 pkcs15-tool --reader 1 --list-certificates | tr -d ' ' | tr 'a-f' 'A-F')" \
		"$(card_serial piv-ec2)" "the new card's serial"
}
run_test "load: a new certificate and key in the same card process, only while removed" t_load

# ------------------------------------------------------------------ JPKI
card_stop piv-rsa
card_stop piv-ec
card_start mynumber --reader 0 --profile jpki --pin 4321 --ca "$CARD_PKI/ca.pem" || card_bail "the JPKI card did not start"

t_jpki_name() {
	expect_eq "$(timeout 30 opensc-tool -r 0 -n 2>/dev/null)" "jpki" "card name"
}
run_test "JPKI: a JPKI-only card reaches OpenSC's jpki driver" t_jpki_name

t_jpki_certs() {
	local out
	out=$(timeout 30 pkcs15-tool --reader 0 --list-certificates)
	expect_match "$out" 'User Authentication Certificate' "pkcs15-tool"
	expect_match "$(tr -d ' ' <<<"$out" | tr 'a-f' 'A-F')" "$(card_serial mynumber)" "serial"
	timeout 30 pkcs15-tool --reader 0 --read-certificate 01 >"$T/read.pem"
	expect_eq "$(openssl x509 -in "$T/read.pem" -outform DER | sha256sum)" "$(sha256sum <"$(card_cert_der mynumber)")" "certificate"
	# EF 000A read with offsets past 256 bytes
	[ "$(card_count mynumber '^00B00[1-9A-F]')" -ge 1 ] || fail "no READ BINARY past 256 bytes"
	out=$(timeout 30 pkcs15-tool --reader 0 --list-pins)
	expect_match "$out" 'Tries left +: 3' "user-authentication PIN tries"
}
run_test "JPKI: the user-authentication certificate (EF 000A) and the PIN tries (EF 0018, 001B)" t_jpki_certs

t_jpki_sign() {
	card_log_clear mynumber
	p11 --slot-index 0 --login --pin 4321 --sign -m SHA256-RSA-PKCS --id 01 -i "$MSG" -o "$T/sig" >/dev/null
	pubkey mynumber
	openssl dgst -sha256 -verify "$T/mynumber.pub" -signature "$T/sig" "$MSG"
	expect_match "$(card_apdus mynumber)" '^00A4020C020017 9000$' "SELECT EF 0017"
	expect_match "$(card_apdus mynumber)" '^802A0080333031300D060960864801650304020105000420' "COMPUTE DIGITAL SIGNATURE over a DigestInfo"
	# after a right PIN, VERIFY without data still answers 63 Cx
	expect_eq "$(apdus 0 $SELECT_JPKI 00:A4:02:0C:02:00:18 00:20:00:80:04:34:33:32:31 00:20:00:80)" \
		"$(printf '9000\n9000\n9000\n63C3')" "VERIFY without data after the right PIN"
}
run_test "JPKI: pkcs11-tool --login --sign with the user-authentication key, verified by openssl" t_jpki_sign

t_jpki_sign_needs_pin() {
	card_remove mynumber
	card_insert mynumber
	expect_eq "$(apdus 0 $SELECT_JPKI 00:A4:02:0C:02:00:17 80:2A:00:80:04:01:02:03:04)" \
		"$(printf '9000\n9000\n6982')" "COMPUTE DIGITAL SIGNATURE without the PIN"
}
run_test "JPKI: no signature before the PIN (69 82)" t_jpki_sign_needs_pin

t_jpki_wrong_then_blocked() {
	local _
	p11 --slot-index 0 --login --pin 0000 --sign -m SHA256-RSA-PKCS --id 01 -i "$MSG" -o "$T/sig" >/dev/null 2>&1 && fail "a wrong PIN signed"
	expect_eq "$(card_tries mynumber)" 2 "tries"
	expect_eq "$(apdus 0 $SELECT_JPKI 00:A4:02:0C:02:00:18 00:20:00:80 | tail -n 1)" 63C2 "VERIFY without data"
	for _ in 1 2; do
		apdus 0 $SELECT_JPKI 00:A4:02:0C:02:00:18 00:20:00:80:04:30:30:30:30 >/dev/null
	done
	expect_eq "$(card_tries mynumber)" 0 "tries"
	expect_eq "$(apdus 0 $SELECT_JPKI 00:A4:02:0C:02:00:18 00:20:00:80 00:20:00:80:04:34:33:32:31 | tail -n 2 | tr '\n' ' ')" \
		"6984 6984 " "a blocked PIN"
	/usr/bin/python3 "$CARD_SRC/vcard_fuzz.py" 3000 "jpki:rsa2048:$(card_cert mynumber):$CARD_PKI/mynumber.key"
}
run_test "JPKI: a wrong PIN counts down (63 Cx), a blocked one answers 69 84" t_jpki_wrong_then_blocked

card_cleanup
tap_done
