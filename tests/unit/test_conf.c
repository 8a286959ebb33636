/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for common/conf.c: defaults, every key of mamori.conf(5), and
 * the "file:line: reason" errors an administrator sees. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"

#define MAX_FILES 8
/* Short enough that "dir/name" and "path:line: reason" always fit. */
#define DIR_MAX 256
#define FILE_MAX 512
#define ERR_MAX 1024

/* A scratch directory holding the configuration files of one test. */
struct fixture {
	char dir[DIR_MAX];
	char files[MAX_FILES][FILE_MAX];
	size_t nfiles;
	char path[FILE_MAX]; /* the file under test */
	char err[ERR_MAX];
	struct mamori_conf *conf;
};

static int
fixture_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/mamori-test-conf.XXXXXX", tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
fixture_teardown(void **state)
{
	struct fixture *fx = *state;

	mamori_conf_free(&fx->conf);
	for (size_t i = fx->nfiles; i > 0; i--) {
		if (unlink(fx->files[i - 1]) != 0 && rmdir(fx->files[i - 1]) != 0 && errno != ENOENT)
			fprintf(stderr, "cannot remove %s: %s\n", fx->files[i - 1], strerror(errno));
	}
	if (rmdir(fx->dir) != 0)
		fprintf(stderr, "cannot remove %s: %s\n", fx->dir, strerror(errno));
	free(fx);
	return 0;
}

/* Remember a path inside the scratch directory so teardown removes it. */
static const char *
fixture_track(struct fixture *fx, const char *name)
{
	char p[FILE_MAX];

	assert_true(strlen(fx->dir) + 1 + strlen(name) < sizeof(p));
	snprintf(p, sizeof(p), "%s/%s", fx->dir, name);
	for (size_t i = 0; i < fx->nfiles; i++) {
		if (!strcmp(fx->files[i], p))
			return fx->files[i];
	}
	assert_true(fx->nfiles < MAX_FILES);
	memcpy(fx->files[fx->nfiles], p, sizeof(p));
	return fx->files[fx->nfiles++];
}

/* Write text to a new file and make it the file under test. */
static const char *
write_conf(struct fixture *fx, const char *name, const char *text)
{
	const char *p = fixture_track(fx, name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	snprintf(fx->path, sizeof(fx->path), "%s", p);
	return p;
}

static struct mamori_conf *
load(struct fixture *fx)
{
	mamori_conf_free(&fx->conf);
	fx->err[0] = '\0';
	fx->conf = mamori_conf_load(fx->path, fx->err, sizeof(fx->err));
	return fx->conf;
}

/* Load text and expect exactly "file:line: reason". */
static void
expect_error(struct fixture *fx, const char *text, int line, const char *reason)
{
	char expected[ERR_MAX + FILE_MAX];

	write_conf(fx, "mamori.conf", text);
	snprintf(expected, sizeof(expected), "%s:%d: %s", fx->path, line, reason);
	assert_null(load(fx));
	assert_string_equal(fx->err, expected);
}

/* Load text and expect it to succeed. */
static struct mamori_conf *
expect_ok(struct fixture *fx, const char *text)
{
	write_conf(fx, "mamori.conf", text);
	if (load(fx) == NULL)
		fail_msg("unexpected error: %s", fx->err);
	return fx->conf;
}

/* Fill buf with n copies of c and terminate it; buf holds n + 1 bytes.
 * Stack buffers, so a failed assertion leaks nothing. */
static char *
repeat(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

/* ------------------------------------------------------------------ defaults */

static void
test_defaults_match_documentation(void **state)
{
	struct mamori_conf *c = mamori_conf_defaults();

	(void)state;
	assert_non_null(c);
	assert_string_equal(c->runtime_dir, "/run/mamori");
	assert_string_equal(c->state_dir, LOCALSTATEDIR "/lib/mamori");
	assert_string_equal(c->admin_group, "mamori-admin");
	assert_int_equal(c->max_connections, 256);
	assert_int_equal(c->max_connections_per_uid, 16);
	assert_int_equal(c->max_argon2, 0);
	assert_int_equal(c->idle_timeout, 120);
	assert_int_equal(c->debug, 0);
	assert_string_equal(c->store_backend, "sqlite");
	assert_null(c->store_path);
	assert_int_equal(c->argon2_t, 3);
	assert_int_equal(c->argon2_m_kib, 65536);
	assert_int_equal(c->argon2_p, 1);
	assert_int_equal(c->temp_length, 16);
	assert_null(c->services);
	mamori_conf_free(&c);
	assert_null(c);
}

static void
test_defaults_derive_socket_and_store_paths(void **state)
{
	struct mamori_conf *c = mamori_conf_defaults();
	char buf[256];

	(void)state;
	assert_non_null(c);
	assert_int_equal(mamori_conf_pam_socket(c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/mamori/pam.sock");
	assert_int_equal(mamori_conf_admin_socket(c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/mamori/admin.sock");
	assert_int_equal(mamori_conf_store_path(c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, LOCALSTATEDIR "/lib/mamori/mamori.db");
	mamori_conf_free(&c);
}

/* P-AUDIT: the audit key and the checkpoint file. */
static void
test_P_AUDIT_audit_key_and_checkpoint(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c = mamori_conf_defaults();
	char buf[256];

	assert_non_null(c);
	assert_string_equal(c->audit_key, SYSCONFDIR "/mamori/audit.key");
	assert_null(c->audit_checkpoint);
	assert_int_equal(mamori_conf_audit_checkpoint_path(c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, LOCALSTATEDIR "/lib/mamori/audit.checkpoint");
	mamori_conf_free(&c);
	c = expect_ok(fx, "[store]\naudit_key = /srv/keys/audit.key\naudit_checkpoint = /srv/anchor/audit.cp\n");
	assert_string_equal(c->audit_key, "/srv/keys/audit.key");
	assert_int_equal(mamori_conf_audit_checkpoint_path(c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/srv/anchor/audit.cp");
	expect_error(fx, "[store]\naudit_checkpoint = audit.cp\n", 2, "audit_checkpoint must be an absolute path");
}

static void
test_derived_paths_refuse_short_buffer(void **state)
{
	struct mamori_conf *c = mamori_conf_defaults();
	char buf[sizeof("/run/mamori/pam.sock")];

	(void)state;
	assert_non_null(c);
	assert_int_equal(mamori_conf_pam_socket(c, buf, sizeof(buf)), 0);
	assert_int_equal(mamori_conf_admin_socket(c, buf, sizeof(buf)), -1);
	assert_int_equal(mamori_conf_store_path(c, buf, 8), -1);
	mamori_conf_free(&c);
}

static void
test_free_accepts_null(void **state)
{
	struct mamori_conf *c = NULL;

	(void)state;
	mamori_conf_free(&c);
	mamori_conf_free(NULL);
	assert_null(c);
}

/* ------------------------------------------------------------------ valid files */

static void
test_load_empty_file_gives_defaults(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c = expect_ok(fx, "");

	assert_string_equal(c->runtime_dir, "/run/mamori");
	assert_int_equal(c->argon2_t, 3);
	assert_int_equal(c->argon2_m_kib, 65536);
	assert_int_equal(c->argon2_p, 1);
	assert_null(c->services);
}

static void
test_load_parses_every_key(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c;
	char buf[256];

	c = expect_ok(fx, "# mamori.conf(5)\n"
	                  "[daemon]\n"
	                  "runtime_dir = /run/mamori-test\n"
	                  "state_dir = /var/lib/mamori-test\n"
	                  "admin_group = wheel\n"
	                  "max_connections = 512\n"
	                  "max_connections_per_uid = 8\n"
	                  "max_argon2 = 4\n"
	                  "idle_timeout = 30\n"
	                  "debug = yes\n"
	                  "\n"
	                  "[store]\n"
	                  "backend = sqlite\n"
	                  "path = /srv/mamori/users.db\n"
	                  "\n"
	                  "[password]\n"
	                  "argon2_t = 4\n"
	                  "argon2_m_kib = 262144\n"
	                  "argon2_p = 2\n"
	                  "temp_length = 20\n"
	                  "\n"
	                  "[service sshd]\n"
	                  "system = web\n"
	                  "[service login]\n"
	                  "system = console\n");
	assert_string_equal(c->runtime_dir, "/run/mamori-test");
	assert_string_equal(c->state_dir, "/var/lib/mamori-test");
	assert_string_equal(c->admin_group, "wheel");
	assert_int_equal(c->max_connections, 512);
	assert_int_equal(c->max_connections_per_uid, 8);
	assert_int_equal(c->max_argon2, 4);
	assert_int_equal(c->idle_timeout, 30);
	assert_int_equal(c->debug, 1);
	assert_string_equal(c->store_backend, "sqlite");
	assert_string_equal(c->store_path, "/srv/mamori/users.db");
	assert_int_equal(c->argon2_t, 4);
	assert_int_equal(c->argon2_m_kib, 262144);
	assert_int_equal(c->argon2_p, 2);
	assert_int_equal(c->temp_length, 20);
	assert_string_equal(mamori_conf_service_system(c, "sshd"), "web");
	assert_string_equal(mamori_conf_service_system(c, "login"), "console");
	assert_int_equal(mamori_conf_pam_socket(c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/mamori-test/pam.sock");
	assert_int_equal(mamori_conf_store_path(c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/srv/mamori/users.db");
}

static void
test_load_accepts_range_limits(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c;

	c = expect_ok(fx, "[daemon]\nmax_connections = 1\nmax_connections_per_uid = 65536\nmax_argon2 = 0\n"
	                  "idle_timeout = 3600\n"
	                  "[password]\nargon2_t = 64\nargon2_m_kib = 512\nargon2_p = 64\ntemp_length = 12\n");
	assert_int_equal(c->max_connections, 1);
	assert_int_equal(c->max_connections_per_uid, 65536);
	assert_int_equal(c->max_argon2, 0);
	assert_int_equal(c->idle_timeout, 3600);
	assert_int_equal(c->argon2_t, 64);
	assert_int_equal(c->argon2_m_kib, 512);
	assert_int_equal(c->argon2_p, 64);
	assert_int_equal(c->temp_length, 12);
	c = expect_ok(fx, "[password]\nargon2_m_kib = 8\n");
	assert_int_equal(c->argon2_m_kib, 8);
	c = expect_ok(fx, "[password]\nargon2_m_kib = 4194304\n");
	assert_int_equal(c->argon2_m_kib, 4194304);
}

static void
test_load_accepts_every_bool_spelling(void **state)
{
	struct fixture *fx = *state;
	static const char *const yes[] = { "yes", "true", "1", "on" };
	static const char *const no[] = { "no", "false", "0", "off" };
	char text[64];

	for (size_t i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "[daemon]\ndebug = %s\n", yes[i]);
		assert_int_equal(expect_ok(fx, text)->debug, 1);
		snprintf(text, sizeof(text), "[daemon]\ndebug = %s\n", no[i]);
		assert_int_equal(expect_ok(fx, text)->debug, 0);
	}
}

static void
test_load_ignores_comments_and_whitespace(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c;

	c = expect_ok(fx, "; comment\n# another\n\n  [daemon]  \n  admin_group   =   staff   ; trailing comment\n");
	assert_string_equal(c->admin_group, "staff");
}

/* P-MFA-ALL: who binds a first authenticator, and how long a code lasts. */
/* [card]: the defaults, every key, and the errors of each. */
static void
test_card_section(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c = mamori_conf_defaults();

	assert_non_null(c);
	assert_int_equal(c->card_wait, 30);
	assert_string_equal(c->card_profiles, "piv, jpki");
	assert_string_equal(c->card_helper, LIBEXECDIR "/mamori/mamori-card-helper");
	assert_string_equal(c->card_helper_user, "nobody");
	assert_null(c->card_ca_file);
	assert_null(c->card_crl_file);
	assert_int_equal(c->card_check_validity, 1);
	assert_int_equal(c->card_on_removal, MAMORI_CARD_REMOVAL_LOCK);
	mamori_conf_free(&c);
	c = expect_ok(fx, "[card]\nwait = 1\nprofiles = jpki\nhelper = /opt/helper\nhelper_user = mamori-card\n"
	                  "ca_file = /etc/mamori/ca.pem\ncrl_file = /etc/mamori/crl.pem\ncheck_validity = no\n"
	                  "on_removal = terminate\n");
	assert_int_equal(c->card_wait, 1);
	assert_string_equal(c->card_profiles, "jpki");
	assert_string_equal(c->card_helper, "/opt/helper");
	assert_string_equal(c->card_helper_user, "mamori-card");
	assert_string_equal(c->card_ca_file, "/etc/mamori/ca.pem");
	assert_string_equal(c->card_crl_file, "/etc/mamori/crl.pem");
	assert_int_equal(c->card_check_validity, 0);
	assert_int_equal(c->card_on_removal, MAMORI_CARD_REMOVAL_TERMINATE);
	c = expect_ok(fx, "[card]\nwait = 3600\nprofiles = jpki,piv\non_removal = none\n");
	assert_int_equal(c->card_wait, 3600);
	assert_string_equal(c->card_profiles, "jpki,piv");
	assert_int_equal(c->card_on_removal, MAMORI_CARD_REMOVAL_NONE);
	c = expect_ok(fx, "[card]\non_removal = lock\nprofiles =  piv , jpki \n");
	assert_int_equal(c->card_on_removal, MAMORI_CARD_REMOVAL_LOCK);
	expect_error(fx, "[card]\nwait = 0\n", 2, "wait must be a whole number from 1 to 3600");
	expect_error(fx, "[card]\nwait = 3601\n", 2, "wait must be a whole number from 1 to 3600");
	expect_error(fx, "[card]\n\non_removal = logout\n", 3, "unsupported on_removal \"logout\"");
	expect_error(fx, "[card]\non_removal = LOCK\n", 2, "unsupported on_removal \"LOCK\"");
	expect_error(fx, "[card]\non_removal =\n", 2, "unsupported on_removal \"\"");
	expect_error(fx, "[card]\nprofiles = piv, cac\n", 2,
	             "profiles must be piv, jpki or both, separated by a comma");
	expect_error(fx, "[card]\nprofiles = piv, piv\n", 2,
	             "profiles must be piv, jpki or both, separated by a comma");
	expect_error(fx, "[card]\nprofiles = piv jpki\n", 2,
	             "profiles must be piv, jpki or both, separated by a comma");
	expect_error(fx, "[card]\nprofiles = piv,\n", 2, "profiles must be piv, jpki or both, separated by a comma");
	expect_error(fx, "[card]\nprofiles =\n", 2, "profiles must be piv, jpki or both, separated by a comma");
	expect_error(fx, "[card]\nhelper = mamori-card-helper\n", 2, "helper must be an absolute path");
	expect_error(fx, "[card]\nca_file = ca.pem\n", 2, "ca_file must be an absolute path");
	expect_error(fx, "[card]\ncrl_file =\n", 2, "crl_file must be an absolute path");
	expect_error(fx, "[card]\nhelper_user =\n", 2, "helper_user must not be empty");
	expect_error(fx, "[card]\ncheck_validity = sometimes\n", 2, "check_validity must be yes or no");
	expect_error(fx, "[card]\nwait = 5\nwait = 6\n", 3, "\"wait\" repeated in [card]");
	expect_error(fx, "[card]\npin = 1234\n", 2, "unknown key \"pin\" in [card]");
}

/* P-MFA-MN: on a My Number system a set with a fingerprint must hold a
 * possession factor too (NIST SP 800-63B: biometrics only with a
 * possession factor), as "FILE:LINE" of the require key. */
static void
test_P_MFA_MN_fingerprint_needs_possession(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c;

	expect_error(fx,
	             "[system mn]\nmynumber = yes\n\n[service login]\nsystem = mn\n"
	             "require = card+fingerprint, password+fingerprint\n",
	             6,
	             "[service login] is on My Number system mn: \"password+fingerprint\" has a fingerprint without "
	             "a possession factor (card, fido2 or totp) (P-MFA-MN)");
	c = expect_ok(fx, "[system mn]\nmynumber = yes\n\n[service login]\nsystem = mn\n"
	                  "require = card+fingerprint, fido2+fingerprint, password+totp+fingerprint\n"
	                  "[fingerprint]\ntimeout = 12\n");
	assert_int_equal(c->fingerprint_timeout, 12);
	/* Elsewhere a fingerprint alone is a set like any other. */
	c = expect_ok(fx, "[service login]\nrequire = fingerprint\n");
	assert_int_equal(c->fingerprint_timeout, 30);
	expect_error(fx, "[fingerprint]\ntimeout = 0\n", 2, "timeout must be a whole number from 1 to 600");
}

static void
test_totp_first_enroll(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c = mamori_conf_defaults();

	assert_non_null(c);
	assert_string_equal(c->totp_first_enroll, "code");
	assert_int_equal(c->totp_enroll_code_lifetime, 86400);
	mamori_conf_free(&c);
	c = expect_ok(fx, "[totp]\nfirst_enroll = password\nenroll_code_lifetime = 300\n");
	assert_string_equal(c->totp_first_enroll, "password");
	assert_int_equal(c->totp_enroll_code_lifetime, 300);
	c = expect_ok(fx, "[totp]\nfirst_enroll = code\nenroll_code_lifetime = 2592000\n");
	assert_string_equal(c->totp_first_enroll, "code");
	assert_int_equal(c->totp_enroll_code_lifetime, 2592000);
	expect_error(fx, "[totp]\nfirst_enroll = console\n", 2, "unsupported first_enroll \"console\"");
	expect_error(fx, "[totp]\nenroll_code_lifetime = 299\n", 2,
	             "enroll_code_lifetime must be a whole number from 300 to 2592000");
}

static void
test_load_refuses_repeated_key(void **state)
{
	struct fixture *fx = *state;

	expect_error(fx, "[daemon]\nadmin_group = a\nadmin_group = b\n", 3, "\"admin_group\" repeated in [daemon]");
	/* The same key in the two roles' sections is no repeat. */
	expect_ok(fx, "[policy staff]\nmin_length = 12\n[policy privileged]\nmin_length = 20\n");
	assert_int_equal(fx->conf->policy[MAMORI_ROLE_STAFF].min_length, 12);
	assert_int_equal(fx->conf->policy[MAMORI_ROLE_PRIVILEGED].min_length, 20);
}

static void
test_load_refuses_argon2_memory_below_lanes(void **state)
{
	struct fixture *fx = *state;

	write_conf(fx, "mamori.conf", "[password]\nargon2_m_kib = 8\nargon2_p = 2\n");
	assert_null(load(fx));
	assert_non_null(strstr(fx->err, "argon2_m_kib must be at least 8 times argon2_p"));
}

static void
test_load_indented_key_is_not_a_continuation(void **state)
{
	struct fixture *fx = *state;

	/* inih would glue an indented line to the value above it. */
	expect_ok(fx, "[daemon]\nadmin_group = a\n  idle_timeout = 5\n");
	assert_string_equal(fx->conf->admin_group, "a");
	assert_int_equal(fx->conf->idle_timeout, 5);
}

static void
test_load_policy_sections(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c;

	c = expect_ok(fx, "[policy privileged]\nhours = Mon-Fri 08:00-20:00\nlockout_threshold = 2\n");
	assert_int_equal(c->policy[MAMORI_ROLE_PRIVILEGED].hours.count, 1);
	assert_int_equal(c->policy[MAMORI_ROLE_PRIVILEGED].lockout_threshold, 2);
	assert_int_equal(c->policy[MAMORI_ROLE_STAFF].lockout_threshold, 5);
	assert_int_equal(c->policy[MAMORI_ROLE_STAFF].min_length, 12);
	assert_int_equal(c->policy[MAMORI_ROLE_PRIVILEGED].min_length, 15);
	expect_error(fx, "[policy boss]\nmin_length = 12\n", 2, "unknown role in [policy boss] (staff or privileged)");
	/* A bare [policy] has no role to write to. */
	expect_error(fx, "[policy]\nmin_length=25\n", 2, "unknown section [policy]");
	expect_error(fx, "[policy staff]\nhours = weekdays\n", 2,
	             "hours: expected periods like \"Mon-Fri 08:00-20:00, Sat 09:00-12:00\"");
	expect_error(fx, "[policy staff]\nmin_length = 7\n", 2, "min_length must be a whole number from 8 to 256");
	write_conf(fx, "mamori.conf", "[policy staff]\nmax_age_days = 5\nmin_age_days = 5\n");
	assert_null(load(fx));
	assert_non_null(strstr(fx->err, "min_age_days must be below max_age_days"));
}

/* P-PW-STRENGTH: [password] org_words and min_guesses_log10; max_length
 * 1024 by default. */
static void
test_P_PW_STRENGTH_org_words_and_guesses(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c;

	c = expect_ok(fx, "[daemon]\ndebug = no\n");
	assert_null(c->org_words);
	assert_int_equal(c->policy[MAMORI_ROLE_STAFF].max_length, 1024);
	assert_int_equal(c->policy[MAMORI_ROLE_PRIVILEGED].max_length, 1024);
	assert_int_equal(c->policy[MAMORI_ROLE_STAFF].min_guesses_log10, 10);
	assert_int_equal(c->policy[MAMORI_ROLE_PRIVILEGED].min_guesses_log10, 12);
	c = expect_ok(fx, "[password]\norg_words = komaki, komakishi , aichi\n[policy staff]\nmin_guesses_log10 = 0\n");
	assert_string_equal(c->org_words, "komaki, komakishi , aichi");
	assert_int_equal(c->policy[MAMORI_ROLE_STAFF].min_guesses_log10, 0);
	expect_error(fx, "[policy staff]\nmin_guesses_log10 = 41\n", 2,
	             "min_guesses_log10 must be a whole number from 0 to 40");
	write_conf(fx, "mamori.conf", "[password]\norg_words = komaki, ab\n");
	assert_null(load(fx));
	assert_non_null(strstr(fx->err, "org_words: each word must have 3 to 64 bytes"));
	write_conf(fx, "mamori.conf", "[password]\norg_words = komaki,,aichi\n");
	assert_null(load(fx));
	assert_non_null(strstr(fx->err, "org_words: each word must have 3 to 64 bytes"));
	write_conf(fx, "mamori.conf",
	           "[password]\norg_words = aaa,bbb,ccc,ddd,eee,fff,ggg,hhh,iii,jjj,kkk,lll,mmm,nnn,ooo,ppp,qqq,rrr,"
	           "sss,ttt,uuu,vvv,www,xxx,yyy,zzz,aab,aac,aad,aae,aaf,aag,aah\n");
	assert_null(load(fx));
	assert_non_null(strstr(fx->err, "org_words: at most 32 words"));
}

static void
test_reserved_names(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c = expect_ok(fx, "[accounts]\nreserved_names = ops, Kanri\n");

	assert_true(mamori_conf_name_reserved(c, "root"));
	assert_true(mamori_conf_name_reserved(c, "Administrator"));
	assert_true(mamori_conf_name_reserved(c, "ops"));
	assert_true(mamori_conf_name_reserved(c, "kanri"));
	assert_false(mamori_conf_name_reserved(c, "op"));
	assert_false(mamori_conf_name_reserved(c, "yamada.admin"));
}

/* P-REMOTE: what an empty PAM_RHOST means, per service. */
static void
test_rhost_empty(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c = expect_ok(fx, "[service counter]\nrhost_empty = local\n"
	                                      "[service login]\nrhost_empty = remote\n"
	                                      "[service kiosk]\nremote = no\n");

	assert_true(mamori_conf_rhost_empty_local(c, "counter"));
	assert_false(mamori_conf_rhost_empty_local(c, "login"));
	/* Unset: local for console clients, remote for anything else. */
	assert_false(mamori_conf_rhost_empty_local(c, "kiosk"));
	assert_false(mamori_conf_rhost_empty_local(c, "sshd"));
	assert_false(mamori_conf_rhost_empty_local(c, "unlisted"));
	assert_true(mamori_conf_rhost_empty_local(c, "su"));
	assert_true(mamori_conf_rhost_empty_local(c, "sudo"));
	assert_true(mamori_conf_rhost_empty_local(c, "gdm-password"));
	expect_error(fx, "[service x]\nrhost_empty = yes\n", 2, "rhost_empty must be local or remote");
}

/* ------------------------------------------------------------------ errors with file:line */

#define NUMBER_ERR(key, range) key " must be a whole number from " range

/* A file, the line its error names and the reason given. */
struct load_error {
	const char *text;
	int line;
	const char *reason;
};

static const struct load_error load_errors[] = {
	/* Sections and keys.  inih (built without
	 * INI_CALL_HANDLER_ON_NEW_SECTION) reports a section only with its
	 * first key. */
	{ "[daemon]\ndebug = no\n[deamon]\ndebug = yes\n", 4, "unknown section [deamon]" },
	{ "# top\ndebug = yes\n", 2, "unknown section []" },
	{ "[daemon]\n\n# why\nruntime_dir = /run/x\nruntimedir = /run/y\n", 5,
	  "unknown key \"runtimedir\" in [daemon]" },
	{ "[store]\nargon2_t = 3\n", 2, "unknown key \"argon2_t\" in [store]" },
	/* Numbers: not a number, trailing text, signed, hex, empty, too large
	 * for unsigned long, out of range. */
	{ "[password]\nargon2_t = three\n", 2, NUMBER_ERR("argon2_t", "1 to 64") },
	{ "[daemon]\n\nidle_timeout = 30s\n", 3, NUMBER_ERR("idle_timeout", "1 to 3600") },
	{ "[daemon]\nmax_argon2 = -1\n", 2, NUMBER_ERR("max_argon2", "0 to 1024") },
	{ "[daemon]\nmax_argon2 = +1\n", 2, NUMBER_ERR("max_argon2", "0 to 1024") },
	{ "[daemon]\nmax_argon2 = 0x10\n", 2, NUMBER_ERR("max_argon2", "0 to 1024") },
	{ "[daemon]\nmax_argon2 =\n", 2, NUMBER_ERR("max_argon2", "0 to 1024") },
	{ "[password]\nargon2_m_kib = 99999999999999999999999\n", 2, NUMBER_ERR("argon2_m_kib", "8 to 4194304") },
	{ "[password]\nargon2_t = 3\nargon2_m_kib = 4\n", 3, NUMBER_ERR("argon2_m_kib", "8 to 4194304") },
	{ "[password]\nargon2_m_kib = 4194305\n", 2, NUMBER_ERR("argon2_m_kib", "8 to 4194304") },
	{ "[daemon]\nidle_timeout = 0\n", 2, NUMBER_ERR("idle_timeout", "1 to 3600") },
	{ "[password]\ntemp_length = 11\n", 2, NUMBER_ERR("temp_length", "12 to 64") },
	/* Paths, strings, booleans, the backend. */
	{ "[daemon]\nruntime_dir = run/mamori\n", 2, "runtime_dir must be an absolute path" },
	{ "[store]\npath = mamori.db\n", 2, "path must be an absolute path" },
	{ "[daemon]\nstate_dir =\n", 2, "state_dir must be an absolute path" },
	{ "[daemon]\nadmin_group =\n", 2, "admin_group must not be empty" },
	{ "[daemon]\ndebug = maybe\n", 2, "debug must be yes or no" },
	{ "[daemon]\ndebug = YES\n", 2, "debug must be yes or no" },
	{ "[store]\nbackend = postgres\n", 2, "unsupported backend \"postgres\"" },
	/* Service and system names, a key of no service section. */
	{ "[service ../sshd]\nsystem = web\n", 2, "invalid service name \"../sshd\"" },
	{ "[daemon]\n[service ssh d]\nsystem = web\n", 3, "invalid service name \"ssh d\"" },
	{ "[service sshd]\nsystem = web/prod\n", 2, "invalid system name \"web/prod\"" },
	{ "[service sshd]\nsystem = web\nfactor = totp\n", 3, "unknown key \"factor\" in [service sshd]" },
	/* Syntax, and the first of several errors: both the line and the
	 * reason are the first error's, even when it is a syntax error inih
	 * finds on its own. */
	{ "[daemon]\ndebug = yes\njust words\n", 3, "syntax error" },
	{ "[daemon]\nidle_timeout = 0\nbogus = 1\n[nowhere]\nx = 1\n", 2, NUMBER_ERR("idle_timeout", "1 to 3600") },
	{ "[daemon]\njust words\nbogus = 1\n", 2, "syntax error" },
	{ "[daemon\ndebug = yes\n", 1, "syntax error" },
};

static void
test_load_rejects_bad_lines(void **state)
{
	struct fixture *fx = *state;

	for (size_t i = 0; i < sizeof(load_errors) / sizeof(load_errors[0]); i++)
		expect_error(fx, load_errors[i].text, load_errors[i].line, load_errors[i].reason);
}

/* [store] backend = postgresql (P-CRED-STORE): the conninfo is required,
 * never holds a secret, and needs TLS with a verified server name off the
 * loopback; no message quotes it. */
static void
test_load_postgresql_store(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c;

	c = expect_ok(fx, "[store]\nbackend = postgresql\nconninfo = host=/run/postgresql dbname=mamori\n");
	assert_string_equal(c->store_backend, "postgresql");
	assert_string_equal(c->store_conninfo, "host=/run/postgresql dbname=mamori");
	assert_int_equal(c->store_pool_size, 4);
	assert_int_equal(c->store_connect_timeout, 5);
	c = expect_ok(fx, "[store]\nbackend = postgresql\n"
	                  "conninfo = host=pg1.lg.jp,pg2.lg.jp user=mamori sslmode=verify-full "
	                  "sslrootcert=/etc/mamori/ca.crt sslcert=/etc/mamori/pg.crt sslkey=/etc/mamori/pg.key "
	                  "target_session_attrs=read-write\n"
	                  "pool_size = 8\nconnect_timeout = 2\n");
	assert_int_equal(c->store_pool_size, 8);
	assert_int_equal(c->store_connect_timeout, 2);
	expect_ok(fx, "[store]\nbackend = postgresql\nconninfo = postgresql://127.0.0.1:5433/mamori\n");
	expect_ok(fx, "[store]\nbackend = postgresql\nconninfo = host=localhost,::1 passfile=/etc/mamori/pgpass\n");
	/* The conninfo is required, and blamed on the backend's line. */
	expect_error(fx, "[store]\npath = /srv/m.db\nbackend = postgresql\n", 3,
	             "backend = postgresql needs a conninfo");
	/* No secret in mamori.conf, in either syntax. */
	expect_error(fx, "[store]\nbackend = postgresql\nconninfo = host=/run/pg password=Sw0rdfish\n", 3,
	             "conninfo must not hold a password: use passfile= or a client certificate (sslcert=, sslkey=)");
	expect_error(fx, "[store]\nconninfo = postgresql://mamori:Sw0rdfish@localhost/mamori\n", 2,
	             "conninfo must not hold a password: use passfile= or a client certificate (sslcert=, sslkey=)");
	expect_error(fx, "[store]\nconninfo = host=/run/pg sslkey=/etc/mamori/pg.key sslpassword=Sw0rdfish\n", 2,
	             "conninfo must not hold the client key's passphrase (sslpassword=): use a key without one, "
	             "readable only by the daemon");
	/* Off the loopback, every host needs verify-full. */
	expect_error(fx, "[store]\nconninfo = host=db.example.lg.jp sslmode=require\n", 2,
	             "conninfo reaches a host off the loopback: sslmode must be verify-full");
	expect_error(fx, "[store]\nconninfo = host=127.0.0.1,10.0.0.2\n", 2,
	             "conninfo reaches a host off the loopback: sslmode must be verify-full");
	expect_error(fx, "[store]\nconninfo = host=localhost hostaddr=192.0.2.7\n", 2,
	             "conninfo reaches a host off the loopback: sslmode must be verify-full");
	expect_error(fx, "[store]\nconninfo = service=mamori\n", 2,
	             "conninfo must name its hosts itself, not a service= of pg_service.conf");
	expect_error(fx, "[store]\nconninfo = host=/run/pg Sw0rdfish\n", 2,
	             "conninfo is not a libpq connection string (keyword=value ... or postgresql://)");
	expect_error(fx, "[store]\nconninfo = host=/run/pg\npool_size = 65\n", 3,
	             "pool_size must be a whole number from 1 to 64");
	expect_error(fx, "[store]\nconninfo = host=/run/pg\nconnect_timeout = 0\n", 3,
	             "connect_timeout must be a whole number from 1 to 600");
}

/* A conninfo that names several servers (#14 failover) must ask for the
 * primary: a daemon never writes to a standby (P-AUDIT: the chain lives
 * on the primary).  Loopback names on one port are one server. */
static void
test_load_postgresql_several_hosts(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c;
	const char *several = "conninfo names several servers: target_session_attrs must be read-write or primary "
	                      "(never write to a standby)";

	c = expect_ok(fx, "[store]\nbackend = postgresql\n"
	                  "conninfo = host=/run/pg1,/run/pg2 target_session_attrs=read-write\n");
	assert_string_equal(c->store_conninfo, "host=/run/pg1,/run/pg2 target_session_attrs=read-write");
	expect_ok(fx, "[store]\nconninfo = host=/run/pg port=5432,5433 target_session_attrs=primary\n");
	expect_ok(fx,
	          "[store]\nconninfo = postgresql://127.0.0.1:5432,127.0.0.1:5433/m?target_session_attrs=read-write\n");
	expect_ok(fx, "[store]\nconninfo = host=localhost,127.0.0.1,::1 port=5432\n");
	expect_error(fx, "[store]\nbackend = postgresql\nconninfo = host=/run/pg1,/run/pg2\n", 3, several);
	expect_error(fx, "[store]\nconninfo = host=/run/pg port=5432,5433 target_session_attrs=any\n", 2, several);
	expect_error(fx, "[store]\nconninfo = host=/run/pg1,/run/pg2 target_session_attrs=prefer-standby\n", 2,
	             several);
	expect_error(fx, "[store]\nconninfo = postgresql://127.0.0.1:5432,127.0.0.1:5433/m\n", 2, several);
	expect_error(fx,
	             "[store]\nconninfo = host=pg1.lg.jp,pg2.lg.jp sslmode=verify-full "
	             "sslrootcert=/etc/mamori/ca.crt\n",
	             2, several);
}

/* A conninfo longer than a line (inih reads 200 characters at most) goes
 * on over indented lines right below its key, joined with a space; it is
 * checked whole and blamed on its key's line. */
#define LONG1                                                                                                          \
	"host=/var/run/postgresql/cluster-one-with-a-rather-long-socket-directory-name-for-this-test,"                 \
	"/var/run/postgresql/cluster-two-with-a-long-socket-directory-name-too"
#define LONG2                                                                                                          \
	"port=5432,5433 dbname=mamori_production_store user=mamori_authd_service_account "                             \
	"target_session_attrs=read-write connect_timeout=3 keepalives_idle=30"
#define LONG3                                                                                                          \
	"sslrootcert=/etc/mamori/pki/postgresql-root-ca-certificate.pem passfile=/etc/mamori/pg/authd.pgpass "         \
	"application_name=mamori-authd"

static void
test_load_postgresql_long_conninfo(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c;

	c = expect_ok(fx, "[store]\nbackend = postgresql\nconninfo = " LONG1 "\n    " LONG2 "\n\t" LONG3
	                  "\npool_size = 3\n");
	assert_string_equal(c->store_conninfo, LONG1 " " LONG2 " " LONG3);
	assert_true(strlen(c->store_conninfo) >= 400);
	assert_int_equal(c->store_pool_size, 3);
	/* A blank line ends it: the indented key below is a key again. */
	c = expect_ok(fx, "[store]\nconninfo = host=/run/pg\n  dbname=m\n\n  pool_size = 2\n");
	assert_string_equal(c->store_conninfo, "host=/run/pg dbname=m");
	assert_int_equal(c->store_pool_size, 2);
	/* Checked whole, blamed on the key's line, never quoted. */
	expect_error(fx, "[store]\n\nconninfo = host=/run/pg\n  password=Sw0rdfish\nnode = t1\n", 3,
	             "conninfo must not hold a password: use passfile= or a client certificate (sslcert=, sslkey=)");
	expect_error(fx, "[store]\nconninfo = host=/run/pg1,/run/pg2\n  dbname=m\n", 2,
	             "conninfo names several servers: target_session_attrs must be read-write or primary "
	             "(never write to a standby)");
	/* Other keys do not go on. */
	expect_error(fx, "[store]\nnode = t1\n  pool_size = 0\n", 3, "pool_size must be a whole number from 1 to 64");
}

/* [store] listen_conninfo (the fleet events' listener, straight to the
 * primary when the transactions go through a pooler) is checked as
 * conninfo is, and named in its reasons (P-CRED-STORE: no secret in
 * mamori.conf); prepared = yes|no, default yes (#14 PgBouncer). */
static void
test_load_store_listen_conninfo_prepared(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c;

	c = expect_ok(fx, "[store]\nbackend = postgresql\nconninfo = host=/run/pgbouncer port=6432 dbname=m\n");
	assert_null(c->store_listen_conninfo);
	assert_int_equal(c->store_prepared, 1);
	c = expect_ok(fx, "[store]\nbackend = postgresql\nconninfo = host=/run/pgbouncer port=6432 dbname=m\n"
	                  "listen_conninfo = host=/run/pg1,/run/pg2\n  target_session_attrs=read-write dbname=m\n"
	                  "prepared = no\n");
	assert_string_equal(c->store_conninfo, "host=/run/pgbouncer port=6432 dbname=m");
	assert_string_equal(c->store_listen_conninfo,
	                    "host=/run/pg1,/run/pg2 target_session_attrs=read-write dbname=m");
	assert_int_equal(c->store_prepared, 0);
	c = expect_ok(fx, "[store]\nprepared = yes\n");
	assert_int_equal(c->store_prepared, 1);
	expect_error(fx, "[store]\nprepared = sometimes\n", 2, "prepared must be yes or no");
	expect_error(fx, "[store]\nconninfo = host=/run/pg\nlisten_conninfo = host=/run/pg password=Sw0rdfish\n", 3,
	             "listen_conninfo must not hold a password: use passfile= or a client certificate "
	             "(sslcert=, sslkey=)");
	expect_error(fx, "[store]\nlisten_conninfo = host=/run/pg sslkey=/k sslpassword=Sw0rdfish\n", 2,
	             "listen_conninfo must not hold the client key's passphrase (sslpassword=): use a key without "
	             "one, readable only by the daemon");
	expect_error(fx, "[store]\nlisten_conninfo = host=db.example.lg.jp sslmode=require\n", 2,
	             "listen_conninfo reaches a host off the loopback: sslmode must be verify-full");
	expect_error(fx, "[store]\nlisten_conninfo = service=mamori\n", 2,
	             "listen_conninfo must name its hosts itself, not a service= of pg_service.conf");
	/* A listener on a standby would never hear a commit: several servers
	 * need the primary. */
	expect_error(fx, "[store]\nlisten_conninfo = host=/run/pg1,/run/pg2\n  dbname=m\n", 2,
	             "listen_conninfo names several servers: target_session_attrs must be read-write or primary "
	             "(never write to a standby)");
	expect_error(fx, "[store]\nlisten_conninfo = host=/run/pg Sw0rdfish\n", 2,
	             "listen_conninfo is not a libpq connection string (keyword=value ... or postgresql://)");
}

/* [store] statement_timeout and lock_timeout: a hung primary or a long
 * lock ends the transaction (fail closed) instead of the conversation
 * waiting for ever. */
static void
test_load_store_timeouts(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c;

	c = expect_ok(fx, "[store]\nconninfo = host=/run/pg\n");
	assert_int_equal(c->store_statement_timeout, 5);
	assert_int_equal(c->store_lock_timeout, 2);
	c = expect_ok(fx, "[store]\nconninfo = host=/run/pg\nstatement_timeout = 30\nlock_timeout = 10\n");
	assert_int_equal(c->store_statement_timeout, 30);
	assert_int_equal(c->store_lock_timeout, 10);
	expect_error(fx, "[store]\nstatement_timeout = 0\n", 2,
	             "statement_timeout must be a whole number from 1 to 3600");
	expect_error(fx, "[store]\nlock_timeout = 3601\n", 2, "lock_timeout must be a whole number from 1 to 3600");
}

/* [offline] (#14): off by default; its bounds; refused with a SQLite
 * store, on the line of enabled. */
static void
test_load_offline(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c;

	c = expect_ok(fx, "[store]\nbackend = postgresql\nconninfo = host=/run/postgresql\n");
	assert_int_equal(c->offline_enabled, 0);
	assert_int_equal(c->offline_max_hours, 72);
	assert_int_equal(c->offline_max_entries, 256);
	assert_int_equal(c->offline_max_failures, 5);
	assert_int_equal(c->offline_allow_privileged, 0);
	assert_int_equal(c->offline_allow_mynumber, 0);
	assert_int_equal(c->offline_probe_interval, 10);
	c = expect_ok(fx, "[store]\nbackend = postgresql\nconninfo = host=/run/postgresql\n"
	                  "[offline]\nenabled = yes\nmax_hours = 24\nmax_entries = 16\nmax_failures = 3\n"
	                  "allow_privileged = yes\nallow_mynumber = yes\nprobe_interval = 2\n");
	assert_int_equal(c->offline_enabled, 1);
	assert_int_equal(c->offline_max_hours, 24);
	assert_int_equal(c->offline_max_entries, 16);
	assert_int_equal(c->offline_max_failures, 3);
	assert_int_equal(c->offline_allow_privileged, 1);
	assert_int_equal(c->offline_allow_mynumber, 1);
	assert_int_equal(c->offline_probe_interval, 2);
	expect_ok(fx, "[offline]\nenabled = no\n");
	expect_error(fx, "[daemon]\n[offline]\nmax_hours = 1\nenabled = yes\n", 4,
	             "offline logins need backend = postgresql");
	expect_error(fx, "[store]\nconninfo = host=/run/pg\n[offline]\nmax_failures = 0\n", 4,
	             "max_failures must be a whole number from 1 to 100");
}

/* ------------------------------------------------------------------ long lines */

/* A comment is a comment however long it is: its tail must never be read
 * as a key. */
static void
test_load_never_reads_tail_of_long_comment_as_key(void **state)
{
	struct fixture *fx = *state;
	char pad[400 + 1];
	char text[1024];

	repeat(pad, 'x', 400);
	/* Whichever line buffer the parser uses, one of these lengths splits
	 * the line right before "runtime_dir". */
	for (size_t n = 190; n < 400; n++) {
		snprintf(text, sizeof(text), "[daemon]\n#%.*sruntime_dir = /tmp/evil\n", (int)n, pad);
		write_conf(fx, "mamori.conf", text);
		if (load(fx) != NULL && strcmp(fx->conf->runtime_dir, "/run/mamori") != 0)
			fail_msg("a %zu-byte comment set runtime_dir to %s", n + 1 + strlen("runtime_dir = /tmp/evil"),
			         fx->conf->runtime_dir);
	}
}

/* A value too long for the parser is an error on its own line, never a
 * silently shortened path. */
static void
test_load_reports_overlong_line_on_its_own_line(void **state)
{
	struct fixture *fx = *state;
	char dir[300 + 1];
	char text[512];

	snprintf(text, sizeof(text), "[store]\npath = /%s\n[daemon]\ndebug = yes\n", repeat(dir, 'd', 300));
	write_conf(fx, "mamori.conf", text);
	if (load(fx) != NULL) {
		/* Accepting it is fine only if the whole path was kept. */
		assert_int_equal(strlen(fx->conf->store_path), 301);
	} else {
		char prefix[FILE_MAX + 16];
		snprintf(prefix, sizeof(prefix), "%s:2: ", fx->path);
		if (strncmp(fx->err, prefix, strlen(prefix)) != 0)
			fail_msg("expected an error on line 2, got \"%s\"", fx->err);
	}
}

/* ------------------------------------------------------------------ services */

static void
test_service_system_maps_configured_service(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c = expect_ok(fx, "[service sshd]\nsystem = web\n");

	assert_string_equal(mamori_conf_service_system(c, "sshd"), "web");
}

static void
test_service_system_defaults_for_unknown_service(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c = expect_ok(fx, "[service sshd]\nsystem = web\n");

	assert_string_equal(mamori_conf_service_system(c, "login"), "default");
	assert_string_equal(mamori_conf_service_system(c, "sshd2"), "default");
	assert_string_equal(mamori_conf_service_system(c, "ssh"), "default");
	assert_string_equal(mamori_conf_service_system(c, ""), "default");
}

/* P-ID-SHARED, P-INPUT: the member prompt is a service setting, off unless
 * set, repeated keys refused. */
static void
test_service_member_prompt(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c =
	        expect_ok(fx, "[service front-desk]\nmember_prompt = yes\n[service sshd]\nsystem = web\n");

	assert_true(mamori_conf_service(c, "front-desk")->member_prompt);
	assert_false(mamori_conf_service(c, "sshd")->member_prompt);
	expect_error(fx, "[service a]\nmember_prompt = maybe\n", 2, "member_prompt must be yes or no");
	expect_error(fx, "[service a]\nmember_prompt = no\nmember_prompt = yes\n", 3,
	             "\"member_prompt\" repeated in [service a]");
}

static void
test_service_system_defaults_without_config(void **state)
{
	struct mamori_conf *c = mamori_conf_defaults();

	(void)state;
	assert_string_equal(mamori_conf_service_system(c, "sshd"), "default");
	mamori_conf_free(&c);
}

static void
test_service_sections_merge_by_name(void **state)
{
	struct fixture *fx = *state;
	struct mamori_conf *c = expect_ok(fx, "[service sshd]\nsystem = ops\n[daemon]\ndebug = no\n"
	                                      "[service sshd]\nprivileged = yes\n");
	size_t n = 0;

	for (const struct mamori_service_conf *s = c->services; s != NULL; s = s->next)
		n++;
	assert_int_equal(n, 1);
	assert_string_equal(mamori_conf_service_system(c, "sshd"), "ops");
	assert_true(mamori_conf_service(c, "sshd")->privileged);
	expect_error(fx, "[service sshd]\nsystem = web\n[service sshd]\nsystem = ops\n", 4,
	             "\"system\" repeated in [service sshd]");
}

/* Service names may be 64 bytes long; a [service NAME] section must apply
 * to exactly that name, not to a shortened one. */
static void
test_service_section_with_longest_name_maps_that_name(void **state)
{
	struct fixture *fx = *state;
	char name[64 + 1];
	char text[256];

	snprintf(text, sizeof(text), "[service %s]\nsystem = web\n", repeat(name, 's', 64));
	write_conf(fx, "mamori.conf", text);
	if (load(fx) != NULL) {
		assert_string_equal(mamori_conf_service_system(fx->conf, name), "web");
		for (const struct mamori_service_conf *s = fx->conf->services; s != NULL; s = s->next)
			assert_string_equal(s->name, name);
	}
}

/* ------------------------------------------------------------------ the file itself */

static void
test_load_missing_file_names_the_path(void **state)
{
	struct fixture *fx = *state;
	char expected[ERR_MAX];

	snprintf(fx->path, sizeof(fx->path), "%s", fixture_track(fx, "absent.conf"));
	snprintf(expected, sizeof(expected), "%s: %s", fx->path, strerror(ENOENT));
	assert_null(load(fx));
	assert_string_equal(fx->err, expected);
}

static void
test_load_refuses_directory(void **state)
{
	struct fixture *fx = *state;
	char expected[ERR_MAX];
	const char *dir = fixture_track(fx, "conf.d");

	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(fx->path, sizeof(fx->path), "%s", dir);
	snprintf(expected, sizeof(expected), "%s: not a regular file", dir);
	assert_null(load(fx));
	assert_string_equal(fx->err, expected);
}

static void
test_load_refuses_symlink(void **state)
{
	struct fixture *fx = *state;
	char target[FILE_MAX];
	const char *link;
	char expected[ERR_MAX];

	snprintf(target, sizeof(target), "%s", write_conf(fx, "real.conf", "[daemon]\ndebug = yes\n"));
	link = fixture_track(fx, "link.conf");
	assert_int_equal(symlink(target, link), 0);
	snprintf(fx->path, sizeof(fx->path), "%s", link);
	/* O_NOFOLLOW fails with ELOOP on a final symlink. */
	snprintf(expected, sizeof(expected), "%s: %s", link, strerror(ELOOP));
	assert_null(load(fx));
	assert_string_equal(fx->err, expected);
}

static void
test_load_truncates_error_to_buffer(void **state)
{
	struct fixture *fx = *state;
	char small[16];

	write_conf(fx, "mamori.conf", "[daemon]\nbogus = 1\n");
	memset(small, 'Z', sizeof(small));
	assert_null(mamori_conf_load(fx->path, small, sizeof(small)));
	assert_int_equal(strnlen(small, sizeof(small)), sizeof(small) - 1);
}

/* ------------------------------------------------------------------ [accounts] stale, [directory] */

static void
test_P_ID_STALE_stale_keys(void **state)
{
	struct fixture *fx = *state;

	expect_ok(fx, "");
	assert_int_equal(fx->conf->stale_after_days, 90);
	assert_int_equal(fx->conf->stale_disable, 0);
	assert_null(fx->conf->directory);
	expect_ok(fx, "[accounts]\nstale_after_days = 0\nstale_disable = yes\n");
	assert_int_equal(fx->conf->stale_after_days, 0);
	assert_int_equal(fx->conf->stale_disable, 1);
	expect_ok(fx, "[accounts]\nstale_after_days = 30\nstale_disable = no\n");
	assert_int_equal(fx->conf->stale_after_days, 30);
	assert_int_equal(fx->conf->stale_disable, 0);
	expect_error(fx, "[accounts]\n\nstale_after_days = -1\n", 3,
	             "stale_after_days must be a whole number from 0 to 36500");
	expect_error(fx, "[accounts]\nstale_disable = sometimes\n", 2, "stale_disable must be yes or no");
}

/* ------------------------------------------------------------------ [store] node, sweep_interval */

static void
test_store_node_and_sweep_interval(void **state)
{
	struct fixture *fx = *state;
	char host[256] = "", long_name[MAMORI_NODE_MAX + 2];

	expect_ok(fx, "");
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	host[MAMORI_NODE_MAX] = '\0';
	assert_string_equal(fx->conf->store_node, host);
	assert_int_equal(fx->conf->store_sweep_interval, 30);
	memset(long_name, 'n', MAMORI_NODE_MAX);
	long_name[MAMORI_NODE_MAX] = '\0';
	{
		char text[128];
		snprintf(text, sizeof(text), "[store]\nnode = %s\nsweep_interval = 1\n", long_name);
		expect_ok(fx, text);
		assert_string_equal(fx->conf->store_node, long_name);
		assert_int_equal(fx->conf->store_sweep_interval, 1);
		long_name[MAMORI_NODE_MAX] = 'n';
		long_name[MAMORI_NODE_MAX + 1] = '\0';
		snprintf(text, sizeof(text), "[store]\n\nnode = %s\n", long_name);
		expect_error(fx, text, 3, "node must be 1 to 63 printable characters without spaces");
	}
	expect_ok(fx, "[store]\nnode = term-042.city.example\n");
	assert_string_equal(fx->conf->store_node, "term-042.city.example");
	expect_error(fx, "[store]\nnode = term 42\n", 2, "node must be 1 to 63 printable characters without spaces");
	expect_error(fx, "[store]\nnode = t\x01\n", 2, "node must be 1 to 63 printable characters without spaces");
	expect_error(fx, "[store]\nnode = t\xc3\xa9\n", 2, "node must be 1 to 63 printable characters without spaces");
	expect_error(fx, "[store]\nsweep_interval = 0\n", 2, "sweep_interval must be a whole number from 1 to 86400");
	assert_int_equal(mamori_conf_node_valid(""), 0);
	assert_int_equal(mamori_conf_node_valid(NULL), 0);
	assert_int_equal(mamori_conf_node_valid("a"), 1);
}

#define DIR_MIN "[directory]\nuri = ldapi://%2Frun%2Fslapd%2Fldapi\nbind = external\nbase = dc=example,dc=test\n"

static void
test_directory_defaults(void **state)
{
	struct fixture *fx = *state;
	const struct mamori_dir_conf *d;

	expect_ok(fx, "[daemon]\ndebug = no\n\n" DIR_MIN);
	d = fx->conf->directory;
	assert_non_null(d);
	assert_int_equal(d->line, 4);
	assert_int_equal(d->nuris, 1);
	assert_string_equal(d->uris[0], "ldapi://%2Frun%2Fslapd%2Fldapi");
	assert_int_equal(d->bind, MAMORI_DIR_BIND_EXTERNAL);
	assert_null(d->bind_dn);
	assert_null(d->bind_password_file);
	assert_int_equal(d->tls, MAMORI_DIR_TLS_STARTTLS);
	assert_null(d->ca_file);
	assert_null(d->ca_dir);
	assert_string_equal(d->base, "dc=example,dc=test");
	assert_string_equal(d->filter, "(objectClass=inetOrgPerson)");
	assert_int_equal(d->scope, MAMORI_DIR_SCOPE_SUB);
	assert_string_equal(d->attr_employee_number, "employeeNumber");
	assert_string_equal(d->attr_uid, "uid");
	assert_string_equal(d->attr_display_name, "displayName");
	assert_string_equal(d->attr_department, "departmentNumber");
	assert_string_equal(d->attr_status, "employeeType");
	assert_string_equal(d->attr_manager, "manager");
	assert_null(d->attr_start);
	assert_null(d->attr_end);
	assert_null(d->attr_secondment_start);
	assert_null(d->attr_secondment_end);
	assert_string_equal(d->retired_values, "retired,terminated");
	assert_string_equal(d->contractor_values, "contractor");
	assert_int_equal(d->mode, MAMORI_DIR_MODE_AUTO);
	assert_int_equal(d->poll_interval, 60);
	assert_int_equal(d->timeout, 10);
	assert_int_equal(d->backoff_max, 300);
	assert_int_equal(d->max_disable_percent, 5);
	/* What a search asks for: the mapped attributes and the two the
	 * engine needs, each once. */
	static const char *const attrs[] = { "employeeNumber", "uid",     "displayName", "departmentNumber",
		                             "employeeType",   "manager", "entryUUID",   "modifyTimestamp" };
	assert_non_null(d->attrs);
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		assert_string_equal(d->attrs[i], attrs[i]);
	assert_null(d->attrs[sizeof(attrs) / sizeof(attrs[0])]);
}

static void
test_directory_full_section(void **state)
{
	struct fixture *fx = *state;
	const struct mamori_dir_conf *d;

	expect_ok(fx, "[directory]\n"
	              "uri = ldap://ldap1.example.lg.jp:389, ldaps://ldap2.example.lg.jp ldap://[2001:db8::1]:3389/\n"
	              "bind = simple\n"
	              "bind_dn = cn=mamori,ou=services,dc=example,dc=test\n"
	              "bind_password_file = /etc/mamori/ldap.secret\n"
	              "tls = starttls\n"
	              "ca_file = /etc/ssl/certs/hr-ca.pem\n"
	              "ca_dir = /etc/ssl/certs\n"
	              "base = ou=people,dc=example,dc=test\n"
	              "filter = (&(objectClass=inetOrgPerson)(!(employeeType=guest)))\n"
	              "scope = one\n"
	              "attr_employee_number = 2.16.840.1.113730.3.1.3\n"
	              "attr_uid = uid\n"
	              "attr_display_name = cn\n"
	              "attr_department = ou\n"
	              "attr_status = employeeType\n"
	              "attr_start = hrStartDate\n"
	              "attr_end = hrEndDate\n"
	              "attr_secondment_start = hrSecondmentStart\n"
	              "attr_secondment_end = hrSecondmentEnd\n"
	              "attr_manager =\n"
	              "retired_values = retired, 退職\n"
	              "contractor_values = contractor,委託\n"
	              "mode = poll\n"
	              "poll_interval = 5\n"
	              "timeout = 3\n"
	              "backoff_max = 60\n"
	              "max_disable_percent = 0\n");
	d = fx->conf->directory;
	assert_non_null(d);
	assert_int_equal(d->line, 1);
	assert_int_equal(d->nuris, 3);
	assert_string_equal(d->uris[0], "ldap://ldap1.example.lg.jp:389");
	assert_string_equal(d->uris[1], "ldaps://ldap2.example.lg.jp");
	assert_string_equal(d->uris[2], "ldap://[2001:db8::1]:3389/");
	assert_int_equal(d->bind, MAMORI_DIR_BIND_SIMPLE);
	assert_string_equal(d->bind_dn, "cn=mamori,ou=services,dc=example,dc=test");
	assert_string_equal(d->bind_password_file, "/etc/mamori/ldap.secret");
	assert_string_equal(d->ca_file, "/etc/ssl/certs/hr-ca.pem");
	assert_string_equal(d->ca_dir, "/etc/ssl/certs");
	assert_string_equal(d->base, "ou=people,dc=example,dc=test");
	assert_string_equal(d->filter, "(&(objectClass=inetOrgPerson)(!(employeeType=guest)))");
	assert_int_equal(d->scope, MAMORI_DIR_SCOPE_ONE);
	assert_string_equal(d->attr_employee_number, "2.16.840.1.113730.3.1.3");
	assert_string_equal(d->attr_display_name, "cn");
	assert_string_equal(d->attr_department, "ou");
	assert_string_equal(d->attr_start, "hrStartDate");
	assert_string_equal(d->attr_end, "hrEndDate");
	assert_string_equal(d->attr_secondment_start, "hrSecondmentStart");
	assert_string_equal(d->attr_secondment_end, "hrSecondmentEnd");
	assert_null(d->attr_manager);
	assert_string_equal(d->retired_values, "retired, 退職");
	assert_string_equal(d->contractor_values, "contractor,委託");
	assert_int_equal(d->mode, MAMORI_DIR_MODE_POLL);
	assert_int_equal(d->poll_interval, 5);
	assert_int_equal(d->timeout, 3);
	assert_int_equal(d->backoff_max, 60);
	assert_int_equal(d->max_disable_percent, 0);
	static const char *const attrs[] = { "2.16.840.1.113730.3.1.3",
		                             "uid",
		                             "cn",
		                             "ou",
		                             "employeeType",
		                             "hrStartDate",
		                             "hrEndDate",
		                             "hrSecondmentStart",
		                             "hrSecondmentEnd",
		                             "entryUUID",
		                             "modifyTimestamp" };
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		assert_string_equal(d->attrs[i], attrs[i]);
	assert_null(d->attrs[sizeof(attrs) / sizeof(attrs[0])]);
	/* Persist mode and the other scope. */
	expect_ok(fx, DIR_MIN "mode = persist\nscope = base\nmax_disable_percent = 100\n");
	assert_int_equal(fx->conf->directory->mode, MAMORI_DIR_MODE_PERSIST);
	assert_int_equal(fx->conf->directory->scope, MAMORI_DIR_SCOPE_BASE);
	assert_int_equal(fx->conf->directory->max_disable_percent, 100);
}

static void
test_directory_missing_keys_blame_the_section_line(void **state)
{
	struct fixture *fx = *state;

	/* A section without a key at all still needs uri and base. */
	expect_error(fx, "[daemon]\ndebug = no\n[directory]\n[login]\n", 3, "[directory] needs uri");
	expect_error(fx, "[directory]\n# nothing\n", 1, "[directory] needs uri");
	expect_error(fx, "\n[directory]\nuri = ldapi://\nbind = external\n", 2, "[directory] needs base");
	/* bind = simple is the default. */
	expect_error(fx, "[directory]\nuri = ldap://127.0.0.1\nbase = dc=x\n", 1,
	             "[directory] bind = simple needs bind_dn and bind_password_file");
	expect_error(fx, "[directory]\nuri = ldap://127.0.0.1\nbase = dc=x\nbind = simple\nbind_dn = cn=a,dc=x\n", 4,
	             "[directory] bind = simple needs bind_dn and bind_password_file");
}

static void
test_directory_uri_errors(void **state)
{
	struct fixture *fx = *state;

	expect_error(fx, "[directory]\nbase = dc=x\nuri = http://ldap.example.lg.jp\n", 3,
	             "uri \"http://ldap.example.lg.jp\" is not an LDAP URL (ldap://host[:port], ldaps://... or "
	             "ldapi://...)");
	expect_error(fx, "[directory]\nuri = ldap://h.example/dc=x\n", 2,
	             "uri \"ldap://h.example/dc=x\" has a DN: set base instead");
	expect_error(
	        fx, "[directory]\nuri = ldap://h.example/??sub\n", 2,
	        "uri \"ldap://h.example/??sub\" is not an LDAP URL (ldap://host[:port], ldaps://... or ldapi://...)");
	expect_error(fx, "[directory]\nuri = ldap:///\n", 2, "uri \"ldap:///\" names no host");
	expect_error(fx, "[directory]\nuri = ldap://h:65536\n", 2,
	             "uri \"ldap://h:65536\": the port must be 1 to 65535");
	expect_error(fx, "[directory]\nuri = , ,\n", 2, "uri must name at least one URI");
	expect_error(
	        fx,
	        "[directory]\nuri = ldapi:// ldapi:// ldapi:// ldapi:// ldapi:// ldapi:// ldapi:// ldapi:// ldapi://\n",
	        2, "uri: at most 8 URIs");
	expect_error(fx, "[directory]\nuri = ldapi://\nuri = ldapi://\n", 3, "\"uri\" repeated in [directory]");
	expect_error(fx, "[directory]\nurl = ldapi://\n", 2, "unknown key \"url\" in [directory]");
}

static void
test_directory_bind_and_tls_errors(void **state)
{
	struct fixture *fx = *state;

	expect_error(fx, "[directory]\nuri = ldap://127.0.0.1 ldapi://\nbase = dc=x\nbind = external\n", 4,
	             "[directory] bind = external needs every uri to be ldapi://, not \"ldap://127.0.0.1\"");
	expect_error(fx, DIR_MIN "bind_dn = cn=a,dc=x\n", 5,
	             "[directory] bind_dn and bind_password_file are for bind = simple");
	expect_error(fx, "[directory]\nbind = kerberos\n", 2, "unsupported bind \"kerberos\"");
	expect_error(fx, "[directory]\nbind_password_file = ldap.secret\n", 2,
	             "bind_password_file must be an absolute path");
	expect_error(fx, "[directory]\nbind_dn = mamori\n", 2, "bind_dn \"mamori\" is not a distinguished name");
	expect_error(fx, "[directory]\nbase = \n", 2, "base \"\" is not a distinguished name");
	/* No TLS only on the loopback and ldapi://; ldaps:// is TLS anyway. */
	expect_error(fx,
	             "[directory]\nuri = ldap://127.0.0.1 ldap://ldap.example.lg.jp\nbase = dc=x\nbind_dn = cn=a\n"
	             "bind_password_file = /etc/p\ntls = none\n",
	             6,
	             "[directory] tls = none only for ldapi:// and the loopback: \"ldap://ldap.example.lg.jp\" needs "
	             "starttls or ldaps://");
	expect_error(fx, "[directory]\ntls = off\n", 2, "unsupported tls \"off\"");
	expect_ok(fx, "[directory]\nuri = ldap://127.0.0.1:3389 ldap://127.9.9.9 ldap://localhost ldap://[::1]:389 "
	              "ldapi:// ldaps://ldap.example.lg.jp\nbase = dc=x\nbind_dn = cn=a\n"
	              "bind_password_file = /etc/p\ntls = none\n");
	assert_int_equal(fx->conf->directory->tls, MAMORI_DIR_TLS_NONE);
	assert_int_equal(fx->conf->directory->nuris, 6);
}

static void
test_directory_value_errors(void **state)
{
	struct fixture *fx = *state;

	expect_error(fx, "[directory]\nmax_disable_percent = 101\n", 2,
	             "max_disable_percent must be a whole number from 0 to 100");
	expect_error(fx, "[directory]\npoll_interval = 4\n", 2, "poll_interval must be a whole number from 5 to 86400");
	expect_error(fx, "[directory]\ntimeout = 0\n", 2, "timeout must be a whole number from 1 to 600");
	expect_error(fx, "[directory]\nmode = push\n", 2, "unsupported mode \"push\"");
	expect_error(fx, "[directory]\nscope = subtree\n", 2, "unsupported scope \"subtree\"");
	static const char *const bad_filters[] = {
		"objectClass=person", "(objectClass=person", "(a=1))(", "(a=1)(b=2)", "()", "(&(a=1)", ")a=1(",
	};
	for (size_t i = 0; i < sizeof(bad_filters) / sizeof(bad_filters[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "[directory]\nfilter = %s\n", bad_filters[i]);
		expect_error(fx, text, 2, "filter must be one LDAP filter in balanced parentheses, at most 1024 bytes");
	}
	static const char *const bad_attrs[] = { "1uid", "u_id", "uid;binary", "1..2", "1.", "01.2", "7", "ü" };
	for (size_t i = 0; i < sizeof(bad_attrs) / sizeof(bad_attrs[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "[directory]\nattr_department = %s\n", bad_attrs[i]);
		expect_error(fx, text, 2, "attr_department must be an attribute name (letters, digits, '-') or an OID");
	}
	/* The employee number and the uid are always mapped. */
	expect_error(fx, "[directory]\nattr_uid =\n", 2,
	             "attr_uid must be an attribute name (letters, digits, '-') or an OID");
	expect_error(fx, "[directory]\nattr_employee_number =\n", 2,
	             "attr_employee_number must be an attribute name (letters, digits, '-') or an OID");
	expect_error(fx, "[directory]\nretired_values = retired,,gone\n", 2,
	             "retired_values must be values separated by commas");
	expect_error(fx, "[directory]\ncontractor_values = ,\n", 2,
	             "contractor_values must be values separated by commas");
	/* The first error wins, even when the section would be incomplete. */
	expect_error(fx, "[directory]\nbase = dc=x\nscope = all\n", 3, "unsupported scope \"all\"");
}

#define FX_TEST(f) cmocka_unit_test_setup_teardown(f, fixture_setup, fixture_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_match_documentation),
		cmocka_unit_test(test_defaults_derive_socket_and_store_paths),
		cmocka_unit_test(test_derived_paths_refuse_short_buffer),
		FX_TEST(test_P_AUDIT_audit_key_and_checkpoint),
		cmocka_unit_test(test_free_accepts_null),
		FX_TEST(test_store_node_and_sweep_interval),
		FX_TEST(test_load_empty_file_gives_defaults),
		FX_TEST(test_load_parses_every_key),
		FX_TEST(test_load_accepts_range_limits),
		FX_TEST(test_load_accepts_every_bool_spelling),
		FX_TEST(test_load_ignores_comments_and_whitespace),
		FX_TEST(test_totp_first_enroll),
		FX_TEST(test_card_section),
		FX_TEST(test_P_MFA_MN_fingerprint_needs_possession),
		FX_TEST(test_load_refuses_repeated_key),
		FX_TEST(test_load_refuses_argon2_memory_below_lanes),
		FX_TEST(test_load_indented_key_is_not_a_continuation),
		FX_TEST(test_load_policy_sections),
		FX_TEST(test_reserved_names),
		FX_TEST(test_P_PW_STRENGTH_org_words_and_guesses),
		FX_TEST(test_rhost_empty),
		FX_TEST(test_load_rejects_bad_lines),
		FX_TEST(test_load_postgresql_store),
		FX_TEST(test_load_postgresql_several_hosts),
		FX_TEST(test_load_postgresql_long_conninfo),
		FX_TEST(test_load_store_listen_conninfo_prepared),
		FX_TEST(test_load_store_timeouts),
		FX_TEST(test_load_offline),
		FX_TEST(test_load_never_reads_tail_of_long_comment_as_key),
		FX_TEST(test_load_reports_overlong_line_on_its_own_line),
		FX_TEST(test_service_system_maps_configured_service),
		FX_TEST(test_service_system_defaults_for_unknown_service),
		FX_TEST(test_service_member_prompt),
		cmocka_unit_test(test_service_system_defaults_without_config),
		FX_TEST(test_service_sections_merge_by_name),
		FX_TEST(test_service_section_with_longest_name_maps_that_name),
		FX_TEST(test_load_missing_file_names_the_path),
		FX_TEST(test_load_refuses_directory),
		FX_TEST(test_load_refuses_symlink),
		FX_TEST(test_load_truncates_error_to_buffer),
		FX_TEST(test_P_ID_STALE_stale_keys),
		FX_TEST(test_directory_defaults),
		FX_TEST(test_directory_full_section),
		FX_TEST(test_directory_missing_keys_blame_the_section_line),
		FX_TEST(test_directory_uri_errors),
		FX_TEST(test_directory_bind_and_tls_errors),
		FX_TEST(test_directory_value_errors),
	};

	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
