/* Member profiles (DESIGN §6): which providers exist, the keys each one
 * takes, and the merge of default_profile with a member's own profile. They
 * are checked with the same machinery as the rest of the spec (shape.h). */
#ifndef CX_PROFILE_H
#define CX_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "council/error.h"
#include "council/spec.h"
#include "shape.h"

#define CX_COMMAND_MAX_ARGS 64

/* One argument of a command (exec profiles, tools): 1-4096 bytes. */
extern const struct cx_field cx_command_arg;

/* The openai provider's presets, NULL-terminated (provider_openai.c). */
extern const char *const cx_openai_presets[];

/* default_profile (NULL when absent), at "default_profile": its values, and
 * its keys against the provider it names, or against every provider's. */
void cx_profile_check_defaults(struct cx_check *c, const cJSON *defaults);

/* A member's own profile (NULL when absent), at "<member_path>.profile", and
 * what it inherits from defaults: the merged profile must name a supported
 * provider, hold only that provider's keys and everything it requires.
 * Sets *kind to that provider when there is one. */
void cx_profile_check_member(struct cx_check *c, const cJSON *defaults,
			     const cJSON *own, const char *member_path,
			     enum cx_provider_kind *kind);

/* A new object: the keys of defaults that own does not set, then own's. Its
 * items are references into both, which must outlive it. NULL when out of
 * memory. */
cJSON *cx_profile_merge(const cJSON *defaults, const cJSON *own);

#endif
