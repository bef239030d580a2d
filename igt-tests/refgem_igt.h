/* SPDX-License-Identifier: MIT */
/*
 * What every refgem IGT test includes instead of igt.h.
 *
 * Built inside or against an IGT source tree (REFGEM_HAVE_IGT_TREE) it is
 * IGT's own igt.h; built against a distribution's libigt.so.0, which ships
 * no headers, it is our igt_decls.h. Test sources are the same either way,
 * so they may only use what igt_decls.h declares.
 */
#ifndef REFGEM_IGT_H
#define REFGEM_IGT_H

#ifdef REFGEM_HAVE_IGT_TREE
#include "igt.h"
#include "igt_device_scan.h"
#else
#include "igt_decls.h"
#endif

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "refgem.h"

/*
 * refgem_igt_open_driver - open a refgem node through IGT's device selection
 * @node: REFGEM_NODE_PRIMARY or REFGEM_NODE_RENDER
 *
 * IGT has no DRIVER_* bit for refgem, so drm_open_driver(DRIVER_ANY) would
 * take the first card of any driver. When the user chose nothing
 * (no IGT_FORCE_DRIVER, no --device / IGT_DEVICE filter) narrow the choice to
 * refgem exactly as IGT_FORCE_DRIVER=refgem would; otherwise honour the
 * choice and skip, saying why, if it is not a refgem device.
 *
 * With no refgem device at all, skip before drm_open_driver(): on a failed
 * search IGT modprobes every driver in its table.
 *
 * Call it from an igt_fixture. Returns the fd.
 */
static inline int refgem_igt_open_driver(enum refgem_node node)
{
	char name[64] = "";
	int fd;

	igt_require_f(refgem_count_devices(REFGEM_DRIVER_NAME) > 0,
		      "no DRM device is bound to the %s driver\n",
		      REFGEM_DRIVER_NAME);

	if (!getenv("IGT_FORCE_DRIVER") && !igt_device_filter_count())
		__set_forced_driver(REFGEM_DRIVER_NAME);

	if (node == REFGEM_NODE_RENDER)
		fd = drm_open_driver_render(DRIVER_ANY);
	else
		fd = drm_open_driver(DRIVER_ANY);

	igt_assert_eq(refgem_fd_driver(fd, name, sizeof(name)), 0);
	if (strcmp(name, REFGEM_DRIVER_NAME))
		close(fd);
	igt_require_f(!strcmp(name, REFGEM_DRIVER_NAME),
		      "device selection picked %s, not %s: see IGT_FORCE_DRIVER, IGT_DEVICE, --device\n",
		      name, REFGEM_DRIVER_NAME);

	return fd;
}

#endif /* REFGEM_IGT_H */
