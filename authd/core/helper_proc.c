/* SPDX-License-Identifier: BSD-2-Clause */
/* The daemon's side of its helper programs (core/helper_proc.h). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/helper_proc.h"
#include "error.h"
#include "log.h"
#include "secure.h"

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define HAVE_SPAWN_CLOSEFROM 1
#endif

int64_t
mamori_helper_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
mamori_helper_reap(pid_t pid, int grace_ms)
{
	int64_t deadline = mamori_helper_now_ms() + grace_ms;
	int status;
	pid_t w;

	if (pid <= 0)
		return;
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			return;
		if (w == 0 && mamori_helper_now_ms() >= deadline)
			break;
		if (w == 0) {
			struct timespec ts = { 0, 5 * 1000000 };
			nanosleep(&ts, NULL);
		}
	}
	kill(pid, SIGKILL);
	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
}

struct reap_arg {
	pid_t pid;
	int grace_ms;
};

static void *
reaper(void *arg)
{
	struct reap_arg a = *(struct reap_arg *)arg;

	free(arg);
	mamori_helper_reap(a.pid, a.grace_ms);
	return NULL;
}

void
mamori_helper_reap_later(pid_t pid, int grace_ms, int fallback_ms)
{
	struct reap_arg *a;
	pthread_attr_t attr;
	pthread_t t;
	int status, e;

	if (pid <= 0 || waitpid(pid, &status, WNOHANG) == pid)
		return;
	a = malloc(sizeof(*a));
	e = a != NULL ? pthread_attr_init(&attr) : ENOMEM;
	if (e == 0) {
		a->pid = pid;
		a->grace_ms = grace_ms;
		e = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (e == 0)
			e = pthread_create(&t, &attr, reaper, a);
		pthread_attr_destroy(&attr);
	}
	if (e != 0) {
		free(a);
		mamori_helper_reap(pid, fallback_ms);
	}
}

int
mamori_helper_spawn(const char *path, char *const argv[], char *const envp[], const char *what, pid_t *pid, int *fd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int sv[2], e;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return MAMORI_ERR_IO;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	e = posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO);
	if (e == 0)
		e = posix_spawn_file_actions_adddup2(&fa, sv[1], STDOUT_FILENO);
#ifdef HAVE_SPAWN_CLOSEFROM
	if (e == 0)
		e = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
#endif
	if (e == 0)
		e = posix_spawnattr_setsigmask(&attr, &none);
	if (e == 0)
		e = posix_spawnattr_setsigdefault(&attr, &all);
	if (e == 0)
		e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (e == 0)
		e = posix_spawn(pid, path, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(sv[1]);
	if (e != 0) {
		mamori_log_err("cannot run the %s %s: %s", what, path, strerror(e));
		close(sv[0]);
		return MAMORI_ERR_IO;
	}
	*fd = sv[0];
	return MAMORI_OK;
}

int
mamori_helper_send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	size_t off = 0;

	while (off < len) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int64_t left = deadline - mamori_helper_now_ms();
		ssize_t n;

		if (left <= 0)
			return MAMORI_ERR_TIMEOUT;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return MAMORI_ERR_IO;
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n <= 0)
			return MAMORI_ERR_IO;
		off += (size_t)n;
	}
	return MAMORI_OK;
}

int
mamori_helper_recv(int fd, char *buf, size_t max, size_t *len, int64_t deadline)
{
	*len = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - mamori_helper_now_ms();
		char *nul;
		ssize_t n;

		if (left <= 0)
			return MAMORI_ERR_TIMEOUT;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return MAMORI_ERR_IO;
		n = recv(fd, buf + *len, max + 1 - *len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n <= 0)
			return MAMORI_ERR_IO;
		nul = memchr(buf + *len, '\0', (size_t)n);
		*len += (size_t)n;
		if (nul != NULL) {
			/* One reply per request: nothing may follow it. */
			if ((size_t)(nul - buf) + 1 != *len)
				return MAMORI_ERR_PROTOCOL;
			*len = (size_t)(nul - buf);
			return MAMORI_OK;
		}
		if (*len > max)
			return MAMORI_ERR_PROTOCOL;
	}
}

int
mamori_helper_recv_json(int fd, size_t max, int64_t deadline, json_t **reply)
{
	char *buf = malloc(max + 1);
	size_t len = 0;
	json_t *r = NULL;
	int rc;

	*reply = NULL;
	if (buf == NULL)
		return MAMORI_ERR_NOMEM;
	rc = mamori_helper_recv(fd, buf, max, &len, deadline);
	if (rc == MAMORI_OK) {
		r = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
		rc = json_is_object(r) && json_is_boolean(json_object_get(r, "ok")) ? MAMORI_OK : MAMORI_ERR_PROTOCOL;
	}
	mamori_freezero(buf, max + 1);
	if (rc != MAMORI_OK) {
		json_decref(r);
		return rc;
	}
	*reply = r;
	return MAMORI_OK;
}

void
mamori_helper_kill(pid_t *pid, int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		mamori_helper_reap(*pid, 0);
	}
	*pid = -1;
}

void
mamori_helper_stop(pid_t pid, int fd, int wait, int close_ms, int reap_ms)
{
	if (fd >= 0)
		close(fd);
	if (wait)
		mamori_helper_reap(pid, close_ms);
	else
		mamori_helper_reap_later(pid, reap_ms, close_ms);
}
