/* SPDX-License-Identifier: BSD-2-Clause */
/* mamori-authd: start-up, hardening, and the main loop. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/audit.h"
#include "conf.h"
#include "core/daemon.h"
#include "core/fleet.h"
#include "core/offline.h"
#include "error.h"
#include "factors/password.h"
#include "factors/totp.h"
#include "core/housekeeping.h"
#include "directory/directory.h"
#include "rules/card_watch.h"
#include "rules/incident.h"
#include "log.h"
#include "core/messages.h"
#include "service_pam/pam_service.h"
#include "core/seal.h"
#include "secure.h"
#include "core/server.h"
#include "store/store.h"

/* Whether standard error is the journal's stream (systemd sets
 * JOURNAL_STREAM to its device and inode): syslog() reaches the journal
 * already, and the same line twice would be noise. */
static int
stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (env == NULL || sscanf(env, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* jansson holds passwords while a message is decoded; wipe every block it
 * frees, including the intermediate buffers of its parser. */
static void
wiping_free(void *p)
{
	if (p != NULL)
		mamori_freezero(p, malloc_usable_size(p));
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: mamori-authd [--config FILE] [--foreground] [--debug]\n"
	             "       mamori-authd --version\n");
}

static int
harden_process(void)
{
	struct rlimit nocore = { 0, 0 };

	/* No core dumps: they would hold passwords and keys. */
	if (setrlimit(RLIMIT_CORE, &nocore) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		mamori_log_err("cannot disable core dumps: %s", strerror(errno));
		return -1;
	}
	umask(077);
	return 0;
}

static int
prepare_state_dir(const struct mamori_conf *conf)
{
	struct stat st;

	if (mkdir(conf->state_dir, 0700) != 0 && errno != EEXIST) {
		mamori_log_err("%s: %s", conf->state_dir, strerror(errno));
		return -1;
	}
	if (lstat(conf->state_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		mamori_log_err("%s: not a directory", conf->state_dir);
		return -1;
	}
	if ((st.st_mode & 022) != 0) {
		mamori_log_err("%s: writable by others (mode %04o)", conf->state_dir, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

static int
audit_daemon_append(struct mamori_txn *tx, void *data)
{
	return mamori_audit_append(tx, data, mamori_clock_now());
}

/* The daemon's start or stop, in the audit log (run again when refused:
 * two daemons that share a node name meet at their first rows). */
static void
audit_daemon(const char *result, const char *reason)
{
	struct mamori_audit_event ev = {
		.category = "daemon",
		.result = result,
		.reason = reason,
		.peer_uid = -1,
		.peer_pid = (int64_t)getpid(),
	};
	int rc = mamori_store_run(mamori_daemon.store, audit_daemon_append, &ev);

	if (rc != MAMORI_OK)
		mamori_log_err("audit: the daemon's %s event was not written: %s", reason, mamori_strerror(rc));
}

/* The sealed TOTP secrets in the store: how many, grouped by the key that
 * sealed them (its id, "" when not recorded), with the first of each group
 * to check the keyring against. */
#define CENSUS_GROUPS 8
/* directory_state's key for the shared store's key id (store_key_claim). */
#define STORE_KEY_CLAIM MAMORI_STORE_KEY_CLAIM
struct census_group {
	char key_id[MAMORI_CRED_SEAL_KEY_ID_MAX + 1];
	int64_t count;
	int64_t cred_id, user_id;
	unsigned char sealed[MAMORI_CRED_SEALED_MAX];
	size_t sealed_len;
	unsigned char nonce[MAMORI_SEAL_NONCE_LEN];
};
struct sealed_census {
	int64_t count;
	int groups;
	struct census_group g[CENSUS_GROUPS];
};

static int
sealed_count_one(const struct mamori_credential *r, const char *user, void *data)
{
	struct sealed_census *census = data;
	struct census_group *g = NULL;

	(void)user;
	if (r->sealed_len == 0)
		return MAMORI_OK;
	census->count++;
	for (int i = 0; i < census->groups && g == NULL; i++)
		if (strcmp(census->g[i].key_id, r->seal_key_id) == 0)
			g = &census->g[i];
	if (g == NULL && census->groups < CENSUS_GROUPS) {
		g = &census->g[census->groups++];
		memcpy(g->key_id, r->seal_key_id, sizeof(g->key_id));
		g->cred_id = r->id;
		g->user_id = r->user_id;
		memcpy(g->sealed, r->sealed, r->sealed_len);
		g->sealed_len = r->sealed_len;
		memcpy(g->nonce, r->nonce, sizeof(g->nonce));
	}
	if (g != NULL)
		g->count++;
	return MAMORI_OK;
}

/* Check each group of sealed secrets against the keyring: the first of a
 * group whose key is loaded must open.  *opened: groups that open;
 * *missing: secrets under keys not loaded.  MAMORI_ERR_CRYPTO when a
 * loaded key fails to open its group. */
static int
census_check(const struct sealed_census *census, int *opened, int64_t *missing)
{
	unsigned char plain[MAMORI_CRED_SEALED_MAX];
	size_t plain_len = 0;
	char aad[64];
	int rc = MAMORI_OK;

	*opened = 0;
	*missing = census->count;
	for (int i = 0; i < census->groups; i++) {
		const struct census_group *g = &census->g[i];

		if (g->key_id[0] != '\0' && !mamori_seal_key_loaded(g->key_id)) {
			mamori_log_warn("store key: %lld sealed TOTP secrets are under store key %s, which is not "
			                "loaded: their logins fail until it is installed (mamorictl key status)",
			                (long long)g->count, g->key_id);
			continue;
		}
		snprintf(aad, sizeof(aad), "totp:%lld:%lld", (long long)g->user_id, (long long)g->cred_id);
		if (mamori_unseal_with(g->key_id, g->sealed, g->sealed_len, g->nonce, (const unsigned char *)aad,
		                       strlen(aad), plain, sizeof(plain), &plain_len) != MAMORI_OK) {
			rc = MAMORI_ERR_CRYPTO;
			continue;
		}
		(*opened)++;
		*missing -= g->count;
	}
	mamori_wipe(plain, sizeof(plain));
	return rc;
}

/* A store without sealed secrets: the first daemon to start on it records
 * its key's id (mamori_store_state_claim, first writer wins); a daemon
 * started with another key (two terminals started together on a new
 * shared store, each having made its own) refuses to start, since its
 * secrets would not open anywhere else (docs/deployment.md).  PostgreSQL
 * only: a terminal's own SQLite store has one daemon.  Once secrets exist
 * they decide (store_key_load), and the id follows the current key. */
static int
store_key_claim(const struct mamori_conf *conf, int empty, char *err, size_t errlen)
{
	struct mamori_txn *tx = NULL;
	char mine[MAMORI_SEAL_KEY_ID_LEN + 1], first[256];
	int rc, attempt = 0;

	if (strcmp(mamori_store_backend(mamori_daemon.store), "postgresql") != 0)
		return MAMORI_OK;
	if ((rc = mamori_seal_key_id(MAMORI_SEAL_CURRENT, mine)) != MAMORI_OK) {
		snprintf(err, errlen, "no store key loaded");
		return rc;
	}
	do {
		if ((rc = mamori_store_begin(mamori_daemon.store, &tx)) != MAMORI_OK)
			continue;
		if (!empty && (rc = mamori_store_dir_state_set(tx, STORE_KEY_CLAIM, mine)) == MAMORI_OK)
			snprintf(first, sizeof(first), "%s", mine);
		else if (empty)
			rc = mamori_store_state_claim(tx, STORE_KEY_CLAIM, mine, first, sizeof(first));
		rc = mamori_store_end(&tx, rc);
	} while (mamori_store_retry(&rc, &attempt));
	if (rc != MAMORI_OK) {
		snprintf(err, errlen, "the store failed recording the store key's id");
		return rc;
	}
	if (strcmp(first, mine) == 0)
		return MAMORI_OK;
	/* A rotation on a store still empty: the recorded key is this
	 * terminal's previous or next one; the current one is recorded. */
	if (mamori_seal_key_loaded(first)) {
		attempt = 0;
		do {
			if ((rc = mamori_store_begin(mamori_daemon.store, &tx)) == MAMORI_OK)
				rc = mamori_store_end(&tx, mamori_store_dir_state_set(tx, STORE_KEY_CLAIM, mine));
		} while (mamori_store_retry(&rc, &attempt));
		if (rc != MAMORI_OK)
			snprintf(err, errlen, "the store failed recording the store key's id");
		return rc;
	}
	snprintf(err, errlen,
	         "%s (store key %s) is not the key of this shared store: the first daemon started on it uses store "
	         "key %s; copy that daemon's key file here and start again (docs/deployment.md, The sealing key "
	         "across terminals)",
	         conf->store_key, mine, first);
	return MAMORI_ERR_CONFIG;
}

/* P-CRED-STORE: load the keyring that seals TOTP secrets.  The current key
 * is made only for a store that holds no sealed secret: a new key would
 * never open the old ones, and every TOTP login would fail.  When secrets
 * exist, the key must be there, and the keyring must open them (a key id
 * not loaded is a warning naming it, as long as some secrets open). */
static int
store_key_load(const struct mamori_conf *conf, char *err, size_t errlen)
{
	struct mamori_txn *tx = NULL;
	struct sealed_census *census = calloc(1, sizeof(*census));
	int64_t missing = 0;
	int rc, opened = 0;

	if (census == NULL || mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
		snprintf(err, errlen, census == NULL ? "out of memory" : "the store failed");
		free(census);
		return census == NULL ? MAMORI_ERR_NOMEM : MAMORI_ERR_STORE;
	}
	rc = mamori_store_cred_foreach(tx, "totp", NULL, 0, sealed_count_one, census);
	if (mamori_store_commit(&tx) != MAMORI_OK)
		rc = MAMORI_ERR_STORE;
	if (rc != MAMORI_OK) {
		snprintf(err, errlen, "the store failed");
		goto out;
	}
	rc = mamori_seal_key_load(conf->store_key, census->count == 0, err, errlen);
	if (rc == MAMORI_ERR_NOT_FOUND) {
		snprintf(err, errlen,
		         "%s is missing, but the store holds %lld sealed TOTP secrets that only that key opens: "
		         "restore it from a backup and start again; if it is lost, see SEALED SECRETS in "
		         "mamori-authd(8) (a new key would make every TOTP login fail)",
		         conf->store_key, (long long)census->count);
		goto out;
	}
	if (rc != MAMORI_OK)
		goto out;
	mamori_seal_keyring_load(conf);
	if (census->count == 0) {
		if ((rc = store_key_claim(conf, 1, err, errlen)) != MAMORI_OK)
			mamori_seal_key_forget();
		goto out;
	}
	rc = census_check(census, &opened, &missing);
	if (rc != MAMORI_OK || opened == 0) {
		mamori_seal_key_forget();
		snprintf(err, errlen,
		         "%s does not open the sealed TOTP secrets in the store (another key?): restore the key "
		         "they were sealed with; see SEALED SECRETS in mamori-authd(8)",
		         conf->store_key);
		rc = MAMORI_ERR_CONFIG;
	} else if (missing == 0 && store_key_claim(conf, 0, err, errlen) != MAMORI_OK) {
		/* only a record for later starts: a failure here stops nothing */
		mamori_log_warn("store key: %s", err);
		err[0] = '\0';
	}
out:
	mamori_freezero(census, sizeof(*census));
	return rc;
}

/* The daemon works from "/", in the foreground as after daemon(3): libldap
 * reads ldaprc and .ldaprc in the working directory on its first use, and
 * a file there (wherever the daemon happened to be started) could send
 * the HR directory's connection elsewhere or weaken its TLS.  A relative
 * --config is made absolute first, so that a reload (SIGHUP) reads the
 * same file.  0, or -1 with the error on standard error. */
static int
leave_working_directory(const char **config_path, char *abs, size_t len)
{
	char *real;

	if ((*config_path)[0] != '/' && (real = realpath(*config_path, NULL)) != NULL) {
		int n = snprintf(abs, len, "%s", real);

		free(real);
		if (n < 0 || (size_t)n >= len) {
			fprintf(stderr, "mamori-authd: %s: path too long\n", *config_path);
			return -1;
		}
		*config_path = abs;
	}
	if (chdir("/") != 0) {
		fprintf(stderr, "mamori-authd: chdir /: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' }, { "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },        { "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
	};
	const char *config_path = MAMORI_DEFAULT_CONFIG;
	char where[4096];
	const struct mamori_conf *conf;
	struct mamori_conf *loaded;
	char err[512], dummy[MAMORI_HASH_MAX], path[4096], config_abs[4096];
	int foreground = 0, debug = 0, opt, rc = 1;
	unsigned left = 0;
	sigset_t mask;

	while ((opt = getopt_long(argc, argv, "c:fdVh", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'd':
			debug = 1;
			break;
		case 'V':
			printf("mamori-authd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	/* Argon2id's memory (argon2_m_kib for each evaluation in progress)
	 * must go back to the system when the evaluation ends.  glibc raises
	 * its mmap threshold to the largest block freed so far (up to 32 MiB),
	 * after which blocks that size come from the arenas of the connection
	 * threads, which keep them: with m = 19 MiB and 64 clients the daemon
	 * held 530 MiB where its two Argon2id slots need 38
	 * (tests/bench/concurrency).  A threshold set once stays where it is.
	 * (Not an error when a sanitizer's allocator ignores it.) */
	(void)mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	if (leave_working_directory(&config_path, config_abs, sizeof(config_abs)) != 0)
		return 1;
	loaded = mamori_conf_load(config_path, err, sizeof(err));
	if (loaded == NULL) {
		fprintf(stderr, "mamori-authd: %s\n", err);
		return 1;
	}
	mamori_log_init("mamori-authd", foreground && !stderr_is_journal(), debug || loaded->debug);
	/* Before any thread: it drops LANGUAGE from the environment. */
	(void)mamori_messages_init();
	if (harden_process() != 0 || prepare_state_dir(loaded) != 0) {
		mamori_conf_free(&loaded);
		return 1;
	}
	json_set_alloc_funcs(malloc, wiping_free);
	mamori_daemon.config_path = config_path;
	mamori_daemon.started_at = mamori_clock_now();
	if (mamori_daemon_conf_set(loaded) != MAMORI_OK) {
		mamori_conf_free(&loaded);
		return 1;
	}
	conf = mamori_daemon_conf_get();

	/* Every thread inherits this mask; signals arrive only on the main
	 * thread's signalfd. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);

	if (mamori_store_open(conf, &mamori_daemon.store, err, sizeof(err)) != MAMORI_OK) {
		mamori_log_err("store: %s", err);
		goto out;
	}
	if (mamori_password_init(conf->max_argon2) != MAMORI_OK ||
	    mamori_daemon_dummy_hash(conf, dummy, sizeof(dummy)) != MAMORI_OK) {
		mamori_log_err("cannot prepare Argon2id (argon2_m_kib too large?)");
		goto out;
	}
	if (mamori_daemon_blocklist_load(conf, err, sizeof(err)) != MAMORI_OK) {
		mamori_log_err("block list: %s", err);
		goto out;
	}
	/* P-CRED-STORE: the key that seals TOTP secrets, made on first start. */
	if (mamori_totp_init() != MAMORI_OK || store_key_load(conf, err, sizeof(err)) != MAMORI_OK) {
		mamori_log_err("store key: %s", err);
		goto out;
	}
	/* P-AUDIT: the key that MACs the audit chain, and its checkpoint. */
	if (mamori_conf_audit_checkpoint_path(conf, path, sizeof(path)) != 0 ||
	    mamori_audit_init(mamori_daemon.store, conf->audit_key, path, err, sizeof(err)) != MAMORI_OK) {
		mamori_log_err("audit log: %s", err);
		goto out;
	}
	if (!foreground && daemon(0, 0) != 0) {
		mamori_log_err("daemon: %s", strerror(errno));
		goto out;
	}
	/* Offline logins ([offline] enabled): the local cache and journal,
	 * opened and its probe thread started in the process that serves
	 * (threads and an open SQLite handle do not survive daemon()'s fork). */
	if (mamori_offline_init(conf, mamori_daemon.store, err, sizeof(err)) != MAMORI_OK) {
		mamori_log_err("offline cache: %s", err);
		goto out;
	}
	if (mamori_server_listen(conf) != 0)
		goto out;
	mamori_log_notice("mamori-authd %s started (store %s, Argon2id t=%u m=%u KiB p=%u, %u parallel)",
	                  PACKAGE_VERSION, mamori_store_path(mamori_daemon.store, where, sizeof(where)), conf->argon2_t,
	                  conf->argon2_m_kib, conf->argon2_p, mamori_password_slots());
#ifdef MAMORI_TEST_HOOKS
	mamori_log_warn("built with --enable-test-hooks: the clock and other test seams can be set through "
	                "MAMORI_TEST_* variables; never deploy this build");
#endif
	if (mamori_incident_init() != MAMORI_OK || mamori_housekeeping_start() != MAMORI_OK ||
	    mamori_card_watch_start() != MAMORI_OK || mamori_directory_start() != MAMORI_OK ||
	    mamori_fleet_start() != MAMORI_OK) {
		mamori_log_err("cannot start the background workers");
		goto out;
	}
	audit_daemon("success", "daemon started");
	mamori_daemon_conf_put(conf);
	conf = NULL;

	rc = mamori_server_run() == 0 ? 0 : 1;
out:
	mamori_fleet_stop();
	mamori_directory_stop();
	mamori_card_watch_stop();
	mamori_housekeeping_stop();
	left = mamori_server_shutdown();
	/* After the connection threads: none is in an offline call (when
	 * some are left, the process's exit closes the file). */
	if (left == 0)
		mamori_offline_shutdown();
	mamori_incident_shutdown();
	if (conf != NULL)
		mamori_daemon_conf_put(conf);
	if (left == 0)
		mamori_pam_service_carries_forget();
	if (mamori_daemon.store != NULL && left == 0) {
		mamori_pam_service_refusals_flush(mamori_clock_now(), 1);
		audit_daemon("success", "daemon stopped");
		mamori_audit_shutdown();
		mamori_store_close(&mamori_daemon.store);
	}
	mamori_seal_key_forget();
	mamori_audit_key_forget();
	if (left == 0) {
		mamori_daemon_conf_release_all();
		mamori_daemon_blocklist_free();
	}
	mamori_log_notice("mamori-authd stopped");
	return rc;
}
