#include "autodiff/allocator.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <mutex>
#include <unordered_map>
#include <vector>

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

// ---------------------------------------------------------------------------------------------------
// Large-block cache (see allocator.h).
namespace pianograd::detail {
namespace {

constexpr size_t kPage = 4096;

size_t default_limit() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const size_t gib = size_t{1} << 30;
  if (pages <= 0 || page <= 0) return gib / 4;
  return std::min(gib, static_cast<size_t>(pages) * static_cast<size_t>(page) / 8);
}

struct LargeCache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> bins;  // class size -> free blocks (LIFO: warm first)
  size_t cached = 0, blocks = 0, hits = 0, misses = 0;
  size_t limit = default_limit();

  void release_all() {
    for (auto& [cls, v] : bins)
      for (void* p : v) std::free(p);
    bins.clear();
    cached = blocks = 0;
  }
  ~LargeCache();
};

// Set once the cache object is destroyed (static destruction at exit): tensors that outlive it (globals)
// free their blocks directly. Trivially destructible, so it stays valid to the very end.
std::atomic<bool> g_large_dead{false};

LargeCache::~LargeCache() {
  g_large_dead.store(true);
  std::lock_guard<std::mutex> lk(mu);
  release_all();
}

LargeCache& large_cache() {
  static LargeCache c;
  return c;
}

// Evicts blocks (any class) until `cached` <= target. Caller holds the lock.
void shrink_locked(LargeCache& c, size_t target) {
  for (auto it = c.bins.begin(); it != c.bins.end() && c.cached > target;) {
    auto& v = it->second;
    while (!v.empty() && c.cached > target) {
      std::free(v.back());
      v.pop_back();
      c.cached -= it->first;
      --c.blocks;
    }
    it = v.empty() ? c.bins.erase(it) : std::next(it);
  }
}

}  // namespace

size_t large_block_class(size_t nbytes) {
  if (nbytes <= kPage) return kPage;
  // Granule = an eighth of the largest power of two <= nbytes, at least one page.
  size_t top = size_t{1} << (63 - __builtin_clzll(static_cast<unsigned long long>(nbytes)));
  const size_t granule = std::max(kPage, top / 8);
  return (nbytes + granule - 1) / granule * granule;
}

void* large_alloc(size_t nbytes) {
  const size_t cls = large_block_class(nbytes);
  if (!g_large_dead.load(std::memory_order_relaxed)) {
    LargeCache& c = large_cache();
    std::lock_guard<std::mutex> lk(c.mu);
    auto it = c.bins.find(cls);
    if (it != c.bins.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.cached -= cls;
      --c.blocks;
      ++c.hits;
      return p;
    }
    ++c.misses;
  }
  // Page-aligned: cls is a multiple of 4 KiB, as aligned_alloc requires.
  void* p = std::aligned_alloc(kPage, cls);
  if (!p) throw std::bad_alloc();
  return p;
}

void large_free(void* p, size_t nbytes) noexcept {
  if (!p) return;
  const size_t cls = large_block_class(nbytes);
  if (!g_large_dead.load(std::memory_order_relaxed)) {
    LargeCache& c = large_cache();
    std::lock_guard<std::mutex> lk(c.mu);
    if (c.cached + cls <= c.limit) {
      try {
        c.bins[cls].push_back(p);
        c.cached += cls;
        ++c.blocks;
        return;
      } catch (...) {  // no memory for the bin's bookkeeping: just free the block
      }
    }
  }
  std::free(p);
}

LargeCacheStats large_cache_stats() {
  LargeCache& c = large_cache();
  std::lock_guard<std::mutex> lk(c.mu);
  return {c.cached, c.blocks, c.hits, c.misses};
}

size_t large_cache_limit() {
  LargeCache& c = large_cache();
  std::lock_guard<std::mutex> lk(c.mu);
  return c.limit;
}

void set_large_cache_limit(size_t bytes) {
  LargeCache& c = large_cache();
  std::lock_guard<std::mutex> lk(c.mu);
  c.limit = bytes;
  shrink_locked(c, bytes);
}

void large_cache_trim() noexcept {
  if (g_large_dead.load()) return;
  LargeCache& c = large_cache();
  std::lock_guard<std::mutex> lk(c.mu);
  c.release_all();
}

}  // namespace pianograd::detail
