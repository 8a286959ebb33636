/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_WIRE_H
#define MAMORI_WIRE_H

/* Varlink wire format: one JSON object per message, terminated by a NUL
 * byte, at most MAMORI_WIRE_MAX bytes including the terminator. */

#include <stddef.h>

#include <jansson.h>

#define MAMORI_WIRE_MAX 65536
/* Deepest JSON nesting a message may have, counting the top-level object
 * as 1 and every value inside a container one deeper; replies use 5. */
#define MAMORI_WIRE_MAX_DEPTH 16

/* A bounded, buffered reader for one connection.  It may hold the start of
 * the next message after the one returned; the buffer is wiped as messages
 * are consumed because answers carry secrets. */
struct mamori_wire {
	int fd;
	size_t len;
	char buf[MAMORI_WIRE_MAX];
};

void mamori_wire_init(struct mamori_wire *w, int fd);
/* Wipe whatever the reader still holds. */
void mamori_wire_clear(struct mamori_wire *w);

/* Receive one message within timeout_ms (for the whole message, not each
 * read); timeout_ms < 0 waits for ever.  Returns MAMORI_OK
 * and a new reference in *out, or MAMORI_ERR_CLOSED (peer closed cleanly
 * between messages), MAMORI_ERR_TIMEOUT, MAMORI_ERR_TOO_LARGE,
 * MAMORI_ERR_PROTOCOL (malformed, truncated) or MAMORI_ERR_IO. */
int mamori_wire_recv(struct mamori_wire *w, json_t **out, int timeout_ms);

/* Decode one message body of len bytes (no terminator) into a JSON object.
 * Rejects embedded NUL bytes, invalid UTF-8, duplicate keys, nesting deeper
 * than MAMORI_WIRE_MAX_DEPTH and anything that is not an object. */
int mamori_wire_decode(const char *buf, size_t len, json_t **out);

/* Encode msg into buf (NUL-terminated); *outlen includes the NUL.  The
 * caller owns buf and wipes it when the message held a secret. */
int mamori_wire_encode(const json_t *msg, char *buf, size_t bufsize, size_t *outlen);

/* Encode and send msg on fd, wiping the encoding afterwards.  The socket's
 * send timeout (SO_SNDTIMEO; none when 0) is one deadline for the whole
 * message, however the peer reads it: past it, MAMORI_ERR_TIMEOUT, with
 * part of the message perhaps sent (the connection is then unusable).
 * Otherwise MAMORI_OK, MAMORI_ERR_IO (peer gone), or an encoding error. */
int mamori_wire_send(int fd, const json_t *msg);
/* Write all of buf to fd, a socket (never raising SIGPIPE) or a file;
 * interrupted writes go on.  0, or -1 with errno set. */
int mamori_write_all(int fd, const void *buf, size_t len);

/* Helpers to build calls, replies and errors. */
json_t *mamori_wire_call(const char *method, json_t *parameters /* stolen */);
json_t *mamori_wire_reply(json_t *parameters /* stolen, may be NULL */);
json_t *mamori_wire_error(const char *error, json_t *parameters /* stolen, may be NULL */);

/* Accessors for decoded messages.  Each returns NULL when absent or of the
 * wrong type. */
const char *mamori_wire_method(const json_t *msg);
const char *mamori_wire_error_name(const json_t *msg);
json_t *mamori_wire_parameters(const json_t *msg);

/* Typed getters on a parameters object.  Return MAMORI_OK, or
 * MAMORI_ERR_NOT_FOUND when absent (and *out untouched) or
 * MAMORI_ERR_INVALID when of the wrong type or out of bounds.  Strings are
 * borrowed from the object and are limited to maxlen bytes. */
int mamori_wire_get_string(const json_t *params, const char *key, size_t maxlen, const char **out);
int mamori_wire_get_int(const json_t *params, const char *key, long long min, long long max, long long *out);
int mamori_wire_get_bool(const json_t *params, const char *key, int *out);

/* Wipe the contents of a JSON string value before the caller drops it. */
void mamori_wire_wipe_string(json_t *s);

#endif
