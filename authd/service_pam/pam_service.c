/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Pam: the conversation state machine the PAM module relays. */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-login.h>

#include "core/audit.h"
#include "core/clock.h"
#include "core/daemon.h"
#include "rules/enroll_code.h"
#include "error.h"
#include "factors/password.h"
#include "hours.h"
#include "rules/incident.h"
#include "rules/lockout.h"
#include "log.h"
#include "core/messages.h"
#include "names.h"
#include "service_pam/pam_service.h"
#include "rules/password_change.h"
#include "secure.h"
#include "factors/totp.h"
#include "core/seal.h"
#include "rules/session_end.h"

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

enum conv_op {
	OP_AUTHENTICATE,
	OP_CHAUTHTOK,
	OP_COMPROMISED,
	OP_TOTP_ENROLL,
};

enum conv_step {
	STEP_NONE,
	STEP_CHOICE, /* which accepted factor set */
	STEP_MEMBER, /* shared account: which member logs in */
	STEP_FACTOR, /* conv->set.factor[conv->next] */
	STEP_AUTH_PASSWORD, /* compromised-password report */
	STEP_ENROLL_AUTHZ, /* TOTP enrolment: the administrator's enrolment code */
	STEP_ENROLL_CODE, /* TOTP enrolment: the first code */
	STEP_CHANGE_CURRENT,
	STEP_CHANGE_NEW,
	STEP_CHANGE_CONFIRM,
};

struct mamori_pam_conversation {
	enum conv_op op;
	enum conv_step step;
	struct pam_request req;
	char system[MAMORI_SERVICE_NAME_MAX + 1];
	/* The member of a shared account who authenticates (P-ID-SHARED). */
	char member[MAMORI_USER_NAME_MAX + 1];
	char *new_password;
	size_t new_len;
	/* Multi-factor authentication (P-MFA-MN, P-MFA-ALL). */
	struct mamori_factor_set choices[MAMORI_SETS_MAX]; /* the service's accepted sets */
	unsigned n_choices;
	unsigned default_choice;
	struct mamori_factor_set set; /* the set being asked */
	unsigned next; /* the factor of set asked next */
	int unsatisfiable; /* the subject can meet no accepted set (or is unknown) */
	int password_ok;
	int64_t password_id;
	/* A right password whose hash predates the current Argon2id
	 * parameters, kept until the decision to rehash it after that. */
	char *rehash_pw;
	size_t rehash_len;
	int totp_ok;
	int64_t totp_id;
	int64_t totp_step;
	int64_t pending_totp_id; /* enrolment in progress */
	/* The account enrolling, and the enrolment code it gave (P-MFA-ALL). */
	int64_t enroll_user_id;
	char enroll_name[MAMORI_USER_NAME_MAX + 1];
	int enroll_code_given;
	unsigned char enroll_digest[MAMORI_ENROLL_DIGEST_LEN];
	int authonly; /* the stack calls only pam_authenticate */
};

/* How long after a successful authentication a session counts as opened by
 * it, for the last-login notice. */
#define LOGIN_SESSION_WINDOW 600
#define BANNER_MAX 4096

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
messages_append(json_t *messages, const char *style, const char *text)
{
	if (text != NULL && text[0] != '\0')
		json_array_append_new(messages, json_pack("{s:s,s:s}", "style", style, "text", text));
	return messages;
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

enum refusal_kind {
	REFUSED_PERMISSION, /* PermissionDenied: acting for another user */
	REFUSED_RATE, /* the rate limit */
	REFUSAL_KINDS,
};

static void refusal_audit(const struct mamori_conn *c, enum refusal_kind kind, const char *category,
                          const struct pam_request *req, const char *reason);

/* Fill req from params; on error returns the reply to send.  A refusal to
 * act for another user is audited as category (summarised, see
 * refusal_audit). */
static json_t *
parse_request(const struct mamori_conn *c, const json_t *params, struct pam_request *req, const char *category)
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
		refusal_audit(c, REFUSED_PERMISSION, category, req, "caller may act only for itself");
		return error_reply("io.mamori.Error.PermissionDenied", "message", "you may act only for yourself");
	}
	/* P-PRIV-TIME: the requesting user (PAM_RUSER) is the word of the
	 * caller; only root's (the system's login services) is taken.  Another
	 * caller may name only itself. */
	if (c->peer.uid != 0 && req->ruser[0] != '\0' && strcmp(req->ruser, c->peer.name) != 0) {
		mamori_log_notice("uid %lu may not name %s as the requesting user", (unsigned long)c->peer.uid,
		                  req->ruser);
		refusal_audit(c, REFUSED_PERMISSION, category, req, "caller named another requesting user");
		return error_reply("io.mamori.Error.PermissionDenied", "message",
		                   "only root may name the requesting user");
	}
	return NULL;
}

/* ------------------------------------------------------------ rate limit */

/* Callers of pam.sock get conf->rate_limit conversations (Start) a minute,
 * and as many account and session calls (AccountCheck, OpenSession,
 * CloseSession), per accounting uid (P-CRED-STORE): a setuid su or sudo
 * counts against the user who ran it; only real root is not limited.  A
 * token bucket in memory, as a daemon restart gives an attacker nothing the
 * account lockout does not already count. */
#define RATE_SLOTS 256

enum rate_class {
	RATE_START,
	RATE_ACCOUNT_SESSION,
};

struct rate_slot {
	uid_t uid;
	enum rate_class class;
	int used;
	double tokens;
	int64_t last_ms;
};

static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rate_slot rate_slots[RATE_SLOTS];

static int
rate_allow(uid_t uid, enum rate_class class, unsigned per_minute)
{
	int64_t now = mamori_clock_monotonic_ms();
	struct rate_slot *slot = NULL, *oldest = &rate_slots[0];
	int ok;

	pthread_mutex_lock(&rate_lock);
	for (size_t i = 0; i < RATE_SLOTS; i++) {
		if (rate_slots[i].used && rate_slots[i].uid == uid && rate_slots[i].class == class) {
			slot = &rate_slots[i];
			break;
		}
		if (!rate_slots[i].used || rate_slots[i].last_ms < oldest->last_ms)
			oldest = &rate_slots[i];
	}
	if (slot == NULL) {
		slot = oldest;
		slot->used = 1;
		slot->uid = uid;
		slot->class = class;
		slot->tokens = per_minute;
		slot->last_ms = now;
	}
	slot->tokens += (double)(now - slot->last_ms) * per_minute / 60000.0;
	if (slot->tokens > per_minute)
		slot->tokens = per_minute;
	slot->last_ms = now;
	ok = slot->tokens >= 1.0;
	if (ok)
		slot->tokens -= 1.0;
	pthread_mutex_unlock(&rate_lock);
	return ok;
}

/* Whether the caller is over its rate; real root never is. */
static int
peer_limited(const struct mamori_conn *c, enum rate_class class, unsigned per_minute)
{
	return c->peer.acct_uid != 0 && !rate_allow(c->peer.acct_uid, class, per_minute);
}

/* ------------------------------------------------------------- refusals */

/* P-AUDIT: refusals before any conversation (PermissionDenied, the rate
 * limit) are audited, summarised so that a flood cannot grow the log
 * without bound: for each accounting uid and kind, the first refusal is
 * one row; the ones that follow within REFUSAL_INTERVAL seconds are only
 * counted, and one summary row gives their number when the interval is
 * over (at the next refusal, or from housekeeping).  So at most two rows
 * per uid, kind and interval, and REFUSAL_SLOTS uids are followed at once
 * (a uid pushed out has its summary written first). */
#define REFUSAL_INTERVAL 60
#define REFUSAL_SLOTS 64

struct refusal_slot {
	int used;
	uid_t uid;
	int64_t since;
	unsigned long suppressed;
	char category[16];
	char service[MAMORI_SERVICE_NAME_MAX + 1];
	char user[MAMORI_USER_NAME_MAX + 1];
};

static pthread_mutex_t refusals_lock = PTHREAD_MUTEX_INITIALIZER;
static struct refusal_slot refusals[REFUSAL_KINDS][REFUSAL_SLOTS];

static const char *
refusal_result(enum refusal_kind kind)
{
	return kind == REFUSED_RATE ? "rate_limited" : "perm_denied";
}

/* Append the summary of slot (inside the caller's transaction). */
static int
refusal_summary_append(struct mamori_txn *tx, enum refusal_kind kind, const struct refusal_slot *slot, int64_t now)
{
	struct mamori_audit_event ev = {
		.category = slot->category,
		.service = slot->service,
		.user = slot->user,
		.result = refusal_result(kind),
		.reason = "further refusals summarised",
		.peer_uid = slot->uid == MAMORI_PEER_UID_UNKNOWN ? -1 : (int64_t)slot->uid,
		.peer_pid = -1,
	};
	json_t *detail = json_pack("{s:I,s:I,s:I}", "count", (json_int_t)slot->suppressed, "since",
	                           (json_int_t)slot->since, "until", (json_int_t)now);
	int rc;

	if (detail == NULL)
		return MAMORI_ERR_NOMEM;
	ev.detail = detail;
	rc = mamori_audit_append(tx, &ev, now);
	json_decref(detail);
	return rc;
}

static void
refusal_audit(const struct mamori_conn *c, enum refusal_kind kind, const char *category, const struct pam_request *req,
              const char *reason)
{
	struct mamori_txn *tx = NULL;
	struct refusal_slot *slot = NULL, *oldest = NULL, pending = { 0 };
	struct refusal_slot *table = refusals[kind];
	int64_t now = mamori_clock_now();
	char actor[MAMORI_USER_NAME_MAX + 16];
	int rc;

	pthread_mutex_lock(&refusals_lock);
	for (size_t i = 0; i < REFUSAL_SLOTS; i++) {
		if (table[i].used && table[i].uid == c->peer.acct_uid) {
			slot = &table[i];
			break;
		}
		if (oldest == NULL || !table[i].used || (oldest->used && table[i].since < oldest->since))
			oldest = &table[i];
	}
	if (slot != NULL && now >= slot->since && now < slot->since + REFUSAL_INTERVAL) {
		slot->suppressed++;
		snprintf(slot->category, sizeof(slot->category), "%s", category);
		snprintf(slot->service, sizeof(slot->service), "%s", req->service);
		snprintf(slot->user, sizeof(slot->user), "%s", req->user);
		pthread_mutex_unlock(&refusals_lock);
		return;
	}
	if (slot == NULL)
		slot = oldest;
	if (slot->used && slot->suppressed > 0)
		pending = *slot;
	memset(slot, 0, sizeof(*slot));
	slot->used = 1;
	slot->uid = c->peer.acct_uid;
	slot->since = now;
	pthread_mutex_unlock(&refusals_lock);

	mamori_peer_actor(&c->peer, actor, sizeof(actor));
	struct mamori_audit_event ev = {
		.category = category,
		.actor = actor,
		.service = req->service,
		.user = req->user,
		.result = refusal_result(kind),
		.reason = reason,
		.tty = req->tty,
		.rhost = req->rhost,
		.peer_uid = (int64_t)c->peer.uid,
		.peer_pid = (int64_t)c->peer.pid,
	};
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
		mamori_log_err("cannot audit a refusal: the store is unavailable");
		return;
	}
	rc = pending.used ? refusal_summary_append(tx, kind, &pending, now) : MAMORI_OK;
	if (rc == MAMORI_OK)
		rc = mamori_audit_append(tx, &ev, now);
	if (rc == MAMORI_OK)
		rc = mamori_store_commit(&tx);
	else
		mamori_store_rollback(&tx);
	if (rc != MAMORI_OK)
		mamori_log_err("cannot audit a refusal: %s", mamori_strerror(rc));
}

void
mamori_pam_service_refusals_flush(int64_t now, int all)
{
	struct mamori_txn *tx = NULL;
	struct refusal_slot *due;
	enum refusal_kind *kinds;
	size_t n = 0;
	int rc = MAMORI_OK;

	due = calloc(REFUSAL_KINDS * REFUSAL_SLOTS, sizeof(*due));
	kinds = calloc(REFUSAL_KINDS * REFUSAL_SLOTS, sizeof(*kinds));
	if (due == NULL || kinds == NULL) {
		free(due);
		free(kinds);
		return;
	}
	pthread_mutex_lock(&refusals_lock);
	for (int k = 0; k < REFUSAL_KINDS; k++) {
		for (size_t i = 0; i < REFUSAL_SLOTS; i++) {
			struct refusal_slot *slot = &refusals[k][i];
			/* A clock that went back ends the interval too. */
			if (!slot->used || (!all && now >= slot->since && now < slot->since + REFUSAL_INTERVAL))
				continue;
			if (slot->suppressed > 0) {
				kinds[n] = (enum refusal_kind)k;
				due[n++] = *slot;
			}
			memset(slot, 0, sizeof(*slot));
		}
	}
	pthread_mutex_unlock(&refusals_lock);
	if (n > 0 && (rc = mamori_store_begin(mamori_daemon.store, &tx)) == MAMORI_OK) {
		for (size_t i = 0; i < n && rc == MAMORI_OK; i++)
			rc = refusal_summary_append(tx, kinds[i], &due[i], now);
		if (rc == MAMORI_OK)
			rc = mamori_store_commit(&tx);
		else
			mamori_store_rollback(&tx);
	}
	if (rc != MAMORI_OK)
		mamori_log_err("cannot audit the summary of %zu refusals: %s", n, mamori_strerror(rc));
	free(due);
	free(kinds);
}

/* ------------------------------------------------------------- helpers */

/* Record a decision in the audit log inside the caller's transaction,
 * with detail (NULL for none); the actor is the member of a shared
 * account, else, for root's calls, the requesting user (PAM_RUSER) if
 * known, and for anyone else's the name of the uid the kernel attests
 * (P-AUDIT: a caller's own word does not name the actor). */
static int
audit_pam_detail(struct mamori_txn *tx, const struct mamori_conn *c, const struct pam_request *req,
                 const char *category, const char *actor, const char *result, const char *reason, json_t *detail,
                 int64_t now)
{
	char peer_name[MAMORI_USER_NAME_MAX + 16];

	if (c->peer.uid != 0) {
		if (c->peer.name[0] != '\0')
			snprintf(peer_name, sizeof(peer_name), "%s", c->peer.name);
		else
			snprintf(peer_name, sizeof(peer_name), "uid:%lu", (unsigned long)c->peer.uid);
	}
	struct mamori_audit_event ev = {
		.category = category,
		.actor = actor != NULL && actor[0] != '\0'
		                 ? actor
		                 : (c->peer.uid != 0 ? peer_name : (req->ruser[0] != '\0' ? req->ruser : NULL)),
		.service = req->service,
		.user = req->user,
		.result = result,
		.reason = reason,
		.tty = req->tty,
		.rhost = req->rhost,
		.peer_uid = (int64_t)c->peer.uid,
		.peer_pid = (int64_t)c->peer.pid,
		.detail = detail,
	};

	return mamori_audit_append(tx, &ev, now);
}

static int
audit_pam(struct mamori_txn *tx, const struct mamori_conn *c, const struct pam_request *req, const char *category,
          const char *actor, const char *result, const char *reason, int64_t now)
{
	return audit_pam_detail(tx, c, req, category, actor, result, reason, NULL, now);
}

/* The user's current password for system, falling back to the default
 * system's. */
static int
current_password(struct mamori_txn *tx, int64_t user_id, const char *system, struct mamori_password *out)
{
	int rc = mamori_store_password_current(tx, user_id, system, out);

	if (rc == MAMORI_ERR_NOT_FOUND && strcmp(system, MAMORI_SYSTEM_DEFAULT) != 0)
		rc = mamori_store_password_current(tx, user_id, MAMORI_SYSTEM_DEFAULT, out);
	return rc;
}

/* What one short read transaction learns about the account a password is
 * checked for. */
struct subject {
	int found;
	struct mamori_user user;
	int have_pw;
	struct mamori_password pw;
	struct mamori_lock_state lock;
};

static int
lookup(const char *name, const char *system, int64_t now, struct subject *s)
{
	struct mamori_txn *tx = NULL;
	int rc;

	memset(s, 0, sizeof(*s));
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	rc = mamori_lockout_state(tx, name, now, &s->lock);
	if (rc == MAMORI_OK)
		rc = mamori_store_user_get(tx, name, &s->user);
	if (rc == MAMORI_OK) {
		s->found = 1;
		rc = current_password(tx, s->user.id, system, &s->pw);
		if (rc == MAMORI_OK)
			s->have_pw = 1;
	}
	if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND) {
		mamori_store_rollback(&tx);
		return rc;
	}
	return mamori_store_commit(&tx);
}

/* Verify pw against the subject's hash, or against the dummy hash when
 * there is none, so that every answer costs one Argon2id evaluation. */
static int
verify_or_pretend(const struct mamori_conf *conf, const struct subject *s, const char *pw, size_t len, int *matched)
{
	struct mamori_argon2_params current;
	char dummy[MAMORI_HASH_MAX];
	int rc;

	*matched = 0;
	mamori_daemon_argon2_params(conf, &current);
	if (s->have_pw) {
		rc = mamori_password_verify_padded(&current, s->pw.hash, pw, len);
	} else {
		rc = mamori_daemon_dummy_hash(conf, dummy, sizeof(dummy));
		if (rc == MAMORI_OK)
			rc = mamori_password_verify_padded(&current, dummy, pw, len);
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

/* P-LOGIN-UI, P-PRIV-STRICT: one message for every lock, whatever the
 * account's kind and however long the lock lasts, so that it tells nobody
 * which names are privileged IDs. */
static void
lock_message(const char *locale, const struct mamori_lock_state *lock, char *buf, size_t len)
{
	(void)lock;
	snprintf(buf, len, "%s", mamori_msg(locale, MSG_LOCKED));
}

static int is_remote(const struct mamori_conf *conf, const char *service, const char *rhost);

/* A failure seen at the console: a terminal, and no remote host. */
static int
at_console(const struct mamori_conf *conf, const struct pam_request *req)
{
	return req->tty[0] != '\0' && !is_remote(conf, req->service, req->rhost);
}

/* Count a failed password for name inside the open transaction; raise the
 * lockout incident after commit when it locked the account. */
struct failure_outcome {
	int locked_now;
	int withheld; /* a lock until unlocked was made a timed one */
	struct mamori_lock_state lock;
};

static int
count_failure(struct mamori_txn *tx, const struct mamori_conf *conf, const struct pam_request *req,
              const struct subject *s, const char *name, int64_t now, struct failure_outcome *out)
{
	const struct mamori_policy_conf *policy = mamori_daemon_policy(conf, s->found ? &s->user : NULL);
	struct mamori_policy_conf timed;
	int rc;

	/* P-PRIV-STRICT: a lock until an administrator unlocks is placed only
	 * by failures seen at the console.  Failures from elsewhere (a remote
	 * host, or no terminal: a VPN, a web front end) lock for
	 * lockout_max_duration and raise the lockout incident, so that a
	 * guesser who can reach the name cannot lock it for good. */
	out->withheld = 0;
	if (policy->lockout_until_unlock && !at_console(conf, req)) {
		timed = *policy;
		timed.lockout_until_unlock = 0;
		timed.lockout_duration = policy->lockout_max_duration;
		policy = &timed;
		out->withheld = 1;
	}
	rc = mamori_lockout_failure(tx, policy, name, now, &out->locked_now, &out->lock);
	if (rc == MAMORI_OK && s->found)
		rc = mamori_store_login_failure(tx, s->user.id, now);
	return rc;
}

static void
after_failure(const struct mamori_conf *conf, const struct pam_request *req, const char *name,
              const struct failure_outcome *out, int64_t now)
{
	json_t *detail;

	if (!out->locked_now)
		return;
	detail = json_pack("{s:s,s:I,s:s,s:b}", "name", name, "locked_until", (json_int_t)out->lock.until, "source",
	                   at_console(conf, req) ? "console" : "other", "until_unlock_withheld", out->withheld);
	mamori_incident_raise(conf, "lockout", name, req->service, detail, now);
	json_decref(detail);
	mamori_incident_note_lockout(conf, name, now);
}

/* P-PW-AGE: whether pw is past its role's maximum age. */
static int
password_expired(const struct mamori_conf *conf, const struct mamori_user *u, const struct mamori_password *pw,
                 int64_t now)
{
	const struct mamori_policy_conf *policy = mamori_daemon_policy(conf, u);

	return policy->max_age_days > 0 && now >= pw->created_at + (int64_t)policy->max_age_days * 86400;
}

/* ------------------------------------------------------- authenticate */

/* TOTP in the credential table (factor "totp"): what the old
 * mamori_store_totp_* calls did, written with mamori_store_cred_*.  The
 * parameters are the public data, compact JSON
 * {"algorithm":"sha1","digits":6,"period":30}. */
struct totp_cred_find {
	enum mamori_cred_state state;
	struct mamori_credential *out;
	int found;
};

static int
totp_cred_one(const struct mamori_credential *cred, const char *user, void *data)
{
	struct totp_cred_find *f = data;

	(void)user;
	/* The newest in the state asked. */
	if (cred->state == f->state) {
		*f->out = *cred;
		f->found = 1;
	}
	return MAMORI_OK;
}

/* The account's TOTP credential in state (active or pending);
 * MAMORI_ERR_NOT_FOUND. */
static int
totp_cred_get(struct mamori_txn *tx, int64_t user_id, enum mamori_cred_state state, struct mamori_credential *out)
{
	struct totp_cred_find f = { .state = state, .out = out };
	int rc = mamori_store_cred_foreach_user(tx, user_id, "totp", 0, totp_cred_one, &f);

	if (rc != MAMORI_OK) {
		mamori_wipe(out, sizeof(*out));
		return rc;
	}
	return f.found ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
}

/* The parameters in a TOTP credential's public data. */
static int
totp_cred_params(const struct mamori_credential *cred, struct mamori_totp_params *p)
{
	json_t *o = json_loadb((const char *)cred->public_data, cred->public_len, 0, NULL);
	const char *algorithm = NULL;
	int digits = 0, period = 0, rc = MAMORI_ERR_STORE;

	if (o != NULL &&
	    json_unpack(o, "{s:s,s:i,s:i}", "algorithm", &algorithm, "digits", &digits, "period", &period) == 0 &&
	    mamori_totp_algorithm_parse(algorithm, &p->algorithm) == 0 && digits > 0 && period > 0) {
		p->digits = (unsigned)digits;
		p->period = (unsigned)period;
		rc = MAMORI_OK;
	}
	json_decref(o);
	return rc;
}

/* Set a new TOTP credential's public data to its parameters. */
static int
totp_cred_public(struct mamori_credential *cred, const struct mamori_totp_params *p)
{
	json_t *o = json_pack("{s:s,s:i,s:i}", "algorithm", mamori_totp_algorithm_name(p->algorithm), "digits",
	                      (int)p->digits, "period", (int)p->period);
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int rc = MAMORI_ERR_NOMEM;

	if (s != NULL && strlen(s) <= sizeof(cred->public_data)) {
		cred->public_len = strlen(s);
		memcpy(cred->public_data, s, cred->public_len);
		rc = MAMORI_OK;
	}
	free(s);
	json_decref(o);
	return rc;
}

struct totp_cred_ids {
	int only_active;
	size_t n;
	int64_t id[8];
};

static int
totp_cred_id(const struct mamori_credential *cred, const char *user, void *data)
{
	struct totp_cred_ids *l = data;

	(void)user;
	if (l->only_active && cred->state != MAMORI_CRED_ACTIVE)
		return MAMORI_OK;
	if (l->n == sizeof(l->id) / sizeof(l->id[0]))
		return MAMORI_STOP;
	l->id[l->n++] = cred->id;
	return MAMORI_OK;
}

/* Revoke the account's TOTP credentials (only the active ones, or every
 * one not revoked yet): what replacing or deleting did.
 * MAMORI_ERR_NOT_FOUND when there was none. */
static int
totp_cred_revoke(struct mamori_txn *tx, int64_t user_id, int only_active, int64_t now, const char *reason,
                 const char *by)
{
	int revoked = 0, rc;

	for (;;) {
		struct totp_cred_ids l = { .only_active = only_active };

		rc = mamori_store_cred_foreach_user(tx, user_id, "totp", 0, totp_cred_id, &l);
		for (size_t i = 0; rc == MAMORI_OK && i < l.n; i++)
			rc = mamori_store_cred_revoke(tx, l.id[i], now, reason, by);
		if (rc != MAMORI_OK)
			return rc;
		if (l.n == 0)
			return revoked ? MAMORI_OK : MAMORI_ERR_NOT_FOUND;
		revoked = 1;
	}
}

/* The factors an account has enrolled. */
static int
enrolled(const struct subject *s, const struct mamori_credential *totp, int have_totp, enum mamori_factor f)
{
	(void)totp;
	switch (f) {
	case MAMORI_FACTOR_PASSWORD:
		return s->have_pw;
	case MAMORI_FACTOR_TOTP:
		return have_totp;
	default:
		/* FIDO2 keys, IC cards and fingerprints cannot be enrolled yet. */
		return 0;
	}
}

static void
service_sets(const struct mamori_conf *conf, const char *service, struct mamori_factor_set *sets, unsigned *count)
{
	const struct mamori_service_conf *svc = mamori_conf_service(conf, service);

	if (svc != NULL && svc->require_count > 0) {
		memcpy(sets, svc->require, sizeof(svc->require[0]) * svc->require_count);
		*count = svc->require_count;
		return;
	}
	sets[0].count = 1;
	sets[0].factor[0] = MAMORI_FACTOR_PASSWORD;
	*count = 1;
}

/* "password+totp, card+fingerprint", for messages. */
static void
accepted_sets(const struct mamori_conf *conf, const char *service, char *buf, size_t len)
{
	struct mamori_factor_set sets[MAMORI_SETS_MAX];
	unsigned n;
	size_t used = 0;

	service_sets(conf, service, sets, &n);
	buf[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		char one[80];
		int w;

		mamori_factor_set_format(&sets[i], one, sizeof(one));
		w = snprintf(buf + used, len - used, "%s%s", i > 0 ? ", " : "", one);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
}

static const char *
subject_name(const struct mamori_pam_conversation *conv)
{
	return conv->member[0] != '\0' ? conv->member : conv->req.user;
}

static json_t *ask_next(struct mamori_conn *c);
static json_t *auth_decide(struct mamori_conn *c);

static json_t *
choice_prompt(struct mamori_conn *c)
{
	struct mamori_pam_conversation *conv = c->conversation;
	char list[400], text[512], one[96];
	size_t used = 0;

	list[0] = '\0';
	for (unsigned i = 0; i < conv->n_choices; i++) {
		char set[80];
		mamori_factor_set_format(&conv->choices[i], set, sizeof(set));
		snprintf(one, sizeof(one), "%s%u) %s", i > 0 ? ", " : "", i + 1, set);
		if (used + strlen(one) < sizeof(list)) {
			memcpy(list + used, one, strlen(one) + 1);
			used += strlen(one);
		}
	}
	mamori_msgf(text, sizeof(text), conv->req.locale, MSG_CHOOSE_METHOD, list, conv->default_choice + 1);
	conv->step = STEP_CHOICE;
	return prompt_reply("echo_on", text);
}

/* P-INPUT: what is asked until the decision depends on the service's
 * configuration only: every name, known or not, with or without the
 * factors, sees the service's accepted sets (a choice when there are
 * several, the first the default) and then every factor of the set chosen.
 * What the subject (the user, or the member of a shared account) has
 * enrolled is looked up here only for the decision. */
static json_t *
begin_factors(struct mamori_conn *c)
{
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_factor_set sets[MAMORI_SETS_MAX];
	struct mamori_credential totp;
	struct subject s;
	unsigned n_sets;
	int have_totp = 0, rc;

	service_sets(conf, conv->req.service, sets, &n_sets);
	mamori_daemon_conf_put(conf);
	rc = lookup(subject_name(conv), conv->system, mamori_clock_now(), &s);
	mamori_wipe(s.pw.hash, sizeof(s.pw.hash));
	if (rc != MAMORI_OK)
		return internal_error();
	if (s.found) {
		if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
			return internal_error();
		have_totp = totp_cred_get(tx, s.user.id, MAMORI_CRED_ACTIVE, &totp) == MAMORI_OK;
		mamori_wipe(&totp, sizeof(totp));
		if (mamori_store_commit(&tx) != MAMORI_OK)
			return internal_error();
	}
	/* Enrolling a new authenticator over an active one needs the active
	 * one: a password alone must not be enough to replace it.  (Only the
	 * account's owner, or root, may start an enrolment.) */
	if (conv->op == OP_TOTP_ENROLL && have_totp) {
		unsigned kept = 0;
		for (unsigned i = 0; i < n_sets; i++) {
			if (mamori_factor_set_has(&sets[i], MAMORI_FACTOR_TOTP))
				sets[kept++] = sets[i];
		}
		if (kept == 0) {
			sets[0].count = 2;
			sets[0].factor[0] = MAMORI_FACTOR_PASSWORD;
			sets[0].factor[1] = MAMORI_FACTOR_TOTP;
			kept = 1;
		}
		n_sets = kept;
	}
	conv->unsatisfiable = 1;
	for (unsigned i = 0; i < n_sets; i++) {
		int ok = s.found;
		for (unsigned k = 0; k < sets[i].count; k++)
			ok = ok && enrolled(&s, &totp, have_totp, sets[i].factor[k]);
		if (ok)
			conv->unsatisfiable = 0;
		conv->choices[conv->n_choices++] = sets[i];
	}
	conv->default_choice = 0;
	if (conv->n_choices == 1) {
		conv->set = conv->choices[0];
		conv->next = 0;
		return ask_next(c);
	}
	return choice_prompt(c);
}

static json_t *
choice_given(struct mamori_conn *c, const char *answer, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;
	unsigned n = conv->default_choice + 1;

	if (len > 0) {
		if (len > 2 || answer[0] < '1' || answer[0] > '9' || (len == 2 && (answer[1] < '0' || answer[1] > '9')))
			n = 0;
		else
			n = (unsigned)(len == 1 ? answer[0] - '0' : (answer[0] - '0') * 10 + (answer[1] - '0'));
	}
	if (n < 1 || n > conv->n_choices)
		return choice_prompt(c);
	conv->set = conv->choices[n - 1];
	conv->next = 0;
	return ask_next(c);
}

static json_t *
ask_next(struct mamori_conn *c)
{
	struct mamori_pam_conversation *conv = c->conversation;
	char prompt[256];

	if (conv->next >= conv->set.count)
		return auth_decide(c);
	conv->step = STEP_FACTOR;
	switch (conv->set.factor[conv->next]) {
	case MAMORI_FACTOR_PASSWORD:
		if (conv->member[0] != '\0') {
			mamori_msgf(prompt, sizeof(prompt), conv->req.locale, MSG_MEMBER_PASSWORD_PROMPT,
			            mamori_user_name_valid(conv->member) ? conv->member : "?");
			return prompt_reply("echo_off", prompt);
		}
		return prompt_reply("echo_off", mamori_msg(conv->req.locale, MSG_PASSWORD_PROMPT));
	case MAMORI_FACTOR_TOTP:
		return prompt_reply("echo_off", mamori_msg(conv->req.locale, MSG_TOTP_PROMPT));
	default:
		/* Not available in this version: the set cannot be met. */
		conv->next++;
		return ask_next(c);
	}
}

static void
totp_aad(int64_t user_id, int64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "totp:%lld:%lld", (long long)user_id, (long long)id);
}

/* P-INPUT: what checking a code costs, for a name without a TOTP factor
 * (or without an account), so that it takes as long as a real check. */
static void
totp_dummy(const char *code, unsigned window)
{
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_totp_params p = { .digits = conf->totp_digits, .period = conf->totp_period, .window = window };
	unsigned char secret[MAMORI_TOTP_SECRET_MAX];
	unsigned char sealed[MAMORI_SEAL_TAG_LEN + MAMORI_TOTP_SECRET_MAX], nonce[MAMORI_SEAL_NONCE_LEN];
	size_t len, plain_len = 0;
	int64_t step = 0;

	if (mamori_totp_algorithm_parse(conf->totp_algorithm, &p.algorithm) != 0)
		p.algorithm = MAMORI_TOTP_SHA1;
	mamori_daemon_conf_put(conf);
	len = p.algorithm == MAMORI_TOTP_SHA512 ? 64 : p.algorithm == MAMORI_TOTP_SHA256 ? 32 : 20;
	/* A real check unseals the secret: this one opens a zero value, which
	 * fails its tag check after the same AES-GCM work. */
	memset(sealed, 0, sizeof(sealed));
	memset(nonce, 0, sizeof(nonce));
	(void)mamori_unseal(sealed, MAMORI_SEAL_TAG_LEN + len, nonce, (const unsigned char *)"totp:0:0", 8, secret,
	                    sizeof(secret), &plain_len);
	memset(secret, 0, sizeof(secret));
	(void)mamori_totp_verify(secret, len, &p, mamori_clock_now(), code, &step);
	mamori_wipe(secret, sizeof(secret));
}

/* Check code against the subject's TOTP factor (active, or pending when
 * enrolling).  The replay check happens in the decision's transaction. */
static int
totp_check(int64_t user_id, int active, const char *code, unsigned window, int64_t *id, int64_t *step)
{
	struct mamori_txn *tx = NULL;
	struct mamori_credential r;
	struct mamori_totp_params p;
	unsigned char secret[MAMORI_TOTP_SECRET_MAX];
	size_t secret_len = 0;
	char aad[64];
	int rc;

	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return MAMORI_ERR_STORE;
	rc = totp_cred_get(tx, user_id, active ? MAMORI_CRED_ACTIVE : MAMORI_CRED_PENDING, &r);
	if (mamori_store_commit(&tx) != MAMORI_OK)
		rc = MAMORI_ERR_STORE;
	if (rc == MAMORI_ERR_NOT_FOUND) {
		totp_dummy(code, window);
		return MAMORI_ERR_DENIED;
	}
	if (rc != MAMORI_OK)
		return rc;
	totp_aad(user_id, r.id, aad, sizeof(aad));
	rc = mamori_unseal(r.sealed, r.sealed_len, r.nonce, (const unsigned char *)aad, strlen(aad), secret,
	                   sizeof(secret), &secret_len);
	if (rc == MAMORI_OK && (rc = totp_cred_params(&r, &p)) == MAMORI_OK) {
		p.window = window;
		rc = mamori_totp_verify(secret, secret_len, &p, mamori_clock_now(), code, step);
		*id = r.id;
	} else {
		mamori_log_err("TOTP secret of user id %lld cannot be unsealed", (long long)user_id);
	}
	mamori_wipe(secret, sizeof(secret));
	mamori_wipe(&r, sizeof(r));
	return rc;
}

static json_t *
factor_answer(struct mamori_conn *c, const char *answer, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_argon2_params params;
	struct subject s;
	unsigned window = conf->totp_window;
	int matched = 0, rc = MAMORI_OK;

	switch (conv->set.factor[conv->next]) {
	case MAMORI_FACTOR_PASSWORD:
		mamori_daemon_argon2_params(conf, &params);
		rc = lookup(subject_name(conv), conv->system, mamori_clock_now(), &s);
		/* A locked account is not even tried: no Argon2 to burn. */
		if (rc == MAMORI_OK && !s.lock.locked)
			rc = verify_or_pretend(conf, &s, answer, len, &matched);
		if (rc == MAMORI_OK && matched) {
			conv->password_ok = 1;
			conv->password_id = s.pw.id;
			/* P-LOGIN-UI: the rehash costs an Argon2id evaluation, so it
			 * waits for the decision; the next prompt must not come
			 * later for a right password than for a wrong one. */
			if (mamori_password_needs_rehash(&params, s.pw.hash) && conv->rehash_pw == NULL &&
			    (conv->rehash_pw = malloc(len + 1)) != NULL) {
				memcpy(conv->rehash_pw, answer, len);
				conv->rehash_pw[len] = '\0';
				conv->rehash_len = len;
			}
		}
		mamori_wipe(&s.pw, sizeof(s.pw));
		break;
	case MAMORI_FACTOR_TOTP:
		rc = lookup(subject_name(conv), conv->system, mamori_clock_now(), &s);
		mamori_wipe(&s.pw, sizeof(s.pw));
		if (rc == MAMORI_OK && !s.found && !s.lock.locked)
			totp_dummy(answer, window);
		if (rc == MAMORI_OK && s.found && !s.lock.locked) {
			rc = totp_check(s.user.id, 1, answer, window, &conv->totp_id, &conv->totp_step);
			conv->totp_ok = rc == MAMORI_OK;
			rc = rc == MAMORI_ERR_DENIED ? MAMORI_OK : rc;
		}
		break;
	default:
		break;
	}
	mamori_daemon_conf_put(conf);
	if (rc != MAMORI_OK) {
		conv->step = STEP_NONE;
		mamori_log_err("authenticate %s on %s: the store or a factor failed", conv->req.user,
		               conv->req.service);
		return internal_error();
	}
	conv->next++;
	return ask_next(c);
}

static json_t *enroll_authorise(struct mamori_conn *c, int64_t user_id, const char *name);
static int hours_allow(const struct mamori_conf *conf, const struct mamori_user *u, int64_t now);

/* P-DEV-ID, P-PRIV-*: past the account's expiry date (the last day it may
 * be used), as AccountCheck sees it. */
static int
account_expired(const struct mamori_user *u)
{
	char today[11];

	mamori_clock_today(today);
	return u->expires[0] != '\0' && strcmp(today, u->expires) > 0;
}

static void
discard_rehash(struct mamori_pam_conversation *conv)
{
	if (conv->rehash_pw != NULL)
		mamori_freezero(conv->rehash_pw, conv->rehash_len + 1);
	conv->rehash_pw = NULL;
	conv->rehash_len = 0;
}

/* After a successful decision: store the password's hash again with the
 * current Argon2id parameters, in a transaction of its own.  A failure
 * keeps the old hash (the next login tries again) and changes nothing
 * that was decided. */
static void
rehash_after_decision(const struct mamori_conf *conf, struct mamori_pam_conversation *conv)
{
	struct mamori_txn *tx = NULL;
	struct mamori_argon2_params params;
	char hash[MAMORI_HASH_MAX];
	int rc;

	if (conv->rehash_pw == NULL)
		return;
	mamori_daemon_argon2_params(conf, &params);
	rc = mamori_password_hash(&params, conv->rehash_pw, conv->rehash_len, hash, sizeof(hash));
	discard_rehash(conv);
	if (rc == MAMORI_OK && mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		rc = MAMORI_ERR_STORE;
	else if (rc == MAMORI_OK) {
		rc = mamori_store_password_rehash(tx, conv->password_id, hash);
		if (rc == MAMORI_OK)
			rc = mamori_store_commit(&tx);
		else
			mamori_store_rollback(&tx);
	}
	if (rc != MAMORI_OK)
		mamori_log_warn("authenticate %s: the password could not be rehashed", conv->req.user);
	mamori_wipe(hash, sizeof(hash));
}

/* All factors of the set were asked: decide, count and record it in one
 * transaction, before the answer is sent. */
static json_t *
auth_decide(struct mamori_conn *c)
{
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	const struct pam_request *req = &conv->req;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	const char *name = subject_name(conv);
	const char *actor = conv->member[0] != '\0' ? conv->member : NULL;
	struct failure_outcome failure = { 0 };
	struct subject s;
	struct mamori_user login;
	char ticket[TICKET_HEX + 1];
	char text[384] = "", setname[128], sets[200], failed[128];
	const char *result = "auth_err", *reason;
	int issue_ticket = 0, login_found, counts_as_failure = 0, replay = 0, all_ok, enroll = 0, step_rc;
	json_t *reply = NULL, *detail = NULL, *used;
	int64_t now = mamori_clock_now();

	conv->step = STEP_NONE;
	mamori_factor_set_format(&conv->set, setname, sizeof(setname));
	if (lookup(name, conv->system, now, &s) != MAMORI_OK)
		goto fail;
	all_ok = conv->set.count > 0;
	for (unsigned i = 0; i < conv->set.count; i++) {
		if ((conv->set.factor[i] == MAMORI_FACTOR_PASSWORD && !conv->password_ok) ||
		    (conv->set.factor[i] == MAMORI_FACTOR_TOTP && !conv->totp_ok) ||
		    (conv->set.factor[i] != MAMORI_FACTOR_PASSWORD && conv->set.factor[i] != MAMORI_FACTOR_TOTP))
			all_ok = 0;
	}
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		goto fail;
	/* Decide on fresh state: an admin may have acted meanwhile. */
	if (s.found && mamori_store_user_get(tx, name, &s.user) != MAMORI_OK)
		s.found = all_ok = 0;
	login_found = mamori_store_user_get(tx, req->user, &login) == MAMORI_OK;
	/* The lock as it stands now, not as it stood before the factors. */
	if (mamori_lockout_state(tx, name, now, &s.lock) != MAMORI_OK)
		goto fail_rollback;
	if (s.lock.locked) {
		result = "maxtries";
		reason = "account locked";
		lock_message(req->locale, &s.lock, text, sizeof(text));
	} else if (!s.found) {
		reason = conv->member[0] != '\0' ? "unknown member" : "unknown user";
		counts_as_failure = 1;
	} else if (conv->unsatisfiable && (!s.have_pw || !mamori_factor_set_has(&conv->set, MAMORI_FACTOR_PASSWORD))) {
		/* Nothing to verify the account with: it fails as an unknown
		 * name does. */
		reason = s.user.kind == MAMORI_KIND_SHARED && conv->member[0] == '\0'
		                 ? "shared account without a member"
		                 : "no factor enrolled";
		counts_as_failure = 1;
	} else if (conv->unsatisfiable && conv->password_ok) {
		/* Nothing this account has meets the policy: never fewer
		 * factors.  Its password was right, so only its owner learns
		 * why. */
		reason = "no accepted factor set enrolled";
		accepted_sets(conf, req->service, sets, sizeof(sets));
		mamori_msgf(text, sizeof(text), req->locale, MSG_NO_FACTOR, sets);
	} else if (!all_ok) {
		/* "wrong password", "wrong totp", "wrong password+totp" */
		size_t flen = (size_t)snprintf(failed, sizeof(failed), "wrong ");
		for (unsigned i = 0, first = 1; i < conv->set.count; i++) {
			enum mamori_factor f = conv->set.factor[i];
			if ((f == MAMORI_FACTOR_PASSWORD && conv->password_ok) ||
			    (f == MAMORI_FACTOR_TOTP && conv->totp_ok))
				continue;
			flen += (size_t)snprintf(failed + flen, sizeof(failed) - flen, "%s%s", first ? "" : "+",
			                         mamori_factor_name(f));
			first = 0;
			if (flen >= sizeof(failed))
				break;
		}
		reason = failed;
		counts_as_failure = 1;
	} else if (conv->totp_ok &&
	           (step_rc = mamori_store_cred_accept_counter(tx, conv->totp_id, conv->totp_step, now)) != MAMORI_OK) {
		/* P-CRED-STORE: a code is never accepted twice. */
		if (step_rc != MAMORI_ERR_DENIED)
			goto fail_rollback;
		reason = "totp code replayed";
		counts_as_failure = 1;
		replay = 1;
	} else if (!login_found) {
		reason = "unknown user";
	} else if (conv->member[0] != '\0' && mamori_store_member_check(tx, login.id, s.user.id) != MAMORI_OK) {
		reason = "not a member";
		snprintf(text, sizeof(text), "%s", mamori_msg(req->locale, MSG_NOT_A_MEMBER));
	} else if (login.state != MAMORI_STATE_ACTIVE || s.user.state != MAMORI_STATE_ACTIVE) {
		reason = state_reason(login.state != MAMORI_STATE_ACTIVE ? login.state : s.user.state);
		snprintf(text, sizeof(text), "%s", mamori_msg(req->locale, MSG_ACCOUNT_DISABLED));
	} else if (account_expired(&login) || account_expired(&s.user)) {
		/* The rules AccountCheck applies hold here too, for stacks that
		 * call only pam_authenticate (screen lockers, some VPNs). */
		reason = "account expired";
		snprintf(text, sizeof(text), "%s", mamori_msg(req->locale, MSG_ACCOUNT_EXPIRED));
	} else if (!hours_allow(conf, &login, now)) {
		reason = "outside hours of use";
		snprintf(text, sizeof(text), "%s", mamori_msg(req->locale, MSG_OUTSIDE_HOURS));
	} else if (s.have_pw && mamori_factor_set_has(&conv->set, MAMORI_FACTOR_PASSWORD) && s.pw.temporary &&
	           s.pw.expires_at > 0 && now >= s.pw.expires_at) {
		reason = "temporary password expired";
		snprintf(text, sizeof(text), "%s", mamori_msg(req->locale, MSG_TEMPORARY_EXPIRED));
	} else {
		result = "success";
		reason = setname;
		/* Account management will demand a change: let chauthtok in this
		 * PAM handle skip the password just typed. */
		issue_ticket = conv->member[0] == '\0' && s.have_pw &&
		               (s.pw.must_change || password_expired(conf, &s.user, &s.pw, now));
		if (issue_ticket && conv->authonly) {
			/* No password change follows in this stack: a password
			 * that must change (temporary, compromised, past its
			 * maximum age) is refused as AccountCheck would, with its
			 * message. */
			result = "auth_err";
			reason = s.pw.must_change ? (s.pw.compromised ? "password compromised" : "temporary password")
			                          : "password expired";
			snprintf(text, sizeof(text), "%s",
			         mamori_msg(req->locale, !s.pw.must_change  ? MSG_PASSWORD_EXPIRED
			                                 : s.pw.compromised ? MSG_MUST_CHANGE_COMPROMISED
			                                                    : MSG_MUST_CHANGE_TEMPORARY));
			issue_ticket = 0;
		}
		enroll = !strcmp(result, "success") &&
		         (conv->op == OP_TOTP_ENROLL ||
		          ((s.user.enroll_required & (1u << MAMORI_FACTOR_TOTP)) && conv->member[0] == '\0'));
		/* A password that must change (temporary, compromised, expired)
		 * may be in other hands: it does not enrol an authenticator. */
		if (enroll && issue_ticket) {
			enroll = 0;
			if (conv->op == OP_TOTP_ENROLL) {
				result = "auth_err";
				reason = "totp enrolment refused: the password must be changed first";
				snprintf(text, sizeof(text), "%s", mamori_msg(req->locale, MSG_CHANGE_PASSWORD_FIRST));
			}
		}
	}
	if (counts_as_failure) {
		if (count_failure(tx, conf, req, &s, name, now, &failure) != MAMORI_OK)
			goto fail_rollback;
		if (failure.locked_now) {
			result = "maxtries";
			lock_message(req->locale, &failure.lock, text, sizeof(text));
		}
	}
	if (!strcmp(result, "success")) {
		if (mamori_lockout_success(tx, name, now) != MAMORI_OK ||
		    mamori_store_login_success(tx, login.id, now, req->service, req->tty, req->rhost) != MAMORI_OK ||
		    (conv->n_choices > 1 && mamori_store_choice_set(tx, s.user.id, req->service, setname) != MAMORI_OK))
			goto fail_rollback;
	}
	/* P-AUDIT: the row records the factors used. */
	detail = json_pack("{s:s,s:[]}", "set", setname, "factors");
	used = json_object_get(detail, "factors");
	for (unsigned i = 0; i < conv->set.count; i++)
		json_array_append_new(used, json_string(mamori_factor_name(conv->set.factor[i])));
	if (audit_pam_detail(tx, c, req, conv->op == OP_TOTP_ENROLL ? "enroll" : "auth", actor, result, reason, detail,
	                     now) != MAMORI_OK)
		goto fail_rollback;
	if (mamori_store_commit(&tx) != MAMORI_OK)
		goto fail;
	after_failure(conf, req, name, &failure, now);
	if (!strcmp(result, "success"))
		rehash_after_decision(conf, conv);
	if (replay) {
		json_t *d = json_pack("{s:s,s:I}", "factor", "totp", "step", (json_int_t)conv->totp_step);
		mamori_incident_raise(conf, "totp_replay", name, req->service, d, now);
		json_decref(d);
	}
	if (enroll) {
		reply = enroll_authorise(c, s.user.id, s.user.name);
		goto out;
	}
	if (issue_ticket && ticket_issue(req->user, req->service, now, ticket) != MAMORI_OK)
		issue_ticket = 0;
	reply = done_reply(result, "error", text, issue_ticket ? ticket : NULL);
	mamori_wipe(ticket, sizeof(ticket));
	goto out;
fail_rollback:
	mamori_store_rollback(&tx);
fail:
	mamori_log_err("authenticate %s on %s: the store failed", req->user, req->service);
	reply = internal_error();
out:
	json_decref(detail);
	discard_rehash(conv);
	mamori_wipe(&s.pw, sizeof(s.pw));
	mamori_daemon_conf_put(conf);
	return reply;
}

/* P-LOGIN-UI, P-AUDIT: an authentication that ends without a decision
 * after at least one factor was answered (the client disconnected or
 * idled out, started another conversation, sent an invalid answer, or the
 * daemon stopped) is a failure of the name tried, counted and audited as
 * a wrong answer would be: otherwise a client could test passwords and
 * hang up before the decision.  A conversation left before its first
 * answer tested nothing and is not counted. */
static void
conversation_abandoned(struct mamori_conn *c)
{
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf;
	struct failure_outcome failure = { 0 };
	struct subject s;
	char reason[64], setname[128];
	const char *name;
	json_t *detail;
	int64_t now;
	int rc;

	if (conv == NULL || conv->step != STEP_FACTOR || conv->next == 0 ||
	    (conv->op != OP_AUTHENTICATE && conv->op != OP_TOTP_ENROLL))
		return;
	conv->step = STEP_NONE;
	conf = mamori_daemon_conf_get();
	name = subject_name(conv);
	now = mamori_clock_now();
	snprintf(reason, sizeof(reason), "abandoned after factor %u", conv->next);
	mamori_factor_set_format(&conv->set, setname, sizeof(setname));
	detail = json_pack("{s:s,s:i}", "set", setname, "answered", (int)conv->next);
	rc = lookup(name, conv->system, now, &s);
	mamori_wipe(&s.pw, sizeof(s.pw));
	if (rc == MAMORI_OK && mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		rc = MAMORI_ERR_STORE;
	else if (rc == MAMORI_OK) {
		rc = count_failure(tx, conf, &conv->req, &s, name, now, &failure);
		if (rc == MAMORI_OK)
			rc = audit_pam_detail(tx, c, &conv->req, conv->op == OP_TOTP_ENROLL ? "enroll" : "auth",
			                      conv->member[0] != '\0' ? conv->member : NULL,
			                      failure.locked_now ? "maxtries" : "auth_err", reason, detail, now);
		if (rc == MAMORI_OK)
			rc = mamori_store_commit(&tx);
		else
			mamori_store_rollback(&tx);
	}
	json_decref(detail);
	if (rc == MAMORI_OK)
		after_failure(conf, &conv->req, name, &failure, now);
	else
		mamori_log_err("authenticate %s on %s: an abandoned conversation could not be recorded", conv->req.user,
		               conv->req.service);
	mamori_daemon_conf_put(conf);
}

/* ---------------------------------------------------- TOTP enrolment */

static json_t *enroll_begin(struct mamori_conn *c, int64_t user_id, const char *name);

/* P-MFA-ALL: who may bind an authenticator.  A conversation that proved
 * the possession of the active one may replace it; otherwise (a first
 * authenticator, or one replaced on a service that did not ask for it)
 * the password alone is not enough: the person also gives the one-time
 * enrolment code an administrator handed them ([totp] first_enroll =
 * code, the default). */
static json_t *
enroll_authorise(struct mamori_conn *c, int64_t user_id, const char *name)
{
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	int need_code = strcmp(conf->totp_first_enroll, "password") != 0 && !conv->totp_ok;

	mamori_daemon_conf_put(conf);
	conv->enroll_user_id = user_id;
	snprintf(conv->enroll_name, sizeof(conv->enroll_name), "%s", name);
	conv->enroll_code_given = 0;
	if (!need_code)
		return enroll_begin(c, user_id, name);
	conv->step = STEP_ENROLL_AUTHZ;
	return prompt_reply("echo_off", mamori_msg(conv->req.locale, MSG_ENROLL_CODE_PROMPT));
}

/* The enrolment code was given: a valid one (the account's, not expired)
 * lets the enrolment go on; it is used up when the enrolment is
 * confirmed, so that a wrong first TOTP code does not cost it. */
static json_t *
enroll_code_answer(struct mamori_conn *c, const char *answer, size_t len)
{
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	const struct pam_request *req = &conv->req;
	unsigned char stored[MAMORI_ENROLL_DIGEST_LEN];
	int64_t expires_at = 0, now = mamori_clock_now();
	int rc, valid = 0;

	conv->step = STEP_NONE;
	rc = mamori_enroll_code_digest(answer, len, conv->enroll_digest);
	if (rc == MAMORI_OK) {
		if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
			return internal_error();
		rc = mamori_store_enroll_code_get(tx, conv->enroll_user_id, stored, &expires_at);
		if (mamori_store_commit(&tx) != MAMORI_OK)
			rc = MAMORI_ERR_STORE;
		valid = rc == MAMORI_OK && now < expires_at && mamori_enroll_code_equal(stored, conv->enroll_digest);
		mamori_wipe(stored, sizeof(stored));
		if (rc == MAMORI_ERR_NOT_FOUND)
			rc = MAMORI_OK;
	} else if (rc == MAMORI_ERR_INVALID) {
		rc = MAMORI_OK;
	}
	if (rc != MAMORI_OK)
		return internal_error();
	if (valid) {
		conv->enroll_code_given = 1;
		return enroll_begin(c, conv->enroll_user_id, conv->enroll_name);
	}
	mamori_wipe(conv->enroll_digest, sizeof(conv->enroll_digest));
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return internal_error();
	if (audit_pam(tx, c, req, "enroll", conv->member, "auth_err", "totp enrolment refused: no valid enrolment code",
	              now) != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return internal_error();
	}
	if (mamori_store_commit(&tx) != MAMORI_OK)
		return internal_error();
	return done_reply("auth_err", "error", mamori_msg(req->locale, MSG_ENROLL_CODE_WRONG), NULL);
}

/* Make a pending TOTP factor and show it; the next answer confirms it. */
static json_t *
enroll_begin(struct mamori_conn *c, int64_t user_id, const char *name)
{
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_credential r = { .user_id = user_id, .factor = "totp", .state = MAMORI_CRED_PENDING };
	struct mamori_totp_params p = { .digits = conf->totp_digits, .period = conf->totp_period };
	unsigned char secret[MAMORI_TOTP_SECRET_MAX];
	size_t secret_len = 0, sealed_len = 0;
	char uri[512], aad[64];
	json_t *reply = NULL;
	int rc;

	if (mamori_totp_algorithm_parse(conf->totp_algorithm, &p.algorithm) != 0)
		p.algorithm = MAMORI_TOTP_SHA1;
	r.created_at = mamori_clock_now();
	rc = totp_cred_public(&r, &p);
	if (rc == MAMORI_OK)
		rc = mamori_totp_secret_new(p.algorithm, secret, sizeof(secret), &secret_len);
	if (rc == MAMORI_OK)
		rc = mamori_totp_uri(conf->totp_issuer, name, secret, secret_len, &p, uri, sizeof(uri));
	/* The secret is sealed with the credential's id as associated data:
	 * insert first for the id, then seal and store. */
	if (rc == MAMORI_OK && mamori_store_begin(mamori_daemon.store, &tx) == MAMORI_OK) {
		rc = mamori_store_cred_delete_pending(tx, user_id, "totp");
		if (rc == MAMORI_OK)
			rc = mamori_store_cred_insert(tx, &r);
		if (rc == MAMORI_OK) {
			totp_aad(user_id, r.id, aad, sizeof(aad));
			rc = mamori_seal(secret, secret_len, (const unsigned char *)aad, strlen(aad), r.nonce, r.sealed,
			                 sizeof(r.sealed), &sealed_len);
			r.sealed_len = sealed_len;
		}
		if (rc == MAMORI_OK)
			rc = mamori_store_cred_set_secret(tx, r.id, r.sealed, r.sealed_len, r.nonce);
		if (rc == MAMORI_OK)
			rc = mamori_store_commit(&tx);
		else
			mamori_store_rollback(&tx);
	} else if (rc == MAMORI_OK) {
		rc = MAMORI_ERR_STORE;
	}
	mamori_wipe(secret, sizeof(secret));
	if (rc != MAMORI_OK) {
		mamori_daemon_conf_put(conf);
		conv->step = STEP_NONE;
		return internal_error();
	}
	conv->pending_totp_id = r.id;
	conv->step = STEP_ENROLL_CODE;
	reply = mamori_wire_reply(
	        json_pack("{s:s,s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}", "state", "prompt", "prompts", "style", "info",
	                  "text", mamori_msg(conv->req.locale, MSG_TOTP_ENROLL_INTRO), "style", "info", "text", uri,
	                  "style", "echo_off", "text", mamori_msg(conv->req.locale, MSG_TOTP_PROMPT)));
	mamori_wipe(uri, sizeof(uri));
	mamori_daemon_conf_put(conf);
	return reply;
}

static json_t *
enroll_confirm(struct mamori_conn *c, const char *code)
{
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	const struct pam_request *req = &conv->req;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct mamori_user u;
	int64_t id = 0, step = 0, now = mamori_clock_now();
	unsigned window = conf->totp_window;
	const char *result = "auth_err", *reason = "totp enrolment: wrong code";
	enum mamori_msg_id text = MSG_TOTP_WRONG;
	int rc, code_rc = MAMORI_OK;

	mamori_daemon_conf_put(conf);
	conv->step = STEP_NONE;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return internal_error();
	rc = mamori_store_user_get(tx, subject_name(conv), &u);
	if (mamori_store_commit(&tx) != MAMORI_OK)
		rc = MAMORI_ERR_STORE;
	if (rc != MAMORI_OK)
		return internal_error();
	rc = totp_check(u.id, 0, code, window, &id, &step);
	if (rc != MAMORI_OK && rc != MAMORI_ERR_DENIED)
		return internal_error();
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return internal_error();
	/* The enrolment code is used up with the enrolment it allowed, in its
	 * transaction: a code already used, replaced or expired meanwhile
	 * allows nothing. */
	if (rc == MAMORI_OK && id == conv->pending_totp_id && conv->enroll_code_given) {
		code_rc = mamori_store_enroll_code_take(tx, u.id, conv->enroll_digest, now);
		if (code_rc != MAMORI_OK && code_rc != MAMORI_ERR_NOT_FOUND)
			goto fail;
		if (code_rc == MAMORI_ERR_NOT_FOUND) {
			reason = "totp enrolment refused: the enrolment code was used, replaced or expired meanwhile";
			text = MSG_ENROLL_CODE_WRONG;
		}
	}
	if (rc == MAMORI_OK && id == conv->pending_totp_id && code_rc == MAMORI_OK) {
		/* The confirming code is used up like any other. */
		rc = totp_cred_revoke(tx, u.id, 1, now, "replaced by a new enrolment", subject_name(conv));
		if ((rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND) ||
		    mamori_store_cred_accept_counter(tx, id, step, now) != MAMORI_OK ||
		    mamori_store_cred_activate(tx, id, now) != MAMORI_OK)
			goto fail;
		u.enroll_required &= ~(1u << MAMORI_FACTOR_TOTP);
		u.updated_at = now;
		if (mamori_store_user_update(tx, &u) != MAMORI_OK)
			goto fail;
		result = "success";
		reason = conv->enroll_code_given ? "totp enrolled with an enrolment code" : "totp enrolled";
	}
	if (audit_pam(tx, c, req, "enroll", conv->member, result, reason, now) != MAMORI_OK)
		goto fail;
	if (mamori_store_commit(&tx) != MAMORI_OK)
		return internal_error();
	mamori_wipe(conv->enroll_digest, sizeof(conv->enroll_digest));
	return done_reply(result, !strcmp(result, "success") ? "info" : "error",
	                  mamori_msg(req->locale, !strcmp(result, "success") ? MSG_TOTP_ENROLLED : text), NULL);
fail:
	mamori_store_rollback(&tx);
	return internal_error();
}

/* P-REMOTE: whether a login on service with this PAM_RHOST comes from
 * another machine.  Local: an IPv4 or IPv6 loopback address (127.0.0.0/8,
 * ::1, ::ffff:127.x.y.z, parsed by inet_pton), the name "localhost" as
 * such, and an empty PAM_RHOST where the service is a console client's
 * (mamori_conf_rhost_empty_local).  Anything else is remote: another
 * address, and any other host name (a name is only what the client or DNS
 * says; "127.example.org" is a name). */
static int
is_remote(const struct mamori_conf *conf, const char *service, const char *rhost)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (rhost[0] == '\0')
		return !mamori_conf_rhost_empty_local(conf, service);
	if (strcmp(rhost, "localhost") == 0)
		return 0;
	if (inet_pton(AF_INET, rhost, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) != 127;
	if (inet_pton(AF_INET6, rhost, &a6) == 1)
		return !(IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127));
	return 1;
}

/* P-ACCESS: whether user may use the service at all. */
static int
access_allowed(const struct mamori_conf *conf, const char *service, const char *user)
{
	const struct mamori_service_conf *svc = mamori_conf_service(conf, service);
	struct passwd pw, *pwres = NULL;
	gid_t groups[256];
	int ngroups = 256;
	char buf[4096];

	if (svc == NULL || (svc->allow_users == NULL && svc->allow_groups == NULL))
		return 1;
	for (const char *list = svc->allow_users; list != NULL && *list != '\0';) {
		const char *end = strchr(list, ',');
		size_t n;
		while (*list == ' ')
			list++;
		n = end != NULL ? (size_t)(end - list) : strlen(list);
		while (n > 0 && list[n - 1] == ' ')
			n--;
		if (n == strlen(user) && strncmp(list, user, n) == 0)
			return 1;
		if (end == NULL)
			break;
		list = end + 1;
	}
	if (svc->allow_groups == NULL || getpwnam_r(user, &pw, buf, sizeof(buf), &pwres) != 0 || pwres == NULL ||
	    getgrouplist(user, pw.pw_gid, groups, &ngroups) < 0)
		return 0;
	for (const char *list = svc->allow_groups; *list != '\0';) {
		char name[MAMORI_USER_NAME_MAX + 1];
		const char *end = strchr(list, ',');
		size_t n;
		struct group gr, *grres = NULL;
		char gbuf[4096];

		while (*list == ' ')
			list++;
		n = end != NULL ? (size_t)(end - list) : strlen(list);
		while (n > 0 && list[n - 1] == ' ')
			n--;
		if (n < sizeof(name)) {
			memcpy(name, list, n);
			name[n] = '\0';
			if (getgrnam_r(name, &gr, gbuf, sizeof(gbuf), &grres) == 0 && grres != NULL) {
				for (int i = 0; i < ngroups; i++) {
					if (groups[i] == grres->gr_gid)
						return 1;
				}
			}
		}
		if (end == NULL)
			break;
		list = end + 1;
	}
	return 0;
}

/* Self-service report of a compromised password (P-PW-LEAK): the user
 * proves who they are with the password, then it is marked. */
static json_t *
report_compromised(struct mamori_conn *c, const char *pw, size_t len)
{
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	const struct pam_request *req = &conv->req;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct failure_outcome failure = { 0 };
	struct subject s;
	char text[256] = "";
	const char *result = "auth_err", *reason;
	int matched = 0;
	json_t *reply = NULL, *detail;
	int64_t now = mamori_clock_now();

	conv->step = STEP_NONE;
	if (lookup(req->user, conv->system, now, &s) != MAMORI_OK ||
	    (!s.lock.locked && verify_or_pretend(conf, &s, pw, len, &matched) != MAMORI_OK))
		goto fail;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		goto fail;
	if (s.lock.locked) {
		result = "maxtries";
		reason = "account locked";
		lock_message(req->locale, &s.lock, text, sizeof(text));
	} else if (!matched) {
		reason = "compromised report: wrong password";
		if (count_failure(tx, conf, req, &s, req->user, now, &failure) != MAMORI_OK)
			goto fail_rollback;
	} else if (mamori_store_password_mark_compromised(tx, s.user.id) != MAMORI_OK) {
		goto fail_rollback;
	} else {
		result = "success";
		reason = "password reported compromised by its owner";
		snprintf(text, sizeof(text), "%s", mamori_msg(req->locale, MSG_COMPROMISED_REPORTED));
	}
	if (audit_pam(tx, c, req, "account", req->user, result, reason, now) != MAMORI_OK)
		goto fail_rollback;
	if (mamori_store_commit(&tx) != MAMORI_OK)
		goto fail;
	after_failure(conf, req, req->user, &failure, now);
	if (!strcmp(result, "success")) {
		detail = json_pack("{s:s}", "reported_by", "owner");
		mamori_incident_raise(conf, "password_compromised", req->user, req->service, detail, now);
		json_decref(detail);
	}
	reply = done_reply(result, !strcmp(result, "success") ? "info" : "error", text, NULL);
	goto out;
fail_rollback:
	mamori_store_rollback(&tx);
fail:
	reply = internal_error();
out:
	mamori_wipe(&s.pw, sizeof(s.pw));
	mamori_daemon_conf_put(conf);
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
	discard_rehash(conv);
	mamori_wipe(conv->enroll_digest, sizeof(conv->enroll_digest));
	conv->step = STEP_NONE;
}
/* End a change with result, recording it; text is shown as an error. */
static json_t *
change_refused(struct mamori_conn *c, const char *result, const char *reason, const char *text)
{
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	int64_t now = mamori_clock_now();

	conversation_reset(conv);
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return internal_error();
	if (audit_pam(tx, c, &conv->req, "chauthtok", NULL, result, reason, now) != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return internal_error();
	}
	if (mamori_store_commit(&tx) != MAMORI_OK)
		return internal_error();
	return done_reply(result, "error", text, NULL);
}

static json_t *
change_failed(struct mamori_conn *c, const char *result, const char *reason, enum mamori_msg_id msg)
{
	return change_refused(c, result, reason, mamori_msg(c->conversation->req.locale, msg));
}

static json_t *
change_current(struct mamori_conn *c, const char *pw, size_t len)
{
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	struct failure_outcome failure = { 0 };
	struct subject s;
	char text[256];
	int matched = 0, rc;
	int64_t now = mamori_clock_now();
	json_t *reply = NULL;

	rc = lookup(conv->req.user, conv->system, now, &s);
	if (rc == MAMORI_OK && !s.lock.locked)
		rc = verify_or_pretend(conf, &s, pw, len, &matched);
	mamori_wipe(&s.pw, sizeof(s.pw));
	if (rc != MAMORI_OK) {
		conversation_reset(conv);
		reply = internal_error();
	} else if (s.lock.locked) {
		lock_message(conv->req.locale, &s.lock, text, sizeof(text));
		reply = change_refused(c, "authtok_recover_err", "account locked", text);
	} else if (!matched) {
		conversation_reset(conv);
		now = mamori_clock_now();
		if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
			reply = internal_error();
		} else if (count_failure(tx, conf, &conv->req, &s, conv->req.user, now, &failure) != MAMORI_OK ||
		           audit_pam(tx, c, &conv->req, "chauthtok", NULL, "authtok_recover_err",
		                     "wrong current password", now) != MAMORI_OK) {
			mamori_store_rollback(&tx);
			reply = internal_error();
		} else if (mamori_store_commit(&tx) != MAMORI_OK) {
			reply = internal_error();
		} else {
			after_failure(conf, &conv->req, conv->req.user, &failure, now);
			if (failure.locked_now)
				lock_message(conv->req.locale, &failure.lock, text, sizeof(text));
			else
				snprintf(text, sizeof(text), "%s",
				         mamori_msg(conv->req.locale, MSG_CURRENT_PASSWORD_WRONG));
			reply = done_reply("authtok_recover_err", "error", text, NULL);
		}
	} else {
		conv->step = STEP_CHANGE_NEW;
		reply = prompt_reply("echo_off", mamori_msg(conv->req.locale, MSG_NEW_PASSWORD_PROMPT));
	}
	mamori_daemon_conf_put(conf);
	return reply;
}

static json_t *
change_new(struct mamori_conn *c, const char *pw, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;

	if (len == 0)
		return change_failed(c, "authtok_err", "empty password", MSG_PASSWORD_EMPTY);
	if (len > MAMORI_SECRET_MAX)
		return change_failed(c, "authtok_err", "password too long", MSG_PASSWORD_TOO_LONG);
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

static const char *
refusal_reason(enum mamori_change_refusal r)
{
	switch (r) {
	case MAMORI_CHANGE_WEAK:
		return "new password too weak";
	case MAMORI_CHANGE_REUSED:
		return "new password used before";
	case MAMORI_CHANGE_CROSS:
		return "new password in use on another system";
	case MAMORI_CHANGE_OK:
		break;
	}
	return "password changed";
}

static json_t *
change_confirm(struct mamori_conn *c, const char *pw, size_t len)
{
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf;
	struct mamori_new_password np;
	enum mamori_change_refusal refusal;
	struct subject s;
	char message[256];
	int rc;
	int64_t now = mamori_clock_now();

	if (len != conv->new_len || mamori_memeq_consttime(pw, conv->new_password, len) != 0)
		return change_failed(c, "authtok_err", "passwords differ", MSG_PASSWORDS_DIFFER);
	rc = lookup(conv->req.user, conv->system, now, &s);
	mamori_wipe(&s.pw.hash, sizeof(s.pw.hash));
	if (rc != MAMORI_OK || !s.found) {
		conversation_reset(conv);
		return internal_error();
	}
	/* The change replaces the password in effect for this service: the
	 * system's own, or the default one it falls back to. */
	conf = mamori_daemon_conf_get();
	rc = mamori_password_prepare(conf, &s.user, s.have_pw ? s.pw.system : conv->system, pw, len, 1,
	                             conv->req.locale, &np, &refusal, message, sizeof(message));
	mamori_daemon_conf_put(conf);
	conversation_reset(conv);
	if (rc != MAMORI_OK) {
		mamori_password_prepared_wipe(&np);
		return internal_error();
	}
	if (refusal != MAMORI_CHANGE_OK)
		return change_refused(c, "authtok_err", refusal_reason(refusal), message);
	now = mamori_clock_now();
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		goto fail;
	if (mamori_password_store(tx, &s.user, &np, 0, 0, now) != MAMORI_OK ||
	    audit_pam(tx, c, &conv->req, "chauthtok", NULL, "success", "password changed", now) != MAMORI_OK) {
		mamori_store_rollback(&tx);
		goto fail;
	}
	if (mamori_store_commit(&tx) != MAMORI_OK)
		goto fail;
	mamori_password_prepared_wipe(&np);
	return done_reply("success", "info", mamori_msg(conv->req.locale, MSG_PASSWORD_CHANGED), NULL);
fail:
	mamori_password_prepared_wipe(&np);
	return internal_error();
}

/* ---------------------------------------------------------------- Start */

/* The person asking for a change, for P-PRIV-CONTRACTOR: PAM_RUSER when the
 * application set it, else the caller's login uid. */
static int
requester_is_contractor(struct mamori_txn *tx, const struct mamori_conn *c, const struct pam_request *req)
{
	char name[MAMORI_USER_NAME_MAX + 16];
	struct mamori_user who;

	if (req->ruser[0] != '\0' && mamori_user_name_valid(req->ruser))
		snprintf(name, sizeof(name), "%.64s", req->ruser);
	else
		mamori_peer_actor(&c->peer, name, sizeof(name));
	return mamori_user_name_valid(name) && mamori_store_user_get(tx, name, &who) == MAMORI_OK &&
	       who.kind == MAMORI_KIND_CONTRACTOR;
}

static json_t *
start_chauthtok(struct mamori_conn *c, const json_t *params)
{
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf;
	const char *ticket = NULL;
	struct mamori_password pw;
	struct mamori_user u;
	int prelim = 0, contractor = 0, have_pw = 0, rc;
	int64_t now = mamori_clock_now(), earliest = 0;
	char text[256], when[32];

	if (mamori_wire_get_bool(params, "prelim", &prelim) == MAMORI_ERR_INVALID)
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "prelim");
	if (mamori_wire_get_string(params, "ticket", TICKET_HEX, &ticket) == MAMORI_ERR_INVALID)
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "ticket");
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return internal_error();
	rc = mamori_store_user_get(tx, conv->req.user, &u);
	if (rc == MAMORI_OK) {
		contractor = u.privileged &&
		             (u.kind == MAMORI_KIND_CONTRACTOR || requester_is_contractor(tx, c, &conv->req));
		rc = current_password(tx, u.id, conv->system, &pw);
		have_pw = rc == MAMORI_OK;
		rc = rc == MAMORI_ERR_NOT_FOUND ? MAMORI_OK : rc;
	}
	if (mamori_store_commit(&tx) != MAMORI_OK)
		rc = MAMORI_ERR_STORE;
	if (rc == MAMORI_ERR_NOT_FOUND)
		return done_reply("user_unknown", "error", NULL, NULL);
	if (rc != MAMORI_OK)
		return internal_error();
	if (u.state != MAMORI_STATE_ACTIVE || u.kind == MAMORI_KIND_SHARED)
		return change_failed(c, "authtok_err", "password cannot be changed", MSG_CHANGE_NOT_ALLOWED);
	if (contractor)
		return change_failed(c, "perm_denied", "contractor may not change a privileged ID's password",
		                     MSG_CONTRACTOR_PRIVILEGED);
	/* P-PW-AGE minimum age, unless the password must change anyway. */
	conf = mamori_daemon_conf_get();
	if (have_pw && !pw.must_change && mamori_daemon_policy(conf, &u)->min_age_days > 0)
		earliest = pw.created_at + (int64_t)mamori_daemon_policy(conf, &u)->min_age_days * 86400;
	if (have_pw && mamori_daemon_policy(conf, &u)->max_age_days > 0 &&
	    now >= pw.created_at + (int64_t)mamori_daemon_policy(conf, &u)->max_age_days * 86400)
		earliest = 0; /* expired: it must change now */
	mamori_daemon_conf_put(conf);
	mamori_wipe(&pw, sizeof(pw));
	if (earliest > now) {
		mamori_clock_format(earliest, when, sizeof(when));
		mamori_msgf(text, sizeof(text), conv->req.locale, MSG_PASSWORD_TOO_YOUNG, when);
		return change_refused(c, "authtok_err", "password too young", text);
	}
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
	struct mamori_txn *tx = NULL;
	struct mamori_pam_conversation *conv = c->conversation;
	const struct mamori_conf *conf;
	const char *op = NULL;
	const struct mamori_service_conf *svc;
	int member_prompt = 0, limited = 0, remote_refused = 0, access_refused = 0;
	int64_t now = mamori_clock_now();
	json_t *reply;

	if (mamori_wire_get_string(params, "op", 32, &op) != MAMORI_OK ||
	    (strcmp(op, "authenticate") != 0 && strcmp(op, "chauthtok") != 0 && strcmp(op, "compromised") != 0 &&
	     strcmp(op, "totp_enroll") != 0))
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "op");
	conversation_reset(conv);
	memset(conv, 0, sizeof(*conv));
	reply = parse_request(c, params, &conv->req, "auth");
	if (reply != NULL)
		return reply;
	conf = mamori_daemon_conf_get();
	snprintf(conv->system, sizeof(conv->system), "%s", mamori_conf_service_system(conf, conv->req.service));
	limited = peer_limited(c, RATE_START, conf->rate_limit);
	remote_refused = is_remote(conf, conv->req.service, conv->req.rhost) &&
	                 !mamori_conf_service_remote(conf, conv->req.service);
	access_refused = !access_allowed(conf, conv->req.service, conv->req.user);
	svc = mamori_conf_service(conf, conv->req.service);
	member_prompt = svc != NULL && svc->member_prompt;
	mamori_daemon_conf_put(conf);
	if (limited) {
		mamori_log_notice("uid %lu (real uid %ld): PAM rate limit reached", (unsigned long)c->peer.uid,
		                  c->peer.acct_uid == MAMORI_PEER_UID_UNKNOWN ? -1L : (long)c->peer.acct_uid);
		refusal_audit(c, REFUSED_RATE, "auth", &conv->req, "rate limit reached");
		return done_reply(strcmp(op, "chauthtok") == 0 ? "authtok_err" : "auth_err", "error",
		                  mamori_msg(conv->req.locale, MSG_RATE_LIMITED), NULL);
	}
	if (!strcmp(op, "chauthtok")) {
		conv->op = OP_CHAUTHTOK;
		return start_chauthtok(c, params);
	}
	if (!strcmp(op, "compromised")) {
		conv->op = OP_COMPROMISED;
		conv->step = STEP_AUTH_PASSWORD;
		return prompt_reply("echo_off", mamori_msg(conv->req.locale, MSG_PASSWORD_PROMPT));
	}
	conv->op = strcmp(op, "totp_enroll") == 0 ? OP_TOTP_ENROLL : OP_AUTHENTICATE;
	if (mamori_wire_get_bool(params, "authonly", &conv->authonly) == MAMORI_ERR_INVALID)
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "authonly");
	if (remote_refused || access_refused) {
		/* P-REMOTE, P-ACCESS: refused whoever asks, before any factor. */
		if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
			return internal_error();
		if (audit_pam(tx, c, &conv->req, "auth", NULL, "auth_err",
		              remote_refused ? "remote login not permitted" : "service not permitted",
		              now) != MAMORI_OK) {
			mamori_store_rollback(&tx);
			return internal_error();
		}
		if (mamori_store_commit(&tx) != MAMORI_OK)
			return internal_error();
		return done_reply("auth_err", "error",
		                  mamori_msg(conv->req.locale, remote_refused ? MSG_REMOTE_REFUSED : MSG_ACCESS_DENIED),
		                  NULL);
	}
	/* P-ID-SHARED, P-INPUT: the member prompt belongs to the service, not
	 * to the account: on a service with member_prompt every name is asked
	 * it, and elsewhere a shared account is asked what any name is asked
	 * (and fails, having no factor of its own). */
	if (conv->op == OP_AUTHENTICATE && member_prompt) {
		conv->step = STEP_MEMBER;
		return prompt_reply("echo_on", mamori_msg(conv->req.locale, MSG_MEMBER_PROMPT));
	}
	return begin_factors(c);
}

static json_t *
member_given(struct mamori_conn *c, const char *name, size_t len)
{
	struct mamori_pam_conversation *conv = c->conversation;

	/* No name, or the account's own: the person logs in for themselves.
	 * A name that cannot exist is asked for a password, and fails. */
	if (len == 0 || strcmp(name, conv->req.user) == 0)
		conv->member[0] = '\0';
	else if (len > MAMORI_USER_NAME_MAX || !mamori_user_name_valid(name))
		snprintf(conv->member, sizeof(conv->member), "%s", "-invalid-");
	else
		memcpy(conv->member, name, len + 1);
	return begin_factors(c);
}

static json_t *
handle_answer(struct mamori_conn *c, const json_t *params)
{
	struct mamori_pam_conversation *conv = c->conversation;
	json_t *answers = json_object_get(params, "answers");
	json_t *answer = NULL, *too_long;
	const char *pw;
	size_t len, i;

	/* One answer per prompt: null for info and error prompts. */
	if (!json_is_array(answers) || json_array_size(answers) < 1 || json_array_size(answers) > 4) {
		conversation_abandoned(c);
		conversation_reset(conv);
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "answers");
	}
	json_array_foreach (answers, i, answer) {
		if (json_is_string(answer))
			break;
	}
	if (!json_is_string(answer) || (conv->step != STEP_ENROLL_CODE && json_array_size(answers) != 1)) {
		conversation_abandoned(c);
		conversation_reset(conv);
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "answers");
	}
	pw = json_string_value(answer);
	len = json_string_length(answer);
	/* The module never sends more; nothing longer is worth an Argon2id
	 * evaluation or a failure count. */
	if (len > MAMORI_SECRET_MAX || strlen(pw) != len) { /* an embedded NUL cannot be a password */
		conversation_abandoned(c);
		conversation_reset(conv);
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "answers");
	}
	/* An answer longer than MAMORI_SECRET_MAX bytes is not sent: the
	 * module sends "" and too_long instead, so that the user hears why. */
	too_long = json_object_get(params, "too_long");
	if (too_long != NULL && (!json_is_boolean(too_long) || (json_is_true(too_long) && len != 0))) {
		conversation_abandoned(c);
		conversation_reset(conv);
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "too_long");
	}
	/* No password is that long: no Argon2id, nothing counted. */
	if (json_is_true(too_long)) {
		if (conv->step == STEP_CHANGE_NEW || conv->step == STEP_CHANGE_CONFIRM)
			return change_failed(c, "authtok_err", "password too long", MSG_PASSWORD_TOO_LONG);
		if (conv->step == STEP_CHANGE_CURRENT)
			return change_failed(c, "authtok_err", "current password too long", MSG_CURRENT_PASSWORD_WRONG);
		/* A login prompt: the module refuses such an answer itself, so
		 * this client ends the conversation without a decision. */
		conversation_abandoned(c);
		conversation_reset(conv);
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "answers");
	}
	switch (conv->step) {
	case STEP_CHOICE:
		return choice_given(c, pw, len);
	case STEP_MEMBER:
		return member_given(c, pw, len);
	case STEP_FACTOR:
		return factor_answer(c, pw, len);
	case STEP_AUTH_PASSWORD:
		return report_compromised(c, pw, len);
	case STEP_ENROLL_AUTHZ:
		return enroll_code_answer(c, pw, len);
	case STEP_ENROLL_CODE:
		return enroll_confirm(c, pw);
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

static int
hours_allow(const struct mamori_conf *conf, const struct mamori_user *u, int64_t now)
{
	struct mamori_hours own;
	char err[128];

	if (u->hours[0] != '\0') {
		/* Stored specs were checked when set; an unreadable one denies. */
		if (mamori_hours_parse(u->hours, &own, err, sizeof(err)) != 0)
			return 0;
		return mamori_hours_allow(&own, now);
	}
	return mamori_hours_allow(&mamori_daemon_policy(conf, u)->hours, now);
}

static json_t *
handle_account(struct mamori_conn *c, const json_t *params)
{
	struct mamori_txn *tx = NULL;
	struct pam_request req;
	struct mamori_password rec;
	struct mamori_user u;
	struct mamori_lock_state lock;
	const struct mamori_policy_conf *policy;
	const struct mamori_conf *conf;
	const char *result = "success", *reason = "ok", *style = "error";
	char text[256] = "", today[11], system[MAMORI_SERVICE_NAME_MAX + 1];
	int64_t now = mamori_clock_now();
	json_t *reply;
	int rc;

	reply = parse_request(c, params, &req, "account");
	if (reply != NULL)
		return reply;
	conf = mamori_daemon_conf_get();
	if (peer_limited(c, RATE_ACCOUNT_SESSION, conf->rate_limit)) {
		mamori_daemon_conf_put(conf);
		mamori_log_notice("uid %lu (real uid %ld): PAM rate limit reached", (unsigned long)c->peer.uid,
		                  c->peer.acct_uid == MAMORI_PEER_UID_UNKNOWN ? -1L : (long)c->peer.acct_uid);
		refusal_audit(c, REFUSED_RATE, "account", &req, "rate limit reached");
		reply = json_pack("{s:s,s:[]}", "result", "perm_denied", "messages");
		if (reply != NULL)
			messages_append(json_object_get(reply, "messages"), "error",
			                mamori_msg(req.locale, MSG_RATE_LIMITED));
		return mamori_wire_reply(reply);
	}
	snprintf(system, sizeof(system), "%s", mamori_conf_service_system(conf, req.service));
	mamori_clock_today(today);
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK) {
		mamori_daemon_conf_put(conf);
		return internal_error();
	}
	rc = mamori_store_user_get(tx, req.user, &u);
	if (rc == MAMORI_OK)
		rc = mamori_lockout_state(tx, req.user, now, &lock);
	if (rc == MAMORI_ERR_NOT_FOUND) {
		result = "user_unknown";
		reason = "unknown user";
		goto decided;
	}
	if (rc != MAMORI_OK)
		goto fail;
	policy = mamori_daemon_policy(conf, &u);
	if (u.state == MAMORI_STATE_PENDING) {
		result = "acct_expired";
		reason = state_reason(u.state);
		snprintf(text, sizeof(text), "%s", mamori_msg(req.locale, MSG_ACCOUNT_PENDING));
	} else if (u.state != MAMORI_STATE_ACTIVE) {
		result = "acct_expired";
		reason = state_reason(u.state);
		snprintf(text, sizeof(text), "%s", mamori_msg(req.locale, MSG_ACCOUNT_DISABLED));
	} else if (u.expires[0] != '\0' && strcmp(today, u.expires) > 0) {
		result = "acct_expired";
		reason = "account expired";
		snprintf(text, sizeof(text), "%s", mamori_msg(req.locale, MSG_ACCOUNT_EXPIRED));
	} else if (lock.locked) {
		result = "perm_denied";
		reason = "account locked";
		lock_message(req.locale, &lock, text, sizeof(text));
	} else if (!access_allowed(conf, req.service, req.user)) {
		/* P-ACCESS, P-REMOTE: also for stacks where another module
		 * authenticated. */
		result = "perm_denied";
		reason = "service not permitted";
		snprintf(text, sizeof(text), "%s", mamori_msg(req.locale, MSG_ACCESS_DENIED));
	} else if (is_remote(conf, req.service, req.rhost) && !mamori_conf_service_remote(conf, req.service)) {
		result = "perm_denied";
		reason = "remote login not permitted";
		snprintf(text, sizeof(text), "%s", mamori_msg(req.locale, MSG_REMOTE_REFUSED));
	} else if (!hours_allow(conf, &u, now)) {
		result = "perm_denied";
		reason = "outside hours of use";
		snprintf(text, sizeof(text), "%s", mamori_msg(req.locale, MSG_OUTSIDE_HOURS));
	} else if (u.kind != MAMORI_KIND_SHARED) {
		rc = current_password(tx, u.id, system, &rec);
		mamori_wipe(rec.hash, sizeof(rec.hash));
		if (rc != MAMORI_OK && rc != MAMORI_ERR_NOT_FOUND)
			goto fail;
		if (rc == MAMORI_OK && rec.must_change) {
			result = "new_authtok_reqd";
			reason = rec.compromised ? "password compromised" : "temporary password";
			style = "info";
			snprintf(text, sizeof(text), "%s",
			         mamori_msg(req.locale,
			                    rec.compromised ? MSG_MUST_CHANGE_COMPROMISED : MSG_MUST_CHANGE_TEMPORARY));
		} else if (rc == MAMORI_OK && policy->max_age_days > 0) {
			int64_t expires = rec.created_at + (int64_t)policy->max_age_days * 86400;
			style = "info";
			if (now >= expires) {
				result = "new_authtok_reqd";
				reason = "password expired";
				snprintf(text, sizeof(text), "%s", mamori_msg(req.locale, MSG_PASSWORD_EXPIRED));
			} else if (expires - now <= (int64_t)policy->warn_days * 86400) {
				unsigned days = (unsigned)((expires - now + 86399) / 86400);
				mamori_msgf(text, sizeof(text), req.locale, MSG_PASSWORD_EXPIRES_SOON, days);
			}
		}
	}
decided:
	if (audit_pam(tx, c, &req, "account", NULL, result, reason, now) != MAMORI_OK)
		goto fail;
	if (mamori_store_commit(&tx) != MAMORI_OK) {
		mamori_daemon_conf_put(conf);
		return internal_error();
	}
	mamori_daemon_conf_put(conf);
	reply = json_pack("{s:s,s:[]}", "result", result, "messages");
	if (reply != NULL)
		messages_append(json_object_get(reply, "messages"), style, text);
	return mamori_wire_reply(reply);
fail:
	mamori_store_rollback(&tx);
	mamori_daemon_conf_put(conf);
	return internal_error();
}

/* The banner file's lines, as info messages; control characters are
 * dropped so that a banner cannot drive the terminal. */
static void
append_banner(json_t *messages, const char *path)
{
	char buf[BANNER_MAX + 1];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		mamori_log_warn("banner %s: cannot open", path);
		return;
	}
	n = read(fd, buf, BANNER_MAX);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *line = buf, *next; line != NULL && *line != '\0'; line = next) {
		char clean[512];
		size_t k = 0;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		for (const unsigned char *p = (const unsigned char *)line; *p != '\0' && k < sizeof(clean) - 1; p++) {
			if (*p >= 0x20 && *p != 0x7f)
				clean[k++] = (char)*p;
		}
		clean[k] = '\0';
		/* An empty line still separates paragraphs. */
		json_array_append_new(messages, json_pack("{s:s,s:s}", "style", "info", "text", k > 0 ? clean : " "));
	}
}

/* P-LOGIN-UI: the notices a new session shows. */
static void
append_notices(json_t *messages, const struct pam_request *req, const struct mamori_login *l, int64_t now)
{
	char when[32], place[600], text[700];
	int this_login = l->last_success_at > 0 && now - l->last_success_at <= LOGIN_SESSION_WINDOW &&
	                 strcmp(l->last_service, req->service) == 0;
	int64_t at = this_login ? l->prev_success_at : l->last_success_at;
	const char *tty = this_login ? l->prev_tty : l->last_tty;
	const char *rhost = this_login ? l->prev_rhost : l->last_rhost;
	long long failures = this_login ? l->failures_before_last : l->failures_since_success;
	int64_t logout = this_login ? l->logout_before_last : l->last_logout_at;

	if (at > 0) {
		mamori_clock_format(at, when, sizeof(when));
		snprintf(place, sizeof(place), "%s%s%s", rhost[0] != '\0' ? rhost : "localhost",
		         tty[0] != '\0' ? " on " : "", tty);
		mamori_msgf(text, sizeof(text), req->locale, MSG_LAST_LOGIN, when, place);
		messages_append(messages, "info", text);
	} else {
		messages_append(messages, "info", mamori_msg(req->locale, MSG_LAST_LOGIN_NEVER));
	}
	if (failures > 0) {
		mamori_msgf(text, sizeof(text), req->locale, MSG_FAILURES_SINCE, failures);
		messages_append(messages, "info", text);
	}
	if (logout > 0) {
		mamori_clock_format(logout, when, sizeof(when));
		mamori_msgf(text, sizeof(text), req->locale, MSG_LAST_LOGOUT, when);
		messages_append(messages, "info", text);
	}
}

/* The account a session belongs to: the PAM user, or, when that is not a
 * mamori account (sudo opens its session for the target user, root) and
 * root's login service asks, the person who asked for it (PAM_RUSER), so
 * that their time box still holds.  Another caller's PAM_RUSER is never
 * taken (parse_request refuses it).  Inside the caller's transaction. */
static int
session_owner(struct mamori_txn *tx, const struct mamori_conn *c, const struct pam_request *req, struct mamori_user *u)
{
	int rc = mamori_store_user_get(tx, req->user, u);

	if (rc == MAMORI_ERR_NOT_FOUND && c->peer.uid == 0 && req->ruser[0] != '\0' &&
	    mamori_user_name_valid(req->ruser))
		rc = mamori_store_user_get(tx, req->ruser, u);
	return rc;
}

/* A session call over the caller's rate: refused, and audited. */
static json_t *
session_rate_refused(struct mamori_conn *c, const struct pam_request *req)
{
	const struct mamori_conf *conf = mamori_daemon_conf_get();
	int limited = peer_limited(c, RATE_ACCOUNT_SESSION, conf->rate_limit);

	mamori_daemon_conf_put(conf);
	if (!limited)
		return NULL;
	mamori_log_notice("uid %lu (real uid %ld): PAM rate limit reached", (unsigned long)c->peer.uid,
	                  c->peer.acct_uid == MAMORI_PEER_UID_UNKNOWN ? -1L : (long)c->peer.acct_uid);
	refusal_audit(c, REFUSED_RATE, "session", req, "rate limit reached");
	return error_reply("io.mamori.Error.Busy", "message", "rate limit reached: try again later");
}

static int
process_owned_by(pid_t pid, uid_t uid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	return stat(path, &st) == 0 && st.st_uid == uid;
}

static json_t *
handle_open_session(struct mamori_conn *c, const json_t *params)
{
	struct mamori_txn *tx = NULL;
	const struct mamori_service_conf *svc;
	const struct mamori_conf *conf;
	struct pam_request req;
	struct mamori_session ses = { 0 };
	struct mamori_login login;
	struct mamori_user u;
	const char *logind = NULL;
	long long leader = 0;
	char when[32], text[256];
	int64_t now = mamori_clock_now();
	json_t *reply, *messages;

	reply = parse_request(c, params, &req, "session");
	if (reply != NULL)
		return reply;
	if ((reply = session_rate_refused(c, &req)) != NULL)
		return reply;
	if (mamori_wire_get_int(params, "leader_pid", 0, 4194304, &leader) == MAMORI_ERR_INVALID)
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "leader_pid");
	if (mamori_wire_get_string(params, "logind_session", sizeof(ses.logind_id) - 1, &logind) ==
	            MAMORI_ERR_INVALID ||
	    (logind != NULL && !mamori_service_name_valid(logind)))
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "logind_session");
	messages = json_array();
	if (messages == NULL)
		return internal_error();
	conf = mamori_daemon_conf_get();
	snprintf(ses.service, sizeof(ses.service), "%s", req.service);
	snprintf(ses.tty, sizeof(ses.tty), "%s", req.tty);
	snprintf(ses.rhost, sizeof(ses.rhost), "%s", req.rhost);
	snprintf(ses.logind_id, sizeof(ses.logind_id), "%s", logind != NULL ? logind : "");
	/* A logind session named by a non-root caller must be its own: the
	 * time box may end it. */
	if (ses.logind_id[0] != '\0' && c->peer.uid != 0) {
		uid_t owner;
		if (sd_session_get_uid(ses.logind_id, &owner) < 0 || owner != c->peer.uid) {
			mamori_log_notice("uid %lu named logind session %s, not its own: not kept",
			                  (unsigned long)c->peer.uid, ses.logind_id);
			ses.logind_id[0] = '\0';
		}
	}
	/* The daemon may signal the leader when a time box closes: a non-root
	 * caller may only name a process of its own. */
	if (leader > 1 && c->peer.uid != 0 && !process_owned_by((pid_t)leader, c->peer.uid))
		leader = 0;
	ses.leader_pid = leader;
	ses.leader_start = leader > 1 ? mamori_process_start_time((pid_t)leader) : 0;
	ses.opened_at = now;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		goto fail_nostore;
	if (session_owner(tx, c, &req, &u) != MAMORI_OK) {
		mamori_store_rollback(&tx);
		mamori_daemon_conf_put(conf);
		json_decref(messages);
		return error_reply("io.mamori.Error.NotFound", "message", "no such account");
	}
	ses.user_id = u.id;
	/* P-PRIV-TIME: sessions of a privileged service get a deadline. */
	svc = mamori_conf_service(conf, req.service);
	if (svc != NULL && svc->privileged && conf->policy[MAMORI_ROLE_PRIVILEGED].session_limit > 0)
		ses.deadline = now + conf->policy[MAMORI_ROLE_PRIVILEGED].session_limit;
	if (mamori_store_login_get(tx, u.id, &login) != MAMORI_OK || mamori_store_session_open(tx, &ses) != MAMORI_OK ||
	    audit_pam(tx, c, &req, "session", NULL, "success",
	              ses.deadline > 0 ? "session opened, time-boxed" : "session opened", now) != MAMORI_OK) {
		mamori_store_rollback(&tx);
		goto fail_nostore;
	}
	if (mamori_store_commit(&tx) != MAMORI_OK)
		goto fail_nostore;
	if (conf->banner != NULL)
		append_banner(messages, conf->banner);
	append_notices(messages, &req, &login, now);
	if (ses.deadline > 0) {
		mamori_clock_format(ses.deadline, when, sizeof(when));
		mamori_msgf(text, sizeof(text), req.locale, MSG_SESSION_DEADLINE, when);
		messages_append(messages, "info", text);
	}
	mamori_daemon_conf_put(conf);
	return mamori_wire_reply(json_pack("{s:s,s:I,s:o}", "result", "success", "session_id", (json_int_t)ses.id,
	                                   "messages", messages));
fail_nostore:
	mamori_daemon_conf_put(conf);
	json_decref(messages);
	return internal_error();
}

/* P-PRIV-TIME: whether a non-root caller may close ses.  Its time box
 * holds until its leader exits: a session whose leader still runs is
 * closed only by the leader itself, and only when it has no time box. */
static int
close_allowed(const struct mamori_conn *c, const struct mamori_session *ses)
{
	int state;

	if (c->peer.uid == 0)
		return 1;
	state = mamori_session_leader_state(ses);
	if (state == 1)
		return 1;
	if (ses->deadline > 0)
		return 0;
	if (state == 0)
		return (pid_t)ses->leader_pid == c->peer.pid;
	/* No leader was recorded (nothing to wait for), or /proc cannot
	 * tell about the one that was (refused). */
	return ses->leader_pid == 0;
}

/* Close a session under the owner it was opened with: the session the PAM
 * handle was given (session_id), else the newest open one of the owner on
 * this service. */
static json_t *
handle_close_session(struct mamori_conn *c, const json_t *params)
{
	struct mamori_txn *tx = NULL;
	struct pam_request req;
	struct mamori_session ses;
	struct mamori_user u;
	long long session_id = 0;
	int64_t now = mamori_clock_now();
	json_t *reply;
	int rc;

	reply = parse_request(c, params, &req, "session");
	if (reply != NULL)
		return reply;
	if ((reply = session_rate_refused(c, &req)) != NULL)
		return reply;
	if (mamori_wire_get_int(params, "session_id", 1, INT64_MAX, &session_id) == MAMORI_ERR_INVALID)
		return error_reply("org.varlink.service.InvalidParameter", "parameter", "session_id");
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return internal_error();
	rc = session_owner(tx, c, &req, &u);
	if (rc == MAMORI_ERR_NOT_FOUND && c->peer.uid == 0 && session_id > 0) {
		/* sudo closes with PAM_USER=root the session it opened for the
		 * person who asked: the id its PAM handle kept names it. */
		u.id = 0;
		rc = MAMORI_OK;
	}
	if (rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return rc == MAMORI_ERR_NOT_FOUND
		               ? error_reply("io.mamori.Error.NotFound", "message", "no such account")
		               : internal_error();
	}
	rc = mamori_store_session_find(tx, u.id, req.service, session_id, &ses);
	if (rc == MAMORI_ERR_NOT_FOUND) {
		mamori_store_rollback(&tx);
		return error_reply("io.mamori.Error.NotFound", "message", "no such session");
	}
	if (rc == MAMORI_OK && !close_allowed(c, &ses)) {
		mamori_store_rollback(&tx);
		mamori_log_notice("uid %lu may not close session %lld of %s: its leader %lld still runs",
		                  (unsigned long)c->peer.uid, (long long)ses.id, ses.user, (long long)ses.leader_pid);
		refusal_audit(c, REFUSED_PERMISSION, "session", &req, "session leader still running");
		return error_reply("io.mamori.Error.PermissionDenied", "message",
		                   "the session's leader is still running");
	}
	if (rc == MAMORI_OK)
		rc = mamori_store_session_close(tx, ses.user_id, req.service, ses.id, now);
	if (rc != MAMORI_OK || audit_pam(tx, c, &req, "session", NULL, "success", "session closed", now) != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return internal_error();
	}
	if (mamori_store_commit(&tx) != MAMORI_OK)
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
		conversation_abandoned(c);
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
	conversation_abandoned(c);
	conversation_reset(c->conversation);
	mamori_wipe(c->conversation, sizeof(*c->conversation));
	free(c->conversation);
	c->conversation = NULL;
}
