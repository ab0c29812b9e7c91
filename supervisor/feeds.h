/* Subscriptions councild serves from a run's events file itself, for a run
 * no tenant of its own supervises: one its tenant has forgotten (it is
 * over), one whose tenant is gone, one an embedded supervisor owns, and the
 * subscribers a stopping tenant hands over. A feed is a relay (relay.h)
 * over the file, which follows the file's end until the terminal event is
 * in it: a subscriber of a live run served this way misses nothing and
 * gets its EOF only after the run's end. */
#ifndef CX_SUP_FEEDS_H
#define CX_SUP_FEEDS_H

#include <stdint.h>
#include <sys/queue.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "council/ids.h"
#include "loop.h"
#include "relay.h"

struct cx_feed {
	struct cx_relay relay;
	int events_fd;
	off_t tail;               /* where the lines not yet published start */
	char run_id[CX_RUN_ID_MAX + 1];
	LIST_ENTRY(cx_feed) link;
};

struct cx_feeds {
	LIST_HEAD(, cx_feed) list;
	struct cx_loop *loop;
	int root_fd;              /* the runtime directory */
	struct cx_timer tick;     /* follows live runs' files, frees idle feeds */
	struct cx_buf chunk;
};

void cx_feeds_init(struct cx_feeds *fs, struct cx_loop *loop, int root_fd);
void cx_feeds_fini(struct cx_feeds *fs);

/* A new subscriber of run_id's events from seq since: the read end of its
 * pipe in *fd. Returns 0, -ENOENT when the run has no events file, or
 * -errno. */
int cx_feed_subscribe(struct cx_feeds *fs, const char *run_id, uint64_t since, int *fd);
/* A subscriber a stopping tenant handed over ({"msg":"subscriber"}, with
 * its pipe's write end, fd, which this takes): the rest of its run's
 * stream comes from here. */
void cx_feed_adopt(struct cx_feeds *fs, const cJSON *msg, int fd);

#endif
