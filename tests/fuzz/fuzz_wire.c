/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for common/wire.c: every message the daemon and the PAM
 * module read goes through mamori_wire_decode and the typed getters.
 *
 * Invariants checked (abort() on violation):
 *   - a decoded message is an object;
 *   - it encodes to a NUL-terminated string without inner NULs that decodes
 *     to an equal value (json_equal);
 *   - encoding into a buffer one byte short fails and leaves zeros;
 *   - the getters honour their bounds and only report NOT_FOUND for absent
 *     or null keys;
 *   - common/reply.c (the replies pam_mamori and mamorictl read) hands out
 *     only what its bounds allow: an error with a text name, or an object
 *     of parameters; prompts, messages, results and tickets within their
 *     limits and free of control characters. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check.h"
#include "error.h"
#include "reply.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char encoded[MAMORI_WIRE_MAX];

static void
exercise_string(const json_t *params, const char *key, const json_t *v, size_t maxlen)
{
	const char *s = NULL;
	int rc = mamori_wire_get_string(params, key, maxlen, &s);

	if (v == NULL || json_is_null(v)) {
		check(rc == MAMORI_ERR_NOT_FOUND && s == NULL);
		return;
	}
	if (rc == MAMORI_OK) {
		check(json_is_string(v) && s == json_string_value(v));
		check(strlen(s) <= maxlen && strlen(s) == json_string_length(v));
	} else {
		check(rc == MAMORI_ERR_INVALID && s == NULL);
		check(!json_is_string(v) || json_string_length(v) > maxlen);
	}
}

static void
exercise_int(const json_t *params, const char *key, const json_t *v, long long min, long long max)
{
	long long n = 0x5a5a;
	int rc = mamori_wire_get_int(params, key, min, max, &n);

	if (v == NULL || json_is_null(v)) {
		check(rc == MAMORI_ERR_NOT_FOUND && n == 0x5a5a);
		return;
	}
	if (rc == MAMORI_OK)
		check(json_is_integer(v) && n >= min && n <= max && n == json_integer_value(v));
	else
		check(rc == MAMORI_ERR_INVALID && n == 0x5a5a);
}

static void
exercise_bool(const json_t *params, const char *key, const json_t *v)
{
	int b = 7;
	int rc = mamori_wire_get_bool(params, key, &b);

	if (v == NULL || json_is_null(v)) {
		check(rc == MAMORI_ERR_NOT_FOUND && b == 7);
		return;
	}
	if (rc == MAMORI_OK)
		check(json_is_boolean(v) && b == json_is_true(v));
	else
		check(rc == MAMORI_ERR_INVALID && !json_is_boolean(v) && b == 7);
}

static void
exercise_key(const json_t *params, const char *key)
{
	const json_t *v = json_object_get(params, key);

	exercise_string(params, key, v, 0);
	exercise_string(params, key, v, 8);
	exercise_string(params, key, v, 64);
	exercise_string(params, key, v, 256);
	exercise_string(params, key, v, MAMORI_WIRE_MAX);
	exercise_int(params, key, v, 0, 0);
	exercise_int(params, key, v, 1, 65535);
	exercise_int(params, key, v, -1000, 1000);
	exercise_int(params, key, v, INT64_MIN, INT64_MAX);
	exercise_bool(params, key, v);
}

static void
exercise_getters(const json_t *msg)
{
	/* The parameter names the protocol uses, whether present or not. */
	static const char *const keys[] = { "op",     "service", "user",       "tty",     "rhost",      "ruser",
		                            "locale", "prelim",  "ticket",     "answers", "session_id", "leader_pid",
		                            "name",   "kind",    "privileged", "expires", "password",   "since",
		                            "limit",  "message", "parameter",  "state",   "result",     "" };
	json_t *params = mamori_wire_parameters(msg);
	const char *key;
	json_t *value;

	(void)mamori_wire_method(msg);
	(void)mamori_wire_error_name(msg);
	if (params == NULL)
		params = (json_t *)msg;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		exercise_key(params, keys[i]);
	json_object_foreach (params, key, value)
		exercise_key(params, key);
}

static void
round_trip(const json_t *msg)
{
	json_t *again = NULL;
	size_t len = 0, shortlen = 0;
	int rc;

	rc = mamori_wire_encode(msg, encoded, sizeof(encoded), &len);
	if (rc == MAMORI_ERR_TOO_LARGE) {
		/* Compact output may still be longer than the input (reals are
		 * printed with 17 digits); it must then be refused whole. */
		check(len == 0);
		return;
	}
	check(rc == MAMORI_OK);
	check(len >= 3 && len <= MAMORI_WIRE_MAX && encoded[len - 1] == '\0' && strlen(encoded) == len - 1);

	rc = mamori_wire_decode(encoded, len - 1, &again);
	check(rc == MAMORI_OK && again != NULL);
	check(json_equal((json_t *)msg, again));
	json_decref(again);

	/* One byte short: refused, and what was written is wiped. */
	rc = mamori_wire_encode(msg, encoded, len - 1, &shortlen);
	check(rc == MAMORI_ERR_TOO_LARGE && shortlen == 0);
	for (size_t i = 0; i < len - 1; i++)
		check(encoded[i] == '\0');
}

static void
check_texts(const struct mamori_reply_text *t, size_t count, int prompt)
{
	for (size_t i = 0; i < count; i++) {
		check(strlen(t[i].text) <= MAMORI_REPLY_TEXT_MAX && mamori_reply_text_valid(t[i].text));
		check(prompt || t[i].style == MAMORI_REPLY_INFO || t[i].style == MAMORI_REPLY_ERROR);
	}
}

/* The message read as a reply, and its parameters (or the message itself)
 * as a conversation reply. */
static void
exercise_reply(const json_t *msg)
{
	const json_t *params =
	        json_is_object(json_object_get(msg, "parameters")) ? json_object_get(msg, "parameters") : msg;
	struct mamori_reply r;
	struct mamori_reply_prompts p;
	struct mamori_reply_done d;
	enum mamori_reply_state state;
	const char *name;

	if (mamori_reply_read(msg, &r) == MAMORI_OK) {
		check(r.is_error ? r.error != NULL && r.params == NULL : r.error == NULL && json_is_object(r.params));
		check(!r.is_error ||
		      (strlen(r.error) <= MAMORI_REPLY_ERROR_NAME_MAX && mamori_reply_text_valid(r.error)));
		check(r.message == NULL || strlen(r.message) <= MAMORI_REPLY_MESSAGE_MAX);
		check(r.parameter == NULL || mamori_reply_text_valid(r.parameter));
	} else {
		check(r.error == NULL && r.params == NULL);
	}
	if (mamori_reply_state(params, &state, &name) == MAMORI_OK)
		check(state == MAMORI_REPLY_PROMPT || state == MAMORI_REPLY_DONE);
	if (mamori_reply_prompts(params, &p) == MAMORI_OK) {
		check(p.count >= 1 && p.count <= MAMORI_REPLY_MAX_PROMPTS);
		check_texts(p.prompt, p.count, 1);
	} else {
		check(p.count == 0);
	}
	for (unsigned flags = 0; flags <= MAMORI_REPLY_NOTICES; flags++) {
		if (mamori_reply_done(params, flags, &d) != MAMORI_OK) {
			check(d.result == NULL && d.ticket == NULL && d.message_count == 0);
			continue;
		}
		check(strlen(d.result) <= MAMORI_REPLY_WORD_MAX && mamori_reply_text_valid(d.result));
		check(d.ticket == NULL || strlen(d.ticket) <= MAMORI_REPLY_TICKET_MAX);
		check(d.message_count <= MAMORI_REPLY_MAX_MESSAGES);
		check_texts(d.message, d.message_count, 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *msg = NULL;
	int rc = mamori_wire_decode((const char *)data, size, &msg);

	if (rc != MAMORI_OK) {
		check(msg == NULL);
		check(rc == MAMORI_ERR_PROTOCOL || rc == MAMORI_ERR_TOO_LARGE);
		check(rc != MAMORI_ERR_TOO_LARGE || size >= MAMORI_WIRE_MAX);
		return 0;
	}
	check(json_is_object(msg) && size < MAMORI_WIRE_MAX && memchr(data, '\0', size) == NULL);
	exercise_getters(msg);
	exercise_reply(msg);
	round_trip(msg);
	json_decref(msg);
	return 0;
}
