/* SPDX-License-Identifier: MIT */
/*
 * refgem: a reference GEM shmem driver for QEMU's edu PCI device.
 *
 * Buffer objects are GEM shmem objects. Every ioctl fails with ENODEV once
 * the device is unbound, removed or unplugged; existing CPU mappings stay
 * valid (Documentation/gpu/drm-uapi.rst, "Device Hot-Unplug").
 */
#ifndef _UAPI_REFGEM_DRM_H_
#define _UAPI_REFGEM_DRM_H_

#include "drm.h"

#if defined(__cplusplus)
extern "C" {
#endif

#define DRM_REFGEM_GEM_CREATE		0x00
#define DRM_REFGEM_GEM_MMAP_OFFSET	0x01

/* No flags are defined yet: any bit set is EINVAL. */
#define REFGEM_BO_FLAGS_MASK		0x0u

/*
 * struct drm_refgem_gem_create - create a shmem buffer object
 * @size: in, bytes; rounded up to PAGE_SIZE. 0 is EINVAL, a size that
 *	overflows when rounded up or exceeds what shmem can back is E2BIG.
 * @flags: in, must be 0 (see REFGEM_BO_FLAGS_MASK), else EINVAL.
 * @handle: out, the GEM handle in the caller's file.
 */
struct drm_refgem_gem_create {
	__u64 size;
	__u32 flags;
	__u32 handle;
};

/*
 * struct drm_refgem_gem_mmap_offset - fake offset to mmap() a BO on the DRM fd
 * @handle: in; ENOENT if it names no BO of this file.
 * @pad: in, must be 0, else EINVAL.
 * @offset: out.
 */
struct drm_refgem_gem_mmap_offset {
	__u32 handle;
	__u32 pad;
	__u64 offset;
};

#define DRM_IOCTL_REFGEM_GEM_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_REFGEM_GEM_CREATE, \
		 struct drm_refgem_gem_create)
#define DRM_IOCTL_REFGEM_GEM_MMAP_OFFSET \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_REFGEM_GEM_MMAP_OFFSET, \
		 struct drm_refgem_gem_mmap_offset)

#if defined(__cplusplus)
}
#endif

#endif /* _UAPI_REFGEM_DRM_H_ */
