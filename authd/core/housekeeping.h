/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_HOUSEKEEPING_H
#define MAMORI_HOUSEKEEPING_H

/* One background thread for the daemon's periodic duties, about once a
 * second:
 * - privileged sessions past their time box are ended (P-PRIV-TIME);
 * - expired development accounts are disabled, once a minute (P-DEV-ID);
 * - lockout rows without a lock or a recent failure are forgotten, hourly;
 * - the kernel's clock synchronisation is checked every
 *   clock_check_interval seconds and a warning logged when it is off
 *   (P-TIME).
 * Deadlines are compared with mamori_clock_now(), so tests move them with
 * the injectable clock.  The thread uses mamori_daemon.store and the
 * configuration in force: start it after both are set, stop it before the
 * store is closed. */

int mamori_housekeeping_start(void);
/* Stop the thread and wait for it; at most a few seconds when a session
 * leader is being ended at that moment. */
void mamori_housekeeping_stop(void);
/* Run every duty that is due now (the first tick after start runs them
 * all).  The thread calls it each second; tests call it directly. */
void mamori_housekeeping_tick(void);

/* 1 when the kernel says the clock is synchronised (adjtimex: not
 * TIME_ERROR, STA_UNSYNC clear), 0 when not, -1 when it cannot tell.  Under
 * ProtectClock= adjtimex is refused even for reading; then timedated's
 * NTPSynchronized, which reads the same flag, is asked instead.  Test
 * builds report 0 when MAMORI_TEST_CLOCK_UNSYNC=1. */
int mamori_clock_synchronised(void);

#ifdef MAMORI_TEST_HOOKS
/* Called, when set, between a disabling duty's walk and its updates, with
 * the duty's name ("dev", "stale"): a test changes an account there as
 * another daemon would. */
extern void (*mamori_housekeeping_test_walked)(const char *duty);
#endif

#endif
