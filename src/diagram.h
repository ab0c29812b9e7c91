/* A council drawn as a Mermaid flowchart (docs/spec.md#diagrams), as
 * CouncilEx's Diagram: the input, the router, each round with the members
 * who sit in it, sub-councils drawn inside their members' rounds, the
 * chair, the output. Rendered from a parsed spec, so only a valid council
 * is drawn. */
#ifndef CX_DIAGRAM_H
#define CX_DIAGRAM_H

#include "council/spec.h"

/* The flowchart's text, '\n'-terminated lines (malloc'd), or NULL when out
 * of memory. */
char *cx_diagram_mermaid(const struct cx_spec *spec);

#endif
