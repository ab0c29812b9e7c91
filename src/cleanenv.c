/* The clean environment (cleanenv.h). */
#include "cleanenv.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct envp {
	char **v;
	size_t n, cap;
};

static void release(struct envp *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	free(e->v);
	*e = (struct envp){ 0 };
}

/* NAME=value, in place of an earlier NAME. */
static int put(struct envp *e, const char *name, const char *value)
{
	size_t len = strlen(name);
	char *s;
	if (asprintf(&s, "%s=%s", name, value) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < e->n; i++)
		if (!strncmp(e->v[i], name, len) && e->v[i][len] == '=') {
			free(e->v[i]);
			e->v[i] = s;
			return 0;
		}
	if (e->n + 2 > e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 8;
		char **v = realloc(e->v, cap * sizeof *v);
		if (!v) {
			free(s);
			return -ENOMEM;
		}
		e->v = v;
		e->cap = cap;
	}
	e->v[e->n++] = s;
	e->v[e->n] = NULL;
	return 0;
}

/* name as this process has it, if it has it. */
static int pass(struct envp *e, const char *name)
{
	const char *value = getenv(name);
	return value ? put(e, name, value) : 0;
}

static int fixed_set(struct envp *e, const char *path)
{
	struct passwd *pw = getpwuid(getuid());
	int r = put(e, "PATH", path);
	if (r == 0 && pw)
		r = put(e, "HOME", pw->pw_dir);
	if (r == 0 && pw)
		r = put(e, "USER", pw->pw_name);
	return r == 0 ? pass(e, "LANG") : r;
}

char **cx_cleanenv_build(const cJSON *set, const cJSON *pass_names)
{
	struct envp e = { 0 };
	const char *path = getenv("PATH");
	const cJSON *item;
	int r = fixed_set(&e, path && *path ? path : CX_CLEANENV_PATH);
	cJSON_ArrayForEach(item, pass_names)
		if (r == 0 && cJSON_IsString(item))
			r = pass(&e, item->valuestring);
	cJSON_ArrayForEach(item, set)
		if (r == 0 && cJSON_IsString(item))
			r = put(&e, item->string, item->valuestring);
	if (r < 0)
		release(&e);
	return e.v;
}

void cx_cleanenv_free(char **envp)
{
	for (char **p = envp; p && *p; p++)
		free(*p);
	free(envp);
}

int cx_cleanenv_reset(const char *const *keep)
{
	struct envp e = { 0 };
	int r = fixed_set(&e, CX_CLEANENV_PATH);
	for (; r == 0 && keep && *keep; keep++)
		r = pass(&e, *keep);
	if (r < 0) {
		release(&e);
		return r;
	}
	/* The strings become the environment itself (putenv keeps them). */
	clearenv();
	for (size_t i = 0; i < e.n; i++)
		putenv(e.v[i]);
	free(e.v);
	return 0;
}
