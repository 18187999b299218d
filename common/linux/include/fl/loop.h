/*
 * loop.h -- fl_loop: one epoll event loop with millisecond timers, shared
 * by fleet-agent, fleet-sim and fleetd. Every descriptor (MQTT sockets,
 * curl sockets, libmicrohttpd's epoll descriptor, hook pipes, signals) and
 * every deadline goes through it. No select(): descriptor numbers past
 * 1023 are normal in fleet-sim and in a busy fleetd.
 *
 * Ownership: fl_loop_new / fl_loop_free (accepts NULL); objects that
 * register with a loop must be freed before it. Not thread-safe: one
 * thread runs one loop. Errors are fl_err codes (fl/err.h).
 */
#ifndef FL_LOOP_H
#define FL_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct fl_loop;

/* events: EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP as epoll reports them. */
typedef void (*fl_loop_fd_fn)(void *ctx, int fd, uint32_t events);
typedef void (*fl_loop_timer_fn)(void *ctx);

/* A timer, embedded in its owner (no allocation per timer). Zero it, or
 * call fl_loop_timer_init, before first use. */
struct fl_loop_timer {
	fl_loop_timer_fn fn;
	void *ctx;
	uint64_t at_ms; /* fl_loop_now_ms() time it fires */
	size_t heap_i;	/* private: index + 1 in the loop's heap; 0 idle */
};

int fl_loop_new(struct fl_loop **out);
void fl_loop_free(struct fl_loop *loop);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t fl_loop_now_ms(void);

/* Registers fd for events (EPOLLIN and/or EPOLLOUT); fn is called with
 * ctx when it is ready. FL_EBUSY if fd is registered already; FL_EINVAL
 * for a closed fd or one epoll cannot watch (a regular file); FL_ENOMEM. */
int fl_loop_fd_add(struct fl_loop *loop, int fd, uint32_t events,
		   fl_loop_fd_fn fn, void *ctx);
/* Changes the events of a registered fd. FL_ENOENT if it is not. */
int fl_loop_fd_mod(struct fl_loop *loop, int fd, uint32_t events);
/* Unregisters fd (before it is closed). Calls for an fd that is not
 * registered do nothing. Safe from inside a callback: no callback of fd
 * runs after it returns. */
void fl_loop_fd_del(struct fl_loop *loop, int fd);

void fl_loop_timer_init(struct fl_loop_timer *t, fl_loop_timer_fn fn,
			void *ctx);
/* Arms (or re-arms) t to fire once at at_ms (monotonic). Returns 0, or
 * FL_ENOMEM when the heap could not grow (t is then left disarmed; the
 * heap only grows, so this happens only when more timers than ever before
 * are armed at once). */
int fl_loop_timer_at(struct fl_loop *loop, struct fl_loop_timer *t,
		     uint64_t at_ms);
/* Disarms t; does nothing if it is not armed. */
void fl_loop_timer_stop(struct fl_loop *loop, struct fl_loop_timer *t);

/* Waits for descriptors or the next timer, at most max_wait_ms (-1: no
 * limit), and runs what is ready: descriptor callbacks first, then the
 * timers due, earliest first (at most as many as were armed when the call
 * began, so a timer that re-arms itself for now cannot keep a call from
 * ending). Not reentrant: do not call it from a callback. Returns 0, or
 * FL_EIO if epoll failed other than by EINTR. */
int fl_loop_run_once(struct fl_loop *loop, int max_wait_ms);

/* Runs until fl_loop_stop() (from a callback or a signal handler). */
int fl_loop_run(struct fl_loop *loop);
void fl_loop_stop(struct fl_loop *loop);

#endif
