/* council: run identifiers and timestamps. */
#ifndef COUNCIL_IDS_H
#define COUNCIL_IDS_H

#include <stdbool.h>
#include <stdint.h>

#define CX_RUN_ID_MAX 64   /* caller-supplied ids: 1-64 chars of A-Za-z0-9._- */
#define CX_RUN_ID_GEN 26   /* generated ids: Crockford base32, ms time + 80 random bits */
#define CX_NAME_MAX 64     /* council ids, member ids, tenant names */
#define CX_TS_LEN 24       /* "2026-11-24T10:00:00.123Z" */

/* Writes a new 26-char id (sorts by creation time) and a NUL into out. */
void cx_run_id_generate(char out[CX_RUN_ID_GEN + 1]);
/* True for 1-64 chars of A-Za-z0-9._- (and not "." or ".."). */
bool cx_run_id_valid(const char *id);
/* True for names of councils, members and tenants: the same alphabet and length. */
bool cx_name_valid(const char *name);

/* Wall-clock milliseconds since the epoch, and monotonic milliseconds. */
int64_t cx_wall_ms(void);
uint64_t cx_mono_ms(void);
/* RFC 3339 UTC with milliseconds: "2026-11-24T10:00:00.123Z". */
void cx_ts_format(int64_t wall_ms, char out[CX_TS_LEN + 1]);
/* The inverse: wall-clock milliseconds, or 0 for anything else. */
int64_t cx_ts_parse(const char *ts);

#endif
