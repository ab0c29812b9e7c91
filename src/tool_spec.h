/* The spec's tools (docs/providers.md): declared once at the top level,
 * under "tools", each a command with a JSON Schema for its arguments, and
 * offered to a member by name, in the "tools" of its openai or anthropic
 * profile. */
#ifndef CX_TOOL_SPEC_H
#define CX_TOOL_SPEC_H

#include <cjson/cJSON.h>

#include "council/spec.h"
#include "shape.h"

#define CX_TOOL_TIMEOUT_MS 30000

/* The top-level "tools" (a cx_check_fn, for the spec's field table). */
void cx_tool_spec_check(struct cx_check *c, const cJSON *item, const char *path, void *dest);

/* Every name in a profile's "tools" (default_profile's, each member's and
 * the chair's own) must be a declared tool, once. */
void cx_tool_spec_check_refs(struct cx_check *c, const cJSON *spec_json);

/* Fills spec->tools from spec->json, each with timeout_ms, and the tools
 * of every member and the chair from their merged profiles. Returns CX_OK
 * or CX_ENOMEM. */
int cx_tool_spec_build(struct cx_spec *spec, int timeout_ms);
void cx_tool_spec_free(struct cx_spec *spec);

#endif
