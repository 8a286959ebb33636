/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "error.h"

int
mamori_client_connect(const char *path, int require_root)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t credlen = sizeof(cred);
	struct stat st;
	int fd;

	if (path == NULL || strlen(path) >= sizeof(sun.sun_path))
		return MAMORI_ERR_INVALID;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) != 0)
		return errno == EACCES ? MAMORI_ERR_DENIED : MAMORI_ERR_IO;
	if (!S_ISSOCK(st.st_mode) || (require_root && st.st_uid != 0))
		return MAMORI_ERR_DENIED;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return MAMORI_ERR_IO;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int rc = (errno == EACCES || errno == EPERM) ? MAMORI_ERR_DENIED : MAMORI_ERR_IO;
		close(fd);
		return rc;
	}
	if (require_root) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) != 0 || cred.uid != 0) {
			close(fd);
			return MAMORI_ERR_DENIED;
		}
	}
	return fd;
}

int
mamori_client_call(struct mamori_wire *w, const json_t *call, json_t **reply, int timeout_ms)
{
	int rc;

	*reply = NULL;
	rc = mamori_wire_send(w->fd, call);
	/* A daemon that refuses a connection (Busy, PermissionDenied) answers
	 * and closes before reading the call: its answer may still be there. */
	if (rc == MAMORI_ERR_IO && mamori_wire_recv(w, reply, 0) == MAMORI_OK)
		return MAMORI_OK;
	if (rc != MAMORI_OK)
		return rc;
	rc = mamori_wire_recv(w, reply, timeout_ms);
	if (rc == MAMORI_ERR_CLOSED)
		rc = MAMORI_ERR_PROTOCOL;
	return rc;
}
