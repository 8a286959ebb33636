/* SPDX-License-Identifier: BSD-2-Clause */
/* The organisation's block list of forbidden passwords (P-PW-STRENGTH), and
 * the normalised form of a password it is also compared in. */
#ifndef MAMORI_BLOCKLIST_H
#define MAMORI_BLOCKLIST_H

#include <stddef.h>

/* The longest block list line accepted, in bytes, without its line end. */
#define MAMORI_BLOCKLIST_LINE_MAX 4096
/* The largest block list file accepted, in bytes. */
#define MAMORI_BLOCKLIST_FILE_MAX ((size_t)1 << 30)

struct mamori_blocklist;

/* Load an organisation block list: one password per line, compared without
 * regard to ASCII case.  Empty lines, lines of only spaces and tabs, and
 * lines starting with '#' are ignored; a trailing "\n" or "\r\n" is
 * stripped; a line longer than MAMORI_BLOCKLIST_LINE_MAX bytes or holding a
 * NUL byte is refused.  The file must be a regular file, not a symbolic link
 * and not writable by everyone.  Returns MAMORI_OK, or an error with *out set
 * to NULL and err filled with "PATH:LINE: reason" or "PATH: reason". */
int mamori_blocklist_load(const char *path, struct mamori_blocklist **out, char *err, size_t errlen);
/* Free a block list and set *bl to NULL; NULL and *bl == NULL are fine. */
void mamori_blocklist_free(struct mamori_blocklist **bl);
/* The number of distinct entries; 0 for NULL. */
size_t mamori_blocklist_count(const struct mamori_blocklist *bl);
/* 1 when pw (len bytes, any byte but NUL) is on the list, else 0; O(log n).
 * bl may be NULL (an empty list).  Safe to call from many threads at once. */
int mamori_blocklist_contains(const struct mamori_blocklist *bl, const char *pw, size_t len);

/* The normalised form of s (len bytes) into out (len bytes at least); its
 * length, 0 when no letter is left.  See blocklist.c. */
size_t mamori_pw_normalise(const unsigned char *s, size_t len, unsigned char *out);
/* Whether a normalised candidate is the normalised form of an entry. */
int mamori_blocklist_contains_normalised(const struct mamori_blocklist *bl, const char *norm, size_t len);
/* ASCII lower case, and the letter a leetspeak character stands for (0:
 * none). */
unsigned char mamori_pw_ascii_lower(unsigned char c);
unsigned char mamori_pw_leet_letter(unsigned char c);

#endif
