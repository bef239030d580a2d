// SPDX-License-Identifier: MIT
/* Marker lines in the kernel log, so a runner can split dmesg per test. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "refgem.h"

int refgem_kmsg(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int fd, len, err = 0;

	va_start(ap, fmt);
	/* "<6>" logs at KERN_INFO: a marker must never judge a test itself. */
	len = snprintf(buf, sizeof(buf), "<6>");
	len += vsnprintf(buf + len, sizeof(buf) - len, fmt, ap);
	va_end(ap);
	if (len >= (int)sizeof(buf))
		len = sizeof(buf) - 1;

	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, len) < 0)
		err = -errno;
	close(fd);
	return err;
}
