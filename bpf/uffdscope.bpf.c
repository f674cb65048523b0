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
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "uffdscope.h"

#define EBUSY 16

/* A kernel pointer read as a BTF type: plain loads (fault-safe, inlined by
 * the JIT) instead of one bpf_probe_read_kernel() call per field. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define kcast(type, p) ((type *)bpf_rdonly_cast((void *)(p), bpf_core_type_id_kernel(type)))

_Static_assert(USCOPE_STAGE_BUCKETS == USCOPE_STAGES * USCOPE_WAIT_BUCKETS, "USCOPE_STAGE_BUCKETS");

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
/* Count faults and histogram waits and their stages in uscope_uffd_stats
 * instead of writing FAULT/BLOCK/WAKE/RESUME/MSG records; the per-fault
 * ioctls are counted, and written only when they fail (ioctl_recorded()). */
const volatile bool in_kernel_stats = false;
/* uapi bits the in-kernel kinds need (src/events/uapi.ts; the RWP ones are
 * provisional and overridable there) */
const volatile __u64 feat_wp_async = 1ULL << 15;  /* UFFD_FEATURE_WP_ASYNC */
const volatile __u64 feat_rwp_async = 0;          /* UFFD_FEATURE_RWP_ASYNC */
const volatile __u64 msg_flag_wp = 1ULL << 1;     /* UFFD_PAGEFAULT_FLAG_WP */
const volatile __u64 msg_flag_minor = 1ULL << 2;  /* UFFD_PAGEFAULT_FLAG_MINOR */
const volatile __u64 msg_flag_rwp = 0;            /* UFFD_PAGEFAULT_FLAG_RWP */

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

/* in_kernel_stats: per uffd (bpf/uffdscope.h). One entry for all CPUs,
 * updated with atomic adds: per-CPU copies of ~10 KiB of histograms per
 * uffd would cost a many-CPU host hundreds of MiB. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
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

/* in_kernel_stats: a fault message read by a handler, until the faulting
 * thread runs again (it knows its uffd and page, not who read it). LRU: a
 * message whose fault never waited cannot pin an entry. */
struct pending_msg_key {
	__u64 uffd;
	__u64 page;
};

struct pending_msg {
	__u64 msg_ts;
	__u32 kind; /* USCOPE_KIND_* from the message's flags */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct pending_msg_key);
	__type(value, struct pending_msg);
} uscope_pending_msgs SEC(".maps");

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
	/* in_kernel_stats: */
	__u64 uffd_created; /* the uffd's creation time (uscope_uffd_key) */
	__u64 msg_ts;       /* its message read (0: not seen) */
	__u32 kind;         /* USCOPE_KIND_*: from the VMA, then from the message */
	__u32 by_ioctl;     /* woken by a thread in a resolving uffd ioctl */
	__u64 counted[USCOPE_STAGES]; /* samples already in the histograms (+1) */
	/* records (emit_fault()): what the fault record needs, and which of
	 * its parts (USCOPE_FAULT_*) are sent */
	__u64 ip;
	__u64 block_ts;
	__u32 error_code;
	__u32 ctx_features;
	__u16 fault_cpu;
	__u16 block_cpu;
	__u16 wake_cpu;
	__u16 prev_state;
	__u8 armed;
	__u8 how;
	__u16 sent;
};

/* inflight.kind; NONE: no traced syscall in flight. */
#define INFLIGHT_NONE 0
#define INFLIGHT_IOCTL 1
#define INFLIGHT_DEV_NEW 2
#define INFLIGHT_READ 3
#define INFLIGHT_CREATE 4
#define INFLIGHT_FAST 5 /* in_kernel_stats: a per-fault uffd ioctl (fd not checked yet) */

/* A thread's traced syscall in flight: what its exit needs from its entry. */
struct inflight {
	__u64 ts;
	__u64 uffd;
	__u64 cmd;
	__u64 arg_ptr; /* ioctl arg, read buffer, or userfaultfd flags */
	__u32 fd;
	__u32 kind;
	/* records: an ioctl's entry, for its one record at exit (emit_ioctl()) */
	__u64 arg_in[USCOPE_IOCTL_ARG_WORDS];
	__u32 features_in;
	__u16 cpu;
	__u8 args_in; /* a control ioctl: USCOPE_IOCTL_ARGS_IN, | _ARGS_IN_OK when arg_in[] read */
	__u8 pad;
};

struct vma_info {
	__u64 uffd;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 uffd_created; /* in_kernel_stats: uscope_uffd_created[uffd], 0 if unknown */
	__u32 fresh; /* looked up now, not served from the cache: a VMA record is due */
	__u32 pad;
};

/* The thread's last VMA looked up, valid while its mm's mmap-lock sequence
 * is unchanged (every VMA, vm_flags or uffd-context change happens under
 * mmap_write_lock, which bumps it). bpf_find_vma() from the fault
 * tracepoint (interrupts off) defers its unlock to irq_work: a self-IPI per
 * lookup. Per thread, not per mm: a handler thread faulting on its source
 * pages and a vCPU thread faulting on guest memory each keep their own. */
struct vma_cache {
	__u64 mm; /* 0: empty; another mm after exec */
	__u32 seq;
	__u32 pad;
	struct vma_info vi;
};

/* records: the uffd VMA of the thread's last VMA record (emit_vma()). */
struct vma_sent {
	__u64 uffd;
	__u64 flags;
	__u64 start;
	__u64 end;
};

/* Everything kept per thread of a selected process that page-faults. */
struct thread_state {
	struct pending_fault pf;
	struct vma_cache vc;
	struct vma_sent vs;
};

/* The traced syscall in flight, per thread. The syscall hooks are classic
 * per-syscall tracepoints (so no other syscall of the host runs a program)
 * and all of them know the current task: task storage serves both hook
 * flavours. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct inflight);
} uscope_inflight SEC(".maps");

/* The btf hooks keep it in task-local storage: a lookup is a few loads
 * from the task, no hashing, and it goes away with the task. */
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

/* The name and tid last sent in a TASK record for each thread (note_task()). */
struct task_seen {
	__u64 comm[2];
	__u32 tid;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_seen);
} uscope_task_seen SEC(".maps");

/* ---- helpers ---- */
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

/* Is the current task inside a per-fault uffd ioctl (_UFFDIO_WAKE 0x02 up
 * to _UFFDIO_RWPROTECT 0x09)? From its syscall registers, so no map. */
static __always_inline bool in_fast_uffd_ioctl(void)
{
#if defined(__TARGET_ARCH_x86)
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	__u64 cmd;
	__u32 nr;

	if (regs->orig_ax != 16 /* __NR_ioctl */)
		return false;
	cmd = regs->si;
	nr = cmd & 0xff;
	return ((cmd >> 8) & 0xff) == 0xAA && nr >= 0x02 && nr <= 0x09;
#else
	struct inflight *in = get_inflight();

	return in && in->kind == INFLIGHT_FAST;
#endif
}

static __always_inline bool tgid_selected(__u32 tgid)
{
	return !filter_tgids || bpf_map_lookup_elem(&uscope_tgids, &tgid);
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

static __always_inline __u32 uffd_features(__u64 uffd)
{
	return uffd ? kcast(struct userfaultfd_ctx, uffd)->features : 0;
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

/* Adds n (+1 or -1) samples of v to a stage's histogram, count and sum. */
static __always_inline void stage_add(struct uscope_uffd_stats *s, __u32 stage, __u64 v, __s64 n)
{
	__u32 b = stage * USCOPE_WAIT_BUCKETS + wait_bucket(v);

	if (stage >= USCOPE_STAGES || b >= USCOPE_STAGE_BUCKETS)
		return;
	__sync_fetch_and_add(&s->stage_hist[b], n);
	__sync_fetch_and_add(&s->stage_count[stage], n);
	__sync_fetch_and_add(&s->stage_sum_ns[stage], n * (__s64)v);
}

/* The fault's sample of `stage` is v now: an earlier one (a re-wait)
 * leaves the histogram, so every fault counts once, with its whole wait. */
static __always_inline void stage_sample(struct uscope_uffd_stats *s, struct pending_fault *pf,
					 __u32 stage, __u64 v)
{
	__u64 old;

	if (stage >= USCOPE_STAGES)
		return;
	old = pf->counted[stage];
	if (old)
		stage_add(s, stage, old - 1, -1);
	pf->counted[stage] = v + 1;
	stage_add(s, stage, v, 1);
	if (v > s->stage_max_ns[stage]) /* racy: a lost update costs one max */
		s->stage_max_ns[stage] = v;
}

/* The thread of `pf` is on a CPU again after a wait: its stages from the
 * times seen (its message read, the wake-up by a resolving ioctl). */
static __always_inline void end_wait(struct pending_fault *pf, __u64 now)
{
	struct pending_msg_key k = { .uffd = pf->uffd, .page = pf->address & ~4095ULL };
	struct pending_msg *m = bpf_map_lookup_elem(&uscope_pending_msgs, &k);
	struct uscope_uffd_stats *s;
	bool first = !pf->counted[USCOPE_STAGE_TOTAL];
	__u32 kind;

	if (m) {
		/* an older message is another fault's on the same page */
		if (m->msg_ts >= pf->fault_ts && m->msg_ts <= now) {
			pf->msg_ts = m->msg_ts;
			pf->kind = m->kind;
		}
		bpf_map_delete_elem(&uscope_pending_msgs, &k);
	}
	s = uffd_stats(pf->uffd, pf->uffd_created, pf->tgid);
	if (!s)
		return;
	stage_sample(s, pf, USCOPE_STAGE_TOTAL, now - pf->fault_ts);
	if (pf->msg_ts)
		stage_sample(s, pf, USCOPE_STAGE_QUEUE, pf->msg_ts - pf->fault_ts);
	if (pf->by_ioctl && pf->wake_ts >= pf->fault_ts && pf->wake_ts <= now) {
		stage_sample(s, pf, USCOPE_STAGE_WAKE, now - pf->wake_ts);
		if (pf->msg_ts && pf->wake_ts >= pf->msg_ts)
			stage_sample(s, pf, USCOPE_STAGE_SERVICE, pf->wake_ts - pf->msg_ts);
	}
	/* a fault whose message was read was counted then (note_msg()) */
	if (first && !pf->msg_ts) {
		kind = pf->kind < USCOPE_KINDS ? pf->kind : USCOPE_KIND_UNKNOWN;
		__sync_fetch_and_add(&s->userfaults[kind], 1);
	}
}

/* A wait whose return to a CPU was never seen: the hook did not run or
 * could not read the thread's state (a preempted BPF program holds this
 * CPU's recursion guard or task-storage lock). Counted, not timed. */
static __always_inline void end_unseen(struct pending_fault *pf)
{
	struct uscope_uffd_stats *s;

	if (pf->state != PENDING_BLOCKED && pf->state != PENDING_WOKEN)
		return;
	pf->state = PENDING_NONE;
	s = uffd_stats(pf->uffd, pf->uffd_created, pf->tgid);
	if (s)
		__sync_fetch_and_add(&s->ends_unseen, 1);
}

/* ---- faults ---- */
/* exceptions:page_fault_user; not in vmlinux BTF, layout from its format file. */
struct page_fault_user_args {
	__u64 common;
	__u64 address;
	__u64 ip;
	__u64 error_code;
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

/* vi->uffd_created for a VMA just looked up (not cached). */
static __always_inline void note_uffd_created(struct vma_info *vi)
{
	__u64 *created;

	if (!in_kernel_stats || !vi->uffd)
		return;
	created = bpf_map_lookup_elem(&uscope_uffd_created, &vi->uffd);
	vi->uffd_created = created ? *created : 0;
}

static __always_inline long find_uffd_vma(struct thread_state *st, __u64 address, struct vma_info *vi)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct mm_struct *mm = t->mm;
	__u32 seq = 1; /* odd: not cacheable */
	long err;

	if (bpf_core_field_exists(mm->mm_lock_seq))
		seq = mm->mm_lock_seq.sequence;
	if (st && !(seq & 1) && st->vc.mm == (__u64)mm && st->vc.seq == seq &&
	    address >= st->vc.vi.start && address < st->vc.vi.end) {
		*vi = st->vc.vi;
		return 0;
	}
	err = bpf_find_vma(t, address, read_vma, vi, 0);
	if (!err)
		note_uffd_created(vi);
	if (!err && st && !(seq & 1)) {
		st->vc.mm = (__u64)mm;
		st->vc.seq = seq;
		st->vc.vi = *vi;
	}
	vi->fresh = 1;
	return err;
}

/* x86 page fault error code bits */
#define PF_PRESENT 1
#define PF_WRITE 2

/* A fault's kind before a handler reads its message (which then says). */
static __always_inline __u32 armed_kind(__u16 armed, __u64 err)
{
	if ((armed & USCOPE_ARMED_MISSING) && !(err & PF_PRESENT))
		return USCOPE_KIND_MISSING;
	if ((armed & USCOPE_ARMED_WP) && (err & PF_WRITE))
		return USCOPE_KIND_WP;
	if (armed & USCOPE_ARMED_MINOR)
		return USCOPE_KIND_MINOR;
	if (armed & USCOPE_ARMED_MISSING)
		return USCOPE_KIND_MISSING;
	if (armed & USCOPE_ARMED_UNKNOWN)
		return USCOPE_KIND_RWP;
	return USCOPE_KIND_UNKNOWN;
}

/* Resolved by the kernel without a wait: a write to a write-protected page
 * of a WP_ASYNC uffd, or an RWP fault (a VMA armed in a mode this build
 * does not know) of an RWP_ASYNC one. */
static __always_inline bool is_async(__u32 features, __u16 armed, __u64 err)
{
	bool wp_write = (armed & USCOPE_ARMED_WP) && (err & (PF_PRESENT | PF_WRITE)) == (PF_PRESENT | PF_WRITE);

	if (wp_write)
		return features & feat_wp_async;
	return (features & feat_rwp_async) && (armed & USCOPE_ARMED_UNKNOWN);
}

/* The VMA of a fault, for the faults after it that name only an address:
 * sent when the VMA was looked up (not cached) and is not the one the
 * thread sent last (the cache also misses after the thread's faults
 * elsewhere, or anyone's mmap-lock write). When the ring has no room, the
 * thread's cached VMA goes so its next fault in the VMA sends it again. */
static __always_inline void emit_vma(struct thread_state *st, const struct vma_info *vi, __u64 ts)
{
	struct uscope_vma *r;

	if (st && st->vs.uffd == vi->uffd && st->vs.flags == vi->flags && st->vs.start == vi->start &&
	    st->vs.end == vi->end)
		return;
	r = reserve_cur(USCOPE_REC_VMA, sizeof(*r));
	if (!r) {
		if (st)
			st->vc.mm = 0;
		return;
	}
	fill_current(&r->h, USCOPE_REC_VMA, sizeof(*r), ts);
	r->uffd = vi->uffd;
	r->vm_flags = vi->flags;
	r->start = vi->start;
	r->end = vi->end;
	submit(r);
	if (st) {
		st->vs.uffd = vi->uffd;
		st->vs.flags = vi->flags;
		st->vs.start = vi->start;
		st->vs.end = vi->end;
	}
}

/* Sends the `parts` (USCOPE_FAULT_*) of tid's fault not sent yet, as one
 * record: times are ns after the fault's entry, in 32 bits unless one
 * needs more (then the wide record). A part the ring had no room for
 * counts as sent: it is lost, and counted so. */
static __always_inline void emit_fault(struct pending_fault *pf, __u32 tid, __u32 parts, __u64 resume_ts,
				       __u16 resume_cpu)
{
	__u64 block_dt = 0, wake_dt = 0, resume_dt = 0;
	struct uscope_fault *r;
	__u32 size = sizeof(struct uscope_fault);

	parts &= ~(__u32)pf->sent;
	if (!parts)
		return;
	pf->sent |= parts;
	if (parts & USCOPE_FAULT_BLOCK)
		block_dt = pf->block_ts - pf->fault_ts;
	if (parts & USCOPE_FAULT_WAKE)
		wake_dt = pf->wake_ts - pf->fault_ts;
	if (parts & USCOPE_FAULT_RESUME)
		resume_dt = resume_ts - pf->fault_ts;
	if ((block_dt | wake_dt | resume_dt) >> 32) {
		struct uscope_fault_wide *w = reserve(USCOPE_REC_FAULT, sizeof(*w));

		if (!w)
			return;
		w->block_dt_hi = block_dt >> 32;
		w->wake_dt_hi = wake_dt >> 32;
		w->resume_dt_hi = resume_dt >> 32;
		w->pad = 0;
		r = &w->f;
		size = sizeof(*w);
		parts |= USCOPE_FAULT_WIDE;
	} else {
		r = reserve(USCOPE_REC_FAULT, sizeof(*r));
		if (!r)
			return;
	}
	fill_header(&r->h, USCOPE_REC_FAULT, size, tid, pf->fault_ts);
	r->h.flags = parts;
	r->address = pf->address;
	r->uffd = pf->uffd;
	r->ip = pf->ip;
	r->error_code = pf->error_code;
	r->ctx_features = pf->ctx_features;
	r->waker_tid = parts & USCOPE_FAULT_WAKE ? pf->waker_tid : 0;
	r->block_dt = block_dt;
	r->wake_dt = wake_dt;
	r->resume_dt = resume_dt;
	r->prev_state = pf->prev_state;
	r->nblocks = pf->nblocks;
	r->cpu = pf->fault_cpu;
	r->block_cpu = pf->block_cpu;
	r->wake_cpu = pf->wake_cpu;
	r->resume_cpu = resume_cpu;
	r->armed = pf->armed;
	r->how = pf->how;
	r->pad = 0;
	submit(r);
}

/* A fault's thread moves on (faults again, exits) before its fault was
 * sent whole: send what it has. */
static __always_inline void flush_fault(struct pending_fault *pf, __u32 tid)
{
	__u32 parts = USCOPE_FAULT_ENTRY;

	if (pf->state == PENDING_NONE)
		return;
	if (pf->state == PENDING_BLOCKED || pf->state == PENDING_WOKEN)
		parts |= USCOPE_FAULT_BLOCK;
	if (pf->state == PENDING_WOKEN)
		parts |= USCOPE_FAULT_WAKE;
	emit_fault(pf, tid, parts, 0, 0);
}

static __always_inline int on_fault(bool btf, __u64 address, __u64 ip, __u64 error_code)
{
	struct thread_state *st;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct vma_info vi = {};
	struct pending_fault pf = {}, *cur;
	__u16 armed = 0;
	long err;
	__u64 ts;

	/* Every user page fault of the host comes here: the clock is read only
	 * for selected processes (as early as possible for those). A thread
	 * has state only once its process was found selected. */
	st = thread_state(btf, current_for(btf), tid, false);
	if (!st && !tgid_selected(tgid))
		return 0;
	ts = bpf_ktime_get_boot_ns();
	if (!st)
		st = thread_state(btf, current_for(btf), tid, true);
	err = find_uffd_vma(st, address, &vi);
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
	pf.kind = armed_kind(armed, error_code);
	/* the thread's previous fault is over: counted as unseen in-kernel,
	 * or its record sent as far as it got */
	if (st && in_kernel_stats)
		end_unseen(&st->pf);
	else if (st)
		flush_fault(&st->pf, tid);
	if (st)
		st->pf = pf;

	if (in_kernel_stats) {
		struct uscope_uffd_stats *s = uffd_stats(vi.uffd, vi.uffd_created, tgid);
		__u32 features = uffd_features(vi.uffd);

		if (s) {
			__sync_fetch_and_add(&s->entries, 1);
			if (armed & USCOPE_ARMED_MISSING)
				__sync_fetch_and_add(&s->entries_missing, 1);
			if (armed & USCOPE_ARMED_WP)
				__sync_fetch_and_add(&s->entries_wp, 1);
			if (armed & USCOPE_ARMED_MINOR)
				__sync_fetch_and_add(&s->entries_minor, 1);
			if (is_async(features, armed, error_code))
				__sync_fetch_and_add(&s->userfaults[USCOPE_KIND_ASYNC], 1);
			s->ctx_features = features;
			s->last_fault_ts_ns = ts;
		}
		return 0;
	}
	if (vi.fresh)
		emit_vma(st, &vi, ts);
	note_task();
	cur = st ? &st->pf : &pf;
	cur->ip = ip;
	cur->error_code = error_code;
	cur->ctx_features = uffd_features(vi.uffd);
	cur->armed = armed;
	cur->fault_cpu = bpf_get_smp_processor_id();
	/* A missing page of a MISSING-armed VMA waits for its handler (but
	 * for a race with the resolving ioctl): its record waits for the end
	 * of the wait, one record for the whole fault. Any other fault is
	 * sent now, and its wait, if it has one, when it ends. */
	if (!st || !(armed & USCOPE_ARMED_MISSING) || (error_code & PF_PRESENT))
		emit_fault(cur, tid, USCOPE_FAULT_ENTRY, 0, 0);
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
 * wait queues? handle_userfault() queues it (callback
 * userfaultfd_wake_function) before it sleeps, at the head; the stack walk
 * is the fallback, being far dearer (bench/README.md). */
#define WAITQ_SCAN 8

static __always_inline bool waitq_has(struct list_head *head, __u64 task)
{
	struct list_head *pos = head->next;
	__u64 off = bpf_core_field_offset(struct wait_queue_entry, entry);

	for (int i = 0; i < WAITQ_SCAN; i++) {
		struct wait_queue_entry *we;

		if (!pos || pos == head)
			return false;
		we = kcast(struct wait_queue_entry, (__u64)pos - off);
		if ((__u64)we->private == task && (__u64)we->func == uffd_wake_fn)
			return true;
		pos = pos->next;
	}
	return false;
}

static __always_inline bool on_uffd_waitq(__u64 uffd)
{
	struct userfaultfd_ctx *ctx = kcast(struct userfaultfd_ctx, uffd);
	__u64 task = bpf_get_current_task();

	if (!uffd)
		return false;
	return waitq_has(&ctx->fault_pending_wqh.head, task) ||
	       waitq_has(&ctx->fault_wqh.head, task);
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
				     long state, struct task_struct *next_task, __u32 next)
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
			pf->state = PENDING_BLOCKED;
			pf->nblocks++;
			if (in_kernel_stats) {
				struct uscope_uffd_stats *s = uffd_stats(pf->uffd, pf->uffd_created, pf->tgid);

				if (s) {
					if (pf->nblocks == 1)
						__sync_fetch_and_add(&s->blocked, 1);
					else
						__sync_fetch_and_add(&s->rewaits, 1);
				}
				goto next;
			}
			/* a new wait: its parts are sent when it ends */
			ts = bpf_ktime_get_boot_ns();
			pf->sent &= ~(USCOPE_FAULT_BLOCK | USCOPE_FAULT_WAKE | USCOPE_FAULT_RESUME);
			pf->block_ts = ts;
			pf->block_cpu = bpf_get_smp_processor_id();
			pf->prev_state = state;
			pf->how = how;
		}
	}
next:
	st = thread_state(btf, next_task, next, false);
	pf = st ? &st->pf : NULL;
	/* A waiting thread on a CPU again (BLOCKED: its wake-up was not seen). */
	if (in_kernel_stats && pf && (pf->state == PENDING_WOKEN || pf->state == PENDING_BLOCKED)) {
		pf->state = PENDING_RUNNING;
		end_wait(pf, bpf_ktime_get_boot_ns());
		return 0;
	}
	/* A waiting thread on a CPU again: its fault (or this wait of it) is
	 * sent whole. BLOCKED: the wake-up ran while it was still switching
	 * out, unseen (there is no resume to report). */
	if (pf && pf->state == PENDING_WOKEN) {
		pf->state = PENDING_RUNNING;
		if (!ts)
			ts = bpf_ktime_get_boot_ns();
		emit_fault(pf, next, USCOPE_FAULT_ENTRY | USCOPE_FAULT_BLOCK | USCOPE_FAULT_WAKE | USCOPE_FAULT_RESUME,
			   ts, bpf_get_smp_processor_id());
	} else if (pf && pf->state == PENDING_BLOCKED) {
		pf->state = PENDING_RUNNING;
		emit_fault(pf, next, USCOPE_FAULT_ENTRY | USCOPE_FAULT_BLOCK, 0, 0);
	}
	return 0;
}

SEC("tracepoint/sched/sched_switch")
int uscope_switch(struct trace_event_raw_sched_switch *ctx)
{
	return on_switch(false, ctx, NULL, ctx->prev_pid, ctx->prev_state, NULL, ctx->next_pid);
}

static __always_inline int on_waking(bool btf, struct task_struct *task, __u32 target)
{
	struct thread_state *st = thread_state(btf, task, target, false);
	struct pending_fault *pf = st ? &st->pf : NULL;
	__u64 ts;

	if (!pf)
		return 0;
	if (in_kernel_stats && pf->state == PENDING_FAULTED) {
		/* woken while still on its way to sleep (its block is not seen
		 * yet, on another CPU): the wake-up ends its service stage */
		pf->wake_ts = bpf_ktime_get_boot_ns();
		pf->waker_tid = (__u32)bpf_get_current_pid_tgid();
		pf->by_ioctl = in_fast_uffd_ioctl();
		return 0;
	}
	if (pf->state != PENDING_BLOCKED)
		return 0;
	ts = bpf_ktime_get_boot_ns();
	pf->state = PENDING_WOKEN;
	pf->wake_ts = ts;
	pf->waker_tid = (__u32)bpf_get_current_pid_tgid();
	if (in_kernel_stats) {
		/* the waker runs here: is it in a resolving uffd ioctl? */
		pf->by_ioctl = in_fast_uffd_ioctl();
		return 0;
	}
	/* the waker is named in the fault's record: it needs a TASK record */
	pf->wake_cpu = bpf_get_smp_processor_id();
	note_task();
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
 * that took 2^32 ns or more, carries its entry side too (uscope_ioctl_in). */
static __always_inline void emit_ioctl(__u64 ts, __u64 uffd, const struct inflight *in, long ret)
{
	__u64 enter_dt = ts - in->ts;
	struct uscope_ioctl *r;
	__u32 size = sizeof(struct uscope_ioctl), flags = 0;

	if (in->args_in || enter_dt >> 32) {
		struct uscope_ioctl_in *w = reserve_cur(USCOPE_REC_IOCTL, sizeof(*w));

		if (!w)
			return;
		__builtin_memcpy(w->arg_in, in->arg_in, sizeof(w->arg_in));
		w->ctx_features_in = in->features_in;
		w->enter_dt_hi = enter_dt >> 32;
		r = &w->x;
		size = sizeof(*w);
		flags = in->args_in | (enter_dt >> 32 ? USCOPE_IOCTL_WIDE : 0);
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
	ts = bpf_ktime_get_boot_ns();
	if (!ioctl_recorded(cmd)) {
		/* per-fault, in_kernel_stats: the fd is looked at only if the
		 * call fails or its process is not selected (on_ioctl_ex) */
		in.ts = ts;
		in.cmd = cmd;
		in.arg_ptr = arg_ptr;
		in.fd = fd;
		in.cpu = bpf_get_smp_processor_id();
		in.kind = INFLIGHT_FAST;
		set_inflight(&in);
		return 0;
	}
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

/* A per-fault ioctl ended (in_kernel_stats): counted when it succeeded,
 * recorded when it failed, for selected processes and uffds. */
static __always_inline void fast_ioctl_ex(const struct inflight *in, long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct uscope_counters *c;
	__u64 uffd = 0;

	if (ret < 0 || !tgid_selected(tgid)) {
		struct file *f = fd_file(in->fd);

		if (!f || !is_uffd_file(f))
			return;
		uffd = file_uffd(f);
		if (!selected(tgid, uffd))
			return;
	}
	if (ret < 0) {
		emit_ioctl(bpf_ktime_get_boot_ns(), uffd, in, ret);
		return;
	}
	c = ctrs();
	if (c)
		c->fast_ioctls[in->cmd & (USCOPE_FAST_IOCTL_NRS - 1)]++;
}

static __always_inline int on_ioctl_ex(long ret)
{
	struct inflight *in = get_inflight();
	__u64 ts;

	if (!in)
		return 0;
	if (in->kind == INFLIGHT_FAST) {
		fast_ioctl_ex(in, ret);
		goto out;
	}
	ts = bpf_ktime_get_boot_ns();
	if (in->kind == INFLIGHT_DEV_NEW) {
		if (in->uffd)
			emit_create(ts, ret, in->arg_ptr, USCOPE_CREATE_DEV);
		else
			forget_uffd(ret);
		goto out;
	}
	if (in->kind == INFLIGHT_IOCTL)
		emit_ioctl(ts, in->uffd, in, ret);
out:
	in->kind = INFLIGHT_NONE;
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_ioctl")
int uscope_ioctl_ex(struct trace_event_raw_sys_exit *ctx)
{
	return on_ioctl_ex(ctx->ret);
}

/* ---- uffd creation ---- */
static __always_inline int on_uffd_in(__u64 flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct inflight in = {};

	/* Every process: a context created by an unselected one must stop
	 * counting as ours (see forget_uffd); only selected ones are emitted. */
	in.ts = bpf_ktime_get_boot_ns();
	in.kind = INFLIGHT_CREATE;
	in.arg_ptr = flags;
	in.fd = tgid_selected(id >> 32);
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
	return on_uffd_ex(ctx->ret);
}

/* ---- messages read by the handler ---- */
static __always_inline int on_read_in(__u32 fd, __u64 buf)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct inflight in = {};
	struct file *f;
	__u64 uffd;

	/* No uffd seen yet anywhere: nothing to look for. */
	if (!uffd_fops)
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
	__u64 *created = bpf_map_lookup_elem(&uscope_uffd_created, &rd->uffd);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct note_msgs_ctx c = { .uffd = rd->uffd, .buf = rd->arg_ptr, .ts = ts, .n = n };
	struct uscope_uffd_stats *s;

	bpf_loop(USCOPE_MAX_MSGS_PER_READ, note_msg, &c, 0);
	s = uffd_stats(rd->uffd, created ? *created : 0, tgid);
	if (s && c.faults) {
		/* a userfault is counted when its message is read: a fault
		 * resolved between its message and its sleep never waits */
		__sync_fetch_and_add(&s->msgs, c.faults);
		for (int k = 0; k < USCOPE_KINDS; k++)
			if (c.by_kind[k])
				__sync_fetch_and_add(&s->userfaults[k], c.by_kind[k]);
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
	struct task_struct *t;
	struct inflight rd = {};
	struct pt_regs *regs;
	struct file *f;
	__u32 n;

	if (ret < USCOPE_UFFD_MSG_SIZE || ret % USCOPE_UFFD_MSG_SIZE || !uffd_fops)
		return 0;
	t = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(t);
	rd.fd = (__u32)BPF_CORE_READ(regs, di);
	rd.arg_ptr = BPF_CORE_READ(regs, si);
	f = fd_file(rd.fd);
	if (!f || !is_uffd_file(f))
		return 0;
	rd.uffd = file_uffd(f);
	if (!selected(tgid, rd.uffd))
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

/* ---- processes ---- */
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

SEC("tp_btf/sched_waking")
int BPF_PROG(uscope_b_waking, struct task_struct *p)
{
	return on_waking(true, p, p->pid);
}
