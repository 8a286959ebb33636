/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_TEST_LOGIND_MOCK_H
#define MAMORI_TEST_LOGIND_MOCK_H

/* A private system bus (dbus-daemon) with python3-dbusmock's logind
 * template on it, for unit tests of the code that asks logind to lock or
 * end a session.  DBUS_SYSTEM_BUS_ADDRESS points at the bus while it runs.
 * Functions return 0, or -1 after printing why (a test asserts on it: a
 * missing dbus-daemon or dbusmock is a failure, not a skip). */

#include <sys/types.h>

struct logind_mock {
	char dir[256];
	pid_t bus_pid;
	pid_t mock_pid;
};

int logind_mock_start(struct logind_mock *m);
void logind_mock_stop(struct logind_mock *m);
/* AddSession(id, "seat0", uid, user, active). */
int logind_mock_add_session(const char *id, uid_t uid, const char *user);
/* How many calls of method with first argument id the mock has had since
 * the last clear (id NULL: any); -1 on error. */
int logind_mock_calls(const char *method, const char *id);
int logind_mock_clear(void);

#endif
