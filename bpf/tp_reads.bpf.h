// SPDX-License-Identifier: GPL-2.0
/* Messages read by the handler: read(2) on a uffd. Part of the tracepoint tool (tracepoint_tool.bpf.h). */
#ifndef USCOPE_TP_READS_BPF_H
#define USCOPE_TP_READS_BPF_H

static __always_inline int on_read_in(__u32 fd, __u64 buf)
{
	__u64 uffd = selected_fd_uffd(bpf_get_current_pid_tgid() >> 32, fd);
	struct inflight in = {};

	if (!uffd)
		return 0;
	in.ts = bpf_ktime_get_boot_ns();
	in.uffd = uffd;
	in.arg_ptr = buf;
	in.fd = fd;
	in.kind = INFLIGHT_READ;
	set_inflight(&in);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int uscope_read_in(struct trace_event_raw_sys_enter *ctx)
{
	return on_read_in((__u32)ctx->args[0], ctx->args[1]);
}

#define UFFD_EVENT_PAGEFAULT 0x12

/* in_kernel_stats: the fault messages a handler read, by uffd and page,
 * for their faults' queue and service stages (end_wait()). */
struct note_msgs_ctx {
	__u64 uffd;
	__u64 buf;
	__u64 ts;
	__u32 n;
	__u32 faults;
	__u32 by_kind[USCOPE_KINDS];
};

static long note_msg(__u32 i, void *data)
{
	struct note_msgs_ctx *c = data;
	struct pending_msg_key k = { .uffd = c->uffd };
	struct pending_msg m = { .msg_ts = c->ts, .kind = USCOPE_KIND_MISSING };
	__u64 raw[4];

	if (i >= c->n)
		return 1;
	if (bpf_probe_read_user(raw, sizeof(raw), (void *)(c->buf + (__u64)i * USCOPE_UFFD_MSG_SIZE)))
		return 1;
	if ((raw[0] & 0xff) != UFFD_EVENT_PAGEFAULT)
		return 0;
	/* raw[1]: pagefault.flags, raw[2]: pagefault.address */
	if (raw[1] & msg_flag_minor)
		m.kind = USCOPE_KIND_MINOR;
	else if (raw[1] & msg_flag_wp)
		m.kind = USCOPE_KIND_WP;
	else if (msg_flag_rwp && (raw[1] & msg_flag_rwp))
		m.kind = USCOPE_KIND_RWP;
	k.page = raw[2] & ~4095ULL;
	bpf_map_update_elem(&uscope_pending_msgs, &k, &m, BPF_ANY);
	c->faults++;
	if (m.kind < USCOPE_KINDS)
		c->by_kind[m.kind]++;
	return 0;
}

static __always_inline void note_msgs(const struct inflight *rd, __u64 ts, __u32 n)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct note_msgs_ctx c = { .uffd = rd->uffd, .buf = rd->arg_ptr, .ts = ts, .n = n };
	struct uscope_uffd_stats *s;
	__u64 *created;

	bpf_loop(USCOPE_MAX_MSGS_PER_READ, note_msg, &c, 0);
	/* only fault messages make a row (an event message such as FORK does not) */
	if (!c.faults)
		return;
	created = bpf_map_lookup_elem(&uscope_uffd_created, &rd->uffd);
	s = uffd_stats(rd->uffd, created ? *created : 0, tgid);
	if (s) {
		/* a userfault is counted when its message is read: a fault
		 * resolved between its message and its sleep never waits */
		__sync_fetch_and_add(&s->msgs, c.faults);
		for (int k = 0; k < USCOPE_KINDS; k++)
			if (c.by_kind[k])
				__sync_fetch_and_add(&s->userfaults[k], c.by_kind[k]);
		/* stored only when it changes: the faulting threads' CPUs write
		 * this cache line at every fault */
		if (s->handler_tgid != tgid)
			s->handler_tgid = tgid;
	}
}

/* in_kernel_stats: the read path is this exit hook alone (sys_enter_read
 * is not attached), so a read() of any other file costs one program run and
 * a test of its result: a uffd read returns whole uffd_msgs. The fd and
 * buffer are still in the syscall's saved registers (x86_64 ABI). */
static __always_inline int read_ex_counted(long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct inflight rd = {};
	struct pt_regs *regs;
	__u32 n;

	if (ret < USCOPE_UFFD_MSG_SIZE || ret % USCOPE_UFFD_MSG_SIZE || !uffd_fops)
		return 0;
	regs = current_syscall_regs();
	rd.fd = (__u32)regs->di;
	rd.arg_ptr = regs->si;
	rd.uffd = selected_fd_uffd(tgid, rd.fd);
	if (!rd.uffd)
		return 0;
	n = ret / USCOPE_UFFD_MSG_SIZE;
	if (n > USCOPE_MAX_MSGS_PER_READ) {
		struct uscope_counters *c = ctrs();
		if (c)
			c->msgs_truncated += n - USCOPE_MAX_MSGS_PER_READ;
	}
	note_msgs(&rd, bpf_ktime_get_boot_ns(), n);
	return 0;
}

static __always_inline int on_read_ex(long ret)
{
	struct inflight *in;
	struct inflight rd;
	__u64 ts, read_dt;
	__u32 n;

	if (in_kernel_stats)
		return read_ex_counted(ret);
	in = get_inflight();
	if (!in || in->kind != INFLIGHT_READ)
		return 0;
	rd = *in;
	in->kind = INFLIGHT_NONE;
	if (ret <= 0)
		return 0;
	ts = bpf_ktime_get_boot_ns();
	n = ret / USCOPE_UFFD_MSG_SIZE;
	if (n > USCOPE_MAX_MSGS_PER_READ) {
		struct uscope_counters *c = ctrs();
		if (c)
			c->msgs_truncated += n - USCOPE_MAX_MSGS_PER_READ;
	}

	note_task();
	read_dt = ts - rd.ts;
	for (__u32 i = 0; i < USCOPE_MAX_MSGS_PER_READ; i++) {
		struct uscope_msg *r;
		__u8 raw[USCOPE_UFFD_MSG_SIZE];
		__u32 size = sizeof(struct uscope_msg);

		if (i >= n)
			break;
		if (bpf_probe_read_user(raw, sizeof(raw),
					(void *)(rd.arg_ptr + i * USCOPE_UFFD_MSG_SIZE)))
			break;
		/* a read() that waited 2^32 ns or more: the wide record */
		if (read_dt >> 32) {
			struct uscope_msg_wide *w = reserve(USCOPE_REC_MSG, sizeof(*w));

			if (!w)
				continue;
			w->read_dt_hi = read_dt >> 32;
			w->pad = 0;
			r = &w->m;
			size = sizeof(*w);
		} else {
			r = reserve(USCOPE_REC_MSG, sizeof(*r));
			if (!r)
				continue;
		}
		fill_current(&r->h, USCOPE_REC_MSG, size, ts);
		r->h.flags = read_dt >> 32 ? USCOPE_MSG_WIDE : 0;
		r->uffd = rd.uffd;
		__builtin_memcpy(r->body, raw + 8, sizeof(r->body));
		r->read_dt = read_dt;
		r->fd = rd.fd;
		r->index = i;
		r->in_read = n;
		r->cpu = bpf_get_smp_processor_id();
		r->event = raw[0];
		r->pad = 0;
		submit(r);
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int uscope_read_ex(struct trace_event_raw_sys_exit *ctx)
{
	return on_read_ex(ctx->ret);
}

#endif /* USCOPE_TP_READS_BPF_H */
