/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for authd/password_policy.c (P-PW-STRENGTH): the block list
 * (loading, case folding, file checks, lookups) and the password rules in
 * their order (length in characters, classes, block list, user name,
 * libpwquality with the real cracklib dictionary), with every verdict's
 * reason checked to be one line that does not repeat the password; failures
 * of cracklib itself are errors, never verdicts; no copy of the password is
 * left in cracklib's static buffers; checks run safely from many threads. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "error.h"
#include "rules/password_policy.h"

#define DIR_MAX 256
#define PATH_LEN 512
#define ERR_MAX 1024

/* Synthetic passwords only (P-TESTDATA). */
#define GOOD "Kumo-no-Ue-2026!"
#define GOOD_PRIVILEGED "Kumo-no-Ue-2026!-Tsuki"

static char dir[DIR_MAX];
static char err[ERR_MAX];

/* ------------------------------------------------------------------ helpers */

static int
setup_group(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	snprintf(dir, sizeof(dir), "%s/mamori-test-pwpolicy.XXXXXX", tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	return mkdtemp(dir) != NULL ? 0 : -1;
}

/* Also removes what a failed test left behind. */
static int
teardown_group(void **state)
{
	char path[PATH_LEN];
	struct dirent *e;
	DIR *d = opendir(dir);

	(void)state;
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(dir);
}

/* Write content (len bytes) to dir/name with mode; returns the path. */
static const char *
write_file(const char *name, const char *content, size_t len, mode_t mode)
{
	static char path[PATH_LEN];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
	return path;
}

static const char *
write_text(const char *name, const char *content)
{
	return write_file(name, content, strlen(content), 0644);
}

static struct mamori_blocklist *
load_ok(const char *path)
{
	struct mamori_blocklist *bl = NULL;

	err[0] = '\0';
	assert_int_equal(mamori_blocklist_load(path, &bl, err, sizeof(err)), MAMORI_OK);
	assert_non_null(bl);
	assert_string_equal(err, "");
	unlink(path);
	return bl;
}

static int
has(const struct mamori_blocklist *bl, const char *pw)
{
	return mamori_blocklist_contains(bl, pw, strlen(pw));
}

/* [password] org_words for the checks below; NULL: none. */
static const char *org_words;

/* The defaults of mamori.conf(5) for each role. */
static struct mamori_policy_conf
staff(void)
{
	struct mamori_policy_conf p = { 0 };

	p.min_length = 12;
	p.max_length = 1024;
	p.min_guesses_log10 = 10;
	p.min_classes = 0;
	p.dictionary_check = 1;
	p.user_check = 1;
	return p;
}

static struct mamori_policy_conf
privileged(void)
{
	struct mamori_policy_conf p = staff();

	p.min_length = 15;
	p.min_guesses_log10 = 12;
	p.min_classes = 3;
	return p;
}

/* Check pw and require rule; the reason must be one line, non-empty when
 * the password is refused, and must not contain the password. */
static void
expect_rule(const struct mamori_policy_conf *p, const struct mamori_blocklist *bl, const char *user, const char *pw,
            size_t len, enum mamori_pw_rule rule)
{
	struct mamori_pw_verdict v;

	memset(&v, 0x55, sizeof(v));
	assert_int_equal(mamori_password_policy_check(p, bl, org_words, user, pw, len, &v), MAMORI_OK);
	if (v.rule != rule)
		fail_msg("rule %d, expected %d (%s)", (int)v.rule, (int)rule, v.reason);
	assert_non_null(memchr(v.reason, '\0', sizeof(v.reason)));
	assert_null(strchr(v.reason, '\n'));
	assert_null(strchr(v.reason, '\r'));
	if (rule == MAMORI_PW_OK) {
		assert_string_equal(v.reason, "");
		return;
	}
	assert_true(strlen(v.reason) > 0);
	assert_int_equal(v.reason[strlen(v.reason) - 1], '.');
	if (len > 0)
		assert_null(memmem(v.reason, strlen(v.reason), pw, len));
}

static void
expect(const struct mamori_policy_conf *p, const struct mamori_blocklist *bl, const char *user, const char *pw,
       enum mamori_pw_rule rule)
{
	expect_rule(p, bl, user, pw, strlen(pw), rule);
}

static void
expect_reason(const struct mamori_policy_conf *p, const char *user, const char *pw, enum mamori_pw_rule rule,
              const char *reason)
{
	struct mamori_pw_verdict v;

	assert_int_equal(mamori_password_policy_check(p, NULL, org_words, user, pw, strlen(pw), &v), MAMORI_OK);
	assert_int_equal(v.rule, rule);
	assert_string_equal(v.reason, reason);
}

/* ------------------------------------------------------------------ block list */

/* P-PW-STRENGTH: entries match without regard to ASCII case, both ways. */
static void
test_blocklist_case_insensitive(void **state)
{
	struct mamori_blocklist *bl;

	(void)state;
	bl = load_ok(write_text("case", "Summer-Matsuri-2026\nyukiguni-no-yoru\n"));
	assert_int_equal(mamori_blocklist_count(bl), 2);
	assert_true(has(bl, "Summer-Matsuri-2026"));
	assert_true(has(bl, "summer-matsuri-2026"));
	assert_true(has(bl, "SUMMER-MATSURI-2026"));
	assert_true(has(bl, "YukiGuni-No-Yoru"));
	assert_false(has(bl, "Summer-Matsuri-2025"));
	assert_false(has(bl, "Summer-Matsuri-202"));
	assert_false(has(bl, "Summer-Matsuri-20266"));
	assert_false(has(bl, ""));
	mamori_blocklist_free(&bl);
	assert_null(bl);
}

/* P-PW-STRENGTH: only ASCII letters fold; other bytes compare exactly. */
static void
test_blocklist_non_ascii_exact(void **state)
{
	struct mamori_blocklist *bl;

	(void)state;
	bl = load_ok(write_text("utf8", "Ärger-パスワード\n"));
	assert_true(has(bl, "Ärger-パスワード"));
	assert_true(has(bl, "ÄRGER-パスワード"));
	assert_false(has(bl, "ärger-パスワード"));
	mamori_blocklist_free(&bl);
}

/* P-PW-STRENGTH: comments and blank lines are not entries. */
static void
test_blocklist_comments_and_blank_lines(void **state)
{
	struct mamori_blocklist *bl;

	(void)state;
	bl = load_ok(write_text("comments", "# forbidden passwords\n"
	                                    "\n"
	                                    "   \n"
	                                    "\t\n"
	                                    "kawa-no-nagare-99\n"
	                                    "# kawa-no-nagare-00\n"
	                                    "\n"
	                                    " #not-a-comment\n"));
	assert_int_equal(mamori_blocklist_count(bl), 2);
	assert_true(has(bl, "kawa-no-nagare-99"));
	assert_false(has(bl, "kawa-no-nagare-00"));
	assert_false(has(bl, "# kawa-no-nagare-00"));
	assert_false(has(bl, "# forbidden passwords"));
	assert_false(has(bl, "   "));
	/* A '#' that is not the first byte does not make a comment. */
	assert_true(has(bl, " #not-a-comment"));
	mamori_blocklist_free(&bl);
}

/* P-PW-STRENGTH: "\r\n" line ends are stripped; the last line needs no end;
 * other spaces are part of the entry. */
static void
test_blocklist_crlf(void **state)
{
	struct mamori_blocklist *bl;

	(void)state;
	bl = load_ok(write_text("crlf", "hoshi-zora-77\r\n\r\ntsuki-akari-88 \r\numi-no-oto-66"));
	assert_int_equal(mamori_blocklist_count(bl), 3);
	assert_true(has(bl, "hoshi-zora-77"));
	assert_false(has(bl, "hoshi-zora-77\r"));
	assert_true(has(bl, "tsuki-akari-88 "));
	assert_false(has(bl, "tsuki-akari-88"));
	assert_true(has(bl, "umi-no-oto-66"));
	mamori_blocklist_free(&bl);
}

/* P-PW-STRENGTH: duplicates, also those differing only in case, count once. */
static void
test_blocklist_duplicates(void **state)
{
	struct mamori_blocklist *bl;

	(void)state;
	bl = load_ok(
	        write_text("dups", "sakura-2026\nSAKURA-2026\nsakura-2026\nSakura-2026\r\nmomiji-2026\nsakura-2026"));
	assert_int_equal(mamori_blocklist_count(bl), 2);
	assert_true(has(bl, "sakura-2026"));
	assert_true(has(bl, "momiji-2026"));
	mamori_blocklist_free(&bl);
}

/* P-PW-STRENGTH: an empty file is an empty list, not an error. */
static void
test_blocklist_empty_file(void **state)
{
	struct mamori_blocklist *bl;

	(void)state;
	bl = load_ok(write_text("empty", ""));
	assert_int_equal(mamori_blocklist_count(bl), 0);
	assert_false(has(bl, "anything-at-all"));
	mamori_blocklist_free(&bl);
}

/* P-PW-STRENGTH: many entries, every one found, near misses not. */
static void
test_blocklist_many_entries(void **state)
{
	enum { N = 20000 };
	char *text = malloc((size_t)N * 24), pw[32];
	struct mamori_blocklist *bl;
	size_t off = 0;

	(void)state;
	assert_non_null(text);
	/* Written in descending order so that the sort has work to do. */
	for (int i = N - 1; i >= 0; i--)
		off += (size_t)snprintf(text + off, (size_t)N * 24 - off, "Entry-%05d-x\n", i);
	bl = load_ok(write_file("many", text, off, 0644));
	free(text);
	assert_int_equal(mamori_blocklist_count(bl), N);
	for (int i = 0; i < N; i++) {
		snprintf(pw, sizeof(pw), "ENTRY-%05d-X", i);
		assert_true(has(bl, pw));
		snprintf(pw, sizeof(pw), "entry-%05d-y", i);
		assert_false(has(bl, pw));
	}
	mamori_blocklist_free(&bl);
}

/* P-PW-STRENGTH: a missing file is an error naming the path. */
static void
test_blocklist_missing_file(void **state)
{
	struct mamori_blocklist *bl = (struct mamori_blocklist *)&bl;
	char path[PATH_LEN], expected[PATH_LEN + 64];

	(void)state;
	snprintf(path, sizeof(path), "%s/no-such-list", dir);
	assert_int_equal(mamori_blocklist_load(path, &bl, err, sizeof(err)), MAMORI_ERR_IO);
	assert_null(bl);
	snprintf(expected, sizeof(expected), "%s: %s", path, strerror(ENOENT));
	assert_string_equal(err, expected);
}

/* Write "# header\nshort-entry\n", then a line of n 'a's ended by end. */
static const char *
write_long_line(const char *name, size_t n, const char *end)
{
	static const char head[] = "# header\nshort-entry\n";
	size_t total = sizeof(head) - 1 + n + strlen(end);
	char *text = malloc(total);
	const char *path;

	assert_non_null(text);
	memcpy(text, head, sizeof(head) - 1);
	memset(text + sizeof(head) - 1, 'a', n);
	memcpy(text + sizeof(head) - 1 + n, end, strlen(end));
	path = write_file(name, text, total, 0644);
	free(text);
	return path;
}

/* P-PW-STRENGTH: a line over 4096 bytes refuses the whole list, naming the
 * line; exactly 4096 bytes (before "\r\n") is accepted. */
static void
test_blocklist_line_too_long(void **state)
{
	struct mamori_blocklist *bl;
	char expected[PATH_LEN + 64];
	const char *path;

	(void)state;
	bl = load_ok(write_long_line("long-ok", MAMORI_BLOCKLIST_LINE_MAX, "\r\n"));
	assert_int_equal(mamori_blocklist_count(bl), 2);
	mamori_blocklist_free(&bl);

	path = write_long_line("long", MAMORI_BLOCKLIST_LINE_MAX + 1, "\n");
	bl = (struct mamori_blocklist *)&bl;
	assert_int_equal(mamori_blocklist_load(path, &bl, err, sizeof(err)), MAMORI_ERR_INVALID);
	assert_null(bl);
	snprintf(expected, sizeof(expected), "%s:3: line longer than 4096 bytes", path);
	assert_string_equal(err, expected);
	unlink(path);
}

/* P-PW-STRENGTH: a NUL byte in a line refuses the list, naming the line. */
static void
test_blocklist_nul_byte(void **state)
{
	static const char text[] = "ok-entry-1\nbad\0entry\n";
	struct mamori_blocklist *bl = NULL;
	char expected[PATH_LEN + 64];
	const char *path;

	(void)state;
	path = write_file("nul", text, sizeof(text) - 1, 0644);
	assert_int_equal(mamori_blocklist_load(path, &bl, err, sizeof(err)), MAMORI_ERR_INVALID);
	assert_null(bl);
	snprintf(expected, sizeof(expected), "%s:2: line contains a NUL byte", path);
	assert_string_equal(err, expected);
	unlink(path);
}

/* P-PW-STRENGTH: the list is read only through a regular file, never a
 * symbolic link (which could point anywhere), a directory or a FIFO. */
static void
test_blocklist_symlink_refused(void **state)
{
	struct mamori_blocklist *bl = NULL;
	char target[PATH_LEN], link[PATH_LEN], expected[PATH_LEN + 64];

	(void)state;
	snprintf(target, sizeof(target), "%s", write_text("target", "ame-no-hi-2026\n"));
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(mamori_blocklist_load(link, &bl, err, sizeof(err)), MAMORI_ERR_INVALID);
	assert_null(bl);
	snprintf(expected, sizeof(expected), "%s: is a symbolic link", link);
	assert_string_equal(err, expected);
	unlink(link);
	unlink(target);
}

static void
test_blocklist_not_regular_refused(void **state)
{
	struct mamori_blocklist *bl = NULL;
	char path[PATH_LEN], expected[PATH_LEN + 64];

	(void)state;
	assert_int_equal(mamori_blocklist_load(dir, &bl, err, sizeof(err)), MAMORI_ERR_INVALID);
	assert_null(bl);
	snprintf(expected, sizeof(expected), "%s: not a regular file", dir);
	assert_string_equal(err, expected);

	/* The loader's O_RDONLY open of a FIFO blocks until there is a
	 * writer, so the test holds one open itself. */
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	{
		int wfd = open(path, O_RDWR | O_CLOEXEC);
		assert_true(wfd >= 0);
		assert_int_equal(mamori_blocklist_load(path, &bl, err, sizeof(err)), MAMORI_ERR_INVALID);
		close(wfd);
	}
	assert_null(bl);
	snprintf(expected, sizeof(expected), "%s: not a regular file", path);
	assert_string_equal(err, expected);
	unlink(path);
}

/* P-PW-STRENGTH: a list anyone may write is a list anyone may empty. */
static void
test_blocklist_world_writable_refused(void **state)
{
	struct mamori_blocklist *bl = NULL;
	char expected[PATH_LEN + 64];
	const char *path;

	(void)state;
	path = write_file("writable", "kiri-no-naka-12\n", 16, 0666);
	assert_int_equal(mamori_blocklist_load(path, &bl, err, sizeof(err)), MAMORI_ERR_INVALID);
	assert_null(bl);
	snprintf(expected, sizeof(expected), "%s: writable by everyone", path);
	assert_string_equal(err, expected);
	unlink(path);
}

/* P-PW-STRENGTH: no list is an empty list; NULL arguments are safe. */
static void
test_blocklist_null(void **state)
{
	struct mamori_blocklist *bl = NULL;

	(void)state;
	assert_int_equal(mamori_blocklist_count(NULL), 0);
	assert_false(mamori_blocklist_contains(NULL, "anything", 8));
	mamori_blocklist_free(NULL);
	mamori_blocklist_free(&bl);
	assert_int_equal(mamori_blocklist_load(NULL, &bl, err, sizeof(err)), MAMORI_ERR_INVALID);
	assert_int_equal(mamori_blocklist_load("/nonexistent", NULL, err, sizeof(err)), MAMORI_ERR_INVALID);
	/* No error buffer is fine too. */
	assert_int_equal(mamori_blocklist_load("/nonexistent/list", &bl, NULL, 0), MAMORI_ERR_IO);
	assert_null(bl);

	bl = load_ok(write_text("null-args", "tori-no-uta-55\n"));
	assert_false(mamori_blocklist_contains(bl, NULL, 0));
	/* Length, not NUL, ends the candidate. */
	assert_true(mamori_blocklist_contains(bl, "tori-no-uta-55-and-more", 14));
	assert_false(mamori_blocklist_contains(bl, "tori-no-uta-55\0", 15));
	mamori_blocklist_free(&bl);
}

/* ------------------------------------------------------------------ rules */

/* P-PW-STRENGTH: a good password passes the staff and privileged defaults. */
static void
test_good_password_passes_staff(void **state)
{
	struct mamori_policy_conf p = staff();

	(void)state;
	expect(&p, NULL, "tanaka", GOOD, MAMORI_PW_OK);
	expect(&p, NULL, NULL, GOOD, MAMORI_PW_OK);
	expect(&p, NULL, "", GOOD, MAMORI_PW_OK);
}

static void
test_good_password_passes_privileged(void **state)
{
	struct mamori_policy_conf p = privileged();

	(void)state;
	expect(&p, NULL, "adm-suzuki", GOOD, MAMORI_PW_OK);
	expect(&p, NULL, "adm-suzuki", GOOD_PRIVILEGED, MAMORI_PW_OK);
}

/* P-PW-STRENGTH: shorter than min_length is TOO_SHORT. */
static void
test_too_short(void **state)
{
	struct mamori_policy_conf s = staff(), p = privileged();

	(void)state;
	expect(&s, NULL, "tanaka", "Kumo-no-Ue!", MAMORI_PW_TOO_SHORT); /* 11 */
	expect(&s, NULL, "tanaka", "Kumo-no-Ue!2", MAMORI_PW_OK); /* 12 */
	expect(&p, NULL, "tanaka", "Kumo-no-Ue-20!", MAMORI_PW_TOO_SHORT); /* 14 */
	expect_reason(&s, "tanaka", "Kumo-no-Ue!", MAMORI_PW_TOO_SHORT,
	              "The password must have at least 12 characters.");
	expect_reason(&p, "tanaka", "Kumo-no-Ue-20!", MAMORI_PW_TOO_SHORT,
	              "The password must have at least 15 characters.");
	expect_rule(&s, NULL, "tanaka", "", 0, MAMORI_PW_TOO_SHORT);
}

/* P-PW-STRENGTH: longer than max_length is TOO_LONG. */
static void
test_too_long(void **state)
{
	struct mamori_policy_conf s = staff();
	char pw[1100];

	(void)state;
	s.max_length = 20;
	expect(&s, NULL, "tanaka", "Kumo-no-Ue-2026!-Yoru", MAMORI_PW_TOO_LONG); /* 21 */
	expect(&s, NULL, "tanaka", "Kumo-no-Ue-2026!-Yor", MAMORI_PW_OK); /* 20 */
	expect_reason(&s, "tanaka", "Kumo-no-Ue-2026!-Yoru", MAMORI_PW_TOO_LONG,
	              "The password must have at most 20 characters.");

	s = staff();
	memset(pw, 'x', 1025);
	memcpy(pw, GOOD, strlen(GOOD));
	pw[1025] = '\0';
	expect(&s, NULL, "tanaka", pw, MAMORI_PW_TOO_LONG);
}

/* P-PW-STRENGTH: length counts UTF-8 characters, not bytes. */
static void
test_length_counts_utf8_characters(void **state)
{
	static const char pw[] = "パスワードパスワードパス"; /* 12 characters, 36 bytes */
	struct mamori_policy_conf s = staff();

	(void)state;
	assert_int_equal(strlen(pw), 36);
	expect(&s, NULL, "tanaka", pw, MAMORI_PW_OK);
	s.min_length = 13;
	expect(&s, NULL, "tanaka", pw, MAMORI_PW_TOO_SHORT);
	s.min_length = 12;
	s.max_length = 12;
	expect(&s, NULL, "tanaka", pw, MAMORI_PW_OK);
	s.max_length = 11;
	expect(&s, NULL, "tanaka", pw, MAMORI_PW_TOO_LONG);
	/* Four-byte characters count once too. */
	s = staff();
	s.min_length = 8;
	s.dictionary_check = 0;
	expect(&s, NULL, "tanaka", "\xf0\x9f\x8c\xb8\xf0\x9f\x8c\xb8\xf0\x9f\x8c\x99Kumo!", MAMORI_PW_OK);
	s.min_length = 9;
	expect(&s, NULL, "tanaka", "\xf0\x9f\x8c\xb8\xf0\x9f\x8c\xb8\xf0\x9f\x8c\x99Kumo!", MAMORI_PW_TOO_SHORT);
}

/* P-PW-STRENGTH: bytes that are not valid UTF-8 are counted as bytes. */
static void
test_length_counts_bytes_when_not_utf8(void **state)
{
	/* "パスワ" (9 bytes, 3 characters) and a stray byte: 10 bytes. */
	static const char stray[] = "\xe3\x83\x91\xe3\x82\xb9\xe3\x83\xaf\xff";
	/* Overlong '/' and an encoded surrogate are not valid UTF-8 either. */
	static const char overlong[] = "\xc0\xafKumo-no-Ue";
	static const char surrogate[] = "\xed\xa0\x80Kumo-no-U";
	struct mamori_policy_conf s = staff();

	(void)state;
	s.dictionary_check = 0;
	s.min_length = 10;
	expect(&s, NULL, "tanaka", stray, MAMORI_PW_OK);
	s.min_length = 11;
	expect(&s, NULL, "tanaka", stray, MAMORI_PW_TOO_SHORT);
	s.min_length = 12;
	expect(&s, NULL, "tanaka", overlong, MAMORI_PW_OK); /* 12 bytes, would be 11 characters */
	expect(&s, NULL, "tanaka", surrogate, MAMORI_PW_OK); /* 12 bytes, would be 10 characters */
	/* A truncated sequence at the end. */
	s.min_length = 12;
	expect(&s, NULL, "tanaka", "Kumo-no-Ue\xe3\x83", MAMORI_PW_OK);
}

/* P-PW-STRENGTH: fewer classes than min_classes is CLASSES. */
static void
test_classes(void **state)
{
	struct mamori_policy_conf p = privileged();

	(void)state;
	expect(&p, NULL, "adm-suzuki", "kumonouenotsukiyo", MAMORI_PW_CLASSES); /* lower */
	expect(&p, NULL, "adm-suzuki", "kumo-no-ue-no-tsuki", MAMORI_PW_CLASSES); /* lower, other */
	expect(&p, NULL, "adm-suzuki", "Kumo-no-Ue-no-Tsuki", MAMORI_PW_OK); /* lower, upper, other */
	expect(&p, NULL, "adm-suzuki", "kumo-no-ue-2026-tsuki", MAMORI_PW_OK); /* lower, digit, other */
	expect_reason(&p, "adm-suzuki", "kumonouenotsukiyo", MAMORI_PW_CLASSES,
	              "The password must mix at least 3 of: lower-case letters, upper-case letters, digits, other "
	              "characters.");
	p.min_classes = 4;
	expect(&p, NULL, "adm-suzuki", "Kumo-no-Ue-no-Tsuki", MAMORI_PW_CLASSES);
	expect(&p, NULL, "adm-suzuki", GOOD_PRIVILEGED, MAMORI_PW_OK);
}

/* P-PW-STRENGTH: a non-ASCII character is an "other" character. */
static void
test_classes_non_ascii_is_other(void **state)
{
	struct mamori_policy_conf p = staff();

	(void)state;
	p.min_classes = 2;
	p.dictionary_check = 0;
	expect(&p, NULL, "tanaka", "kumonouenotsuki", MAMORI_PW_CLASSES);
	expect(&p, NULL, "tanaka", "kumonouenotsukiパ", MAMORI_PW_OK);
	expect(&p, NULL, "tanaka", "パスワードパスワードパス", MAMORI_PW_CLASSES); /* other only */
}

/* P-PW-STRENGTH: a password on the block list is BLOCKLIST, in any case. */
static void
test_blocklist_rule(void **state)
{
	struct mamori_policy_conf s = staff();
	struct mamori_blocklist *bl;

	(void)state;
	bl = load_ok(write_text("rule", "# organisation list\nkumo-no-ue-2026!\n"));
	expect(&s, bl, "tanaka", GOOD, MAMORI_PW_BLOCKLIST);
	expect(&s, bl, "tanaka", "KUMO-NO-UE-2026!", MAMORI_PW_BLOCKLIST);
	/* Normalised, "Kumo-no-Ue-2026?" is the entry too. */
	expect(&s, bl, "tanaka", "Kumo-no-Ue-2026?", MAMORI_PW_BLOCKLIST);
	expect(&s, bl, "tanaka", "Kumo-no-Ue-Yoru-Sora-2026!", MAMORI_PW_OK);
	expect(&s, NULL, "tanaka", GOOD, MAMORI_PW_OK);
	{
		struct mamori_pw_verdict v;
		assert_int_equal(mamori_password_policy_check(&s, bl, org_words, "tanaka", GOOD, strlen(GOOD), &v),
		                 MAMORI_OK);
		assert_string_equal(v.reason, "The password is on the organisation's list of forbidden passwords.");
	}
	mamori_blocklist_free(&bl);
}

/* P-PW-STRENGTH: the user name inside the password, in any case, is
 * USER_NAME. */
static void
test_user_name_inside(void **state)
{
	struct mamori_policy_conf s = staff();

	(void)state;
	expect(&s, NULL, "tanaka", "Kumo-tanaka-2026!", MAMORI_PW_USER_NAME);
	expect(&s, NULL, "tanaka", "Kumo-TaNaKa-2026!", MAMORI_PW_USER_NAME);
	expect(&s, NULL, "Tanaka", "tanaka-Kumo-2026!", MAMORI_PW_USER_NAME);
	expect(&s, NULL, "tanaka", "Kumo-2026!-TANAKA", MAMORI_PW_USER_NAME);
	expect(&s, NULL, "tanaka", "Kumo-tanak-2026!!", MAMORI_PW_OK);
	expect_reason(&s, "tanaka", "Kumo-tanaka-2026!", MAMORI_PW_USER_NAME,
	              "The password contains the user name in some form.");
}

/* P-PW-STRENGTH: the reversed user name is USER_NAME too. */
static void
test_user_name_reversed(void **state)
{
	struct mamori_policy_conf s = staff();

	(void)state;
	expect(&s, NULL, "tanaka", "Kumo-akanat-2026!", MAMORI_PW_USER_NAME);
	expect(&s, NULL, "tanaka", "Kumo-AKANAT-2026!", MAMORI_PW_USER_NAME);
}

/* P-PW-STRENGTH: names of three characters are checked (libpwquality alone
 * would skip them), names of one or two are not. */
static void
test_user_name_short(void **state)
{
	struct mamori_policy_conf s = staff();

	(void)state;
	expect(&s, NULL, "kim", "Kumo-kim-2026-Ue!", MAMORI_PW_USER_NAME);
	expect(&s, NULL, "kim", "Kumo-MIK-2026-Ue!", MAMORI_PW_USER_NAME);
	expect(&s, NULL, "ue", GOOD, MAMORI_PW_OK);
	expect(&s, NULL, "k", GOOD, MAMORI_PW_OK);
}

/* P-PW-STRENGTH: user_check = no turns the rule off (ours and
 * libpwquality's). */
static void
test_user_check_off(void **state)
{
	struct mamori_policy_conf s = staff();

	(void)state;
	s.user_check = 0;
	expect(&s, NULL, "tanaka", "Kumo-tanaka-2026!", MAMORI_PW_OK);
	expect(&s, NULL, "tanaka", "Kumo-akanat-2026!", MAMORI_PW_OK);
}

/* P-PW-STRENGTH: cracklib's dictionary check is DICTIONARY, with cracklib's
 * explanation and never the password. */
static void
test_dictionary_word(void **state)
{
	struct mamori_policy_conf s = staff();
	struct mamori_pw_verdict v;

	(void)state;
	expect(&s, NULL, "tanaka", "Understanding1", MAMORI_PW_DICTIONARY);
	expect(&s, NULL, "tanaka", "responsibility", MAMORI_PW_DICTIONARY);
	expect(&s, NULL, "tanaka", "password123456", MAMORI_PW_DICTIONARY);
	assert_int_equal(mamori_password_policy_check(&s, NULL, org_words, "tanaka", "Understanding1", 14, &v),
	                 MAMORI_OK);
	assert_string_equal(v.reason, "The password fails the dictionary check - it is based on a dictionary word.");
	assert_int_equal(mamori_password_policy_check(&s, NULL, org_words, "tanaka", "password123456", 14, &v),
	                 MAMORI_OK);
	assert_string_equal(v.reason, "The password fails the dictionary check - it is too simplistic/systematic.");
}

/* P-PW-STRENGTH: dictionary_check = no lets a dictionary word through. */
static void
test_dictionary_check_off(void **state)
{
	struct mamori_policy_conf s = staff();

	(void)state;
	s.dictionary_check = 0;
	s.min_guesses_log10 = 0; /* zxcvbn would refuse them too */
	expect(&s, NULL, "tanaka", "Understanding1", MAMORI_PW_OK);
	expect(&s, NULL, "tanaka", "password123456", MAMORI_PW_OK);
}

/* P-PW-STRENGTH: libpwquality's other refusals are WEAK. */
static void
test_weak_palindrome(void **state)
{
	struct mamori_policy_conf s = staff();

	(void)state;
	s.dictionary_check = 0;
	expect(&s, NULL, "tanaka", "Kumo-2026-6202-omuK", MAMORI_PW_WEAK);
	expect_reason(&s, "tanaka", "Kumo-2026-6202-omuK", MAMORI_PW_WEAK, "The password is a palindrome.");
}

/* P-PW-STRENGTH: a password breaking several rules is reported for the
 * first: length, classes, block list, user name, dictionary. */
static void
test_rule_order(void **state)
{
	struct mamori_policy_conf p = privileged();
	struct mamori_blocklist *bl;

	(void)state;
	bl = load_ok(write_text("order", "tanaka\ntanakatanakatanaka\nTanaka-Understanding1\n"));
	/* too short, lower only, listed, user name, dictionary */
	expect(&p, bl, "tanaka", "tanaka", MAMORI_PW_TOO_SHORT);
	/* lower only, listed, user name */
	expect(&p, bl, "tanaka", "tanakatanakatanaka", MAMORI_PW_CLASSES);
	/* listed, user name, dictionary */
	expect(&p, bl, "tanaka", "Tanaka-Understanding1", MAMORI_PW_BLOCKLIST);
	/* listed once normalised, user name, dictionary */
	expect(&p, bl, "tanaka", "Tanaka-Understanding2", MAMORI_PW_BLOCKLIST);
	/* user name, dictionary */
	expect(&p, bl, "tanaka", "Understanding-Tanaka2", MAMORI_PW_USER_NAME);
	/* dictionary alone */
	expect(&p, bl, "suzuki", "Understanding12", MAMORI_PW_DICTIONARY);
	mamori_blocklist_free(&bl);
}

/* P-PW-STRENGTH, issue #9: each of these was accepted. */
static void
test_P_PW_STRENGTH_issue_examples_refused(void **state)
{
	struct mamori_policy_conf s = staff();

	(void)state;
	org_words = "komaki, komakishi, komakiyama, aichi, owari";
	expect(&s, NULL, "suzuki.ichiro", "Komaki2024!!", MAMORI_PW_ORG_WORD);
	expect(&s, NULL, "suzuki.ichiro", "Komaki-2024!", MAMORI_PW_ORG_WORD);
	expect(&s, NULL, "suzuki.ichiro", "Komakishi2024!", MAMORI_PW_ORG_WORD);
	expect(&s, NULL, "suzuki.ichiro", "Password2024!", MAMORI_PW_DICTIONARY);
	expect(&s, NULL, "yamada.hanako", "Yamada-Hanako-2026", MAMORI_PW_USER_NAME);
	expect(&s, NULL, "yamada.hanako", "HanakoYamada2026", MAMORI_PW_USER_NAME);
	expect_reason(&s, "suzuki.ichiro", "Komaki-2024!", MAMORI_PW_ORG_WORD,
	              "The password contains the name of the organisation or of a place it names.");
	expect_reason(&s, "suzuki.ichiro", "Password2024!", MAMORI_PW_DICTIONARY,
	              "The password fails the dictionary check - it is based on a dictionary word.");
	/* The demo's password passes. */
	expect(&s, NULL, "yamada.hanako", "Haru-no-Umi-2026", MAMORI_PW_OK);
	/* Without the organisation's words, zxcvbn still refuses the short
	 * ones with a year. */
	org_words = NULL;
	expect(&s, NULL, "suzuki.ichiro", "Password2024!", MAMORI_PW_DICTIONARY);
	s.dictionary_check = 0;
	expect(&s, NULL, "suzuki.ichiro", "Password2024!", MAMORI_PW_WEAK);
}

/* P-PW-STRENGTH: each part of the user name (split at '.', '_', '-', three
 * characters or more) is refused anywhere, in any case, in leetspeak or
 * reversed; shorter parts are not. */
static void
test_P_PW_STRENGTH_user_name_parts(void **state)
{
	struct mamori_policy_conf s = staff();

	(void)state;
	expect(&s, NULL, "yamada.hanako", "Kumo-no-Ue-hanako-77", MAMORI_PW_USER_NAME);
	expect(&s, NULL, "yamada_hanako", "Kumo-no-Ue-YAMADA-77", MAMORI_PW_USER_NAME);
	expect(&s, NULL, "yamada-hanako", "Kumo-no-Ue-Y4m4d4-77", MAMORI_PW_USER_NAME);
	expect(&s, NULL, "yamada.hanako", "Kumo-no-Ue-okanah-77", MAMORI_PW_USER_NAME);
	expect(&s, NULL, "sh.kato", "Kumo-no-Ue-K@t0-Yoru", MAMORI_PW_USER_NAME);
	/* "sh" is too short to be refused on its own. */
	expect(&s, NULL, "sh.kato", "Kumo-no-Ue-sh-Yoru", MAMORI_PW_OK);
	/* user_check = no turns it off. */
	s.user_check = 0;
	s.min_guesses_log10 = 0;
	expect(&s, NULL, "yamada.hanako", "Kumo-no-Ue-hanako-77", MAMORI_PW_OK);
}

/* P-PW-STRENGTH: [password] org_words, in any case, leetspeak or reversed,
 * whatever the role and user_check. */
static void
test_P_PW_STRENGTH_org_words(void **state)
{
	struct mamori_policy_conf s = staff(), p = privileged();

	(void)state;
	org_words = " komaki ,  aichi,owari ";
	expect(&s, NULL, "tanaka", "Kumo-KOMAKI-no-Ue", MAMORI_PW_ORG_WORD);
	expect(&s, NULL, "tanaka", "Kumo-K0m4k1-no-Ue", MAMORI_PW_ORG_WORD);
	expect(&s, NULL, "tanaka", "Kumo-ikamok-no-Ue", MAMORI_PW_ORG_WORD);
	expect(&s, NULL, "tanaka", "Kumo-no-Ue-Aichi", MAMORI_PW_ORG_WORD);
	expect(&s, NULL, "tanaka", "Kumo-no-Ue-Owari", MAMORI_PW_ORG_WORD);
	expect(&p, NULL, "tanaka", "Kumo-no-Ue-Owari-Tsuki", MAMORI_PW_ORG_WORD);
	s.user_check = 0;
	expect(&s, NULL, "tanaka", "Kumo-KOMAKI-no-Ue", MAMORI_PW_ORG_WORD);
	expect(&s, NULL, "tanaka", GOOD, MAMORI_PW_OK);
	/* Not configured: no such rule. */
	org_words = NULL;
	s.min_guesses_log10 = 0;
	expect(&s, NULL, "tanaka", "Kumo-KOMAKI-no-Ue", MAMORI_PW_OK);
}

/* P-PW-STRENGTH: the block list sees candidates and entries normalised:
 * years out, digits and symbols at either end stripped, leetspeak folded. */
static void
test_P_PW_STRENGTH_blocklist_normalised(void **state)
{
	struct mamori_policy_conf s = staff();
	struct mamori_blocklist *bl;

	(void)state;
	bl = load_ok(write_text("normalised", "Summer-Kyoto-2026!\nKomaki-City-Hall-1\n"));
	expect(&s, bl, "tanaka", "Summer-Kyoto-2027?", MAMORI_PW_BLOCKLIST);
	expect(&s, bl, "tanaka", "2031-Summer-Kyoto", MAMORI_PW_BLOCKLIST);
	expect(&s, bl, "tanaka", "Summ3r-Ky0to-1999", MAMORI_PW_BLOCKLIST);
	expect(&s, bl, "tanaka", "Komaki-City-Hall-2", MAMORI_PW_BLOCKLIST);
	expect_reason(&s, "tanaka", GOOD, MAMORI_PW_OK, "");
	{
		struct mamori_pw_verdict v;
		assert_int_equal(mamori_password_policy_check(&s, bl, NULL, "tanaka", "Summer-Kyoto-2027?", 18, &v),
		                 MAMORI_OK);
		assert_string_equal(v.reason,
		                    "The password is a forbidden password with digits, symbols or a year added.");
	}
	/* A year inside a longer number is not a year. */
	expect(&s, bl, "tanaka", "Summer-Kyoto-Natsu-120269", MAMORI_PW_OK);
	mamori_blocklist_free(&bl);
}

/* P-PW-STRENGTH: the dictionary check sees the normalised form too. */
static void
test_P_PW_STRENGTH_dictionary_normalised(void **state)
{
	struct mamori_policy_conf s = staff();

	(void)state;
	s.min_guesses_log10 = 0; /* the dictionary alone */
	expect(&s, NULL, "tanaka", "Password2024!", MAMORI_PW_DICTIONARY);
	expect(&s, NULL, "tanaka", "!!P@ssw0rd-2026", MAMORI_PW_DICTIONARY);
	expect(&s, NULL, "tanaka", "2026-Understanding!", MAMORI_PW_DICTIONARY);
	s.dictionary_check = 0;
	expect(&s, NULL, "tanaka", "Password2024!", MAMORI_PW_OK);
}

/* P-PW-STRENGTH: zxcvbn's estimate, 10^min_guesses_log10 guesses at least;
 * 0 turns it off. */
static void
test_P_PW_STRENGTH_zxcvbn_minimum(void **state)
{
	struct mamori_policy_conf s = staff();

	(void)state;
	s.dictionary_check = 0;
	expect(&s, NULL, "tanaka", "qwertyuiop123", MAMORI_PW_WEAK);
	expect_reason(&s, "tanaka", "qwertyuiop123", MAMORI_PW_WEAK,
	              "The password is too easy to guess. A longer phrase of unrelated words is better.");
	expect(&s, NULL, "tanaka", "Amber-Lantern-Field-31", MAMORI_PW_OK);
	/* The user's name counts as a likely word, even with user_check off. */
	s.user_check = 0;
	expect(&s, NULL, "suzuki.ichiro", "IchiroSuzuki2026", MAMORI_PW_WEAK);
	s.min_guesses_log10 = 0;
	expect(&s, NULL, "tanaka", "qwertyuiop123", MAMORI_PW_OK);
	s.min_guesses_log10 = 40;
	expect(&s, NULL, "tanaka", "Amber-Lantern-Field-31", MAMORI_PW_WEAK);
}

/* P-PW-STRENGTH: a long passphrase is what users should choose: 300 and
 * 1024 characters pass by default; 1025 is too long, and says so. */
static void
test_P_PW_STRENGTH_long_passphrase_accepted(void **state)
{
	struct mamori_policy_conf s = staff(), p = privileged();
	char pw[1100];
	size_t n = 0;

	(void)state;
	while (n < 1024) {
		int k = snprintf(pw + n, sizeof(pw) - n, "Kawa%03zu-", n / 8);
		n += (size_t)k;
	}
	pw[300] = '\0';
	expect(&s, NULL, "tanaka", pw, MAMORI_PW_OK);
	expect(&p, NULL, "tanaka", pw, MAMORI_PW_OK);
	pw[300] = 'K';
	pw[1024] = '\0';
	expect(&s, NULL, "tanaka", pw, MAMORI_PW_OK);
	pw[1024] = 'x';
	pw[1025] = '\0';
	expect_reason(&s, "tanaka", pw, MAMORI_PW_TOO_LONG, "The password must have at most 1024 characters.");
}

/* P-PW-STRENGTH: a check that cannot be made is an error, never a pass. */
static void
test_invalid_arguments(void **state)
{
	struct mamori_policy_conf s = staff();
	struct mamori_pw_verdict v;

	(void)state;
	assert_int_equal(mamori_password_policy_check(NULL, NULL, org_words, "tanaka", GOOD, strlen(GOOD), &v),
	                 MAMORI_ERR_INVALID);
	assert_int_not_equal(v.rule, MAMORI_PW_OK);
	assert_int_equal(mamori_password_policy_check(&s, NULL, org_words, "tanaka", NULL, 16, &v), MAMORI_ERR_INVALID);
	assert_int_not_equal(v.rule, MAMORI_PW_OK);
	assert_int_equal(mamori_password_policy_check(&s, NULL, org_words, "tanaka", GOOD, strlen(GOOD), NULL),
	                 MAMORI_ERR_INVALID);
	/* An embedded NUL: libpwquality would see only the part before it. */
	assert_int_equal(mamori_password_policy_check(&s, NULL, org_words, "tanaka", "Kumo-no-Ue\0-2026!", 17, &v),
	                 MAMORI_ERR_INVALID);
	assert_int_not_equal(v.rule, MAMORI_PW_OK);
}

/* P-PW-STRENGTH: without its dictionary cracklib cannot judge; the check
 * fails closed with an error instead of calling every password a word. */
static void
test_missing_dictionary_fails_closed(void **state)
{
#ifdef MAMORI_TEST_HOOKS
	struct mamori_policy_conf s = staff();
	struct mamori_pw_verdict v;
	char path[PATH_LEN];

	(void)state;
	snprintf(path, sizeof(path), "%s/no-such-dict", dir);
	assert_int_equal(setenv("MAMORI_TEST_CRACKLIB_DICT", path, 1), 0);
	assert_int_equal(mamori_password_policy_check(&s, NULL, org_words, "tanaka", GOOD, strlen(GOOD), &v),
	                 MAMORI_ERR_INTERNAL);
	assert_int_not_equal(v.rule, MAMORI_PW_OK);
	/* Rules before the dictionary still answer; without the dictionary
	 * check the password passes. */
	expect(&s, NULL, "tanaka", "Kumo-no-Ue!", MAMORI_PW_TOO_SHORT);
	s.dictionary_check = 0;
	expect(&s, NULL, "tanaka", GOOD, MAMORI_PW_OK);
	assert_int_equal(unsetenv("MAMORI_TEST_CRACKLIB_DICT"), 0);
#else
	(void)state;
	skip();
#endif
}

static char
fold(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c;
}

struct copies {
	const char *pw;
	int objects; /* libcrack objects seen */
	int hits;
};

/* P-PW-STRENGTH: cracklib compares every password with the passwd entry of
 * the process's uid; a uid without one makes cracklib refuse everything,
 * which must be an error (nothing decided), not a DICTIONARY verdict. */
static void
test_uid_without_passwd_entry_fails_closed(void **state)
{
	const uid_t nobody_known = 3987654321U;
	int status;
	pid_t pid;

	(void)state;
	if (geteuid() != 0 || getpwuid(nobody_known) != NULL)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mamori_policy_conf s = staff();
		struct mamori_pw_verdict v;
		int rc;

		if (setresgid(nobody_known, nobody_known, nobody_known) != 0 ||
		    setresuid(nobody_known, nobody_known, nobody_known) != 0)
			_exit(2);
		rc = mamori_password_policy_check(&s, NULL, org_words, "tanaka", GOOD, strlen(GOOD), &v);
		_exit(rc == MAMORI_ERR_INTERNAL && v.rule != MAMORI_PW_OK ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Count the 6-byte windows of pw, or of pw reversed, ignoring case, in the
 * writable segments (.data and .bss) of libcrack. */
static int
count_in_cracklib(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct copies *c = arg;
	size_t n = strlen(c->pw);

	(void)size;
	if (info->dlpi_name == NULL || strstr(info->dlpi_name, "/libcrack.so") == NULL)
		return 0;
	c->objects++;
	for (int h = 0; h < info->dlpi_phnum; h++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[h];
		const char *base = (const char *)(info->dlpi_addr + ph->p_vaddr);

		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W) == 0)
			continue;
		for (size_t a = 0; a + 6 <= ph->p_memsz; a++)
			for (size_t i = 0; i + 6 <= n; i++) {
				int forwards = 1, backwards = 1;
				for (size_t k = 0; k < 6 && (forwards || backwards); k++) {
					forwards &= fold(base[a + k]) == fold(c->pw[i + k]);
					backwards &= fold(base[a + k]) == fold(c->pw[i + 5 - k]);
				}
				c->hits += forwards || backwards;
			}
	}
	return 0;
}

/* P-PW-STRENGTH: cracklib keeps lower-cased and reversed forms of the last
 * password it checked in static buffers; the check overwrites them. */
static void
test_no_password_left_in_cracklib(void **state)
{
	static const char pw[] = "ZqXwVmPl-Kumo-2026!$05"; /* unlike anything else in this file */
	struct mamori_policy_conf s = staff();
	struct copies copies = { .pw = pw };

	(void)state;
	expect(&s, NULL, "tanaka", pw, MAMORI_PW_OK);
	dl_iterate_phdr(count_in_cracklib, &copies);
	if (copies.objects == 0)
		skip(); /* cracklib linked statically, or not at all */
	assert_int_equal(copies.hits, 0);
}

/* P-PW-STRENGTH: the check is thread-safe (cracklib is not: it is behind a
 * lock); 8 threads x 200 checks, each answer as expected. */
struct thread_case {
	const char *user;
	const char *pw;
	enum mamori_pw_rule rule;
};

static const struct thread_case thread_cases[] = {
	{ "tanaka", GOOD, MAMORI_PW_OK },
	{ "tanaka", "Understanding1", MAMORI_PW_DICTIONARY },
	{ "tanaka", "Kumo-tanaka-2026!", MAMORI_PW_USER_NAME },
	{ "tanaka", "password123456", MAMORI_PW_DICTIONARY },
	{ "suzuki", "Kumo-2026-6202-omuK", MAMORI_PW_WEAK },
	{ "suzuki", "Hoshi-ga-Kirei-2026!", MAMORI_PW_OK },
	{ "suzuki", "hoshigakirei2026", MAMORI_PW_BLOCKLIST },
	{ "suzuki", "short-1!", MAMORI_PW_TOO_SHORT },
};

struct thread_arg {
	const struct mamori_blocklist *bl;
	unsigned seed;
	unsigned failures;
};

static void *
thread_main(void *p)
{
	struct thread_arg *a = p;
	struct mamori_policy_conf s = staff();

	for (unsigned i = 0; i < 200; i++) {
		const struct thread_case *c =
		        &thread_cases[(a->seed + i) % (sizeof(thread_cases) / sizeof(thread_cases[0]))];
		struct mamori_pw_verdict v;
		if (mamori_password_policy_check(&s, a->bl, org_words, c->user, c->pw, strlen(c->pw), &v) !=
		            MAMORI_OK ||
		    v.rule != c->rule || strstr(v.reason, c->pw) != NULL)
			a->failures++;
	}
	return NULL;
}

static void
test_thread_safety(void **state)
{
	enum { THREADS = 8 };
	pthread_t t[THREADS];
	struct thread_arg args[THREADS];
	struct mamori_blocklist *bl;

	(void)state;
	bl = load_ok(write_text("threads", "HoshiGaKirei2026\n"));
	for (unsigned i = 0; i < THREADS; i++) {
		args[i] = (struct thread_arg){ .bl = bl, .seed = i, .failures = 0 };
		assert_int_equal(pthread_create(&t[i], NULL, thread_main, &args[i]), 0);
	}
	for (unsigned i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(args[i].failures, 0);
	}
	mamori_blocklist_free(&bl);
}

static int
reset_org_words(void **state)
{
	(void)state;
	org_words = NULL;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_P_PW_STRENGTH_issue_examples_refused, reset_org_words),
		cmocka_unit_test_teardown(test_P_PW_STRENGTH_user_name_parts, reset_org_words),
		cmocka_unit_test_teardown(test_P_PW_STRENGTH_org_words, reset_org_words),
		cmocka_unit_test_teardown(test_P_PW_STRENGTH_blocklist_normalised, reset_org_words),
		cmocka_unit_test_teardown(test_P_PW_STRENGTH_dictionary_normalised, reset_org_words),
		cmocka_unit_test_teardown(test_P_PW_STRENGTH_zxcvbn_minimum, reset_org_words),
		cmocka_unit_test_teardown(test_P_PW_STRENGTH_long_passphrase_accepted, reset_org_words),
		cmocka_unit_test(test_blocklist_case_insensitive),
		cmocka_unit_test(test_blocklist_non_ascii_exact),
		cmocka_unit_test(test_blocklist_comments_and_blank_lines),
		cmocka_unit_test(test_blocklist_crlf),
		cmocka_unit_test(test_blocklist_duplicates),
		cmocka_unit_test(test_blocklist_empty_file),
		cmocka_unit_test(test_blocklist_many_entries),
		cmocka_unit_test(test_blocklist_missing_file),
		cmocka_unit_test(test_blocklist_line_too_long),
		cmocka_unit_test(test_blocklist_nul_byte),
		cmocka_unit_test(test_blocklist_symlink_refused),
		cmocka_unit_test(test_blocklist_not_regular_refused),
		cmocka_unit_test(test_blocklist_world_writable_refused),
		cmocka_unit_test(test_blocklist_null),
		cmocka_unit_test(test_good_password_passes_staff),
		cmocka_unit_test(test_good_password_passes_privileged),
		cmocka_unit_test(test_too_short),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_length_counts_utf8_characters),
		cmocka_unit_test(test_length_counts_bytes_when_not_utf8),
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_classes_non_ascii_is_other),
		cmocka_unit_test(test_blocklist_rule),
		cmocka_unit_test(test_user_name_inside),
		cmocka_unit_test(test_user_name_reversed),
		cmocka_unit_test(test_user_name_short),
		cmocka_unit_test(test_user_check_off),
		cmocka_unit_test(test_dictionary_word),
		cmocka_unit_test(test_dictionary_check_off),
		cmocka_unit_test(test_weak_palindrome),
		cmocka_unit_test(test_rule_order),
		cmocka_unit_test(test_invalid_arguments),
		cmocka_unit_test(test_missing_dictionary_fails_closed),
		cmocka_unit_test(test_uid_without_passwd_entry_fails_closed),
		cmocka_unit_test(test_no_password_left_in_cracklib),
		cmocka_unit_test(test_thread_safety),
	};

	return cmocka_run_group_tests_name("password_policy", tests, setup_group, teardown_group);
}
