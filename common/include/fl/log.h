/*
 * log.h -- the log levels every program of the project uses (fleet-agent,
 * fleet-sim, fleetd): one line per message, most severe first.
 */
#ifndef FL_LOG_H
#define FL_LOG_H

enum fl_log_level {
	FL_LOG_ERROR = 0,
	FL_LOG_WARN = 1,
	FL_LOG_INFO = 2,
	FL_LOG_DEBUG = 3,
};

#endif
