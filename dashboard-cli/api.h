/*
 * api.h -- fleetctl's client of fleetd's REST API (docs/api.md) over
 * libcurl: one connection kept alive across the requests of a command,
 * JSON in and out (cJSON), bounded answers, timeouts, and every failure
 * turned into an error code and a one-line message.
 *
 * The base URL is --server, else $FLEET_SERVER, else FL_API_DEFAULT_URL
 * (the embedded set-up's). A request names a path below it, built with
 * struct fl_api_path so that names and ids are escaped.
 *
 * Every request carries `Authorization: Bearer TOKEN` (docs/api.md): the
 * token is $FLEET_TOKEN (main sets it from --token), else the first line
 * of the file $FLEET_TOKEN_FILE (--token-file), else that of the admin
 * token fleetd writes at its first start when its data folder is the
 * default (fl_api_default_token_file), else none: fleetd then answers
 * 401, and the message says which token was sent or that none was. A
 * 401's message starts "unauthorized: ", a 403's "forbidden: ".
 *
 * Errors of every request function, in the reply's diag:
 *   FL_EIO      fleetd not reachable ("fleetd is not running at URL"),
 *               the connection cut, no answer in time, HTTP 5xx
 *   FL_ENOENT   404 not_found          FL_ESTATE   409 conflict
 *   FL_EINVAL   400 bad_request, 422 invalid_plan
 *   FL_ENOTSUP  401, 403, 405 (not allowed)
 *   FL_ETOOBIG  413, or an answer over FL_API_MAX_ANSWER bytes
 *   FL_EBUSY    503 (fleetd starting or stopping)
 *   FL_ECORRUPT an answer that should be JSON and is not
 *   FL_ENOMEM
 * For an HTTP error the reply keeps its status and parsed body, so that
 * the caller can read error.code, error.diagnostics or error.devices.
 */
#ifndef FLEETCTL_API_H
#define FLEETCTL_API_H

#include <stdint.h>
#include <stdio.h>

struct cJSON;

#define FL_API_DEFAULT_URL   "https://127.0.0.1:8780"
#define FL_API_URL_MAX	     2048
#define FL_API_MAX_ANSWER    (16u << 20) /* bytes of one answer */
#define FL_API_CONNECT_S     10		 /* to connect */
#define FL_API_TIMEOUT_S     60		 /* a whole request, unless told */
#define FL_API_STALL_S	     60		 /* an upload that moves no byte */
#define FL_API_MAX_JSON_BODY (1u << 20)	 /* docs/api.md: request bodies */

/* The one line that says why a request failed. */
struct fl_api_diag {
	char msg[512];
};

struct fl_api;

/* What fleetd answered. json is the parsed body (NULL when there was none:
 * HEAD, an empty body), owned by the reply: fl_api_reply_clear(). */
struct fl_api_reply {
	long status; /* HTTP status, 0 when no answer came */
	struct cJSON *json;
	const char *code; /* error.code of an error answer, or NULL */
};

void fl_api_reply_clear(struct fl_api_reply *r);

/* The base URL a command uses: server if not NULL or empty, else
 * FL_API_DEFAULT_URL ($FLEET_SERVER is read by main). */
const char *fl_api_base_url(const char *server);

/* A client of the fleetd at server (see fl_api_base_url). The URL must
 * start with http:// or https://; a trailing '/' is dropped. Returns 0 and
 * *out (fl_api_close), FL_EINVAL (a bad URL, or a token given that
 * cannot be read or used, explained in d), FL_ENOMEM or FL_EIO (libcurl
 * would not start). */
int fl_api_open(struct fl_api **out, const char *server, struct fl_api_diag *d);

/* Accepts NULL. */
void fl_api_close(struct fl_api *api);

/* The admin token fleetd writes in its default data folder:
 * $XDG_STATE_HOME/fleetd/admin.token, else
 * $HOME/.local/state/fleetd/admin.token. 0, FL_ENOENT (neither variable
 * is set), FL_ETOOBIG. */
int fl_api_default_token_file(char *out, size_t cap);

/* The fleet CA fleetd makes in its default data folder, which an https://
 * server's certificate is checked against when $FLEET_CA is not set and
 * the file exists (else the system's CAs):
 * $XDG_STATE_HOME/fleetd/pki/ca.crt, else
 * $HOME/.local/state/fleetd/pki/ca.crt. 0, FL_ENOENT (neither variable is
 * set), FL_ETOOBIG. */
int fl_api_default_ca_file(char *out, size_t cap);

/* The base URL in use, without a trailing '/'. */
const char *fl_api_url(const struct fl_api *api);

/* ---- paths ----------------------------------------------------------------
 * A bounded path with escaped segments and query values. Overflowing it
 * marks it bad, and a request with a bad path fails with FL_ETOOBIG. */
struct fl_api_path {
	char s[FL_API_URL_MAX];
	size_t n;
	int is_bad;
	int has_query;
};

/* Starts p with prefix as it is ("/api/v1/rollouts"). */
void fl_api_path_init(struct fl_api_path *p, const char *prefix);
/* Appends "/" and seg, percent-escaped (all but A-Z a-z 0-9 - . _ ~). */
void fl_api_path_seg(struct fl_api_path *p, const char *seg);
/* Appends "?key=value" or "&key=value", value escaped. */
void fl_api_path_query(struct fl_api_path *p, const char *key,
		       const char *value);
/* Appends a literal tail ("/pause"). */
void fl_api_path_add(struct fl_api_path *p, const char *tail);

/* ---- requests -------------------------------------------------------------
 * Each returns 0 when fleetd answered 2xx (r->status says which), else an
 * error above with d->msg set: fleetd's error.message when it sent one,
 * else what went wrong. r is cleared first and must be cleared after. */

/* GET with a timeout of timeout_s seconds (0: FL_API_TIMEOUT_S). The
 * answer must be JSON. */
int fl_api_get(struct fl_api *api, const struct fl_api_path *p,
	       unsigned timeout_s, struct fl_api_reply *r,
	       struct fl_api_diag *d);

/* POST body (NULL: no body) as JSON. The answer may be empty (r->json
 * NULL), else it must be JSON. */
int fl_api_post(struct fl_api *api, const struct fl_api_path *p,
		const struct cJSON *body, struct fl_api_reply *r,
		struct fl_api_diag *d);

/* HEAD: returns 0 for 2xx and FL_ENOENT for 404, with r->status. */
int fl_api_head(struct fl_api *api, const struct fl_api_path *p,
		struct fl_api_reply *r, struct fl_api_diag *d);

/* PUT size bytes read from f as application/octet-stream. No overall
 * timeout: it fails when no byte moves for FL_API_STALL_S seconds. */
int fl_api_put_file(struct fl_api *api, const struct fl_api_path *p, FILE *f,
		    uint64_t size, struct fl_api_reply *r,
		    struct fl_api_diag *d);

/* The error code for an HTTP status of 400 and above (see the top). */
int fl_api_status_err(long status);

#endif
