#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# mamorictl against a real daemon.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "mamorictl" test -x "$CTL"
require "python3" test -x /usr/bin/python3

# A service that asks for the password and a TOTP code (the factor calls).
EXTRA_CONF="[service cli-mfa]
require = password+totp"
new_env
make_service cli-mfa
start_daemon || { echo "Bail out! daemon did not start"; exit 1; }

t_user_lifecycle() {
	local out
	ctl user add sato.taro --kind contractor --expires 2031-03-31 >/dev/null
	out=$(ctl --json user show sato.taro)
	expect_eq "$(echo "$out" | json 'd["user"]["kind"]')" contractor "kind"
	expect_eq "$(echo "$out" | json 'd["user"]["state"]')" pending "state before a password"
	expect_eq "$(echo "$out" | json 'd["user"]["expires"]')" 2031-03-31 "expires"
	expect_eq "$(echo "$out" | json 'd["user"]["privileged"]')" False "privileged"
	ctl user add suzuki.admin --privileged >/dev/null
	expect_eq "$(ctl --json user show suzuki.admin | json 'd["user"]["privileged"]')" True "privileged"
	out=$(ctl user list)
	echo "$out"
	expect_match "$out" 'sato\.taro +contractor' "list"
	ctl user disable sato.taro >/dev/null
	expect_eq "$(ctl --json user show sato.taro | json 'd["user"]["state"]')" disabled "after disable"
	ctl user enable sato.taro >/dev/null
	expect_eq "$(ctl --json user show sato.taro | json 'd["user"]["state"]')" pending "enable without password"
	ctl user delete sato.taro >/dev/null
	local rc=0
	ctl user show sato.taro 2>"$T/err" || rc=$?
	expect_eq "$rc" 1 "exit status for a missing user"
	expect_eq "$(wc -l <"$T/err")" 1 "one error line"
	expect_match "$(cat "$T/err")" '^mamorictl: .*sato\.taro.*' "error line"
}

t_errors_are_one_line_and_nonzero() {
	local rc
	ctl user add tanaka >/dev/null
	rc=0; ctl user add tanaka 2>"$T/err" || rc=$?
	expect_eq "$rc" 1 "duplicate add"
	expect_eq "$(wc -l <"$T/err")" 1 "one line"
	rc=0; ctl user add 'bad/name' 2>"$T/err" || rc=$?
	expect_eq "$rc" 2 "invalid name"
	rc=0; ctl user add x1 --kind boss 2>"$T/err" || rc=$?
	expect_eq "$rc" 2 "invalid kind"
	rc=0; ctl user add x2 --expires 2026-02-31 2>"$T/err" || rc=$?
	[ "$rc" -ne 0 ] || fail "impossible date accepted"
	rc=0; ctl frobnicate 2>"$T/err" || rc=$?
	expect_eq "$rc" 2 "unknown command"
	rc=0; "$CTL" --socket "$T/run/nonexistent.sock" status 2>"$T/err" || rc=$?
	expect_eq "$rc" 3 "unreachable daemon"
	expect_eq "$(wc -l <"$T/err")" 1 "one line"
}

t_password_temp_generated_is_last_line() {
	local out last
	ctl user add ito >/dev/null
	out=$(ctl password temp ito)
	last=$(echo "$out" | tail -n 1)
	echo "$out"
	expect_match "$last" '^[A-Za-z2-9]{16}$' "generated password line"
	pam -p "$last" mamori-test ito auth=SUCCESS acct=NEW_AUTHTOK_REQD
	out=$(ctl --json password temp ito)
	expect_match "$(echo "$out" | json 'd["password"]')" '^[A-Za-z2-9]{16}$' "json password"
}

t_password_temp_stdin() {
	local out
	ctl user add kato >/dev/null
	out=$(printf 'Kato-Temp-Pass-1\n' | ctl password temp kato --password-stdin)
	! grep -q 'Kato-Temp-Pass-1' <<<"$out" || fail "password echoed"
	pam -p 'Kato-Temp-Pass-1' mamori-test kato auth=SUCCESS
	local rc=0
	printf '\n' | ctl password temp kato --password-stdin 2>/dev/null || rc=$?
	[ "$rc" -ne 0 ] || fail "empty password accepted"
}

t_audit_show_and_since() {
	local out n
	out=$(ctl --json audit show)
	n=$(echo "$out" | json 'len(d["records"])')
	[ "$n" -ge 5 ] || fail "only $n records"
	advance_clock 86400
	ctl user add late.comer >/dev/null
	out=$(ctl --json audit show --since "$(cat "$T/clock")")
	echo "$out" | json '"\n".join(r["reason"] or "" for r in d["records"])'
	expect_eq "$(echo "$out" | json 'd["records"][0]["reason"]')" "user add" "first record since"
	out=$(ctl audit show)
	expect_match "$out" 'user add' "human audit listing"
	# The row of an account made or changed records what was set.
	ctl user add early.bird --hours 'Mon-Fri 07:00-09:00' >/dev/null
	ctl user set early.bird --kind contractor >/dev/null
	out=$(ctl --json audit show --since "$(cat "$T/clock")")
	expect_eq "$(echo "$out" | json '[r["detail"]["hours"] for r in d["records"] if r["user"] == "early.bird"]')" \
		"['Mon-Fri 07:00-09:00', 'Mon-Fri 07:00-09:00']" "hours in the user add and user set rows"
	expect_eq "$(echo "$out" | json '[r["detail"]["kind"] for r in d["records"] if r["user"] == "early.bird"]')" \
		"['staff', 'contractor']" "kind in the user add and user set rows"
	set_clock "$(date +%s)"
}

t_listings_longer_than_one_message() {
	# 400 users and their audit rows are far more than 64 KiB.
	local i n
	for i in $(seq 1 400); do echo "user$i"; done | while read -r u; do ctl user add "$u" >/dev/null; done
	n=$(ctl --json user list | json 'len(d["users"])')
	[ "$n" -ge 400 ] || fail "user list gave $n users"
	expect_eq "$(ctl user list | grep -c '^user[0-9]')" 400 "human user list"
	n=$(ctl --json audit show | json 'len(d["records"])')
	[ "$n" -ge 400 ] || fail "audit show gave $n records"
	expect_eq "$(ctl --json audit show --limit 250 | json 'len(d["records"])')" 250 "audit show --limit"
	ctl audit verify
}

t_status() {
	local out
	out=$(ctl --json status)
	expect_match "$(echo "$out" | json 'd["store"]["backend"]')" "$MAMORI_TEST_BACKEND" "backend"
	[ "$(echo "$out" | json 'd["users"]')" -ge 1 ] || fail "users"
	out=$(ctl status)
	expect_match "$out" 'version' "human status"
}

t_acting_admin_recorded() {
	# The audit row names the person of the caller's login uid: ctl runs
	# with root's; through sudo, a root process keeps the login uid of the
	# person who logged in (nobody's, here).
	local actor
	actor=$(sql "SELECT actor FROM audit WHERE category = 'admin' AND reason = 'user add' LIMIT 1")
	expect_eq "$actor" root "actor with root's login uid"
	( echo 65534 >/proc/self/loginuid && exec "$CTL" --socket "$T/run/admin.sock" user add by.sudo ) >/dev/null
	actor=$(sql "SELECT actor FROM audit WHERE category = 'admin' AND \"user\" = 'by.sudo'")
	expect_eq "$actor" "$(getent passwd 65534 | cut -d: -f1)" "actor from the login uid"
}

t_failed_attempts_count_the_locking_failure() {
	# The failure that locks an account is one of its failed attempts.
	local i
	add_user fa.kudo 'Hoshi-no-Yoru-2030'
	for i in 1 2 3 4; do pam -p 'wrong' mamori-test fa.kudo auth=AUTH_ERR >/dev/null; done
	expect_eq "$(ctl --json user show fa.kudo | json 'd["user"]["failed_attempts"]')" 4 "after 4 failures"
	pam -p 'wrong' mamori-test fa.kudo auth=MAXTRIES >/dev/null
	expect_eq "$(ctl --json user show fa.kudo | json 'd["user"]["locked"]')" True "locked after 5"
	expect_eq "$(ctl --json user show fa.kudo | json 'd["user"]["failed_attempts"]')" 5 "after the 5th, which locked"
	expect_match "$(ctl user show fa.kudo)" 'failed attempts: *5' "human user show"
	# Once the lock has run out, the next failure opens a new window.
	advance_clock 901
	expect_eq "$(ctl --json user show fa.kudo | json 'd["user"]["failed_attempts"]')" 0 "after the lock ran out"
	pam -p 'wrong' mamori-test fa.kudo auth=AUTH_ERR >/dev/null
	expect_eq "$(ctl --json user show fa.kudo | json 'd["user"]["failed_attempts"]')" 1 "a new window"
	pam -p 'Hoshi-no-Yoru-2030' mamori-test fa.kudo auth=SUCCESS >/dev/null
	expect_eq "$(ctl --json user show fa.kudo | json 'd["user"]["failed_attempts"]')" 0 "after a success"
	set_clock "$(date +%s)"
}

# ------------------------------------------------------- factor calls

# admin CALL PARAMS: io.mamori.Admin.CALL through the raw client, as root
# with root's login uid; prints the reply.
admin() {
	local out
	out=$(
		echo 0 >/proc/self/loginuid
		exec /usr/bin/python3 "$top_srcdir/tests/integration/rawclient.py" "$T/run/admin.sock" \
			"{\"method\":\"io.mamori.Admin.$1\",\"parameters\":$2}"
	)
	head -n 1 <<<"$out"
}

# The TOTP code for the test clock (plus OFFSET seconds).
totp_code() {
	oathtool --totp -b "$1" --now "@$(($(cat "$T/clock") + ${2:-0}))"
}

t_factor_enrol_confirm_list_revoke() {
	local out id secret now
	command -v oathtool >/dev/null || fail "oathtool is not installed"
	add_user fumi 'Fuji-no-Yama-2030x'
	out=$(admin FactorEnroll '{"name":"fumi","factor":"totp","label":"phone"}')
	expect_eq "$(echo "$out" | json '(d["parameters"]["factor"], d["parameters"]["label"])')" "('totp', 'phone')" \
		"enrolment reply"
	id=$(echo "$out" | json 'd["parameters"]["id"]')
	secret=$(echo "$out" | json 'd["parameters"]["secret"]')
	expect_match "$(echo "$out" | json 'd["parameters"]["uri"]')" '^otpauth://totp/' "handover"
	# Pending: not a factor of the account yet, and a wrong code is refused.
	expect_eq "$(ctl --json user show fumi | json '"totp" in d["user"]["factors"]')" False "pending"
	out=$(admin FactorConfirm "{\"name\":\"fumi\",\"factor\":\"totp\",\"code\":\"$(totp_code "$secret" 3600)\"}")
	expect_eq "$(echo "$out" | json 'd["error"]')" io.mamori.Error.PolicyViolation "wrong code"
	out=$(admin FactorConfirm "{\"name\":\"fumi\",\"factor\":\"totp\",\"code\":\"$(totp_code "$secret")\"}")
	expect_eq "$(echo "$out" | json '"totp" in d["parameters"]["user"]["factors"]')" True "confirmed"
	# Listed with its own fields, never its secret.
	out=$(admin FactorList '{"name":"fumi"}')
	echo "$out"
	expect_eq "$(echo "$out" | json '[(c["id"], c["name"], c["factor"], c["label"], c["state"], c["algorithm"]) for c in d["parameters"]["credentials"]]')" \
		"[($id, 'fumi', 'totp', 'phone', 'active', 'SHA1')]" "listing"
	! grep -q "$secret" <<<"$out" || fail "the secret is listed"
	advance_clock 30
	pam -p 'Fuji-no-Yama-2030x' -p "$(totp_code "$secret")" cli-mfa fumi auth=SUCCESS >/dev/null
	# A revocation says why.
	out=$(admin FactorRevoke '{"name":"fumi","factor":"totp"}')
	expect_eq "$(echo "$out" | json '(d["error"], d["parameters"]["parameter"])')" \
		"('org.varlink.service.InvalidParameter', 'reason')" "no reason"
	out=$(admin FactorRevoke '{"name":"fumi","factor":"totp","reason":"phone lost"}')
	expect_eq "$(echo "$out" | json '"totp" in d["parameters"]["user"]["factors"]')" False "revoked"
	now=$(cat "$T/clock")
	expect_eq "$(admin FactorList '{"name":"fumi"}' | json 'd["parameters"]["credentials"]')" "[]" \
		"revoked ones are not listed by default"
	out=$(admin FactorList '{"name":"fumi","factor":"totp","revoked":true}')
	echo "$out"
	expect_eq "$(echo "$out" | json '[(c["id"], c["state"], c["reason"], c["revoked_by"], c["revoked_at"]) for c in d["parameters"]["credentials"]]')" \
		"[($id, 'revoked', 'phone lost', 'root', $now)]" "revoked listing"
	expect_eq "$(sql "SELECT reason || ' ' || actor FROM audit WHERE category = 'admin' AND \"user\" = 'fumi'
		ORDER BY id DESC LIMIT 1")" "totp revoke root" "revocation audited"
	# The revoked credential logs in no more.
	advance_clock 30
	pam -p 'Fuji-no-Yama-2030x' -p "$(totp_code "$secret")" cli-mfa fumi auth=AUTH_ERR >/dev/null
	out=$(admin FactorRevoke '{"name":"fumi","factor":"totp","reason":"again"}')
	expect_eq "$(echo "$out" | json 'd["error"]')" io.mamori.Error.NotFound "nothing left to revoke"
	# Required at the next login.
	out=$(admin FactorRequire '{"name":"fumi","factor":"totp"}')
	expect_eq "$(echo "$out" | json '(d["parameters"]["user"]["totp_required"], d["parameters"]["user"]["enroll_required"])')" \
		"(True, ['totp'])" "required"
	set_clock "$(date +%s)"
}

t_factor_unknown_refused() {
	local f out
	ctl user add kumi >/dev/null
	# Unknown, not in this build, or without credentials of its own.
	for f in retina fido2 password '' 7; do
		out=$(admin FactorEnroll "{\"name\":\"kumi\",\"factor\":$(printf '%s' "$f" | /usr/bin/python3 -c 'import json,sys; s=sys.stdin.read(); print(s if s.isdigit() else json.dumps(s))')}")
		expect_eq "$(echo "$out" | json '(d["error"], d["parameters"]["parameter"])')" \
			"('org.varlink.service.InvalidParameter', 'factor')" "FactorEnroll factor $f"
	done
	for call in FactorConfirm FactorRequire FactorList; do
		out=$(admin "$call" '{"name":"kumi","factor":"retina","code":"123456"}')
		expect_eq "$(echo "$out" | json 'd["parameters"]["parameter"]')" factor "$call"
	done
	out=$(admin FactorRevoke '{"name":"kumi","reason":"x"}')
	expect_eq "$(echo "$out" | json 'd["parameters"]["parameter"]')" factor "FactorRevoke without a factor"
	expect_eq "$(ctl --json user show kumi | json '(d["user"]["factors"], d["user"]["enroll_required"])')" \
		"([], [])" "nothing changed"
}

t_factor_revoke_one_credential() {
	local out id
	ctl user add rumi >/dev/null
	id=$(admin FactorEnroll '{"name":"rumi","factor":"totp"}' | json 'd["parameters"]["id"]')
	# Only a credential of this account and factor, not revoked yet.
	out=$(admin FactorRevoke "{\"name\":\"rumi\",\"factor\":\"totp\",\"id\":$((id + 1000)),\"reason\":\"x\"}")
	expect_eq "$(echo "$out" | json 'd["error"]')" io.mamori.Error.NotFound "another id"
	out=$(admin FactorRevoke "{\"name\":\"rumi\",\"factor\":\"totp\",\"id\":$id,\"reason\":\"handed to the wrong person\"}")
	expect_eq "$(echo "$out" | json 'd["parameters"]["user"]["name"]')" rumi "revoked by id"
	expect_eq "$(admin FactorList '{"name":"rumi","revoked":true}' | json '[(c["id"], c["state"], c["reason"]) for c in d["parameters"]["credentials"]]')" \
		"[($id, 'revoked', 'handed to the wrong person')]" "the pending credential revoked"
	out=$(admin FactorRevoke "{\"name\":\"rumi\",\"factor\":\"totp\",\"id\":$id,\"reason\":\"again\"}")
	expect_eq "$(echo "$out" | json 'd["error"]')" io.mamori.Error.NotFound "already revoked"
}

t_factor_totp_names_are_the_same_calls() {
	local out secret
	command -v oathtool >/dev/null || fail "oathtool is not installed"
	ctl user add nami >/dev/null
	out=$(admin TotpEnroll '{"name":"nami"}')
	secret=$(echo "$out" | json 'd["parameters"]["secret"]')
	out=$(admin TotpConfirm "{\"name\":\"nami\",\"code\":\"$(totp_code "$secret")\"}")
	expect_eq "$(echo "$out" | json 'd["parameters"]["user"]["factors"]')" "['totp']" "TotpConfirm"
	# TotpList keeps its key; FactorList lists the same credential.
	expect_eq "$(admin TotpList '{}' | json '[(c["name"], c["state"], c["digits"]) for c in d["parameters"]["factors"] if c["name"] == "nami"]')" \
		"[('nami', 'active', 6)]" "TotpList"
	expect_eq "$(admin FactorList '{"factor":"totp"}' | json '[c["state"] for c in d["parameters"]["credentials"] if c["name"] == "nami"]')" \
		"['active']" "FactorList"
	# TotpRemove needs no reason; the credential stays, revoked.
	admin TotpRemove '{"name":"nami"}' >/dev/null
	expect_eq "$(admin FactorList '{"name":"nami","revoked":true}' | json '[(c["state"], c["reason"]) for c in d["parameters"]["credentials"]]')" \
		"[('revoked', 'removed by an administrator')]" "TotpRemove"
	set_clock "$(date +%s)"
}

# ------------------------------------------------- P-PRIV-CONTRACTOR

# A contractor in the admin group, a local user of its own, logged in
# (login uid) as themselves; a privileged ID, a staff account and a shared
# account to act on.
CONTRACTOR="itaku-c$$"

contractor_setup() {
	local group="mamadm$$"
	groupadd -r "$group"
	echo "$group" >>"$T/cleanup-groups"
	useradd -r -M -N -g "$group" -s /usr/sbin/nologin "$CONTRACTOR"
	echo "$CONTRACTOR" >>"$T/cleanup-users"
	stop_daemon
	sed -i "s/^\[daemon\]$/[daemon]\nadmin_group = $group/" "$T/mamori.conf"
	start_daemon
	ctl user add "$CONTRACTOR" --kind contractor >/dev/null
	add_user pc.admin 'Kaze-no-Oto-2030-Yama' --privileged
	add_user pc.staff 'Mizu-no-Oto-2030-Kawa'
	ctl user add pc.shared --kind shared >/dev/null
}

# refusals ACTOR: the audited refusals of ACTOR's calls under P-PRIV-CONTRACTOR.
refusals() {
	sql "SELECT count(*) FROM audit WHERE category = 'admin' AND actor = '$1' AND result = 'failure'
		AND reason LIKE '%P-PRIV-CONTRACTOR%'"
}

# refused_to RUNNER ACTOR ARGS...: mamorictl ARGS through RUNNER (ctl_as
# NAME, ctl_nologin) is refused under P-PRIV-CONTRACTOR, shows nothing
# else, and the refusal is audited under ACTOR.
refused_to() {
	local runner=$1 actor=$2 before rc=0
	shift 2
	[ "$runner" = ctl_nologin ] || runner="$runner $actor"
	before=$(refusals "$actor")
	$runner "$@" </dev/null >"$T/out" 2>"$T/err" || rc=$?
	cat "$T/out" "$T/err"
	expect_eq "$rc" 1 "$*: exit status"
	expect_match "$(cat "$T/err")" 'P-PRIV-CONTRACTOR' "$*: message"
	[ ! -s "$T/out" ] || fail "$*: output on a refusal"
	expect_eq "$(refusals "$actor")" "$((before + 1))" "$*: refusal audited"
}

pc_admin() { ctl --json user show pc.admin | json "$1"; }

t_contractor_unprivilege_then_reset() {
	refused_to ctl_as "$CONTRACTOR" user set pc.admin --no-privileged
	expect_eq "$(pc_admin 'd["user"]["privileged"]')" True "pc.admin still privileged"
	refused_to ctl_as "$CONTRACTOR" password temp pc.admin
	pam -p 'Kaze-no-Oto-2030-Yama' mamori-test pc.admin auth=SUCCESS acct=SUCCESS >/dev/null
}

t_contractor_own_kind() {
	refused_to ctl_as "$CONTRACTOR" user set "$CONTRACTOR" --kind staff
	refused_to ctl_as "$CONTRACTOR" user set "$CONTRACTOR" --privileged
	expect_eq "$(ctl --json user show "$CONTRACTOR" | json 'd["user"]["kind"]')" contractor "own kind"
	refused_to ctl_as "$CONTRACTOR" password temp pc.admin
	# Nor away from the rule by renaming or deleting their own account.
	refused_to ctl_as "$CONTRACTOR" user rename "$CONTRACTOR" itaku-free
	refused_to ctl_as "$CONTRACTOR" user delete "$CONTRACTOR"
	refused_to ctl_as "$CONTRACTOR" password temp pc.admin
	expect_eq "$(ctl --json user show "$CONTRACTOR" | json 'd["user"]["kind"]')" contractor "own account kept"
}

t_contractor_totp_enroll_privileged() {
	local factors
	# pc.admin has a factor waiting for its confirmation.
	( echo 0 >/proc/self/loginuid && exec $RAW "$T/run/admin.sock" \
		'{"method":"io.mamori.Admin.TotpEnroll","parameters":{"name":"pc.admin"}}' ) >"$T/enroll.out"
	grep -q '"secret"' "$T/enroll.out" || fail "root could not enrol pc.admin"
	factors=$(sql "SELECT $(sql_group_concat "t.id || ':' || $(sql_hex t.sealed)") FROM credentials t JOIN users u ON u.id = t.user_id
		WHERE u.name = 'pc.admin' AND t.factor = 'totp' AND t.state <> 'revoked'")
	[ -n "$factors" ] || fail "no factor"
	refused_to ctl_as "$CONTRACTOR" totp enroll pc.admin --no-qr
	refused_to ctl_as "$CONTRACTOR" totp enroll pc.admin --code 123456
	! grep -qi 'otpauth\|secret' "$T/out" "$T/err" || fail "the secret was shown"
	expect_eq "$(sql "SELECT $(sql_group_concat "t.id || ':' || $(sql_hex t.sealed)") FROM credentials t JOIN users u ON u.id = t.user_id
		WHERE u.name = 'pc.admin' AND t.factor = 'totp' AND t.state <> 'revoked'")" "$factors" "pc.admin's factors"
	refused_to ctl_as "$CONTRACTOR" totp remove pc.admin
	refused_to ctl_as "$CONTRACTOR" totp require pc.admin
	refused_to ctl_as "$CONTRACTOR" totp enroll-code pc.admin
	expect_eq "$(sql "SELECT count(*) FROM enroll_codes")" 0 "no enrolment code issued"
	expect_eq "$(pc_admin 'd["user"]["totp_required"]')" False "totp required"
	ctl totp remove pc.admin >/dev/null
}

t_contractor_no_action_on_privileged() {
	refused_to ctl_as "$CONTRACTOR" password compromised pc.admin
	refused_to ctl_as "$CONTRACTOR" lock pc.admin
	expect_eq "$(pc_admin 'd["user"]["locked"]')" False "after lock"
	ctl lock pc.admin >/dev/null
	refused_to ctl_as "$CONTRACTOR" unlock pc.admin
	expect_eq "$(pc_admin 'd["user"]["locked"]')" True "after unlock"
	ctl unlock pc.admin >/dev/null
	refused_to ctl_as "$CONTRACTOR" user set pc.admin --hours 'Mon-Sun 00:00-23:59'
	refused_to ctl_as "$CONTRACTOR" user set pc.admin --expires 2031-01-01
	expect_eq "$(pc_admin '(d["user"]["hours"], d["user"]["expires"])')" "(None, None)" "hours and expiry"
	refused_to ctl_as "$CONTRACTOR" user disable pc.admin
	expect_eq "$(pc_admin 'd["user"]["state"]')" active "after disable"
	ctl user disable pc.admin >/dev/null
	refused_to ctl_as "$CONTRACTOR" user enable pc.admin
	expect_eq "$(pc_admin 'd["user"]["state"]')" disabled "after enable"
	ctl user enable pc.admin >/dev/null
	refused_to ctl_as "$CONTRACTOR" user rename pc.admin pc.admin2
	refused_to ctl_as "$CONTRACTOR" user members pc.shared add pc.admin
	refused_to ctl_as "$CONTRACTOR" user delete pc.admin
	expect_eq "$(pc_admin '(d["user"]["name"], d["user"]["privileged"], d["user"]["state"], d["user"]["members"] if "members" in d["user"] else None)')" \
		"('pc.admin', True, 'active', None)" "pc.admin after every refusal"
	expect_eq "$(ctl --json user show pc.shared | json 'd["user"]["members"]')" "[]" "pc.shared members"
	pam -p 'Kaze-no-Oto-2030-Yama' mamori-test pc.admin auth=SUCCESS acct=SUCCESS >/dev/null
	expect_eq "$(pc_admin 'd["user"]["factors"]')" "['password']" "pc.admin factors"
}

t_contractor_no_kind_or_privilege_change() {
	refused_to ctl_as "$CONTRACTOR" user set pc.staff --kind contractor
	refused_to ctl_as "$CONTRACTOR" user set pc.staff --privileged
	refused_to ctl_as "$CONTRACTOR" user add pc.new --privileged
	expect_eq "$(ctl --json user show pc.staff | json '(d["user"]["kind"], d["user"]["privileged"])')" \
		"('staff', False)" "pc.staff"
	! ctl user show pc.new >/dev/null 2>&1 || fail "pc.new was made"
	# The rest of the work on other accounts stays the contractor's to do.
	ctl_as "$CONTRACTOR" lock pc.staff >/dev/null
	ctl_as "$CONTRACTOR" unlock pc.staff >/dev/null
	ctl_as "$CONTRACTOR" user set pc.staff --hours 'Mon-Fri 08:00-20:00' >/dev/null
	ctl_as "$CONTRACTOR" user add pc.temp --kind contractor --expires 2031-03-31 >/dev/null
	ctl_as "$CONTRACTOR" user members pc.shared add pc.staff >/dev/null
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE actor = '$CONTRACTOR' AND result = 'success'")" 5 \
		"the contractor's own actions, recorded under their name"
}

# An administrator's own account (their Unix user is in the admin group,
# as primary or supplementary group, or is uid 0) is not privileged, but
# whoever resets its password logs in as someone who administers
# everything: it is kept from a contractor like a privileged ID.
t_contractor_no_action_on_admin_account() {
	local group="mamadm$$" sup="pcadm-s$$" pri="pcadm-p$$" new="pcadm-n$$" usr="pcusr-$$" u
	useradd -r -M -N -g nogroup -G "$group" -s /usr/sbin/nologin "$sup"
	echo "$sup" >>"$T/cleanup-users"
	useradd -r -M -N -g "$group" -s /usr/sbin/nologin "$pri"
	echo "$pri" >>"$T/cleanup-users"
	useradd -r -M -N -g "$group" -s /usr/sbin/nologin "$new"
	echo "$new" >>"$T/cleanup-users"
	useradd -r -M -N -g nogroup -s /usr/sbin/nologin "$usr"
	echo "$usr" >>"$T/cleanup-users"
	for u in "$sup" "$pri" root "$usr"; do
		add_user "$u" 'Hoshi-no-Oto-2030-Sora' || return 1
	done
	for u in "$sup" "$pri" root; do
		refused_to ctl_as "$CONTRACTOR" password temp "$u"
		refused_to ctl_as "$CONTRACTOR" password compromised "$u"
		refused_to ctl_as "$CONTRACTOR" lock "$u"
		refused_to ctl_as "$CONTRACTOR" user disable "$u"
		refused_to ctl_as "$CONTRACTOR" totp enroll-code "$u"
		refused_to ctl_as "$CONTRACTOR" user delete "$u"
		expect_eq "$(ctl --json user show "$u" | json '(d["user"]["locked"], d["user"]["state"], d["user"]["password"]["temporary"], d["user"]["password"]["compromised"])')" \
			"(False, 'active', False, False)" "$u after every refusal"
		pam -p 'Hoshi-no-Oto-2030-Sora' mamori-test "$u" auth=SUCCESS acct=SUCCESS >/dev/null
	done
	expect_eq "$(sql "SELECT count(*) FROM enroll_codes")" 0 "no enrolment code issued"
	# Nor is an account made, or renamed, onto an administrator's name.
	refused_to ctl_as "$CONTRACTOR" user add "$new"
	refused_to ctl_as "$CONTRACTOR" user rename "$usr" "$new"
	! ctl user show "$new" >/dev/null 2>&1 || fail "$new was made"
	# A person who is unknown (no login uid) is kept away too.
	refused_to ctl_nologin root password temp "$sup"
	# Positive control: an ordinary staff account, a Unix user outside the
	# admin group, is still the contractor's to administer.
	ctl_as "$CONTRACTOR" password temp "$usr" >/dev/null
	ctl_as "$CONTRACTOR" lock "$usr" >/dev/null
	ctl_as "$CONTRACTOR" unlock "$usr" >/dev/null
	ctl_as "$CONTRACTOR" user disable "$usr" >/dev/null
	ctl_as "$CONTRACTOR" user enable "$usr" >/dev/null
	expect_eq "$(ctl --json user show "$usr" | json '(d["user"]["locked"], d["user"]["state"], d["user"]["password"]["temporary"])')" \
		"(False, 'active', True)" "$usr after the contractor's actions"
	ctl user delete root >/dev/null
}

t_unknown_person_no_privileged_administration() {
	# No login uid (a service, a container): the uid's name is not taken
	# for the person.
	[ "$(sh -c 'echo 4294967295 >/proc/self/loginuid && cat /proc/self/loginuid')" = 4294967295 ] ||
		fail "cannot unset the login uid"
	refused_to ctl_nologin root lock pc.admin
	refused_to ctl_nologin root password temp pc.admin
	refused_to ctl_nologin root totp enroll pc.admin --no-qr
	refused_to ctl_nologin root totp enroll-code pc.admin
	refused_to ctl_nologin root user add pc.new2 --privileged
	refused_to ctl_nologin root user set pc.staff --privileged
	refused_to ctl_nologin root user set pc.staff --kind contractor
	expect_match "$(cat "$T/err")" 'no login uid' "message names the reason"
	expect_eq "$(pc_admin 'd["user"]["locked"]')" False "pc.admin not locked"
	# A contractor without a login uid is not let through either.
	refused_to ctl_nologin_as "$CONTRACTOR" lock pc.admin
	# Accounts that are not privileged are administered as before.
	ctl_nologin lock pc.staff >/dev/null
	ctl_nologin unlock pc.staff >/dev/null
}

# When the admin group cannot be looked up (an NSS error), any account
# might be an administrator's: a restricted person is refused (fail
# closed).  The daemon runs in a mount namespace whose /etc is an overlay
# where the group database is "files" only and /etc/group a directory, so
# getgrnam_r fails (EISDIR).  The restricted person is one without a login
# uid: with the group unreadable, admin.sock is root's only.
t_nss_error_refuses_restricted() {
	local real=$AUTHD
	rm -rf "$T/nss-etc" "$T/nss-work"
	mkdir -p "$T/nss-etc/group" "$T/nss-work"
	printf 'passwd: files\ngroup: files\n' >"$T/nss-etc/nsswitch.conf"
	cat >"$T/authd-nss-error" <<EOF
#!/bin/sh
exec unshare -m sh -c 'mount -t overlay overlay -o lowerdir=/etc,upperdir=$T/nss-etc,workdir=$T/nss-work /etc &&
	exec "\$0" "\$@"' "$real" "\$@"
EOF
	chmod 755 "$T/authd-nss-error"
	stop_daemon
	AUTHD="$T/authd-nss-error" start_daemon
	refused_to ctl_nologin root lock pc.staff
	expect_match "$(cat "$T/err")" 'Unix groups could not be looked up' "message names the reason"
	grep -q 'the groups of pc.staff could not be looked up' "$T/daemon.log" || fail "no warning in the log"
	expect_eq "$(ctl --json user show pc.staff | json 'd["user"]["locked"]')" False "pc.staff not locked"
	# A known administrator who is no contractor needs no lookup.
	ctl lock pc.staff >/dev/null
	ctl unlock pc.staff >/dev/null
	stop_daemon
	start_daemon
	# With the groups readable again, the same call goes through.
	ctl_nologin lock pc.staff >/dev/null
	ctl_nologin unlock pc.staff >/dev/null
}

# admin_as NAME CALL PARAMS: admin, run by the local user NAME with its
# login uid.
admin_as() {
	cp "$top_srcdir/tests/integration/rawclient.py" "$T/rawclient.py"
	chmod 644 "$T/rawclient.py"
	local out
	out=$(
		echo "$(id -u "$1")" >/proc/self/loginuid
		exec runuser -u "$1" -- /usr/bin/python3 "$T/rawclient.py" "$T/run/admin.sock" \
			"{\"method\":\"io.mamori.Admin.$2\",\"parameters\":$3}"
	)
	head -n 1 <<<"$out"
}

# factor_refused RUNNER CALL PARAMS: refused under P-PRIV-CONTRACTOR, audited.
factor_refused() {
	local before out
	before=$(refusals "$CONTRACTOR")
	out=$("$@")
	echo "$out"
	expect_eq "$(echo "$out" | json 'd["error"]')" io.mamori.Error.PolicyViolation "$2: error"
	expect_match "$(echo "$out" | json 'd["parameters"]["message"]')" 'P-PRIV-CONTRACTOR' "$2: message"
	expect_eq "$(refusals "$CONTRACTOR")" "$((before + 1))" "$2: refusal audited"
}

t_contractor_factor_calls() {
	local out
	factor_refused admin_as "$CONTRACTOR" FactorEnroll '{"name":"pc.admin","factor":"totp"}'
	factor_refused admin_as "$CONTRACTOR" FactorConfirm '{"name":"pc.admin","factor":"totp","code":"123456"}'
	factor_refused admin_as "$CONTRACTOR" FactorRevoke '{"name":"pc.admin","factor":"totp","reason":"x"}'
	factor_refused admin_as "$CONTRACTOR" FactorRequire '{"name":"pc.admin","factor":"totp"}'
	factor_refused admin_as "$CONTRACTOR" EnrollCode '{"name":"pc.admin"}'
	expect_eq "$(pc_admin '(d["user"]["factors"], d["user"]["enroll_required"])')" "(['password'], [])" \
		"pc.admin unchanged"
	expect_eq "$(sql "SELECT count(*) FROM enroll_codes")" 0 "no enrolment code issued"
	# The acting person unknown (no login uid): refused as well.
	out=$(
		echo 4294967295 >/proc/self/loginuid
		exec /usr/bin/python3 "$top_srcdir/tests/integration/rawclient.py" "$T/run/admin.sock" \
			'{"method":"io.mamori.Admin.FactorEnroll","parameters":{"name":"pc.admin","factor":"totp"}}'
	)
	expect_match "$(head -n 1 <<<"$out")" 'no login uid' "no login uid"
	# Positive control: an ordinary account is the contractor's to administer.
	ctl user add fk.staff >/dev/null
	out=$(admin_as "$CONTRACTOR" FactorRequire '{"name":"fk.staff","factor":"totp"}')
	expect_eq "$(echo "$out" | json 'd["parameters"]["user"]["enroll_required"]')" "['totp']" "staff account"
	out=$(admin_as "$CONTRACTOR" FactorEnroll '{"name":"fk.staff","factor":"totp"}')
	expect_match "$(echo "$out" | json 'd["parameters"]["uri"]')" '^otpauth://' "staff account enrolment"
}

ctl_nologin_as() {
	local name=$1
	shift
	(
		echo 4294967295 >/proc/self/loginuid
		exec runuser -u "$name" -- "$RUNAS_CTL" --socket "$T/run/admin.sock" "$@"
	)
}

run_test "user add, show, list, disable, enable, delete" t_user_lifecycle
run_test "errors are one line on stderr with a non-zero exit" t_errors_are_one_line_and_nonzero
run_test "P-PW-TEMP a generated temporary password is the last line" t_password_temp_generated_is_last_line
run_test "P-PW-SECRET password temp --password-stdin" t_password_temp_stdin
run_clock_test "P-AUDIT audit show and --since" t_audit_show_and_since
run_test "listings longer than one message are paged" t_listings_longer_than_one_message
run_test "status" t_status
run_test "P-AUDIT the acting administrator is recorded" t_acting_admin_recorded
run_clock_test "P-LOGIN-UI user show counts the failure that locked the account" t_failed_attempts_count_the_locking_failure
run_clock_test "P-CRED-STORE factor enrol, confirm, list, revoke with a reason, require" \
	t_factor_enrol_confirm_list_revoke
run_test "factor calls refuse an unknown factor, or one without credentials" t_factor_unknown_refused
run_test "P-CRED-STORE factor revoke of one credential by its id" t_factor_revoke_one_credential
run_clock_test "the Totp* names are the factor calls for totp" t_factor_totp_names_are_the_same_calls
contractor_setup >"$T/setup.log" 2>&1 || { cat "$T/setup.log"; echo "Bail out! contractor set-up failed"; exit 1; }
run_test "P-PRIV-CONTRACTOR unprivileging a privileged ID, then resetting its password" \
	t_contractor_unprivilege_then_reset
run_test "P-PRIV-CONTRACTOR a contractor's own kind, rename and delete" t_contractor_own_kind
run_test "P-PRIV-CONTRACTOR totp enroll, remove, require on a privileged ID" t_contractor_totp_enroll_privileged
run_test "P-PRIV-CONTRACTOR compromised, lock, unlock, hours, disable, enable, delete on a privileged ID" \
	t_contractor_no_action_on_privileged
run_test "P-PRIV-CONTRACTOR no kind or privilege change on any account" t_contractor_no_kind_or_privilege_change
run_test "P-PRIV-CONTRACTOR no action on an administrator's account (admin group, uid 0)" \
	t_contractor_no_action_on_admin_account
run_test "P-PRIV-CONTRACTOR no login uid: privileged IDs are not administered" \
	t_unknown_person_no_privileged_administration
run_test "P-PRIV-CONTRACTOR an NSS error looking up the admin group refuses a restricted person" \
	t_nss_error_refuses_restricted
run_test "P-PRIV-CONTRACTOR the factor calls on a privileged ID" t_contractor_factor_calls
# ------------------------------------------------------------ P-AUDIT anchoring
# Each test below tampers with the log, so it runs its own daemon (in the
# test's subshell; stopped and removed when the subshell exits).
own_daemon() {
	new_env
	trap 'stop_daemon; rm -rf "$T"' EXIT
	start_daemon
}

# verify_fails PATTERN [CTL OPTIONS]: audit verify exits 1 with PATTERN in
# its message (the reply, with --json, in $T/out).
verify_fails() {
	local rc=0
	ctl "${@:2}" audit verify >"$T/out" 2>"$T/err" || rc=$?
	cat "$T/out" "$T/err"
	expect_eq "$rc" 1 "audit verify exit status"
	expect_match "$(cat "$T/err")" "$1" "audit verify message"
}

t_audit_deleted_newest_rows() {
	own_daemon
	local i max
	for i in 1 2 3 4 5; do ctl user add "trunc$i" >/dev/null; done
	ctl audit verify
	max=$(sql "SELECT max(id) FROM audit")
	sql "DELETE FROM audit WHERE id > $((max - 3))"
	verify_fails "^mamorictl: audit chain broken: 3 rows missing" --json
	expect_eq "$(json 'd["missing"]' <"$T/out")" 3 "missing rows in --json"
	expect_eq "$(json 'd["checkpoint_rows"]' <"$T/out")" "$max" "checkpoint rows in --json"
}

t_audit_deleted_all_rows() {
	own_daemon
	local max
	ctl user add gone1 >/dev/null
	max=$(sql "SELECT max(id) FROM audit")
	sql "DELETE FROM audit"
	verify_fails "audit chain broken: $max rows missing"
}

# The newest row edited and its hash recomputed, as anyone who can write
# the store can: the links hold, the MAC (under a key the store lacks)
# does not.
t_audit_edited_row_mac() {
	own_daemon
	ctl user add edit.me >/dev/null
	# The row as JSON (either backend), its hash recomputed here, written back.
	local row h id
	if on_postgresql; then
		row=$(sql "SELECT row_to_json(a) FROM audit a ORDER BY id DESC LIMIT 1")
	else
		row=$(/usr/bin/python3 -c 'import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.row_factory = sqlite3.Row
print(json.dumps(dict(db.execute("SELECT * FROM audit ORDER BY id DESC LIMIT 1").fetchone())))' "$T/state/mamori.db")
	fi
	read -r id h < <(/usr/bin/python3 -c 'import hashlib, json, sys
r = json.loads(sys.argv[1])
r["user"] = "mallory"
canon = {k: r[k] for k in ("actor", "category", "detail", "id", "peer_pid", "peer_uid", "prev_hash",
                          "reason", "result", "rhost", "service", "ts", "tty", "user")}
if r.get("chain"):  # a node'"'"'s chain (a shared store) is named in the hash
    canon["chain"] = r["chain"]
text = json.dumps(canon, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
print(r["id"], hashlib.sha256((r["prev_hash"] + "\n" + text).encode()).hexdigest())' "$row")
	[ -n "$h" ] || fail "no row to edit"
	sql "UPDATE audit SET \"user\" = 'mallory', hash = '$h' WHERE id = $id"
	verify_fails "audit chain broken at row [0-9]+: row MAC does not match"
}

t_audit_checkpoint_missing_or_tampered() {
	own_daemon
	ctl user add cp.user >/dev/null
	[ -f "$T/state/audit.checkpoint" ] || fail "no checkpoint file"
	expect_eq "$(stat -c %a "$T/state/audit.checkpoint")" 600 "checkpoint mode"
	expect_eq "$(stat -c %a "$T/state/audit.key")" 600 "audit key mode"
	rm "$T/state/audit.checkpoint"
	verify_fails "audit checkpoint .*: missing"
	# The verify's own row rewrote it from what the daemon wrote.
	ctl audit verify
	sed -i 's/"rows":[0-9]*/"rows":1/' "$T/state/audit.checkpoint"
	verify_fails "audit checkpoint .*: its MAC does not match"
}

# A transaction that fails at COMMIT (a deferred foreign key, checked only
# then) rolls back: its audit row never reaches the log (the daemon's log
# stands in for syslog here: in the foreground it copies every line there).
t_audit_rollback_not_logged() {
	own_daemon
	if on_postgresql; then
		sql "$(cat <<'SQL'
CREATE TABLE trap (x bigint REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED);
CREATE FUNCTION trap_f() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
	IF NEW."user" = 'rolled.back' THEN INSERT INTO trap VALUES (424242); END IF;
	RETURN NEW;
END $f$;
CREATE TRIGGER trap_t AFTER INSERT ON audit FOR EACH ROW EXECUTE FUNCTION trap_f();
SQL
)"
	else
		sql "CREATE TABLE trap (x INTEGER REFERENCES users(id) DEFERRABLE INITIALLY DEFERRED);
		     CREATE TRIGGER trap_t AFTER INSERT ON audit WHEN NEW.user = 'rolled.back'
		     BEGIN INSERT INTO trap VALUES (424242); END;"
	fi
	local rc=0
	ctl user add rolled.back 2>"$T/err" || rc=$?
	expect_eq "$rc" 1 "user add whose commit fails"
	if on_postgresql; then
		sql "DROP TRIGGER trap_t ON audit; DROP FUNCTION trap_f(); DROP TABLE trap;"
	else
		sql "DROP TRIGGER trap_t; DROP TABLE trap;"
	fi
	ctl user add committed.user >/dev/null
	grep -q 'audit id=[0-9]* category=admin .*user=committed\.user' "$T/daemon.log" ||
		fail "the committed row is not in the daemon's log"
	! grep 'user=rolled\.back' "$T/daemon.log" || fail "a rolled-back row reached the log"
	ctl audit verify
}

# Verify walks a snapshot of its own: a login completes while it runs.
t_audit_login_during_verify() {
	own_daemon
	add_user walker 'Quiet-Harbor-7391x'
	stop_daemon
	"$top_builddir/tests/bench/audit-fill" "$T/mamori.conf" 150000
	start_daemon
	ctl audit verify >"$T/verify.out" 2>&1 &
	local vpid=$! i
	# Wait until the daemon is walking (its read connection is open: a
	# second file descriptor on the SQLite file, or a transaction of the
	# daemon's open on the PostgreSQL server).
	for i in $(seq 1 100); do
		if on_postgresql; then
			[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			          AND application_name = 'mamori-authd' AND xact_start IS NOT NULL")" -ge 1 ] && break
		else
			[ "$(ls -l /proc/"$(cat "$T/daemon.pid")"/fd 2>/dev/null | grep -c 'mamori\.db$')" -ge 2 ] && break
		fi
		sleep 0.02
	done
	pam -p 'Quiet-Harbor-7391x' mamori-test walker auth=SUCCESS
	kill -0 "$vpid" 2>/dev/null || fail "verify ended before the login did: the log is too small to tell"
	wait "$vpid"
	expect_match "$(cat "$T/verify.out")" 'audit chain intact: 1500[0-9][0-9] rows' "verify"
}

run_test "P-AUDIT verify reports deleted newest rows and how many are missing" t_audit_deleted_newest_rows
run_test "P-AUDIT verify reports a log whose rows were all deleted" t_audit_deleted_all_rows
run_test "P-AUDIT verify finds an edited row whose hash was recomputed (MAC)" t_audit_edited_row_mac
run_test "P-AUDIT verify reports a missing or tampered checkpoint file" t_audit_checkpoint_missing_or_tampered
run_test "P-AUDIT a rolled-back transaction leaves no audit line in the log" t_audit_rollback_not_logged
run_test "P-AUDIT a login completes while verify walks a large log" t_audit_login_during_verify
tap_done
