/*
 * hook.c -- commands run by fleet-agent: spawned with posix_spawn (no
 * fork of a process holding sockets and a large heap), /bin/sh -c COMMAND,
 * stdin from /dev/null, stdout and stderr into a pipe watched by fl_loop,
 * every other descriptor closed, signals at their defaults and unblocked,
 * in a process group of its own so that a timeout kills whatever the shell
 * started too.
 *
 * Method: the end of the pipe (every writer gone) is the usual sign that
 * the command ended; it is then reaped without blocking, or polled for
 * every 50 ms if a child closed its output early. At the deadline the
 * group gets SIGKILL and the shell is reaped (promptly, after SIGKILL).
 * The last FLA_PROC_OUT_MAX bytes of output are kept for the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fl/err.h"
#include "hook.h"

#define REAP_POLL_MS 50u

extern char **environ;

static void finish(struct fla_proc *p, int status, bool is_timed_out)
{
	fl_loop_timer_stop(p->loop, &p->timer);
	if (p->fd >= 0) {
		fl_loop_fd_del(p->loop, p->fd);
		close(p->fd);
		p->fd = -1;
	}
	p->pid = 0;
	p->status = status;
	p->is_timed_out = is_timed_out;
	p->is_done = true;
	if (p->on_done != NULL)
		p->on_done(p->ctx, p);
}

static bool try_reap(struct fla_proc *p)
{
	int status = 0;
	pid_t r = waitpid(p->pid, &status, WNOHANG);

	if (r == p->pid || (r < 0 && errno == ECHILD)) {
		finish(p, r == p->pid ? status : -1, false);
		return true;
	}
	return false;
}

static void on_timer(void *ctx)
{
	struct fla_proc *p = ctx;
	int status = 0;

	if (p->pid == 0)
		return;
	if (fl_loop_now_ms() < p->deadline_ms) {
		if (!try_reap(p))
			(void)fl_loop_timer_at(p->loop, &p->timer,
					       fl_loop_now_ms() + REAP_POLL_MS);
		return;
	}
	(void)kill(-p->pid, SIGKILL);
	(void)waitpid(p->pid, &status, 0);
	finish(p, status, true);
}

static void keep_output(struct fla_proc *p, const char *buf, size_t n)
{
	if (n >= sizeof(p->out)) {
		memcpy(p->out, buf + n - sizeof(p->out), sizeof(p->out));
		p->out_len = sizeof(p->out);
		return;
	}
	if (p->out_len + n > sizeof(p->out)) {
		size_t drop = p->out_len + n - sizeof(p->out);

		memmove(p->out, p->out + drop, p->out_len - drop);
		p->out_len -= drop;
	}
	memcpy(p->out + p->out_len, buf, n);
	p->out_len += n;
}

static void on_pipe(void *ctx, int fd, uint32_t events)
{
	struct fla_proc *p = ctx;
	char buf[1024];

	(void)events;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n > 0) {
			keep_output(p, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		break; /* end of output, or an error: stop reading */
	}
	fl_loop_fd_del(p->loop, p->fd);
	close(p->fd);
	p->fd = -1;
	if (!try_reap(p))
		(void)fl_loop_timer_at(p->loop, &p->timer,
				       fl_loop_now_ms() + REAP_POLL_MS);
}

void fla_proc_init(struct fla_proc *p, struct fl_loop *loop, const char *name,
		   fla_proc_done_fn on_done, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->loop = loop;
	p->name = name;
	p->fd = -1;
	p->on_done = on_done;
	p->ctx = ctx;
	fl_loop_timer_init(&p->timer, on_timer, p);
}

int fla_proc_start(struct fla_proc *p, const char *cmd, uint32_t timeout_ms)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dflt;
	char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)cmd, NULL};
	int pipefd[2], rc = FL_EIO, e;
	pid_t pid = 0;

	if (p->pid != 0)
		return FL_EBUSY;
	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return errno == EMFILE || errno == ENFILE ? FL_ENOMEM : FL_EIO;
	if (posix_spawn_file_actions_init(&fa) != 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return FL_ENOMEM;
	}
	if (posix_spawnattr_init(&attr) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(pipefd[0]);
		close(pipefd[1]);
		return FL_ENOMEM;
	}
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGCHLD);
	e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	e = e ? e : posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	e = e ? e : posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	e = e ? e : posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	e = e ? e : posix_spawnattr_setsigmask(&attr, &none);
	e = e ? e : posix_spawnattr_setsigdefault(&attr, &dflt);
	e = e ? e : posix_spawnattr_setpgroup(&attr, 0);
	e = e ? e
	      : posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
							POSIX_SPAWN_SETSIGDEF |
							POSIX_SPAWN_SETPGROUP);
	if (e == 0)
		e = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (e != 0) {
		close(pipefd[0]);
		return e == ENOMEM ? FL_ENOMEM : FL_EIO;
	}
	p->pid = pid;
	p->fd = pipefd[0];
	p->is_done = p->is_timed_out = false;
	p->status = 0;
	p->out_len = 0;
	p->deadline_ms = fl_loop_now_ms() + timeout_ms;
	(void)fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK);
	rc = fl_loop_fd_add(p->loop, p->fd, EPOLLIN, on_pipe, p);
	if (rc == 0)
		rc = fl_loop_timer_at(p->loop, &p->timer, p->deadline_ms);
	if (rc != 0) {
		fla_proc_cancel(p);
		return rc;
	}
	return 0;
}

bool fla_proc_passed(const struct fla_proc *p)
{
	return p->is_done && !p->is_timed_out && p->status >= 0 &&
	       WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0;
}

void fla_proc_cancel(struct fla_proc *p)
{
	fl_loop_timer_stop(p->loop, &p->timer);
	if (p->fd >= 0) {
		fl_loop_fd_del(p->loop, p->fd);
		close(p->fd);
		p->fd = -1;
	}
	if (p->pid != 0) {
		(void)kill(-p->pid, SIGKILL);
		(void)waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
}
