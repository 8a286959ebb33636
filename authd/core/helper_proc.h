/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_HELPER_PROC_H
#define MAMORI_HELPER_PROC_H

/* The daemon's side of its helper programs (card/client.c, fido2/client.c):
 * starting one on a socketpair, exchanging NUL-terminated messages with a
 * deadline, and reaping it (core/b64.h decodes what it sends). */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int64_t mamori_helper_now_ms(void);
/* Start path with argv and envp (a clean environment), fd 0 and 1 on one
 * end of a socketpair (the other in *fd), no signal blocked, every
 * disposition at its default, no other fd open.  what names the helper in
 * the log.  MAMORI_OK or MAMORI_ERR_IO. */
int mamori_helper_spawn(const char *path, char *const argv[], char *const envp[], const char *what, pid_t *pid,
                        int *fd);
/* Reap pid, killing it unless it exits within grace_ms. */
void mamori_helper_reap(pid_t pid, int grace_ms);
/* The same from a detached thread (here, within fallback_ms, when no
 * thread can be made). */
void mamori_helper_reap_later(pid_t pid, int grace_ms, int fallback_ms);
/* Send all of buf by deadline: MAMORI_OK, MAMORI_ERR_TIMEOUT or
 * MAMORI_ERR_IO. */
int mamori_helper_send_all(int fd, const char *buf, size_t len, int64_t deadline);
/* One message up to its NUL into buf (max + 1 bytes), *len its length;
 * nothing may follow it.  MAMORI_ERR_PROTOCOL for a message longer than
 * max or followed by more. */
int mamori_helper_recv(int fd, char *buf, size_t max, size_t *len, int64_t deadline);
#endif
