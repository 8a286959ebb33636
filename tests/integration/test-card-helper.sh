#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# mamori-card-helper against a real pcscd with vpcd and the suite's virtual
# cards (card_lib.sh, tests/card/vcard.py), driven through the daemon's own
# card code (authd/card/client.c and cert.c, in tests/integration/
# card_client): the certificate and the PIN tries of PIV RSA-2048, PIV
# P-256 and JPKI cards, signatures that mamori_card_cert_verify accepts, a
# wrong PIN counting down, a blocked card never sent a PIN, a card pulled
# between two requests, two readers and no card, the --watch events, the
# helper's privileges and environment, and cards whose responses break the
# rules (length, status word, TLV), which the helper refuses.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/card_lib.sh"

card_require

HELPER="$top_builddir/authd/card/mamori-card-helper"
CLIENT="$top_builddir/tests/integration/card_client"
T=$(mktemp -d /tmp/mamori-cardhelper.XXXXXX)
chmod 755 "$T"
trap 'card_cleanup; rm -rf "$T"' EXIT
# The helper drops to nobody: copies nobody can run, whatever the mode of
# the build directory.
cp "$HELPER" "$T/mamori-card-helper"
chmod 755 "$T/mamori-card-helper"
HELPER="$T/mamori-card-helper"
pcscd_start || card_bail "pcscd did not start"

R0="Virtual PCD 00 00"
R1="Virtual PCD 00 01"

# cc ARGS...: card_client on our helper, bounded in time.
cc() { timeout 60 "$CLIENT" "$@"; }

t_two_readers_no_card() {
	local out start end
	start=$(date +%s%N)
	out=$(cc "$HELPER" wait 1000 || true)
	end=$(date +%s%N)
	expect_eq "$out" "error timeout" "wait with two empty readers"
	# It waited the whole second, and not much longer.
	[ $(((end - start) / 1000000)) -ge 1000 ] || fail "returned after $(((end - start) / 1000000)) ms"
	[ $(((end - start) / 1000000)) -lt 5000 ] || fail "took $(((end - start) / 1000000)) ms"
}
run_test "two readers and no card: the wait times out" t_two_readers_no_card

card_start piv --reader 0 --profile piv --key rsa2048 --pin 123456 || card_bail "the PIV card did not start"

t_piv_rsa_wait() {
	local out
	out=$(cc "$HELPER" wait 5000)
	expect_eq "$out" "ok $R0 piv 3 rsa2048 $(card_fingerprint piv)" "wait"
	# Nothing but SELECT, GET DATA (and its GET RESPONSEs) and VERIFY
	# without data.
	expect_eq "$(card_verify_with_data piv)" 0 "VERIFYs with a PIN"
	expect_eq "$(card_count piv '^00CB3FFF055C035FC105')" 1 "GET DATA 5FC105"
}
run_test "PIV RSA-2048: wait gives the certificate and the tries" t_piv_rsa_wait

t_piv_rsa_sign() {
	local out
	card_log_clear piv
	out=$(cc "$HELPER" sign 5000 123456)
	expect_eq "$(tail -n 1 <<<"$out")" "signed 256 verified" "sign"
	expect_eq "$(card_count piv '^1087079A')" 1 "chained GENERAL AUTHENTICATE"
	expect_eq "$(card_count piv '^0087079A')" 1 "its last piece"
	# Reset at the end: no verified PIN stays on the card.
	expect_eq "$(card_state piv verified)" false "the card's PIN state"
	grep -q '^# reset' "$CARD_DIR/piv.log" || fail "the card was never reset"
}
run_test "PIV RSA-2048: the right PIN gives a signature mamori_card_cert_verify accepts" t_piv_rsa_sign

t_piv_wrong_pin() {
	local out
	out=$(cc "$HELPER" sign 5000 000000 111111 123456)
	expect_eq "$out" "ok $R0 piv 3 rsa2048 $(card_fingerprint piv)
wrong_pin 2
wrong_pin 1
signed 256 verified" "three attempts"
	expect_eq "$(card_tries piv)" 3 "tries after the right PIN"
}
run_test "PIV: a wrong PIN counts down, the right one resets the count" t_piv_wrong_pin

t_piv_short_pin() {
	local out
	card_log_clear piv
	out=$(cc "$HELPER" sign 5000 12345 12a456 123456)
	expect_eq "$(tail -n 3 <<<"$out")" "wrong_pin 3
wrong_pin 3
signed 256 verified" "a PIN of 5 digits, one with a letter"
	expect_eq "$(card_verify_with_data piv)" 1 "VERIFYs with a PIN"
}
run_test "PIV: a PIN of the wrong length or with a letter is never sent and costs no try" t_piv_short_pin

t_piv_locked() {
	local out
	card_set_tries piv 0
	card_log_clear piv
	out=$(cc "$HELPER" sign 5000 123456 || true)
	expect_eq "$out" "ok $R0 piv 0 rsa2048 $(card_fingerprint piv)
locked" "sign on a blocked card"
	expect_eq "$(card_verify_with_data piv)" 0 "VERIFYs with a PIN"
	expect_eq "$(card_count piv '^0087')" 0 "GENERAL AUTHENTICATEs"
	card_set_tries piv 3
}
run_test "PIV: 0 tries gives locked, and no VERIFY with data reaches the card" t_piv_locked

t_piv_last_try() {
	local out
	card_set_tries piv 1
	out=$(cc "$HELPER" sign 5000 000000 123456 || true)
	expect_eq "$(tail -n 2 <<<"$out")" "wrong_pin 0
locked" "the last try, then the right PIN"
	expect_eq "$(card_tries piv)" 0 "tries"
	card_set_tries piv 3
}
run_test "PIV: a wrong PIN on the last try blocks the card; the next attempt is locked" t_piv_last_try

t_tries() {
	local out
	card_set_tries piv 2
	out=$(cc "$HELPER" tries 5000)
	expect_eq "$(tail -n 1 <<<"$out")" "tries 2" "tries"
	card_set_tries piv 3
}
run_test "tries: VERIFY without data on the card of the wait" t_tries

t_removed_between() {
	local out pid
	rm -f "$T/go"
	cc "$HELPER" sign 5000 wait:"$T/go" 123456 >"$T/removed.out" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do grep -q paused "$T/removed.out" && break; sleep 0.05; done
	card_remove piv
	touch "$T/go"
	wait "$pid" || true
	out=$(cat "$T/removed.out")
	expect_eq "$(tail -n 1 <<<"$out")" "error removed" "sign after the card left"
	card_insert piv
}
run_test "a card pulled between wait and sign: removed" t_removed_between

t_inserted_during_wait() {
	local out pid
	card_remove piv
	cc "$HELPER" wait 10000 >"$T/insert.out" 2>&1 &
	pid=$!
	sleep 0.5
	card_insert piv
	wait "$pid"
	out=$(cat "$T/insert.out")
	expect_eq "$out" "ok $R0 piv 3 rsa2048 $(card_fingerprint piv)" "wait"
}
run_test "a card inserted while the helper waits is taken" t_inserted_during_wait

t_watch() {
	local pid
	cc "$HELPER" watch 4 20 >"$T/watch.out" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do [ "$(wc -l <"$T/watch.out")" -ge 2 ] && break; sleep 0.05; done
	card_remove piv
	for _ in $(seq 1 100); do [ "$(wc -l <"$T/watch.out")" -ge 3 ] && break; sleep 0.05; done
	card_insert piv
	wait "$pid"
	expect_eq "$(head -n 2 "$T/watch.out" | sort)" "present $R0
removed $R1" "the first state of each reader"
	expect_eq "$(tail -n 2 "$T/watch.out")" "removed $R0
present $R0" "removal and insertion"
}
run_test "--watch: every reader's state, then the removal and the insertion" t_watch

t_privileges() {
	local pid helper="" status nobody
	# fd 9, open in card_client without O_CLOEXEC, must not reach the helper.
	timeout 60 "$CLIENT" "$HELPER" watch 9 20 >"$T/priv.out" 2>&1 9>"$T/leak" &
	pid=$!
	for _ in $(seq 1 100); do
		helper=$(pids_by_cmdline "^$HELPER .*--watch")
		[ -n "$helper" ] && [ "$(wc -l <"$T/priv.out")" -ge 2 ] && break
		sleep 0.05
	done
	[ -n "$helper" ] || fail "no helper process"
	status=$(cat "/proc/$helper/status")
	nobody=$(id -u nobody)
	expect_match "$status" "Uid:[[:space:]]+$nobody[[:space:]]+$nobody[[:space:]]+$nobody[[:space:]]+$nobody" "uids"
	grep -qE '^Groups:[[:space:]]*$' "/proc/$helper/status" || fail "groups: $(grep Groups "/proc/$helper/status")"
	expect_match "$status" "NoNewPrivs:[[:space:]]+1" "no_new_privs"
	expect_eq "$(tr '\0' '\n' <"/proc/$helper/environ")" "PCSCLITE_CSOCK_NAME=$PCSCLITE_CSOCK_NAME" "environment"
	expect_match "$(grep 'Max core' "/proc/$helper/limits")" "Max core file size +0 +0" "core limit"
	# Its fds: the socketpair on 0 and 1, stderr, and sockets (pcscd) only.
	local fd target
	for fd in /proc/"$helper"/fd/*; do
		target=$(readlink "$fd") || continue
		case ${fd##*/}:$target in
		0:socket:* | 1:socket:* | 2:*) ;;
		*:socket:*) [ "${fd##*/}" -ge 3 ] || fail "fd ${fd##*/} is $target" ;;
		*) fail "the helper has fd ${fd##*/} open on $target" ;;
		esac
	done
	# Its parent killed, the helper dies with it.
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null || true
	for _ in $(seq 1 40); do kill -0 "$helper" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$helper" 2>/dev/null; then fail "the helper outlived its parent"; fi
}
run_test "the helper runs as nobody, no groups, no_new_privs, no core, a clean environment" t_privileges

card_start ec --reader 1 --profile piv --key p256 --pin 87654321 || card_bail "the P-256 card did not start"

t_piv_p256() {
	local out
	card_remove piv
	out=$(cc "$HELPER" sign 5000 87654321)
	expect_eq "$(head -n 1 <<<"$out")" "ok $R1 piv 3 p256 $(card_fingerprint ec)" "wait"
	expect_match "$(tail -n 1 <<<"$out")" '^signed (6[0-9]|7[0-2]) verified$' "sign (DER ECDSA-Sig-Value)"
	expect_eq "$(card_count ec '^0087119A267C2482008120')" 1 "GENERAL AUTHENTICATE over the digest"
	card_insert piv
}
run_test "PIV P-256: the certificate, the tries and a signature that verifies" t_piv_p256

card_stop ec
card_stop piv
card_start mn --reader 1 --profile jpki --pin 1234 || card_bail "the JPKI card did not start"

t_jpki() {
	local out
	out=$(cc "$HELPER" sign 5000 1234)
	expect_eq "$out" "ok $R1 jpki 3 rsa2048 $(card_fingerprint mn)
signed 256 verified" "wait and sign"
	expect_eq "$(card_count mn '^00A4040C0AD392F000260100000001')" 1 "SELECT AP"
	expect_eq "$(card_count mn '^00A4020C020018')" 2 "EF 0018 before each VERIFY"
	expect_eq "$(card_count mn '^00A4020C020017')" 1 "EF 0017"
	expect_eq "$(card_count mn '^802A0080333031300D')" 1 "COMPUTE DIGITAL SIGNATURE over the DigestInfo"
}
run_test "JPKI: the user-authentication certificate, the tries, a signature that verifies" t_jpki

t_jpki_wrong_pin() {
	local out
	card_log_clear mn
	out=$(cc "$HELPER" sign 5000 9999 12345 abcd 1234)
	expect_eq "$(tail -n 4 <<<"$out")" "wrong_pin 2
wrong_pin 2
wrong_pin 2
signed 256 verified" "attempts"
	expect_eq "$(card_verify_with_data mn)" 2 "VERIFYs with a PIN"
	card_set_tries mn 0
	card_log_clear mn
	out=$(cc "$HELPER" sign 5000 1234 || true)
	expect_eq "$out" "ok $R1 jpki 0 rsa2048 $(card_fingerprint mn)
locked" "a blocked card"
	expect_eq "$(card_verify_with_data mn)" 0 "VERIFYs with a PIN on the blocked card"
	card_set_tries mn 3
}
run_test "JPKI: a wrong PIN counts down, a malformed one costs nothing, 0 tries is locked" t_jpki_wrong_pin

t_profiles() {
	local out
	out=$(cc --profiles piv "$HELPER" wait 1000 || true)
	expect_eq "$out" "error no_applet" "a JPKI card with profiles = piv"
}
run_test "profiles: a card without an applet of the list gives no_applet" t_profiles
card_stop mn

# A card with one fault of card_faulty.py: the helper refuses it ("card").
faulty() {
	local fault=$1 profile=$2 key=$3 pin=$4 name="f-$1" out
	VCARD="/usr/bin/python3 $top_srcdir/tests/integration/card_faulty.py --fault $fault" \
		card_start "$name" --reader 0 --profile "$profile" --key "$key" --pin "$pin"
	out=$(cc "$HELPER" sign 1500 "$pin" || true)
	card_stop "$name"
	echo "$out"
}

t_faulty_cert() {
	expect_eq "$(faulty cert-trailing piv rsa2048 123456)" "error card" "a byte after the certificate object"
	expect_eq "$(faulty cert-compressed piv rsa2048 123456)" "error card" "a compressed certificate"
	expect_eq "$(faulty cert-sw piv rsa2048 123456)" "error card" "62 83 after the certificate"
	expect_eq "$(faulty tries-sw piv rsa2048 123456)" "error card" "VERIFY without data answers 6F 00"
	expect_eq "$(faulty jpki-short-read jpki rsa2048 1234)" "error card" "READ BINARY one byte short"
}
run_test "responses of the wrong length, TLV or status word are refused (wait)" t_faulty_cert

t_faulty_sig() {
	expect_eq "$(faulty sig-short piv rsa2048 123456 | tail -n 1)" "error card" "a truncated 7C object"
	expect_eq "$(faulty sig-length piv rsa2048 123456 | tail -n 1)" "error card" "a 255-byte RSA signature"
	expect_eq "$(faulty jpki-sig-length jpki rsa2048 1234 | tail -n 1)" "error card" "a 255-byte JPKI signature"
}
run_test "signatures of the wrong length or TLV are refused (sign)" t_faulty_sig

t_protocol() {
	# Requests the helper does not accept, straight on its stdin.
	local out
	out=$(printf '{"op":"dance"}\0{"op":"sign","pin":"1234","challenge":"AAAA"}\0{"op":"wait","timeout_ms":-1}\0{"op":"tries"}\0' |
		timeout 20 "$HELPER" | tr '\0' '\n')
	expect_eq "$out" '{"ok":false,"error":"protocol"}
{"ok":false,"error":"protocol"}
{"ok":false,"error":"protocol"}
{"ok":false,"error":"protocol"}' "replies"
}
run_test "requests out of the protocol get the protocol error" t_protocol

t_refuses_root() {
	local rc=0 err
	err=$("$HELPER" --user root </dev/null 2>&1 >/dev/null) || rc=$?
	expect_eq "$rc" 1 "exit status with --user root"
	expect_match "$err" "no user root to run as \(or it is root\)" "message"
	rc=0
	"$HELPER" --user mamori-no-such-user </dev/null >/dev/null 2>&1 || rc=$?
	expect_eq "$rc" 1 "exit status with a user that does not exist"
	rc=0
	"$HELPER" --profiles piv,cac </dev/null >/dev/null 2>&1 || rc=$?
	expect_eq "$rc" 2 "exit status with an unknown profile"
}
run_test "as root, the helper refuses to stay root or to run as no one" t_refuses_root

# A helper that breaks the protocol (fake_card_helper.py, one symlink per
# mode): the daemon's side refuses the reply and kills the helper.
fake() {
	local mode=$1 out pid
	ln -sf "$top_srcdir/tests/integration/fake_card_helper.py" "$T/fake-$mode"
	rm -f "$T/fake-$mode.pid"
	out=$(cc "$T/fake-$mode" wait 0 || true)
	pid=$(cat "$T/fake-$mode.pid")
	if kill -0 "$pid" 2>/dev/null; then
		echo "fake-$mode still runs"
		return 0
	fi
	echo "$out"
}

t_untrusted_helper() {
	local m
	card_pki
	echo "$(card_cert_der piv)" >"$T/fake-cert-path"
	expect_eq "$(fake ok)" "ok $R0 piv 3 rsa2048 $(card_fingerprint piv)" "a well-formed reply"
	for m in extra-key tries-string tries-big cert-bad-b64 cert-b64-nl cert-big reader-ctrl reader-long \
		profile-other ok-string unknown-error trailing huge not-json duplicate-key exit; do
		expect_eq "$(fake "$m")" "error protocol" "$m"
	done
}
run_test "the daemon's side refuses every reply out of the protocol, and kills the helper" t_untrusted_helper

t_untrusted_watcher() {
	ln -sf "$top_srcdir/tests/integration/fake_card_helper.py" "$T/fake-watch-bad"
	ln -sf "$top_srcdir/tests/integration/fake_card_helper.py" "$T/fake-watch-huge"
	expect_eq "$(cc "$T/fake-watch-bad" watch 1 10 || true)" "removed R 0" "bad events skipped"
	expect_eq "$(cc "$T/fake-watch-huge" watch 1 10 || true)" "error helper_gone" "an event too long"
	if kill -0 "$(cat "$T/fake-watch-huge.pid")" 2>/dev/null; then fail "the watcher still runs"; fi
}
run_test "the watcher's events out of the protocol are skipped; one too long ends it" t_untrusted_watcher

t_silent_helper() {
	local start end
	start=$(date +%s)
	expect_eq "$(fake silent)" "error protocol" "a helper that never answers"
	end=$(date +%s)
	[ $((end - start)) -le 15 ] || fail "took $((end - start)) s"
}
run_test "a helper that does not answer in time is killed" t_silent_helper

card_cleanup
tap_done
