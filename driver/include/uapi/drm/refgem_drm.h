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
#define DRM_REFGEM_SGT_MAP		0x02
#define DRM_REFGEM_DMA			0x03

/* No flags are defined yet: any bit set is EINVAL. */
#define REFGEM_BO_FLAGS_MASK		0x0u

/*
 * struct drm_refgem_gem_create - create a shmem buffer object
 * @size: in, bytes; rounded up to PAGE_SIZE. 0 is EINVAL, a size that
 *	overflows when rounded up or exceeds the machine's RAM (MemTotal) is
 *	E2BIG. Each BO takes its size of the device's mmap offset space
 *	(about 1 TiB, shared by all its clients) until it is freed: EDQUOT
 *	when the live BOs created through this file would exceed the module
 *	parameter file_bo_max (64 GiB by default), so that no client can
 *	take the space from the others; ENOSPC when the space has no room
 *	left all the same, ENOMEM when memory ran out. Dumb buffers
 *	(DRM_IOCTL_MODE_CREATE_DUMB) are created, charged and refused the
 *	same way. PRIME imports are not charged (the DRM core's import hook
 *	is given no file).
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
 * @handle: in; ENOENT if it names no BO of this file, EINVAL if it names
 *	a BO imported through PRIME (mmap the dma-buf instead).
 * @pad: in, must be 0, else EINVAL.
 * @offset: out.
 */
struct drm_refgem_gem_mmap_offset {
	__u32 handle;
	__u32 pad;
	__u64 offset;
};

/* drm_refgem_sgt_map.status: this call created the mapping. */
#define REFGEM_SGT_CREATED		0x1u

/*
 * struct drm_refgem_sgt_map - DMA-map a BO's sg_table for its device
 *
 * The first call maps the BO's pages for the BO's own device; later calls
 * return the same mapping. For a BO imported through PRIME it is the
 * attachment's mapping for the importing device, made at import. The
 * mapping is revoked (unmapped) when the device is unbound, removed or
 * unplugged, even while the BO is still held. Mapping needs DMA space,
 * which all clients of the device share: EDQUOT when the mappings this
 * file's calls made and that are still mapped would exceed the module
 * parameter file_map_max (48 MiB by default, so that no client can take
 * all of swiotlb's default 64 MiB pool); EIO when swiotlb has no free
 * slots left for the BO's pages, ENOMEM when memory or the IOMMU's address
 * space ran out. The BO is then left unmapped and a later call tries again.
 *
 * @handle: in; ENOENT if it names no BO of this file.
 * @device_fd: in; -1 for the BO's own device, or an fd of a refgem DRM
 *	node naming the device to map for. A device other than the BO's own
 *	is EINVAL and changes nothing; an fd that is not a refgem node is
 *	EINVAL; a bad fd is EBADF.
 * @flags: in, must be 0, else EINVAL.
 * @status: out, REFGEM_SGT_CREATED when this call created the mapping.
 * @nents: out, DMA segments of the mapping.
 * @bounced: out, segments whose DMA address is a swiotlb bounce buffer.
 * @dma_len: out, sum of the DMA segments' lengths.
 * @max_segment: out, the device's maximum mapping size, the bound that
 *	segments are split at.
 */
struct drm_refgem_sgt_map {
	__u32 handle;
	__s32 device_fd;
	__u32 flags;
	__u32 status;
	__u32 nents;
	__u32 bounced;
	__u64 dma_len;
	__u64 max_segment;
};

/* drm_refgem_dma.op */
#define REFGEM_DMA_TO_USER		0	/* device reads the BO */
#define REFGEM_DMA_FROM_USER		1	/* device writes the BO */

/* drm_refgem_dma.engine */
#define REFGEM_ENGINE_SW		0
#define REFGEM_ENGINE_EDU		1

/* The edu engine moves at most this much at a time (QEMU 7.2's bound). */
#define REFGEM_EDU_MAX_LEN		4095

/*
 * struct drm_refgem_dma - move data between a BO and user memory the way
 * the device sees the BO: through its DMA mapping (created on first use as
 * by DRM_IOCTL_REFGEM_SGT_MAP)
 *
 * REFGEM_ENGINE_SW walks the mapping by DMA address, translating through
 * the IOMMU when one translates for the device, else dma-direct (swiotlb
 * bounce buffers included), with the dma_sync calls a device transfer
 * needs, for the range it moves only (a transfer costs the same on a small
 * and a large BO). Creating the mapping fails as DRM_IOCTL_REFGEM_SGT_MAP
 * does (EDQUOT, EIO, ENOMEM). REFGEM_ENGINE_EDU makes the edu device's DMA engine do the
 * transfer, bouncing through the driver-owned scratch table; its range
 * must be at most REFGEM_EDU_MAX_LEN bytes (E2BIG) and lie in one DMA
 * segment (EINVAL), and takes about 100 ms. Every argument is checked
 * before user memory is touched: a bad range is its errno, not EFAULT,
 * whatever @user_ptr is.
 *
 * @handle: in; ENOENT if it names no BO of this file.
 * @op: in, REFGEM_DMA_TO_USER or REFGEM_DMA_FROM_USER, else EINVAL.
 * @engine: in, REFGEM_ENGINE_SW or REFGEM_ENGINE_EDU, else EINVAL.
 * @flags: in, must be 0, else EINVAL.
 * @offset: in, byte offset into the BO.
 * @length: in, bytes; 0 or a range past the BO's end is EINVAL.
 * @user_ptr: in, the user buffer; EFAULT when it is not accessible.
 */
struct drm_refgem_dma {
	__u32 handle;
	__u32 op;
	__u32 engine;
	__u32 flags;
	__u64 offset;
	__u64 length;
	__u64 user_ptr;
};

#define DRM_IOCTL_REFGEM_GEM_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_REFGEM_GEM_CREATE, \
		 struct drm_refgem_gem_create)
#define DRM_IOCTL_REFGEM_GEM_MMAP_OFFSET \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_REFGEM_GEM_MMAP_OFFSET, \
		 struct drm_refgem_gem_mmap_offset)
#define DRM_IOCTL_REFGEM_SGT_MAP \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_REFGEM_SGT_MAP, \
		 struct drm_refgem_sgt_map)
#define DRM_IOCTL_REFGEM_DMA \
	DRM_IOW(DRM_COMMAND_BASE + DRM_REFGEM_DMA, struct drm_refgem_dma)

/*
 * refgem's debugfs counters, in the order its files print their
 * "name value" lines (<debugfs>/refgem/counters, module-wide, and
 * <debugfs>/dri/<minor>/refgem_counters, per device), and their names in
 * the same order. Not an ioctl ABI but the test suites' stable view of the
 * driver, here so that the driver and the suites' library share one list.
 * New counters go at the end of both.
 */
enum refgem_counter {
	REFGEM_C_BOS_ALIVE,
	REFGEM_C_BOS_CREATED,
	REFGEM_C_MAPS_LIVE,
	REFGEM_C_MAPS_CREATED,
	REFGEM_C_MAPS_REVOKED,
	REFGEM_C_MAPS_RELEASED,
	REFGEM_C_LATE_UNMAPS,
	REFGEM_C_WRONG_DEVICE,
	REFGEM_C_DMA_TRANSFERS,
	REFGEM_C_BOUNCED_SEGMENTS,
	REFGEM_C_PAGES_PINNED,
	REFGEM_C_OWNED_MAPS_LIVE,
	REFGEM_C_NR
};

#define REFGEM_COUNTER_NAMES {						\
	"bos_alive", "bos_created", "maps_live", "maps_created",	\
	"maps_revoked", "maps_released", "late_unmaps", "wrong_device",	\
	"dma_transfers", "bounced_segments", "pages_pinned",		\
	"owned_maps_live",						\
}

#if defined(__cplusplus)
}
#endif

#endif /* _UAPI_REFGEM_DRM_H_ */
