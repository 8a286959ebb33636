/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_PEER_H
#define MAMORI_PEER_H

#include <stddef.h>
#include <sys/types.h>

#include "names.h"

/* Who is on the other end of a socket, from the kernel (SO_PEERCRED). */
struct mamori_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	uid_t loginuid; /* (uid_t)-1 when unset */
	/* The uid the peer's connections and requests are counted against
	 * (connection limits, rate limit): uid, except for a root peer, where
	 * it is the real uid of the process behind the socket (a setuid su,
	 * sudo or passwd counts against the user who ran it), or
	 * MAMORI_PEER_UID_UNKNOWN when that cannot be read. */
	uid_t acct_uid;
	/* The user name of uid, empty when it has none. */
	char name[MAMORI_USER_NAME_MAX + 1];
};

/* The accounting uid of a root peer whose real uid cannot be read: a
 * bucket of its own, limited like any user's. */
#define MAMORI_PEER_UID_UNKNOWN ((uid_t)-2)

int mamori_peer_get(int fd, struct mamori_peer *peer);
/* The real uid of pid from /proc/PID/status, checked against the
 * effective uid the kernel attested (euid): 0 with *ruid set, -1 when it
 * cannot be read or the process is no longer the one that connected. */
int mamori_peer_real_uid(pid_t pid, uid_t euid, uid_t *ruid);
/* Whether the peer is root or a member of group gid (primary or
 * supplementary, from SO_PEERGROUPS). */
int mamori_peer_in_group(int fd, const struct mamori_peer *peer, gid_t gid);
/* The acting human, for the audit log: the login uid's name, else the uid's
 * name, else "uid:N". */
void mamori_peer_actor(const struct mamori_peer *peer, char *buf, size_t len);
/* The user name of the peer's login uid: the person behind the peer, as
 * the kernel recorded at login.  -1 when no login uid is set or it has no
 * name: the person is unknown. */
int mamori_peer_login_name(const struct mamori_peer *peer, char *buf, size_t len);
/* Whether the peer may act for user: root for anyone, others only for the
 * account named like their own uid's user. */
int mamori_peer_may_act_for(const struct mamori_peer *peer, const char *user);

#endif
