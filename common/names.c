/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <string.h>

#include "names.h"

static int
is_name_char(unsigned char c, int allow_at)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       c == '-' || (allow_at && c == '@');
}

static int
name_valid(const char *name, size_t max, int allow_at)
{
	size_t len;

	if (name == NULL)
		return 0;
	len = strnlen(name, max + 1);
	if (len == 0 || len > max)
		return 0;
	if (name[0] == '-' || name[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!is_name_char((unsigned char)name[i], allow_at))
			return 0;
	}
	return strstr(name, "..") == NULL;
}

int
mamori_user_name_valid(const char *name)
{
	return name_valid(name, MAMORI_USER_NAME_MAX, 1);
}

int
mamori_service_name_valid(const char *name)
{
	return name_valid(name, MAMORI_SERVICE_NAME_MAX, 0);
}

/* Length of the UTF-8 sequence at s (at most len bytes), or 0 when it is
 * not well-formed: overlong forms, surrogates and values past U+10FFFF are
 * refused, as are the C1 controls U+0080..U+009F. */
static size_t
utf8_sequence(const unsigned char *s, size_t len)
{
	unsigned cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1fu;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff) ||
	    (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return n;
}

int
mamori_field_valid(const char *s)
{
	size_t len;

	if (s == NULL)
		return 0;
	len = strnlen(s, MAMORI_FIELD_MAX + 1);
	if (len > MAMORI_FIELD_MAX)
		return 0;
	return mamori_text_valid(s, len);
}

int
mamori_text_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t n;
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 0;
		if ((n = utf8_sequence(p + i, len - i)) == 0)
			return 0;
		i += n;
	}
	return 1;
}
