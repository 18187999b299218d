/*
 * watch.c -- `fleetctl watch [NAME]`, the live dashboard (docs/fleetctl.md,
 * "watch"): the thin front end of the model in dash.c. On a terminal it
 * draws with ncurses; otherwise (a pipe, a log) it prints one line per
 * change.
 *
 * Method: two worker threads talk to fleetd, each over its own API client
 * (api.c, so that every request goes through the one request function):
 * the event thread long-polls GET /events with a one-second wait (new
 * events arrive at once, and stopping never waits long), the refresh
 * thread fetches the rollout (or every active one), the device table and
 * the rollback preview twice a second, and carries out the operator's
 * actions. They hand their answers to the main thread under one mutex and
 * wake it through a pipe; only the main thread touches ncurses and the
 * model. The main thread sleeps in poll() on the terminal and that pipe,
 * so keys are handled while a request is outstanding, and it draws a frame
 * only when something changed (an answer, a key, a resize, the clock's
 * second): the model draws into a screen of cells, those are written to
 * stdscr and refresh() sends the difference, once per frame, so nothing
 * flickers. Colours are used when the terminal has them and NO_COLOR is
 * not set; every state also has its own character. SIGINT, SIGTERM and
 * SIGHUP only set a flag: the loop ends, endwin() restores the terminal,
 * the workers are stopped and joined.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curses.h>

#include "api.h"
#include "cli.h"
#include "dash.h"
#include "fl/err.h"
#include "render.h"
#include "server.h"
#include "view.h"

#define REFRESH_MS	500  /* the rollout, twice a second */
#define EVENT_WAIT	"1"  /* seconds of the event long poll */
#define EVENT_TIMEOUT_S 31   /* its request's limit */
#define RETRY_MS	1000 /* after a failed request */
#define BACKLOG_ALL	200  /* events shown from before the start */
#define BACKLOG_ONE	2000 /* ... looked through for one rollout */
#define MAX_ACTIVE	50   /* active rollouts fetched in full */
#define MODEL_PAGES	5    /* pages of /devices a model filter reads */
#define MAX_ACTIONS	4    /* queued actions */
#define LINE_NAMES	64   /* rollouts line mode follows */
#define WHO_MAX		64
#define LINE_LEN	1024

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* Copies src into dst (size > 0), cut to fit. */
static void cut(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* Who the operator is, for fleetd's audit log. */
static void find_who(char *who, size_t size)
{
	const char *u = getenv("USER");
	struct passwd *pw;
	size_t n = 0;

	if (u == NULL || u[0] == '\0') {
		pw = getpwuid(getuid());
		u = pw != NULL ? pw->pw_name : "";
	}
	for (; u[n] != '\0' && n + 1 < size; n++)
		who[n] = u[n] >= 0x20 && u[n] < 0x7f ? u[n] : '?';
	who[n] = '\0';
}

/* ---- requests shared by both modes --------------------------------------- */

static void rollout_path(struct fl_api_path *p, const char *name,
			 const char *tail)
{
	fl_api_path_init(p, "/api/v1/rollouts");
	fl_api_path_seg(p, name);
	if (tail != NULL)
		fl_api_path_add(p, tail);
}

/* GET /rollouts/NAME into *out. */
static int get_rollout(struct fl_api *api, const char *name, cJSON **out,
		       struct fl_api_diag *d)
{
	struct fl_api_reply r;
	struct fl_api_path p;
	int rc;

	*out = NULL;
	rollout_path(&p, name, NULL);
	rc = fl_api_get(api, &p, 0, &r, d);
	if (rc == 0) {
		*out = r.json;
		r.json = NULL;
	}
	fl_api_reply_clear(&r);
	return rc;
}

/* Every active rollout, each in full (at most MAX_ACTIVE), as an array. */
static int get_active(struct fl_api *api, cJSON **out, struct fl_api_diag *d)
{
	struct fl_api_reply r;
	struct fl_api_path p;
	const cJSON *it;
	cJSON *all;
	int rc, n = 0;

	*out = NULL;
	fl_api_path_init(&p, "/api/v1/rollouts");
	fl_api_path_query(&p, "state", "active");
	fl_api_path_query(&p, "limit", "50");
	rc = fl_api_get(api, &p, 0, &r, d);
	if (rc != 0) {
		fl_api_reply_clear(&r);
		return rc;
	}
	all = cJSON_CreateArray();
	if (all == NULL) {
		fl_api_reply_clear(&r);
		return FL_ENOMEM;
	}
	cJSON_ArrayForEach(it,
			   cJSON_GetObjectItemCaseSensitive(r.json, "rollouts"))
	{
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
		cJSON *full = NULL;

		if (!cJSON_IsString(nm) || n++ >= MAX_ACTIVE)
			continue;
		rc = get_rollout(api, nm->valuestring, &full, d);
		if (rc == FL_ENOENT) /* ended and gone between two calls */
			continue;
		if (rc != 0)
			break;
		cJSON_AddItemToArray(all, full);
	}
	fl_api_reply_clear(&r);
	if (rc != 0 && rc != FL_ENOENT) {
		cJSON_Delete(all);
		return rc;
	}
	*out = all;
	return 0;
}

/* The device table's rows for rollout name under filter f: the members
 * (one page, filtered by fleetd), or with a model or label filter the
 * devices list (filtered by fleetd) of which the caller keeps the
 * rollout's. *out is an array of the items; *is_members says which. */
static int get_devices(struct fl_api *api, const char *name,
		       const struct fl_dash_filter *f, cJSON **out,
		       int *is_members, struct fl_api_diag *d)
{
	struct fl_api_reply r;
	struct fl_api_path p;
	char after[256] = "", limit[16];
	cJSON *all = cJSON_CreateArray(), *list, *it;
	int rc = 0;

	*out = NULL;
	if (all == NULL)
		return FL_ENOMEM;
	*is_members = f->model[0] == '\0' && f->nlabels == 0;
	snprintf(limit, sizeof(limit), "%d", FL_DASH_DEVICES);
	for (int page = 0; page < (*is_members ? 1 : MODEL_PAGES); page++) {
		const cJSON *next;

		if (*is_members) {
			rollout_path(&p, name, "/devices");
			if (f->state[0] != '\0')
				fl_api_path_query(&p, "status", f->state);
			if (f->stage[0] != '\0')
				fl_api_path_query(&p, "stage", f->stage);
			fl_api_path_query(&p, "limit", limit);
		} else {
			fl_api_path_init(&p, "/api/v1/devices");
			if (f->model[0] != '\0')
				fl_api_path_query(&p, "model", f->model);
			for (unsigned i = 0; i < f->nlabels; i++)
				fl_api_path_query(&p, "label", f->labels[i]);
			fl_api_path_query(&p, "limit", "1000");
			if (after[0] != '\0')
				fl_api_path_query(&p, "after", after);
		}
		rc = fl_api_get(api, &p, 0, &r, d);
		if (rc != 0) {
			fl_api_reply_clear(&r);
			break;
		}
		list = cJSON_DetachItemFromObjectCaseSensitive(r.json,
							       "devices");
		while (list != NULL &&
		       (it = cJSON_DetachItemFromArray(list, 0)) != NULL)
			cJSON_AddItemToArray(all, it);
		cJSON_Delete(list);
		next = cJSON_GetObjectItemCaseSensitive(r.json, "next");
		if (!cJSON_IsString(next) || next->valuestring[0] == '\0' ||
		    strlen(next->valuestring) >= sizeof(after)) {
			fl_api_reply_clear(&r);
			break;
		}
		cut(after, sizeof(after), next->valuestring);
		fl_api_reply_clear(&r);
	}
	if (rc != 0) {
		cJSON_Delete(all);
		return rc;
	}
	*out = all;
	return 0;
}

/* Where the event log ends now (GET /status, events.last). */
static uint64_t last_seq(struct fl_api *api)
{
	struct fl_api_reply r;
	struct fl_api_diag d;
	struct fl_api_path p;
	const cJSON *ev, *last;
	uint64_t seq = 0;

	fl_api_path_init(&p, "/api/v1/status");
	if (fl_api_get(api, &p, 0, &r, &d) == 0) {
		ev = cJSON_GetObjectItemCaseSensitive(r.json, "events");
		last = cJSON_GetObjectItemCaseSensitive(ev, "last");
		if (cJSON_IsNumber(last) && last->valuedouble > 0)
			seq = (uint64_t)last->valuedouble;
	}
	fl_api_reply_clear(&r);
	return seq;
}

/* GET /events after *after (waiting up to wait seconds, "0" none);
 * *events is the page's array (the caller's), *after moves on. */
static int get_events(struct fl_api *api, const char *rollout, uint64_t *after,
		      const char *wait, cJSON **events, struct fl_api_diag *d)
{
	struct fl_api_reply r;
	struct fl_api_path p;
	char a[32];
	const cJSON *next;
	int rc;

	*events = NULL;
	snprintf(a, sizeof(a), "%" PRIu64, *after);
	fl_api_path_init(&p, "/api/v1/events");
	if (rollout != NULL)
		fl_api_path_query(&p, "rollout", rollout);
	fl_api_path_query(&p, "after", a);
	fl_api_path_query(&p, "limit", "1000");
	fl_api_path_query(&p, "wait", wait);
	rc = fl_api_get(api, &p, EVENT_TIMEOUT_S, &r, d);
	if (rc == 0) {
		*events = cJSON_DetachItemFromObjectCaseSensitive(r.json,
								  "events");
		next = cJSON_GetObjectItemCaseSensitive(r.json, "next");
		if (cJSON_IsNumber(next) && next->valuedouble > (double)*after)
			*after = (uint64_t)next->valuedouble;
	}
	fl_api_reply_clear(&r);
	return rc;
}

/* POST an action; the outcome as one line (fl_view_action's words, or
 * fleetd's reason). Returns 0 or the request's error. */
static int post_action(struct fl_api *api, const char *who, const char *action,
		       const char *name, const char *what, char *msg,
		       size_t size)
{
	struct fl_api_reply r;
	struct fl_api_diag d;
	struct fl_api_path p;
	char tail[32];
	cJSON *body = cJSON_CreateObject();
	const cJSON *changed, *rollout;
	int rc;

	if (body == NULL ||
	    (who[0] != '\0' &&
	     cJSON_AddStringToObject(body, "who", who) == NULL) ||
	    (what != NULL &&
	     cJSON_AddStringToObject(body, "name", what) == NULL)) {
		cJSON_Delete(body);
		snprintf(msg, size, "%s %s: out of memory", action, name);
		return FL_ENOMEM;
	}
	snprintf(tail, sizeof(tail), "/%s", action);
	rollout_path(&p, name, tail);
	rc = fl_api_post(api, &p, body, &r, &d);
	cJSON_Delete(body);
	if (rc != 0) {
		int k = snprintf(msg, size, "%s %s: ", action, name);

		if (k > 0 && (size_t)k < size)
			cut(msg + k, size - (size_t)k, d.msg);
	} else {
		struct fl_view v = {NULL, now_s(), 0};
		char *text = NULL;
		size_t len = 0;

		changed = cJSON_GetObjectItemCaseSensitive(r.json, "changed");
		rollout = cJSON_GetObjectItemCaseSensitive(r.json, "rollout");
		v.f = open_memstream(&text, &len);
		if (v.f != NULL) {
			(void)fl_view_action(
				&v, action, name, what,
				cJSON_IsBool(changed) ? cJSON_IsTrue(changed)
						      : r.status == 202,
				cJSON_IsObject(rollout) ? rollout : NULL);
			fclose(v.f);
		}
		snprintf(msg, size, "%s", text != NULL ? text : "done");
		free(text);
		msg[strcspn(msg, "\n")] = '\0';
	}
	fl_api_reply_clear(&r);
	return rc;
}

static const char *action_word(int kind)
{
	switch (kind) {
	case FL_DASH_REQ_PAUSE: return "pause";
	case FL_DASH_REQ_RESUME: return "resume";
	case FL_DASH_REQ_APPROVE: return "approve";
	default: return "rollback";
	}
}

/* ---- the terminal: workers ------------------------------------------------
 */

struct shared {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int wake[2]; /* the workers write a byte, the UI polls */
	int is_stopping;
	char who[WHO_MAX];
	const char *fixed; /* NAME on the command line, or NULL */
	/* asked by the UI */
	char name[FL_DASH_NAME_MAX]; /* "" overview */
	struct fl_dash_filter filter;
	unsigned gen; /* bumped when name or filter change */
	struct fl_dash_req actions[MAX_ACTIONS];
	unsigned nactions;
	char preview_of[FL_DASH_NAME_MAX]; /* "" none asked */
	int is_refresh_due;
	/* answered by the workers (NULL: nothing new) */
	cJSON *rollout, *active, *devices, *events, *preview;
	unsigned devices_gen;
	int is_members;
	char error[FL_DASH_TEXT];    /* "" when fleetd answers */
	char ev_error[FL_DASH_TEXT]; /* the event thread's */
	char message[FL_DASH_TEXT];  /* an action's outcome */
	int is_message_new, is_message_bad;
	struct fl_api *api_ev, *api_rf;
	uint64_t after;
};

static void wake_ui(struct shared *sh)
{
	char b = 1;

	(void)!write(sh->wake[1], &b, 1);
}

/* Waits up to ms or until signalled; returns 1 when stopping. */
static int nap(struct shared *sh, unsigned ms)
{
	struct timespec ts;
	int stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&sh->mu);
	if (!sh->is_stopping && !sh->is_refresh_due)
		(void)pthread_cond_timedwait(&sh->cv, &sh->mu, &ts);
	stop = sh->is_stopping;
	pthread_mutex_unlock(&sh->mu);
	return stop;
}

static void *event_thread(void *arg)
{
	struct shared *sh = arg;

	for (;;) {
		struct fl_api_diag d;
		cJSON *events = NULL;
		int rc;

		pthread_mutex_lock(&sh->mu);
		rc = sh->is_stopping;
		pthread_mutex_unlock(&sh->mu);
		if (rc)
			break;
		rc = get_events(sh->api_ev, sh->fixed, &sh->after, EVENT_WAIT,
				&events, &d);
		pthread_mutex_lock(&sh->mu);
		if (rc == 0) {
			sh->ev_error[0] = '\0';
			if (cJSON_GetArraySize(events) > 0) {
				if (sh->events == NULL) {
					sh->events = events;
				} else {
					cJSON *it;

					while ((it = cJSON_DetachItemFromArray(
							events, 0)) != NULL)
						cJSON_AddItemToArray(sh->events,
								     it);
					cJSON_Delete(events);
				}
				events = NULL;
				/* something happened: refresh now */
				sh->is_refresh_due = 1;
				pthread_cond_broadcast(&sh->cv);
				wake_ui(sh);
			}
		} else {
			cut(sh->ev_error, sizeof(sh->ev_error), d.msg);
		}
		pthread_mutex_unlock(&sh->mu);
		cJSON_Delete(events);
		if (rc != 0 && nap(sh, RETRY_MS))
			break;
	}
	return NULL;
}

static void *refresh_thread(void *arg)
{
	struct shared *sh = arg;
	unsigned cycle = 0;

	for (;; cycle++) {
		char name[FL_DASH_NAME_MAX], preview[FL_DASH_NAME_MAX];
		char msg[FL_DASH_TEXT] = "";
		struct fl_dash_filter f;
		struct fl_dash_req acts[MAX_ACTIONS];
		unsigned nacts, gen;
		struct fl_api_diag d;
		cJSON *rollout = NULL, *active = NULL, *devices = NULL,
		      *pv = NULL;
		int rc = 0, is_members = 1, is_bad = 0, has_devices = 0;

		pthread_mutex_lock(&sh->mu);
		if (sh->is_stopping) {
			pthread_mutex_unlock(&sh->mu);
			break;
		}
		memcpy(name, sh->name, sizeof(name));
		memcpy(preview, sh->preview_of, sizeof(preview));
		sh->preview_of[0] = '\0';
		f = sh->filter;
		gen = sh->gen;
		nacts = sh->nactions;
		memcpy(acts, sh->actions, sizeof(acts));
		sh->nactions = 0;
		sh->is_refresh_due = 0;
		pthread_mutex_unlock(&sh->mu);

		for (unsigned i = 0; i < nacts; i++) {
			const struct fl_dash_req *q = &acts[i];

			is_bad = post_action(sh->api_rf, sh->who,
					     action_word(q->kind), q->name,
					     q->kind == FL_DASH_REQ_APPROVE
						     ? q->what
						     : NULL,
					     msg, sizeof(msg)) != 0;
		}
		if (preview[0] != '\0') {
			struct fl_api_reply r;
			struct fl_api_path p;

			rollout_path(&p, preview, "/rollback");
			if (fl_api_get(sh->api_rf, &p, 0, &r, &d) == 0) {
				pv = r.json;
				r.json = NULL;
			}
			fl_api_reply_clear(&r);
		}
		if (name[0] != '\0') {
			rc = get_rollout(sh->api_rf, name, &rollout, &d);
			/* a model filter reads the whole devices list: less
			 * often */
			if (rc == 0 &&
			    ((f.model[0] == '\0' && f.nlabels == 0) ||
			     cycle % 4 == 0 || gen != sh->devices_gen)) {
				rc = get_devices(sh->api_rf, name, &f, &devices,
						 &is_members, &d);
				has_devices = rc == 0;
			}
		} else {
			rc = get_active(sh->api_rf, &active, &d);
		}

		pthread_mutex_lock(&sh->mu);
		if (rc == 0) {
			sh->error[0] = '\0';
		} else {
			cut(sh->error, sizeof(sh->error), d.msg);
		}
		if (rollout != NULL) {
			cJSON_Delete(sh->rollout);
			sh->rollout = rollout;
		}
		if (active != NULL) {
			cJSON_Delete(sh->active);
			sh->active = active;
		}
		if (has_devices && gen == sh->gen) {
			cJSON_Delete(sh->devices);
			sh->devices = devices;
			sh->devices_gen = gen;
			sh->is_members = is_members;
			devices = NULL;
		}
		if (pv != NULL) {
			cJSON_Delete(sh->preview);
			sh->preview = pv;
		}
		if (msg[0] != '\0') {
			cut(sh->message, sizeof(sh->message), msg);
			sh->is_message_new = 1;
			sh->is_message_bad = is_bad;
		}
		wake_ui(sh);
		pthread_mutex_unlock(&sh->mu);
		cJSON_Delete(devices);
		if (nap(sh, rc != 0 ? RETRY_MS : REFRESH_MS))
			break;
	}
	return NULL;
}

/* ---- the terminal: the UI -------------------------------------------------
 */

struct ui {
	struct fl_dash *d;
	struct fl_dash_screen *scr;
	cJSON *rollout, *active, *preview; /* what d points to */
	cJSON *devices;			   /* what d's table was made of */
	chtype attr[FL_DASH_A_N];
	int is_dirty;
};

static void ui_colours(struct ui *u)
{
	const char *nc = getenv("NO_COLOR");
	int is_colour = has_colors() && (nc == NULL || nc[0] == '\0');

	u->attr[FL_DASH_A_NORMAL] = A_NORMAL;
	u->attr[FL_DASH_A_TITLE] = A_REVERSE | A_BOLD;
	u->attr[FL_DASH_A_BOLD] = A_BOLD;
	u->attr[FL_DASH_A_DIM] = A_DIM;
	u->attr[FL_DASH_A_OK] = A_NORMAL;
	u->attr[FL_DASH_A_FAIL] = A_BOLD;
	u->attr[FL_DASH_A_WARN] = A_UNDERLINE;
	u->attr[FL_DASH_A_FLIGHT] = A_NORMAL;
	u->attr[FL_DASH_A_BACK] = A_BOLD;
	u->attr[FL_DASH_A_SELECT] = A_REVERSE;
	if (!is_colour || start_color() == ERR)
		return;
	(void)use_default_colors();
	init_pair(1, COLOR_WHITE, COLOR_BLUE);
	init_pair(2, COLOR_GREEN, -1);
	init_pair(3, COLOR_RED, -1);
	init_pair(4, COLOR_YELLOW, -1);
	init_pair(5, COLOR_CYAN, -1);
	init_pair(6, COLOR_MAGENTA, -1);
	u->attr[FL_DASH_A_TITLE] = COLOR_PAIR(1) | A_BOLD;
	u->attr[FL_DASH_A_OK] = COLOR_PAIR(2);
	u->attr[FL_DASH_A_FAIL] = COLOR_PAIR(3) | A_BOLD;
	u->attr[FL_DASH_A_WARN] = COLOR_PAIR(4);
	u->attr[FL_DASH_A_FLIGHT] = COLOR_PAIR(5);
	u->attr[FL_DASH_A_BACK] = COLOR_PAIR(6) | A_BOLD;
}

static void ui_draw(struct ui *u)
{
	struct fl_dash_screen *s = u->scr;

	u->d->now_s = now_s();
	fl_dash_draw(u->d, LINES, COLS, s);
	for (int r = 0; r < s->rows; r++)
		for (int c = 0; c < s->cols; c++) {
			const struct fl_dash_cell *x =
				&s->cells[(size_t)r * (size_t)s->cols +
					  (size_t)c];

			(void)mvaddch(
				r, c,
				(chtype)(unsigned char)x->ch |
					u->attr[x->attr < FL_DASH_A_N ? x->attr
								      : 0]);
		}
	if (s->cursor_row >= 0) {
		(void)curs_set(1);
		(void)move(s->cursor_row, s->cursor_col);
	} else {
		(void)curs_set(0);
		(void)move(s->rows - 1, 0);
	}
	(void)refresh();
}

static int map_key(int ch)
{
	switch (ch) {
	case KEY_UP: return FL_DASH_KEY_UP;
	case KEY_DOWN: return FL_DASH_KEY_DOWN;
	case KEY_LEFT: return FL_DASH_KEY_LEFT;
	case KEY_RIGHT: return FL_DASH_KEY_RIGHT;
	case KEY_PPAGE: return FL_DASH_KEY_PGUP;
	case KEY_NPAGE: return FL_DASH_KEY_PGDN;
	case KEY_HOME: return FL_DASH_KEY_HOME;
	case KEY_END: return FL_DASH_KEY_END;
	case KEY_BACKSPACE:
	case 0x7f:
	case 8: return FL_DASH_KEY_BACKSPACE;
	case KEY_ENTER:
	case '\n':
	case '\r': return FL_DASH_KEY_ENTER;
	case 27: return FL_DASH_KEY_ESC;
	case '\t': return FL_DASH_KEY_TAB;
	case KEY_BTAB: return FL_DASH_KEY_BTAB;
	default: return ch >= 0x20 && ch < 0x7f ? ch : -1;
	}
}

/* Hands a key's request to the workers. Returns 1 to quit. */
static int ui_request(struct ui *u, struct shared *sh,
		      const struct fl_dash_req *q)
{
	pthread_mutex_lock(&sh->mu);
	switch (q->kind) {
	case FL_DASH_REQ_QUIT: pthread_mutex_unlock(&sh->mu); return 1;
	case FL_DASH_REQ_PAUSE:
	case FL_DASH_REQ_RESUME:
	case FL_DASH_REQ_APPROVE:
	case FL_DASH_REQ_ROLLBACK:
		if (sh->nactions < MAX_ACTIONS)
			sh->actions[sh->nactions++] = *q;
		break;
	case FL_DASH_REQ_PREVIEW:
		cut(sh->preview_of, sizeof(sh->preview_of), q->name);
		cJSON_Delete(u->preview);
		u->preview = NULL;
		u->d->preview = NULL;
		break;
	case FL_DASH_REQ_OPEN:
		cut(sh->name, sizeof(sh->name), u->d->name);
		sh->gen++;
		cJSON_Delete(sh->rollout);
		sh->rollout = NULL;
		cJSON_Delete(u->rollout);
		u->rollout = NULL;
		u->d->rollout = NULL;
		cJSON_Delete(u->devices);
		u->devices = NULL;
		break;
	case FL_DASH_REQ_FILTER:
		sh->filter = u->d->filter;
		sh->gen++;
		cJSON_Delete(u->devices); /* the next answer is news */
		u->devices = NULL;
		break;
	default: pthread_mutex_unlock(&sh->mu); return 0;
	}
	sh->is_refresh_due = 1;
	pthread_cond_broadcast(&sh->cv);
	pthread_mutex_unlock(&sh->mu);
	return 0;
}

/* Takes what the workers answered into the model. */
static void ui_take(struct ui *u, struct shared *sh)
{
	struct fl_dash *d = u->d;
	const char *err;

	pthread_mutex_lock(&sh->mu);
	if (sh->rollout != NULL) {
		const cJSON *n =
			cJSON_GetObjectItemCaseSensitive(sh->rollout, "name");

		/* an answer about the rollout shown before a change */
		if (cJSON_IsString(n) && strcmp(n->valuestring, d->name) == 0) {
			if (!cJSON_Compare(u->rollout, sh->rollout, 1))
				u->is_dirty = 1;
			cJSON_Delete(u->rollout);
			u->rollout = sh->rollout;
			d->rollout = u->rollout;
			d->fetched_s = now_s();
		} else {
			cJSON_Delete(sh->rollout);
		}
		sh->rollout = NULL;
	}
	if (sh->active != NULL) {
		if (!cJSON_Compare(u->active, sh->active, 1))
			u->is_dirty = 1;
		cJSON_Delete(u->active);
		u->active = sh->active;
		d->active = u->active;
		d->fetched_s = now_s();
		sh->active = NULL;
		if (d->sel >= cJSON_GetArraySize(d->active))
			d->sel = cJSON_GetArraySize(d->active) > 0
					 ? cJSON_GetArraySize(d->active) - 1
					 : 0;
	}
	if (sh->devices != NULL) {
		if (sh->devices_gen == sh->gen &&
		    !cJSON_Compare(u->devices, sh->devices, 1)) {
			fl_dash_devices_set(d, sh->devices, sh->is_members);
			u->is_dirty = 1;
		}
		cJSON_Delete(u->devices);
		u->devices = sh->devices;
		sh->devices = NULL;
	}
	if (sh->events != NULL) {
		fl_dash_events_add(d, sh->events);
		cJSON_Delete(sh->events);
		sh->events = NULL;
		u->is_dirty = 1;
	}
	if (sh->preview != NULL) {
		cJSON_Delete(u->preview);
		u->preview = sh->preview;
		sh->preview = NULL;
		d->preview = d->mode == FL_DASH_M_CONFIRM ? u->preview : NULL;
		u->is_dirty = 1;
	}
	if (sh->is_message_new) {
		cut(d->message, sizeof(d->message), sh->message);
		d->is_message_bad = sh->is_message_bad;
		sh->is_message_new = 0;
		u->is_dirty = 1;
	}
	err = sh->error[0] != '\0' ? sh->error : sh->ev_error;
	if (strcmp(err, d->error) != 0) {
		cut(d->error, sizeof(d->error), err);
		u->is_dirty = 1;
	}
	pthread_mutex_unlock(&sh->mu);
}

static int run_tty(struct shared *sh, struct fl_dash *d)
{
	struct ui u;
	struct pollfd pfd[2];
	int64_t drawn_s = -1;
	int quit = 0;
	SCREEN *term;

	memset(&u, 0, sizeof(u));
	u.d = d;
	u.scr = malloc(sizeof(*u.scr));
	if (u.scr == NULL)
		return FL_ENOMEM;
	/* newterm, not initscr: an unknown TERM is an error to report, not
	 * an exit inside the library */
	term = newterm(NULL, stdout, stdin);
	if (term == NULL) {
		const char *t = getenv("TERM");

		fprintf(stderr,
			"fleetctl: watch: cannot drive the terminal (TERM=%s); "
			"`fleetctl watch | cat` prints one line per change\n",
			t != NULL ? t : "");
		free(u.scr);
		return FL_EIO;
	}
	(void)set_term(term);
	(void)cbreak();
	(void)noecho();
	(void)nonl();
	(void)keypad(stdscr, TRUE);
	(void)nodelay(stdscr, TRUE);
	(void)set_escdelay(25);
	(void)curs_set(0);
	ui_colours(&u);
	u.is_dirty = 1;
	pfd[0].fd = STDIN_FILENO;
	pfd[0].events = POLLIN;
	pfd[1].fd = sh->wake[0];
	pfd[1].events = POLLIN;
	while (!quit && !got_signal) {
		char buf[64];
		int ch;

		if (u.is_dirty || now_s() != drawn_s) {
			ui_draw(&u);
			drawn_s = d->now_s;
			u.is_dirty = 0;
		}
		if (poll(pfd, 2, 250) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents & POLLIN) {
			while (read(sh->wake[0], buf, sizeof(buf)) > 0)
				;
			ui_take(&u, sh);
		}
		while (!quit && (ch = getch()) != ERR) {
			struct fl_dash_req q;
			int key;

			if (ch == KEY_RESIZE) {
				(void)erase();
				u.is_dirty = 1;
				continue;
			}
			key = map_key(ch);
			if (key < 0)
				continue;
			if (fl_dash_key(d, key, &q))
				u.is_dirty = 1;
			if (q.kind == FL_DASH_REQ_PREVIEW)
				d->preview = NULL;
			quit = ui_request(&u, sh, &q);
		}
	}
	(void)endwin();
	delscreen(term);
	cJSON_Delete(u.rollout);
	cJSON_Delete(u.active);
	cJSON_Delete(u.preview);
	cJSON_Delete(u.devices);
	free(u.scr);
	return 0;
}

/* ---- line mode ------------------------------------------------------------
 */

struct followed {
	char name[FL_DASH_NAME_MAX];
	char line[LINE_LEN];
	int is_seen; /* in the last answer */
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	char at[40];
	va_list ap;

	fl_render_instant(now_s(), at, sizeof(at));
	printf("%s ", at);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* Prints r's line when it changed; returns its slot or NULL when full. */
static struct followed *line_of(struct followed *fw, unsigned *n,
				const cJSON *r)
{
	const cJSON *nm = cJSON_GetObjectItemCaseSensitive(r, "name");
	char line[LINE_LEN];
	struct followed *x = NULL;

	if (!cJSON_IsString(nm))
		return NULL;
	for (unsigned i = 0; i < *n; i++)
		if (strcmp(fw[i].name, nm->valuestring) == 0)
			x = &fw[i];
	if (x == NULL) {
		if (*n == LINE_NAMES)
			return NULL;
		x = &fw[(*n)++];
		memset(x, 0, sizeof(*x));
		cut(x->name, sizeof(x->name), nm->valuestring);
	}
	x->is_seen = 1;
	fl_dash_line(r, line, sizeof(line));
	if (strcmp(line, x->line) != 0) {
		say("%s", line);
		memcpy(x->line, line, sizeof(line));
	}
	return x;
}

static int run_lines(struct fl_api *api, const char *name)
{
	struct followed *fw = calloc(LINE_NAMES, sizeof(*fw));
	struct fl_dash_event *ev = malloc(sizeof(*ev));
	char last_error[FL_DASH_TEXT] = "";
	uint64_t after = last_seq(api);
	unsigned n = 0;
	int rc = FL_EXIT_OK;

	if (fw == NULL || ev == NULL) {
		free(fw);
		free(ev);
		fprintf(stderr, "fleetctl: out of memory\n");
		return FL_EXIT_FAIL;
	}
	while (!got_signal) {
		struct fl_api_diag d;
		cJSON *events = NULL, *r = NULL;
		const cJSON *e;
		int err;

		err = get_events(api, name, &after, EVENT_WAIT, &events, &d);
		cJSON_ArrayForEach(e, events)
		{
			char line[LINE_LEN];

			if (fl_dash_event_of(e, ev) != 0 ||
			    !fl_dash_event_is_notable(ev))
				continue;
			fl_dash_event_line(ev, line, sizeof(line));
			say("%s", line);
		}
		cJSON_Delete(events);
		if (err == 0) {
			if (name != NULL) {
				err = get_rollout(api, name, &r, &d);
				if (err == FL_ENOENT) {
					fprintf(stderr,
						"fleetctl: rollout "
						"'%s': %s\n",
						name, d.msg);
					rc = FL_EXIT_FAIL;
					break;
				}
				if (err == 0) {
					(void)line_of(fw, &n, r);
					if (fl_dash_is_over(r)) {
						cJSON_Delete(r);
						break;
					}
				}
			} else {
				err = get_active(api, &r, &d);
				if (err == 0) {
					const cJSON *it;

					for (unsigned i = 0; i < n; i++)
						fw[i].is_seen = 0;
					cJSON_ArrayForEach(it, r)(void)
						line_of(fw, &n, it);
					/* gone from the active list: its
					 * last line, then forget it */
					for (unsigned i = 0; i < n; i++) {
						cJSON *one = NULL;

						if (fw[i].is_seen)
							continue;
						if (get_rollout(api, fw[i].name,
								&one, &d) == 0)
							(void)line_of(fw, &n,
								      one);
						cJSON_Delete(one);
						fw[i] = fw[--n];
						i--;
					}
				}
			}
			cJSON_Delete(r);
		}
		if (err != 0 && strcmp(d.msg, last_error) != 0) {
			say("fleetd: %s (retrying)", d.msg);
			cut(last_error, sizeof(last_error), d.msg);
		} else if (err == 0 && last_error[0] != '\0') {
			say("fleetd: answering again");
			last_error[0] = '\0';
		}
		if (err != 0) {
			struct timespec ts = {1, 0};

			(void)nanosleep(&ts, NULL);
		}
	}
	free(fw);
	free(ev);
	return rc;
}

/* ---- the command ----------------------------------------------------------
 */

static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
}

int fl_cli_watch(const struct fl_cli *cli, const char *name)
{
	struct shared *sh = NULL;
	struct fl_dash *d = NULL;
	struct fl_api *api = NULL;
	struct fl_api_diag diag;
	pthread_t t_ev, t_rf;
	sigset_t all, old;
	int rc = FL_EXIT_FAIL, started = 0;
	uint64_t last;

	if (fl_api_open(&api, cli->server, &diag) != 0) {
		fprintf(stderr, "fleetctl: %s\n", diag.msg);
		return FL_EXIT_USAGE;
	}
	/* Fail at once on what will not get better: no fleetd, no rollout. */
	if (name != NULL) {
		cJSON *r = NULL;
		int err = get_rollout(api, name, &r, &diag);

		cJSON_Delete(r);
		if (err != 0) {
			if (err == FL_ENOENT || err == FL_EINVAL)
				fprintf(stderr, "fleetctl: rollout '%s': %s\n",
					name, diag.msg);
			else
				fprintf(stderr, "fleetctl: %s\n", diag.msg);
			fl_api_close(api);
			return FL_EXIT_FAIL;
		}
	} else {
		cJSON *r = NULL;
		int err = get_active(api, &r, &diag);

		cJSON_Delete(r);
		if (err != 0) {
			fprintf(stderr, "fleetctl: %s\n", diag.msg);
			fl_api_close(api);
			return FL_EXIT_FAIL;
		}
	}
	catch_signals();
	if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
		rc = run_lines(api, name);
		fl_api_close(api);
		return rc;
	}

	sh = calloc(1, sizeof(*sh));
	d = calloc(1, sizeof(*d));
	if (sh != NULL)
		sh->wake[0] = sh->wake[1] = -1;
	if (sh == NULL || d == NULL) {
		fprintf(stderr, "fleetctl: out of memory\n");
		goto out_free;
	}
	fl_dash_init(d, name);
	if (pipe2(sh->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
		fprintf(stderr, "fleetctl: watch: %s\n", strerror(errno));
		goto out_free;
	}
	pthread_mutex_init(&sh->mu, NULL);
	pthread_cond_init(&sh->cv, NULL);
	find_who(sh->who, sizeof(sh->who));
	sh->fixed = name;
	if (name != NULL)
		cut(sh->name, sizeof(sh->name), name);
	sh->api_rf = api;
	api = NULL;
	if (fl_api_open(&sh->api_ev, cli->server, &diag) != 0) {
		fprintf(stderr, "fleetctl: %s\n", diag.msg);
		goto out;
	}
	last = last_seq(sh->api_rf);
	sh->after = name != NULL
			    ? (last > BACKLOG_ONE ? last - BACKLOG_ONE : 0)
			    : (last > BACKLOG_ALL ? last - BACKLOG_ALL : 0);
	/* The workers take no signal: the main thread's poll() does. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	if (pthread_create(&t_ev, NULL, event_thread, sh) == 0) {
		started = 1;
		if (pthread_create(&t_rf, NULL, refresh_thread, sh) == 0)
			started = 2;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (started == 2)
		rc = run_tty(sh, d) == 0 ? FL_EXIT_OK : FL_EXIT_FAIL;
	else
		fprintf(stderr, "fleetctl: watch: cannot start a thread\n");
	pthread_mutex_lock(&sh->mu);
	sh->is_stopping = 1;
	pthread_cond_broadcast(&sh->cv);
	pthread_mutex_unlock(&sh->mu);
	if (started >= 1)
		pthread_join(t_ev, NULL);
	if (started == 2)
		pthread_join(t_rf, NULL);
	if (got_signal == SIGINT || got_signal == SIGTERM)
		rc = FL_EXIT_OK;
out:
	cJSON_Delete(sh->rollout);
	cJSON_Delete(sh->active);
	cJSON_Delete(sh->devices);
	cJSON_Delete(sh->events);
	cJSON_Delete(sh->preview);
	fl_api_close(sh->api_ev);
	fl_api_close(sh->api_rf);
	pthread_cond_destroy(&sh->cv);
	pthread_mutex_destroy(&sh->mu);
out_free:
	if (sh != NULL) {
		if (sh->wake[0] >= 0)
			close(sh->wake[0]);
		if (sh->wake[1] >= 0)
			close(sh->wake[1]);
	}
	fl_api_close(api);
	free(sh);
	free(d);
	return rc;
}
