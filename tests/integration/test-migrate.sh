#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# A store made by mamori 0.1.0 (tests/integration/fixtures/store-0.1.0: its
# SQL dump and store key, and a README naming its accounts and secrets) is
# migrated by this daemon at start-up, keeps its accounts and audit chain,
# and its people log in as before: the password and a TOTP code computed
# now from the secret 0.1.0 sealed, through the real PAM module under
# pam_wrapper.  Codes come from oathtool.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "python3" test -x /usr/bin/python3
require "oathtool" command -v oathtool
require "sqlite3" command -v sqlite3

FIXTURE="$top_srcdir/tests/integration/fixtures/store-0.1.0"

# The fixture's accounts and secrets (README).
TANAKA_PW='Sakura-no-Ki-2026'
TANAKA_SECRET=XSLBDC6EIJFSWQS35SCVAV5V4AN42FK2
SUZUKI_PW='Fuji-no-Yama-2026'
SUZUKI_SECRET=WO5F273JEUQUXLTQ3MODOXUIHHB3A3BS
SATO_PW='Ume-no-Hana-2026'
# 0.1.0's clock when tanaka last logged in with TOTP (09:02:00 UTC), and
# when the fixture was finished (09:06:00).
FIXTURE_LAST_TOTP=1795770120
FIXTURE_DONE=1795770360

# The current schema version: what this daemon makes of an empty store.
new_env
start_daemon || { echo "Bail out! daemon did not start on an empty store"; exit 1; }
CURRENT_VERSION=$(sql 'PRAGMA user_version')
stop_daemon

# The 0.1.0 store: the dump loaded into a fresh state directory, its key
# beside it, both 0600 as the daemon demands.
EXTRA_CONF="[service totp-login]
system = default
require = password+totp

[service front-desk]
system = default
member_prompt = yes"
new_env
make_service totp-login
make_service front-desk
mkdir -m 700 "$T/state"
(umask 077 && sqlite3 "$T/state/mamori.db" <"$FIXTURE/store.sql") || { echo "Bail out! cannot load the fixture"; exit 1; }
install -m 600 "$FIXTURE/store.key" "$T/state/store.key"
FIXTURE_VERSION=$(sql 'PRAGMA user_version')
# The clock at the last step 0.1.0 accepted for tanaka; without test hooks
# the daemon runs on the real clock and the tests that need this one skip.
if [ "$HAVE_TEST_HOOKS" = 1 ]; then
	set_clock $((FIXTURE_LAST_TOTP + 10))
fi
start_daemon || { echo "Bail out! the daemon did not start on the 0.1.0 store"; cat "$T/daemon.log"; exit 1; }

totp_code() {
	oathtool --totp -b "$1" --now "@$(($(cat "$T/clock") + ${2:-0}))"
}

t_migrated_to_current_schema() {
	expect_eq "$FIXTURE_VERSION" 3 "the fixture's schema version (0.1.0's)"
	[ "$CURRENT_VERSION" -gt 3 ] || fail "current schema version $CURRENT_VERSION"
	expect_eq "$(sql 'PRAGMA user_version')" "$CURRENT_VERSION" "schema version after start-up"
	grep -q "store: migrated .* to schema version $CURRENT_VERSION" "$T/daemon.log" || fail "no migration logged"
	expect_eq "$(sql 'PRAGMA integrity_check')" ok "integrity"
	expect_eq "$(sql 'PRAGMA foreign_key_check' | wc -l)" 0 "foreign keys"
}

# P-ID-LIFECYCLE: the HR directory's columns and tables (schema 8): no
# account has a reason or a review, none is managed by the directory.
t_directory_schema_after_migration() {
	expect_eq "$(sql "SELECT count(*) FROM users WHERE state_reason <> '' OR review_required <> 0")" 0 "no reason, no review"
	expect_eq "$(sql "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('directory_people', 'directory_state')")" \
		2 "directory tables"
	expect_eq "$(ctl --json user show tanaka | json '(d["user"]["state_reason"], d["user"]["review_required"], d["user"]["managed"])')" \
		"('', False, False)" "tanaka's lifecycle fields"
}

t_accounts_carried_over() {
	local out
	out=$(ctl user list)
	echo "$out"
	for u in tanaka suzuki sato madoguchi; do
		grep -Eq "^$u +" <<<"$out" || fail "$u missing"
	done
	expect_eq "$(ctl --json user show tanaka | json '"totp" in d["user"]["factors"]')" True "tanaka's TOTP"
	expect_eq "$(ctl --json user show suzuki | json '"totp" in d["user"]["factors"]')" False "suzuki's pending TOTP"
	expect_eq "$(ctl --json user show sato | json 'd["user"]["totp_required"]')" True "sato must enrol"
	expect_eq "$(ctl --json user show madoguchi | json 'd["user"]["kind"]')" shared "madoguchi's kind"
	expect_eq "$(ctl --json user show madoguchi | json 'd["user"]["members"]')" "['tanaka']" "madoguchi's members"
	out=$(ctl totp list)
	echo "$out"
	grep -Eq '^tanaka +active ' <<<"$out" || fail "tanaka's TOTP not active"
	grep -Eq '^suzuki +pending ' <<<"$out" || fail "suzuki's TOTP not pending"
}

t_audit_chain_verifies() {
	local out
	out=$(ctl audit verify)
	echo "$out"
	expect_match "$out" 'audit chain intact' "verify"
	# 0.1.0's 27 rows, unchanged.
	local before after
	before=$(sqlite3 :memory: -cmd ".read $FIXTURE/store.sql" 'SELECT id, hash FROM audit ORDER BY id')
	after=$(sql 'SELECT id, hash FROM audit WHERE id <= 27 ORDER BY id')
	expect_eq "$(wc -l <<<"$before")" 27 "the fixture's rows"
	expect_eq "$after" "$before" "the fixture's rows after the migration"
}

t_replay_counter_carried_over() {
	local out
	# The code of the step 0.1.0 last accepted for tanaka was used there.
	out=$(pam -p "$TANAKA_PW" -p "$(totp_code "$TANAKA_SECRET")" totp-login tanaka auth=AUTH_ERR)
	echo "$out"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'tanaka' AND reason = 'totp code replayed'")" -ge 1 ] ||
		fail "not refused as a replay"
}

t_password_and_totp_from_0_1_0() {
	local out
	# A day later: a code of now from the secret 0.1.0 sealed.
	set_clock $((FIXTURE_DONE + 86400))
	out=$(pam -p "$TANAKA_PW" -p "$(totp_code "$TANAKA_SECRET")" totp-login tanaka auth=SUCCESS acct=SUCCESS)
	echo "$out"
	expect_match "$out" 'prompt: Password: ' "password prompt"
	expect_match "$out" 'prompt: Verification code: ' "code prompt"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'tanaka' AND service = 'totp-login' AND result = 'success'
		AND ts > $FIXTURE_DONE AND detail LIKE '%\"factors\":[\"password\",\"totp\"]%'")" -ge 1 ] ||
		fail "the login is not audited with its factors"
}

t_same_code_refused_as_replay() {
	local code before
	code=$(totp_code "$TANAKA_SECRET")
	before=$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'tanaka' AND reason = 'totp code replayed'")
	pam -p "$TANAKA_PW" -p "$code" totp-login tanaka auth=AUTH_ERR
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'tanaka' AND reason = 'totp code replayed'")" \
		$((before + 1)) "replay audited"
	grep -q "incident kind=totp_replay user=tanaka .*\"step\":$(($(cat "$T/clock") / 30))}" "$T/daemon.log" ||
		fail "no incident raised"
	# The next step's code is accepted.
	advance_clock 30
	pam -p "$TANAKA_PW" -p "$(totp_code "$TANAKA_SECRET")" totp-login tanaka auth=SUCCESS >/dev/null
}

t_member_of_shared_account() {
	local out
	# 0.2.0 asks the member's name on the services that say so
	# (member_prompt), where 0.1.0 asked it on every service.
	out=$(pam -e tanaka -p "$TANAKA_PW" front-desk madoguchi auth=SUCCESS acct=SUCCESS)
	echo "$out"
	expect_match "$out" 'prompt-echo: Member name: ' "member prompt"
	expect_match "$out" 'prompt: Password of tanaka: ' "member password prompt"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'madoguchi' AND actor = 'tanaka' AND result = 'success'
		AND ts > $FIXTURE_DONE")" -ge 1 ] || fail "audit does not name the member"
}

t_pending_enrolment_confirmed() {
	local out
	# The enrolment 0.1.0 began for suzuki, confirmed with a code of its
	# secret (io.mamori.Admin.TotpConfirm, as 0.1.0's mamorictl sent it).
	advance_clock 30
	out=$($RAW "$T/run/admin.sock" "{\"method\":\"io.mamori.Admin.TotpConfirm\",\"parameters\":
		{\"name\":\"suzuki\",\"code\":\"$(totp_code "$SUZUKI_SECRET")\"}}")
	echo "$out"
	grep -q '"totp"' <<<"$out" || fail "not confirmed"
	expect_eq "$(ctl --json user show suzuki | json '"totp" in d["user"]["factors"]')" True "suzuki's TOTP"
	advance_clock 30
	pam -p "$SUZUKI_PW" -p "$(totp_code "$SUZUKI_SECRET")" totp-login suzuki auth=SUCCESS >/dev/null
}

t_required_enrolment_asked() {
	local out code
	# sato must enrol TOTP: after the password, the enrolment code; a wrong
	# one refuses.
	out=$(pam -p "$SATO_PW" -p 'NOT-A-CODE' mamori-test sato auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" 'prompt: Enrolment code from your administrator: ' "enrolment code asked"
	# With the administrator's code, a new secret is shown and its first
	# code asked for.
	code=$(ctl totp enroll-code sato | tail -n 1)
	out=$(pam -p "$SATO_PW" -p "$code" -p '000000' mamori-test sato auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" 'otpauth://totp/mamori:sato\?secret=' "the new secret shown"
	expect_eq "$(ctl --json user show sato | json 'd["user"]["totp_required"]')" True "still required"
}

run_test "the 0.1.0 store is migrated to the current schema at start-up" t_migrated_to_current_schema
run_test "P-ID-LIFECYCLE accounts, factors, requirements and members carried over" t_accounts_carried_over
run_test "P-ID-LIFECYCLE the directory's columns and tables after the migration" t_directory_schema_after_migration
run_test "P-AUDIT the 0.1.0 audit chain still verifies" t_audit_chain_verifies
run_clock_test "P-CRED-STORE the TOTP step 0.1.0 last accepted stays used" t_replay_counter_carried_over
run_clock_test "P-MFA-ALL password and a TOTP code of the secret 0.1.0 sealed" t_password_and_totp_from_0_1_0
run_clock_test "P-CRED-STORE P-INCIDENT the same code again is refused as a replay" t_same_code_refused_as_replay
run_clock_test "P-ID-SHARED the member of a 0.1.0 shared account logs in as themselves" t_member_of_shared_account
run_clock_test "P-MFA-ALL an enrolment 0.1.0 began is confirmed with a code of its secret" t_pending_enrolment_confirmed
run_clock_test "P-MFA-ALL an account 0.1.0 required to enrol TOTP is asked to enrol" t_required_enrolment_asked
tap_done
