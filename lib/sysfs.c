// SPDX-License-Identifier: MIT
/* sysfs access with exact errnos (a shell's echo reports every failure as EIO). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

/* @drv's (a driver's sysfs directory) @file <- @dev's name. */
static int driver_write(const char *drv, const char *file, const char *dev)
{
	const char *name = strrchr(dev, '/');
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", drv, file) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	return gemlib_sysfs_write(path, name ? name + 1 : dev);
}

static int pci_driver_write(const char *driver, const char *file,
			    const char *bdf)
{
	char drv[PATH_MAX];

	snprintf(drv, sizeof(drv), "/sys/bus/pci/drivers/%s", driver);
	return driver_write(drv, file, bdf);
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

/* The real path of sysfs link @link into @out. */
static int resolve(const char *link, char *out, size_t len)
{
	char real[PATH_MAX];

	if (!realpath(link, real))
		return -errno;
	if (strlen(real) >= len)
		return -ENAMETOOLONG;
	strcpy(out, real);
	return 0;
}

int gemlib_fd_sysfs_device(int fd, char *path, size_t len)
{
	char link[PATH_MAX];
	struct stat st;
	int ret;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISCHR(st.st_mode))
		return -ENOTTY;
	snprintf(link, sizeof(link), "/sys/dev/char/%u:%u/device",
		 major(st.st_rdev), minor(st.st_rdev));
	ret = resolve(link, path, len);
	return ret == -ENOENT ? -ENODEV : ret;
}

int gemlib_sysfs_device_driver(const char *dev, char *drv, size_t len)
{
	char link[PATH_MAX];

	snprintf(link, sizeof(link), "%s/driver", dev);
	return resolve(link, drv, len);
}

/* Whether sysfs device directory @dev is on the PCI bus. */
static bool is_pci(const char *dev)
{
	char link[PATH_MAX], real[PATH_MAX];
	const char *base;

	snprintf(link, sizeof(link), "%s/subsystem", dev);
	if (!realpath(link, real))
		return false;
	base = strrchr(real, '/');
	return base && !strcmp(base + 1, "pci");
}

int gemlib_sysfs_pci_ancestor(const char *dev, char *bdf, size_t len)
{
	char path[PATH_MAX];
	char *slash;

	if (strlen(dev) >= sizeof(path))
		return -ENAMETOOLONG;
	strcpy(path, dev);
	while (strncmp(path, "/sys/devices/", 13) == 0) {
		if (is_pci(path)) {
			slash = strrchr(path, '/');
			if (strlen(slash + 1) >= len)
				return -ENAMETOOLONG;
			strcpy(bdf, slash + 1);
			return 0;
		}
		slash = strrchr(path, '/');
		if (!slash || slash == path)
			break;
		*slash = '\0';
	}
	return -ENOENT;
}


int gemlib_driver_unbind(const char *drv, const char *dev)
{
	return driver_write(drv, "unbind", dev);
}

int gemlib_driver_bind(const char *drv, const char *dev)
{
	return driver_write(drv, "bind", dev);
}
