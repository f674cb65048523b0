// SPDX-License-Identifier: GPL-2.0
/*
 * uffdscope tracepoint backend: stable tracepoints only, so it loads on
 * kernels without kprobes or fentry.
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
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "uffdscope.h"

#define EBUSY 16

char LICENSE[] SEC("license") = "GPL";

/* ---- configuration, set by user space before load (rodata) ---- */
const volatile bool filter_tgids = false;    /* false: every process */
const volatile bool follow_children = true;  /* traced parent => traced child */
const volatile __u64 hu_start = 0;           /* handle_userfault() text range */
const volatile __u64 hu_end = 0;             /* 0: range unknown, heuristic */
const volatile __u64 uffd_wake_fn = 0;       /* userfaultfd_wake_function; 0: unknown */
const volatile __u64 vm_uffd_missing = 0x200;          /* VM_UFFD_MISSING */
const volatile __u64 vm_uffd_wp = 0x1000;              /* VM_UFFD_WP */
const volatile __u64 vm_uffd_minor = 1ULL << 41;       /* VM_UFFD_MINOR */
const volatile __u64 wakeup_bytes = 0;       /* 0: wake the consumer per record */
/* Count faults and histogram waits in uscope_uffd_stats instead of writing
 * FAULT/BLOCK/RESUME records; user space then leaves sched_waking and the
 * read() path out, and the per-fault ioctls write no records (see
 * ioctl_recorded()). */
const volatile bool in_kernel_stats = false;

/* ---- maps ---- */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} uscope_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct uscope_counters);
} uscope_counters SEC(".maps");

/* Processes selected by the user (and, with follow_children, descendants). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u8);
} uscope_tgids SEC(".maps");

/* uffd contexts owned or used by selected processes: another process using
 * one of them (a separate fault-handler process) is traced for that uffd.
 * The value is the context's mm: a context freed and reallocated at the
 * same address for an unrelated process has another mm and is not taken
 * for ours. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u64);
} uscope_uffds SEC(".maps");

/* in_kernel_stats: per uffd context, per CPU (bpf/uffdscope.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, USCOPE_MAX_STAT_UFFDS);
	__type(key, struct uscope_uffd_key);
	__type(value, struct uscope_uffd_stats);
} uscope_uffd_stats SEC(".maps");

/* in_kernel_stats: when each uffd context seen created while tracing was
 * created (uscope_uffd_key.created_ns), set by emit_create(). Read on a
 * VMA-cache miss only: a new context reaches a VMA through
 * UFFDIO_REGISTER, under mmap_write_lock, which invalidates the cache. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, USCOPE_MAX_STAT_UFFDS);
	__type(key, __u64);
	__type(value, __u64);
} uscope_uffd_created SEC(".maps");

/* pending_fault.state; NONE is a thread with no uffd fault yet. */
#define PENDING_NONE 0
#define PENDING_FAULTED 1
#define PENDING_BLOCKED 2
#define PENDING_WOKEN 3
#define PENDING_RUNNING 4

/* A thread's last uffd fault, until it is known to be over. */
struct pending_fault {
	__u64 address;
	__u64 uffd;
	__u64 fault_ts;
	__u64 wake_ts;
	__u32 tgid;
	__u32 waker_tid;
	__u32 state;
	__u32 nblocks;
	__u64 counted_wait; /* in_kernel_stats: this fault's wait already in the histogram */
	__u64 uffd_created; /* in_kernel_stats: the uffd's creation time (uscope_uffd_key) */
};

/* inflight.kind; NONE: no traced syscall in flight. */
#define INFLIGHT_NONE 0
#define INFLIGHT_IOCTL 1
#define INFLIGHT_DEV_NEW 2
#define INFLIGHT_READ 3
#define INFLIGHT_CREATE 4

/* A thread's traced syscall in flight: what its exit needs from its entry. */
struct inflight {
	__u64 ts;
	__u64 uffd;
	__u64 cmd;
	__u64 arg_ptr; /* ioctl arg, read buffer, or userfaultfd flags */
	__u32 fd;
	__u32 kind;
};

/* Everything kept per thread, created on its first uffd fault or traced
 * syscall. */
struct thread_state {
	struct pending_fault pf;
	struct inflight in;
};

/* The btf hooks keep it in task-local storage: a lookup is a few loads
 * from the task, without hashing or bucket locks, and it goes away with
 * the task (BPF time per fault 2.36 -> 2.10 us against the hash map
 * below; end to end within the noise: bench/README.md). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} uscope_tstate SEC(".maps");

/* The classic hooks key it by tid: their sched_switch knows next's pid,
 * not its task. LRU: a thread that vanished without an exit event cannot
 * pin an entry. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct thread_state);
} uscope_threads SEC(".maps");

/* The uffd's file_operations, learned from the first uffd seen, so later
 * fd checks compare one pointer instead of a name. */
__u64 uffd_fops = 0;

/* Scratch space for stack walks (too large for the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[USCOPE_STACK_DEPTH]);
} uscope_stack SEC(".maps");

/* ---- helpers ---- */
static __always_inline struct uscope_counters *ctrs(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&uscope_counters, &zero);
}

/* A thread's state, by task (btf hooks) or tid (classic hooks); `btf` is a
 * literal in every caller, so each program keeps only its own path. With
 * `create`, a thread without state gets a zeroed one. */
static __always_inline struct thread_state *thread_state(bool btf, struct task_struct *task,
							  __u32 tid, bool create)
{
	struct thread_state *st;

	if (btf) {
		st = bpf_task_storage_get(&uscope_tstate, task, 0,
					  create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	} else {
		st = bpf_map_lookup_elem(&uscope_threads, &tid);
		if (!st && create) {
			struct thread_state zero = {};

			bpf_map_update_elem(&uscope_threads, &tid, &zero, BPF_NOEXIST);
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
static __always_inline void set_inflight(bool btf, __u32 tid, const struct inflight *in)
{
	struct thread_state *st = thread_state(btf, current_for(btf), tid, true);

	if (st)
		st->in = *in;
}

/* The current thread's traced syscall in flight, or NULL. The caller ends
 * it with kind = INFLIGHT_NONE. */
static __always_inline struct inflight *get_inflight(bool btf, __u32 tid)
{
	struct thread_state *st = thread_state(btf, current_for(btf), tid, false);

	return st && st->in.kind != INFLIGHT_NONE ? &st->in : NULL;
}

static __always_inline bool tgid_selected(__u32 tgid)
{
	return !filter_tgids || bpf_map_lookup_elem(&uscope_tgids, &tgid);
}

static __always_inline __u64 uffd_mm(__u64 uffd)
{
	struct userfaultfd_ctx *ctx = (struct userfaultfd_ctx *)uffd;

	return (__u64)BPF_CORE_READ(ctx, mm);
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

/* At most one forced wake-up per interval. Each one is an irq_work on the
 * traced thread's CPU; forcing one per record once a consumer lagged past
 * the threshold cost the traced workload ~10 us per fault (bench/overhead:
 * 14.4 us of BPF time per fault with `record` consuming, 2.9 us with a fast
 * consumer). Waking only on the record that crossed the threshold was
 * cheaper but lost records: with concurrent producers and a consumer
 * reading meanwhile, the crossing can go unseen and the consumer then
 * sleeps a whole poll timeout. A wake-up at most every 1 ms while data
 * waits keeps both: a sleeping consumer hears within 1 ms, a busy one is
 * not pestered. */
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

static __always_inline void fill_current(struct uscope_header *h, __u32 type,
					 __u32 size, __u64 ts)
{
	__u64 id = bpf_get_current_pid_tgid();

	h->type = type;
	h->size = size;
	h->cpu = bpf_get_smp_processor_id();
	h->ts_ns = ts;
	h->pid = id >> 32;
	h->tid = (__u32)id;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* fd -> struct file * of the current task, or NULL. */
static __always_inline struct file *fd_file(__u32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
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
	fops = (__u64)BPF_CORE_READ(f, f_op);
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
	return (__u64)BPF_CORE_READ(f, private_data);
}

static __always_inline __u32 uffd_features(__u64 uffd)
{
	struct userfaultfd_ctx *ctx = (struct userfaultfd_ctx *)uffd;

	return uffd ? BPF_CORE_READ(ctx, features) : 0;
}

/* ---- in-kernel statistics ---- */
/* Never written: a new entry starts from it (too large for the BPF stack). */
static const struct uscope_uffd_stats zero_stats;

static __always_inline struct uscope_uffd_stats *uffd_stats(__u64 uffd, __u64 created, __u32 tgid)
{
	struct uscope_uffd_key key = { .uffd = uffd, .created_ns = created };
	struct uscope_uffd_stats *s = bpf_map_lookup_elem(&uscope_uffd_stats, &key);

	if (s)
		return s;
	bpf_map_update_elem(&uscope_uffd_stats, &key, &zero_stats, BPF_NOEXIST);
	/* NULL when the map is full: user space sees a full map and says
	 * that later uffds were not counted. */
	s = bpf_map_lookup_elem(&uscope_uffd_stats, &key);
	if (s && !s->tgid)
		s->tgid = tgid;
	return s;
}

/* Index of the highest set bit of v (v > 0). */
static __always_inline __u32 top_bit(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffffULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	return r | (__u32)(v >> 1);
}

/* The log-linear bucket of a wait (bpf/uffdscope.h: USCOPE_WAIT_BUCKETS). */
static __always_inline __u32 wait_bucket(__u64 ns)
{
	__u32 m, i;

	if (ns < (1 << USCOPE_WAIT_SUB_BITS))
		return ns;
	m = top_bit(ns);
	i = (m - USCOPE_WAIT_SUB_BITS + 1) * (1 << USCOPE_WAIT_SUB_BITS) +
	    ((ns >> (m - USCOPE_WAIT_SUB_BITS)) & ((1 << USCOPE_WAIT_SUB_BITS) - 1));
	return i < USCOPE_WAIT_BUCKETS ? i : USCOPE_WAIT_BUCKETS - 1;
}

/* The thread of `pf` is on a CPU again after a wait: its fault's wait so
 * far replaces any earlier sample of the same fault (a re-wait), so every
 * fault counts once, with its whole wait. */
static __always_inline void count_wait(struct pending_fault *pf, __u64 now)
{
	struct uscope_uffd_stats *s = uffd_stats(pf->uffd, pf->uffd_created, pf->tgid);
	__u64 wait = now - pf->fault_ts;

	if (!s)
		return;
	if (pf->counted_wait) {
		__u64 old = pf->counted_wait;

		s->waits--;
		s->wait_sum_ns -= old;
		s->wait_hist[wait_bucket(old)]--;
	}
	pf->counted_wait = wait ? wait : 1;
	s->waits++;
	s->wait_sum_ns += wait;
	if (wait > s->wait_max_ns)
		s->wait_max_ns = wait;
	s->wait_hist[wait_bucket(wait)]++;
}

/* ---- faults ---- */
/* exceptions:page_fault_user; not in vmlinux BTF, layout from its format file. */
struct page_fault_user_args {
	__u64 common;
	__u64 address;
	__u64 ip;
	__u64 error_code;
};

struct vma_info {
	__u64 uffd;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 uffd_created; /* in_kernel_stats: uscope_uffd_created[uffd], 0 if unknown */
};

static long read_vma(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_info *vi = data;

	vi->uffd = (__u64)vma->vm_userfaultfd_ctx.ctx;
	vi->flags = vma->vm_flags;
	vi->start = vma->vm_start;
	vi->end = vma->vm_end;
	return 0;
}

/* The last VMA looked up per mm, valid while the mm's mmap-lock sequence
 * is unchanged (every VMA, vm_flags or uffd-context change happens under
 * mmap_write_lock, which bumps it). bpf_find_vma() from this tracepoint
 * (interrupts off) defers its unlock to irq_work: a self-IPI per fault, and
 * EBUSY while one is pending. The cache avoids both for repeat hits. */
struct vma_cache {
	__u32 seq;
	__u32 pad;
	struct vma_info vi;
};

/* Keyed by mm and tgid: an mm freed and reallocated for another process
 * (or after exec) must not inherit an entry. */
struct vma_cache_key {
	__u64 mm;
	__u32 tgid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct vma_cache_key);
	__type(value, struct vma_cache);
} uscope_vmacache SEC(".maps");

/* vi->uffd_created for a VMA just looked up (not cached). */
static __always_inline void note_uffd_created(struct vma_info *vi)
{
	__u64 *created;

	if (!in_kernel_stats || !vi->uffd)
		return;
	created = bpf_map_lookup_elem(&uscope_uffd_created, &vi->uffd);
	vi->uffd_created = created ? *created : 0;
}

static __always_inline long find_uffd_vma(__u64 address, struct vma_info *vi)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct mm_struct *mm = t->mm;
	struct vma_cache_key key = { .mm = (__u64)mm, .tgid = bpf_get_current_pid_tgid() >> 32 };
	struct vma_cache *vc;
	__u32 seq;
	long err;

	if (!bpf_core_field_exists(mm->mm_lock_seq)) {
		err = bpf_find_vma(t, address, read_vma, vi, 0);
		if (!err)
			note_uffd_created(vi);
		return err;
	}
	seq = BPF_CORE_READ(mm, mm_lock_seq.sequence);
	vc = bpf_map_lookup_elem(&uscope_vmacache, &key);
	if (vc && !(seq & 1) && vc->seq == seq && address >= vc->vi.start && address < vc->vi.end) {
		*vi = vc->vi;
		return 0;
	}
	err = bpf_find_vma(t, address, read_vma, vi, 0);
	if (!err)
		note_uffd_created(vi);
	if (!err && !(seq & 1)) {
		struct vma_cache nv = { .seq = seq, .vi = *vi };

		bpf_map_update_elem(&uscope_vmacache, &key, &nv, BPF_ANY);
	}
	return err;
}

static __always_inline int on_fault(bool btf, __u64 address, __u64 ip, __u64 error_code)
{
	struct thread_state *st;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct vma_info vi = {};
	struct uscope_fault *r;
	struct pending_fault pf = {};
	__u16 armed = 0;
	long err;
	__u64 ts;

	/* Every user page fault of the host comes here: the clock is read only
	 * for selected processes (as early as possible for those). */
	if (!tgid_selected(tgid))
		return 0;
	ts = bpf_ktime_get_boot_ns();
	err = find_uffd_vma(address, &vi);
	if (err == -EBUSY) {
		struct uscope_counters *c = ctrs();
		if (c)
			c->vma_lookup_failed++;
		return 0;
	}
	if (err || !vi.uffd)
		return 0;

	if (vi.flags & vm_uffd_missing)
		armed |= USCOPE_ARMED_MISSING;
	if (vi.flags & vm_uffd_wp)
		armed |= USCOPE_ARMED_WP;
	if (vi.flags & vm_uffd_minor)
		armed |= USCOPE_ARMED_MINOR;
	if (!armed)
		armed = USCOPE_ARMED_UNKNOWN;

	pf.address = address;
	pf.uffd = vi.uffd;
	pf.uffd_created = vi.uffd_created;
	pf.fault_ts = ts;
	pf.tgid = tgid;
	pf.state = PENDING_FAULTED;
	st = thread_state(btf, current_for(btf), tid, true);
	if (st)
		st->pf = pf;

	if (in_kernel_stats) {
		struct uscope_uffd_stats *s = uffd_stats(vi.uffd, vi.uffd_created, tgid);

		if (s) {
			s->entries++;
			s->entries_missing += !!(armed & USCOPE_ARMED_MISSING);
			s->entries_wp += !!(armed & USCOPE_ARMED_WP);
			s->entries_minor += !!(armed & USCOPE_ARMED_MINOR);
			s->ctx_features = uffd_features(vi.uffd);
			s->last_fault_ts_ns = ts;
		}
		return 0;
	}
	r = reserve(USCOPE_REC_FAULT, sizeof(*r));
	if (!r)
		return 0;
	fill_current(&r->h, USCOPE_REC_FAULT, sizeof(*r), ts);
	r->address = address;
	r->ip = ip;
	r->error_code = error_code;
	r->uffd = vi.uffd;
	r->vm_flags = vi.flags;
	r->vma_start = vi.start;
	r->vma_end = vi.end;
	r->ctx_features = uffd_features(vi.uffd);
	r->armed = armed;
	r->pad = 0;
	submit(r);
	return 0;
}

SEC("tracepoint/exceptions/page_fault_user")
int uscope_fault(struct page_fault_user_args *ctx)
{
	return on_fault(false, ctx->address, ctx->ip, ctx->error_code);
}

/* ---- waiting, waking, running again ---- */
/* sched_switch reports a preempted task's prev_state as TASK_REPORT_MAX. */
#define TASK_STATE_PREEMPTED 0x100


/* Is the current (about to sleep) task queued on one of this uffd's fault
 * wait queues? handle_userfault() puts an entry for the task, with
 * userfaultfd_wake_function as its callback, on fault_pending_wqh before it
 * sleeps (the handler's read moves it to fault_wqh), and takes it off before
 * it returns: a task found there sleeps in handle_userfault(). New entries
 * go to the head, so the sleeper is almost always among the first few; when
 * it is not (many faults queued, or a list read mid-update), the caller
 * walks the stack instead. This costs a few pointer reads where the stack
 * walk (mostly unwinding the tracing frames above __schedule) cost ~1.8 us
 * per fault, 40% of all our BPF time per fault (bench/README.md). */
#define WAITQ_SCAN 8

static __always_inline bool waitq_has(struct list_head *head, __u64 task)
{
	struct list_head *pos = BPF_CORE_READ(head, next);
	__u64 off = bpf_core_field_offset(struct wait_queue_entry, entry);

	for (int i = 0; i < WAITQ_SCAN; i++) {
		struct wait_queue_entry *we;

		if (!pos || pos == head)
			return false;
		we = (struct wait_queue_entry *)((void *)pos - off);
		if ((__u64)BPF_CORE_READ(we, private) == task &&
		    (__u64)BPF_CORE_READ(we, func) == uffd_wake_fn)
			return true;
		pos = BPF_CORE_READ(pos, next);
	}
	return false;
}

static __always_inline bool on_uffd_waitq(__u64 uffd)
{
	struct userfaultfd_ctx *ctx = (struct userfaultfd_ctx *)uffd;
	__u64 task = bpf_get_current_task();

	if (!uffd)
		return false;
	return waitq_has(__builtin_preserve_access_index(&ctx->fault_pending_wqh.head), task) ||
	       waitq_has(__builtin_preserve_access_index(&ctx->fault_wqh.head), task);
}

/* Is the current (about to sleep) task inside handle_userfault()? */
static __always_inline int in_handle_userfault(void *ctx)
{
	__u32 zero = 0;
	__u64 *frames = bpf_map_lookup_elem(&uscope_stack, &zero);
	long n;

	if (!frames)
		return -1;
	n = bpf_get_stack(ctx, frames, USCOPE_STACK_DEPTH * sizeof(__u64), 0);
	if (n <= 0)
		return -1;
	for (int i = 0; i < USCOPE_STACK_DEPTH; i++) {
		if (i * sizeof(__u64) >= n)
			break;
		if (frames[i] >= hu_start && frames[i] < hu_end)
			return 1;
	}
	return 0;
}

/* `state` is prev's state as the sched_switch trace event reports it
 * (TASK_STATE_PREEMPTED for a preemption); `ctx` is only for the stack walk. */
static __always_inline int on_switch(bool btf, void *ctx, struct task_struct *prev_task, __u32 prev,
				     long state, struct task_struct *next_task, __u32 next,
				     const char *next_comm)
{
	/* Every context switch of the host comes here: the clock is read only
	 * for a record. */
	__u64 ts = 0;
	struct thread_state *st;
	struct pending_fault *pf;

	st = thread_state(btf, prev_task, prev, false);
	pf = st ? &st->pf : NULL;
	/* A sleep (not a preemption: TASK_RUNNING or the preempt marker). */
	if (pf && pf->state != PENDING_NONE && state && !(state & TASK_STATE_PREEMPTED)) {
		int how, in_hu;

		if (uffd_wake_fn && on_uffd_waitq(pf->uffd)) {
			in_hu = 1;
			how = USCOPE_BLOCK_WAITQ;
		} else if (hu_end) {
			in_hu = in_handle_userfault(ctx);
			if (in_hu < 0) {
				struct uscope_counters *c = ctrs();
				if (c)
					c->stack_failed++;
				goto next;
			}
			how = USCOPE_BLOCK_STACK;
		} else {
			/* No symbol range: only the first sleep right after the
			 * fault counts, which is right for handle_userfault()
			 * and wrong only for faults that never reach it. */
			in_hu = pf->state == PENDING_FAULTED;
			how = USCOPE_BLOCK_HEURISTIC;
		}
		/* A sleep elsewhere (the mmap lock, page allocation, or after the
		 * fault is over) is not a uffd wait; the fault stays pending, as
		 * it may still reach handle_userfault(). */
		if (in_hu) {
			struct uscope_block *r;

			pf->state = PENDING_BLOCKED;
			pf->nblocks++;
			if (in_kernel_stats) {
				struct uscope_uffd_stats *s = uffd_stats(pf->uffd, pf->uffd_created, pf->tgid);

				if (s) {
					if (pf->nblocks == 1)
						s->blocked++;
					else
						s->rewaits++;
				}
				goto next;
			}
			ts = bpf_ktime_get_boot_ns();
			r = reserve(USCOPE_REC_BLOCK, sizeof(*r));
			if (r) {
				fill_current(&r->h, USCOPE_REC_BLOCK, sizeof(*r), ts);
				r->address = pf->address;
				r->uffd = pf->uffd;
				r->fault_ts_ns = pf->fault_ts;
				r->prev_state = state;
				r->how = how;
				r->nblocks = pf->nblocks;
				submit(r);
			}
		}
	}
next:
	st = thread_state(btf, next_task, next, false);
	pf = st ? &st->pf : NULL;
	/* Without sched_waking (in_kernel_stats) a waiting thread goes from
	 * BLOCKED to a CPU: only a wake-up can put it there. */
	if (in_kernel_stats && pf && pf->state == PENDING_BLOCKED) {
		pf->state = PENDING_RUNNING;
		count_wait(pf, bpf_ktime_get_boot_ns());
		return 0;
	}
	if (pf && pf->state == PENDING_WOKEN) {
		struct uscope_resume *r;

		pf->state = PENDING_RUNNING;
		if (!ts)
			ts = bpf_ktime_get_boot_ns();
		r = reserve(USCOPE_REC_RESUME, sizeof(*r));
		if (!r)
			return 0;
		r->h.type = USCOPE_REC_RESUME;
		r->h.size = sizeof(*r);
		r->h.cpu = bpf_get_smp_processor_id();
		r->h.ts_ns = ts;
		r->h.pid = pf->tgid;
		r->h.tid = next;
		bpf_probe_read_kernel(r->h.comm, sizeof(r->h.comm), next_comm);
		r->address = pf->address;
		r->uffd = pf->uffd;
		r->fault_ts_ns = pf->fault_ts;
		r->wake_ts_ns = pf->wake_ts;
		r->waker_tid = pf->waker_tid;
		r->pad = 0;
		submit(r);
	}
	return 0;
}

SEC("tracepoint/sched/sched_switch")
int uscope_switch(struct trace_event_raw_sched_switch *ctx)
{
	return on_switch(false, ctx, NULL, ctx->prev_pid, ctx->prev_state, NULL, ctx->next_pid,
			 ctx->next_comm);
}

static __always_inline int on_waking(bool btf, struct task_struct *task, __u32 target)
{
	struct thread_state *st = thread_state(btf, task, target, false);
	struct pending_fault *pf = st ? &st->pf : NULL;
	struct uscope_wake *r;
	__u64 ts;

	if (!pf || pf->state != PENDING_BLOCKED)
		return 0;
	ts = bpf_ktime_get_boot_ns();
	pf->state = PENDING_WOKEN;
	pf->wake_ts = ts;
	pf->waker_tid = (__u32)bpf_get_current_pid_tgid();
	r = reserve(USCOPE_REC_WAKE, sizeof(*r));
	if (!r)
		return 0;
	fill_current(&r->h, USCOPE_REC_WAKE, sizeof(*r), ts);
	r->address = pf->address;
	r->uffd = pf->uffd;
	r->fault_ts_ns = pf->fault_ts;
	r->target_pid = pf->tgid;
	r->target_tid = target;
	submit(r);
	return 0;
}

SEC("tracepoint/sched/sched_waking")
int uscope_waking(struct trace_event_raw_sched_wakeup_template *ctx)
{
	return on_waking(false, NULL, ctx->pid);
}

/* ---- ioctls ---- */
#define UFFDIO_TYPE 0xAA
#define USERFAULTFD_IOC_NEW_CMD 0xAA00 /* _IO(0xAA, 0x00) on /dev/userfaultfd */

/* Copy the argument struct, _IOC_SIZE(cmd) bytes of it (at most 40), so a
 * short struct at the end of a mapping still reads. */
static __always_inline void read_arg(struct uscope_ioctl *r, __u64 cmd, __u64 arg_ptr)
{
	__u32 size = (cmd >> 16) & 0x3fff;
	long err;

	__builtin_memset(r->arg, 0, sizeof(r->arg));
	if (size > sizeof(r->arg))
		size = sizeof(r->arg);
	if (!size) {
		r->arg_read_ok = 0;
		return;
	}
	err = bpf_probe_read_user(r->arg, size, (void *)arg_ptr);
	r->arg_read_ok = err == 0;
}

/* The ioctls that resolve or re-arm single faults (_UFFDIO_WAKE 0x02 up to
 * _UFFDIO_RWPROTECT 0x09: wake, copy, zeropage, move, writeprotect,
 * continue, poison, rwprotect): about one per fault. With in_kernel_stats
 * they are not recorded; the rare ones (API, REGISTER, UNREGISTER,
 * SET_MODE, and anything unknown) still are. */
static __always_inline bool ioctl_recorded(__u64 cmd)
{
	__u32 nr = cmd & 0xff;

	return !in_kernel_stats || nr < 0x02 || nr > 0x09;
}

static __always_inline int on_ioctl_in(bool btf, __u32 fd, __u64 cmd, __u64 arg_ptr)
{
	__u64 ts;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct inflight in = {};
	struct uscope_ioctl *r;
	struct file *f;
	__u64 uffd;

	/* Every uffd ioctl (and USERFAULTFD_IOC_NEW) has type 0xAA: a cheap
	 * test before touching the fd table. */
	if (((cmd >> 8) & 0xff) != UFFDIO_TYPE || !ioctl_recorded(cmd))
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
			set_inflight(btf, tid, &in);
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
	set_inflight(btf, tid, &in);

	r = reserve(USCOPE_REC_IOCTL_ENTER, sizeof(*r));
	if (!r)
		return 0;
	fill_current(&r->h, USCOPE_REC_IOCTL_ENTER, sizeof(*r), ts);
	r->uffd = uffd;
	r->cmd = cmd;
	r->arg_ptr = arg_ptr;
	read_arg(r, cmd, arg_ptr);
	r->enter_ts_ns = ts;
	r->ret = 0;
	r->fd = fd;
	r->ctx_features = uffd_features(uffd);
	r->pad = 0;
	submit(r);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_ioctl")
int uscope_ioctl_in(struct trace_event_raw_sys_enter *ctx)
{
	return on_ioctl_in(false, (__u32)ctx->args[0], (__u32)ctx->args[1], ctx->args[2]);
}

/* A new context made by an unselected process: if a freed context of ours
 * had the same address (and its mm was reused too), it is not ours any more. */
static __always_inline void forget_uffd(long ret)
{
	struct file *f;
	__u64 uffd;

	if (!filter_tgids || ret < 0)
		return;
	f = fd_file((__u32)ret);
	if (!f || !is_uffd_file(f))
		return;
	uffd = file_uffd(f);
	bpf_map_delete_elem(&uscope_uffds, &uffd);
	if (in_kernel_stats)
		bpf_map_delete_elem(&uscope_uffd_created, &uffd);
}

static __always_inline void emit_create(__u64 ts, __s64 ret, __u64 flags, __u32 source)
{
	struct uscope_uffd_create *r;
	__u64 uffd = 0;

	if (ret >= 0) {
		struct file *f = fd_file((__u32)ret);
		if (f && is_uffd_file(f))
			uffd = file_uffd(f);
	}
	adopt_uffd(bpf_get_current_pid_tgid() >> 32, uffd);
	if (in_kernel_stats && uffd)
		bpf_map_update_elem(&uscope_uffd_created, &uffd, &ts, BPF_ANY);
	r = reserve(USCOPE_REC_UFFD_CREATE, sizeof(*r));
	if (!r)
		return;
	fill_current(&r->h, USCOPE_REC_UFFD_CREATE, sizeof(*r), ts);
	r->uffd = uffd;
	r->ret = ret;
	r->flags = flags;
	r->source = source;
	r->pad = 0;
	submit(r);
}

static __always_inline int on_ioctl_ex(bool btf, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inflight *in = get_inflight(btf, tid);
	struct uscope_ioctl *r;
	__u64 ts;

	if (!in)
		return 0;
	ts = bpf_ktime_get_boot_ns();
	if (in->kind == INFLIGHT_DEV_NEW) {
		if (in->uffd)
			emit_create(ts, ret, in->arg_ptr, USCOPE_CREATE_DEV);
		else
			forget_uffd(ret);
		goto out;
	}
	if (in->kind != INFLIGHT_IOCTL)
		goto out;
	r = reserve(USCOPE_REC_IOCTL_EXIT, sizeof(*r));
	if (!r)
		goto out;
	fill_current(&r->h, USCOPE_REC_IOCTL_EXIT, sizeof(*r), ts);
	r->uffd = in->uffd;
	r->cmd = in->cmd;
	r->arg_ptr = in->arg_ptr;
	read_arg(r, in->cmd, in->arg_ptr);
	r->enter_ts_ns = in->ts;
	r->ret = ret;
	r->fd = in->fd;
	r->ctx_features = uffd_features(in->uffd);
	r->pad = 0;
	submit(r);
out:
	in->kind = INFLIGHT_NONE;
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_ioctl")
int uscope_ioctl_ex(struct trace_event_raw_sys_exit *ctx)
{
	return on_ioctl_ex(false, ctx->ret);
}

/* ---- uffd creation ---- */
static __always_inline int on_uffd_in(bool btf, __u64 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct inflight in = {};

	/* Every process: a context created by an unselected one must stop
	 * counting as ours (see forget_uffd); only selected ones are emitted. */
	in.ts = bpf_ktime_get_boot_ns();
	in.kind = INFLIGHT_CREATE;
	in.arg_ptr = flags;
	in.fd = tgid_selected(id >> 32);
	set_inflight(btf, tid, &in);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_userfaultfd")
int uscope_uffd_in(struct trace_event_raw_sys_enter *ctx)
{
	return on_uffd_in(false, ctx->args[0]);
}

static __always_inline int on_uffd_ex(bool btf, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inflight *in = get_inflight(btf, tid);

	if (!in || in->kind != INFLIGHT_CREATE)
		return 0;
	if (in->fd)
		emit_create(bpf_ktime_get_boot_ns(), ret, in->arg_ptr, USCOPE_CREATE_SYSCALL);
	else
		forget_uffd(ret);
	in->kind = INFLIGHT_NONE;
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_userfaultfd")
int uscope_uffd_ex(struct trace_event_raw_sys_exit *ctx)
{
	return on_uffd_ex(false, ctx->ret);
}

/* ---- messages read by the handler ---- */
static __always_inline int on_read_in(bool btf, __u32 fd, __u64 buf)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct inflight in = {};
	struct file *f;
	__u64 uffd;

	/* No uffd seen yet anywhere: nothing to look for. With
	 * in_kernel_stats no messages are recorded. */
	if (!uffd_fops || in_kernel_stats)
		return 0;
	f = fd_file(fd);
	if (!f || !is_uffd_file(f))
		return 0;
	uffd = file_uffd(f);
	if (!selected(tgid, uffd))
		return 0;
	in.ts = bpf_ktime_get_boot_ns();
	in.uffd = uffd;
	in.arg_ptr = buf;
	in.fd = fd;
	in.kind = INFLIGHT_READ;
	set_inflight(btf, tid, &in);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int uscope_read_in(struct trace_event_raw_sys_enter *ctx)
{
	return on_read_in(false, (__u32)ctx->args[0], ctx->args[1]);
}

static __always_inline int on_read_ex(bool btf, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct inflight *in = get_inflight(btf, tid);
	struct inflight rd;
	__u64 ts;
	__u32 n;

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
	for (__u32 i = 0; i < USCOPE_MAX_MSGS_PER_READ; i++) {
		struct uscope_msg *r;
		__u8 raw[USCOPE_UFFD_MSG_SIZE];

		if (i >= n)
			break;
		if (bpf_probe_read_user(raw, sizeof(raw),
					(void *)(rd.arg_ptr + i * USCOPE_UFFD_MSG_SIZE)))
			break;
		r = reserve(USCOPE_REC_MSG, sizeof(*r));
		if (!r)
			continue;
		fill_current(&r->h, USCOPE_REC_MSG, sizeof(*r), ts);
		r->uffd = rd.uffd;
		r->read_enter_ts_ns = rd.ts;
		r->event = raw[0];
		r->pad8[0] = r->pad8[1] = r->pad8[2] = 0;
		r->fd = rd.fd;
		r->index = i;
		r->in_read = n;
		__builtin_memcpy(r->body, raw + 8, sizeof(r->body));
		submit(r);
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int uscope_read_ex(struct trace_event_raw_sys_exit *ctx)
{
	return on_read_ex(false, ctx->ret);
}

/* ---- close ---- */
static __always_inline int on_close(__u32 fd)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct uscope_uffd_close *r;
	struct file *f;
	__u64 uffd;

	if (!uffd_fops)
		return 0;
	f = fd_file(fd);
	if (!f || !is_uffd_file(f))
		return 0;
	uffd = file_uffd(f);
	if (!selected(tgid, uffd))
		return 0;
	r = reserve(USCOPE_REC_UFFD_CLOSE, sizeof(*r));
	if (!r)
		return 0;
	fill_current(&r->h, USCOPE_REC_UFFD_CLOSE, sizeof(*r), bpf_ktime_get_boot_ns());
	r->uffd = uffd;
	r->fd = fd;
	r->pad = 0;
	submit(r);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_close")
int uscope_close(struct trace_event_raw_sys_enter *ctx)
{
	return on_close((__u32)ctx->args[0]);
}

/* ---- processes ---- */
static __always_inline void emit_proc(__u32 kind, __u32 other_pid, __u32 other_tid)
{
	struct uscope_proc *r = reserve(USCOPE_REC_PROC, sizeof(*r));

	if (!r)
		return;
	fill_current(&r->h, USCOPE_REC_PROC, sizeof(*r), bpf_ktime_get_boot_ns());
	r->kind = kind;
	r->other_pid = other_pid;
	r->other_tid = other_tid;
	r->pad = 0;
	submit(r);
}

SEC("tracepoint/sched/sched_process_fork")
int uscope_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 child = ctx->child_pid;
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

SEC("tracepoint/sched/sched_process_exec")
int uscope_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	if (!tgid_selected(bpf_get_current_pid_tgid() >> 32))
		return 0;
	emit_proc(USCOPE_PROC_EXEC, 0, 0);
	return 0;
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

	bpf_map_delete_elem(&uscope_threads, &tid); /* classic hooks' state */
	if (filter_tgids && tid != tgid)
		bpf_map_delete_elem(&uscope_tgids, &tid); /* see on_fork */
	if (!group_dead)
		return 0;
	{
		/* The mm goes away: its address may come back for another. */
		struct vma_cache_key key = { .mm = (__u64)BPF_CORE_READ(task, mm), .tgid = tgid };

		bpf_map_delete_elem(&uscope_vmacache, &key);
	}
	if (!traced)
		return 0;
	emit_proc(USCOPE_PROC_EXIT, BPF_CORE_READ(task, exit_code), 0);
	if (filter_tgids)
		bpf_map_delete_elem(&uscope_tgids, &tgid);
	return 0;
}

/* ---- the same hooks as BTF raw tracepoints (tp_btf) ----
 * A classic tracepoint program runs after the kernel has formatted the
 * trace event into a perf buffer, and every syscall event goes through the
 * per-syscall event dispatch; a tp_btf program is called with the
 * tracepoint's raw arguments. Empty programs on the hot hooks slowed
 * the bench workload by 6.0-6.2% as classic tracepoints and by 2.2-4.5% as tp_btf
 * (bench/README.md, overhead.empty_hooks_*). tp_btf needs kernel BTF, which CO-RE needs anyway, but
 * not trampolines (unlike fentry). The bodies above are shared; user space
 * loads one set and turns the other's autoload off (native/tracer.cc:
 * "hooks"), so the records are identical either way. */

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
			 next->pid, next->comm);
}

SEC("tp_btf/sched_waking")
int BPF_PROG(uscope_b_waking, struct task_struct *p)
{
	return on_waking(true, p, p->pid);
}

#if defined(__TARGET_ARCH_x86)
/* raw_syscalls: every syscall of every task comes here, so the syscall
 * number is tested first. x86_64 numbers; a 32-bit task's syscalls have
 * other numbers and are skipped, as the classic syscall events skip them. */
#define NR_read 0
#define NR_close 3
#define NR_ioctl 16
#define NR_userfaultfd 323
#define TS_COMPAT 0x0002

/* One of the system calls we trace, made by a 64-bit task? The number is
 * tested before the task is read. */
static __always_inline bool traced_syscall(long nr)
{
	struct task_struct *t;

	if (nr != NR_ioctl && nr != NR_read && nr != NR_close && nr != NR_userfaultfd)
		return false;
	t = bpf_get_current_task_btf();
	return !(t->thread_info.status & TS_COMPAT);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(uscope_b_sys_in, struct pt_regs *regs, long id)
{
	if (!traced_syscall(id))
		return 0;
	switch (id) {
	case NR_ioctl:
		return on_ioctl_in(true, (__u32)regs->di, (__u32)regs->si, regs->dx);
	case NR_read:
		return on_read_in(true, (__u32)regs->di, regs->si);
	case NR_close:
		return on_close((__u32)regs->di);
	default: /* NR_userfaultfd */
		return on_uffd_in(true, regs->di);
	}
}

SEC("tp_btf/sys_exit")
int BPF_PROG(uscope_b_sys_ex, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;

	if (!traced_syscall(nr))
		return 0;
	switch (nr) {
	case NR_ioctl:
		return on_ioctl_ex(true, ret);
	case NR_read:
		return on_read_ex(true, ret);
	case NR_userfaultfd:
		return on_uffd_ex(true, ret);
	default: /* close: nothing at exit */
		return 0;
	}
}
#endif
