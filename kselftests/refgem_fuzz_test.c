// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded ioctl fuzzer: threads make random and boundary calls of
 * refgem's ioctls and the DRM core's GEM, dumb, flink and PRIME ioctls on
 * files of both refgem devices and vgem, while the first device is taken
 * away and given back again and again.
 *
 * Oracles: every call returns 0 or an errno that the uAPI header (or, for
 * the core's ioctls, the DRM core) documents for it, the table below; once
 * everything is closed the counters and swiotlb are back at their start;
 * and refgem_ksft.h's kernel log and taint checks. The debug targets'
 * detectors add DMA-API debug, KASAN, lockdep and kmemleak.
 *
 * REFGEM_FUZZ_SEED (default 1) picks the calls, REFGEM_FUZZ_SECONDS
 * (default 5) how long each variant runs. A failure names the seed and the
 * call; the calls are the seed's, their timing against the take-aways is
 * not, so a replay finds the same bug only most of the time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xf86drm.h>

#include "kselftest_harness.h"
#include "refgem_ksft.h"

#define THREADS		3
/*
 * Generations of the device under test whose files are kept. Each kept
 * file keeps its DRM device and so the device's minors, of which 6.1's
 * DRM core has 64 of a kind (refgem_unbind_test's minors.exhausted): kept
 * without bound, they would make a give-back fail after ~60 take-aways
 * there, and on 6.12 bring the device back on minors that do not open.
 */
#define MAX_GENS	16
#define MAX_DMABUFS	8
#define MAX_MAPS	4
#define MAX_MAP_SIZE	(1 << 20)
#define BUF_SIZE	(64 << 10)
#define MAX_BO_SIZE	(1 << 20)
/*
 * GEM handles are allocated lowest first: small ones name real BOs. A BO
 * that gets a larger one is closed at once, which bounds what the files
 * hold (the second device's file lives through the whole test): the
 * fuzzer checks errnos and leaks, not what a full swiotlb does.
 */
#define MAX_HANDLE	32

enum fuzz_file { F_DEV, F_DEV_PRIMARY, F_OTHER, F_VGEM, F_NR };

/* The files of one generation of the device under test (-1: none). */
struct gen {
	int fd[F_NR];
};

enum op {
	OP_CREATE, OP_DUMB, OP_MMAP_OFFSET, OP_SGT_MAP, OP_DMA, OP_CLOSE,
	OP_EXPORT, OP_IMPORT, OP_FLINK, OP_OPEN, OP_MMAP, OP_NR
};

/*
 * The errnos each call may return, besides ENODEV (any ioctl on a device
 * that was taken away). refgem's four ioctls: as refgem_drm.h documents
 * them. The core's: DRM's own checks (drm_ioctl_permit()'s EACCES on a
 * render node for a call without DRM_RENDER_ALLOW, the GEM handle and name
 * lookups) and what the driver hooks they call document (refgem's dumb
 * create and PRIME import).
 */
static const struct {
	const char *name;
	int ok[8];	/* 0-terminated */
} ops[OP_NR] = {
	[OP_CREATE] = { "REFGEM_GEM_CREATE",
		{ EINVAL, E2BIG, EDQUOT, ENOSPC, ENOMEM } },
	[OP_DUMB] = { "MODE_CREATE_DUMB",
		{ EINVAL, E2BIG, EDQUOT, ENOSPC, ENOMEM, EACCES } },
	[OP_MMAP_OFFSET] = { "REFGEM_GEM_MMAP_OFFSET", { ENOENT, EINVAL } },
	[OP_SGT_MAP] = { "REFGEM_SGT_MAP",
		{ ENOENT, EINVAL, EBADF, EDQUOT, EIO, ENOMEM } },
	[OP_DMA] = { "REFGEM_DMA",
		{ ENOENT, EINVAL, E2BIG, EFAULT, EDQUOT, EIO, ENOMEM } },
	[OP_CLOSE] = { "GEM_CLOSE", { EINVAL } },
	[OP_EXPORT] = { "PRIME_HANDLE_TO_FD",
		{ EINVAL, ENOENT, ENOMEM, EMFILE } },
	[OP_IMPORT] = { "PRIME_FD_TO_HANDLE",
		{ EBADF, EINVAL, ENOMEM, EIO } },
	[OP_FLINK] = { "GEM_FLINK", { ENOENT, EACCES } },
	[OP_OPEN] = { "GEM_OPEN", { ENOENT, EACCES } },
	[OP_MMAP] = { "mmap", { EINVAL, ENOMEM, EACCES } },
};

struct shared {
	pthread_mutex_t lock;	/* guards gens, ngens and newest */
	/*
	 * A ring: a new generation's files replace the oldest's under the
	 * same numbers (dup2()), so a number a worker took is never closed
	 * under it, nor given to another file.
	 */
	struct gen gens[MAX_GENS];
	int ngens, newest;
	atomic_bool stop;
	int vgem;		/* vgem's file, or -1: refgem ioctls skip it */
	uint64_t ram;		/* MemTotal: refgem's largest BO */
	/* Memory a bad user pointer may name: read-only and no access. */
	void *ro, *none;
};

struct worker {
	struct shared *sh;
	uint64_t rng;
	unsigned int id;
	long calls, ok, enodev;
	int dmabufs[MAX_DMABUFS];
	struct { void *ptr; size_t size; } maps[MAX_MAPS];
	uint8_t *buf;
	/* The first call that returned an errno its table does not list. */
	long bad;
	char bad_call[256];
};

static uint64_t next(struct worker *w)
{
	/* xorshift64*: a seed replays the same calls. */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545f4914f6cdd1dull;
}

static uint64_t pick(struct worker *w, uint64_t n)
{
	return n ? next(w) % n : 0;
}

/* Sizes around every boundary the driver or the core checks. */
static uint64_t some_size(struct worker *w)
{
	static const uint64_t sizes[] = {
		0, 1, 4095, 4096, 4097, 65536, 65536 + 4096, 1 << 20,
		(256 << 10) + 8, 1ull << 40, 1ull << 43,
		(1ull << 43) + 1, 1ull << 63, UINT64_MAX, UINT64_MAX - 4095,
	};

	/*
	 * Up to 32 pages: past vgem's 64 KiB segments, and the 24 of the
	 * BO that issue 15's run leaked.
	 */
	if (pick(w, 2))
		return 4096 * (1 + pick(w, 32));
	return sizes[pick(w, sizeof(sizes) / sizeof(*sizes))];
}

/*
 * Whether a BO of @size may be asked for: true when it is small (up to
 * MAX_BO_SIZE) or larger than the machine's RAM (the create must fail).
 * A BO in between could be created, and mapping it would pin that much.
 */
static bool may_ask(struct worker *w, unsigned __int128 size)
{
	return size <= MAX_BO_SIZE || size > w->sh->ram;
}

static uint32_t some_handle(struct worker *w)
{
	switch (pick(w, 8)) {
	case 0:
		return 0;
	case 1:
		return UINT32_MAX;
	default:
		return 1 + pick(w, MAX_HANDLE);
	}
}

/* Any file: mostly the newest generation's, sometimes an older one's. */
static int some_fd(struct worker *w, enum fuzz_file f)
{
	struct shared *sh = w->sh;
	int fd, n;

	pthread_mutex_lock(&sh->lock);
	n = sh->ngens;
	fd = sh->gens[pick(w, 4) ? sh->newest : (int)pick(w, n)].fd[f];
	pthread_mutex_unlock(&sh->lock);
	return fd;
}

/* A file for device_fd or an import: right, wrong or no DRM file at all. */
static int some_file(struct worker *w)
{
	switch (pick(w, 8)) {
	case 0:
		return -1;
	case 1:
		return 9999;	/* closed */
	case 2:
		return w->dmabufs[pick(w, MAX_DMABUFS)];
	case 3:
		return 0;	/* stdin: not a DRM file */
	default:
		return some_fd(w, pick(w, F_NR));
	}
}

/* Where a DMA may read or write: memory it may use, or memory it may not. */
static void *some_ptr(struct worker *w, uint64_t len, bool *fits)
{
	unsigned int i = pick(w, MAX_MAPS);

	*fits = false;
	switch (pick(w, 8)) {
	case 0:
		return NULL;
	case 1:
		return w->sh->ro;
	case 2:
		return w->sh->none;
	case 3:
		return (void *)0xffff888000000000ull;	/* the kernel's */
	case 4:
		/* A BO's own CPU mapping: the copy faults its pages in. */
		if (w->maps[i].ptr && len <= w->maps[i].size) {
			*fits = true;
			return w->maps[i].ptr;
		}
		/* fall through */
	default:
		*fits = len <= BUF_SIZE;
		return w->buf;
	}
}

static void __attribute__((format(printf, 4, 5)))
record(struct worker *w, enum op op, int ret, const char *fmt, ...)
{
	unsigned int i;
	va_list ap;
	int n;

	w->calls++;
	if (!ret) {
		w->ok++;
		return;
	}
	if (ret == -ENODEV) {
		w->enodev++;
		return;
	}
	for (i = 0; ret < 0 && ops[op].ok[i]; i++)
		if (ops[op].ok[i] == -ret)
			return;
	if (w->bad++)
		return;
	n = snprintf(w->bad_call, sizeof(w->bad_call), "call %ld of thread %u: %s(",
		     w->calls, w->id, ops[op].name);
	va_start(ap, fmt);
	vsnprintf(w->bad_call + n, sizeof(w->bad_call) - n, fmt, ap);
	va_end(ap);
	n = strlen(w->bad_call);
	snprintf(w->bad_call + n, sizeof(w->bad_call) - n, ") = %s",
		 strerror(-ret));
}

static int call(int fd, unsigned long req, void *arg)
{
	return drmIoctl(fd, req, arg) ? -errno : 0;
}

/* A new handle past MAX_HANDLE: close it (see MAX_HANDLE). */
static void bound(struct worker *w, int fd, uint32_t handle)
{
	struct drm_gem_close a = { .handle = handle };

	if (handle > MAX_HANDLE)
		record(w, OP_CLOSE, call(fd, DRM_IOCTL_GEM_CLOSE, &a),
		       "fd %d, handle %u", fd, a.handle);
}

static void one_call(struct worker *w)
{
	enum op op = pick(w, OP_NR);
	int fd = some_fd(w, pick(w, 3) ? F_DEV : pick(w, F_NR));
	unsigned int slot = pick(w, MAX_DMABUFS);
	unsigned __int128 size;
	int ret;

	switch (op) {
	case OP_CREATE: {
		struct drm_refgem_gem_create a = {
			.size = some_size(w),
			.flags = pick(w, 8) ? 0 : 1u << pick(w, 32),
		};

		if (!may_ask(w, a.size))
			break;
		if (fd == w->sh->vgem)
			break;	/* vgem's ioctl numbers are its own */
		ret = call(fd, DRM_IOCTL_REFGEM_GEM_CREATE, &a);
		record(w, op, ret, "fd %d, size %#llx, flags %#x", fd,
		       (unsigned long long)a.size, a.flags);
		if (!ret)
			bound(w, fd, a.handle);
		break;
	}
	case OP_DUMB: {
		struct drm_mode_create_dumb a = {
			.width = pick(w, 4) ? 1 + pick(w, 1024) : next(w),
			.height = pick(w, 4) ? 1 + pick(w, 16) : next(w),
			.bpp = pick(w, 4) ? 32 : next(w),
		};

		/*
		 * Never a BO the machine could back but the test should not.
		 * vgem has no bound but 4 GiB, and the shmem helper's dumb
		 * create computes the pitch in 32 bits (a wrapped one makes a
		 * BO of another size): vgem gets small ones only.
		 */
		size = (unsigned __int128)a.width * a.bpp / 8 * a.height;
		if (!may_ask(w, size) ||
		    (fd == w->sh->vgem && size > MAX_BO_SIZE))
			break;
		ret = call(fd, DRM_IOCTL_MODE_CREATE_DUMB, &a);
		record(w, op, ret, "fd %d, %ux%u, bpp %u", fd, a.width,
		       a.height, a.bpp);
		if (!ret)
			bound(w, fd, a.handle);
		break;
	}
	case OP_MMAP_OFFSET: {
		struct drm_refgem_gem_mmap_offset a = {
			.handle = some_handle(w),
			.pad = pick(w, 8) ? 0 : next(w),
		};

		if (fd == w->sh->vgem)
			break;
		record(w, op, call(fd, DRM_IOCTL_REFGEM_GEM_MMAP_OFFSET, &a),
		       "fd %d, handle %u, pad %#x", fd, a.handle, a.pad);
		break;
	}
	case OP_SGT_MAP: {
		struct drm_refgem_sgt_map a = {
			.handle = some_handle(w),
			.device_fd = pick(w, 2) ? -1 : some_file(w),
			.flags = pick(w, 8) ? 0 : next(w),
		};

		if (fd == w->sh->vgem)
			break;
		record(w, op, call(fd, DRM_IOCTL_REFGEM_SGT_MAP, &a),
		       "fd %d, handle %u, device_fd %d, flags %#x", fd,
		       a.handle, a.device_fd, a.flags);
		break;
	}
	case OP_DMA: {
		static const uint64_t lens[] = {
			0, 1, 64, 4095, 4096, 4097, BUF_SIZE, UINT64_MAX,
		};
		struct drm_refgem_dma a = {
			.handle = some_handle(w),
			.op = pick(w, 8) ? pick(w, 2) : next(w),
			.engine = pick(w, 6) ? 0 : pick(w, 3) ? 1 : next(w),
			.flags = pick(w, 16) ? 0 : next(w),
			.offset = pick(w, 2) ? 4096 * pick(w, 300) + pick(w, 2) :
				  some_size(w),
		};
		bool fits;

		a.length = lens[pick(w, sizeof(lens) / sizeof(*lens))];
		if (a.engine == REFGEM_ENGINE_EDU && a.length > 4096)
			a.length = 4095;	/* the edu engine is slow */
		a.user_ptr = (uintptr_t)some_ptr(w, a.length, &fits);
		/* Never let the device write past what it may. */
		if (!fits && (a.user_ptr == (uintptr_t)w->buf ||
			      a.user_ptr == (uintptr_t)w->maps[0].ptr ||
			      a.user_ptr == (uintptr_t)w->maps[1].ptr ||
			      a.user_ptr == (uintptr_t)w->maps[2].ptr ||
			      a.user_ptr == (uintptr_t)w->maps[3].ptr))
			a.length = 64;
		if (fd == w->sh->vgem)
			break;
		record(w, op, call(fd, DRM_IOCTL_REFGEM_DMA, &a),
		       "fd %d, handle %u, op %u, engine %u, flags %#x, offset %#llx, length %#llx, user_ptr %#llx",
		       fd, a.handle, a.op, a.engine, a.flags,
		       (unsigned long long)a.offset,
		       (unsigned long long)a.length,
		       (unsigned long long)a.user_ptr);
		break;
	}
	case OP_CLOSE: {
		struct drm_gem_close a = { .handle = some_handle(w) };

		record(w, op, call(fd, DRM_IOCTL_GEM_CLOSE, &a),
		       "fd %d, handle %u", fd, a.handle);
		break;
	}
	case OP_EXPORT: {
		struct drm_prime_handle a = {
			.handle = some_handle(w),
			.flags = pick(w, 8) ? DRM_CLOEXEC | DRM_RDWR :
				 (uint32_t)next(w),
			.fd = -1,
		};
		ret = call(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &a);
		record(w, op, ret, "fd %d, handle %u, flags %#x", fd,
		       a.handle, a.flags);
		if (ret)
			break;
		if (w->dmabufs[slot] >= 0)
			close(w->dmabufs[slot]);
		w->dmabufs[slot] = a.fd;
		break;
	}
	case OP_IMPORT: {
		struct drm_prime_handle a = {
			.fd = pick(w, 4) ? w->dmabufs[slot] : some_file(w),
		};

		ret = call(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &a);
		record(w, op, ret, "fd %d, dma-buf fd %d", fd, a.fd);
		if (!ret)
			bound(w, fd, a.handle);
		break;
	}
	case OP_FLINK: {
		struct drm_gem_flink a = { .handle = some_handle(w) };

		record(w, op, call(fd, DRM_IOCTL_GEM_FLINK, &a),
		       "fd %d, handle %u", fd, a.handle);
		break;
	}
	case OP_OPEN: {
		struct drm_gem_open a = { .name = 1 + pick(w, 64) };

		ret = call(fd, DRM_IOCTL_GEM_OPEN, &a);
		record(w, op, ret, "fd %d, name %u", fd, a.name);
		if (!ret)
			bound(w, fd, a.handle);
		break;
	}
	case OP_MMAP: {
		unsigned int i = pick(w, MAX_MAPS);
		struct drm_mode_map_dumb a = { .handle = some_handle(w) };
		size_t size = 4096 * (1 + pick(w, MAX_MAP_SIZE / 4096));
		void *p;

		if (w->maps[i].ptr) {
			munmap(w->maps[i].ptr, w->maps[i].size);
			w->maps[i].ptr = NULL;
		}
		if (call(fd, DRM_IOCTL_MODE_MAP_DUMB, &a))
			break;
		/* A mapping larger than the BO is EINVAL. */
		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 a.offset);
		record(w, op, p == MAP_FAILED ? -errno : 0,
		       "fd %d, handle %u, size %#zx", fd, a.handle, size);
		if (p != MAP_FAILED) {
			w->maps[i].ptr = p;
			w->maps[i].size = size;
		}
		break;
	}
	default:
		break;
	}
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load(&w->sh->stop))
		one_call(w);
	return NULL;
}

/*
 * Open the files of a new generation. The DEV ones name the device under
 * test at @bdf; OTHER and VGEM stay those of the first generation.
 */
static int open_gen(struct shared *sh, const char *bdf, int other, int vgem)
{
	int fd[2], slot, i, ret = 0;

	fd[0] = gemlib_open_bdf(bdf, GEMLIB_NODE_RENDER, RK_WAIT_MS);
	if (fd[0] < 0)
		return fd[0];
	fd[1] = gemlib_open_bdf(bdf, GEMLIB_NODE_PRIMARY, RK_WAIT_MS);
	if (fd[1] < 0) {
		close(fd[0]);
		return fd[1];
	}
	pthread_mutex_lock(&sh->lock);
	if (sh->ngens < MAX_GENS) {
		slot = sh->ngens++;
		sh->gens[slot] = (struct gen){ .fd = { fd[0], fd[1], other,
						       vgem } };
	} else {
		slot = (sh->newest + 1) % MAX_GENS;
		for (i = 0; i < 2; i++) {
			/* Drops the oldest generation's file. */
			if (dup2(fd[i], sh->gens[slot].fd[i]) < 0 && !ret)
				ret = -errno;
			close(fd[i]);
		}
	}
	sh->newest = slot;
	pthread_mutex_unlock(&sh->lock);
	return ret;
}

static long max_l(long a, long b)
{
	return a > b ? a : b;
}

FIXTURE(fuzz) {
	struct rk_oracle o;
	char bdf[32], other_bdf[32];
	int other, vgem;
};

FIXTURE_VARIANT(fuzz) {
	const char *name;
	enum rk_how how;
};

RK_TAKEAWAY_VARIANTS(fuzz);

FIXTURE_SETUP(fuzz)
{
	int fd;

	self->other = self->vgem = -1;
	if (!rk_begin(_metadata, &self->o, variant->name))
		return;
	if (gemlib_count_devices(REFGEM_DRIVER_NAME) < 2)
		SKIP(return, "needs two refgem devices");
	fd = rk_open_device(0, self->bdf, sizeof(self->bdf));
	ASSERT_LE(0, fd);
	close(fd);
	self->other = rk_open_device(1, self->other_bdf,
				     sizeof(self->other_bdf));
	ASSERT_LE(0, self->other);
	self->vgem = gemlib_open_driver("vgem", GEMLIB_NODE_PRIMARY, 0);
	if (self->vgem < 0)
		TH_LOG("no vgem: its calls go to refgem's second device");
}

FIXTURE_TEARDOWN(fuzz)
{
	int ret;

	if (self->other >= 0)
		close(self->other);
	if (self->vgem >= 0)
		close(self->vgem);
	if (self->bdf[0]) {
		ret = rk_restore(self->bdf, variant->how);
		EXPECT_EQ(0, ret) TH_LOG("rebinding %s: %s", self->bdf,
					 strerror(-ret));
	}
	rk_check_kernel(_metadata, &self->o);
}

TEST_F_TIMEOUT(fuzz, calls, 600)
{
	long seconds = gk_env_long("REFGEM_FUZZ_SECONDS", 5);
	uint64_t seed = gk_env_long("REFGEM_FUZZ_SEED", 1);
	struct shared *sh = calloc(1, sizeof(*sh));
	struct worker w[THREADS];
	pthread_t thread[THREADS];
	long end, calls = 0, cycles = 0, t, slowest_take = 0, slowest_give = 0;
	uint64_t mix = seed;
	int i, j, ret;

	if (_metadata->skip)
		return;
	ASSERT_NE(NULL, sh);
	pthread_mutex_init(&sh->lock, NULL);
	sh->ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	sh->none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	ASSERT_NE(MAP_FAILED, sh->ro);
	ASSERT_NE(MAP_FAILED, sh->none);
	sh->vgem = self->vgem;
	ASSERT_EQ(0, gemlib_mem_total(&sh->ram));
	ret = open_gen(sh, self->bdf, self->other,
		       self->vgem >= 0 ? self->vgem : self->other);
	ASSERT_EQ(0, ret) TH_LOG("opening %s: %s", self->bdf, strerror(-ret));
	TH_LOG("seed %llu, %ld s, %d threads, %s of %s",
	       (unsigned long long)seed, seconds, THREADS,
	       rk_how_name(variant->how), self->bdf);

	memset(w, 0, sizeof(w));
	for (i = 0; i < THREADS; i++) {
		w[i].sh = sh;
		w[i].id = i;
		w[i].rng = (seed + 1) * 0x9e3779b97f4a7c15ull + i;
		w[i].buf = malloc(BUF_SIZE);
		ASSERT_NE(NULL, w[i].buf);
		for (j = 0; j < MAX_DMABUFS; j++)
			w[i].dmabufs[j] = -1;
		ASSERT_EQ(0, pthread_create(&thread[i], NULL, worker_fn,
					    &w[i]));
	}

	/* Take the device away and give it back until the time is up. */
	end = rk_now_ms() + seconds * 1000;
	ret = 0;
	while (rk_now_ms() < end && !ret) {
		mix = mix * 6364136223846793005ull + 1442695040888963407ull;
		rk_sleep_ms(150 + (mix >> 33) % 500);
		t = rk_now_ms();
		ret = rk_take_away(self->bdf, variant->how);
		slowest_take = max_l(slowest_take, rk_now_ms() - t);
		if (ret)
			break;
		rk_sleep_ms(20 + (mix >> 40) % 100);
		t = rk_now_ms();
		ret = rk_give_back(self->bdf, variant->how);
		slowest_give = max_l(slowest_give, rk_now_ms() - t);
		if (!ret)
			ret = open_gen(sh, self->bdf, self->other,
				       sh->gens[0].fd[F_VGEM]);
		cycles++;
	}
	atomic_store(&sh->stop, true);
	for (i = 0; i < THREADS; i++)
		pthread_join(thread[i], NULL);
	if (ret == -ENOTSUP)
		SKIP(goto out, "%s needs a refgem-vm guest (REFGEM_VMCTL): %s",
		     rk_how_name(variant->how), strerror(-ret));
	EXPECT_EQ(0, ret) TH_LOG("take-away cycle %ld: %s", cycles,
				 strerror(-ret));

	for (i = 0; i < THREADS; i++) {
		calls += w[i].calls;
		TH_LOG("thread %d: %ld calls, %ld succeeded, %ld ENODEV", i,
		       w[i].calls, w[i].ok, w[i].enodev);
		EXPECT_EQ(0, w[i].bad)
			TH_LOG("thread %d: %ld calls returned an undocumented errno; the first, %s. Replay: REFGEM_FUZZ_SEED=%llu REFGEM_FUZZ_SECONDS=%ld",
			       i, w[i].bad, w[i].bad_call,
			       (unsigned long long)seed, seconds);
	}
	TH_LOG("%ld calls, %ld take-away cycles in %ld ms; the slowest %s %ld ms, give-back %ld ms",
	       calls, cycles, rk_now_ms() - end + seconds * 1000,
	       rk_how_name(variant->how), slowest_take, slowest_give);
	EXPECT_LT(0, cycles);

out:
	/* Close everything; then nothing may be left. */
	for (i = 0; i < THREADS; i++) {
		for (j = 0; j < MAX_DMABUFS; j++)
			if (w[i].dmabufs[j] >= 0)
				close(w[i].dmabufs[j]);
		for (j = 0; j < MAX_MAPS; j++)
			if (w[i].maps[j].ptr)
				munmap(w[i].maps[j].ptr, w[i].maps[j].size);
		free(w[i].buf);
	}
	for (i = 0; i < sh->ngens; i++) {
		close(sh->gens[i].fd[F_DEV]);
		close(sh->gens[i].fd[F_DEV_PRIMARY]);
	}
	close(self->other);
	self->other = -1;
	if (self->vgem >= 0)
		close(self->vgem);
	self->vgem = -1;
	munmap(sh->ro, 4096);
	munmap(sh->none, 4096);
	free(sh);
	rk_check_closed(_metadata, &self->o, 0, 0, 0);
	rk_check_io_back(_metadata, &self->o);
}

TEST_HARNESS_MAIN
