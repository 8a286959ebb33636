/* SPDX-License-Identifier: BSD-2-Clause */
/* io.mamori.Admin: the IC card inventory (P-CARD-SHARE, P-CARD-LOST):
 * CardEnroll reads the card in a reader (card/card.h), parses and checks
 * its certificate here (card/cert.h) and binds it to one account;
 * CardList shows every card with its state and history; CardRevoke
 * revokes cards by account or serial number and ends the sessions that
 * used them (rules/cred_revoke.h). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card/card.h"
#include "card/cert.h"
#include "error.h"
#include "factors.h"
#include "log.h"
#include "protocol.h"
#include "rules/cred_revoke.h"
#include "secure.h"
#include "service_admin/call.h"

/* The longest wait for a card an administrator may ask for (seconds). */
#define CARD_TIMEOUT_MAX 600

static const char *
card_factor(void)
{
	return mamori_factor_name(MAMORI_FACTOR_CARD);
}

/* The inventory state of a card credential (MAMORI_CARD_STATE_*). */
static const char *
card_state(const struct mamori_credential *c)
{
	if (c->state != MAMORI_CRED_REVOKED)
		return c->last_used_at > 0 && c->state == MAMORI_CRED_ACTIVE ? MAMORI_CARD_STATE_ACTIVE
		                                                             : MAMORI_CARD_STATE_ISSUED;
	if (!strcmp(c->revoke_reason, MAMORI_CARD_REASON_LOST))
		return MAMORI_CARD_STATE_LOST;
	if (!strcmp(c->revoke_reason, MAMORI_CARD_REASON_DAMAGED))
		return MAMORI_CARD_STATE_DAMAGED;
	if (!strcmp(c->revoke_reason, MAMORI_CARD_REASON_RETURNED))
		return MAMORI_CARD_STATE_RETURNED;
	return MAMORI_CARD_STATE_REVOKED;
}

/* A card of the inventory, its certificate read again from the stored DER
 * (a certificate that no longer parses shows as null fields). */
static json_t *
card_json(const struct mamori_credential *c, const char *user)
{
	struct mamori_card_cert cert;
	int parsed = mamori_card_cert_parse(c->public_data, c->public_len, &cert) == MAMORI_OK;
	json_t *o = json_pack(
	        "{s:I,s:s,s:s,s:s,s:s,s:I,s:o,s:o,s:o,s:o}", "id", (json_int_t)c->id, "name", user, "label", c->label,
	        "state", card_state(c), "fingerprint", c->key_id, "created_at", (json_int_t)c->created_at,
	        "last_used_at", admin_nullable_time(c->last_used_at), "revoked_at", admin_nullable_time(c->revoked_at),
	        "reason", admin_nullable_string(c->revoke_reason), "revoked_by", admin_nullable_string(c->revoked_by));

	if (o == NULL)
		return NULL;
	if (json_object_set_new(o, "serial", parsed ? json_string(cert.serial) : json_null()) != 0 ||
	    json_object_set_new(o, "issuer", parsed ? json_string(cert.issuer) : json_null()) != 0 ||
	    json_object_set_new(o, "subject", parsed ? json_string(cert.subject) : json_null()) != 0 ||
	    json_object_set_new(o, "key", parsed ? json_string(cert.key) : json_null()) != 0 ||
	    json_object_set_new(o, "not_before", parsed ? json_integer(cert.not_before) : json_null()) != 0 ||
	    json_object_set_new(o, "not_after", parsed ? json_integer(cert.not_after) : json_null()) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ------------------------------------------------------------- enrolment */

struct card_read {
	struct mamori_card_info info;
	struct mamori_card_cert cert;
	char why[256]; /* a refusal's message */
	const char *error; /* its MAMORI_ERROR_* */
};

static const char *
wait_message(const char *e)
{
	if (!strcmp(e, MAMORI_CARD_E_TIMEOUT))
		return "no card was inserted in time";
	if (!strcmp(e, MAMORI_CARD_E_NO_READER))
		return "no card reader is connected";
	if (!strcmp(e, MAMORI_CARD_E_NO_APPLET))
		return "the card has neither a PIV nor a JPKI applet";
	if (!strcmp(e, MAMORI_CARD_E_REMOVED))
		return "the card was removed while it was read";
	if (!strcmp(e, MAMORI_CARD_E_PCSC))
		return "pcscd cannot be reached";
	return "the card could not be read";
}

/* Read the card in a reader and check its certificate, outside any
 * transaction.  MAMORI_OK, or MAMORI_ERR_DENIED with r->why and r->error
 * set, or another error. */
static int
card_read(const struct mamori_conf *conf, int timeout_s, int64_t now, struct card_read *r)
{
	struct mamori_card_session *s = NULL;
	const char *e = NULL;
	char why[200];
	int rc;

	r->error = MAMORI_ERROR_POLICY_VIOLATION;
	if ((rc = mamori_card_open(conf, &s)) != MAMORI_OK)
		return rc;
	rc = mamori_card_wait(s, timeout_s * 1000, &r->info, &e);
	mamori_card_close(&s);
	if (rc == MAMORI_ERR_DENIED) {
		r->error = !strcmp(e, MAMORI_CARD_E_TIMEOUT) || !strcmp(e, MAMORI_CARD_E_NO_READER)
		                   ? MAMORI_ERROR_NOT_FOUND
		                   : MAMORI_ERROR_POLICY_VIOLATION;
		snprintf(r->why, sizeof(r->why), "%s", wait_message(e));
		return MAMORI_ERR_DENIED;
	}
	if (rc != MAMORI_OK)
		return rc;
	/* The helper's reading is not trusted: parsed again here. */
	if (mamori_card_cert_parse(r->info.cert, r->info.cert_len, &r->cert) != MAMORI_OK) {
		snprintf(r->why, sizeof(r->why),
		         "the card's certificate cannot be used (not X.509, or its key is "
		         "neither RSA nor P-256)");
		return MAMORI_ERR_DENIED;
	}
	rc = mamori_card_cert_check(r->info.cert, r->info.cert_len, conf->card_ca_file, conf->card_crl_file,
	                            conf->card_check_validity, now, why, sizeof(why));
	if (rc == MAMORI_ERR_DENIED)
		snprintf(r->why, sizeof(r->why), "the card's certificate is refused: %s", why);
	return rc;
}

/* P-CARD-SHARE: whether the card with this fingerprint may be bound to
 * account u.  NULL when it may; otherwise the refusal's message in why
 * and *bound_to names the account it belongs to. */
static const char *
share_check(struct mamori_txn *tx, const struct mamori_user *u, const char *fpr, char *why, size_t len,
            char bound_to[MAMORI_USER_NAME_MAX + 1], int *rc)
{
	struct mamori_credential c;
	int lost;

	*rc = mamori_store_cred_find_key(tx, card_factor(), fpr, &c, bound_to);
	if (*rc == MAMORI_ERR_NOT_FOUND) {
		*rc = MAMORI_OK;
		return NULL;
	}
	if (*rc != MAMORI_OK)
		return NULL;
	lost = c.state == MAMORI_CRED_REVOKED && !strcmp(c.revoke_reason, MAMORI_CARD_REASON_LOST);
	/* A card revoked for another reason (returned, damaged) may be
	 * issued again. */
	if (c.state == MAMORI_CRED_REVOKED && !lost)
		return NULL;
	if (lost)
		snprintf(why, len,
		         "P-CARD-SHARE: this card was reported lost (bound to %s): a lost card is never "
		         "issued again",
		         bound_to);
	else if (c.user_id == u->id)
		snprintf(why, len, "this card is already bound to %s", bound_to);
	else
		snprintf(why, len, "P-CARD-SHARE: this card is bound to another account (%s)", bound_to);
	return why;
}

/* The refusal of a card bound elsewhere, audited with what identifies the
 * card, in its own transaction. */
static json_t *
share_refused(const struct admin_call *call, const struct card_read *r, const char *why, const char *bound_to)
{
	struct mamori_txn *tx = NULL;
	char text[320];
	json_t *detail =
	        json_pack("{s:s,s:s,s:s,s:s,s:s}", "fingerprint", r->cert.fingerprint, "serial", r->cert.serial,
	                  "issuer", r->cert.issuer, "bound_to", bound_to, "reader", r->info.reader);
	int rc = detail != NULL ? mamori_store_begin(mamori_daemon.store, &tx) : MAMORI_ERR_NOMEM;

	if (rc == MAMORI_OK)
		rc = admin_audit(tx, call, "failure", why, detail);
	if (rc == MAMORI_OK)
		rc = mamori_store_commit(&tx);
	else if (tx != NULL)
		mamori_store_rollback(&tx);
	json_decref(detail);
	if (rc != MAMORI_OK)
		return admin_internal_error();
	snprintf(text, sizeof(text), "user %s: %s", call->target, why);
	return admin_error(!strncmp(why, "this card is already", 20) ? MAMORI_ERROR_EXISTS
	                                                             : MAMORI_ERROR_POLICY_VIOLATION,
	                   "message", text);
}

/* The binding, in one write transaction: the account checked again, the
 * card's other bindings, the credential and its audit row.  Each run
 * starts anew (enroll_finish). */
static json_t *
enroll_bind(struct admin_call *call, const struct card_read *r, const char *label)
{
	struct mamori_credential c;
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	char why[256], bound_to[MAMORI_USER_NAME_MAX + 1] = "";
	json_t *reply, *detail, *card;
	int rc;

	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	if (share_check(tx, &u, r->cert.fingerprint, why, sizeof(why), bound_to, &rc) != NULL || rc != MAMORI_OK) {
		mamori_store_rollback(&tx);
		return rc != MAMORI_OK ? admin_internal_error() : share_refused(call, r, why, bound_to);
	}
	memset(&c, 0, sizeof(c));
	c.user_id = u.id;
	snprintf(c.factor, sizeof(c.factor), "%s", card_factor());
	/* The serial is the label when none is given (cut to the label's
	 * length: the serial itself is listed whole). */
	label = label != NULL && label[0] != '\0' ? label : r->cert.serial;
	memcpy(c.label, label, strnlen(label, MAMORI_CRED_LABEL_MAX));
	snprintf(c.key_id, sizeof(c.key_id), "%s", r->cert.fingerprint);
	c.state = MAMORI_CRED_ACTIVE;
	memcpy(c.public_data, r->info.cert, r->info.cert_len);
	c.public_len = r->info.cert_len;
	c.created_at = call->now;
	rc = mamori_store_cred_insert(tx, &c);
	detail = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s}", "credential", (json_int_t)c.id, "fingerprint",
	                   r->cert.fingerprint, "serial", r->cert.serial, "issuer", r->cert.issuer, "profile",
	                   r->info.profile, "reader", r->info.reader);
	if (rc == MAMORI_OK)
		rc = admin_audit(tx, call, "success", "card enroll", detail);
	json_decref(detail);
	card = rc == MAMORI_OK ? card_json(&c, u.name) : NULL;
	if (rc != MAMORI_OK || card == NULL || mamori_store_commit(&tx) != MAMORI_OK) {
		if (tx != NULL)
			mamori_store_rollback(&tx);
		json_decref(card);
		return admin_internal_error();
	}
	return mamori_wire_reply(card);
}

/* What follows the reading of the card: the refusal of a card that cannot
 * be used (read_rc MAMORI_ERR_DENIED), or the binding. */
struct enroll_step {
	const struct card_read *r;
	const char *label;
	int read_rc;
};

static json_t *
enroll_step(struct admin_call *call, void *data)
{
	const struct enroll_step *e = data;

	return e->read_rc == MAMORI_ERR_DENIED ? admin_refused(call, e->r->error, e->r->why)
	                                       : enroll_bind(call, e->r, e->label);
}

/* Run again here while the store refuses it (admin_run_step), since the
 * gate would wait for the card again.  Spent, it replies busy (and the
 * gate, finding nothing of the call committed, runs the whole call
 * again). */
static json_t *
enroll_finish(struct admin_call *call, const struct card_read *r, const char *label, int read_rc)
{
	struct enroll_step e = { .r = r, .label = label, .read_rc = read_rc };

	return admin_run_step(call, enroll_step, &e);
}

/* The account and the rule first, in a short read transaction: nobody
 * waits for a card on behalf of an account they may not change.  Ended
 * without a COMMIT, so that a refusal of what follows finds nothing of
 * the call committed. */
static json_t *
enroll_precheck(struct admin_call *call)
{
	struct mamori_txn *tx = NULL;
	struct mamori_user u;
	json_t *reply;

	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = admin_load_target(&tx, call, &u)) != NULL)
		return reply;
	mamori_store_rollback(&tx);
	return NULL;
}

json_t *
admin_card_enroll(struct admin_call *call, json_t *params)
{
	const struct mamori_conf *conf;
	struct card_read *r;
	const char *label = NULL;
	long long timeout = 0;
	json_t *reply;
	int rc;

	if (mamori_wire_get_string(params, "label", MAMORI_CRED_LABEL_MAX, &label) == MAMORI_ERR_INVALID ||
	    (label != NULL && !mamori_field_valid(label)))
		return admin_invalid("label");
	if (mamori_wire_get_int(params, "timeout", 1, CARD_TIMEOUT_MAX, &timeout) == MAMORI_ERR_INVALID)
		return admin_invalid("timeout");
	if ((reply = enroll_precheck(call)) != NULL)
		return reply;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return admin_internal_error();
	conf = mamori_daemon_conf_get();
	if (timeout == 0)
		timeout = conf->card_wait > 0 ? conf->card_wait : 30;
	rc = card_read(conf, (int)timeout, call->now, r);
	mamori_daemon_conf_put(conf);
	if (rc == MAMORI_OK || rc == MAMORI_ERR_DENIED)
		reply = enroll_finish(call, r, label, rc);
	else
		reply = admin_error(MAMORI_ERROR_INTERNAL, "message",
		                    "the card could not be read: the card helper failed");
	mamori_wipe(r, sizeof(*r));
	free(r);
	return reply;
}

/* --------------------------------------------------------------- listing */

static int
list_one(const struct mamori_credential *c, const char *user, void *data)
{
	return admin_page_add_account(data, user, card_json(c, user));
}

/* Every card, revoked ones included (the history), of one account or of
 * all paged by name. */
json_t *
admin_card_list(struct admin_call *call, json_t *params)
{
	struct admin_page pg = { .items = json_array(), .now = call->now };
	char message[MAMORI_USER_NAME_MAX + 32];
	struct mamori_user u;
	int rc;

	if (mamori_wire_get_string(params, "name", MAMORI_USER_NAME_MAX, &call->target) == MAMORI_ERR_INVALID ||
	    (call->target != NULL && !mamori_user_name_valid(call->target))) {
		json_decref(pg.items);
		return admin_invalid("name");
	}
	if (mamori_wire_get_string(params, "after", MAMORI_USER_NAME_MAX, &pg.last_name) == MAMORI_ERR_INVALID) {
		json_decref(pg.items);
		return admin_invalid("after");
	}
	if (pg.items == NULL || mamori_store_begin(mamori_daemon.store, &pg.tx) != MAMORI_OK) {
		json_decref(pg.items);
		return admin_internal_error();
	}
	if (call->target == NULL) {
		rc = mamori_store_cred_foreach(pg.tx, card_factor(), pg.last_name, 1, list_one, &pg);
	} else {
		rc = mamori_store_user_get(pg.tx, call->target, &u);
		if (rc == MAMORI_OK)
			rc = mamori_store_cred_foreach_user(pg.tx, u.id, card_factor(), 1, list_one, &pg);
	}
	if (rc == MAMORI_ERR_NOT_FOUND) {
		mamori_store_rollback(&pg.tx);
		json_decref(pg.items);
		snprintf(message, sizeof(message), "user %s: no such account", call->target);
		return admin_error(MAMORI_ERROR_NOT_FOUND, "message", message);
	}
	if (rc != MAMORI_OK || mamori_store_commit(&pg.tx) != MAMORI_OK) {
		if (rc != MAMORI_OK)
			mamori_store_rollback(&pg.tx);
		json_decref(pg.items);
		return admin_internal_error();
	}
	return admin_page_reply(&pg, "cards", "next", "name");
}

/* ------------------------------------------------------------ revocation */

/* A serial number as the certificate parser writes it: upper-case hex
 * without colons.  -1 when s is not one. */
static int
serial_normalise(const char *s, char out[MAMORI_CARD_SERIAL_MAX + 1])
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		if (*s == ':')
			continue;
		if (!isxdigit((unsigned char)*s) || n == MAMORI_CARD_SERIAL_MAX)
			return -1;
		out[n++] = (char)toupper((unsigned char)*s);
	}
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* The cards a revocation takes: those not yet revoked of one account
 * (user_id), or of any account with this serial number. */
struct revoke_find {
	int64_t user_id;
	const char *serial;
	struct mamori_credential *cards;
	char (*users)[MAMORI_USER_NAME_MAX + 1];
	size_t n, cap;
};

static int
revoke_find_one(const struct mamori_credential *c, const char *user, void *data)
{
	struct revoke_find *f = data;
	struct mamori_card_cert cert;

	if (c->state == MAMORI_CRED_REVOKED)
		return MAMORI_OK;
	if (f->serial != NULL && (mamori_card_cert_parse(c->public_data, c->public_len, &cert) != MAMORI_OK ||
	                          strcmp(cert.serial, f->serial) != 0))
		return MAMORI_OK;
	if (f->n == f->cap) {
		size_t cap = f->cap == 0 ? 4 : f->cap * 2;
		void *a = realloc(f->cards, cap * sizeof(*f->cards));
		if (a == NULL)
			return MAMORI_ERR_NOMEM;
		f->cards = a;
		if ((a = realloc(f->users, cap * sizeof(*f->users))) == NULL)
			return MAMORI_ERR_NOMEM;
		f->users = a;
		f->cap = cap;
	}
	f->cards[f->n] = *c;
	snprintf(f->users[f->n++], MAMORI_USER_NAME_MAX + 1, "%s", user);
	return MAMORI_OK;
}

/* The contractor rule for every owner of a card found by serial. */
static json_t *
revoke_rule(struct mamori_txn **tx, struct admin_call *call, const struct revoke_find *f)
{
	struct mamori_user u;
	json_t *reply;

	for (size_t i = 0; i < f->n; i++) {
		if (mamori_store_user_get(*tx, f->users[i], &u) != MAMORI_OK) {
			mamori_store_rollback(tx);
			return admin_internal_error();
		}
		call->target = f->users[i];
		if ((reply = admin_check(tx, call, &u, &u)) != NULL)
			return reply;
	}
	return NULL;
}

/* Find the cards inside tx: by account (the rule applied), or by serial. */
static json_t *
revoke_collect(struct mamori_txn **tx, struct admin_call *call, struct revoke_find *f)
{
	struct mamori_user u;
	json_t *reply;
	int rc;

	if (f->serial == NULL) {
		if ((reply = admin_load_target(tx, call, &u)) != NULL)
			return reply;
		f->user_id = u.id;
		rc = mamori_store_cred_foreach_user(*tx, u.id, card_factor(), 0, revoke_find_one, f);
	} else {
		rc = mamori_store_cred_foreach(*tx, card_factor(), NULL, 0, revoke_find_one, f);
		if (rc == MAMORI_OK && (reply = revoke_rule(tx, call, f)) != NULL)
			return reply;
	}
	if (rc != MAMORI_OK) {
		mamori_store_rollback(tx);
		return admin_internal_error();
	}
	if (f->n == 0) {
		mamori_store_rollback(tx);
		return admin_refused(call, MAMORI_ERROR_NOT_FOUND,
		                     f->serial != NULL ? "no card in use has this serial number" : "no card in use");
	}
	return NULL;
}

/* The parameters: exactly one of name and serial, and the reason. */
static json_t *
revoke_params(struct admin_call *call, const json_t *params, char serial[MAMORI_CARD_SERIAL_MAX + 1],
              const char **reason)
{
	const char *s = NULL;
	int has_name = json_object_get(params, "name") != NULL;

	if (mamori_wire_get_string(params, "reason", 16, reason) != MAMORI_OK || !mamori_card_reason_valid(*reason))
		return admin_invalid("reason");
	if (mamori_wire_get_string(params, "serial", 3 * MAMORI_CARD_SERIAL_MAX, &s) == MAMORI_ERR_INVALID ||
	    (s != NULL && serial_normalise(s, serial) != 0) || (s != NULL && has_name))
		return admin_invalid("serial");
	if (s == NULL && (mamori_wire_get_string(params, "name", MAMORI_USER_NAME_MAX, &call->target) != MAMORI_OK ||
	                  !mamori_user_name_valid(call->target)))
		return admin_invalid("name");
	return NULL;
}

json_t *
admin_card_revoke(struct admin_call *call, json_t *params)
{
	struct mamori_cred_revocation rv = { .now = call->now, .actor = call->actor };
	char serial[MAMORI_CARD_SERIAL_MAX + 1] = "";
	struct revoke_find f = { .serial = NULL };
	struct mamori_txn *tx = NULL;
	const struct mamori_conf *conf;
	json_t *reply, *detail = NULL;
	unsigned ended;
	int rc = MAMORI_OK;

	if ((reply = revoke_params(call, params, serial, &rv.reason)) != NULL)
		return reply;
	f.serial = serial[0] != '\0' ? serial : NULL;
	if (mamori_store_begin(mamori_daemon.store, &tx) != MAMORI_OK)
		return admin_internal_error();
	if ((reply = revoke_collect(&tx, call, &f)) != NULL)
		goto out;
	/* The audit row names the account when there is one. */
	call->target = f.users[0];
	for (size_t i = 0; rc == MAMORI_OK && i < f.n; i++)
		rc = mamori_cred_revoke_one(tx, &rv, &f.cards[i], f.users[i]);
	if (rc == MAMORI_OK)
		rc = (detail = json_pack("{s:s,s:o}", "reason", rv.reason, "cards", mamori_cred_revoked_json(&rv))) !=
		                     NULL
		             ? admin_audit(tx, call, "success", "P-CARD-LOST: card revoke", detail)
		             : MAMORI_ERR_NOMEM;
	if (rc != MAMORI_OK || mamori_store_commit(&tx) != MAMORI_OK) {
		if (tx != NULL)
			mamori_store_rollback(&tx);
		reply = admin_internal_error();
		goto out;
	}
	conf = mamori_daemon_conf_get();
	ended = mamori_cred_revoke_finish(mamori_daemon.store, conf, &rv);
	mamori_daemon_conf_put(conf);
	reply = mamori_wire_reply(
	        json_pack("{s:I,s:I}", "revoked", (json_int_t)rv.ncreds, "sessions_ended", (json_int_t)ended));
out:
	json_decref(detail);
	mamori_cred_revocation_free(&rv);
	if (f.cards != NULL)
		mamori_wipe(f.cards, f.cap * sizeof(*f.cards));
	free(f.cards);
	free(f.users);
	return reply;
}
