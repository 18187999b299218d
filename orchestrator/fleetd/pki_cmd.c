/*
 * pki_cmd.c -- `fleetd pki ...`: the operator's commands on the fleet CA
 * (pki.h), run on fleetd's machine against its data folder:
 *
 *   fleetd pki init    [--host NAME]... [--force]
 *   fleetd pki server  [--host NAME]... [--days N] [--force]
 *   fleetd pki device  ID [--out DIR] [--days N] [--force]
 *   fleetd pki devices --prefix P --count N [--first K] [--out DIR]
 *                      [--days N] [--force]
 *   fleetd pki client  NAME [--out DIR] [--days N] [--force]
 *   fleetd pki revoke  ID | --serial HEX | --cert FILE
 *   fleetd pki list
 *   fleetd pki crl     [--days N]
 *
 * each with fleetd's own [--data DIR] [--config FILE]. init makes the
 * fleet CA, the server certificate and fleetd's client certificate (what
 * a first start of fleetd does by itself); server issues the server
 * certificate again (new host names, rotation); device issues one
 * device's certificate (CN = its id) and makes its wrap key (DIR/ID.wrap.pem,
 * 0600, the private half the device keeps; the public half registered as
 * DATA/wrap/ID.pem for fleetd's encrypted images, imgkeys.h), devices a
 * batch of them named as
 * fleet-sim names its devices (P-000001 ...); client a certificate for a
 * tool (e.g. observer@fleet, docs/security.md); revoke adds every
 * certificate issued to ID (or the one given) to the CRL, which the broker
 * checks (a running fleetd sees the new CRL and restarts its broker) and
 * removes the device's wrap key (DATA/wrap/ID.pem) so that it is sent no
 * new image keys; list shows the certificates issued, their serials,
 * expiry and whether revoked; crl re-signs the CRL now (fleetd does it
 * by itself before it lapses). Exit status 0, 1 refused or failed (one
 * line on stderr), 2 a usage error.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fl/err.h"
#include "fl/proto.h"
#include "imgkeys.h"
#include "pki.h"
#include "pki_cmd.h"

static const char usage_text[] =
	"usage: fleetd pki init    [--host NAME]... [--force]\n"
	"       fleetd pki server  [--host NAME]... [--days N] [--force]\n"
	"       fleetd pki device  ID [--out DIR] [--days N] [--force]\n"
	"       fleetd pki devices --prefix P --count N [--first K] "
	"[--out DIR]\n"
	"                          [--days N] [--force]\n"
	"       fleetd pki client  NAME [--out DIR] [--days N] [--force]\n"
	"       fleetd pki revoke  ID | --serial HEX | --cert FILE\n"
	"       fleetd pki list\n"
	"       fleetd pki crl     [--days N]\n"
	"  init      the fleet CA, the server certificate and fleetd's own "
	"(DATA/pki/)\n"
	"  server    the server certificate again (SANs: localhost, "
	"127.0.0.1, ::1,\n"
	"            and each --host)\n"
	"  device    a device's certificate: DIR/ID.crt, DIR/ID.key "
	"[DIR: .],\n"
	"            and its wrap key DIR/ID.wrap.pem (encrypted images)\n"
	"  devices   P-000001 ... as fleet-sim names them, from --first "
	"[1]\n"
	"  client    a tool's certificate (observer@fleet reads every "
	"device topic)\n"
	"  revoke    every certificate of ID (or one) into the revocation "
	"list: the\n"
	"            broker refuses it; the device's wrap key is removed\n"
	"  list      certificates issued: id, serial, expiry, revoked\n"
	"  crl       sign the revocation list again, valid --days [30]\n"
	"  each also takes fleetd's --data DIR and --config FILE; "
	"docs/security.md\n";

static int usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "fleetd pki: %s\n", why);
	fputs(usage_text, stderr);
	return 2;
}

static int failed(const char *msg)
{
	fprintf(stderr, "fleetd pki: %s\n", msg);
	return 1;
}

static bool get_count(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

struct opts {
	const char *verb, *name, *out, *prefix, *data, *config;
	const char *serial, *cert;
	const char *hosts[FLD_PKI_HOSTS_MAX];
	size_t n_hosts;
	unsigned days, count, first;
	bool is_force;
};

/* Parses argv (argv[1] is the verb). 0, or the usage status. */
static int parse(struct opts *o, int argc, char **argv)
{
	memset(o, 0, sizeof(*o));
	o->verb = argc > 1 ? argv[1] : NULL;
	o->first = 1;
	if (o->verb == NULL)
		return usage(
			"init, server, device, devices, client, revoke, list "
			"or crl?");
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v;

		if (strcmp(a, "--force") == 0) {
			o->is_force = true;
			continue;
		}
		if (a[0] != '-') {
			if (o->name != NULL)
				return usage("one name only");
			o->name = a;
			continue;
		}
		if (i + 1 >= argc || argv[i + 1][0] == '\0')
			return usage("an option needs a value");
		v = argv[++i];
		if (strcmp(a, "--host") == 0) {
			if (o->n_hosts >= FLD_PKI_HOSTS_MAX)
				return usage("at most 16 --host");
			o->hosts[o->n_hosts++] = v;
		} else if (strcmp(a, "--out") == 0)
			o->out = v;
		else if (strcmp(a, "--prefix") == 0)
			o->prefix = v;
		else if (strcmp(a, "--data") == 0)
			o->data = v;
		else if (strcmp(a, "--config") == 0)
			o->config = v;
		else if (strcmp(a, "--serial") == 0)
			o->serial = v;
		else if (strcmp(a, "--cert") == 0)
			o->cert = v;
		else if (strcmp(a, "--days") == 0) {
			if (!get_count(v, 36500, &o->days))
				return usage("--days: 1 to 36500");
		} else if (strcmp(a, "--count") == 0) {
			if (!get_count(v, FLD_PKI_BATCH_MAX, &o->count))
				return usage("--count: 1 to 100000");
		} else if (strcmp(a, "--first") == 0) {
			if (!get_count(v, 999999, &o->first))
				return usage("--first: 1 to 999999");
		} else
			return usage("unknown option");
	}
	return 0;
}

static int out_paths(const char *dir, const char *name, char *key, char *crt)
{
	if (snprintf(key, FLD_PKI_PATH_MAX, "%s/%s.key", dir, name) >=
		    FLD_PKI_PATH_MAX ||
	    snprintf(crt, FLD_PKI_PATH_MAX, "%s/%s.crt", dir, name) >=
		    FLD_PKI_PATH_MAX)
		return FL_EINVAL;
	return 0;
}

/* Whether DIR/ID.wrap.pem exists (then said in diag). */
static bool wrap_exists(const char *dir, const char *id,
			struct fld_pki_diag *diag)
{
	char path[FLD_PKI_PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s.wrap.pem", dir, id);
	if (access(path, F_OK) != 0)
		return false;
	snprintf(diag->msg, sizeof(diag->msg),
		 "%s exists (--force replaces the certificate and keys)", path);
	return true;
}

/* The device's wrap key: DIR/ID.wrap.pem, registered as DATA/wrap/ID.pem
 * (imgkeys.h). */
static int make_wrap(const char *data, const char *dir, const char *id,
		     bool is_force, struct fld_pki_diag *diag)
{
	struct fld_imgkeys_diag kd = {""};
	int rc = fld_wrap_make_device(data, dir, id, is_force, &kd);

	if (rc != 0)
		snprintf(diag->msg, sizeof(diag->msg), "%s", kd.msg);
	return rc;
}

static int check_out(const char *dir)
{
	struct stat sb;

	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "fleetd pki: --out %s: %s\n", dir,
			errno != 0 ? strerror(errno) : "not a directory");
		return 1;
	}
	return 0;
}

static int cmd_init(const struct opts *o, const struct fld_pki_paths *p)
{
	struct fld_pki_diag diag = {{0}};
	struct fld_pki_ca *ca = NULL;
	int rc;

	if (!o->is_force &&
	    (access(p->srv_key, F_OK) == 0 || access(p->cli_key, F_OK) == 0)) {
		fprintf(stderr,
			"fleetd pki: %s already has certificates (--force "
			"replaces the CA and them: every device then needs a "
			"new certificate)\n",
			p->dir);
		return 1;
	}
	rc = fld_pki_make_ca(p, o->days ? o->days : FLD_PKI_CA_DAYS,
			     o->is_force, &diag);
	if (rc == 0)
		rc = fld_pki_ca_load(&ca, p, &diag);
	if (rc == 0) {
		struct fld_pki_req r = {
			FLD_PKI_SERVER,	  "fleetd",   o->hosts,	  o->n_hosts,
			FLD_PKI_SRV_DAYS, p->srv_key, p->srv_crt, true};

		rc = fld_pki_issue(ca, &r, &diag);
	}
	fld_pki_ca_free(ca);
	/* fleetd's client certificate: made afresh by the next start. */
	if (rc == 0 && (remove(p->cli_key) != 0 && errno != ENOENT))
		rc = FL_EIO;
	if (rc == 0 && (remove(p->cli_crt) != 0 && errno != ENOENT))
		rc = FL_EIO;
	if (rc == 0) {
		struct fld_pki_state st;

		rc = fld_pki_ensure(p, &st, &diag);
	}
	if (rc != 0)
		return failed(diag.msg[0] ? diag.msg : fl_strerror(rc));
	printf("fleet CA: %s (devices and fleetctl trust it)\n"
	       "server certificate: %s\n"
	       "fleetd's certificate: %s\n",
	       p->ca_crt, p->srv_crt, p->cli_crt);
	return 0;
}

/* ---- revocation ---------------------------------------------------------- */

/* t as a date (YYYY-MM-DD), with the time of day if is_time. */
static void utc(char *out, size_t cap, int64_t t, bool is_time)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(out, cap, is_time ? "%Y-%m-%d %H:%M UTC" : "%Y-%m-%d",
		     &tm) == 0)
		snprintf(out, cap, "?");
}

static void crl_summary(const struct fld_pki_paths *p,
			const struct fld_pki_crl_state *st)
{
	char next[32];

	utc(next, sizeof(next), st->next_update, true);
	printf("%s: %zu serial%s revoked, next update %s\n", p->crl,
	       st->n_revoked, st->n_revoked == 1 ? "" : "s", next);
}

/*
 * Removes DATA/wrap/ID.pem, the public half of the device's wrap key
 * (imgkeys.h), so that fleetd wraps no new image key for it. None: nothing
 * to do.
 */
static int drop_wrap_key(const char *dir, const char *id)
{
	struct fld_imgkeys_diag kd = {{0}};
	int rc;

	if (!fld_wrap_has(dir, id))
		return 0;
	rc = fld_wrap_remove(dir, id, &kd);
	if (rc != 0 && rc != FL_ENOENT) {
		fprintf(stderr,
			"fleetd pki: cannot remove the wrap key of %s: %s "
			"(while it is there, new image keys are wrapped for "
			"it; run the revocation again)\n",
			id, kd.msg[0] ? kd.msg : fl_strerror(rc));
		return 1;
	}
	printf("%s/wrap/%s.pem: removed (no new image keys are wrapped for "
	       "%s)\n",
	       dir, id, id);
	return 0;
}

static int cmd_revoke(const struct opts *o, const struct fld_pki_paths *p,
		      const char *dir, const struct fld_pki_ca *ca)
{
	struct fld_pki_diag diag = {{0}};
	struct fld_pki_revoke_res res;
	struct fld_pki_revoke_req req = {o->name, o->serial, o->cert,
					 (int64_t)time(NULL)};
	const char *what = o->name ? o->name : o->serial ? o->serial : o->cert;
	size_t n;
	int rc = fld_pki_revoke(ca, p, &req, &res, &diag);

	if (rc != 0)
		return failed(diag.msg[0] ? diag.msg : fl_strerror(rc));
	n = res.n_new + res.n_already;
	for (size_t i = 0; i < n; i++)
		printf("serial %s\n", res.serials[i]);
	if (res.n_new == 0)
		printf("%s: already revoked, nothing changed\n", what);
	else
		printf("%s: %zu certificate%s revoked%s; the broker refuses "
		       "%s (a running fleetd restarts its broker within "
		       "seconds, else at its next start)\n",
		       what, res.n_new, res.n_new == 1 ? "" : "s",
		       res.n_already ? " (the others were already)" : "",
		       res.n_new == 1 ? "it" : "them");
	if (o->name != NULL)
		return drop_wrap_key(dir, o->name);
	return 0;
}

static void print_issued(void *ctx, const struct fld_pki_issued *c)
{
	int64_t now = *(const int64_t *)ctx;
	char exp[16];

	utc(exp, sizeof(exp), c->not_after, false);
	printf("%-32s %-34s %-10s %s\n", c->cn, c->serial, exp,
	       c->is_revoked	     ? "revoked"
	       : c->not_after <= now ? "expired"
				     : "valid");
}

static int cmd_list(const struct fld_pki_paths *p)
{
	struct fld_pki_diag diag = {{0}};
	struct fld_pki_crl_state st;
	int64_t now = (int64_t)time(NULL);
	int rc;

	printf("%-32s %-34s %-10s %s\n", "ID", "SERIAL", "EXPIRES", "STATE");
	rc = fld_pki_list(p, print_issued, &now, &st, &diag);
	if (rc != 0)
		return failed(diag.msg[0] ? diag.msg : fl_strerror(rc));
	if (st.next_update != 0)
		crl_summary(p, &st);
	else
		printf("%s: none yet (fleetd makes it at its next start)\n",
		       p->crl);
	return 0;
}

static int cmd_crl(const struct opts *o, const struct fld_pki_paths *p,
		   const struct fld_pki_ca *ca)
{
	struct fld_pki_diag diag = {{0}};
	struct fld_pki_crl_state st;
	int rc = fld_pki_crl_resign(ca, p, (int64_t)time(NULL),
				    o->days ? o->days : FLD_PKI_CRL_DAYS, &st,
				    &diag);

	if (rc == FL_ENOENT)
		rc = fld_pki_crl_check(ca, p, (int64_t)time(NULL), 0, &st,
				       &diag);
	if (rc != 0)
		return failed(diag.msg[0] ? diag.msg : fl_strerror(rc));
	crl_summary(p, &st);
	return 0;
}

int fld_pki_main(int argc, char **argv)
{
	struct fld_pki_paths p;
	struct fld_pki_diag diag = {{0}};
	struct fld_pki_ca *ca = NULL;
	struct opts o;
	char dir[PATH_MAX];
	int rc;

	if (argc > 1 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	rc = parse(&o, argc, argv);
	if (rc != 0)
		return rc;
	if (strcmp(o.verb, "init") == 0 || strcmp(o.verb, "server") == 0) {
		if (o.name != NULL || o.out != NULL || o.prefix != NULL ||
		    o.count != 0)
			return usage("init and server take --host, --days, "
				     "--force only");
	} else if (strcmp(o.verb, "device") == 0 ||
		   strcmp(o.verb, "client") == 0) {
		if (o.name == NULL)
			return usage("which ID?");
		if (o.n_hosts != 0 || o.prefix != NULL || o.count != 0)
			return usage("device and client take --out, --days, "
				     "--force only");
	} else if (strcmp(o.verb, "devices") == 0) {
		if (o.prefix == NULL || o.count == 0)
			return usage("devices needs --prefix and --count");
		if (o.name != NULL || o.n_hosts != 0)
			return usage("devices takes no ID and no --host");
		if (o.first + o.count - 1 > 999999)
			return usage("--first + --count: the ids go up to "
				     "999999");
	} else if (strcmp(o.verb, "revoke") == 0) {
		if ((o.name != NULL) + (o.serial != NULL) + (o.cert != NULL) !=
		    1)
			return usage("revoke takes an ID, --serial HEX or "
				     "--cert FILE: one of them");
		if (o.out != NULL || o.prefix != NULL || o.count != 0 ||
		    o.n_hosts != 0 || o.days != 0 || o.is_force)
			return usage("revoke takes no other option");
	} else if (strcmp(o.verb, "list") == 0 || strcmp(o.verb, "crl") == 0) {
		if (o.name != NULL || o.out != NULL || o.prefix != NULL ||
		    o.count != 0 || o.n_hosts != 0 || o.is_force ||
		    (o.days != 0 && strcmp(o.verb, "list") == 0))
			return usage("list takes no option, crl only --days");
	} else {
		return usage(
			"init, server, device, devices, client, revoke, list "
			"or crl?");
	}
	if ((o.serial != NULL || o.cert != NULL) &&
	    strcmp(o.verb, "revoke") != 0)
		return usage("--serial and --cert go with revoke");
	rc = fld_data_dir(o.data, o.config, dir, sizeof(dir), "fleetd pki");
	if (rc != 0)
		return rc;
	if (fld_pki_paths(&p, dir) != 0)
		return failed("the data directory's path is too long");
	if (strcmp(o.verb, "init") == 0) {
		if (fld_make_dirs(dir) != 0) {
			fprintf(stderr, "fleetd pki: cannot create %s: %s\n",
				dir, strerror(errno));
			return 1;
		}
		if (fld_pki_mkdir(&p, &diag) != 0)
			return failed(diag.msg);
		return cmd_init(&o, &p);
	}
	if (strcmp(o.verb, "list") == 0)
		return cmd_list(&p);
	if (strcmp(o.verb, "revoke") == 0 || strcmp(o.verb, "crl") == 0) {
		rc = fld_pki_ca_load(&ca, &p, &diag);
		if (rc != 0)
			return failed(diag.msg);
		rc = strcmp(o.verb, "crl") == 0 ? cmd_crl(&o, &p, ca)
						: cmd_revoke(&o, &p, dir, ca);
		fld_pki_ca_free(ca);
		return rc;
	}
	if (strcmp(o.verb, "device") == 0 && fl_device_id_check(o.name) != 0) {
		fprintf(stderr,
			"fleetd pki: device id `%.80s`: 1 to 63 of "
			"[A-Za-z0-9._-], the first a letter or digit\n",
			o.name);
		return 1;
	}
	if (o.out != NULL && check_out(o.out) != 0)
		return 1;
	rc = fld_pki_ca_load(&ca, &p, &diag);
	if (rc != 0)
		return failed(diag.msg);
	if (strcmp(o.verb, "server") == 0) {
		struct fld_pki_req r = {FLD_PKI_SERVER,
					"fleetd",
					o.hosts,
					o.n_hosts,
					o.days ? o.days : FLD_PKI_SRV_DAYS,
					p.srv_key,
					p.srv_crt,
					o.is_force};

		rc = fld_pki_issue(ca, &r, &diag);
		if (rc == 0)
			printf("%s (restart fleetd to use it)\n", p.srv_crt);
	} else if (strcmp(o.verb, "devices") != 0) {
		char key[FLD_PKI_PATH_MAX], crt[FLD_PKI_PATH_MAX];
		struct fld_pki_req r = {FLD_PKI_CLIENT,
					o.name,
					NULL,
					0,
					o.days ? o.days : FLD_PKI_DEV_DAYS,
					key,
					crt,
					o.is_force};

		bool is_dev = strcmp(o.verb, "device") == 0;

		if (!fld_pki_cn_ok(o.name))
			rc = FL_EINVAL;
		else if (out_paths(o.out ? o.out : ".", o.name, key, crt) != 0)
			rc = FL_EINVAL;
		if (rc != 0)
			snprintf(diag.msg, sizeof(diag.msg),
				 "`%.80s`: 1 to 63 of [A-Za-z0-9.@_-], or "
				 "--out too long",
				 o.name);
		else if (is_dev && !o.is_force &&
			 wrap_exists(o.out ? o.out : ".", o.name, &diag))
			rc = FL_ESTATE;
		else
			rc = fld_pki_issue(ca, &r, &diag);
		if (rc == 0 && is_dev)
			rc = make_wrap(dir, o.out ? o.out : ".", o.name,
				       o.is_force, &diag);
		if (rc == 0)
			printf("%s\n%s\n", crt, key);
		if (rc == 0 && is_dev)
			printf("%s/%s.wrap.pem\n", o.out ? o.out : ".", o.name);
	} else {
		char id[FL_DEVICE_ID_MAX + 16];
		char key[FLD_PKI_PATH_MAX], crt[FLD_PKI_PATH_MAX];
		unsigned made = 0;

		for (unsigned i = 0; i < o.count && rc == 0; i++) {
			struct fld_pki_req r = {
				FLD_PKI_CLIENT,
				id,
				NULL,
				0,
				o.days ? o.days : FLD_PKI_DEV_DAYS,
				key,
				crt,
				o.is_force};

			snprintf(id, sizeof(id), "%s-%06u", o.prefix,
				 o.first + i);
			if (fl_device_id_check(id) != 0 ||
			    out_paths(o.out ? o.out : ".", id, key, crt) != 0) {
				snprintf(diag.msg, sizeof(diag.msg),
					 "--prefix `%.60s`: %s is not a device "
					 "id (1 to 63 of [A-Za-z0-9._-])",
					 o.prefix, id);
				rc = FL_EINVAL;
				break;
			}
			if (!o.is_force &&
			    wrap_exists(o.out ? o.out : ".", id, &diag)) {
				rc = FL_ESTATE;
				break;
			}
			rc = fld_pki_issue(ca, &r, &diag);
			if (rc == 0)
				rc = make_wrap(dir, o.out ? o.out : ".", id,
					       o.is_force, &diag);
			made += rc == 0;
		}
		if (made > 0)
			printf("%u device certificates and wrap keys in %s "
			       "(%s-%06u ...)\n",
			       made, o.out ? o.out : ".", o.prefix, o.first);
	}
	fld_pki_ca_free(ca);
	if (rc != 0)
		return failed(diag.msg[0] ? diag.msg : fl_strerror(rc));
	return 0;
}
