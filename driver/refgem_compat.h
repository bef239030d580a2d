/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one place where refgem follows DRM API changes across kernels
 * (built against Debian's 6.1 and 6.12).
 */
#ifndef REFGEM_COMPAT_H
#define REFGEM_COMPAT_H

#include <drm/drm_prime.h>

/*
 * Feature flags come from Kbuild's header probes (REFGEM_HAVE_*).
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

#endif /* REFGEM_COMPAT_H */
