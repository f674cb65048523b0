// SPDX-License-Identifier: GPL-2.0
/* Configuration, set by user space before load (rodata). Part of the tracepoint tool (tracepoint_tool.bpf.h). */
#ifndef USCOPE_TP_CONFIG_BPF_H
#define USCOPE_TP_CONFIG_BPF_H

const volatile bool filter_tgids = false;    /* false: every process */
const volatile bool follow_children = true;  /* traced parent => traced child */
const volatile __u64 hu_start = 0;           /* handle_userfault() text range */
const volatile __u64 hu_end = 0;             /* 0: range unknown, heuristic */
const volatile __u64 uffd_wake_fn = 0;       /* userfaultfd_wake_function; 0: unknown */
const volatile __u64 vm_uffd_missing = 0x200;          /* VM_UFFD_MISSING */
const volatile __u64 vm_uffd_wp = 0x1000;              /* VM_UFFD_WP */
const volatile __u64 vm_uffd_minor = 1ULL << 41;       /* VM_UFFD_MINOR */
const volatile __u64 wakeup_bytes = 0;       /* 0: wake the consumer per record */
/* Count faults and histogram waits and their stages in uscope_uffd_stats
 * instead of writing FAULT/BLOCK/WAKE/RESUME/MSG records; the per-fault
 * ioctls are counted, and written only when they fail (ioctl_recorded()). */
const volatile bool in_kernel_stats = false;
/* uapi bits the in-kernel kinds need (src/events/uapi.ts; the RWP ones are
 * provisional and overridable there) */
const volatile __u64 feat_wp_async = 1ULL << 15;  /* UFFD_FEATURE_WP_ASYNC */
const volatile __u64 feat_rwp_async = 0;          /* UFFD_FEATURE_RWP_ASYNC */
const volatile __u64 msg_flag_wp = 1ULL << 1;     /* UFFD_PAGEFAULT_FLAG_WP */
const volatile __u64 msg_flag_minor = 1ULL << 2;  /* UFFD_PAGEFAULT_FLAG_MINOR */
const volatile __u64 msg_flag_rwp = 0;            /* UFFD_PAGEFAULT_FLAG_RWP */

#endif /* USCOPE_TP_CONFIG_BPF_H */
