/*
 * view.h -- fleetd's answers (docs/api.md) as fleetctl's plain text: the
 * rollout list, a rollout's status (a detailed layout for a terminal, a
 * compact table with progress bars otherwise), the rollback preview and
 * progress line, action results, devices, one device, events, labels and
 * a refused plan's diagnostics.
 *
 * Pure: each function reads cJSON trees and writes to v->f, with the time
 * taken from v->now_s, so that the unit tests render canned answers into
 * golden text. Fields the API may leave null or a newer fleetd may add
 * are tolerated: a missing value prints "-". Text from the server is
 * cleaned of control characters. Each function returns 0, FL_EIO when
 * v->f fails, or FL_ENOMEM.
 */
#ifndef FLEETCTL_VIEW_H
#define FLEETCTL_VIEW_H

#include <stdint.h>
#include <stdio.h>

struct cJSON;
struct fl_table;

struct fl_view {
	FILE *f;
	int64_t now_s; /* for "5m ago" */
	int is_tty;    /* f is a terminal: the detailed status layout */
};

#define FL_VIEW_BAR_TTY	    40	 /* cells of a stage's bar, detailed */
#define FL_VIEW_BAR_COMPACT 20	 /* in the compact table, the --wait line */
#define FL_VIEW_PAGE_ROWS   1000 /* a table's rows between flushes */

/* `rollout list`: {"rollouts": [...]}'s array. */
int fl_view_rollout_list(const struct fl_view *v, const struct cJSON *list);

/* `rollout status`: one rollout with its stages. */
int fl_view_rollout_status(const struct fl_view *v,
			   const struct cJSON *rollout);

/* `rollback`: what it will do. rollout (GET .../NAME) may be NULL. */
int fl_view_rollback_preview(const struct fl_view *v,
			     const struct cJSON *rollout,
			     const struct cJSON *preview);

/* `rollback --wait`: one progress line, without a newline and without
 * the elapsed time (so that a change of the line is a change of state):
 * "rolling back NAME [####....] 97/120 back, 1 failed, 22 pending". */
void fl_view_rollback_line(const struct cJSON *rollout, char *buf, size_t size);

/* pause, resume, approve, rollback, cancel: what happened. action is the
 * command word, what approve's STAGE|HOLD (else NULL), is_changed 0 when
 * fleetd answered 200 "changed": false. rollout may be NULL. */
int fl_view_action(const struct fl_view *v, const char *action,
		   const char *name, const char *what, int is_changed,
		   const struct cJSON *rollout);

/* `rollout start`: the rollout fleetd created. */
int fl_view_started(const struct fl_view *v, const struct cJSON *rollout);

/* `devices`: a table for the pages (fl_table_free), rows added page by
 * page (devices: a page's array), flushed by the caller, and the closing
 * line with the counts. */
struct fl_view_count {
	uint64_t devices, online;
};
int fl_view_devices_table(struct fl_table **out);
int fl_view_devices_add(const struct fl_view *v, struct fl_table *t,
			const struct cJSON *devices, struct fl_view_count *c);
int fl_view_devices_end(const struct fl_view *v, const struct fl_view_count *c);

/* `device ID`. */
int fl_view_device(const struct fl_view *v, const struct cJSON *device);

/* `events`: the same, one row per event (events: a page's array). */
int fl_view_events_table(struct fl_table **out);
int fl_view_events_add(struct fl_table *t, const struct cJSON *events);

/* `label`: the device's labels after the change. */
int fl_view_labels(const struct fl_view *v, const struct cJSON *device);

/* A refused plan (422): error.diagnostics as FILE:LINE:COL: SEVERITY:
 * MESSAGE lines on f. Returns how many. */
unsigned fl_view_plan_diags(FILE *f, const char *file,
			    const struct cJSON *error);

#endif
