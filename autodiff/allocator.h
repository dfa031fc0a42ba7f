// Small-object pool for the tape's per-op allocations (TensorImpl, Storage + tiny data buffers, Nodes
// with their VJP closures). On [4]-element tensors malloc/free were ~45% of an op's cost (callgrind):
// a chain of N ops frees ~20 N blocks at once, overflowing glibc's 7-entry tcache into _int_free.
// Here each thread keeps unbounded-ish LIFO free lists per 64-byte size class, so a steady-state
// alloc/free is a pointer pop/push.
//
// Every block is an ordinary malloc'ed block (aligned up to 64 bytes), so any thread may free it (a block
// freed on another thread simply joins that thread's lists), and a thread's cached blocks are
// std::free'd when it exits. Blocks are 64-byte aligned (whole cache lines, aligned AVX-512 loads).
#pragma once
#include <cstddef>
#include <new>

namespace pianograd::detail {

inline constexpr size_t kPoolGranule = 64;
inline constexpr size_t kPoolMaxBytes = 1024;  // larger requests go straight to malloc

void* pool_alloc(size_t nbytes);              // nbytes <= kPoolMaxBytes; 64-byte aligned; throws bad_alloc
void pool_free(void* p, size_t nbytes) noexcept;  // nbytes as passed to pool_alloc

// std::allocator-compatible front end, for allocate_shared (object + control block in one pooled block).
template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() noexcept = default;
  template <class U> PoolAllocator(const PoolAllocator<U>&) noexcept {}
  T* allocate(size_t n) {
    static_assert(alignof(T) <= kPoolGranule, "pool blocks are 64-byte aligned");
    const size_t bytes = n * sizeof(T);
    if (bytes <= kPoolMaxBytes) return static_cast<T*>(pool_alloc(bytes));
    return static_cast<T*>(::operator new(bytes, std::align_val_t{alignof(T)}));
  }
  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (bytes <= kPoolMaxBytes) pool_free(p, bytes);
    else ::operator delete(p, std::align_val_t{alignof(T)});
  }
  template <class U> bool operator==(const PoolAllocator<U>&) const noexcept { return true; }
};

}  // namespace pianograd::detail

// Cache of large CPU tensor buffers (Storage::allocate for nbytes >= kLargeBlockMinBytes).
// glibc serves big blocks with mmap and unmaps them on free (or trims the heap top), so every step of a
// training loop re-faults its activations page by page: ~20% of a transcriber step was page faults.
// Freed blocks are kept here, binned by size class (8 classes per power of two, 4 KiB granules, so a
// block is at most 12.5% larger than asked for), and handed back to the next request of the same class.
// The cached total is bounded (large_cache_limit(), default min(1 GiB, RAM / 8)); a freed block that
// does not fit goes back to the OS. One mutex guards the bins: large allocations are rare next to the
// work done on them. Everything cached is freed by large_cache_trim() and at exit. No env vars.
namespace pianograd::detail {

inline constexpr size_t kLargeBlockMinBytes = size_t{64} << 10;

size_t large_block_class(size_t nbytes);          // the rounded size actually allocated (multiple of 4 KiB)
void* large_alloc(size_t nbytes);                 // 64-byte (in fact 4 KiB) aligned; throws bad_alloc
void large_free(void* p, size_t nbytes) noexcept;  // nbytes as passed to large_alloc

struct LargeCacheStats {
  size_t cached_bytes = 0;   // held in the bins now
  size_t cached_blocks = 0;
  size_t hits = 0, misses = 0;  // large_alloc calls served from the cache / by the system, since start
};
LargeCacheStats large_cache_stats();
size_t large_cache_limit();
void set_large_cache_limit(size_t bytes);  // trims down to the new bound at once; 0 disables caching
void large_cache_trim() noexcept;          // returns every cached block to the OS

}  // namespace pianograd::detail
