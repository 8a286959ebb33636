#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The fleet sweep and a lost IC card (issue #14, P-CARD-LOST): daemons A and
# B (nodes term-a, term-b) share one PostgreSQL database and its keys, and
# one pcscd with the suite's virtual card.  A card login through B's PAM
# stack opens a session linked to the card (session_credentials); `card
# revoke` on A ends it within 1 s: A has no session of its own to end (its
# reply says 0), B's sweep ends it, records "card revoked" and audits it
# once.  PostgreSQL only: `make check-postgresql` runs it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/card_lib.sh"

require "root" test "$(id -u)" = 0
require_test_hooks "needs the test clock (certificates made during the run)"
if ! on_postgresql; then
	echo "1..0 # SKIP two daemons share a store on PostgreSQL only (make check-postgresql)"
	exit 0
fi
card_require

PIN=123456
EXTRA_CONF="[system mn]
mynumber = yes

[service card-login]
system = mn
require = card
rhost_empty = local"

# card_conf PKI: the [card] section of $T, its own copy of the helper.
card_conf() {
	cp "$top_builddir/authd/card/mamori-card-helper" "$T/mamori-card-helper"
	chmod 755 "$T/mamori-card-helper"
	cat >>"$T/mamori.conf" <<CONF

[card]
helper = $T/mamori-card-helper
helper_user = nobody
wait = 5
ca_file = $1/ca.pem
crl_file = $1/crl.pem
check_validity = yes
CONF
}

new_env
A=$T
# A leader a failed test left running is ended too (only while that pid
# still runs this script's pam_client -S).
end_leader() {
	local p
	p=$(cat "$A/leader.pid" 2>/dev/null) || return 0
	tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q '/mamori-test\.[^/]*/pam_client -S ' || return 0
	kill -TERM "$p" 2>/dev/null || true # (it may have ended meanwhile)
}
trap 'end_leader; card_stop c1; card_cleanup; cleanup_all' EXIT
sed -i "/^\[store\]$/a node = term-a" "$T/mamori.conf"
make_service card-login
card_pki
card_conf "$CARD_PKI"
# A day on: the certificates made during the run are valid then.
set_clock $(($(date +%s) + 86400))
pcscd_start || { echo "Bail out! pcscd did not start"; exit 1; }
start_daemon || { echo "Bail out! daemon A did not start"; exit 1; }

MAMORI_TEST_SHARE_DB=$(cat "$A/pgdb") new_env
B=$T
sed -i "/^\[store\]$/a node = term-b" "$T/mamori.conf"
make_service card-login
card_conf "$CARD_PKI"
mkdir -p "$B/state"
chmod 700 "$B/state"
cp -p "$A/state/store.key" "$A/state/audit.key" "$B/state/"
cp -p "$A/clock" "$B/clock"
start_daemon || { echo "Bail out! daemon B did not start"; exit 1; }

running() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "${st%% *}" != Z ]
}

t_card_revoked_on_a_ends_session_on_b() {
	local id pid sid start ms out i
	use_env "$A"
	add_user fc.alice 'Kado-no-Akari-2031-Yoru'
	card_start c1 --key p256 --pin "$PIN"
	ctl card enroll fc.alice --timeout 5 >/dev/null
	id=$(ctl --json card list fc.alice | json "d['cards'][0]['id']")
	use_env "$B"
	out=$T/leader.out
	cat >"$T/pam_client_env" <<SH
#!/bin/sh
exec env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" "$PAM_CLIENT" "\$@"
SH
	chmod 755 "$T/pam_client_env"
	setsid "$T/pam_client_env" -S -p "$PIN" -t pts/8 card-login fc.alice auth=SUCCESS open=SUCCESS >"$out" 2>&1 &
	for i in $(seq 1 100); do grep -q READY "$out" && break; sleep 0.1; done
	pid=$(sed -n 's/^READY //p' "$out")
	[ -n "$pid" ] || { cat "$out"; fail "no card session on B"; return 1; }
	echo "$pid" >"$A/leader.pid"
	sid=$(sql "SELECT id FROM sessions WHERE leader_pid = $pid AND closed_at IS NULL ORDER BY id DESC LIMIT 1")
	[ -n "$sid" ] || fail "no open session"
	expect_eq "$(sql "SELECT node FROM sessions WHERE id = $sid")" term-b "the session's node"
	expect_eq "$(sql "SELECT count(*) FROM session_credentials WHERE session_id = $sid AND credential_id = $id")" 1 \
		"the session linked to the card"
	sleep 0.3
	use_env "$A"
	start=$(date +%s%3N)
	ctl --json card revoke fc.alice --reason lost >"$A/revoke.out"
	while running "$pid" && [ $(($(date +%s%3N) - start)) -lt 5000 ]; do sleep 0.01; done
	ms=$(($(date +%s%3N) - start))
	if running "$pid"; then
		kill "$pid"
		fail "the session on B still runs after 5 s"
		return 1
	fi
	echo "card revoke on A -> card session on B ended: $ms ms" >>"$A/times"
	[ "$ms" -le 1000 ] || fail "the session ended after $ms ms (more than 1 s)"
	expect_eq "$(json "(d['revoked'], d['sessions_ended'])" <"$A/revoke.out")" "(1, 0)" "A's reply: no session of A's"
	for _ in $(seq 1 50); do
		[ -n "$(sql "SELECT closed_at FROM sessions WHERE id = $sid")" ] && break
		sleep 0.1
	done
	expect_eq "$(sql "SELECT end_reason FROM sessions WHERE id = $sid")" "card revoked" "end reason"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'session' AND result = 'ended'
		AND reason = 'P-CARD-LOST: card revoked (lost)' AND $(sql_json_int detail session_id) = $sid")" 1 \
		"audit rows of the end"
	grep -q "fleet sweep: session $sid of " "$B/daemon.log" || fail "B's log does not say its sweep ended $sid"
	! grep -q "session $sid of " "$A/daemon.log" || fail "A's log names session $sid"
}

run_test "P-CARD-LOST a card revoked on A: the card session on B ends within 1 s, ended and audited by B" \
	t_card_revoked_on_a_ends_session_on_b
sed 's/^/# /' "$A/times" 2>/dev/null || true
# The card and pcscd before tap_done, which removes the card's directory.
end_leader
card_stop c1
card_cleanup
tap_done
