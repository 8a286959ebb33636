#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The card factor through real PAM (pam_wrapper + pam_client, and the real
# sudo in a mount namespace): a real pcscd with vpcd, the suite's virtual
# cards (PIV RSA-2048, PIV P-256, JPKI), the card helper, and cards bound
# with `mamorictl card enroll`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/card_lib.sh"

require "root" test "$(id -u)" = 0
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "python3" test -x /usr/bin/python3
require "unshare" command -v unshare
require "sudo" test -u "$(command -v sudo)"
card_require
# The cards' certificates are made now: the daemon's clock (the test clock)
# is moved past their start.
require_test_hooks "needs the test clock"

HELPER="$top_builddir/authd/card/mamori-card-helper"
require "the card helper" test -x "$HELPER"

EXTRA_CONF="[system mn]
mynumber = yes

[service card-login]
system = mn
require = card
rhost_empty = local

[service card-or-password]
require = card, password

[service sudo]
system = mn
require = card

[card]
wait = 3
helper = $HELPER
helper_user = nobody

[incident]
hook = /tmp/mamori-hook-placeholder

[policy staff]
min_age_days = 0

[daemon]
rate_limit = 1000"
new_env
# The helper runs as nobody: everything it reaches must be reachable.
cp "$HELPER" "$T/mamori-card-helper"
chmod 755 "$T/mamori-card-helper"
sed -i "s|^helper = .*|helper = $T/mamori-card-helper|" "$T/mamori.conf"
cat >"$T/hook" <<HOOK
#!/bin/sh
cat >>"$T/incidents"
echo >>"$T/incidents"
HOOK
chmod 700 "$T/hook"
sed -i "s|/tmp/mamori-hook-placeholder|$T/hook|" "$T/mamori.conf"
for s in card-login card-or-password; do make_service "$s"; done

# The Japanese catalogue the build made, as `make install` would place it.
mkdir -p "$T/locale/ja/LC_MESSAGES"
msgfmt --check -o "$T/locale/ja/LC_MESSAGES/mamori.mo" "$top_srcdir/po/ja.po" ||
	{ echo "Bail out! po/ja.po does not compile"; exit 1; }
chmod -R a+rX "$T/locale"
export MAMORI_TEST_LOCALEDIR="$T/locale"

pcscd_start || { echo "Bail out! pcscd did not start"; exit 1; }
LANG=C LC_ALL=C start_daemon || { echo "Bail out! daemon did not start"; cat "$T/daemon.log"; exit 1; }

PIV_PIN=123456
PIV_PIN8=87654321
JPKI_PIN=1234

# The cards, out of their readers until a test inserts one: only one card
# is in a reader at a time, so the daemon's wait finds that one.
card_start taro-piv --profile piv --key rsa2048 --pin "$PIV_PIN" --removed
card_start hanako-p256 --profile piv --key p256 --pin "$PIV_PIN8" --removed
card_start jiro-jpki --profile jpki --pin "$JPKI_PIN" --removed
card_start ume-piv --profile piv --key rsa2048 --pin "$PIV_PIN" --removed
card_start ns-piv --reader 1 --profile piv --key p256 --pin "$PIV_PIN" --removed
card_start stray-piv --profile piv --key rsa2048 --pin "$PIV_PIN" --removed
# The card in a reader now, kept in a file: each test runs in a subshell.
echo "" >"$T/inserted"

# only_card NAME: NAME in its reader, every other card out.
only_card() {
	local inserted
	inserted=$(cat "$T/inserted")
	if [ -n "$inserted" ] && [ "$inserted" != "$1" ]; then
		card_remove "$inserted"
		echo "" >"$T/inserted"
		inserted=""
	fi
	if [ "$inserted" != "$1" ]; then
		card_insert "$1"
		echo "$1" >"$T/inserted"
	fi
}
no_card() {
	local inserted
	inserted=$(cat "$T/inserted")
	[ -z "$inserted" ] || card_remove "$inserted"
	echo "" >"$T/inserted"
}

# The certificates are valid from now on: the daemon's clock follows.
set_clock $(($(date +%s) + 600))

# enrol USER CARD: USER's card bound by an administrator, read from the
# reader it is in.
enrol() {
	only_card "$2"
	ctl card enroll "$1" >/dev/null || fail "card enroll $1"
}

add_user taro 'Sakura-no-Ki-2030'
add_user hanako 'Ume-no-Hana-2030x'
add_user jiro 'Matsu-no-Ki-2030y'
add_user ume 'Kiri-no-Hana-2030z'
add_user nocard 'Take-no-Ha-2030w'
add_user mamori-ns 'Sudo-no-Kagi-2030'
enrol taro taro-piv
enrol hanako hanako-p256
enrol jiro jiro-jpki
enrol ume ume-piv
enrol mamori-ns ns-piv

linked_sessions() { # USER: sessions of USER linked to a card, with the reader
	sql "SELECT count(*) FROM session_credentials sc JOIN sessions s ON s.id = sc.session_id
		JOIN users u ON u.id = s.user_id JOIN credentials c ON c.id = sc.credential_id
		WHERE u.name = '$1' AND c.factor = 'card' AND sc.reader LIKE 'Virtual PCD%'"
}

# card_login USER CARD PIN [OPS...]: a login on card-login with CARD alone
# in a reader; prints pam_client's output.
card_login() {
	local user=$1 card=$2 pin=$3
	shift 3
	only_card "$card"
	pam -p "$pin" card-login "$user" "$@"
}

t_piv_rsa_right_pin() {
	local out before
	before=$(linked_sessions taro)
	out=$(card_login taro taro-piv "$PIV_PIN" auth=SUCCESS acct=SUCCESS open=SUCCESS close=SUCCESS)
	echo "$out"
	expect_match "$out" '^info: Insert your card\.$' "insert message"
	expect_match "$out" '^prompt: PIN \(3 tries left\): $' "PIN prompt with the tries"
	# The card signed: a GENERAL AUTHENTICATE with key 9A (chained: CLA 10, then 00).
	[ "$(card_count taro-piv '^[01]087079A')" -ge 1 ] || fail "no GENERAL AUTHENTICATE (RSA) reached the card"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'taro' AND service = 'card-login' AND result = 'success' AND detail LIKE '%\"factors\":[\"card\"]%'")" -ge 1 ] ||
		fail "the audit row does not record the card"
	[ "$(sql "SELECT last_used_at FROM credentials WHERE factor = 'card' AND user_id = (SELECT id FROM users WHERE name = 'taro')")" -gt 0 ] ||
		fail "the use is not recorded"
	expect_eq "$(linked_sessions taro)" "$((before + 1))" "sessions linked to the card"
}

t_piv_p256_right_pin() {
	local out
	out=$(card_login hanako hanako-p256 "$PIV_PIN8" auth=SUCCESS acct=SUCCESS)
	echo "$out"
	expect_match "$out" '^prompt: PIN \(3 tries left\): $' "PIN prompt"
	[ "$(card_count hanako-p256 '^[01]087119A')" -ge 1 ] || fail "no GENERAL AUTHENTICATE (P-256) reached the card"
}

t_jpki_right_pin() {
	local out
	out=$(card_login jiro jiro-jpki "$JPKI_PIN" auth=SUCCESS acct=SUCCESS)
	echo "$out"
	expect_match "$out" '^prompt: PIN \(3 tries left\): $' "PIN prompt"
	# COMPUTE DIGITAL SIGNATURE over the DigestInfo.
	[ "$(card_count jiro-jpki '^802A0080')" -ge 1 ] || fail "no COMPUTE DIGITAL SIGNATURE reached the card"
}

t_wrong_pin_counts_down() {
	local out
	out=$(card_login taro taro-piv 000000 auth=AUTH_ERR)
	echo "$out"
	expect_eq "$(card_tries taro-piv)" 2 "the card's counter"
	out=$(card_login taro taro-piv 999999 auth=AUTH_ERR)
	expect_match "$out" '^prompt: PIN \(2 tries left\): $' "fewer tries shown"
	out=$(card_login taro taro-piv "$PIV_PIN" auth=SUCCESS)
	echo "$out"
	expect_match "$out" '^prompt: PIN \(1 try left; a wrong PIN locks the card\): $' "the last try"
	expect_eq "$(card_tries taro-piv)" 3 "a right PIN resets the card's counter"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'taro' AND service = 'card-login' AND reason = 'wrong card'")" -ge 2 ] ||
		fail "not audited"
}

t_locked_card_never_sent_a_pin() {
	local out
	card_set_tries ume-piv 0
	only_card ume-piv
	card_log_clear ume-piv
	# No PIN is given: none is asked.
	out=$(pam card-login ume auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" '^error: This card is locked: .* Take your card to the counter\.$' "counter message"
	! grep -q '^prompt: ' <<<"$out" || fail "a PIN was asked of a locked card"
	expect_eq "$(card_verify_with_data ume-piv)" 0 "VERIFY commands with a PIN"
	card_set_tries ume-piv 3
}

t_revoked_card_refused() {
	local out
	ctl card revoke ume --reason damaged >/dev/null
	out=$(card_login ume ume-piv "$PIV_PIN" auth=AUTH_ERR)
	echo "$out"
	expect_match "$out" '^prompt: PIN \(3 tries left\): $' "asked as any card"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'ume' AND service = 'card-login' AND result <> 'success' AND category = 'auth'")" -ge 1 ] ||
		fail "not audited"
}

t_card_of_another_refused_with_incident() {
	local out
	: >"$T/incidents"
	# taro's card, presented for jiro, with taro's right PIN.
	out=$(card_login jiro taro-piv "$PIV_PIN" auth=AUTH_ERR)
	echo "$out"
	local i
	for i in $(seq 1 50); do grep -q card_misuse "$T/incidents" 2>/dev/null && break; sleep 0.1; done
	cat "$T/incidents"
	grep -q '"kind": *"card_misuse"' "$T/incidents" || fail "no card_misuse incident"
	grep -q '"bound_to": *"taro"' "$T/incidents" || fail "the incident does not name the card's account"
	grep -q "\"serial\": *\"$(card_serial taro-piv)\"" "$T/incidents" || fail "the incident does not name the card"
	grep -q '"user": *"jiro"' "$T/incidents" || fail "the incident does not name the account tried"
	# and through a service where another set would have done too
	: >"$T/incidents"
	only_card taro-piv
	out=$(pam -e 1 -p "$PIV_PIN" card-or-password nocard auth=AUTH_ERR)
	for i in $(seq 1 50); do grep -q card_misuse "$T/incidents" 2>/dev/null && break; sleep 0.1; done
	grep -q '"bound_to": *"taro"' "$T/incidents" || fail "no incident for an account without a card"
}

t_unknown_and_cardless_see_the_same() {
	local unknown cardless stray
	only_card stray-piv
	card_log_clear stray-piv
	# (an RSA GENERAL AUTHENTICATE is chained: its last part has CLA 00)
	unknown=$(pam -p "$PIV_PIN" card-login nosuchuser auth=AUTH_ERR | sed 's/nosuchuser/U/g')
	echo "$unknown"
	[ "$(card_count stray-piv '^0087079A')" = 1 ] || fail "the card did not do the same work"
	cardless=$(pam -p "$PIV_PIN" card-login nocard auth=AUTH_ERR | sed 's/nocard/U/g')
	expect_eq "$cardless" "$unknown" "an account without a card"
	[ "$(card_count stray-piv '^0087079A')" = 2 ] || fail "the card did not do the same work"
	stray=$(card_login taro stray-piv "$PIV_PIN" auth=AUTH_ERR | sed 's/taro/U/g')
	expect_eq "$stray" "$unknown" "an account with another card"
}

t_no_card_two_readers_wait_ends() {
	local out start end
	no_card
	# Two readers, both empty.
	[ "$(card_reader_present 0)" = No ] && [ "$(card_reader_present 1)" = No ] || fail "a reader is not empty"
	start=$(date +%s%N)
	out=$(pam card-login taro auth=AUTH_ERR)
	end=$(date +%s%N)
	echo "$out"
	expect_match "$out" '^error: No card was inserted in time\.$' "message"
	! grep -q '^prompt: ' <<<"$out" || fail "a PIN was asked without a card"
	[ $(((end - start) / 1000000)) -ge 2900 ] || fail "the wait ended before [card] wait"
	[ $(((end - start) / 1000000)) -lt 10000 ] || fail "the wait lasted $(((end - start) / 1000000)) ms"
}

t_card_alone_meets_mynumber() {
	local out
	# card-login is a service of a My Number system whose only set is
	# "card": the daemon started with it, and a card login succeeds.
	grep -q '^require = card$' "$T/mamori.conf" || fail "no card-only service"
	out=$(card_login hanako hanako-p256 "$PIV_PIN8" auth=SUCCESS acct=SUCCESS)
	echo "$out"
	! grep -q '^prompt: Password' <<<"$out" || fail "a password was asked"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'hanako' AND service = 'card-login' AND result = 'success' AND reason = 'card'")" -ge 1 ] ||
		fail "the set is not audited"
}

# in_japanese COMMAND...: COMMAND with LANG=ja_JP.UTF-8 and no LC_ALL or
# LC_MESSAGES, which would come first.
in_japanese() {
	(
		unset LC_ALL LC_MESSAGES LANGUAGE
		export LANG=ja_JP.UTF-8
		"$@"
	)
}

t_japanese_prompts() {
	local out
	only_card jiro-jpki
	out=$(in_japanese pam -p "$JPKI_PIN" card-login jiro auth=SUCCESS)
	echo "$out"
	expect_match "$out" '^info: カードを挿入してください。$' "Japanese insert message"
	expect_match "$out" '^prompt: 暗証番号（残り 3 回）: $' "Japanese PIN prompt"
	card_set_tries ume-piv 0
	only_card ume-piv
	out=$(in_japanese pam card-login ume auth=AUTH_ERR)
	card_set_tries ume-piv 3
	echo "$out"
	expect_match "$out" '^error: .*カードを窓口にお持ちください。$' "Japanese counter message"
}

# The real sudo: the test account's own card, its PIN typed on stdin.
cat >"$T/sudo.sh" <<'SH'
answers=$1
shift
rc=0
printf '%b' "$answers" | runuser -u mamori-ns -- sudo -S "$@" 2>&1 || rc=$?
echo "rc=$rc"
SH
ns_setup
ns_pam sudo

t_real_sudo_with_card() {
	local out before
	before=$(linked_sessions mamori-ns)
	only_card ns-piv
	out=$(ns_run "$T/sudo.sh" "$PIV_PIN\n" id -un)
	echo "$out"
	expect_match "$out" 'Insert your card\.' "insert message"
	expect_match "$out" 'PIN \(3 tries left\): ' "PIN prompt"
	expect_match "$out" '(^|: )root$' "command ran as root"
	expect_match "$out" 'rc=0' "sudo status"
	# sudo opened its session for root, recorded for mamori-ns, with the card.
	expect_eq "$(linked_sessions mamori-ns)" "$((before + 1))" "sudo's session linked to the card"
	out=$(ns_run "$T/sudo.sh" "000000\n" id -un)
	echo "$out"
	! grep -Eq '(^|: )root$' <<<"$out" || fail "command ran with a wrong PIN"
	expect_eq "$(card_tries ns-piv)" 2 "the card's counter"
}

# A local account of the host named like a mamori account, for a caller
# that is not root.
LOCAL_USER="cardu$$"
useradd -r -M -s /usr/sbin/nologin "$LOCAL_USER"
echo "$LOCAL_USER" >>"$T/cleanup-users"
add_user "$LOCAL_USER" 'Kusa-no-Tsuyu-2030v'
card_start local-piv --profile piv --key rsa2048 --pin "$PIV_PIN" --removed
enrol "$LOCAL_USER" local-piv

t_session_not_linked_for_non_root_caller() {
	local out
	only_card local-piv
	# A non-root caller's OpenSession is as before: authenticated with the
	# card, but not linked.
	out=$(pam -u "$LOCAL_USER" -p "$PIV_PIN" card-login "$LOCAL_USER" auth=SUCCESS open=SUCCESS close=SUCCESS)
	echo "$out"
	expect_eq "$(linked_sessions "$LOCAL_USER")" 0 "sessions linked for a non-root caller"
	[ "$(sql "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.name = '$LOCAL_USER'")" -ge 1 ] ||
		fail "no session recorded"
}

# The conversation's helpers (not the removal watcher's).
login_helpers() { pids_by_cmdline "^$T/mamori-card-helper( |$)" | while read -r p; do
	grep -qa -- --watch "/proc/$p/cmdline" 2>/dev/null || echo "$p"
done | wc -l; }

# abandon_at_prompt: a client that hangs up 1 s after "Insert your card.";
# the helper runs meanwhile (started as the prompt went out), and none is
# left soon after the hang-up, well before [card] wait (3 s) could end it.
abandon_at_prompt() {
	local start out i n
	start='{"method":"io.mamori.Pam.Start","parameters":{"op":"authenticate","service":"card-login","user":"taro"}}'
	$RAW "$T/run/pam.sock" --hold 1 "$start" >"$T/abandon.out" 2>&1 &
	sleep 0.6
	n=$(login_helpers)
	wait $!
	out=$(cat "$T/abandon.out")
	expect_match "$out" 'Insert your card' "the prompt"
	expect_eq "$n" 1 "a helper runs while the prompt is shown"
	for i in $(seq 1 15); do [ "$(login_helpers)" = 0 ] && break; sleep 0.1; done
	expect_eq "$(login_helpers)" 0 "helpers left 1.5 s after the hang-up"
}

t_abandoned_prompt_leaves_no_helper() {
	local out
	no_card
	abandon_at_prompt
	# With the card in its reader: read by the helper, then released, so
	# that the next login has it at once.
	only_card taro-piv
	abandon_at_prompt
	out=$(card_login taro taro-piv "$PIV_PIN" auth=SUCCESS)
	expect_match "$out" '^prompt: PIN \(3 tries left\): $' "the next login reads the card"
	expect_eq "$(login_helpers)" 0 "helpers left after that login"
}

run_test "card: PIV RSA-2048, the right PIN logs in; the session is linked to the card" t_piv_rsa_right_pin
run_test "card: PIV ECC P-256, the right PIN logs in" t_piv_p256_right_pin
run_test "card: JPKI (My Number card), the right PIN logs in" t_jpki_right_pin
run_test "card: a wrong PIN fails, counts down on the card, and the tries are shown" t_wrong_pin_counts_down
run_test "card: a locked card is told to go to the counter and never sent a PIN" t_locked_card_never_sent_a_pin
run_test "P-CARD-LOST card: a revoked card is refused" t_revoked_card_refused
run_test "P-CARD-SHARE card: a card bound to another account is refused and raises card_misuse" \
	t_card_of_another_refused_with_incident
run_test "P-INPUT card: unknown names and names without the card see the same, and the card does the same work" \
	t_unknown_and_cardless_see_the_same
run_test "card: two readers and no card, the wait ends after [card] wait with a failure" \
	t_no_card_two_readers_wait_ends
run_test "P-MFA-MN card: the set card alone meets a My Number service" t_card_alone_meets_mynumber
run_test "card: Japanese prompts under ja_JP.UTF-8" t_japanese_prompts
run_test "card: the real sudo with a card and its PIN; its session is linked to the card" t_real_sudo_with_card
run_test "card: a non-root caller's session is not linked" t_session_not_linked_for_non_root_caller
run_test "card: a conversation abandoned at \"Insert your card.\" leaves no helper running" \
	t_abandoned_prompt_leaves_no_helper
card_cleanup
tap_done
