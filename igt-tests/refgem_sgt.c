// SPDX-License-Identifier: MIT
/*
 * refgem's DMA-mapped sg_tables: made once per object for its own device
 * only, shaped by the device's segment limit, and showing the device the
 * same bytes the CPU sees through mmap (bounce buffers and IOVAs included).
 */

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "refgem_igt.h"

IGT_TEST_DESCRIPTION("refgem's sg_table mappings: creation, device checks, shape and device DMA.");

/* More than one 256 KiB swiotlb segment, and not a whole number of them. */
#define BULK_SIZE ((1 << 20) + (8 << 10))
#define SWIOTLB_USED "/sys/kernel/debug/swiotlb/io_tlb_used"
/* swiotlb slots are 2 KiB (IO_TLB_SHIFT). */
#define SWIOTLB_SLOT 2048

/* Spots for the edu engine: each inside one page, so inside one segment. */
static const struct spot {
	uint64_t page, offset, len;
} spots[] = {
	{ 0, 0, REFGEM_EDU_MAX_LEN },
	{ 100, 17, 1000 },
	{ BULK_SIZE / 4096 - 1, 4096 - 512, 512 },
};

static void sgt_map(int fd, uint32_t handle, struct drm_refgem_sgt_map *out)
{
	int ret = refgem_sgt_map(fd, handle, -1, out);

	igt_assert_f(ret == 0, "SGT_MAP of handle %u: %s\n", handle,
		     strerror(-ret));
}

static void test_map_once(int fd)
{
	const uint64_t size = 64 << 10;
	struct drm_refgem_sgt_map first, again;
	struct refgem_counters before;
	long created, released;
	uint32_t handle;
	int i;

	refgem_igt_counters_get(&before);
	created = refgem_igt_counter(REFGEM_C_MAPS_CREATED);
	released = refgem_igt_counter(REFGEM_C_MAPS_RELEASED);
	handle = refgem_igt_create(fd, size);

	sgt_map(fd, handle, &first);
	igt_assert_eq_u32(first.status, REFGEM_SGT_CREATED);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_LIVE), before.v[REFGEM_C_MAPS_LIVE] + 1);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_CREATED), created + 1);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_PAGES_PINNED),
		      before.v[REFGEM_C_PAGES_PINNED] + size / gem_igt_page());

	/* Later calls return the same mapping and change nothing. */
	for (i = 0; i < 3; i++) {
		sgt_map(fd, handle, &again);
		igt_assert_eq_u32(again.status, 0);
		igt_assert_eq_u32(again.nents, first.nents);
		igt_assert_eq_u32(again.bounced, first.bounced);
		igt_assert_eq_u64(again.dma_len, first.dma_len);
		igt_assert_eq_u64(again.max_segment, first.max_segment);
	}
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_LIVE), before.v[REFGEM_C_MAPS_LIVE] + 1);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_CREATED), created + 1);

	/* Freeing the object releases its mapping. */
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_RELEASED), released + 1);
	refgem_igt_counters_settled(&before);
}

static void test_shared_across_files(int fd)
{
	struct drm_refgem_sgt_map first, other;
	struct refgem_counters before;
	int fd2 = gem_igt_reopen(fd), dmabuf;
	uint32_t handle, imported;
	long created;

	refgem_igt_counters_get(&before);
	created = refgem_igt_counter(REFGEM_C_MAPS_CREATED);
	handle = refgem_igt_create(fd, 64 << 10);
	sgt_map(fd, handle, &first);
	igt_assert_eq_u32(first.status, REFGEM_SGT_CREATED);

	/* The mapping belongs to the object, whichever file asks. */
	igt_assert_eq(gemlib_prime_export(fd, handle, DRM_CLOEXEC, &dmabuf),
		      0);
	igt_assert_eq(gemlib_prime_import(fd2, dmabuf, &imported), 0);
	close(dmabuf);
	sgt_map(fd2, imported, &other);
	igt_assert_eq_u32(other.status, 0);
	igt_assert_eq_u32(other.nents, first.nents);
	igt_assert_eq_u64(other.dma_len, first.dma_len);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_CREATED), created + 1);

	igt_assert_eq(gemlib_gem_close(fd2, imported), 0);
	close(fd2);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	refgem_igt_counters_settled(&before);
}

static void test_wrong_device(int fd)
{
	int other = refgem_igt_open_other(fd, GEMLIB_NODE_PRIMARY);
	struct refgem_counters before;
	struct drm_refgem_sgt_map out;
	long created, wrong;
	uint32_t handle;
	int i, render;

	handle = refgem_igt_create(fd, 64 << 10);
	refgem_igt_counters_get(&before);
	created = refgem_igt_counter(REFGEM_C_MAPS_CREATED);
	wrong = refgem_igt_counter(REFGEM_C_WRONG_DEVICE);

	/* Another device: refused, counted, and nothing is created. */
	for (i = 0; i < 2; i++) {
		memset(&out, 0, sizeof(out));
		igt_assert_eq(refgem_sgt_map(fd, handle, other, &out),
			      -EINVAL);
		igt_assert_eq(refgem_igt_counter(REFGEM_C_WRONG_DEVICE),
			      wrong + i + 1);
		igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_LIVE),
			      before.v[REFGEM_C_MAPS_LIVE]);
		igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_CREATED), created);
		igt_assert_eq(refgem_igt_counter(REFGEM_C_PAGES_PINNED),
			      before.v[REFGEM_C_PAGES_PINNED]);
	}

	/* The object's own device still maps it, for the first time. */
	sgt_map(fd, handle, &out);
	igt_assert_eq_u32(out.status, REFGEM_SGT_CREATED);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_CREATED), created + 1);

	/* Its own device named through another of its nodes is fine. */
	render = gem_igt_open_render(fd);
	memset(&out, 0, sizeof(out));
	igt_assert_eq(refgem_sgt_map(fd, handle, render, &out), 0);
	igt_assert_eq_u32(out.status, 0);
	close(render);

	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	close(other);
}

static void test_bad_device_fd(int fd)
{
	struct refgem_counters before;
	int pipefd[2], vgem, closed;
	long created;
	uint32_t handle;

	handle = refgem_igt_create(fd, 4096);
	refgem_igt_counters_get(&before);
	created = refgem_igt_counter(REFGEM_C_MAPS_CREATED);

	/* Files that are no refgem node. */
	igt_assert_eq(pipe(pipefd), 0);
	igt_assert_eq(refgem_sgt_map(fd, handle, pipefd[0], NULL), -EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);
	vgem = gemlib_open_driver("vgem", GEMLIB_NODE_PRIMARY, 0);
	if (vgem >= 0) {
		igt_assert_eq(refgem_sgt_map(fd, handle, vgem, NULL), -EINVAL);
		close(vgem);
	} else {
		igt_info("vgem is not loaded: no foreign DRM node tried\n");
	}

	/* No file at all. */
	igt_assert_eq(refgem_sgt_map(fd, handle, -2, NULL), -EBADF);
	closed = dup(fd);
	igt_assert_lte(0, closed);
	close(closed);
	igt_assert_eq(refgem_sgt_map(fd, handle, closed, NULL), -EBADF);

	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_CREATED), created);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_LIVE), before.v[REFGEM_C_MAPS_LIVE]);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_bad_args(int fd)
{
	struct drm_refgem_sgt_map arg = { .device_fd = -1 };
	uint32_t handle = refgem_igt_create(fd, 4096);
	long created = refgem_igt_counter(REFGEM_C_MAPS_CREATED);

	arg.handle = handle;
	arg.flags = 1;
	igt_assert_eq(drmIoctl(fd, DRM_IOCTL_REFGEM_SGT_MAP, &arg), -1);
	igt_assert_eq(errno, EINVAL);
	arg.flags = 0x80000000u;
	igt_assert_eq(drmIoctl(fd, DRM_IOCTL_REFGEM_SGT_MAP, &arg), -1);
	igt_assert_eq(errno, EINVAL);

	igt_assert_eq(refgem_sgt_map(fd, 0x7ffffff0u, -1, NULL), -ENOENT);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	igt_assert_eq(refgem_sgt_map(fd, handle, -1, NULL), -ENOENT);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_CREATED), created);
}

static void test_segments(int fd)
{
	const uint64_t page = gem_igt_page();
	const uint64_t sizes[] = {
		page, (64 << 10) + page, BULK_SIZE, 4 << 20,
	};
	struct refgem_counters before;
	unsigned int i;

	refgem_igt_counters_get(&before);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		uint32_t handle = refgem_igt_create(fd, sizes[i]);
		struct drm_refgem_sgt_map m;

		sgt_map(fd, handle, &m);
		igt_info("size %#llx: %u segments, %u bounced, max segment %#llx\n",
			 (unsigned long long)sizes[i], m.nents, m.bounced,
			 (unsigned long long)m.max_segment);

		/* Every byte mapped, in whole pages, split at the limit. */
		igt_assert_eq_u64(m.dma_len, sizes[i]);
		igt_assert_lte_u64(page, m.max_segment);
		igt_assert_lte(1, m.nents);
		igt_assert_lte_u64(m.nents, sizes[i] / page);
		igt_assert_lte_u64(sizes[i] / m.max_segment +
				   !!(sizes[i] % m.max_segment), m.nents);
		/* A device either bounces (swiotlb=force) or never does. */
		igt_assert(m.bounced == 0 || m.bounced == m.nents);

		igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	}
	refgem_igt_counters_settled(&before);
}

/*
 * Transfers at, up to and across every page boundary of a multi-segment
 * mapping: a segment starts at some page boundary, and which ones the
 * software engine cannot tell us, so it tries them all. The edu engine
 * refuses a range across segments (EINVAL) before it touches user memory
 * (EFAULT for a NULL pointer), which finds the boundaries at no transfer
 * cost; there must be nents - 1 of them, and the device reads the start of
 * each segment they begin.
 */
/* Past one swiotlb segment (256 KiB): at least two segments. */
#define BOUNDARY_SIZE ((256 + 8) << 10)

static void dma_check(int fd, uint32_t handle, uint32_t engine,
		      const uint8_t *cpu, uint64_t off, uint64_t len)
{
	uint8_t buf[64];

	igt_assert(len <= sizeof(buf));
	refgem_igt_dma(fd, handle, REFGEM_DMA_TO_USER, engine, off, len, buf);
	igt_assert_f(!memcmp(buf, cpu + off, len),
		     "%s engine: [%#llx, +%llu) differs from the CPU's view\n",
		     engine == REFGEM_ENGINE_EDU ? "edu" : "sw",
		     (unsigned long long)off, (unsigned long long)len);
}

static void dma_poke(int fd, uint32_t handle, uint32_t engine,
		     uint8_t *shadow, uint64_t off, uint64_t len)
{
	uint64_t i;

	for (i = 0; i < len; i++)
		shadow[off + i] = ~shadow[off + i] ^ (uint8_t)i;
	refgem_igt_dma(fd, handle, REFGEM_DMA_FROM_USER, engine, off, len,
		       shadow + off);
}

static void test_segment_boundaries(int fd)
{
	const uint64_t page = gem_igt_page(), size = BOUNDARY_SIZE;
	struct refgem_counters before;
	struct drm_refgem_sgt_map m;
	uint64_t b, first = 0;
	unsigned int crossings = 0;
	uint8_t *cpu, *shadow;
	uint32_t handle;
	int ret;

	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd, size);
	cpu = refgem_igt_map(fd, handle, size);
	gem_igt_fill(cpu, size, 0, 0xb0b0);
	shadow = malloc(size);
	igt_assert(shadow);
	memcpy(shadow, cpu, size);
	sgt_map(fd, handle, &m);
	igt_info("%u segments of at most %#llx bytes\n", m.nents,
		 (unsigned long long)m.max_segment);

	for (b = page; b < size; b += page) {
		ret = refgem_dma(fd, handle, REFGEM_DMA_FROM_USER,
				 REFGEM_ENGINE_EDU, b - 1, 2, NULL);
		igt_assert_f(ret == -EINVAL || ret == -EFAULT,
			     "edu probe across %#llx: %s\n",
			     (unsigned long long)b, strerror(-ret));
		if (ret == -EINVAL) {
			/*
			 * The device itself reads the segment that starts
			 * here: one transfer (~100 ms) a segment, as 6.12's
			 * may be one page each; both sides of the first below.
			 */
			dma_check(fd, handle, REFGEM_ENGINE_EDU, shadow, b, 64);
			if (!crossings++)
				first = b;
		}

		/* Starting at, ending at and straddling the boundary. */
		dma_check(fd, handle, REFGEM_ENGINE_SW, shadow, b, 7);
		dma_check(fd, handle, REFGEM_ENGINE_SW, shadow, b - 7, 7);
		dma_poke(fd, handle, REFGEM_ENGINE_SW, shadow, b - 4, 8);
		dma_check(fd, handle, REFGEM_ENGINE_SW, shadow, b - 5, 10);
	}
	igt_assert_f(crossings == m.nents - 1,
		     "the edu engine sees %u segment boundaries, SGT_MAP %u segments\n",
		     crossings, m.nents);
	/* The first and the last byte of the object. */
	dma_check(fd, handle, REFGEM_ENGINE_SW, shadow, 0, 1);
	dma_check(fd, handle, REFGEM_ENGINE_SW, shadow, size - 1, 1);
	dma_check(fd, handle, REFGEM_ENGINE_EDU, shadow, size - 1, 1);

	if (crossings) {
		/* And writes each side of the first one. */
		dma_poke(fd, handle, REFGEM_ENGINE_EDU, shadow, first, 32);
		dma_poke(fd, handle, REFGEM_ENGINE_EDU, shadow, first - 32, 32);
		dma_check(fd, handle, REFGEM_ENGINE_EDU, shadow, first, 32);
		dma_check(fd, handle, REFGEM_ENGINE_EDU, shadow, first - 32, 32);
	} else {
		igt_info("one segment: no boundary for the edu engine\n");
	}
	/* Every write landed where it was aimed, and nowhere else. */
	igt_assert_f(!memcmp(shadow, cpu, size),
		     "the CPU's view differs from the transfers made\n");

	free(shadow);
	munmap(cpu, size);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	refgem_igt_counters_settled(&before);
}

static void test_dma_creates_mapping(int fd)
{
	struct refgem_counters before;
	struct drm_refgem_sgt_map m;
	uint32_t handle;
	long created;
	char buf[64];

	refgem_igt_counters_get(&before);
	created = refgem_igt_counter(REFGEM_C_MAPS_CREATED);
	handle = refgem_igt_create(fd, 64 << 10);

	/* The first transfer maps the object, as SGT_MAP would. */
	refgem_igt_dma(fd, handle, REFGEM_DMA_TO_USER, REFGEM_ENGINE_SW, 0,
		       sizeof(buf), buf);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_CREATED), created + 1);
	sgt_map(fd, handle, &m);
	igt_assert_eq_u32(m.status, 0);
	igt_assert_eq_u64(m.dma_len, 64 << 10);

	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	refgem_igt_counters_settled(&before);
}

/*
 * First use of fresh objects by many threads at once: every caller must
 * see the one mapping, made once. A lookup whose check is not repeated
 * under the object's lock maps twice (two listings, two counts).
 */
#define RACE_THREADS	8
#define RACE_BOS	32
#define RACE_SIZE	(64 << 10)

enum race_op { RACE_MAP, RACE_DMA, RACE_FAULT, RACE_EXPORT, RACE_CLOSE };

static const char *const race_op_name[] = {
	[RACE_MAP] = "SGT_MAP", [RACE_DMA] = "DMA", [RACE_FAULT] = "fault",
	[RACE_EXPORT] = "PRIME export", [RACE_CLOSE] = "GEM_CLOSE",
};

struct race {
	int fd, fd2;
	uint32_t handle[RACE_BOS];
	uint32_t other[RACE_BOS];	/* the same objects in fd2 */
	void *map[RACE_BOS];
	enum race_op op[RACE_THREADS];
	pthread_barrier_t go;
	struct race_slot {
		int ret;
		struct drm_refgem_sgt_map m;
	} slot[RACE_BOS][RACE_THREADS];
};

struct race_thread {
	struct race *r;
	int t;
};

static int race_one(struct race *r, int bo, enum race_op op,
		    struct drm_refgem_sgt_map *m)
{
	volatile uint8_t *page = r->map[bo];
	uint8_t buf[64];
	int dmabuf, ret;

	switch (op) {
	case RACE_MAP:
		return refgem_sgt_map(r->fd, r->handle[bo], -1, m);
	case RACE_DMA:
		return refgem_dma(r->fd, r->handle[bo], REFGEM_DMA_TO_USER,
				  REFGEM_ENGINE_SW, 0, sizeof(buf), buf);
	case RACE_FAULT:
		page[RACE_SIZE - 1] = page[0] + 1;
		return 0;
	case RACE_EXPORT:
		ret = gemlib_prime_export(r->fd, r->handle[bo], DRM_CLOEXEC,
					  &dmabuf);
		if (!ret)
			close(dmabuf);
		return ret;
	case RACE_CLOSE:
		return gemlib_gem_close(r->fd2, r->other[bo]);
	}
	return -EINVAL;
}

static void *race_thread(void *arg)
{
	struct race_thread *rt = arg;
	struct race *r = rt->r;
	int bo;

	for (bo = 0; bo < RACE_BOS; bo++) {
		struct race_slot *slot = &r->slot[bo][rt->t];

		pthread_barrier_wait(&r->go);
		slot->ret = race_one(r, bo, r->op[rt->t], &slot->m);
	}
	return NULL;
}

static void test_first_use_race(int fd, const enum race_op *ops)
{
	struct race_thread rt[RACE_THREADS];
	pthread_t thread[RACE_THREADS];
	struct refgem_counters before;
	struct drm_refgem_sgt_map after;
	long created;
	struct race *r;
	int bo, t, dmabuf;

	r = calloc(1, sizeof(*r));
	igt_assert(r);
	r->fd = fd;
	r->fd2 = gem_igt_reopen(fd);
	memcpy(r->op, ops, sizeof(r->op));
	refgem_igt_counters_get(&before);
	created = refgem_igt_counter(REFGEM_C_MAPS_CREATED);
	for (bo = 0; bo < RACE_BOS; bo++) {
		r->handle[bo] = refgem_igt_create(fd, RACE_SIZE);
		r->map[bo] = refgem_igt_map(fd, r->handle[bo], RACE_SIZE);
		dmabuf = gem_igt_export(fd, r->handle[bo], DRM_CLOEXEC);
		r->other[bo] = gem_igt_import(r->fd2, dmabuf);
		close(dmabuf);
	}
	/* Importing a refgem object into refgem maps nothing yet. */
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_CREATED), created);

	igt_assert_eq(pthread_barrier_init(&r->go, NULL, RACE_THREADS), 0);
	for (t = 0; t < RACE_THREADS; t++) {
		rt[t] = (struct race_thread){ r, t };
		igt_assert_eq(pthread_create(&thread[t], NULL, race_thread,
					     &rt[t]), 0);
	}
	for (t = 0; t < RACE_THREADS; t++)
		igt_assert_eq(pthread_join(thread[t], NULL), 0);
	pthread_barrier_destroy(&r->go);

	for (bo = 0; bo < RACE_BOS; bo++) {
		const struct drm_refgem_sgt_map *first = NULL;
		int made = 0;

		for (t = 0; t < RACE_THREADS; t++) {
			const struct race_slot *slot = &r->slot[bo][t];

			igt_assert_f(slot->ret == 0,
				     "object %d, thread %d: %s failed: %s\n",
				     bo, t, race_op_name[r->op[t]],
				     strerror(-slot->ret));
			if (r->op[t] != RACE_MAP)
				continue;
			made += !!(slot->m.status & REFGEM_SGT_CREATED);
			if (!first)
				first = &slot->m;
			igt_assert_f(slot->m.nents == first->nents &&
				     slot->m.dma_len == first->dma_len &&
				     slot->m.bounced == first->bounced,
				     "object %d: callers saw different mappings (%u/%u segments)\n",
				     bo, slot->m.nents, first->nents);
		}
		igt_assert_f(made <= 1,
			     "object %d: %d SGT_MAP calls each created the mapping\n",
			     bo, made);
		/* Whoever came first, the mapping now exists, once. */
		sgt_map(fd, r->handle[bo], &after);
		igt_assert_eq_u32(after.status, 0);
		igt_assert_eq_u64(after.dma_len, RACE_SIZE);
		if (first)
			igt_assert_eq_u32(after.nents, first->nents);
	}
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_CREATED), created + RACE_BOS);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_LIVE),
		      before.v[REFGEM_C_MAPS_LIVE] + RACE_BOS);

	for (bo = 0; bo < RACE_BOS; bo++) {
		munmap(r->map[bo], RACE_SIZE);
		igt_assert_eq(gemlib_gem_close(fd, r->handle[bo]), 0);
	}
	close(r->fd2);
	free(r);
	refgem_igt_counters_settled(&before);
}

static const enum race_op race_map_only[RACE_THREADS] = {
	RACE_MAP, RACE_MAP, RACE_MAP, RACE_MAP,
	RACE_MAP, RACE_MAP, RACE_MAP, RACE_MAP,
};

static const enum race_op race_mixed[RACE_THREADS] = {
	RACE_MAP, RACE_MAP, RACE_MAP, RACE_DMA,
	RACE_DMA, RACE_FAULT, RACE_EXPORT, RACE_CLOSE,
};

static int dma_raw(int fd, struct drm_refgem_dma arg)
{
	return drmIoctl(fd, DRM_IOCTL_REFGEM_DMA, &arg) ? -errno : 0;
}

static void test_dma_bad_args(int fd)
{
	const uint64_t size = 64 << 10;
	uint32_t handle = refgem_igt_create(fd, size);
	long transfers = refgem_igt_counter(REFGEM_C_DMA_TRANSFERS);
	char buf[4096];
	struct drm_refgem_dma ok = {
		.handle = handle,
		.op = REFGEM_DMA_TO_USER,
		.engine = REFGEM_ENGINE_SW,
		.length = 64,
		.user_ptr = (uintptr_t)buf,
	}, arg;

	igt_assert_eq(dma_raw(fd, ok), 0);

	arg = ok;
	arg.flags = 1;
	igt_assert_eq(dma_raw(fd, arg), -EINVAL);
	arg = ok;
	arg.op = 2;
	igt_assert_eq(dma_raw(fd, arg), -EINVAL);
	arg = ok;
	arg.engine = 2;
	igt_assert_eq(dma_raw(fd, arg), -EINVAL);
	arg = ok;
	arg.length = 0;
	igt_assert_eq(dma_raw(fd, arg), -EINVAL);
	arg = ok;
	arg.offset = size - 8;
	igt_assert_eq(dma_raw(fd, arg), -EINVAL);
	arg = ok;
	arg.offset = size + 4096;
	igt_assert_eq(dma_raw(fd, arg), -EINVAL);
	arg = ok;
	arg.offset = UINT64_MAX - 8;
	igt_assert_eq(dma_raw(fd, arg), -EINVAL);
	arg = ok;
	arg.handle = 0x7ffffff0u;
	igt_assert_eq(dma_raw(fd, arg), -ENOENT);
	arg = ok;
	arg.user_ptr = 0;
	igt_assert_eq(dma_raw(fd, arg), -EFAULT);

	/* The edu engine moves at most REFGEM_EDU_MAX_LEN at a time. */
	arg = ok;
	arg.engine = REFGEM_ENGINE_EDU;
	arg.length = 4096;
	igt_assert_eq(dma_raw(fd, arg), -E2BIG);
	arg.op = REFGEM_DMA_FROM_USER;
	igt_assert_eq(dma_raw(fd, arg), -E2BIG);
	/* ...and copies from user memory before it starts. */
	arg = ok;
	arg.engine = REFGEM_ENGINE_EDU;
	arg.op = REFGEM_DMA_FROM_USER;
	arg.user_ptr = 0;
	igt_assert_eq(dma_raw(fd, arg), -EFAULT);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_DMA_TRANSFERS), transfers);

	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

/*
 * Device DMA by the software engine over the whole BO, one direction:
 * REFGEM_DMA_TO_USER reads what the CPU wrote through mmap,
 * REFGEM_DMA_FROM_USER writes what the CPU then reads. Twice: a second
 * pass must not see the first pass's bytes.
 */
static void test_dma_sw(int fd, uint32_t op, uint32_t seed)
{
	bool to_user = op == REFGEM_DMA_TO_USER;
	struct refgem_counters before;
	void *ptr, *buf, *src, *dst;
	uint32_t handle;
	int pass;

	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd, BULK_SIZE);
	ptr = refgem_igt_map(fd, handle, BULK_SIZE);
	buf = malloc(BULK_SIZE);
	igt_assert(buf);
	src = to_user ? ptr : buf;
	dst = to_user ? buf : ptr;

	for (pass = 0; pass < 2; pass++) {
		gem_igt_fill(src, BULK_SIZE, 0, seed + pass);
		refgem_igt_dma(fd, handle, op, REFGEM_ENGINE_SW, 0, BULK_SIZE,
			       buf);
		gem_igt_check(dst, BULK_SIZE, 0, seed + pass,
			      to_user ? "device read of CPU writes" :
			      "CPU read of device writes");
	}

	free(buf);
	igt_assert_eq(munmap(ptr, BULK_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	refgem_igt_counters_settled(&before);
}

static void test_dma_read_edu(int fd)
{
	struct refgem_counters before;
	char buf[REFGEM_EDU_MAX_LEN];
	uint32_t handle;
	unsigned int i;
	long transfers;
	char *ptr;

	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd, BULK_SIZE);
	ptr = refgem_igt_map(fd, handle, BULK_SIZE);
	gem_igt_fill(ptr, BULK_SIZE, 0, 420);
	transfers = refgem_igt_counter(REFGEM_C_DMA_TRANSFERS);

	for (i = 0; i < ARRAY_SIZE(spots); i++) {
		uint64_t off = spots[i].page * 4096 + spots[i].offset;

		memset(buf, 0, sizeof(buf));
		refgem_igt_dma(fd, handle, REFGEM_DMA_TO_USER,
			       REFGEM_ENGINE_EDU, off, spots[i].len, buf);
		igt_assert_f(!memcmp(buf, ptr + off, spots[i].len),
			     "edu read of [%#llx, +%#llx) differs from mmap\n",
			     (unsigned long long)off,
			     (unsigned long long)spots[i].len);
	}
	/* Two transfers of the edu engine per read: in and out of it. */
	igt_assert_eq(refgem_igt_counter(REFGEM_C_DMA_TRANSFERS),
		      transfers + 2 * ARRAY_SIZE(spots));

	igt_assert_eq(munmap(ptr, BULK_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	refgem_igt_counters_settled(&before);
}

static void test_dma_write_edu(int fd)
{
	struct refgem_counters before;
	char buf[REFGEM_EDU_MAX_LEN], page[4096];
	uint32_t handle;
	unsigned int i;
	long transfers;
	char *ptr;

	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd, BULK_SIZE);
	ptr = refgem_igt_map(fd, handle, BULK_SIZE);
	gem_igt_fill(ptr, BULK_SIZE, 0, 430);
	transfers = refgem_igt_counter(REFGEM_C_DMA_TRANSFERS);

	for (i = 0; i < ARRAY_SIZE(spots); i++) {
		uint64_t off = spots[i].page * 4096 + spots[i].offset;

		gemlib_pattern_fill(buf, sizeof(buf), 431 + i);
		refgem_igt_dma(fd, handle, REFGEM_DMA_FROM_USER,
			       REFGEM_ENGINE_EDU, off, spots[i].len, buf);
		igt_assert_f(!memcmp(ptr + off, buf, spots[i].len),
			     "mmap of [%#llx, +%#llx) misses the edu write\n",
			     (unsigned long long)off,
			     (unsigned long long)spots[i].len);
		/* Exactly the range: the rest of the page is untouched. */
		gemlib_pattern_fill(page, sizeof(page), 430 + spots[i].page);
		igt_assert(!memcmp(ptr + spots[i].page * 4096, page,
				   spots[i].offset));
		igt_assert(!memcmp(ptr + off + spots[i].len,
				   page + spots[i].offset + spots[i].len,
				   4096 - spots[i].offset - spots[i].len));
	}
	igt_assert_eq(refgem_igt_counter(REFGEM_C_DMA_TRANSFERS),
		      transfers + 2 * ARRAY_SIZE(spots));

	igt_assert_eq(munmap(ptr, BULK_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	refgem_igt_counters_settled(&before);
}

static void test_import_mapping(int fd)
{
	int other = refgem_igt_open_other(fd, GEMLIB_NODE_PRIMARY), dmabuf;
	const uint64_t size = 64 << 10;
	struct refgem_counters before;
	struct drm_refgem_sgt_map m;
	uint32_t handle, imported;
	long created;

	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd, size);
	igt_assert_eq(gemlib_prime_export(fd, handle, DRM_CLOEXEC, &dmabuf),
		      0);
	created = refgem_igt_counter(REFGEM_C_MAPS_CREATED);

	/* Import maps the attachment for the importing device, once. */
	igt_assert_eq(gemlib_prime_import(other, dmabuf, &imported), 0);
	close(dmabuf);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_CREATED), created + 1);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_LIVE), before.v[REFGEM_C_MAPS_LIVE] + 1);
	sgt_map(other, imported, &m);
	igt_assert_eq_u32(m.status, 0);
	igt_assert_eq_u64(m.dma_len, size);

	/* The import belongs to the importer: the exporter is another. */
	igt_assert_eq(refgem_sgt_map(other, imported, fd, NULL), -EINVAL);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_CREATED), created + 1);

	igt_assert_eq(gemlib_gem_close(other, imported), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	close(other);
	refgem_igt_counters_settled(&before);
}

/* swiotlb's used slots, or its slots in all (lib/kernel.c). */
static long swiotlb_get(int (*get)(long *slots))
{
	long v;

	igt_assert_eq(get(&v), 0);
	return v;
}

static long swiotlb_used(void)
{
	return swiotlb_get(gemlib_swiotlb_used);
}

static void test_swiotlb_slots(int fd)
{
	const uint64_t size = 1 << 20;
	struct refgem_counters before;
	struct drm_refgem_sgt_map m;
	long used, mapped;
	uint32_t handle;

	igt_require_f(access(SWIOTLB_USED, R_OK) == 0,
		      "no %s: the kernel has no swiotlb pool (or debugfs is not mounted)\n",
		      SWIOTLB_USED);
	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd, size);
	used = swiotlb_used();
	sgt_map(fd, handle, &m);
	mapped = swiotlb_used();
	if (!m.bounced)
		gemlib_gem_close(fd, handle);
	igt_require_f(m.bounced,
		      "the device's mappings do not bounce (boot with swiotlb=force)\n");

	/* Every page of the object sits in a bounce slot while mapped... */
	igt_info("io_tlb_used %ld -> %ld for a %llu KiB object\n", used,
		 mapped, (unsigned long long)size >> 10);
	igt_assert_lte_s64(used + size / SWIOTLB_SLOT, mapped);

	/* ...and every slot comes back when the object is freed. */
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	igt_assert_eq(swiotlb_used(), used);
	refgem_igt_counters_settled(&before);
}

/*
 * Map until swiotlb has no room left: that SGT_MAP fails with EIO (as the
 * uAPI says) and leaves nothing behind, neither a mapping nor a slot, and
 * fails the same way again; once mappings are freed the same BO maps, and
 * closing everything gives every slot back. One file may not take the
 * whole pool (EDQUOT past file_map_max, below), so the mappings are made
 * through as many files as it takes. The kernel's "swiotlb buffer is
 * full" warning is allowed for this test only (lib/kernel-log.rules).
 */
#define FULL_FILES	16

struct full_bo {
	int fd;
	uint32_t handle;
};

static void test_swiotlb_full(int fd)
{
	/* One segment's worth of slots (128) each: few BOs fill the pool. */
	const uint64_t size = 256 << 10;
	struct refgem_counters before, now;
	int files[FULL_FILES], nfiles = 1;
	struct drm_refgem_sgt_map m;
	unsigned int n = 0, max;
	struct full_bo *bos, h;
	long used, at_full;
	int ret;

	igt_require_f(access(SWIOTLB_USED, R_OK) == 0,
		      "no %s: the kernel has no swiotlb pool (or debugfs is not mounted)\n",
		      SWIOTLB_USED);
	refgem_igt_counters_get(&before);
	used = swiotlb_used();
	max = swiotlb_get(gemlib_swiotlb_slots) / (size / SWIOTLB_SLOT) + 2;
	bos = calloc(max, sizeof(*bos));
	igt_assert(bos);
	files[0] = fd;
	for (;;) {
		igt_assert_f(n < max,
			     "%u mappings of %llu KiB and swiotlb (%ld slots used) is not full\n",
			     n, (unsigned long long)size >> 10, swiotlb_used());
		h.fd = files[nfiles - 1];
		h.handle = refgem_igt_create(h.fd, size);
		ret = refgem_sgt_map(h.fd, h.handle, -1, &m);
		if (ret == -EDQUOT) {
			/* This file's share is used up: go on in another. */
			igt_assert_eq(gemlib_gem_close(h.fd, h.handle), 0);
			igt_assert_lt(nfiles, FULL_FILES);
			files[nfiles++] = gem_igt_open_render(fd);
			continue;
		}
		if (ret)
			break;
		bos[n++] = h;
		if (!m.bounced) {
			while (n--)
				gemlib_gem_close(bos[n].fd, bos[n].handle);
			while (--nfiles)
				close(files[nfiles]);
			free(bos);
			igt_require_f(false,
				      "the device's mappings do not bounce (boot with swiotlb=force)\n");
		}
	}
	igt_info("swiotlb full after %u mappings of %llu KiB through %d files: io_tlb_used %ld\n",
		 n, (unsigned long long)size >> 10, nfiles, swiotlb_used());
	igt_assert_f(ret == -EIO, "SGT_MAP with swiotlb full: %s, expected EIO\n",
		     strerror(-ret));

	/* The failure left nothing: no mapping, no slot; it fails again. */
	at_full = swiotlb_used();
	refgem_igt_counters_get(&now);
	igt_assert_eq(now.v[REFGEM_C_MAPS_LIVE], before.v[REFGEM_C_MAPS_LIVE] + n);
	igt_assert_eq(refgem_sgt_map(h.fd, h.handle, -1, &m), -EIO);
	igt_assert_eq(swiotlb_used(), at_full);

	/*
	 * Room again: the same BO maps. Freeing one mapping is not always
	 * room: a BO whose pages are not contiguous bounces page by page, and
	 * its freed slots need not hold the 128 contiguous ones h's single
	 * segment needs. So free mappings until h maps; with all of them
	 * freed the pool is as it was before the test, and h must map.
	 */
	do {
		igt_assert_f(n, "SGT_MAP still fails with every other mapping freed: %s\n",
			     strerror(-ret));
		n--;
		igt_assert_eq(gemlib_gem_close(bos[n].fd, bos[n].handle), 0);
		ret = refgem_sgt_map(h.fd, h.handle, -1, &m);
		igt_assert_f(!ret || ret == -EIO, "SGT_MAP after a free: %s\n",
			     strerror(-ret));
	} while (ret);
	igt_assert(m.status & REFGEM_SGT_CREATED);
	bos[n++] = h;

	while (n--)
		igt_assert_eq(gemlib_gem_close(bos[n].fd, bos[n].handle), 0);
	while (--nfiles)
		close(files[nfiles]);
	free(bos);
	igt_assert_eq(swiotlb_used(), used);
	refgem_igt_counters_settled(&before);
}

/*
 * One file's mappings are bounded (module parameter file_map_max): DMA
 * space, swiotlb's pool above all, is shared by every client of every
 * device. An unprivileged client on a render node that maps BOs up to its
 * bound gets EDQUOT, the others still map (and swiotlb still has room);
 * an unmapped (freed) BO gives its share back. Any profile: the bound
 * holds whether mappings bounce or not.
 */
static void test_file_map_quota(int fd)
{
	const uint64_t size = 4 << 20;
	struct refgem_counters before;
	int greedy, other;

	refgem_igt_counters_get(&before);
	greedy = gem_igt_open_render(fd);
	other = gem_igt_open_render(fd);
	igt_fork(child, 1) {
		struct drm_refgem_sgt_map m;
		uint32_t handles[256], h;
		unsigned int n = 0;
		long quota;
		int ret;

		quota = refgem_igt_param("file_map_max");
		gem_igt_drop_root();

		for (;;) {
			h = refgem_igt_create(greedy, size);
			ret = refgem_sgt_map(greedy, h, -1, &m);
			if (ret)
				break;
			igt_assert_lt(n, ARRAY_SIZE(handles));
			handles[n++] = h;
		}
		igt_info("%u mappings of %llu MiB, then %s; file_map_max %ld MiB\n",
			 n, (unsigned long long)size >> 20, strerror(-ret),
			 quota >> 20);
		igt_assert_f(ret == -EDQUOT,
			     "SGT_MAP past the file's bound gave %s, expected EDQUOT\n",
			     strerror(-ret));
		igt_assert_lte_u64((uint64_t)n * size, quota);
		igt_assert_lt_u64(quota, (uint64_t)(n + 1) * size);
		/* Refused, the BO is unmapped and the DMA ioctl is refused too. */
		igt_assert_eq(refgem_dma(greedy, h, REFGEM_DMA_TO_USER,
					 REFGEM_ENGINE_SW, 0, 1, handles),
			      -EDQUOT);

		/* Another client still maps. */
		handles[n] = refgem_igt_create(other, size);
		ret = refgem_sgt_map(other, handles[n], -1, &m);
		igt_assert_f(!ret, "another client's SGT_MAP: %s\n",
			     strerror(-ret));
		igt_assert(m.status & REFGEM_SGT_CREATED);
		igt_assert_eq(gemlib_gem_close(other, handles[n]), 0);

		/* A freed mapping gives its share back. */
		igt_assert_eq(gemlib_gem_close(greedy, handles[--n]), 0);
		igt_assert_eq(refgem_sgt_map(greedy, h, -1, &m), 0);
		igt_assert(m.status & REFGEM_SGT_CREATED);
		igt_assert_eq(gemlib_gem_close(greedy, h), 0);
		while (n)
			igt_assert_eq(gemlib_gem_close(greedy, handles[--n]), 0);
	}
	igt_waitchildren();
	close(other);
	close(greedy);
	refgem_igt_counters_settled(&before);
}

igt_main
{
	int fd = -1;

	igt_fixture {
		fd = refgem_igt_open_driver(GEMLIB_NODE_PRIMARY);
		refgem_igt_require_counters();
	}

	igt_describe("Check that the first SGT_MAP creates the mapping and later ones return it unchanged.");
	igt_subtest("map-once")
		test_map_once(fd);

	igt_describe("Check that every file holding the object gets its one mapping.");
	igt_subtest("map-shared-across-files")
		test_shared_across_files(fd);

	igt_describe("Check that mapping for another refgem device fails with EINVAL and changes nothing.");
	igt_subtest("wrong-device")
		test_wrong_device(fd);

	igt_describe("Check that a device_fd naming no refgem device fails with EINVAL or EBADF.");
	igt_subtest("bad-device-fd")
		test_bad_device_fd(fd);

	igt_describe("Check that SGT_MAP refuses unknown flags and handles.");
	igt_subtest("bad-args")
		test_bad_args(fd);

	igt_describe("Check the mapping's segments against the object's size and the device's limit.");
	igt_subtest("segments")
		test_segments(fd);

	igt_describe("Check transfers that start at, end at and straddle every segment boundary, and the object's last byte.");
	igt_subtest("segment-boundaries")
		test_segment_boundaries(fd);

	igt_describe("Check that the first device transfer creates the mapping.");
	igt_subtest("dma-creates-mapping")
		test_dma_creates_mapping(fd);

	igt_describe("Check that threads making the first SGT_MAP of the same objects at once share one mapping.");
	igt_subtest("first-map-race")
		test_first_use_race(fd, race_map_only);

	igt_describe("Check that SGT_MAP, DMA, mmap faults, PRIME export and closing another handle racing as first use make one mapping.");
	igt_subtest("first-use-race")
		test_first_use_race(fd, race_mixed);

	igt_describe("Check that the DMA ioctl refuses bad arguments before moving data.");
	igt_subtest("dma-bad-args")
		test_dma_bad_args(fd);

	igt_describe("Check that the device reads every page the CPU wrote through mmap (software engine).");
	igt_subtest("dma-read-sw")
		test_dma_sw(fd, REFGEM_DMA_TO_USER, 400);

	igt_describe("Check that mmap shows every page the device wrote (software engine).");
	igt_subtest("dma-write-sw")
		test_dma_sw(fd, REFGEM_DMA_FROM_USER, 410);

	igt_describe("Spot-check that the edu DMA engine reads what the CPU wrote.");
	igt_subtest("dma-read-edu")
		test_dma_read_edu(fd);

	igt_describe("Spot-check that mmap shows exactly what the edu DMA engine wrote.");
	igt_subtest("dma-write-edu")
		test_dma_write_edu(fd);

	igt_describe("Check an imported object's mapping: made at import, for the importer only.");
	igt_subtest("import-mapping")
		test_import_mapping(fd);

	igt_describe("Check that a mapping holds swiotlb bounce slots and gives them all back.");
	igt_subtest("swiotlb-slots")
		test_swiotlb_slots(fd);

	igt_describe("Check that SGT_MAP with swiotlb full fails with EIO, leaves nothing behind and works once there is room.");
	igt_subtest("swiotlb-full")
		test_swiotlb_full(fd);

	igt_describe("Check that one client's mappings are bounded (EDQUOT) and cannot starve another client's.");
	igt_subtest("file-map-quota")
		test_file_map_quota(fd);

	igt_fixture {
		close(fd);
	}
}
