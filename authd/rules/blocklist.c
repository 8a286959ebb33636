/* SPDX-License-Identifier: BSD-2-Clause */
/* The organisation's block list (P-PW-STRENGTH): loading, lookups, and the
 * normalised form of passwords and entries. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "rules/blocklist.h"
#include "secure.h"

#define READ_CHUNK 65536

/* ------------------------------------------------------------------ block list */

struct blocklist_entry {
	uint32_t offset; /* into arena; the file is at most 1 GiB */
	uint32_t length;
};

struct mamori_blocklist {
	char *arena; /* the file's bytes, entries lower-cased in place */
	struct blocklist_entry *entries; /* sorted by bytes, no duplicates */
	size_t count;
	/* The entries normalised (see mamori_pw_normalise()), those not empty. */
	char *norm_arena;
	struct blocklist_entry *norm_entries;
	size_t norm_count;
};

unsigned char
mamori_pw_ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

/* ------------------------------------------------------------------ normalising */

/* Leetspeak: the letter a digit or symbol stands for, or 0. */
unsigned char
mamori_pw_leet_letter(unsigned char c)
{
	switch (c) {
	case '0':
		return 'o';
	case '1':
	case '!':
		return 'i';
	case '|':
		return 'l';
	case '3':
		return 'e';
	case '4':
	case '@':
		return 'a';
	case '5':
	case '$':
		return 's';
	case '6':
	case '9':
		return 'g';
	case '7':
	case '+':
		return 't';
	case '8':
		return 'b';
	default:
		return 0;
	}
}

/* A letter: ASCII or any byte of a multi-byte UTF-8 character. */
static int
is_letter(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Write the normalised form of s (len bytes) into out (len bytes at least)
 * and return its length: years (1900 to 2099, four digits standing alone)
 * taken out, then everything before the first letter and after the last
 * stripped, then lower case with leetspeak folded ("P@ssw0rd-2024!" is
 * "password").  0 when no letter is left. */
size_t
mamori_pw_normalise(const unsigned char *s, size_t len, unsigned char *out)
{
	size_t n = 0, first, last;

	for (size_t i = 0; i < len;) {
		if (i + 4 <= len && ((s[i] == '1' && s[i + 1] == '9') || (s[i] == '2' && s[i + 1] == '0')) &&
		    is_digit(s[i + 2]) && is_digit(s[i + 3]) && (i == 0 || !is_digit(s[i - 1])) &&
		    (i + 4 == len || !is_digit(s[i + 4]))) {
			i += 4;
			continue;
		}
		out[n++] = s[i++];
	}
	for (first = 0; first < n && !is_letter(out[first]); first++)
		;
	if (first == n)
		return 0;
	for (last = n; !is_letter(out[last - 1]); last--)
		;
	n = 0;
	for (size_t i = first; i < last; i++) {
		unsigned char c = out[i], l = mamori_pw_leet_letter(c);
		out[n++] = l != 0 ? l : mamori_pw_ascii_lower(c);
	}
	return n;
}

static int load_error(char *err, size_t errlen, int rc, const char *path, size_t line, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));

static int
load_error(char *err, size_t errlen, int rc, const char *path, size_t line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL || errlen == 0)
		return rc;
	if (line > 0)
		n = snprintf(err, errlen, "%s:%zu: ", path, line);
	else
		n = snprintf(err, errlen, "%s: ", path);
	if (n < 0 || (size_t)n >= errlen)
		return rc;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return rc;
}

static int
errno_error(char *err, size_t errlen, int rc, const char *path, int e)
{
	char buf[128];

	return load_error(err, errlen, rc, path, 0, "%s", strerror_r(e, buf, sizeof(buf)));
}

/* Read the whole of fd; the size from fstat is only a first guess, so a
 * file that grows while we read is still bounded. */
static int
read_all(int fd, size_t hint, char **out, size_t *outlen, const char *path, char *err, size_t errlen)
{
	size_t cap = hint + 1, len = 0;
	char *buf, *grown;
	ssize_t n;

	if (cap < READ_CHUNK)
		cap = READ_CHUNK;
	if ((buf = malloc(cap)) == NULL)
		return load_error(err, errlen, MAMORI_ERR_NOMEM, path, 0, "out of memory");
	for (;;) {
		if (len == cap) {
			if (cap > MAMORI_BLOCKLIST_FILE_MAX) {
				free(buf);
				return load_error(err, errlen, MAMORI_ERR_TOO_LARGE, path, 0, "larger than %zu bytes",
				                  MAMORI_BLOCKLIST_FILE_MAX);
			}
			if ((grown = realloc(buf, cap * 2)) == NULL) {
				free(buf);
				return load_error(err, errlen, MAMORI_ERR_NOMEM, path, 0, "out of memory");
			}
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			free(buf);
			return errno_error(err, errlen, MAMORI_ERR_IO, path, e);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > MAMORI_BLOCKLIST_FILE_MAX) {
		free(buf);
		return load_error(err, errlen, MAMORI_ERR_TOO_LARGE, path, 0, "larger than %zu bytes",
		                  MAMORI_BLOCKLIST_FILE_MAX);
	}
	*out = buf;
	*outlen = len;
	return MAMORI_OK;
}

static int
entry_compare(const void *a, const void *b, void *arg)
{
	const struct blocklist_entry *x = a, *y = b;
	const char *arena = arg;
	size_t n = x->length < y->length ? x->length : y->length;
	int c = memcmp(arena + x->offset, arena + y->offset, n);

	if (c != 0)
		return c;
	return (x->length > y->length) - (x->length < y->length);
}

static int
is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

/* Split buf into lines, lower-case each entry in place and record it. */
static int
parse_lines(struct mamori_blocklist *bl, size_t len, const char *path, char *err, size_t errlen)
{
	char *buf = bl->arena;
	size_t pos = 0, line = 0, cap = 0;
	struct blocklist_entry *grown;

	while (pos < len) {
		char *start = buf + pos;
		char *nl = memchr(start, '\n', len - pos);
		size_t linelen = nl != NULL ? (size_t)(nl - start) : len - pos;

		pos += linelen + (nl != NULL);
		line++;
		if (linelen > 0 && start[linelen - 1] == '\r')
			linelen--;
		if (linelen > MAMORI_BLOCKLIST_LINE_MAX)
			return load_error(err, errlen, MAMORI_ERR_INVALID, path, line, "line longer than %d bytes",
			                  MAMORI_BLOCKLIST_LINE_MAX);
		if (memchr(start, '\0', linelen) != NULL)
			return load_error(err, errlen, MAMORI_ERR_INVALID, path, line, "line contains a NUL byte");
		if (start[0] == '#' || is_blank(start, linelen))
			continue;
		for (size_t i = 0; i < linelen; i++)
			start[i] = (char)mamori_pw_ascii_lower((unsigned char)start[i]);
		if (bl->count == cap) {
			size_t ncap = cap == 0 ? 1024 : cap * 2;
			if ((grown = realloc(bl->entries, ncap * sizeof(*grown))) == NULL)
				return load_error(err, errlen, MAMORI_ERR_NOMEM, path, 0, "out of memory");
			bl->entries = grown;
			cap = ncap;
		}
		bl->entries[bl->count].offset = (uint32_t)(start - buf);
		bl->entries[bl->count].length = (uint32_t)linelen;
		bl->count++;
	}
	return MAMORI_OK;
}

static void
sort_unique(struct blocklist_entry *entries, size_t *count, char *arena)
{
	size_t kept = 0;

	if (*count < 2)
		return;
	qsort_r(entries, *count, sizeof(*entries), entry_compare, arena);
	for (size_t i = 1; i < *count; i++)
		if (entry_compare(&entries[kept], &entries[i], arena) != 0)
			entries[++kept] = entries[i];
	*count = kept + 1;
}

/* The normalised entries, for candidates normalised the same way. */
static int
normalise_entries(struct mamori_blocklist *bl, size_t len, const char *path, char *err, size_t errlen)
{
	size_t used = 0;

	if (bl->count == 0)
		return MAMORI_OK;
	if ((bl->norm_arena = malloc(len)) == NULL ||
	    (bl->norm_entries = calloc(bl->count, sizeof(*bl->norm_entries))) == NULL)
		return load_error(err, errlen, MAMORI_ERR_NOMEM, path, 0, "out of memory");
	for (size_t i = 0; i < bl->count; i++) {
		const struct blocklist_entry *e = &bl->entries[i];
		size_t n = mamori_pw_normalise((const unsigned char *)bl->arena + e->offset, e->length,
		                               (unsigned char *)bl->norm_arena + used);

		if (n == 0)
			continue;
		bl->norm_entries[bl->norm_count].offset = (uint32_t)used;
		bl->norm_entries[bl->norm_count].length = (uint32_t)n;
		bl->norm_count++;
		used += n;
	}
	sort_unique(bl->norm_entries, &bl->norm_count, bl->norm_arena);
	return MAMORI_OK;
}

int
mamori_blocklist_load(const char *path, struct mamori_blocklist **out, char *err, size_t errlen)
{
	struct mamori_blocklist *bl = NULL;
	struct stat st;
	size_t len = 0;
	int fd = -1, rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out == NULL)
		return MAMORI_ERR_INVALID;
	*out = NULL;
	if (path == NULL)
		return MAMORI_ERR_INVALID;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		if (errno == ELOOP)
			return load_error(err, errlen, MAMORI_ERR_INVALID, path, 0, "is a symbolic link");
		return errno_error(err, errlen, MAMORI_ERR_IO, path, errno);
	}
	if (fstat(fd, &st) != 0) {
		rc = errno_error(err, errlen, MAMORI_ERR_IO, path, errno);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = load_error(err, errlen, MAMORI_ERR_INVALID, path, 0, "not a regular file");
		goto fail;
	}
	/* Anyone could take entries off a world-writable list. */
	if ((st.st_mode & S_IWOTH) != 0) {
		rc = load_error(err, errlen, MAMORI_ERR_INVALID, path, 0, "writable by everyone");
		goto fail;
	}
	if ((uintmax_t)st.st_size > MAMORI_BLOCKLIST_FILE_MAX) {
		rc = load_error(err, errlen, MAMORI_ERR_TOO_LARGE, path, 0, "larger than %zu bytes",
		                MAMORI_BLOCKLIST_FILE_MAX);
		goto fail;
	}
	if ((bl = calloc(1, sizeof(*bl))) == NULL) {
		rc = load_error(err, errlen, MAMORI_ERR_NOMEM, path, 0, "out of memory");
		goto fail;
	}
	if ((rc = read_all(fd, (size_t)st.st_size, &bl->arena, &len, path, err, errlen)) != MAMORI_OK)
		goto fail;
	if ((rc = parse_lines(bl, len, path, err, errlen)) != MAMORI_OK)
		goto fail;
	sort_unique(bl->entries, &bl->count, bl->arena);
	if ((rc = normalise_entries(bl, len, path, err, errlen)) != MAMORI_OK)
		goto fail;
	close(fd);
	*out = bl;
	return MAMORI_OK;

fail:
	mamori_blocklist_free(&bl);
	if (fd >= 0)
		close(fd);
	return rc;
}

void
mamori_blocklist_free(struct mamori_blocklist **bl)
{
	if (bl == NULL || *bl == NULL)
		return;
	free((*bl)->entries);
	free((*bl)->arena);
	free((*bl)->norm_entries);
	free((*bl)->norm_arena);
	free(*bl);
	*bl = NULL;
}

size_t
mamori_blocklist_count(const struct mamori_blocklist *bl)
{
	return bl != NULL ? bl->count : 0;
}

/* Compare a candidate, folded to lower case byte by byte so that it is never
 * copied, with a stored (already lower-case) entry, in entry_compare order. */
static int
candidate_compare(const unsigned char *pw, size_t len, const unsigned char *entry, size_t elen)
{
	size_t n = len < elen ? len : elen;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = mamori_pw_ascii_lower(pw[i]);
		if (c != entry[i])
			return c < entry[i] ? -1 : 1;
	}
	return (len > elen) - (len < elen);
}

static int
entries_contain(const struct blocklist_entry *entries, size_t count, const char *arena, const char *pw, size_t len)
{
	size_t lo = 0, hi = count;

	if (len > MAMORI_BLOCKLIST_LINE_MAX)
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct blocklist_entry *e = &entries[mid];
		int c = candidate_compare((const unsigned char *)pw, len, (const unsigned char *)arena + e->offset,
		                          e->length);
		if (c == 0)
			return 1;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

int
mamori_blocklist_contains(const struct mamori_blocklist *bl, const char *pw, size_t len)
{
	if (bl == NULL || pw == NULL)
		return 0;
	return entries_contain(bl->entries, bl->count, bl->arena, pw, len);
}

/* Whether a normalised candidate is the normalised form of an entry. */
int
mamori_blocklist_contains_normalised(const struct mamori_blocklist *bl, const char *norm, size_t len)
{
	if (bl == NULL || len == 0)
		return 0;
	return entries_contain(bl->norm_entries, bl->norm_count, bl->norm_arena, norm, len);
}
