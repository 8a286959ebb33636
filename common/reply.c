/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "error.h"
#include "protocol.h"
#include "reply.h"
#include "wire.h"

int
mamori_reply_text_valid(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 0x20 || ch == 0x7f)
			return 0;
	}
	return 1;
}

static int
ticket_valid(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
			return 0;
	}
	return 1;
}

/* An optional text parameter: NULL when absent, too long or not text. */
static const char *
optional_text(const json_t *params, const char *key, size_t maxlen, int text)
{
	const char *s = NULL;

	if (params == NULL || mamori_wire_get_string(params, key, maxlen, &s) != MAMORI_OK)
		return NULL;
	if (text && !mamori_reply_text_valid(s))
		return NULL;
	return s;
}

int
mamori_reply_read(const json_t *msg, struct mamori_reply *out)
{
	const json_t *params = mamori_wire_parameters(msg);
	const char *name;

	*out = (struct mamori_reply){ .is_error = 0 };
	if (json_object_get(msg, "error") != NULL) {
		out->is_error = 1;
		name = mamori_wire_error_name(msg);
		if (name == NULL || name[0] == '\0' || strlen(name) > MAMORI_REPLY_ERROR_NAME_MAX ||
		    !mamori_reply_text_valid(name))
			return MAMORI_ERR_PROTOCOL;
		out->error = name;
		out->message = optional_text(params, "message", MAMORI_REPLY_MESSAGE_MAX, 0);
		out->parameter = optional_text(params, "parameter", MAMORI_REPLY_PARAMETER_MAX, 1);
		return MAMORI_OK;
	}
	if (params == NULL)
		return MAMORI_ERR_PROTOCOL;
	out->params = params;
	return MAMORI_OK;
}

int
mamori_reply_state(const json_t *params, enum mamori_reply_state *state, const char **name)
{
	const char *s = NULL;

	*name = NULL;
	if (mamori_wire_get_string(params, "state", MAMORI_REPLY_WORD_MAX, &s) != MAMORI_OK)
		return MAMORI_ERR_PROTOCOL;
	if (strcmp(s, MAMORI_STATE_PROMPT) == 0) {
		*state = MAMORI_REPLY_PROMPT;
		return MAMORI_OK;
	}
	if (strcmp(s, MAMORI_STATE_DONE) == 0) {
		*state = MAMORI_REPLY_DONE;
		return MAMORI_OK;
	}
	*name = mamori_reply_text_valid(s) ? s : NULL;
	return MAMORI_ERR_INVALID;
}

/* One {"style", "text"} object.  Messages (prompt == 0) are only info or
 * error.  0 or -1. */
static int
text_parse(const json_t *item, int prompt, struct mamori_reply_text *out)
{
	static const struct {
		const char *name;
		enum mamori_reply_style style;
		int prompt_only;
	} styles[] = {
		{ MAMORI_STYLE_INFO, MAMORI_REPLY_INFO, 0 },
		{ MAMORI_STYLE_ERROR, MAMORI_REPLY_ERROR, 0 },
		{ MAMORI_STYLE_ECHO_OFF, MAMORI_REPLY_ECHO_OFF, 1 },
		{ MAMORI_STYLE_ECHO_ON, MAMORI_REPLY_ECHO_ON, 1 },
	};
	const char *style, *text;

	if (!json_is_object(item) ||
	    mamori_wire_get_string(item, "style", MAMORI_REPLY_WORD_MAX, &style) != MAMORI_OK ||
	    mamori_wire_get_string(item, "text", MAMORI_REPLY_TEXT_MAX, &text) != MAMORI_OK ||
	    !mamori_reply_text_valid(text))
		return -1;
	for (size_t i = 0; i < sizeof(styles) / sizeof(styles[0]); i++) {
		if (strcmp(style, styles[i].name) == 0 && (prompt || !styles[i].prompt_only)) {
			out->style = styles[i].style;
			out->text = text;
			return 0;
		}
	}
	return -1;
}

/* params[key], an array of at most max texts, every one well formed. */
static int
texts_parse(const json_t *params, const char *key, int prompt, struct mamori_reply_text *out, size_t max, size_t *count)
{
	const json_t *list = json_object_get(params, key), *item;
	size_t i;

	*count = 0;
	if (list == NULL || json_is_null(list))
		return prompt ? -1 : 0;
	if (!json_is_array(list) || json_array_size(list) > max || (prompt && json_array_size(list) == 0))
		return -1;
	json_array_foreach (list, i, item) {
		if (text_parse(item, prompt, &out[i]) != 0)
			return -1;
	}
	*count = json_array_size(list);
	return 0;
}

int
mamori_reply_prompts(const json_t *params, struct mamori_reply_prompts *out)
{
	if (texts_parse(params, "prompts", 1, out->prompt, MAMORI_REPLY_MAX_PROMPTS, &out->count) != 0) {
		out->count = 0;
		return MAMORI_ERR_PROTOCOL;
	}
	return MAMORI_OK;
}

/* Login notices: what breaks the rules is left out and counted. */
static void
notices_parse(const json_t *params, struct mamori_reply_done *done)
{
	const json_t *list = json_object_get(params, "messages"), *item;
	size_t i;

	if (list == NULL || json_is_null(list))
		return;
	if (!json_is_array(list)) {
		done->not_a_list = 1;
		return;
	}
	json_array_foreach (list, i, item) {
		if (done->message_count == MAMORI_REPLY_MAX_MESSAGES) {
			done->left_out += json_array_size(list) - i;
			break;
		}
		if (text_parse(item, 0, &done->message[done->message_count]) != 0)
			done->left_out++;
		else
			done->message_count++;
	}
}

int
mamori_reply_done(const json_t *params, unsigned flags, struct mamori_reply_done *out)
{
	int rc;

	*out = (struct mamori_reply_done){ .result = NULL };
	if (mamori_wire_get_string(params, "result", MAMORI_REPLY_WORD_MAX, &out->result) != MAMORI_OK ||
	    !mamori_reply_text_valid(out->result))
		goto malformed;
	if (flags & MAMORI_REPLY_NOTICES)
		notices_parse(params, out);
	else if (texts_parse(params, "messages", 0, out->message, MAMORI_REPLY_MAX_MESSAGES, &out->message_count) != 0)
		goto malformed;
	rc = mamori_wire_get_string(params, "ticket", MAMORI_REPLY_TICKET_MAX, &out->ticket);
	if (rc == MAMORI_ERR_NOT_FOUND)
		out->ticket = NULL;
	else if (rc != MAMORI_OK || !ticket_valid(out->ticket))
		goto malformed;
	return MAMORI_OK;

malformed:
	*out = (struct mamori_reply_done){ .result = NULL };
	return MAMORI_ERR_PROTOCOL;
}
