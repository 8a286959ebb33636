/* SPDX-License-Identifier: BSD-2-Clause */
/* The audit checkpoint file (audit.h): one line of JSON, read with its
 * format checked, and written whole (temporary file, fsync, rename, the
 * directory fsynced).  Its MAC is audit.c's. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/audit.h"
#include "core/audit_internal.h"
#include "error.h"
#include "log.h"
#include "names.h"
#include "wire.h"

#define CHECKPOINT_FILE_MAX 4096

int
mamori_audit_checkpoint_read(const char *path, struct mamori_audit_checkpoint *cp, char *err, size_t errlen)
{
	char buf[CHECKPOINT_FILE_MAX + 1];
	json_t *o = NULL;
	json_error_t jerr;
	const char *format = NULL, *head = NULL, *mac = NULL, *chain = "";
	json_int_t rows = -1, mac_from = -1;
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd, rc = MAMORI_ERR_CONFIG;

	memset(cp, 0, sizeof(*cp));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "audit checkpoint %s: %s", path,
		         errno == ENOENT  ? "missing"
		         : errno == ELOOP ? "a symbolic link, refused"
		                          : strerror(errno));
		return errno == ENOENT ? MAMORI_ERR_NOT_FOUND : errno == ELOOP ? MAMORI_ERR_CONFIG : MAMORI_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "audit checkpoint %s: not a regular file", path);
		goto out;
	}
	while (got < CHECKPOINT_FILE_MAX) {
		n = read(fd, buf + got, CHECKPOINT_FILE_MAX - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "audit checkpoint %s: %s", path, strerror(errno));
			rc = MAMORI_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	o = json_loads(buf, JSON_REJECT_DUPLICATES, &jerr);
	if (got == CHECKPOINT_FILE_MAX || o == NULL ||
	    json_unpack(o, "{s:s, s:I, s:s, s:I, s:s, s?s}", "format", &format, "rows", &rows, "head_hash", &head,
	                "mac_from", &mac_from, "mac", &mac, "chain", &chain) != 0 ||
	    ((strcmp(format, CHECKPOINT_FORMAT) != 0 || chain[0] != '\0') &&
	     (strcmp(format, CHECKPOINT_FORMAT_CHAIN) != 0 || chain[0] == '\0' || strlen(chain) > MAMORI_NODE_MAX)) ||
	    rows < 0 || mac_from < 1 || strlen(head) != 64 || strspn(head, "0123456789abcdef") != 64 ||
	    strlen(mac) != 64) {
		snprintf(err, errlen, "audit checkpoint %s: not a checkpoint of this format", path);
		goto out;
	}
	snprintf(cp->chain, sizeof(cp->chain), "%s", chain);
	cp->rows = rows;
	cp->mac_from = mac_from;
	memcpy(cp->head_hash, head, 65);
	memcpy(cp->mac, mac, 65);
	rc = MAMORI_OK;
out:
	json_decref(o);
	close(fd);
	return rc;
}

/* Write cp to path: a temporary file beside it, fsynced, renamed over it,
 * and the directory fsynced, so the file always holds a whole checkpoint. */
int
mamori_audit_checkpoint_write(const char *path, struct mamori_audit_checkpoint *cp)
{
	char tmp[4096 + 8], line[1024], dir[4096];
	json_t *chain = NULL;
	char *name = NULL;
	const char *slash;
	struct stat st;
	int fd, n, dfd;

	if (mamori_audit_checkpoint_mac(cp, cp->mac) != MAMORI_OK)
		return MAMORI_ERR_CRYPTO;
	/* The node's name as a JSON string (jansson's quoting). */
	if (cp->chain[0] != '\0' && ((chain = json_string(cp->chain)) == NULL ||
	                             (name = json_dumps(chain, JSON_ENCODE_ANY | JSON_ENSURE_ASCII)) == NULL)) {
		json_decref(chain);
		return MAMORI_ERR_NOMEM;
	}
	json_decref(chain);
	if (name != NULL)
		n = snprintf(line, sizeof(line),
		             "{\"format\":\"" CHECKPOINT_FORMAT_CHAIN "\",\"chain\":%s,\"rows\":%lld,\"head_hash\":"
		             "\"%s\",\"mac_from\":%lld,\"mac\":\"%s\"}\n",
		             name, (long long)cp->rows, cp->head_hash, (long long)cp->mac_from, cp->mac);
	else
		n = snprintf(line, sizeof(line),
		             "{\"format\":\"" CHECKPOINT_FORMAT "\",\"rows\":%lld,\"head_hash\":\"%s\","
		             "\"mac_from\":%lld,\"mac\":\"%s\"}\n",
		             (long long)cp->rows, cp->head_hash, (long long)cp->mac_from, cp->mac);
	free(name);
	if (n < 0 || (size_t)n >= sizeof(line) || snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return MAMORI_ERR_TOO_LARGE;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0)
		goto fail;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || fchmod(fd, 0600) != 0 ||
	    mamori_write_all(fd, line, (size_t)n) != 0 || fsync(fd) != 0) {
		close(fd);
		goto fail;
	}
	if (close(fd) != 0 || rename(tmp, path) != 0)
		goto fail;
	slash = strrchr(path, '/');
	snprintf(dir, sizeof(dir), "%.*s",
	         slash == NULL   ? 1
	         : slash == path ? 1
	                         : (int)(slash - path),
	         slash == NULL ? "." : path);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || (fsync(dfd) != 0 && errno != EINVAL)) {
		if (dfd >= 0)
			close(dfd);
		goto fail;
	}
	close(dfd);
	return MAMORI_OK;
fail:
	mamori_log_err("audit checkpoint %s: cannot write: %s", path, strerror(errno));
	(void)unlink(tmp);
	return MAMORI_ERR_IO;
}
