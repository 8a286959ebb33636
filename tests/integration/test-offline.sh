#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Offline logins (issue #14, docs/architecture.md "Offline logins"): while
# the PostgreSQL store is out of reach, a terminal with [offline] enabled
# lets a password login through from its local cache, for accounts that
# logged in on it within max_hours, with its own failure counter, never for
# a privileged ID or on a My Number service; every offline decision is
# journaled and replayed into the central audit chain on reconnection.
# The test runs a cluster of its own, which it stops and starts.
# PostgreSQL only: `make check-postgresql` runs it.
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "sqlite3" command -v sqlite3
require_test_hooks "needs the test clock"
if ! on_postgresql; then
	echo "1..0 # SKIP offline logins stand in for a PostgreSQL store (make check-postgresql)"
	exit 0
fi

# A cluster of the test's own, that it may stop and start.
PGD=$(mktemp -d /tmp/mamori-offpg.XXXXXX)
rmdir "$PGD"
MAMORI_TEST_PG_CONNINFO=$(bash "$top_srcdir/tests/pg/cluster.sh" start "$PGD") ||
	{ echo "Bail out! cannot start a cluster of the test's own"; exit 1; }
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_down() { runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGD/data" -m fast -w stop >/dev/null; }
# The server gone without a word to its clients (a crash, a power cut).
pg_kill() { runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGD/data" -m immediate -w stop >/dev/null; }
# psql on the cluster as its superuser.
pg_admin() { psql_on "$(cat "$A/pgdb")" -A -t -c "$1"; }
pg_up() {
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PGD/data" -l "$PGD/pg.log" -w -t 60 \
		-o "-k $PGD -h '' -c fsync=off" start >/dev/null
}
finish() {
	pg_up 2>/dev/null || true
	cleanup_all
	bash "$top_srcdir/tests/pg/cluster.sh" stop "$PGD" >/dev/null 2>&1 || true
}
trap finish EXIT

EXTRA_CONF="[offline]
enabled = yes
max_hours = 72
max_failures = 3
probe_interval = 1

[service mamori-mfa]
system = default
require = password+totp

[system mn]
mynumber = yes

[service mn-login]
system = mn
require = password+totp
rhost_empty = local"

# Daemon B: offline logins off (the default).
EXTRA_CONF="" new_env
B=$T
start_daemon || { echo "Bail out! daemon B did not start"; exit 1; }
# Daemon A: offline logins on.
new_env
A=$T
make_service mamori-mfa
make_service mn-login
start_daemon || { echo "Bail out! daemon A did not start"; exit 1; }
on_a() { use_env "$A"; }
on_b() { use_env "$B"; }

PW='Tsuki-no-Hikari-2030'
PRIV_PW='Kawa-no-Nagare-Hayai-Sugiru-77'

t_cache_written_online() {
	on_a
	add_user off.alice "$PW"
	add_user off.carol "$PW"
	add_user off.dave "$PW"
	add_user off.prv "$PRIV_PW" --privileged
	ctl user add off.never >/dev/null
	for u in off.alice off.carol off.dave; do pam -p "$PW" mamori-test $u auth=SUCCESS >/dev/null; done
	pam -p "$PRIV_PW" mamori-test off.prv auth=SUCCESS >/dev/null
	# Hours of use: the hour of the test clock only (t_hours_refused moves
	# the clock past it).
	local h
	h=$(date -d "@$(cat "$A/clock")" +%H)
	add_user off.erin "$PW" --hours "Mon-Sun $h:00-$(printf %02d $((10#$h + 1))):00"
	pam -p "$PW" mamori-test off.erin auth=SUCCESS acct=SUCCESS >/dev/null
	# The wrong-password output online, to compare with offline.
	pam -p 'wrong-one' mamori-test off.alice auth=AUTH_ERR >"$A/online-wrong.out"
	pam -p 'wrong-one' mamori-test off.nobody auth=AUTH_ERR >"$A/online-unknown.out"
	expect_eq "$(sqlite3 "$A/state/offline.db" "SELECT count(*) FROM cache WHERE name LIKE 'off.%'")" 5 "entries"
	on_b
	add_user off.bob "$PW"
	pam -p "$PW" mamori-test off.bob auth=SUCCESS >/dev/null
	[ ! -e "$B/state/offline.db" ] || fail "daemon B made an offline cache"
}

t_disabled_refused() {
	pg_down
	on_b
	if pam -p "$PW" mamori-test off.bob auth=SUCCESS >/dev/null; then fail "B let a login through offline"; fi
	grep -q "offline logins\|offline:" "$B/daemon.log" && fail "B speaks of offline logins"
	true
}

t_cached_allowed() {
	on_a
	pam -p "$PW" mamori-test off.alice auth=SUCCESS acct=SUCCESS
	grep -q "store: unreachable" "$A/daemon.log" || fail "the transition was not logged"
}

# A login's whole PAM round (auth, account, session open and close) goes
# through offline, each step journaled; an account without a fresh entry
# gets no session.
t_cached_session() {
	on_a
	local before
	before=$(sqlite3 "$A/state/offline.db" "SELECT count(*) FROM journal")
	pam -p "$PW" mamori-test off.alice auth=SUCCESS acct=SUCCESS open=SUCCESS close=SUCCESS >/dev/null
	expect_eq "$(sqlite3 "$A/state/offline.db" "SELECT count(*) FROM journal WHERE seq > $before AND row LIKE '%offline: session opened%'")" 1 "session opened rows"
	expect_eq "$(sqlite3 "$A/state/offline.db" "SELECT count(*) FROM journal WHERE seq > $before AND row LIKE '%offline session % closed%'")" 1 "session closed rows"
	if pam mamori-test off.never open=SUCCESS >/dev/null 2>&1; then fail "a session opened offline for an account never logged in here"; fi
	expect_eq "$(sqlite3 "$A/state/offline.db" "SELECT count(*) FROM journal WHERE seq > $before AND row LIKE '%offline: session refused%'")" 1 "session refused rows"
}

# The account rules that need no store hold offline on the cached facts:
# outside its hours of use, an account is refused at authentication, at
# the account check and for a session, and its right password counts as
# no success.
t_hours_refused() {
	on_a
	pam -p "$PW" mamori-test off.erin auth=SUCCESS acct=SUCCESS open=SUCCESS close=SUCCESS >/dev/null ||
		fail "off.erin refused offline within its hours"
	advance_clock 7200
	pam -p "$PW" mamori-test off.erin auth=AUTH_ERR >/dev/null
	pam mamori-test off.erin acct=PERM_DENIED >/dev/null
	if pam mamori-test off.erin open=SUCCESS >/dev/null 2>&1; then fail "a session opened outside the hours"; fi
	expect_eq "$(sqlite3 "$A/state/offline.db" "SELECT count(*) FROM journal WHERE row LIKE '%outside the hours of use%' AND row LIKE '%\"user\":\"off.erin\"%'")" 2 "journal rows naming the hours"
}

t_wrong_refused_same_prompts() {
	on_a
	pam -p 'wrong-one' mamori-test off.alice auth=AUTH_ERR >"$A/offline-wrong.out"
	diff "$A/online-wrong.out" "$A/offline-wrong.out" || fail "the offline answer differs from the online one"
}

t_never_logged_in_refused() {
	on_a
	pam -p "$PW" mamori-test off.never auth=AUTH_ERR >"$A/offline-never.out"
	pam -p 'wrong-one' mamori-test off.nobody auth=AUTH_ERR >"$A/offline-unknown.out"
	diff "$A/online-unknown.out" "$A/offline-unknown.out" || fail "prompts differ for an unknown name"
	diff <(sed 's/off.never/X/' "$A/offline-never.out") <(sed 's/off.nobody/X/' "$A/offline-unknown.out") ||
		fail "prompts differ between a never-cached and an unknown name"
	# The same fsynced write as a cached name's failure count: the pad row.
	expect_eq "$(sqlite3 "$A/state/offline.db" "SELECT count(*) FROM meta WHERE key = 'pad'")" 1 "pad rows"
}

t_locked_after_max_failures() {
	on_a
	pam -p 'wrong-1' mamori-test off.carol auth=AUTH_ERR >/dev/null
	pam -p 'wrong-2' mamori-test off.carol auth=AUTH_ERR >/dev/null
	pam -p 'wrong-3' mamori-test off.carol auth=MAXTRIES >/dev/null
	pam -p "$PW" mamori-test off.carol auth=MAXTRIES >/dev/null
	expect_eq "$(sqlite3 "$A/state/offline.db" "SELECT failures FROM cache WHERE name = 'off.carol'")" 3 "failures"
}

t_privileged_refused() {
	on_a
	pam -p "$PRIV_PW" mamori-test off.prv auth=AUTH_ERR >/dev/null
	pam -p "$PW" mamori-priv off.alice auth=AUTH_ERR >/dev/null
}

t_mynumber_refused() {
	on_a
	pam -p "$PW" -p 123456 mn-login off.alice auth=AUTH_ERR >/dev/null
	sqlite3 "$A/state/offline.db" "SELECT row FROM journal ORDER BY seq DESC LIMIT 1" |
		grep -q '"reason":"offline: My Number service"' || fail "not refused as a My Number service"
	# A service a password alone does not meet.
	pam -p "$PW" -p 123456 mamori-mfa off.alice auth=AUTH_ERR >/dev/null
}

t_status_offline() {
	on_a
	ctl status | tee "$A/status.out" | grep -E "store: +offline since .* \(3 logins, [0-9]+ audit rows waiting\)" ||
		{ cat "$A/status.out"; fail "status does not say offline"; }
}

t_cache_holds_no_secret() {
	on_a
	! grep -a -q -- "$PW" "$A/state/offline.db" || fail "a password in the cache"
	! grep -a -q -- "$PRIV_PW" "$A/state/offline.db" || fail "a password in the cache"
	! grep -a -q -- '$argon2id$' "$A/state/offline.db" || fail "an unsealed hash in the cache"
	expect_eq "$(stat -c %a "$A/state/offline.db")" 600 "mode"
}

t_too_old_refused() {
	on_a
	advance_clock $((73 * 3600))
	pam -p "$PW" mamori-test off.dave auth=AUTH_ERR >/dev/null
}

# The journal's rows, as the central log must show them in order.
journal_rows() {
	sqlite3 "$A/state/offline.db" "SELECT seq || '|' || hash FROM journal ORDER BY seq"
}
central_rows() {
	sql "SELECT (detail::json->>'seq') || '|' || (detail::json->>'hash') FROM audit WHERE category = 'offline' AND result <> 'tampered' ORDER BY id"
}
wait_replayed() {
	local i
	for i in $(seq 1 100); do
		[ "$(sqlite3 "$A/state/offline.db" "SELECT count(*) FROM journal")" = 0 ] && return 0
		sleep 0.1
	done
	fail "the journal was not replayed"
}

t_replayed_in_order() {
	on_a
	journal_rows >"$A/journal-1"
	[ "$(wc -l <"$A/journal-1")" -ge 10 ] || fail "too few journal rows"
	pg_up
	wait_replayed
	central_rows >"$A/central-1"
	diff "$A/journal-1" "$A/central-1" || fail "the central rows are not the journal's, in order"
	ctl audit verify
	ctl status | grep -E "store: +online \(0 offline audit rows waiting\)"
	grep -q "store: reachable again" "$A/daemon.log" || fail "the transition back was not logged"
}

t_second_reconnection_no_duplicates() {
	on_a
	pam -p "$PW" mamori-test off.alice auth=SUCCESS >/dev/null # online again: the cache renewed
	pg_down
	pam -p "$PW" mamori-test off.alice auth=SUCCESS >/dev/null
	journal_rows >"$A/journal-2"
	expect_eq "$(wc -l <"$A/journal-2")" 1 "new journal rows"
	# A replay cut short after its commit: the journal as it was before.
	stop_daemon
	cp -p "$A/state/offline.db" "$A/offline.db.before"
	pg_up
	start_daemon
	pam -p "$PW" mamori-test off.alice auth=SUCCESS >/dev/null # wakes the replay
	wait_replayed
	stop_daemon
	cp -p "$A/offline.db.before" "$A/state/offline.db"
	start_daemon
	pam -p "$PW" mamori-test off.alice auth=SUCCESS >/dev/null
	wait_replayed
	central_rows >"$A/central-2"
	cat "$A/journal-1" "$A/journal-2" | diff - "$A/central-2" || fail "a row replayed twice, or lost"
	ctl audit verify
}

t_tampered_journal_audited() {
	on_a
	pg_down
	pam -p "$PW" mamori-test off.alice auth=SUCCESS >/dev/null
	pam -p 'wrong-x' mamori-test off.alice auth=AUTH_ERR >/dev/null
	stop_daemon
	sqlite3 "$A/state/offline.db" "UPDATE journal SET row = replace(row, 'auth_err', 'success')"
	pg_up
	start_daemon
	pam -p "$PW" mamori-test off.alice auth=SUCCESS >/dev/null
	wait_replayed
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'offline' AND result = 'tampered'")" 1 "tamper rows"
	central_rows >"$A/central-3"
	diff "$A/central-2" "$A/central-3" || fail "a tampered journal was replayed"
	ls "$A"/state/offline.db.tampered-* >/dev/null || fail "the tampered journal was not kept aside"
	ctl audit verify
}

# A commit that waits for a synchronous standby that never answers, and
# the server gone meanwhile: the commit's outcome is unknown (it may have
# landed on the primary).  The login is refused, not decided again offline
# (which would count it twice, or let through a login the store refused).
t_unknown_commit_not_offline() {
	on_a
	local i waiting=0 rc=0 before
	pam -p "$PW" mamori-test off.alice auth=SUCCESS >/dev/null # online, the cache fresh
	before=$(sqlite3 "$A/state/offline.db" "SELECT count(*) FROM journal")
	pg_admin "ALTER SYSTEM SET synchronous_standby_names = 'nosuchstandby'" >/dev/null
	pg_admin "SELECT pg_reload_conf()" >/dev/null
	pam -p "$PW" mamori-test off.alice auth=SUCCESS >"$A/unknown.out" 2>&1 &
	local pid=$!
	for i in $(seq 1 100); do
		waiting=$(pg_admin "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")
		[ "$waiting" -gt 0 ] && break
		sleep 0.1
	done
	pg_kill
	wait "$pid" || rc=$?
	pg_up
	pg_admin "ALTER SYSTEM RESET synchronous_standby_names" >/dev/null
	pg_admin "SELECT pg_reload_conf()" >/dev/null
	[ "$waiting" -gt 0 ] || fail "no commit waited for the standby"
	[ "$rc" -ne 0 ] || fail "a login whose commit's outcome is unknown was let through: $(cat "$A/unknown.out")"
	grep -q "commit: its outcome is unknown" "$A/daemon.log" || fail "the unknown outcome was not logged"
	expect_eq "$(sqlite3 "$A/state/offline.db" "SELECT count(*) FROM journal")" "$before" "journal rows"
}

# Idle pooled connections to a server that dies without a word: the
# fallback's check sends a statement (a begin alone sends nothing), so the
# next logins, some at once, go offline without a refusal first.
t_dead_server_idle_pool() {
	on_a
	local i failed=0 before
	wait_replayed
	for i in 1 2 3 4; do pam -p "$PW" mamori-test off.alice auth=SUCCESS >/dev/null & done
	wait
	before=$(grep -c "the store failed" "$A/daemon.log" || true)
	pg_kill
	# Each step of the login: authentication, account check and session
	# open, each on a pooled connection the server's death left idle.
	for i in 1 2 3; do pam -p "$PW" mamori-test off.alice auth=SUCCESS acct=SUCCESS open=SUCCESS >/dev/null & done
	for i in 1 2 3; do wait -n || failed=$((failed + 1)); done
	pam -p "$PW" mamori-test off.alice auth=SUCCESS acct=SUCCESS open=SUCCESS >/dev/null || failed=$((failed + 1))
	expect_eq "$failed" 0 "logins refused"
	expect_eq "$(grep -c "the store failed" "$A/daemon.log")" "$before" "logins that failed on the store"
	expect_eq "$(sqlite3 "$A/state/offline.db" "SELECT count(*) FROM journal WHERE row LIKE '%offline: password%'")" 4 "offline logins journaled"
	expect_eq "$(sqlite3 "$A/state/offline.db" "SELECT count(*) FROM journal WHERE row LIKE '%offline: ok%'")" 4 "offline account checks journaled"
	expect_eq "$(sqlite3 "$A/state/offline.db" "SELECT count(*) FROM journal WHERE row LIKE '%offline: session opened%'")" 4 "offline sessions journaled"
	pg_up
	wait_replayed
}

# The cache records the key that sealed each entry: after a key switch an
# entry opens with the previous key, and once that key is no longer
# loaded, the entry is forgotten and the login refused.
t_key_gone_entry_forgotten() {
	on_a
	local old new
	add_user off.kim "$PW"
	pam -p "$PW" mamori-test off.kim auth=SUCCESS >/dev/null
	old=$(sqlite3 "$A/state/offline.db" "SELECT key_id FROM cache WHERE name = 'off.kim'")
	[ -n "$old" ] || fail "no key id recorded"
	head -c 32 /dev/urandom >"$A/state/store.key.next"
	chmod 600 "$A/state/store.key.next"
	kill -HUP "$(cat "$A/daemon.pid")"
	sleep 0.5
	mv "$A/state/store.key" "$A/state/store.key.previous"
	mv "$A/state/store.key.next" "$A/state/store.key"
	kill -HUP "$(cat "$A/daemon.pid")"
	sleep 0.5
	# A restart while the old key is still loaded (as the previous one)
	# moves the shared store's key record to the new key (main.c
	# store_key_claim), as the operator's rotation does; without it the
	# next start, with the old key gone, would be refused.
	stop_daemon
	start_daemon || fail "the daemon did not start with the keys switched"
	pam -p "$PW" mamori-test off.alice auth=SUCCESS >/dev/null # sealed anew, under the new key
	new=$(sqlite3 "$A/state/offline.db" "SELECT key_id FROM cache WHERE name = 'off.alice'")
	[ -n "$new" ] && [ "$new" != "$old" ] || fail "off.alice not sealed under the new key ($new, $old)"
	pg_down
	pam -p "$PW" mamori-test off.kim auth=SUCCESS >/dev/null || fail "off.kim refused with its key as the previous one"
	rm "$A/state/store.key.previous"
	kill -HUP "$(cat "$A/daemon.pid")"
	sleep 0.5
	pam -p "$PW" mamori-test off.alice auth=SUCCESS >/dev/null || fail "off.alice refused under the current key"
	pam -p "$PW" mamori-test off.kim auth=AUTH_ERR >/dev/null
	expect_eq "$(sqlite3 "$A/state/offline.db" "SELECT count(*) FROM cache WHERE name = 'off.kim'")" 0 "off.kim's entries"
	sqlite3 "$A/state/offline.db" "SELECT row FROM journal ORDER BY seq DESC LIMIT 1" |
		grep -q '"reason":"offline: cached under a key not loaded"' || fail "the journal does not say why"
	pg_up
	wait_replayed
	ctl audit verify
}

run_test "offline logins: the cache is written at online password logins, on A only" t_cache_written_online
run_test "offline logins disabled (the default): store unreachable, every login refused" t_disabled_refused
# More rows than a batch (64): each batch is its own central transaction
# and moves the replay mark; a replay stopped after the first batch (a
# trigger refuses the 65th row) resumes after it, and nothing is
# replayed twice.
t_replay_in_batches() {
	on_a
	local i first stop
	# The next seq: the journal is empty (all replayed).
	first=$(($(sqlite3 "$A/state/offline.db" "SELECT value FROM meta WHERE key = 'last_seq'") + 1))
	stop=$((first + 64))
	pg_admin "CREATE FUNCTION offline_stop() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN
		IF NEW.category = 'offline' AND NEW.detail IS NOT NULL THEN
		IF (NEW.detail::json->>'seq')::bigint = $stop THEN RAISE EXCEPTION 'replay stopped here'; END IF;
		END IF; RETURN NEW; END \$\$;
		CREATE TRIGGER offline_stop BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION offline_stop()" >/dev/null
	pg_down
	for i in $(seq 1 70); do pam -p "wrong-$i" mamori-test off.nobody auth=AUTH_ERR >/dev/null; done
	journal_rows >"$A/journal-5"
	expect_eq "$(wc -l <"$A/journal-5")" 70 "journal rows"
	expect_eq "$(head -n 1 "$A/journal-5" | cut -d'|' -f1)" "$first" "the first seq"
	pg_up
	pam -p "$PW" mamori-test off.alice auth=SUCCESS >/dev/null # online: wakes the replay
	for i in $(seq 1 100); do
		[ "$(sqlite3 "$A/state/offline.db" "SELECT count(*) FROM journal")" = 6 ] && break
		sleep 0.1
	done
	expect_eq "$(sqlite3 "$A/state/offline.db" "SELECT count(*) FROM journal")" 6 "rows left after the first batch"
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'offline' AND CASE WHEN category = 'offline' THEN (detail::json->>'seq')::bigint END >= $first")" 64 "central rows of the first batch"
	expect_match "$(sql "SELECT value FROM directory_state WHERE key LIKE 'offline-replayed:%'")" "^$((stop - 1)):[0-9a-f]{64}\$" "the mark"
	pg_admin "DROP TRIGGER offline_stop ON audit; DROP FUNCTION offline_stop()" >/dev/null
	wait_replayed
	sql "SELECT (detail::json->>'seq') || '|' || (detail::json->>'hash') FROM audit WHERE CASE WHEN category = 'offline' THEN (detail::json->>'seq')::bigint END >= $first ORDER BY id" >"$A/central-5"
	diff "$A/journal-5" "$A/central-5" || fail "a row replayed twice, or lost"
	ctl audit verify
}

# The replay mark holds the hash of the last row replayed: a journal file
# restored from an older copy, whose new rows take seq numbers already
# replayed, is not taken for the one replayed (its rows would be skipped
# unseen): audited as broken and kept aside.
t_mark_hash_checked() {
	on_a
	local tampered aside
	tampered=$(sql "SELECT count(*) FROM audit WHERE category = 'offline' AND result = 'tampered'")
	aside=$(ls "$A"/state/offline.db.tampered-* | wc -l)
	stop_daemon
	cp -p "$A/state/offline.db" "$A/offline.db.old"
	start_daemon
	pg_down
	pam -p "$PW" mamori-test off.alice auth=SUCCESS >/dev/null
	pg_up
	pam -p "$PW" mamori-test off.alice auth=SUCCESS >/dev/null
	wait_replayed
	stop_daemon
	cp -p "$A/offline.db.old" "$A/state/offline.db"
	start_daemon
	pg_down
	pam -p 'wrong-again' mamori-test off.alice auth=AUTH_ERR >/dev/null # the same seq, another row
	pg_up
	pam -p "$PW" mamori-test off.alice auth=SUCCESS >/dev/null
	wait_replayed
	expect_eq "$(sql "SELECT count(*) FROM audit WHERE category = 'offline' AND result = 'tampered'")" $((tampered + 1)) "tamper rows"
	expect_eq "$(ls "$A"/state/offline.db.tampered-* | wc -l)" $((aside + 1)) "journals kept aside"
	grep -q "the replay mark's row (seq [0-9]*) is not this journal's" "$A/daemon.log" || fail "not logged"
	ctl audit verify
}

run_test "offline logins: a cached account logs in with its password; the transition is logged" t_cached_allowed
run_test "offline logins: a session opens and closes offline, journaled; none for an account not cached" t_cached_session
run_test "P-PRIV-TIME offline: the cached hours of use hold (auth, account, session)" t_hours_refused
run_test "P-LOGIN-UI offline: a wrong password is refused, with the online answer" t_wrong_refused_same_prompts
run_test "P-INPUT offline: an account never logged in here is refused, with the same prompts" \
	t_never_logged_in_refused
run_test "P-LOGIN-UI offline: the cache's own failure counter locks after max_failures" \
	t_locked_after_max_failures
run_test "P-PRIV-STRICT offline: refused for a privileged ID and on a privileged service" t_privileged_refused
run_test "P-MFA-MN offline: refused on a My Number service and where a password is not enough" \
	t_mynumber_refused
run_test "offline logins: status says the terminal is offline" t_status_offline
run_test "P-CRED-STORE offline: the cache holds no password and no unsealed hash" t_cache_holds_no_secret
run_test "offline logins: refused after max_hours" t_too_old_refused
run_test "P-AUDIT offline: on reconnection the journal is replayed in order, and the chain verifies" \
	t_replayed_in_order
run_test "P-AUDIT offline: a second reconnection, and a replay resumed, replay nothing twice" \
	t_second_reconnection_no_duplicates
run_test "P-AUDIT offline: a tampered journal is audited centrally, not replayed" t_tampered_journal_audited
run_test "P-AUDIT offline: a decision whose commit may have landed is refused, never made again offline" \
	t_unknown_commit_not_offline
run_test "offline logins: idle pooled connections to a server that died: the next logins (authentication, account check, session) go offline at once" \
	t_dead_server_idle_pool
run_test "P-CRED-STORE offline: an entry opens with the key that sealed it; one whose key is gone is forgotten" \
	t_key_gone_entry_forgotten
run_test "P-AUDIT offline: the journal is replayed in batches; a replay stopped after one resumes after it" \
	t_replay_in_batches
run_test "P-AUDIT offline: the replay mark's hash is checked; a journal that is not the one replayed is kept aside" \
	t_mark_hash_checked
tap_done
