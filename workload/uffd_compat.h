/* SPDX-License-Identifier: MIT */
/*
 * uffd_compat.h - userfaultfd / PAGEMAP_SCAN definitions that older system
 * headers (Debian bookworm ships 6.1-era UAPI headers) may lack, plus the
 * provisional RWP constants that are in no released header at all.
 *
 * Everything here is #ifndef-guarded so newer headers win.
 */
#ifndef UFFD_WORKLOAD_COMPAT_H
#define UFFD_WORKLOAD_COMPAT_H

#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/userfaultfd.h>
#include <linux/fs.h>

/* ---- features added after 6.1 (values from the upstream UAPI header) ---- */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif

#ifndef USERFAULTFD_IOC
#define USERFAULTFD_IOC 0xAA
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(USERFAULTFD_IOC, 0x00)
#endif

#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP ((__u64)1 << 1)
#endif

/* UFFDIO_MOVE (6.8) */
#ifndef _UFFDIO_MOVE
#define _UFFDIO_MOVE (0x05)
#endif
#ifndef UFFDIO_MOVE
struct uffdio_move {
	__u64 dst;
	__u64 src;
	__u64 len;
#define UFFDIO_MOVE_MODE_DONTWAKE ((__u64)1 << 0)
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ((__u64)1 << 1)
	__u64 mode;
	__s64 move;
};
#define UFFDIO_MOVE _IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif

/* UFFDIO_POISON (6.6) */
#ifndef _UFFDIO_POISON
#define _UFFDIO_POISON (0x08)
#endif
#ifndef UFFDIO_POISON
struct uffdio_poison {
	struct uffdio_range range;
#define UFFDIO_POISON_MODE_DONTWAKE ((__u64)1 << 0)
	__u64 mode;
	__s64 updated;
};
#define UFFDIO_POISON _IOWR(UFFDIO, _UFFDIO_POISON, struct uffdio_poison)
#endif

/* ---- PAGEMAP_SCAN on /proc/PID/pagemap (6.7) ---- */
#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)

struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)

struct pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

/*
 * ========================================================================
 * PROVISIONAL RWP CONSTANTS -- not in any released kernel header.
 * They follow the proposed "RWP" (read-write-protect) userfaultfd series.
 * The two feature bits can be overridden at run time with
 *   --rwp-feature-bit N  and  --rwp-async-feature-bit N
 * (see g_rwp_feature / g_rwp_async_feature in uffd-workload.c).
 * ========================================================================
 */
#define PROV_UFFD_FEATURE_RWP_BIT 17       /* UFFD_FEATURE_RWP       = 1ULL<<17 */
#define PROV_UFFD_FEATURE_RWP_ASYNC_BIT 18 /* UFFD_FEATURE_RWP_ASYNC = 1ULL<<18 */

#define PROV_UFFDIO_SET_MODE_NR 0x0A /* _UFFDIO_SET_MODE */
struct uffdio_set_mode {
	__u64 enable;
	__u64 disable;
};
/* _IOW(0xAA, 0x0A, struct uffdio_set_mode) == 0x4010AA0A */
#define PROV_UFFDIO_SET_MODE _IOW(0xAA, PROV_UFFDIO_SET_MODE_NR, struct uffdio_set_mode)

#define PROV_UFFDIO_RWPROTECT_NR 0x09 /* _UFFDIO_RWPROTECT */
struct uffdio_rwprotect {
	__u64 start;
	__u64 len;
#define PROV_UFFDIO_RWPROTECT_MODE_RWP ((__u64)1 << 0)
	__u64 mode;
};
/* _IOWR(0xAA, 0x09, 24-byte struct) == 0xC018AA09 */
#define PROV_UFFDIO_RWPROTECT _IOWR(0xAA, PROV_UFFDIO_RWPROTECT_NR, struct uffdio_rwprotect)
/* ====================== end of provisional block ====================== */

#endif /* UFFD_WORKLOAD_COMPAT_H */
