/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_NAMES_H
#define MAMORI_NAMES_H

#include <stddef.h>

#define MAMORI_USER_NAME_MAX 64
#define MAMORI_SERVICE_NAME_MAX 64
#define MAMORI_SECRET_MAX 4096
#define MAMORI_FIELD_MAX 256

/* A user name mamori will key records by: 1..64 bytes of [A-Za-z0-9._@-],
 * not starting with '-' or '.', no "..".  Anything else (slashes, spaces,
 * control characters, non-ASCII) is refused rather than normalised. */
int mamori_user_name_valid(const char *name);
/* PAM service names: 1..64 bytes of [A-Za-z0-9._-], not starting with '-'
 * or '.', no "..". */
int mamori_service_name_valid(const char *name);
/* Free-text fields from PAM (tty, rhost, ruser): well-formed UTF-8 without
 * C0 or C1 control characters, at most MAMORI_FIELD_MAX bytes. */
int mamori_field_valid(const char *s);
/* The same check of len bytes at s, of any length: well-formed UTF-8
 * without C0 (NUL included) or C1 control characters or DEL. */
int mamori_text_valid(const char *s, size_t len);

/* The longest name of a terminal ([store] node), in bytes. */
#define MAMORI_NODE_MAX 63

#endif
