#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# P-LOGIN-UI: the daemon answers each caller in the caller's locale (Japanese
# for ja_JP.*, English otherwise) through the real module and real PAM
# stacks, every prompt stays one line, and po/ja.po covers every message.
# The daemon reads the catalogue the build made (po/ja.gmo) from a test
# directory named by MAMORI_TEST_LOCALEDIR (test-hook builds only).
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "pam_wrapper" test -n "$PAM_WRAPPER_LIB"
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "pam_mamori.so" test -f "$BUILT_MODULE"
require "pamtester" command -v pamtester
require "msgfmt" command -v msgfmt
# The daemon finds the catalogue the build made through MAMORI_TEST_LOCALEDIR,
# a test hook.
require_test_hooks "needs MAMORI_TEST_LOCALEDIR"
require "xgettext" command -v xgettext
require "locale ja_JP.UTF-8 (./quickstart deps generates it)" sh -c "locale -a | grep -qix 'ja_JP.utf-\\?8'"
require "cracklib dictionary" test -e /var/cache/cracklib/cracklib_dict.pwd

JA_PROMPT='パスワード: '
EN_PROMPT='Password: '

# Passwords change several times a day here, and the lockout test makes
# more attempts a minute than the default rate limit allows.
EXTRA_CONF=$'[policy staff]\nmin_age_days = 0\n\n[daemon]\nrate_limit = 1000'
new_env

# The Japanese catalogue, as `make install` would place it.
mkdir -p "$T/locale/ja/LC_MESSAGES"
CATALOGUE=""
for gmo in "$top_builddir/po/ja.gmo" "$top_srcdir/po/ja.gmo"; do
	if [ -f "$gmo" ] && ! [ "$top_srcdir/po/ja.po" -nt "$gmo" ]; then
		CATALOGUE=$gmo
		break
	fi
done
if [ -n "$CATALOGUE" ]; then
	cp "$CATALOGUE" "$T/locale/ja/LC_MESSAGES/mamori.mo"
else
	msgfmt --check -o "$T/locale/ja/LC_MESSAGES/mamori.mo" "$top_srcdir/po/ja.po" ||
		{ echo "Bail out! po/ja.po does not compile"; exit 1; }
fi
chmod -R a+rX "$T/locale"

# The daemon's own locale must not matter: it answers in the caller's.
export MAMORI_TEST_LOCALEDIR="$T/locale"
LANG=C LC_ALL=C start_daemon || { echo "Bail out! daemon did not start"; cat "$T/daemon.log"; exit 1; }
add_user alice 'Correct-Horse-42'

# in_locale LOCALE COMMAND...: COMMAND with LANG=LOCALE and no LC_ALL or
# LC_MESSAGES, which would come first.  LOCALE "-" leaves LANG unset too.
in_locale() {
	local loc=$1
	shift
	(
		unset LC_ALL LC_MESSAGES LANG LANGUAGE
		[ "$loc" = - ] || export LANG="$loc"
		"$@"
	)
}

# Every line pam_client prints is one of its own: a prompt or message that
# held a newline would leave a line without its prefix.
expect_one_line_each() {
	local out=$1 bad
	# (grep finding no line, status 1, is the good case)
	bad=$(printf '%s\n' "$out" | grep -Ev '^(prompt|prompt-echo|info|error): |^op [0-9]+: |^$' || true)
	[ -z "$bad" ] || fail "lines not from pam_client (a text with a newline?): $bad"
	bad=$(printf '%s\n' "$out" | grep -E '^prompt(-echo)?: ' | grep -Ev ': $' || true)
	[ -z "$bad" ] || fail "prompts not ending in ': ': $bad"
}

# ---------------------------------------------------------------- prompts

t_ja_password_prompt() {
	local out
	out=$(in_locale ja_JP.UTF-8 pam -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS acct=SUCCESS)
	echo "$out"
	grep -qxF "prompt: $JA_PROMPT" <<<"$out" || fail "no Japanese password prompt"
	! grep -qF "$EN_PROMPT" <<<"$out" || fail "English prompt shown to a Japanese caller"
	expect_one_line_each "$out"
}

t_en_password_prompt() {
	local out loc
	for loc in en_US.UTF-8 C -; do
		out=$(in_locale "$loc" pam -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS)
		echo "[$loc] $out"
		grep -qxF "prompt: $EN_PROMPT" <<<"$out" || fail "no English prompt for LANG=$loc"
		expect_one_line_each "$out"
	done
}

t_other_japanese_spellings() {
	local out loc
	for loc in ja_JP.utf8 ja_JP ja; do
		out=$(in_locale "$loc" pam -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS)
		echo "[$loc] $out"
		grep -qxF "prompt: $JA_PROMPT" <<<"$out" || fail "no Japanese prompt for LANG=$loc"
	done
}

# The module takes LC_ALL, then LC_MESSAGES, then LANG, as POSIX does.
t_lc_all_and_lc_messages_come_first() {
	local out
	out=$(in_locale C env LC_ALL=ja_JP.UTF-8 LC_MESSAGES=C \
		"$SHELL_PAM" -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS)
	grep -qxF "prompt: $JA_PROMPT" <<<"$out" || fail "LC_ALL=ja_JP.UTF-8 LANG=C: $out"
	out=$(in_locale ja_JP.UTF-8 env LC_MESSAGES=C "$SHELL_PAM" -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS)
	grep -qxF "prompt: $EN_PROMPT" <<<"$out" || fail "LC_MESSAGES=C LANG=ja_JP.UTF-8: $out"
}

t_ja_password_change_prompts_and_reasons() {
	local out
	add_user chika 'Sakura-no-Hana-2030'
	# Too short: the reason carries the policy's number.
	out=$(in_locale ja_JP.UTF-8 pam -p 'Sakura-no-Hana-2030' -p 'Mijikai-1' -p 'Mijikai-1' mamori-test chika \
		chauthtok=AUTHTOK_ERR)
	echo "$out"
	grep -qxF 'prompt: 現在のパスワード: ' <<<"$out" || fail "current password prompt"
	grep -qxF 'prompt: 新しいパスワード: ' <<<"$out" || fail "new password prompt"
	grep -qxF 'error: パスワードは 12 文字以上にしてください。' <<<"$out" || fail "length reason"
	expect_one_line_each "$out"
	# A cracklib verdict, translated from libpwquality's English.
	out=$(in_locale ja_JP.UTF-8 pam -p 'Sakura-no-Hana-2030' -p 'abcdefghijklmnop' -p 'abcdefghijklmnop' \
		mamori-test chika chauthtok=AUTHTOK_ERR)
	echo "$out"
	grep -qxF 'error: パスワードが単純または規則的すぎるため、辞書検査に合格しませんでした。' <<<"$out" ||
		fail "dictionary reason"
	# Mismatch, then a good change.
	out=$(in_locale ja_JP.UTF-8 pam -p 'Sakura-no-Hana-2030' -p 'Momiji-no-Aki-2031' -p 'Momiji-no-Aki-2032' \
		mamori-test chika chauthtok=AUTHTOK_ERR)
	echo "$out"
	grep -qxF 'prompt: 新しいパスワード（確認）: ' <<<"$out" || fail "retype prompt"
	grep -qxF 'error: 入力された 2 つのパスワードが一致しません。' <<<"$out" || fail "mismatch message"
	out=$(in_locale ja_JP.UTF-8 pam -p 'Sakura-no-Hana-2030' -p 'Momiji-no-Aki-2031' -p 'Momiji-no-Aki-2031' \
		mamori-test chika chauthtok=SUCCESS)
	echo "$out"
	grep -qxF 'info: パスワードを変更しました。' <<<"$out" || fail "changed message"
	expect_one_line_each "$out"
	# The same refusal in English.
	out=$(in_locale en_US.UTF-8 pam -p 'Momiji-no-Aki-2031' -p 'Mijikai-1' -p 'Mijikai-1' mamori-test chika \
		chauthtok=AUTHTOK_ERR)
	echo "$out"
	grep -qxF 'error: The password must have at least 12 characters.' <<<"$out" || fail "English reason"
}

# ---------------------------------------------------------------- refusals

# P-PW-STRENGTH: a new password too long to send, and zxcvbn's reason, in
# Japanese (the too-long case used to end with a bare PAM_AUTHTOK_ERR).
t_ja_too_long_and_too_easy() {
	local out huge
	add_user kaede 'Momiji-no-Aki-2033'
	huge=$(printf 'Kawa%03d-' $(seq 1 520))
	out=$(in_locale ja_JP.UTF-8 pam -p 'Momiji-no-Aki-2033' -p "$huge" -p "$huge" mamori-test kaede \
		chauthtok=AUTHTOK_ERR)
	echo "$out" | cut -c1-200
	grep -qxF 'error: 新しいパスワードが長すぎます。' <<<"$out" || fail "too long"
	expect_one_line_each "$out"
	out=$(in_locale ja_JP.UTF-8 pam -p 'Momiji-no-Aki-2033' -p 'Monkey-Dragon-1' -p 'Monkey-Dragon-1' \
		mamori-test kaede chauthtok=AUTHTOK_ERR)
	echo "$out"
	printf '%s\n' "$out" |
		grep -qxF 'error: パスワードが推測されやすすぎます。関連のない単語を並べた長いフレーズをおすすめします。' ||
		fail "too easy to guess"
	out=$(in_locale en_US.UTF-8 pam -p 'Momiji-no-Aki-2033' -p "$huge" -p "$huge" mamori-test kaede \
		chauthtok=AUTHTOK_ERR)
	grep -qxF 'error: The new password is too long.' <<<"$out" || fail "too long in English"
}

t_ja_lockout_message() {
	local out i
	add_user hiro 'Yuki-no-Yoru-2030'
	for i in 1 2 3 4; do in_locale ja_JP.UTF-8 pam -p 'wrong' mamori-test hiro auth=AUTH_ERR >/dev/null; done
	out=$(in_locale ja_JP.UTF-8 pam -p 'wrong' mamori-test hiro auth=MAXTRIES)
	echo "$out"
	expect_match "$out" \
		'error: ログインの失敗が続いたため、このアカウントはロックされています。後で再試行するか、管理者に解除を依頼してください。' \
		"Japanese lock message"
	expect_one_line_each "$out"
	out=$(in_locale en_US.UTF-8 pam -p 'Yuki-no-Yoru-2030' mamori-test hiro auth=MAXTRIES)
	echo "$out"
	expect_match "$out" 'error: This account is locked after too many failed attempts\. Try again later' \
		"English lock message"
	out=$(in_locale C pam -p 'Yuki-no-Yoru-2030' mamori-test hiro auth=MAXTRIES)
	expect_match "$out" 'error: This account is locked after too many failed attempts' "C lock message"
	ctl user unlock hiro >/dev/null
}

t_ja_account_expired_message() {
	local out
	set_clock "$(date -d '2030-01-20 12:00' +%s)"
	add_user daichi 'Ajisai-no-Ame-22' --expires 2030-01-31
	set_clock "$(date -d '2030-02-01 00:00:01' +%s)"
	# The authentication itself refuses it, with the same message.
	out=$(in_locale ja_JP.UTF-8 pam -p 'Ajisai-no-Ame-22' mamori-test daichi auth=AUTH_ERR)
	grep -qxF 'error: このアカウントは有効期限が切れています。管理者に連絡してください。' <<<"$out" ||
		fail "Japanese expiry message at authentication"
	out=$(in_locale ja_JP.UTF-8 pam mamori-test daichi acct=ACCT_EXPIRED)
	echo "$out"
	grep -qxF 'error: このアカウントは有効期限が切れています。管理者に連絡してください。' <<<"$out" ||
		fail "Japanese expiry message"
	expect_one_line_each "$out"
	out=$(in_locale en_US.UTF-8 pam mamori-test daichi acct=ACCT_EXPIRED)
	echo "$out"
	grep -qxF 'error: This account has expired. Contact your administrator.' <<<"$out" ||
		fail "English expiry message"
	out=$(in_locale C pam mamori-test daichi acct=ACCT_EXPIRED)
	grep -qxF 'error: This account has expired. Contact your administrator.' <<<"$out" ||
		fail "C expiry message"
	set_clock "$(date +%s)"
}

t_ja_temporary_password_and_session_notices() {
	local out temp
	ctl user add emi >/dev/null
	temp=$(ctl password temp emi | tail -n 1)
	out=$(in_locale ja_JP.UTF-8 pam -p "$temp" -p 'Kaede-no-Aki-2030' -p 'Kaede-no-Aki-2030' mamori-test emi \
		auth=SUCCESS acct=NEW_AUTHTOK_REQD chauthtok=SUCCESS)
	echo "$out"
	grep -qF '仮パスワードを今すぐ変更してください。' <<<"$out" || fail "forced change message"
	out=$(in_locale ja_JP.UTF-8 pam -p 'Kaede-no-Aki-2030' mamori-test emi auth=SUCCESS acct=SUCCESS open=SUCCESS \
		close=SUCCESS)
	echo "$out"
	expect_match "$out" 'info: (前回のログイン: |このアカウントでの初めてのログインです。)' "session notice"
	! grep -q '^info: Last login' <<<"$out" || fail "English notice to a Japanese caller"
	expect_one_line_each "$out"
}

# ---------------------------------------------------------------- scripts

# Scripts answer prompts on stdin, like sudo -S: the prompt is one line and
# the answer the next line, whatever the language.
t_scripted_answers_in_japanese() {
	local out
	out=$(printf 'Correct-Horse-42\n' | in_locale ja_JP.UTF-8 pamtester_run mamori-test alice authenticate 2>&1)
	echo "$out"
	expect_eq "$(printf '%s\n' "$out" | head -n 1)" "${JA_PROMPT}pamtester: successfully authenticated" \
		"pamtester transcript"
}

# Real sudo -S in a private mount namespace whose /etc/pam.d/sudo uses the
# built module; the host's files are never touched.
t_sudo_stdin_in_japanese() {
	require_sudo || return 0
	add_user nobody 'Kinmokusei-33x'
	mkdir -p "$T/etc/pam.d"
	cp -a /etc/pam.d/. "$T/etc/pam.d/"
	# NS_MODULE: without sanitizers in the sanitizer pass; setuid sudo ignores LD_PRELOAD (lib.sh).
	cat >"$T/etc/pam.d/sudo" <<SVC
auth     required $NS_MODULE socket=$T/run/pam.sock
account  required $NS_MODULE socket=$T/run/pam.sock
session  required $NS_MODULE socket=$T/run/pam.sock
SVC
	printf 'Defaults !fqdn, !lecture, passwd_tries=1, timestamp_timeout=0\nnobody ALL=(root) /usr/bin/id\n' \
		>"$T/etc/sudoers"
	chmod 440 "$T/etc/sudoers"
	cat >"$T/inner.sh" <<IN
mount --bind "$T/etc/pam.d" /etc/pam.d
mount --bind "$T/etc/sudoers" /etc/sudoers
rc=0
printf '%s\n' "\$1" | runuser -u nobody -- env -u LC_ALL -u LC_MESSAGES -u LANGUAGE LANG=ja_JP.UTF-8 \
	sudo -S -k /usr/bin/id -un 2>&1 || rc=\$?
echo
echo "rc=\$rc"
IN
	local out
	out=$(unshare -m --propagation private bash "$T/inner.sh" 'Kinmokusei-33x' 2>&1)
	echo "$out"
	# sudo shows the module's prompt (it puts its own only in place of a
	# plain "Password: "), without a newline, then id's output.
	expect_match "$out" "^${JA_PROMPT}root\$" "sudo transcript"
	expect_match "$out" 'rc=0' "sudo status"
	out=$(unshare -m --propagation private bash "$T/inner.sh" 'wrong' 2>&1)
	echo "$out"
	expect_match "$out" 'rc=1' "sudo status with a wrong password"
	! grep -q pam_mamori /etc/pam.d/sudo || fail "host /etc/pam.d/sudo changed"
}

require_sudo() {
	[ -u "$(command -v sudo 2>/dev/null)" ] && command -v unshare >/dev/null && return 0
	[ -n "${MAMORI_ALLOW_SKIP:-}" ] && { echo "no sudo or unshare: skipped"; return 1; }
	fail "sudo (setuid) and unshare are needed"
}

# ---------------------------------------------------------------- threads

# Callers in both languages at once: each gets its own, so the daemon keeps
# no language in shared state.
t_concurrent_callers_keep_their_language() {
	local i pids="" dir="$T/concurrent"
	mkdir -p "$dir"
	for i in $(seq 1 12); do
		if [ $((i % 2)) -eq 0 ]; then
			(in_locale ja_JP.UTF-8 pam -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS >"$dir/ja.$i" 2>&1) &
		else
			(in_locale en_US.UTF-8 pam -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS >"$dir/en.$i" 2>&1) &
		fi
		pids="$pids $!"
	done
	for i in $pids; do wait "$i" || fail "a concurrent login failed"; done
	for i in "$dir"/ja.*; do
		grep -qxF "prompt: $JA_PROMPT" "$i" || fail "$(basename "$i"): $(cat "$i")"
	done
	for i in "$dir"/en.*; do
		grep -qxF "prompt: $EN_PROMPT" "$i" || fail "$(basename "$i"): $(cat "$i")"
	done
}

# glibc's gettext lets LANGUAGE override the locale it is given; the daemon
# drops it at start (mamori_messages_init), or a daemon started with
# LANGUAGE=en would answer Japanese callers in English.
t_daemon_language_variable_ignored() {
	local out
	stop_daemon
	LANG=C LC_ALL=C LANGUAGE=en start_daemon
	out=$(in_locale ja_JP.UTF-8 pam -p 'Correct-Horse-42' mamori-test alice auth=SUCCESS)
	echo "$out"
	stop_daemon
	LANG=C LC_ALL=C start_daemon
	grep -qxF "prompt: $JA_PROMPT" <<<"$out" || fail "LANGUAGE=en in the daemon's environment won"
}

# ---------------------------------------------------------------- catalogue

# Every marked string of the sources is translated in po/ja.po, on one line,
# and fits the daemon's 256-byte message buffers with room for arguments.
t_catalogue_complete() {
	local pot stats bad
	pot="$T/mamori.pot"
	# shellcheck disable=SC2046 # one file name a word
	(cd "$top_srcdir" && xgettext $(sed -n 's/^XGETTEXT_OPTIONS *= *//p' po/Makevars) -o "$pot" \
		$(grep -v '^#' po/POTFILES.in))
	stats=$(msgmerge -q -o - "$top_srcdir/po/ja.po" "$pot" | msgfmt --check --statistics -o /dev/null - 2>&1)
	echo "sources against po/ja.po: $stats"
	expect_match "$stats" '^[0-9]+ translated messages\.$' "msgfmt statistics"
	stats=$(msgfmt --check --statistics -o /dev/null "$top_srcdir/po/ja.po" 2>&1)
	echo "po/ja.po: $stats"
	expect_match "$stats" '^[0-9]+ translated messages\.$' "msgfmt statistics"
	bad=$(msgcat --no-wrap "$top_srcdir/po/ja.po" | grep -E '^msgstr "' | sed 1d |
		LC_ALL=C awk '{ s = $0; sub(/^msgstr "/, "", s); sub(/"$/, "", s); if (s ~ /\\n/ || length(s) > 200) print }')
	[ -z "$bad" ] || fail "translations with a newline or longer than 200 bytes: $bad"
}

# pam as a command, for env(1).
SHELL_PAM="$T/pam-under-wrapper"
cat >"$SHELL_PAM" <<SH
#!/bin/sh
LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" exec "$PAM_CLIENT" "\$@"
SH
chmod 755 "$SHELL_PAM"

run_test "P-LOGIN-UI LANG=ja_JP.UTF-8: the password prompt is Japanese" t_ja_password_prompt
run_test "P-LOGIN-UI LANG=en_US.UTF-8, LANG=C and no LANG: the prompt is English" t_en_password_prompt
run_test "P-LOGIN-UI ja_JP.utf8, ja_JP and ja are Japanese too" t_other_japanese_spellings
run_test "P-LOGIN-UI LC_ALL and LC_MESSAGES come before LANG" t_lc_all_and_lc_messages_come_first
run_test "P-LOGIN-UI password change prompts and refusal reasons in Japanese" t_ja_password_change_prompts_and_reasons
run_test "P-PW-STRENGTH P-LOGIN-UI a password too long, or too easy to guess, is told in Japanese" t_ja_too_long_and_too_easy
run_test "P-LOGIN-UI the lockout message in Japanese, English for en_US and C" t_ja_lockout_message
run_test "P-LOGIN-UI the account-expired message in Japanese, English for en_US and C" t_ja_account_expired_message
run_test "P-LOGIN-UI forced change and session notices in Japanese" t_ja_temporary_password_and_session_notices
run_test "P-LOGIN-UI a script answering on stdin works with the Japanese prompt" t_scripted_answers_in_japanese
run_test "P-LOGIN-UI real sudo -S with LANG=ja_JP.UTF-8" t_sudo_stdin_in_japanese
run_test "P-LOGIN-UI concurrent Japanese and English callers each get their own language" \
	t_concurrent_callers_keep_their_language
run_test "P-LOGIN-UI the daemon's LANGUAGE does not override the caller's language" \
	t_daemon_language_variable_ignored
run_test "P-LOGIN-UI po/ja.po translates every message, one line each" t_catalogue_complete
tap_done
