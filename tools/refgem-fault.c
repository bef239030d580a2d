// SPDX-License-Identifier: MIT
/*
 * refgem-fault OP: systematic fault injection into one refgem call.
 *
 * For N = 1, 2, ... the N-th fault-injectable allocation (failslab,
 * fail_page_alloc) of this thread inside OP fails, through
 * /proc/thread-self/fail-nth, until OP completes without reaching an N-th
 * one. Each time the call must fail cleanly (ENOMEM; ENOSPC when shmem
 * cannot make the BO's file) or cope, the same call made again must work,
 * and once everything is closed refgem's counters and the swiotlb usage
 * must be back where they were.
 * The debugfs knobs that let GFP_KERNEL and highmem allocations fail at
 * all are set by the caller (tools/tests/guest-debug/refgem_fault).
 *
 * Prints one line per N; exit status 0 when every N was clean, 1 when
 * not, 4 (kselftest's skip) without a refgem device or fail-nth.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "refgem.h"

#define BO_SIZE		(64 * 1024)
#define EDU_LEN		64
#define MAX_N		10000
#define KSFT_SKIP	4
#define SWIOTLB_USED	"/sys/kernel/debug/swiotlb/io_tlb_used"

/* The counters an injected failure must leave where they were. */
static const enum refgem_counter_id counters[] = {
	REFGEM_C_BOS_ALIVE, REFGEM_C_MAPS_LIVE, REFGEM_C_PAGES_PINNED,
	REFGEM_C_OWNED_MAPS_LIVE,
};

#define N_COUNTERS (sizeof(counters) / sizeof(counters[0]))

struct snapshot {
	long val[N_COUNTERS];
	long swiotlb;	/* -1: no swiotlb pool */
};

/* What one OP needs: made before the injected call, freed after it. */
struct ctx {
	int fd;			/* render node of refgem device 0 */
	char node[64];		/* its path, for "open" */
	int vgem;		/* vgem, the foreign exporter for prime-import */
	int fd2;		/* refgem device 1, prime-import-refgem's exporter */
	char bdf2[32];		/* its PCI address, for "bind" */
	int bind;		/* /sys/bus/pci/drivers/refgem/bind */
	uint32_t handle;	/* the BO the call works on */
	void *map;		/* its CPU mapping (dma ops) */
	int dmabuf;		/* prime-export's result, prime-import's input */
	uint32_t exp_handle;	/* the exporter's BO for the import ops */
	uint32_t imported;
	int opened;		/* "open"'s result */
	unsigned char buf[BO_SIZE];
};

struct op {
	const char *name;
	int (*setup)(struct ctx *c);
	/* The call under injection; 0 or a negative errno. */
	int (*call)(struct ctx *c);
	/* After a successful call: its result is right. */
	int (*check)(struct ctx *c);
	void (*undo)(struct ctx *c);	/* what a successful call made */
};

static int take(struct snapshot *s)
{
	struct refgem_counters all;
	char buf[32];
	size_t i;
	int ret;

	ret = refgem_counters_read(&all);
	if (ret)
		return ret;
	for (i = 0; i < N_COUNTERS; i++)
		s->val[i] = all.v[counters[i]];
	s->swiotlb = -1;
	if (!gemlib_sysfs_read(SWIOTLB_USED, buf, sizeof(buf)))
		s->swiotlb = strtol(buf, NULL, 10);
	return 0;
}

/* Print how now differs from then; the number of differences. */
static int compare(const struct snapshot *then, const struct snapshot *now)
{
	int bad = 0;
	size_t i;

	for (i = 0; i < N_COUNTERS; i++) {
		if (then->val[i] == now->val[i])
			continue;
		printf("    %s %ld -> %ld\n", refgem_counter_names[counters[i]],
		       then->val[i], now->val[i]);
		bad++;
	}
	if (then->swiotlb != now->swiotlb) {
		printf("    swiotlb io_tlb_used %ld -> %ld\n", then->swiotlb,
		       now->swiotlb);
		bad++;
	}
	return bad;
}

static int bo_setup(struct ctx *c)
{
	return refgem_bo_create(c->fd, BO_SIZE, 0, &c->handle);
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
	memset(c->buf, 0, sizeof(c->buf));
	return 0;
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

static int open_check(struct ctx *c)
{
	uint32_t handle;
	int ret;

	/* The new file works: a BO can be made in it. */
	ret = refgem_bo_create(c->opened, 4096, 0, &handle);
	if (!ret)
		ret = gemlib_gem_close(c->opened, handle);
	return ret;
}

static void open_undo(struct ctx *c)
{
	close(c->opened);
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

static int sgt_map_check(struct ctx *c)
{
	struct drm_refgem_sgt_map m;
	int ret;

	/* Made by the call: the next one finds it. */
	ret = refgem_sgt_map(c->fd, c->handle, -1, &m);
	if (ret)
		return ret;
	if (m.status & REFGEM_SGT_CREATED || m.dma_len != BO_SIZE) {
		printf("    mapping made again (status %u) or of %llu bytes\n",
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

static int dma_sw_check(struct ctx *c)
{
	size_t bad = gemlib_pattern_check(c->buf, BO_SIZE, 0x5eed);

	if (bad != (size_t)-1) {
		printf("    DMA read wrong data at byte %zu\n", bad);
		return -EPROTO;
	}
	return 0;
}

static int dma_edu_call(struct ctx *c)
{
	return refgem_dma(c->fd, c->handle, REFGEM_DMA_TO_USER,
			  REFGEM_ENGINE_EDU, 0, EDU_LEN, c->buf);
}

static int dma_edu_check(struct ctx *c)
{
	if (memcmp(c->buf, c->map, EDU_LEN)) {
		printf("    edu DMA read wrong data\n");
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

static int import_call(struct ctx *c)
{
	return gemlib_prime_import(c->fd, c->dmabuf, &c->imported);
}

static int import_check(struct ctx *c)
{
	/* Imports map at import: the mapping is there already. */
	struct drm_refgem_sgt_map m;
	int ret;

	ret = refgem_sgt_map(c->fd, c->imported, -1, &m);
	if (!ret && m.status & REFGEM_SGT_CREATED) {
		printf("    imported BO had no mapping\n");
		return -EPROTO;
	}
	return ret;
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

static int bind_check(struct ctx *c)
{
	uint32_t handle;
	int fd, ret;

	/* Bound, with a node that works. */
	fd = gemlib_open_bdf(c->bdf2, GEMLIB_NODE_RENDER, 10000);
	if (fd < 0)
		return fd;
	ret = refgem_bo_create(fd, 4096, 0, &handle);
	if (!ret)
		ret = refgem_sgt_map(fd, handle, -1, NULL);
	close(fd);
	return ret;
}

static void undo_create(struct ctx *c)
{
	gemlib_gem_close(c->fd, c->handle);
}

static const struct op ops[] = {
	{ "open", open_setup, open_call, open_check, open_undo },
	{ "create", NULL, create_call, NULL, undo_create },
	{ "mmap-offset", bo_setup, mmap_offset_call, NULL, NULL },
	{ "sgt-map", bo_setup, sgt_map_call, sgt_map_check, NULL },
	{ "dma-sw", mapped_bo_setup, dma_sw_call, dma_sw_check, NULL },
	{ "dma-edu", mapped_bo_setup, dma_edu_call, dma_edu_check, NULL },
	{ "prime-export", bo_setup, export_call, NULL, export_undo },
	{ "prime-import", import_setup, import_call, import_check,
	  import_undo },
	{ "prime-import-refgem", import_refgem_setup, import_call,
	  import_check, import_undo },
	/* Not run by default: see tools/tests/guest-debug/refgem_fault. */
	{ "bind", bind_setup, bind_call, bind_check, NULL },
};

#define N_OPS (sizeof(ops) / sizeof(ops[0]))

/* Free what setup made (not what the call made: op->undo does that). */
static void teardown(const struct op *op, struct ctx *c)
{
	if (c->map)
		munmap(c->map, BO_SIZE);
	c->map = NULL;
	if (op->setup == bind_setup) {
		close(c->bind);
		/* Device 1 is bound again whatever happened. */
		if (gemlib_pci_is_bound(REFGEM_DRIVER_NAME, c->bdf2) != 1)
			gemlib_pci_bind(REFGEM_DRIVER_NAME, c->bdf2);
	} else if (op->setup == import_setup ||
		   op->setup == import_refgem_setup) {
		close(c->dmabuf);
		gemlib_gem_close(op->setup == import_setup ? c->vgem : c->fd2,
				c->exp_handle);
	} else if (op->setup && op->setup != open_setup) {
		/* The BO of every other op's setup. */
		gemlib_gem_close(c->fd, c->handle);
	}
}

static bool clean_errno(const struct op *op, int err)
{
	/* shmem_file_setup() reports a failed inode allocation as ENOSPC. */
	return err == -ENOMEM || (op->call == create_call && err == -ENOSPC);
}

static int set_fail_nth(int fd, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(fd, buf, len, 0) == len ? 0 : -errno;
}

/*
 * One call with its N-th fault point failing. Returns 1 when the call got
 * that far (a failure was injected), 0 when it completed before it, or a
 * negative errno when the harness itself failed; *problems counts what
 * was wrong.
 */
static int inject(const struct op *op, struct ctx *c, int nth,
		  unsigned int n, int *problems)
{
	struct snapshot before, after;
	char buf[16] = "";
	int ret, again, injected;

	ret = take(&before);
	if (!ret && op->setup)
		ret = op->setup(c);
	if (ret) {
		printf("N=%u: setup failed: %s\n", n, strerror(-ret));
		return ret;
	}
	ret = set_fail_nth(nth, n);
	if (ret) {
		teardown(op, c);
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
		teardown(op, c);
		return injected;
	}

	if (!injected && ret) {
		printf("N=%u: not injected, and the call failed: %s\n", n,
		       strerror(-ret));
		(*problems)++;
	} else if (!n) {
		printf("without injection: the call works\n");
	} else if (!injected) {
		printf("N=%u: not injected: the call has %u fault points\n",
		       n, n - 1);
	} else if (ret && !clean_errno(op, ret)) {
		printf("N=%u: injected: unexpected error %d (%s)\n", n, -ret,
		       strerror(-ret));
		(*problems)++;
	} else {
		printf("N=%u: injected: %s\n", n,
		       ret ? strerror(-ret) : "the call coped");
	}
	if (!ret && op->check && op->check(c)) {
		printf("N=%u: the call succeeded with a wrong result\n", n);
		(*problems)++;
	}
	if (!ret && op->undo)
		op->undo(c);

	/* Nothing the failure left behind stops the call from working. */
	if (ret) {
		again = op->call(c);
		if (again) {
			printf("N=%u: the call made again failed: %s\n", n,
			       strerror(-again));
			(*problems)++;
		} else {
			if (op->check && op->check(c)) {
				printf("N=%u: the call made again gave a wrong result\n",
				       n);
				(*problems)++;
			}
			if (op->undo)
				op->undo(c);
		}
	}
	teardown(op, c);

	ret = take(&after);
	if (ret)
		return ret;
	if (compare(&before, &after)) {
		printf("N=%u: refgem's counters did not come back (above)\n",
		       n);
		(*problems)++;
	}
	return injected;
}

int main(int argc, char **argv)
{
	const struct op *op = NULL;
	struct ctx *c;
	int nth, ret, problems = 0;
	unsigned int n, max = MAX_N;
	size_t i;

	for (i = 0; argc >= 2 && i < N_OPS; i++)
		if (!strcmp(argv[1], ops[i].name))
			op = &ops[i];
	if (argc > 2)
		max = strtoul(argv[2], NULL, 0);
	if (!op || argc > 3) {
		fprintf(stderr, "usage: %s OP [MAX_N]\nOP:", argv[0]);
		for (i = 0; i < N_OPS; i++)
			fprintf(stderr, " %s", ops[i].name);
		fprintf(stderr, "\n");
		return 2;
	}

	/*
	 * No page faults of our own between arming fail-nth and reading it
	 * back: a fault point there would be counted, and failed, instead of
	 * one in the call.
	 */
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		printf("mlockall: %s; page faults may take fault points\n",
		       strerror(errno));
	nth = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (nth < 0) {
		printf("no /proc/thread-self/fail-nth: %s\n", strerror(errno));
		return KSFT_SKIP;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return 1;
	c->dmabuf = -1;
	c->fd = gemlib_open_driver(REFGEM_DRIVER_NAME, GEMLIB_NODE_RENDER, 0);
	if (c->fd < 0) {
		printf("no refgem device: %s\n", strerror(-c->fd));
		return KSFT_SKIP;
	}
	c->vgem = -1;
	c->fd2 = -1;
	if (op->setup == import_refgem_setup || op->setup == bind_setup) {
		c->fd2 = gemlib_open_driver(REFGEM_DRIVER_NAME,
					    GEMLIB_NODE_RENDER, 1);
		if (c->fd2 < 0) {
			printf("no second refgem device: %s\n",
			       strerror(-c->fd2));
			return KSFT_SKIP;
		}
		ret = gemlib_fd_bdf(c->fd2, c->bdf2, sizeof(c->bdf2));
		if (ret) {
			printf("device 1's address: %s\n", strerror(-ret));
			return 1;
		}
	}
	if (op->setup == bind_setup) {
		/* It would hold on to the DRM device that the unbind ends. */
		close(c->fd2);
		c->fd2 = -1;
	}
	if (op->setup == import_setup) {
		c->vgem = gemlib_open_driver("vgem", GEMLIB_NODE_PRIMARY, 0);
		if (c->vgem < 0) {
			printf("no vgem device: %s\n", strerror(-c->vgem));
			return KSFT_SKIP;
		}
	}

	/* Once without a failure: every page our code needs is in. */
	ret = inject(op, c, nth, 0, &problems);
	if (ret < 0) {
		printf("without injection: %s\n", strerror(-ret));
		return 1;
	}
	for (n = 1; n <= max; n++) {
		ret = inject(op, c, nth, n, &problems);
		if (ret < 0) {
			printf("N=%u: %s\n", n, strerror(-ret));
			return 1;
		}
		if (!ret)
			break;
	}
	if (n > max) {
		printf("still injecting at N=%u\n", max);
		problems++;
	}
	printf("%s: %u fault points, %d problem(s)\n", op->name, n - 1,
	       problems);
	return problems ? 1 : 0;
}
