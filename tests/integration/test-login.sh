#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The real util-linux login on a pseudo-terminal, in a private mount
# namespace whose /etc/pam.d/login uses the built module: a first login with
# a temporary password goes through the forced change, then shows the banner
# and the last-login notice.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "unshare" command -v unshare
require "login" command -v login
require "python3" test -x /usr/bin/python3

BANNER_DIR=$(mktemp -d)
printf 'Komaki City: authorised use only\n' >"$BANNER_DIR/banner"
chmod 755 "$BANNER_DIR"
chmod 644 "$BANNER_DIR/banner"
EXTRA_CONF="[login]
banner = $BANNER_DIR/banner

[policy staff]
min_age_days = 0"
new_env
start_daemon || { echo "Bail out! daemon did not start"; exit 1; }
ns_setup
ns_pam login
cp "$top_srcdir/tests/integration/pty_login.py" "$T/pty_login.py"

# login_session SCRIPT: run login for the test account on a pty, following
# the expect/send SCRIPT.
login_session() {
	printf '%s\n' "$1" >"$T/login.steps"
	cat >"$T/login.sh" <<SH
/usr/bin/python3 "$T/pty_login.py" 30 -- login mamori-ns <"$T/login.steps"
SH
	ns_run "$T/login.sh"
}

t_first_login_forced_change() {
	local temp out rc=0
	ctl user add mamori-ns >/dev/null
	temp=$(ctl password temp mamori-ns | tail -n 1)
	out=$(login_session "expect Password: 
send $temp
expect New password: 
send Hoshizora-no-Shita-7
expect Retype new password: 
send Hoshizora-no-Shita-7
expect authorised use only
expect This is the first login
send echo LOGGED-IN-AS-\$(id -un)
expect LOGGED-IN-AS-mamori-ns
send exit") || rc=$?
	echo "$out"
	[ "$rc" -eq 0 ] || fail "the login session did not follow its script (status $rc)"
	expect_match "$out" 'You must change your temporary password now' "forced change notice"
	expect_match "$out" 'Your password has been changed' "change confirmed"
}

t_second_login_shows_last_login() {
	local out rc=0
	out=$(login_session "expect Password: 
send Hoshizora-no-Shita-7
expect authorised use only
expect Last login: 
send echo AGAIN-\$(id -un)
expect AGAIN-mamori-ns
send exit") || rc=$?
	echo "$out"
	[ "$rc" -eq 0 ] || fail "the login session did not follow its script (status $rc)"
	! grep -q 'New password' <<<"$out" || fail "asked to change again"
	[ "$(sql "SELECT count(*) FROM audit WHERE service = 'login' AND \"user\" = 'mamori-ns' AND category = 'session' AND reason LIKE 'session opened%'")" -ge 2 ] ||
		fail "sessions not recorded"
}

t_wrong_password_refused() {
	local out rc=0
	out=$(login_session "expect Password: 
send not-the-password
expect Login incorrect") || rc=$?
	echo "$out"
	[ "$rc" -eq 0 ] || fail "login did not say the login was incorrect"
	! grep -q 'Last login' <<<"$out" || fail "a session was opened"
}

run_test "P-PW-TEMP P-LOGIN-UI real login: temporary password, forced change, banner" t_first_login_forced_change
run_test "P-LOGIN-UI real login: the notice shows the last login" t_second_login_shows_last_login
run_test "real login refuses a wrong password" t_wrong_password_refused
rm -rf "$BANNER_DIR"
tap_done
