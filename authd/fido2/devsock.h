/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_FIDO2_DEVSOCK_H
#define MAMORI_FIDO2_DEVSOCK_H

/* Test hook (compiled in only with --enable-test-hooks): FIDO2 keys reached
 * over AF_UNIX stream sockets instead of hidraw, for the suite's software
 * authenticator (tests/fido2/softkey.py).  This kernel has no hidraw, so
 * no key can appear as a device; libfido2 1.12 lets a program supply the
 * device through fido_dev_info_set with its own fido_dev_io_t and
 * fido_dev_transport_t, and everything above the transport (CTAPHID INIT's
 * nonce, CBOR, PIN protocol, the parsing of replies) is libfido2's own.
 *
 * Wire format, both ways: one CTAPHID command byte (CTAP_CMD_INIT 0x06,
 * CTAP_CMD_CBOR 0x10, CTAP_CMD_MSG 0x03, CTAP_CMD_CANCEL 0x11, an answer's
 * CTAP_CMD_ERROR 0x3f or CTAP_KEEPALIVE 0x3b), a 4-byte big-endian length,
 * then that many bytes of payload (at most 7609, CTAPHID's largest
 * message).  One request, one answer (keepalives may come before it). */

#include <stddef.h>

#include <fido.h>

/* The prefix of the path a socket key gets in fido_dev_info: "unix:". */
#define MAMORI_FIDO2_DEVSOCK_PREFIX "unix:"

/* The keys MAMORI_TEST_FIDO2_DEVICES names ("sock1:sock2", each a path
 * to an AF_UNIX socket), as a fido_dev_info list of *n entries (free with
 * fido_dev_info_free(list, n)) whose io and transport are the socket's;
 * a socket nothing listens on is left out.  -1 when the variable is not
 * set (the caller uses fido_dev_info_manifest). */
int mamori_fido2_devsock_manifest(fido_dev_info_t **list, size_t *n);
/* Set dev up for the socket key at path ("unix:/..."), to be opened with
 * fido_dev_open(dev, path).  FIDO_OK or a FIDO_ERR_*. */
int mamori_fido2_devsock_setup(fido_dev_t *dev);

#endif
