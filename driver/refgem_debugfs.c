// SPDX-License-Identifier: GPL-2.0-only
/*
 * refgem's debugfs oracles. /sys/kernel/debug/refgem/counters is
 * module-wide and survives unbind; one "name value" pair per line, a stable
 * format that the test suites parse.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "refgem_drv.h"

struct refgem_counters refgem_stats;

static struct dentry *refgem_debugfs_root;

static int refgem_counters_show(struct seq_file *m, void *unused)
{
	seq_printf(m, "bos_alive %ld\n",
		   atomic_long_read(&refgem_stats.bos_alive));
	seq_printf(m, "bos_created %ld\n",
		   atomic_long_read(&refgem_stats.bos_created));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(refgem_counters);

void refgem_debugfs_module_init(void)
{
	refgem_debugfs_root = debugfs_create_dir(REFGEM_NAME, NULL);
	debugfs_create_file("counters", 0444, refgem_debugfs_root, NULL,
			    &refgem_counters_fops);
}

void refgem_debugfs_module_exit(void)
{
	debugfs_remove_recursive(refgem_debugfs_root);
}
