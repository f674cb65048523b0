// SPDX-License-Identifier: GPL-2.0
/* close(2) of a uffd. Part of the tracepoint tool (tracepoint_tool.bpf.h). */
#ifndef USCOPE_TP_CLOSE_BPF_H
#define USCOPE_TP_CLOSE_BPF_H

static __always_inline int on_close(__u32 fd)
{
	__u64 uffd = selected_fd_uffd(bpf_get_current_pid_tgid() >> 32, fd);
	struct uscope_uffd_close *r;

	if (!uffd)
		return 0;
	r = reserve_cur(USCOPE_REC_UFFD_CLOSE, sizeof(*r));
	if (!r)
		return 0;
	fill_current(&r->h, USCOPE_REC_UFFD_CLOSE, sizeof(*r), bpf_ktime_get_boot_ns());
	r->uffd = uffd;
	r->fd = fd;
	r->cpu = bpf_get_smp_processor_id();
	submit(r);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int uscope_close(struct trace_event_raw_sys_enter *ctx)
{
	return on_close((__u32)ctx->args[0]);
}

#endif /* USCOPE_TP_CLOSE_BPF_H */
