/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for common/reply.c: the one reader of the daemon's replies
 * that pam_mamori.so and mamorictl share.  Good replies are read into the
 * struct; every malformed one is refused, never read as a success. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "error.h"
#include "protocol.h"
#include "reply.h"

static json_t *
parse(const char *text)
{
	json_error_t err;
	json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &err);

	if (v == NULL)
		fail_msg("bad test JSON: %s: %s", text, err.text);
	return v;
}

/* A string of n copies of ch, as a JSON string literal's contents. */
static char *
repeat(char ch, size_t n)
{
	char *s = test_malloc(n + 1);

	memset(s, ch, n);
	s[n] = '\0';
	return s;
}

/* ------------------------------------------------------------ replies */

static void
test_read_parameters(void **state)
{
	json_t *msg = parse("{\"parameters\": {\"user\": {\"name\": \"alice\"}}}");
	struct mamori_reply r;

	(void)state;
	assert_int_equal(mamori_reply_read(msg, &r), MAMORI_OK);
	assert_false(r.is_error);
	assert_null(r.error);
	assert_ptr_equal(r.params, json_object_get(msg, "parameters"));
	json_decref(msg);
}

static void
test_read_error_with_message_and_parameter(void **state)
{
	json_t *msg = parse("{\"error\": \"" MAMORI_ERROR_INVALID_PARAMETER "\", "
	                    "\"parameters\": {\"parameter\": \"name\", \"message\": \"no such user\"}}");
	struct mamori_reply r;

	(void)state;
	assert_int_equal(mamori_reply_read(msg, &r), MAMORI_OK);
	assert_true(r.is_error);
	assert_string_equal(r.error, MAMORI_ERROR_INVALID_PARAMETER);
	assert_string_equal(r.parameter, "name");
	assert_string_equal(r.message, "no such user");
	assert_null(r.params);
	json_decref(msg);
}

static void
test_read_error_without_parameters(void **state)
{
	json_t *msg = parse("{\"error\": \"" MAMORI_ERROR_BUSY "\"}");
	struct mamori_reply r;

	(void)state;
	assert_int_equal(mamori_reply_read(msg, &r), MAMORI_OK);
	assert_true(r.is_error);
	assert_string_equal(r.error, MAMORI_ERROR_BUSY);
	assert_null(r.message);
	assert_null(r.parameter);
	json_decref(msg);
}

static void
test_read_malformed(void **state)
{
	static const char *const bad[] = {
		"{}", /* neither an error nor parameters */
		"{\"parameters\": []}",
		"{\"parameters\": \"x\"}",
		"{\"parameters\": null}",
		"{\"error\": 7, \"parameters\": {}}",
		"{\"error\": null}",
		"{\"error\": \"\"}",
		"{\"error\": \"io.mamori.Error.\\nBusy\"}",
		"{\"error\": \"io.mamori.Error.\\u007fBusy\"}",
	};
	struct mamori_reply r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *msg = parse(bad[i]);

		assert_int_equal(mamori_reply_read(msg, &r), MAMORI_ERR_PROTOCOL);
		assert_null(r.params);
		assert_null(r.error);
		json_decref(msg);
	}
}

static void
test_read_error_name_bound(void **state)
{
	char *name = repeat('E', MAMORI_REPLY_ERROR_NAME_MAX + 1);
	json_t *msg = json_pack("{s:s}", "error", name);
	struct mamori_reply r;

	(void)state;
	assert_int_equal(mamori_reply_read(msg, &r), MAMORI_ERR_PROTOCOL);
	assert_true(r.is_error);
	json_decref(msg);
	name[MAMORI_REPLY_ERROR_NAME_MAX] = '\0';
	msg = json_pack("{s:s}", "error", name);
	assert_int_equal(mamori_reply_read(msg, &r), MAMORI_OK);
	assert_string_equal(r.error, name);
	json_decref(msg);
	test_free(name);
}

/* A message or parameter that breaks its bounds is dropped, not the
 * error: the error's name still decides. */
static void
test_read_error_details_bounded(void **state)
{
	char *long_message = repeat('m', MAMORI_REPLY_MESSAGE_MAX + 1);
	json_t *msg = json_pack("{s:s, s:{s:s, s:s}}", "error", MAMORI_ERROR_INVALID_PARAMETER, "parameters", "message",
	                        long_message, "parameter", "bad\nname");
	struct mamori_reply r;

	(void)state;
	assert_int_equal(mamori_reply_read(msg, &r), MAMORI_OK);
	assert_string_equal(r.error, MAMORI_ERROR_INVALID_PARAMETER);
	assert_null(r.message);
	assert_null(r.parameter);
	json_decref(msg);
	test_free(long_message);
}

/* ------------------------------------------------------------ states */

static void
test_state(void **state)
{
	json_t *p = parse("{\"state\": \"prompt\"}"), *d = parse("{\"state\": \"done\"}");
	json_t *u = parse("{\"state\": \"later\"}"), *c = parse("{\"state\": \"la\\tter\"}");
	json_t *none = parse("{}"), *num = parse("{\"state\": 1}");
	enum mamori_reply_state s;
	const char *name = "x";

	(void)state;
	assert_int_equal(mamori_reply_state(p, &s, &name), MAMORI_OK);
	assert_int_equal(s, MAMORI_REPLY_PROMPT);
	assert_null(name);
	assert_int_equal(mamori_reply_state(d, &s, &name), MAMORI_OK);
	assert_int_equal(s, MAMORI_REPLY_DONE);
	assert_int_equal(mamori_reply_state(u, &s, &name), MAMORI_ERR_INVALID);
	assert_string_equal(name, "later");
	assert_int_equal(mamori_reply_state(c, &s, &name), MAMORI_ERR_INVALID);
	assert_null(name);
	assert_int_equal(mamori_reply_state(none, &s, &name), MAMORI_ERR_PROTOCOL);
	assert_int_equal(mamori_reply_state(num, &s, &name), MAMORI_ERR_PROTOCOL);
	json_decref(p);
	json_decref(d);
	json_decref(u);
	json_decref(c);
	json_decref(none);
	json_decref(num);
}

/* ------------------------------------------------------------ prompts */

static void
test_prompts_good(void **state)
{
	json_t *params = parse("{\"state\": \"prompt\", \"prompts\": ["
	                       "{\"style\": \"info\", \"text\": \"Welcome\"},"
	                       "{\"style\": \"error\", \"text\": \"Try again\"},"
	                       "{\"style\": \"echo_on\", \"text\": \"Code: \"},"
	                       "{\"style\": \"echo_off\", \"text\": \"Password: \"}]}");
	struct mamori_reply_prompts p;

	(void)state;
	assert_int_equal(mamori_reply_prompts(params, &p), MAMORI_OK);
	assert_int_equal(p.count, 4);
	assert_int_equal(p.prompt[0].style, MAMORI_REPLY_INFO);
	assert_string_equal(p.prompt[0].text, "Welcome");
	assert_int_equal(p.prompt[1].style, MAMORI_REPLY_ERROR);
	assert_int_equal(p.prompt[2].style, MAMORI_REPLY_ECHO_ON);
	assert_int_equal(p.prompt[3].style, MAMORI_REPLY_ECHO_OFF);
	assert_string_equal(p.prompt[3].text, "Password: ");
	json_decref(params);
}

static void
test_prompts_malformed(void **state)
{
	static const char *const bad[] = {
		"{}",
		"{\"prompts\": null}",
		"{\"prompts\": []}",
		"{\"prompts\": {}}",
		"{\"prompts\": [\"Password: \"]}",
		"{\"prompts\": [{\"style\": \"echo_off\"}]}",
		"{\"prompts\": [{\"text\": \"Password: \"}]}",
		"{\"prompts\": [{\"style\": \"shout\", \"text\": \"Password: \"}]}",
		"{\"prompts\": [{\"style\": \"echo_off\", \"text\": \"Pass\\nword: \"}]}",
		"{\"prompts\": [{\"style\": \"echo_off\", \"text\": \"\\u001b[2J\"}]}",
		"{\"prompts\": [{\"style\": \"echo_off\", \"text\": 5}]}",
		"{\"prompts\": [{\"style\": \"info\", \"text\": \"ok\"}, 3]}",
	};
	struct mamori_reply_prompts p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *params = parse(bad[i]);

		assert_int_equal(mamori_reply_prompts(params, &p), MAMORI_ERR_PROTOCOL);
		assert_int_equal(p.count, 0);
		json_decref(params);
	}
}

static void
test_prompts_bounds(void **state)
{
	json_t *params = json_pack("{s:[]}", "prompts");
	json_t *list = json_object_get(params, "prompts");
	char *text = repeat('t', MAMORI_REPLY_TEXT_MAX);
	struct mamori_reply_prompts p;

	(void)state;
	for (int i = 0; i < MAMORI_REPLY_MAX_PROMPTS; i++)
		json_array_append_new(list, json_pack("{s:s, s:s}", "style", "echo_on", "text", text));
	assert_int_equal(mamori_reply_prompts(params, &p), MAMORI_OK);
	assert_int_equal(p.count, MAMORI_REPLY_MAX_PROMPTS);
	json_array_append_new(list, json_pack("{s:s, s:s}", "style", "echo_on", "text", "one more"));
	assert_int_equal(mamori_reply_prompts(params, &p), MAMORI_ERR_PROTOCOL);
	json_decref(params);

	/* One byte over the text bound. */
	test_free(text);
	text = repeat('t', MAMORI_REPLY_TEXT_MAX + 1);
	params = json_pack("{s:[{s:s, s:s}]}", "prompts", "style", "echo_off", "text", text);
	assert_int_equal(mamori_reply_prompts(params, &p), MAMORI_ERR_PROTOCOL);
	json_decref(params);
	test_free(text);
}

/* ------------------------------------------------------------ done */

static void
test_done_good(void **state)
{
	json_t *params = parse("{\"state\": \"done\", \"result\": \"success\", \"ticket\": \"0aF9\", \"messages\": ["
	                       "{\"style\": \"info\", \"text\": \"Last login: yesterday\"},"
	                       "{\"style\": \"error\", \"text\": \"Your password expires soon\"}]}");
	struct mamori_reply_done d;

	(void)state;
	assert_int_equal(mamori_reply_done(params, 0, &d), MAMORI_OK);
	assert_string_equal(d.result, MAMORI_RESULT_SUCCESS);
	assert_string_equal(d.ticket, "0aF9");
	assert_int_equal(d.message_count, 2);
	assert_int_equal(d.message[0].style, MAMORI_REPLY_INFO);
	assert_int_equal(d.message[1].style, MAMORI_REPLY_ERROR);
	assert_string_equal(d.message[1].text, "Your password expires soon");
	json_decref(params);
}

static void
test_done_without_messages_or_ticket(void **state)
{
	json_t *a = parse("{\"result\": \"auth_err\"}"), *b = parse("{\"result\": \"maxtries\", \"messages\": null}");
	struct mamori_reply_done d;

	(void)state;
	assert_int_equal(mamori_reply_done(a, 0, &d), MAMORI_OK);
	assert_string_equal(d.result, MAMORI_RESULT_AUTH_ERR);
	assert_int_equal(d.message_count, 0);
	assert_null(d.ticket);
	assert_int_equal(mamori_reply_done(b, 0, &d), MAMORI_OK);
	assert_int_equal(d.message_count, 0);
	json_decref(a);
	json_decref(b);
}

static void
test_done_malformed(void **state)
{
	static const char *const bad[] = {
		"{}",
		"{\"result\": null}",
		"{\"result\": 0}",
		"{\"result\": \"\\nsuccess\"}",
		"{\"result\": \"a_result_name_that_is_far_too_long_to_be_one\"}",
		"{\"result\": \"success\", \"messages\": {}}",
		"{\"result\": \"success\", \"messages\": [{\"style\": \"echo_off\", \"text\": \"Password: \"}]}",
		"{\"result\": \"success\", \"messages\": [{\"style\": \"info\", \"text\": \"a\\rb\"}]}",
		"{\"result\": \"success\", \"ticket\": \"\"}",
		"{\"result\": \"success\", \"ticket\": \"not hex\"}",
		"{\"result\": \"success\", \"ticket\": 12}",
	};
	struct mamori_reply_done d;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *params = parse(bad[i]);

		assert_int_equal(mamori_reply_done(params, 0, &d), MAMORI_ERR_PROTOCOL);
		/* Nothing of a refused reply is left to be mistaken for it. */
		assert_null(d.result);
		assert_null(d.ticket);
		assert_int_equal(d.message_count, 0);
		json_decref(params);
	}
}

static void
test_done_bounds(void **state)
{
	json_t *params = json_pack("{s:s, s:[]}", "result", "success", "messages");
	json_t *list = json_object_get(params, "messages");
	char *ticket = repeat('a', MAMORI_REPLY_TICKET_MAX + 1);
	struct mamori_reply_done d;

	(void)state;
	for (int i = 0; i < MAMORI_REPLY_MAX_MESSAGES; i++)
		json_array_append_new(list, json_pack("{s:s, s:s}", "style", "info", "text", "line"));
	assert_int_equal(mamori_reply_done(params, 0, &d), MAMORI_OK);
	assert_int_equal(d.message_count, MAMORI_REPLY_MAX_MESSAGES);
	json_array_append_new(list, json_pack("{s:s, s:s}", "style", "info", "text", "line"));
	assert_int_equal(mamori_reply_done(params, 0, &d), MAMORI_ERR_PROTOCOL);
	json_decref(params);

	params = json_pack("{s:s, s:s}", "result", "success", "ticket", ticket);
	assert_int_equal(mamori_reply_done(params, 0, &d), MAMORI_ERR_PROTOCOL);
	json_decref(params);
	test_free(ticket);
}

/* Login notices: what breaks the rules is left out and counted; the result
 * still decides. */
static void
test_done_notices_lenient(void **state)
{
	json_t *params = json_pack("{s:s, s:[]}", "result", "success", "messages");
	json_t *list = json_object_get(params, "messages");
	json_t *odd = parse("{\"result\": \"success\", \"messages\": \"banner\"}");
	struct mamori_reply_done d;

	(void)state;
	json_array_append_new(list, json_pack("{s:s, s:s}", "style", "info", "text", "Welcome"));
	json_array_append_new(list, json_pack("{s:s, s:s}", "style", "info", "text", "bad\x1b[2Jline"));
	json_array_append_new(list, json_pack("{s:s, s:s}", "style", "echo_off", "text", "Password: "));
	json_array_append_new(list, json_integer(3));
	for (int i = 0; i < MAMORI_REPLY_MAX_MESSAGES + 2; i++)
		json_array_append_new(list, json_pack("{s:s, s:s}", "style", "error", "text", "more"));
	assert_int_equal(mamori_reply_done(params, MAMORI_REPLY_NOTICES, &d), MAMORI_OK);
	assert_string_equal(d.result, MAMORI_RESULT_SUCCESS);
	assert_int_equal(d.message_count, MAMORI_REPLY_MAX_MESSAGES);
	assert_string_equal(d.message[0].text, "Welcome");
	assert_string_equal(d.message[1].text, "more");
	assert_int_equal(d.left_out, 3 + 3);
	assert_false(d.not_a_list);
	/* The same reply is malformed when the messages are part of the
	 * decision. */
	assert_int_equal(mamori_reply_done(params, 0, &d), MAMORI_ERR_PROTOCOL);

	assert_int_equal(mamori_reply_done(odd, MAMORI_REPLY_NOTICES, &d), MAMORI_OK);
	assert_true(d.not_a_list);
	assert_int_equal(d.message_count, 0);
	/* A bad result is never lenient. */
	json_object_set_new(odd, "result", json_string("su\ncess"));
	assert_int_equal(mamori_reply_done(odd, MAMORI_REPLY_NOTICES, &d), MAMORI_ERR_PROTOCOL);
	json_decref(params);
	json_decref(odd);
}

static void
test_text_valid(void **state)
{
	(void)state;
	assert_true(mamori_reply_text_valid(""));
	assert_true(mamori_reply_text_valid("Mot de passe\xc2\xa0: "));
	assert_false(mamori_reply_text_valid("a\tb"));
	assert_false(mamori_reply_text_valid("a\x7f"));
	assert_false(mamori_reply_text_valid("\x1b[31m"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_parameters),
		cmocka_unit_test(test_read_error_with_message_and_parameter),
		cmocka_unit_test(test_read_error_without_parameters),
		cmocka_unit_test(test_read_malformed),
		cmocka_unit_test(test_read_error_name_bound),
		cmocka_unit_test(test_read_error_details_bounded),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_prompts_good),
		cmocka_unit_test(test_prompts_malformed),
		cmocka_unit_test(test_prompts_bounds),
		cmocka_unit_test(test_done_good),
		cmocka_unit_test(test_done_without_messages_or_ticket),
		cmocka_unit_test(test_done_malformed),
		cmocka_unit_test(test_done_bounds),
		cmocka_unit_test(test_done_notices_lenient),
		cmocka_unit_test(test_text_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
