/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CONF_H
#define MAMORI_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "factors.h"
#include "hours.h"
#include "names.h"

/* mamori.conf(5): an INI file read with libinih.  Unknown sections and
 * keys, repeated keys and bad values are errors reported as
 * "file:line: reason". */

#define MAMORI_DEFAULT_CONFIG SYSCONFDIR "/mamori/mamori.conf"
/* The longest line the parser accepts, newline included. */
#define MAMORI_CONF_LINE_MAX 200

struct mamori_service_conf {
	char *name; /* PAM service name */
	char *system; /* the system it belongs to (password reuse is per system) */
	int privileged; /* sessions are time-boxed (P-PRIV-TIME) */
	/* P-MFA-MN, P-MFA-ALL: the accepted factor sets, in order of preference;
	 * none given means password alone. */
	struct mamori_factor_set require[MAMORI_SETS_MAX];
	unsigned require_count;
	int require_line; /* where require was set, for errors found later */
	char *allow_users; /* P-ACCESS: comma-separated, NULL: everyone */
	char *allow_groups; /* P-ACCESS: Unix groups, comma-separated */
	int remote; /* P-REMOTE: -1 unset (no on My Number systems, else yes) */
	/* P-ID-SHARED, P-INPUT: every name is first asked "Member name:", so
	 * that shared accounts can be used here without standing out. */
	int member_prompt;
	/* P-REMOTE: whether an empty PAM_RHOST means a local login; -1 unset
	 * (local only for the console clients of mamori_conf_rhost_empty_local) */
	int rhost_empty_local;
	struct mamori_service_conf *next;
};

struct mamori_system_conf {
	char *name;
	int mynumber; /* a My Number business system (P-MFA-MN) */
	int seen; /* parser bookkeeping: mynumber was set */
	struct mamori_system_conf *next;
};

/* Rules that differ between ordinary and privileged accounts. */
enum mamori_role {
	MAMORI_ROLE_STAFF,
	MAMORI_ROLE_PRIVILEGED,
	MAMORI_ROLE_COUNT,
};

struct mamori_policy_conf {
	/* P-PW-STRENGTH */
	unsigned min_length;
	unsigned max_length;
	unsigned min_classes; /* of lower, upper, digit, other */
	int dictionary_check;
	int user_check;
	unsigned min_guesses_log10; /* zxcvbn's estimate, 10^N guesses at least; 0: off */
	/* P-PW-AGE, days; 0 turns a rule off */
	unsigned max_age_days;
	unsigned min_age_days;
	unsigned warn_days;
	/* P-LOGIN-UI, P-PRIV-STRICT, seconds */
	unsigned lockout_threshold; /* failures within lockout_window; 0: never */
	unsigned lockout_window;
	unsigned lockout_duration; /* first lock; doubles for each repeat */
	unsigned lockout_max_duration; /* ceiling of the doubling */
	int lockout_until_unlock; /* stay locked until an admin unlocks */
	/* P-PRIV-TIME */
	struct mamori_hours hours;
	unsigned session_limit; /* seconds a session of a privileged service may last; 0: none */
};

/* [directory]: the HR directory (OpenLDAP) that drives the ID lifecycle
 * (authd/directory/directory.h).  NULL in struct mamori_conf when the
 * section is absent.  Checked at load, errors as FILE:LINE. */
enum mamori_dir_bind {
	MAMORI_DIR_BIND_SIMPLE, /* bind_dn, password read from bind_password_file (never in mamori.conf) */
	MAMORI_DIR_BIND_EXTERNAL, /* SASL EXTERNAL: only over ldapi:// (peer credentials) */
};
enum mamori_dir_tls {
	MAMORI_DIR_TLS_STARTTLS, /* ldap:// with StartTLS, the server's certificate checked (default) */
	MAMORI_DIR_TLS_NONE, /* allowed only when every URI is ldapi:// or an ldap:// on the loopback */
};
/* ldaps:// URIs are TLS from the start whatever tls says. */
enum mamori_dir_scope {
	MAMORI_DIR_SCOPE_SUB,
	MAMORI_DIR_SCOPE_ONE,
	MAMORI_DIR_SCOPE_BASE,
};
enum mamori_dir_mode {
	MAMORI_DIR_MODE_AUTO, /* refreshAndPersist where the root DSE offers syncprov, else poll */
	MAMORI_DIR_MODE_PERSIST, /* RFC 4533 refreshAndPersist (ldap_sync_*) */
	MAMORI_DIR_MODE_POLL, /* a search on modifyTimestamp every poll_interval */
};

struct mamori_dir_conf {
	char *uris[8]; /* "uri": one or more, space- or comma-separated, tried in order */
	unsigned nuris;
	int bind; /* enum mamori_dir_bind; "bind = simple | external" */
	char *bind_dn;
	char *bind_password_file; /* root-owned, not readable by others: checked when read */
	int tls; /* enum mamori_dir_tls; "tls = starttls | none" */
	char *ca_file; /* PEM CAs the server certificate must chain to; NULL: the system's */
	char *ca_dir;
	char *base; /* required */
	char *filter; /* default "(objectClass=inetOrgPerson)" */
	int scope; /* enum mamori_dir_scope; default sub */
	/* The attribute map ("attr_employee_number = employeeNumber", ...).
	 * NULL: the attribute is not used (start, end and the secondment
	 * dates have no default). */
	char *attr_employee_number; /* default employeeNumber; required in every entry */
	char *attr_uid; /* default uid: the account name */
	char *attr_display_name; /* default displayName */
	char *attr_department; /* default departmentNumber */
	char *attr_status; /* default employeeType: employment status or type */
	char *attr_start; /* first day of employment */
	char *attr_end; /* last day of employment */
	char *attr_secondment_start; /* first day away on secondment */
	char *attr_secondment_end; /* last day away */
	char *attr_manager; /* default manager */
	/* Values of attr_status, comma-separated, compared without regard to
	 * case: retired_values (default "retired,terminated") retire the
	 * account; contractor_values (default "contractor") make it a
	 * contractor (委託事業者) rather than staff. */
	char *retired_values;
	char *contractor_values;
	int mode; /* enum mamori_dir_mode; default auto */
	unsigned poll_interval; /* seconds between polls; default 60 */
	unsigned timeout; /* seconds for a network operation; default 10 */
	unsigned backoff_max; /* seconds, the ceiling of the reconnection back-off; default 300 */
	unsigned max_disable_percent; /* the safety stop; default 5 */
	int line; /* where [directory] began, for errors found later */
	/* The attributes a search asks for (the mapped ones, entryUUID,
	 * modifyTimestamp), NULL-terminated: made at load by
	 * mamori_conf_dir_attrs_build (common/conf.h), returned by
	 * mamori_dir_attrs (authd/directory/ldap.h). */
	char **attrs;
};

struct mamori_conf {
	/* [daemon] */
	char *runtime_dir;
	char *state_dir;
	char *admin_group;
	unsigned max_connections;
	unsigned max_connections_per_uid;
	unsigned max_argon2; /* 0: number of online CPUs */
	unsigned idle_timeout; /* seconds a conversation may wait for input */
	unsigned rate_limit; /* PAM attempts per minute for each non-root caller uid */
	unsigned clock_check_interval;
	int debug;
	/* [store] */
	char *store_backend;
	char *store_path; /* NULL: state_dir/mamori.db (sqlite) */
	/* backend = postgresql: a libpq connection string (keyword=value or
	 * a postgresql:// URI).  It may not hold a secret: password= is
	 * refused (FILE:LINE); use passfile= or a client certificate.  Off the
	 * loopback and Unix sockets, sslmode must be verify-full. */
	char *store_conninfo;
	/* The fleet events' listener (LISTEN): its own connection, which
	 * cannot go through a pooler in transaction mode; checked as
	 * conninfo is.  NULL: conninfo. */
	char *store_listen_conninfo;
	/* Whether statements are prepared by name once per connection
	 * (default yes).  no: each is sent unnamed, and the timeouts with
	 * each transaction (set_config(..., true), SET LOCAL's function
	 * form) instead of once per connection: for PgBouncer in transaction
	 * mode older than 1.21. */
	int store_prepared;
	unsigned store_pool_size; /* connections kept open; default 4, 1..64 */
	unsigned store_connect_timeout; /* seconds; default 5 */
	/* Set on every new connection (SET statement_timeout, lock_timeout):
	 * a hung server or a long lock never holds a PAM conversation for
	 * longer.  Seconds; defaults 5 and 2, 1..3600. */
	unsigned store_statement_timeout;
	unsigned store_lock_timeout;
	/* This terminal's name in a shared store: the sessions it opens carry
	 * it, and only its own sessions are acted on here.  Printable ASCII
	 * without spaces, 1 to MAMORI_NODE_MAX bytes; default: the host name. */
	char *store_node;
	/* Seconds between two fleet sweeps (sessions of accounts no longer
	 * active, or of revoked credentials) when no event came; default 30. */
	unsigned store_sweep_interval;
	char *store_key; /* the key that seals TOTP secrets */
	char *store_next_key; /* NULL: store_key + ".next"; opens, the rotation's target */
	char *store_previous_key; /* NULL: store_key + ".previous"; opens only */
	char *audit_key; /* the key that MACs the audit chain and its checkpoints */
	char *audit_checkpoint; /* NULL: state_dir/audit.checkpoint */
	/* [offline] (backend = postgresql only): password logins from a local
	 * cache while the store cannot be reached (docs/architecture.md
	 * "Offline logins").  Off by default: unreachable store, no login. */
	int offline_enabled;
	unsigned offline_max_hours; /* a cached login older than this is refused; default 72 */
	unsigned offline_max_entries; /* accounts cached, least recently used evicted; default 256 */
	unsigned offline_max_failures; /* wrong passwords offline that lock the entry; default 5 */
	int offline_allow_privileged; /* default no */
	int offline_allow_mynumber; /* default no */
	unsigned offline_probe_interval; /* seconds between probes while offline; default 10 */
	/* [password] */
	uint32_t argon2_t;
	uint32_t argon2_m_kib;
	uint32_t argon2_p;
	unsigned temp_length;
	unsigned temp_lifetime; /* seconds an unused temporary password stays valid */
	unsigned history; /* passwords remembered per account and system */
	char *blocklist; /* path of the organisation's block list, or NULL */
	char *org_words; /* P-PW-STRENGTH: comma-separated names no password may contain, or NULL */
	/* [login] */
	char *banner; /* path of the banner shown at session start, or NULL */
	/* [accounts] */
	char *reserved_names; /* comma-separated, added to the built-in list */
	unsigned stale_after_days; /* P-ID-STALE: unused this long is stale; default 90, 0: off */
	int stale_disable; /* stale accounts are disabled, not only reported; default no */
	/* [directory] */
	struct mamori_dir_conf *directory;
	/* [incident] */
	char *incident_hook;
	unsigned storm_threshold;
	unsigned storm_window;
	/* [totp] */
	char *totp_issuer;
	char *totp_algorithm; /* sha1, sha256, sha512 */
	unsigned totp_digits;
	unsigned totp_period;
	unsigned totp_window;
	/* Who binds a first authenticator by self-enrolment: "code" (an
	 * administrator's one-time enrolment code) or "password". */
	char *totp_first_enroll;
	unsigned totp_enroll_code_lifetime; /* seconds */
	/* [card] (IC cards over PC/SC: authd/card/card.h) */
	unsigned card_wait; /* seconds to wait for a card in any reader; default 30 */
	char *card_profiles; /* the applets tried, in order: "piv, jpki" (default) */
	char *card_helper; /* default LIBEXECDIR "/mamori/mamori-card-helper" */
	char *card_helper_user; /* the helper's user when the daemon is root; default "nobody" */
	char *card_ca_file; /* enrolment: the certificate must chain to these CAs (PEM), or NULL */
	char *card_crl_file; /* enrolment and login: and not be on this CRL (PEM), or NULL */
	int card_check_validity; /* the certificate's validity period is checked (default 1) */
	int card_on_removal; /* enum mamori_card_removal: what happens when the card leaves (default lock) */
	/* [fido2] (FIDO2 security keys: authd/fido2/fido2.h) */
	char *fido2_rp_id; /* the relying-party id keys are made for and asked with; default "mamori" */
	int fido2_uv; /* enum mamori_fido2_uv: user verification asked of the key (default required) */
	unsigned fido2_wait; /* seconds to wait for a key and for its touch; default 30 */
	char *fido2_helper; /* default LIBEXECDIR "/mamori/mamori-fido2-helper" */
	char *fido2_helper_user; /* the helper's user when the daemon is root; default "nobody" */
	char *fido2_helper_group; /* and its one group, which may open FIDO hidraw nodes; default "mamori-fido" */
	/* [fingerprint] (fprintd over the system bus: authd/fprint/fprint.h) */
	unsigned fingerprint_timeout; /* seconds to wait for a finger; default 30 */
	/* [policy staff], [policy privileged] */
	struct mamori_policy_conf policy[MAMORI_ROLE_COUNT];
	/* [service NAME], [system NAME] */
	struct mamori_service_conf *services;
	struct mamori_system_conf *systems;
};

enum mamori_card_removal {
	MAMORI_CARD_REMOVAL_LOCK, /* logind LockSession */
	MAMORI_CARD_REMOVAL_TERMINATE, /* logind TerminateSession, else the leader is signalled */
	MAMORI_CARD_REMOVAL_NONE,
};

enum mamori_fido2_uv {
	MAMORI_FIDO2_UV_REQUIRED, /* the key must verify its user (PIN or built-in biometrics), by its signed UV flag */
	MAMORI_FIDO2_UV_PREFERRED, /* asked where the key can; counted only where its UV flag says so */
	MAMORI_FIDO2_UV_DISCOURAGED, /* presence only */
};

/* [password] org_words: at most this many words, each of
 * MAMORI_ORG_WORD_MIN to MAMORI_ORG_WORD_MAX bytes once trimmed. */
#define MAMORI_ORG_WORDS_MAX 32
#define MAMORI_ORG_WORD_MIN 3
#define MAMORI_ORG_WORD_MAX 64

/* Parse path into a new configuration.  On failure returns NULL and writes
 * "file:line: reason" (or "file: reason") into err. */
struct mamori_conf *mamori_conf_load(const char *path, char *err, size_t errlen);
/* A configuration with every default, for tools that run without a file. */
struct mamori_conf *mamori_conf_defaults(void);
void mamori_conf_free(struct mamori_conf **conf);

/* The [service] entry of a PAM service, or NULL. */
const struct mamori_service_conf *mamori_conf_service(const struct mamori_conf *conf, const char *service);
/* The system a PAM service belongs to: its [service] entry's system, else
 * "default". */
const char *mamori_conf_service_system(const struct mamori_conf *conf, const char *service);
/* Whether a system is a My Number business system. */
int mamori_conf_system_mynumber(const struct mamori_conf *conf, const char *system);
/* Whether a service accepts logins from a remote host (P-REMOTE). */
int mamori_conf_service_remote(const struct mamori_conf *conf, const char *service);
/* P-REMOTE: whether an empty PAM_RHOST counts as a local login on service:
 * its rhost_empty when set, else yes only for the PAM services of local
 * console clients (login, su, sudo, runuser, display managers, screen
 * lockers, passwd; see mamori.conf(5)), no for anything else (sshd, a
 * service mamori cannot tell about). */
int mamori_conf_rhost_empty_local(const struct mamori_conf *conf, const char *service);
/* Whether name is reserved and may not be a privileged ID (P-PRIV-NAME):
 * root, admin, administrator and the other built-in names, and
 * [accounts] reserved_names; compared without regard to case. */
int mamori_conf_name_reserved(const struct mamori_conf *conf, const char *name);
/* Paths derived from the configuration, written into buf. */
int mamori_conf_pam_socket(const struct mamori_conf *conf, char *buf, size_t len);
int mamori_conf_admin_socket(const struct mamori_conf *conf, char *buf, size_t len);
/* Whether node is a valid [store] node: 1 to MAMORI_NODE_MAX printable
 * ASCII characters, no space. */
int mamori_conf_node_valid(const char *node);
int mamori_conf_store_path(const struct mamori_conf *conf, char *buf, size_t len);
/* The audit checkpoint file: [store] audit_checkpoint, or state_dir/audit.checkpoint. */
int mamori_conf_audit_checkpoint_path(const struct mamori_conf *conf, char *buf, size_t len);
/* [store] next_key, or the store key's path with ".next"; previous_key, or
 * with ".previous".  0, or -1 when it does not fit. */
int mamori_conf_next_key_path(const struct mamori_conf *conf, char *buf, size_t len);
int mamori_conf_previous_key_path(const struct mamori_conf *conf, char *buf, size_t len);

/* [directory]: the defaults and the checks of conf.c (common/conf_dir.c),
 * with libldap's own URL and DN parsers.  Each check returns 0 or -1
 * with the reason in reason. */
#define MAMORI_DIR_URIS_MAX 8
#define MAMORI_DIR_ATTR_NAME_MAX 128
#define MAMORI_DIR_FILTER_MAX 1024

/* A struct mamori_dir_conf with the documented defaults (no uri, no base). */
struct mamori_dir_conf *mamori_conf_dir_new(void);
void mamori_conf_dir_free(struct mamori_dir_conf **dc);

/* "uri": one to MAMORI_DIR_URIS_MAX ldap://, ldaps:// or ldapi:// URLs,
 * separated by spaces or commas, without a DN, attributes, scope, filter
 * or extensions (those are keys of their own); replaces dc->uris. */
int mamori_conf_dir_set_uris(struct mamori_dir_conf *dc, const char *value, char *reason, size_t len);
/* An attribute description: a name ([A-Za-z][A-Za-z0-9-]*) or a numeric OID. */
int mamori_conf_dir_attr_valid(const char *name);
/* A search filter: one parenthesised filter, the parentheses balanced
 * (literal ones are escaped as \28 and \29 in LDAP), printable. */
int mamori_conf_dir_filter_valid(const char *filter);
/* A distinguished name libldap parses (RFC 4514). */
int mamori_conf_dir_dn_valid(const char *dn);
/* A comma-separated list of non-empty values (retired_values, ...). */
int mamori_conf_dir_values_valid(const char *list);
/* What a URI is: ldapi://; on the loopback (ldap:// or ldaps:// to
 * 127.0.0.0/8, ::1 or localhost).  0 for anything unparsable. */
int mamori_conf_dir_uri_ldapi(const char *uri);
int mamori_conf_dir_uri_loopback(const char *uri);

/* [store] conninfo and listen_conninfo (key: which one, for reason) (conf_store.c, with libpq's parser): no password
 * keyword, no service=, and sslmode=verify-full unless every host (and
 * hostaddr) is a Unix socket or the loopback; a conninfo that reaches
 * more than one server (host=a,b, port=p1,p2) needs
 * target_session_attrs=read-write or primary, so that a daemon never
 * writes to a standby.  0, or -1 with reason set (never quoting the
 * conninfo).  In mamori.conf the value may go on over indented lines,
 * joined with a space (conf.c). */
int mamori_conf_conninfo_check(const char *key, const char *conninfo, char *reason, size_t len);

/* The lines of the keys the cross-checks blame (0: not given). */
struct mamori_conf_dir_lines {
	int uri, bind, bind_dn, bind_password_file, tls;
};
/* Once the section is read: base and uri given, the bind complete, TLS
 * required off the loopback.  *line: the line to blame (dc->line when the
 * problem is a missing key). */
int mamori_conf_dir_check(const struct mamori_dir_conf *dc, const struct mamori_conf_dir_lines *lines, char *reason,
                          size_t len, int *line);

/* Fill dc->attrs from the attr_* keys (each once, without regard to
 * case), entryUUID and modifyTimestamp: 0, or -1 out of memory.  Done by
 * mamori_conf_load; a hand-made dc (tests) calls it itself. */
int mamori_conf_dir_attrs_build(struct mamori_dir_conf *dc);

#endif
