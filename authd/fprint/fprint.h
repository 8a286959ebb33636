/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_FPRINT_H
#define MAMORI_FPRINT_H

/* One fingerprint verification through fprintd on the system bus (sd-bus):
 * Manager.GetDefaultDevice, Device.Claim(user), VerifyStart("any"), the
 * VerifyStatus(result, done) signals, then VerifyStop and Release however
 * it ends.  Each verification has a private bus connection
 * (sd_bus_open_system, which honours DBUS_SYSTEM_BUS_ADDRESS) and a
 * deadline on the monotonic clock; nothing of it is shared between
 * threads.  No biometric data ever reaches mamori: fprintd keeps the
 * prints and only says whether one matched. */

#include <stdint.h>

enum mamori_fprint_result {
	MAMORI_FPRINT_MATCH, /* verify-match */
	MAMORI_FPRINT_NO_MATCH, /* verify-no-match */
	/* The scan goes on (done false): a message for the person. */
	MAMORI_FPRINT_RETRY_SCAN, /* verify-retry-scan */
	MAMORI_FPRINT_SWIPE_TOO_SHORT, /* verify-swipe-too-short */
	MAMORI_FPRINT_NOT_CENTERED, /* verify-finger-not-centered */
	MAMORI_FPRINT_REMOVE_AND_RETRY, /* verify-remove-and-retry */
	/* The end, without an answer. */
	MAMORI_FPRINT_DISCONNECTED, /* verify-disconnected */
	MAMORI_FPRINT_UNKNOWN_ERROR, /* verify-unknown-error, or a result fprintd did not name */
	MAMORI_FPRINT_NO_PRINTS, /* net.reactivated.Fprint.Error.NoEnrolledPrints (or no such user) */
	MAMORI_FPRINT_PERMISSION, /* net.reactivated.Fprint.Error.PermissionDenied */
	MAMORI_FPRINT_BUSY, /* net.reactivated.Fprint.Error.AlreadyInUse */
	MAMORI_FPRINT_NO_DEVICE, /* net.reactivated.Fprint.Error.NoSuchDevice, or fprintd not on the bus */
	MAMORI_FPRINT_TIMEOUT, /* no result before the deadline */
	MAMORI_FPRINT_BUS_ERROR, /* the bus failed, or fprintd answered what it should not */
};

/* Whether the scan goes on after this result (the retry ones). */
int mamori_fprint_result_retry(enum mamori_fprint_result r);
/* "verify-match", "NoEnrolledPrints", "timeout"…: for logs and audit rows. */
const char *mamori_fprint_result_name(enum mamori_fprint_result r);
/* The result fprintd's VerifyStatus names (unknown ones: UNKNOWN_ERROR). */
enum mamori_fprint_result mamori_fprint_result_parse(const char *s);
/* The result a D-Bus error name stands for (others: BUS_ERROR). */
enum mamori_fprint_result mamori_fprint_error_parse(const char *name);

/* The monotonic clock in microseconds, for deadlines. */
uint64_t mamori_fprint_now_usec(void);

struct mamori_fprint;

/* Connect to the bus and find the default device (GetDefaultDevice), before
 * the deadline.  MAMORI_OK with *out set, or MAMORI_ERR_DENIED with *res
 * (NO_DEVICE, PERMISSION, TIMEOUT, BUS_ERROR), or MAMORI_ERR_NOMEM. */
int mamori_fprint_open(uint64_t deadline_usec, struct mamori_fprint **out, enum mamori_fprint_result *res);
/* Claim the device for user and start a verification with any of the
 * user's prints.  MAMORI_OK, or MAMORI_ERR_DENIED with *res (NO_PRINTS,
 * PERMISSION, BUSY, NO_DEVICE, TIMEOUT, BUS_ERROR). */
int mamori_fprint_verify_start(struct mamori_fprint *fp, const char *user, uint64_t deadline_usec,
                               enum mamori_fprint_result *res);
/* Wait for the next VerifyStatus, up to the deadline.  MAMORI_OK with *res
 * (the verification goes on only when mamori_fprint_result_retry(*res)). */
int mamori_fprint_verify_wait(struct mamori_fprint *fp, uint64_t deadline_usec, enum mamori_fprint_result *res);
/* VerifyStop and Release where they are due (each within a short timeout
 * of its own), then the connection is closed.  Accepts NULL. */
void mamori_fprint_close(struct mamori_fprint **fp);

#endif
