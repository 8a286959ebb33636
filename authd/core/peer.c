/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/peer.h"

static int
uid_name(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[4096];

	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) != 0 || res == NULL)
		return -1;
	if (strlen(pw.pw_name) >= len)
		return -1;
	memcpy(buf, pw.pw_name, strlen(pw.pw_name) + 1);
	return 0;
}

static uid_t
read_loginuid(pid_t pid)
{
	char path[64], buf[32];
	char *end;
	unsigned long v;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/loginuid", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return (uid_t)-1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (uid_t)-1;
	buf[n] = '\0';
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno != 0 || end == buf || v >= 4294967295UL)
		return (uid_t)-1;
	return (uid_t)v;
}

/* One uid field of a /proc status line ("Uid:\t1000\t0\t0\t0"). */
static int
parse_uid(const char **p, uid_t *out)
{
	char *end;
	unsigned long v;

	while (**p == '\t' || **p == ' ')
		(*p)++;
	if (**p < '0' || **p > '9')
		return -1;
	errno = 0;
	v = strtoul(*p, &end, 10);
	if (errno != 0 || v >= 4294967295UL)
		return -1;
	*p = end;
	*out = (uid_t)v;
	return 0;
}

int
mamori_peer_real_uid(pid_t pid, uid_t euid, uid_t *ruid)
{
	char path[64], buf[4096];
	const char *line;
	uid_t real, eff;
	size_t have = 0;
	int fd;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	while (have < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	buf[have] = '\0';
	if (have == 0 || strlen(buf) != have)
		return -1;
	/* "Uid:" starts a line; the name (first line) cannot hold a newline. */
	line = strstr(buf, "\nUid:");
	if (line == NULL)
		return -1;
	line += strlen("\nUid:");
	if (parse_uid(&line, &real) != 0 || parse_uid(&line, &eff) != 0)
		return -1;
	/* The pid may have been reused since it connected: a process whose
	 * effective uid is not the one the kernel attested is not believed. */
	if (eff != euid)
		return -1;
	*ruid = real;
	return 0;
}

int
mamori_peer_get(int fd, struct mamori_peer *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	memset(peer, 0, sizeof(*peer));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred))
		return -1;
	peer->pid = cred.pid;
	peer->uid = cred.uid;
	peer->gid = cred.gid;
	peer->loginuid = read_loginuid(cred.pid);
	peer->acct_uid = cred.uid;
	if (cred.uid == 0 && mamori_peer_real_uid(cred.pid, cred.uid, &peer->acct_uid) != 0)
		peer->acct_uid = MAMORI_PEER_UID_UNKNOWN;
	if (uid_name(cred.uid, peer->name, sizeof(peer->name)) != 0)
		peer->name[0] = '\0';
	return 0;
}

int
mamori_peer_in_group(int fd, const struct mamori_peer *peer, gid_t gid)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);

	if (peer->uid == 0 || peer->gid == gid)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
		return 0;
	for (size_t i = 0; i < len / sizeof(gid_t); i++) {
		if (groups[i] == gid)
			return 1;
	}
	return 0;
}

void
mamori_peer_actor(const struct mamori_peer *peer, char *buf, size_t len)
{
	if (peer->loginuid != (uid_t)-1 && uid_name(peer->loginuid, buf, len) == 0)
		return;
	if (peer->name[0] != '\0') {
		snprintf(buf, len, "%s", peer->name);
		return;
	}
	snprintf(buf, len, "uid:%lu", (unsigned long)peer->uid);
}

int
mamori_peer_login_name(const struct mamori_peer *peer, char *buf, size_t len)
{
	if (peer->loginuid == (uid_t)-1)
		return -1;
	return uid_name(peer->loginuid, buf, len);
}

int
mamori_peer_may_act_for(const struct mamori_peer *peer, const char *user)
{
	if (peer->uid == 0)
		return 1;
	return peer->name[0] != '\0' && strcmp(peer->name, user) == 0;
}
