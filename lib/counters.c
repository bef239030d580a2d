// SPDX-License-Identifier: MIT
/*
 * refgem's debugfs counters, "name value" lines: module-wide (survive
 * unbind) and per device.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "refgem.h"

static int counter_in(const char *path, const char *name, long *val)
{
	char key[64];
	long v;
	FILE *f;
	int ret = -ENOENT;

	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fscanf(f, "%63s %ld", key, &v) == 2) {
		if (!strcmp(key, name)) {
			*val = v;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

int refgem_counter(const char *name, long *val)
{
	return counter_in(REFGEM_COUNTERS_PATH, name, val);
}

int refgem_device_counter(int fd, const char *name, long *val)
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
	return counter_in(path, name, val);
}
