/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "secure.h"
#include "wire.h"

void
mamori_wire_init(struct mamori_wire *w, int fd)
{
	w->fd = fd;
	w->len = 0;
}

void
mamori_wire_clear(struct mamori_wire *w)
{
	mamori_wipe(w->buf, sizeof(w->buf));
	w->len = 0;
}

static int
json_depth_ok(const json_t *v, int depth)
{
	const char *key;
	json_t *child;
	size_t i;

	if (depth > MAMORI_WIRE_MAX_DEPTH)
		return 0;
	if (json_is_object(v)) {
		json_object_foreach ((json_t *)v, key, child) {
			if (!json_depth_ok(child, depth + 1))
				return 0;
		}
	} else if (json_is_array(v)) {
		json_array_foreach (v, i, child) {
			if (!json_depth_ok(child, depth + 1))
				return 0;
		}
	}
	return 1;
}

int
mamori_wire_decode(const char *buf, size_t len, json_t **out)
{
	json_error_t jerr;
	json_t *v;

	*out = NULL;
	if (len == 0 || len >= MAMORI_WIRE_MAX)
		return len == 0 ? MAMORI_ERR_PROTOCOL : MAMORI_ERR_TOO_LARGE;
	if (memchr(buf, '\0', len) != NULL)
		return MAMORI_ERR_PROTOCOL;
	/* jansson rejects invalid UTF-8 and "\u0000" unless told otherwise. */
	v = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL)
		return MAMORI_ERR_PROTOCOL;
	if (!json_is_object(v) || !json_depth_ok(v, 1)) {
		json_decref(v);
		return MAMORI_ERR_PROTOCOL;
	}
	*out = v;
	return MAMORI_OK;
}

int
mamori_wire_recv(struct mamori_wire *w, json_t **out, int timeout_ms)
{
	/* One deadline for the whole message, so that a peer trickling a byte
	 * at a time cannot hold the connection beyond timeout_ms. */
	struct timespec now;
	long long deadline = -1;

	*out = NULL;
	if (timeout_ms >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		deadline = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 + timeout_ms;
	}
	for (;;) {
		char *nul = memchr(w->buf, '\0', w->len);
		if (nul != NULL) {
			size_t msglen = (size_t)(nul - w->buf);
			int rc = mamori_wire_decode(w->buf, msglen, out);
			size_t rest = w->len - msglen - 1;

			memmove(w->buf, nul + 1, rest);
			mamori_wipe(w->buf + rest, w->len - rest);
			w->len = rest;
			return rc;
		}
		if (w->len >= sizeof(w->buf))
			return MAMORI_ERR_TOO_LARGE;

		struct pollfd pfd = { .fd = w->fd, .events = POLLIN };
		int wait_ms = -1;
		if (deadline >= 0) {
			long long left;
			clock_gettime(CLOCK_MONOTONIC, &now);
			left = deadline - ((long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
			wait_ms = left > 0 ? (int)left : 0;
		}
		int prc = poll(&pfd, 1, wait_ms);
		if (prc < 0) {
			if (errno == EINTR)
				continue;
			return MAMORI_ERR_IO;
		}
		if (prc == 0)
			return MAMORI_ERR_TIMEOUT;

		ssize_t n = recv(w->fd, w->buf + w->len, sizeof(w->buf) - w->len, 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return MAMORI_ERR_IO;
		}
		if (n == 0)
			return w->len == 0 ? MAMORI_ERR_CLOSED : MAMORI_ERR_PROTOCOL;
		w->len += (size_t)n;
	}
}

struct encode_ctx {
	char *buf;
	size_t size;
	size_t used;
};

static int
encode_cb(const char *chunk, size_t len, void *data)
{
	struct encode_ctx *ctx = data;

	if (len > ctx->size - ctx->used)
		return -1;
	memcpy(ctx->buf + ctx->used, chunk, len);
	ctx->used += len;
	return 0;
}

int
mamori_wire_encode(const json_t *msg, char *buf, size_t bufsize, size_t *outlen)
{
	/* json_dump_callback writes straight into the caller's buffer, so no
	 * unwiped intermediate copy of a secret is left on the heap. */
	struct encode_ctx ctx = { .buf = buf, .size = bufsize, .used = 0 };

	*outlen = 0;
	if (bufsize < 2 || !json_is_object(msg))
		return MAMORI_ERR_INVALID;
	if (json_dump_callback(msg, encode_cb, &ctx, JSON_COMPACT) != 0 || ctx.used >= bufsize ||
	    ctx.used >= MAMORI_WIRE_MAX) {
		mamori_wipe(buf, ctx.used);
		return MAMORI_ERR_TOO_LARGE;
	}
	buf[ctx.used] = '\0';
	*outlen = ctx.used + 1;
	return MAMORI_OK;
}

static long long
monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* The socket's send timeout in milliseconds, or -1 for none (0, or not a
 * socket). */
static long long
send_timeout_ms(int fd)
{
	struct timeval tv;
	socklen_t len = sizeof(tv);

	if (getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) != 0 || len != sizeof(tv) ||
	    (tv.tv_sec == 0 && tv.tv_usec == 0))
		return -1;
	return (long long)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
}

int
mamori_wire_send(int fd, const json_t *msg)
{
	char buf[MAMORI_WIRE_MAX];
	size_t len, off = 0;
	long long timeout = send_timeout_ms(fd), deadline = -1;
	int rc;

	rc = mamori_wire_encode(msg, buf, sizeof(buf), &len);
	if (rc != MAMORI_OK)
		return rc;
	/* One deadline for the whole message: the kernel's send timeout
	 * restarts at every partial send, so a peer reading a little at a
	 * time could hold the sender for as long as it liked.  The sends never
	 * block; poll waits for room with what is left of the deadline. */
	if (timeout >= 0)
		deadline = monotonic_ms() + timeout;
	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			rc = MAMORI_ERR_IO;
			break;
		}

		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int wait_ms = -1;
		if (deadline >= 0) {
			long long left = deadline - monotonic_ms();
			if (left <= 0) {
				rc = MAMORI_ERR_TIMEOUT;
				break;
			}
			wait_ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		int prc = poll(&pfd, 1, wait_ms);
		if (prc < 0 && errno != EINTR) {
			rc = MAMORI_ERR_IO;
			break;
		}
		if (prc == 0) {
			rc = MAMORI_ERR_TIMEOUT;
			break;
		}
		/* Writable, or an error or hang-up that the next send reports. */
	}
	mamori_wipe(buf, len);
	return rc;
}

json_t *
mamori_wire_call(const char *method, json_t *parameters)
{
	json_t *msg = json_object();

	if (msg == NULL || json_object_set_new(msg, "method", json_string(method)) != 0) {
		json_decref(parameters);
		json_decref(msg);
		return NULL;
	}
	if (json_object_set_new(msg, "parameters", parameters != NULL ? parameters : json_object()) != 0) {
		json_decref(msg);
		return NULL;
	}
	return msg;
}

json_t *
mamori_wire_reply(json_t *parameters)
{
	json_t *msg = json_object();

	if (msg == NULL ||
	    json_object_set_new(msg, "parameters", parameters != NULL ? parameters : json_object()) != 0) {
		json_decref(msg);
		return NULL;
	}
	return msg;
}

json_t *
mamori_wire_error(const char *error, json_t *parameters)
{
	json_t *msg = json_object();

	if (msg == NULL || json_object_set_new(msg, "error", json_string(error)) != 0) {
		json_decref(parameters);
		json_decref(msg);
		return NULL;
	}
	if (json_object_set_new(msg, "parameters", parameters != NULL ? parameters : json_object()) != 0) {
		json_decref(msg);
		return NULL;
	}
	return msg;
}

const char *
mamori_wire_method(const json_t *msg)
{
	return json_string_value(json_object_get(msg, "method"));
}

const char *
mamori_wire_error_name(const json_t *msg)
{
	return json_string_value(json_object_get(msg, "error"));
}

json_t *
mamori_wire_parameters(const json_t *msg)
{
	json_t *p = json_object_get(msg, "parameters");

	return json_is_object(p) ? p : NULL;
}

int
mamori_wire_get_string(const json_t *params, const char *key, size_t maxlen, const char **out)
{
	json_t *v = json_object_get(params, key);

	if (v == NULL || json_is_null(v))
		return MAMORI_ERR_NOT_FOUND;
	if (!json_is_string(v) || json_string_length(v) > maxlen)
		return MAMORI_ERR_INVALID;
	/* jansson refuses "\u0000" on input, but strings built in-process may
	 * still carry one: never hand out a truncated view. */
	if (strlen(json_string_value(v)) != json_string_length(v))
		return MAMORI_ERR_INVALID;
	*out = json_string_value(v);
	return MAMORI_OK;
}

int
mamori_wire_get_int(const json_t *params, const char *key, long long min, long long max, long long *out)
{
	json_t *v = json_object_get(params, key);

	if (v == NULL || json_is_null(v))
		return MAMORI_ERR_NOT_FOUND;
	if (!json_is_integer(v))
		return MAMORI_ERR_INVALID;
	json_int_t n = json_integer_value(v);
	if (n < min || n > max)
		return MAMORI_ERR_INVALID;
	*out = n;
	return MAMORI_OK;
}

int
mamori_wire_get_bool(const json_t *params, const char *key, int *out)
{
	json_t *v = json_object_get(params, key);

	if (v == NULL || json_is_null(v))
		return MAMORI_ERR_NOT_FOUND;
	if (!json_is_boolean(v))
		return MAMORI_ERR_INVALID;
	*out = json_is_true(v);
	return MAMORI_OK;
}

void
mamori_wire_wipe_string(json_t *s)
{
	if (json_is_string(s))
		mamori_wipe((char *)json_string_value(s), json_string_length(s));
}

int
mamori_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	int sock = 1;

	while (len > 0) {
		ssize_t n = sock ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);
		if (n < 0 && sock && errno == ENOTSOCK) {
			sock = 0;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
