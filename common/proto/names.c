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

struct name {
	int value;
	const char *name;
};

static const struct name results[] = {
	{FL_RESULT_NONE, "none"},
	{FL_RESULT_SUCCESS, "success"},
	{FL_RESULT_NO_FLASH, "not_enough_flash"},
	{FL_RESULT_NO_RAM, "out_of_ram"},
	{FL_RESULT_CONNECTION_LOST, "connection_lost"},
	{FL_RESULT_INTEGRITY, "integrity_failure"},
	{FL_RESULT_UNSUPPORTED_PACKAGE, "unsupported_package"},
	{FL_RESULT_INVALID_URI, "invalid_uri"},
	{FL_RESULT_FAILED, "update_failed"},
	{FL_RESULT_UNSUPPORTED_PROTOCOL, "unsupported_protocol"},
	{FL_RESULT_RETRY_LATER, "retry_later"},
	{FL_RESULT_REJECTED, "rejected"},
	{FL_RESULT_REVERTED, "reverted"},
	{FL_RESULT_ROLLED_BACK, "rolled_back"},
	{FL_RESULT_ROLLBACK_FAILED, "rollback_failed"},
	{FL_RESULT_CANCELLED, "cancelled"},
	{FL_RESULT_EXPIRED, "expired"},
	{FL_RESULT_BAD_SIGNATURE, "bad_signature"},
	{FL_RESULT_WRONG_MODEL, "wrong_model"},
	{FL_RESULT_DOWNGRADE, "downgrade_refused"},
	{FL_RESULT_ANTI_ROLLBACK, "anti_rollback"},
	{FL_RESULT_BAD_MANIFEST, "invalid_manifest"},
	{FL_RESULT_NOT_APPLICABLE, "not_applicable"},
	{FL_RESULT_STALE, "stale"},
	{FL_RESULT_BAD_COMMAND, "invalid_command"},
};

static const struct name states[] = {
	{FL_STATE_IDLE, "idle"},
	{FL_STATE_DOWNLOADING, "downloading"},
	{FL_STATE_DOWNLOADED, "downloaded"},
	{FL_STATE_UPDATING, "updating"},
	{FL_STATE_WAITING, "waiting"},
	{FL_STATE_TRIAL, "trial"},
};

static const struct name slot_states[] = {
	{FL_WIRE_SLOT_EMPTY, "empty"},
	{FL_WIRE_SLOT_WRITING, "writing"},
	{FL_WIRE_SLOT_STAGED, "staged"},
	{FL_WIRE_SLOT_TRIAL, "trial"},
	{FL_WIRE_SLOT_CONFIRMED, "confirmed"},
	{FL_WIRE_SLOT_BAD, "bad"},
};

static const struct name resets[] = {
	{FL_WIRE_RESET_UNKNOWN, "unknown"},
	{FL_WIRE_RESET_POWER_ON, "power_on"},
	{FL_WIRE_RESET_SOFTWARE, "software"},
	{FL_WIRE_RESET_WATCHDOG, "watchdog"},
	{FL_WIRE_RESET_BROWNOUT, "brownout"},
	{FL_WIRE_RESET_PANIC, "panic"},
};

static const struct name cmd_types[] = {
	{FL_CMD_OFFER, "offer"},
	{FL_CMD_CANCEL, "cancel"},
	{FL_CMD_ROLLBACK, "rollback"},
};

static const struct name activates[] = {
	{FL_ACTIVATE_NOW, "now"},
	{FL_ACTIVATE_IDLE, "idle"},
	{FL_ACTIVATE_WINDOW, "window"},
};

static const struct name topic_kinds[] = {
	{FL_TOPIC_PRESENCE, "presence"}, {FL_TOPIC_REPORTED, "reported"},
	{FL_TOPIC_CMD, "cmd"},		 {FL_TOPIC_STATUS, "status"},
	{FL_TOPIC_HEALTH, "health"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *lookup_name(const struct name *t, size_t n, int value)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i].value == value)
			return t[i].name;
	}
	return NULL;
}

static int lookup_value(int *out, const struct name *t, size_t n,
			const char *name)
{
	if (name == NULL)
		return FL_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(t[i].name, name) == 0) {
			*out = t[i].value;
			return 0;
		}
	}
	return FL_EINVAL;
}

const char *fl_result_name(int result)
{
	return lookup_name(results, COUNT(results), result);
}

int fl_result_parse(int *out, const char *name)
{
	return lookup_value(out, results, COUNT(results), name);
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
	return lookup_name(states, COUNT(states), state);
}

int fl_update_state_parse(int *out, const char *name)
{
	return lookup_value(out, states, COUNT(states), name);
}

const char *fl_wire_slot_state_name(int state)
{
	return lookup_name(slot_states, COUNT(slot_states), state);
}

int fl_proto__slot_state_parse(int *out, const char *name)
{
	return lookup_value(out, slot_states, COUNT(slot_states), name);
}

const char *fl_wire_reset_name(int reset)
{
	return lookup_name(resets, COUNT(resets), reset);
}

int fl_proto__reset_parse(int *out, const char *name)
{
	return lookup_value(out, resets, COUNT(resets), name);
}

const char *fl_cmd_type_name(int type)
{
	return lookup_name(cmd_types, COUNT(cmd_types), type);
}

int fl_proto__cmd_type_parse(int *out, const char *name)
{
	return lookup_value(out, cmd_types, COUNT(cmd_types), name);
}

const char *fl_proto__activate_name(int a)
{
	return lookup_name(activates, COUNT(activates), a);
}

int fl_proto__activate_parse(int *out, const char *name)
{
	return lookup_value(out, activates, COUNT(activates), name);
}

const char *fl_topic_kind_name(int kind)
{
	return lookup_name(topic_kinds, COUNT(topic_kinds), kind);
}

/* ---- topics ------------------------------------------------------------ */

static const char PROTO_LEVELS[] = "/v1/dev/";

int fl_device_id_check(const char *id)
{
	if (id == NULL || id[0] == '\0')
		return FL_EINVAL;
	return fl_proto__check_str(id, FL_DEVICE_ID_MAX, FL_CS_IDENT);
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
