/* SPDX-License-Identifier: BSD-2-Clause */
/* The daemon's card code (authd/card/client.c and cert.c) driven from the
 * command line, for tests/integration/test-card-helper.sh:
 *
 *   card_client [--profiles LIST] HELPER wait TIMEOUT_MS
 *       prints "ok READER PROFILE TRIES KEY FINGERPRINT", or "error NAME"
 *   card_client [--profiles LIST] HELPER sign TIMEOUT_MS PIN [PIN...]
 *       waits for a card, then signs a fresh challenge with each PIN in
 *       turn until one works: a line per attempt, "wrong_pin TRIES",
 *       "locked", "error NAME", or "signed LEN verified" when
 *       mamori_card_cert_verify accepts the signature under the card's
 *       certificate (and "signed LEN REFUSED" when it does not); a PIN
 *       "wait:PATH" prints "paused" and waits until PATH exists
 *   card_client [--profiles LIST] HELPER tries TIMEOUT_MS
 *       waits, then "tries N"
 *   card_client [--profiles LIST] HELPER watch EVENTS SECONDS
 *       prints EVENTS reader events ("present READER", "removed READER"),
 *       or "timeout" after SECONDS
 *
 * The exit status is 0 when the last line is not an error. */
#include "config.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "card/card.h"
#include "card/cert.h"
#include "conf.h"
#include "error.h"
#include "secure.h"

static int
do_wait(struct mamori_card_session *s, int timeout, struct mamori_card_info *info)
{
	struct mamori_card_cert c;
	const char *err = NULL;
	int rc = mamori_card_wait(s, timeout, info, &err);

	if (rc != MAMORI_OK) {
		printf("error %s\n", err != NULL ? err : "?");
		return -1;
	}
	if (mamori_card_cert_parse(info->cert, info->cert_len, &c) != MAMORI_OK) {
		printf("error certificate\n");
		return -1;
	}
	printf("ok %s %s %d %s %s\n", info->reader, info->profile, info->tries, c.key, c.fingerprint);
	return 0;
}

/* A "PIN" wait:PATH is no attempt: it says "paused" and waits (10 s at
 * most) until PATH exists, so that a test can act on the card between two
 * requests. */
static void
pause_for(const char *path)
{
	printf("paused\n");
	fflush(stdout);
	for (int i = 0; i < 200 && access(path, F_OK) != 0; i++) {
		struct timespec ts = { 0, 50 * 1000000 };
		nanosleep(&ts, NULL);
	}
}

static int
do_sign(struct mamori_card_session *s, const struct mamori_card_info *info, char **pins, int npins)
{
	unsigned char challenge[MAMORI_CARD_CHALLENGE_LEN], sig[MAMORI_CARD_SIG_MAX];
	const char *err = NULL;
	size_t sig_len = 0;
	int tries = -1, rc = -1;

	for (int i = 0; i < npins; i++) {
		if (!strncmp(pins[i], "wait:", 5)) {
			pause_for(pins[i] + 5);
			continue;
		}
		if (mamori_random_bytes(challenge, sizeof(challenge)) != 0)
			return -1;
		rc = mamori_card_sign(s, pins[i], strlen(pins[i]), challenge, sig, &sig_len, &tries, &err);
		if (rc == MAMORI_OK) {
			int v = mamori_card_cert_verify(info->cert, info->cert_len, challenge, sizeof(challenge), sig,
			                                sig_len);
			printf("signed %zu %s\n", sig_len, v == MAMORI_OK ? "verified" : "REFUSED");
			return v == MAMORI_OK ? 0 : -1;
		}
		if (err != NULL && !strcmp(err, MAMORI_CARD_E_WRONG_PIN))
			printf("wrong_pin %d\n", tries);
		else if (err != NULL && !strcmp(err, MAMORI_CARD_E_LOCKED))
			printf("locked\n");
		else
			printf("error %s\n", err != NULL ? err : "?");
		fflush(stdout);
	}
	return -1;
}

static int
do_watch(struct mamori_conf *conf, int events, int seconds)
{
	struct mamori_card_watch *w = NULL;
	time_t end = time(NULL) + seconds;
	int got = 0;

	if (mamori_card_watch_open(conf, &w) != MAMORI_OK) {
		printf("error watch_open\n");
		return -1;
	}
	while (got < events && time(NULL) < end) {
		struct pollfd p = { .fd = mamori_card_watch_fd(w), .events = POLLIN };
		char reader[MAMORI_CARD_READER_MAX + 1];
		int present, rc;

		if (poll(&p, 1, 200) <= 0)
			continue;
		while (got < events && (rc = mamori_card_watch_next(w, reader, &present)) != MAMORI_ERR_BUSY) {
			if (rc == MAMORI_ERR_IO) {
				printf("error helper_gone\n");
				mamori_card_watch_close(&w);
				return -1;
			}
			if (rc == MAMORI_OK) {
				printf("%s %s\n", present ? "present" : "removed", reader);
				fflush(stdout);
				got++;
			}
		}
	}
	mamori_card_watch_close(&w);
	if (got < events) {
		printf("timeout\n");
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct mamori_conf *conf = mamori_conf_defaults();
	struct mamori_card_session *s = NULL;
	struct mamori_card_info info;
	const char *err = NULL;
	int a = 1, rc = -1, tries = -1;

	if (conf == NULL)
		return 2;
	if (argc > 3 && !strcmp(argv[1], "--profiles")) {
		free(conf->card_profiles);
		conf->card_profiles = strdup(argv[2]);
		a = 3;
	}
	if (argc - a < 3) {
		fprintf(stderr, "usage: card_client [--profiles LIST] HELPER wait|sign|tries|watch ...\n");
		return 2;
	}
	free(conf->card_helper);
	conf->card_helper = strdup(argv[a]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[a + 1], "watch") && argc - a == 4) {
		rc = do_watch(conf, atoi(argv[a + 2]), atoi(argv[a + 3]));
		mamori_conf_free(&conf);
		return rc == 0 ? 0 : 1;
	}
	if (mamori_card_open(conf, &s) != MAMORI_OK) {
		printf("error open\n");
		mamori_conf_free(&conf);
		return 1;
	}
	rc = do_wait(s, atoi(argv[a + 2]), &info);
	if (rc == 0 && !strcmp(argv[a + 1], "sign"))
		rc = do_sign(s, &info, argv + a + 3, argc - a - 3);
	else if (rc == 0 && !strcmp(argv[a + 1], "tries")) {
		rc = mamori_card_tries(s, &tries, &err);
		if (rc == MAMORI_OK)
			printf("tries %d\n", tries);
		else
			printf("error %s\n", err != NULL ? err : "?");
	}
	mamori_card_close(&s);
	mamori_conf_free(&conf);
	return rc == 0 ? 0 : 1;
}
