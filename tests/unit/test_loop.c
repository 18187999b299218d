/*
 * test_loop.c -- fl_loop, the epoll loop of agent/linux: timers fire in
 * deadline order (through re-arming and stopping in the middle of the
 * heap), a timer that re-arms itself for now cannot keep a run from
 * ending, descriptor events reach their callback with the events asked
 * for, a descriptor deleted (and its number reused) inside a callback gets
 * no stale event, registration errors, a signal interrupting the wait, and
 * fl_loop_stop() from a callback.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fl/loop.h"
#include "fl/err.h"

#define N_TIMERS 200

struct fired {
	unsigned n;
	unsigned order[N_TIMERS];
	uint64_t at[N_TIMERS];
};

struct tctx {
	struct fired *f;
	unsigned id;
	struct fl_loop_timer t;
};

static void on_fire(void *ctx)
{
	struct tctx *c = ctx;

	c->f->order[c->f->n] = c->id;
	c->f->at[c->f->n] = c->t.at_ms;
	c->f->n++;
}

static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* Runs the loop until n timers fired (each run waits for the next). */
static void run_until(struct fl_loop *loop, struct fired *f, unsigned n)
{
	for (unsigned i = 0; i < 10000 && f->n < n; i++)
		assert_int_equal(fl_loop_run_once(loop, 100), 0);
	assert_int_equal(f->n, n);
}

static void test_loop__timers_fire_in_deadline_order(void **state)
{
	static struct tctx c[N_TIMERS];
	struct fired f;
	struct fl_loop *loop;
	uint64_t base = fl_loop_now_ms();
	uint32_t x = 12345;
	unsigned armed = 0;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(fl_loop_new(&loop), 0);
	/* Deadlines in the past and in the next 40 ms, armed in random
	 * order, some re-armed, a quarter stopped again. */
	for (unsigned i = 0; i < N_TIMERS; i++) {
		c[i].f = &f;
		c[i].id = i;
		fl_loop_timer_init(&c[i].t, on_fire, &c[i]);
		assert_int_equal(fl_loop_timer_at(loop, &c[i].t,
						  base - 20 + rnd(&x) % 60),
				 0);
	}
	for (unsigned i = 0; i < N_TIMERS; i += 3)
		assert_int_equal(fl_loop_timer_at(loop, &c[i].t,
						  base - 20 + rnd(&x) % 60),
				 0);
	for (unsigned i = 0; i < N_TIMERS; i++) {
		if (i % 4 == 1)
			fl_loop_timer_stop(loop, &c[i].t);
		else
			armed++;
	}
	fl_loop_timer_stop(loop, &c[1].t); /* twice: nothing */
	run_until(loop, &f, armed);
	for (unsigned i = 1; i < f.n; i++)
		assert_true(f.at[i - 1] <= f.at[i]);
	for (unsigned i = 0; i < f.n; i++)
		assert_true(f.order[i] % 4 != 1);
	for (unsigned i = 0; i < N_TIMERS; i++)
		assert_int_equal(c[i].t.heap_i, 0);
	/* Nothing is armed any more: a run only waits. */
	assert_int_equal(fl_loop_run_once(loop, 0), 0);
	assert_int_equal(f.n, armed);
	fl_loop_free(loop);
}

struct rearm {
	struct fl_loop *loop;
	struct fl_loop_timer t;
	unsigned n;
};

static void on_rearm(void *ctx)
{
	struct rearm *r = ctx;

	r->n++;
	assert_int_equal(fl_loop_timer_at(r->loop, &r->t, 0), 0);
}

static void test_loop__self_rearming_timer_ends_a_run(void **state)
{
	struct rearm r;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(fl_loop_new(&r.loop), 0);
	fl_loop_timer_init(&r.t, on_rearm, &r);
	assert_int_equal(fl_loop_timer_at(r.loop, &r.t, 0), 0);
	assert_int_equal(fl_loop_run_once(r.loop, 0), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(fl_loop_run_once(r.loop, 0), 0);
	assert_int_equal(r.n, 2);
	fl_loop_timer_stop(r.loop, &r.t);
	fl_loop_free(r.loop);
}

struct fdctx {
	struct fl_loop *loop;
	unsigned calls;
	uint32_t events;
	int del_fd;   /* deleted (and closed) by the first callback */
	int reuse[2]; /* the pipe opened instead, on the same number */
	unsigned *other_calls;
};

static void on_fd(void *ctx, int fd, uint32_t events)
{
	struct fdctx *c = ctx;

	(void)fd;
	c->calls++;
	c->events = events;
}

static void test_loop__fd_events_reach_the_callback(void **state)
{
	struct fl_loop *loop;
	struct fdctx c;
	int p[2];
	char b = 'x';

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(fl_loop_new(&loop), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(fl_loop_fd_add(loop, p[0], EPOLLIN, on_fd, &c), 0);
	assert_int_equal(fl_loop_fd_add(loop, p[0], EPOLLIN, on_fd, &c),
			 FL_EBUSY);
	assert_int_equal(fl_loop_run_once(loop, 0), 0);
	assert_int_equal(c.calls, 0);
	assert_int_equal(write(p[1], &b, 1), 1);
	assert_int_equal(fl_loop_run_once(loop, 1000), 0);
	assert_int_equal(c.calls, 1);
	assert_true(c.events & EPOLLIN);
	/* Level-triggered: still readable. */
	assert_int_equal(fl_loop_run_once(loop, 0), 0);
	assert_int_equal(c.calls, 2);
	assert_int_equal(read(p[0], &b, 1), 1);
	assert_int_equal(fl_loop_run_once(loop, 0), 0);
	assert_int_equal(c.calls, 2);
	/* Write interest on the write end. */
	assert_int_equal(fl_loop_fd_add(loop, p[1], 0, on_fd, &c), 0);
	assert_int_equal(fl_loop_run_once(loop, 0), 0);
	assert_int_equal(c.calls, 2);
	assert_int_equal(fl_loop_fd_mod(loop, p[1], EPOLLOUT), 0);
	assert_int_equal(fl_loop_run_once(loop, 1000), 0);
	assert_int_equal(c.calls, 3);
	assert_true(c.events & EPOLLOUT);
	fl_loop_fd_del(loop, p[1]);
	fl_loop_fd_del(loop, p[1]); /* twice: nothing */
	assert_int_equal(fl_loop_fd_mod(loop, p[1], EPOLLOUT), FL_ENOENT);
	/* Hang-up after the writer closes. */
	close(p[1]);
	assert_int_equal(fl_loop_run_once(loop, 1000), 0);
	assert_int_equal(c.calls, 4);
	assert_true(c.events & EPOLLHUP);
	fl_loop_fd_del(loop, p[0]);
	close(p[0]);
	fl_loop_free(loop);
}

static void test_loop__bad_registrations_are_refused(void **state)
{
	struct fl_loop *loop;
	struct fdctx c;
	char path[] = "/tmp/fl-loop-XXXXXX";
	int fd;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(fl_loop_new(&loop), 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	/* epoll does not watch regular files. */
	assert_int_equal(fl_loop_fd_add(loop, fd, EPOLLIN, on_fd, &c),
			 FL_EINVAL);
	close(fd);
	assert_int_equal(fl_loop_fd_add(loop, fd, EPOLLIN, on_fd, &c),
			 FL_EINVAL);
	assert_int_equal(fl_loop_fd_add(loop, -1, EPOLLIN, on_fd, &c),
			 FL_EINVAL);
	assert_int_equal(fl_loop_fd_add(loop, 0, EPOLLIN, NULL, &c), FL_EINVAL);
	assert_int_equal(fl_loop_fd_mod(loop, 100000, EPOLLIN), FL_ENOENT);
	fl_loop_fd_del(loop, 100000);
	fl_loop_fd_del(loop, -1);
	assert_int_equal(fl_loop_new(NULL), FL_EINVAL);
	fl_loop_free(NULL);
	fl_loop_free(loop);
}

/* The first of two ready descriptors deletes and closes the second, then
 * opens a pipe that takes its number and registers it: the event already
 * fetched for the old descriptor must reach neither callback. */
static struct fdctx first, second, third;

static void on_first(void *ctx, int fd, uint32_t events)
{
	struct fdctx *c = ctx;
	int victim = c->del_fd;

	(void)fd;
	(void)events;
	c->calls++;
	if (victim < 0)
		return;
	c->del_fd = -1;
	fl_loop_fd_del(c->loop, victim);
	close(victim);
	assert_int_equal(pipe2(c->reuse, O_CLOEXEC), 0);
	/* The lowest free number: the one just closed. */
	assert_int_equal(c->reuse[0], victim);
	assert_int_equal(
		fl_loop_fd_add(c->loop, c->reuse[0], EPOLLIN, on_fd, &third),
		0);
}

static void on_second(void *ctx, int fd, uint32_t events)
{
	struct fdctx *c = ctx;

	(void)fd;
	(void)events;
	c->calls++;
	/* Whichever runs first deletes the other. */
	if (first.calls == 0 && first.del_fd >= 0) {
		fl_loop_fd_del(c->loop, c->del_fd);
		c->del_fd = -1;
	}
}

static void test_loop__fd_deleted_in_a_callback_gets_no_event(void **state)
{
	struct fl_loop *loop;
	int a[2], b[2];
	char x = 'x';

	(void)state;
	memset(&first, 0, sizeof(first));
	memset(&second, 0, sizeof(second));
	memset(&third, 0, sizeof(third));
	assert_int_equal(fl_loop_new(&loop), 0);
	assert_int_equal(pipe2(a, O_CLOEXEC), 0);
	assert_int_equal(pipe2(b, O_CLOEXEC), 0);
	first.loop = second.loop = loop;
	first.del_fd = b[0];
	second.del_fd = a[0];
	assert_int_equal(fl_loop_fd_add(loop, a[0], EPOLLIN, on_first, &first),
			 0);
	assert_int_equal(
		fl_loop_fd_add(loop, b[0], EPOLLIN, on_second, &second), 0);
	assert_int_equal(write(a[1], &x, 1), 1);
	assert_int_equal(write(b[1], &x, 1), 1);
	/* Both are ready before the wait: one batch holds both events. */
	assert_int_equal(fl_loop_run_once(loop, 1000), 0);
	assert_int_equal(first.calls + second.calls, 1);
	assert_int_equal(third.calls, 0);
	if (first.calls == 1) {
		/* b[0] was closed and its number reused by the new pipe,
		 * which is not readable: no call to anyone. */
		assert_int_equal(fl_loop_run_once(loop, 0), 0);
		assert_int_equal(second.calls, 0);
		assert_int_equal(third.calls, 0);
		assert_int_equal(write(first.reuse[1], &x, 1), 1);
		assert_int_equal(fl_loop_run_once(loop, 1000), 0);
		assert_int_equal(third.calls, 1);
		fl_loop_fd_del(loop, first.reuse[0]);
		close(first.reuse[0]);
		close(first.reuse[1]);
		fl_loop_fd_del(loop, a[0]);
	} else {
		/* second ran first and deleted a[0]. */
		assert_int_equal(fl_loop_run_once(loop, 0), 0);
		assert_int_equal(first.calls, 0);
		fl_loop_fd_del(loop, b[0]);
		close(b[0]);
	}
	close(a[0]);
	close(a[1]);
	close(b[1]);
	fl_loop_free(loop);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void test_loop__a_signal_does_not_fail_the_wait(void **state)
{
	struct fl_loop *loop;
	struct sigaction sa, old;
	struct itimerval it;
	struct fdctx c;
	int p[2];

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(fl_loop_new(&loop), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(fl_loop_fd_add(loop, p[0], EPOLLIN, on_fd, &c), 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART: epoll_wait gets EINTR */
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 20000;
	alarms = 0;
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	/* Waits for nothing that will come; the signal ends the wait. */
	while (alarms == 0)
		assert_int_equal(fl_loop_run_once(loop, 5000), 0);
	assert_int_equal(c.calls, 0);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
	fl_loop_fd_del(loop, p[0]);
	close(p[0]);
	close(p[1]);
	fl_loop_free(loop);
}

struct stopper {
	struct fl_loop *loop;
	struct fl_loop_timer t;
	unsigned n;
};

static void on_stop_timer(void *ctx)
{
	struct stopper *s = ctx;

	if (++s->n < 3) {
		assert_int_equal(
			fl_loop_timer_at(s->loop, &s->t, fl_loop_now_ms() + 1),
			0);
		return;
	}
	fl_loop_stop(s->loop);
}

static void test_loop__stop_from_a_callback_ends_run(void **state)
{
	struct stopper s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(fl_loop_new(&s.loop), 0);
	fl_loop_timer_init(&s.t, on_stop_timer, &s);
	assert_int_equal(fl_loop_timer_at(s.loop, &s.t, fl_loop_now_ms()), 0);
	assert_int_equal(fl_loop_run(s.loop), 0);
	assert_int_equal(s.n, 3);
	/* It can run again afterwards. */
	s.n = 0;
	assert_int_equal(fl_loop_timer_at(s.loop, &s.t, 0), 0);
	assert_int_equal(fl_loop_run(s.loop), 0);
	assert_int_equal(s.n, 3);
	fl_loop_free(s.loop);
}

static void test_loop__many_descriptors_past_1023(void **state)
{
	enum { N = 600 };
	static int fds[N][2];
	struct fl_loop *loop;
	struct fdctx c;
	int n = 0;
	char x = 'x';

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(fl_loop_new(&loop), 0);
	/* Open pipes until descriptor numbers pass 1023 (select's limit),
	 * as long as the process limit allows. */
	while (n < N && pipe2(fds[n], O_CLOEXEC) == 0) {
		assert_int_equal(
			fl_loop_fd_add(loop, fds[n][0], EPOLLIN, on_fd, &c), 0);
		n++;
	}
	if (n > 0) {
		assert_int_equal(write(fds[n - 1][1], &x, 1), 1);
		assert_int_equal(fl_loop_run_once(loop, 1000), 0);
		assert_int_equal(c.calls, 1);
		if (fds[n - 1][0] < 1024)
			print_message("only reached fd %d (RLIMIT_NOFILE)\n",
				      fds[n - 1][0]);
	}
	for (int i = 0; i < n; i++) {
		fl_loop_fd_del(loop, fds[i][0]);
		close(fds[i][0]);
		close(fds[i][1]);
	}
	fl_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop__timers_fire_in_deadline_order),
		cmocka_unit_test(test_loop__self_rearming_timer_ends_a_run),
		cmocka_unit_test(test_loop__fd_events_reach_the_callback),
		cmocka_unit_test(test_loop__bad_registrations_are_refused),
		cmocka_unit_test(
			test_loop__fd_deleted_in_a_callback_gets_no_event),
		cmocka_unit_test(test_loop__a_signal_does_not_fail_the_wait),
		cmocka_unit_test(test_loop__stop_from_a_callback_ends_run),
		cmocka_unit_test(test_loop__many_descriptors_past_1023),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
