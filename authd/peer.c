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

#include "peer.h"

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
