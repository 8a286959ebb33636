/* SPDX-License-Identifier: BSD-2-Clause */
/* P-ID-LIFECYCLE: what committed plans leave to do (apply.h): the
 * incidents, the credentials' sessions ended (rules/cred_revoke.h), then
 * the other sessions of the accounts retired or seconded. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "directory/apply.h"
#include "error.h"
#include "log.h"
#include "protocol.h"
#include "rules/incident.h"

static int
retired_name(const struct mamori_dir_effects *fx, const char *name)
{
	for (size_t i = 0; i < fx->nretired; i++)
		if (!strcmp(fx->retired[i], name))
			return 1;
	return 0;
}

static int
ended_already(const struct mamori_dir_effects *fx, int64_t id)
{
	for (size_t i = 0; i < fx->revocation.nsessions; i++)
		if (fx->revocation.sessions[i].id == id)
			return 1;
	return 0;
}

/* The sessions not ended with a credential, of retired accounts (retired)
 * or of seconded ones (secondment). */
static unsigned
end_others(struct mamori_store *store, const struct mamori_conf *conf, struct mamori_dir_effects *fx, const char *actor,
           int64_t now)
{
	struct mamori_session *ret = calloc(fx->nsessions + 1, sizeof(*ret));
	struct mamori_session *sec = calloc(fx->nsessions + 1, sizeof(*sec));
	size_t nret = 0, nsec = 0;
	unsigned ended = 0;

	if (ret == NULL || sec == NULL) {
		mamori_log_err("directory: %zu session(s) to end: out of memory", fx->nsessions);
		free(ret);
		free(sec);
		return 0;
	}
	for (size_t i = 0; i < fx->nsessions; i++) {
		if (ended_already(fx, fx->sessions[i].id))
			continue;
		if (retired_name(fx, fx->sessions[i].user))
			ret[nret++] = fx->sessions[i];
		else
			sec[nsec++] = fx->sessions[i];
	}
	ended += mamori_sessions_end_lifecycle(store, conf, ret, nret, MAMORI_STATE_REASON_RETIRED, actor, now);
	ended += mamori_sessions_end_lifecycle(store, conf, sec, nsec, MAMORI_STATE_REASON_SECONDMENT, actor, now);
	free(ret);
	free(sec);
	return ended;
}

unsigned
mamori_dir_effects_finish(struct mamori_store *store, const struct mamori_conf *conf, struct mamori_dir_effects *fx,
                          int64_t now)
{
	const char *actor = fx->revocation.actor != NULL ? fx->revocation.actor : "directory";
	unsigned ended = 0;

	for (size_t i = 0; i < fx->nretired; i++) {
		json_t *detail = json_pack("{s:s}", "by", actor);

		mamori_incident_raise(conf, MAMORI_INCIDENT_DIRECTORY_RETIRED, fx->retired[i], NULL, detail, now);
		json_decref(detail);
	}
	for (size_t i = 0; i < fx->nrefused; i++)
		mamori_incident_raise(conf, MAMORI_INCIDENT_DIRECTORY_CONFLICT, fx->refused[i], NULL, NULL, now);
	if (fx->revocation.ncreds > 0 || fx->revocation.nsessions > 0)
		ended += mamori_cred_revoke_finish(store, conf, &fx->revocation);
	ended += end_others(store, conf, fx, actor, now);
	mamori_dir_effects_free(fx);
	return ended;
}

void
mamori_dir_effects_free(struct mamori_dir_effects *fx)
{
	if (fx == NULL)
		return;
	mamori_cred_revocation_free(&fx->revocation);
	free(fx->sessions);
	free(fx->retired);
	free(fx->refused);
	memset(fx, 0, sizeof(*fx));
}
