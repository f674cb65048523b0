// SPDX-License-Identifier: GPL-2.0
/* ioctls on a uffd (and USERFAULTFD_IOC_NEW). Part of the tracepoint tool (tracepoint_tool.bpf.h). */
#ifndef USCOPE_TP_IOCTLS_BPF_H
#define USCOPE_TP_IOCTLS_BPF_H

#define UFFDIO_TYPE 0xAA
#define USERFAULTFD_IOC_NEW_CMD 0xAA00 /* _IO(0xAA, 0x00) on /dev/userfaultfd */

/* Copy the argument struct, _IOC_SIZE(cmd) bytes of it (at most 40), so a
 * short struct at the end of a mapping still reads. True when it read. */
static __always_inline bool read_arg(__u64 *arg, __u64 cmd, __u64 arg_ptr)
{
	__u32 size = (cmd >> 16) & 0x3fff;

	__builtin_memset(arg, 0, USCOPE_IOCTL_ARG_WORDS * sizeof(__u64));
	if (size > USCOPE_IOCTL_ARG_WORDS * sizeof(__u64))
		size = USCOPE_IOCTL_ARG_WORDS * sizeof(__u64);
	if (!size)
		return false;
	return bpf_probe_read_user(arg, size, (void *)arg_ptr) == 0;
}

/* A control ioctl: not one of the per-fault ones below (ioctl_recorded()). */
static __always_inline bool ioctl_control(__u64 cmd)
{
	__u32 nr = cmd & 0xff;

	return nr < 0x02 || nr > 0x09;
}

/* The ioctls that resolve or re-arm single faults (_UFFDIO_WAKE 0x02 up to
 * _UFFDIO_RWPROTECT 0x09: wake, copy, zeropage, move, writeprotect,
 * continue, poison, rwprotect): about one per fault. With in_kernel_stats
 * they are counted, and recorded only when they fail; the rare ones (API,
 * REGISTER, UNREGISTER, SET_MODE, and anything unknown) are recorded. */
static __always_inline bool ioctl_recorded(__u64 cmd)
{
	return !in_kernel_stats || ioctl_control(cmd);
}

/* The one record of an ioctl, at its exit (`ts`). A control ioctl, or one
 * that took 2^32 ns or more, carries its entry side too (uscope_ioctl_in).
 * `flags`: USCOPE_IOCTL_UNTIMED or 0. */
static __always_inline void emit_ioctl(__u64 ts, __u64 uffd, const struct inflight *in, long ret, __u32 flags)
{
	__u64 enter_dt = ts - in->ts;
	struct uscope_ioctl *r;
	__u32 size = sizeof(struct uscope_ioctl);

	if (in->args_in || enter_dt >> 32) {
		struct uscope_ioctl_in *w = reserve_cur(USCOPE_REC_IOCTL, sizeof(*w));

		if (!w)
			return;
		__builtin_memcpy(w->arg_in, in->arg_in, sizeof(w->arg_in));
		w->ctx_features_in = in->features_in;
		w->enter_dt_hi = enter_dt >> 32;
		r = &w->x;
		size = sizeof(*w);
		flags |= in->args_in | (enter_dt >> 32 ? USCOPE_IOCTL_WIDE : 0);
	} else {
		r = reserve_cur(USCOPE_REC_IOCTL, sizeof(*r));
		if (!r)
			return;
	}
	fill_current(&r->h, USCOPE_REC_IOCTL, size, ts);
	if (read_arg(r->arg, in->cmd, in->arg_ptr))
		flags |= USCOPE_IOCTL_ARGS;
	r->h.flags = flags;
	r->uffd = uffd;
	r->arg_ptr = in->arg_ptr;
	r->cmd = in->cmd;
	r->fd = in->fd;
	r->ret = ret;
	r->enter_dt = enter_dt;
	r->ctx_features = uffd_features(uffd);
	r->enter_cpu = in->cpu;
	r->cpu = bpf_get_smp_processor_id();
	submit(r);
}

static __always_inline int on_ioctl_in(__u32 fd, __u64 cmd, __u64 arg_ptr)
{
	__u64 ts;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct inflight in = {};
	struct file *f;
	__u64 uffd;

	/* Every uffd ioctl (and USERFAULTFD_IOC_NEW) has type 0xAA: a cheap
	 * test before touching the fd table. */
	if (((cmd >> 8) & 0xff) != UFFDIO_TYPE)
		return 0;
	/* per-fault, in_kernel_stats: nothing to keep; its exit finds the
	 * call in the syscall's registers (on_ioctl_ex) */
	if (!ioctl_recorded(cmd))
		return 0;
	ts = bpf_ktime_get_boot_ns();
	f = fd_file(fd);
	if (!f)
		return 0;
	if (!is_uffd_file(f)) {
		if (cmd == USERFAULTFD_IOC_NEW_CMD && is_uffd_dev_file(f)) {
			in.ts = ts;
			in.kind = INFLIGHT_DEV_NEW;
			in.arg_ptr = arg_ptr; /* the flags, passed by value */
			in.uffd = tgid_selected(tgid); /* emit, or only forget */
			in.fd = fd;
			set_inflight(&in);
		}
		return 0;
	}
	uffd = file_uffd(f);
	/* selected() and adopt_uffd() in one: the tgid map is looked up once
	 * (this runs on every uffd ioctl, i.e. about once per fault). */
	if (tgid_selected(tgid)) {
		if (filter_tgids)
			remember_uffd(uffd);
	} else if (!selected(tgid, uffd)) {
		return 0;
	}

	in.ts = ts;
	in.uffd = uffd;
	in.cmd = cmd;
	in.arg_ptr = arg_ptr;
	in.fd = fd;
	in.kind = INFLIGHT_IOCTL;
	in.cpu = bpf_get_smp_processor_id();
	if (ioctl_control(cmd)) {
		/* what the caller asked for (API features, SET_MODE masks) */
		in.args_in = USCOPE_IOCTL_ARGS_IN |
			     (read_arg(in.arg_in, cmd, arg_ptr) ? USCOPE_IOCTL_ARGS_IN_OK : 0);
		in.features_in = uffd_features(uffd);
	}
	set_inflight(&in);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_ioctl")
int uscope_ioctl_in(struct trace_event_raw_sys_enter *ctx)
{
	return on_ioctl_in((__u32)ctx->args[0], (__u32)ctx->args[1], ctx->args[2]);
}

/* A new context made by an unselected process: if a freed context of ours
 * had the same address (and its mm was reused too), it is not ours any more. */
static __always_inline void forget_uffd(long ret)
{
	__u64 uffd;

	if (!filter_tgids || ret < 0)
		return;
	uffd = fd_uffd((__u32)ret);
	if (!uffd)
		return;
	bpf_map_delete_elem(&uscope_uffds, &uffd);
	if (in_kernel_stats)
		bpf_map_delete_elem(&uscope_uffd_created, &uffd);
}

static __always_inline void emit_create(__u64 ts, __s64 ret, __u64 flags, __u32 source)
{
	struct uscope_uffd_create *r;
	__u64 uffd = ret >= 0 ? fd_uffd((__u32)ret) : 0;

	adopt_uffd(bpf_get_current_pid_tgid() >> 32, uffd);
	if (in_kernel_stats && uffd)
		bpf_map_update_elem(&uscope_uffd_created, &uffd, &ts, BPF_ANY);
	r = reserve_cur(USCOPE_REC_UFFD_CREATE, sizeof(*r));
	if (!r)
		return;
	fill_current(&r->h, USCOPE_REC_UFFD_CREATE, sizeof(*r), ts);
	r->uffd = uffd;
	r->ret = ret;
	r->flags = flags;
	r->source = source;
	r->cpu = bpf_get_smp_processor_id();
	submit(r);
}

/* A uffd-creating call (userfaultfd(2), USERFAULTFD_IOC_NEW) returned: the
 * new uffd is recorded when its process is selected (in->uffd set at entry),
 * else only forgotten. */
static __always_inline void end_create(const struct inflight *in, __u64 ts, long ret, __u32 source)
{
	if (ret >= 0)
		note_uffd_mm((__u64)bpf_get_current_task_btf()->mm);
	if (in->uffd)
		emit_create(ts, ret, in->arg_ptr, source);
	else
		forget_uffd(ret);
}

/* A per-fault ioctl ended (in_kernel_stats): counted when it succeeded,
 * recorded when it failed, for selected processes and uffds. Its entry was
 * not timed: the record says so (USCOPE_IOCTL_UNTIMED). */
static __always_inline void fast_ioctl_ex(const struct pt_regs *regs, __u64 cmd, long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct inflight in = {};
	struct uscope_counters *c;
	__u64 uffd = 0;

	in.fd = (__u32)regs->di;
	if (ret < 0 || !tgid_selected(tgid)) {
		uffd = selected_fd_uffd(tgid, in.fd);
		if (!uffd)
			return;
	}
	if (ret < 0) {
		in.ts = bpf_ktime_get_boot_ns();
		in.cmd = cmd;
		in.arg_ptr = regs->dx;
		in.cpu = bpf_get_smp_processor_id();
		emit_ioctl(in.ts, uffd, &in, ret, USCOPE_IOCTL_UNTIMED);
		return;
	}
	c = ctrs();
	if (c)
		c->fast_ioctls[cmd & (USCOPE_FAST_IOCTL_NRS - 1)]++;
}

static __always_inline int on_ioctl_ex(long ret)
{
	struct inflight *in;
	__u64 ts;

	if (in_kernel_stats) {
		/* only uffd ioctls (type 0xAA) had an entry kept (on_ioctl_in) */
		struct pt_regs *regs = current_syscall_regs();
		__u64 cmd = (__u32)regs->si;

		if (((cmd >> 8) & 0xff) != UFFDIO_TYPE)
			return 0;
		if (!ioctl_recorded(cmd)) {
			fast_ioctl_ex(regs, cmd, ret);
			return 0;
		}
	}
	in = get_inflight();
	if (!in)
		return 0;
	ts = bpf_ktime_get_boot_ns();
	if (in->kind == INFLIGHT_DEV_NEW) {
		end_create(in, ts, ret, USCOPE_CREATE_DEV);
		goto out;
	}
	if (in->kind == INFLIGHT_IOCTL) {
		/* a uffd whose mm was not seen yet (one passed over a socket
		 * while tracing began): its VMAs are armed by UFFDIO_REGISTER */
		note_uffd_mm(uffd_mm(in->uffd));
		emit_ioctl(ts, in->uffd, in, ret, 0);
	}
out:
	in->kind = INFLIGHT_NONE;
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_ioctl")
int uscope_ioctl_ex(struct trace_event_raw_sys_exit *ctx)
{
	return on_ioctl_ex(ctx->ret);
}

#endif /* USCOPE_TP_IOCTLS_BPF_H */
