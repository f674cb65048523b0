// SPDX-License-Identifier: GPL-2.0
//
// The ring-buffer consumer: a thread that drains one BPF ring buffer and
// hands JavaScript whole batches (one Buffer of many records per call). It
// knows nothing of the records; the tracer (tracer.cc) owns it, starts it on
// its events map and settles start()'s promise when it has finished.
#pragma once

#include <napi.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

struct ring_buffer;

namespace uscope {

class RingConsumer {
 public:
  struct Options {
    int poll_timeout_ms = 50;
    size_t batch_bytes = 256 * 1024;  // a batch goes to JavaScript at this size
  };
  // Runs on the JavaScript thread once the consumer thread is joined;
  // poll_error: the errno that ended polling, or 0 after stop().
  using Finished = std::function<void(Napi::Env env, int poll_error)>;

  RingConsumer() = default;
  RingConsumer(const RingConsumer&) = delete;
  RingConsumer& operator=(const RingConsumer&) = delete;

  // The ring of map `ring_fd`; 0, or the errno of ring_buffer__new.
  int Open(int ring_fd);
  // Spawns the thread: on_batch(buffer, count) gets every batch; before
  // the final drain, before_drain runs on the consumer thread (the tracer
  // writes still-pending records into the ring there).
  void Start(Napi::Env env, Napi::Function on_batch, const Options& opts, std::function<void()> before_drain,
             Finished finished);
  // Asks the thread to drain and finish.
  void Stop() { stopping_ = true; }
  // Stops without waiting for JavaScript to take the last batches (those
  // are counted as discarded) and joins the thread.
  void Close();
  // Frees the ring; only with the thread gone.
  void Free();
  bool Running() const { return thread_.joinable(); }
  uint64_t Delivered() const { return delivered_.load(); }
  uint64_t Discarded() const { return discarded_.load(); }

 private:
  struct Batch {
    std::vector<uint8_t> bytes;
    uint32_t count = 0;
    RingConsumer* owner = nullptr;
  };

  static int OnRecord(void* ctx, void* data, size_t size);
  void Flush();
  Napi::Value PoolView(Napi::Env env, const std::vector<uint8_t>& bytes);
  void Consume();

  struct ring_buffer* rb_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> closing_{false};
  std::atomic<uint64_t> discarded_{0};
  std::atomic<uint64_t> delivered_{0};
  Options opts_;
  int poll_error_ = 0;
  Batch batch_;
  std::chrono::steady_clock::time_point batch_started_;  // first record of batch_
  Napi::Reference<Napi::Buffer<uint8_t>> pool_;         // see PoolView
  Napi::ThreadSafeFunction tsfn_;
  std::function<void()> before_drain_;
  Finished finished_;
};

}  // namespace uscope
