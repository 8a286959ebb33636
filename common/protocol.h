/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_PROTOCOL_H
#define MAMORI_PROTOCOL_H

/* The names of the varlink protocol between the PAM module, mamorictl and
 * mamori-authd: interfaces, methods, errors, conversation states, prompt
 * styles and results.  Every part spells them through this header only. */

/* Interfaces. */
#define MAMORI_IF_PAM "io.mamori.Pam"
#define MAMORI_IF_ADMIN "io.mamori.Admin"
#define MAMORI_IF_VARLINK "org.varlink.service"

/* io.mamori.Pam methods (pam.sock). */
#define MAMORI_PAM_START MAMORI_IF_PAM ".Start"
#define MAMORI_PAM_ANSWER MAMORI_IF_PAM ".Answer"
#define MAMORI_PAM_ACCOUNT_CHECK MAMORI_IF_PAM ".AccountCheck"
#define MAMORI_PAM_OPEN_SESSION MAMORI_IF_PAM ".OpenSession"
#define MAMORI_PAM_CLOSE_SESSION MAMORI_IF_PAM ".CloseSession"
/* A user reports their own cards lost (mamorictl card report-lost): the
 * caller's uid (SO_PEERCRED) names the account; no parameters.
 *   -> {revoked: N, sessions_ended: N} */
#define MAMORI_PAM_CARD_REPORT_LOST MAMORI_IF_PAM ".CardReportLost"

/* What io.mamori.Pam.Start begins (its parameter op). */
#define MAMORI_OP_AUTHENTICATE "authenticate"
#define MAMORI_OP_CHAUTHTOK "chauthtok"
#define MAMORI_OP_COMPROMISED "compromised"
/* "<factor>_enroll": self-enrolment of a factor that allows it. */
#define MAMORI_OP_ENROL_SUFFIX "_enroll"
#define MAMORI_OP_TOTP_ENROLL "totp_enroll"

/* io.mamori.Admin methods (admin.sock). */
#define MAMORI_ADMIN_STATUS MAMORI_IF_ADMIN ".Status"
#define MAMORI_ADMIN_USER_ADD MAMORI_IF_ADMIN ".UserAdd"
#define MAMORI_ADMIN_USER_SET MAMORI_IF_ADMIN ".UserSet"
#define MAMORI_ADMIN_USER_RENAME MAMORI_IF_ADMIN ".UserRename"
#define MAMORI_ADMIN_USER_SHOW MAMORI_IF_ADMIN ".UserShow"
#define MAMORI_ADMIN_USER_LIST MAMORI_IF_ADMIN ".UserList"
#define MAMORI_ADMIN_USER_ENABLE MAMORI_IF_ADMIN ".UserEnable"
#define MAMORI_ADMIN_USER_DISABLE MAMORI_IF_ADMIN ".UserDisable"
#define MAMORI_ADMIN_USER_DELETE MAMORI_IF_ADMIN ".UserDelete"
#define MAMORI_ADMIN_USER_LOCK MAMORI_IF_ADMIN ".UserLock"
#define MAMORI_ADMIN_USER_UNLOCK MAMORI_IF_ADMIN ".UserUnlock"
#define MAMORI_ADMIN_USER_MEMBERS MAMORI_IF_ADMIN ".UserMembers"
#define MAMORI_ADMIN_PASSWORD_TEMP MAMORI_IF_ADMIN ".PasswordTemp"
#define MAMORI_ADMIN_PASSWORD_COMPROMISED MAMORI_IF_ADMIN ".PasswordCompromised"
/* Credentials of any factor (factor: its name, "totp"):
 *   FactorEnroll  {name, factor, label?}      -> {id, factor, label, ...the factor's handover (a URI, a secret)}
 *   FactorConfirm {name, factor, code}        -> the account, as UserShow
 *   FactorList    {factor?, name?, after?, revoked?: bool}
 *                 -> {credentials: [{id, name, factor, label, state, created_at, last_used_at,
 *                     revoked_at, reason, revoked_by, ...the factor's own fields}], more, next?}
 *   FactorRevoke  {name, factor, id?, reason} -> the account; every active or pending
 *                 credential of the factor, or only credential id
 *   FactorRequire {name, factor}              -> the account (must enrol it at the next login)
 *   EnrollCode    {name}                      -> {code, expires_at} (first self-enrolment) */
#define MAMORI_ADMIN_FACTOR_ENROLL MAMORI_IF_ADMIN ".FactorEnroll"
#define MAMORI_ADMIN_FACTOR_CONFIRM MAMORI_IF_ADMIN ".FactorConfirm"
#define MAMORI_ADMIN_FACTOR_LIST MAMORI_IF_ADMIN ".FactorList"
#define MAMORI_ADMIN_FACTOR_REVOKE MAMORI_IF_ADMIN ".FactorRevoke"
#define MAMORI_ADMIN_FACTOR_REQUIRE MAMORI_IF_ADMIN ".FactorRequire"
#define MAMORI_ADMIN_ENROLL_CODE MAMORI_IF_ADMIN ".EnrollCode"
/* IC cards (P-CARD-SHARE, P-CARD-LOST):
 *   CardEnroll {name, label?, timeout?}  -> the card's credential as in CardList
 *               (reads the card in a reader and binds its certificate)
 *   CardList   {name?, after?}          -> {cards: [{id, name, label, state, serial, issuer, subject,
 *               fingerprint, not_before, not_after, created_at, last_used_at, revoked_at, reason,
 *               revoked_by}], more, next?}; state is one of MAMORI_CARD_STATE_*
 *   CardRevoke {name? | serial?, reason}  -> {revoked: N, sessions_ended: N}
 *               reason: MAMORI_CARD_REASON_* */
#define MAMORI_ADMIN_CARD_ENROLL MAMORI_IF_ADMIN ".CardEnroll"
#define MAMORI_ADMIN_CARD_LIST MAMORI_IF_ADMIN ".CardList"
#define MAMORI_ADMIN_CARD_REVOKE MAMORI_IF_ADMIN ".CardRevoke"
/* The inventory states of a card. */
#define MAMORI_CARD_STATE_ISSUED "issued" /* bound, never used */
#define MAMORI_CARD_STATE_ACTIVE "active" /* used to log in */
#define MAMORI_CARD_STATE_LOST "lost"
#define MAMORI_CARD_STATE_DAMAGED "damaged"
#define MAMORI_CARD_STATE_RETURNED "returned"
#define MAMORI_CARD_STATE_REVOKED "revoked" /* revoked for another reason */
/* Why a card is revoked (CardRevoke's reason; the credential's revoke reason). */
#define MAMORI_CARD_REASON_LOST "lost"
#define MAMORI_CARD_REASON_DAMAGED "damaged"
#define MAMORI_CARD_REASON_RETURNED "returned"
/* Incidents of the card factor. */
#define MAMORI_INCIDENT_CARD_MISUSE "card_misuse" /* a card presented for an account it is not bound to */
#define MAMORI_INCIDENT_CARD_LOST "card_lost" /* a card revoked as lost (by an admin or its owner) */
#define MAMORI_INCIDENT_CARD_REVOKED "card_revoked" /* a card revoked for another reason */
/* FIDO2 security keys (authd/fido2/fido2.h):
 *   Fido2Enroll {name, label?, timeout?, pin?}  -> the key's credential as in Fido2List
 *               (pin: the key's PIN, for a key that has one; wiped by the gate)
 *               (makes a credential on a key plugged into this machine)
 *   Fido2List   {name?, after?, revoked?: bool}
 *               -> {keys: [{id, name, label, state, aaguid, uv, bio, pin, rk, sign_count,
 *                   created_at, last_used_at, revoked_at, reason, revoked_by}], more, next?}
 *   Fido2Revoke {name, id?, reason}     -> {revoked: N, sessions_ended: N}
 *               reason: MAMORI_FIDO2_REASON_*; every active or pending key of the
 *               account, or only key id.  `mamorictl fido2 remove` is reason "removed". */
#define MAMORI_ADMIN_FIDO2_ENROLL MAMORI_IF_ADMIN ".Fido2Enroll"
#define MAMORI_ADMIN_FIDO2_LIST MAMORI_IF_ADMIN ".Fido2List"
#define MAMORI_ADMIN_FIDO2_REVOKE MAMORI_IF_ADMIN ".Fido2Revoke"
#define MAMORI_FIDO2_REASON_LOST "lost"
#define MAMORI_FIDO2_REASON_REMOVED "removed"
#define MAMORI_FIDO2_REASON_DAMAGED "damaged"
/* Incidents of the fido2 factor. */
#define MAMORI_INCIDENT_FIDO2_CLONE "fido2_clone_suspected" /* a sign count that did not grow */
#define MAMORI_INCIDENT_FIDO2_LOST "fido2_lost" /* a key revoked as lost */
/* Fingerprints (authd/fprint/fprint.h): prints are enrolled with fprintd
 * (fprintd-enroll); an administrator approves a person's fingerprint for
 * login.
 *   FingerAllow  {name}                 -> the approval as in FingerList
 *   FingerRevoke {name, reason?}        -> {revoked: N}
 *   FingerList   {name?, after?, revoked?: bool}
 *                -> {approvals: [{id, name, state, created_at, last_used_at, revoked_at, reason,
 *                    revoked_by}], more, next?} */
#define MAMORI_ADMIN_FINGER_ALLOW MAMORI_IF_ADMIN ".FingerAllow"
#define MAMORI_ADMIN_FINGER_REVOKE MAMORI_IF_ADMIN ".FingerRevoke"
#define MAMORI_ADMIN_FINGER_LIST MAMORI_IF_ADMIN ".FingerList"
/* The HR directory (authd/directory/directory.h) and the stale-ID report.
 *   DirectorySync    {dry_run?: bool, force?: bool}
 *                    -> summary {created, changed, disabled, enabled, retired, refused, unchanged, total,
 *                       sessions_ended, safety_stop, would_disable, managed_active, dry_run, force}
 *                    (error "safety_stop" (MAMORI_ERROR_SAFETY_STOP) with the summary under "summary"
 *                     when stopped; "unavailable" (MAMORI_ERROR_UNAVAILABLE) when the directory cannot
 *                     be read; "not_configured" (MAMORI_ERROR_NOT_CONFIGURED); "busy"
 *                     (MAMORI_ERROR_BUSY: another sync runs); each with a "message")
 *   DirectoryStatus  {} -> as mamori_directory_status()
 *   DirectoryApprove {name} -> the user object (review_required cleared; P-ID-LIFECYCLE transfer)
 *                    (MAMORI_ERROR_OUT_OF_ORDER when the account is not under review)
 *   ReportStale      {after?: name, dev_after?: name}
 *                    -> {stale_after_days, disable: bool, generated_at,
 *                       accounts: [{name, kind, state, state_reason, privileged, managed, department|null,
 *                       last_used, created_at, days_unused, expires|null}],
 *                       dev_expired: [{name, expires, state, state_reason}], more, next?, dev_next?}
 *                    Paged (ADMIN_PAGE_BUDGET): the accounts after "after", then, once they are all
 *                    given, the dev_expired after "dev_after"; a page that is full says "more" and
 *                    either "next" (call again with after = next) or "dev_next" (call again with
 *                    dev_after = dev_next: the accounts are then done, none is listed).
 * Stale accounts (P-ID-STALE): active accounts unused for [accounts]
 * stale_after_days; disabled by housekeeping when stale_disable is set. */
#define MAMORI_ADMIN_DIRECTORY_SYNC MAMORI_IF_ADMIN ".DirectorySync"
#define MAMORI_ADMIN_DIRECTORY_STATUS MAMORI_IF_ADMIN ".DirectoryStatus"
#define MAMORI_ADMIN_DIRECTORY_APPROVE MAMORI_IF_ADMIN ".DirectoryApprove"
#define MAMORI_ADMIN_REPORT_STALE MAMORI_IF_ADMIN ".ReportStale"
/* Keys of the DirectoryStatus reply that are also words of the
 * conversation protocol (a state, a style), for mamorictl to name them. */
#define MAMORI_DIRECTORY_KEY_DONE "done"
#define MAMORI_DIRECTORY_KEY_ERROR "error"
#define MAMORI_INCIDENT_DIRECTORY_RETIRED "directory_retired" /* an account retired or removed in the HR directory */
#define MAMORI_INCIDENT_DIRECTORY_CONFLICT "directory_conflict" /* a directory name that mamori refused to take */
#define MAMORI_INCIDENT_DIRECTORY_SAFETY "directory_safety_stop" /* a sync that would disable too many */
#define MAMORI_INCIDENT_DIRECTORY_UNREACHABLE "directory_unreachable" /* the directory cannot be read */
#define MAMORI_INCIDENT_STALE_DISABLED "stale_disabled" /* accounts disabled as unused (P-ID-STALE) */

/* The 0.1/0.2 names of the TOTP calls, kept as the same calls with
 * factor "totp" (TotpList answers {factors: [...]}, TotpRemove needs no
 * reason). */
#define MAMORI_ADMIN_TOTP_FACTOR "totp"
#define MAMORI_ADMIN_TOTP_ENROLL MAMORI_IF_ADMIN ".TotpEnroll"
#define MAMORI_ADMIN_TOTP_CONFIRM MAMORI_IF_ADMIN ".TotpConfirm"
#define MAMORI_ADMIN_TOTP_LIST MAMORI_IF_ADMIN ".TotpList"
#define MAMORI_ADMIN_TOTP_REMOVE MAMORI_IF_ADMIN ".TotpRemove"
#define MAMORI_ADMIN_TOTP_REQUIRE MAMORI_IF_ADMIN ".TotpRequire"
#define MAMORI_ADMIN_TOTP_ENROLL_CODE MAMORI_IF_ADMIN ".TotpEnrollCode"
#define MAMORI_ADMIN_AUDIT_SHOW MAMORI_IF_ADMIN ".AuditShow"
#define MAMORI_ADMIN_AUDIT_VERIFY MAMORI_IF_ADMIN ".AuditVerify"
/* The store key (P-CRED-STORE).  KeyStatus: the ids of the keys loaded
 * here and how many sealed secrets each id seals.  KeyRotate {batch,
 * after_id}: re-seal up to batch secrets (id order, above after_id) under
 * the next key; answers how many, the ones that would not open, last_id and
 * how many remain. */
#define MAMORI_ADMIN_KEY_STATUS MAMORI_IF_ADMIN ".KeyStatus"
#define MAMORI_ADMIN_KEY_ROTATE MAMORI_IF_ADMIN ".KeyRotate"

/* org.varlink.service (both sockets). */
#define MAMORI_VARLINK_GET_INFO MAMORI_IF_VARLINK ".GetInfo"
#define MAMORI_VARLINK_GET_INTERFACE MAMORI_IF_VARLINK ".GetInterfaceDescription"

/* Errors. */
#define MAMORI_ERROR_INVALID_PARAMETER MAMORI_IF_VARLINK ".InvalidParameter"
#define MAMORI_ERROR_METHOD_NOT_FOUND MAMORI_IF_VARLINK ".MethodNotFound"
#define MAMORI_ERROR_INTERNAL "io.mamori.Error.Internal"
#define MAMORI_ERROR_MALFORMED "io.mamori.Error.Malformed"
#define MAMORI_ERROR_BUSY "io.mamori.Error.Busy"
#define MAMORI_ERROR_PERMISSION_DENIED "io.mamori.Error.PermissionDenied"
#define MAMORI_ERROR_POLICY_VIOLATION "io.mamori.Error.PolicyViolation"
#define MAMORI_ERROR_NOT_FOUND "io.mamori.Error.NotFound"
#define MAMORI_ERROR_EXISTS "io.mamori.Error.Exists"
#define MAMORI_ERROR_OUT_OF_ORDER "io.mamori.Error.OutOfOrder"
/* The HR directory's DirectorySync (see above). */
#define MAMORI_ERROR_SAFETY_STOP "io.mamori.Error.SafetyStop"
#define MAMORI_ERROR_UNAVAILABLE "io.mamori.Error.Unavailable"
#define MAMORI_ERROR_NOT_CONFIGURED "io.mamori.Error.NotConfigured"

/* What a conversation is for: io.mamori.Pam.Start's "op". */
#define MAMORI_OP_AUTHENTICATE "authenticate"
#define MAMORI_OP_CHAUTHTOK "chauthtok"
#define MAMORI_OP_COMPROMISED "compromised" /* mamorictl password compromised */
#define MAMORI_OP_TOTP_ENROLL "totp_enroll" /* mamorictl totp enroll */

/* Conversation states and prompt styles (io.mamori.Pam). */
#define MAMORI_STATE_PROMPT "prompt"
#define MAMORI_STATE_DONE "done"
#define MAMORI_STYLE_ECHO_OFF "echo_off"
#define MAMORI_STYLE_ECHO_ON "echo_on"
#define MAMORI_STYLE_INFO "info"
#define MAMORI_STYLE_ERROR "error"

/* Results of a conversation, AccountCheck and the sessions; the module maps
 * each to its PAM code. */
#define MAMORI_RESULT_SUCCESS "success"
#define MAMORI_RESULT_AUTH_ERR "auth_err"
#define MAMORI_RESULT_CRED_INSUFFICIENT "cred_insufficient"
#define MAMORI_RESULT_MAXTRIES "maxtries"
#define MAMORI_RESULT_ACCT_EXPIRED "acct_expired"
#define MAMORI_RESULT_NEW_AUTHTOK_REQD "new_authtok_reqd"
#define MAMORI_RESULT_PERM_DENIED "perm_denied"
#define MAMORI_RESULT_USER_UNKNOWN "user_unknown"
#define MAMORI_RESULT_AUTHTOK_ERR "authtok_err"
#define MAMORI_RESULT_AUTHTOK_RECOVER_ERR "authtok_recover_err"
#define MAMORI_RESULT_TRY_AGAIN "try_again"
#define MAMORI_RESULT_AUTHINFO_UNAVAIL "authinfo_unavail"
#define MAMORI_RESULT_RATE_LIMITED "rate_limited"

#endif
