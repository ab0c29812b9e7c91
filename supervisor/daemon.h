/* councild, the root supervisor: its control socket and clients, its tenant
 * supervisors, the monitors and links clients hold, and the reaping of
 * whatever is orphaned to it. */
#ifndef CX_SUP_DAEMON_H
#define CX_SUP_DAEMON_H

#include <stdint.h>

#define CX_DAEMON_CONNECTIONS_PER_UID 64
#define CX_DAEMON_RETENTION_MS (3600 * 1000)
#define CX_DAEMON_RETENTION_COUNT 1000

struct cx_daemon_options {
	const char *root;          /* the runtime directory: ours, the pidfile is held */
	void (*ready)(void *data); /* called once the socket accepts; may be NULL */
	void *ready_data;
	int connections_per_uid;   /* more from one uid are refused; 0: the default */
	int64_t retention_ms;      /* finished runs stay visible this long; 0: the default */
	unsigned retention_count;  /* and at most this many per tenant; 0: the default */
};

/* Serves the runtime directory until SIGTERM or SIGINT, then stops every
 * tenant in order and returns 0. Returns an errno when it could not start. */
int cx_daemon_run(const struct cx_daemon_options *opts);

#endif
