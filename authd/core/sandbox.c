/* SPDX-License-Identifier: BSD-2-Clause */
/* The confinement and message I/O the helper programs share
 * (core/sandbox.h). */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/sandbox.h"
#include "secure.h"

void
mamori_sandbox_wiping_free(void *p)
{
	if (p != NULL)
		mamori_freezero(p, malloc_usable_size(p));
}

static void
close_others(void)
{
#ifdef __NR_close_range
	if (syscall(__NR_close_range, 3U, ~0U, 0U) == 0)
		return;
#endif
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
}

/* The gid to run with: group's, or user's own.  -1 when group does not
 * exist or is root's. */
static int
target_gid(const char *prog, const struct passwd *pw, const char *group, gid_t *gid)
{
	struct group *gr;

	if (group == NULL) {
		*gid = pw->pw_gid;
		return 0;
	}
	gr = getgrnam(group);
	if (gr == NULL || gr->gr_gid == 0) {
		fprintf(stderr, "%s: no group %s to run with (or it is root's)\n", prog, group);
		return -1;
	}
	*gid = gr->gr_gid;
	return 0;
}

/* As root: to user (and group), for good.  Never root afterwards, either
 * way. */
static int
drop_privileges(const char *prog, const char *user, const char *group)
{
	if (getuid() == 0 || geteuid() == 0) {
		struct passwd *pw = getpwnam(user);
		gid_t gid;
		if (pw == NULL || pw->pw_uid == 0) {
			fprintf(stderr, "%s: no user %s to run as (or it is root)\n", prog, user);
			return -1;
		}
		if (target_gid(prog, pw, group, &gid) != 0)
			return -1;
		if ((group != NULL ? setgroups(1, &gid) : setgroups(0, NULL)) != 0 || setgid(gid) != 0 ||
		    setuid(pw->pw_uid) != 0) {
			fprintf(stderr, "%s: cannot drop to %s: %s\n", prog, user, strerror(errno));
			return -1;
		}
	}
	if (getuid() == 0 || geteuid() == 0 || setuid(0) == 0 || (group != NULL && setgid(0) == 0)) {
		fprintf(stderr, "%s: refusing to run as root\n", prog);
		return -1;
	}
	return 0;
}

int
mamori_sandbox_enter(const char *prog, const char *user, const char *group)
{
	struct rlimit none = { 0, 0 };
	pid_t parent = getppid();

	close_others();
	if (setrlimit(RLIMIT_CORE, &none) != 0 || drop_privileges(prog, user, group) != 0)
		return -1;
	/* Whatever the user lookup left open (NSS) goes too. */
	endpwent();
	endgrent();
	close_others();
	/* After the change of ids, which clears both. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
		fprintf(stderr, "%s: prctl: %s\n", prog, strerror(errno));
		return -1;
	}
	if (getppid() != parent)
		return -1; /* the daemon is gone already */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int
mamori_sandbox_send(int fd, const char *msg)
{
	size_t len = strlen(msg) + 1, off = 0;

	while (off < len) {
		ssize_t n = send(fd, msg + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, msg + off, len - off);
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

int
mamori_sandbox_read(struct mamori_sandbox_reader *r, int fd, size_t *len)
{
	r->have -= r->used;
	memmove(r->buf, r->buf + r->used, r->have);
	r->used = 0;
	for (;;) {
		char *nul = memchr(r->buf, '\0', r->have);
		ssize_t n;
		if (nul != NULL) {
			*len = (size_t)(nul - r->buf);
			r->used = *len + 1;
			return 0;
		}
		if (r->have > r->max)
			return -1;
		n = read(fd, r->buf + r->have, r->max + 1 - r->have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		r->have += (size_t)n;
	}
}
