/* SPDX-License-Identifier: BSD-2-Clause */
/* The daemon's side of mamori-card-helper (card/card.h): the helper is
 * started on one end of a socketpair, and every reply it sends is checked
 * here (types, lengths, values) before anything of it is used: the helper
 * parses card data, and is not trusted. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "card/card.h"
#include "conf.h"
#include "core/b64.h"
#include "core/helper_proc.h"
#include "error.h"
#include "log.h"
#include "secure.h"

/* What a helper may take beyond the time a request names: starting,
 * connecting to pcscd and reading a certificate (vpcd: ~0.6 s for the
 * first APDU), or a PIN check and a signature (real cards: up to ~1 s). */
#define CARD_MARGIN_MS 10000
#define CARD_SIGN_MS 20000
#define CARD_TRIES_MS 10000
#define CARD_CLOSE_MS 500
/* What a closed session's helper has to reset its card and exit before it
 * is killed (mamori_card_close does not wait for it). */
#define CARD_REAP_MS 3000
#define CARD_TRIES_MAX 255

struct mamori_card_session {
	pid_t pid;
	int fd;
	int pending; /* a request sent by a _begin, its reply not read: PENDING_* */
	int64_t deadline; /* the pending reply's */
};

enum { PENDING_NONE, PENDING_WAIT, PENDING_SIGN };

struct mamori_card_watch {
	pid_t pid;
	int fd;
	size_t len;
	char buf[MAMORI_CARD_MSG_MAX + 1];
};

/* Start conf's helper (core/helper_proc.h), with a clean environment:
 * PCSCLITE_CSOCK_NAME alone passes through. */
static int
spawn_helper(const struct mamori_conf *conf, int watch, pid_t *pid, int *fd)
{
	const char *csock = getenv("PCSCLITE_CSOCK_NAME");
	char *env_csock = NULL;
	char *envp[] = { NULL, NULL };
	char *argv[8];
	int argc = 0, rc;

	if (conf->card_helper == NULL || conf->card_helper_user == NULL || conf->card_profiles == NULL)
		return MAMORI_ERR_CONFIG;
	if (csock != NULL && csock[0] != '\0') {
		if (asprintf(&env_csock, "PCSCLITE_CSOCK_NAME=%s", csock) < 0)
			return MAMORI_ERR_NOMEM;
		envp[0] = env_csock;
	}
	argv[argc++] = conf->card_helper;
	argv[argc++] = "--user";
	argv[argc++] = conf->card_helper_user;
	argv[argc++] = "--profiles";
	argv[argc++] = conf->card_profiles;
	if (watch)
		argv[argc++] = "--watch";
	argv[argc] = NULL;
	rc = mamori_helper_spawn(conf->card_helper, argv, envp, "card helper", pid, fd);
	free(env_csock);
	return rc;
}

int
mamori_card_open(const struct mamori_conf *conf, struct mamori_card_session **out)
{
	struct mamori_card_session *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (s == NULL)
		return MAMORI_ERR_NOMEM;
	rc = spawn_helper(conf, 0, &s->pid, &s->fd);
	if (rc != MAMORI_OK) {
		free(s);
		return rc;
	}
	*out = s;
	return MAMORI_OK;
}

/* The session is of no more use: the helper is killed. */
static void
session_kill(struct mamori_card_session *s)
{
	mamori_helper_kill(&s->pid, &s->fd);
}

/* The static name of a helper error, or NULL for one not in card.h. */
static const char *
error_name(const char *e)
{
	static const char *const names[] = {
		MAMORI_CARD_E_TIMEOUT,   MAMORI_CARD_E_NO_READER, MAMORI_CARD_E_NO_APPLET,
		MAMORI_CARD_E_WRONG_PIN, MAMORI_CARD_E_LOCKED,    MAMORI_CARD_E_REMOVED,
		MAMORI_CARD_E_CARD,      MAMORI_CARD_E_PCSC,      MAMORI_CARD_E_PROTOCOL,
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(e, names[i]))
			return names[i];
	}
	return NULL;
}

/* tries: an integer from -1 to CARD_TRIES_MAX. */
static int
get_tries(json_t *reply, int *tries)
{
	json_t *t = json_object_get(reply, "tries");
	json_int_t v;

	if (!json_is_integer(t))
		return -1;
	v = json_integer_value(t);
	if (v < -1 || v > CARD_TRIES_MAX)
		return -1;
	*tries = (int)v;
	return 0;
}

/* The helper's reply to the request sent (by the deadline): an object
 * whose "ok" is true (*reply set), or a known error (MAMORI_ERR_DENIED,
 * *error set; *tries from its "tries" when it has one).  Any other outcome
 * kills the helper.  rc: how the sending went. */
static int
exchange_reply(struct mamori_card_session *s, int rc, int64_t deadline, json_t **reply, int *tries, const char **error)
{
	json_t *r = NULL, *e;

	*reply = NULL;
	*error = MAMORI_CARD_E_PROTOCOL;
	if (s == NULL || s->fd < 0)
		return MAMORI_ERR_IO;
	if (rc == MAMORI_OK)
		rc = mamori_helper_recv_json(s->fd, MAMORI_CARD_MSG_MAX, deadline, &r);
	if (rc == MAMORI_ERR_NOMEM)
		return rc;
	if (rc == MAMORI_OK && !json_is_true(json_object_get(r, "ok"))) {
		e = json_object_get(r, "error");
		*error = json_is_string(e) ? error_name(json_string_value(e)) : NULL;
		if (*error == NULL || (json_object_get(r, "tries") != NULL && get_tries(r, tries) != 0) ||
		    (!strcmp(*error, MAMORI_CARD_E_WRONG_PIN) && (tries == NULL || *tries < 0))) {
			*error = MAMORI_CARD_E_PROTOCOL;
			rc = MAMORI_ERR_PROTOCOL;
		} else {
			rc = MAMORI_ERR_DENIED;
		}
	}
	if (rc == MAMORI_OK) {
		*reply = r;
		*error = NULL;
		return MAMORI_OK;
	}
	json_decref(r);
	if (rc != MAMORI_ERR_DENIED) {
		if (rc == MAMORI_ERR_TIMEOUT)
			rc = MAMORI_ERR_IO;
		mamori_log_err("card helper: %s",
		               rc == MAMORI_ERR_IO ? "no answer, or it went away" : "a reply that breaks the protocol");
		session_kill(s);
	}
	return rc;
}

/* Send request (NUL added) and read its reply (exchange_reply). */
static int
exchange(struct mamori_card_session *s, const char *request, int timeout_ms, json_t **reply, int *tries,
         const char **error)
{
	int64_t deadline = mamori_helper_now_ms() + timeout_ms;
	int rc = MAMORI_ERR_IO;

	if (s != NULL && s->fd >= 0 && s->pending == PENDING_NONE)
		rc = mamori_helper_send_all(s->fd, request, strlen(request) + 1, deadline);
	return exchange_reply(s, rc, deadline, reply, tries, error);
}

/* A reply that broke the protocol's limits: the helper is killed. */
static int
protocol_error(struct mamori_card_session *s, const char **error)
{
	mamori_log_err("card helper: a reply out of the protocol's limits");
	session_kill(s);
	*error = MAMORI_CARD_E_PROTOCOL;
	return MAMORI_ERR_PROTOCOL;
}

/* A reader name: printable, 1 to MAMORI_CARD_READER_MAX bytes. */
static int
reader_valid(const char *r)
{
	size_t n = strlen(r);

	if (n == 0 || n > MAMORI_CARD_READER_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)r[i] < 0x20 || r[i] == 0x7f)
			return 0;
	}
	return 1;
}

int
mamori_card_wait_begin(struct mamori_card_session *s, int timeout_ms)
{
	char req[64];
	int rc;

	if (s == NULL || s->fd < 0 || s->pending != PENDING_NONE)
		return MAMORI_ERR_IO;
	if (timeout_ms < 0)
		timeout_ms = 0;
	snprintf(req, sizeof(req), "{\"op\":\"wait\",\"timeout_ms\":%d}", timeout_ms);
	s->deadline = mamori_helper_now_ms() + timeout_ms + CARD_MARGIN_MS;
	/* A request this short fits the socket's empty buffer at once. */
	rc = mamori_helper_send_all(s->fd, req, strlen(req) + 1, mamori_helper_now_ms() + CARD_CLOSE_MS);
	if (rc != MAMORI_OK) {
		mamori_log_err("card helper: the wait could not be sent");
		session_kill(s);
		return MAMORI_ERR_IO;
	}
	s->pending = PENDING_WAIT;
	return MAMORI_OK;
}

int
mamori_card_wait(struct mamori_card_session *s, int timeout_ms, struct mamori_card_info *info, const char **error)
{
	int rc = mamori_card_wait_begin(s, timeout_ms);

	if (rc != MAMORI_OK) {
		memset(info, 0, sizeof(*info));
		*error = MAMORI_CARD_E_PROTOCOL;
		return rc;
	}
	return mamori_card_wait_end(s, info, error);
}

int
mamori_card_wait_end(struct mamori_card_session *s, struct mamori_card_info *info, const char **error)
{
	json_t *r, *reader, *profile, *cert;
	int rc, tries = -1;

	memset(info, 0, sizeof(*info));
	if (s == NULL || s->pending != PENDING_WAIT) {
		*error = MAMORI_CARD_E_PROTOCOL;
		return MAMORI_ERR_IO;
	}
	s->pending = PENDING_NONE;
	rc = exchange_reply(s, MAMORI_OK, s->deadline, &r, &tries, error);
	if (rc != MAMORI_OK)
		return rc;
	reader = json_object_get(r, "reader");
	profile = json_object_get(r, "profile");
	cert = json_object_get(r, "cert");
	rc = json_object_size(r) == 5 && json_is_string(reader) && reader_valid(json_string_value(reader)) &&
	                     json_is_string(profile) &&
	                     (!strcmp(json_string_value(profile), MAMORI_CARD_PROFILE_PIV) ||
	                      !strcmp(json_string_value(profile), MAMORI_CARD_PROFILE_JPKI)) &&
	                     json_is_string(cert) &&
	                     mamori_b64_decode(json_string_value(cert), info->cert, sizeof(info->cert),
	                                       &info->cert_len) == 0 &&
	                     get_tries(r, &info->tries) == 0
	             ? MAMORI_OK
	             : MAMORI_ERR_PROTOCOL;
	if (rc == MAMORI_OK) {
		snprintf(info->reader, sizeof(info->reader), "%s", json_string_value(reader));
		snprintf(info->profile, sizeof(info->profile), "%s", json_string_value(profile));
	}
	json_decref(r);
	if (rc != MAMORI_OK) {
		memset(info, 0, sizeof(*info));
		return protocol_error(s, error);
	}
	return MAMORI_OK;
}

/* {"op":"sign","pin":"...","challenge":"..."} into req; the PIN is
 * printable ASCII, '"' and '\' escaped. */
static int
sign_request(char *req, size_t reqlen, const char *pin, size_t pin_len,
             const unsigned char challenge[MAMORI_CARD_CHALLENGE_LEN])
{
	char b64[4 * ((MAMORI_CARD_CHALLENGE_LEN + 2) / 3) + 1];
	size_t off = 0;
	int n;

	if (pin == NULL || pin_len == 0 || pin_len > MAMORI_CARD_PIN_MAX)
		return -1;
	EVP_EncodeBlock((unsigned char *)b64, challenge, MAMORI_CARD_CHALLENGE_LEN);
	n = snprintf(req, reqlen, "{\"op\":\"sign\",\"pin\":\"");
	off = (size_t)n;
	for (size_t i = 0; i < pin_len; i++) {
		unsigned char c = (unsigned char)pin[i];
		if (c < 0x20 || c > 0x7e)
			return -1;
		if (c == '"' || c == '\\')
			req[off++] = '\\';
		req[off++] = (char)c;
	}
	n = snprintf(req + off, reqlen - off, "\",\"challenge\":\"%s\"}", b64);
	return n > 0 && (size_t)n < reqlen - off ? 0 : -1;
}

int
mamori_card_sign_begin(struct mamori_card_session *s, const char *pin, size_t pin_len,
                       const unsigned char challenge[MAMORI_CARD_CHALLENGE_LEN], const char **error)
{
	char req[160];
	int rc;

	*error = MAMORI_CARD_E_PROTOCOL;
	if (sign_request(req, sizeof(req), pin, pin_len, challenge) != 0) {
		mamori_wipe(req, sizeof(req));
		return MAMORI_ERR_INVALID;
	}
	if (s == NULL || s->fd < 0 || s->pending != PENDING_NONE) {
		mamori_wipe(req, sizeof(req));
		return MAMORI_ERR_IO;
	}
	s->deadline = mamori_helper_now_ms() + CARD_SIGN_MS;
	rc = mamori_helper_send_all(s->fd, req, strlen(req) + 1, s->deadline);
	mamori_wipe(req, sizeof(req));
	if (rc != MAMORI_OK) {
		mamori_log_err("card helper: the sign could not be sent");
		session_kill(s);
		return MAMORI_ERR_IO;
	}
	s->pending = PENDING_SIGN;
	*error = NULL;
	return MAMORI_OK;
}

int
mamori_card_sign_end(struct mamori_card_session *s, unsigned char *sig, size_t *sig_len, int *tries, const char **error)
{
	json_t *r, *sj;
	int rc;

	*sig_len = 0;
	if (s == NULL || s->pending != PENDING_SIGN) {
		*error = MAMORI_CARD_E_PROTOCOL;
		return MAMORI_ERR_IO;
	}
	s->pending = PENDING_NONE;
	rc = exchange_reply(s, MAMORI_OK, s->deadline, &r, tries, error);
	if (rc != MAMORI_OK)
		return rc;
	sj = json_object_get(r, "signature");
	rc = json_object_size(r) == 2 && json_is_string(sj) &&
	                     mamori_b64_decode(json_string_value(sj), sig, MAMORI_CARD_SIG_MAX, sig_len) == 0
	             ? MAMORI_OK
	             : MAMORI_ERR_PROTOCOL;
	json_decref(r);
	if (rc != MAMORI_OK) {
		*sig_len = 0;
		return protocol_error(s, error);
	}
	return MAMORI_OK;
}

int
mamori_card_sign(struct mamori_card_session *s, const char *pin, size_t pin_len,
                 const unsigned char challenge[MAMORI_CARD_CHALLENGE_LEN], unsigned char *sig, size_t *sig_len,
                 int *tries, const char **error)
{
	int rc = mamori_card_sign_begin(s, pin, pin_len, challenge, error);

	*sig_len = 0;
	if (rc != MAMORI_OK)
		return rc;
	return mamori_card_sign_end(s, sig, sig_len, tries, error);
}

int
mamori_card_tries(struct mamori_card_session *s, int *tries, const char **error)
{
	json_t *r;
	int rc;

	rc = exchange(s, "{\"op\":\"tries\"}", CARD_TRIES_MS, &r, tries, error);
	if (rc != MAMORI_OK)
		return rc;
	rc = json_object_size(r) == 2 && get_tries(r, tries) == 0 ? MAMORI_OK : MAMORI_ERR_PROTOCOL;
	json_decref(r);
	return rc == MAMORI_OK ? MAMORI_OK : protocol_error(s, error);
}

/* EOF on its stdin ends the helper, after it reset the card: that is not
 * waited for.  A detached thread reaps it, killing it after CARD_REAP_MS;
 * a helper killed before its reset has its card reset by pcscd, which
 * disconnects a dead client's exclusive handle with SCARD_RESET_CARD
 * (pcsc-lite's MSGCleanupClient). */
static void
session_close(struct mamori_card_session **sp, int wait)
{
	if (sp == NULL || *sp == NULL)
		return;
	mamori_helper_stop((*sp)->pid, (*sp)->fd, wait, CARD_CLOSE_MS, CARD_REAP_MS);
	free(*sp);
	*sp = NULL;
}

void
mamori_card_close(struct mamori_card_session **sp)
{
	session_close(sp, 1);
}

void
mamori_card_close_nowait(struct mamori_card_session **sp)
{
	session_close(sp, 0);
}

/* ------------------------------------------------------------------ watch */

int
mamori_card_watch_open(const struct mamori_conf *conf, struct mamori_card_watch **out)
{
	struct mamori_card_watch *w = calloc(1, sizeof(*w));
	int rc;

	*out = NULL;
	if (w == NULL)
		return MAMORI_ERR_NOMEM;
	rc = spawn_helper(conf, 1, &w->pid, &w->fd);
	if (rc != MAMORI_OK) {
		free(w);
		return rc;
	}
	if (fcntl(w->fd, F_SETFL, O_NONBLOCK) != 0) {
		mamori_card_watch_close(&w);
		return MAMORI_ERR_IO;
	}
	*out = w;
	return MAMORI_OK;
}

int
mamori_card_watch_fd(const struct mamori_card_watch *w)
{
	return w != NULL ? w->fd : -1;
}

/* One event from the front of w->buf, which holds a whole message. */
static int
watch_event(struct mamori_card_watch *w, size_t msglen, char reader[MAMORI_CARD_READER_MAX + 1], int *present)
{
	json_t *m = json_loadb(w->buf, msglen, JSON_REJECT_DUPLICATES, NULL);
	json_t *ev = json_object_get(m, "event"), *rd = json_object_get(m, "reader");
	int rc = MAMORI_ERR_PROTOCOL;

	if (json_object_size(m) == 2 && json_is_string(ev) && json_is_string(rd) &&
	    reader_valid(json_string_value(rd))) {
		if (!strcmp(json_string_value(ev), "present"))
			*present = 1, rc = MAMORI_OK;
		else if (!strcmp(json_string_value(ev), "removed"))
			*present = 0, rc = MAMORI_OK;
		if (rc == MAMORI_OK)
			snprintf(reader, MAMORI_CARD_READER_MAX + 1, "%s", json_string_value(rd));
	}
	json_decref(m);
	w->len -= msglen + 1;
	memmove(w->buf, w->buf + msglen + 1, w->len);
	return rc;
}

int
mamori_card_watch_next(struct mamori_card_watch *w, char reader[MAMORI_CARD_READER_MAX + 1], int *present)
{
	char *nul;
	ssize_t n;

	if (w == NULL || w->fd < 0)
		return MAMORI_ERR_IO;
	for (;;) {
		nul = memchr(w->buf, '\0', w->len);
		if (nul != NULL)
			return watch_event(w, (size_t)(nul - w->buf), reader, present);
		if (w->len > MAMORI_CARD_MSG_MAX) {
			/* An event too long for any reader: the watcher is broken. */
			mamori_log_err("card watcher: an event over %d bytes", MAMORI_CARD_MSG_MAX);
			close(w->fd);
			w->fd = -1;
			kill(w->pid, SIGKILL);
			return MAMORI_ERR_IO;
		}
		n = recv(w->fd, w->buf + w->len, MAMORI_CARD_MSG_MAX + 1 - w->len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return MAMORI_ERR_BUSY;
		if (n <= 0)
			return MAMORI_ERR_IO;
		w->len += (size_t)n;
	}
}

void
mamori_card_watch_close(struct mamori_card_watch **wp)
{
	struct mamori_card_watch *w;

	if (wp == NULL || *wp == NULL)
		return;
	w = *wp;
	if (w->fd >= 0)
		close(w->fd);
	mamori_helper_reap(w->pid, CARD_CLOSE_MS);
	free(w);
	*wp = NULL;
}
