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
