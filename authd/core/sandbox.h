/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_SANDBOX_H
#define MAMORI_SANDBOX_H

/* The helper programs' side (mamori-card-helper, mamori-fido2-helper):
 * how a helper confines itself before it touches any device data, and how
 * it reads and writes the NUL-terminated JSON messages of its protocol on
 * stdin and stdout (card/card.h, fido2/fido2.h).  Linked into the helpers
 * only, never into the daemon. */

#include <stddef.h>

/* As root: drop to user for good, with group as its only group (NULL:
 * user's own group, no supplementary group), and refuse to go on if root
 * could come back.  Then: no core dump, not dumpable, no_new_privs,
 * SIGKILL when the parent dies, every fd above 2 closed, SIGPIPE ignored.
 * prog names the program in the messages on stderr.  0, or -1 (said on
 * stderr) when any of it fails or the parent is gone already. */
int mamori_sandbox_enter(const char *prog, const char *user, const char *group);

/* Write one message and its NUL; -1 when the daemon went away. */
int mamori_sandbox_send(int fd, const char *msg);

/* Requests read from the daemon: buf holds max + 1 bytes. */
struct mamori_sandbox_reader {
	char *buf;
	size_t max;
	size_t have; /* bytes read so far */
	size_t used; /* the request handed out last, with its NUL */
};

/* One request up to its NUL, moved to the front of r->buf, *len its
 * length (a request may follow the one before it at once).  0, or -1 at
 * EOF, on an error, or for a request longer than r->max. */
int mamori_sandbox_read(struct mamori_sandbox_reader *r, int fd, size_t *len);

/* A free() for jansson that wipes what it frees (json_set_alloc_funcs). */
void mamori_sandbox_wiping_free(void *p);

#endif
