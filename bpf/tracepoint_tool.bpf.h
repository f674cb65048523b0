// SPDX-License-Identifier: GPL-2.0
/* The tracepoint tool: every program of the tracepoint backend, in the
 * order they depend on each other. Each backend's object (uffdscope.bpf.c,
 * uffdscope_fentry.bpf.c, uffdscope_kprobe.bpf.c) includes it once. */
#ifndef USCOPE_TRACEPOINT_TOOL_BPF_H
#define USCOPE_TRACEPOINT_TOOL_BPF_H

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

#include "tp_config.bpf.h"
#include "tp_maps.bpf.h"
#include "tp_helpers.bpf.h"
#include "tp_stats.bpf.h"
#include "tp_faults.bpf.h"
#include "tp_waits.bpf.h"
#include "tp_ioctls.bpf.h"
#include "tp_create.bpf.h"
#include "tp_reads.bpf.h"
#include "tp_close.bpf.h"
#include "tp_procs.bpf.h"
#include "tp_btf_hooks.bpf.h"

#endif /* USCOPE_TRACEPOINT_TOOL_BPF_H */
