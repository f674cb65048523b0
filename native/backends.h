// SPDX-License-Identifier: GPL-2.0
//
// Backends: one bpftool skeleton per backend (tracepoint: uffdscope,
// fentry: uffdscope_fentry, kprobe: uffdscope_kprobe), opened through one
// small adapter, listed once (kBackends), and the optional programs each may
// attach. The names match src/kernel/backends.ts (a unit test compares the
// addon's list with it). Included once, by tracer.cc.
#pragma once

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fstream>
#include <memory>
#include <string>

#include "uffdscope.skel.h"
#include "uffdscope_fentry.skel.h"
#include "uffdscope_kprobe.skel.h"

namespace {

// The configuration every object takes (rodata names are the same in all).
struct Config {
  bool filter_tgids = false;
  bool follow_children = true;
  uint64_t hu_start = 0, hu_end = 0;
  uint64_t uffd_wake_fn = 0;
  uint64_t vm_uffd_missing = 0, vm_uffd_wp = 0, vm_uffd_minor = 0;
  uint64_t wakeup_bytes = 0;
  bool in_kernel_stats = false;
  uint64_t feat_wp_async = 0, feat_rwp_async = 0;
  uint64_t msg_flag_wp = 0, msg_flag_minor = 0, msg_flag_rwp = 0;
};

// One opened (then loaded) BPF object, whichever skeleton it came from.
class Skel {
 public:
  virtual ~Skel() = default;
  virtual int Load() = 0;
  struct bpf_object* obj = nullptr;
  struct bpf_map* events = nullptr;
  struct bpf_map* counters = nullptr;
  struct bpf_map* tgids = nullptr;
  struct bpf_map* uffd_stats = nullptr;
};

template <class S, S* (*OpenFn)(), int (*LoadFn)(S*), void (*DestroyFn)(S*)>
class SkelImpl : public Skel {
 public:
  // nullptr with errno set when the skeleton cannot be opened.
  static std::unique_ptr<Skel> Open(const Config& c) {
    S* s = OpenFn();
    if (!s) return nullptr;
    auto self = std::unique_ptr<SkelImpl>(new SkelImpl(s));
    s->rodata->filter_tgids = c.filter_tgids;
    s->rodata->follow_children = c.follow_children;
    s->rodata->hu_start = c.hu_start;
    s->rodata->hu_end = c.hu_end;
    s->rodata->uffd_wake_fn = c.uffd_wake_fn;
    s->rodata->vm_uffd_missing = c.vm_uffd_missing;
    s->rodata->vm_uffd_wp = c.vm_uffd_wp;
    s->rodata->vm_uffd_minor = c.vm_uffd_minor;
    s->rodata->wakeup_bytes = c.wakeup_bytes;
    s->rodata->in_kernel_stats = c.in_kernel_stats;
    s->rodata->feat_wp_async = c.feat_wp_async;
    s->rodata->feat_rwp_async = c.feat_rwp_async;
    s->rodata->msg_flag_wp = c.msg_flag_wp;
    s->rodata->msg_flag_minor = c.msg_flag_minor;
    s->rodata->msg_flag_rwp = c.msg_flag_rwp;
    return self;
  }
  ~SkelImpl() override { DestroyFn(s_); }  // detaches skeleton links, closes maps
  int Load() override { return LoadFn(s_); }

 private:
  explicit SkelImpl(S* s) : s_(s) {
    obj = s->obj;
    events = s->maps.uscope_events;
    counters = s->maps.uscope_counters;
    tgids = s->maps.uscope_tgids;
    uffd_stats = s->maps.uscope_uffd_stats;
  }
  S* s_;
};

using TracepointSkel = SkelImpl<struct uffdscope, uffdscope__open, uffdscope__load, uffdscope__destroy>;
using FentrySkel =
    SkelImpl<struct uffdscope_fentry, uffdscope_fentry__open, uffdscope_fentry__load, uffdscope_fentry__destroy>;
using KprobeSkel =
    SkelImpl<struct uffdscope_kprobe, uffdscope_kprobe__open, uffdscope_kprobe__load, uffdscope_kprobe__destroy>;

// Is `name` a symbol in /proc/kallsyms (address visible or not)?
bool InKallsyms(const std::string& name) {
  std::ifstream in("/proc/kallsyms");
  std::string line;
  while (std::getline(in, line)) {
    // "<addr> <type> <name>[\t[module]]"
    size_t sp2 = line.find(' ', line.find(' ') + 1);
    if (sp2 == std::string::npos) continue;
    size_t end = line.find_first_of(" \t", sp2 + 1);
    if (line.compare(sp2 + 1, end == std::string::npos ? std::string::npos : end - sp2 - 1, name) == 0)
      return true;
  }
  return false;
}

// Is `name` a function in the kernel's BTF (what fentry/fexit attach to)?
bool InVmlinuxBtf(const std::string& name) {
  struct btf* btf = btf__load_vmlinux_btf();
  if (!btf) return false;
  bool found = btf__find_by_name_kind(btf, name.c_str(), BTF_KIND_FUNC) >= 0;
  btf__free(btf);
  return found;
}

// One row per backend built into this addon, in `--backend auto`'s order.
struct Backend {
  const char* name;
  std::unique_ptr<Skel> (*open)(const Config&);  // nullptr with errno set on failure
  // precise: its own programs (handle_userfault entry/exit) are probed first
  bool precise;
  // where an optional program's target must be found (nullptr: not checked)
  bool (*has_symbol)(const std::string&);
  const char* symbol_source;  // how the error names that place
};
const Backend kBackends[] = {
    {"fentry", FentrySkel::Open, true, InVmlinuxBtf, "the kernel's BTF"},
    {"kprobe", KprobeSkel::Open, true, InKallsyms, "/proc/kallsyms"},
    {"tracepoint", TracepointSkel::Open, false, nullptr, nullptr},
};

const Backend* FindBackend(const std::string& name) {
  for (const Backend& b : kBackends)
    if (name == b.name) return &b;
  return nullptr;
}

// Optional programs: attached only where their target exists. The RWP
// series' userfaultfd_set_mode() is absent from mainline kernels.
struct OptionalTarget {
  const char* programs[2];
  const char* symbol;
};
const OptionalTarget kOptional[] = {
    {{"uscope_sm_entry", "uscope_sm_exit"}, "userfaultfd_set_mode"},
};

}  // namespace
