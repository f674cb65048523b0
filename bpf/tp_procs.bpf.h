// SPDX-License-Identifier: GPL-2.0
/* Processes: fork, exec, exit of traced processes. Part of the tracepoint tool (tracepoint_tool.bpf.h). */
#ifndef USCOPE_TP_PROCS_BPF_H
#define USCOPE_TP_PROCS_BPF_H

static __always_inline void emit_proc(__u32 kind, __u32 other_pid, __u32 other_tid)
{
	struct uscope_proc *r = reserve_cur(USCOPE_REC_PROC, sizeof(*r));

	if (!r)
		return;
	fill_current(&r->h, USCOPE_REC_PROC, sizeof(*r), bpf_ktime_get_boot_ns());
	r->kind = kind;
	r->other_pid = other_pid;
	r->other_tid = other_tid;
	r->cpu = bpf_get_smp_processor_id();
	submit(r);
}

static __always_inline int on_fork(__u32 child)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u8 one = 1;

	if (!filter_tgids || !bpf_map_lookup_elem(&uscope_tgids, &tgid))
		return 0;
	/* The tracepoint names the child's tid only. A new process has
	 * tgid == that tid and is now traced; a new thread adds a key no tgid
	 * matches, removed again when the thread exits. */
	if (follow_children)
		bpf_map_update_elem(&uscope_tgids, &child, &one, BPF_ANY);
	emit_proc(USCOPE_PROC_FORK, child, child);
	return 0;
}

SEC("tracepoint/sched/sched_process_fork")
int uscope_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	return on_fork(ctx->child_pid);
}

SEC("tracepoint/sched/sched_process_exec")
int uscope_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	if (!tgid_selected(bpf_get_current_pid_tgid() >> 32))
		return 0;
	emit_proc(USCOPE_PROC_EXEC, 0, 0);
	return 0;
}

/* An exiting thread's fault: counted as unseen in-kernel, or its record
 * sent as far as it got (either hook flavour's state). */
static __always_inline void end_exiting(__u32 tid)
{
	struct thread_state *st = bpf_task_storage_get(&uscope_tstate, bpf_get_current_task_btf(), 0, 0);

	if (!st)
		st = bpf_map_lookup_elem(&uscope_threads, &tid);
	if (!st)
		return;
	if (in_kernel_stats)
		end_unseen(&st->pf);
	else
		flush_fault(&st->pf, tid);
}

SEC("tracepoint/sched/sched_process_exit")
int uscope_exit(struct trace_event_raw_sched_process_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	/* Read the context once, up front (the verifier refuses a context
	 * pointer the compiler kept offset across helper calls). */
	bool group_dead = ctx->group_dead;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	bool traced = tgid_selected(tgid);

	end_exiting(tid);
	bpf_map_delete_elem(&uscope_threads, &tid); /* classic hooks' state */
	if (filter_tgids && tid != tgid)
		bpf_map_delete_elem(&uscope_tgids, &tid); /* see on_fork */
	if (!group_dead || !traced)
		return 0;
	emit_proc(USCOPE_PROC_EXIT, BPF_CORE_READ(task, exit_code), 0);
	if (filter_tgids)
		bpf_map_delete_elem(&uscope_tgids, &tgid);
	return 0;
}

#endif /* USCOPE_TP_PROCS_BPF_H */
