#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# mamorictl store migrate --to postgresql (issue #14): terminals' SQLite
# stores, made by the real daemon, moved into the central PostgreSQL store
# (this pass's database), then a daemon on the central store serves their
# accounts.  The central store has keys of its own (store.key, audit.key),
# so every secret is re-sealed.  PostgreSQL only: `make check-postgresql`.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "python3" test -x /usr/bin/python3
require "oathtool" command -v oathtool
require "sqlite3" command -v sqlite3
require_test_hooks "needs the test clock"
if ! on_postgresql; then
	echo "1..0 # SKIP the move to a central store is tested on PostgreSQL only (make check-postgresql)"
	exit 0
fi

START=$(date -d '2030-02-04 10:00:00' +%s)

EXTRA_CONF=$MN_LOGIN_CONF

totp_code() { oathtool --totp -b "$1" --now "@$(cat "$T/clock")"; }

# terminal NODE: a terminal's environment on the SQLite store, node NODE,
# its daemon started.
terminal() {
	MAMORI_TEST_BACKEND=sqlite new_env
	sed -i "s/^\[store\]\$/[store]\nnode = $1/" "$T/mamori.conf"
	make_service mn-login
	echo "$START" >"$T/clock"
	start_daemon || { echo "Bail out! the daemon of terminal $1 did not start"; exit 1; }
}

# terminal_with_secret NODE NAME PASSWORD: a stopped terminal NODE whose
# account NAME has a TOTP secret sealed under the terminal's own key.
terminal_with_secret() {
	terminal "$1"
	add_user "$2" "$3"
	enroll_totp "$2" >/dev/null
	stop_daemon
}

# migrate ENV ARGS...: store migrate of ENV's store into the central store,
# with the central keys; output in $T/migrate.out.
migrate() {
	local env=$1
	shift
	"$CTL" --config "$env/mamori.conf" store migrate --to postgresql \
		--conninfo "$MAMORI_TEST_PG_CONNINFO dbname=$(cat "$C/pgdb")" \
		--target-key "$C/state/store.key" --target-audit-key "$C/state/audit.key" "$@" >"$env/migrate.out" 2>&1
}

# The central database as pg_dump shows it (without its comments and the
# random token of \restrict).
central_dump() { use_env "$C"; sql .dump | grep -v '^--\|^\\restrict\|^\\unrestrict'; }

# own_key_refused ENV REASON: the move of ENV's store with ENV's own
# sealing key (not the central store's) is refused, says REASON, and
# leaves the central store as it was.
own_key_refused() {
	local env=$1 reason=$2 before after
	before=$(central_dump)
	! "$CTL" --config "$env/mamori.conf" store migrate --to postgresql \
		--conninfo "$MAMORI_TEST_PG_CONNINFO dbname=$(cat "$C/pgdb")" \
		--target-key "$env/state/store.key" --target-audit-key "$C/state/audit.key" >"$env/migrate.out" 2>&1 ||
		fail "a terminal with another sealing key was moved"
	grep -q "$reason" "$env/migrate.out" || fail "no clear reason: $(cat "$env/migrate.out")"
	after=$(central_dump)
	[ "$before" = "$after" ] || fail "the refused move changed the store: $(diff <(echo "$before") <(echo "$after") | head)"
}

# The central store: its own database and keys, made by a daemon's first
# start, which also writes its first audit rows.
new_env
C=$T
make_service mn-login
echo "$START" >"$C/clock"
start_daemon || { echo "Bail out! the central daemon did not start"; exit 1; }
stop_daemon

# Terminal 1: two accounts, a TOTP login, two failures of mg.bob.
terminal term-1
S1=$T
add_user mg.alice 'Ame-no-Hi-2030'
ALICE_SECRET=$(enroll_totp mg.alice)
echo $((START + 60)) >"$T/clock"
pam -p 'Ame-no-Hi-2030' -p "$(totp_code "$ALICE_SECRET")" mn-login mg.alice auth=SUCCESS >/dev/null ||
	{ echo "Bail out! the TOTP login on terminal 1 failed"; exit 1; }
add_user mg.bob 'Kaze-no-Oto-2030'
pam -p 'wrong-1' mamori-test mg.bob auth=AUTH_ERR >/dev/null
pam -p 'wrong-2' mamori-test mg.bob auth=AUTH_ERR >/dev/null

# The terminal's audit rows (once its daemon stopped, its "stopped" row
# included).
s1_rows() { sqlite3 "$S1/state/mamori.db" 'SELECT count(*) FROM audit'; }

t_refused_while_daemon_runs() {
	use_env "$S1"
	! migrate "$S1" || fail "migrated with the terminal's daemon running"
	grep -q 'mamori-authd is running' "$S1/migrate.out" || fail "no reason given: $(cat "$S1/migrate.out")"
	stop_daemon
}

t_dry_run_writes_nothing() {
	local before after
	local S1_ROWS
	S1_ROWS=$(s1_rows)
	before=$(central_dump)
	migrate "$S1" --dry-run || fail "dry run failed: $(cat "$S1/migrate.out")"
	grep -q '2 accounts in the source: 2 to add' "$S1/migrate.out" || fail "plan: $(cat "$S1/migrate.out")"
	grep -q "audit rows: $S1_ROWS in the source, 0 already imported, $S1_ROWS to import" "$S1/migrate.out" ||
		fail "audit plan: $(cat "$S1/migrate.out")"
	grep -q 'dry run: nothing written' "$S1/migrate.out" || fail "not a dry run"
	after=$(central_dump)
	[ "$before" = "$after" ] || fail "the dry run changed the central store: $(diff <(echo "$before") <(echo "$after") | head)"
}

# Every file of ENV's state directory: name, size, content and time of
# change (to the nanosecond), so that a rewrite with the same bytes shows.
state_files() { find "$1/state" -type f | sort | xargs -r stat -c '%n %s %y' && find "$1/state" -type f | sort | xargs -r sha256sum; }

t_dry_run_leaves_source_alone() {
	local before after
	before=$(state_files "$S1")
	sleep 0.05
	migrate "$S1" --dry-run || fail "dry run failed: $(cat "$S1/migrate.out")"
	grep -q 'source audit chain: .* verified' "$S1/migrate.out" || fail "source not verified: $(cat "$S1/migrate.out")"
	after=$(state_files "$S1")
	[ "$before" = "$after" ] || fail "the dry run wrote on the source: $(diff <(echo "$before") <(echo "$after") | head)"
	# Without its checkpoint the verification would anchor a new one:
	# not on a dry run.
	[ -f "$S1/state/audit.checkpoint" ] || fail "no source checkpoint at $S1/state/audit.checkpoint"
	mv "$S1/state/audit.checkpoint" "$S1/audit.checkpoint.aside"
	migrate "$S1" --dry-run || fail "dry run without a checkpoint failed: $(cat "$S1/migrate.out")"
	[ ! -e "$S1/state/audit.checkpoint" ] || fail "the dry run wrote the source's audit checkpoint"
	mv "$S1/audit.checkpoint.aside" "$S1/state/audit.checkpoint"
}

# Before any secret reaches the central store, the key its first daemon
# recorded (seal.store_key_id) is the fleet's: a terminal with its own key
# is refused, and nothing is written.
t_recorded_key_refused_on_empty_store() {
	terminal_with_secret term-8 mg.kei 'Tsuki-no-Michi-2030'
	S8=$T
	[ "$(use_env "$C"; sql "SELECT count(*) FROM credentials")" = 0 ] || fail "the central store already holds secrets"
	own_key_refused "$S8" "is not the central store's: its first daemon recorded store key"
}

t_migrated_accounts_log_in_on_central() {
	local out
	local S1_ROWS
	S1_ROWS=$(s1_rows)
	migrate "$S1" || fail "migrate failed: $(cat "$S1/migrate.out")"
	! grep -q MISMATCH "$S1/migrate.out" || fail "verification: $(cat "$S1/migrate.out")"
	grep -q "source audit rows in the target: $S1_ROWS of $S1_ROWS, each once, in order: ok" "$S1/migrate.out" ||
		fail "audit rows: $(cat "$S1/migrate.out")"
	grep -q 'target audit chain: .* verified' "$S1/migrate.out" || fail "chain: $(cat "$S1/migrate.out")"
	use_env "$C"
	# mg.bob's two failures on the terminal, before a login here clears them.
	expect_eq "$(sql "SELECT failures FROM lockouts WHERE name = 'mg.bob'")" 2 "mg.bob's lockout count"
	echo $((START + 120)) >"$C/clock"
	start_daemon || fail "the central daemon did not start"
	# The TOTP secret, re-sealed under the central key, opens; the step
	# used on the terminal (START + 60) stays used.
	pam -p 'Ame-no-Hi-2030' -p "$(oathtool --totp -b "$ALICE_SECRET" --now "@$((START + 60))")" \
		mn-login mg.alice auth=AUTH_ERR >/dev/null || fail "a TOTP code used on the terminal was accepted again"
	pam -p 'Ame-no-Hi-2030' -p "$(totp_code "$ALICE_SECRET")" mn-login mg.alice auth=SUCCESS >/dev/null ||
		fail "password + TOTP refused on the central store"
	pam -p 'Kaze-no-Oto-2030' mamori-test mg.bob auth=SUCCESS >/dev/null || fail "mg.bob's password refused"
	ctl audit verify >"$C/verify.out" || fail "audit verify: $(cat "$C/verify.out")"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'import' AND $(sql_json detail source_node) = 'term-1'")" \
		"$S1_ROWS" "imported rows"
	# The move itself is one row of the chain.
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'admin' AND reason = 'store migrate' AND $(sql_json detail source_node) = 'term-1'")" \
		1 "rows recording the move"
	stop_daemon
}

t_audit_rows_imported() {
	use_env "$C"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'import' AND \"user\" = 'mg.bob' AND result = 'auth_err'")" \
		2 "mg.bob's failures imported"
}

t_second_run_changes_nothing() {
	local before after
	local S1_ROWS
	S1_ROWS=$(s1_rows)
	before=$(central_dump)
	migrate "$S1" || fail "second run failed: $(cat "$S1/migrate.out")"
	grep -q '0 to add, 2 already there' "$S1/migrate.out" || fail "plan: $(cat "$S1/migrate.out")"
	grep -q "$S1_ROWS already imported, 0 to import" "$S1/migrate.out" || fail "audit plan: $(cat "$S1/migrate.out")"
	after=$(central_dump)
	[ "$before" = "$after" ] || fail "the second run changed the store: $(diff <(echo "$before") <(echo "$after") | head)"
}

t_second_terminal_ids_collide_totp_resealed() {
	local s1_id s2_id carol
	terminal term-2
	S2=$T
	add_user mg.carol 'Yuki-no-Yoru-2030'
	carol=$(enroll_totp mg.carol)
	stop_daemon
	s2_id=$(sqlite3 "$S2/state/mamori.db" "SELECT c.id FROM credentials c JOIN users u ON u.id = c.user_id WHERE u.name = 'mg.carol'")
	s1_id=$(sqlite3 "$S1/state/mamori.db" "SELECT c.id FROM credentials c JOIN users u ON u.id = c.user_id WHERE u.name = 'mg.alice'")
	expect_eq "$s2_id" "$s1_id" "terminal credential ids (meant to collide)"
	migrate "$S2" || fail "migrate of terminal 2 failed: $(cat "$S2/migrate.out")"
	use_env "$C"
	echo $((START + 300)) >"$C/clock"
	start_daemon || fail "the central daemon did not start"
	pam -p 'Yuki-no-Yoru-2030' -p "$(totp_code "$carol")" mn-login mg.carol auth=SUCCESS >/dev/null ||
		fail "mg.carol's TOTP refused after the move"
	echo $((START + 330)) >"$C/clock"
	pam -p 'Ame-no-Hi-2030' -p "$(totp_code "$ALICE_SECRET")" mn-login mg.alice auth=SUCCESS >/dev/null ||
		fail "mg.alice's TOTP refused after terminal 2 moved"
	ctl audit verify >"$C/verify.out" || fail "audit verify: $(cat "$C/verify.out")"
	stop_daemon
	# Both terminals' secrets (two keys) now name one key: the central one.
	expect_eq "$(sql "SELECT count(DISTINCT seal_key_id) || ',' || count(*) FROM credentials WHERE seal_key_id <> ''")" \
		"1,2" "sealing key ids of the moved secrets"
}

t_other_key_refused_before_any_write() {
	terminal_with_secret term-6 mg.hana 'Niji-no-Hashi-2030'
	S6=$T
	# The terminal's own key, not the fleet's: the central store already
	# holds secrets, under another key id.
	own_key_refused "$S6" "is not the central store's: its secrets are sealed under"
	# With the fleet's key it moves.
	migrate "$S6" || fail "the move with the fleet's key failed: $(cat "$S6/migrate.out")"
}

# migrate_2 ENV: a second store migrate of ENV's store (its own copy of
# the configuration), output in ENV/migrate-2.out.
migrate_2() {
	cp "$1/mamori.conf" "$1/mamori-2.conf"
	"$CTL" --config "$1/mamori-2.conf" store migrate --to postgresql \
		--conninfo "$MAMORI_TEST_PG_CONNINFO dbname=$(cat "$C/pgdb")" \
		--target-key "$C/state/store.key" --target-audit-key "$C/state/audit.key" >"$1/migrate-2.out" 2>&1
}

t_two_moves_of_one_node_serialised() {
	local i f rc rc1=0 rc2=0 out
	terminal term-7
	S7=$T
	add_user mg.ivy 'Mori-no-Michi-2030'
	stop_daemon
	use_env "$C"
	# A session holds the node's move lock, as a move of the node from
	# another terminal would: the move waits on it (up to the store's
	# lock_timeout), then is refused with nothing written.
	PGAPPNAME=mamori-migrate-holder psql_on "$(cat "$C/pgdb")" \
		-c "SELECT pg_advisory_lock(1835232877, hashtext('store migrate term-7'))" -c "SELECT pg_sleep(60)" \
		>/dev/null 2>&1 &
	for i in $(seq 1 100); do
		[ "$(sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" -ge 1 ] && break
		sleep 0.1
	done
	! migrate "$S7" || fail "a move went through while the node's lock was held"
	sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mamori-migrate-holder'" >/dev/null
	wait
	grep -q 'another store migrate of node term-7 is writing' "$S7/migrate.out" ||
		fail "no clear reason: $(cat "$S7/migrate.out")"
	# A move of this terminal's store under way (its lock on the store's
	# directory held): refused at once, before either store is opened.
	flock -x "$S7/state" -c "\"$CTL\" --config \"$S7/mamori.conf\" store migrate --to postgresql \
		--conninfo \"$MAMORI_TEST_PG_CONNINFO dbname=$(cat "$C/pgdb")\" --target-key \"$C/state/store.key\" \
		--target-audit-key \"$C/state/audit.key\" >\"$S7/migrate.out\" 2>&1" &&
		fail "a move went through while another held the terminal's store"
	grep -q "another store migrate of this terminal's store (in $S7/state) is under way" "$S7/migrate.out" ||
		fail "no clear reason: $(cat "$S7/migrate.out")"
	expect_eq "$(sql "SELECT count(*) FROM users WHERE name = 'mg.ivy'")" 0 "mg.ivy moved while locked"
	migrate "$S7" || fail "the move once the locks were free failed: $(cat "$S7/migrate.out")"
	# Two at once of a terminal not moved yet: one moves, the other is
	# refused at the terminal's store or, started after the first ended,
	# finds the account there: never both, and never another failure.
	terminal term-9
	S9=$T
	add_user mg.yuzu 'Yuki-no-Hana-2030'
	stop_daemon
	use_env "$C"
	migrate "$S9" &
	migrate_2 "$S9" || rc2=$?
	wait "$!" || rc1=$?
	expect_eq "$(sql "SELECT count(*) FROM users WHERE name = 'mg.yuzu'")" 1 "mg.yuzu's accounts"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'admin' AND reason = 'store migrate' AND $(sql_json detail source_node) = 'term-9'")" \
		1 "rows recording the move of term-9"
	out="first (exit $rc1): $(cat "$S9/migrate.out"); second (exit $rc2): $(cat "$S9/migrate-2.out")"
	expect_eq "$(cat "$S9/migrate.out" "$S9/migrate-2.out" | grep -c '1 accounts in the source: 1 to add')" 1 \
		"moves that added the account ($out)"
	# Each run either succeeded, adding the account or finding it there,
	# or failed, refused by the other.
	for i in 1 2; do
		f=$S9/migrate.out rc=$rc1
		[ "$i" = 2 ] && f=$S9/migrate-2.out rc=$rc2
		if [ "$rc" = 0 ]; then
			grep -q '1 accounts in the source: 1 to add\|1 accounts in the source: 0 to add, 1 already there (identical)' "$f" ||
				fail "a move succeeded without adding the account or finding it there: $out"
		else
			grep -q "another store migrate of this terminal's store (in $S9/state) is under way" "$f" ||
				fail "a move failed, not refused by the other: $out"
		fi
	done
}

t_conflicting_account_stops_everything() {
	local before after
	terminal term-3
	S3=$T
	add_user mg.alice 'Other-Pass-2030x'
	add_user mg.dave 'Hoshi-no-Umi-2030'
	stop_daemon
	before=$(central_dump)
	! migrate "$S3" || fail "a conflicting account was migrated"
	grep -q 'conflict: account mg.alice' "$S3/migrate.out" || fail "no conflict listed: $(cat "$S3/migrate.out")"
	after=$(central_dump)
	[ "$before" = "$after" ] || fail "the refused migration changed the store: $(diff <(echo "$before") <(echo "$after") | head)"
	use_env "$C"
	expect_eq "$(sql "SELECT count(*) FROM users WHERE name = 'mg.dave'")" 0 "mg.dave moved"
}

t_tampered_source_chain_refused() {
	local before after
	terminal term-4
	S4=$T
	add_user mg.erin 'Tsuki-no-Hikari-2030'
	stop_daemon
	sqlite3 "$S4/state/mamori.db" "UPDATE audit SET reason = 'nothing happened' WHERE id = 2"
	before=$(central_dump)
	! migrate "$S4" || fail "a tampered chain was migrated"
	grep -q "audit chain does not verify" "$S4/migrate.out" || fail "no reason: $(cat "$S4/migrate.out")"
	after=$(central_dump)
	[ "$before" = "$after" ] || fail "the refused migration changed the store: $(diff <(echo "$before") <(echo "$after") | head)"
}

t_killed_half_way_leaves_nothing_then_reruns() {
	local before after pid i waiting=0
	terminal term-5
	S5=$T
	add_user mg.fay 'Hana-no-Iro-2030'
	add_user mg.gus 'Kumo-no-Ue-2030'
	stop_daemon
	use_env "$C"
	# Sequences are not transactional: ids the killed transaction drew
	# stay drawn.  Every table's rows must be as they were.
	before=$(central_dump | grep -v 'pg_catalog.setval')
	# A session holds mg.gus's lockout lock: the move blocks there, after
	# mg.fay and mg.gus were inserted in its transaction, and is killed.
	PGAPPNAME=mamori-migrate-holder psql_on "$(cat "$C/pgdb")" \
		-c "SELECT pg_advisory_lock(1835232363, hashtext('mg.gus'))" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
	for i in $(seq 1 100); do
		[ "$(sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" -ge 1 ] && break
		sleep 0.1
	done
	# exec: $! is mamorictl itself, so that the kill below reaches it.
	(
		exec "$CTL" --config "$S5/mamori.conf" store migrate --to postgresql \
			--conninfo "$MAMORI_TEST_PG_CONNINFO dbname=$(cat "$C/pgdb")" \
			--target-key "$C/state/store.key" --target-audit-key "$C/state/audit.key" >"$S5/migrate.out" 2>&1
	) &
	pid=$!
	for i in $(seq 1 100); do
		waiting=$(sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
		[ "$waiting" -ge 1 ] && break
		sleep 0.1
	done
	[ "$waiting" -ge 1 ] || fail "the move never waited on the lock: $(cat "$S5/migrate.out")"
	[ "$(sql "SELECT count(*) FROM users WHERE name IN ('mg.fay', 'mg.gus')")" = 0 ] ||
		fail "rows visible before the commit"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null || true
	sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mamori-migrate-holder'" >/dev/null
	wait
	after=$(central_dump | grep -v 'pg_catalog.setval')
	[ "$before" = "$after" ] || fail "the killed move left rows: $(diff <(echo "$before") <(echo "$after") | head)"
	migrate "$S5" || fail "the run after the killed one failed: $(cat "$S5/migrate.out")"
	grep -q '2 to add, 0 already there' "$S5/migrate.out" || fail "plan: $(cat "$S5/migrate.out")"
	expect_eq "$(sql "SELECT count(*) FROM users WHERE name IN ('mg.fay', 'mg.gus')")" 2 "accounts after the rerun"
}

run_test "store migrate refuses while the terminal's daemon runs" t_refused_while_daemon_runs
run_test "store migrate --dry-run prints the plan and writes nothing (pg_dump unchanged)" t_dry_run_writes_nothing
run_test "P-AUDIT store migrate --dry-run writes nothing on the source either (its checkpoint and store untouched)" \
	t_dry_run_leaves_source_alone
run_test "P-CRED-STORE a terminal whose key is not the one the central store recorded is refused while it holds no secret" \
	t_recorded_key_refused_on_empty_store
run_test "P-CRED-STORE P-AUDIT migrated accounts log in on the central store (re-sealed TOTP, step kept, lockout count carried); audit verify passes" \
	t_migrated_accounts_log_in_on_central
run_test "P-LOGIN-UI P-AUDIT the lockout count is carried; the terminal's failures are imported as audit rows" \
	t_audit_rows_imported
run_test "store migrate run twice: the second run changes nothing (pg_dump unchanged)" t_second_run_changes_nothing
run_test "P-CRED-STORE a second terminal with colliding ids moves too; its TOTP works after (re-sealed)" \
	t_second_terminal_ids_collide_totp_resealed
run_test "P-CRED-STORE a terminal whose sealing key is not the central store's is refused before anything is written" \
	t_other_key_refused_before_any_write
run_test "two moves of one node at once never both write: a move is refused while the node's lock or the terminal's store is held" \
	t_two_moves_of_one_node_serialised
run_test "a conflicting account stops the migration with nothing changed" t_conflicting_account_stops_everything
run_test "P-AUDIT a tampered source audit chain is refused, nothing changed" t_tampered_source_chain_refused
run_test "a move killed half-way (in its transaction) leaves nothing; the next run moves everything" \
	t_killed_half_way_leaves_nothing_then_reruns
tap_done
