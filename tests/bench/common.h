/* SPDX-License-Identifier: BSD-2-Clause */
/* What the benchmark programs share: the clock, PAM runs with a scripted
 * conversation, Argon2id hashing and timing, statistics, arguments and the
 * password on standard input.  Errors are said on standard error after the
 * program's name, each message in one piece.  What the client threads of
 * concurrency.c call (bench_error, now_s, pam_run, timed_verify, wipe) is
 * thread-safe; the argument parsing is for main alone. */
#ifndef MAMORI_BENCH_COMMON_H
#define MAMORI_BENCH_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define SALT_LEN 16 /* as authd/factors/password.c */
#define HASH_LEN 32
#define MESSAGE_MAX 256

/* The program's name, which starts every error message ("auth-overhead");
 * main sets it before anything else. */
extern const char *bench_prog;

/* How a PAM conversation answers, and what it saw. */
struct conv_state {
	const char *password; /* the answer to the first echo-off prompt (to every one without new_password) */
	const char *new_password; /* if set, the answer to the second and third, and a fourth fails */
	unsigned prompts; /* echo-off prompts answered in this transaction */
	char last_text[MESSAGE_MAX]; /* last info or error message, shown on failure */
};

struct stats {
	double mean, median, p90, min, max;
};

/* Say "PROG: " and the message, and a newline, on standard error in one
 * piece. */
void bench_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* bench_error with a va_list. */
void bench_verror(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* As perror(what), after "PROG: ". */
void bench_perror(const char *what);

/* Overwrite len bytes at p with zeroes, in a way the compiler keeps. */
void wipe(void *p, size_t len);

/* CLOCK_MONOTONIC in milliseconds; exits on failure. */
double now_ms(void);

/* CLOCK_MONOTONIC in seconds; exits on failure. */
double now_s(void);

/* One PAM transaction, its prompts answered as st says: pam_start(service,
 * user), pam_authenticate (pam_chauthtok if chauthtok is set), pam_end.
 * Returns its duration in ms, or a negative number after saying why it
 * failed. */
double pam_run(const char *service, const char *user, int chauthtok, struct conv_state *st);

/* A hash of password in encoded (encoded_len bytes, from
 * argon2_encodedlen) with t_cost, m_kib and lanes, a random salt and the
 * daemon's salt and hash sizes; 0, or -1 after saying why it failed. */
int hash_password(uint32_t t_cost, uint32_t m_kib, uint32_t lanes, const char *password, char *encoded,
                  size_t encoded_len);

/* One argon2id_verify of password against encoded, which must match, timed
 * with now (now_ms or now_s); its duration in now's unit, or a negative
 * number after saying why it failed. */
double timed_verify(const char *encoded, const char *password, double (*now)(void));

/* qsort's comparison for doubles, in ascending order. */
int compare_double(const void *a, const void *b);

/* Sort v in place; its median. */
double median_of(double *v, size_t n);

/* The mean, median, nearest-rank p90, min and max of n samples (left as
 * they are); 0, or -1 if n is 0 or memory ran out. */
int stats_compute(const double *samples, size_t n, struct stats *s);

/* A decimal number from lo to hi in *out; 0, or -1 after saying that what
 * is not one. */
int parse_number(const char *what, const char *s, unsigned long lo, unsigned long hi, unsigned long *out);

/* The Argon2id costs T, M_KIB (at least 8 KiB a lane) and P, in that order
 * on the command line, into *t_cost, *m_kib and *lanes; 0, or -1 after
 * saying which is not a number in range. */
int parse_cost(char **arg, unsigned long *t_cost, unsigned long *m_kib, unsigned long *lanes);

/* A number option: -letter NUMBER, from lo to hi, into *out. */
struct number_option {
	char letter;
	const char *what;
	unsigned long lo, hi;
	unsigned long *out;
};

/* getopt over argv with the n number options in opts and -v, which sets
 * *verbose; then between min_args and max_args arguments must remain.  0,
 * or -1 after saying why not (usage, for an unknown option or a wrong
 * count of arguments, says how the program is called). */
int parse_options(int argc, char **argv, const struct number_option *opts, size_t n, int *verbose, int min_args,
                  int max_args, void (*usage)(void));

/* The first line of standard input, without its newline, in buf (len
 * bytes: a password of at most len - 2); 0, or -1 after saying why not.
 * user, if not NULL, is named in the messages. */
int read_password(char *buf, size_t len, const char *user);

/* The password argument: arg, or with arg "-" the first line of standard
 * input, in buf (len bytes: a password of at most len - 2); 0, or -1 after
 * saying why not. */
int password_argument(const char *arg, char *buf, size_t len);

#endif
