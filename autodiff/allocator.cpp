#include "autodiff/allocator.h"

#include <cstdint>
#include <cstdlib>

namespace pianograd::detail {
namespace {

constexpr size_t kClasses = kPoolMaxBytes / kPoolGranule;
// Cap on cached bytes per class and thread: enough for the temporaries of a few thousand-op chain,
// bounded so a burst does not pin memory forever.
constexpr size_t kCacheBytesPerClass = size_t{1} << 20;

struct FreeBlock {
  FreeBlock* next;
};

// Trivially destructible, so the hot path needs no TLS init guard; `state` says whether the lists
// may be used (0: not yet registered for cleanup, 1: live, 2: thread is exiting — bypass the pool).
struct PoolState {
  FreeBlock* head[kClasses];
  size_t count[kClasses];
  int state;
};
thread_local PoolState t_pool;

void release_block(void* p) noexcept;

void drain() noexcept {
  for (size_t c = 0; c < kClasses; ++c) {
    while (FreeBlock* b = t_pool.head[c]) {
      t_pool.head[c] = b->next;
      release_block(b);
    }
    t_pool.count[c] = 0;
  }
}

struct Drainer {
  ~Drainer() {
    drain();
    t_pool.state = 2;
  }
};

size_t class_of(size_t nbytes) { return nbytes == 0 ? 0 : (nbytes - 1) / kPoolGranule; }

// Blocks come from malloc, over-allocated and rounded up to 64 bytes, with the base pointer kept in
// the word before the block: glibc's aligned_alloc splits chunks on every call (~700 instructions),
// which dominated graphs too large for the cache (10^5-op chains).
void* fresh_block(size_t cls) {
  void* base = std::malloc((cls + 1) * kPoolGranule + kPoolGranule);
  if (!base) throw std::bad_alloc();
  auto* p = reinterpret_cast<void**>((reinterpret_cast<uintptr_t>(base) + kPoolGranule) & ~uintptr_t{kPoolGranule - 1});
  p[-1] = base;
  return p;
}

void release_block(void* p) noexcept { std::free(static_cast<void**>(p)[-1]); }

}  // namespace

void* pool_alloc(size_t nbytes) {
  const size_t c = class_of(nbytes);
  if (FreeBlock* b = t_pool.head[c]) {
    t_pool.head[c] = b->next;
    --t_pool.count[c];
    return b;
  }
  return fresh_block(c);
}

void pool_free(void* p, size_t nbytes) noexcept {
  if (!p) return;
  const size_t c = class_of(nbytes);
  if (t_pool.state != 1) {
    if (t_pool.state == 2) {
      release_block(p);
      return;
    }
    // First cached block on this thread: register the drain at thread exit.
    static thread_local Drainer drainer;
    (void)drainer;
    t_pool.state = 1;
  }
  if (t_pool.count[c] * (c + 1) * kPoolGranule >= kCacheBytesPerClass) {
    release_block(p);
    return;
  }
  auto* b = static_cast<FreeBlock*>(p);
  b->next = t_pool.head[c];
  t_pool.head[c] = b;
  ++t_pool.count[c];
}

}  // namespace pianograd::detail
