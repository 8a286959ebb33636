#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# P-ID-LIFECYCLE, the review gate: an account under review after a transfer
# (review_required, which the HR directory's sync sets; written into the
# store here as the sync writes it) is refused when it is privileged, and
# on every service bound to groups (allow_groups), at the point where
# disabled accounts are refused, with its own message and never before the
# factors were answered; elsewhere it logs in.  user show tells the review,
# the reason of a state and whether the directory manages the account, and
# an administrator's enable or disable clears mamori's reason.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "python3" test -x /usr/bin/python3
require "sqlite3" command -v sqlite3

EXTRA_CONF="[service group-bound]
system = default
allow_users = rv.sato
allow_groups = nogroup"
new_env
make_service group-bound
start_daemon || { echo "Bail out! daemon did not start"; cat "$T/daemon.log"; exit 1; }

SATO_PW='Sakura-no-Ki-2030-Haru'
ADMIN_PW='Sora-no-Iro-2031-Kumo'
add_user rv.sato "$SATO_PW" || { echo "Bail out! cannot add rv.sato"; exit 1; }
add_user rv.admin "$ADMIN_PW" --privileged || { echo "Bail out! cannot add rv.admin"; exit 1; }

review() { sql "UPDATE users SET review_required = $2 WHERE name = '$1'"; }

t_review_refuses_group_bound_services() {
	local out
	pam -p "$SATO_PW" group-bound rv.sato auth=SUCCESS acct=SUCCESS >/dev/null
	review rv.sato 1
	out=$(pam -p "$SATO_PW" group-bound rv.sato auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" 'error: This account is under review after a transfer' "refused with its message"
	# Nothing is told before the password.
	out=$(pam -p 'wrong-password' group-bound rv.sato auth=AUTH_ERR)
	! grep -q 'review' <<<"$out" || fail "the review shown without the password"
	# A stack where another module authenticated: the account step refuses.
	out=$(pam group-bound rv.sato acct=PERM_DENIED)
	echo "$out"
	expect_match "$out" 'under review after a transfer' "account step"
	# A service not bound to groups: an unprivileged account logs in.
	pam -p "$SATO_PW" mamori-test rv.sato auth=SUCCESS acct=SUCCESS >/dev/null
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'rv.sato' AND service = 'group-bound'
		AND reason = 'account under review'")" -ge 2 ] || fail "refusals not audited"
	expect_eq "$(ctl --json user show rv.sato | json 'd["user"]["review_required"]')" True "user show"
	expect_match "$(ctl user show rv.sato)" 'review required: *yes' "human user show"
	review rv.sato 0
	pam -p "$SATO_PW" group-bound rv.sato auth=SUCCESS acct=SUCCESS >/dev/null
}

t_review_refuses_privileged_everywhere() {
	local out
	pam -p "$ADMIN_PW" mamori-test rv.admin auth=SUCCESS acct=SUCCESS >/dev/null
	review rv.admin 1
	out=$(pam -p "$ADMIN_PW" mamori-test rv.admin auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" 'error: This account is under review after a transfer' "privileged refused"
	review rv.admin 0
	pam -p "$ADMIN_PW" mamori-test rv.admin auth=SUCCESS acct=SUCCESS >/dev/null
}

t_state_reason_shown_and_cleared_by_admin() {
	local out
	expect_eq "$(ctl --json user show rv.sato | json 'd["user"]["managed"]')" False "not managed"
	expect_eq "$(ctl --json user show rv.sato | json 'd["user"]["state_reason"]')" "" "no reason"
	sql "UPDATE users SET state = 'disabled', state_reason = 'secondment' WHERE name = 'rv.sato'"
	out=$(ctl user show rv.sato)
	echo "$out"
	expect_match "$out" 'state reason: *secondment' "reason shown"
	expect_eq "$(ctl --json user list | json '[u["state_reason"] for u in d["users"] if u["name"] == "rv.sato"][0]')" \
		secondment "user list"
	ctl user enable rv.sato >/dev/null
	expect_eq "$(ctl --json user show rv.sato | json 'd["user"]["state_reason"]')" "" "enable clears it"
	sql "UPDATE users SET state_reason = 'stale' WHERE name = 'rv.sato'"
	ctl user disable rv.sato >/dev/null
	expect_eq "$(ctl --json user show rv.sato | json 'd["user"]["state_reason"]')" "" "disable clears it"
	ctl user enable rv.sato >/dev/null
}

run_test "P-ID-LIFECYCLE an account under review is refused on services bound to groups" t_review_refuses_group_bound_services
run_test "P-ID-LIFECYCLE a privileged account under review is refused everywhere" t_review_refuses_privileged_everywhere
run_test "P-ID-LIFECYCLE the state's reason is shown, and an administrator's enable or disable clears it" t_state_reason_shown_and_cleared_by_admin
tap_done
