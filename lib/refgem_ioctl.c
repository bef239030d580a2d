// SPDX-License-Identifier: MIT
/* refgem's own ioctls (uAPI refgem_drm.h), errno-normalised. */
#include <stdint.h>

#include <xf86drm.h>

#include "refgem.h"

int refgem_bo_create(int fd, uint64_t size, uint32_t flags, uint32_t *handle)
{
	struct drm_refgem_gem_create arg = { .size = size, .flags = flags };
	int ret;

	ret = gemlib_ioctl(fd, DRM_IOCTL_REFGEM_GEM_CREATE, &arg);
	if (!ret)
		*handle = arg.handle;
	return ret;
}

int refgem_bo_mmap_offset(int fd, uint32_t handle, uint64_t *offset)
{
	struct drm_refgem_gem_mmap_offset arg = { .handle = handle };
	int ret;

	ret = gemlib_ioctl(fd, DRM_IOCTL_REFGEM_GEM_MMAP_OFFSET, &arg);
	if (!ret)
		*offset = arg.offset;
	return ret;
}

int refgem_sgt_map(int fd, uint32_t handle, int device_fd,
		   struct drm_refgem_sgt_map *out)
{
	struct drm_refgem_sgt_map arg = {
		.handle = handle,
		.device_fd = device_fd,
	};
	int ret;

	ret = gemlib_ioctl(fd, DRM_IOCTL_REFGEM_SGT_MAP, &arg);
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

	return gemlib_ioctl(fd, DRM_IOCTL_REFGEM_DMA, &arg);
}
