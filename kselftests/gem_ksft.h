/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The driver-agnostic oracles of the kselftests, for any DRM driver: the
 * runner's marker and test name, the kernel log judged by
 * lib/kernel-log.rules, the taint mask and swiotlb's io_tlb_used baseline.
 * Include it after kselftest_harness.h: the checks are the harness's
 * EXPECT/ASSERT, so every helper takes the test's _metadata. refgem_ksft.h
 * adds refgem's counters on top.
 *
 * Oracles, read through lib's raw readers:
 * - the kernel log from the test's start: no WARNING, BUG, DMA-API, DMAR
 *   fault, lockdep, KASAN, ... report; and no new taint bit but O and E;
 * - swiotlb's io_tlb_used (swiotlb=force only): once everything is closed
 *   and every device is back, it is at its start.
 */
#ifndef GEM_KSFT_H
#define GEM_KSFT_H

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gemlib.h"

/* lib/kernel-log.rules, the runner's rules, as a string (the Makefile's). */
static const char gk_kernel_log_rules[] =
#include "kernel_log_rules.h"
	;

/* The runner splits the kernel log on this marker (tools/refgem/ksft.py). */
#define GK_MARKER	"refgem-ksft: starting "

static inline long gk_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void gk_sleep_ms(long ms)
{
	const struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000,
	};

	nanosleep(&ts, NULL);
}

/* A number from the environment (any base strtol() reads), or @def. */
static inline long gk_env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 0) : def;
}

/* swiotlb's used slots, or -1 when there is no swiotlb (IOMMU profile). */
static inline long gk_io(void)
{
	long slots;

	return gemlib_swiotlb_used(&slots) ? -1 : slots;
}

struct gk_oracle {
	int kmsg;		/* /dev/kmsg from the test's start, or -1 */
	int kmsg_bad;		/* bad kernel records seen so far */
	struct gemlib_klog_rules *rules;	/* judge kmsg's records */
	char test[256];		/* the runner's name of the test */
	unsigned long taint;
	long io_start;		/* -1: no swiotlb, that oracle is off */
};

/*
 * The first half of gk_begin(): the marker the runner splits the kernel
 * log on, the test's name, the rules, /dev/kmsg and the taint mask.
 * Returns false after SKIPping when one cannot be read.
 */
static inline bool gk_begin_kernel(struct __test_metadata *_metadata,
				   struct gk_oracle *o, const char *variant)
{
	static struct gemlib_klog_rules *rules;
	char err[256];
	int ret;

	o->kmsg = -1;
	o->kmsg_bad = 0;
	o->io_start = -1;
	/* The TAP name: the runner files kernel records under it. */
	gemlib_kmsg(GK_MARKER "%s%s%s.%s",
		    _metadata->fixture->name, *variant ? "." : "", variant,
		    _metadata->name);
	/* The harness's TAP name, as the runner names the test. */
	snprintf(o->test, sizeof(o->test), "kselftest@%s@%s%s%s.%s",
		 program_invocation_short_name, _metadata->fixture->name,
		 *variant ? "." : "", variant, _metadata->name);
	if (!rules) {
		ret = gemlib_klog_rules_parse(gk_kernel_log_rules, &rules, err,
					      sizeof(err));
		EXPECT_EQ(0, ret)
			TH_LOG("lib/kernel-log.rules: %s", err);
		if (ret)
			return false;
	}
	o->rules = rules;
	if (geteuid())
		SKIP(return false, "needs root (sysfs, debugfs, /dev/kmsg)");
	ret = gemlib_kmsg_open();
	if (ret < 0)
		SKIP(return false, "cannot read /dev/kmsg: %s", strerror(-ret));
	o->kmsg = ret;
	ret = gemlib_taint(&o->taint);
	if (ret)
		SKIP(return false, "cannot read the taint mask: %s",
		     strerror(-ret));
	return true;
}

/* The second half: swiotlb's baseline, or the oracle off without a pool. */
static inline bool gk_begin_io(struct __test_metadata *_metadata,
			       struct gk_oracle *o)
{
	int ret;

	ret = gemlib_swiotlb_used(&o->io_start);
	if (ret == -ENOENT) {
		o->io_start = -1;
		TH_LOG("no swiotlb pool (io_tlb_used absent): the io_tlb_used oracle is skipped");
	} else if (ret) {
		SKIP(return false, "cannot read io_tlb_used: %s",
		     strerror(-ret));
	}
	return true;
}

/*
 * First thing in every FIXTURE_SETUP: the marker, then the oracles'
 * starting points; @variant is "" for a fixture without variants. Returns
 * false after SKIPping when an oracle cannot be read.
 */
static inline bool gk_begin(struct __test_metadata *_metadata,
			    struct gk_oracle *o, const char *variant)
{
	return gk_begin_kernel(_metadata, o, variant) &&
	       gk_begin_io(_metadata, o);
}

/* Everything is closed and every device is back: swiotlb is as it was. */
static inline void gk_check_io_back(struct __test_metadata *_metadata,
				    struct gk_oracle *o)
{
	long io;

	if (o->io_start < 0)
		return;
	io = gk_io();
	EXPECT_EQ(o->io_start, io)
		TH_LOG("io_tlb_used %ld once everything is closed and rebound, %ld at the start",
		       io, o->io_start);
}

/*
 * Read the kernel log up to now, counting (and showing) the records that
 * count against the test by lib/kernel-log.rules. Long tests call it as
 * they go, before the ring buffer wraps.
 */
static inline void gk_drain_kernel_log(struct __test_metadata *_metadata,
				       struct gk_oracle *o)
{
	struct gemlib_kmsg_record rec;
	int ret;

	if (o->kmsg < 0)
		return;
	while ((ret = gemlib_kmsg_next(o->kmsg, &rec))) {
		if (ret == -EPIPE) {
			TH_LOG("kernel log records were lost before they could be read");
			o->kmsg_bad++;
			continue;
		}
		if (ret < 0) {
			TH_LOG("reading /dev/kmsg: %s", strerror(-ret));
			o->kmsg_bad++;
			return;
		}
		if (gemlib_klog_counts(o->rules, &rec, o->test)) {
			TH_LOG("kernel: <%d> %s", rec.level, rec.text);
			o->kmsg_bad++;
		}
	}
}

/*
 * Last thing in every FIXTURE_TEARDOWN (EXPECTs only): the kernel log since
 * the test's start and the taint mask.
 */
static inline void gk_check_kernel(struct __test_metadata *_metadata,
				   struct gk_oracle *o)
{
	unsigned long taint, gained;

	if (o->kmsg < 0)
		return;
	gk_drain_kernel_log(_metadata, o);
	EXPECT_EQ(0, o->kmsg_bad)
		TH_LOG("the kernel reported a problem during the test (above)");
	close(o->kmsg);
	o->kmsg = -1;

	if (gemlib_taint(&taint))
		return;
	gained = taint & ~o->taint & ~gemlib_klog_ignored_taint(o->rules);
	EXPECT_EQ(0ul, gained)
		TH_LOG("the kernel gained taint 0x%lx (was 0x%lx, now 0x%lx)",
		       gained, o->taint, taint);
}

/* A CPU mapping still holds @seed's pattern. */
#define GK_EXPECT_PATTERN(ptr, len, seed, what) do {			\
	size_t __bad = gemlib_pattern_check(ptr, len, seed);		\
									\
	EXPECT_EQ((size_t)-1, __bad)					\
		TH_LOG("%s: wrong data at offset %zu", what, __bad);	\
} while (0)

#endif /* GEM_KSFT_H */
