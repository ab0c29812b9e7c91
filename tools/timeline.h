/* The run timeline councilctl shows on stderr while it follows a run: a
 * table of rounds and their members, fed one event line at a time.
 *
 * Live, it redraws the round in flight in place (ANSI cursor movement, at
 * most TIMELINE_FRAME_MS apart) and leaves each finished round behind as
 * plain lines. Plain, it writes one line per round start, member completion,
 * round completion and terminal event, and no escape codes. */
#ifndef CX_TOOLS_TIMELINE_H
#define CX_TOOLS_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define TIMELINE_FRAME_MS 100

enum timeline_mode { TIMELINE_LIVE, TIMELINE_PLAIN };

struct timeline;

struct timeline *timeline_new(enum timeline_mode mode, FILE *out, const char *run_id);
void timeline_free(struct timeline *tl);

/* One event line, without its '\n'. Lines that are not events are ignored. */
void timeline_feed(struct timeline *tl, const char *line, size_t len);
/* The caller asked the run to stop: cooperatively, or by force. */
void timeline_stopping(struct timeline *tl, bool forced);

/* Milliseconds until the next frame is due, or -1 when nothing is to be
 * drawn; the caller sleeps at most that long, then calls timeline_tick. */
int timeline_wait_ms(const struct timeline *tl);
void timeline_tick(struct timeline *tl);
/* Draws the last frame and the summary; the run is over. */
void timeline_finish(struct timeline *tl);

#endif
