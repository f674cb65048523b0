// SPDX-License-Identifier: GPL-2.0
//
// Errors of the native addon: libbpf's messages captured (never printed: they
// would tear the terminal UI) and thrown with the failing step, as the
// JavaScript-defined error class. Included once, by tracer.cc.
#pragma once

#include <napi.h>

#include <bpf/libbpf.h>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <mutex>
#include <string>

namespace {

// Heap-allocated and never freed on purpose: a static FunctionReference
// would be destroyed by exit() after the environment is gone (its destructor
// calls into N-API then), which can hang or crash process.exit().
Napi::FunctionReference* g_error_class = nullptr;

// The last libbpf messages, for errors (libbpf's own printing would tear
// the terminal UI, so nothing goes to stderr).
std::mutex g_log_mu;
std::string g_last_log;

int libbpf_log(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  static thread_local char buf[65536];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  std::lock_guard<std::mutex> lock(g_log_mu);
  g_last_log.append(buf, n > 0 ? std::min<size_t>(n, sizeof(buf) - 1) : 0);
  if (g_last_log.size() > 16384) g_last_log.erase(0, g_last_log.size() - 16384);
  return 0;
}

std::string take_log() {
  std::lock_guard<std::mutex> lock(g_log_mu);
  std::string s;
  s.swap(g_last_log);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Throws the JavaScript-defined error class (falls back to Error before
// registration) with the failing step and errno attached.
[[noreturn]] void throw_step(Napi::Env env, const std::string& step, int err,
                             const std::string& what = "", const std::string& backend = "") {
  std::string msg = step + ": " + (what.empty() ? strerror(err) : what);
  std::string detail = take_log();
  Napi::Object e;
  if (g_error_class != nullptr && !g_error_class->IsEmpty()) {
    e = g_error_class->New({Napi::String::New(env, msg)});
  } else {
    e = Napi::Error::New(env, msg).Value();
  }
  e.Set("step", Napi::String::New(env, step));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, err ? (std::string("E") + std::to_string(err)) : ""));
  if (!detail.empty()) e.Set("libbpfLog", Napi::String::New(env, detail));
  if (!backend.empty()) e.Set("backend", Napi::String::New(env, backend));
  throw Napi::Error(env, e);
}

}  // namespace
