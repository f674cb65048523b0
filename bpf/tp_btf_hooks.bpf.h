// SPDX-License-Identifier: GPL-2.0
/* The hot hooks as BTF raw tracepoints (tp_btf), and the stop-time flush. Part of the tracepoint tool (tracepoint_tool.bpf.h). */
#ifndef USCOPE_TP_BTF_HOOKS_BPF_H
#define USCOPE_TP_BTF_HOOKS_BPF_H

/* ---- the same hooks as BTF raw tracepoints (tp_btf) ----
 * Called with the tracepoint's raw arguments, before any trace-event
 * formatting: cheaper on the hot hooks (bench/README.md). The bodies are
 * shared; user space loads one set (native/tracer.cc: "hooks"). */

/* prev's state as the sched_switch trace event reports it (the kernel's
 * __trace_sched_switch_state()): a preemption is TASK_REPORT_MAX, else the
 * highest TASK_REPORT bit of the raw state, with TASK_IDLE reported as
 * TASK_REPORT_IDLE and rt-lock waits and frozen tasks as uninterruptible. */
#define TASK_REPORT_BITS 0x7f
#define TASK_REPORT_IDLE_BIT 0x80
#define RAW_TASK_IDLE 0x402        /* TASK_UNINTERRUPTIBLE | TASK_NOLOAD */
#define RAW_TASK_RTLOCK_WAIT 0x1000
#define RAW_TASK_FROZEN 0x8000

static __always_inline long switch_state(bool preempt, unsigned int raw, struct task_struct *prev)
{
	unsigned int s;

	if (preempt)
		return TASK_STATE_PREEMPTED;
	if ((raw & RAW_TASK_IDLE) == RAW_TASK_IDLE)
		s = TASK_REPORT_IDLE_BIT;
	else if (raw & (RAW_TASK_RTLOCK_WAIT | RAW_TASK_FROZEN))
		s = 2; /* TASK_UNINTERRUPTIBLE */
	else
		s = (raw | prev->exit_state) & TASK_REPORT_BITS;
	for (int b = 7; b >= 0; b--)
		if (s & (1u << b))
			return 1L << b;
	return 0;
}

/* Run once by user space at stop, before the final drain: every thread's
 * fault not sent whole yet goes into the ring (one still waiting, or one
 * whose thread ran no hook again), as a fault whose end was not seen. */
SEC("iter/task")
int uscope_flush_pending(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct thread_state *st;
	__u32 tid;

	if (!task || in_kernel_stats)
		return 0;
	tid = task->pid;
	st = bpf_task_storage_get(&uscope_tstate, task, 0, 0);
	if (!st)
		st = bpf_map_lookup_elem(&uscope_threads, &tid);
	if (st)
		flush_fault(&st->pf, tid);
	return 0;
}

SEC("tp_btf/page_fault_user")
int BPF_PROG(uscope_b_fault, unsigned long address, struct pt_regs *regs, unsigned long error_code)
{
	return on_fault(true, address, regs->ip, error_code);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(uscope_b_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	return on_switch(true, ctx, prev, prev->pid, switch_state(preempt, prev_state, prev), next,
			 next->pid);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(uscope_b_fork, struct task_struct *parent, struct task_struct *child)
{
	__u64 mm = (__u64)parent->mm;

	/* a child of an mm that owns a uffd: with UFFD_FEATURE_EVENT_FORK its
	 * copied VMAs are armed by a new context of its own */
	if (child->mm != parent->mm && bpf_map_lookup_elem(&uscope_uffd_mms, &mm))
		note_uffd_mm((__u64)child->mm);
	return on_fork(child->pid);
}

SEC("tp_btf/sched_waking")
int BPF_PROG(uscope_b_waking, struct task_struct *p)
{
	return on_waking(true, p, p->pid);
}

#endif /* USCOPE_TP_BTF_HOOKS_BPF_H */
