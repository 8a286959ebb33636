#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# mamori-fido2-helper, driven through the daemon's own client
# (authd/fido2/client.c, in tests/integration/fido2_client): its
# confinement (the configured user with the configured group as its only
# group, no_new_privs, not dumpable, no core, no fd of its parent, a clean
# environment, dies with its parent, refuses root); the client against a
# fake helper that breaks the protocol (fake_fido2_helper.py); and the real
# helper against the suite's software authenticator (tests/fido2/softkey.py
# over the test transport, MAMORI_TEST_FIDO2_DEVICES): probe, make_cred and
# assert checked by libfido2, a PIN required, a wrong PIN counting down, a
# blocked PIN, built-in UV, no touch, and several keys.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/softkey_lib.sh"

require "root" test "$(id -u)" -eq 0
require "python3-cbor2" /usr/bin/python3 -c "import cbor2, cryptography"
require_test_hooks "needs the software authenticator's transport"

HELPER="$top_builddir/authd/fido2/mamori-fido2-helper"
CLIENT="$top_builddir/tests/integration/fido2_client"
T=$(mktemp -d /tmp/mamori-fido2helper.XXXXXX)
chmod 755 "$T"
trap 'softkey_cleanup; rm -rf "$T"' EXIT
# The helper drops to nobody: a copy nobody can run, whatever the mode of
# the build directory.
cp "$HELPER" "$T/mamori-fido2-helper"
chmod 755 "$T/mamori-fido2-helper"
HELPER="$T/mamori-fido2-helper"
# Its one group: nogroup (Debian) or nobody (Fedora), never root's.
GROUP=$(getent group nogroup >/dev/null && echo nogroup || echo nobody)
GID=$(getent group "$GROUP" | cut -d: -f3)

# fc ARGS...: fido2_client on our helper, bounded in time.
fc() { timeout 60 "$CLIENT" --group "$GROUP" "$@"; }

t_privileges() {
	local pid helper="" status nobody fd target
	# No key ever comes: the helper polls for 20 s.  fd 9, open in the
	# client without O_CLOEXEC, must not reach it.
	MAMORI_TEST_FIDO2_DEVICES="$T/none" HOME=/root FOO=bar \
		"$CLIENT" --group "$GROUP" "$HELPER" probe 20000 >"$T/priv.out" 2>&1 9>"$T/leak" &
	pid=$!
	for _ in $(seq 1 100); do
		helper=$(pids_by_cmdline "^$HELPER --user nobody --group $GROUP$")
		# Confined, and its environment readable (past its exec).
		[ -n "$helper" ] && grep -q 'NoNewPrivs:[[:space:]]*1' "/proc/$helper/status" 2>/dev/null &&
			[ -n "$(tr '\0' '\n' <"/proc/$helper/environ" 2>/dev/null)" ] && break
		sleep 0.05
	done
	[ -n "$helper" ] || fail "no helper process"
	status=$(cat "/proc/$helper/status")
	nobody=$(id -u nobody)
	expect_match "$status" "Uid:[[:space:]]+$nobody[[:space:]]+$nobody[[:space:]]+$nobody[[:space:]]+$nobody" "uids"
	expect_match "$status" "Gid:[[:space:]]+$GID[[:space:]]+$GID[[:space:]]+$GID[[:space:]]+$GID" "gids"
	grep -qE "^Groups:[[:space:]]*$GID[[:space:]]*$" "/proc/$helper/status" ||
		fail "groups: $(grep Groups "/proc/$helper/status")"
	expect_match "$status" "NoNewPrivs:[[:space:]]+1" "no_new_privs"
	# Not dumpable: its /proc files belong to root, not to nobody.
	expect_eq "$(stat -c %u "/proc/$helper/status")" 0 "owner of /proc/PID/status (dumpable)"
	expect_eq "$(tr '\0' '\n' <"/proc/$helper/environ")" "MAMORI_TEST_FIDO2_DEVICES=$T/none" "environment"
	expect_match "$(grep 'Max core' "/proc/$helper/limits")" "Max core file size +0 +0" "core limit"
	for fd in /proc/"$helper"/fd/*; do
		target=$(readlink "$fd") || continue
		case ${fd##*/}:$target in
		0:socket:* | 1:socket:* | 2:*) ;;
		*) fail "the helper has fd ${fd##*/} open on $target" ;;
		esac
	done
	# Its parent killed, the helper dies with it.
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	for _ in $(seq 1 40); do kill -0 "$helper" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$helper" 2>/dev/null; then fail "the helper outlived its parent"; fi
}
run_test "the helper runs as nobody with only its group, no_new_privs, not dumpable, no core, no fd, clean environment, dies with its parent" t_privileges

t_refuses_root() {
	local rc=0 err
	err=$("$HELPER" --user root --group "$GROUP" </dev/null 2>&1 >/dev/null) || rc=$?
	expect_eq "$rc" 1 "exit status with --user root"
	expect_match "$err" "no user root to run as \(or it is root\)" "message"
	rc=0
	err=$("$HELPER" --user nobody --group root </dev/null 2>&1 >/dev/null) || rc=$?
	expect_eq "$rc" 1 "exit status with --group root"
	expect_match "$err" "no group root to run with \(or it is root's\)" "message"
	rc=0
	"$HELPER" --user nobody --group mamori-no-such-group </dev/null >/dev/null 2>&1 || rc=$?
	expect_eq "$rc" 1 "exit status with a group that does not exist"
	rc=0
	"$HELPER" --user mamori-no-such-user --group "$GROUP" </dev/null >/dev/null 2>&1 || rc=$?
	expect_eq "$rc" 1 "exit status with a user that does not exist"
	rc=0
	"$HELPER" --pcsc </dev/null >/dev/null 2>&1 || rc=$?
	expect_eq "$rc" 2 "exit status with an unknown option"
}
run_test "as root, the helper refuses to stay root, to keep root's group, or to run as no one" t_refuses_root

t_protocol() {
	# Requests the helper does not accept, straight on its stdin.
	local out cdh=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
	out=$(printf '%s\0' '{"op":"dance"}' '{"op":"probe","timeout_ms":-1}' '{"op":"probe","timeout_ms":0,"x":1}' \
		'{"op":"assert","rp_id":"mamori","cdh":"'$cdh'","allow":[],"up":false,"uv":false,"timeout_ms":0}' \
		'{"op":"assert","rp_id":"mamori","cdh":"AAAA","allow":[],"up":true,"uv":false,"timeout_ms":0}' \
		'{"op":"assert","rp_id":"mamori","cdh":"'$cdh'","allow":["@@"],"up":true,"uv":false,"timeout_ms":0}' \
		'{"op":"assert","rp_id":"mamori","cdh":"'$cdh'","allow":[],"up":true,"uv":false,"timeout_ms":0,"pin":""}' \
		'{"op":"make_cred","rp_id":"mamori","cdh":"'$cdh'","exclude":[],"uv":false,"timeout_ms":0}' |
		MAMORI_TEST_FIDO2_DEVICES="$T/none" timeout 20 "$HELPER" --group "$GROUP" | tr '\0' '\n')
	expect_eq "$out" "$(for _ in 1 2 3 4 5 6 7 8; do echo '{"ok":false,"error":"protocol"}'; done)" "replies"
	# With no probe before it, a well-formed assert finds no key.
	out=$(printf '%s\0' '{"op":"assert","rp_id":"mamori","cdh":"'$cdh'","allow":[],"up":true,"uv":false,"timeout_ms":0}' |
		MAMORI_TEST_FIDO2_DEVICES="$T/none" timeout 20 "$HELPER" --group "$GROUP" | tr '\0' '\n')
	expect_eq "$out" '{"ok":false,"error":"no_key"}' "assert without a key"
}
run_test "requests out of the protocol get the protocol error" t_protocol

# A helper that breaks the protocol (fake_fido2_helper.py, one symlink per
# mode): the client refuses the reply and kills the helper.
fake() {
	local mode=$1 out pid
	shift
	ln -sf "$top_srcdir/tests/integration/fake_fido2_helper.py" "$T/fake-$mode"
	rm -f "$T/fake-$mode.pid"
	out=$(fc "$T/fake-$mode" probe 0 "$@" || true)
	pid=$(cat "$T/fake-$mode.pid")
	if kill -0 "$pid" 2>/dev/null; then
		echo "fake-$mode still runs"
		return 0
	fi
	tail -n 1 <<<"$out"
}

t_untrusted_helper() {
	local m
	expect_eq "$(fake p-ok)" "key /dev/hidraw0 pin_set=0 uv=0 bio=0 retries=-1" "a well-formed probe"
	for m in keys-empty keys-nine key-extra key-missing path-ctrl path-long path-dup product-long retries-big \
		retries-string uv-int ok-string extra unknown-error error-extra wrong-pin-bare trailing huge not-json \
		duplicate-key exit; do
		expect_eq "$(fake "p-$m")" "error protocol" "probe: $m"
	done
	expect_match "$(fake a-ok assert 1000 cred:00112233)" "^asserted /dev/hidraw0 REFUSED" "a well-formed assert"
	for m in path-other cred-bad-b64 cred-b64-nl cred-big authdata-big sig-empty sig-big pin-used no-sig extra \
		wrong-pin-big; do
		expect_eq "$(fake "a-$m" assert 1000 cred:00112233)" "error protocol" "assert: $m"
	done
	expect_match "$(fake m-ok make 1000)" "^made /dev/hidraw0 none" "a well-formed make_cred"
	for m in fmt-upper fmt-long x5c-big sig-int no-uv extra path-other; do
		expect_eq "$(fake "m-$m" make 1000)" "error protocol" "make_cred: $m"
	done
}
run_test "the client refuses every reply out of the protocol, and kills the helper" t_untrusted_helper

t_silent_helper() {
	local start end
	start=$(date +%s)
	expect_eq "$(fake p-silent)" "error protocol" "a helper that never answers"
	end=$(date +%s)
	[ $((end - start)) -le 15 ] || fail "took $((end - start)) s"
}
run_test "a helper that does not answer in time is killed" t_silent_helper

# ------------------------------------------------ the software authenticator
fido2_bail() {
	echo "Bail out! $*"
	exit 1
}
softkey_start pin --pin 1234 --pin-retries 8 || fido2_bail "softkey did not start"
softkey_start plain || fido2_bail "softkey did not start"
softkey_start bio --uv builtin --bio || fido2_bail "softkey did not start"
PIN=$(softkey_sock pin)
PLAIN=$(softkey_sock plain)
BIO=$(softkey_sock bio)

# on SOCKS ARGS...: the client with those keys (a:b), credentials in $T/store.
on() {
	local socks=$1
	shift
	MAMORI_TEST_FIDO2_DEVICES=$socks fc --store "$T/store" "$HELPER" "$@"
}

t_probe() {
	expect_eq "$(on "$PIN:$PLAIN:$BIO" probe 2000)" "key unix:$PIN pin_set=1 uv=0 bio=0 retries=8
key unix:$PLAIN pin_set=0 uv=0 bio=0 retries=-1
key unix:$BIO pin_set=0 uv=1 bio=1 retries=-1" "three keys"
	expect_eq "$(on "$T/none" probe 300 || true)" "error timeout" "no key"
}
run_test "probe: every key with its options and PIN retries; none gives timeout" t_probe

t_pin() {
	local out
	rm -f "$T/store"
	out=$(on "$PIN" probe 2000 make 5000 uv || true)
	expect_eq "$(tail -n 1 <<<"$out")" "error pin_required" "make_cred with uv and no PIN"
	out=$(on "$PIN" probe 2000 make 5000 uv pin:1234 assert 5000 uv pin:1234)
	expect_eq "$(sed -n 2p <<<"$out")" "made unix:$PIN packed verified" "make_cred with the PIN"
	expect_match "$(sed -n 3p <<<"$out")" "^asserted unix:$PIN verified up=1 uv=1 pin_used=1 count=[0-9]+$" "assert"
	out=$(on "$PIN" probe 2000 assert 5000 uv || true)
	expect_eq "$(tail -n 1 <<<"$out")" "error pin_required" "assert with uv and no PIN"
}
run_test "PIN: make_cred and assert with the PIN verify; uv without a PIN is pin_required" t_pin

t_wrong_pin() {
	local out pid
	out=$(on "$PIN" probe 2000 assert 5000 uv pin:9999 assert 5000 uv pin:0000 assert 5000 uv pin:12 \
		assert 5000 uv pin:1234)
	expect_eq "$(tail -n 4 <<<"$out")" "error wrong_pin retries=7
error wrong_pin retries=6
error wrong_pin retries=6
$(tail -n 1 <<<"$out")" "attempts"
	expect_match "$(tail -n 1 <<<"$out")" "^asserted unix:$PIN verified up=1 uv=1 pin_used=1" "the right PIN"
	expect_eq "$(softkey_state pin pin_retries)" 8 "retries after the right PIN"
	# No retries left at the probe: pin_blocked, and no PIN is sent.  The
	# key is given its retries back between the probe and the assert: a
	# helper that sent the (right) PIN would get an assertion.
	softkey_set pin '{"pin_retries":0}'
	rm -f "$T/go"
	on "$PIN" probe 2000 pause "$T/go" assert 5000 uv pin:1234 >"$T/blocked.out" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do grep -q paused "$T/blocked.out" && break; sleep 0.05; done
	softkey_set pin '{"pin_retries":8}'
	touch "$T/go"
	wait "$pid" || true
	expect_eq "$(cat "$T/blocked.out")" "key unix:$PIN pin_set=1 uv=0 bio=0 retries=0
paused
error pin_blocked" "a blocked PIN"
	expect_eq "$(softkey_state pin pin_retries)" 8 "retries (no PIN reached the key)"
}
run_test "PIN: a wrong one counts down, one too short costs nothing, 0 retries is pin_blocked and no PIN is sent" t_wrong_pin

t_builtin_uv() {
	local out
	rm -f "$T/store"
	out=$(on "$BIO" probe 2000 make 5000 uv assert 5000 uv)
	expect_eq "$(sed -n 2p <<<"$out")" "made unix:$BIO packed verified" "make_cred"
	expect_match "$(sed -n 3p <<<"$out")" "^asserted unix:$BIO verified up=1 uv=1 pin_used=0" "assert"
}
run_test "built-in UV: no PIN, the UV flag signed" t_builtin_uv

t_several_keys() {
	local out
	rm -f "$T/store"
	# A credential on the key without a PIN only.
	out=$(on "$PLAIN" probe 2000 make 5000)
	expect_eq "$(tail -n 1 <<<"$out")" "made unix:$PLAIN packed verified" "make_cred"
	# With three keys, the one that holds it answers, the first is not asked.
	out=$(on "$PIN:$BIO:$PLAIN" probe 2000 assert 5000)
	expect_match "$(tail -n 1 <<<"$out")" "^asserted unix:$PLAIN verified up=1 uv=0 pin_used=0" "assert"
	# make_cred with it excluded goes to the first key that does not hold it.
	out=$(on "$PLAIN:$BIO" probe 2000 make 5000 exclude)
	expect_eq "$(tail -n 1 <<<"$out")" "made unix:$BIO packed verified" "make_cred, excluded"
	# An unknown credential: the first key, no_credential.
	out=$(on "$PLAIN:$BIO" probe 2000 assert 5000 none cred:00112233445566778899 || true)
	expect_eq "$(tail -n 1 <<<"$out")" "error no_credential" "an unknown credential"
}
run_test "several keys: the key holding the credential is chosen; exclude skips it" t_several_keys

t_no_touch() {
	local out start end
	softkey_set plain '{"touch":false}'
	start=$(date +%s%N)
	out=$(on "$PLAIN" probe 2000 assert 1000 || true)
	end=$(date +%s%N)
	softkey_set plain '{"touch":true}'
	expect_eq "$(tail -n 1 <<<"$out")" "error timeout" "no touch"
	[ $(((end - start) / 1000000)) -lt 15000 ] || fail "took $(((end - start) / 1000000)) ms"
}
run_test "no touch: timeout" t_no_touch

softkey_cleanup
tap_done
