/* SPDX-License-Identifier: BSD-2-Clause */
/* The daemon's side of mamori-fido2-helper (fido2/fido2.h): the helper is
 * started on one end of a socketpair (core/helper_proc.h), and every reply
 * it sends is checked here key by key (exact keys, types, bounds, strict
 * base64, known error names) before anything of it is used: the helper
 * talks to keys, and is not trusted.  Anything else kills it. */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "conf.h"
#include "core/b64.h"
#include "core/helper_proc.h"
#include "error.h"
#include "fido2/fido2.h"
#include "log.h"
#include "secure.h"

/* What a helper may take beyond the time a request names: starting, the
 * keys' CTAPHID INIT and authenticatorGetInfo, the silent assertions that
 * find the key holding a credential, a PIN exchange. */
#define FIDO2_MARGIN_MS 10000
#define FIDO2_CLOSE_MS 500
#define FIDO2_REAP_MS 3000
#define FIDO2_RETRIES_MAX 255
#define FIDO2_USER_ID_MAX 64

struct mamori_fido2_session {
	pid_t pid;
	int fd;
	int pending; /* a probe sent, its reply not read */
	int64_t deadline; /* the pending reply's */
	struct mamori_fido2_probe keys; /* the last probe's: replies name one of them */
};

#ifdef MAMORI_TEST_HOOKS
#define TEST_DEVICES "MAMORI_TEST_FIDO2_DEVICES"
#endif

int
mamori_fido2_open(const struct mamori_conf *conf, struct mamori_fido2_session **out)
{
	struct mamori_fido2_session *s;
	char *env = NULL, *envp[] = { NULL, NULL };
	char *argv[] = { conf->fido2_helper,       "--user", conf->fido2_helper_user, "--group",
		         conf->fido2_helper_group, NULL };
	int rc;

	*out = NULL;
	if (conf->fido2_helper == NULL || conf->fido2_helper_user == NULL || conf->fido2_helper_group == NULL)
		return MAMORI_ERR_CONFIG;
#ifdef MAMORI_TEST_HOOKS
	/* The suite's software authenticators: in test-hooks builds only. */
	if (getenv(TEST_DEVICES) != NULL) {
		if (asprintf(&env, "%s=%s", TEST_DEVICES, getenv(TEST_DEVICES)) < 0)
			return MAMORI_ERR_NOMEM;
		envp[0] = env;
	}
#endif
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		free(env);
		return MAMORI_ERR_NOMEM;
	}
	rc = mamori_helper_spawn(conf->fido2_helper, argv, envp, "FIDO2 helper", &s->pid, &s->fd);
	free(env);
	if (rc != MAMORI_OK) {
		free(s);
		return rc;
	}
	*out = s;
	return MAMORI_OK;
}

/* The session is of no more use: the helper is killed. */
static void
session_kill(struct mamori_fido2_session *s)
{
	mamori_helper_kill(&s->pid, &s->fd);
	s->pending = 0;
}

/* A reply that broke the protocol: the helper is killed. */
static int
protocol_error(struct mamori_fido2_session *s, const char **error)
{
	mamori_log_err("FIDO2 helper: a reply out of the protocol");
	session_kill(s);
	*error = MAMORI_FIDO2_E_PROTOCOL;
	return MAMORI_ERR_PROTOCOL;
}

/* The static name of a helper error, or NULL for one not in fido2.h. */
static const char *
error_name(const char *e)
{
	static const char *const names[] = {
		MAMORI_FIDO2_E_TIMEOUT,       MAMORI_FIDO2_E_NO_KEY,      MAMORI_FIDO2_E_PIN_REQUIRED,
		MAMORI_FIDO2_E_WRONG_PIN,     MAMORI_FIDO2_E_PIN_BLOCKED, MAMORI_FIDO2_E_UV_BLOCKED,
		MAMORI_FIDO2_E_NO_CREDENTIAL, MAMORI_FIDO2_E_EXCLUDED,    MAMORI_FIDO2_E_UNSUPPORTED,
		MAMORI_FIDO2_E_DEVICE,        MAMORI_FIDO2_E_PROTOCOL,
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(e, names[i]))
			return names[i];
	}
	return NULL;
}

/* An integer from -1 to FIDO2_RETRIES_MAX. */
static int
get_retries(json_t *v, int *retries)
{
	if (!json_is_integer(v) || json_integer_value(v) < -1 || json_integer_value(v) > FIDO2_RETRIES_MAX)
		return -1;
	*retries = (int)json_integer_value(v);
	return 0;
}

/* A failure: exactly "ok", a known "error" and, for wrong_pin only and
 * always then, "retries". */
static int
failure(json_t *r, int *retries, const char **error)
{
	json_t *e = json_object_get(r, "error"), *t = json_object_get(r, "retries");
	const char *name = json_is_string(e) ? error_name(json_string_value(e)) : NULL;
	int wrong_pin = name != NULL && !strcmp(name, MAMORI_FIDO2_E_WRONG_PIN), n = -1;

	if (name == NULL || json_object_size(r) != (wrong_pin ? 3u : 2u) || (wrong_pin && get_retries(t, &n) != 0))
		return MAMORI_ERR_PROTOCOL;
	if (retries != NULL && wrong_pin)
		*retries = n;
	*error = name;
	return MAMORI_ERR_DENIED;
}

/* The reply to the request sent (by the deadline): an object whose "ok" is
 * true (*reply set), or a known failure (MAMORI_ERR_DENIED).  Any other
 * outcome kills the helper.  rc: how the sending went. */
static int
exchange_reply(struct mamori_fido2_session *s, int rc, int64_t deadline, json_t **reply, int *retries,
               const char **error)
{
	json_t *r = NULL;

	*reply = NULL;
	*error = MAMORI_FIDO2_E_PROTOCOL;
	if (s == NULL || s->fd < 0)
		return MAMORI_ERR_IO;
	if (rc == MAMORI_OK)
		rc = mamori_helper_recv_json(s->fd, MAMORI_FIDO2_MSG_MAX, deadline, &r);
	if (rc == MAMORI_ERR_NOMEM)
		return rc;
	if (rc == MAMORI_OK && !json_is_true(json_object_get(r, "ok")))
		rc = failure(r, retries, error);
	if (rc == MAMORI_OK) {
		*reply = r;
		*error = NULL;
		return MAMORI_OK;
	}
	json_decref(r);
	if (rc != MAMORI_ERR_DENIED) {
		*error = MAMORI_FIDO2_E_PROTOCOL;
		if (rc == MAMORI_ERR_TIMEOUT)
			rc = MAMORI_ERR_IO;
		mamori_log_err("FIDO2 helper: %s",
		               rc == MAMORI_ERR_IO ? "no answer, or it went away" : "a reply that breaks the protocol");
		session_kill(s);
	}
	return rc;
}

/* Printable text (no control character) of min to max bytes. */
static int
text_ok(json_t *v, size_t min, size_t max)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	size_t n = s != NULL ? json_string_length(v) : 0;

	if (s == NULL || n < min || n > max || strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	}
	return 1;
}

static int
bool_of(json_t *v, int *out)
{
	if (!json_is_boolean(v))
		return -1;
	*out = json_is_true(v);
	return 0;
}

static int
bin_of(json_t *v, unsigned char *out, size_t max, size_t *len)
{
	return json_is_string(v) ? mamori_b64_decode(json_string_value(v), out, max, len) : -1;
}

/* One key of a probe reply: exactly its six keys. */
static int
key_of(json_t *k, struct mamori_fido2_key_info *info)
{
	json_t *path = json_object_get(k, "path"), *product = json_object_get(k, "product");

	if (!json_is_object(k) || json_object_size(k) != 6 || !text_ok(path, 1, MAMORI_FIDO2_PATH_MAX) ||
	    !text_ok(product, 0, sizeof(info->product) - 1) || bool_of(json_object_get(k, "pin_set"), &info->pin_set) ||
	    bool_of(json_object_get(k, "uv"), &info->uv) || bool_of(json_object_get(k, "bio"), &info->bio) ||
	    get_retries(json_object_get(k, "pin_retries"), &info->pin_retries))
		return -1;
	snprintf(info->path, sizeof(info->path), "%s", json_string_value(path));
	snprintf(info->product, sizeof(info->product), "%s", json_string_value(product));
	return 0;
}

int
mamori_fido2_probe_begin(struct mamori_fido2_session *s, int timeout_ms)
{
	char req[64];

	if (s == NULL || s->fd < 0 || s->pending)
		return MAMORI_ERR_IO;
	if (timeout_ms < 0)
		timeout_ms = 0;
	snprintf(req, sizeof(req), "{\"op\":\"probe\",\"timeout_ms\":%d}", timeout_ms);
	s->deadline = mamori_helper_now_ms() + timeout_ms + FIDO2_MARGIN_MS;
	/* A request this short fits the socket's empty buffer at once. */
	if (mamori_helper_send_all(s->fd, req, strlen(req) + 1, mamori_helper_now_ms() + FIDO2_CLOSE_MS) != MAMORI_OK) {
		mamori_log_err("FIDO2 helper: the probe could not be sent");
		session_kill(s);
		return MAMORI_ERR_IO;
	}
	s->pending = 1;
	return MAMORI_OK;
}

int
mamori_fido2_probe_end(struct mamori_fido2_session *s, struct mamori_fido2_probe *out, const char **error)
{
	json_t *r, *keys, *k;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	*error = MAMORI_FIDO2_E_PROTOCOL;
	if (s == NULL || !s->pending)
		return MAMORI_ERR_IO;
	s->pending = 0;
	memset(&s->keys, 0, sizeof(s->keys));
	rc = exchange_reply(s, MAMORI_OK, s->deadline, &r, NULL, error);
	if (rc != MAMORI_OK)
		return rc;
	keys = json_object_get(r, "keys");
	rc = json_object_size(r) == 2 && json_is_array(keys) && json_array_size(keys) >= 1 &&
	                     json_array_size(keys) <= MAMORI_FIDO2_KEYS_MAX
	             ? MAMORI_OK
	             : MAMORI_ERR_PROTOCOL;
	json_array_foreach (keys, i, k) {
		if (rc == MAMORI_OK && key_of(k, &out->key[i]) != 0)
			rc = MAMORI_ERR_PROTOCOL;
		/* Two keys of one path are one key named twice. */
		for (size_t j = 0; rc == MAMORI_OK && j < i; j++) {
			if (!strcmp(out->key[i].path, out->key[j].path))
				rc = MAMORI_ERR_PROTOCOL;
		}
	}
	out->count = rc == MAMORI_OK ? (unsigned)json_array_size(keys) : 0;
	json_decref(r);
	if (rc != MAMORI_OK) {
		memset(out, 0, sizeof(*out));
		return protocol_error(s, error);
	}
	s->keys = *out;
	return MAMORI_OK;
}

/* A path of the last probe, copied into out. */
static int
path_of(const struct mamori_fido2_session *s, json_t *v, char out[MAMORI_FIDO2_PATH_MAX + 1])
{
	if (!text_ok(v, 1, MAMORI_FIDO2_PATH_MAX))
		return -1;
	for (unsigned i = 0; i < s->keys.count; i++) {
		if (!strcmp(s->keys.key[i].path, json_string_value(v))) {
			snprintf(out, MAMORI_FIDO2_PATH_MAX + 1, "%s", json_string_value(v));
			return 0;
		}
	}
	return -1;
}

/* A PIN the protocol carries: 1 to MAMORI_FIDO2_PIN_MAX bytes, no NUL or
 * control character (the key's own rules are the key's). */
static int
pin_valid(const char *pin, size_t len)
{
	if (pin == NULL || len == 0 || len > MAMORI_FIDO2_PIN_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)pin[i] < 0x20 || pin[i] == 0x7f)
			return 0;
	}
	return 1;
}

/* The request object without its PIN: the fields both ops share, and
 * make_cred's own. */
static json_t *
request_object(const char *op, const struct mamori_fido2_request *req)
{
	int mk = !strcmp(op, "make_cred");
	json_t *creds = json_array(), *o;
	char *cdh = mamori_b64_encode(req->cdh, MAMORI_FIDO2_CDH_LEN), *uid = NULL;

	for (unsigned i = 0; i < req->ncred && creds != NULL; i++) {
		char *c = mamori_b64_encode(req->cred[i], req->cred_len[i]);
		if (c == NULL || json_array_append_new(creds, json_string(c)) != 0)
			json_decref(creds), creds = NULL;
		free(c);
	}
	o = cdh != NULL && creds != NULL
	            ? json_pack("{sssssssOsbsi}", "op", op, "rp_id", req->rp_id, "cdh", cdh, mk ? "exclude" : "allow",
	                        creds, "uv", req->uv, "timeout_ms", req->timeout_ms < 0 ? 0 : req->timeout_ms)
	            : NULL;
	if (o != NULL && mk) {
		uid = mamori_b64_encode(req->user_id, req->user_id_len);
		if (uid == NULL ||
		    json_object_update_new(o, json_pack("{sssssssb}", "rp_name", req->rp_name, "user_id", uid,
		                                        "user_name", req->user_name, "rk", req->rk)) != 0)
			json_decref(o), o = NULL;
	} else if (o != NULL && json_object_set_new(o, "up", json_true()) != 0) {
		json_decref(o), o = NULL;
	}
	json_decref(creds);
	free(cdh);
	free(uid);
	return o;
}

/* The request's checks: what the helper would refuse is not sent. */
static int
request_valid(const char *op, const struct mamori_fido2_request *req)
{
	if (req->rp_id == NULL || req->rp_id[0] == '\0' || req->ncred > MAMORI_FIDO2_ALLOW_MAX ||
	    (req->pin != NULL && !pin_valid(req->pin, req->pin_len)))
		return 0;
	for (unsigned i = 0; i < req->ncred; i++) {
		if (req->cred[i] == NULL || req->cred_len[i] == 0 || req->cred_len[i] > MAMORI_FIDO2_CRED_ID_MAX)
			return 0;
	}
	if (!strcmp(op, "make_cred"))
		return req->rp_name != NULL && req->rp_name[0] != '\0' && req->user_name != NULL &&
		       req->user_name[0] != '\0' && req->user_id != NULL && req->user_id_len > 0 &&
		       req->user_id_len <= FIDO2_USER_ID_MAX;
	return 1;
}

/* Send op's request (the PIN, JSON-escaped, spliced in before the last
 * brace; every buffer that held it wiped). */
static int
send_request(struct mamori_fido2_session *s, const char *op, const struct mamori_fido2_request *req, int64_t deadline)
{
	json_t *o = request_object(op, req);
	char *body = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL, *msg;
	size_t blen = body != NULL ? strlen(body) : 0, cap = blen + 16 + 2 * MAMORI_FIDO2_PIN_MAX, off;
	int rc;

	json_decref(o);
	msg = body != NULL ? malloc(cap) : NULL;
	if (msg == NULL) {
		free(body);
		return MAMORI_ERR_NOMEM;
	}
	memcpy(msg, body, blen - 1);
	off = blen - 1;
	if (req->pin != NULL) {
		memcpy(msg + off, ",\"pin\":\"", 8);
		off += 8;
		for (size_t i = 0; i < req->pin_len; i++) {
			if (req->pin[i] == '"' || req->pin[i] == '\\')
				msg[off++] = '\\';
			msg[off++] = req->pin[i];
		}
		msg[off++] = '"';
	}
	msg[off++] = '}';
	msg[off++] = '\0';
	rc = mamori_helper_send_all(s->fd, msg, off, deadline);
	mamori_freezero(msg, cap);
	free(body);
	return rc;
}

/* Send op's request and read its reply. */
static int
call(struct mamori_fido2_session *s, const char *op, const struct mamori_fido2_request *req, json_t **reply,
     int *retries, const char **error)
{
	int64_t deadline = mamori_helper_now_ms() + (req->timeout_ms < 0 ? 0 : req->timeout_ms) + FIDO2_MARGIN_MS;
	int rc;

	*reply = NULL;
	*error = MAMORI_FIDO2_E_PROTOCOL;
	if (!request_valid(op, req))
		return MAMORI_ERR_INVALID;
	if (s == NULL || s->fd < 0 || s->pending)
		return MAMORI_ERR_IO;
	rc = send_request(s, op, req, deadline);
	if (rc == MAMORI_ERR_NOMEM)
		return rc;
	return exchange_reply(s, rc, deadline, reply, retries, error);
}

int
mamori_fido2_assert(struct mamori_fido2_session *s, const struct mamori_fido2_request *req,
                    struct mamori_fido2_assertion *out, int *retries, const char **error)
{
	json_t *r;
	int rc, pin_used = 0;

	memset(out, 0, sizeof(*out));
	rc = call(s, "assert", req, &r, retries, error);
	if (rc != MAMORI_OK)
		return rc;
	rc = json_object_size(r) == 6 && path_of(s, json_object_get(r, "path"), out->path) == 0 &&
	                     bin_of(json_object_get(r, "cred_id"), out->cred_id, sizeof(out->cred_id),
	                            &out->cred_id_len) == 0 &&
	                     bin_of(json_object_get(r, "authdata"), out->authdata, sizeof(out->authdata),
	                            &out->authdata_len) == 0 &&
	                     bin_of(json_object_get(r, "sig"), out->sig, sizeof(out->sig), &out->sig_len) == 0 &&
	                     bool_of(json_object_get(r, "pin_used"), &pin_used) == 0 && pin_used == (req->pin != NULL)
	             ? MAMORI_OK
	             : MAMORI_ERR_PROTOCOL;
	json_decref(r);
	if (rc != MAMORI_OK) {
		memset(out, 0, sizeof(*out));
		return protocol_error(s, error);
	}
	out->pin_used = pin_used;
	return MAMORI_OK;
}

/* fmt: 1 to 15 bytes of [a-z0-9-] (packed, none, fido-u2f, tpm, ...). */
static int
fmt_of(json_t *v, char out[16])
{
	const char *f;

	if (!text_ok(v, 1, 15))
		return -1;
	f = json_string_value(v);
	if (strspn(f, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(f))
		return -1;
	snprintf(out, 16, "%s", f);
	return 0;
}

/* make_cred's reply: its eight keys, and "sig" and "x5c" when present. */
static int
attestation_of(const struct mamori_fido2_session *s, json_t *r, struct mamori_fido2_attestation *out)
{
	json_t *sig = json_object_get(r, "sig"), *x5c = json_object_get(r, "x5c");
	size_t n = 8 + (sig != NULL) + (x5c != NULL);

	if (json_object_size(r) != n || path_of(s, json_object_get(r, "path"), out->path) != 0 ||
	    fmt_of(json_object_get(r, "fmt"), out->fmt) != 0 ||
	    bin_of(json_object_get(r, "authdata"), out->authdata, sizeof(out->authdata), &out->authdata_len) != 0 ||
	    (sig != NULL && bin_of(sig, out->sig, sizeof(out->sig), &out->sig_len) != 0) ||
	    (x5c != NULL && bin_of(x5c, out->x5c, sizeof(out->x5c), &out->x5c_len) != 0) ||
	    bool_of(json_object_get(r, "pin_used"), &out->pin_used) != 0 ||
	    bool_of(json_object_get(r, "uv"), &out->uv) != 0 || bool_of(json_object_get(r, "bio"), &out->bio) != 0 ||
	    bool_of(json_object_get(r, "pin_set"), &out->pin_set) != 0)
		return -1;
	return 0;
}

int
mamori_fido2_make_cred(struct mamori_fido2_session *s, const struct mamori_fido2_request *req,
                       struct mamori_fido2_attestation *out, int *retries, const char **error)
{
	json_t *r;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = call(s, "make_cred", req, &r, retries, error);
	if (rc != MAMORI_OK)
		return rc;
	rc = attestation_of(s, r, out) == 0 && out->pin_used == (req->pin != NULL) ? MAMORI_OK : MAMORI_ERR_PROTOCOL;
	json_decref(r);
	if (rc != MAMORI_OK) {
		memset(out, 0, sizeof(*out));
		return protocol_error(s, error);
	}
	return MAMORI_OK;
}

static void
session_close(struct mamori_fido2_session **sp, int wait)
{
	if (sp == NULL || *sp == NULL)
		return;
	mamori_helper_stop((*sp)->pid, (*sp)->fd, wait, FIDO2_CLOSE_MS, FIDO2_REAP_MS);
	free(*sp);
	*sp = NULL;
}

void
mamori_fido2_close(struct mamori_fido2_session **sp)
{
	session_close(sp, 1);
}

void
mamori_fido2_close_nowait(struct mamori_fido2_session **sp)
{
	session_close(sp, 0);
}
