#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The real util-linux su, in a private mount namespace whose /etc/pam.d/su
# uses the built module and whose /etc/passwd knows a test account.  The
# host's files are never touched.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "unshare" command -v unshare
require "su" test -u "$(command -v su)"
require "pam_mamori.so" test -f "$BUILT_MODULE"

new_env
start_daemon || { echo "Bail out! daemon did not start"; exit 1; }
add_user mamori-su 'Su-Target-Secret-1'

mkdir -p "$T/etc/pam.d"
cp -a /etc/pam.d/. "$T/etc/pam.d/"
# NS_MODULE: without sanitizers in the sanitizer pass; setuid su ignores LD_PRELOAD (lib.sh).
cat >"$T/etc/pam.d/su" <<SVC
auth     required $NS_MODULE socket=$T/run/pam.sock
account  required $NS_MODULE socket=$T/run/pam.sock
session  required $NS_MODULE socket=$T/run/pam.sock
SVC
for f in passwd shadow group; do cp "/etc/$f" "$T/etc/$f"; done
echo "mamori-su:x:40001:40001:mamori su target:/tmp:/bin/sh" >>"$T/etc/passwd"
echo "mamori-su:!:20000:0:99999:7:::" >>"$T/etc/shadow"
echo "mamori-su:x:40001:" >>"$T/etc/group"

# in_namespace PASSWORD: an unprivileged user runs su to mamori-su, typing
# PASSWORD; prints su's output and its exit status.
in_namespace() {
	cat >"$T/inner.sh" <<IN
set -e
for f in pam.d passwd shadow group; do mount --bind "$T/etc/\$f" "/etc/\$f"; done
rc=0
printf '%s\n' "\$1" | runuser -u nobody -- su mamori-su -c 'id -un' || rc=\$?
echo "rc=\$rc"
IN
	unshare -m --propagation private bash "$T/inner.sh" "$1" 2>&1
}

t_su_right_password() {
	local out
	out=$(in_namespace 'Su-Target-Secret-1')
	echo "$out"
	expect_match "$out" '^Password: mamori-su' "su output"
	expect_match "$out" 'rc=0' "su status"
	[ "$(sql "SELECT count(*) FROM audit WHERE service = 'su' AND \"user\" = 'mamori-su' AND result = 'success' AND category = 'auth' AND actor = 'nobody'")" -ge 1 ] ||
		fail "no audit row naming su, the target and the calling user"
	[ "$(sql "SELECT count(*) FROM sessions WHERE service = 'su'")" -ge 1 ] || fail "no session registered"
}

t_su_wrong_password() {
	local out
	out=$(in_namespace 'not-the-password')
	echo "$out"
	expect_match "$out" 'Authentication failure' "su output"
	expect_match "$out" 'rc=1' "su status"
	! expect_match "$out" 'mamori-su$' "su output" 2>/dev/null || fail "su ran the command"
}

t_su_daemon_down() {
	local out
	stop_daemon
	out=$(in_namespace 'Su-Target-Secret-1')
	echo "$out"
	expect_match "$out" 'rc=1' "su status"
	start_daemon
}

t_host_untouched() {
	! grep -q mamori-su /etc/passwd || fail "host /etc/passwd changed"
	! grep -q pam_mamori /etc/pam.d/su || fail "host /etc/pam.d/su changed"
}

run_test "real su with the right password" t_su_right_password
run_test "real su with a wrong password is refused" t_su_wrong_password
run_test "real su fails closed when the daemon is down" t_su_daemon_down
run_test "the host's pam.d and passwd are untouched" t_host_untouched
tap_done
