/*
 * hook.h -- a command run by fleet-agent (the health hook, the reboot
 * command): /bin/sh -c COMMAND in its own process group, its output read
 * through a pipe watched by fl_loop, killed with its group at a deadline.
 * Private to fleet-agent.
 */
#ifndef FLA_HOOK_H
#define FLA_HOOK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fl/agent_linux.h"

#define FLA_PROC_OUT_MAX 512 /* bytes of output kept (the tail) */

struct fla_proc;
typedef void (*fla_proc_done_fn)(void *ctx, struct fla_proc *p);

struct fla_proc {
	struct fl_loop *loop;
	const char *name; /* for log lines: "hook", "reboot" */
	pid_t pid;	  /* 0: not running */
	int fd;		  /* the pipe's read end; -1 closed */
	uint64_t deadline_ms;
	struct fl_loop_timer timer;
	bool is_done, is_timed_out;
	int status; /* waitpid status once done */
	size_t out_len;
	char out[FLA_PROC_OUT_MAX];
	fla_proc_done_fn on_done;
	void *ctx;
};

/* Prepares p (zeroed, idle). name is borrowed. */
void fla_proc_init(struct fla_proc *p, struct fl_loop *loop, const char *name,
		   fla_proc_done_fn on_done, void *ctx);

/* Starts cmd with a timeout. Returns 0, FL_EBUSY (already running),
 * FL_ENOMEM, FL_EIO (pipe or spawn failed). */
int fla_proc_start(struct fla_proc *p, const char *cmd, uint32_t timeout_ms);

/* True once done with exit status 0 (not killed, not timed out). */
bool fla_proc_passed(const struct fla_proc *p);

/* Kills a running command with its group and reaps it; releases the pipe.
 * Does not call on_done. Accepts an idle one. */
void fla_proc_cancel(struct fla_proc *p);

#endif
