/*
 * names.c -- the protocol's vocabularies (results, states, slot states,
 * reset reasons, command types, activation modes) as read-only tables, and
 * the topic layout <root>/v1/dev/{id}/{kind}.
 *
 * The numbers behind the names are pinned (docs/protocol.md): they are
 * stored by devices and servers and compared across versions.
 */
#include <string.h>

#include "fl/bytes.h"
#include "fl/err.h"
#include "proto_internal.h"

/*
 * A vocabulary is the names of values 0, 1, 2 ... in order, each ended by
 * a NUL, in one string; a value without a name has an empty one. So a
 * lookup walks one string, and a name costs its bytes and nothing else
 * (no table of pointers); the results' unused values 10..31 cost a byte
 * each.
 */
struct vocab {
	const char *names;
	uint8_t count; /* values 0..count-1 */
};

enum {
	V_RESULTS,
	V_STATES,
	V_SLOT_STATES,
	V_RESETS,
	V_CMD_TYPES,
	V_ACTIVATES,
	V_TOPIC_KINDS
};

/* One array, not one object each: all of it in .rodata. */
static const struct vocab vocabs[] = {
	[V_RESULTS] =
		{
			"none\0"
			"success\0"
			"not_enough_flash\0"
			"out_of_ram\0"
			"connection_lost\0"
			"integrity_failure\0"
			"unsupported_package\0"
			"invalid_uri\0"
			"update_failed\0"
			"unsupported_protocol\0"
			/* 10..31: LwM2M's range, unused */
			"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
			"retry_later\0"
			"rejected\0"
			"reverted\0"
			"rolled_back\0"
			"rollback_failed\0"
			"cancelled\0"
			"expired\0"
			"bad_signature\0"
			"wrong_model\0"
			"downgrade_refused\0"
			"anti_rollback\0"
			"invalid_manifest\0"
			"not_applicable\0"
			"stale\0"
			"invalid_command",
			FL_RESULT_BAD_COMMAND + 1,
		},
	[V_STATES] =
		{
			"idle\0"
			"downloading\0"
			"downloaded\0"
			"updating\0"
			"waiting\0"
			"trial",
			FL_STATE_TRIAL + 1,
		},
	[V_SLOT_STATES] =
		{
			"empty\0"
			"writing\0"
			"staged\0"
			"trial\0"
			"confirmed\0"
			"bad",
			FL_WIRE_SLOT_BAD + 1,
		},
	[V_RESETS] =
		{
			"unknown\0"
			"power_on\0"
			"software\0"
			"watchdog\0"
			"brownout\0"
			"panic",
			FL_WIRE_RESET_PANIC + 1,
		},
	[V_CMD_TYPES] =
		{
			/* FL_CMD_NONE: no name */
			"\0"
			"offer\0"
			"cancel\0"
			"rollback",
			FL_CMD_ROLLBACK + 1,
		},
	[V_ACTIVATES] =
		{
			"now\0"
			"idle\0"
			"window",
			FL_ACTIVATE_WINDOW + 1,
		},
	[V_TOPIC_KINDS] =
		{
			"presence\0"
			"reported\0"
			"cmd\0"
			"status\0"
			"health",
			FL_TOPIC_KINDS,
		},
};

_Static_assert(FL_RESULT_BAD_COMMAND == 46 && FL_STATE_TRIAL == 5 &&
		       FL_WIRE_SLOT_BAD == 5 && FL_WIRE_RESET_PANIC == 5 &&
		       FL_CMD_ROLLBACK == 3 && FL_ACTIVATE_WINDOW == 2 &&
		       FL_TOPIC_KINDS == 5,
	       "the vocabularies above list every value in order");

/* The name of value v (NULL when v has none); the value of a name. */
static const char *lookup_name(const struct vocab *t, int value)
{
	const char *p = t->names;

	if (value < 0 || value >= t->count)
		return NULL;
	for (int i = 0; i < value; i++)
		p += strlen(p) + 1;
	return p[0] != '\0' ? p : NULL;
}

static int lookup_value(int *out, const struct vocab *t, const char *name)
{
	const char *p = t->names;

	if (name == NULL || name[0] == '\0')
		return FL_EINVAL;
	for (int i = 0; i < t->count; i++, p += strlen(p) + 1) {
		if (strcmp(p, name) == 0) {
			*out = i;
			return 0;
		}
	}
	return FL_EINVAL;
}

const char *fl_result_name(int result)
{
	return lookup_name(&vocabs[V_RESULTS], result);
}

int fl_result_parse(int *out, const char *name)
{
	return lookup_value(out, &vocabs[V_RESULTS], name);
}

bool fl_result_is_final(int result)
{
	return fl_result_name(result) != NULL && result != FL_RESULT_NONE &&
	       result != FL_RESULT_RETRY_LATER;
}

int fl_result_lwm2m(int result)
{
	if (result >= FL_RESULT_NONE &&
	    result <= FL_RESULT_UNSUPPORTED_PROTOCOL)
		return result;
	return FL_RESULT_FAILED;
}

const char *fl_update_state_name(int state)
{
	return lookup_name(&vocabs[V_STATES], state);
}

int fl_update_state_parse(int *out, const char *name)
{
	return lookup_value(out, &vocabs[V_STATES], name);
}

const char *fl_wire_slot_state_name(int state)
{
	return lookup_name(&vocabs[V_SLOT_STATES], state);
}

int fl_proto__slot_state_parse(int *out, const char *name)
{
	return lookup_value(out, &vocabs[V_SLOT_STATES], name);
}

const char *fl_wire_reset_name(int reset)
{
	return lookup_name(&vocabs[V_RESETS], reset);
}

int fl_proto__reset_parse(int *out, const char *name)
{
	return lookup_value(out, &vocabs[V_RESETS], name);
}

const char *fl_cmd_type_name(int type)
{
	return lookup_name(&vocabs[V_CMD_TYPES], type);
}

int fl_proto__cmd_type_parse(int *out, const char *name)
{
	return lookup_value(out, &vocabs[V_CMD_TYPES], name);
}

const char *fl_proto__activate_name(int a)
{
	return lookup_name(&vocabs[V_ACTIVATES], a);
}

int fl_proto__activate_parse(int *out, const char *name)
{
	return lookup_value(out, &vocabs[V_ACTIVATES], name);
}

const char *fl_topic_kind_name(int kind)
{
	return lookup_name(&vocabs[V_TOPIC_KINDS], kind);
}

/* ---- topics ------------------------------------------------------------ */

static const char PROTO_LEVELS[] = "/v1/dev/";

int fl_device_id_check(const char *id)
{
	if (id == NULL || id[0] == '\0')
		return FL_EINVAL;
	return fl_proto_check_str(id, FL_DEVICE_ID_MAX, FL_CS_IDENT);
}

int fl_topic_root_check(const char *root)
{
	size_t i = 0;

	if (root == NULL)
		return FL_EINVAL;
	while (1) {
		size_t start = i;

		while (root[i] != '\0' && root[i] != '/') {
			char c = root[i];

			if (i + 1 >= FL_TOPIC_ROOT_MAX)
				return FL_ETOOBIG;
			if (!((c >= '0' && c <= '9') ||
			      (c >= 'a' && c <= 'z') ||
			      (c >= 'A' && c <= 'Z') || c == '.' || c == '_' ||
			      c == '-'))
				return FL_EINVAL;
			i++;
		}
		if (i == start) /* empty level, or empty root */
			return FL_EINVAL;
		if (root[i] == '\0')
			return 0;
		i++; /* the '/' */
		if (i + 1 >= FL_TOPIC_ROOT_MAX)
			return FL_ETOOBIG;
	}
}

/* Appends s to out at *n; FL_ETOOBIG when it (and the NUL) does not fit. */
static int append(char *out, size_t out_size, size_t *n, const char *s)
{
	size_t len = strlen(s);

	if (*n + len + 1 > out_size)
		return FL_ETOOBIG;
	memcpy(out + *n, s, len + 1);
	*n += len;
	return 0;
}

static int build(char *out, size_t out_size, const char *root, const char *id,
		 int kind)
{
	const char *kind_name = fl_topic_kind_name(kind);
	size_t n = 0;
	int err;

	if (out == NULL || out_size == 0)
		return FL_ETOOBIG;
	out[0] = '\0';
	if (kind_name == NULL || fl_topic_root_check(root) != 0)
		return FL_EINVAL;
	err = append(out, out_size, &n, root);
	if (!err)
		err = append(out, out_size, &n, PROTO_LEVELS);
	if (!err)
		err = append(out, out_size, &n, id);
	if (!err)
		err = append(out, out_size, &n, "/");
	if (!err)
		err = append(out, out_size, &n, kind_name);
	if (err)
		out[0] = '\0';
	return err;
}

int fl_topic_build(char *out, size_t out_size, const char *root, const char *id,
		   int kind)
{
	if (fl_device_id_check(id) != 0) {
		if (out != NULL && out_size > 0)
			out[0] = '\0';
		return FL_EINVAL;
	}
	return build(out, out_size, root, id, kind);
}

int fl_topic_filter(char *out, size_t out_size, const char *root, int kind)
{
	return build(out, out_size, root, "+", kind);
}

int fl_topic_parse(char id_out[FL_DEVICE_ID_MAX], int *kind_out,
		   const char *topic, size_t len, const char *root)
{
	size_t root_len, levels_len = sizeof(PROTO_LEVELS) - 1;
	size_t pos, id_len, kind_len;
	const char *slash;
	int kind;

	if (id_out == NULL || kind_out == NULL || topic == NULL ||
	    fl_topic_root_check(root) != 0)
		return FL_EINVAL;
	id_out[0] = '\0';
	if (memchr(topic, '\0', len) != NULL)
		return FL_EINVAL;
	root_len = strlen(root);
	if (len < root_len + levels_len || memcmp(topic, root, root_len) != 0 ||
	    memcmp(topic + root_len, PROTO_LEVELS, levels_len) != 0)
		return FL_EINVAL;
	pos = root_len + levels_len;
	slash = memchr(topic + pos, '/', len - pos);
	if (slash == NULL)
		return FL_EINVAL;
	id_len = (size_t)(slash - (topic + pos));
	if (id_len == 0 || id_len >= FL_DEVICE_ID_MAX)
		return FL_EINVAL;
	memcpy(id_out, topic + pos, id_len);
	id_out[id_len] = '\0';
	if (fl_device_id_check(id_out) != 0)
		goto bad;
	pos += id_len + 1;
	kind_len = len - pos;
	for (kind = 0; kind < FL_TOPIC_KINDS; kind++) {
		const char *name = fl_topic_kind_name(kind);

		if (strlen(name) == kind_len &&
		    memcmp(topic + pos, name, kind_len) == 0) {
			*kind_out = kind;
			return 0;
		}
	}
bad:
	id_out[0] = '\0';
	return FL_EINVAL;
}
