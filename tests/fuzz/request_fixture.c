/* SPDX-License-Identifier: BSD-2-Clause */
/* The daemon state behind fuzz_pam_request and fuzz_admin_request.
 *
 * Set up once: a private directory (on tmpfs when there is one) with
 * mamori.conf, the store and its key; Argon2id at t=1, m=8 KiB so that a
 * password costs microseconds; a fixed clock; accounts of every kind made
 * through the admin handler and, for the permanent passwords, through a
 * real chauthtok conversation of the PAM handler.  The store file is then
 * kept as a template and copied back before every input that follows one
 * which wrote to it, so that an input always meets the same accounts and a
 * crash replays alone.
 *
 * Invariants checked on every reply (abort() on violation):
 *   - it is a well-formed reply or error that fits in one message;
 *   - non-error replies have the shape docs/architecture.md gives;
 *   - a non-root peer gets nothing but errors for another user's name, and
 *     no call of theirs opens or closes a session of another account,
 *     whatever PAM_RUSER they name (only root peers may name ruser);
 *   - authenticate ends in success only when the answers since its Start
 *     hold the factors the service requires of that account: its password
 *     (a member's, for the shared account), a valid code of the fixture's
 *     TOTP secret where the account has it (dave; erin's pending factor),
 *     both on mn-login, the code alone on totp-only (an account whose
 *     password a chauthtok of the same input changed needs an answer only);
 *   - totp_enroll and compromised end in success only after an answer,
 *     chauthtok only after two (or with prelim);
 *   - AccountCheck and authenticate succeed only for accounts in the store;
 *   - secrets in the request (answers, password, code) are wiped;
 *   - no store transaction is left open (the probe would hang: a timeout). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <liboath/oath.h>

#include "service_admin/admin_service.h"
#include "core/audit.h"
#include "check.h"
#include "core/clock.h"
#include "conf.h"
#include "core/daemon.h"
#include "rules/enroll_code.h"
#include "error.h"
#include "factors/password.h"
#include "factors/totp.h"
#include "core/messages.h"
#include "service_pam/pam_service.h"
#include "request_fixture.h"
#include "core/seal.h"
#include "secure.h"
#include "store/store.h"
#include "wire.h"

/* The RFC 6238 test secret: its codes at FUZZ_CLOCK are in the seeds. */
static const unsigned char totp_secret[] = "12345678901234567890";

static char dir[256];
static char db_path[512];
static unsigned char *template_db;
static size_t template_len;
/* The audit checkpoint that goes with the template store. */
static unsigned char *template_checkpoint;
static size_t template_checkpoint_len;
static char encoded[MAMORI_WIRE_MAX];
/* MAMORI_FUZZ_VERBOSE set: every call and reply goes to stderr. */
static int verbose;

static void
setup_failed(const char *what, const json_t *reply)
{
	char *text = reply != NULL ? json_dumps(reply, JSON_COMPACT) : NULL;

	fprintf(stderr, "fuzz fixture: %s failed: %s\n", what, text != NULL ? text : "(no reply)");
	free(text);
	abort();
}

/* As in main.c: jansson's freed blocks are wiped. */
static void
wiping_free(void *p)
{
	if (p != NULL)
		mamori_freezero(p, malloc_usable_size(p));
}

static void
path_in_dir(char *buf, size_t len, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	check(n > 0 && (size_t)n < len);
}

static void
write_file(const char *path, const void *data, size_t len)
{
	size_t off = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

	check(fd >= 0);
	while (off < len) {
		ssize_t n = write(fd, (const char *)data + off, len - off);
		check(n > 0);
		off += (size_t)n;
	}
	check(close(fd) == 0);
}

static void
read_file(const char *path, unsigned char **data, size_t *len)
{
	struct stat st;
	size_t off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	check(fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0);
	*len = (size_t)st.st_size;
	*data = malloc(*len);
	check(*data != NULL);
	while (off < *len) {
		ssize_t n = read(fd, *data + off, *len - off);
		check(n > 0);
		off += (size_t)n;
	}
	close(fd);
}

static void
remove_store_files(void)
{
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	char p[600];

	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", db_path, suffixes[i]);
		unlink(p);
	}
}

static void
store_open(void)
{
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	char err[512];

	char key[600], checkpoint[600];

	if (mamori_store_open(conf, &mamori_daemon.store, err, sizeof(err)) != MAMORI_OK) {
		fprintf(stderr, "fuzz fixture: store: %s\n", err);
		abort();
	}
	mamori_daemon_conf_put(conf);
	path_in_dir(key, sizeof(key), "audit.key");
	path_in_dir(checkpoint, sizeof(checkpoint), "audit.checkpoint");
	if (mamori_audit_init(mamori_daemon.store, key, checkpoint, err, sizeof(err)) != MAMORI_OK) {
		fprintf(stderr, "fuzz fixture: audit: %s\n", err);
		abort();
	}
}

static void
cleanup(void)
{
	static const char *const names[] = {
		"store.key", "audit.key", "audit.checkpoint", "clock", "mamori.conf", "banner", "run", ""
	};
	char p[600];

	mamori_audit_shutdown();
	mamori_store_close(&mamori_daemon.store);
	mamori_seal_key_forget();
	mamori_daemon_conf_release_all();
	remove_store_files();
	for (size_t i = 0; names[i][0] != '\0'; i++) {
		path_in_dir(p, sizeof(p), names[i]);
		if (unlink(p) != 0 && errno == EISDIR)
			rmdir(p);
	}
	rmdir(dir);
	free(template_db);
	template_db = NULL;
	free(template_checkpoint);
	template_checkpoint = NULL;
}

/* ------------------------------------------------------------ messages */

static json_t *
dispatch(struct mamori_conn *c, const char *method, json_t *params)
{
	if (c->kind == MAMORI_CONN_PAM)
		return mamori_pam_service_handle(c, method, params);
	return mamori_admin_service_handle(c, method, params);
}

/* One call during set-up, given as the text of its parameters. */
static json_t *
setup_call(struct mamori_conn *c, const char *method, const char *params_text)
{
	json_error_t error;
	json_t *params = json_loads(params_text, 0, &error);
	json_t *reply;

	if (params == NULL) {
		fprintf(stderr, "fuzz fixture: bad parameters %s: %s\n", params_text, error.text);
		abort();
	}
	reply = dispatch(c, method, params);
	json_decref(params);
	if (reply == NULL || json_object_get(reply, "error") != NULL)
		setup_failed(method, reply);
	return reply;
}

static void
admin(struct mamori_conn *c, const char *method, const char *params_text)
{
	json_decref(setup_call(c, method, params_text));
}

/* The state of a PAM reply, which must be want. */
static void
pam_expect(json_t *reply, const char *what, const char *want_state, const char *want_result)
{
	json_t *p = json_object_get(reply, "parameters");
	const char *state = json_string_value(json_object_get(p, "state"));
	const char *result = json_string_value(json_object_get(p, "result"));

	if (state == NULL || strcmp(state, want_state) != 0 ||
	    (want_result != NULL && (result == NULL || strcmp(result, want_result) != 0)))
		setup_failed(what, reply);
	json_decref(reply);
}

/* A permanent password: chauthtok from the temporary one, as passwd(1)
 * through pam_mamori would do it. */
static void
change_password(struct mamori_conn *pam, const char *user, const char *temp, const char *final)
{
	char text[512];

	snprintf(text, sizeof(text), "{\"op\":\"chauthtok\",\"service\":\"passwd\",\"user\":\"%s\"}", user);
	pam_expect(setup_call(pam, "io.mamori.Pam.Start", text), "chauthtok start", "prompt", NULL);
	snprintf(text, sizeof(text), "{\"answers\":[\"%s\"]}", temp);
	pam_expect(setup_call(pam, "io.mamori.Pam.Answer", text), "chauthtok current", "prompt", NULL);
	snprintf(text, sizeof(text), "{\"answers\":[\"%s\"]}", final);
	pam_expect(setup_call(pam, "io.mamori.Pam.Answer", text), "chauthtok new", "prompt", NULL);
	pam_expect(setup_call(pam, "io.mamori.Pam.Answer", text), "chauthtok confirm", "done", "success");
	mamori_pam_service_end(pam);
}

static void
temp_password(struct mamori_conn *adm, const char *user, const char *temp)
{
	char text[256];

	snprintf(text, sizeof(text), "{\"name\":\"%s\",\"password\":\"%s\"}", user, temp);
	admin(adm, "io.mamori.Admin.PasswordTemp", text);
}

/* A TOTP factor with the known secret, sealed the way the handlers seal
 * theirs; active or pending. */
static void
install_totp(const char *user, int active)
{
	struct mamori_txn *tx = NULL;
	static const char public_data[] = "{\"algorithm\":\"sha1\",\"digits\":6,\"period\":30}";
	struct mamori_credential r = { .factor = "totp", .state = MAMORI_CRED_PENDING };
	struct mamori_user u;
	size_t sealed_len = 0;
	char aad[64];

	check(mamori_store_begin(mamori_daemon.store, &tx) == MAMORI_OK);
	check(mamori_store_user_get(tx, user, &u) == MAMORI_OK);
	r.user_id = u.id;
	memcpy(r.public_data, public_data, sizeof(public_data) - 1);
	r.public_len = sizeof(public_data) - 1;
	r.created_at = FUZZ_CLOCK - 86400;
	check(mamori_store_cred_insert(tx, &r) == MAMORI_OK);
	snprintf(aad, sizeof(aad), "totp:%lld:%lld", (long long)u.id, (long long)r.id);
	check(mamori_seal(totp_secret, sizeof(totp_secret) - 1, (const unsigned char *)aad, strlen(aad), r.nonce,
	                  r.sealed, sizeof(r.sealed), &sealed_len) == MAMORI_OK);
	check(mamori_store_cred_set_secret(tx, r.id, r.sealed, sealed_len, r.nonce) == MAMORI_OK);
	if (active)
		check(mamori_store_cred_activate(tx, r.id, FUZZ_CLOCK - 86400) == MAMORI_OK);
	check(mamori_store_commit(&tx) == MAMORI_OK);
}

/* An enrolment code for user that inputs can give (README), expiring a
 * day after the fuzz clock. */
static void
install_enroll_code(const char *user, const char *code)
{
	struct mamori_txn *tx = NULL;
	unsigned char digest[MAMORI_ENROLL_DIGEST_LEN];
	struct mamori_user u;

	check(mamori_enroll_code_digest(code, strlen(code), digest) == MAMORI_OK);
	check(mamori_store_begin(mamori_daemon.store, &tx) == MAMORI_OK);
	check(mamori_store_user_get(tx, user, &u) == MAMORI_OK);
	check(mamori_store_enroll_code_put(tx, u.id, digest, FUZZ_CLOCK, FUZZ_CLOCK + 86400) == MAMORI_OK);
	check(mamori_store_commit(&tx) == MAMORI_OK);
}

static const char banner[] = "Authorised use only.\n"
                             "\n"
                             "\033[31mred\033[0m\ttab\r\x7f\n"
                             "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567"
                             "8901234567890123456789012345678901234567890123456789012345678901234567890123456789012345"
                             "6789012345678901234567890123456789012345678901234567890123456789012345678901234567890123"
                             "4567890123456789012345678901234567890123456789012345678901234567890123456789012345678901"
                             "2345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
                             "01234567890123456789012345678901234567890123456789012345678901234567890123456789\n"
                             "\xe7\xae\xa1\xe7\x90\x86\xe8\x80\x85\xe4\xbb\xa5\xe5\xa4\x96\xe7\xa6\x81\xe6\xad\xa2";

static const char conf_template[] = "[daemon]\n"
                                    "runtime_dir = %1$s/run\n"
                                    "state_dir = %1$s\n"
                                    "rate_limit = 100000\n"
                                    "[login]\n"
                                    "banner = %1$s/banner\n"
                                    "[store]\n"
                                    "path = %1$s/mamori.db\n"
                                    "key = %1$s/store.key\n"
                                    "[password]\n"
                                    "argon2_t = 1\n"
                                    "argon2_m_kib = 8\n"
                                    "argon2_p = 1\n"
                                    "[system mn]\n"
                                    "mynumber = yes\n"
                                    "[service mn-login]\n"
                                    "system = mn\n"
                                    "require = password+totp\n"
                                    "[service mfa]\n"
                                    "require = password+totp, password\n"
                                    "[service totp-only]\n"
                                    "require = totp\n"
                                    "[service fido]\n"
                                    "require = fido2+password, card\n"
                                    "[service priv]\n"
                                    "privileged = yes\n"
                                    "[service staffonly]\n"
                                    "allow_users = alice, dave\n"
                                    "allow_groups = root\n"
                                    "[service local]\n"
                                    "remote = no\n"
                                    "[policy privileged]\n"
                                    "hours = Mon-Fri 08:00-20:00\n";

static void
make_accounts(void)
{
	/* root logged in: a known person may administer privileged IDs
	 * (P-PRIV-CONTRACTOR). */
	struct mamori_conn adm = { .fd = -1, .kind = MAMORI_CONN_ADMIN, .peer = { .loginuid = 0 } };
	struct mamori_conn pam = { .fd = -1, .kind = MAMORI_CONN_PAM, .peer = { .loginuid = (uid_t)-1 } };

	snprintf(adm.peer.name, sizeof(adm.peer.name), "root");
	snprintf(pam.peer.name, sizeof(pam.peer.name), "root");

	admin(&adm, "io.mamori.Admin.UserAdd", "{\"name\":\"alice\"}");
	temp_password(&adm, "alice", "Tq8-Zr2w-Hn5v-Lp");
	change_password(&pam, "alice", "Tq8-Zr2w-Hn5v-Lp", "Kq7#mW2p!xRt9zAb");

	/* bob keeps a temporary password: must change, ticket path. */
	admin(&adm, "io.mamori.Admin.UserAdd", "{\"name\":\"bob\"}");
	temp_password(&adm, "bob", "Bx4$hN8v@Lc3qYw");

	admin(&adm, "io.mamori.Admin.UserAdd", "{\"name\":\"carol\",\"kind\":\"contractor\"}");
	temp_password(&adm, "carol", "Wq3-Ty6u-Io9p-As");
	change_password(&pam, "carol", "Wq3-Ty6u-Io9p-As", "Cw9%tR3e&Yk6uIo");

	admin(&adm, "io.mamori.Admin.UserAdd", "{\"name\":\"dave\"}");
	temp_password(&adm, "dave", "Gh2-Jk5l-Zx8c-Vb");
	change_password(&pam, "dave", "Gh2-Jk5l-Zx8c-Vb", "Dp2^gF7j*Vb4nMs");
	install_totp("dave", 1);

	/* erin: an enrolment waiting for its code, and TOTP required. */
	admin(&adm, "io.mamori.Admin.UserAdd", "{\"name\":\"erin\"}");
	temp_password(&adm, "erin", "Nm4-Qw7e-Rt1y-Ui");
	change_password(&pam, "erin", "Nm4-Qw7e-Rt1y-Ui", "Ej5(kL8o)Zx1cQa");
	install_totp("erin", 0);
	admin(&adm, "io.mamori.Admin.TotpRequire", "{\"name\":\"erin\"}");
	install_enroll_code("erin", "ERIN-CODE-2345-6777");

	admin(&adm, "io.mamori.Admin.UserAdd", "{\"name\":\"opsadmin1\",\"privileged\":true}");
	temp_password(&adm, "opsadmin1", "Op7-As2d-Fg5h-Jk9l");
	change_password(&pam, "opsadmin1", "Op7-As2d-Fg5h-Jk9l", "Pv9!rT4#wQ8$zL2m");

	admin(&adm, "io.mamori.Admin.UserAdd", "{\"name\":\"team\",\"kind\":\"shared\"}");
	admin(&adm, "io.mamori.Admin.UserMembers", "{\"name\":\"team\",\"action\":\"add\",\"member\":\"alice\"}");
	admin(&adm, "io.mamori.Admin.UserMembers", "{\"name\":\"team\",\"action\":\"add\",\"member\":\"dave\"}");
	admin(&adm, "io.mamori.Admin.UserEnable", "{\"name\":\"team\"}");

	admin(&adm, "io.mamori.Admin.UserAdd", "{\"name\":\"frank\"}");
	temp_password(&adm, "frank", "Fr4-Nk7t-Mp2w-Qz");
	admin(&adm, "io.mamori.Admin.UserDisable", "{\"name\":\"frank\"}");

	admin(&adm, "io.mamori.Admin.UserAdd", "{\"name\":\"devon\",\"kind\":\"dev\",\"expires\":\"2025-12-31\"}");
	temp_password(&adm, "devon", "Dv5-Xe8r-Wq3t-Yu");

	admin(&adm, "io.mamori.Admin.UserAdd", "{\"name\":\"hana\",\"hours\":\"Sat-Sun 09:00-10:00\"}");
	temp_password(&adm, "hana", "Hh3+jK6-lM9=nB2x");

	/* pending: no password at all. */
	admin(&adm, "io.mamori.Admin.UserAdd", "{\"name\":\"gina\"}");
}

void
fuzz_fixture_init(void)
{
	const char *tmp = getenv("TMPDIR");
	struct mamori_conf *conf;
	char p[600], conf_path[600], text[2048], err[512], clock_text[32];
	struct stat st;
	int n;

	verbose = getenv("MAMORI_FUZZ_VERBOSE") != NULL;
	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";
	else if (tmp == NULL || tmp[0] != '/')
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/mamori-fuzz-request.XXXXXX", tmp);
	check(mkdtemp(dir) != NULL);
	atexit(cleanup);
	path_in_dir(db_path, sizeof(db_path), "mamori.db");

	/* Deterministic time and zone: hours of use, expiry and TOTP codes. */
	path_in_dir(p, sizeof(p), "clock");
	n = snprintf(clock_text, sizeof(clock_text), "%lld\n", (long long)FUZZ_CLOCK);
	write_file(p, clock_text, (size_t)n);
	check(setenv("MAMORI_TEST_CLOCK_FILE", p, 1) == 0);
	check(setenv("TZ", "Asia/Tokyo", 1) == 0);
	tzset();

	/* What OpenSession shows: control characters, blank and overlong lines. */
	path_in_dir(p, sizeof(p), "banner");
	write_file(p, banner, sizeof(banner) - 1);
	n = snprintf(text, sizeof(text), conf_template, dir);
	check(n > 0 && (size_t)n < sizeof(text));
	path_in_dir(conf_path, sizeof(conf_path), "mamori.conf");
	write_file(conf_path, text, (size_t)n);
	conf = mamori_conf_load(conf_path, err, sizeof(err));
	if (conf == NULL) {
		fprintf(stderr, "fuzz fixture: %s\n", err);
		abort();
	}

	(void)mamori_messages_init();
	json_set_alloc_funcs(malloc, wiping_free);
	mamori_daemon.config_path = NULL;
	mamori_daemon.started_at = mamori_clock_now();
	check(mamori_daemon_conf_set(conf) == MAMORI_OK);
	conf = NULL;
	store_open();
	check(mamori_password_init(1) == MAMORI_OK);
	check(mamori_totp_init() == MAMORI_OK);
	path_in_dir(p, sizeof(p), "store.key");
	if (mamori_seal_key_load(p, 1, err, sizeof(err)) != MAMORI_OK) {
		fprintf(stderr, "fuzz fixture: store key: %s\n", err);
		abort();
	}

	make_accounts();

	/* The template every input starts from. */
	mamori_audit_shutdown();
	mamori_store_close(&mamori_daemon.store);
	read_file(db_path, &template_db, &template_len);
	path_in_dir(p, sizeof(p), "audit.checkpoint");
	read_file(p, &template_checkpoint, &template_checkpoint_len);
}

/* --------------------------------------------------------------- runs */

/* Whether the last input wrote to the store.  In WAL mode every write,
 * even one rolled back after its pages spilled, appends to the -wal file,
 * and nothing but a checkpoint of those frames writes to the database
 * file; the store is opened on an empty WAL.  So an input left the store
 * as the template made it when the WAL is still empty and the database
 * file still has the template's size and modification time. */
static struct stat restored;

static int
store_written(void)
{
	struct stat st;
	char wal[600];

	snprintf(wal, sizeof(wal), "%s-wal", db_path);
	if (stat(wal, &st) == 0 ? st.st_size != 0 : errno != ENOENT)
		return 1;
	if (stat(db_path, &st) != 0)
		return 1;
	return st.st_size != restored.st_size || st.st_mtim.tv_sec != restored.st_mtim.tv_sec ||
	       st.st_mtim.tv_nsec != restored.st_mtim.tv_nsec || st.st_ino != restored.st_ino;
}

/* Most inputs are refused before they reach the store: copying the
 * template back and opening it again only after one that wrote keeps the
 * request targets at a few thousand executions a second. */
static void
store_restore(void)
{
	char p[600];

	if (mamori_daemon.store != NULL && !store_written())
		return;
	mamori_audit_shutdown();
	mamori_store_close(&mamori_daemon.store);
	remove_store_files();
	write_file(db_path, template_db, template_len);
	path_in_dir(p, sizeof(p), "audit.checkpoint");
	write_file(p, template_checkpoint, template_checkpoint_len);
	store_open();
	check(stat(db_path, &restored) == 0);
	check(!store_written());
}

/* A transaction left open holds the store's lock: this would hang, and
 * libFuzzer reports the hang with this frame on the stack. */
static void
check_no_transaction(void)
{
	struct mamori_txn *tx = NULL;
	check(mamori_store_begin(mamori_daemon.store, &tx) == MAMORI_OK);
	mamori_store_rollback(&tx);
}

static int
user_exists(const char *name)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	int rc;

	if (name == NULL)
		return 0;
	check(mamori_store_begin(mamori_daemon.store, &tx) == MAMORI_OK);
	rc = mamori_store_user_get(tx, name, &u);
	mamori_store_rollback(&tx);
	return rc == MAMORI_OK;
}

static void
pick_peer(struct mamori_peer *peer, uint8_t byte)
{
	static const struct {
		uid_t uid;
		const char *name;
	} peers[5] = { { 0, "root" }, { 1000, "alice" }, { 1001, "carol" }, { 1002, "" }, { 1003, "zed" } };
	/* zed: a local user with no account, whose calls could otherwise fall
	 * back on the PAM_RUSER they name. */
	unsigned i = byte % 5u;

	memset(peer, 0, sizeof(*peer));
	peer->pid = 4242;
	peer->uid = peers[i].uid;
	peer->gid = peers[i].uid;
	peer->acct_uid = peers[i].uid; /* as mamori_peer_get: a non-root peer counts as itself */
	/* root with its own login uid, or with none (an unknown person). */
	peer->loginuid = i == 0 && (byte & 4u) != 0 ? 0 : (uid_t)-1;
	snprintf(peer->name, sizeof(peer->name), "%s", peers[i].name);
}

static int
string_is(const json_t *v, const char *s)
{
	return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

static int
string_in(const json_t *v, const char *const *set)
{
	for (; *set != NULL; set++) {
		if (string_is(v, *set))
			return 1;
	}
	return 0;
}

static int
is_zero(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\0')
			return 0;
	}
	return 1;
}

static void
check_wiped(const json_t *v)
{
	if (json_is_string(v))
		check(is_zero(json_string_value(v), json_string_length(v)));
}

static void
check_messages(const json_t *messages, const char *const *styles)
{
	const json_t *m;
	size_t i;

	check(json_is_array(messages));
	json_array_foreach (messages, i, m) {
		check(json_is_object(m) && string_in(json_object_get(m, "style"), styles));
		check(json_is_string(json_object_get(m, "text")));
	}
}

/* The accounts make_accounts() leaves, with the password each has then
 * (temporary for bob, frank, devon and hana; none for team and gina). */
static const struct {
	const char *name;
	const char *password;
} accounts[] = {
	{ "alice", "Kq7#mW2p!xRt9zAb" },
	{ "bob", "Bx4$hN8v@Lc3qYw" },
	{ "carol", "Cw9%tR3e&Yk6uIo" },
	{ "dave", "Dp2^gF7j*Vb4nMs" },
	{ "erin", "Ej5(kL8o)Zx1cQa" },
	{ "opsadmin1", "Pv9!rT4#wQ8$zL2m" },
	{ "team", NULL },
	{ "frank", "Fr4-Nk7t-Mp2w-Qz" },
	{ "devon", "Dv5-Xe8r-Wq3t-Yu" },
	{ "hana", "Hh3+jK6-lM9=nB2x" },
	{ "gina", NULL },
};
#define ACCOUNTS (sizeof(accounts) / sizeof(accounts[0]))

static int
account_index(const char *name)
{
	for (size_t i = 0; i < ACCOUNTS; i++)
		if (!strcmp(accounts[i].name, name))
			return (int)i;
	return -1;
}

static unsigned
account_bit(const char *name)
{
	int i = account_index(name);

	return i >= 0 ? 1u << i : 0;
}

static int
count_one(const struct mamori_session *session, void *data)
{
	(void)session;
	(*(unsigned *)data)++;
	return 0;
}

/* The open sessions of each account of accounts[]. */
static void
count_open_sessions(unsigned *counts)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u;

	check(mamori_store_begin(mamori_daemon.store, &tx) == MAMORI_OK);
	for (size_t i = 0; i < ACCOUNTS; i++) {
		counts[i] = 0;
		if (mamori_store_user_get(tx, accounts[i].name, &u) == MAMORI_OK)
			check(mamori_store_session_foreach_open(tx, u.id, count_one, &counts[i]) == MAMORI_OK);
	}
	mamori_store_rollback(&tx);
}

/* What one input has said and heard so far on its connection. */
struct run {
	struct mamori_conn conn;
	char op[32]; /* of the last Start */
	char service[64];
	int prelim;
	unsigned answers; /* since the last Start */
	unsigned pw_given; /* account bits: its password among those answers */
	int code_given; /* a valid code of totp_secret among them */
	unsigned changed; /* account bits: password changed by a chauthtok of this input */
	char user[MAMORI_USER_NAME_MAX + 1];
	char ticket[80];
	unsigned open_before[ACCOUNTS]; /* open sessions before a non-root peer's call */
};

/* A code of totp_secret valid at FUZZ_CLOCK (within the widest window a
 * configuration may give). */
static int
totp_code_valid(const char *answer)
{
	return strlen(answer) == 6 &&
	       oath_totp_validate((const char *)totp_secret, sizeof(totp_secret) - 1, (time_t)FUZZ_CLOCK, 30, 0,
	                          MAMORI_TOTP_WINDOW_MAX, answer) >= 0;
}

/* An authenticate success: the answers since Start held what the service
 * requires of the account. */
static void
check_factors(const struct run *r)
{
	unsigned me = account_bit(r->user), pw_ok, code_ok;

	check(me != 0); /* a PAM connection cannot add accounts */
	if (r->changed & me)
		return; /* its password is one this input chose */
	pw_ok = r->pw_given & (!strcmp(r->user, "team") ? account_bit("alice") | account_bit("dave") : me);
	code_ok = r->code_given && (me & (account_bit("dave") | account_bit("erin") | account_bit("team")));
	if (!strcmp(r->service, "totp-only"))
		check(code_ok);
	else if (!strcmp(r->service, "mn-login"))
		check(pw_ok && code_ok);
	else
		check(pw_ok);
}

static void
check_pam_reply(struct run *r, const char *method, const json_t *params)
{
	static const char *const prompt_styles[] = { "echo_off", "echo_on", "info", "error", NULL };
	static const char *const message_styles[] = { "info", "error", NULL };
	static const char *const account_results[] = { "success",      "acct_expired", "new_authtok_reqd",
		                                       "user_unknown", "perm_denied",  NULL };
	const json_t *prompt;
	const char *result;
	size_t i;

	if (!strcmp(method, "io.mamori.Pam.Start") || !strcmp(method, "io.mamori.Pam.Answer")) {
		const json_t *state = json_object_get(params, "state");
		if (string_is(state, "prompt")) {
			const json_t *prompts = json_object_get(params, "prompts");
			check(json_is_array(prompts) && json_array_size(prompts) >= 1 && json_array_size(prompts) <= 4);
			json_array_foreach (prompts, i, prompt) {
				check(json_is_object(prompt) &&
				      string_in(json_object_get(prompt, "style"), prompt_styles));
				check(json_is_string(json_object_get(prompt, "text")));
			}
			return;
		}
		check(string_is(state, "done"));
		result = json_string_value(json_object_get(params, "result"));
		check(result != NULL && result[0] != '\0');
		check_messages(json_object_get(params, "messages"), message_styles);
		if (json_is_string(json_object_get(params, "ticket")))
			snprintf(r->ticket, sizeof(r->ticket), "%s",
			         json_string_value(json_object_get(params, "ticket")));
		if (strcmp(result, "success") != 0)
			return;
		/* Nothing succeeds without its answers. */
		if (!strcmp(r->op, "chauthtok"))
			check(r->prelim || r->answers >= 2);
		else
			check(r->answers >= 1);
		if (!strcmp(r->op, "chauthtok") && !r->prelim)
			r->changed |= account_bit(r->user);
		if (!strcmp(r->op, "authenticate")) {
			check(user_exists(r->user));
			check_factors(r);
		}
		return;
	}
	if (!strcmp(method, "io.mamori.Pam.AccountCheck")) {
		check(string_in(json_object_get(params, "result"), account_results));
		check_messages(json_object_get(params, "messages"), message_styles);
		if (string_is(json_object_get(params, "result"), "success"))
			check(user_exists(r->user));
		return;
	}
	if (!strcmp(method, "io.mamori.Pam.OpenSession")) {
		check(string_is(json_object_get(params, "result"), "success"));
		check(json_is_integer(json_object_get(params, "session_id")));
		check_messages(json_object_get(params, "messages"), message_styles);
		return;
	}
	if (!strcmp(method, "io.mamori.Pam.CloseSession")) {
		check(string_is(json_object_get(params, "result"), "success"));
		return;
	}
	/* Any other method is answered with an error. */
	check(0);
}

static void
check_admin_reply(const char *method, const json_t *params)
{
	static const char *const user_methods[] = {
		"io.mamori.Admin.UserAdd",     "io.mamori.Admin.UserShow",
		"io.mamori.Admin.UserDisable", "io.mamori.Admin.UserEnable",
		"io.mamori.Admin.UserSet",     "io.mamori.Admin.UserRename",
		"io.mamori.Admin.UserLock",    "io.mamori.Admin.UserUnlock",
		"io.mamori.Admin.UserMembers", "io.mamori.Admin.PasswordCompromised",
		"io.mamori.Admin.TotpConfirm", "io.mamori.Admin.TotpRemove",
		"io.mamori.Admin.TotpRequire", NULL
	};

	for (size_t i = 0; user_methods[i] != NULL; i++) {
		if (!strcmp(method, user_methods[i])) {
			const json_t *u = json_object_get(params, "user");
			check(json_is_object(u) && json_is_string(json_object_get(u, "name")));
			check(json_is_string(json_object_get(u, "state")));
			return;
		}
	}
	if (!strcmp(method, "io.mamori.Admin.UserList"))
		check(json_is_array(json_object_get(params, "users")));
	else if (!strcmp(method, "io.mamori.Admin.TotpList"))
		check(json_is_array(json_object_get(params, "factors")));
	else if (!strcmp(method, "io.mamori.Admin.AuditShow"))
		check(json_is_array(json_object_get(params, "records")));
	else if (!strcmp(method, "io.mamori.Admin.AuditVerify"))
		check(json_is_boolean(json_object_get(params, "ok")));
	else if (!strcmp(method, "io.mamori.Admin.PasswordTemp"))
		check(json_is_integer(json_object_get(params, "expires_at")));
	else if (!strcmp(method, "io.mamori.Admin.TotpEnroll"))
		check(json_is_string(json_object_get(params, "uri")) &&
		      json_is_string(json_object_get(params, "secret")));
	else if (!strcmp(method, "io.mamori.Admin.Status"))
		check(json_is_string(json_object_get(params, "version")));
	else if (strcmp(method, "io.mamori.Admin.UserDelete") != 0)
		check(0); /* unknown methods get an error */
}

static void
check_reply(struct run *r, const char *method, const json_t *reply)
{
	const json_t *params, *error;
	size_t len = 0;

	check(reply != NULL && json_is_object(reply));
	/* The daemon must be able to send it. */
	check(mamori_wire_encode(reply, encoded, sizeof(encoded), &len) == MAMORI_OK);
	params = json_object_get(reply, "parameters");
	check(json_is_object(params));
	error = json_object_get(reply, "error");
	if (error != NULL) {
		const char *name = json_string_value(error);
		check(name != NULL &&
		      (!strncmp(name, "io.mamori.Error.", 16) || !strncmp(name, "org.varlink.service.", 20)));
		return;
	}
	check(json_object_size(reply) == 1);
	if (r->conn.kind == MAMORI_CONN_PAM)
		check_pam_reply(r, method, params);
	else
		check_admin_reply(method, params);
}

/* The PAM calls that name a user: only root may name another. */
static int
names_user(const char *method)
{
	return !strcmp(method, "io.mamori.Pam.Start") || !strcmp(method, "io.mamori.Pam.AccountCheck") ||
	       !strcmp(method, "io.mamori.Pam.OpenSession") || !strcmp(method, "io.mamori.Pam.CloseSession");
}

/* Before the call: note what the oracles need, fill in the ticket. */
static void
note_call(struct run *r, const char *method, json_t *params)
{
	const char *s;

	if (r->conn.kind != MAMORI_CONN_PAM)
		return;
	if (r->conn.peer.uid != 0)
		count_open_sessions(r->open_before);
	if (!strcmp(method, "io.mamori.Pam.Answer")) {
		const json_t *a;
		size_t i, k;

		r->answers++;
		/* Before the handler wipes them. */
		json_array_foreach (json_object_get(params, "answers"), i, a) {
			if (!json_is_string(a))
				continue;
			for (k = 0; k < ACCOUNTS; k++)
				if (accounts[k].password != NULL && !strcmp(json_string_value(a), accounts[k].password))
					r->pw_given |= 1u << k;
			if (totp_code_valid(json_string_value(a)))
				r->code_given = 1;
		}
		return;
	}
	if (!names_user(method))
		return;
	s = json_string_value(json_object_get(params, "user"));
	snprintf(r->user, sizeof(r->user), "%s", s != NULL ? s : "");
	if (strcmp(method, "io.mamori.Pam.Start") != 0)
		return;
	s = json_string_value(json_object_get(params, "op"));
	snprintf(r->op, sizeof(r->op), "%s", s != NULL ? s : "");
	s = json_string_value(json_object_get(params, "service"));
	snprintf(r->service, sizeof(r->service), "%s", s != NULL ? s : "");
	r->prelim = json_is_true(json_object_get(params, "prelim"));
	r->answers = 0;
	r->pw_given = 0;
	r->code_given = 0;
	if (string_is(json_object_get(params, "ticket"), FUZZ_TICKET_PLACEHOLDER) && r->ticket[0] != '\0')
		json_object_set_new(params, "ticket", json_string(r->ticket));
}

/* After the call: secrets wiped, identity respected, store unlocked. */
static void
check_after(struct run *r, const char *method, const json_t *params, const json_t *reply)
{
	const json_t *a;
	size_t i;

	check_no_transaction();
	if (r->conn.kind == MAMORI_CONN_ADMIN) {
		if (!strcmp(method, "io.mamori.Admin.PasswordTemp"))
			check_wiped(json_object_get(params, "password"));
		if (!strcmp(method, "io.mamori.Admin.TotpConfirm"))
			check_wiped(json_object_get(params, "code"));
		return;
	}
	if (!strcmp(method, "io.mamori.Pam.Answer")) {
		json_array_foreach (json_object_get(params, "answers"), i, a)
			check_wiped(a);
	}
	if (r->conn.peer.uid != 0 && names_user(method) && json_object_get(reply, "error") == NULL)
		check(r->conn.peer.name[0] != '\0' && strcmp(r->user, r->conn.peer.name) == 0);
	if (r->conn.peer.uid != 0) {
		/* Whatever ruser said: only the peer's own sessions may change. */
		unsigned after[ACCOUNTS];

		count_open_sessions(after);
		for (i = 0; i < ACCOUNTS; i++)
			if (strcmp(accounts[i].name, r->conn.peer.name) != 0)
				check(after[i] == r->open_before[i]);
	}
}

static void
show(const char *direction, const json_t *msg)
{
	char *text = msg != NULL ? json_dumps(msg, JSON_COMPACT) : NULL;

	fprintf(stderr, "%s %s\n", direction, text != NULL ? text : "(null)");
	free(text);
}

/* One message, as serve() in server.c handles it; 0 when the server would
 * close the connection. */
static int
one_message(struct run *r, const char *text, size_t len)
{
	json_t *msg = NULL, *params, *reply;
	const char *method;
	int rc;

	rc = mamori_wire_decode(text, len, &msg);
	if (rc != MAMORI_OK) {
		check(msg == NULL);
		return 0;
	}
	method = mamori_wire_method(msg);
	params = json_object_get(msg, "parameters");
	if (method == NULL || (params != NULL && !json_is_object(params))) {
		json_decref(msg);
		return 0;
	}
	if (params == NULL) {
		params = json_object();
		json_object_set_new(msg, "parameters", params);
	}
	/* GetInfo is answered by server.c itself. */
	if (!strcmp(method, "org.varlink.service.GetInfo")) {
		json_decref(msg);
		return 1;
	}
	note_call(r, method, params);
	if (verbose)
		show(">", msg);
	reply = dispatch(&r->conn, method, params);
	if (verbose)
		show("<", reply);
	check_reply(r, method, reply);
	check_after(r, method, params, reply);
	json_decref(reply);
	json_decref(msg);
	return 1;
}

void
fuzz_fixture_run(enum mamori_conn_kind kind, const uint8_t *data, size_t size)
{
	struct run r;

	if (size < 2)
		return;
	memset(&r, 0, sizeof(r));
	r.conn.fd = -1;
	r.conn.kind = kind;
	pick_peer(&r.conn.peer, data[0]);
	data++;
	size--;
	store_restore();
	for (unsigned n = 0; n < FUZZ_MESSAGES_MAX; n++) {
		const uint8_t *nul = memchr(data, '\0', size);
		size_t len = nul != NULL ? (size_t)(nul - data) : size;

		if (!one_message(&r, (const char *)data, len) || nul == NULL)
			break;
		data = nul + 1;
		size -= len + 1;
	}
	/* The connection closes. */
	mamori_pam_service_end(&r.conn);
	check(r.conn.conversation == NULL);
	mamori_wipe(r.ticket, sizeof(r.ticket));
}
