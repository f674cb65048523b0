// SPDX-License-Identifier: GPL-2.0
/*
 * uffdscope tracepoint backend: tracepoints and BTF raw tracepoints
 * (tp_btf) only, so it loads on kernels without kprobes or fentry.
 *
 * What is exact and how:
 *  - faults: exceptions:page_fault_user + bpf_find_vma() tells whether the
 *    faulting address lies in a VMA armed by a uffd, and which context;
 *  - waiting: sched_switch of a thread with a uffd fault pending, checked
 *    against its uffd's fault wait queues (handle_userfault() queues the
 *    thread there before it sleeps) or else the kernel stack, so a later,
 *    unrelated sleep is never mistaken for a uffd wait;
 *  - waking: sched_waking runs in the waker's context (sched_wakeup may run
 *    on the target CPU), so the waker's identity is exact;
 *  - ioctls/reads/creation: syscall tracepoints, with the fd resolved to its
 *    struct file and the uffd identified by file->private_data (the
 *    userfaultfd_ctx), which is the same across dup, fork and SCM_RIGHTS.
 *
 * Filtering happens before bpf_ringbuf_reserve(): only selected processes
 * (and uffds they own or use) ever enter the ring.
 */
#include "tracepoint_tool.bpf.h"

char LICENSE[] SEC("license") = "GPL";
