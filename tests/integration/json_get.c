/*
 * json_get.c -- a tiny JSON reader for shell tests: parses stdin with
 * cJSON and prints the value at each PATH on its own line.
 *
 *   json_get PATH...     e.g.  stages.1.size   outcome.rollback.stage
 *
 * A path is dot-separated object keys and array indexes; "#" as the last
 * component prints an array's or object's length; "." alone is the root.
 * Strings print raw, numbers as integers when they are whole, null, true
 * and false as such. Exit 0, or 1 if stdin is not JSON or a path does not
 * exist (with a message on stderr), 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define MAX_INPUT (64u << 20)

static char *read_all(FILE *f, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);

	while (buf != NULL) {
		size_t k;

		if (n + 1 >= cap) {
			char *nb;

			if (cap >= MAX_INPUT) {
				free(buf);
				return NULL;
			}
			nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		k = fread(buf + n, 1, cap - n - 1, f);
		n += k;
		if (k == 0)
			break;
	}
	if (buf != NULL)
		buf[n] = '\0';
	*len = n;
	return buf;
}

static const cJSON *walk(const cJSON *node, const char *path, int *want_len)
{
	char part[256];
	const char *p = path;

	*want_len = 0;
	if (strcmp(path, ".") == 0)
		return node;
	while (node != NULL && *p != '\0') {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		char *end;
		long idx;

		if (n == 0 || n >= sizeof(part))
			return NULL;
		memcpy(part, p, n);
		part[n] = '\0';
		p += n + (dot != NULL);
		if (strcmp(part, "#") == 0 && *p == '\0') {
			*want_len = 1;
			return node;
		}
		if (cJSON_IsArray(node)) {
			idx = strtol(part, &end, 10);
			if (*end != '\0' || idx < 0)
				return NULL;
			node = cJSON_GetArrayItem(node, (int)idx);
		} else {
			node = cJSON_GetObjectItemCaseSensitive(node, part);
		}
	}
	return node;
}

int main(int argc, char **argv)
{
	size_t len;
	char *text;
	cJSON *doc;
	int rc = 0;

	if (argc < 2) {
		fputs("usage: json_get PATH... < JSON\n", stderr);
		return 2;
	}
	text = read_all(stdin, &len);
	if (text == NULL) {
		fputs("json_get: cannot read stdin\n", stderr);
		return 1;
	}
	doc = cJSON_ParseWithLength(text, len);
	if (doc == NULL) {
		fprintf(stderr, "json_get: not JSON (near byte %ld)\n",
			(long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - text
						   : -1));
		free(text);
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		int want_len;
		const cJSON *v = walk(doc, argv[i], &want_len);

		if (v == NULL) {
			fprintf(stderr, "json_get: no %s\n", argv[i]);
			rc = 1;
			continue;
		}
		if (want_len)
			printf("%d\n", cJSON_GetArraySize(v));
		else if (cJSON_IsString(v))
			printf("%s\n", v->valuestring);
		else if (cJSON_IsNumber(v) &&
			 v->valuedouble == (double)(long long)v->valuedouble)
			printf("%lld\n", (long long)v->valuedouble);
		else if (cJSON_IsNumber(v))
			printf("%g\n", v->valuedouble);
		else if (cJSON_IsNull(v))
			printf("null\n");
		else if (cJSON_IsBool(v))
			printf("%s\n", cJSON_IsTrue(v) ? "true" : "false");
		else
			printf("%s\n",
			       cJSON_IsArray(v) ? "[array]" : "{object}");
	}
	cJSON_Delete(doc);
	free(text);
	return rc;
}
