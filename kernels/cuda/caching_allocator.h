// The bookkeeping of the CUDA caching allocator (the idea of PyTorch's CUDACachingAllocator, simplified).
// cudaMalloc/cudaFree synchronise the device and cost tens of microseconds, so freed blocks are kept
// and handed out again. This header holds only the policy, parameterised on the raw allocator, so the
// CPU tests drive it with malloc/free; kernels/cuda/caching_allocator.cu instantiates it over cudaMalloc
// (never managed memory), one cache per device.
//
// Policy:
//  * Sizes round up to kRound (512 B), so nearby sizes share blocks and every block stays 512-aligned
//    relative to its segment (cudaMalloc segments are 256-aligned or better).
//  * Requests <= kSmallLimit (1 MiB) come from the small pool, carved out of kSmallSegment (2 MiB)
//    segments; larger ones from the large pool, whose segments are the request rounded up to kLargeRound
//    (2 MiB). Two pools keep small tensors from fragmenting the large segments.
//  * Best fit: the smallest free block of the same pool and stream that is large enough. A block is
//    split when the remainder is worth keeping (>= kRound in the small pool, > kSmallLimit in the large
//    one); on free, a block merges with free neighbours of its segment, so splits do not fragment forever.
//  * Blocks are reused only on the stream they were allocated for: work queued on that stream is
//    ordered after the previous user's, so no event synchronisation is needed (no record_stream).
//    The flip side: a tensor allocated on stream A and still being read by work queued on stream B
//    (a cuda::StreamScope switched in between) may be handed out again on A when it is freed. Code that
//    uses a tensor on another stream than its allocation's synchronises that stream (or the device)
//    before dropping the tensor's last reference, as with PyTorch tensors used across streams without
//    record_stream.
//  * When the raw allocator fails (returns null), the cache frees every whole free segment and retries
//    once; then it throws.
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <unordered_map>

#include "kernels/cuda/memory_stats.h"

namespace pianograd::kernels::cuda {

// Raw must provide `void* alloc(std::size_t)` (null on out-of-memory) and `void free(void*)`.
template <class Raw>
class BlockCache {
 public:
  static constexpr std::size_t kRound = 512;
  static constexpr std::size_t kSmallLimit = std::size_t{1} << 20;
  static constexpr std::size_t kSmallSegment = std::size_t{2} << 20;
  static constexpr std::size_t kLargeRound = std::size_t{2} << 20;

  explicit BlockCache(Raw raw = Raw{}) : raw_(std::move(raw)) {}
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;
  ~BlockCache() {
    // Live blocks belong to tensors that may outlive us at process exit; free only what is cached.
    empty_cache();
    for (auto& [p, b] : live_) delete b;
  }

  static std::size_t round_size(std::size_t bytes) {
    if (bytes == 0) bytes = 1;
    return (bytes + kRound - 1) / kRound * kRound;
  }

  // A block of at least `bytes` for use on `stream`. bytes == 0 gives nullptr.
  void* allocate(std::size_t bytes, void* stream) {
    if (bytes == 0) return nullptr;
    const std::size_t size = round_size(bytes);
    const bool small = size <= kSmallLimit;
    std::lock_guard<std::mutex> lock(mu_);
    auto& pool = small ? small_ : large_;
    Block* b = nullptr;
    auto it = pool.lower_bound(Key{stream, size, nullptr});
    if (it != pool.end() && it->stream == stream) {
      b = it->block;
      pool.erase(it);
      ++stats_.cache_hits;
    } else {
      b = new_segment(small ? kSmallSegment : round_up(size, kLargeRound), stream, small);
    }
    maybe_split(b, size);
    b->free = false;
    live_.emplace(b->ptr, b);
    stats_.allocated += b->size;
    if (stats_.allocated > stats_.peak_allocated) stats_.peak_allocated = stats_.allocated;
    return b->ptr;
  }

  // Returns a block from allocate() to the cache. Unknown pointers are ignored (null included).
  void release(void* p) noexcept {
    if (!p) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(p);
    if (it == live_.end()) return;
    Block* b = it->second;
    live_.erase(it);
    stats_.allocated -= b->size;
    b->free = true;
    // Merge with free neighbours of the same segment (they are in the pool: take them out first).
    if (b->next && b->next->free) b = merge(b, b->next);
    if (b->prev && b->prev->free) b = merge(b->prev, b);
    pool_of(b).insert(Key{b->stream, b->size, b});
  }

  // Gives every fully free segment back to the raw allocator.
  void empty_cache() noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    release_free_segments();
  }

  MemoryStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }
  void reset_peak() {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.peak_allocated = stats_.allocated;
    stats_.peak_reserved = stats_.reserved;
  }
  // The rounded size of a live block (0 when p is not one).
  std::size_t block_size(const void* p) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(const_cast<void*>(p));
    return it == live_.end() ? 0 : it->second->size;
  }

 private:
  struct Block {
    char* ptr = nullptr;
    std::size_t size = 0;
    void* stream = nullptr;
    bool small = false;
    bool free = true;
    Block* prev = nullptr;  // neighbours inside the same segment (split blocks)
    Block* next = nullptr;
  };
  // Free lists ordered by (stream, size, address): lower_bound is the best fit on that stream.
  struct Key {
    void* stream;
    std::size_t size;
    Block* block;
    bool operator<(const Key& o) const {
      const auto a = reinterpret_cast<std::uintptr_t>(stream), b = reinterpret_cast<std::uintptr_t>(o.stream);
      const auto pa = reinterpret_cast<std::uintptr_t>(block ? block->ptr : nullptr);
      const auto pb = reinterpret_cast<std::uintptr_t>(o.block ? o.block->ptr : nullptr);
      return std::tie(a, size, pa) < std::tie(b, o.size, pb);
    }
  };

  static std::size_t round_up(std::size_t x, std::size_t m) { return (x + m - 1) / m * m; }
  std::set<Key>& pool_of(const Block* b) { return b->small ? small_ : large_; }

  Block* new_segment(std::size_t bytes, void* stream, bool small) {
    void* p = raw_.alloc(bytes);
    if (!p) {  // out of memory: drop the cache and try once more
      release_free_segments();
      p = raw_.alloc(bytes);
    }
    if (!p)
      throw std::bad_alloc();
    ++stats_.raw_allocs;
    stats_.reserved += bytes;
    if (stats_.reserved > stats_.peak_reserved) stats_.peak_reserved = stats_.reserved;
    auto* b = new Block;
    b->ptr = static_cast<char*>(p);
    b->size = bytes;
    b->stream = stream;
    b->small = small;
    return b;
  }

  // Cuts b down to `size`, returning the tail to the free pool when it is worth keeping.
  void maybe_split(Block* b, std::size_t size) {
    const std::size_t rest = b->size - size;
    if (b->small ? rest < kRound : rest <= kSmallLimit) return;
    auto* r = new Block;
    r->ptr = b->ptr + size;
    r->size = rest;
    r->stream = b->stream;
    r->small = b->small;
    r->free = true;
    r->prev = b;
    r->next = b->next;
    if (b->next) b->next->prev = r;
    b->next = r;
    b->size = size;
    pool_of(r).insert(Key{r->stream, r->size, r});
  }

  // a and its next neighbour b (both free) become one block; whichever was in the pool leaves it.
  Block* merge(Block* a, Block* b) {
    auto& pool = pool_of(a);
    if (a->free) pool.erase(Key{a->stream, a->size, a});
    if (b->free) pool.erase(Key{b->stream, b->size, b});
    a->size += b->size;
    a->next = b->next;
    if (b->next) b->next->prev = a;
    delete b;
    return a;
  }

  void release_free_segments() noexcept {
    for (auto* pool : {&small_, &large_}) {
      for (auto it = pool->begin(); it != pool->end();) {
        Block* b = it->block;
        if (b->prev || b->next) {  // part of a segment still (partly) in use
          ++it;
          continue;
        }
        raw_.free(b->ptr);
        ++stats_.raw_frees;
        stats_.reserved -= b->size;
        delete b;
        it = pool->erase(it);
      }
    }
  }

  Raw raw_;
  mutable std::mutex mu_;
  std::set<Key> small_, large_;
  std::unordered_map<void*, Block*> live_;
  MemoryStats stats_;
};

}  // namespace pianograd::kernels::cuda
