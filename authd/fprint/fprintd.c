/* SPDX-License-Identifier: BSD-2-Clause */
/* The fprintd client (fprint.h): a private sd-bus connection per
 * verification, its own loop of sd_bus_process/sd_bus_wait against a
 * deadline, and VerifyStop + Release however it ends. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-bus.h>

#include "error.h"
#include "fprint/fprint.h"
#include "log.h"

#define FPRINT_BUS "net.reactivated.Fprint"
#define FPRINT_MANAGER_PATH "/net/reactivated/Fprint/Manager"
#define FPRINT_MANAGER FPRINT_BUS ".Manager"
#define FPRINT_DEVICE FPRINT_BUS ".Device"
#define FPRINT_ERROR FPRINT_BUS ".Error."
/* The time VerifyStop and Release each get at the end. */
#define FPRINT_CLEANUP_USEC (2 * 1000 * 1000ULL)

struct mamori_fprint {
	sd_bus *bus;
	sd_bus_slot *match;
	char *device; /* the device's object path */
	int claimed;
	int verifying;
	int have_status; /* a VerifyStatus arrived and was not yet taken */
	enum mamori_fprint_result status;
	int done; /* fprintd said done: the verification is over */
};

static const struct {
	const char *name;
	enum mamori_fprint_result r;
} results[] = {
	{ "verify-match", MAMORI_FPRINT_MATCH },
	{ "verify-no-match", MAMORI_FPRINT_NO_MATCH },
	{ "verify-retry-scan", MAMORI_FPRINT_RETRY_SCAN },
	{ "verify-swipe-too-short", MAMORI_FPRINT_SWIPE_TOO_SHORT },
	{ "verify-finger-not-centered", MAMORI_FPRINT_NOT_CENTERED },
	{ "verify-remove-and-retry", MAMORI_FPRINT_REMOVE_AND_RETRY },
	{ "verify-disconnected", MAMORI_FPRINT_DISCONNECTED },
	{ "verify-unknown-error", MAMORI_FPRINT_UNKNOWN_ERROR },
	{ "NoEnrolledPrints", MAMORI_FPRINT_NO_PRINTS },
	{ "PermissionDenied", MAMORI_FPRINT_PERMISSION },
	{ "AlreadyInUse", MAMORI_FPRINT_BUSY },
	{ "NoSuchDevice", MAMORI_FPRINT_NO_DEVICE },
	{ "timeout", MAMORI_FPRINT_TIMEOUT },
	{ "bus-error", MAMORI_FPRINT_BUS_ERROR },
};

#define RESULTS_COUNT (sizeof(results) / sizeof(results[0]))

const char *
mamori_fprint_result_name(enum mamori_fprint_result r)
{
	for (size_t i = 0; i < RESULTS_COUNT; i++)
		if (results[i].r == r)
			return results[i].name;
	return "bus-error";
}

enum mamori_fprint_result
mamori_fprint_result_parse(const char *s)
{
	/* Only the VerifyStatus results (the first eight). */
	for (size_t i = 0; s != NULL && i < 8; i++)
		if (strcmp(results[i].name, s) == 0)
			return results[i].r;
	return MAMORI_FPRINT_UNKNOWN_ERROR;
}

enum mamori_fprint_result
mamori_fprint_error_parse(const char *name)
{
	if (name == NULL)
		return MAMORI_FPRINT_BUS_ERROR;
	if (strcmp(name, SD_BUS_ERROR_SERVICE_UNKNOWN) == 0 || strcmp(name, SD_BUS_ERROR_NAME_HAS_NO_OWNER) == 0)
		return MAMORI_FPRINT_NO_DEVICE;
	if (strcmp(name, SD_BUS_ERROR_NO_REPLY) == 0 || strcmp(name, SD_BUS_ERROR_TIMEOUT) == 0)
		return MAMORI_FPRINT_TIMEOUT;
	if (strncmp(name, FPRINT_ERROR, strlen(FPRINT_ERROR)) != 0)
		return MAMORI_FPRINT_BUS_ERROR;
	name += strlen(FPRINT_ERROR);
	for (size_t i = 8; i < 12; i++)
		if (strcmp(results[i].name, name) == 0)
			return results[i].r;
	return MAMORI_FPRINT_BUS_ERROR;
}

int
mamori_fprint_result_retry(enum mamori_fprint_result r)
{
	return r == MAMORI_FPRINT_RETRY_SCAN || r == MAMORI_FPRINT_SWIPE_TOO_SHORT || r == MAMORI_FPRINT_NOT_CENTERED ||
	       r == MAMORI_FPRINT_REMOVE_AND_RETRY;
}

uint64_t
mamori_fprint_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

/* What is left of the deadline; 0 when it has passed. */
static uint64_t
remaining(uint64_t deadline)
{
	uint64_t now = mamori_fprint_now_usec();

	return deadline > now ? deadline - now : 0;
}

/* A method call on fprintd before the deadline: MAMORI_OK, or
 * MAMORI_ERR_DENIED with *res.  reply may be NULL. */
static int
call(struct mamori_fprint *fp, const char *path, const char *iface, const char *method, uint64_t deadline,
     enum mamori_fprint_result *res, sd_bus_message **reply, const char *types, const char *arg)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL, *r = NULL;
	uint64_t left = remaining(deadline);
	int rc;

	if (left == 0) {
		*res = MAMORI_FPRINT_TIMEOUT;
		return MAMORI_ERR_DENIED;
	}
	rc = sd_bus_message_new_method_call(fp->bus, &m, FPRINT_BUS, path, iface, method);
	if (rc >= 0 && types != NULL)
		rc = sd_bus_message_append(m, types, arg);
	if (rc >= 0)
		rc = sd_bus_call(fp->bus, m, left, &error, &r);
	sd_bus_message_unref(m);
	if (rc < 0) {
		*res = sd_bus_error_is_set(&error)
		               ? mamori_fprint_error_parse(error.name)
		               : (rc == -ETIMEDOUT ? MAMORI_FPRINT_TIMEOUT : MAMORI_FPRINT_BUS_ERROR);
		if (*res == MAMORI_FPRINT_BUS_ERROR)
			mamori_log_notice("fprintd %s: %s", method,
			                  sd_bus_error_is_set(&error) ? error.name : strerror(-rc));
		sd_bus_error_free(&error);
		return MAMORI_ERR_DENIED;
	}
	if (reply != NULL)
		*reply = r;
	else
		sd_bus_message_unref(r);
	return MAMORI_OK;
}

int
mamori_fprint_open(uint64_t deadline, struct mamori_fprint **out, enum mamori_fprint_result *res)
{
	struct mamori_fprint *fp;
	sd_bus_message *reply = NULL;
	const char *path = NULL;
	int rc;

	*out = NULL;
	if ((fp = calloc(1, sizeof(*fp))) == NULL)
		return MAMORI_ERR_NOMEM;
	if ((rc = sd_bus_open_system(&fp->bus)) < 0) {
		mamori_log_notice("fprintd: cannot reach the system bus: %s", strerror(-rc));
		free(fp);
		*res = MAMORI_FPRINT_NO_DEVICE;
		return MAMORI_ERR_DENIED;
	}
	rc = call(fp, FPRINT_MANAGER_PATH, FPRINT_MANAGER, "GetDefaultDevice", deadline, res, &reply, NULL, NULL);
	if (rc == MAMORI_OK) {
		if (sd_bus_message_read(reply, "o", &path) < 0 || (fp->device = strdup(path)) == NULL) {
			*res = MAMORI_FPRINT_BUS_ERROR;
			rc = MAMORI_ERR_DENIED;
		}
		sd_bus_message_unref(reply);
	}
	if (rc != MAMORI_OK) {
		mamori_fprint_close(&fp);
		return rc;
	}
	*out = fp;
	return MAMORI_OK;
}

/* VerifyStatus(s result, b done) of the claimed device. */
static int
on_status(sd_bus_message *m, void *data, sd_bus_error *error)
{
	struct mamori_fprint *fp = data;
	const char *result = NULL;
	int done = 0;

	(void)error;
	if (sd_bus_message_read(m, "sb", &result, &done) < 0)
		return 0;
	fp->status = mamori_fprint_result_parse(result);
	fp->have_status = 1;
	/* A retry leaves the scan going whatever fprintd says of done. */
	fp->done = !mamori_fprint_result_retry(fp->status) || done;
	return 0;
}

int
mamori_fprint_verify_start(struct mamori_fprint *fp, const char *user, uint64_t deadline,
                           enum mamori_fprint_result *res)
{
	int rc;

	if (fp == NULL || user == NULL || fp->claimed) {
		*res = MAMORI_FPRINT_BUS_ERROR;
		return MAMORI_ERR_DENIED;
	}
	/* The match is in place before the verification starts: the bus
	 * handles AddMatch before the calls that follow it. */
	rc = sd_bus_match_signal_async(fp->bus, &fp->match, NULL, fp->device, FPRINT_DEVICE, "VerifyStatus", on_status,
	                               NULL, fp);
	if (rc < 0) {
		*res = MAMORI_FPRINT_BUS_ERROR;
		return MAMORI_ERR_DENIED;
	}
	if ((rc = call(fp, fp->device, FPRINT_DEVICE, "Claim", deadline, res, NULL, "s", user)) != MAMORI_OK)
		return rc;
	fp->claimed = 1;
	if ((rc = call(fp, fp->device, FPRINT_DEVICE, "VerifyStart", deadline, res, NULL, "s", "any")) != MAMORI_OK)
		return rc;
	fp->verifying = 1;
	return MAMORI_OK;
}

int
mamori_fprint_verify_wait(struct mamori_fprint *fp, uint64_t deadline, enum mamori_fprint_result *res)
{
	int rc;

	if (fp == NULL || !fp->verifying || fp->done) {
		*res = MAMORI_FPRINT_BUS_ERROR;
		return MAMORI_OK;
	}
	for (;;) {
		if (fp->have_status) {
			fp->have_status = 0;
			*res = fp->status;
			return MAMORI_OK;
		}
		if ((rc = sd_bus_process(fp->bus, NULL)) < 0) {
			mamori_log_notice("fprintd: the bus failed: %s", strerror(-rc));
			*res = MAMORI_FPRINT_BUS_ERROR;
			return MAMORI_OK;
		}
		if (rc > 0)
			continue;
		if (remaining(deadline) == 0) {
			*res = MAMORI_FPRINT_TIMEOUT;
			return MAMORI_OK;
		}
		if ((rc = sd_bus_wait(fp->bus, remaining(deadline))) < 0 && rc != -EINTR) {
			mamori_log_notice("fprintd: the bus failed: %s", strerror(-rc));
			*res = MAMORI_FPRINT_BUS_ERROR;
			return MAMORI_OK;
		}
	}
}

void
mamori_fprint_close(struct mamori_fprint **pfp)
{
	struct mamori_fprint *fp = pfp != NULL ? *pfp : NULL;
	enum mamori_fprint_result res;

	if (fp == NULL)
		return;
	if (fp->verifying)
		(void)call(fp, fp->device, FPRINT_DEVICE, "VerifyStop", mamori_fprint_now_usec() + FPRINT_CLEANUP_USEC,
		           &res, NULL, NULL, NULL);
	if (fp->claimed)
		(void)call(fp, fp->device, FPRINT_DEVICE, "Release", mamori_fprint_now_usec() + FPRINT_CLEANUP_USEC,
		           &res, NULL, NULL, NULL);
	sd_bus_slot_unref(fp->match);
	sd_bus_flush_close_unref(fp->bus);
	free(fp->device);
	free(fp);
	*pfp = NULL;
}
