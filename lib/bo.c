// SPDX-License-Identifier: MIT
/* Buffer-object, mmap and PRIME helpers over libdrm, errno-normalised. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <xf86drm.h>

#include "refgem.h"

/* drmIoctl restarts on EINTR/EAGAIN; turn its -1/errno into -errno. */
static int ioctl_errno(int fd, unsigned long req, void *arg)
{
	return drmIoctl(fd, req, arg) ? -errno : 0;
}

int refgem_bo_create(int fd, uint64_t size, uint32_t flags, uint32_t *handle)
{
	struct drm_refgem_gem_create arg = { .size = size, .flags = flags };
	int ret;

	ret = ioctl_errno(fd, DRM_IOCTL_REFGEM_GEM_CREATE, &arg);
	if (!ret)
		*handle = arg.handle;
	return ret;
}

int refgem_dumb_create(int fd, uint64_t size, uint32_t *handle,
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
	ret = ioctl_errno(fd, DRM_IOCTL_MODE_CREATE_DUMB, &arg);
	if (ret)
		return ret;
	*handle = arg.handle;
	if (real_size)
		*real_size = arg.size;
	return 0;
}

int refgem_bo_mmap_offset(int fd, uint32_t handle, uint64_t *offset)
{
	struct drm_refgem_gem_mmap_offset arg = { .handle = handle };
	int ret;

	ret = ioctl_errno(fd, DRM_IOCTL_REFGEM_GEM_MMAP_OFFSET, &arg);
	if (!ret)
		*offset = arg.offset;
	return ret;
}

int refgem_dumb_mmap_offset(int fd, uint32_t handle, uint64_t *offset)
{
	struct drm_mode_map_dumb arg = { .handle = handle };
	int ret;

	ret = ioctl_errno(fd, DRM_IOCTL_MODE_MAP_DUMB, &arg);
	if (!ret)
		*offset = arg.offset;
	return ret;
}

int refgem_bo_close(int fd, uint32_t handle)
{
	return drmCloseBufferHandle(fd, handle) ? -errno : 0;
}

int refgem_mmap(int fd, uint64_t offset, uint64_t size, int prot, void **ptr)
{
	void *p = mmap(NULL, size, prot, MAP_SHARED, fd, offset);

	if (p == MAP_FAILED)
		return -errno;
	*ptr = p;
	return 0;
}

int refgem_sgt_map(int fd, uint32_t handle, int device_fd,
		   struct drm_refgem_sgt_map *out)
{
	struct drm_refgem_sgt_map arg = {
		.handle = handle,
		.device_fd = device_fd,
	};
	int ret;

	ret = ioctl_errno(fd, DRM_IOCTL_REFGEM_SGT_MAP, &arg);
	if (!ret && out)
		*out = arg;
	return ret;
}

int refgem_dma(int fd, uint32_t handle, uint32_t op, uint32_t engine,
	       uint64_t offset, uint64_t len, void *buf)
{
	struct drm_refgem_dma arg = {
		.handle = handle,
		.op = op,
		.engine = engine,
		.offset = offset,
		.length = len,
		.user_ptr = (uintptr_t)buf,
	};

	return ioctl_errno(fd, DRM_IOCTL_REFGEM_DMA, &arg);
}

int refgem_prime_export(int fd, uint32_t handle, uint32_t flags, int *dmabuf)
{
	return drmPrimeHandleToFD(fd, handle, flags, dmabuf) ? -errno : 0;
}

int refgem_prime_import(int fd, int dmabuf, uint32_t *handle)
{
	return drmPrimeFDToHandle(fd, dmabuf, handle) ? -errno : 0;
}
