// SPDX-License-Identifier: MIT
/*
 * refgem_bench: what refgem's ioctls, faults, PRIME, DMA and unbind cost,
 * each next to a baseline measured in the same guest (vgem for the GEM
 * core, memcpy and read() for bandwidth, the smallest BO for DMA, no
 * mappings for unbind), so that the figures are read as ratios. Not a
 * test: it asserts nothing and fails only when it cannot measure. The
 * unbind series comes last: it unbinds refgem's first device and binds it
 * again.
 *
 * usage: refgem_bench [--scale S] [--out FILE] [CASE...]
 *   --scale  multiplies every case's iterations (at least 1 each); below
 *            1 it also scales the unbind series' BO counts
 *   --out    the JSON document (default: stdout)
 *   CASE     only the cases whose names start with one of these
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <xf86drm.h>

#include "refgem.h"

#define KIB 1024ull
#define MIB (1024ull * KIB)

struct ctx {
	int refgem;		/* refgem's primary node, -errno if none */
	int vgem;		/* vgem's, -errno if none */
	void *buf;		/* user memory for DMA and memcpy */
	void *buf2;
	int memfd;		/* 16 MiB of data in the page cache */
	int bo_fd;		/* the case's BO, made by its setup, is */
	uint32_t handle;	/* @handle on @bo_fd */
};

/*
 * One measured operation. Returns 0 or a negative errno. @c->handle and
 * @c->map are the case's own between its setup and teardown.
 */
typedef int (*op_fn)(struct ctx *c, const void *arg);

struct bench_case {
	const char *name;
	const char *baseline;	/* the case it is read against, or NULL */
	const char *what;
	unsigned int iters;	/* at --scale 1 */
	uint64_t bytes;		/* moved per operation, for MiB/s; 0: none */
	int (*setup)(struct ctx *c, const void *arg);
	op_fn op;
	void (*teardown)(struct ctx *c);
	const void *arg;
};

struct dev_size {
	int vgem;		/* 1: on vgem, else on refgem */
	uint64_t size;		/* the BO's */
	uint64_t len;		/* the transfer's */
	uint32_t engine;
	int other;		/* PRIME: import on the other driver */
};

static int dev_fd(struct ctx *c, int vgem)
{
	return vgem ? c->vgem : c->refgem;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/*
 * A core ioctl that does nothing in the driver: the ioctl path's cost
 * (DRM_CAP_PRIME: one of the caps that drivers without KMS answer too).
 */
static int op_noop(struct ctx *c, const void *arg)
{
	const struct dev_size *d = arg;
	uint64_t v;

	return drmGetCap(dev_fd(c, d->vgem), DRM_CAP_PRIME, &v) ? -errno : 0;
}

static int op_dumb_create_close(struct ctx *c, const void *arg)
{
	const struct dev_size *d = arg;
	uint64_t real;
	uint32_t h;
	int ret;

	ret = gemlib_dumb_create(dev_fd(c, d->vgem), d->size, &h, &real);
	return ret ? ret : gemlib_gem_close(dev_fd(c, d->vgem), h);
}

static int op_gem_create_close(struct ctx *c, const void *arg)
{
	const struct dev_size *d = arg;
	uint32_t h;
	int ret;

	ret = refgem_bo_create(c->refgem, d->size, 0, &h);
	return ret ? ret : gemlib_gem_close(c->refgem, h);
}

/* A new dumb BO, mapped, every page written once, unmapped, closed. */
static int op_fault(struct ctx *c, const void *arg)
{
	const struct dev_size *d = arg;
	int fd = dev_fd(c, d->vgem);
	uint64_t real, off, i;
	uint32_t h;
	void *p;
	int ret;

	ret = gemlib_dumb_create(fd, d->size, &h, &real);
	if (ret)
		return ret;
	ret = gemlib_dumb_mmap_offset(fd, h, &off);
	if (!ret)
		ret = gemlib_mmap(fd, off, d->size, PROT_READ | PROT_WRITE, &p);
	if (!ret) {
		for (i = 0; i < d->size; i += 4096)
			((volatile char *)p)[i] = 1;
		munmap(p, d->size);
	}
	gemlib_gem_close(fd, h);
	return ret;
}

static int setup_bo(struct ctx *c, const void *arg)
{
	const struct dev_size *d = arg;
	uint64_t real;

	c->bo_fd = dev_fd(c, d->vgem);
	return gemlib_dumb_create(c->bo_fd, d->size, &c->handle, &real);
}

static void teardown_bo(struct ctx *c)
{
	gemlib_gem_close(c->bo_fd, c->handle);
}

/*
 * Export, import (on the same fd, or with @d->other on the other
 * driver's), close the dma-buf and the import. A self-import returns the
 * exporter's own handle, which stays.
 */
static int op_prime(struct ctx *c, const void *arg)
{
	const struct dev_size *d = arg;
	int from = dev_fd(c, d->vgem), to = dev_fd(c, d->vgem != d->other);
	int dmabuf, ret;
	uint32_t h;

	ret = gemlib_prime_export(from, c->handle, O_CLOEXEC, &dmabuf);
	if (ret)
		return ret;
	ret = gemlib_prime_import(to, dmabuf, &h);
	close(dmabuf);
	return ret || to == from ? ret : gemlib_gem_close(to, h);
}

static int op_sgt_map(struct ctx *c, const void *arg)
{
	(void)arg;
	return refgem_sgt_map(c->refgem, c->handle, -1, NULL);
}

/* The first SGT_MAP of a new BO, with the BO's create and close. */
static int op_sgt_map_first(struct ctx *c, const void *arg)
{
	const struct dev_size *d = arg;
	uint32_t h;
	int ret;

	ret = refgem_bo_create(c->refgem, d->size, 0, &h);
	if (ret)
		return ret;
	ret = refgem_sgt_map(c->refgem, h, -1, NULL);
	gemlib_gem_close(c->refgem, h);
	return ret;
}

static int setup_mapped_bo(struct ctx *c, const void *arg)
{
	int ret = setup_bo(c, arg);

	return ret ? ret : refgem_sgt_map(c->refgem, c->handle, -1, NULL);
}

/* The device reads the BO's first @len bytes into user memory. */
static int op_dma(struct ctx *c, const void *arg)
{
	const struct dev_size *d = arg;

	return refgem_dma(c->refgem, c->handle, REFGEM_DMA_TO_USER, d->engine,
			  0, d->len, c->buf);
}

/* The CPU's own copy of @len bytes: the bound for the software engine. */
static int op_memcpy(struct ctx *c, const void *arg)
{
	const struct dev_size *d = arg;

	memcpy(c->buf2, c->buf, d->len);
	__asm__ volatile("" : : "r"(c->buf2) : "memory");
	return 0;
}

/* The kernel's own copy to user memory: read() of a filled memfd. */
static int op_read(struct ctx *c, const void *arg)
{
	const struct dev_size *d = arg;
	ssize_t n = pread(c->memfd, c->buf, d->len, 0);

	return n == (ssize_t)d->len ? 0 : n < 0 ? -errno : -EIO;
}

#define DS(v, s, l, e) \
	(&(const struct dev_size){ .vgem = v, .size = s, .len = l, .engine = e })
/* A 4 KiB BO of one driver (vgem if @v), imported by the other. */
#define DS_OTHER(v) \
	(&(const struct dev_size){ .vgem = v, .size = 4 * KIB, .other = 1 })

static const struct bench_case cases[] = {
	{ "noop-vgem", NULL, "DRM_IOCTL_GET_CAP(PRIME) on vgem", 2000, 0,
	  NULL, op_noop, NULL, DS(1, 0, 0, 0) },
	{ "noop", "noop-vgem", "DRM_IOCTL_GET_CAP(PRIME)", 2000, 0,
	  NULL, op_noop, NULL, DS(0, 0, 0, 0) },
	{ "dumb-create-close-4k-vgem", NULL, "dumb create + close, 4 KiB, vgem",
	  500, 0, NULL, op_dumb_create_close, NULL, DS(1, 4 * KIB, 0, 0) },
	{ "dumb-create-close-4k", "dumb-create-close-4k-vgem",
	  "dumb create + close, 4 KiB", 500, 0,
	  NULL, op_dumb_create_close, NULL, DS(0, 4 * KIB, 0, 0) },
	{ "dumb-create-close-1m-vgem", NULL, "dumb create + close, 1 MiB, vgem",
	  500, 0, NULL, op_dumb_create_close, NULL, DS(1, MIB, 0, 0) },
	{ "dumb-create-close-1m", "dumb-create-close-1m-vgem",
	  "dumb create + close, 1 MiB", 500, 0,
	  NULL, op_dumb_create_close, NULL, DS(0, MIB, 0, 0) },
	{ "gem-create-close-4k", "dumb-create-close-4k",
	  "GEM_CREATE + close, 4 KiB", 500, 0,
	  NULL, op_gem_create_close, NULL, DS(0, 4 * KIB, 0, 0) },
	{ "gem-create-close-1m", "dumb-create-close-1m",
	  "GEM_CREATE + close, 1 MiB", 500, 0,
	  NULL, op_gem_create_close, NULL, DS(0, MIB, 0, 0) },
	{ "fault-1m-vgem", NULL, "create, mmap, write each page, 1 MiB, vgem",
	  50, MIB, NULL, op_fault, NULL, DS(1, MIB, 0, 0) },
	{ "fault-1m", "fault-1m-vgem", "create, mmap, write each page, 1 MiB",
	  50, MIB, NULL, op_fault, NULL, DS(0, MIB, 0, 0) },
	{ "fault-16m-vgem", NULL, "create, mmap, write each page, 16 MiB, vgem",
	  10, 16 * MIB, NULL, op_fault, NULL, DS(1, 16 * MIB, 0, 0) },
	{ "fault-16m", "fault-16m-vgem", "create, mmap, write each page, 16 MiB",
	  10, 16 * MIB, NULL, op_fault, NULL, DS(0, 16 * MIB, 0, 0) },
	{ "prime-self-vgem", NULL, "export + import on itself + close, vgem",
	  500, 0, setup_bo, op_prime, teardown_bo, DS(1, 4 * KIB, 0, 0) },
	{ "prime-self", "prime-self-vgem", "export + import on itself + close",
	  500, 0, setup_bo, op_prime, teardown_bo, DS(0, 4 * KIB, 0, 0) },
	{ "prime-refgem-to-vgem", NULL,
	  "refgem exports, vgem imports, both close", 500, 0,
	  setup_bo, op_prime, teardown_bo, DS_OTHER(0) },
	{ "prime-vgem-to-refgem", "prime-refgem-to-vgem",
	  "vgem exports, refgem imports, both close", 500, 0,
	  setup_bo, op_prime, teardown_bo, DS_OTHER(1) },
	{ "sgt-map-first-4k", "gem-create-close-4k",
	  "GEM_CREATE + first SGT_MAP + close, 4 KiB", 500, 0,
	  NULL, op_sgt_map_first, NULL, DS(0, 4 * KIB, 0, 0) },
	{ "sgt-map-again", "noop", "SGT_MAP of a mapped BO", 2000, 0,
	  setup_mapped_bo, op_sgt_map, teardown_bo, DS(0, 4 * KIB, 0, 0) },
	{ "memcpy-16m", NULL, "memcpy of 16 MiB in the guest", 20, 16 * MIB,
	  NULL, op_memcpy, NULL, DS(0, 0, 16 * MIB, 0) },
	{ "read-16m", "memcpy-16m", "read() of 16 MiB of a memfd", 20,
	  16 * MIB, NULL, op_read, NULL, DS(0, 0, 16 * MIB, 0) },
	{ "dma-sw-16m", "read-16m", "software engine reads all of 16 MiB",
	  20, 16 * MIB, setup_mapped_bo, op_dma, teardown_bo,
	  DS(0, 16 * MIB, 16 * MIB, REFGEM_ENGINE_SW) },
	{ "dma-sw-4k-of-4k", NULL, "software engine reads 4 KiB of a 4 KiB BO",
	  200, 4 * KIB, setup_mapped_bo, op_dma, teardown_bo,
	  DS(0, 4 * KIB, 4 * KIB, REFGEM_ENGINE_SW) },
	{ "dma-sw-4k-of-1m", "dma-sw-4k-of-4k",
	  "software engine reads 4 KiB of a 1 MiB BO", 200, 4 * KIB,
	  setup_mapped_bo, op_dma, teardown_bo,
	  DS(0, MIB, 4 * KIB, REFGEM_ENGINE_SW) },
	{ "dma-sw-4k-of-16m", "dma-sw-4k-of-4k",
	  "software engine reads 4 KiB of a 16 MiB BO", 50, 4 * KIB,
	  setup_mapped_bo, op_dma, teardown_bo,
	  DS(0, 16 * MIB, 4 * KIB, REFGEM_ENGINE_SW) },
	{ "dma-edu-4k-of-4k", NULL, "edu engine reads 4095 B of a 4 KiB BO",
	  4, REFGEM_EDU_MAX_LEN, setup_mapped_bo, op_dma, teardown_bo,
	  DS(0, 4 * KIB, REFGEM_EDU_MAX_LEN, REFGEM_ENGINE_EDU) },
	{ "dma-edu-4k-of-16m", "dma-edu-4k-of-4k",
	  "edu engine reads 4095 B of a 16 MiB BO", 4, REFGEM_EDU_MAX_LEN,
	  setup_mapped_bo, op_dma, teardown_bo,
	  DS(0, 16 * MIB, REFGEM_EDU_MAX_LEN, REFGEM_ENGINE_EDU) },
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int needs_vgem(const struct bench_case *bc)
{
	const struct dev_size *d = bc->arg;

	return d->vgem || d->other;
}

static const struct bench_case *find_case(const char *name)
{
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (!strcmp(cases[i].name, name))
			return &cases[i];
	return NULL;
}

static double time_op(const struct bench_case *bc, struct ctx *c, int *ret)
{
	double start = now_us();

	*ret = bc->op(c, bc->arg);
	return now_us() - start;
}

/*
 * Run @bc @n times, each run next to one of its baseline's, the two in
 * turns (one first, then the other) so that the host's load, which swings
 * under TCG, weighs on both alike; write its JSON entry: median, minimum
 * and the median of the runs' ratios to their baseline neighbours.
 * Returns 0, or the negative errno that stopped it (written as the
 * entry's "error").
 */
static int run_case(struct ctx *c, const struct bench_case *bc,
		    unsigned int n, FILE *out, int first)
{
	const struct bench_case *base = NULL;
	struct ctx bctx = *c;
	double *t, *r, tb = 0;
	unsigned int i;
	int ret = 0, bret = 0;

	fprintf(out, "%s\n    \"%s\": {\"what\": \"%s\"", first ? "" : ",",
		bc->name, bc->what);
	if (bc->baseline)
		fprintf(out, ", \"baseline\": \"%s\"", bc->baseline);
	if (c->refgem < 0 || (needs_vgem(bc) && c->vgem < 0)) {
		fprintf(out, ", \"skip\": \"no %s device\"}",
			c->refgem < 0 ? "refgem" : "vgem");
		return 0;
	}
	if (bc->baseline)
		base = find_case(bc->baseline);
	if (base && needs_vgem(base) && c->vgem < 0)
		base = NULL;
	t = calloc(2 * n, sizeof(*t));
	if (!t)
		return -ENOMEM;
	r = t + n;
	c->handle = 0;
	bctx.handle = 0;
	if (bc->setup)
		ret = bc->setup(c, bc->arg);
	if (!ret && base && base->setup)
		ret = base->setup(&bctx, base->arg);
	/* One unmeasured run each: first faults, caches, lazy allocations. */
	if (!ret)
		ret = bc->op(c, bc->arg);
	if (!ret && base)
		ret = base->op(&bctx, base->arg);
	for (i = 0; i < n && !ret && !bret; i++) {
		if (base && i % 2)
			tb = time_op(base, &bctx, &bret);
		t[i] = time_op(bc, c, &ret);
		if (base && !(i % 2))
			tb = time_op(base, &bctx, &bret);
		r[i] = tb > 0 ? t[i] / tb : 0;
	}
	ret = ret ? ret : bret;
	if (bc->teardown && c->handle)
		bc->teardown(c);
	if (base && base->teardown && bctx.handle)
		base->teardown(&bctx);
	if (ret) {
		fprintf(out, ", \"error\": \"%s\"}", strerror(-ret));
		free(t);
		return ret;
	}
	qsort(t, n, sizeof(*t), cmp_double);
	fprintf(out, ", \"iterations\": %u, \"median_us\": %.3f, \"min_us\": %.3f",
		n, t[n / 2], t[0]);
	if (base) {
		qsort(r, n, sizeof(*r), cmp_double);
		fprintf(out, ", \"paired_ratio\": %.4f", r[n / 2]);
	}
	if (bc->bytes)
		fprintf(out, ", \"bytes\": %llu, \"mib_s\": %.1f",
			(unsigned long long)bc->bytes,
			bc->bytes / (double)MIB / (t[n / 2] / 1e6));
	fputc('}', out);
	free(t);
	return 0;
}

static int wanted(const char *name, char **only, int n)
{
	int i;

	if (!n)
		return 1;
	for (i = 0; i < n; i++)
		if (!strncmp(name, only[i], strlen(only[i])))
			return 1;
	return 0;
}

/* One measured figure of the unbind series (one run: iterations 1). */
static void emit_once(FILE *out, int *first, const char *name,
		      const char *baseline, const char *what, double us)
{
	fprintf(out, "%s\n    \"%s\": {\"what\": \"%s\"", *first ? "" : ",",
		name, what);
	if (baseline)
		fprintf(out, ", \"baseline\": \"%s\"", baseline);
	fprintf(out, ", \"iterations\": 1, \"median_us\": %.3f, \"min_us\": %.3f}",
		us, us);
	*first = 0;
}

/*
 * Unbind refgem's device while one fd holds @n 4 KiB BOs, mapped or not,
 * then close that fd; then bind the device again. What revoking costs per
 * mapping, and the close after an unbind. Returns 0 or a negative errno.
 */
static int unbind_once(struct ctx *c, const char *bdf, unsigned int n,
		       int mapped, double *unbind_us, double *close_us)
{
	unsigned int i;
	uint32_t h;
	double t;
	int fd, ret = 0;

	fd = gemlib_open_bdf(bdf, GEMLIB_NODE_PRIMARY, 5000);
	if (fd < 0)
		return fd;
	for (i = 0; i < n && !ret; i++) {
		ret = refgem_bo_create(fd, 4 * KIB, 0, &h);
		if (!ret && mapped)
			ret = refgem_sgt_map(fd, h, -1, NULL);
	}
	if (!ret) {
		t = now_us();
		ret = gemlib_pci_unbind(REFGEM_DRIVER_NAME, bdf);
		*unbind_us = now_us() - t;
	}
	t = now_us();
	close(fd);
	*close_us = now_us() - t;
	if (gemlib_pci_is_bound(REFGEM_DRIVER_NAME, bdf) == 0) {
		int bound = gemlib_pci_bind(REFGEM_DRIVER_NAME, bdf);

		ret = ret ? ret : bound;
	}
	/* The bench's own fd went with the device: open the new one. */
	close(c->refgem);
	c->refgem = gemlib_open_bdf(bdf, GEMLIB_NODE_PRIMARY, 5000);
	return ret ? ret : c->refgem < 0 ? c->refgem : 0;
}

static int unbind_series(struct ctx *c, FILE *out, int *first, double scale,
			 char **only, int n_only)
{
	static const unsigned int counts[] = { 0, 100, 1000, 4096, 10000 };
	char bdf[64], name[64], base[64], what[96];
	double unbind_us, close_us;
	unsigned int i, n;
	int mapped, ret;

	if (!wanted("unbind-", only, n_only) &&
	    !wanted("close-after-unbind-", only, n_only))
		return 0;
	if (c->refgem < 0)
		return 0;
	ret = gemlib_fd_bdf(c->refgem, bdf, sizeof(bdf));
	if (ret)
		return ret;
	for (mapped = 0; mapped < 2; mapped++) {
		for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
			/* At a small scale, fewer BOs: the series still runs. */
			n = counts[i] * (scale < 1 ? scale : 1);
			ret = unbind_once(c, bdf, n, mapped, &unbind_us,
					  &close_us);
			if (ret)
				return ret;
			snprintf(name, sizeof(name), "unbind-%u%s", counts[i],
				 mapped ? "-mapped" : "");
			snprintf(base, sizeof(base), "unbind-%u", counts[i]);
			snprintf(what, sizeof(what), "unbind with %u BOs%s", n,
				 mapped ? ", each mapped" : "");
			emit_once(out, first, name, mapped ? base : NULL, what,
				  unbind_us);
			snprintf(name, sizeof(name), "close-after-unbind-%u%s",
				 counts[i], mapped ? "-mapped" : "");
			snprintf(base, sizeof(base), "close-after-unbind-%u",
				 counts[i]);
			snprintf(what, sizeof(what),
				 "close of the fd of %u BOs%s after the unbind",
				 n, mapped ? ", each mapped" : "");
			emit_once(out, first, name, mapped ? base : NULL, what,
				  close_us);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ctx c = { 0 };
	const char *path = NULL;
	double scale = 1.0;
	struct utsname u;
	int i, argi = 1, first = 1, failed = 0;
	FILE *out = stdout;

	for (; argi < argc && !strncmp(argv[argi], "--", 2); argi++) {
		if (!strcmp(argv[argi], "--scale") && argi + 1 < argc) {
			scale = strtod(argv[++argi], NULL);
		} else if (!strcmp(argv[argi], "--out") && argi + 1 < argc) {
			path = argv[++argi];
		} else {
			fprintf(stderr, "usage: %s [--scale S] [--out FILE] [CASE...]\n",
				argv[0]);
			return 2;
		}
	}
	if (!(scale > 0)) {
		fprintf(stderr, "refgem_bench: --scale must be positive\n");
		return 2;
	}
	c.refgem = gemlib_open_driver(REFGEM_DRIVER_NAME, GEMLIB_NODE_PRIMARY,
				      0);
	c.vgem = gemlib_open_driver("vgem", GEMLIB_NODE_PRIMARY, 0);
	c.buf = malloc(16 * MIB);
	c.buf2 = malloc(16 * MIB);
	if (!c.buf || !c.buf2) {
		fprintf(stderr, "refgem_bench: out of memory\n");
		return 1;
	}
	memset(c.buf, 1, 16 * MIB);
	memset(c.buf2, 2, 16 * MIB);
	c.memfd = memfd_create("refgem_bench", MFD_CLOEXEC);
	if (c.memfd < 0 || pwrite(c.memfd, c.buf, 16 * MIB, 0) != 16 * MIB) {
		fprintf(stderr, "refgem_bench: memfd: %s\n", strerror(errno));
		return 1;
	}
	if (path) {
		out = fopen(path, "w");
		if (!out) {
			fprintf(stderr, "refgem_bench: %s: %s\n", path,
				strerror(errno));
			return 1;
		}
	}
	uname(&u);
	fprintf(out, "{\n  \"kernel\": \"%s\",\n  \"scale\": %g,\n  \"cases\": {",
		u.release, scale);
	for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
		const struct bench_case *bc = &cases[i];
		unsigned int n = bc->iters * scale;
		int ret;

		if (!wanted(bc->name, argv + argi, argc - argi))
			continue;
		ret = run_case(&c, bc, n ? n : 1, out, first);
		first = 0;
		if (ret) {
			fprintf(stderr, "refgem_bench: %s: %s\n", bc->name,
				strerror(-ret));
			failed = 1;
		}
	}
	/* Last: it unbinds and binds the device again. */
	i = unbind_series(&c, out, &first, scale, argv + argi, argc - argi);
	if (i) {
		fprintf(stderr, "refgem_bench: unbind series: %s\n",
			strerror(-i));
		failed = 1;
	}
	fprintf(out, "\n  }\n}\n");
	if (out != stdout && fclose(out)) {
		fprintf(stderr, "refgem_bench: %s: %s\n", path, strerror(errno));
		return 1;
	}
	return failed;
}
