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

int
mamori_field_valid(const char *s)
{
	size_t len;

	if (s == NULL)
		return 0;
	len = strnlen(s, MAMORI_FIELD_MAX + 1);
	if (len > MAMORI_FIELD_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}
