/* A seeded pseudo-random sequence, for what must look arbitrary yet come
 * out the same from the same inputs: the mock's answers, the order of an
 * anonymized round's labels. Not for secrets (ids use arc4random). */
#ifndef CX_PRNG_H
#define CX_PRNG_H

#include <stdint.h>

#define CX_PRNG_SEED 0xcbf29ce484222325ULL

/* Folds s (with its NUL) into h: FNV-1a. */
static inline uint64_t cx_prng_mix(uint64_t h, const char *s)
{
	do {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	} while (*s++);
	return h;
}

/* The next number of the sequence in *state: splitmix64. */
static inline uint64_t cx_prng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

#endif
