/* Hashes for the tables of live runs: by run_id and by worker pid
 * (supervisor/registry.c, supervisor/daemon.c). */
#ifndef CX_HASH_H
#define CX_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

static inline size_t cx_hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return (size_t)h;
}

/* Pids are dense: a multiplicative hash spreads neighbours apart. */
static inline size_t cx_hash_pid(pid_t pid)
{
	return (size_t)(((uint64_t)(uint32_t)pid * 0x9e3779b97f4a7c15ULL) >> 32);
}

#endif
