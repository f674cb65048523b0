// SPDX-License-Identifier: GPL-2.0
/* Helpers: thread state, selection, records, fds and files. Part of the tracepoint tool (tracepoint_tool.bpf.h). */
#ifndef USCOPE_TP_HELPERS_BPF_H
#define USCOPE_TP_HELPERS_BPF_H

static __always_inline struct uscope_counters *ctrs(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&uscope_counters, &zero);
}

/* Never written: a new thread's state starts from it (too large for the BPF stack). */
static const struct thread_state zero_thread;

/* A thread's state, by task (btf hooks) or tid (classic hooks); `btf` is a
 * literal in every caller, so each program keeps only its own path. With
 * `create`, a thread without state gets a zeroed one. */
static __always_inline struct thread_state *thread_state(bool btf, struct task_struct *task,
							  __u32 tid, bool create)
{
	struct thread_state *st;

	if (btf) {
		/* most tasks of a host have no BPF storage at all: the sched
		 * hooks skip them with one load instead of a helper call */
		if (!create && !task->bpf_storage)
			return NULL;
		st = bpf_task_storage_get(&uscope_tstate, task, 0,
					  create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	} else {
		st = bpf_map_lookup_elem(&uscope_threads, &tid);
		if (!st && create) {
			bpf_map_update_elem(&uscope_threads, &tid, &zero_thread, BPF_NOEXIST);
			st = bpf_map_lookup_elem(&uscope_threads, &tid);
		}
	}
	if (!st && create) {
		struct uscope_counters *c = ctrs();
		if (c)
			c->inflight_dropped++;
	}
	return st;
}

/* The current task, for thread_state() in btf hooks (NULL in classic). */
static __always_inline struct task_struct *current_for(bool btf)
{
	return btf ? bpf_get_current_task_btf() : NULL;
}

/* The current thread enters a traced syscall. */
static __always_inline void set_inflight(const struct inflight *in)
{
	struct inflight *cur = bpf_task_storage_get(&uscope_inflight, bpf_get_current_task_btf(), 0,
						    BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (cur) {
		*cur = *in;
	} else {
		struct uscope_counters *c = ctrs();
		if (c)
			c->inflight_dropped++;
	}
}

/* The current thread's traced syscall in flight, or NULL. The caller ends
 * it with kind = INFLIGHT_NONE. */
static __always_inline struct inflight *get_inflight(void)
{
	struct inflight *in = bpf_task_storage_get(&uscope_inflight, bpf_get_current_task_btf(), 0, 0);

	return in && in->kind != INFLIGHT_NONE ? in : NULL;
}

/* The current task's syscall registers, as saved at its syscall entry
 * (x86_64: di, si, dx are the first three arguments, orig_ax the number). */
static __always_inline struct pt_regs *current_syscall_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/* Is the current task inside a per-fault uffd ioctl (_UFFDIO_WAKE 0x02 up
 * to _UFFDIO_RWPROTECT 0x09)? From its syscall registers, so no map. */
static __always_inline bool in_fast_uffd_ioctl(void)
{
	struct pt_regs *regs = current_syscall_regs();
	__u64 cmd;
	__u32 nr;

	if (regs->orig_ax != 16 /* __NR_ioctl */)
		return false;
	cmd = regs->si;
	nr = cmd & 0xff;
	return ((cmd >> 8) & 0xff) == 0xAA && nr >= 0x02 && nr <= 0x09;
}

static __always_inline bool tgid_selected(__u32 tgid)
{
	return !filter_tgids || bpf_map_lookup_elem(&uscope_tgids, &tgid);
}

static __always_inline void note_uffd_mm(__u64 mm)
{
	__u8 one = 1;

	if (mm && !bpf_map_lookup_elem(&uscope_uffd_mms, &mm))
		bpf_map_update_elem(&uscope_uffd_mms, &mm, &one, BPF_ANY);
}

/* Can the current task's fault be in a uffd-armed VMA? Host-wide with btf
 * hooks, only in an mm that owns a uffd (uscope_uffd_mms); selected
 * processes and classic hooks look every fault up. */
static __always_inline bool may_fault_on_uffd(bool btf)
{
	__u64 mm;

	if (!btf || filter_tgids)
		return true;
	mm = (__u64)bpf_get_current_task_btf()->mm;
	return bpf_map_lookup_elem(&uscope_uffd_mms, &mm) != NULL;
}

static __always_inline __u64 uffd_mm(__u64 uffd)
{
	return (__u64)kcast(struct userfaultfd_ctx, uffd)->mm;
}

static __always_inline bool selected(__u32 tgid, __u64 uffd)
{
	__u64 *mm;

	if (tgid_selected(tgid))
		return true;
	if (!uffd)
		return false;
	mm = bpf_map_lookup_elem(&uscope_uffds, &uffd);
	return mm && *mm == uffd_mm(uffd);
}

/* Lists a uffd used by a selected process as ours (with its mm). Called on
 * every uffd ioctl: a lookup is far cheaper than an update. */
static __always_inline void remember_uffd(__u64 uffd)
{
	__u64 *known = bpf_map_lookup_elem(&uscope_uffds, &uffd);
	__u64 mm = uffd_mm(uffd);

	if (!known || *known != mm)
		bpf_map_update_elem(&uscope_uffds, &uffd, &mm, BPF_ANY);
}

static __always_inline void adopt_uffd(__u32 tgid, __u64 uffd)
{
	if (filter_tgids && uffd && bpf_map_lookup_elem(&uscope_tgids, &tgid))
		remember_uffd(uffd);
}

/* Reserve a record, counting the attempt and any failure by type. */
static __always_inline void *reserve(__u32 type, __u32 size)
{
	struct uscope_counters *c = ctrs();
	void *rec;

	if (c && type <= USCOPE_REC_TYPE_COUNT)
		c->produced[type]++;
	rec = bpf_ringbuf_reserve(&uscope_events, size, 0);
	if (!rec && c && type <= USCOPE_REC_TYPE_COUNT)
		c->lost[type]++;
	return rec;
}

/* When the last forced wake-up was sent (any CPU). Racy on purpose: a lost
 * update only costs one extra wake-up. */
__u64 last_wakeup_ns = 0;

/* At most one forced wake-up (an irq_work on the traced thread's CPU) per
 * interval while data waits: one per record taxes the traced thread, one
 * only at the threshold crossing can go unseen (bench/README.md). */
#define WAKEUP_INTERVAL_NS 1000000ULL

static __always_inline void submit(void *rec)
{
	__u64 flags = 0;

	/* Batch wake-ups: the consumer polls with a timeout, so it only needs
	 * a nudge once enough data waits; this saves a wakeup per record. */
	if (wakeup_bytes) {
		flags = BPF_RB_NO_WAKEUP;
		if (bpf_ringbuf_query(&uscope_events, BPF_RB_AVAIL_DATA) >= wakeup_bytes) {
			__u64 now = bpf_ktime_get_ns();

			if (now - last_wakeup_ns >= WAKEUP_INTERVAL_NS) {
				last_wakeup_ns = now;
				flags = BPF_RB_FORCE_WAKEUP;
			}
		}
	}
	bpf_ringbuf_submit(rec, flags);
}

static __always_inline void fill_header(struct uscope_header *h, __u32 type, __u32 size,
					__u32 tid, __u64 ts)
{
	h->type = type;
	h->flags = 0;
	h->size = size;
	h->tid = tid;
	h->ts_ns = ts;
}

static __always_inline void fill_current(struct uscope_header *h, __u32 type,
					 __u32 size, __u64 ts)
{
	fill_header(h, type, size, (__u32)bpf_get_current_pid_tgid(), ts);
}

/* Sends a TASK record for the current thread unless the last one sent for
 * it still holds (same tid and name): headers name only the thread. Called
 * before the record about the thread is reserved, so it comes first. A
 * TASK record the ring had no room for is tried again next time. */
static __always_inline void note_task(void)
{
	struct task_seen *seen = bpf_task_storage_get(&uscope_task_seen, bpf_get_current_task_btf(), 0,
						       BPF_LOCAL_STORAGE_GET_F_CREATE);
	__u64 id = bpf_get_current_pid_tgid();
	struct uscope_task *r;
	__u64 comm[2] = {};

	bpf_get_current_comm(comm, sizeof(comm));
	if (seen && seen->tid == (__u32)id && seen->comm[0] == comm[0] && seen->comm[1] == comm[1])
		return;
	r = reserve(USCOPE_REC_TASK, sizeof(*r));
	if (!r)
		return;
	fill_current(&r->h, USCOPE_REC_TASK, sizeof(*r), bpf_ktime_get_boot_ns());
	r->pid = id >> 32;
	r->cpu = bpf_get_smp_processor_id();
	r->pad = 0;
	__builtin_memcpy(r->comm, comm, sizeof(r->comm));
	submit(r);
	if (seen) {
		seen->tid = (__u32)id;
		seen->comm[0] = comm[0];
		seen->comm[1] = comm[1];
	}
}

/* reserve() for a record about the current thread. */
static __always_inline void *reserve_cur(__u32 type, __u32 size)
{
	note_task();
	return reserve(type, size);
}

/* fd -> struct file * of the current task, or NULL. */
static __always_inline struct file *fd_file(__u32 fd)
{
	struct fdtable *fdt = bpf_get_current_task_btf()->files->fdt;
	struct file **fds;

	if (!fdt || fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	return kcast(struct file, *(__u64 *)bpf_rdonly_cast(&fds[fd], 0));
}

static __always_inline bool name_is(const char *name, const char *want, int n)
{
	char buf[16] = {};

	if (bpf_probe_read_kernel_str(buf, sizeof(buf), name) != n + 1)
		return false;
	for (int i = 0; i < n && i < 16; i++)
		if (buf[i] != want[i])
			return false;
	return true;
}

/* Is this file a userfaultfd? Anonymous inode named "[userfaultfd]". */
static __always_inline bool is_uffd_file(struct file *f)
{
	__u64 fops;

	if (!f)
		return false;
	fops = (__u64)f->f_op;
	if (uffd_fops)
		return fops == uffd_fops;
	if (!name_is((const char *)BPF_CORE_READ(f, f_path.dentry, d_name.name),
		     "[userfaultfd]", 13))
		return false;
	uffd_fops = fops;
	return true;
}

static __always_inline bool is_uffd_dev_file(struct file *f)
{
	return f && name_is((const char *)BPF_CORE_READ(f, f_path.dentry, d_name.name),
			    "userfaultfd", 11);
}

static __always_inline __u64 file_uffd(struct file *f)
{
	return (__u64)f->private_data;
}

/* The uffd context behind the current task's `fd`, or 0 when it is not a uffd. */
static __always_inline __u64 fd_uffd(__u32 fd)
{
	struct file *f = fd_file(fd);

	return f && is_uffd_file(f) ? file_uffd(f) : 0;
}

/* The uffd behind fd when this trace selected it (by process or by uffd), else 0. */
static __always_inline __u64 selected_fd_uffd(__u32 tgid, __u32 fd)
{
	__u64 uffd;

	/* no uffd seen yet anywhere: nothing to look for */
	if (!uffd_fops)
		return 0;
	uffd = fd_uffd(fd);
	return uffd && selected(tgid, uffd) ? uffd : 0;
}

static __always_inline __u32 uffd_features(__u64 uffd)
{
	return uffd ? kcast(struct userfaultfd_ctx, uffd)->features : 0;
}

#endif /* USCOPE_TP_HELPERS_BPF_H */
