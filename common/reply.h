/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_REPLY_H
#define MAMORI_REPLY_H

/* The one reader of mamori-authd's replies, for pam_mamori.so and
 * mamorictl: an error and its parameters, or the parameters; for a
 * conversation its state, its prompts (style, text) and, when it is done,
 * the result, the messages and the ticket.  Everything read is checked and
 * bounded here, so that both clients show the daemon the same face; every
 * string handed out is borrowed from the reply. */

#include <stddef.h>

#include <jansson.h>

#define MAMORI_REPLY_WORD_MAX 32 /* a state, a style, a result */
#define MAMORI_REPLY_ERROR_NAME_MAX 128
#define MAMORI_REPLY_MESSAGE_MAX 1024 /* an error's "message" */
#define MAMORI_REPLY_PARAMETER_MAX 128 /* InvalidParameter's "parameter" */
/* Some applications copy conversation text into PAM_MAX_MSG_SIZE (512)
 * buffers. */
#define MAMORI_REPLY_TEXT_MAX 511
#define MAMORI_REPLY_TICKET_MAX 128
#define MAMORI_REPLY_MAX_PROMPTS 8 /* prompts per reply */
#define MAMORI_REPLY_MAX_MESSAGES 16 /* messages in a final reply */

/* Text shown to a person: one line, no control characters (the daemon may
 * quote things like a remote host name into it).  1 or 0. */
int mamori_reply_text_valid(const char *s);

struct mamori_reply {
	int is_error; /* the reply has an "error" member */
	const char *error; /* its name (text, at most ..._ERROR_NAME_MAX) */
	/* An error's "message" (at most ..._MESSAGE_MAX bytes, not checked
	 * for control characters: the caller cleans or checks it) and
	 * "parameter" (text, at most ..._PARAMETER_MAX), or NULL. */
	const char *message;
	const char *parameter;
	const json_t *params; /* not an error: the parameters object */
};

/* Read one reply.  MAMORI_OK: an error reply (is_error, error set) or a
 * reply with a parameters object (params set).  MAMORI_ERR_PROTOCOL: an
 * error without a usable name (is_error set), or no parameters object. */
int mamori_reply_read(const json_t *msg, struct mamori_reply *out);

enum mamori_reply_state { MAMORI_REPLY_PROMPT, MAMORI_REPLY_DONE };

/* A conversation reply's state.  MAMORI_OK; MAMORI_ERR_PROTOCOL without a
 * state; MAMORI_ERR_INVALID for a state the protocol does not have, with
 * *name set to it when it is text (else NULL). */
int mamori_reply_state(const json_t *params, enum mamori_reply_state *state, const char **name);

enum mamori_reply_style {
	MAMORI_REPLY_ECHO_OFF,
	MAMORI_REPLY_ECHO_ON,
	MAMORI_REPLY_INFO,
	MAMORI_REPLY_ERROR,
};

struct mamori_reply_text {
	enum mamori_reply_style style;
	const char *text; /* text, at most MAMORI_REPLY_TEXT_MAX bytes */
};

struct mamori_reply_prompts {
	struct mamori_reply_text prompt[MAMORI_REPLY_MAX_PROMPTS];
	size_t count; /* 1 to MAMORI_REPLY_MAX_PROMPTS */
};

/* A "prompt" reply's prompts: 1 to MAMORI_REPLY_MAX_PROMPTS of any style.
 * MAMORI_OK or MAMORI_ERR_PROTOCOL. */
int mamori_reply_prompts(const json_t *params, struct mamori_reply_prompts *out);

/* The messages are login notices (OpenSession): shown on a best-effort
 * basis, so a message that breaks the rules, and those beyond
 * MAMORI_REPLY_MAX_MESSAGES, are left out (and counted) instead of making
 * the reply malformed. */
#define MAMORI_REPLY_NOTICES 0x1u

struct mamori_reply_done {
	const char *result; /* text, at most MAMORI_REPLY_WORD_MAX bytes */
	struct mamori_reply_text message[MAMORI_REPLY_MAX_MESSAGES]; /* info or error */
	size_t message_count;
	size_t left_out; /* notices: messages left out */
	int not_a_list; /* notices: "messages" was not a list; none kept */
	const char *ticket; /* hexadecimal, at most ..._TICKET_MAX, or NULL */
};

/* A reply that ends a request (a "done" conversation, AccountCheck, the
 * sessions): its result, its messages (absent or null: none) and its
 * ticket.  MAMORI_OK or MAMORI_ERR_PROTOCOL. */
int mamori_reply_done(const json_t *params, unsigned flags, struct mamori_reply_done *out);

#endif
