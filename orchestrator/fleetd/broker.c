/*
 * broker.c -- fleetd's embedded mosquitto (broker.h): configuration,
 * start, supervision on fl_loop, stop.
 *
 * Method: the child is made with fork() and execv(), not posix_spawn(),
 * because it must arm prctl(PR_SET_PDEATHSIG, SIGTERM) in itself before
 * the exec (posix_spawn has no hook for that). Between fork and exec it
 * makes only async-signal-safe calls: it unblocks the signals fleetd keeps
 * blocked for its signalfd (a mask survives exec, and a mosquitto with
 * SIGTERM blocked could never be stopped), restores SIGPIPE, moves to a
 * process group of its own, arms the death signal and checks that its
 * parent did not die before that (the signal would then never come),
 * puts /dev/null on stdin and the log pipe on stdout and stderr, closes
 * every other descriptor (fleetd's listening sockets must not live on in
 * a broker), and execs. Everything it needs (the path of the program, the
 * arguments) is computed before the fork.
 *
 * The broker's end is seen on the loop through a pidfd (pidfd_open), or,
 * on a kernel without it, by a waitpid(WNOHANG) every 500 ms. Whether the
 * broker is up is tested by connecting to its port: at the first start
 * synchronously (fleetd cannot do anything useful before), after a
 * restart from a timer on the loop.
 *
 * A stale broker: fleetd killed by SIGKILL leaves broker.pid behind; its
 * broker got SIGTERM and is saving its persistence or gone. At the next
 * start the pid is checked (alive, not a zombie, and its command line
 * names this data directory's mosquitto.conf, so that a recycled pid of
 * another program is never signalled), stopped like our own, and only
 * then is the port chosen.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "fl/log.h"
#include "fl/bytes.h"
#include "fl/err.h"

#define LINE_MAX_BYTES 512
#define PROBE_MS       50u
#define POLL_EXIT_MS   500u
#define BACKOFF_MIN_MS 500u
#define BACKOFF_MAX_MS 30000u
#define STABLE_MS      60000u /* a broker that ran this long restarts fast */
#define LAST_LINE_MAX  200

struct fl_broker {
	struct fl_broker_config cfg;
	pid_t pid; /* -1: not running */
	int pidfd; /* -1: none (or polled) */
	int log_fd;
	bool is_up;
	bool is_stopping;
	bool is_restarting; /* fl_broker_restart: no backoff */
	uint16_t port;
	unsigned restarts;
	uint32_t backoff_ms;
	uint64_t started_ms;
	uint64_t probe_deadline_ms;
	struct fl_loop_timer restart_timer, probe_timer, poll_timer;
	struct fl_loop_timer kill_timer; /* a restart that SIGTERM missed */
	size_t line_len;
	char line[LINE_MAX_BYTES];
	char last_line[LAST_LINE_MAX]; /* for a diagnostic */
	char exe[FL_BROKER_PATH_MAX];
	char dir[FL_BROKER_PATH_MAX];  /* DATA/mosquitto */
	char conf[FL_BROKER_PATH_MAX]; /* DATA/mosquitto/mosquitto.conf */
	char pidf[FL_BROKER_PATH_MAX]; /* DATA/mosquitto/broker.pid */
	char acl[FL_BROKER_PATH_MAX];  /* DATA/mosquitto/acl */
	char cafile[FL_BROKER_PATH_MAX], certfile[FL_BROKER_PATH_MAX],
		keyfile[FL_BROKER_PATH_MAX];
	char crlfile[FL_BROKER_PATH_MAX]; /* "": none */
	char root[64], fleetd_cn[64];
};

static void say(struct fl_broker *b, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(struct fl_broker *b, int level, const char *fmt, ...)
{
	char msg[LINE_MAX_BYTES + 64];
	va_list ap;

	if (b->cfg.log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	b->cfg.log(b->cfg.log_ctx, level, msg);
}

static void set_diag(struct fl_broker_diag *diag, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_diag(struct fl_broker_diag *diag, const char *fmt, ...)
{
	va_list ap;

	if (diag == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(diag->msg, sizeof(diag->msg), fmt, ap);
	va_end(ap);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000),
			      (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- ports --------------------------------------------------------------- */

static int loopback_socket(struct sockaddr_in *a, uint16_t port)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = htons(port);
	return s;
}

/* Whether a listener could bind 127.0.0.1:port now (as mosquitto does:
 * SO_REUSEADDR, so connections in TIME_WAIT do not count). */
static bool is_port_free(uint16_t port)
{
	struct sockaddr_in a;
	int one = 1, s = loopback_socket(&a, port);
	bool ok;

	if (s < 0)
		return false;
	(void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ok = bind(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

static uint16_t any_free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int s = loopback_socket(&a, 0);
	uint16_t port = 0;

	if (s < 0)
		return 0;
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(s);
	return port;
}

/* Whether something accepts connections on 127.0.0.1:port. */
static bool is_accepting(uint16_t port)
{
	struct sockaddr_in a;
	int s = loopback_socket(&a, port);
	bool ok;

	if (s < 0)
		return false;
	ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

/* The port of the last configuration written here, 0 if none. */
static uint16_t last_port(const struct fl_broker *b)
{
	char line[256];
	unsigned port = 0;
	FILE *f = fopen(b->conf, "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "listener %u", &port) == 1)
			break;
	fclose(f);
	return port > 0 && port < 65536 ? (uint16_t)port : 0;
}

/* ---- files --------------------------------------------------------------- */

int fl_broker_pub_cn(char *out, size_t cap, const char *fleetd_cn, unsigned i)
{
	char suffix[16];
	const char *at;
	size_t head, tail, n;

	if (out == NULL || fleetd_cn == NULL)
		return FL_EINVAL;
	n = (size_t)snprintf(suffix, sizeof(suffix), "-p%u", i);
	at = strchr(fleetd_cn, '@');
	head = at != NULL ? (size_t)(at - fleetd_cn) : strlen(fleetd_cn);
	tail = at != NULL ? strlen(at) : 0;
	if (head + n + 1 >= cap)
		return FL_EINVAL;
	if (head + n + tail >= cap)
		tail = cap - 1 - head - n;
	snprintf(out, cap, "%.*s%s%.*s", (int)head, fleetd_cn, suffix,
		 (int)tail, at != NULL ? at : "");
	return 0;
}

/* A path mosquitto's configuration parser reads back as it is. */
static bool is_conf_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == '#' || *s == 0x7f)
			return false;
	return true;
}

/*
 * The ACL (mosquitto.conf(5), acl_file): with require_certificate and
 * use_identity_as_username every client's username is its certificate's
 * CN, and use_username_as_clientid makes it the client id too, so a
 * device can neither take over another's session nor its topics. Pattern
 * lines apply to every user, %u being the username: a device writes its
 * own presence, reported, status and health and reads its own cmd, and
 * nothing else (topics not granted are refused: a publish is dropped, a
 * subscription delivers nothing). fleetd reads every device's reports and
 * writes every device's commands; observer@fleet reads everything.
 */
static int write_acl(struct fl_broker *b, struct fl_broker_diag *diag)
{
	static const char *const dev_out[] = {"presence", "reported", "status",
					      "health"};
	char tmp[FL_BROKER_PATH_MAX + 8];
	FILE *f;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", b->acl);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL) {
		set_diag(diag, "cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return FL_EIO;
	}
	fprintf(f,
		"# Who may use which topic on fleetd's embedded broker, "
		"written by\n"
		"# fleetd at every start: edits are lost. docs/security.md.\n"
		"user %s\n",
		b->fleetd_cn);
	for (size_t i = 0; i < 4; i++)
		fprintf(f, "topic read %s/v1/dev/+/%s\n", b->root, dev_out[i]);
	fprintf(f, "topic write %s/v1/dev/+/cmd\n\n", b->root);
	for (unsigned i = 0; i < b->cfg.fleetd_pubs; i++) {
		char cn[64];

		if (fl_broker_pub_cn(cn, sizeof(cn), b->fleetd_cn, i) == 0)
			fprintf(f, "user %s\ntopic write %s/v1/dev/+/cmd\n\n",
				cn, b->root);
	}
	fprintf(f, "user observer@fleet\ntopic read %s/v1/dev/#\n\n", b->root);
	for (size_t i = 0; i < 4; i++)
		fprintf(f, "pattern write %s/v1/dev/%%u/%s\n", b->root,
			dev_out[i]);
	fprintf(f, "pattern read %s/v1/dev/%%u/cmd\n", b->root);
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, b->acl) != 0) {
		set_diag(diag, "cannot write %s: %s", b->acl, strerror(errno));
		(void)unlink(tmp);
		return FL_EIO;
	}
	return 0;
}

static int write_conf(struct fl_broker *b, struct fl_broker_diag *diag)
{
	const struct fl_broker_config *c = &b->cfg;
	const struct passwd *pw = getpwuid(geteuid());
	char tmp[FL_BROKER_PATH_MAX + 8];
	FILE *f;
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", b->conf);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL) {
		set_diag(diag, "cannot write %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return FL_EIO;
	}
	if (b->cafile[0] != '\0' && write_acl(b, diag) != 0) {
		fclose(f);
		(void)unlink(tmp);
		return FL_EIO;
	}
	fprintf(f,
		"# The embedded broker of fleetd, written by fleetd at every "
		"start:\n"
		"# edits are lost. docs/operations.md, docs/security.md.\n"
		"per_listener_settings false\n"
		"listener %u 127.0.0.1\n",
		(unsigned)b->port);
	if (b->cafile[0] != '\0')
		fprintf(f,
			"cafile %s\ncertfile %s\nkeyfile %s\n"
			"tls_version tlsv1.2\n"
			"require_certificate true\n"
			"use_identity_as_username true\n"
			"use_username_as_clientid true\n"
			"allow_anonymous false\n"
			"acl_file %s\n",
			b->cafile, b->certfile, b->keyfile, b->acl);
	if (b->cafile[0] != '\0' && b->crlfile[0] != '\0')
		fprintf(f, "crlfile %s\n", b->crlfile);
	else
		fprintf(f, "# --insecure: plain text, anonymous, no ACL\n"
			   "allow_anonymous true\n");
	fprintf(f,
		"persistence true\n"
		"persistence_location %s/\n"
		"persistence_file mosquitto.db\n"
		"autosave_interval %u\n"
		"max_queued_messages %u\n"
		"max_inflight_messages %u\n"
		"set_tcp_nodelay true\n"
		"log_dest stderr\n"
		"log_timestamp false\n"
		"log_type error\n"
		"log_type warning\n",
		b->dir, c->autosave_s, c->max_queued, c->max_inflight);
	if (c->is_verbose)
		fprintf(f, "log_type notice\nlog_type information\n"
			   "connection_messages true\n");
	else
		fprintf(f, "connection_messages false\n");
	/* As root, mosquitto would switch to the user "mosquitto", who
	 * cannot write DATA/mosquitto (0700): it stays who fleetd is. */
	if (pw != NULL && pw->pw_name != NULL && is_conf_safe(pw->pw_name))
		fprintf(f, "user %s\n", pw->pw_name);
	ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, b->conf) != 0) {
		set_diag(diag, "cannot write %s: %s", b->conf, strerror(errno));
		(void)unlink(tmp);
		return FL_EIO;
	}
	return 0;
}

static void write_pid(struct fl_broker *b)
{
	char tmp[FL_BROKER_PATH_MAX + 8];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", b->pidf);
	f = fopen(tmp, "we");
	if (f == NULL) {
		say(b, FL_LOG_WARN, "broker: cannot write %s: %s", tmp,
		    strerror(errno));
		return;
	}
	fprintf(f, "%ld\n", (long)b->pid);
	if (fclose(f) != 0 || rename(tmp, b->pidf) != 0)
		say(b, FL_LOG_WARN, "broker: cannot write %s: %s", b->pidf,
		    strerror(errno));
}

/* Finds mosquitto: the configured path, else PATH, /usr/sbin,
 * /usr/local/sbin. */
static int find_exe(struct fl_broker *b, struct fl_broker_diag *diag)
{
	const char *path = getenv("PATH");
	char dirs[4096];
	char *save = NULL;

	if (b->cfg.exe != NULL) {
		if (access(b->cfg.exe, X_OK) != 0) {
			set_diag(diag, "%s: %s", b->cfg.exe, strerror(errno));
			return FL_ENOENT;
		}
		(void)fl_strlcpy(b->exe, b->cfg.exe, sizeof(b->exe));
		return 0;
	}
	snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/usr/local/sbin",
		 path != NULL ? path : "/usr/bin:/bin");
	for (char *d = strtok_r(dirs, ":", &save); d != NULL;
	     d = strtok_r(NULL, ":", &save)) {
		if (d[0] != '/')
			continue; /* a relative PATH entry: never */
		snprintf(b->exe, sizeof(b->exe), "%s/mosquitto", d);
		if (access(b->exe, X_OK) == 0)
			return 0;
	}
	b->exe[0] = '\0';
	set_diag(diag,
		 "no mosquitto program in PATH, /usr/sbin or /usr/local/sbin "
		 "(install mosquitto, or run with --broker URL)");
	return FL_ENOENT;
}

/* ---- a stale broker ------------------------------------------------------ */

/* Whether pid is alive, not a zombie, and runs with our configuration. */
static bool is_our_broker(const struct fl_broker *b, pid_t pid)
{
	char path[64], buf[4096], state = '?';
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	{
		const char *p = strrchr(buf, ')');

		if (p != NULL && p[1] == ' ')
			state = p[2];
	}
	if (state == 'Z' || state == 'X' || state == '?')
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
		if (strcmp(buf + i, b->conf) == 0)
			return true;
	return false;
}

static bool wait_gone(const struct fl_broker *b, pid_t pid, uint32_t ms)
{
	uint64_t end = fl_loop_now_ms() + ms;

	while (is_our_broker(b, pid)) {
		if (fl_loop_now_ms() >= end)
			return false;
		sleep_ms(20);
	}
	return true;
}

static void stop_stale(struct fl_broker *b)
{
	long pid = 0;
	FILE *f = fopen(b->pidf, "re");

	if (f == NULL)
		return;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid > 1 && pid != (long)getpid() && is_our_broker(b, (pid_t)pid)) {
		say(b, FL_LOG_WARN,
		    "broker: mosquitto %ld of a previous fleetd still runs: "
		    "stopping it",
		    pid);
		(void)kill((pid_t)pid, SIGTERM);
		if (!wait_gone(b, (pid_t)pid, b->cfg.stop_timeout_ms)) {
			(void)kill((pid_t)pid, SIGKILL);
			(void)wait_gone(b, (pid_t)pid, b->cfg.stop_timeout_ms);
		}
	}
	(void)unlink(b->pidf);
}

/* ---- the child's log ----------------------------------------------------- */

static void log_line(struct fl_broker *b, const char *s)
{
	int level = FL_LOG_INFO;

	if (strncmp(s, "Error", 5) == 0)
		level = FL_LOG_ERROR;
	else if (strncmp(s, "Warning", 7) == 0)
		level = FL_LOG_WARN;
	(void)fl_strlcpy(b->last_line, s, sizeof(b->last_line));
	if (s[0] != '\0')
		say(b, level, "mosquitto: %s", s);
}

/* Reads what the broker wrote and logs it line by line. Returns false at
 * the end of the pipe. */
static bool read_log(struct fl_broker *b)
{
	for (;;) {
		ssize_t n = read(b->log_fd, b->line + b->line_len,
				 sizeof(b->line) - 1 - b->line_len);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0 && b->line_len > 0) {
				b->line[b->line_len] = '\0';
				log_line(b, b->line);
				b->line_len = 0;
			}
			return n < 0 &&
			       (errno == EAGAIN || errno == EWOULDBLOCK);
		}
		b->line_len += (size_t)n;
		b->line[b->line_len] = '\0';
		while ((nl = strchr(b->line, '\n')) != NULL) {
			size_t used = (size_t)(nl - b->line) + 1;

			*nl = '\0';
			log_line(b, b->line);
			memmove(b->line, b->line + used, b->line_len - used);
			b->line_len -= used;
			b->line[b->line_len] = '\0';
		}
		if (b->line_len == sizeof(b->line) - 1) {
			log_line(b, b->line); /* a line too long: split */
			b->line_len = 0;
		}
	}
}

static void close_log(struct fl_broker *b)
{
	if (b->log_fd < 0)
		return;
	fl_loop_fd_del(b->cfg.loop, b->log_fd);
	close(b->log_fd);
	b->log_fd = -1;
	b->line_len = 0;
}

static void on_log_fd(void *ctx, int fd, uint32_t events)
{
	struct fl_broker *b = ctx;

	(void)fd;
	(void)events;
	if (!read_log(b))
		close_log(b);
}

/* ---- the child ----------------------------------------------------------- */

static void close_from(int lowfd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0u, 0u) == 0)
		return;
#endif
	for (int fd = lowfd; fd < 65536; fd++)
		(void)close(fd);
}

static int pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0u);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

static void on_exit_fd(void *ctx, int fd, uint32_t events);
static void on_poll_exit(void *ctx);

/* Starts mosquitto; the pid, the pidfd and the log pipe on success. */
static int spawn(struct fl_broker *b, struct fl_broker_diag *diag)
{
	char *argv[] = {b->exe, (char *)"-c", b->conf, NULL};
	pid_t parent = getpid(), pid;
	int pfd[2], rc;

	if (pipe2(pfd, O_CLOEXEC) != 0) {
		set_diag(diag, "pipe: %s", strerror(errno));
		return FL_EIO;
	}
	pid = fork();
	if (pid < 0) {
		set_diag(diag, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return FL_EIO;
	}
	if (pid == 0) {
		sigset_t none;
		int null = open("/dev/null", O_RDONLY);

		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		(void)signal(SIGPIPE, SIG_DFL);
		(void)setpgid(0, 0);
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 ||
		    getppid() != parent)
			_exit(127);
		if (null < 0 || dup2(null, 0) < 0 || dup2(pfd[1], 1) < 0 ||
		    dup2(pfd[1], 2) < 0)
			_exit(127);
		close_from(3);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	b->pid = pid;
	b->started_ms = fl_loop_now_ms();
	b->log_fd = pfd[0];
	b->line_len = 0;
	(void)fcntl(b->log_fd, F_SETFL, fcntl(b->log_fd, F_GETFL) | O_NONBLOCK);
	rc = fl_loop_fd_add(b->cfg.loop, b->log_fd, EPOLLIN, on_log_fd, b);
	if (rc != 0) {
		say(b, FL_LOG_WARN, "broker: its log is not read: %s",
		    fl_strerror(rc));
		close(b->log_fd);
		b->log_fd = -1;
	}
	b->pidfd = pidfd_of(pid);
	if (b->pidfd >= 0 && fl_loop_fd_add(b->cfg.loop, b->pidfd, EPOLLIN,
					    on_exit_fd, b) != 0) {
		close(b->pidfd);
		b->pidfd = -1;
	}
	if (b->pidfd < 0)
		(void)fl_loop_timer_at(b->cfg.loop, &b->poll_timer,
				       fl_loop_now_ms() + POLL_EXIT_MS);
	write_pid(b);
	return 0;
}

/* Reaps the child if it ended: true then (with *status). */
static bool reap(struct fl_broker *b, int *status, bool is_blocking)
{
	pid_t r;

	if (b->pid < 0)
		return true;
	do
		r = waitpid(b->pid, status, is_blocking ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return false;
	if (b->pidfd >= 0) {
		fl_loop_fd_del(b->cfg.loop, b->pidfd);
		close(b->pidfd);
		b->pidfd = -1;
	}
	fl_loop_timer_stop(b->cfg.loop, &b->poll_timer);
	b->pid = -1;
	return true;
}

static void describe_exit(char *out, size_t cap, int status)
{
	if (WIFEXITED(status))
		snprintf(out, cap, "exited with status %d",
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, cap, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(out, cap, "ended");
}

static void set_up(struct fl_broker *b, bool is_up)
{
	if (b->is_up == is_up)
		return;
	b->is_up = is_up;
	if (b->cfg.on_state != NULL)
		b->cfg.on_state(b->cfg.cb_ctx, is_up);
}

/* The broker ended: log, tell, and start it again after a backoff. */
static void ended(struct fl_broker *b, int status)
{
	char how[96];
	uint64_t ran = fl_loop_now_ms() - b->started_ms;

	if (b->log_fd >= 0 && !read_log(b))
		close_log(b);
	close_log(b);
	fl_loop_timer_stop(b->cfg.loop, &b->probe_timer);
	describe_exit(how, sizeof(how), status);
	set_up(b, false);
	fl_loop_timer_stop(b->cfg.loop, &b->kill_timer);
	if (b->is_stopping)
		return;
	if (b->is_restarting) {
		b->is_restarting = false;
		say(b, FL_LOG_INFO,
		    "broker: mosquitto %s for a restart; "
		    "starting it again",
		    how);
		(void)fl_loop_timer_at(b->cfg.loop, &b->restart_timer,
				       fl_loop_now_ms());
		return;
	}
	if (ran >= STABLE_MS)
		b->backoff_ms = BACKOFF_MIN_MS;
	say(b, FL_LOG_ERROR, "broker: mosquitto %s; starting it again in %u ms",
	    how, (unsigned)b->backoff_ms);
	(void)fl_loop_timer_at(b->cfg.loop, &b->restart_timer,
			       fl_loop_now_ms() + b->backoff_ms);
	b->backoff_ms = b->backoff_ms >= BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS
							    : 2 * b->backoff_ms;
}

static void on_exit_fd(void *ctx, int fd, uint32_t events)
{
	struct fl_broker *b = ctx;
	int status = 0;

	(void)fd;
	(void)events;
	if (reap(b, &status, false))
		ended(b, status);
}

static void on_poll_exit(void *ctx)
{
	struct fl_broker *b = ctx;
	int status = 0;

	if (reap(b, &status, false)) {
		ended(b, status);
		return;
	}
	(void)fl_loop_timer_at(b->cfg.loop, &b->poll_timer,
			       fl_loop_now_ms() + POLL_EXIT_MS);
}

static void on_probe(void *ctx)
{
	struct fl_broker *b = ctx;
	uint64_t now = fl_loop_now_ms();

	if (b->pid < 0)
		return;
	if (is_accepting(b->port)) {
		say(b, FL_LOG_INFO, "broker: mosquitto %ld is up on port %u",
		    (long)b->pid, (unsigned)b->port);
		set_up(b, true);
		return;
	}
	if (b->probe_deadline_ms != 0 && now >= b->probe_deadline_ms) {
		say(b, FL_LOG_WARN,
		    "broker: mosquitto %ld does not listen on port %u yet",
		    (long)b->pid, (unsigned)b->port);
		b->probe_deadline_ms = 0;
	}
	(void)fl_loop_timer_at(
		b->cfg.loop, &b->probe_timer,
		now + (b->probe_deadline_ms != 0 ? PROBE_MS : 1000u));
}

static void on_restart(void *ctx)
{
	struct fl_broker *b = ctx;
	struct fl_broker_diag diag;

	if (b->is_stopping || b->pid >= 0)
		return;
	memset(&diag, 0, sizeof(diag));
	if (spawn(b, &diag) != 0) {
		say(b, FL_LOG_ERROR, "broker: cannot start mosquitto: %s",
		    diag.msg);
		(void)fl_loop_timer_at(b->cfg.loop, &b->restart_timer,
				       fl_loop_now_ms() + b->backoff_ms);
		return;
	}
	b->restarts++;
	b->probe_deadline_ms = fl_loop_now_ms() + b->cfg.start_timeout_ms;
	(void)fl_loop_timer_at(b->cfg.loop, &b->probe_timer,
			       fl_loop_now_ms() + PROBE_MS);
}

static void on_kill(void *ctx)
{
	struct fl_broker *b = ctx;

	if (b->pid < 0 || !b->is_restarting)
		return;
	say(b, FL_LOG_WARN, "broker: mosquitto %ld ignores SIGTERM: killing it",
	    (long)b->pid);
	(void)kill(b->pid, SIGKILL);
}

int fl_broker_restart(struct fl_broker *b)
{
	if (b == NULL || b->is_stopping)
		return FL_ESTATE;
	if (b->pid < 0) { /* down: waiting for its restart; make it now */
		fl_loop_timer_stop(b->cfg.loop, &b->restart_timer);
		return fl_loop_timer_at(b->cfg.loop, &b->restart_timer,
					fl_loop_now_ms());
	}
	if (b->is_restarting)
		return 0;
	b->is_restarting = true;
	say(b, FL_LOG_INFO, "broker: restarting mosquitto %ld", (long)b->pid);
	(void)kill(b->pid, SIGTERM);
	return fl_loop_timer_at(b->cfg.loop, &b->kill_timer,
				fl_loop_now_ms() + b->cfg.stop_timeout_ms);
}

int fl_broker_reload(struct fl_broker *b)
{
	if (b == NULL || b->is_stopping || b->pid < 0 || b->is_restarting)
		return FL_ESTATE;
	return kill(b->pid, SIGHUP) == 0 ? 0 : FL_ESTATE;
}

/* Stops the child: SIGTERM, then SIGKILL after the timeout. Blocks. */
static void stop_child(struct fl_broker *b)
{
	uint64_t end;
	int status = 0;

	if (b->pid < 0)
		return;
	(void)kill(b->pid, SIGTERM);
	end = fl_loop_now_ms() + b->cfg.stop_timeout_ms;
	while (!reap(b, &status, false)) {
		if (fl_loop_now_ms() >= end) {
			say(b, FL_LOG_WARN,
			    "broker: mosquitto %ld ignores SIGTERM: killing it",
			    (long)b->pid);
			(void)kill(b->pid, SIGKILL);
			(void)reap(b, &status, true);
			break;
		}
		if (b->log_fd >= 0 && !read_log(b))
			close_log(b);
		sleep_ms(10);
	}
	if (b->log_fd >= 0)
		(void)read_log(b);
	close_log(b);
}

/* The first start: waits synchronously until the port accepts. */
static int wait_up(struct fl_broker *b, struct fl_broker_diag *diag)
{
	uint64_t end = fl_loop_now_ms() + b->cfg.start_timeout_ms;
	int status = 0;

	for (;;) {
		if (b->log_fd >= 0 && !read_log(b))
			close_log(b);
		if (reap(b, &status, false)) {
			char how[96];

			describe_exit(how, sizeof(how), status);
			set_diag(diag, "mosquitto %s: %s", how,
				 b->last_line[0] ? b->last_line
						 : "(it said nothing)");
			return FL_EIO;
		}
		if (is_accepting(b->port))
			return 0;
		if (fl_loop_now_ms() >= end) {
			set_diag(diag,
				 "mosquitto does not listen on port %u after "
				 "%u ms",
				 (unsigned)b->port,
				 (unsigned)b->cfg.start_timeout_ms);
			stop_child(b);
			return FL_EIO;
		}
		sleep_ms(20);
	}
}

static int choose_port(struct fl_broker *b, struct fl_broker_diag *diag)
{
	uint16_t last = last_port(b);

	if (b->cfg.port != 0) {
		uint64_t end = fl_loop_now_ms() + b->cfg.stop_timeout_ms;

		while (!is_port_free(b->cfg.port)) {
			if (fl_loop_now_ms() >= end) {
				set_diag(diag,
					 "port %u of 127.0.0.1 is in use: "
					 "another broker? (choose another "
					 "with broker_port)",
					 (unsigned)b->cfg.port);
				return FL_EBUSY;
			}
			sleep_ms(50);
		}
		b->port = b->cfg.port;
		return 0;
	}
	if (last != 0 && is_port_free(last)) {
		b->port = last;
		return 0;
	}
	if (last != 0)
		say(b, FL_LOG_WARN,
		    "broker: port %u (used last time) is taken: devices "
		    "configured with it will not find the broker",
		    (unsigned)last);
	if (is_port_free(FL_BROKER_DEFAULT_PORT)) {
		b->port = FL_BROKER_DEFAULT_PORT;
		return 0;
	}
	b->port = any_free_port();
	if (b->port == 0) {
		set_diag(diag, "no free port on 127.0.0.1");
		return FL_EIO;
	}
	return 0;
}

int fl_broker_start(struct fl_broker **out, const struct fl_broker_config *cfg,
		    struct fl_broker_diag *diag)
{
	struct fl_broker *b;
	int rc;

	if (diag != NULL)
		diag->msg[0] = '\0';
	if (out == NULL)
		return FL_EINVAL;
	*out = NULL;
	if (cfg == NULL || cfg->loop == NULL || cfg->data_dir == NULL ||
	    cfg->data_dir[0] != '/') {
		set_diag(diag, "the embedded broker needs an absolute data "
			       "directory");
		return FL_EINVAL;
	}
	if (!is_conf_safe(cfg->data_dir) ||
	    strlen(cfg->data_dir) + 32 >= FL_BROKER_PATH_MAX) {
		set_diag(diag,
			 "data directory %.200s: a mosquitto configuration "
			 "cannot name it (whitespace, '#', control characters "
			 "or too long)",
			 cfg->data_dir);
		return FL_EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return FL_ENOMEM;
	b->cfg = *cfg;
	b->pid = -1;
	b->pidfd = -1;
	b->log_fd = -1;
	b->backoff_ms = BACKOFF_MIN_MS;
	if (b->cfg.max_queued == 0)
		b->cfg.max_queued = FL_BROKER_QUEUED;
	if (b->cfg.max_inflight == 0)
		b->cfg.max_inflight = FL_BROKER_INFLIGHT;
	if (b->cfg.autosave_s == 0)
		b->cfg.autosave_s = 60;
	if (b->cfg.start_timeout_ms == 0)
		b->cfg.start_timeout_ms = FL_BROKER_START_MS;
	if (b->cfg.stop_timeout_ms == 0)
		b->cfg.stop_timeout_ms = FL_BROKER_STOP_MS;
	b->cfg.data_dir = NULL; /* not kept: dir is */
	b->cfg.exe = NULL;
	if (cfg->cafile != NULL) {
		const char *root = cfg->root != NULL ? cfg->root : "fleet";
		const char *files[] = {cfg->cafile, cfg->certfile,
				       cfg->keyfile};
		char *dst[] = {b->cafile, b->certfile, b->keyfile};

		for (size_t i = 0; i < 3; i++)
			if (files[i] == NULL || !is_conf_safe(files[i]) ||
			    fl_strlcpy(dst[i], files[i], FL_BROKER_PATH_MAX) !=
				    0) {
				free(b);
				set_diag(diag,
					 "TLS file %.200s: a mosquitto "
					 "configuration cannot name it",
					 files[i] != NULL ? files[i] : "");
				return FL_EINVAL;
			}
		if (cfg->crlfile != NULL &&
		    (!is_conf_safe(cfg->crlfile) ||
		     fl_strlcpy(b->crlfile, cfg->crlfile, FL_BROKER_PATH_MAX) !=
			     0)) {
			free(b);
			set_diag(diag,
				 "CRL %.200s: a mosquitto configuration "
				 "cannot name it",
				 cfg->crlfile);
			return FL_EINVAL;
		}
		if (cfg->fleetd_cn == NULL || !is_conf_safe(cfg->fleetd_cn) ||
		    fl_strlcpy(b->fleetd_cn, cfg->fleetd_cn,
			       sizeof(b->fleetd_cn)) != 0 ||
		    !is_conf_safe(root) ||
		    fl_strlcpy(b->root, root, sizeof(b->root)) != 0) {
			free(b);
			set_diag(diag, "the broker's ACL cannot name fleetd's "
				       "identity or the topic root");
			return FL_EINVAL;
		}
	}
	b->cfg.cafile = b->cfg.certfile = b->cfg.keyfile = NULL;
	b->cfg.crlfile = NULL;
	b->cfg.root = b->cfg.fleetd_cn = NULL;
	if (snprintf(b->dir, sizeof(b->dir), "%s/mosquitto", cfg->data_dir) >=
		    (int)sizeof(b->dir) ||
	    snprintf(b->conf, sizeof(b->conf), "%s/mosquitto.conf", b->dir) >=
		    (int)sizeof(b->conf) ||
	    snprintf(b->pidf, sizeof(b->pidf), "%s/broker.pid", b->dir) >=
		    (int)sizeof(b->pidf) ||
	    snprintf(b->acl, sizeof(b->acl), "%s/acl", b->dir) >=
		    (int)sizeof(b->acl)) {
		free(b);
		return FL_EINVAL; /* checked above: cannot happen */
	}
	fl_loop_timer_init(&b->restart_timer, on_restart, b);
	fl_loop_timer_init(&b->probe_timer, on_probe, b);
	fl_loop_timer_init(&b->poll_timer, on_poll_exit, b);
	fl_loop_timer_init(&b->kill_timer, on_kill, b);
	if (mkdir(b->dir, 0700) != 0 && errno != EEXIST) {
		set_diag(diag, "cannot create %s: %s", b->dir, strerror(errno));
		rc = FL_EIO;
		goto fail;
	}
	b->cfg.exe = cfg->exe;
	rc = find_exe(b, diag);
	b->cfg.exe = NULL;
	if (rc != 0)
		goto fail;
	stop_stale(b);
	rc = choose_port(b, diag);
	if (rc == 0)
		rc = write_conf(b, diag);
	if (rc == 0)
		rc = spawn(b, diag);
	if (rc == 0)
		rc = wait_up(b, diag);
	if (rc != 0)
		goto fail;
	b->is_up = true;
	say(b, FL_LOG_INFO, "broker: mosquitto %ld listens on 127.0.0.1:%u%s",
	    (long)b->pid, (unsigned)b->port,
	    b->cafile[0] != '\0'
		    ? " (TLS, client certificates of the fleet CA, ACL)"
		    : " (plain text, anonymous: --insecure)");
	*out = b;
	return 0;
fail:
	b->is_stopping = true;
	stop_child(b);
	close_log(b);
	if (b->pidfd >= 0) {
		fl_loop_fd_del(b->cfg.loop, b->pidfd);
		close(b->pidfd);
	}
	fl_loop_timer_stop(b->cfg.loop, &b->poll_timer);
	(void)unlink(b->pidf);
	free(b);
	return rc;
}

void fl_broker_free(struct fl_broker *b)
{
	if (b == NULL)
		return;
	b->is_stopping = true;
	fl_loop_timer_stop(b->cfg.loop, &b->restart_timer);
	fl_loop_timer_stop(b->cfg.loop, &b->probe_timer);
	fl_loop_timer_stop(b->cfg.loop, &b->kill_timer);
	if (b->pid >= 0)
		say(b, FL_LOG_INFO, "broker: stopping mosquitto %ld",
		    (long)b->pid);
	stop_child(b);
	close_log(b);
	fl_loop_timer_stop(b->cfg.loop, &b->poll_timer);
	(void)unlink(b->pidf);
	free(b);
}

uint16_t fl_broker_port(const struct fl_broker *b)
{
	return b != NULL ? b->port : 0;
}

bool fl_broker_is_up(const struct fl_broker *b)
{
	return b != NULL && b->is_up;
}

pid_t fl_broker_pid(const struct fl_broker *b)
{
	return b != NULL ? b->pid : -1;
}

unsigned fl_broker_restarts(const struct fl_broker *b)
{
	return b != NULL ? b->restarts : 0;
}
