/* Event lines as a client reads them from a subscriber pipe or an events
 * file (docs/events.md): the header parse the supervisor and recovery use
 * (cx_event_header_parse), and councilctl's timeline, which reads every
 * field it shows, live and plain. A line may be anything: the harness splits
 * the input at '\n' as the readers do, the last piece included. */
#include <string.h>

#include "event.h"
#include "fuzz.h"
#include "timeline.h"

static FILE *sink(void)
{
	static FILE *null;
	if (!null)
		null = fopen("/dev/null", "w");
	FUZZ_ASSERT(null);
	return null;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct timeline *live = timeline_new(TIMELINE_LIVE, sink(), "01FUZZ");
	struct timeline *plain = timeline_new(TIMELINE_PLAIN, sink(), "01FUZZ");
	FUZZ_ASSERT(live && plain);
	const char *text = (const char *)data, *end = text + size;
	while (text < end) {
		const char *nl = memchr(text, '\n', (size_t)(end - text));
		size_t len = nl ? (size_t)(nl - text) : (size_t)(end - text);
		/* The readers hand on the line NUL-terminated, NULs inside kept. */
		char *line = malloc(len + 1);
		FUZZ_ASSERT(line);
		memcpy(line, text, len);
		line[len] = '\0';
		struct cx_event_header h;
		if (cx_event_header_parse(text, len, &h) == 0)
			FUZZ_ASSERT(h.seq >= 1 && (unsigned)h.type < CX_EV_N);
		timeline_feed(live, line, len);
		timeline_feed(plain, line, len);
		timeline_tick(live);
		free(line);
		text += len + (nl != NULL);
	}
	timeline_finish(live);
	timeline_finish(plain);
	timeline_free(live);
	timeline_free(plain);
	return 0;
}
