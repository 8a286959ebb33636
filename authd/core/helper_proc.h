/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_HELPER_PROC_H
#define MAMORI_HELPER_PROC_H

/* The daemon's side of its helper programs (card/client.c, fido2/client.c):
 * starting one on a socketpair, exchanging NUL-terminated messages with a
 * deadline, and reaping it (core/b64.h decodes what it sends). */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

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
/* One reply by deadline, parsed (duplicate keys refused): an object with
 * a boolean "ok" in *reply (json_decref it), or MAMORI_ERR_IO,
 * MAMORI_ERR_TIMEOUT, MAMORI_ERR_PROTOCOL, MAMORI_ERR_NOMEM.  The buffer
 * it was read into (max + 1 bytes) is wiped. */
int mamori_helper_recv_json(int fd, size_t max, int64_t deadline, json_t **reply);
/* The helper is of no more use: *fd closed (-1), *pid killed and reaped
 * (-1). */
void mamori_helper_kill(pid_t *pid, int *fd);
/* End a helper: fd closed (EOF ends a helper), then pid reaped within
 * close_ms when wait, else by a detached thread within reap_ms. */
void mamori_helper_stop(pid_t pid, int fd, int wait, int close_ms, int reap_ms);

#endif
