#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Password and account rules through real PAM stacks (pam_wrapper), with the
# injectable clock.  Each test names the policy clause it proves.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "python3" test -x /usr/bin/python3
require "cracklib dictionary" test -e /var/cache/cracklib/cracklib_dict.pwd
# The policies are tested at a date the script sets on the test clock.
require_test_hooks "needs the test clock"

DAY=86400

# The incident hook writes each event as one line.
setup_hook() {
	cat >"$T/hook" <<HOOK
#!/bin/sh
cat >>"$T/incidents"
echo >>"$T/incidents"
HOOK
	chmod 700 "$T/hook"
}

wait_incident() {
	local kind=$1 i
	for i in $(seq 1 50); do
		grep -q "\"kind\": *\"$kind\"" "$T/incidents" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no $kind incident reached the hook"
}

BLOCKLIST_DIR=$(mktemp -d)
printf '# forbidden\nSummer-Kyoto-2026!\nKomaki-City-Hall-1\n' >"$BLOCKLIST_DIR/blocklist"
chmod 644 "$BLOCKLIST_DIR/blocklist"
EXTRA_CONF="[password]
history = 3
blocklist = $BLOCKLIST_DIR/blocklist
temp_lifetime = 3600
org_words = komaki, komakishi, komakiyama, aichi, owari

[login]
banner = $BLOCKLIST_DIR/banner

[incident]
hook = /tmp/mamori-hook-placeholder
storm_threshold = 3
storm_window = 600

[daemon]
rate_limit = 20

[service front-desk]
member_prompt = yes

; A console client's service: an empty PAM_RHOST is local there (rhost_empty).
[service login]
system = default

[policy privileged]
hours = Mon-Fri 08:00-20:00
session_limit = 600"
printf 'AUTHORISED USE ONLY\nこの端末は業務専用です\n' >"$BLOCKLIST_DIR/banner"
chmod 644 "$BLOCKLIST_DIR/banner"
new_env
make_service front-desk
make_service login
make_service mamori-authonly authonly
setup_hook
sed -i "s|/tmp/mamori-hook-placeholder|$T/hook|" "$T/mamori.conf"
# A Wednesday, 10:00 local time.
set_clock "$(date -d '2030-01-09 10:00' +%s)"
start_daemon || { echo "Bail out! daemon did not start"; cat "$T/daemon.log"; exit 1; }

# working_hours: move the test clock on to 10:00 of the next weekday (the
# same day when it is one), inside [policy privileged] hours: privileged
# IDs cannot even authenticate outside them.
working_hours() {
	while [ "$(date -d "@$(cat "$T/clock")" +%u)" -gt 5 ]; do advance_clock "$DAY"; done
	set_clock "$(date -d "$(date -d "@$(cat "$T/clock")" +%F) 10:00" +%s)"
}

# ------------------------------------------------------------ strength

t_strength_min_length() {
	local out
	add_user s1 'Sora-no-Iro-2030'
	advance_clock $((2 * DAY))
	out=$(pam -p 'Sora-no-Iro-2030' -p 'Short-1x' -p 'Short-1x' mamori-test s1 chauthtok=AUTHTOK_ERR)
	echo "$out"
	expect_match "$out" 'error: .*at least 12 characters' "refusal"
	! grep -q 'Short-1x' "$T/daemon.log" || fail "password in the log"
}

t_strength_privileged_rules() {
	local out
	add_user p1.ops 'Kawa-no-Nagare-Hayai-7' --privileged
	advance_clock $((2 * DAY))
	# 14 characters: enough for staff, not for a privileged ID.
	out=$(pam -p 'Kawa-no-Nagare-Hayai-7' -p 'Yama-Kawa-2030' -p 'Yama-Kawa-2030' mamori-test p1.ops \
		chauthtok=AUTHTOK_ERR)
	expect_match "$out" 'at least 15 characters' "privileged length"
	out=$(pam -p 'Kawa-no-Nagare-Hayai-7' -p 'onlylowercaseletterslong' -p 'onlylowercaseletterslong' \
		mamori-test p1.ops chauthtok=AUTHTOK_ERR)
	expect_match "$out" 'mix at least 3' "privileged classes"
}

t_strength_dictionary_and_user_name() {
	local out
	add_user tanaka.jiro 'Hoshi-no-Yoru-2030'
	advance_clock $((2 * DAY))
	out=$(pam -p 'Hoshi-no-Yoru-2030' -p 'responsibility' -p 'responsibility' mamori-test tanaka.jiro \
		chauthtok=AUTHTOK_ERR)
	echo "$out"
	expect_match "$out" 'error: .*(dictionary|simplistic|systematic)' "dictionary refusal"
	out=$(pam -p 'Hoshi-no-Yoru-2030' -p 'xx-tanaka.jiro-2030' -p 'xx-tanaka.jiro-2030' mamori-test tanaka.jiro \
		chauthtok=AUTHTOK_ERR)
	echo "$out"
	expect_match "$out" 'error: .*user name' "user name refusal"
}

t_strength_block_list() {
	local out
	add_user s2 'Tsuki-no-Hikari-2030'
	advance_clock $((2 * DAY))
	out=$(pam -p 'Tsuki-no-Hikari-2030' -p 'SUMMER-KYOTO-2026!' -p 'SUMMER-KYOTO-2026!' mamori-test s2 \
		chauthtok=AUTHTOK_ERR)
	echo "$out"
	expect_match "$out" "error: .*forbidden passwords" "block list refusal"
}

# Issue #9: each of these was accepted.
t_strength_issue_examples_refused() {
	local out pw
	add_user suzuki.ichiro 'Aki-no-Tsuki-2030'
	add_user yamada.hanako 'Haru-no-Umi-2026'
	advance_clock $((2 * DAY))
	for pw in 'Komaki2024!!' 'Komaki-2024!' 'Komakishi2024!'; do
		out=$(pam -p 'Aki-no-Tsuki-2030' -p "$pw" -p "$pw" mamori-test suzuki.ichiro chauthtok=AUTHTOK_ERR)
		echo "$out"
		expect_match "$out" "error: The password contains the name of the organisation" "$pw"
	done
	out=$(pam -p 'Aki-no-Tsuki-2030' -p 'Password2024!' -p 'Password2024!' mamori-test suzuki.ichiro \
		chauthtok=AUTHTOK_ERR)
	echo "$out"
	expect_match "$out" 'error: .*based on a dictionary word' "Password2024!"
	for pw in 'Yamada-Hanako-2026' 'HanakoYamada2026'; do
		out=$(pam -p 'Haru-no-Umi-2026' -p "$pw" -p "$pw" mamori-test yamada.hanako chauthtok=AUTHTOK_ERR)
		echo "$out"
		expect_match "$out" 'error: The password contains the user name in some form' "$pw"
	done
	# A block list entry with another year and symbol is still forbidden.
	out=$(pam -p 'Aki-no-Tsuki-2030' -p 'Summer-Kyoto-2031?' -p 'Summer-Kyoto-2031?' mamori-test suzuki.ichiro \
		chauthtok=AUTHTOK_ERR)
	echo "$out"
	expect_match "$out" 'error: The password is a forbidden password with digits, symbols or a year added' \
		"normalised block list"
	# The old passwords still work: nothing was changed.
	pam -p 'Aki-no-Tsuki-2030' mamori-test suzuki.ichiro auth=SUCCESS
	pam -p 'Haru-no-Umi-2026' mamori-test yamada.hanako auth=SUCCESS
	! grep -q 'Komaki2024\|HanakoYamada' "$T/daemon.log" || fail "password in the log"
}

# Long passphrases are what users should choose: 300 and 1024 characters
# are accepted by default.
t_strength_long_password_accepted() {
	local long prev
	long=$(printf 'Kawa%03d-' $(seq 1 38))
	[ "${#long}" -eq 304 ] || fail "built ${#long} characters"
	add_user s3 'Kaze-no-Oto-2030x'
	advance_clock $((2 * DAY))
	pam -p 'Kaze-no-Oto-2030x' -p "$long" -p "$long" mamori-test s3 chauthtok=SUCCESS
	pam -p "$long" mamori-test s3 auth=SUCCESS
	advance_clock $((2 * DAY))
	prev=$long
	long=$(printf 'Sora%03d-' $(seq 1 128))
	[ "${#long}" -eq 1024 ] || fail "built ${#long} characters"
	pam -p "$prev" -p "$long" -p "$long" mamori-test s3 chauthtok=SUCCESS
	pam -p "$long" mamori-test s3 auth=SUCCESS
}

# Too long says so: over max_length (1024), and over what the module sends
# (4096 bytes), where it used to end with a bare PAM_AUTHTOK_ERR.
t_strength_too_long_says_so() {
	local out long huge
	add_user s4 'Mizu-no-Oto-2030x'
	# 3 days: with the 4 of the two tests above, a week, so that the later
	# tests see the weekdays and hours they were written for.
	advance_clock $((3 * DAY))
	long=$(printf 'Kawa%03d-' $(seq 1 129))x
	[ "${#long}" -eq 1033 ] || fail "built ${#long} characters"
	out=$(pam -p 'Mizu-no-Oto-2030x' -p "$long" -p "$long" mamori-test s4 chauthtok=AUTHTOK_ERR)
	echo "$out" | cut -c1-200
	expect_match "$out" 'error: The password must have at most 1024 characters\.' "over max_length"
	huge=$(printf 'Kawa%03d-' $(seq 1 520))
	[ "${#huge}" -eq 4160 ] || fail "built ${#huge} characters"
	out=$(pam -p 'Mizu-no-Oto-2030x' -p "$huge" -p "$huge" mamori-test s4 chauthtok=AUTHTOK_ERR)
	echo "$out" | cut -c1-200
	expect_match "$out" 'error: The new password is too long\.' "over 4096 bytes"
	out=$(pam -p "$huge" -p 'Mizu-no-Oto-2031x' -p 'Mizu-no-Oto-2031x' mamori-test s4 chauthtok=AUTHTOK_ERR)
	echo "$out" | cut -c1-200
	expect_match "$out" 'error: The current password is not correct\.' "current password over 4096 bytes"
	# At login, as before: refused, with nothing counted (test-badinput.sh).
	pam -p "$huge" mamori-test s4 auth=AUTH_ERR >/dev/null
	expect_eq "$(sql "SELECT count(*) FROM lockouts WHERE name = 's4'")" 0 "nothing counted"
	pam -p 'Mizu-no-Oto-2030x' mamori-test s4 auth=SUCCESS
}

# ------------------------------------------------------- history, cross

t_history_refuses_reuse() {
	local out i pw prev='Hana-Saku-Haru-01'
	add_user h1 "$prev"
	for i in 2 3 4; do
		advance_clock $((2 * DAY))
		pw="Hana-Saku-Haru-0$i"
		pam -p "$prev" -p "$pw" -p "$pw" mamori-test h1 chauthtok=SUCCESS >/dev/null
		prev=$pw
	done
	advance_clock $((2 * DAY))
	# history = 3: the last three passwords (04, the current one, 03 and 02)
	# are refused.
	out=$(pam -p "$prev" -p 'Hana-Saku-Haru-02' -p 'Hana-Saku-Haru-02' mamori-test h1 chauthtok=AUTHTOK_ERR)
	expect_match "$out" 'error: .*used before' "reuse refusal"
	out=$(pam -p "$prev" -p "$prev" -p "$prev" mamori-test h1 chauthtok=AUTHTOK_ERR)
	expect_match "$out" 'used before' "current password"
	# The first password has left the history.
	pam -p "$prev" -p 'Hana-Saku-Haru-01' -p 'Hana-Saku-Haru-01' mamori-test h1 chauthtok=SUCCESS
}

t_cross_system_reuse_refused() {
	local temp out
	add_user c1 'Umi-no-Aosa-2030'
	temp=$(ctl password temp c1 --system mynumber | tail -n 1)
	out=$(pam -p "$temp" -p 'Umi-no-Aosa-2030' -p 'Umi-no-Aosa-2030' mamori-mn c1 \
		auth=SUCCESS acct=NEW_AUTHTOK_REQD chauthtok=AUTHTOK_ERR)
	echo "$out"
	expect_match "$out" 'error: .*another system' "cross-system refusal"
	pam -p "$temp" -p 'Mori-no-Midori-2030' -p 'Mori-no-Midori-2030' mamori-mn c1 \
		auth=SUCCESS chauthtok=SUCCESS
	pam -p 'Mori-no-Midori-2030' mamori-mn c1 auth=SUCCESS acct=SUCCESS
	pam -p 'Umi-no-Aosa-2030' mamori-test c1 auth=SUCCESS
}

# -------------------------------------------------------------- ages

t_age_warning_expiry_and_minimum() {
	local out
	add_user a1 'Aki-no-Sora-2030'
	# Minimum age: a change on the same day is refused.
	out=$(pam -p 'Aki-no-Sora-2030' -p 'Fuyu-no-Yuki-2030' -p 'Fuyu-no-Yuki-2030' mamori-test a1 \
		chauthtok=AUTHTOK_ERR)
	expect_match "$out" 'changed too recently' "minimum age"
	# 80 days: within the 14-day warning of the 90-day maximum.
	advance_clock $((80 * DAY))
	out=$(pam -p 'Aki-no-Sora-2030' mamori-test a1 auth=SUCCESS acct=SUCCESS)
	expect_match "$out" 'info: Your password expires in 10 days' "warning"
	advance_clock $((11 * DAY))
	out=$(pam -p 'Aki-no-Sora-2030' mamori-test a1 auth=SUCCESS acct=NEW_AUTHTOK_REQD)
	expect_match "$out" 'expired' "expiry"
	pam -p 'Aki-no-Sora-2030' -p 'Fuyu-no-Yuki-2030' -p 'Fuyu-no-Yuki-2030' mamori-test a1 \
		auth=SUCCESS acct=NEW_AUTHTOK_REQD chauthtok=SUCCESS
	pam -p 'Fuyu-no-Yuki-2030' mamori-test a1 auth=SUCCESS acct=SUCCESS
}

t_age_privileged_rotates_sooner() {
	working_hours
	add_user a2 'Natsu-no-Hi-2030x'
	add_user a3.admin 'Natsu-no-Umi-2030-Kaze' --privileged
	advance_clock $((31 * DAY))
	working_hours
	pam -p 'Natsu-no-Hi-2030x' mamori-test a2 auth=SUCCESS acct=SUCCESS
	pam -p 'Natsu-no-Umi-2030-Kaze' mamori-test a3.admin auth=SUCCESS acct=NEW_AUTHTOK_REQD
}

t_temporary_password_lifetime() {
	local out temp
	ctl user add t1 >/dev/null
	out=$(ctl password temp t1)
	temp=$(tail -n 1 <<<"$out")
	[ -n "$temp" ] || fail "password temp printed no password: $out"
	# It works within its lifetime, and is refused as expired after it.
	pam -p "$temp" mamori-test t1 auth=SUCCESS
	advance_clock 3601
	pam -p "$temp" mamori-test t1 auth=AUTH_ERR
	expect_eq "$(sql "SELECT reason FROM audit WHERE \"user\" = 't1' AND category = 'auth' ORDER BY id DESC LIMIT 1")" \
		"temporary password expired" "audit reason"
}

t_compromised_by_admin() {
	local out
	add_user k1 'Kumo-no-Ue-2030'
	: >"$T/incidents"
	ctl password compromised k1 >/dev/null
	out=$(pam -p 'Kumo-no-Ue-2030' mamori-test k1 auth=SUCCESS acct=NEW_AUTHTOK_REQD)
	expect_match "$out" 'reported compromised' "forced change"
	wait_incident password_compromised
	pam -p 'Kumo-no-Ue-2030' -p 'Kumo-no-Shita-2030' -p 'Kumo-no-Shita-2030' mamori-test k1 \
		auth=SUCCESS chauthtok=SUCCESS
	pam -p 'Kumo-no-Shita-2030' mamori-test k1 auth=SUCCESS acct=SUCCESS
}

t_compromised_by_the_user() {
	local out
	add_user nobody 'Shiranai-Hito-2030'
	: >"$T/incidents"
	out=$(printf 'Shiranai-Hito-2030\n' | runuser -u nobody -- "$RUNAS_CTL" --pam-socket "$T/run/pam.sock" \
		password compromised 2>&1)
	echo "$out"
	wait_incident password_compromised
	pam -p 'Shiranai-Hito-2030' mamori-test nobody auth=SUCCESS acct=NEW_AUTHTOK_REQD
	# Somebody else's account cannot be reported through the PAM socket.
	local rc=0
	printf 'x\n' | runuser -u nobody -- "$RUNAS_CTL" --pam-socket "$T/run/pam.sock" password compromised k1 \
		>/dev/null 2>&1 || rc=$?
	[ "$rc" -ne 0 ] || fail "nobody reported k1's password"
}

# ------------------------------------------------------------ lockout

# P-LOGIN-UI, P-PRIV-STRICT: the one lock message, for every account and
# every kind of lock (it must not tell which names are privileged IDs).
LOCK_MESSAGE='error: This account is locked after too many failed attempts. Try again later, or ask an administrator to unlock it.'

t_lockout_timed_with_message() {
	local out i
	add_user l1 'Ame-no-Hi-2030'
	: >"$T/incidents"
	for i in 1 2 3 4; do pam -p 'wrong' mamori-test l1 auth=AUTH_ERR >/dev/null; done
	out=$(pam -p 'wrong' mamori-test l1 auth=MAXTRIES)
	echo "$out"
	expect_eq "$(echo "$out" | grep '^error:')" "$LOCK_MESSAGE" "lock message"
	wait_incident lockout
	out=$(pam -p 'Ame-no-Hi-2030' mamori-test l1 auth=MAXTRIES)
	expect_match "$out" 'locked' "right password while locked"
	expect_eq "$(ctl --json user show l1 | json 'd["user"]["locked"]')" True "user show"
	advance_clock 901
	pam -p 'Ame-no-Hi-2030' mamori-test l1 auth=SUCCESS
}

t_lockout_back_off_grows() {
	local i
	add_user l2 'Kiri-no-Asa-2030'
	# (|| true: the last tries answer MAXTRIES; the lock is what is checked)
	for i in 1 2 3 4 5; do pam -p 'wrong' mamori-test l2 auth=AUTH_ERR auth=AUTH_ERR >/dev/null 2>&1 || true; done
	# First lock: 900 s.  Second: 1800 s.
	advance_clock 901
	for i in 1 2 3 4 5; do pam -p 'wrong' mamori-test l2 auth=AUTH_ERR >/dev/null 2>&1 || true; done
	advance_clock 901
	pam -p 'Kiri-no-Asa-2030' mamori-test l2 auth=MAXTRIES
	advance_clock 900
	pam -p 'Kiri-no-Asa-2030' mamori-test l2 auth=SUCCESS
}

# advance_and_prune SECONDS: move the clock on (atomically: the daemon never
# reads a half-written file) and wait for the housekeeping thread to prune
# the lockout records at that very time (it prunes at its first tick after
# an hour has passed).
advance_and_prune() {
	local now i
	now=$(($(cat "$T/clock") + $1))
	echo "$now" >"$T/clock.new"
	chmod 644 "$T/clock.new"
	mv -f "$T/clock.new" "$T/clock"
	for i in $(seq 1 100); do
		grep -q "lockout pruning at $now: [0-9]* records removed" "$T/daemon.log" && return 0
		sleep 0.1
	done
	fail "housekeeping did not prune the lockout records at $now"
}

# Before: housekeeping forgot a name a day after its last failure, so
# bursts spaced more than a day apart never locked under a longer window,
# and the lock after a quiet day was the first again.
t_lockout_memory_outlasts_a_day() {
	local out i start
	start=$(cat "$T/clock")
	add_user lm 'Tsuki-no-Michi-2030'
	stop_daemon
	sed -i 's/^\[policy privileged\]/[policy staff]\nlockout_threshold = 3\nlockout_window = 259200\n\n[policy privileged]/' "$T/mamori.conf"
	# The next tests get the usual policy back, whatever happens here.
	trap 'stop_daemon; sed -i "/^\[policy staff\]$/,/^$/d" "$T/mamori.conf"; start_daemon' EXIT
	start_daemon
	pam -p 'wrong' mamori-test lm auth=AUTH_ERR >/dev/null
	advance_and_prune $((25 * 3600))
	pam -p 'wrong' mamori-test lm auth=AUTH_ERR >/dev/null
	advance_and_prune $((25 * 3600))
	out=$(pam -p 'wrong' mamori-test lm auth=MAXTRIES)
	expect_eq "$(echo "$out" | grep "^error:")" "$LOCK_MESSAGE" "lock message"
	pam -p 'Tsuki-no-Michi-2030' mamori-test lm auth=MAXTRIES >/dev/null
	# The first lock (900 s) runs out; a day later the back-off still
	# holds: the next lock lasts 1800 s.
	advance_and_prune $((900 + DAY + 1))
	expect_eq "$(sql "SELECT lock_count FROM lockouts WHERE name = 'lm'")" 1 "locks remembered"
	for i in 1 2; do pam -p 'wrong' mamori-test lm auth=AUTH_ERR >/dev/null; done
	pam -p 'wrong' mamori-test lm auth=MAXTRIES >/dev/null
	advance_clock 901
	pam -p 'Tsuki-no-Michi-2030' mamori-test lm auth=MAXTRIES >/dev/null
	advance_clock 900
	pam -p 'Tsuki-no-Michi-2030' mamori-test lm auth=SUCCESS
	# A week on from the start: the later tests see the weekdays and hours
	# they were written for.
	[ "$(cat "$T/clock")" -lt $((start + 7 * DAY)) ] || fail "the test took more than a week of clock"
	set_clock $((start + 7 * DAY))
}

t_lockout_privileged_until_unlock() {
	local out i
	working_hours
	add_user l3.admin 'Shimo-no-Asa-2030-Yoru' --privileged
	# Failures at the console: a terminal, no remote host, a console client's service.
	for i in 1 2; do pam -t tty1 -p 'wrong' login l3.admin auth=AUTH_ERR >/dev/null; done
	out=$(pam -t tty1 -p 'wrong' login l3.admin auth=MAXTRIES)
	expect_eq "$(echo "$out" | grep '^error:')" "$LOCK_MESSAGE" "the message every account gets"
	expect_eq "$(ctl --json user show l3.admin | json 'd["user"]["until_unlock"]')" True "until unlocked"
	advance_clock $((7 * DAY))
	pam -p 'Shimo-no-Asa-2030-Yoru' mamori-test l3.admin auth=MAXTRIES
	ctl unlock l3.admin >/dev/null
	pam -p 'Shimo-no-Asa-2030-Yoru' mamori-test l3.admin auth=SUCCESS
	ctl lock l3.admin >/dev/null
	pam -p 'Shimo-no-Asa-2030-Yoru' mamori-test l3.admin auth=MAXTRIES
	pam mamori-test l3.admin acct=PERM_DENIED
	ctl unlock l3.admin >/dev/null
}

# P-PRIV-STRICT: failures from a remote host (or without a terminal) lock a
# privileged ID for lockout_max_duration, with an incident, never until
# an administrator unlocks; the message is the one every account gets.
t_lockout_privileged_remote_timed() {
	local out i until now
	working_hours
	add_user l4.admin 'Oboro-Zuki-no-Yoru-2030' --privileged
	: >"$T/incidents"
	for i in 1 2; do pam -t pts/4 -r 198.51.100.7 -p 'wrong' mamori-test l4.admin auth=AUTH_ERR >/dev/null; done
	out=$(pam -t pts/4 -r 198.51.100.7 -p 'wrong' mamori-test l4.admin auth=MAXTRIES)
	echo "$out"
	expect_eq "$(echo "$out" | grep '^error:')" "$LOCK_MESSAGE" "the message every account gets"
	expect_eq "$(ctl --json user show l4.admin | json 'd["user"]["until_unlock"]')" False "not until unlocked"
	until=$(ctl --json user show l4.admin | json 'd["user"]["locked_until"]')
	now=$(cat "$T/clock")
	expect_eq "$((until - now))" 86400 "locked for lockout_max_duration"
	wait_incident lockout
	grep -q '"until_unlock_withheld": *true' "$T/incidents" || fail "incident does not say the lock was withheld"
	grep -q '"source": *"other"' "$T/incidents" || fail "incident does not name the source"
	# No terminal (a VPN, a web front end) is not the console either.
	add_user l5.admin 'Kagerou-no-Michi-2030' --privileged
	for i in 1 2; do pam -p 'wrong' mamori-test l5.admin auth=AUTH_ERR >/dev/null; done
	pam -p 'wrong' mamori-test l5.admin auth=MAXTRIES >/dev/null
	expect_eq "$(ctl --json user show l5.admin | json 'd["user"]["until_unlock"]')" False "no terminal: timed"
	expect_eq "$(ctl --json user show l5.admin | json 'd["user"]["locked"]')" True "no terminal: locked"
	advance_clock 86401
	working_hours
	pam -t pts/4 -r 198.51.100.7 -p 'Oboro-Zuki-no-Yoru-2030' mamori-test l4.admin auth=SUCCESS >/dev/null
}

t_lockout_survives_restart() {
	local i
	add_user l4 'Hi-no-De-2030x'
	for i in 1 2 3; do pam -p 'wrong' mamori-test l4 auth=AUTH_ERR >/dev/null; done
	stop_daemon
	start_daemon
	pam -p 'wrong' mamori-test l4 auth=AUTH_ERR >/dev/null
	pam -p 'wrong' mamori-test l4 auth=MAXTRIES >/dev/null
}

t_lockout_unknown_names_like_real_ones() {
	local real unknown i
	add_user l5 'Yuki-Doke-2030x'
	for i in 1 2 3 4; do
		pam -p 'wrong' mamori-test l5 auth=AUTH_ERR >/dev/null
		pam -p 'wrong' mamori-test l5-ghost auth=AUTH_ERR >/dev/null
	done
	# Each client's status counts (pam fails when the result is not
	# MAXTRIES), and each must show a message: two empty ones are no match.
	real=$(pam -p 'wrong' mamori-test l5 auth=MAXTRIES)
	unknown=$(pam -p 'wrong' mamori-test l5-ghost auth=MAXTRIES)
	real=$(grep '^error:' <<<"$real" | sed 's/until .*//') || fail "no message for the real account: $real"
	unknown=$(grep '^error:' <<<"$unknown" | sed 's/until .*//') || fail "no message for the unknown name: $unknown"
	expect_match "$real" '^error: .*[[:alpha:]]' "lock message for the real account"
	expect_eq "$unknown" "$real" "lock message for an unknown name"
}

t_lockout_exact_under_concurrency() {
	# 50 concurrent failing clients: every failure is counted, none twice.
	local i pids=()
	add_user l6 'Nami-no-Oto-2030' --kind staff
	sql "UPDATE logins SET failures_since_success = 0 WHERE user_id = (SELECT id FROM users WHERE name = 'l6')"
	stop_daemon
	sed -i 's/^\[policy privileged\]/[policy staff]\nlockout_threshold = 1000\n\n[policy privileged]/' "$T/mamori.conf"
	start_daemon
	for i in $(seq 1 50); do
		pam -p "wrong-$i" mamori-test l6 auth=AUTH_ERR >/dev/null &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || fail "a client did not get PAM_AUTH_ERR"; done
	expect_eq "$(sql "SELECT failures FROM lockouts WHERE name = 'l6'")" 50 "lockout count"
	expect_eq "$(sql "SELECT failures_since_success FROM logins WHERE user_id = (SELECT id FROM users WHERE name = 'l6')")" 50 "login failures"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'l6' AND reason = 'wrong password'")" 50 "audit rows"
	stop_daemon
	sed -i '/^lockout_threshold = 1000$/d' "$T/mamori.conf"
	start_daemon
}

t_lockout_storm_incident() {
	local u i
	# Earlier tests locked accounts too: start after a quiet window.
	advance_clock 1300
	: >"$T/incidents"
	for u in st1 st2 st3; do
		add_user "$u" "Arashi-no-Yoru-2030"
		# (the fifth answers MAXTRIES: the storm incident is what is checked)
		for i in 1 2 3 4 5; do pam -p 'wrong' mamori-test "$u" auth=AUTH_ERR >/dev/null 2>&1 || true; done
	done
	wait_incident lockout_storm
}

t_rate_limit_for_non_root_callers() {
	local i out start elapsed allowed=0 limited=0
	add_user nobody 'Shiranai-Hito-2031' 2>/dev/null || true # an earlier test may have added it
	# A token bucket of rate_limit = 20 a minute: 20 at once, then one
	# every 3 s.  Tries go on until two are refused (at most 80): on a
	# slow machine a try can take as long as a token takes to come back,
	# so which try is refused is not fixed, but the bound below is.
	start=$(date +%s)
	for i in $(seq 1 80); do
		out=$(pam -u nobody -p 'wrong' mamori-test nobody auth=AUTH_ERR 2>&1) || true
		if grep -q 'Too many attempts' <<<"$out"; then
			limited=$((limited + 1))
			[ "$limited" -lt 2 ] || break
		else
			allowed=$((allowed + 1))
		fi
	done
	elapsed=$(($(date +%s) - start + 1))
	echo "$out"
	echo "allowed $allowed, refused $limited, in ${elapsed} s"
	[ "$limited" -ge 1 ] || fail "no try refused by the rate limit in 80"
	expect_match "$out" 'Too many attempts' "rate limit message"
	[ "$allowed" -le $((20 + elapsed / 3 + 1)) ] || fail "$allowed tries allowed in ${elapsed} s with rate_limit = 20"
	# (refusals are audited, but not each one: see pam_refusal_audit)
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'nobody' AND result = 'rate_limited'")" -ge 1 ] ||
		fail "the refusal is not audited"
	ctl unlock nobody >/dev/null
}

# ---------------------------------------------------------- notices

t_login_notices() {
	local out
	add_user n1 'Sakura-Saku-2030'
	pam -p 'Sakura-Saku-2030' -t pts/3 -r 10.1.2.3 mamori-test n1 auth=SUCCESS open=SUCCESS close=SUCCESS >/dev/null
	pam -p 'wrong' mamori-test n1 auth=AUTH_ERR >/dev/null
	pam -p 'wrong' mamori-test n1 auth=AUTH_ERR >/dev/null
	advance_clock 3600
	out=$(pam -p 'Sakura-Saku-2030' -t pts/4 mamori-test n1 auth=SUCCESS acct=SUCCESS open=SUCCESS)
	echo "$out"
	expect_match "$out" 'info: AUTHORISED USE ONLY' "banner"
	expect_match "$out" 'info: この端末は業務専用です' "banner in Japanese"
	expect_match "$out" 'info: Last login: [0-9-]+ [0-9:]+ from 10.1.2.3 on pts/3' "last login"
	expect_match "$out" 'info: Failed login attempts since the last login: 2' "failures"
	expect_match "$out" 'info: Last logout: ' "last logout"
	out=$(ctl --json user show n1)
	expect_eq "$(echo "$out" | json 'd["user"]["previous_login"]["rhost"]')" 10.1.2.3 "user show previous login"
}

t_clock_not_synchronised_reported() {
	stop_daemon
	MAMORI_TEST_CLOCK_UNSYNC=1 start_daemon
	sleep 1
	grep -q 'not synchronised' "$T/daemon.log" || fail "no warning"
	stop_daemon
	start_daemon
}

# -------------------------------------------------------- privileged

t_reserved_names() {
	local rc=0
	ctl user add root --privileged 2>"$T/err" || rc=$?
	expect_eq "$rc" 1 "root as privileged"
	expect_match "$(cat "$T/err")" 'P-PRIV-NAME' "message"
	rc=0; ctl user add Administrator --privileged 2>/dev/null || rc=$?
	expect_eq "$rc" 1 "Administrator"
	ctl user add admin >/dev/null
	rc=0; ctl user set admin --privileged 2>/dev/null || rc=$?
	expect_eq "$rc" 1 "set privileged on admin"
	ctl user add ops.yamada --privileged >/dev/null
	rc=0; ctl user rename ops.yamada administrator 2>/dev/null || rc=$?
	expect_eq "$rc" 1 "rename into a reserved name"
	# A rename keeps the lock.
	ctl lock ops.yamada >/dev/null
	ctl user rename ops.yamada ops.kimura >/dev/null
	expect_eq "$(ctl --json user show ops.kimura | json 'd["user"]["locked"]')" True "lock after rename"
	ctl unlock ops.kimura >/dev/null
}

t_contractor_cannot_reset_privileged() {
	local rc=0 actor=daemon
	working_hours
	add_user pr1.admin 'Tori-no-Uta-2030-Sora' --privileged
	advance_clock $((2 * DAY))
	working_hours
	# The acting administrator is the caller's login uid's user: here a
	# contractor (the local user daemon) who runs mamorictl through sudo.
	ctl user add "$actor" --kind contractor >/dev/null
	(echo "$(id -u "$actor")" >/proc/self/loginuid && exec "$CTL" --socket "$T/run/admin.sock" \
		password temp pr1.admin) 2>"$T/err" || rc=$?
	expect_eq "$rc" 1 "contractor resets a privileged ID"
	expect_match "$(cat "$T/err")" 'P-PRIV-CONTRACTOR' "message"
	(echo "$(id -u "$actor")" >/proc/self/loginuid && exec "$CTL" --socket "$T/run/admin.sock" \
		password temp t1) >/dev/null
	# Through PAM: a contractor named as the requesting user.
	ctl user add itaku.co --kind contractor >/dev/null
	out=$(pam -R itaku.co -p 'Tori-no-Uta-2030-Sora' -p 'Tori-no-Uta-2031-Umi' -p 'Tori-no-Uta-2031-Umi' \
		mamori-test pr1.admin chauthtok=PERM_DENIED)
	expect_match "$out" 'contractor' "message"
	ctl user delete "$actor" >/dev/null
	ctl password temp pr1.admin >/dev/null
}

t_hours_of_use() {
	local out
	working_hours
	add_user hr1.admin 'Yoru-no-Shizukesa-2030' --privileged
	set_clock "$(date -d '2030-01-12 10:00' +%s)" # a Saturday
	# Refused by the authentication itself (for stacks without account
	# management), and by account management.
	out=$(pam -p 'Yoru-no-Shizukesa-2030' mamori-test hr1.admin auth=AUTH_ERR)
	expect_match "$out" 'may not be used at this time' "message"
	out=$(pam mamori-test hr1.admin acct=PERM_DENIED)
	expect_match "$out" 'may not be used at this time' "message"
	set_clock "$(date -d '2030-01-14 21:30' +%s)" # Monday, late
	pam -p 'Yoru-no-Shizukesa-2030' mamori-test hr1.admin auth=AUTH_ERR >/dev/null
	pam mamori-test hr1.admin acct=PERM_DENIED >/dev/null
	set_clock "$(date -d '2030-01-15 09:00' +%s)" # Tuesday morning
	pam -p 'Yoru-no-Shizukesa-2030' mamori-test hr1.admin auth=SUCCESS acct=SUCCESS >/dev/null
	# An account's own hours override its role's.
	ctl user set hr1.admin --hours 'Tue 10:00-11:00' >/dev/null
	pam mamori-test hr1.admin acct=PERM_DENIED >/dev/null
	ctl user set hr1.admin --no-hours >/dev/null
	pam mamori-test hr1.admin acct=SUCCESS >/dev/null
}

t_privileged_time_box() {
	local pid out i
	working_hours
	add_user tb.admin 'Toki-no-Nagare-2030-Hayai' --privileged
	set_clock "$(date -d '2030-01-16 10:00' +%s)"
	setsid "$PAM_CLIENT_ENV" -S -p 'Toki-no-Nagare-2030-Hayai' -t pts/9 mamori-priv tb.admin \
		auth=SUCCESS open=SUCCESS >"$T/leader.out" 2>&1 &
	for i in $(seq 1 50); do grep -q READY "$T/leader.out" && break; sleep 0.1; done
	pid=$(sed -n 's/^READY //p' "$T/leader.out")
	[ -n "$pid" ] || { cat "$T/leader.out"; fail "session did not open"; }
	cat "$T/leader.out"
	expect_match "$(cat "$T/leader.out")" 'will be ended at' "deadline notice"
	kill -0 "$pid" || fail "leader gone early"
	advance_clock 601
	for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	! kill -0 "$pid" 2>/dev/null || { kill "$pid"; fail "time box did not end the session"; }
	# The record is closed right after the leader is gone.
	for i in $(seq 1 50); do
		[ "$(sql "SELECT end_reason FROM sessions WHERE service = 'mamori-priv' ORDER BY id DESC LIMIT 1")" = "time box" ] && break
		sleep 0.1
	done
	expect_eq "$(sql "SELECT end_reason FROM sessions WHERE service = 'mamori-priv' ORDER BY id DESC LIMIT 1")" \
		"time box" "end reason"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'tb.admin' AND reason LIKE '%time box%'")" -ge 1 ] ||
		fail "not audited"
}

t_privileged_list() {
	local out
	out=$(ctl user list --privileged)
	echo "$out"
	expect_match "$out" 'tb\.admin' "privileged ID listed"
	! grep -q '^n1 ' <<<"$out" || fail "staff account listed"
	expect_eq "$(ctl --json user list --privileged | json '[u["last_used_at"] is not None for u in d["users"] if u["name"] == "tb.admin"] == [True]')" \
		True "tb.admin listed with its last use"
}

# ------------------------------------------------------ account kinds

t_dev_accounts_need_expiry_and_expire() {
	local rc=0
	ctl user add dev1 --kind dev 2>"$T/err" || rc=$?
	expect_eq "$rc" 1 "dev without expiry"
	expect_match "$(cat "$T/err")" 'P-DEV-ID' "message"
	add_user dev2 'Kaihatsu-Yo-2030' --kind dev --expires 2030-02-28
	set_clock "$(date -d '2030-03-01 09:00' +%s)"
	for i in $(seq 1 30); do
		[ "$(ctl --json user show dev2 | json 'd["user"]["state"]')" = disabled ] && break
		sleep 0.2
	done
	expect_eq "$(ctl --json user show dev2 | json 'd["user"]["state"]')" disabled "after expiry"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'dev2' AND reason = 'development account expired'")" -ge 1 ] ||
		fail "not audited"
}

# Stacks that call only pam_authenticate (screen lockers, some VPNs): the
# authentication itself refuses what account management would, with the
# answer of any refusal (auth_err and a message), and only after the
# factors were right.
t_authenticate_only_applies_account_rules() {
	local out today
	today=$(date -d "@$(cat "$T/clock")" +%F)
	add_user ao.expired 'Kareha-no-Oto-2030' --expires "$today"
	add_user ao.hours 'Yuugure-no-Kane-2030'
	add_user ao.disabled 'Hatsuyuki-no-Asa-2030'
	ctl user set ao.hours --hours 'Sun 00:00-00:01' >/dev/null
	ctl user disable ao.disabled >/dev/null
	advance_clock $((2 * DAY))
	out=$(pam -p 'Kareha-no-Oto-2030' mamori-test ao.expired auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" 'error: This account has expired' "expired account"
	out=$(pam -p 'Yuugure-no-Kane-2030' mamori-test ao.hours auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" 'error: This account may not be used at this time' "outside hours"
	out=$(pam -p 'Hatsuyuki-no-Asa-2030' mamori-test ao.disabled auth=AUTH_ERR)
	expect_match "$out" 'error: This account is disabled' "disabled account"
	# A wrong password learns nothing of it.
	out=$(pam -p 'wrong-password' mamori-test ao.expired auth=AUTH_ERR)
	! grep -q 'expired' <<<"$out" || fail "the refusal shown without the password"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'ao.expired' AND category = 'auth' AND reason = 'account expired'")" = 1 ] ||
		fail "expiry refusal not audited"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'ao.hours' AND category = 'auth' AND reason = 'outside hours of use'")" = 1 ] ||
		fail "hours refusal not audited"
}

# P-PW-TEMP, P-PW-LEAK, P-PW-AGE: a stack that calls only pam_authenticate
# (pam_mamori.so authonly) never changes a password, so a password that
# must be changed is refused there, with account management's message;
# full stacks still authenticate it and change it.
t_authonly_refuses_password_to_change() {
	local out temp='Harusame-Kari-2030-x'
	ctl user add ao.temp >/dev/null
	printf '%s\n' "$temp" | ctl password temp ao.temp --password-stdin >/dev/null
	out=$(pam -p "$temp" mamori-authonly ao.temp auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" 'error: You must change your temporary password now' "temporary password"
	pam -p "$temp" mamori-test ao.temp auth=SUCCESS acct=NEW_AUTHTOK_REQD >/dev/null
	add_user ao.leak 'Kogarashi-no-Koe-2030'
	pam -p 'Kogarashi-no-Koe-2030' mamori-authonly ao.leak auth=SUCCESS >/dev/null
	ctl password compromised ao.leak >/dev/null
	out=$(pam -p 'Kogarashi-no-Koe-2030' mamori-authonly ao.leak auth=AUTH_ERR)
	expect_match "$out" 'error: Your password was reported compromised' "compromised password"
	add_user ao.old 'Hiyori-no-Sora-2030x'
	advance_clock $((91 * DAY))
	out=$(pam -p 'Hiyori-no-Sora-2030x' mamori-authonly ao.old auth=AUTH_ERR)
	expect_match "$out" 'error: Your password has expired' "password past its maximum age"
	pam -p 'Hiyori-no-Sora-2030x' mamori-test ao.old auth=SUCCESS acct=NEW_AUTHTOK_REQD >/dev/null
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'ao.temp' AND category = 'auth' AND result = 'auth_err' AND reason = 'temporary password'")" = 1 ] ||
		fail "refusal not audited"
}

t_shared_account_members() {
	local out shared personal unknown
	ctl user add madoguchi --kind shared >/dev/null
	add_user sh.sato 'Suzume-no-Himitsu-2030'
	add_user sh.kato 'Kaki-no-Himitsu-2030'
	ctl user members madoguchi add sh.sato >/dev/null
	ctl user enable madoguchi >/dev/null
	out=$(pam -e sh.sato -p 'Suzume-no-Himitsu-2030' front-desk madoguchi auth=SUCCESS acct=SUCCESS)
	echo "$out"
	expect_match "$out" 'prompt-echo: Member name: ' "member prompt"
	expect_match "$out" 'prompt: Password of sh.sato: ' "member password prompt"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'madoguchi' AND actor = 'sh.sato' AND result = 'success'")" -ge 1 ] ||
		fail "audit does not name the member"
	out=$(pam -e sh.kato -p 'Kaki-no-Himitsu-2030' front-desk madoguchi auth=AUTH_ERR)
	expect_match "$out" 'named members' "non-member"
	pam -e sh.sato -p 'wrong' front-desk madoguchi auth=AUTH_ERR >/dev/null
	expect_eq "$(sql "SELECT failures FROM lockouts WHERE name = 'sh.sato'")" 1 "failure counted on the member"
	# P-INPUT: the member prompt belongs to the service.  There every name
	# is asked it (a person answers with their own name, or nothing);
	# elsewhere a shared account is asked what any name is asked.
	out=$(pam -e '' -p 'Kaki-no-Himitsu-2030' front-desk sh.kato auth=SUCCESS)
	expect_match "$out" 'prompt-echo: Member name: ' "member prompt for a personal account"
	shared=$(pam -p 'x' mamori-test madoguchi auth=AUTH_ERR | sed 's/madoguchi/U/g')
	personal=$(pam -p 'x' mamori-test sh.kato auth=AUTH_ERR | sed 's/sh.kato/U/g')
	unknown=$(pam -p 'x' mamori-test no.such.desk auth=AUTH_ERR | sed 's/no.such.desk/U/g')
	echo "$shared"
	! grep -q 'Member name' <<<"$shared" || fail "member prompt outside a member_prompt service"
	expect_eq "$shared" "$personal" "shared and personal accounts"
	expect_eq "$shared" "$unknown" "shared account and unknown name"
	ctl user members madoguchi remove sh.sato >/dev/null
	pam -e sh.sato -p 'Suzume-no-Himitsu-2030' front-desk madoguchi auth=AUTH_ERR >/dev/null
}

PAM_CLIENT_ENV="$T/pam_client_env"
cat >"$PAM_CLIENT_ENV" <<SH
#!/bin/sh
exec env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" "$PAM_CLIENT" "\$@"
SH
chmod 755 "$PAM_CLIENT_ENV"

run_test "P-PW-STRENGTH minimum length, one clear line, nothing logged" t_strength_min_length
run_test "P-PW-STRENGTH privileged IDs: longer and mixed" t_strength_privileged_rules
run_test "P-PW-STRENGTH dictionary and user-name checks" t_strength_dictionary_and_user_name
run_test "P-PW-STRENGTH organisation block list, case-insensitive" t_strength_block_list
run_test "P-PW-STRENGTH the issue's examples are refused: organisation's words, name parts, normalised" t_strength_issue_examples_refused
run_test "P-PW-STRENGTH a 300- and a 1024-character passphrase are accepted" t_strength_long_password_accepted
run_test "P-PW-STRENGTH a password too long gets a message saying so" t_strength_too_long_says_so
run_test "P-PW-HISTORY the last passwords cannot be reused" t_history_refuses_reuse
run_test "P-PW-CROSS a password in use on another system is refused" t_cross_system_reuse_refused
run_test "P-PW-AGE warning, expiry and minimum age" t_age_warning_expiry_and_minimum
run_test "P-PW-AGE P-PRIV-STRICT privileged passwords rotate sooner" t_age_privileged_rotates_sooner
run_test "P-PW-TEMP temporary passwords expire after temp_lifetime" t_temporary_password_lifetime
run_test "P-PW-LEAK P-INCIDENT an administrator marks a password compromised" t_compromised_by_admin
run_test "P-PW-LEAK a user reports their own password compromised" t_compromised_by_the_user
run_test "P-LOGIN-UI P-INCIDENT lockout after failures, with its own message" t_lockout_timed_with_message
run_test "P-LOGIN-UI repeated locks last longer" t_lockout_back_off_grows
run_test "P-LOGIN-UI failures and locks are remembered beyond a day, as the window and back-off need" t_lockout_memory_outlasts_a_day
run_test "P-PRIV-STRICT privileged IDs stay locked until unlocked after failures at the console; the message every account gets" \
	t_lockout_privileged_until_unlock
run_test "P-PRIV-STRICT P-INCIDENT remote failures lock a privileged ID for a long time, never until unlocked" \
	t_lockout_privileged_remote_timed
run_test "P-CRED-STORE failure counts survive a restart" t_lockout_survives_restart
run_test "P-LOGIN-UI unknown names are throttled like real ones" t_lockout_unknown_names_like_real_ones
run_test "P-CRED-STORE lockout counts are exact under 50 concurrent clients" t_lockout_exact_under_concurrency
run_test "P-INCIDENT a lockout storm raises an incident" t_lockout_storm_incident
run_test "P-CRED-STORE non-root callers are rate-limited per uid" t_rate_limit_for_non_root_callers
run_test "P-LOGIN-UI banner, last login, failures and last logout at session start" t_login_notices
run_test "P-TIME an unsynchronised clock is reported" t_clock_not_synchronised_reported
run_test "P-PRIV-NAME reserved names cannot be privileged IDs" t_reserved_names
run_test "P-PRIV-CONTRACTOR contractors cannot set privileged IDs' passwords" t_contractor_cannot_reset_privileged
run_test "P-PRIV-TIME hours of use per role and per account" t_hours_of_use
run_test "P-PRIV-TIME a privileged session is ended when its time box closes" t_privileged_time_box
run_test "P-PRIV-MIN privileged IDs are listed with their last use" t_privileged_list
run_test "P-DEV-ID development accounts need an expiry and are disabled after it" t_dev_accounts_need_expiry_and_expire
run_test "P-ACCESS P-DEV-ID an authentication alone refuses expired, disabled and out-of-hours accounts" \
	t_authenticate_only_applies_account_rules
run_test "P-PW-TEMP P-PW-LEAK P-PW-AGE an authentication-only stack refuses a password that must be changed" \
	t_authonly_refuses_password_to_change
run_test "P-ID-SHARED P-INPUT shared accounts: named members; the member prompt is the service's, not the account's" \
	t_shared_account_members
rm -rf "$BLOCKLIST_DIR"
tap_done
