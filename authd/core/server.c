/* SPDX-License-Identifier: BSD-2-Clause */
/* Sockets, connection threads and limits. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "service_admin/admin_service.h"
#include "core/daemon.h"
#include "directory/directory.h"
#include "error.h"
#include "log.h"
#include "protocol.h"
#include "service_pam/pam_service.h"
#include "secure.h"
#include "core/seal.h"
#include "core/server.h"

struct listener {
	int fd;
	int activated; /* passed by systemd: not ours to unlink */
	enum mamori_conn_kind kind;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static struct listener listeners[2] = { { .fd = -1 }, { .fd = -1 } };
/* The admin group in force: replaced by a reload, read by every admin
 * call, so that a change holds for connections already open too. */
static pthread_mutex_t admin_group_lock = PTHREAD_MUTEX_INITIALIZER;
static gid_t admin_gid;
static int admin_group_exists;

/* Live connections, for limits and for shutdown; their count is published
 * in daemon.c for Status. */
struct conn_entry {
	struct mamori_conn *conn;
	struct conn_entry *next;
};
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t conns_cond = PTHREAD_COND_INITIALIZER;
static struct conn_entry *conns;
static unsigned conns_count;

static int
make_listener(struct listener *l, const char *path, mode_t mode, gid_t gid)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		mamori_log_err("%s: socket path too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	memcpy(l->path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		mamori_log_err("socket: %s", strerror(errno));
		return -1;
	}
	/* A stale socket from a crashed run is replaced; anything else in the
	 * way is an error. */
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			mamori_log_err("%s exists and is not a socket", path);
			close(fd);
			return -1;
		}
		unlink(path);
	}
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		umask(old);
		mamori_log_err("bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if ((gid != (gid_t)-1 && chown(path, 0, gid) != 0) || chmod(path, mode) != 0) {
		mamori_log_err("%s: cannot set owner or mode: %s", path, strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	if (listen(fd, 128) != 0) {
		mamori_log_err("listen %s: %s", path, strerror(errno));
		unlink(path);
		close(fd);
		return -1;
	}
	l->fd = fd;
	return 0;
}

/* Socket activation: take the sockets systemd passed (LISTEN_FDS), matched
 * to their role by path; a socket we do not know is an error rather than
 * something to guess about.  The mode and group of passed sockets are the
 * .socket unit's (SocketMode=, SocketGroup=). */
static int
activated_listeners(const char *pam_path, const char *admin_path)
{
	int n = sd_listen_fds(1);

	if (n < 0) {
		mamori_log_err("socket activation: %s", strerror(-n));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		struct listener *l = NULL;

		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, pam_path, 0) > 0)
			l = &listeners[0];
		else if (sd_is_socket_unix(fd, SOCK_STREAM, 1, admin_path, 0) > 0)
			l = &listeners[1];
		if (l == NULL || l->fd >= 0) {
			mamori_log_err("socket activation: passed socket %d is neither %s nor %s", fd, pam_path,
			               admin_path);
			return -1;
		}
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 || fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
			mamori_log_err("socket activation: socket %d: %s", fd, strerror(errno));
			return -1;
		}
		l->fd = fd;
		l->activated = 1;
		/* sd_is_socket_unix matched the path, so it fits sun_path. */
		snprintf(l->path, sizeof(l->path), "%.107s", l == &listeners[0] ? pam_path : admin_path);
		mamori_log_info("using %s passed by the service manager", l->path);
	}
	return 0;
}

/* Whether conf's admin_group exists, and its gid.  A group that cannot be
 * looked up counts as absent: root only. */
static int
admin_group_resolve(const struct mamori_conf *conf, gid_t *gid)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (getgrnam_r(conf->admin_group, &gr, buf, sizeof(buf), &res) != 0 || res == NULL)
		return 0;
	*gid = gr.gr_gid;
	return 1;
}

/* Whether the admin peer of c may be served now: root, or a member of the
 * admin group in force (root only when it does not exist). */
static int
admin_peer_allowed(const struct mamori_conn *c)
{
	gid_t gid;
	int exists;

	pthread_mutex_lock(&admin_group_lock);
	gid = admin_gid;
	exists = admin_group_exists;
	pthread_mutex_unlock(&admin_group_lock);
	return exists ? mamori_peer_in_group(c->fd, &c->peer, gid) : c->peer.uid == 0;
}

int
mamori_server_listen(const struct mamori_conf *conf)
{
	char pam_path[512], admin_path[512];
	struct stat st;

	if (mkdir(conf->runtime_dir, 0755) == 0) {
		/* The umask is 077; every local user must reach pam.sock. */
		if (chmod(conf->runtime_dir, 0755) != 0) {
			mamori_log_err("%s: %s", conf->runtime_dir, strerror(errno));
			return -1;
		}
	} else if (errno != EEXIST) {
		mamori_log_err("%s: %s", conf->runtime_dir, strerror(errno));
		return -1;
	}
	if (lstat(conf->runtime_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		mamori_log_err("%s: not a directory", conf->runtime_dir);
		return -1;
	}
	if (mamori_conf_pam_socket(conf, pam_path, sizeof(pam_path)) != 0 ||
	    mamori_conf_admin_socket(conf, admin_path, sizeof(admin_path)) != 0) {
		mamori_log_err("%s: runtime_dir too long", conf->runtime_dir);
		return -1;
	}
	admin_group_exists = admin_group_resolve(conf, &admin_gid);
	listeners[0].kind = MAMORI_CONN_PAM;
	listeners[1].kind = MAMORI_CONN_ADMIN;
	if (activated_listeners(pam_path, admin_path) != 0)
		return -1;
	if (listeners[0].fd < 0 && make_listener(&listeners[0], pam_path, 0666, (gid_t)-1) != 0)
		return -1;
	if (listeners[1].fd < 0 && make_listener(&listeners[1], admin_path, admin_group_exists ? 0660 : 0600,
	                                         admin_group_exists ? admin_gid : (gid_t)-1) != 0)
		return -1;
	mamori_log_info("listening on %s and %s (admin group %s)", pam_path, admin_path,
	                admin_group_exists ? conf->admin_group : "absent: root only");
	return 0;
}

static json_t *
error_reply(const char *error, const char *message)
{
	return mamori_wire_error(error, message != NULL ? json_pack("{s:s}", "message", message) : NULL);
}

static json_t *
get_info(enum mamori_conn_kind kind)
{
	return mamori_wire_reply(json_pack("{s:s,s:s,s:s,s:s,s:[s,s]}", "vendor", "mamori", "product", "mamori-authd",
	                                   "version", PACKAGE_VERSION, "url", PACKAGE_URL, "interfaces",
	                                   MAMORI_IF_VARLINK,
	                                   kind == MAMORI_CONN_PAM ? MAMORI_IF_PAM : MAMORI_IF_ADMIN));
}

/* Send reply and drop it; MAMORI_OK when it was delivered.  A reply that
 * cannot be delivered (the client stopped reading: the socket's send
 * timeout is idle_timeout) ends the connection. */
static int
send_and_drop(struct mamori_conn *c, json_t *reply)
{
	int rc;

	if (reply == NULL) {
		reply = error_reply(MAMORI_ERROR_INTERNAL, "out of memory");
		if (reply == NULL)
			return MAMORI_ERR_NOMEM;
	}
	rc = mamori_wire_send(c->fd, reply);
	if (rc != MAMORI_OK)
		mamori_log_debug("connection %d: reply not delivered: %s", c->fd, mamori_strerror(rc));
	json_decref(reply);
	return rc;
}

/* The longest method name served; a longer one could not even be echoed in
 * a MethodNotFound reply within the message limit. */
#define METHOD_NAME_MAX 256

static void
serve(struct mamori_conn *c)
{
	for (;;) {
		const struct mamori_conf *conf = mamori_daemon_conf_get();
		int timeout_ms = (int)conf->idle_timeout * 1000;
		json_t *msg = NULL, *params, *reply;
		const char *method;
		int rc;

		mamori_daemon_conf_put(conf);
		rc = mamori_wire_recv(c->wire, &msg, timeout_ms);
		if (rc == MAMORI_ERR_TOO_LARGE || rc == MAMORI_ERR_PROTOCOL) {
			send_and_drop(c, error_reply(MAMORI_ERROR_MALFORMED, rc == MAMORI_ERR_TOO_LARGE
			                                                             ? "message too large"
			                                                             : "malformed message"));
			return;
		}
		if (rc != MAMORI_OK) {
			if (rc == MAMORI_ERR_TIMEOUT)
				mamori_log_debug("connection from uid %lu idle, closed", (unsigned long)c->peer.uid);
			return;
		}
		method = mamori_wire_method(msg);
		params = json_object_get(msg, "parameters");
		if (method == NULL || (params != NULL && !json_is_object(params))) {
			json_decref(msg);
			send_and_drop(c, error_reply(MAMORI_ERROR_MALFORMED, "not a varlink call"));
			return;
		}
		if (params == NULL) {
			params = json_object();
			json_object_set_new(msg, "parameters", params);
		}
		if (c->kind == MAMORI_CONN_ADMIN && !admin_peer_allowed(c)) {
			/* The admin group changed (SIGHUP) since this connection
			 * was accepted. */
			json_decref(msg);
			mamori_log_notice("admin socket: uid %lu no longer an administrator",
			                  (unsigned long)c->peer.uid);
			send_and_drop(c, error_reply(MAMORI_ERROR_PERMISSION_DENIED, "not an administrator"));
			return;
		}
		if (strlen(method) > METHOD_NAME_MAX)
			reply = mamori_wire_error(MAMORI_ERROR_METHOD_NOT_FOUND,
			                          json_pack("{s:s}", "method", "(name too long)"));
		else if (!strcmp(method, MAMORI_VARLINK_GET_INFO))
			reply = get_info(c->kind);
		else if (c->kind == MAMORI_CONN_PAM)
			reply = mamori_pam_service_handle(c, method, params);
		else
			reply = mamori_admin_service_handle(c, method, params);
		json_decref(msg);
		if (send_and_drop(c, reply) != MAMORI_OK)
			return;
	}
}

static void
conn_unregister(struct mamori_conn *c)
{
	pthread_mutex_lock(&conns_lock);
	for (struct conn_entry **pp = &conns; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->conn == c) {
			struct conn_entry *e = *pp;
			*pp = e->next;
			free(e);
			conns_count--;
			mamori_daemon_connections_set(conns_count);
			break;
		}
	}
	pthread_cond_broadcast(&conns_cond);
	pthread_mutex_unlock(&conns_lock);
}

static void *
conn_thread(void *arg)
{
	struct mamori_conn *c = arg;

	serve(c);
	mamori_pam_service_end(c);
	mamori_wire_clear(c->wire);
	/* The client sees the end before the slot is free for another
	 * connection: it never holds more connections than the limits count. */
	shutdown(c->fd, SHUT_RDWR);
	conn_unregister(c);
	close(c->fd);
	free(c->wire);
	free(c);
	return NULL;
}

/* The connections kept for real root (root at the console, the system's
 * own services): a sixteenth of max_connections, at least one. */
static unsigned
root_reserve(const struct mamori_conf *conf)
{
	unsigned r = conf->max_connections / 16;

	return r == 0 && conf->max_connections > 1 ? 1 : r;
}

/* Register c if the limits allow it.  Connections are counted against the
 * peer's accounting uid: a setuid su, sudo or passwd against the user who
 * ran it, not root. */
static int
conn_register(struct mamori_conn *c, const struct mamori_conf *conf)
{
	struct conn_entry *e;
	unsigned same_uid = 0;
	int refused;

	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return MAMORI_ERR_NOMEM;
	pthread_mutex_lock(&conns_lock);
	for (struct conn_entry *x = conns; x != NULL; x = x->next) {
		if (x->conn->peer.acct_uid == c->peer.acct_uid)
			same_uid++;
	}
	/* The per-uid limit keeps one local user from taking every slot, and
	 * the reserve keeps the last ones for real root; real root meets only
	 * the total. */
	refused = conns_count >= conf->max_connections;
	if (c->peer.acct_uid != 0)
		refused = refused || same_uid >= conf->max_connections_per_uid ||
		          conns_count >= conf->max_connections - root_reserve(conf);
	if (refused) {
		pthread_mutex_unlock(&conns_lock);
		free(e);
		return MAMORI_ERR_BUSY;
	}
	e->conn = c;
	e->next = conns;
	conns = e;
	conns_count++;
	mamori_daemon_connections_set(conns_count);
	pthread_mutex_unlock(&conns_lock);
	return MAMORI_OK;
}

static void
refuse(int fd, const char *error, const char *message)
{
	json_t *reply = error_reply(error, message);

	if (reply != NULL) {
		mamori_wire_send(fd, reply);
		json_decref(reply);
	}
	close(fd);
}

static void
accept_one(struct listener *l)
{
	const struct mamori_conf *conf;
	struct mamori_conn *c;
	pthread_attr_t attr;
	pthread_t tid;
	int fd, rc;

	fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			mamori_log_warn("accept: %s", strerror(errno));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->wire = calloc(1, sizeof(*c->wire))) == NULL) {
		free(c);
		refuse(fd, MAMORI_ERROR_BUSY, "out of memory");
		return;
	}
	c->fd = fd;
	c->kind = l->kind;
	/* A client that stops reading cannot hold a thread longer than one
	 * that stops writing. */
	conf = mamori_daemon_conf_get();
	struct timeval sndtimeo = { .tv_sec = (time_t)conf->idle_timeout, .tv_usec = 0 };
	mamori_daemon_conf_put(conf);
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sndtimeo, sizeof(sndtimeo)) != 0)
		mamori_log_warn("SO_SNDTIMEO: %s", strerror(errno));
	mamori_wire_init(c->wire, fd);
	if (mamori_peer_get(fd, &c->peer) != 0) {
		free(c->wire);
		free(c);
		close(fd);
		return;
	}
	if (l->kind == MAMORI_CONN_ADMIN && !admin_peer_allowed(c)) {
		mamori_log_notice("admin socket: uid %lu refused", (unsigned long)c->peer.uid);
		free(c->wire);
		free(c);
		refuse(fd, MAMORI_ERROR_PERMISSION_DENIED, "not an administrator");
		return;
	}
	conf = mamori_daemon_conf_get();
	rc = conn_register(c, conf);
	mamori_daemon_conf_put(conf);
	if (rc != MAMORI_OK) {
		mamori_log_warn("connection from uid %lu (counted as uid %ld) refused: too many connections",
		                (unsigned long)c->peer.uid,
		                c->peer.acct_uid == MAMORI_PEER_UID_UNKNOWN ? -1L : (long)c->peer.acct_uid);
		free(c->wire);
		free(c);
		refuse(fd, MAMORI_ERROR_BUSY, "too many connections");
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Argon2 allocates its memory on the heap; threads need little stack. */
	pthread_attr_setstacksize(&attr, 256 * 1024);
	rc = pthread_create(&tid, &attr, conn_thread, c);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		mamori_log_err("pthread_create: %s", strerror(rc));
		conn_unregister(c);
		free(c->wire);
		free(c);
		refuse(fd, MAMORI_ERROR_BUSY, "cannot serve now");
	}
}

/* Reload: the admin group of the new configuration takes effect at once,
 * for the check on every call and for the socket we made (a socket passed
 * by the service manager keeps the .socket unit's SocketGroup=). */
static void
admin_group_apply(const struct mamori_conf *conf)
{
	const struct listener *l = &listeners[1];
	struct stat st;
	gid_t gid = 0;
	int exists = admin_group_resolve(conf, &gid);

	pthread_mutex_lock(&admin_group_lock);
	admin_gid = gid;
	admin_group_exists = exists;
	pthread_mutex_unlock(&admin_group_lock);
	if (l->fd < 0)
		return;
	if (l->activated) {
		mamori_log_notice("reload: admin group %s; %s keeps the group and mode its socket unit gave it",
		                  exists ? conf->admin_group : "absent: root only", l->path);
		return;
	}
	if (lstat(l->path, &st) != 0 || !S_ISSOCK(st.st_mode) || chown(l->path, 0, exists ? gid : 0) != 0 ||
	    chmod(l->path, exists ? 0660 : 0600) != 0) {
		mamori_log_err("reload: %s: cannot set owner or mode: %s", l->path, strerror(errno));
		return;
	}
	mamori_log_info("reload: %s: admin group %s", l->path, exists ? conf->admin_group : "absent: root only");
}

/* P-CRED-STORE: the keyring follows its files: the current key when it
 * loads (after a switch it is the former next key; a key that fails to load
 * keeps the running one), the next and previous keys as they are now. */
static void
keyring_reload(const struct mamori_conf *conf)
{
	char err[512], id[MAMORI_SEAL_KEY_ID_LEN + 1];

	if (mamori_seal_keyring_reload(conf, err, sizeof(err)) != MAMORI_OK)
		mamori_log_err("reload: keeping the running store key: %s", err);
	else if (mamori_seal_key_id(MAMORI_SEAL_CURRENT, id) == MAMORI_OK)
		mamori_log_notice("reload: store key %s (key id %s)", conf->store_key, id);
}

static void
reload(void)
{
	const struct mamori_conf *old;
	struct mamori_conf *conf;
	char err[512];
	char dummy[MAMORI_HASH_MAX];

	conf = mamori_conf_load(mamori_daemon.config_path, err, sizeof(err));
	if (conf == NULL) {
		mamori_log_err("reload refused, keeping the running configuration: %s", err);
		return;
	}
	old = mamori_daemon_conf_get();
	if (strcmp(old->runtime_dir, conf->runtime_dir) != 0 || strcmp(old->state_dir, conf->state_dir) != 0 ||
	    strcmp(old->store_backend, conf->store_backend) != 0 ||
	    (old->store_path == NULL) != (conf->store_path == NULL) ||
	    (old->store_path != NULL && strcmp(old->store_path, conf->store_path) != 0))
		mamori_log_warn("reload: runtime_dir, state_dir and [store] take effect only after a restart");
	mamori_daemon_conf_put(old);
	if (mamori_daemon_conf_set(conf) != MAMORI_OK) {
		mamori_conf_free(&conf);
		mamori_log_err("reload failed: out of memory");
		return;
	}
	conf = NULL;
	old = mamori_daemon_conf_get();
	if (mamori_daemon_dummy_hash(old, dummy, sizeof(dummy)) != MAMORI_OK)
		mamori_log_err("reload: cannot prepare the dummy hash");
	if (mamori_daemon_blocklist_load(old, err, sizeof(err)) != MAMORI_OK)
		mamori_log_err("reload: keeping the previous block list: %s", err);
	admin_group_apply(old);
	keyring_reload(old);
	mamori_daemon_conf_put(old);
	/* The directory engine follows the new [directory] (or stops). */
	if (mamori_directory_reload() != MAMORI_OK)
		mamori_log_err("reload: the directory engine could not be restarted");
	mamori_log_notice("configuration reloaded from %s", mamori_daemon.config_path);
}

int
mamori_server_run(void)
{
	sigset_t mask;
	int sfd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		mamori_log_err("signalfd: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = listeners[0].fd, .events = POLLIN },
			{ .fd = listeners[1].fd, .events = POLLIN },
		};
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			mamori_log_err("poll: %s", strerror(errno));
			close(sfd);
			return -1;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					reload();
				} else {
					mamori_log_notice("signal %u: stopping", si.ssi_signo);
					close(sfd);
					return 0;
				}
			}
		}
		for (int i = 0; i < 2; i++) {
			if (pfd[i + 1].revents & POLLIN)
				accept_one(&listeners[i]);
		}
	}
}

unsigned
mamori_server_shutdown(void)
{
	struct timespec deadline;
	unsigned left;

	for (int i = 0; i < 2; i++) {
		if (listeners[i].fd >= 0) {
			close(listeners[i].fd);
			if (!listeners[i].activated)
				unlink(listeners[i].path);
			listeners[i].fd = -1;
		}
	}
	/* Wake every connection thread and give it a moment to finish the
	 * transaction it may be in. */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	pthread_mutex_lock(&conns_lock);
	for (struct conn_entry *e = conns; e != NULL; e = e->next)
		shutdown(e->conn->fd, SHUT_RDWR);
	while (conns_count > 0) {
		if (pthread_cond_timedwait(&conns_cond, &conns_lock, &deadline) == ETIMEDOUT)
			break;
	}
	left = conns_count;
	if (left > 0)
		mamori_log_warn("%u connections still busy at shutdown", left);
	pthread_mutex_unlock(&conns_lock);
	return left;
}
