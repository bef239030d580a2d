// SPDX-License-Identifier: MIT
/*
 * Data patterns: every 32-bit word holds a value derived from its offset and
 * a seed, so a page that moved, went stale or was zeroed is told apart.
 */
#include "gemlib.h"

static uint32_t pattern_word(size_t index, uint32_t seed)
{
	uint32_t x = (uint32_t)index * 0x9e3779b9u ^ seed;

	/* xorshift: neighbouring words and seeds differ in many bits */
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

void gemlib_pattern_fill(void *ptr, size_t len, uint32_t seed)
{
	uint32_t *p = ptr;
	size_t i;

	for (i = 0; i < len / sizeof(*p); i++)
		p[i] = pattern_word(i, seed);
}

size_t gemlib_pattern_check(const void *ptr, size_t len, uint32_t seed)
{
	const uint32_t *p = ptr;
	size_t i;

	for (i = 0; i < len / sizeof(*p); i++)
		if (p[i] != pattern_word(i, seed))
			return i * sizeof(*p);
	return (size_t)-1;
}
