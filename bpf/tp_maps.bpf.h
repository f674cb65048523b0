// SPDX-License-Identifier: GPL-2.0
/* Maps and the per-thread and per-syscall state they hold. Part of the tracepoint tool (tracepoint_tool.bpf.h). */
#ifndef USCOPE_TP_MAPS_BPF_H
#define USCOPE_TP_MAPS_BPF_H

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

/* The mms that own a uffd context (ctx->mm): a uffd-armed VMA is only ever
 * in one of them. Host-wide with btf hooks, a page fault in any other mm
 * returns at once, so the rest of the host gets no thread state (and the
 * sched hooks skip its tasks with one load). Seeded at start by
 * uscope_seed_uffd_mms, then by uffd creation and fork. LRU: an mm that
 * exec or exit left behind cannot pin an entry. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} uscope_uffd_mms SEC(".maps");

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

#endif /* USCOPE_TP_MAPS_BPF_H */
