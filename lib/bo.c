// SPDX-License-Identifier: MIT
/* GEM buffer-object, mmap and PRIME helpers over libdrm, errno-normalised. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <xf86drm.h>

#include "gemlib.h"

/* drmIoctl restarts on EINTR/EAGAIN; turn its -1/errno into -errno. */
int gemlib_ioctl(int fd, unsigned long req, void *arg)
{
	return drmIoctl(fd, req, arg) ? -errno : 0;
}

int gemlib_dumb_create(int fd, uint64_t size, uint32_t *handle,
		       uint64_t *real_size)
{
	/* A 32 bpp buffer one page wide: any size in whole pages fits. */
	struct drm_mode_create_dumb arg = {
		.width = 1024,
		.bpp = 32,
	};
	int ret;

	arg.height = (size + 4095) / 4096;
	if (!arg.height || (uint64_t)arg.height * 4096 < size)
		return -EINVAL;
	ret = gemlib_ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &arg);
	if (ret)
		return ret;
	*handle = arg.handle;
	if (real_size)
		*real_size = arg.size;
	return 0;
}

int gemlib_dumb_mmap_offset(int fd, uint32_t handle, uint64_t *offset)
{
	struct drm_mode_map_dumb arg = { .handle = handle };
	int ret;

	ret = gemlib_ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &arg);
	if (!ret)
		*offset = arg.offset;
	return ret;
}

int gemlib_gem_close(int fd, uint32_t handle)
{
	return drmCloseBufferHandle(fd, handle) ? -errno : 0;
}

int gemlib_mmap(int fd, uint64_t offset, uint64_t size, int prot, void **ptr)
{
	void *p = mmap(NULL, size, prot, MAP_SHARED, fd, offset);

	if (p == MAP_FAILED)
		return -errno;
	*ptr = p;
	return 0;
}

int gemlib_prime_export(int fd, uint32_t handle, uint32_t flags, int *dmabuf)
{
	return drmPrimeHandleToFD(fd, handle, flags, dmabuf) ? -errno : 0;
}

int gemlib_prime_import(int fd, int dmabuf, uint32_t *handle)
{
	return drmPrimeFDToHandle(fd, dmabuf, handle) ? -errno : 0;
}
