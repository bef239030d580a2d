// SPDX-License-Identifier: MIT
/* refgem's debugfs counters: "name value" lines, module-wide, survive unbind. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "refgem.h"

int refgem_counter(const char *name, long *val)
{
	char key[64];
	long v;
	FILE *f;
	int ret = -ENOENT;

	f = fopen(REFGEM_COUNTERS_PATH, "re");
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
