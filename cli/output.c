/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include <qrencode.h>

#include "output.h"
#include "secure.h"

/* Longest value a human line shows; longer values are cut. */
#define OUTPUT_VALUE_MAX 1024

void
output_error(const char *fmt, ...)
{
	char raw[OUTPUT_VALUE_MAX], clean[OUTPUT_VALUE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* Messages may quote the daemon or the command line: keep them to one
	 * printable line. */
	output_sanitize(raw, clean, sizeof(clean));
	fflush(stdout);
	fprintf(stderr, "mamorictl: %s\n", clean);
}

static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
output_secret_line_fd(int fd, const char *s)
{
	if (fflush(stdout) != 0)
		return -1;
	if (write_all(fd, s, strlen(s)) != 0 || write_all(fd, "\n", 1) != 0)
		return -1;
	return 0;
}

int
output_secret_line(const char *s)
{
	return output_secret_line_fd(STDOUT_FILENO, s);
}

int
output_json(const json_t *params)
{
	json_t *empty = NULL;
	char *text;
	int rc;

	if (params == NULL) {
		empty = json_object();
		if (empty == NULL)
			return -1;
		params = empty;
	}
	text = json_dumps(params, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(empty);
	if (text == NULL)
		return -1;
	rc = output_secret_line(text);
	mamori_string_freezero(&text);
	return rc;
}

/* Light modules around the symbol, on each side. */
#define OUTPUT_QR_QUIET 2

/* Whether the module at (x, y) of the drawing, quiet zone included, is
 * dark; beyond the drawing counts as dark, the terminal's background. */
static int
qr_dark(const QRcode *qr, int x, int y)
{
	int size = qr->width + 2 * OUTPUT_QR_QUIET;

	if (x < 0 || y < 0 || x >= size || y >= size)
		return 1;
	x -= OUTPUT_QR_QUIET;
	y -= OUTPUT_QR_QUIET;
	if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
		return 0;
	return qr->data[(size_t)y * (size_t)qr->width + (size_t)x] & 1;
}

int
output_qr(int fd, const char *text)
{
	/* Indexed by upper light * 2 + lower light: space, lower half block,
	 * upper half block, full block. */
	static const char *const cells[4] = { " ", "\xe2\x96\x84", "\xe2\x96\x80", "\xe2\x96\x88" };
	QRcode *qr;
	char *buf = NULL;
	size_t size, len = 0, cap;
	int rc = -1, saved_errno;

	/* libqrencode frees its working copies of text unwiped; the process
	 * is short-lived and never dumps core (see main). */
	qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (qr == NULL)
		return -1;
	/* Version 40 is 177 modules wide: no overflow below. */
	size = (size_t)qr->width + 2 * OUTPUT_QR_QUIET;
	cap = (size + 1) / 2 * (size * 3 + 1);
	buf = malloc(cap);
	if (buf == NULL)
		goto out;
	for (int y = 0; y < (int)size; y += 2) {
		for (int x = 0; x < (int)size; x++) {
			int upper_light = !qr_dark(qr, x, y), lower_light = !qr_dark(qr, x, y + 1);
			const char *cell = cells[upper_light * 2 + lower_light];
			size_t n = strlen(cell);

			memcpy(buf + len, cell, n);
			len += n;
		}
		buf[len++] = '\n';
	}
	if (fd == STDOUT_FILENO && fflush(stdout) != 0)
		goto out;
	rc = write_all(fd, buf, len);
out:
	saved_errno = errno;
	mamori_freezero(buf, cap);
	mamori_wipe(qr->data, (size_t)qr->width * (size_t)qr->width);
	QRcode_free(qr);
	errno = saved_errno;
	return rc;
}

size_t
output_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c, min;
	size_t n;

	if (len == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		c = s[0] & 0x1fu;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		c = s[0] & 0x0fu;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		c = s[0] & 0x07u;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3fu);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static int
is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

void
output_sanitize(const char *in, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t len, i = 0, o = 0;

	if (outlen == 0)
		return;
	len = in != NULL ? strlen(in) : 0;
	while (i < len) {
		uint32_t cp;
		size_t n = output_utf8_decode(s + i, len - i, &cp);

		if (n == 0 || is_control(cp)) {
			if (o + 1 >= outlen)
				break;
			out[o++] = '?';
			i += n == 0 ? 1 : n;
			continue;
		}
		if (o + n >= outlen)
			break;
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
}

/* Columns a sanitized string takes on a terminal. */
static size_t
display_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, width = 0;

	while (i < len) {
		uint32_t cp = '?';
		size_t n = output_utf8_decode(p + i, len - i, &cp);
		int w;

		if (n == 0)
			n = 1;
		w = cp < 0x80 ? 1 : wcwidth((wchar_t)cp);
		width += w < 0 ? 1 : (size_t)w;
		i += n;
	}
	return width;
}

enum time_style { TIME_LOCAL, TIME_ZONED, TIME_ISO };

static char *
format_tm(long long epoch, enum time_style style, char *buf, size_t len)
{
	time_t t = (time_t)epoch;
	struct tm tm;
	size_t n = 0;

	if ((long long)t == epoch && localtime_r(&t, &tm) != NULL) {
		/* Literal formats, so -Wformat-nonliteral can check them. */
		switch (style) {
		case TIME_LOCAL:
			n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
			break;
		case TIME_ZONED:
			n = strftime(buf, len, "%Y-%m-%d %H:%M:%S %z", &tm);
			break;
		case TIME_ISO:
			n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S%z", &tm);
			break;
		}
	}
	if (n == 0)
		snprintf(buf, len, "@%lld", epoch);
	return buf;
}

char *
output_time_local(long long epoch, char *buf, size_t len)
{
	return format_tm(epoch, TIME_LOCAL, buf, len);
}

char *
output_time_zoned(long long epoch, char *buf, size_t len)
{
	return format_tm(epoch, TIME_ZONED, buf, len);
}

char *
output_time_iso(long long epoch, char *buf, size_t len)
{
	size_t n;

	format_tm(epoch, TIME_ISO, buf, len);
	/* strftime writes +0900; ISO 8601 extended format wants +09:00. */
	n = strlen(buf);
	if (buf[0] != '@' && n >= 5 && n + 2 <= len && (buf[n - 5] == '+' || buf[n - 5] == '-')) {
		memmove(buf + n - 1, buf + n - 2, 3);
		buf[n - 2] = ':';
	}
	return buf;
}

char *
output_duration(long long seconds, char *buf, size_t len)
{
	long long d, h, m, s;

	if (seconds < 0) {
		snprintf(buf, len, "%llds", seconds);
		return buf;
	}
	d = seconds / 86400;
	h = seconds / 3600 % 24;
	m = seconds / 60 % 60;
	s = seconds % 60;
	if (d > 0)
		snprintf(buf, len, "%lldd %02lld:%02lld:%02lld", d, h, m, s);
	else
		snprintf(buf, len, "%02lld:%02lld:%02lld", h, m, s);
	return buf;
}

char *
output_value(const json_t *v, const char *null_text, char *buf, size_t len)
{
	char *dump;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (v == NULL || json_is_null(v)) {
		snprintf(buf, len, "%s", null_text);
	} else if (json_is_string(v)) {
		snprintf(buf, len, "%s", json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	} else if (json_is_boolean(v)) {
		snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
	} else {
		dump = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		snprintf(buf, len, "%s", dump != NULL ? dump : "?");
		free(dump);
	}
	return buf;
}

char *
output_value_time(const json_t *v, const char *null_text, char *buf, size_t len)
{
	if (json_is_integer(v))
		return output_time_local((long long)json_integer_value(v), buf, len);
	return output_value(v, null_text, buf, len);
}

void
output_fields(const struct output_field *fields, size_t n)
{
	char clean[OUTPUT_VALUE_MAX];
	size_t width = 0;

	for (size_t i = 0; i < n; i++) {
		size_t w = strlen(fields[i].key);
		if (w > width)
			width = w;
	}
	for (size_t i = 0; i < n; i++) {
		output_sanitize(fields[i].value, clean, sizeof(clean));
		printf("%s:%*s %s\n", fields[i].key, (int)(width - strlen(fields[i].key)), "", clean);
	}
}

void
output_list_text(struct output_list *l, const char *key, const char *text)
{
	if (l->n >= OUTPUT_LIST_MAX)
		return;
	snprintf(l->v[l->n], sizeof(l->v[l->n]), "%s", text);
	l->f[l->n] = (struct output_field){ key, l->v[l->n] };
	l->n++;
}

void
output_list_value(struct output_list *l, const char *key, const json_t *v, const char *null_text)
{
	char buf[256];

	output_list_text(l, key, output_value(v, null_text, buf, sizeof(buf)));
}

void
output_list_time(struct output_list *l, const char *key, const json_t *v, const char *null_text)
{
	char buf[256];

	output_list_text(l, key, output_value_time(v, null_text, buf, sizeof(buf)));
}

void
output_list_print(const struct output_list *l)
{
	output_fields(l->f, l->n);
}

struct output_table {
	size_t ncols;
	size_t nrows; /* including the header */
	size_t cap;
	char **cells; /* nrows * ncols sanitized copies */
};

struct output_table *
output_table_new(size_t ncols, const char *const *headers)
{
	struct output_table *t;

	if (ncols == 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->ncols = ncols;
	if (output_table_add(t, headers) != 0)
		output_table_free(&t);
	return t;
}

int
output_table_add(struct output_table *t, const char *const *cells)
{
	char clean[OUTPUT_VALUE_MAX];

	if (t->nrows == t->cap) {
		size_t cap = t->cap == 0 ? 16 : t->cap * 2;
		char **grown;

		if (cap > SIZE_MAX / sizeof(char *) / t->ncols)
			return -1;
		grown = realloc(t->cells, cap * t->ncols * sizeof(char *));
		if (grown == NULL)
			return -1;
		t->cells = grown;
		t->cap = cap;
	}
	for (size_t c = 0; c < t->ncols; c++) {
		char *copy;

		output_sanitize(cells[c] != NULL && cells[c][0] != '\0' ? cells[c] : "-", clean, sizeof(clean));
		copy = strdup(clean);
		if (copy == NULL) {
			while (c-- > 0)
				free(t->cells[t->nrows * t->ncols + c]);
			return -1;
		}
		t->cells[t->nrows * t->ncols + c] = copy;
	}
	t->nrows++;
	return 0;
}

void
output_table_print(const struct output_table *t)
{
	size_t *widths = calloc(t->ncols, sizeof(*widths));

	if (widths == NULL)
		return;
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			size_t w = display_width(t->cells[r * t->ncols + c]);
			if (w > widths[c])
				widths[c] = w;
		}
	}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];

			fputs(cell, stdout);
			if (c + 1 < t->ncols) {
				size_t pad = widths[c] - display_width(cell) + 2;
				while (pad-- > 0)
					putchar(' ');
			}
		}
		putchar('\n');
	}
	free(widths);
}

void
output_table_free(struct output_table **tp)
{
	struct output_table *t;

	if (tp == NULL || *tp == NULL)
		return;
	t = *tp;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
	*tp = NULL;
}

#define OUTPUT_COLUMNS_MAX 16
#define OUTPUT_CELL_MAX 320

int
output_objects_table(const json_t *items, const struct output_column *cols, size_t ncols)
{
	const char *headers[OUTPUT_COLUMNS_MAX], *cells[OUTPUT_COLUMNS_MAX];
	char cell[OUTPUT_COLUMNS_MAX][OUTPUT_CELL_MAX];
	struct output_table *t;
	const json_t *item;
	size_t i;
	int rc = 0;

	if (ncols > OUTPUT_COLUMNS_MAX)
		ncols = OUTPUT_COLUMNS_MAX;
	for (size_t k = 0; k < ncols; k++)
		headers[k] = cols[k].header;
	if ((t = output_table_new(ncols, headers)) == NULL) {
		output_error("out of memory");
		return -1;
	}
	json_array_foreach (items, i, item) {
		if (!json_is_object(item)) {
			rc = 1;
			break;
		}
		for (size_t k = 0; k < ncols; k++) {
			const json_t *v = json_object_get(item, cols[k].key);

			if (cols[k].kind == OUTPUT_CELL_TEXT)
				cells[k] = output_value(v, "-", cell[k], sizeof(cell[k]));
			else
				cells[k] = output_value_time(v, cols[k].kind == OUTPUT_CELL_TIME ? "-" : "never",
				                             cell[k], sizeof(cell[k]));
		}
		if (output_table_add(t, cells) != 0) {
			output_error("out of memory");
			rc = -1;
			break;
		}
	}
	if (rc == 0)
		output_table_print(t);
	output_table_free(&t);
	return rc;
}
