/*
 * loop.c -- fl_loop: one epoll instance for every descriptor and a binary
 * min-heap of millisecond timers embedded in their owners.
 *
 * Method: descriptors are kept in a table indexed by the descriptor
 * number (grown on demand; descriptor numbers are dense), each entry with
 * a generation number that changes at every add and delete. The epoll
 * event carries the descriptor and its generation, so an event that was
 * already fetched for a descriptor deleted (and perhaps opened and added
 * again) by an earlier callback of the same batch is recognised as stale
 * and dropped: no callback of a descriptor runs after fl_loop_fd_del().
 * Timers live in an array heap ordered by deadline; each timer keeps its
 * index so that re-arming and disarming are O(log n) without a search.
 * A run runs at most as many timers as were armed when it began, so a
 * timer that re-arms itself for "now" cannot keep one run from ending.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "fl/loop.h"
#include "fl/err.h"

#define EVENTS_MAX 64
#define FDS_MAX	   (1u << 24) /* far above any RLIMIT_NOFILE in use */

struct fd_entry {
	fl_loop_fd_fn fn;
	void *ctx;
	uint32_t gen; /* 0: not registered */
};

struct fl_loop {
	int epfd;
	struct fd_entry *fds;
	size_t n_fds; /* entries in fds */
	uint32_t next_gen;
	struct fl_loop_timer **heap;
	size_t n_heap, cap_heap;
	volatile sig_atomic_t is_stopped;
};

uint64_t fl_loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int fl_loop_new(struct fl_loop **out)
{
	struct fl_loop *loop;

	if (out == NULL)
		return FL_EINVAL;
	*out = NULL;
	loop = calloc(1, sizeof(*loop));
	if (loop == NULL)
		return FL_ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int rc = errno == ENOMEM ? FL_ENOMEM : FL_EIO;

		free(loop);
		return rc;
	}
	*out = loop;
	return 0;
}

void fl_loop_free(struct fl_loop *loop)
{
	if (loop == NULL)
		return;
	for (size_t i = 0; i < loop->n_heap; i++)
		loop->heap[i]->heap_i = 0;
	close(loop->epfd);
	free(loop->fds);
	free(loop->heap);
	free(loop);
}

/* ---- descriptors -------------------------------------------------------- */

static int grow_fds(struct fl_loop *loop, int fd)
{
	size_t n = loop->n_fds != 0 ? loop->n_fds : 64;
	struct fd_entry *t;

	if ((unsigned)fd >= FDS_MAX)
		return FL_ETOOBIG;
	while (n <= (size_t)fd)
		n *= 2;
	t = realloc(loop->fds, n * sizeof(*t));
	if (t == NULL)
		return FL_ENOMEM;
	memset(t + loop->n_fds, 0, (n - loop->n_fds) * sizeof(*t));
	loop->fds = t;
	loop->n_fds = n;
	return 0;
}

static int ctl(struct fl_loop *loop, int op, int fd, uint32_t events,
	       uint32_t gen)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events & (EPOLLIN | EPOLLOUT);
	ev.data.u64 = (uint64_t)gen << 32 | (uint32_t)fd;
	if (epoll_ctl(loop->epfd, op, fd, &ev) == 0)
		return 0;
	switch (errno) {
	case ENOMEM:
	case ENOSPC: return FL_ENOMEM;
	case EBADF:
	case EPERM: return FL_EINVAL; /* closed, or a regular file */
	default: return FL_EIO;
	}
}

int fl_loop_fd_add(struct fl_loop *loop, int fd, uint32_t events,
		   fl_loop_fd_fn fn, void *ctx)
{
	struct fd_entry *e;
	uint32_t gen;
	int rc;

	if (loop == NULL || fd < 0 || fn == NULL)
		return FL_EINVAL;
	if ((size_t)fd >= loop->n_fds) {
		rc = grow_fds(loop, fd);
		if (rc != 0)
			return rc;
	}
	if (loop->fds[fd].gen != 0)
		return FL_EBUSY;
	gen = ++loop->next_gen;
	if (gen == 0)
		gen = ++loop->next_gen;
	rc = ctl(loop, EPOLL_CTL_ADD, fd, events, gen);
	if (rc != 0)
		return rc;
	e = &loop->fds[fd];
	e->fn = fn;
	e->ctx = ctx;
	e->gen = gen;
	return 0;
}

int fl_loop_fd_mod(struct fl_loop *loop, int fd, uint32_t events)
{
	if (loop == NULL || fd < 0)
		return FL_EINVAL;
	if ((size_t)fd >= loop->n_fds || loop->fds[fd].gen == 0)
		return FL_ENOENT;
	return ctl(loop, EPOLL_CTL_MOD, fd, events, loop->fds[fd].gen);
}

void fl_loop_fd_del(struct fl_loop *loop, int fd)
{
	struct epoll_event ev;

	if (loop == NULL || fd < 0 || (size_t)fd >= loop->n_fds ||
	    loop->fds[fd].gen == 0)
		return;
	/* The descriptor may be closed already (then the kernel dropped it
	 * from the set itself): the error does not matter. */
	memset(&ev, 0, sizeof(ev));
	(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, &ev);
	memset(&loop->fds[fd], 0, sizeof(loop->fds[fd]));
}

/* ---- timers ------------------------------------------------------------- */

static void heap_set(struct fl_loop *loop, size_t i, struct fl_loop_timer *t)
{
	loop->heap[i] = t;
	t->heap_i = i + 1;
}

static void sift_up(struct fl_loop *loop, size_t i)
{
	struct fl_loop_timer *t = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (loop->heap[parent]->at_ms <= t->at_ms)
			break;
		heap_set(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_set(loop, i, t);
}

static void sift_down(struct fl_loop *loop, size_t i)
{
	struct fl_loop_timer *t = loop->heap[i];
	size_t n = loop->n_heap;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n &&
		    loop->heap[c + 1]->at_ms < loop->heap[c]->at_ms)
			c++;
		if (t->at_ms <= loop->heap[c]->at_ms)
			break;
		heap_set(loop, i, loop->heap[c]);
		i = c;
	}
	heap_set(loop, i, t);
}

void fl_loop_timer_init(struct fl_loop_timer *t, fl_loop_timer_fn fn, void *ctx)
{
	memset(t, 0, sizeof(*t));
	t->fn = fn;
	t->ctx = ctx;
}

int fl_loop_timer_at(struct fl_loop *loop, struct fl_loop_timer *t,
		     uint64_t at_ms)
{
	size_t i;

	if (loop == NULL || t == NULL || t->fn == NULL)
		return FL_EINVAL;
	if (t->heap_i != 0) {
		uint64_t old = t->at_ms;

		i = t->heap_i - 1;
		t->at_ms = at_ms;
		if (at_ms < old)
			sift_up(loop, i);
		else
			sift_down(loop, i);
		return 0;
	}
	if (loop->n_heap == loop->cap_heap) {
		size_t cap = loop->cap_heap != 0 ? 2 * loop->cap_heap : 64;
		struct fl_loop_timer **h =
			realloc(loop->heap, cap * sizeof(*h));

		if (h == NULL)
			return FL_ENOMEM;
		loop->heap = h;
		loop->cap_heap = cap;
	}
	t->at_ms = at_ms;
	i = loop->n_heap++;
	heap_set(loop, i, t);
	sift_up(loop, i);
	return 0;
}

void fl_loop_timer_stop(struct fl_loop *loop, struct fl_loop_timer *t)
{
	size_t i;

	if (loop == NULL || t == NULL || t->heap_i == 0)
		return;
	i = t->heap_i - 1;
	t->heap_i = 0;
	loop->n_heap--;
	if (i == loop->n_heap)
		return;
	heap_set(loop, i, loop->heap[loop->n_heap]);
	if (i > 0 && loop->heap[i]->at_ms < loop->heap[(i - 1) / 2]->at_ms)
		sift_up(loop, i);
	else
		sift_down(loop, i);
}

/* ---- running ------------------------------------------------------------- */

int fl_loop_run_once(struct fl_loop *loop, int max_wait_ms)
{
	struct epoll_event evs[EVENTS_MAX];
	int timeout = max_wait_ms < 0 ? -1 : max_wait_ms;
	uint64_t now = fl_loop_now_ms();
	size_t budget;
	int n;

	if (loop == NULL)
		return FL_EINVAL;
	if (loop->n_heap > 0) {
		uint64_t at = loop->heap[0]->at_ms;
		uint64_t d = at > now ? at - now : 0;

		if (d > INT_MAX)
			d = INT_MAX;
		if (timeout < 0 || d < (uint64_t)timeout)
			timeout = (int)d;
	}
	n = epoll_wait(loop->epfd, evs, EVENTS_MAX, timeout);
	if (n < 0) {
		if (errno != EINTR)
			return FL_EIO;
		n = 0; /* a signal: run the timers that are due */
	}
	for (int i = 0; i < n; i++) {
		int fd = (int)(uint32_t)evs[i].data.u64;
		uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
		struct fd_entry e;

		if ((size_t)fd >= loop->n_fds || loop->fds[fd].gen != gen)
			continue; /* deleted by an earlier callback */
		e = loop->fds[fd];
		e.fn(e.ctx, fd, evs[i].events);
	}
	now = fl_loop_now_ms();
	budget = loop->n_heap;
	while (budget-- > 0 && loop->n_heap > 0 &&
	       loop->heap[0]->at_ms <= now) {
		struct fl_loop_timer *t = loop->heap[0];

		fl_loop_timer_stop(loop, t);
		t->fn(t->ctx);
	}
	return 0;
}

int fl_loop_run(struct fl_loop *loop)
{
	int rc = 0;

	if (loop == NULL)
		return FL_EINVAL;
	while (!loop->is_stopped && rc == 0)
		rc = fl_loop_run_once(loop, -1);
	loop->is_stopped = 0;
	return rc;
}

void fl_loop_stop(struct fl_loop *loop)
{
	if (loop != NULL)
		loop->is_stopped = 1;
}
