/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam: the conversation state machine the PAM module relays. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "clock.h"
#include "daemon.h"
#include "error.h"
#include "factor_password.h"
#include "log.h"
#include "messages.h"
#include "names.h"
#include "pam_service.h"
#include "secure.h"

#define LOCALE_MAX 64
#define TICKET_HEX 64
#define TICKET_LIFETIME 300
#define TICKET_SLOTS 64

struct pam_request {
	char service[MAMORI_SERVICE_NAME_MAX + 1];
	char user[MAMORI_USER_NAME_MAX + 1];
	char tty[MAMORI_FIELD_MAX + 1];
	char rhost[MAMORI_FIELD_MAX + 1];
	char ruser[MAMORI_FIELD_MAX + 1];
	char locale[LOCALE_MAX + 1];
};

enum conv_step {
	STEP_NONE,
	STEP_AUTH_PASSWORD,
	STEP_CHANGE_CURRENT,
	STEP_CHANGE_NEW,
	STEP_CHANGE_CONFIRM,
};

struct mamori_pam_conversation {
	enum conv_step step;
	struct pam_request req;
	char system[MAMORI_SERVICE_NAME_MAX + 1];
	char *new_password;
	size_t new_len;
};

/* ------------------------------------------------------------ tickets */

/* One-time tickets that let chauthtok skip the current password right after
 * a successful authentication in the same PAM handle.  Memory only. */
struct ticket {
	char hex[TICKET_HEX + 1];
	char user[MAMORI_USER_NAME_MAX + 1];
	char service[MAMORI_SERVICE_NAME_MAX + 1];
	int64_t expires;
};

static pthread_mutex_t tickets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ticket tickets[TICKET_SLOTS];

static int
ticket_issue(const char *user, const char *service, int64_t now, char hex[TICKET_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char raw[TICKET_HEX / 2];
	struct ticket *slot = NULL;

	if (mamori_random_bytes(raw, sizeof(raw)) != 0)
		return MAMORI_ERR_CRYPTO;
	for (size_t i = 0; i < sizeof(raw); i++) {
		hex[2 * i] = digits[raw[i] >> 4];
		hex[2 * i + 1] = digits[raw[i] & 15];
	}
	hex[TICKET_HEX] = '\0';
	mamori_wipe(raw, sizeof(raw));
	pthread_mutex_lock(&tickets_lock);
	for (size_t i = 0; i < TICKET_SLOTS; i++) {
		/* An empty or expired slot, else the one closest to expiry. */
		if (tickets[i].expires <= now) {
			slot = &tickets[i];
			break;
		}
		if (slot == NULL || tickets[i].expires < slot->expires)
			slot = &tickets[i];
	}
	memcpy(slot->hex, hex, sizeof(slot->hex));
	snprintf(slot->user, sizeof(slot->user), "%s", user);
	snprintf(slot->service, sizeof(slot->service), "%s", service);
	slot->expires = now + TICKET_LIFETIME;
	pthread_mutex_unlock(&tickets_lock);
	return MAMORI_OK;
}

/* Consume a ticket: 1 when it was valid for user and service. */
static int
ticket_redeem(const char *hex, const char *user, const char *service, int64_t now)
{
	int ok = 0;

	if (hex == NULL || strlen(hex) != TICKET_HEX)
		return 0;
	pthread_mutex_lock(&tickets_lock);
	for (size_t i = 0; i < TICKET_SLOTS; i++) {
		struct ticket *t = &tickets[i];
		if (t->expires <= now || mamori_memeq_consttime(t->hex, hex, TICKET_HEX) != 0)
			continue;
		ok = !strcmp(t->user, user) && !strcmp(t->service, service);
		mamori_wipe(t, sizeof(*t));
		break;
	}
	pthread_mutex_unlock(&tickets_lock);
	return ok;
}

/* ------------------------------------------------------------ replies */

static json_t *
error_reply(const char *error, const char *key, const char *value)
{
	return mamori_wire_error(error, json_pack("{s:s}", key, value));
}

static json_t *
internal_error(void)
{
	return error_reply("io.mamori.Error.Internal", "message", "the authentication service failed");
}

static json_t *
prompt_reply(const char *style, const char *text)
{
	return mamori_wire_reply(
	        json_pack("{s:s,s:[{s:s,s:s}]}", "state", "prompt", "prompts", "style", style, "text", text));
}

static json_t *
done_reply(const char *result, const char *style, const char *text, const char *ticket)
{
	json_t *p = json_pack("{s:s,s:s,s:[]}", "state", "done", "result", result, "messages");

	if (p == NULL)
		return NULL;
	if (text != NULL && text[0] != '\0')
		json_array_append_new(json_object_get(p, "messages"),
		                      json_pack("{s:s,s:s}", "style", style, "text", text));
	if (ticket != NULL)
		json_object_set_new(p, "ticket", json_string(ticket));
	return mamori_wire_reply(p);
}

/* ------------------------------------------------------------ requests */

static int
copy_field(const json_t *params, const char *key, char *out, size_t outlen, int required)
{
	const char *v = NULL;
	int rc = mamori_wire_get_string(params, key, outlen - 1, &v);

	out[0] = '\0';
	if (rc == MAMORI_ERR_NOT_FOUND)
		return required ? MAMORI_ERR_INVALID : MAMORI_OK;
	if (rc != MAMORI_OK)
		return rc;
	memcpy(out, v, strlen(v) + 1);
	return MAMORI_OK;
}

static int
locale_valid(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c >= 0x7f)
			return 0;
	}
	return 1;
}

/* Fill req from params; on error returns the reply to send. */
static json_t *
parse_request(const struct mamori_conn *c, const json_t *params, struct pam_request *req)
{
	const char *bad = NULL;

	memset(req, 0, sizeof(*req));
	if (copy_field(params, "service", req->service, sizeof(req->service), 1) != MAMORI_OK ||
	    !mamori_service_name_valid(req->service))
		bad = "service";
	else if (copy_field(params, "user", req->user, sizeof(req->user), 1) != MAMORI_OK ||
	         !mamori_user_name_valid(req->user))
		bad = "user";
	else if (copy_field(params, "tty", req->tty, sizeof(req->tty), 0) != MAMORI_OK || !mamori_field_valid(req->tty))
		bad = "tty";
	else if (copy_field(params, "rhost", req->rhost, sizeof(req->rhost), 0) != MAMORI_OK ||
	         !mamori_field_valid(req->rhost))
		bad = "rhost";
	else if (copy_field(params, "ruser", req->ruser, sizeof(req->ruser), 0) != MAMORI_OK ||
	         !mamori_field_valid(req->ruser))
		bad = "ruser";
	else if (copy_field(params, "locale", req->locale, sizeof(req->locale), 0) != MAMORI_OK ||
	         !locale_valid(req->locale))
		bad = "locale";
	if (bad != NULL)
		return error_reply("org.varlink.service.InvalidParameter", "parameter", bad);
	if (!mamori_peer_may_act_for(&c->peer, req->user)) {
		mamori_log_notice("uid %lu may not act for %s", (unsigned long)c->peer.uid, req->user);
		return error_reply("io.mamori.Error.PermissionDenied", "message", "you may act only for yourself");
	}
	return NULL;
}

/* Record a decision in the audit log inside the caller's transaction. */
static int
audit_pam(const struct mamori_conn *c, const struct pam_request *req, const char *category, const char *result,
          const char *reason, int64_t now)
{
	struct mamori_audit_event ev = {
		.category = category,
		.actor = req->ruser[0] != '\0' ? req->ruser : NULL,
		.service = req->service,
		.user = req->user,
		.result = result,
		.reason = reason,
		.tty = req->tty,
		.rhost = req->rhost,
		.peer_uid = (int64_t)c->peer.uid,
		.peer_pid = (int64_t)c->peer.pid,
		.detail = NULL,
	};

	return mamori_audit_append(mamori_daemon.store, &ev, now);
}

/* The user's current password for system, falling back to the default
 * system's. */
static int
current_password(int64_t user_id, const char *system, struct mamori_password *out)
{
	int rc = mamori_store_password_current(mamori_daemon.store, user_id, system, out);

	if (rc == MAMORI_ERR_NOT_FOUND && strcmp(system, MAMORI_SYSTEM_DEFAULT) != 0)
		rc = mamori_store_password_current(mamori_daemon.store, user_id, MAMORI_SYSTEM_DEFAULT, out);
	return rc;
}

/* Read user and its current password in one short transaction.  *found
 * and *have_pw say what exists. */
static int
lookup(const char *name, const char *system, struct mamori_user *u, int *found, struct mamori_password *pw,
       int *have_pw)
{
	int rc;

	*found = *have_pw = 0;
	if (mamori_store_begin(mamori_daemon.store) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	rc = mamori_store_user_get(mamori_daemon.store, name, u);
	if (rc == MAMORI_OK) {
		*found = 1;
		rc = current_password(u->id, system, pw);
		if (rc == MAMORI_OK)
			*have_pw = 1;
	}
	if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND) {
		mamori_store_rollback(mamori_daemon.store);
		return rc;
	}
	return mamori_store_commit(mamori_daemon.store);
}

/* Verify pw against the user's hash, or against the dummy hash when there
 * is none, so that every answer costs one Argon2id evaluation. */
static int
verify_or_pretend(const struct mamori_conf *conf, const struct mamori_password *rec, int have_pw, const char *pw,
                  size_t len, int *matched)
{
	char dummy[MAMORI_HASH_MAX];
	int rc;

	*matched = 0;
	if (have_pw) {
		rc = mamori_password_verify(rec->hash, pw, len);
	} else {
		rc = mamori_daemon_dummy_hash(conf, dummy, sizeof(dummy));
		if (rc == MAMORI_OK)
			rc = mamori_password_verify(dummy, pw, len);
		rc = rc == MAMORI_OK ? MAMORI_ERR_DENIED : rc;
	}
	if (rc == MAMORI_OK)
		*matched = 1;
	return rc == MAMORI_OK || rc == MAMORI_ERR_DENIED ? MAMORI_OK : rc;
}

static const char *
state_reason(enum mamori_user_state state)
{
	switch (state) {
	case MAMORI_STATE_PENDING:
		return "account pending";
	case MAMORI_STATE_ACTIVE:
		return "account active";
	case MAMORI_STATE_DISABLED:
		return "account disabled";
	case MAMORI_STATE_RETIRED:
		return "account retired";
	}
	return "account state unknown";
}

/* ------------------------------------------------------- authenticate */

static json_t *
auth_password(struct mamori_conn *c, const char *pw, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct pam_request *req = &conv->req;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_argon2_params params;
	struct mamori_password rec = { 0 };
	struct mamori_user u;
	char rehash[MAMORI_HASH_MAX] = "";
	char ticket[TICKET_HEX + 1];
	const char *result = "auth_err", *reason, *style = "error", *text = NULL;
	int found, have_pw, matched, issue_ticket = 0;
	json_t *reply = NULL;
	int64_t now;

	mamori_daemon_argon2_params(conf, &params);
	if (lookup(req->user, conv->system, &u, &found, &rec, &have_pw) != MAMORI_OK ||
	    verify_or_pretend(conf, &rec, have_pw, pw, len, &matched) != MAMORI_OK)
		goto fail;
	if (matched && mamori_password_needs_rehash(&params, rec.hash) &&
	    mamori_password_hash(&params, pw, len, rehash, sizeof(rehash)) != MAMORI_OK)
		rehash[0] = '\0'; /* keep the old hash; try again next login */

	now = mamori_clock_now();
	if (mamori_store_begin(mamori_daemon.store) != MAMORI_OK)
		goto fail;
	/* Decide on fresh state: an admin may have acted meanwhile. */
	if (found && mamori_store_user_get(mamori_daemon.store, req->user, &u) != MAMORI_OK)
		found = matched = 0;
	if (!found) {
		reason = "unknown user";
	} else if (!have_pw) {
		reason = "no password";
	} else if (!matched) {
		reason = "wrong password";
	} else if (u.state != MAMORI_STATE_ACTIVE) {
		reason = state_reason(u.state);
		text = mamori_msg(req->locale, MSG_ACCOUNT_DISABLED);
	} else if (rec.temporary && rec.expires_at > 0 && now >= rec.expires_at) {
		reason = "temporary password expired";
		text = mamori_msg(req->locale, MSG_TEMPORARY_EXPIRED);
	} else {
		result = "success";
		reason = "password";
		issue_ticket = rec.must_change;
	}
	if (found && strcmp(result, "success") != 0 && !matched &&
	    mamori_store_login_failure(mamori_daemon.store, u.id, now) != MAMORI_OK)
		goto fail_rollback;
	if (!strcmp(result, "success")) {
		if (mamori_store_login_success(mamori_daemon.store, u.id, now, req->service, req->tty, req->rhost) !=
		    MAMORI_OK)
			goto fail_rollback;
		if (rehash[0] != '\0' && mamori_store_password_rehash(mamori_daemon.store, rec.id, rehash) != MAMORI_OK)
			goto fail_rollback;
	}
	if (audit_pam(c, req, "auth", result, reason, now) != MAMORI_OK)
		goto fail_rollback;
	if (mamori_store_commit(mamori_daemon.store) != MAMORI_OK)
		goto fail;
	if (issue_ticket && ticket_issue(req->user, req->service, now, ticket) != MAMORI_OK)
		issue_ticket = 0;
	reply = done_reply(result, style, text, issue_ticket ? ticket : NULL);
	mamori_wipe(ticket, sizeof(ticket));
	goto out;
fail_rollback:
	mamori_store_rollback(mamori_daemon.store);
fail:
	mamori_log_err("authenticate %s on %s: the store or Argon2 failed", req->user, req->service);
	reply = internal_error();
out:
	mamori_wipe(rehash, sizeof(rehash));
	mamori_daemon_conf_put(conf);
	conv->step = STEP_NONE;
	return reply;
}

/* ---------------------------------------------------------- chauthtok */

static void
conversation_reset(struct mamori_pam_conversation *conv)
{
	if (conv->new_password != NULL)
		mamori_freezero(conv->new_password, conv->new_len);
	conv->new_password = NULL;
	conv->new_len = 0;
	conv->step = STEP_NONE;
}

static json_t *
change_failed(struct mamori_conn *c, const char *result, const char *reason, enum mamori_msg_id msg, int count_failure)
{
	struct mamori_pam_conversation *conv = c->conversation;
	struct mamori_user u;
	int64_t now = mamori_clock_now();

	conversation_reset(conv);
	if (mamori_store_begin(mamori_daemon.store) != MAMORI_OK)
		return internal_error();
	if (count_failure && mamori_store_user_get(mamori_daemon.store, conv->req.user, &u) == MAMORI_OK &&
	    mamori_store_login_failure(mamori_daemon.store, u.id, now) != MAMORI_OK)
		goto fail;
	if (audit_pam(c, &conv->req, "chauthtok", result, reason, now) != MAMORI_OK)
		goto fail;
	if (mamori_store_commit(mamori_daemon.store) != MAMORI_OK)
		return internal_error();
	return done_reply(result, "error", mamori_msg(conv->req.locale, msg), NULL);
fail:
	mamori_store_rollback(mamori_daemon.store);
	return internal_error();
}

static json_t *
change_current(struct mamori_conn *c, const char *pw, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_password rec;
	struct mamori_user u;
	int found, have_pw, matched, rc;

	rc = lookup(conv->req.user, conv->system, &u, &found, &rec, &have_pw);
	if (rc == MAMORI_OK)
		rc = verify_or_pretend(conf, &rec, have_pw, pw, len, &matched);
	mamori_daemon_conf_put(conf);
	if (rc != MAMORI_OK) {
		conversation_reset(conv);
		return internal_error();
	}
	if (!matched)
		return change_failed(c, "authtok_recover_err", "wrong current password", MSG_CURRENT_PASSWORD_WRONG, 1);
	conv->step = STEP_CHANGE_NEW;
	return prompt_reply("echo_off", mamori_msg(conv->req.locale, MSG_NEW_PASSWORD_PROMPT));
}

static json_t *
change_new(struct mamori_conn *c, const char *pw, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;

	if (len == 0)
		return change_failed(c, "authtok_err", "empty password", MSG_PASSWORD_EMPTY, 0);
	if (len > MAMORI_SECRET_MAX)
		return change_failed(c, "authtok_err", "password too long", MSG_PASSWORD_TOO_LONG, 0);
	conv->new_password = malloc(len);
	if (conv->new_password == NULL) {
		conversation_reset(conv);
		return internal_error();
	}
	memcpy(conv->new_password, pw, len);
	conv->new_len = len;
	conv->step = STEP_CHANGE_CONFIRM;
	return prompt_reply("echo_off", mamori_msg(conv->req.locale, MSG_RETYPE_PASSWORD_PROMPT));
}

static json_t *
change_confirm(struct mamori_conn *c, const char *pw, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf;
	struct mamori_argon2_params params;
	struct mamori_password rec;
	struct mamori_user u;
	char hash[MAMORI_HASH_MAX];
	int found, have_pw, same = 0, rc;
	json_t *reply;
	int64_t now;

	if (len != conv->new_len || mamori_memeq_consttime(pw, conv->new_password, len) != 0)
		return change_failed(c, "authtok_err", "passwords differ", MSG_PASSWORDS_DIFFER, 0);
	conf = mamori_daemon_conf_get();
	mamori_daemon_argon2_params(conf, &params);
	mamori_daemon_conf_put(conf);
	rc = lookup(conv->req.user, conv->system, &u, &found, &rec, &have_pw);
	if (rc == MAMORI_OK && !found)
		rc = MAMORI_ERR_NOT_FOUND;
	if (rc == MAMORI_OK && have_pw) {
		rc = mamori_password_verify(rec.hash, pw, len);
		same = rc == MAMORI_OK;
		rc = rc == MAMORI_ERR_DENIED ? MAMORI_OK : rc;
	}
	if (rc != MAMORI_OK) {
		conversation_reset(conv);
		return internal_error();
	}
	if (same)
		return change_failed(c, "authtok_err", "password unchanged", MSG_PASSWORD_SAME, 0);
	rc = mamori_password_hash(&params, pw, len, hash, sizeof(hash));
	conversation_reset(conv);
	if (rc != MAMORI_OK)
		return internal_error();
	now = mamori_clock_now();
	if (mamori_store_begin(mamori_daemon.store) != MAMORI_OK)
		goto fail;
	/* The change replaces the password in effect for this service: the
	 * system's own, or the default one it falls back to. */
	if (mamori_store_password_set(mamori_daemon.store, u.id, have_pw ? rec.system : conv->system, hash, 0, 0,
	                              now) != MAMORI_OK ||
	    audit_pam(c, &conv->req, "chauthtok", "success", "password changed", now) != MAMORI_OK) {
		mamori_store_rollback(mamori_daemon.store);
		goto fail;
	}
	if (mamori_store_commit(mamori_daemon.store) != MAMORI_OK)
		goto fail;
	mamori_wipe(hash, sizeof(hash));
	reply = done_reply("success", "info", mamori_msg(conv->req.locale, MSG_PASSWORD_CHANGED), NULL);
	return reply;
fail:
	mamori_wipe(hash, sizeof(hash));
	return internal_error();
}

/* ---------------------------------------------------------------- Start */

static json_t *
start_chauthtok(struct mamori_conn *c, const json_t *params)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const char *ticket = NULL;
	struct mamori_user u;
	int prelim = 0, rc;

	if (mamori_wire_get_bool(params, "prelim", &prelim) == MAMORI_ERR_INVALID ||
	    mamori_wire_get_string(params, "ticket", TICKET_HEX, &ticket) == MAMORI_ERR_INVALID)
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "ticket");
	if (mamori_store_begin(mamori_daemon.store) != MAMORI_OK)
		return internal_error();
	rc = mamori_store_user_get(mamori_daemon.store, conv->req.user, &u);
	mamori_store_commit(mamori_daemon.store);
	if (rc == MAMORI_ERR_NOT_FOUND)
		return done_reply("user_unknown", "error", NULL, NULL);
	if (rc != MAMORI_OK)
		return internal_error();
	if (u.state != MAMORI_STATE_ACTIVE)
		return done_reply("authtok_err", "error", mamori_msg(conv->req.locale, MSG_ACCOUNT_DISABLED), NULL);
	if (prelim)
		return done_reply("success", "info", NULL, NULL);
	if (ticket_redeem(ticket, conv->req.user, conv->req.service, mamori_clock_now())) {
		conv->step = STEP_CHANGE_NEW;
		return prompt_reply("echo_off", mamori_msg(conv->req.locale, MSG_NEW_PASSWORD_PROMPT));
	}
	conv->step = STEP_CHANGE_CURRENT;
	return prompt_reply("echo_off", mamori_msg(conv->req.locale, MSG_CURRENT_PASSWORD_PROMPT));
}

static json_t *
handle_start(struct mamori_conn *c, const json_t *params)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf;
	const char *op = NULL;
	json_t *reply;

	if (mamori_wire_get_string(params, "op", 32, &op) != MAMORI_OK ||
	    (strcmp(op, "authenticate") != 0 && strcmp(op, "chauthtok") != 0))
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "op");
	reply = parse_request(c, params, &conv->req);
	if (reply != NULL)
		return reply;
	conf = mamori_daemon_conf_get();
	snprintf(conv->system, sizeof(conv->system), "%s", mamori_conf_service_system(conf, conv->req.service));
	mamori_daemon_conf_put(conf);
	if (!strcmp(op, "chauthtok"))
		return start_chauthtok(c, params);
	conv->step = STEP_AUTH_PASSWORD;
	return prompt_reply("echo_off", mamori_msg(conv->req.locale, MSG_PASSWORD_PROMPT));
}

static json_t *
handle_answer(struct mamori_conn *c, const json_t *params)
{
	struct mamori_pam_conversation *conv = c->conversation;
	json_t *answers = json_object_get(params, "answers");
	json_t *answer;
	const char *pw;
	size_t len;

	if (!json_is_array(answers) || json_array_size(answers) != 1 || !json_is_string(json_array_get(answers, 0))) {
		conversation_reset(conv);
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "answers");
	}
	answer = json_array_get(answers, 0);
	pw = json_string_value(answer);
	len = json_string_length(answer);
	if (strlen(pw) != len) { /* an embedded NUL cannot be a password */
		conversation_reset(conv);
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "answers");
	}
	switch (conv->step) {
	case STEP_AUTH_PASSWORD:
		return auth_password(c, pw, len);
	case STEP_CHANGE_CURRENT:
		return change_current(c, pw, len);
	case STEP_CHANGE_NEW:
		return change_new(c, pw, len);
	case STEP_CHANGE_CONFIRM:
		return change_confirm(c, pw, len);
	case STEP_NONE:
		break;
	}
	return error_reply("io.mamori.Error.OutOfOrder", "message", "no conversation is waiting for an answer");
}

/* ------------------------------------------------------ account, session */

static json_t *
handle_account(struct mamori_conn *c, const json_t *params)
{
	struct pam_request req;
	struct mamori_password rec;
	struct mamori_user u;
	const char *result = "success", *reason = "ok";
	const struct mamori_conf *conf;
	enum mamori_msg_id msg = MSG_COUNT;
	char today[11], system[MAMORI_SERVICE_NAME_MAX + 1];
	int64_t now = mamori_clock_now();
	json_t *reply;
	int rc;

	reply = parse_request(c, params, &req);
	if (reply != NULL)
		return reply;
	conf = mamori_daemon_conf_get();
	snprintf(system, sizeof(system), "%s", mamori_conf_service_system(conf, req.service));
	mamori_daemon_conf_put(conf);
	mamori_clock_today(today);
	if (mamori_store_begin(mamori_daemon.store) != MAMORI_OK)
		return internal_error();
	rc = mamori_store_user_get(mamori_daemon.store, req.user, &u);
	if (rc == MAMORI_ERR_NOT_FOUND) {
		result = "user_unknown";
		reason = "unknown user";
	} else if (rc != MAMORI_OK) {
		goto fail;
	} else if (u.state == MAMORI_STATE_PENDING) {
		result = "acct_expired";
		reason = state_reason(u.state);
		msg = MSG_ACCOUNT_PENDING;
	} else if (u.state != MAMORI_STATE_ACTIVE) {
		result = "acct_expired";
		reason = state_reason(u.state);
		msg = MSG_ACCOUNT_DISABLED;
	} else if (u.expires[0] != '\0' && strcmp(today, u.expires) > 0) {
		result = "acct_expired";
		reason = "account expired";
		msg = MSG_ACCOUNT_EXPIRED;
	} else {
		rc = current_password(u.id, system, &rec);
		if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND)
			goto fail;
		if (rc == MAMORI_OK && rec.must_change) {
			result = "new_authtok_reqd";
			reason = "temporary password";
			msg = MSG_MUST_CHANGE_TEMPORARY;
		}
	}
	if (audit_pam(c, &req, "account", result, reason, now) != MAMORI_OK)
		goto fail;
	if (mamori_store_commit(mamori_daemon.store) != MAMORI_OK)
		return internal_error();
	reply = json_pack("{s:s,s:[]}", "result", result, "messages");
	if (reply != NULL && msg != MSG_COUNT)
		json_array_append_new(json_object_get(reply, "messages"),
		                      json_pack("{s:s,s:s}", "style",
		                                !strcmp(result, "new_authtok_reqd") ? "info" : "error", "text",
		                                mamori_msg(req.locale, msg)));
	return mamori_wire_reply(reply);
fail:
	mamori_store_rollback(mamori_daemon.store);
	return internal_error();
}

static json_t *
handle_open_session(struct mamori_conn *c, const json_t *params)
{
	struct pam_request req;
	struct mamori_user u;
	long long leader = 0;
	int64_t session_id = 0, now = mamori_clock_now();
	json_t *reply;

	reply = parse_request(c, params, &req);
	if (reply != NULL)
		return reply;
	if (mamori_wire_get_int(params, "leader_pid", 0, 4194304, &leader) == MAMORI_ERR_INVALID)
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "leader_pid");
	if (mamori_store_begin(mamori_daemon.store) != MAMORI_OK)
		return internal_error();
	if (mamori_store_user_get(mamori_daemon.store, req.user, &u) != MAMORI_OK) {
		mamori_store_rollback(mamori_daemon.store);
		return error_reply("io.mamori.Error.NotFound", "message", "no such account");
	}
	if (mamori_store_session_open(mamori_daemon.store, u.id, req.service, req.tty, req.rhost, leader, now,
	                              &session_id) != MAMORI_OK ||
	    audit_pam(c, &req, "session", "success", "session opened", now) != MAMORI_OK) {
		mamori_store_rollback(mamori_daemon.store);
		return internal_error();
	}
	if (mamori_store_commit(mamori_daemon.store) != MAMORI_OK)
		return internal_error();
	return mamori_wire_reply(
	        json_pack("{s:s,s:I,s:[]}", "result", "success", "session_id", (json_int_t)session_id, "messages"));
}

static json_t *
handle_close_session(struct mamori_conn *c, const json_t *params)
{
	struct pam_request req;
	struct mamori_user u;
	long long session_id = 0;
	int64_t now = mamori_clock_now();
	json_t *reply;
	int rc;

	reply = parse_request(c, params, &req);
	if (reply != NULL)
		return reply;
	if (mamori_wire_get_int(params, "session_id", 1, INT64_MAX, &session_id) == MAMORI_ERR_INVALID)
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "session_id");
	if (mamori_store_begin(mamori_daemon.store) != MAMORI_OK)
		return internal_error();
	if (mamori_store_user_get(mamori_daemon.store, req.user, &u) != MAMORI_OK) {
		mamori_store_rollback(mamori_daemon.store);
		return error_reply("io.mamori.Error.NotFound", "message", "no such account");
	}
	rc = mamori_store_session_close(mamori_daemon.store, u.id, req.service, session_id, now);
	if (rc == MAMORI_ERR_NOT_FOUND) {
		mamori_store_rollback(mamori_daemon.store);
		return error_reply("io.mamori.Error.NotFound", "message", "no such session");
	}
	if (rc != MAMORI_OK || audit_pam(c, &req, "session", "success", "session closed", now) != MAMORI_OK) {
		mamori_store_rollback(mamori_daemon.store);
		return internal_error();
	}
	if (mamori_store_commit(mamori_daemon.store) != MAMORI_OK)
		return internal_error();
	return mamori_wire_reply(json_pack("{s:s}", "result", "success"));
}

/* -------------------------------------------------------------- dispatch */

static void
wipe_answers(json_t *params)
{
	json_t *answers = json_object_get(params, "answers");
	json_t *a;
	size_t i;

	if (json_is_array(answers)) {
		json_array_foreach (answers, i, a) {
			mamori_wire_wipe_string(a);
		}
	}
}

json_t *
mamori_pam_service_handle(struct mamori_conn *c, const char *method, json_t *params)
{
	json_t *reply;

	if (c->conversation == NULL) {
		c->conversation = calloc(1, sizeof(*c->conversation));
		if (c->conversation == NULL)
			return internal_error();
	}
	if (!strcmp(method, "io.mamori.Pam.Answer")) {
		if (c->conversation->step == STEP_NONE)
			reply = error_reply("io.mamori.Error.OutOfOrder", "message", "no conversation is waiting");
		else
			reply = handle_answer(c, params);
		wipe_answers(params);
		return reply;
	}
	if (c->conversation->step != STEP_NONE) {
		conversation_reset(c->conversation);
		return error_reply("io.mamori.Error.OutOfOrder", "message", "a conversation is waiting for its answer");
	}
	if (!strcmp(method, "io.mamori.Pam.Start"))
		return handle_start(c, params);
	if (!strcmp(method, "io.mamori.Pam.AccountCheck"))
		return handle_account(c, params);
	if (!strcmp(method, "io.mamori.Pam.OpenSession"))
		return handle_open_session(c, params);
	if (!strcmp(method, "io.mamori.Pam.CloseSession"))
		return handle_close_session(c, params);
	return error_reply("org.varlink.service.MethodNotFound", "method", method);
}

void
mamori_pam_service_end(struct mamori_conn *c)
{
	if (c->conversation == NULL)
		return;
	conversation_reset(c->conversation);
	mamori_wipe(c->conversation, sizeof(*c->conversation));
	free(c->conversation);
	c->conversation = NULL;
}
