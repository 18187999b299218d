/*
 * dash.h -- the model of `fleetctl watch`, the live dashboard
 * (docs/fleetctl.md, "watch"): fleetd's answers, the recent events, the
 * terminal's size, the time and the operator's UI state go in; a screen
 * comes out, a grid of cells each holding a character and an attribute,
 * and each key says which request (pause, approve, roll back...) it asks
 * the front end to make.
 *
 * Pure: nothing here reads a clock, a terminal or the network. watch.c is
 * the thin front end (ncurses, the requests, line mode); the unit tests
 * feed canned answers and keys and compare the screens with golden text.
 * Every buffer is fixed: events are a ring of FL_DASH_EVENTS, the device
 * table at most FL_DASH_DEVICES rows, a screen at most FL_DASH_MAX_ROWS x
 * FL_DASH_MAX_COLS (a larger terminal shows it in its top-left corner).
 * Text from fleetd is shown as ASCII: control characters and bytes past
 * 0x7e become '?', so a device name cannot move the cursor.
 */
#ifndef FLEETCTL_DASH_H
#define FLEETCTL_DASH_H

#include <stddef.h>
#include <stdint.h>

struct cJSON;

#define FL_DASH_MAX_ROWS   200
#define FL_DASH_MAX_COLS   400
#define FL_DASH_MIN_ROWS   12 /* below this, only "terminal too small" */
#define FL_DASH_MIN_COLS   60
#define FL_DASH_WIDE_COLS  120 /* from here, events and devices side by side */
#define FL_DASH_EVENTS	   256 /* recent events kept */
#define FL_DASH_DEVICES	   500 /* device rows kept */
#define FL_DASH_TEXT	   200 /* a message or error line */
#define FL_DASH_FILTER_MAX 120 /* the filter as typed */
#define FL_DASH_NAME_MAX   64  /* a rollout, stage or hold name + NUL */
#define FL_DASH_CHOICES	   8   /* what `a` may approve */
#define FL_DASH_LABELS	   4   /* label terms of a filter (docs/api.md) */

/* What a cell looks like; the front end maps each to a colour, or to
 * bold/reverse/dim without colours. */
enum fl_dash_attr {
	FL_DASH_A_NORMAL = 0,
	FL_DASH_A_TITLE,  /* the top line */
	FL_DASH_A_BOLD,	  /* headings, keys */
	FL_DASH_A_DIM,	  /* not yet, secondary */
	FL_DASH_A_OK,	  /* succeeded */
	FL_DASH_A_FAIL,	  /* failed, errors, the rollback prompt */
	FL_DASH_A_WARN,	  /* waiting, unreached, paused */
	FL_DASH_A_FLIGHT, /* offered, downloading, installing */
	FL_DASH_A_BACK,	  /* rolled back, rolling back */
	FL_DASH_A_SELECT, /* the focused pane's title, a chosen row */
	FL_DASH_A_N
};

struct fl_dash_cell {
	char ch;
	uint8_t attr; /* enum fl_dash_attr */
};

/* A screen: rows x cols cells, row-major. */
struct fl_dash_screen {
	int rows, cols;
	int cursor_row, cursor_col; /* the filter's cursor; -1: hidden */
	struct fl_dash_cell cells[FL_DASH_MAX_ROWS * FL_DASH_MAX_COLS];
};

/* One event of the log, as shown (strings cleaned and cut). */
struct fl_dash_event {
	uint64_t seq;
	int64_t at;
	char rollout[FL_DASH_NAME_MAX];
	char stage[32];
	char device[64];
	char kind[40];
	char detail[120];
};

/* One row of the device table, from a rollout's members or the devices
 * list (fl_dash_devices_set). Empty strings print "-". */
struct fl_dash_device {
	char id[64];
	char model[32];
	char stage[32];
	char state[16]; /* the member's status: in_flight, failed ... */
	char step[16];	/* progress: downloading, installed ... */
	char detail[80];
};

/* The device table's filter: `state=S model=M stage=NAME KEY=VALUE`. */
struct fl_dash_filter {
	char state[16];
	char model[32];
	char stage[32];
	unsigned nlabels;
	char labels[FL_DASH_LABELS][80]; /* "KEY=VALUE" */
};

enum fl_dash_screen_kind {
	FL_DASH_OVERVIEW = 0, /* every active rollout */
	FL_DASH_ROLLOUT = 1,  /* one rollout */
};

enum fl_dash_pane {
	FL_DASH_P_STAGES = 0, /* the stages, or the overview's list */
	FL_DASH_P_EVENTS = 1,
	FL_DASH_P_DEVICES = 2,
	FL_DASH_NPANES = 3
};

enum fl_dash_mode {
	FL_DASH_M_NORMAL = 0,
	FL_DASH_M_HELP,	   /* `?`: the keys and the legend */
	FL_DASH_M_CONFIRM, /* `R`: roll back? [y/N] */
	FL_DASH_M_APPROVE, /* `a`: which stage or hold */
	FL_DASH_M_FILTER,  /* `/`: typing the filter */
};

/* The dashboard's whole state. Zero it, then fl_dash_init(). The cJSON
 * pointers are borrowed: the caller keeps them alive while the dashboard
 * is drawn, and sets them again when newer answers arrive. */
struct fl_dash {
	/* ---- what fleetd said -------------------------------------------- */
	const struct cJSON *rollout; /* GET /rollouts/NAME; NULL: not yet */
	const struct cJSON *active;  /* overview: array of full rollouts */
	const struct cJSON *preview; /* GET .../rollback, for the prompt */
	int64_t fetched_s;	     /* when rollout/active were fetched */
	char error[FL_DASH_TEXT];    /* fleetd unreachable...; "" none */
	char message[FL_DASH_TEXT];  /* the last action's outcome */
	int is_message_bad;	     /* message says something failed */
	struct fl_dash_event ev[FL_DASH_EVENTS]; /* a ring, oldest first */
	unsigned ev_first, ev_n;
	uint64_t ev_last_seq; /* the newest seq seen */
	struct fl_dash_device dev[FL_DASH_DEVICES];
	unsigned dev_n;
	int is_dev_more; /* more matched than dev holds */
	int64_t now_s;

	/* ---- what the operator looks at ---------------------------------- */
	char name[FL_DASH_NAME_MAX]; /* the rollout shown; "" overview */
	int is_fixed;		     /* NAME on the command line */
	int screen;		     /* enum fl_dash_screen_kind */
	int pane;		     /* enum fl_dash_pane: the focus */
	int lower;		     /* EVENTS or DEVICES: the one shown
					when only one fits */
	int mode;		     /* enum fl_dash_mode */
	int sel;		     /* overview: the chosen rollout */
	int choice;		     /* approve: the chosen item */
	unsigned nchoices;
	char choices[FL_DASH_CHOICES][FL_DASH_NAME_MAX];
	int scroll[FL_DASH_NPANES];	      /* rows scrolled (events: from the
						 newest) */
	char filter_text[FL_DASH_FILTER_MAX]; /* applied */
	char edit[FL_DASH_FILTER_MAX];	      /* being typed */
	struct fl_dash_filter filter;
};

/* Starts d for `watch NAME` (name not NULL: the rollout screen, no
 * overview) or `watch` (name NULL: the overview). */
void fl_dash_init(struct fl_dash *d, const char *name);

/* ---- input ------------------------------------------------------------- */

/* Adds a page of events ({"events": [...]}'s array) to the ring, oldest
 * dropped first; events not newer than the last one seen are ignored.
 * Returns how many were added. */
unsigned fl_dash_events_add(struct fl_dash *d, const struct cJSON *events);

/* One event ({"seq", "at", "rollout", ...}) as shown. Returns 0, or
 * FL_EINVAL when it has no sequence number. */
int fl_dash_event_of(const struct cJSON *e, struct fl_dash_event *out);

/* Replaces the device table with the rows of one answer. is_members: list
 * is GET /rollouts/NAME/devices's array, else GET /devices's, of which
 * only devices in the rollout d->name are kept (and, with a state filter,
 * in that state). Rows past FL_DASH_DEVICES set is_dev_more. */
void fl_dash_devices_set(struct fl_dash *d, const struct cJSON *list,
			 int is_members);

/* Adds the rows of one more page (the same as above, without clearing).
 * Returns 0, or FL_ETOOBIG when the table is full. */
int fl_dash_devices_add(struct fl_dash *d, const struct cJSON *list,
			int is_members);

/* Parses a filter. Returns 0, or FL_EINVAL with the reason in why. An
 * empty text is no filter. */
int fl_dash_filter_parse(const char *text, struct fl_dash_filter *f, char *why,
			 size_t why_size);

/* ---- keys -------------------------------------------------------------- */

/* Keys beyond ASCII, as the front end reports them. */
enum {
	FL_DASH_KEY_UP = 0x101,
	FL_DASH_KEY_DOWN,
	FL_DASH_KEY_LEFT,
	FL_DASH_KEY_RIGHT,
	FL_DASH_KEY_PGUP,
	FL_DASH_KEY_PGDN,
	FL_DASH_KEY_HOME,
	FL_DASH_KEY_END,
	FL_DASH_KEY_BACKSPACE,
	FL_DASH_KEY_ENTER,
	FL_DASH_KEY_ESC,
	FL_DASH_KEY_TAB,
	FL_DASH_KEY_BTAB,
};

/* What a key asks the front end to do. */
enum fl_dash_req_kind {
	FL_DASH_REQ_NONE = 0,
	FL_DASH_REQ_QUIT,
	FL_DASH_REQ_PAUSE,    /* POST .../name/pause */
	FL_DASH_REQ_RESUME,   /* .../resume */
	FL_DASH_REQ_APPROVE,  /* .../approve with {"name": what} */
	FL_DASH_REQ_PREVIEW,  /* GET .../rollback: fill d->preview */
	FL_DASH_REQ_ROLLBACK, /* POST .../rollback (confirmed) */
	FL_DASH_REQ_OPEN,     /* the rollout shown changed: fetch name */
	FL_DASH_REQ_FILTER,   /* the device filter changed: fetch again */
};

struct fl_dash_req {
	int kind; /* enum fl_dash_req_kind */
	char name[FL_DASH_NAME_MAX];
	char what[FL_DASH_NAME_MAX]; /* approve: the stage or hold */
};

/* Applies a key (ASCII, or FL_DASH_KEY_*) to the UI state, and says in
 * *req what the front end must do. Returns 1 when the screen must be
 * drawn again, else 0. */
int fl_dash_key(struct fl_dash *d, int key, struct fl_dash_req *req);

/* ---- output ------------------------------------------------------------ */

/* Draws the dashboard into s at rows x cols (clipped to the maximum). */
void fl_dash_draw(const struct fl_dash *d, int rows, int cols,
		  struct fl_dash_screen *s);

/* The screen as text, one line per row without trailing blanks, into buf
 * (cut to fit). Returns the length. For tests and logs. */
size_t fl_dash_text(const struct fl_dash_screen *s, char *buf, size_t size);

/* ---- line mode ----------------------------------------------------------
 * When stdout is not a terminal, watch prints one line per change. */

/* A rollout in one line, without the time, so that a different line is a
 * change: "thermo-2.4.0 running, stage wave-1: 68/161 succeeded, 1
 * failed, 30 in flight, 2 unreached; gate 1.4% (max 5.0%), 69 judged (min
 * 10); waiting for the maintenance window, opens ...". now_s only
 * words a time to wait for ("in 3h 40m" is left out: it changes). */
void fl_dash_line(const struct cJSON *rollout, char *buf, size_t size);

/* Whether an event is worth a line of its own in line mode: operator
 * actions and the rollout's and stages' decisions, not each device. */
int fl_dash_event_is_notable(const struct fl_dash_event *e);

/* An event as one line: "seq 8814 action.pause thermo-2.4.0 who=bob". */
void fl_dash_event_line(const struct fl_dash_event *e, char *buf, size_t size);

/* The state a rollout has reached: 1 when it is over (complete,
 * rolled_back, cancelled), else 0. */
int fl_dash_is_over(const struct cJSON *rollout);

#endif
