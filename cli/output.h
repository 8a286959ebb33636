/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CLI_OUTPUT_H
#define MAMORI_CLI_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* What mamorictl prints: human tables and key: value blocks, or the reply's
 * parameters as JSON.  Every string that came from the daemon goes through
 * output_sanitize before it reaches a terminal, so a control character in a
 * tty or rhost field cannot rewrite the administrator's screen. */

/* One diagnostic line on stderr: "mamorictl: <message>". */
void output_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print params (NULL: an empty object) as indented JSON with sorted keys.
 * Written with write(2) and wiped afterwards because it may hold a
 * generated password.  Returns 0 or -1. */
int output_json(const json_t *params);

/* Write one line (s and a newline) to stdout with write(2), after flushing
 * what stdio holds, so a secret never sits in a stdio buffer.  0 or -1. */
int output_secret_line(const char *s);
/* The same on fd: the terminal, or standard error. */
int output_secret_line_fd(int fd, const char *s);

/* Draw text as a QR code (error correction level M) on fd: UTF-8 half
 * blocks, two rows of modules a line, a quiet zone of 2 modules.  Light
 * modules are blocks and dark ones spaces, as qrencode -t UTF8 draws, so
 * the code scans on a terminal with light text on a dark background.  The
 * code holds what text holds (a TOTP secret): it is wiped once written.
 * 0, or -1 with errno set. */
int output_qr(int fd, const char *text);

/* Decode one UTF-8 character from s (len bytes available).  Returns its
 * length (1..4) and the code point, or 0 when the bytes are not valid
 * UTF-8 (overlong, surrogate, out of range or truncated). */
size_t output_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

/* Copy in to out, replacing C0/C1 control characters, DEL and invalid UTF-8
 * with '?', truncating at a character boundary.  out is always terminated. */
void output_sanitize(const char *in, char *out, size_t outlen);

/* Time and value formatting for human output.  Each writes a terminated
 * string into buf and returns buf. */
char *output_time_local(long long epoch, char *buf, size_t len); /* YYYY-MM-DD HH:MM:SS */
char *output_time_zoned(long long epoch, char *buf, size_t len); /* ... +0900 */
char *output_time_iso(long long epoch, char *buf, size_t len); /* YYYY-MM-DDTHH:MM:SS+09:00 */
char *output_duration(long long seconds, char *buf, size_t len); /* [Nd ]HH:MM:SS */
/* A JSON value as text: strings as they are, integers in decimal, booleans
 * as yes/no, null or absent as null_text, anything else as compact JSON. */
char *output_value(const json_t *v, const char *null_text, char *buf, size_t len);
/* Like output_value, but an integer is an epoch rendered as local time. */
char *output_value_time(const json_t *v, const char *null_text, char *buf, size_t len);

/* key: value blocks with the values aligned. */
struct output_field {
	const char *key;
	const char *value;
};
void output_fields(const struct output_field *fields, size_t n);

/* A key: value block being built: each value is rendered into the list,
 * and fields beyond OUTPUT_LIST_MAX are left out. */
#define OUTPUT_LIST_MAX 32
#define OUTPUT_LIST_VALUE_MAX 1024
struct output_list {
	struct output_field f[OUTPUT_LIST_MAX];
	char v[OUTPUT_LIST_MAX][OUTPUT_LIST_VALUE_MAX];
	size_t n;
};
void output_list_text(struct output_list *l, const char *key, const char *text);
/* A JSON value as output_value renders it. */
void output_list_value(struct output_list *l, const char *key, const json_t *v, const char *null_text);
/* A JSON value as output_value_time renders it. */
void output_list_time(struct output_list *l, const char *key, const json_t *v, const char *null_text);
void output_list_print(const struct output_list *l);

/* Aligned tables: a header row, then one row per record. */
struct output_table;
struct output_table *output_table_new(size_t ncols, const char *const *headers);
int output_table_add(struct output_table *t, const char *const *cells);
void output_table_print(const struct output_table *t);
void output_table_free(struct output_table **t);

/* A listing's table drawn from the objects of a reply: one column per
 * key, its value shown as text, or as a time ("-" or "never" when unset). */
enum output_cell { OUTPUT_CELL_TEXT, OUTPUT_CELL_TIME, OUTPUT_CELL_TIME_NEVER };
struct output_column {
	const char *header;
	const char *key;
	enum output_cell kind;
};
/* Print items as a table of the ncols first columns.  0; -1 out of memory
 * (said); 1 when an item is not an object (nothing printed). */
int output_objects_table(const json_t *items, const struct output_column *cols, size_t ncols);

#endif
