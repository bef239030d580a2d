// SPDX-License-Identifier: MIT
/*
 * Raw readers of kernel state that oracles need (kernel log records since a
 * point, the taint mask, swiotlb's used slots) and module unload/load. No judgement here: callers decide.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "refgem.h"

int refgem_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	/* Only what is logged from now on. */
	if (lseek(fd, 0, SEEK_END) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int refgem_kmsg_next(int fd, struct refgem_kmsg_record *rec)
{
	/* One read returns one whole record; longer ones fail with EINVAL. */
	char buf[8192], *text, *end;
	unsigned long long prio;
	ssize_t n;

	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	buf[n] = '\0';
	/* "prio,seq,usec,flags;text\n" then " KEY=value" lines. */
	text = strchr(buf, ';');
	if (!text || sscanf(buf, "%llu,%llu", &prio, &rec->seq) != 2)
		return -EPROTO;
	text++;
	end = strchr(text, '\n');
	if (end)
		*end = '\0';
	rec->level = prio & 7;
	rec->facility = prio >> 3;
	snprintf(rec->text, sizeof(rec->text), "%s", text);
	return 1;
}

/* A decimal number from @path. */
static int read_long(const char *path, long *val)
{
	char buf[64], *end;
	int ret;

	ret = refgem_sysfs_read(path, buf, sizeof(buf));
	if (ret)
		return ret;
	errno = 0;
	*val = strtol(buf, &end, 10);
	if (errno || end == buf)
		return -EPROTO;
	return 0;
}

int refgem_taint(unsigned long *taint)
{
	long val;
	int ret;

	ret = read_long("/proc/sys/kernel/tainted", &val);
	if (!ret)
		*taint = val;
	return ret;
}

int refgem_swiotlb_used(long *slots)
{
	return read_long("/sys/kernel/debug/swiotlb/io_tlb_used", slots);
}

int refgem_swiotlb_slots(long *slots)
{
	return read_long("/sys/kernel/debug/swiotlb/io_tlb_nslabs", slots);
}

int refgem_module_loaded(const char *name)
{
	char path[128];

	/* initstate exists for loadable modules only, not built-in ones. */
	snprintf(path, sizeof(path), "/sys/module/%s/initstate", name);
	if (!access(path, F_OK))
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

int refgem_module_unload(const char *name)
{
	/* O_NONBLOCK: fail at once while the module is in use. */
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

int refgem_module_load(const char *path, const char *params)
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

int refgem_mem_total(uint64_t *bytes)
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
