/* councild, the root supervisor: its control socket and clients, its tenant
 * supervisors, the monitors and links clients hold, and the reaping of
 * whatever is orphaned to it. */
#ifndef CX_SUP_DAEMON_H
#define CX_SUP_DAEMON_H

/* Serves root (a runtime directory that is ours: the pidfile is held) until
 * SIGTERM or SIGINT, then stops every tenant in order and returns 0. Once
 * the socket accepts, writes one byte to ready_fd (when >= 0) and closes it.
 * Returns non-zero when it could not start. */
int cx_daemon_run(const char *root, int ready_fd);

#endif
