// SPDX-License-Identifier: MIT
/* Finding DRM devices by driver name and by PCI address, through libdrm. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xf86drm.h>

#include "gemlib.h"

#define MAX_DEVICES 64

static int node_type(enum gemlib_node type)
{
	return type == GEMLIB_NODE_RENDER ? DRM_NODE_RENDER : DRM_NODE_PRIMARY;
}

int gemlib_fd_driver(int fd, char *name, size_t len)
{
	drmVersionPtr ver = drmGetVersion(fd);

	if (!ver)
		return errno ? -errno : -ENODEV;
	snprintf(name, len, "%s", ver->name);
	drmFreeVersion(ver);
	return 0;
}

static void format_bdf(const drmDevicePtr dev, char *bdf, size_t len)
{
	const drmPciBusInfoPtr pci = dev->businfo.pci;

	snprintf(bdf, len, "%04x:%02x:%02x.%u", pci->domain, pci->bus,
		 pci->dev, pci->func);
}

int gemlib_fd_bdf(int fd, char *bdf, size_t len)
{
	drmDevicePtr dev;
	int ret;

	ret = drmGetDevice2(fd, 0, &dev);
	if (ret)
		return ret < 0 ? ret : -ENODEV;
	if (dev->bustype != DRM_BUS_PCI) {
		drmFreeDevice(&dev);
		return -ENOTSUP;
	}
	format_bdf(dev, bdf, len);
	drmFreeDevice(&dev);
	return 0;
}

static int driver_matches(const char *node, const char *driver)
{
	char name[64];
	int fd, ret;

	fd = open(node, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ret = gemlib_fd_driver(fd, name, sizeof(name));
	close(fd);
	return !ret && !strcmp(name, driver);
}

struct match {
	char key[64];	/* bus address, for a stable order across boots */
	char node[PATH_MAX];
};

static int cmp_match(const void *a, const void *b)
{
	return strcmp(((const struct match *)a)->key,
		      ((const struct match *)b)->key);
}

/* Nodes of @type bound to @driver, sorted by bus address. */
static int find_nodes(const char *driver, enum gemlib_node type,
		      struct match *out, int max)
{
	drmDevicePtr devs[MAX_DEVICES];
	int i, n, found = 0;

	n = drmGetDevices2(0, devs, MAX_DEVICES);
	if (n < 0)
		return n;
	for (i = 0; i < n && found < max; i++) {
		const char *node;

		if (!(devs[i]->available_nodes & (1 << node_type(type))))
			continue;
		node = devs[i]->nodes[node_type(type)];
		if (!driver_matches(node, driver))
			continue;
		if (devs[i]->bustype == DRM_BUS_PCI)
			format_bdf(devs[i], out[found].key,
				   sizeof(out[found].key));
		else
			snprintf(out[found].key, sizeof(out[found].key),
				 "~%s", node);
		snprintf(out[found].node, sizeof(out[found].node), "%s", node);
		found++;
	}
	drmFreeDevices(devs, n);
	qsort(out, found, sizeof(*out), cmp_match);
	return found;
}

int gemlib_count_devices(const char *driver)
{
	struct match m[MAX_DEVICES];

	return find_nodes(driver, GEMLIB_NODE_PRIMARY, m, MAX_DEVICES);
}

int gemlib_open_driver(const char *driver, enum gemlib_node type,
		       unsigned int index)
{
	struct match m[MAX_DEVICES];
	int n, fd;

	n = find_nodes(driver, type, m, MAX_DEVICES);
	if (n < 0)
		return n;
	if (index >= (unsigned int)n)
		return -ENOENT;
	fd = open(m[index].node, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Name of the DRM node of @type under /sys/bus/pci/devices/<bdf>/drm. */
static int bdf_node(const char *bdf, enum gemlib_node type, char *node,
		    size_t len)
{
	const char *prefix = type == GEMLIB_NODE_RENDER ? "renderD" : "card";
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/drm", bdf);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(node, len, "/dev/dri/%s", de->d_name);
		ret = 0;
		break;
	}
	closedir(dir);
	return ret;
}

int gemlib_open_bdf(const char *bdf, enum gemlib_node type, int timeout_ms)
{
	const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
	char node[PATH_MAX];
	int waited, fd, ret = -ETIMEDOUT;

	for (waited = 0;; waited += 10) {
		if (!bdf_node(bdf, type, node, sizeof(node))) {
			fd = open(node, O_RDWR | O_CLOEXEC);
			if (fd >= 0)
				return fd;
			ret = -errno;
		}
		if (waited >= timeout_ms)
			return ret;
		nanosleep(&tick, NULL);
	}
}
