/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one place where refgem follows DRM API changes across kernels
 * (built against Debian's 6.1 and 6.12).
 */
#ifndef REFGEM_COMPAT_H
#define REFGEM_COMPAT_H

#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/module.h>

#include <drm/drm_gem_shmem_helper.h>
#include <drm/drm_prime.h>

/*
 * Feature flags come from Kbuild's header probes (REFGEM_HAVE_*, REFGEM_NO_*).
 *
 * Before 6.6 a driver had to name the PRIME fd<->handle and dma-buf mmap
 * helpers itself; 6.6 made them the core's default and removed the hooks.
 */
#ifdef REFGEM_HAVE_PRIME_HOOKS
#define REFGEM_PRIME_HOOKS \
	.prime_handle_to_fd = drm_gem_prime_handle_to_fd, \
	.prime_fd_to_handle = drm_gem_prime_fd_to_handle, \
	.gem_prime_mmap = drm_gem_prime_mmap,
#else
#define REFGEM_PRIME_HOOKS
#endif

/*
 * The lock that guards a shmem BO's pages and sgt: a mutex of its own up to
 * 6.1, the BO's reservation lock since 6.5.
 */
#ifdef REFGEM_HAVE_SHMEM_PAGES_LOCK
static inline void refgem_shmem_lock(struct drm_gem_shmem_object *shmem)
{
	mutex_lock(&shmem->pages_lock);
}

static inline void refgem_shmem_unlock(struct drm_gem_shmem_object *shmem)
{
	mutex_unlock(&shmem->pages_lock);
}
#else
static inline void refgem_shmem_lock(struct drm_gem_shmem_object *shmem)
{
	dma_resv_lock(shmem->base.resv, NULL);
}

static inline void refgem_shmem_unlock(struct drm_gem_shmem_object *shmem)
{
	dma_resv_unlock(shmem->base.resv);
}
#endif

/*
 * 6.2 split dma-buf mapping calls into ones that expect the reservation
 * lock held and *_unlocked() ones that take it.
 */
#ifdef REFGEM_NO_DMA_BUF_UNLOCKED
#define refgem_dma_buf_map_attachment dma_buf_map_attachment
#define refgem_dma_buf_unmap_attachment dma_buf_unmap_attachment
#else
#define refgem_dma_buf_map_attachment dma_buf_map_attachment_unlocked
#define refgem_dma_buf_unmap_attachment dma_buf_unmap_attachment_unlocked
#endif

/* 6.13 made symbol namespaces string literals. */
#ifdef REFGEM_HAVE_NS_IDENT
#define REFGEM_IMPORT_NS_DMA_BUF MODULE_IMPORT_NS(DMA_BUF)
#define REFGEM_IMPORT_NS_KUNIT MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING)
#else
#define REFGEM_IMPORT_NS_DMA_BUF MODULE_IMPORT_NS("DMA_BUF")
#define REFGEM_IMPORT_NS_KUNIT MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING")
#endif

#endif /* REFGEM_COMPAT_H */
