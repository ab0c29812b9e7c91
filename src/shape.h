/* Checking a JSON object against a table of fields (struct cx_shape): a
 * struct cx_check collects findings as {path, code, message} diagnostics,
 * and each struct cx_field says what one key must hold and where its value
 * is kept. Used for the council spec and its profiles. */
#ifndef CX_SHAPE_H
#define CX_SHAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "council/error.h"

#define CX_PATH_MAX (sizeof ((struct cx_diag *)0)->path)
#define CX_SHOWN_MAX 48

struct cx_check {
	struct cx_diags *diags; /* may be NULL */
	size_t errors;          /* counted even when a finding cannot be stored */
};

enum cx_field_kind {
	CX_FIELD_NAME,   /* a string passing cx_name_valid; kept as const char * */
	CX_FIELD_STRING, /* min..max bytes (max 0: no limit); const char * */
	CX_FIELD_INT,    /* an integer in min..max; int */
	CX_FIELD_NUMBER, /* a number in min..max; double */
	CX_FIELD_BOOL,   /* bool */
	CX_FIELD_WORD,   /* one of words; int, the word's index */
	CX_FIELD_OBJECT, /* any object; const cJSON * (its owner checks inside) */
	CX_FIELD_ARRAY,  /* min..max entries (max 0: no limit), each checked
			    against *each when set; const cJSON * */
	CX_FIELD_CUSTOM, /* check(c, item, path, where it is kept or NULL) */
};

typedef void cx_check_fn(struct cx_check *c, const cJSON *item,
			 const char *path, void *dest);

/* One key of an object. A value is stored into the target object given to
 * cx_check_object, at offset `at`, only when `keep` is set (see CX_KEEP). */
struct cx_field {
	const char *key;
	enum cx_field_kind kind;
	bool required;
	unsigned only;                /* variants having this key; 0: all */
	long min, max;
	const char *const *words;     /* NULL-terminated */
	const struct cx_field *each;
	cx_check_fn *check;
	bool keep;
	size_t at;
};

#define CX_KEEP(type, member) .keep = true, .at = offsetof(type, member)

/* The keys an object may have (64 at most). `variant` selects the fields
 * whose `only` includes it (profiles: one bit per provider); 0 admits every
 * field. `what` names the object in messages: "a member", "an exec profile". */
struct cx_shape {
	const struct cx_field *fields;
	size_t n;
	unsigned variant;
	const char *what;
};

void cx_check_report(struct cx_check *c, const char *path, const char *code,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* "members[0]" + "profile" -> "members[0].profile"; "" is the root. */
void cx_path_key(char out[CX_PATH_MAX], const char *parent, const char *key);
void cx_path_index(char out[CX_PATH_MAX], const char *parent, size_t i);
/* s cut to fit a message, control characters replaced. */
const char *cx_shown(char buf[CX_SHOWN_MAX], const char *s);
/* Index of word in the NULL-terminated list, or -1. */
int cx_word_index(const char *const *words, const char *word);

bool cx_expect_type(struct cx_check *c, const cJSON *item, const char *path,
		    cJSON_bool (*is)(const cJSON *), const char *want);
/* Reports too_few/too_many for an array's or object's entries; returns how
 * many of them to check (at most max). */
size_t cx_check_count(struct cx_check *c, const cJSON *item, const char *path,
		      long min, long max);
void cx_check_value(struct cx_check *c, const struct cx_field *f,
		    const cJSON *item, const char *path, void *target);
const struct cx_field *cx_shape_find(const struct cx_shape *shape,
				     const char *key);
/* Checks every key of obj against shape (unknown, repeated, missing) and
 * every value against its field. False when obj is not an object. */
bool cx_check_object(struct cx_check *c, const cJSON *obj, const char *path,
		     const struct cx_shape *shape, void *target);

/* A spec's text (the run's council, at most CX_SPEC_MAX_BYTES) as JSON, or
 * NULL with too_large or invalid_json reported at its root (spec.c). */
cJSON *cx_spec_json(struct cx_check *c, const char *text, size_t len);

#endif
