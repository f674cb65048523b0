// SPDX-License-Identifier: GPL-2.0
/* uffd creation: userfaultfd(2). Part of the tracepoint tool (tracepoint_tool.bpf.h). */
#ifndef USCOPE_TP_CREATE_BPF_H
#define USCOPE_TP_CREATE_BPF_H

static __always_inline int on_uffd_in(__u64 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct inflight in = {};

	/* Every process: a context created by an unselected one must stop
	 * counting as ours (see forget_uffd); only selected ones are emitted. */
	in.ts = bpf_ktime_get_boot_ns();
	in.kind = INFLIGHT_CREATE;
	in.arg_ptr = flags;
	in.uffd = tgid_selected(id >> 32); /* emit, or only forget (end_create) */
	set_inflight(&in);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_userfaultfd")
int uscope_uffd_in(struct trace_event_raw_sys_enter *ctx)
{
	return on_uffd_in(ctx->args[0]);
}

static __always_inline int on_uffd_ex(long ret)
{
	struct inflight *in = get_inflight();

	if (!in || in->kind != INFLIGHT_CREATE)
		return 0;
	end_create(in, bpf_ktime_get_boot_ns(), ret, USCOPE_CREATE_SYSCALL);
	in->kind = INFLIGHT_NONE;
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_userfaultfd")
int uscope_uffd_ex(struct trace_event_raw_sys_exit *ctx)
{
	return on_uffd_ex(ctx->ret);
}

/* Run once by user space right after attach: the mms of the uffds that
 * exist already (uscope_uffd_mms), from every open file of every task. */
SEC("iter/task_file")
int uscope_seed_uffd_mms(struct bpf_iter__task_file *ctx)
{
	struct file *f = ctx->file;

	if (f && is_uffd_file(f))
		note_uffd_mm(uffd_mm(file_uffd(f)));
	return 0;
}

#endif /* USCOPE_TP_CREATE_BPF_H */
