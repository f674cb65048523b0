// SPDX-License-Identifier: GPL-2.0
//
// The ring-buffer consumer thread (ring_consumer.h): poll the ring, gather
// records into batches, hand each batch to JavaScript through a bounded
// thread-safe queue.

#include "ring_consumer.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

namespace uscope {

namespace {

// The ring's poll is level-triggered, so flushing per poll made tiny
// batches whose fixed cost outran the producer (bench/README.md): a
// batch goes to JavaScript when full or kFlushAfter old.
constexpr auto kFlushAfter = std::chrono::milliseconds(20);
// Batches waiting for JavaScript, at most (64 x 256 KiB = 16 MiB): burst
// slack lives here, so the ring can stay small (bench/README.md).
// With a 16-batch queue and a 2 MiB ring, `stat` lost records while its
// JavaScript warmed up; with 64 it lost none. A batch's memory is freed as
// soon as JavaScript has copied it (PoolView), so an idle queue costs none.
constexpr size_t kQueueBatches = 64;
constexpr auto kIdleSleep = std::chrono::milliseconds(1);
constexpr int kSmallPoll = 256;
// Room in the pooled Buffer beyond batch_bytes (see PoolView).
constexpr size_t kPoolSlack = 64 * 1024;

}  // namespace

int RingConsumer::Open(int ring_fd) {
  rb_ = ring_buffer__new(ring_fd, OnRecord, this, nullptr);
  return rb_ ? 0 : errno;
}

void RingConsumer::Start(Napi::Env env, Napi::Function on_batch, const Options& opts,
                         std::function<void()> before_drain, Finished finished) {
  opts_ = opts;
  before_drain_ = std::move(before_drain);
  finished_ = std::move(finished);
  tsfn_ = Napi::ThreadSafeFunction::New(env, on_batch, "uffdscope-consumer", kQueueBatches,
                                        /*initialThreadCount=*/1, this, [](Napi::Env env, RingConsumer* self) {
                                          if (self->thread_.joinable()) self->thread_.join();
                                          self->finished_(env, self->poll_error_);
                                        });
  batch_.bytes.reserve(opts_.batch_bytes + 256);
  stopping_ = false;
  thread_ = std::thread([this] { Consume(); });
}

void RingConsumer::Close() {
  stopping_ = true;
  closing_ = true;
  if (thread_.joinable()) thread_.join();
}

void RingConsumer::Free() {
  if (rb_) {
    ring_buffer__free(rb_);
    rb_ = nullptr;
  }
}

int RingConsumer::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<RingConsumer*>(ctx);
  Batch& b = self->batch_;
  const uint8_t* p = static_cast<const uint8_t*>(data);
  if (b.count == 0) self->batch_started_ = std::chrono::steady_clock::now();
  b.bytes.insert(b.bytes.end(), p, p + size);
  b.count++;
  self->delivered_++;
  if (b.bytes.size() >= self->opts_.batch_bytes) self->Flush();
  return 0;
}

// Hands the current batch to JavaScript. Blocks when JavaScript is
// behind (bounded queue): the ring buffer then fills and the kernel side
// counts what it could not reserve, so nothing is lost silently.
void RingConsumer::Flush() {
  if (batch_.count == 0) return;
  auto* b = new Batch(std::move(batch_));
  batch_ = Batch();
  batch_.bytes.reserve(opts_.batch_bytes + 256);
  b->owner = this;
  auto deliver = [](Napi::Env env, Napi::Function cb, Batch* b) {
    if (env == nullptr) {  // torn down with the batch still queued
      delete b;
      return;
    }
    uint32_t count = b->count;
    Napi::Value view = b->owner->PoolView(env, b->bytes);
    if (!view.IsEmpty()) {
      delete b;  // copied: its memory is free now, not after a GC
      cb.Call({view, Napi::Number::New(env, count)});
      return;
    }
    auto buf = Napi::Buffer<uint8_t>::New(
        env, b->bytes.data(), b->bytes.size(), [](Napi::Env, uint8_t*, Batch* owner) { delete owner; }, b);
    cb.Call({buf, Napi::Number::New(env, count)});
  };
  // Wait while the bounded queue is full (JavaScript is behind): the
  // ring buffer fills meanwhile and the kernel counts what it could not
  // reserve. close() may cut the wait short; that batch is counted.
  for (;;) {
    napi_status st = tsfn_.NonBlockingCall(b, deliver);
    if (st == napi_ok) return;
    if (st != napi_queue_full || closing_.load()) {
      discarded_ += b->count;
      delete b;
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

// The batch as a view of one Buffer reused for every batch (JavaScript
// gets it for the duration of the callback only: src/native/addon.ts).
// Handing over each batch's own memory instead left it to V8 to free at
// its next GC, and with little JavaScript allocation between batches
// tens of MB of delivered batches waited for one (bench/memory). Empty
// when the batch does not fit (a record larger than the slack).
Napi::Value RingConsumer::PoolView(Napi::Env env, const std::vector<uint8_t>& bytes) {
  size_t cap = opts_.batch_bytes + kPoolSlack;
  if (bytes.size() > cap) return Napi::Value();
  if (pool_.IsEmpty()) pool_ = Napi::Persistent(Napi::Buffer<uint8_t>::New(env, cap));
  Napi::Buffer<uint8_t> pool = pool_.Value();
  memcpy(pool.Data(), bytes.data(), bytes.size());
  return pool.Get("subarray").As<Napi::Function>().Call(
      pool, {Napi::Number::New(env, 0), Napi::Number::New(env, (double)bytes.size())});
}

void RingConsumer::Consume() {
  while (!stopping_.load()) {
    int n = ring_buffer__poll(rb_, opts_.poll_timeout_ms);
    // Records submitted without a wake-up (below wakeup_bytes) wait in
    // the ring until someone looks: a quiet poll takes them too.
    if (n == 0) n = ring_buffer__consume(rb_);
    if (n < 0 && n != -EINTR) {
      poll_error_ = -n;
      break;
    }
    if (batch_.count && (n == 0 || std::chrono::steady_clock::now() - batch_started_ >= kFlushAfter)) Flush();
    if (n > 0 && n < kSmallPoll) std::this_thread::sleep_for(kIdleSleep);
  }
  // Final drain: what the owner still has to write into the ring (the
  // tracer's pending faults), then whatever the kernel submitted.
  before_drain_();
  ring_buffer__consume(rb_);
  Flush();
  tsfn_.Release();
}

}  // namespace uscope
