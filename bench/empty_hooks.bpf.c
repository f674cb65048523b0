// SPDX-License-Identifier: GPL-2.0
/*
 * The floor of bench/overhead.ts: programs that return at once, on the
 * hooks uffdscope's tracepoint backend attaches to, in both flavours
 * (bench/empty_hooks.c attaches one set). What a traced program pays for
 * this is what any tracer on these hooks pays before doing any work.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* btf: the tp_btf set of bpf/uffdscope.bpf.c (its syscall hooks are the
 * classic per-syscall ones below in both flavours) */
SEC("tp_btf/page_fault_user") int empty_b_fault(void *ctx) { return 0; }
SEC("tp_btf/sched_switch") int empty_b_switch(void *ctx) { return 0; }
SEC("tp_btf/sched_waking") int empty_b_waking(void *ctx) { return 0; }

/* classic: the tracepoint set */
SEC("tracepoint/exceptions/page_fault_user") int empty_fault(void *ctx) { return 0; }
SEC("tracepoint/sched/sched_switch") int empty_switch(void *ctx) { return 0; }
SEC("tracepoint/sched/sched_waking") int empty_waking(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_enter_ioctl") int empty_ioctl_in(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_exit_ioctl") int empty_ioctl_ex(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_enter_read") int empty_read_in(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_exit_read") int empty_read_ex(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_enter_close") int empty_close(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_enter_userfaultfd") int empty_uffd_in(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_exit_userfaultfd") int empty_uffd_ex(void *ctx) { return 0; }

/* both: process events stay classic in uffdscope either way */
SEC("tracepoint/sched/sched_process_fork") int empty_fork(void *ctx) { return 0; }
SEC("tracepoint/sched/sched_process_exec") int empty_exec(void *ctx) { return 0; }
SEC("tracepoint/sched/sched_process_exit") int empty_exit(void *ctx) { return 0; }
