/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_LOG_H
#define MAMORI_LOG_H

#include <syslog.h>

/* Process-wide logging for the daemon and the CLI (never the PAM module,
 * which logs through pam_syslog).  to_stderr copies every line to stderr. */
void mamori_log_init(const char *ident, int to_stderr, int debug);
void mamori_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define mamori_log_debug(...) mamori_log(LOG_DEBUG, __VA_ARGS__)
#define mamori_log_info(...) mamori_log(LOG_INFO, __VA_ARGS__)
#define mamori_log_notice(...) mamori_log(LOG_NOTICE, __VA_ARGS__)
#define mamori_log_warn(...) mamori_log(LOG_WARNING, __VA_ARGS__)
#define mamori_log_err(...) mamori_log(LOG_ERR, __VA_ARGS__)

#endif
