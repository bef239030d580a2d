// SPDX-License-Identifier: GPL-2.0
/*
 * Systematic fault injection into refgem's calls, one test per call (a
 * kernel with fault injection, such as the debug targets'; elsewhere every
 * test skips and says why).
 *
 * For N = 1, 2, ... the N-th fault-injectable allocation (failslab,
 * fail_page_alloc) of this thread inside the call fails, through
 * /proc/thread-self/fail-nth, which fails it whatever `probability`,
 * `interval`, `times` or `space` say, until the call completes without
 * reaching an N-th one. Each time the call must fail cleanly (ENOMEM; for
 * create also ENOSPC, shmem's word for a failed inode) or cope, the same
 * call made again must work, and once everything is closed refgem's
 * bos_alive, maps_live, pages_pinned and owned_maps_live and swiotlb's
 * io_tlb_used must be back where they were. Each test also checks that
 * DMA-API debug's error_count did not move, and refgem_ksft.h's kernel log
 * and taint checks.
 *
 * By default failslab and fail_page_alloc leave GFP_KERNEL, highmem and
 * order-0 allocations alone, which are most of refgem's: each test lets
 * them fail (ignore-gfp-wait and ignore-gfp-highmem N, min-order 0), logs
 * one notice per injected failure (verbose 1: 2 would dump a stack at
 * warning level) and puts the knobs back at its end.
 *
 * fault.bind, refgem's probe of device 1, skips unless REFGEM_FAULT_BIND=1
 * (see bind_reason). fault.kmemleak, last: nothing allocated by this binary
 * is left unreferenced; REFGEM_FAULT_KMEMLEAK=0 skips it, for a runner whose
 * own kmemleak scan after the run, in the same boot, fails on any
 * unreferenced object, this binary's included.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "refgem_ksft.h"

#define BO_SIZE		(64 * 1024)
#define EDU_LEN		64
/* More fault points than any call has: a call that never completes. */
#define MAX_N		10000
/*
 * Per test. Under TCG on the debug kernel the longest, dma_edu, takes
 * about 25 s (each N costs an edu transfer) and kmemleak about 60 s.
 */
#define FAULT_TIMEOUT	300

#define DBG		"/sys/kernel/debug"
#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define DMA_ERRORS	DBG "/dma-api/error_count"

/* Without any of these the kernel has no fault injection to use. */
static const char *const needs[] = {
	DBG "/failslab", DBG "/fail_page_alloc", FAIL_NTH,
};

/*
 * What lets every allocation of this thread fail, and one notice line per
 * injected failure, naming failslab or fail_page_alloc.
 */
static const struct {
	const char *path;
	const char *val;
} knobs[] = {
	{ DBG "/failslab/ignore-gfp-wait", "N" },
	{ DBG "/fail_page_alloc/ignore-gfp-wait", "N" },
	{ DBG "/fail_page_alloc/ignore-gfp-highmem", "N" },
	{ DBG "/fail_page_alloc/min-order", "0" },
	{ DBG "/failslab/verbose", "1" },
	{ DBG "/fail_page_alloc/verbose", "1" },
};

/*
 * Not by default: refgem's probe includes pci_enable_device(), whose fault
 * points include ACPICA's, and a failed allocation there leaves 6.1's ACPI
 * namespace holding a freed object (KASAN: use-after-free in
 * acpi_ns_get_attached_object() at every later PCI enable or disable),
 * which would taint every test after it.
 */
static const char bind_reason[] =
	"REFGEM_FAULT_BIND=1 runs it: a failed allocation in pci_enable_device()'s ACPICA leaves 6.1's ACPI namespace with a freed object (KASAN use-after-free at every later PCI enable or disable)";

/* The counters an injected failure must leave where they were. */
static const enum refgem_counter counters[] = {
	REFGEM_C_BOS_ALIVE, REFGEM_C_MAPS_LIVE, REFGEM_C_PAGES_PINNED,
	REFGEM_C_OWNED_MAPS_LIVE,
};

struct snapshot {
	long val[ARRAY_SIZE(counters)];
	long io;	/* swiotlb's used slots; -1: no swiotlb pool */
};

/* What one call needs: made before the injected call, freed after it. */
struct ctx {
	int fd;			/* render node of refgem device 0 */
	char node[64];		/* its path, for "open" */
	int vgem;		/* vgem, the foreign exporter for prime_import */
	int fd2;		/* device 1, prime_import_refgem's exporter */
	char bdf2[32];		/* device 1's PCI address, for "bind" */
	int bind;		/* /sys/bus/pci/drivers/refgem/bind */
	uint32_t handle;	/* the BO the call works on */
	void *map;		/* its CPU mapping (the DMA calls) */
	int dmabuf;		/* prime_export's result, the imports' input */
	uint32_t exp_handle;	/* the exporter's BO for the imports */
	uint32_t imported;
	int opened;		/* "open"'s result */
	unsigned char *buf;	/* BO_SIZE bytes: the DMA calls' user buffer */
};

struct op {
	const char *name;
	int (*setup)(struct ctx *c);
	/* The call under injection; 0 or a negative errno. */
	int (*call)(struct ctx *c);
	/* After a successful call: its result is right (0), else logs why. */
	int (*check)(struct __test_metadata *_metadata, struct ctx *c);
	void (*undo)(struct ctx *c);	/* what a successful call made */
	void (*cleanup)(struct ctx *c);	/* what setup made */
	bool clean_enospc;		/* ENOSPC is a clean failure too */
};

static int take(struct snapshot *s)
{
	struct refgem_counters all;
	size_t i;
	int ret;

	ret = refgem_counters_read(&all);
	if (ret)
		return ret;
	for (i = 0; i < ARRAY_SIZE(counters); i++)
		s->val[i] = all.v[counters[i]];
	s->io = rk_io();
	return 0;
}

static int bo_setup(struct ctx *c)
{
	return refgem_bo_create(c->fd, BO_SIZE, 0, &c->handle);
}

static void bo_cleanup(struct ctx *c)
{
	gemlib_gem_close(c->fd, c->handle);
}

/* A BO with a CPU mapping that holds a pattern, not DMA-mapped yet. */
static int mapped_bo_setup(struct ctx *c)
{
	uint64_t offset;
	int ret;

	ret = bo_setup(c);
	if (!ret)
		ret = refgem_bo_mmap_offset(c->fd, c->handle, &offset);
	if (!ret)
		ret = gemlib_mmap(c->fd, offset, BO_SIZE,
				  PROT_READ | PROT_WRITE, &c->map);
	if (ret)
		return ret;
	gemlib_pattern_fill(c->map, BO_SIZE, 0x5eed);
	/* Fault the user buffer in now: only the call may meet a failure. */
	memset(c->buf, 0, BO_SIZE);
	return 0;
}

static void mapped_bo_cleanup(struct ctx *c)
{
	if (c->map)
		munmap(c->map, BO_SIZE);
	c->map = NULL;
	bo_cleanup(c);
}

static int open_setup(struct ctx *c)
{
	char link[64];
	ssize_t len;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", c->fd);
	len = readlink(link, c->node, sizeof(c->node) - 1);
	if (len < 0)
		return -errno;
	c->node[len] = '\0';
	return 0;
}

static int open_call(struct ctx *c)
{
	c->opened = open(c->node, O_RDWR | O_CLOEXEC);
	return c->opened < 0 ? -errno : 0;
}

static int open_check(struct __test_metadata *_metadata, struct ctx *c)
{
	uint32_t handle;
	int ret;

	/* The new file works: a BO can be made in it. */
	ret = refgem_bo_create(c->opened, 4096, 0, &handle);
	if (!ret)
		ret = gemlib_gem_close(c->opened, handle);
	if (ret)
		TH_LOG("    a BO in the new file: %s", strerror(-ret));
	return ret;
}

static void open_undo(struct ctx *c)
{
	close(c->opened);
	c->opened = -1;
}

static int create_call(struct ctx *c)
{
	return refgem_bo_create(c->fd, BO_SIZE, 0, &c->handle);
}

static int mmap_offset_call(struct ctx *c)
{
	uint64_t offset;

	return refgem_bo_mmap_offset(c->fd, c->handle, &offset);
}

static int sgt_map_call(struct ctx *c)
{
	return refgem_sgt_map(c->fd, c->handle, -1, NULL);
}

static int sgt_map_check(struct __test_metadata *_metadata, struct ctx *c)
{
	struct drm_refgem_sgt_map m;
	int ret;

	/* Made by the call: the next one finds it. */
	ret = refgem_sgt_map(c->fd, c->handle, -1, &m);
	if (ret) {
		TH_LOG("    SGT_MAP again: %s", strerror(-ret));
		return ret;
	}
	if (m.status & REFGEM_SGT_CREATED || m.dma_len != BO_SIZE) {
		TH_LOG("    mapping made again (status %u) or of %llu bytes",
		       m.status, (unsigned long long)m.dma_len);
		return -EPROTO;
	}
	return 0;
}

static int dma_sw_call(struct ctx *c)
{
	return refgem_dma(c->fd, c->handle, REFGEM_DMA_TO_USER,
			  REFGEM_ENGINE_SW, 0, BO_SIZE, c->buf);
}

static int dma_sw_check(struct __test_metadata *_metadata, struct ctx *c)
{
	size_t bad = gemlib_pattern_check(c->buf, BO_SIZE, 0x5eed);

	if (bad != (size_t)-1) {
		TH_LOG("    DMA read wrong data at byte %zu", bad);
		return -EPROTO;
	}
	return 0;
}

static int dma_edu_call(struct ctx *c)
{
	return refgem_dma(c->fd, c->handle, REFGEM_DMA_TO_USER,
			  REFGEM_ENGINE_EDU, 0, EDU_LEN, c->buf);
}

static int dma_edu_check(struct __test_metadata *_metadata, struct ctx *c)
{
	if (memcmp(c->buf, c->map, EDU_LEN)) {
		TH_LOG("    edu DMA read wrong data");
		return -EPROTO;
	}
	return 0;
}

static int export_call(struct ctx *c)
{
	return gemlib_prime_export(c->fd, c->handle, DRM_CLOEXEC | DRM_RDWR,
				   &c->dmabuf);
}

static void export_undo(struct ctx *c)
{
	close(c->dmabuf);
	c->dmabuf = -1;
}

/* A vgem BO's dma-buf: a foreign exporter. */
static int import_setup(struct ctx *c)
{
	uint64_t size;
	int ret;

	ret = gemlib_dumb_create(c->vgem, BO_SIZE, &c->exp_handle, &size);
	if (!ret)
		ret = gemlib_prime_export(c->vgem, c->exp_handle,
					  DRM_CLOEXEC | DRM_RDWR, &c->dmabuf);
	return ret;
}

static void import_cleanup(struct ctx *c)
{
	export_undo(c);
	gemlib_gem_close(c->vgem, c->exp_handle);
}

/* A BO of the other refgem device: refgem exports to itself. */
static int import_refgem_setup(struct ctx *c)
{
	int ret;

	ret = refgem_bo_create(c->fd2, BO_SIZE, 0, &c->exp_handle);
	if (!ret)
		ret = gemlib_prime_export(c->fd2, c->exp_handle,
					  DRM_CLOEXEC | DRM_RDWR, &c->dmabuf);
	return ret;
}

static void import_refgem_cleanup(struct ctx *c)
{
	export_undo(c);
	gemlib_gem_close(c->fd2, c->exp_handle);
}

static int import_call(struct ctx *c)
{
	return gemlib_prime_import(c->fd, c->dmabuf, &c->imported);
}

static int import_check(struct __test_metadata *_metadata, struct ctx *c)
{
	/* Imports map at import: the mapping is there already. */
	struct drm_refgem_sgt_map m;
	int ret;

	ret = refgem_sgt_map(c->fd, c->imported, -1, &m);
	if (ret) {
		TH_LOG("    SGT_MAP of the imported BO: %s", strerror(-ret));
		return ret;
	}
	if (m.status & REFGEM_SGT_CREATED) {
		TH_LOG("    imported BO had no mapping");
		return -EPROTO;
	}
	return 0;
}

static void import_undo(struct ctx *c)
{
	gemlib_gem_close(c->fd, c->imported);
}

/*
 * Probe under injection: device 1 is unbound first, and the call is the
 * write that binds it again, on a file opened beforehand.
 */
static int bind_setup(struct ctx *c)
{
	int ret;

	ret = gemlib_pci_unbind(REFGEM_DRIVER_NAME, c->bdf2);
	if (ret)
		return ret;
	c->bind = open("/sys/bus/pci/drivers/" REFGEM_DRIVER_NAME "/bind",
		       O_WRONLY | O_CLOEXEC);
	return c->bind < 0 ? -errno : 0;
}

static int bind_call(struct ctx *c)
{
	ssize_t len = strlen(c->bdf2);

	return pwrite(c->bind, c->bdf2, len, 0) == len ? 0 : -errno;
}

static int bind_check(struct __test_metadata *_metadata, struct ctx *c)
{
	uint32_t handle;
	int fd, ret;

	/* Bound, with a node that works. */
	fd = gemlib_open_bdf(c->bdf2, GEMLIB_NODE_RENDER, RK_WAIT_MS);
	if (fd < 0) {
		TH_LOG("    no render node of %s: %s", c->bdf2, strerror(-fd));
		return fd;
	}
	ret = refgem_bo_create(fd, 4096, 0, &handle);
	if (!ret)
		ret = refgem_sgt_map(fd, handle, -1, NULL);
	close(fd);
	if (ret)
		TH_LOG("    a mapped BO on %s: %s", c->bdf2, strerror(-ret));
	return ret;
}

static void bind_cleanup(struct ctx *c)
{
	close(c->bind);
	c->bind = -1;
	/* Device 1 is bound again whatever happened. */
	if (gemlib_pci_is_bound(REFGEM_DRIVER_NAME, c->bdf2) != 1)
		gemlib_pci_bind(REFGEM_DRIVER_NAME, c->bdf2);
}

static void create_undo(struct ctx *c)
{
	gemlib_gem_close(c->fd, c->handle);
}

static const struct op op_open = {
	.name = "open", .setup = open_setup, .call = open_call,
	.check = open_check, .undo = open_undo,
};
static const struct op op_create = {
	.name = "create", .call = create_call, .undo = create_undo,
	/* shmem_file_setup() reports a failed inode allocation as ENOSPC. */
	.clean_enospc = true,
};
static const struct op op_mmap_offset = {
	.name = "mmap_offset", .setup = bo_setup, .call = mmap_offset_call,
	.cleanup = bo_cleanup,
};
static const struct op op_sgt_map = {
	.name = "sgt_map", .setup = bo_setup, .call = sgt_map_call,
	.check = sgt_map_check, .cleanup = bo_cleanup,
};
static const struct op op_dma_sw = {
	.name = "dma_sw", .setup = mapped_bo_setup, .call = dma_sw_call,
	.check = dma_sw_check, .cleanup = mapped_bo_cleanup,
};
static const struct op op_dma_edu = {
	.name = "dma_edu", .setup = mapped_bo_setup, .call = dma_edu_call,
	.check = dma_edu_check, .cleanup = mapped_bo_cleanup,
};
static const struct op op_prime_export = {
	.name = "prime_export", .setup = bo_setup, .call = export_call,
	.undo = export_undo, .cleanup = bo_cleanup,
};
static const struct op op_prime_import = {
	.name = "prime_import", .setup = import_setup, .call = import_call,
	.check = import_check, .undo = import_undo,
	.cleanup = import_cleanup,
};
static const struct op op_prime_import_refgem = {
	.name = "prime_import_refgem", .setup = import_refgem_setup,
	.call = import_call, .check = import_check, .undo = import_undo,
	.cleanup = import_refgem_cleanup,
};
static const struct op op_bind = {
	.name = "bind", .setup = bind_setup, .call = bind_call,
	.check = bind_check, .cleanup = bind_cleanup,
};

static int set_fail_nth(int fd, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(fd, buf, len, 0) == len ? 0 : -errno;
}

static bool clean_errno(const struct op *op, int err)
{
	return err == -ENOMEM || (op->clean_enospc && err == -ENOSPC);
}

/* Log how @now differs from @then, with an EXPECT for each difference. */
static void expect_back(struct __test_metadata *_metadata, unsigned int n,
			const struct snapshot *then,
			const struct snapshot *now)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(counters); i++) {
		EXPECT_EQ(then->val[i], now->val[i])
			TH_LOG("N=%u: refgem's %s %ld -> %ld: it did not come back",
			       n, refgem_counter_names[counters[i]],
			       then->val[i], now->val[i]);
	}
	EXPECT_EQ(then->io, now->io)
		TH_LOG("N=%u: swiotlb io_tlb_used %ld -> %ld: it did not come back",
		       n, then->io, now->io);
}

/*
 * One call with its N-th fault point failing (none when @n is 0). Returns 1
 * when the call got that far (a failure was injected), 0 when it completed
 * before it, or a negative errno when the test itself could not go on;
 * what the call did wrong fails the test through EXPECTs.
 */
static int inject(struct __test_metadata *_metadata, const struct op *op,
		  struct ctx *c, int nth, unsigned int n)
{
	struct snapshot before, after;
	char buf[16] = "";
	int ret, again, injected;

	ret = take(&before);
	if (!ret && op->setup)
		ret = op->setup(c);
	if (ret) {
		TH_LOG("N=%u: setup failed: %s", n, strerror(-ret));
		return ret;
	}
	ret = set_fail_nth(nth, n);
	if (ret) {
		if (op->cleanup)
			op->cleanup(c);
		return ret;
	}
	ret = op->call(c);
	/* Read back before anything else can meet the fault point. */
	if (pread(nth, buf, sizeof(buf) - 1, 0) < 0)
		injected = -errno;
	else
		injected = n && atoi(buf) == 0;
	set_fail_nth(nth, 0);
	if (injected < 0) {
		if (op->cleanup)
			op->cleanup(c);
		return injected;
	}

	if (!injected && ret) {
		EXPECT_EQ(0, ret)
			TH_LOG("N=%u: not injected, and the call failed: %s",
			       n, strerror(-ret));
	} else if (!n) {
		TH_LOG("without injection: the call works");
	} else if (!injected) {
		TH_LOG("N=%u: not injected: the call has %u fault points", n,
		       n - 1);
	} else if (ret && !clean_errno(op, ret)) {
		EXPECT_TRUE(clean_errno(op, ret))
			TH_LOG("N=%u: injected: unexpected error %d (%s)", n,
			       -ret, strerror(-ret));
	} else {
		TH_LOG("N=%u: injected: %s", n,
		       ret ? strerror(-ret) : "the call coped");
	}
	if (!ret && op->check) {
		EXPECT_EQ(0, op->check(_metadata, c))
			TH_LOG("N=%u: the call succeeded with a wrong result",
			       n);
	}
	if (!ret && op->undo)
		op->undo(c);

	/* Nothing the failure left behind stops the call from working. */
	if (ret) {
		again = op->call(c);
		EXPECT_EQ(0, again)
			TH_LOG("N=%u: the call made again failed: %s", n,
			       strerror(-again));
		if (!again && op->check) {
			EXPECT_EQ(0, op->check(_metadata, c))
				TH_LOG("N=%u: the call made again gave a wrong result",
				       n);
		}
		if (!again && op->undo)
			op->undo(c);
	}
	if (op->cleanup)
		op->cleanup(c);

	ret = take(&after);
	if (ret)
		return ret;
	expect_back(_metadata, n, &before, &after);
	return injected;
}

FIXTURE(fault) {
	struct rk_oracle o;
	long dma_errors;	/* DMA-API debug's at the start; -1: none */
	char saved[ARRAY_SIZE(knobs)][32];	/* each knob's old value */
	bool knob_set[ARRAY_SIZE(knobs)];
	int nth;		/* /proc/thread-self/fail-nth */
	struct ctx c;
};

FIXTURE_SETUP(fault)
{
	size_t i;

	/* Before any SKIP: teardown runs after a skipped setup too. */
	self->nth = -1;
	self->dma_errors = -1;
	self->c.fd = self->c.fd2 = self->c.vgem = -1;
	self->c.bind = self->c.dmabuf = self->c.opened = -1;
	if (!rk_begin(_metadata, &self->o, ""))
		return;
	for (i = 0; i < ARRAY_SIZE(needs); i++)
		if (access(needs[i], F_OK))
			SKIP(return, "no %s (%s): no fault injection in this kernel (CONFIG_FAULT_INJECTION_DEBUG_FS, CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC)",
			     needs[i], strerror(errno));
	if (gemlib_read_long(DMA_ERRORS, &self->dma_errors)) {
		self->dma_errors = -1;
		TH_LOG("no DMA-API debug (%s): its error_count is not checked",
		       DMA_ERRORS);
	}
}

FIXTURE_TEARDOWN(fault)
{
	struct ctx *c = &self->c;
	long errors;
	size_t i;
	int ret;

	if (c->map)
		munmap(c->map, BO_SIZE);
	if (c->dmabuf >= 0)
		close(c->dmabuf);
	if (c->opened >= 0)
		close(c->opened);
	if (c->bind >= 0)
		close(c->bind);
	if (c->vgem >= 0)
		close(c->vgem);
	if (c->fd2 >= 0)
		close(c->fd2);
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	if (self->nth >= 0)
		close(self->nth);
	/* Device 1 is bound again, whatever a failed bind test left. */
	if (c->bdf2[0]) {
		ret = rk_restore(c->bdf2, RK_UNBIND);
		EXPECT_EQ(0, ret) TH_LOG("rebinding %s: %s", c->bdf2,
					 strerror(-ret));
	}
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		if (!self->knob_set[i])
			continue;
		ret = gemlib_sysfs_write(knobs[i].path, self->saved[i]);
		EXPECT_EQ(0, ret) TH_LOG("putting %s back to %s: %s",
					 knobs[i].path, self->saved[i],
					 strerror(-ret));
	}
	if (self->dma_errors >= 0) {
		ret = gemlib_read_long(DMA_ERRORS, &errors);
		EXPECT_EQ(0, ret) TH_LOG("reading %s: %s", DMA_ERRORS,
					 strerror(-ret));
		if (!ret) {
			EXPECT_EQ(self->dma_errors, errors)
				TH_LOG("DMA-API debug error_count %ld -> %ld: it found a DMA API misuse during the test",
				       self->dma_errors, errors);
		}
	}
	rk_check_kernel(_metadata, &self->o);
}

/* Let every allocation fail; the teardown puts each knob back. */
static void set_knobs(struct __test_metadata *_metadata,
		      FIXTURE_DATA(fault) *self)
{
	size_t i;
	char *nl;
	int ret;

	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		ret = gemlib_sysfs_read(knobs[i].path, self->saved[i],
					sizeof(self->saved[i]));
		ASSERT_EQ(0, ret) TH_LOG("reading %s: %s", knobs[i].path,
					 strerror(-ret));
		nl = strchr(self->saved[i], '\n');
		if (nl)
			*nl = '\0';
		ret = gemlib_sysfs_write(knobs[i].path, knobs[i].val);
		ASSERT_EQ(0, ret) TH_LOG("setting %s to %s: %s",
					 knobs[i].path, knobs[i].val,
					 strerror(-ret));
		self->knob_set[i] = true;
	}
}

/* The test of @op: its fault points one after another. */
static void fault_run(struct __test_metadata *_metadata,
		      FIXTURE_DATA(fault) *self, const struct op *op)
{
	struct ctx *c = &self->c;
	unsigned int n;
	int ret;

	/* 6.1's harness runs the test body even when its setup skipped. */
	if (_metadata->skip)
		return;
	c->buf = malloc(BO_SIZE);
	ASSERT_NE(NULL, c->buf);
	c->fd = gemlib_open_driver(REFGEM_DRIVER_NAME, GEMLIB_NODE_RENDER, 0);
	if (c->fd < 0)
		SKIP(return, "no refgem device: %s", strerror(-c->fd));
	if (op == &op_prime_import_refgem || op == &op_bind) {
		c->fd2 = rk_open_device(1, c->bdf2, sizeof(c->bdf2));
		if (c->fd2 < 0)
			SKIP(return, "no second refgem device: %s",
			     strerror(-c->fd2));
	}
	if (op == &op_bind) {
		/* It would hold on to the DRM device that the unbind ends. */
		close(c->fd2);
		c->fd2 = -1;
	}
	if (op == &op_prime_import) {
		c->vgem = gemlib_open_driver("vgem", GEMLIB_NODE_PRIMARY, 0);
		if (c->vgem < 0)
			SKIP(return, "no vgem device: %s", strerror(-c->vgem));
	}
	set_knobs(_metadata, self);

	/*
	 * No page faults of our own between arming fail-nth and reading it
	 * back: a fault point there would be counted, and failed, instead of
	 * one in the call.
	 */
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		TH_LOG("mlockall: %s; page faults may take fault points",
		       strerror(errno));
	self->nth = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->nth) TH_LOG("%s: %s", FAIL_NTH, strerror(errno));

	/* Once without a failure: every page our code needs is in. */
	ret = inject(_metadata, op, c, self->nth, 0);
	ASSERT_LE(0, ret) TH_LOG("without injection: %s", strerror(-ret));
	for (n = 1; n <= MAX_N; n++) {
		ret = inject(_metadata, op, c, self->nth, n);
		ASSERT_LE(0, ret) TH_LOG("N=%u: %s", n, strerror(-ret));
		if (!ret)
			break;
	}
	EXPECT_GE(MAX_N, n)
		TH_LOG("still injecting at N=%u: the call never completes",
		       MAX_N);
	TH_LOG("%s: %u fault points", op->name, n - 1);
}

TEST_F_TIMEOUT(fault, open, FAULT_TIMEOUT)
{
	fault_run(_metadata, self, &op_open);
}

TEST_F_TIMEOUT(fault, create, FAULT_TIMEOUT)
{
	fault_run(_metadata, self, &op_create);
}

TEST_F_TIMEOUT(fault, mmap_offset, FAULT_TIMEOUT)
{
	fault_run(_metadata, self, &op_mmap_offset);
}

TEST_F_TIMEOUT(fault, sgt_map, FAULT_TIMEOUT)
{
	fault_run(_metadata, self, &op_sgt_map);
}

TEST_F_TIMEOUT(fault, dma_sw, FAULT_TIMEOUT)
{
	fault_run(_metadata, self, &op_dma_sw);
}

TEST_F_TIMEOUT(fault, dma_edu, FAULT_TIMEOUT)
{
	fault_run(_metadata, self, &op_dma_edu);
}

TEST_F_TIMEOUT(fault, prime_export, FAULT_TIMEOUT)
{
	fault_run(_metadata, self, &op_prime_export);
}

/* A vgem BO's dma-buf. */
TEST_F_TIMEOUT(fault, prime_import, FAULT_TIMEOUT)
{
	fault_run(_metadata, self, &op_prime_import);
}

/* The other refgem device's BO. */
TEST_F_TIMEOUT(fault, prime_import_refgem, FAULT_TIMEOUT)
{
	fault_run(_metadata, self, &op_prime_import_refgem);
}

TEST_F_TIMEOUT(fault, bind, FAULT_TIMEOUT)
{
	const char *env = getenv("REFGEM_FAULT_BIND");

	if (_metadata->skip)
		return;
	if (!env || strcmp(env, "1"))
		SKIP(return, "%s", bind_reason);
	fault_run(_metadata, self, &op_bind);
}

/*
 * Last: nothing this binary allocated is left unreferenced. kmemleak
 * reports nothing younger than 5 s; two scans, as its documentation
 * advises against transient false positives.
 */
static void fault_leak(const char *report, void *arg)
{
	struct __test_metadata *_metadata = arg;

	TH_LOG("%.*s", (int)strlen(report) - 1, report);
}

TEST_F_TIMEOUT(fault, kmemleak, FAULT_TIMEOUT)
{
	const char *env = getenv("REFGEM_FAULT_KMEMLEAK");
	char comm[32], *nl;
	int ret, leaks;

	if (_metadata->skip)
		return;
	if (env && !strcmp(env, "0"))
		SKIP(return, "REFGEM_FAULT_KMEMLEAK=0: the runner scans for leaks after the run");
	/* The tests' processes: this binary's name, as the kernel cuts it. */
	ret = gemlib_sysfs_read("/proc/self/comm", comm, sizeof(comm));
	ASSERT_EQ(0, ret) TH_LOG("/proc/self/comm: %s", strerror(-ret));
	nl = strchr(comm, '\n');
	if (nl)
		*nl = '\0';

	sleep(6);
	leaks = gemlib_kmemleak(2, comm, fault_leak, _metadata);
	if (gemlib_kmemleak_absent(leaks))
		SKIP(return, "kmemleak is off or absent: %s", strerror(-leaks));
	ASSERT_LE(0, leaks) TH_LOG("reading kmemleak: %s", strerror(-leaks));
	EXPECT_EQ(0, leaks)
		TH_LOG("%d unreferenced object(s) allocated by %s (above)",
		       leaks, comm);
}

TEST_HARNESS_MAIN
