// SPDX-License-Identifier: MIT
/*
 * Raw readers of kernel state that oracles need (the taint mask, swiotlb's
 * slots, MemTotal) and module unload/load. No judgement here: callers
 * decide. The kernel log's reader is lib/kmsg.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gemlib.h"

int gemlib_read_long(const char *path, long *val)
{
	char buf[64], *end;
	int ret;

	ret = gemlib_sysfs_read(path, buf, sizeof(buf));
	if (ret)
		return ret;
	errno = 0;
	*val = strtol(buf, &end, 10);
	if (errno || end == buf)
		return -EPROTO;
	return 0;
}

int gemlib_taint(unsigned long *taint)
{
	long val;
	int ret;

	ret = gemlib_read_long("/proc/sys/kernel/tainted", &val);
	if (!ret)
		*taint = val;
	return ret;
}

int gemlib_swiotlb_used(long *slots)
{
	return gemlib_read_long("/sys/kernel/debug/swiotlb/io_tlb_used", slots);
}

int gemlib_swiotlb_slots(long *slots)
{
	return gemlib_read_long("/sys/kernel/debug/swiotlb/io_tlb_nslabs", slots);
}

int gemlib_module_loaded(const char *name)
{
	char path[128];

	/* initstate exists for loadable modules only, not built-in ones. */
	snprintf(path, sizeof(path), "/sys/module/%s/initstate", name);
	if (!access(path, F_OK))
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

int gemlib_module_unload(const char *name)
{
	/* O_NONBLOCK: fail at once while the module is in use. */
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

int gemlib_module_load(const char *path, const char *params)
{
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, params ? params : "", 0))
		ret = -errno;
	close(fd);
	return ret;
}

int gemlib_mem_total(uint64_t *bytes)
{
	unsigned long long kib;
	char line[128];
	int ret = -ENOENT;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kib) == 1) {
			*bytes = kib * 1024;
			ret = 0;
			break;
		}
	fclose(f);
	return ret;
}
