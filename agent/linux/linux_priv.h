/*
 * linux_priv.h -- what the adapters of agent/linux share: the log hook.
 * Not installed, not public.
 */
#ifndef FL_LINUX_PRIV_H
#define FL_LINUX_PRIV_H

#include "fl/agent_linux.h"

/* Formats one line and hands it to the hook set by
 * fl_agent_linux_log_set(); nothing when there is none. */
void fl_linux__log(int level, const char *who, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
