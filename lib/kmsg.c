// SPDX-License-Identifier: MIT
/*
 * The kernel log: marker lines written into it, so a runner can split dmesg
 * per test, and its records read back from a point on, for oracles.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gemlib.h"

int gemlib_kmsg(const char *fmt, ...)
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

int gemlib_kmsg_open(void)
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

int gemlib_kmsg_next(int fd, struct gemlib_kmsg_record *rec)
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
