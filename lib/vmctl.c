// SPDX-License-Identifier: MIT
/*
 * Hot-unplug through the guest launcher. tools/refgem-vm exports
 * REFGEM_VMCTL, a directory shared with the host; a request is a file
 * "req-<pid>-<n>" holding "<op> <bdf>", and the host answers with
 * "req-<pid>-<n>.reply" ("ok" or "error <why>") once QEMU has done it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gemlib.h"

#define VMCTL_TIMEOUT_MS	30000
#define PROBE_TIMEOUT_MS	10000

static void sleep_ms(int ms)
{
	const struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000L,
	};

	nanosleep(&ts, NULL);
}

static int vmctl_request(const char *op, const char *bdf)
{
	static unsigned int seq;
	char req[PATH_MAX], tmp[PATH_MAX + 8], reply[PATH_MAX + 8];
	const char *dir = getenv("REFGEM_VMCTL");
	char answer[256];
	int waited, ret;
	FILE *f;

	if (!dir || !*dir)
		return -ENOTSUP;
	snprintf(req, sizeof(req), "%s/req-%d-%u", dir, (int)getpid(), seq++);
	snprintf(tmp, sizeof(tmp), "%s.tmp", req);
	snprintf(reply, sizeof(reply), "%s.reply", req);

	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "%s %s\n", op, bdf);
	if (fclose(f))
		return -errno;
	/* The host only ever sees whole requests. */
	if (rename(tmp, req))
		return -errno;

	for (waited = 0; waited < VMCTL_TIMEOUT_MS; waited += 20) {
		ret = gemlib_sysfs_read(reply, answer, sizeof(answer));
		if (!ret) {
			unlink(reply);
			unlink(req);
			if (!strncmp(answer, "ok", 2))
				return 0;
			fprintf(stderr, "refgem-vm: %s %s: %s", op, bdf, answer);
			/* The machine cannot, as opposed to failed to. */
			if (!strncmp(answer, "unsupported", 11))
				return -ENOTSUP;
			return -EIO;
		}
		sleep_ms(20);
	}
	return -ETIMEDOUT;
}

/* Wait until sysfs shows @bdf gone (@present 0) or bound to a driver. */
static int wait_device(const char *bdf, int present)
{
	char path[PATH_MAX];
	int waited;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s%s", bdf,
		 present ? "/driver" : "");
	for (waited = 0; waited < PROBE_TIMEOUT_MS; waited += 10) {
		if ((access(path, F_OK) == 0) == present)
			return 0;
		sleep_ms(10);
	}
	return -ETIMEDOUT;
}

int gemlib_vm_unplug(const char *bdf)
{
	int ret = vmctl_request("unplug", bdf);

	return ret ? ret : wait_device(bdf, 0);
}

int gemlib_vm_replug(const char *bdf)
{
	int ret = vmctl_request("replug", bdf);

	return ret ? ret : wait_device(bdf, 1);
}
