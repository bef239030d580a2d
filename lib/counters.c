// SPDX-License-Identifier: MIT
/*
 * refgem's debugfs counters, "name value" lines: module-wide (survive
 * unbind) and per device. Each snapshot is one read of one file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "refgem.h"

const char *const refgem_counter_names[REFGEM_C_NR] = REFGEM_COUNTER_NAMES;
_Static_assert(sizeof((const char *[])REFGEM_COUNTER_NAMES) ==
	       sizeof(refgem_counter_names), "a name for every counter");

int refgem_counter_id(const char *name)
{
	int i;

	for (i = 0; i < REFGEM_C_NR; i++)
		if (!strcmp(refgem_counter_names[i], name))
			return i;
	return -ENOENT;
}

/* Every counter of @path; -ENOENT when one is missing. */
static int read_all(const char *path, struct refgem_counters *c)
{
	unsigned int seen = 0;
	char key[64];
	FILE *f;
	long v;
	int id;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fscanf(f, "%63s %ld", key, &v) == 2) {
		id = refgem_counter_id(key);
		if (id < 0)
			continue;	/* a newer driver's: not ours to judge */
		c->v[id] = v;
		seen |= 1u << id;
	}
	fclose(f);
	return seen == (1u << REFGEM_C_NR) - 1 ? 0 : -ENOENT;
}

int refgem_counters_read(struct refgem_counters *c)
{
	return read_all(REFGEM_COUNTERS_PATH, c);
}

int refgem_device_counters_read(int fd, struct refgem_counters *c)
{
	char path[128];
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISCHR(st.st_mode))
		return -ENOTTY;
	/* debugfs names each DRM minor's directory by its number. */
	snprintf(path, sizeof(path), "/sys/kernel/debug/dri/%u/refgem_counters",
		 minor(st.st_rdev));
	return read_all(path, c);
}

int refgem_device_counter(int fd, enum refgem_counter id, long *val)
{
	struct refgem_counters c;
	int ret = refgem_device_counters_read(fd, &c);

	if (!ret)
		*val = c.v[id];
	return ret;
}
