// SPDX-License-Identifier: MIT
/* sysfs access with exact errnos (a shell's echo reports every failure as EIO). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gemlib.h"

int gemlib_sysfs_write(const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t ret;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = write(fd, val, len);
	if (ret < 0)
		err = -errno;
	else if ((size_t)ret != len)
		err = -EIO;
	close(fd);
	return err;
}

int gemlib_sysfs_read(const char *path, char *buf, size_t len)
{
	ssize_t ret;
	int fd, err = 0;

	if (!len)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = read(fd, buf, len - 1);
	if (ret < 0) {
		err = -errno;
		ret = 0;
	}
	buf[ret] = '\0';
	close(fd);
	return err;
}

static int pci_driver_write(const char *driver, const char *file,
			    const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/%s", driver,
		 file);
	return gemlib_sysfs_write(path, bdf);
}

int gemlib_pci_unbind(const char *driver, const char *bdf)
{
	return pci_driver_write(driver, "unbind", bdf);
}

int gemlib_pci_bind(const char *driver, const char *bdf)
{
	return pci_driver_write(driver, "bind", bdf);
}

int gemlib_pci_is_bound(const char *driver, const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/%s", driver,
		 bdf);
	if (access(path, F_OK) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}
