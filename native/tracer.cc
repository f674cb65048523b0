// SPDX-License-Identifier: GPL-2.0
//
// uffdscope native addon: a thin node-addon-api layer over libbpf.
//
// It knows nothing about userfaultfd semantics. It opens the bpftool
// skeleton, applies the configuration the JavaScript side validated, loads,
// attaches, and runs a consumer thread that drains the ring buffer and hands
// JavaScript whole batches (one Buffer of many records per call). The
// JavaScript side owns the API and the error class this file throws
// (src/native/addon.ts registers it with setErrorClass()).
//
// Steps follow libbpf-bootstrap and this file reads in their order: open ->
// configure -> load (the constructor), attach, poll (start/stop), cleanup
// (close), then what JavaScript may ask meanwhile; each step is checked and
// named in the error it raises.
//
// Errors (errors.h), backends (backends.h), the ring-buffer consumer
// thread (ring_consumer.{h,cc}) and doctor's UFFDIO_API probe
// (uffd_probe.{h,cc}) are in their own files.

#include <napi.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fstream>
#include <linux/types.h>
#include <malloc.h>
#include <unistd.h>

extern "C" {
#include "uffdscope.h"
}
#include "hooks.h"

#include "errors.h"
#include "backends.h"
#include "ring_consumer.h"
#include "uffd_probe.h"

namespace {

// The config object JavaScript validated (src/native/addon.ts); here only
// types are enforced.
struct JsConfig {
  Napi::Object obj;
  uint64_t U64(const char* k) const {
    Napi::Value v = obj.Get(k);
    if (v.IsBigInt()) {
      bool lossless;
      return v.As<Napi::BigInt>().Uint64Value(&lossless);
    }
    return v.IsNumber() ? (uint64_t)v.As<Napi::Number>().Int64Value() : 0;
  }
  bool Flag(const char* k) const { return obj.Get(k).ToBoolean().Value(); }
  std::string Str(const char* k, const char* absent) const {
    Napi::Value v = obj.Get(k);
    return v.IsString() ? v.As<Napi::String>().Utf8Value() : absent;
  }
};

class Tracer : public Napi::ObjectWrap<Tracer> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Tracer",
                       {
                           InstanceMethod("attach", &Tracer::Attach),
                           InstanceMethod("start", &Tracer::Start),
                           InstanceMethod("stop", &Tracer::Stop),
                           InstanceMethod("close", &Tracer::Close),
                           InstanceMethod("addTgid", &Tracer::AddTgid),
                           InstanceMethod("removeTgid", &Tracer::RemoveTgid),
                           InstanceMethod("counters", &Tracer::Counters),
                           InstanceMethod("uffdStats", &Tracer::UffdStats),
                           InstanceMethod("programs", &Tracer::Programs),
                           InstanceMethod("describe", &Tracer::Describe),
                       });
  }

  // new Tracer(config): open -> configure -> load, of the skeleton named by
  // config.backend (default tracepoint).
  explicit Tracer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tracer>(info) {
    Napi::Env env = info.Env();
    const JsConfig js{info[0].As<Napi::Object>()};
    take_log();
    const Config c = Open(env, js);
    Configure(env, js, c);
    int err = skel_->Load();
    if (err) Fail(env, "load", -err);
  }

  ~Tracer() override {
    if (!ring_.Running()) Destroy();
  }

 private:
  // open: the backend's skeleton with its rodata (Config) set; a precise
  // backend first probes its own programs (ProbePrecise).
  Config Open(Napi::Env env, const JsConfig& js) {
    backend_ = js.Str("backend", "tracepoint");
    Config c;
    c.filter_tgids = js.Flag("filterTgids");
    c.follow_children = js.Flag("followChildren");
    c.hu_start = js.U64("handleUserfaultStart");
    c.hu_end = js.U64("handleUserfaultEnd");
    c.uffd_wake_fn = js.U64("uffdWakeFunction");  // absent: 0, no wait-queue check
    c.vm_uffd_missing = js.U64("vmUffdMissing");
    c.vm_uffd_wp = js.U64("vmUffdWp");
    c.vm_uffd_minor = js.U64("vmUffdMinor");
    c.wakeup_bytes = js.U64("wakeupBytes");
    c.in_kernel_stats = js.Flag("inKernelStats");
    c.feat_wp_async = js.U64("featWpAsync");
    c.feat_rwp_async = js.U64("featRwpAsync");
    c.msg_flag_wp = js.U64("msgFlagWp");
    c.msg_flag_minor = js.U64("msgFlagMinor");
    c.msg_flag_rwp = js.U64("msgFlagRwp");
    backend_row_ = FindBackend(backend_);
    if (!backend_row_) throw_step(env, "open", EINVAL, "unknown backend \"" + backend_ + "\"", backend_);
    hooks_ = js.Str("hooks", "btf");
    if (hooks_ != "btf" && hooks_ != "classic")
      throw_step(env, "open", EINVAL, "unknown hooks \"" + hooks_ + "\"", backend_);
    if (backend_row_->precise) ProbePrecise(env, c);
    skel_ = backend_row_->open(c);
    if (!skel_) throw_step(env, "open", errno, "", backend_);
    return c;
  }

  // configure: which programs load (hook flavour, in-kernel statistics,
  // optional programs whose target this kernel lacks) and the ring's size
  // must be settled before load; the consumer's settings too.
  void Configure(Napi::Env env, const JsConfig& js, const Config& c) {
    int err = uscope_choose_hooks(skel_->obj, hooks_ == "btf");
    if (err) Fail(env, "configure " + hooks_ + " hooks", -err);
    if (c.in_kernel_stats && (err = uscope_leave_out_for_in_kernel_stats(skel_->obj)))
      Fail(env, "configure in-kernel statistics", -err);
    uint64_t ring_bytes = js.U64("ringBytes");
    if (ring_bytes) {
      err = bpf_map__set_max_entries(skel_->events, (uint32_t)ring_bytes);
      if (err) Fail(env, "configure ring buffer size", -err);
    }
    for (const auto& opt : kOptional) {
      bool any = false;
      for (const char* name : opt.programs) any |= bpf_object__find_program_by_name(skel_->obj, name) != nullptr;
      if (!any) continue;
      const Backend& bk = *backend_row_;
      if (!bk.has_symbol || bk.has_symbol(opt.symbol)) continue;
      std::string why = std::string(opt.symbol) + "() not in " + bk.symbol_source;
      for (const char* name : opt.programs) {
        struct bpf_program* p = bpf_object__find_program_by_name(skel_->obj, name);
        if (!p) continue;
        err = bpf_program__set_autoload(p, false);
        if (err) Fail(env, std::string("configure ") + name, -err);
        skipped_.push_back({name, bpf_program__section_name(p), why});
      }
    }
    ring_opts_.poll_timeout_ms = (int)js.U64("pollTimeoutMs");
    ring_opts_.batch_bytes = (size_t)js.U64("batchBytes");
    if (ring_opts_.poll_timeout_ms <= 0) ring_opts_.poll_timeout_ms = 50;
    if (ring_opts_.batch_bytes < 4096) ring_opts_.batch_bytes = 4096;
  }

  // attach(): every loaded program, named in the error when one fails.
  // The backend's own (non-tracepoint) programs go first, so a kernel that
  // refuses them refuses before anything else was attached; on a failure
  // every link made so far is destroyed again (nothing stays attached).
  Napi::Value Attach(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Require(env);
    std::vector<struct bpf_program*> order;
    struct bpf_program* prog;
    for (int pass = 0; pass < 2; pass++) {
      bpf_object__for_each_program(prog, skel_->obj) {
        if (!bpf_program__autoload(prog)) continue;
        // an iterator runs when read (FlushPending), not attached to an event
        if (strncmp(bpf_program__section_name(prog), "iter/", 5) == 0) continue;
        bool tp = strncmp(bpf_program__section_name(prog), "tracepoint/", 11) == 0;
        if (tp == (pass == 1)) order.push_back(prog);
      }
    }
    for (auto* p : order) {
      struct bpf_link* link = bpf_program__attach(p);
      if (!link) {
        int err = errno;
        for (auto* l : links_) bpf_link__destroy(l);
        links_.clear();
        throw_step(env, std::string("attach ") + bpf_program__name(p) + " (" + bpf_program__section_name(p) + ")",
                   err, "", backend_);
      }
      links_.push_back(link);
    }
    int err = SeedUffdMms();
    if (err) {
      for (auto* l : links_) bpf_link__destroy(l);
      links_.clear();
      throw_step(env, "seed the mms that own a uffd (uscope_seed_uffd_mms)", err, "", backend_);
    }
    return env.Undefined();
  }

  // Runs an iterator program once (it writes into maps or the ring, not to
  // its reader). A program not loaded is not run. Returns 0 or an errno.
  int RunIterator(const char* name) {
    struct bpf_program* prog = bpf_object__find_program_by_name(skel_->obj, name);
    if (!prog || !bpf_program__autoload(prog)) return 0;
    struct bpf_link* link = bpf_program__attach_iter(prog, nullptr);
    int fd = link ? bpf_iter_create(bpf_link__fd(link)) : -1;
    int err = fd < 0 ? errno : 0;
    char buf[64];
    ssize_t n = 0;
    while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0) {
    }
    if (fd >= 0 && n < 0) err = errno;
    if (fd >= 0) close(fd);
    if (link) bpf_link__destroy(link);
    return err;
  }

  // The mms of the uffds that exist already (uscope_seed_uffd_mms), listed
  // once every hook is attached, so a uffd created meanwhile is seen by one
  // or the other.
  int SeedUffdMms() { return RunIterator("uscope_seed_uffd_mms"); }

  // start(onBatch): spawns the consumer thread (ring_consumer.h) on the
  // events ring. Returns a Promise that resolves once stop() has drained and
  // delivered the last batch.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Require(env);
    if (ring_.Running()) throw_step(env, "start", EBUSY, "already started");
    if (!info[0].IsFunction()) throw_step(env, "start", EINVAL, "onBatch must be a function");
    int err = ring_.Open(bpf_map__fd(skel_->events));
    if (err) throw_step(env, "ring_buffer__new", err);
    done_ = std::make_unique<Napi::Promise::Deferred>(Napi::Promise::Deferred::New(env));
    ring_.Start(env, info[0].As<Napi::Function>(), ring_opts_, [this] { FlushPending(); },
                [this](Napi::Env env, int poll_error) {
                  Unref();
                  if (poll_error) {
                    Napi::Object e = Napi::Error::New(env, std::string("poll: ") + strerror(poll_error)).Value();
                    done_->Reject(e);
                  } else {
                    done_->Resolve(env.Undefined());
                  }
                });
    Ref();  // released once the consumer thread is joined (the callback above)
    return done_->Promise();
  }

  // Runs the task iterator that writes pending faults into the ring (see
  // uscope_flush_pending); a failure costs those faults, not the rest of
  // the recording, and its errno shows in counters().pendingFlushErrno.
  void FlushPending() {
    int err = RunIterator("uscope_flush_pending");
    if (err) pending_flush_errno_ = err;
  }

  // stop(): asks the consumer to drain and finish; the promise from
  // start() settles when it has.
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    ring_.Stop();
    return info.Env().Undefined();
  }

  // close(): detach every program and free every map. Safe to call twice.
  // Without a prior stop() the last queued batches may be discarded (and
  // counted as such); stop() and awaiting start()'s promise first loses none.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    ring_.Close();
    Destroy();
    return info.Env().Undefined();
  }

  // Only called with the consumer thread gone (see Start: the wrapper is
  // referenced while the thread lives, so GC cannot get here earlier).
  void Destroy() {
    for (auto* l : links_) bpf_link__destroy(l);
    links_.clear();
    ring_.Free();
    skel_.reset();  // the skeleton's destroy: detaches links, closes maps
  }

  Napi::Value MapUpdate(const Napi::CallbackInfo& info, struct bpf_map* map, bool add,
                        const void* key, size_t key_size, const char* what) {
    Napi::Env env = info.Env();
    uint8_t one = 1;
    int err = add ? bpf_map__update_elem(map, key, key_size, &one, sizeof(one), BPF_ANY)
                  : bpf_map__delete_elem(map, key, key_size, 0);
    if (err && !(err == -ENOENT && !add)) throw_step(env, what, -err);
    return env.Undefined();
  }

  Napi::Value AddTgid(const Napi::CallbackInfo& info) {
    Require(info.Env());
    uint32_t k = info[0].As<Napi::Number>().Uint32Value();
    return MapUpdate(info, skel_->tgids, true, &k, sizeof(k), "add pid to filter");
  }
  Napi::Value RemoveTgid(const Napi::CallbackInfo& info) {
    Require(info.Env());
    uint32_t k = info[0].As<Napi::Number>().Uint32Value();
    return MapUpdate(info, skel_->tgids, false, &k, sizeof(k), "remove pid from filter");
  }

  // counters(): per-CPU accounting from the kernel side plus what this
  // consumer delivered. Values are Numbers (exact below 2^53).
  Napi::Value Counters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Require(env);
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0) throw_step(env, "counters: possible cpus", -ncpu);
    std::vector<struct uscope_counters> per(ncpu);
    uint32_t zero = 0;
    int err = bpf_map__lookup_elem(skel_->counters, &zero, sizeof(zero), per.data(),
                                   sizeof(struct uscope_counters) * ncpu, 0);
    if (err) throw_step(env, "counters: read map", -err);
    Napi::Array cpus = Napi::Array::New(env, ncpu);
    for (int c = 0; c < ncpu; c++) {
      Napi::Object o = Napi::Object::New(env);
      Napi::Array produced = Napi::Array::New(env, USCOPE_REC_TYPE_COUNT + 1);
      Napi::Array lost = Napi::Array::New(env, USCOPE_REC_TYPE_COUNT + 1);
      for (int t = 0; t <= USCOPE_REC_TYPE_COUNT; t++) {
        produced.Set(t, Napi::Number::New(env, (double)per[c].produced[t]));
        lost.Set(t, Napi::Number::New(env, (double)per[c].lost[t]));
      }
      o.Set("produced", produced);
      o.Set("lost", lost);
      o.Set("vmaLookupFailed", Napi::Number::New(env, (double)per[c].vma_lookup_failed));
      o.Set("stackFailed", Napi::Number::New(env, (double)per[c].stack_failed));
      o.Set("msgsTruncated", Napi::Number::New(env, (double)per[c].msgs_truncated));
      o.Set("inflightDropped", Napi::Number::New(env, (double)per[c].inflight_dropped));
      Napi::Array fast = Napi::Array::New(env, USCOPE_FAST_IOCTL_NRS);
      for (int i = 0; i < USCOPE_FAST_IOCTL_NRS; i++) fast.Set(i, Napi::Number::New(env, (double)per[c].fast_ioctls[i]));
      o.Set("fastIoctls", fast);
      cpus.Set(c, o);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("perCpu", cpus);
    out.Set("delivered", Napi::Number::New(env, (double)ring_.Delivered()));
    out.Set("discardedAtClose", Napi::Number::New(env, (double)ring_.Discarded()));
    out.Set("pendingFlushErrno", Napi::Number::New(env, pending_flush_errno_.load()));
    return out;
  }

  // uffdStats(keys, values): fills the caller's buffers with the in-kernel
  // statistics map as it is now (struct uscope_uffd_key and struct
  // uscope_uffd_stats back to back), read in batches: no per-read
  // allocation. Returns { count, more }; `more`: the buffers were too small.
  // Decoding is the JavaScript side's (src/stats/kernelStats.ts).
  Napi::Value UffdStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Require(env);
    auto keys = info[0].As<Napi::Buffer<uint8_t>>();
    auto values = info[1].As<Napi::Buffer<uint8_t>>();
    const size_t ksize = sizeof(struct uscope_uffd_key), vsize = sizeof(struct uscope_uffd_stats);
    const size_t cap = std::min(keys.Length() / ksize, values.Length() / vsize);
    const int fd = bpf_map__fd(skel_->uffd_stats);
    uint64_t in_token = 0, out_token = 0;
    size_t n = 0;
    bool more = false;
    for (bool first = true;; first = false) {
      __u32 count = (__u32)(cap - n);
      if (count == 0) {
        more = true;
        break;
      }
      LIBBPF_OPTS(bpf_map_batch_opts, opts);
      int err = bpf_map_lookup_batch(fd, first ? nullptr : &in_token, &out_token, keys.Data() + n * ksize,
                                     values.Data() + n * vsize, &count, &opts);
      n += count;
      if (err == -ENOENT) break;  // the whole map was read
      if (err == -ENOSPC) {       // a bucket holds more than the room left
        more = true;
        break;
      }
      if (err) throw_step(env, "uffd stats: read map", -err);
      in_token = out_token;
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("count", Napi::Number::New(env, (double)n));
    out.Set("more", Napi::Boolean::New(env, more));
    return out;
  }

  Napi::Value Programs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Require(env);
    Napi::Array arr = Napi::Array::New(env);
    struct bpf_program* prog;
    uint32_t i = 0;
    bpf_object__for_each_program(prog, skel_->obj) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", bpf_program__name(prog));
      o.Set("section", bpf_program__section_name(prog));
      o.Set("autoload", Napi::Boolean::New(env, bpf_program__autoload(prog)));
      struct bpf_prog_info pinfo = {};
      __u32 len = sizeof(pinfo);
      int fd = bpf_program__fd(prog);
      if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &pinfo, &len) == 0)
        o.Set("id", Napi::Number::New(env, pinfo.id));
      arr.Set(i++, o);
    }
    return arr;
  }

  // describe(): the backend this tracer was opened with and the optional
  // programs left out (with why).
  Napi::Value Describe(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("backend", backend_);
    out.Set("hooks", hooks_);
    Napi::Array sk = Napi::Array::New(env, skipped_.size());
    for (size_t i = 0; i < skipped_.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("program", skipped_[i].program);
      o.Set("section", skipped_[i].section);
      o.Set("reason", skipped_[i].reason);
      sk.Set(i, o);
    }
    out.Set("skipped", sk);
    return out;
  }

  // Helpers of the steps above.

  // A precise backend's own programs (handle_userfault entry/exit) are
  // tried first on their own: load and attach just them, then detach and
  // unload. A kernel that refuses them (no trampolines, no kprobes) refuses
  // here, with the same step, errno and program as the full object would
  // give, without loading the other programs in vain. Nothing is emitted
  // meanwhile: no process is selected yet.
  void ProbePrecise(Napi::Env env, const Config& c) {
    static const char* const kProbe[] = {"uscope_hu_entry", "uscope_hu_exit"};
    Config quiet = c;
    quiet.filter_tgids = true;
    std::unique_ptr<Skel> probe = backend_row_->open(quiet);
    if (!probe) throw_step(env, "open", errno, "", backend_);
    bpf_map__set_max_entries(probe->events, 4096);  // smallest ring; best effort
    struct bpf_program* prog;
    bpf_object__for_each_program(prog, probe->obj) {
      bool want = false;
      for (const char* n : kProbe) want |= strcmp(bpf_program__name(prog), n) == 0;
      bpf_program__set_autoload(prog, want);
    }
    int err = probe->Load();
    if (err) {
      probe.reset();
      throw_step(env, "load", -err, "", backend_);
    }
    std::vector<struct bpf_link*> links;
    bpf_object__for_each_program(prog, probe->obj) {
      if (!bpf_program__autoload(prog)) continue;
      struct bpf_link* link = bpf_program__attach(prog);
      if (!link) {
        int aerr = errno;
        std::string step = std::string("attach ") + bpf_program__name(prog) + " (" + bpf_program__section_name(prog) + ")";
        for (auto* l : links) bpf_link__destroy(l);
        probe.reset();
        throw_step(env, step, aerr, "", backend_);
      }
      links.push_back(link);
    }
    for (auto* l : links) bpf_link__destroy(l);
    probe.reset();
    take_log();  // the full object's messages only from here on
  }

  [[noreturn]] void Fail(Napi::Env env, const std::string& step, int err) {
    Destroy();
    throw_step(env, step, err, "", backend_);
  }

  void Require(Napi::Env env) {
    if (!skel_) throw_step(env, "use", EBADF, "tracer is closed");
  }

  struct Skipped {
    std::string program, section, reason;
  };
  std::string backend_ = "tracepoint";
  const Backend* backend_row_ = nullptr;  // kBackends row of backend_
  std::string hooks_ = "btf";  // "btf" (tp_btf) or "classic" (tracepoint) hooks
  std::vector<Skipped> skipped_;
  std::unique_ptr<Skel> skel_;
  std::vector<struct bpf_link*> links_;
  std::atomic<int> pending_flush_errno_{0};  // written on the consumer thread (FlushPending)
  uscope::RingConsumer::Options ring_opts_;
  uscope::RingConsumer ring_;
  std::unique_ptr<Napi::Promise::Deferred> done_;  // start()'s promise
};

// Struct sizes straight from the C compiler, for the test that checks the
// generated TypeScript layout against the header.
Napi::Value RecordSizes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
#define SZ(s) o.Set(#s, Napi::Number::New(env, sizeof(struct s)))
  SZ(uscope_header);
  SZ(uscope_task);
  SZ(uscope_vma);
  SZ(uscope_fault);
  SZ(uscope_fault_wide);
  SZ(uscope_ioctl);
  SZ(uscope_ioctl_in);
  SZ(uscope_msg);
  SZ(uscope_msg_wide);
  SZ(uscope_uffd_create);
  SZ(uscope_uffd_close);
  SZ(uscope_proc);
  SZ(uscope_counters);
  SZ(uscope_hu);
  SZ(uscope_uffd_key);
  SZ(uscope_uffd_stats);
#undef SZ
  return o;
}

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (g_error_class == nullptr) g_error_class = new Napi::FunctionReference();
  *g_error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), libbpf_version_string());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // Batches (256 KiB) are freed when V8 collects their Buffers; from the
  // heap, glibc keeps that memory and RSS climbs with time. From mmap, each
  // free returns it (bench/memory: record's RSS flat instead of +250 MB).
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  libbpf_set_print(libbpf_log);
  libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
  exports.Set("Tracer", Tracer::Init(env));
  exports.Set("recordSizes", Napi::Function::New(env, RecordSizes));
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass));
  exports.Set("probeUffdApi", Napi::Function::New(env, uscope::ProbeUffdApi));
  exports.Set("libbpfVersion", Napi::Function::New(env, LibbpfVersion));
  exports.Set("abi", Napi::Number::New(env, USCOPE_RECORD_ABI));
  Napi::Array backends = Napi::Array::New(env);
  uint32_t i = 0;
  for (const Backend& b : kBackends) backends.Set(i++, b.name);
  exports.Set("backends", backends);  // the skeletons built into this addon
  return exports;
}

}  // namespace

NODE_API_MODULE(uffdscope, Init)
