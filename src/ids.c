#include "council/ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Crockford base32: no I, L, O, U. */
static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void cx_run_id_generate(char out[CX_RUN_ID_GEN + 1])
{
	/* 48-bit millisecond time (10 chars) then 80 random bits (16 chars),
	 * like a ULID, so ids sort by start. */
	uint64_t ms = (uint64_t)cx_wall_ms();
	for (int i = 9; i >= 0; i--) {
		out[i] = crockford[ms & 31];
		ms >>= 5;
	}
	uint8_t rnd[10];
	arc4random_buf(rnd, sizeof rnd);
	uint64_t hi = 0, lo = 0;
	for (int i = 0; i < 5; i++) {
		hi = hi << 8 | rnd[i];
		lo = lo << 8 | rnd[i + 5];
	}
	for (int i = 7; i >= 0; i--) {
		out[10 + i] = crockford[hi & 31];
		out[18 + i] = crockford[lo & 31];
		hi >>= 5;
		lo >>= 5;
	}
	out[CX_RUN_ID_GEN] = '\0';
}

bool cx_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > CX_NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "0123456789._-") == n;
}

bool cx_run_id_valid(const char *id)
{
	return cx_name_valid(id);
}

int64_t cx_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t cx_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t cx_ts_parse(const char *ts)
{
	struct tm tm = { 0 };
	int ms = 0, end = 0;
	/* The widths bound every field, so nothing below can overflow. */
	if (sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &end) != 7 || !end || ts[end])
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

void cx_ts_format(int64_t wall_ms, char out[CX_TS_LEN + 1])
{
	/* Events come many to a second: the date and time of the last second
	 * formatted are kept, and only the milliseconds written each time. */
	static __thread time_t last = -1;
	static __thread char date[32];
	time_t secs = (time_t)(wall_ms / 1000);
	if (secs != last) {
		struct tm tm;
		gmtime_r(&secs, &tm);
		strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
		last = secs;
	}
	unsigned ms = (unsigned)((uint64_t)wall_ms % 1000);
	memcpy(out, date, 19);
	out[19] = '.';
	out[20] = (char)('0' + ms / 100);
	out[21] = (char)('0' + ms / 10 % 10);
	out[22] = (char)('0' + ms % 10);
	out[23] = 'Z';
	out[24] = '\0';
}
