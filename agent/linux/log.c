/*
 * log.c -- the adapters' process-wide log hook. The adapters format one
 * line each (bounded) and pass it on; the program decides where it goes
 * (fleet-agent: stderr with a level; fleet-sim: a summary or nowhere).
 */
#include <stdarg.h>
#include <stdio.h>

#include "linux_priv.h"

static fl_linux_log_fn log_fn;
static void *log_ctx;

void fl_agent_linux_log_set(fl_linux_log_fn fn, void *ctx)
{
	log_fn = fn;
	log_ctx = ctx;
}

void fl_linux__log(int level, const char *who, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (log_fn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fn(log_ctx, level, who != NULL ? who : "", msg);
}
