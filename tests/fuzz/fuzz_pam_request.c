/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for authd/service_pam/: io.mamori.Pam on pam.sock,
 * the conversation state machine behind pam_mamori (authenticate with
 * every factor set, chauthtok, compromised reports, TOTP enrolment,
 * AccountCheck, Open/CloseSession).
 *
 * Each input is one connection: byte 0 picks the peer, the rest holds up
 * to FUZZ_MESSAGES_MAX messages separated by NUL bytes, so that
 * conversations of several steps are reachable.  request_fixture.c sets up
 * the daemon, checks every reply and restores the store between inputs. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "request_fixture.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_fixture_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_fixture_run(MAMORI_CONN_PAM, data, size);
	return 0;
}
