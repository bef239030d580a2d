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

int gemlib_meminfo_kib(const char *field, long *kib)
{
	size_t len = strlen(field);
	char line[128];
	int ret = -ENOENT;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':') {
			*kib = strtol(line + len + 1, NULL, 10);
			ret = 0;
			break;
		}
	fclose(f);
	return ret;
}

int gemlib_mem_total(uint64_t *bytes)
{
	long kib;
	int ret = gemlib_meminfo_kib("MemTotal", &kib);

	if (!ret)
		*bytes = (uint64_t)kib * 1024;
	return ret;
}

#define KMEMLEAK	"/sys/kernel/debug/kmemleak"

int gemlib_kmemleak(int scans, const char *comm, gemlib_leak_fn report,
		    void *arg)
{
	char needle[48], *line = NULL, *block = NULL;
	size_t cap = 0, len = 0;
	int leaks = 0, i, ret;
	bool mine = false;
	FILE *f;

	for (i = 0; i < scans; i++) {
		ret = gemlib_sysfs_write(KMEMLEAK, "scan");
		if (ret)
			return ret;
	}
	f = fopen(KMEMLEAK, "re");
	if (!f)
		return -errno;
	if (comm)
		snprintf(needle, sizeof(needle), "comm \"%s\"", comm);
	/*
	 * One report per object: "unreferenced object ..." and the lines
	 * after it, among them `comm "NAME", pid ...`.
	 */
	for (;;) {
		bool end = getline(&line, &cap, f) < 0;
		char *more;

		if (end || !strncmp(line, "unreferenced object", 19)) {
			if (block && (mine || !comm)) {
				leaks++;
				report(block, arg);
			}
			free(block);
			block = NULL;
			len = 0;
			mine = false;
			if (end)
				break;
		}
		if (comm && strstr(line, needle))
			mine = true;
		/* A report cut short could hide the leak: give up instead. */
		more = realloc(block, len + strlen(line) + 1);
		if (!more) {
			leaks = -ENOMEM;
			break;
		}
		block = more;
		strcpy(block + len, line);
		len += strlen(line);
	}
	free(block);
	free(line);
	fclose(f);
	return leaks;
}

int gemlib_kmemleak_clear(void)
{
	return gemlib_sysfs_write(KMEMLEAK, "clear");
}
