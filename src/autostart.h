/* Starting councild for a client that found nobody listening
 * (docs/protocol.md, DESIGN §7: councilctl starts it on first use). */
#ifndef CX_AUTOSTART_H
#define CX_AUTOSTART_H

#include <stddef.h>
#include <stdint.h>

/* Runs `councild --runtime-dir DIR` (path NULL: $COUNCILD, else
 * ../supervisor/councild, ../councild or councild beside this program,
 * else councild from PATH) and waits until the monotonic deadline for it to say it is
 * up: councild daemonizes and its first process exits 0 once the socket
 * accepts. Returns 0, or -1 with why filled (what it printed, or how it
 * ended). The daemon never holds the caller's stdin, stdout or terminal. */
int cx_councild_start(const char *path, const char *runtime_dir, uint64_t deadline,
		      char *why, size_t why_size);

/* The councild cx_councild_start runs for path, as above: path itself,
 * found (filled, of size bytes) or "councild" for execvp to search PATH. */
const char *cx_councild_path(const char *path, char *found, size_t size);

#endif
