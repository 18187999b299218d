/*
 * fake_runner.h -- a stand-in for fleetd's runner (orchestrator/fleetd/
 * runner.c) in tests of the HTTP side: the four functions the API calls
 * (fl_runner_start, fl_runner_action, fl_runner_view,
 * fl_runner_rollback_preview) over a real store, with no engine.
 *
 * start parses the plan (fl_plan_parse), checks the artifact is stored and
 * the name free, creates and starts the rollout in the store and appends
 * a note. Actions change an in-memory state (paused, rolling back,
 * cancelled, approvals) and append an INPUT event per change; a repeat
 * changes nothing. The view reports stage 0 running with the store's
 * members counted by status, the rest pending. fake_runner_fail_next makes
 * the next start or action fail as the runner would.
 */
#ifndef FL_TEST_FAKE_RUNNER_H
#define FL_TEST_FAKE_RUNNER_H

#include "runner.h"

int fake_runner_new(struct fl_runner **out, struct fl_store *st);
void fake_runner_free(struct fl_runner *r);

/* The next start or action fails with this status and code, and (for
 * 409) n_conflicts made-up device ids. */
void fake_runner_fail_next(struct fl_runner *r, int http_status,
			   const char *code, unsigned n_conflicts);

/* Calls made so far (start + action). */
unsigned fake_runner_calls(const struct fl_runner *r);

#endif
