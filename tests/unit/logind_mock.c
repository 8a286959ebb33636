/* SPDX-License-Identifier: BSD-2-Clause */
/* A private system bus with python3-dbusmock's logind template (see
 * logind_mock.h and TESTING.md "Fingerprints" for the bus recipe). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "logind_mock.h"

#define MOCK_IFACE "org.freedesktop.DBus.Mock"
#define LOGIND_NAME "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define START_WAIT_MS 15000

static void
sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
write_bus_conf(const char *path, const char *sock)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f,
	        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
	        " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
	        "<busconfig>\n"
	        "  <type>system</type>\n"
	        "  <listen>unix:path=%s</listen>\n"
	        "  <auth>EXTERNAL</auth>\n"
	        "  <policy context=\"default\">\n"
	        "    <allow user=\"*\"/>\n"
	        "    <allow own=\"*\"/>\n"
	        "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
	        "    <allow receive_sender=\"*\"/>\n"
	        "  </policy>\n"
	        "</busconfig>\n",
	        sock);
	return fclose(f) == 0 ? 0 : -1;
}

static pid_t
spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		/* Its own process group: never in the tests' way. */
		setpgid(0, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void
stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
	}
	*pid = -1;
}

static int
logind_ready(void)
{
	sd_bus *bus = NULL;
	int r = sd_bus_open_system(&bus);

	if (r >= 0)
		r = sd_bus_call_method(bus, LOGIND_NAME, LOGIND_PATH, MOCK_IFACE, "ClearCalls", NULL, NULL, "");
	sd_bus_flush_close_unref(bus);
	return r >= 0;
}

int
logind_mock_start(struct logind_mock *m)
{
	char conf[512], sock[512], addr[600], log[512];
	char config_arg[600];
	int waited;

	memset(m, 0, sizeof(*m));
	m->bus_pid = m->mock_pid = -1;
	snprintf(m->dir, sizeof(m->dir), "/tmp/mamori-logind-XXXXXX");
	if (mkdtemp(m->dir) == NULL) {
		fprintf(stderr, "logind mock: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	snprintf(conf, sizeof(conf), "%s/bus.conf", m->dir);
	snprintf(sock, sizeof(sock), "%s/bus.sock", m->dir);
	snprintf(log, sizeof(log), "%s/mock.log", m->dir);
	if (write_bus_conf(conf, sock) != 0) {
		fprintf(stderr, "logind mock: cannot write %s\n", conf);
		return -1;
	}
	snprintf(config_arg, sizeof(config_arg), "--config-file=%s", conf);
	{
		char *const argv[] = { "dbus-daemon", config_arg, "--nofork", "--nopidfile", NULL };
		m->bus_pid = spawn(argv, log);
	}
	for (waited = 0; access(sock, F_OK) != 0 && waited < START_WAIT_MS; waited += 10)
		sleep_ms(10);
	if (m->bus_pid < 0 || access(sock, F_OK) != 0) {
		fprintf(stderr, "logind mock: dbus-daemon did not start (see %s)\n", log);
		logind_mock_stop(m);
		return -1;
	}
	snprintf(addr, sizeof(addr), "unix:path=%s", sock);
	setenv("DBUS_SYSTEM_BUS_ADDRESS", addr, 1);
	{
		char *const argv[] = { "/usr/bin/python3", "-m", "dbusmock", "--system", "--template", "logind", NULL };
		m->mock_pid = spawn(argv, log);
	}
	for (waited = 0; !logind_ready() && waited < START_WAIT_MS; waited += 20)
		sleep_ms(20);
	if (m->mock_pid < 0 || !logind_ready()) {
		fprintf(stderr, "logind mock: dbusmock's logind did not come (see %s)\n", log);
		logind_mock_stop(m);
		return -1;
	}
	return 0;
}

void
logind_mock_stop(struct logind_mock *m)
{
	char path[512];

	stop(&m->mock_pid);
	stop(&m->bus_pid);
	unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
	if (m->dir[0] != '\0') {
		snprintf(path, sizeof(path), "%s/bus.conf", m->dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/bus.sock", m->dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/mock.log", m->dir);
		unlink(path);
		rmdir(m->dir);
		m->dir[0] = '\0';
	}
}

int
logind_mock_add_session(const char *id, uid_t uid, const char *user)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus *bus = NULL;
	int r = sd_bus_open_system(&bus);

	if (r >= 0)
		r = sd_bus_call_method(bus, LOGIND_NAME, LOGIND_PATH, MOCK_IFACE, "AddSession", &error, NULL, "ssusb",
		                       id, "seat0", (uint32_t)uid, user, 1);
	if (r < 0)
		fprintf(stderr, "logind mock: AddSession(%s): %s\n", id,
		        error.message != NULL ? error.message : strerror(-r));
	sd_bus_error_free(&error);
	sd_bus_flush_close_unref(bus);
	return r < 0 ? -1 : 0;
}

int
logind_mock_clear(void)
{
	return logind_ready() ? 0 : -1;
}

/* One (tsav) of GetCalls: 1 when it is method(id). */
static int
call_matches(sd_bus_message *reply, const char *method, const char *id)
{
	const char *name = NULL, *arg = NULL;
	uint64_t ts;
	int r, match;

	r = sd_bus_message_read(reply, "ts", &ts, &name);
	if (r < 0)
		return r;
	match = strcmp(name, method) == 0;
	r = sd_bus_message_enter_container(reply, 'a', "v");
	if (r < 0)
		return r;
	if (sd_bus_message_peek_type(reply, NULL, NULL) > 0) {
		r = sd_bus_message_enter_container(reply, 'v', "s");
		if (r >= 0) {
			r = sd_bus_message_read(reply, "s", &arg);
			if (r >= 0)
				r = sd_bus_message_exit_container(reply);
		} else {
			arg = NULL; /* not a string: skip it below */
		}
	}
	while ((r = sd_bus_message_skip(reply, "v")) > 0)
		;
	if (r < 0)
		return r;
	r = sd_bus_message_exit_container(reply);
	if (r < 0)
		return r;
	if (id != NULL)
		match = match && arg != NULL && strcmp(arg, id) == 0;
	return match;
}

int
logind_mock_calls(const char *method, const char *id)
{
	sd_bus_message *reply = NULL;
	sd_bus *bus = NULL;
	int r, n = 0;

	r = sd_bus_open_system(&bus);
	if (r >= 0)
		r = sd_bus_call_method(bus, LOGIND_NAME, LOGIND_PATH, MOCK_IFACE, "GetCalls", NULL, &reply, "");
	if (r >= 0)
		r = sd_bus_message_enter_container(reply, 'a', "(tsav)");
	while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'r', "tsav")) > 0) {
		r = call_matches(reply, method, id);
		if (r > 0)
			n++;
		if (r >= 0)
			r = sd_bus_message_exit_container(reply);
	}
	sd_bus_message_unref(reply);
	sd_bus_flush_close_unref(bus);
	if (r < 0) {
		fprintf(stderr, "logind mock: GetCalls: %s\n", strerror(-r));
		return -1;
	}
	return n;
}
