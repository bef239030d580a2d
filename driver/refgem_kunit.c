// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite for refgem's revocable sg_tables: the wrong-device case the
 * Rust series tests (fail_sg_table_on_wrong_dev) and the success paths it
 * left "for someone else". It runs against the real refgem devices (QEMU
 * edu behind real DMA ops), so it needs two bound refgem devices and skips
 * without them. The revocation case unbinds the first device and binds it
 * again.
 */
#include <kunit/test.h>
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>

#include <drm/drm_drv.h>
#include <drm/drm_gem.h>
#include <drm/drm_prime.h>

#include "refgem_compat.h"
#include "refgem_drv.h"

#define KUNIT_BO_SIZE	SZ_1M

struct refgem_kunit {
	struct refgem_device *rdev[2];
};

static long counter(enum refgem_counter c)
{
	return atomic_long_read(&refgem_stats.v[c]);
}

static void put_device_ref(struct refgem_device *rdev)
{
	struct pci_dev *pdev = rdev->pdev;

	drm_dev_put(&rdev->drm);
	pci_dev_put(pdev);
}

static int refgem_kunit_init(struct kunit *test)
{
	struct refgem_kunit *ctx;
	int i;

	ctx = kunit_kzalloc(test, sizeof(*ctx), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ctx);
	test->priv = ctx;
	for (i = 0; i < ARRAY_SIZE(ctx->rdev); i++) {
		ctx->rdev[i] = refgem_kunit_device(i);
		if (!ctx->rdev[i])
			kunit_skip(test, "needs two bound refgem devices");
	}
	return 0;
}

static void refgem_kunit_exit(struct kunit *test)
{
	struct refgem_kunit *ctx = test->priv;
	int i;

	for (i = 0; i < ARRAY_SIZE(ctx->rdev); i++)
		if (ctx->rdev[i])
			put_device_ref(ctx->rdev[i]);
}

static struct refgem_bo *bo_create(struct kunit *test,
				   struct refgem_device *rdev)
{
	struct refgem_bo *bo = refgem_kunit_bo_create(&rdev->drm,
						      KUNIT_BO_SIZE);

	KUNIT_ASSERT_FALSE(test, IS_ERR(bo));
	return bo;
}

static void bo_put(struct refgem_bo *bo)
{
	drm_gem_object_put(&bo->base.base);
}

/* The seed's fail_sg_table_on_wrong_dev, and that nothing was set up. */
static void wrong_device_twice(struct kunit *test)
{
	struct refgem_kunit *ctx = test->priv;
	struct refgem_bo *bo = bo_create(test, ctx->rdev[0]);
	long created = counter(REFGEM_C_MAPS_CREATED);
	struct sg_table *sgt;
	bool made;
	int i;

	for (i = 0; i < 2; i++) {
		sgt = refgem_bo_map(bo, &ctx->rdev[1]->drm, NULL, &made);
		KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(sgt), -EINVAL);
		KUNIT_EXPECT_FALSE(test, made);
		KUNIT_EXPECT_NULL(test, bo->sgt);
		KUNIT_EXPECT_NULL(test, bo->base.sgt);
		KUNIT_EXPECT_TRUE(test, list_empty(&bo->map_link));
	}
	KUNIT_EXPECT_EQ(test, counter(REFGEM_C_MAPS_CREATED), created);

	/* The right device still gets a mapping. */
	sgt = refgem_bo_map(bo, &ctx->rdev[0]->drm, NULL, &made);
	KUNIT_EXPECT_FALSE(test, IS_ERR(sgt));
	KUNIT_EXPECT_TRUE(test, made);
	bo_put(bo);
}

static void map_once(struct kunit *test)
{
	struct refgem_kunit *ctx = test->priv;
	struct refgem_bo *bo = bo_create(test, ctx->rdev[0]);
	struct drm_device *drm = &ctx->rdev[0]->drm;
	long created = counter(REFGEM_C_MAPS_CREATED);
	struct sg_table *first, *second;
	bool made;

	first = refgem_bo_map(bo, drm, NULL, &made);
	KUNIT_ASSERT_FALSE(test, IS_ERR(first));
	KUNIT_EXPECT_TRUE(test, made);
	second = refgem_bo_map(bo, drm, NULL, &made);
	KUNIT_EXPECT_PTR_EQ(test, first, second);
	KUNIT_EXPECT_FALSE(test, made);
	KUNIT_EXPECT_PTR_EQ(test, first, bo->base.sgt);
	KUNIT_EXPECT_EQ(test, counter(REFGEM_C_MAPS_CREATED), created + 1);
	bo_put(bo);
}

static void segments_within_max(struct kunit *test)
{
	struct refgem_kunit *ctx = test->priv;
	struct refgem_bo *bo = bo_create(test, ctx->rdev[0]);
	struct device *dev = ctx->rdev[0]->drm.dev;
	size_t max = dma_max_mapping_size(dev);
	struct scatterlist *sg;
	struct sg_table *sgt;
	u64 total = 0;
	bool made;
	int i;

	sgt = refgem_bo_map(bo, &ctx->rdev[0]->drm, NULL, &made);
	KUNIT_ASSERT_FALSE(test, IS_ERR(sgt));
	for_each_sgtable_dma_sg(sgt, sg, i) {
		KUNIT_EXPECT_LE(test, (size_t)sg_dma_len(sg), max);
		total += sg_dma_len(sg);
	}
	KUNIT_EXPECT_EQ(test, total, (u64)KUNIT_BO_SIZE);
	KUNIT_EXPECT_EQ(test, bo->dma_len, (u64)KUNIT_BO_SIZE);
	bo_put(bo);
}

/*
 * Unbind with a mapped BO held: the mapping is revoked at once, and freeing
 * the BO afterwards neither unmaps it again nor keeps its pages.
 */
static void revoke_then_free(struct kunit *test)
{
	struct refgem_kunit *ctx = test->priv;
	struct refgem_device *rdev = ctx->rdev[0];
	struct refgem_bo *bo = bo_create(test, rdev);
	long pinned = counter(REFGEM_C_PAGES_PINNED);
	long revoked = counter(REFGEM_C_MAPS_REVOKED);
	long released = counter(REFGEM_C_MAPS_RELEASED);
	long late = counter(REFGEM_C_LATE_UNMAPS);
	struct sg_table *sgt;
	bool made;

	sgt = refgem_bo_map(bo, &rdev->drm, NULL, &made);
	KUNIT_ASSERT_FALSE(test, IS_ERR(sgt));
	KUNIT_EXPECT_EQ(test, counter(REFGEM_C_PAGES_PINNED),
			pinned + (KUNIT_BO_SIZE >> PAGE_SHIFT));

	device_release_driver(&rdev->pdev->dev);
	KUNIT_EXPECT_TRUE(test, rdev->revoked);
	KUNIT_EXPECT_NULL(test, bo->sgt);
	KUNIT_EXPECT_NULL(test, bo->base.sgt);
	KUNIT_EXPECT_EQ(test, counter(REFGEM_C_MAPS_REVOKED), revoked + 1);
	/* Pages stay pinned until free, as drm_gem_shmem_free() expects. */
	KUNIT_EXPECT_NOT_NULL(test, bo->base.pages);

	bo_put(bo);
	KUNIT_EXPECT_EQ(test, counter(REFGEM_C_MAPS_RELEASED), released);
	KUNIT_EXPECT_EQ(test, counter(REFGEM_C_LATE_UNMAPS), late);
	KUNIT_EXPECT_EQ(test, counter(REFGEM_C_PAGES_PINNED), pinned);

	KUNIT_EXPECT_EQ(test, device_attach(&rdev->pdev->dev), 1);
}

/* Whether two of the pinned BO's pages are physically contiguous. */
static bool has_contiguous_pages(struct drm_gem_shmem_object *shmem)
{
	size_t i, n = shmem->base.size >> PAGE_SHIFT;

	for (i = 1; i < n; i++)
		if (page_to_pfn(shmem->pages[i]) ==
		    page_to_pfn(shmem->pages[i - 1]) + 1)
			return true;
	return false;
}

/*
 * An exported BO mapped for an importer whose maximum DMA segment is one
 * page (the second device, its limit lowered for the case) gets no longer
 * segment. Only contiguous pages can make one: after a long run memory is
 * fragmented enough that a 1 MiB BO may have none, so the case tries BOs
 * of 8 MiB, holding each miss so that the next one gets other memory.
 */
#define CONTIG_BO_SIZE	SZ_8M
#define CONTIG_TRIES	4

static void export_within_importer_limit(struct kunit *test)
{
	struct refgem_kunit *ctx = test->priv;
	struct refgem_bo *tries[CONTIG_TRIES] = { NULL }, *bo = NULL;
	struct device *importer = ctx->rdev[1]->drm.dev;
	unsigned int saved = dma_get_max_seg_size(importer);
	struct dma_buf_attachment *attach;
	struct drm_gem_object *obj;
	unsigned int longest = 0;
	struct scatterlist *sg;
	struct dma_buf *dmabuf;
	struct sg_table *sgt;
	int i, n;

	for (n = 0; n < CONTIG_TRIES && !bo; n++) {
		tries[n] = refgem_kunit_bo_create(&ctx->rdev[0]->drm,
						  CONTIG_BO_SIZE);
		KUNIT_ASSERT_FALSE(test, IS_ERR(tries[n]));
		KUNIT_ASSERT_EQ(test, drm_gem_shmem_pin(&tries[n]->base), 0);
		if (has_contiguous_pages(&tries[n]->base))
			bo = tries[n];
	}
	if (!bo)
		goto out;
	obj = &bo->base.base;

	/* As drm_gem_prime_handle_to_fd() exports. */
	if (obj->funcs->export)
		dmabuf = obj->funcs->export(obj, O_RDWR);
	else
		dmabuf = drm_gem_prime_export(obj, O_RDWR);
	KUNIT_ASSERT_FALSE(test, IS_ERR(dmabuf));
	attach = dma_buf_attach(dmabuf, importer);
	KUNIT_ASSERT_FALSE(test, IS_ERR(attach));
	dma_set_max_seg_size(importer, PAGE_SIZE);
	sgt = refgem_dma_buf_map_attachment(attach, DMA_BIDIRECTIONAL);
	dma_set_max_seg_size(importer, saved);
	KUNIT_ASSERT_FALSE(test, IS_ERR(sgt));
	for_each_sgtable_sg(sgt, sg, i)
		longest = max(longest, sg->length);
	KUNIT_EXPECT_EQ(test, longest, (unsigned int)PAGE_SIZE);
	refgem_dma_buf_unmap_attachment(attach, sgt, DMA_BIDIRECTIONAL);
	dma_buf_detach(dmabuf, attach);
	dma_buf_put(dmabuf);
out:
	for (i = 0; i < n; i++) {
		drm_gem_shmem_unpin(&tries[i]->base);
		bo_put(tries[i]);
	}
	if (!bo)
		kunit_skip(test, "no two pages contiguous in %d BOs of %d MiB",
			   CONTIG_TRIES, CONTIG_BO_SIZE >> 20);
}

static struct kunit_case refgem_sgt_cases[] = {
	KUNIT_CASE(wrong_device_twice),
	KUNIT_CASE(map_once),
	KUNIT_CASE(segments_within_max),
	KUNIT_CASE(revoke_then_free),
	KUNIT_CASE(export_within_importer_limit),
	{}
};

static struct kunit_suite refgem_sgt_suite = {
	.name = "refgem_sgt",
	.init = refgem_kunit_init,
	.exit = refgem_kunit_exit,
	.test_cases = refgem_sgt_cases,
};

kunit_test_suite(refgem_sgt_suite);

MODULE_DESCRIPTION("KUnit tests for refgem's revocable sg_tables");
MODULE_LICENSE("GPL");
REFGEM_IMPORT_NS_DMA_BUF;
REFGEM_IMPORT_NS_KUNIT;
