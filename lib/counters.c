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

/* The driver's order (driver/refgem_drv.h), its stable debugfs format. */
const char *const refgem_counter_names[REFGEM_NR_COUNTERS] = {
	[REFGEM_C_BOS_ALIVE] = "bos_alive",
	[REFGEM_C_BOS_CREATED] = "bos_created",
	[REFGEM_C_MAPS_LIVE] = "maps_live",
	[REFGEM_C_MAPS_CREATED] = "maps_created",
	[REFGEM_C_MAPS_REVOKED] = "maps_revoked",
	[REFGEM_C_MAPS_RELEASED] = "maps_released",
	[REFGEM_C_LATE_UNMAPS] = "late_unmaps",
	[REFGEM_C_WRONG_DEVICE] = "wrong_device",
	[REFGEM_C_DMA_TRANSFERS] = "dma_transfers",
	[REFGEM_C_BOUNCED_SEGMENTS] = "bounced_segments",
	[REFGEM_C_PAGES_PINNED] = "pages_pinned",
	[REFGEM_C_OWNED_MAPS_LIVE] = "owned_maps_live",
};

int refgem_counter_id(const char *name)
{
	int i;

	for (i = 0; i < REFGEM_NR_COUNTERS; i++)
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
	return seen == (1u << REFGEM_NR_COUNTERS) - 1 ? 0 : -ENOENT;
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

int refgem_device_counter(int fd, enum refgem_counter_id id, long *val)
{
	struct refgem_counters c;
	int ret = refgem_device_counters_read(fd, &c);

	if (!ret)
		*val = c.v[id];
	return ret;
}
