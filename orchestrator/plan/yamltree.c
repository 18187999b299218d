/*
 * yamltree.c -- reads a plan file's YAML with libyaml's event parser and
 * builds a small positioned tree for the validator, within fixed bounds.
 *
 * Method: events are consumed one at a time and appended to the innermost
 * open list or mapping, so memory grows only with the tree itself, which is
 * bounded in nodes (PLAN_TREE_MAX_NODES), in items per collection
 * (PLAN_TREE_MAX_ITEMS), in depth (FL_PLAN_MAX_DEPTH) and in bytes (the
 * arena's cap). Anchors and aliases are refused outright at the first one:
 * a plan is reviewed as written, and refusing them makes an alias bomb cost
 * no more than reading up to its first '&'. libyaml itself never expands
 * aliases at the event level. Tags are refused too (a plan has one meaning
 * per key, so a tag could only make it ambiguous). Scalars keep their text
 * as written; the only interpretation made here is that an unquoted empty
 * value, ~ or null is "no value".
 */
#include <string.h>
#include <yaml.h>

#include "fl/err.h"
#include "plan_int.h"

struct builder {
	struct plan__arena *a;
	struct fl_plan_diags *diags;
	const char *buf;
	size_t len;
	struct plan__node *root;
	struct plan__node *stack[FL_PLAN_MAX_DEPTH + 1];
	unsigned depth;
	unsigned nodes;
	unsigned documents;
};

static struct fl_pos mark_pos(yaml_mark_t m)
{
	struct fl_pos p;

	p.line = (uint32_t)m.line + 1;
	p.col = (uint32_t)m.column + 1;
	return p;
}

/* Line and column of a byte offset (reader errors carry only that). */
static struct fl_pos offset_pos(const char *buf, size_t len, size_t off)
{
	struct fl_pos p = {1, 1};

	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			p.line++;
			p.col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
			p.col++;
		}
	}
	return p;
}

/* The byte at a line and column of a UTF-8 buffer, or -1 past its end. */
static int byte_at(const char *buf, size_t len, struct fl_pos pos)
{
	size_t i = 0;
	uint32_t line = 1, col = 1;

	while (i < len && (line < pos.line || col < pos.col)) {
		if (buf[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
		i++;
		while (i < len && ((unsigned char)buf[i] & 0xc0) == 0x80)
			i++;
	}
	return i < len ? (unsigned char)buf[i] : -1;
}

static int syntax_error(struct builder *b, yaml_parser_t *p)
{
	const char *tab_hint;

	struct fl_pos pos;

	if (p->error == YAML_MEMORY_ERROR)
		return FL_ENOMEM; /* the caller reports it */
	if (p->error == YAML_READER_ERROR) {
		pos = offset_pos(b->buf, b->len, p->problem_offset);
		fl_plan_diags_add(b->diags, FL_DIAG_ERROR, pos,
				  "not a YAML text file: %s",
				  p->problem ? p->problem : "unreadable input");
		return FL_EINVAL;
	}
	pos = mark_pos(p->problem_mark);
	tab_hint = byte_at(b->buf, b->len, pos) == '\t'
			   ? "; YAML does not allow tabs for indentation"
			   : "";
	if (p->context != NULL)
		fl_plan_diags_add(
			b->diags, FL_DIAG_ERROR, pos,
			"YAML syntax error: %s (%s at %u:%u)%s",
			p->problem ? p->problem : "unknown problem", p->context,
			(unsigned)p->context_mark.line + 1,
			(unsigned)p->context_mark.column + 1, tab_hint);
	else
		fl_plan_diags_add(
			b->diags, FL_DIAG_ERROR, pos, "YAML syntax error: %s%s",
			p->problem ? p->problem : "unknown problem", tab_hint);
	return FL_EINVAL;
}

static int is_null_text(const char *s, size_t len)
{
	static const char *const nulls[] = {"~", "null", "Null", "NULL"};

	if (len == 0)
		return 1;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strlen(nulls[i]) == len && memcmp(s, nulls[i], len) == 0)
			return 1;
	return 0;
}

/* Creates a node at pos and appends it to the open collection (or makes
 * it the root). Returns NULL after a diagnostic or on memory exhaustion. */
static struct plan__node *add(struct builder *b, uint8_t kind,
			      struct fl_pos pos, int *err)
{
	struct plan__node *n, *parent;

	if (++b->nodes > PLAN_TREE_MAX_NODES) {
		fl_plan_diags_add(
			b->diags, FL_DIAG_ERROR, pos,
			"the plan has more than %u YAML values; a plan that "
			"large cannot be reviewed",
			PLAN_TREE_MAX_NODES);
		*err = FL_EINVAL;
		return NULL;
	}
	parent = b->depth > 0 ? b->stack[b->depth - 1] : NULL;
	/* A mapping's n counts pairs, so its limit applies to keys. */
	if (parent != NULL && parent->n >= PLAN_TREE_MAX_ITEMS) {
		fl_plan_diags_add(b->diags, FL_DIAG_ERROR, pos,
				  "a %s has more than %u entries",
				  parent->kind == PLAN_MAP ? "mapping" : "list",
				  PLAN_TREE_MAX_ITEMS);
		*err = FL_EINVAL;
		return NULL;
	}
	n = plan__arena_alloc(b->a, sizeof(*n));
	if (n == NULL) {
		*err = plan__arena_error(b->a); /* the caller reports it */
		return NULL;
	}
	n->kind = kind;
	n->pos = pos;
	if (parent == NULL) {
		b->root = n;
	} else {
		if (parent->last != NULL)
			parent->last->next = n;
		else
			parent->first = n;
		parent->last = n;
	}
	return n;
}

/* Counts a finished child of the innermost collection. */
static void count_child(struct builder *b)
{
	struct plan__node *parent;

	if (b->depth == 0)
		return;
	parent = b->stack[b->depth - 1];
	if (parent->kind == PLAN_SEQ) {
		parent->n++;
	} else {
		/* key, value, key, value: n counts complete pairs. */
		if (parent->is_value_next)
			parent->n++;
		parent->is_value_next = !parent->is_value_next;
	}
}

/* Reports and refuses what a plan may not use: anchors and tags. */
static int refuse_extras(struct builder *b, struct fl_pos pos,
			 const yaml_char_t *anchor, const yaml_char_t *tag,
			 int *is_bad)
{
	if (anchor != NULL) {
		fl_plan_diags_add(
			b->diags, FL_DIAG_ERROR, pos,
			"YAML anchors (&%.40s) and aliases are not allowed "
			"in a plan: write each value out",
			(const char *)anchor);
		return FL_EINVAL;
	}
	if (tag != NULL) {
		static const char core[] = "tag:yaml.org,2002:";
		const char *t = (const char *)tag;
		int is_core = strncmp(t, core, sizeof(core) - 1) == 0;

		fl_plan_diags_add(
			b->diags, FL_DIAG_ERROR, pos,
			"YAML tags (%s%.40s) are not allowed in a plan",
			is_core ? "!!" : "",
			is_core ? t + sizeof(core) - 1 : t);
		*is_bad = 1;
	}
	return 0;
}

static int on_event(struct builder *b, yaml_event_t *ev)
{
	struct fl_pos pos = mark_pos(ev->start_mark);
	struct plan__node *n;
	int err = 0, is_bad = 0;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++b->documents > 1) {
			fl_plan_diags_add(
				b->diags, FL_DIAG_ERROR, pos,
				"a plan file holds one YAML document; this "
				"is a second one");
			return FL_EINVAL;
		}
		return 0;
	case YAML_ALIAS_EVENT:
		fl_plan_diags_add(
			b->diags, FL_DIAG_ERROR, pos,
			"YAML aliases (*%.40s) are not allowed in a plan: "
			"write each value out",
			(const char *)ev->data.alias.anchor);
		return FL_EINVAL;
	case YAML_SCALAR_EVENT: {
		const char *text = (const char *)ev->data.scalar.value;
		size_t len = ev->data.scalar.length;
		int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;

		err = refuse_extras(b, pos, ev->data.scalar.anchor,
				    ev->data.scalar.tag, &is_bad);
		if (err != 0)
			return err;
		n = add(b,
			is_bad				   ? PLAN_BAD
			: plain && is_null_text(text, len) ? PLAN_NULL
							   : PLAN_SCALAR,
			pos, &err);
		if (n == NULL)
			return err;
		n->text = plan__arena_strndup(b->a, text, len);
		if (n->text == NULL)
			return plan__arena_error(b->a);
		n->len = len;
		n->is_quoted = !plain;
		count_child(b);
		return 0;
	}
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		int is_seq = ev->type == YAML_SEQUENCE_START_EVENT;

		err = refuse_extras(b, pos,
				    is_seq ? ev->data.sequence_start.anchor
					   : ev->data.mapping_start.anchor,
				    is_seq ? ev->data.sequence_start.tag
					   : ev->data.mapping_start.tag,
				    &is_bad);
		if (err != 0)
			return err;
		if (b->depth >= FL_PLAN_MAX_DEPTH) {
			fl_plan_diags_add(
				b->diags, FL_DIAG_ERROR, pos,
				"the YAML is nested deeper than %d levels",
				FL_PLAN_MAX_DEPTH);
			return FL_EINVAL;
		}
		n = add(b, is_seq ? PLAN_SEQ : PLAN_MAP, pos, &err);
		if (n == NULL)
			return err;
		if (is_bad)
			n->kind = PLAN_BAD; /* children still attach to it */
		b->stack[b->depth++] = n;
		return 0;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (b->depth > 0)
			b->depth--;
		count_child(b);
		return 0;
	default: return 0;
	}
}

int plan__tree_build(struct plan__node **root, const char *buf, size_t len,
		     struct plan__arena *a, struct fl_plan_diags *diags)
{
	struct builder b;
	yaml_parser_t parser;
	yaml_event_t ev;
	int err = 0, done = 0;

	*root = NULL;
	memset(&b, 0, sizeof(b));
	b.a = a;
	b.diags = diags;
	b.buf = buf;
	b.len = len;
	if (!yaml_parser_initialize(&parser))
		return FL_ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done && err == 0) {
		if (!yaml_parser_parse(&parser, &ev)) {
			err = syntax_error(&b, &parser);
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		err = on_event(&b, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (err == 0)
		*root = b.root;
	return err;
}
