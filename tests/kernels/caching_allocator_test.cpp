// The CUDA caching allocator's policy (kernels/cuda/caching_allocator.h) driven by malloc/free, so it
// is tested on machines without a GPU: reuse, rounding, splitting and merging, per-stream pools,
// empty_cache, statistics and the out-of-memory retry.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <new>
#include <set>
#include <vector>

#include "kernels/cuda/caching_allocator.h"

namespace {

using pianograd::kernels::cuda::BlockCache;

// malloc/free with a shared counter and an optional cap on the bytes held, to provoke out-of-memory.
struct Counters {
  std::size_t allocs = 0, frees = 0, held = 0, cap = SIZE_MAX;
  std::map<void*, std::size_t> live;
};
struct CountingRaw {
  Counters* c;
  void* alloc(std::size_t bytes) {
    if (c->held + bytes > c->cap) return nullptr;
    void* p = std::malloc(bytes);
    ++c->allocs;
    c->held += bytes;
    c->live[p] = bytes;
    return p;
  }
  void free(void* p) {
    c->held -= c->live.at(p);
    c->live.erase(p);
    ++c->frees;
    std::free(p);
  }
};
using Cache = BlockCache<CountingRaw>;
constexpr std::size_t MiB = std::size_t{1} << 20;
void* const kStreamA = nullptr;
void* const kStreamB = reinterpret_cast<void*>(0x1000);

TEST(CachingAllocator, RoundsUpTo512) {
  EXPECT_EQ(Cache::round_size(1), 512u);
  EXPECT_EQ(Cache::round_size(512), 512u);
  EXPECT_EQ(Cache::round_size(513), 1024u);
  EXPECT_EQ(Cache::round_size(0), 512u);
}

TEST(CachingAllocator, ZeroBytesIsNull) {
  Counters c;
  Cache cache(CountingRaw{&c});
  EXPECT_EQ(cache.allocate(0, kStreamA), nullptr);
  EXPECT_EQ(c.allocs, 0u);
  cache.release(nullptr);  // no-op
}

TEST(CachingAllocator, FreedBlockIsReusedWithoutRawAlloc) {
  Counters c;
  Cache cache(CountingRaw{&c});
  void* p = cache.allocate(4000, kStreamA);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(cache.block_size(p), 4096u);
  cache.release(p);
  void* q = cache.allocate(3900, kStreamA);  // same rounded size: the same block comes back
  EXPECT_EQ(q, p);
  EXPECT_EQ(c.allocs, 1u);
  EXPECT_EQ(cache.stats().cache_hits, 1u);
  cache.release(q);
}

TEST(CachingAllocator, SmallRequestsShareOneSegment) {
  Counters c;
  Cache cache(CountingRaw{&c});
  std::vector<void*> ps;
  for (int i = 0; i < 100; ++i) ps.push_back(cache.allocate(1000, kStreamA));  // 100 x 1 KiB < 2 MiB
  EXPECT_EQ(c.allocs, 1u);
  EXPECT_EQ(cache.stats().reserved, Cache::kSmallSegment);
  EXPECT_EQ(cache.stats().allocated, 100u * 1024u);
  std::set<void*> distinct(ps.begin(), ps.end());
  EXPECT_EQ(distinct.size(), ps.size());
  // The blocks do not overlap: consecutive carve-outs are 1024 bytes apart.
  for (int i = 1; i < 100; ++i)
    EXPECT_EQ(static_cast<char*>(ps[static_cast<size_t>(i)]) - static_cast<char*>(ps[static_cast<size_t>(i - 1)]), 1024);
  for (void* p : ps) cache.release(p);
  EXPECT_EQ(cache.stats().allocated, 0u);
}

TEST(CachingAllocator, SplitBlocksMergeBackAndEmptyCacheFreesSegments) {
  Counters c;
  Cache cache(CountingRaw{&c});
  void* a = cache.allocate(300 * 1024, kStreamA);
  void* b = cache.allocate(300 * 1024, kStreamA);
  void* d = cache.allocate(300 * 1024, kStreamA);
  EXPECT_EQ(c.allocs, 1u);
  cache.release(b);
  cache.empty_cache();  // the segment is partly in use: nothing can go back
  EXPECT_EQ(c.frees, 0u);
  cache.release(a);
  cache.release(d);
  // a, b, d and the tail merged into the whole segment again: a 1.9 MiB request fits without a new one.
  void* big = cache.allocate(1900 * 1024 / 2, kStreamA);  // small-pool request near the limit
  EXPECT_EQ(big, a);
  EXPECT_EQ(c.allocs, 1u);
  cache.release(big);
  cache.empty_cache();
  EXPECT_EQ(c.frees, 1u);
  EXPECT_EQ(c.held, 0u);
  EXPECT_EQ(cache.stats().reserved, 0u);
}

TEST(CachingAllocator, LargeRequestsRoundTo2MiBSegmentsAndBestFit) {
  Counters c;
  Cache cache(CountingRaw{&c});
  void* p = cache.allocate(3 * MiB + 1, kStreamA);
  EXPECT_EQ(cache.stats().reserved, 4 * MiB);
  cache.release(p);
  void* small = cache.allocate(1024, kStreamA);  // small pool: never carved out of a large segment
  EXPECT_EQ(c.allocs, 2u);
  void* q = cache.allocate(4 * MiB, kStreamA);  // exactly the cached large block
  EXPECT_EQ(q, p);
  EXPECT_EQ(c.allocs, 2u);
  cache.release(q);
  cache.release(small);
  // A 1.5 MiB request takes the 4 MiB block and splits off the 2.5 MiB tail (> 1 MiB is worth keeping).
  void* r = cache.allocate(MiB + MiB / 2, kStreamA);
  EXPECT_EQ(r, p);
  EXPECT_EQ(cache.block_size(r), MiB + MiB / 2);
  void* s = cache.allocate(2 * MiB, kStreamA);
  EXPECT_EQ(static_cast<char*>(s), static_cast<char*>(p) + MiB + MiB / 2);
  EXPECT_EQ(c.allocs, 2u);
  cache.release(r);
  cache.release(s);
}

TEST(CachingAllocator, BlocksAreReusedOnlyOnTheirStream) {
  Counters c;
  Cache cache(CountingRaw{&c});
  void* p = cache.allocate(8192, kStreamA);
  cache.release(p);
  void* q = cache.allocate(8192, kStreamB);
  EXPECT_NE(q, p);
  EXPECT_EQ(c.allocs, 2u);
  void* r = cache.allocate(8192, kStreamA);
  EXPECT_EQ(r, p);
  cache.release(q);
  cache.release(r);
}

TEST(CachingAllocator, StatsTrackAllocatedReservedAndPeak) {
  Counters c;
  Cache cache(CountingRaw{&c});
  void* a = cache.allocate(6 * MiB, kStreamA);
  void* b = cache.allocate(2 * MiB, kStreamA);
  auto st = cache.stats();
  EXPECT_EQ(st.allocated, 8 * MiB);
  EXPECT_EQ(st.reserved, 8 * MiB);  // 6 MiB + 2 MiB segments
  EXPECT_EQ(st.peak_allocated, 8 * MiB);
  cache.release(a);
  st = cache.stats();
  EXPECT_EQ(st.allocated, 2 * MiB);
  EXPECT_EQ(st.peak_allocated, 8 * MiB);
  EXPECT_EQ(st.reserved, 8 * MiB);  // cached, not freed
  cache.reset_peak();
  EXPECT_EQ(cache.stats().peak_allocated, 2 * MiB);
  cache.release(b);
  cache.empty_cache();
  EXPECT_EQ(cache.stats().reserved, 0u);
  EXPECT_EQ(cache.stats().raw_frees, 2u);
}

TEST(CachingAllocator, OutOfMemoryEmptiesTheCacheAndRetriesThenThrows) {
  Counters c;
  c.cap = 10 * MiB;
  Cache cache(CountingRaw{&c});
  void* a = cache.allocate(6 * MiB, kStreamA);
  cache.release(a);  // cached: 6 MiB held
  void* b = cache.allocate(8 * MiB, kStreamA);  // needs the cached segment freed first
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(c.frees, 1u);
  EXPECT_THROW(cache.allocate(4 * MiB, kStreamA), std::bad_alloc);
  cache.release(b);
  // The failed request left the bookkeeping intact.
  EXPECT_EQ(cache.stats().allocated, 0u);
  EXPECT_EQ(cache.stats().reserved, 8 * MiB);
}

TEST(CachingAllocator, ReleaseOfUnknownPointerIsIgnored) {
  Counters c;
  Cache cache(CountingRaw{&c});
  int x = 0;
  cache.release(&x);
  EXPECT_EQ(cache.stats().allocated, 0u);
}

}  // namespace
