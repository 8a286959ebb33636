/* SPDX-License-Identifier: BSD-2-Clause */
/* Test hook: FIDO2 keys over AF_UNIX stream sockets (devsock.h).  libfido2
 * does CTAPHID INIT, CBOR and the PIN protocol itself; this file only
 * carries whole CTAPHID messages, one command byte and a big-endian length
 * in front of each, to the suite's software authenticator. */
#include "config.h"

#include <stddef.h>

#include <fido.h>

#include "fido2/devsock.h"

#ifdef MAMORI_TEST_HOOKS

#include <errno.h>
#include <stdio.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

#define DEVSOCK_ENV "MAMORI_TEST_FIDO2_DEVICES"
#define DEVSOCK_HEADER 5 /* command byte, 4-byte big-endian length */
#define DEVSOCK_MSG_MAX 7609 /* CTAPHID: 64-byte reports, 1 + 128 of them */
#define DEVSOCK_KEYS_MAX 16
#define DEVSOCK_CMD_KEEPALIVE 0x3b

struct devsock {
	int fd;
};

static int
devsock_connect(const char *sockpath)
{
	struct sockaddr_un sa;
	size_t len = strlen(sockpath);
	int fd;

	if (len == 0 || len >= sizeof(sa.sun_path))
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, sockpath, len + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void *
devsock_open(const char *path)
{
	const size_t plen = strlen(MAMORI_FIDO2_DEVSOCK_PREFIX);
	struct devsock *h;

	if (path == NULL || strncmp(path, MAMORI_FIDO2_DEVSOCK_PREFIX, plen) != 0)
		return NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	if ((h->fd = devsock_connect(path + plen)) < 0) {
		free(h);
		return NULL;
	}
	return h;
}

static void
devsock_close(void *handle)
{
	struct devsock *h = handle;

	if (h == NULL)
		return;
	close(h->fd);
	free(h);
}

/* Whole messages only go through the transport functions. */
static int
devsock_read(void *handle, unsigned char *buf, size_t len, int ms)
{
	(void)handle;
	(void)buf;
	(void)len;
	(void)ms;
	return -1;
}

static int
devsock_write(void *handle, const unsigned char *buf, size_t len)
{
	(void)handle;
	(void)buf;
	(void)len;
	return -1;
}

static int
devsock_tx(fido_dev_t *dev, uint8_t cmd, const unsigned char *buf, size_t count)
{
	struct devsock *h = fido_dev_io_handle(dev);
	unsigned char hdr[DEVSOCK_HEADER];

	if (h == NULL || count > DEVSOCK_MSG_MAX || (count > 0 && buf == NULL))
		return -1;
	hdr[0] = cmd;
	hdr[1] = (unsigned char)(count >> 24);
	hdr[2] = (unsigned char)(count >> 16);
	hdr[3] = (unsigned char)(count >> 8);
	hdr[4] = (unsigned char)count;
	if (mamori_write_all(h->fd, hdr, sizeof(hdr)) != 0 || (count > 0 && mamori_write_all(h->fd, buf, count) != 0))
		return -1;
	return (int)count;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read exactly len bytes before deadline (-1: none). */
static int
read_full(int fd, unsigned char *buf, size_t len, int64_t deadline)
{
	while (len > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int wait = -1;
		ssize_t n;

		if (deadline >= 0) {
			int64_t left = deadline - now_ms();
			if (left <= 0)
				return -1;
			wait = left > INT32_MAX ? INT32_MAX : (int)left;
		}
		n = poll(&pfd, 1, wait);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		n = recv(fd, buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The answer to cmd, keepalives skipped; an error answer (CTAP_CMD_ERROR)
 * or any other command is a failure. */
static int
devsock_rx(fido_dev_t *dev, uint8_t cmd, unsigned char *buf, size_t count, int ms)
{
	struct devsock *h = fido_dev_io_handle(dev);
	unsigned char hdr[DEVSOCK_HEADER];
	unsigned char msg[DEVSOCK_MSG_MAX];
	int64_t deadline = ms < 0 ? -1 : now_ms() + ms;
	size_t len;
	int r = -1;

	if (h == NULL || buf == NULL)
		return -1;
	for (;;) {
		if (read_full(h->fd, hdr, sizeof(hdr), deadline) != 0)
			goto fail;
		len = (size_t)hdr[1] << 24 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 8 | (size_t)hdr[4];
		if (len > sizeof(msg) || read_full(h->fd, msg, len, deadline) != 0)
			goto fail;
		if (hdr[0] != DEVSOCK_CMD_KEEPALIVE)
			break;
	}
	if (hdr[0] != cmd || len > count)
		goto fail;
	memcpy(buf, msg, len);
	r = (int)len;
fail:
	explicit_bzero(msg, sizeof(msg));
	return r;
}

static const fido_dev_io_t devsock_io = {
	devsock_open,
	devsock_close,
	devsock_read,
	devsock_write,
};

static const fido_dev_transport_t devsock_transport = {
	devsock_rx,
	devsock_tx,
};

int
mamori_fido2_devsock_setup(fido_dev_t *dev)
{
	int r;

	if (dev == NULL)
		return FIDO_ERR_INVALID_ARGUMENT;
	if ((r = fido_dev_set_io_functions(dev, &devsock_io)) != FIDO_OK)
		return r;
	return fido_dev_set_transport_functions(dev, &devsock_transport);
}

/* A socket something listens on: a connection is accepted. */
static int
devsock_alive(const char *sockpath)
{
	int fd = devsock_connect(sockpath);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

int
mamori_fido2_devsock_manifest(fido_dev_info_t **list, size_t *n)
{
	const char *env = getenv(DEVSOCK_ENV);
	char path[sizeof(MAMORI_FIDO2_DEVSOCK_PREFIX) + sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *p, *end;
	size_t found = 0;

	if (list == NULL || n == NULL)
		return FIDO_ERR_INVALID_ARGUMENT;
	*list = NULL;
	*n = 0;
	if (env == NULL)
		return -1;
	if ((*list = fido_dev_info_new(DEVSOCK_KEYS_MAX)) == NULL)
		return FIDO_ERR_INTERNAL;
	for (p = env; *p != '\0' && found < DEVSOCK_KEYS_MAX; p = *end == ':' ? end + 1 : end) {
		size_t len;
		int w;

		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		w = snprintf(path, sizeof(path), "%s%.*s", MAMORI_FIDO2_DEVSOCK_PREFIX, (int)len, p);
		if (len == 0 || w < 0 || (size_t)w >= sizeof(path))
			continue;
		if (!devsock_alive(path + strlen(MAMORI_FIDO2_DEVSOCK_PREFIX)))
			continue;
		if (fido_dev_info_set(*list, found, path, "mamori test", "mamori softkey", &devsock_io,
		                      &devsock_transport) != FIDO_OK) {
			fido_dev_info_free(list, DEVSOCK_KEYS_MAX);
			return FIDO_ERR_INTERNAL;
		}
		found++;
	}
	*n = found;
	return FIDO_OK;
}

#else /* !MAMORI_TEST_HOOKS: no socket keys, only hidraw. */

int
mamori_fido2_devsock_manifest(fido_dev_info_t **list, size_t *n)
{
	if (list != NULL)
		*list = NULL;
	if (n != NULL)
		*n = 0;
	return -1;
}

int
mamori_fido2_devsock_setup(fido_dev_t *dev)
{
	(void)dev;
	return FIDO_ERR_INVALID_ARGUMENT;
}

#endif
