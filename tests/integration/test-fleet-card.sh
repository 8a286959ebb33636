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
. "$(dirname "$0")/fleet_lib.sh"
. "$(dirname "$0")/card_lib.sh"

require_test_hooks "needs the test clock (certificates made during the run)"
fleet_require
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

trap 'fleet_done; card_stop c1; card_cleanup; cleanup_all' EXIT
fleet_new_a
make_service card-login
card_pki
card_conf "$CARD_PKI"
# A day on: the certificates made during the run are valid then.
set_clock $(($(date +%s) + 86400))
pcscd_start || { echo "Bail out! pcscd did not start"; exit 1; }
fleet_start

fleet_new_b
make_service card-login
card_conf "$CARD_PKI"
fleet_start

t_card_revoked_on_a_ends_session_on_b() {
	local id pid sid ms
	on_a
	add_user fc.alice 'Kado-no-Akari-2031-Yoru'
	card_start c1 --key p256 --pin "$PIN"
	ctl card enroll fc.alice --timeout 5 >/dev/null
	id=$(ctl --json card list fc.alice | json "d['cards'][0]['id']")
	on_b
	pid=$(open_session card-login fc.alice "$PIN" pts/8) || { fail "no card session on B"; return 1; }
	sid=$(session_of "$pid")
	[ -n "$sid" ] || fail "no open session"
	expect_eq "$(sql "SELECT count(*) FROM session_credentials WHERE session_id = $sid AND credential_id = $id")" 1 \
		"the session linked to the card"
	sleep 0.3
	on_a
	START=$(now_ms)
	ctl --json card revoke fc.alice --reason lost >"$A/revoke.out"
	ms=$(wait_gone "$pid" 5000) || return 1
	fleet_time "card revoke on A -> card session on B ended: $ms ms"
	[ "$ms" -le 1000 ] || fail "the session ended after $ms ms (more than 1 s)"
	expect_eq "$(json "(d['revoked'], d['sessions_ended'])" <"$A/revoke.out")" "(1, 0)" "A's reply: no session of A's"
	ended_by_b "$sid" "card revoked" "P-CARD-LOST: card revoked (lost)"
}

run_test "P-CARD-LOST a card revoked on A: the card session on B ends within 1 s, ended and audited by B" \
	t_card_revoked_on_a_ends_session_on_b
show_times
# The leader, the card and pcscd before tap_done, which removes the card's
# directory.
fleet_done
card_stop c1
card_cleanup
tap_done
