#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The IC card inventory end to end (P-CARD-SHARE, P-CARD-LOST): a real
# mamori-authd and its card helper, a real pcscd with vpcd, and the suite's
# virtual card (tests/card/vcard.py) - `mamorictl card enroll` binds the
# card in the reader to one account, `card list` shows the inventory,
# `card revoke` and a user's own `card report-lost` revoke it and end the
# live sessions that used it within a second.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/card_lib.sh"

require "root" test "$(id -u)" = 0
require "sqlite3" command -v sqlite3
card_require
require_test_hooks "needs the test clock (certificates made during the run)"

# card-login: the card alone logs in (a My Number service: possession, and
# the PIN the card checks).
EXTRA_CONF="[system mn]
mynumber = yes

[service card-login]
system = mn
require = card
rhost_empty = local"
new_env
trap 'cards_stop_all; card_cleanup; cleanup_all' EXIT
make_service card-login
# The helper runs as nobody: a copy it can reach whatever the build
# directory's mode.
cp "$top_builddir/authd/card/mamori-card-helper" "$T/mamori-card-helper"
chmod 755 "$T/mamori-card-helper"
card_pki
# The daemon's clock a day on: the certificates made during the run are
# valid then (mkcard dates them from now).
set_clock $(($(date +%s) + 86400))
cat >"$T/hook" <<HOOK
#!/bin/sh
cat >>"$T/incidents"
echo >>"$T/incidents"
HOOK
chmod 700 "$T/hook"
cat >>"$T/mamori.conf" <<CONF

[card]
helper = $T/mamori-card-helper
helper_user = nobody
wait = 5
ca_file = $CARD_PKI/ca.pem
crl_file = $CARD_PKI/crl.pem
check_validity = yes

[incident]
hook = $T/hook
CONF
# The store's refusal hook (tests/integration/test-store-retry.sh): "N"
# refuses the next N commits of requests' transactions that append to the
# audit log, "N text" those whose audit row's reason holds text.
REFUSE=$T/refuse
echo 0 >"$REFUSE"
export MAMORI_TEST_STORE_REFUSE_FILE=$REFUSE
pcscd_start || { echo "Bail out! pcscd did not start"; exit 1; }
start_daemon || { echo "Bail out! the daemon did not start"; exit 1; }

PAM_CLIENT_ENV="$T/pam_client_env"
cat >"$PAM_CLIENT_ENV" <<SH
#!/bin/sh
exec env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" "$PAM_CLIENT" "\$@"
SH
chmod 755 "$PAM_CLIENT_ENV"

# Only one card is in a reader at a time: the one the next enrolment reads.
# Each test runs in a subshell: which card is in, and every card started,
# are kept in files.
card_current() { cat "$T/card-current" 2>/dev/null || true; }
card_use() {
	local cur
	cur=$(card_current)
	if [ -n "$cur" ]; then
		card_remove "$cur" || true
		card_stop "$cur"
	fi
	echo "$1" >>"$T/card-names"
	card_start "$@"
	echo "$1" >"$T/card-current"
}
cards_stop_all() {
	local n
	for n in $(cat "$T/card-names" 2>/dev/null); do card_stop "$n"; done
	rm -f "$T/card-names"
}

card_field() { # card_field NAME ID KEY: a field of card ID in NAME's inventory
	ctl --json card list "$1" | json "[c['$3'] for c in d['cards'] if c['id'] == $2][0]"
}

wait_incident() {
	local kind=$1 i
	for i in $(seq 1 50); do
		grep -q "\"kind\": *\"$kind\"" "$T/incidents" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "no $kind incident reached the hook"
}

PIN=123456

# A live session of USER opened through PAM after a card login (the card in
# the reader, its PIN), with a real leader process; prints the leader's pid.
open_card_session() {
	local user=$1 out=$T/leader-$1-$RANDOM.out i pid
	setsid "$PAM_CLIENT_ENV" -S -p "$PIN" -t pts/8 card-login "$user" auth=SUCCESS open=SUCCESS >"$out" 2>&1 &
	for i in $(seq 1 100); do grep -q READY "$out" && break; sleep 0.1; done
	pid=$(sed -n 's/^READY //p' "$out")
	[ -n "$pid" ] || { cat "$out" >&2; return 1; }
	echo "$pid"
}

# The session of leader PID, which the card login recorded as authenticated
# with card credential ID in the reader: its id.
session_used_card() {
	local pid=$1 cred=$2 sid
	sid=$(sql "SELECT id FROM sessions WHERE leader_pid = $pid AND closed_at IS NULL ORDER BY id DESC LIMIT 1")
	[ -n "$sid" ] || fail "no open session with leader $pid"
	expect_eq "$(sql "SELECT count(*) FROM session_credentials WHERE session_id = $sid AND credential_id = $cred AND reader LIKE 'Virtual PCD%'")" \
		1 "the card login recorded the card for the session"
	echo "$sid"
}

# Whether PID runs (a zombie has ended: nobody here reaps it at once).
running() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "${st%% *}" != Z ]
}

# Milliseconds from START (epoch ms) until PID has ended (fails after 5 s).
ms_until_gone() {
	local pid=$1 start=$2 now
	for _ in $(seq 1 500); do
		running "$pid" || break
		sleep 0.01
	done
	! running "$pid" || { kill "$pid"; fail "leader $pid still running"; }
	now=$(date +%s%3N)
	echo $((now - start))
}

# ------------------------------------------------------------- enrolment

t_enroll_binds_and_lists_issued() {
	local out id
	add_user alice 'Kado-no-Akari-2031-Yoru'
	card_use c1 --key p256
	out=$(ctl card enroll alice --timeout 5)
	echo "$out"
	expect_match "$out" "^card .* bound to alice \(serial $(card_serial c1), state issued\)$" "enroll line"
	id=$(ctl --json card list alice | json "d['cards'][0]['id']")
	expect_eq "$(card_field alice "$id" fingerprint)" "$(card_fingerprint c1)" "fingerprint"
	expect_eq "$(card_field alice "$id" serial)" "$(card_serial c1)" "serial"
	expect_eq "$(card_field alice "$id" label)" "$(card_serial c1)" "label: the serial by default"
	expect_eq "$(card_field alice "$id" state)" issued "state"
	expect_eq "$(card_field alice "$id" key)" p256 "key"
	# The store keeps the DER and the fingerprint as the key id.
	expect_eq "$(sql "SELECT key_id FROM credentials WHERE id = $id")" "$(card_fingerprint c1)" "key_id"
	expect_eq "$(sql "SELECT $(sql_hex public_data) FROM credentials WHERE id = $id")" \
		"$(od -An -tx1 -v "$(card_cert_der c1)" | tr -d ' \n' | tr a-f A-F)" "public data: the DER"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE reason = 'card enroll' AND \"user\" = 'alice' AND result = 'success'")" 1 \
		"audited"
	# A label of one's own.
	card_use c2 --key rsa2048
	ctl --json card enroll alice --label 'desk 3' | json "d['label']" | grep -qx 'desk 3' || fail "label"
	expect_eq "$(ctl --json card list alice | json "len(d['cards'])")" 2 "two cards"
}

t_enroll_jpki_card() {
	add_user erin 'Hana-no-Michi-2031-Haru'
	card_make j1 --key rsa2048 >/dev/null
	card_use j1 --profile jpki --pin 1234
	ctl card enroll erin --timeout 5 --label 'my number' >/dev/null
	expect_eq "$(ctl --json card list erin | json "[(c['state'], c['key'], c['serial']) for c in d['cards']]")" \
		"[('issued', 'rsa2048', '$(card_serial j1)')]" "the JPKI card's certificate"
	expect_eq "$(sql "SELECT $(sql_json detail profile) FROM audit WHERE \"user\" = 'erin' AND reason = 'card enroll'")" \
		jpki "read through the JPKI applet"
	# The enrolment never sent a PIN.
	expect_eq "$(card_verify_with_data j1)" 0 "VERIFY commands with a PIN"
}

t_share_refused_and_audited() {
	local rc=0 out
	add_user bob 'Kawa-no-Nagare-2031-Asa'
	# c2, in the reader, is alice's.
	out=$(ctl card enroll bob --timeout 5 2>&1) || rc=$?
	echo "$out"
	expect_eq "$rc" 1 "exit status"
	expect_match "$out" 'P-CARD-SHARE: this card is bound to another account \(alice\)' "message"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'bob' AND result = 'failure' AND reason LIKE 'P-CARD-SHARE%'")" 1 \
		"audited"
	expect_eq "$(sql "SELECT $(sql_json detail fingerprint) FROM audit WHERE \"user\" = 'bob' AND reason LIKE 'P-CARD-SHARE%'")" \
		"$(card_fingerprint c2)" "the audit row names the card"
	expect_eq "$(ctl --json card list bob | json "len(d['cards'])")" 0 "bob has no card"
	# Its owner cannot bind it twice either.
	rc=0
	out=$(ctl card enroll alice --timeout 5 2>&1) || rc=$?
	expect_eq "$rc" 1 "enrolled twice"
	expect_match "$out" 'already bound to alice' "message"
}

t_certificate_checks_refuse() {
	local rc out
	add_user carol 'Yama-no-Kiri-2031-Hiru'
	card_make_self selfc --key p256
	card_use selfc --key p256 --cert "$(card_cert selfc)" --key-file "$CARD_PKI/selfc.key"
	rc=0
	out=$(ctl card enroll carol --timeout 5 2>&1) || rc=$?
	echo "$out"
	expect_eq "$rc" 1 "self-signed"
	expect_match "$out" "certificate is refused" "self-signed message"
	card_make expc --key p256 --expired >/dev/null
	card_use expc --key p256
	rc=0
	out=$(ctl card enroll carol --timeout 5 2>&1) || rc=$?
	echo "$out"
	expect_eq "$rc" 1 "expired"
	expect_match "$out" "certificate is refused" "expired message"
	card_make crlc --key p256 >/dev/null
	card_revoke_crl crlc >/dev/null
	card_use crlc --key p256
	rc=0
	out=$(ctl card enroll carol --timeout 5 2>&1) || rc=$?
	echo "$out"
	expect_eq "$rc" 1 "on the CRL"
	expect_match "$out" "certificate is refused" "CRL message"
	expect_eq "$(ctl --json card list carol | json "len(d['cards'])")" 0 "nothing bound"
	[ "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'carol' AND result = 'failure' AND reason LIKE '%certificate is refused%'")" -ge 3 ] ||
		fail "refusals audited"
}

t_no_card_in_time() {
	local rc=0 out
	card_remove "$(card_current)"
	out=$(ctl card enroll carol --timeout 1 2>&1) || rc=$?
	expect_eq "$rc" 1 "exit status"
	expect_match "$out" 'no card was inserted in time' "message"
	card_insert "$(card_current)"
}

t_list_json_shapes() {
	local out
	out=$(ctl --json card list)
	echo "$out" | json "sorted(d.keys())" | grep -qx "\['cards'\]" || fail "keys: $out"
	expect_eq "$(echo "$out" | json "sorted(d['cards'][0].keys())")" \
		"['created_at', 'fingerprint', 'id', 'issuer', 'key', 'label', 'last_used_at', 'name', 'not_after', 'not_before', 'reason', 'revoked_at', 'revoked_by', 'serial', 'state', 'subject']" \
		"card keys"
	expect_eq "$(echo "$out" | json "[c['name'] for c in d['cards']]")" "['alice', 'alice', 'erin']" "by name"
	expect_eq "$(echo "$out" | json "[type(c['not_after']).__name__ for c in d['cards']]")" "['int', 'int', 'int']" "times"
	expect_eq "$(echo "$out" | json "[c['last_used_at'] for c in d['cards']]")" "[None, None, None]" "never used"
	# One account's.
	expect_eq "$(ctl --json card list erin | json "[c['name'] for c in d['cards']]")" "['erin']" "one account"
	out=$(ctl card list)
	echo "$out"
	expect_match "$(head -n 1 <<<"$out")" '^ID +NAME +LABEL +STATE +SERIAL +ISSUER +EXPIRES' "table header"
	expect_match "$out" "alice +desk 3 +issued +$(card_serial c2)" "row"
	# Unknown account, bad parameters.
	! ctl card list nobody-here 2>/dev/null || fail "unknown account listed"
}

# ------------------------------------------------------------ revocation

t_revoke_by_name_and_serial_with_reasons() {
	local out id1 id2
	id1=$(ctl --json card list alice | json "[c['id'] for c in d['cards'] if c['serial'] == '$(card_serial c1)'][0]")
	id2=$(ctl --json card list alice | json "[c['id'] for c in d['cards'] if c['serial'] == '$(card_serial c2)'][0]")
	# By serial (colons as openssl may print them): only that card.
	out=$(ctl card revoke "$(card_serial c2 | sed 's/../&:/g; s/:$//')" --reason returned)
	echo "$out"
	expect_match "$out" '^1 card\(s\) of card .* revoked; 0 session\(s\) ended$' "revoke line"
	expect_eq "$(card_field alice "$id2" state)" returned "c2 returned"
	expect_eq "$(card_field alice "$id2" revoked_by)" root "revoked by"
	expect_eq "$(card_field alice "$id1" state)" issued "c1 untouched"
	# P-CARD-LOST: a revocation for another reason than loss is an incident too.
	wait_incident card_revoked
	grep '"card_revoked"' "$T/incidents" | grep -q '"reason": *"returned"' || fail "card_revoked names the reason"
	# A returned card may be issued again, to someone else.
	card_use c2 --key rsa2048
	ctl card enroll bob --timeout 5 >/dev/null
	expect_eq "$(ctl --json card list bob | json "[c['state'] for c in d['cards']]")" "['issued']" "c2 re-issued to bob"
	# By name: every card of the account in use.
	ctl --json card revoke bob --reason damaged | json "(d['revoked'], d['sessions_ended'])" | grep -qx '(1, 0)' ||
		fail "revoke bob"
	expect_eq "$(ctl --json card list bob | json "[c['state'] for c in d['cards']]")" "['damaged']" "damaged"
	[ "$(sql "SELECT count(*) FROM audit WHERE reason = 'P-CARD-LOST: card revoke' AND result = 'success'")" -ge 2 ] ||
		fail "audited"
	# Nothing left to revoke; bad reasons; not both.
	! ctl card revoke bob --reason lost 2>/dev/null || fail "nothing in use"
	! ctl card revoke bob --reason stolen 2>/dev/null || fail "unknown reason"
	! ctl card revoke bob 2>/dev/null || fail "no reason"
}

t_lost_card_ends_live_session_P_CARD_LOST() {
	local id pid sid start ms
	id=$(ctl --json card list alice | json "[c['id'] for c in d['cards'] if c['serial'] == '$(card_serial c1)'][0]")
	expect_eq "$(card_field alice "$id" state)" issued "before its first use"
	card_use c1 --key p256 --pin "$PIN"
	pid=$(open_card_session alice)
	sid=$(session_used_card "$pid" "$id")
	expect_eq "$(card_field alice "$id" state)" active "used to log in"
	[ "$(card_field alice "$id" last_used_at)" != None ] || fail "last use not listed"
	: >"$T/incidents"
	start=$(date +%s%3N)
	ctl --json card revoke alice --reason lost >"$T/revoke.out"
	cat "$T/revoke.out"
	ms=$(ms_until_gone "$pid" "$start")
	echo "leader gone ${ms} ms after the revocation began"
	[ "$ms" -le 1000 ] || fail "the session outlived the revocation by ${ms} ms"
	expect_eq "$(json "(d['revoked'], d['sessions_ended'])" <"$T/revoke.out")" "(1, 1)" "reply"
	expect_eq "$(sql "SELECT end_reason FROM sessions WHERE id = $sid")" "card revoked" "end reason"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'session' AND result = 'ended' AND \"user\" = 'alice' AND reason = 'P-CARD-LOST: card revoked (lost)' AND $(sql_json_int detail session_id) = $sid")" \
		1 "the end audited"
	wait_incident card_lost
	grep '"card_lost"' "$T/incidents" | grep -q '"user": *"alice"' || fail "incident names alice"
	expect_eq "$(card_field alice "$id" state)" lost "lost"
	# The revoked card lets no one in.
	pam -p "$PIN" card-login alice auth=AUTH_ERR >/dev/null
	# A lost card never comes back, to anyone.
	! ctl card enroll carol --timeout 5 2>"$T/err" || fail "lost card re-issued"
	expect_match "$(cat "$T/err")" 'P-CARD-SHARE: this card was reported lost' "message"
}

t_admin_rule_applies_P_PRIV_CONTRACTOR() {
	local rc=0 serial
	add_user pv.admin 'Sora-no-Iro-2031-Kumo' --privileged
	card_make c4 --key p256 >/dev/null
	card_use c4 --key p256
	# No known person (no login uid): not for a privileged ID, and before
	# any card is read.
	ctl_nologin card enroll pv.admin --timeout 5 2>"$T/err" || rc=$?
	expect_eq "$rc" 1 "enroll refused"
	expect_match "$(cat "$T/err")" 'P-PRIV-CONTRACTOR' "message"
	expect_eq "$(card_count c4 '^00A4')" 0 "the card was not even selected"
	ctl card enroll pv.admin --timeout 5 >/dev/null
	serial=$(card_serial c4)
	! ctl_nologin card revoke pv.admin --reason lost 2>"$T/err" || fail "revoke by name"
	expect_match "$(cat "$T/err")" 'P-PRIV-CONTRACTOR' "message"
	! ctl_nologin card revoke "$serial" --reason lost 2>"$T/err" || fail "revoke by serial"
	expect_match "$(cat "$T/err")" 'P-PRIV-CONTRACTOR' "message"
	expect_eq "$(ctl --json card list pv.admin | json "[c['state'] for c in d['cards']]")" "['issued']" "untouched"
}

# card_session_of USER PASSWORD CARD KEY: USER with the card CARD (a KEY
# key) enrolled and a session that used it: the card's credential id, the
# session's leader and its id in CARD_ID, CARD_PID and CARD_SID.
card_session_of() {
	add_user "$1" "$2"
	card_make "$3" --key "$4" >/dev/null
	card_use "$3" --key "$4" --pin "$PIN"
	ctl card enroll "$1" --timeout 5 >/dev/null
	CARD_ID=$(ctl --json card list "$1" | json "d['cards'][0]['id']")
	CARD_PID=$(open_card_session "$1")
	CARD_SID=$(session_used_card "$CARD_PID" "$CARD_ID")
}

t_factor_revoke_of_a_card_ends_its_sessions_P_CARD_LOST() {
	local id pid sid start ms
	card_session_of dave 'Umi-no-Kaze-2031-Fune' c5 rsa2048
	id=$CARD_ID pid=$CARD_PID sid=$CARD_SID
	start=$(date +%s%3N)
	ctl factor revoke dave --factor card --reason 'left the company' >/dev/null
	ms=$(ms_until_gone "$pid" "$start")
	echo "leader gone ${ms} ms after the revocation began"
	[ "$ms" -le 1000 ] || fail "the session outlived the revocation by ${ms} ms"
	expect_eq "$(card_field dave "$id" state)" revoked "revoked for another reason"
	expect_eq "$(card_field dave "$id" reason)" "left the company" "reason"
	expect_eq "$(sql "SELECT end_reason FROM sessions WHERE id = $sid")" "card revoked" "end reason"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'session' AND result = 'ended' AND $(sql_json_int detail session_id) = $sid")" \
		1 "the end audited"
}

# P-CARD-LOST P-AUDIT: the ended session's record (closed, its "ended"
# audit row) is written after the revocation committed and the session
# ended; refused once by the store, as a shared store refuses a
# serialization failure, it alone is written again: the session ended
# once, one audit row, the revocation not run again.
t_revoke_end_record_refused_once_P_CARD_LOST() {
	local id pid sid start ms
	card_session_of frank 'Kumo-no-Ue-2031-Tobu' c6 p256
	id=$CARD_ID pid=$CARD_PID sid=$CARD_SID
	echo "1 card revoked (" >"$REFUSE"
	start=$(date +%s%3N)
	ctl --json card revoke frank --reason damaged >"$T/revoke.out"
	cat "$T/revoke.out"
	ms=$(ms_until_gone "$pid" "$start")
	echo "leader gone ${ms} ms after the revocation began"
	expect_eq "$(cut -d' ' -f1 "$REFUSE")" 0 "the refusal was used"
	grep -q "store: test hook: a commit refused" "$T/daemon.log" || fail "no refusal logged"
	expect_eq "$(json "(d['revoked'], d['sessions_ended'])" <"$T/revoke.out")" "(1, 1)" "reply"
	expect_eq "$(grep -c "sent SIGTERM to leader $pid\$" "$T/daemon.log")" 1 "the leader signalled once"
	expect_eq "$(card_field frank "$id" state)" damaged "revoked as damaged"
	expect_eq "$(sql "SELECT end_reason FROM sessions WHERE id = $sid")" "card revoked" "end reason"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'session' AND $(sql_json_int detail session_id) = $sid AND reason LIKE 'P-CARD-LOST%'")" \
		1 "one audit row of the end"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'session' AND result = 'ended' AND reason = 'P-CARD-LOST: card revoked (damaged)' AND $(sql_json_int detail session_id) = $sid")" \
		1 "the end audited"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'frank' AND reason = 'P-CARD-LOST: card revoke'")" \
		1 "the revocation audited once"
}

# ----------------------------------------------------------- report-lost

LOCAL_USER="mamori-cl$$"
OTHER_USER="mamori-cm$$"

t_report_lost_by_its_owner_P_CARD_LOST() {
	local id pid sid start ms out
	useradd -r -M -N -g nogroup -s /usr/sbin/nologin "$LOCAL_USER"
	echo "$LOCAL_USER" >>"$T/cleanup-users"
	useradd -r -M -N -g nogroup -s /usr/sbin/nologin "$OTHER_USER"
	echo "$OTHER_USER" >>"$T/cleanup-users"
	add_user "$LOCAL_USER" 'Hoshi-no-Kakera-2031-Mado'
	add_user "$OTHER_USER" 'Tsuki-no-Kage-2031-Niwa'
	card_make c3 --key p256 >/dev/null
	card_use c3 --key p256 --pin "$PIN"
	ctl card enroll "$LOCAL_USER" --timeout 5 >/dev/null
	id=$(ctl --json card list "$LOCAL_USER" | json "d['cards'][0]['id']")
	pid=$(open_card_session "$LOCAL_USER")
	sid=$(session_used_card "$pid" "$id")
	# Someone else's report touches nothing of theirs.
	! runuser -u "$OTHER_USER" -- "$RUNAS_CTL" --pam-socket "$T/run/pam.sock" card report-lost 2>"$T/err" ||
		fail "a user without a card reported one"
	expect_match "$(cat "$T/err")" 'you have no card in use' "message"
	expect_eq "$(card_field "$LOCAL_USER" "$id" state)" active "untouched by another's report"
	running "$pid" || fail "session ended by another's report"
	# Root has no name parameter to give: it reports for root, no one else.
	! "$CTL" --pam-socket "$T/run/pam.sock" card report-lost 2>/dev/null || fail "root reported"
	expect_eq "$(card_field "$LOCAL_USER" "$id" state)" active "untouched by root's report"
	# The owner, no admin: revoked as lost, and the session ended.
	: >"$T/incidents"
	start=$(date +%s%3N)
	out=$(runuser -u "$LOCAL_USER" -- "$RUNAS_CTL" --pam-socket "$T/run/pam.sock" card report-lost)
	echo "$out"
	ms=$(ms_until_gone "$pid" "$start")
	echo "leader gone ${ms} ms after the report began"
	[ "$ms" -le 1000 ] || fail "the session outlived the report by ${ms} ms"
	expect_eq "$out" "1 card(s) of yours revoked; 1 session(s) ended" "reply"
	expect_eq "$(card_field "$LOCAL_USER" "$id" state)" lost "lost"
	expect_eq "$(card_field "$LOCAL_USER" "$id" revoked_by)" "$LOCAL_USER" "revoked by its owner"
	expect_eq "$(sql "SELECT end_reason FROM sessions WHERE id = $sid")" "card revoked" "end reason"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'card' AND \"user\" = '$LOCAL_USER' AND result = 'success' AND reason = 'P-CARD-LOST: card reported lost by its owner'")" \
		1 "the report audited"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'session' AND result = 'ended' AND $(sql_json_int detail session_id) = $sid")" \
		1 "the end audited"
	wait_incident card_lost
	# Again: nothing left.
	! runuser -u "$LOCAL_USER" -- "$RUNAS_CTL" --pam-socket "$T/run/pam.sock" card report-lost 2>/dev/null ||
		fail "reported twice"
}

t_report_lost_takes_no_parameter() {
	local out
	out=$(/usr/bin/python3 - "$T/run/pam.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(json.dumps({"method": "io.mamori.Pam.CardReportLost", "parameters": {"user": "alice"}}).encode() + b"\0")
buf = b""
while not buf.endswith(b"\0"):
    chunk = s.recv(4096)
    if not chunk:
        break
    buf += chunk
print(buf.rstrip(b"\0").decode())
PY
)
	echo "$out"
	expect_match "$out" '"error": *"org.varlink.service.InvalidParameter"' "refused"
	expect_match "$out" '"parameter": *"user"' "names the parameter"
}

# P-CARD-SHARE, P-AUDIT: what follows the reading of the card, refused once
# by the store, is run again by the daemon without waiting for the card
# again: a binding and a refusal (another account's card) each end with
# one audit row.
t_enroll_refused_once_run_again() {
	local rc=0 out
	add_user hana 'Umi-no-Kaze-2031-Yuu'
	add_user ichiro 'Sora-no-Hoshi-2031-Yoi'
	# A card of hana's own: its binding refused once.
	card_use r1 --key p256
	echo 1 >"$REFUSE"
	out=$(ctl card enroll hana --timeout 5 2>&1) || fail "card enroll: $out"
	echo "$out"
	expect_eq "$(cat "$REFUSE")" 0 "the refusal was used"
	expect_match "$out" "^card .* bound to hana \(serial $(card_serial r1), state issued\)$" "enroll line"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'hana' AND reason = 'card enroll'")" 1 \
		"one audit row of the binding"
	expect_eq "$(ctl --json card list hana | json "len(d['cards'])")" 1 "one card"
	# The same card for ichiro: the refusal's row refused once.
	echo "1 P-CARD-SHARE" >"$REFUSE"
	out=$(ctl card enroll ichiro --timeout 5 2>&1) || rc=$?
	echo "$out"
	expect_eq "$(cat "$REFUSE")" "0 P-CARD-SHARE" "the refusal was used"
	expect_eq "$rc" 1 "exit status"
	expect_match "$out" 'P-CARD-SHARE: this card is bound to another account \(hana\)' "message"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE \"user\" = 'ichiro' AND reason LIKE 'P-CARD-SHARE%'")" 1 \
		"one audit row of the refusal"
	expect_eq "$(grep -c "CardEnroll: a step refused by the store, run again" "$T/daemon.log")" 2 \
		"run again twice, by the daemon"
	expect_eq "$(grep -c 'admin: io.mamori.Admin.CardEnroll refused by the store, run again' "$T/daemon.log")" 0 \
		"the call not run again whole"
}

run_test "P-CARD-SHARE card enroll binds the card in the reader to one account, listed as issued" \
	t_enroll_binds_and_lists_issued
run_test "P-CARD-SHARE a card bound to another account is refused and audited" t_share_refused_and_audited
run_test "P-CARD-SHARE card enroll reads a My Number card (JPKI) too, without a PIN" t_enroll_jpki_card
run_test "P-CARD-SHARE the CA, CRL and validity checks refuse a bad certificate" t_certificate_checks_refuse
run_test "card enroll with no card in time says so" t_no_card_in_time
run_test "card list --json: the inventory's shape; the table" t_list_json_shapes
run_test "P-CARD-LOST card revoke by serial and by name, with its reason; a returned card is issued again" \
	t_revoke_by_name_and_serial_with_reasons
run_test "P-PRIV-CONTRACTOR card enroll and card revoke follow the admin rule" t_admin_rule_applies_P_PRIV_CONTRACTOR
run_test "P-CARD-LOST a card login makes the card active; its live session ends within 1 s of card revoke --reason lost, audited, card_lost raised; the card is refused after" \
	t_lost_card_ends_live_session_P_CARD_LOST
run_test "P-CARD-LOST factor revoke --factor card ends the card's sessions too" \
	t_factor_revoke_of_a_card_ends_its_sessions_P_CARD_LOST
run_test "P-CARD-LOST P-AUDIT card revoke: the ended session's record refused once by the store is written again, one audit row" \
	t_revoke_end_record_refused_once_P_CARD_LOST
run_test "P-CARD-LOST card report-lost: by its owner without admin, never another's; the session ends within 1 s" \
	t_report_lost_by_its_owner_P_CARD_LOST
run_test "P-CARD-LOST CardReportLost takes no parameter (the account is the caller's uid)" \
	t_report_lost_takes_no_parameter

run_test "P-CARD-SHARE P-AUDIT card enroll refused once by the store after the card's reading: run again, one audit row" \
	t_enroll_refused_once_run_again

cards_stop_all
card_cleanup
tap_done
