// The large-block cache behind Storage::allocate (autodiff/allocator.h): size classes, reuse,
// alignment, the bound on cached bytes, and concurrent use.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "autodiff/allocator.h"
#include "autodiff/ops.h"
#include "autodiff/tensor.h"

namespace pianograd::detail {
namespace {

// Restores the limit and empties the cache around each test, so tests do not see each other's blocks.
struct CacheTest : ::testing::Test {
  size_t saved = 0;
  void SetUp() override {
    saved = large_cache_limit();
    large_cache_trim();
  }
  void TearDown() override {
    set_large_cache_limit(saved);
    large_cache_trim();
  }
};

TEST_F(CacheTest, ClassesArePageMultiplesWithBoundedWaste) {
  for (size_t n : {size_t{1}, size_t{4096}, size_t{4097}, kLargeBlockMinBytes, kLargeBlockMinBytes + 1,
                   size_t{1000003}, size_t{13} << 20, (size_t{1} << 30) + 12345}) {
    const size_t c = large_block_class(n);
    EXPECT_GE(c, n);
    EXPECT_EQ(c % 4096, 0u) << n;
    if (n > 4096) {
      EXPECT_LE(static_cast<double>(c), 1.125 * static_cast<double>(n) + 4096) << n;
    }
  }
  // Sizes in one class share blocks; the next class does not.
  EXPECT_EQ(large_block_class(1000000), large_block_class(1000001));
  EXPECT_NE(large_block_class(1 << 20), large_block_class((1 << 20) + (1 << 17) + 1));
}

TEST_F(CacheTest, FreedBlockIsReusedBySameClass) {
  const size_t n = 3 << 20;
  const LargeCacheStats s0 = large_cache_stats();
  void* a = large_alloc(n);
  std::memset(a, 0x5a, n);
  large_free(a, n);
  EXPECT_EQ(large_cache_stats().cached_bytes, large_block_class(n));
  void* b = large_alloc(n - 100);  // same class
  EXPECT_EQ(a, b);
  const LargeCacheStats s1 = large_cache_stats();
  EXPECT_EQ(s1.hits, s0.hits + 1);
  EXPECT_EQ(s1.misses, s0.misses + 1);
  EXPECT_EQ(s1.cached_bytes, 0u);
  void* c = large_alloc(2 * n);  // another class: not served by b's bin (b is live anyway)
  EXPECT_NE(c, b);
  large_free(b, n - 100);
  large_free(c, 2 * n);
  EXPECT_EQ(large_cache_stats().cached_blocks, 2u);
  large_cache_trim();
  EXPECT_EQ(large_cache_stats().cached_bytes, 0u);
  EXPECT_EQ(large_cache_stats().cached_blocks, 0u);
}

TEST_F(CacheTest, BlocksAreAligned) {
  std::vector<std::pair<void*, size_t>> live;
  for (size_t n = kLargeBlockMinBytes; n < (size_t{64} << 20); n = n * 3 / 2 + 7) {
    void* p = large_alloc(n);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << n;
    live.emplace_back(p, n);
  }
  for (auto [p, n] : live) large_free(p, n);
  for (auto [p, n] : live) {  // served again from the cache: still aligned
    void* q = large_alloc(n);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(q) % 64, 0u);
    large_free(q, n);
  }
}

TEST_F(CacheTest, CachedBytesStayWithinTheLimit) {
  const size_t n = 1 << 20, cls = large_block_class(n);
  set_large_cache_limit(3 * cls);
  std::vector<void*> blocks;
  for (int i = 0; i < 5; ++i) blocks.push_back(large_alloc(n));
  for (void* p : blocks) large_free(p, n);
  LargeCacheStats s = large_cache_stats();
  EXPECT_EQ(s.cached_bytes, 3 * cls);
  EXPECT_EQ(s.cached_blocks, 3u);
  // Lowering the limit evicts at once; 0 disables caching.
  set_large_cache_limit(cls);
  EXPECT_EQ(large_cache_stats().cached_bytes, cls);
  set_large_cache_limit(0);
  EXPECT_EQ(large_cache_stats().cached_bytes, 0u);
  void* p = large_alloc(n);
  large_free(p, n);
  EXPECT_EQ(large_cache_stats().cached_bytes, 0u);
}

TEST_F(CacheTest, ConcurrentUseNeverHandsOutALiveBlockTwice) {
  set_large_cache_limit(size_t{64} << 20);
  constexpr int kThreads = 4, kIters = 400;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t)
    pool.emplace_back([t, &failures] {
      std::mt19937 rng(static_cast<unsigned>(t));
      std::vector<std::pair<uint32_t*, size_t>> live;
      for (int i = 0; i < kIters; ++i) {
        if (live.size() < 4 && (rng() % 3 != 0 || live.empty())) {
          const size_t n = kLargeBlockMinBytes * (1 + rng() % 8);
          auto* p = static_cast<uint32_t*>(large_alloc(n));
          // Tag every page with the owner: another thread holding the same block would overwrite it.
          const uint32_t tag = static_cast<uint32_t>(t * 100000 + i);
          for (size_t k = 0; k < n / 4; k += 1024) p[k] = tag;
          p[n / 4 - 1] = tag;
          live.emplace_back(p, n);
        } else {
          auto [p, n] = live.back();
          live.pop_back();
          const uint32_t tag = p[0];
          for (size_t k = 0; k < n / 4; k += 1024) failures[static_cast<size_t>(t)] += p[k] != tag;
          failures[static_cast<size_t>(t)] += p[n / 4 - 1] != tag;
          large_free(p, n);
        }
      }
      for (auto [p, n] : live) large_free(p, n);
    });
  for (auto& th : pool) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
  const LargeCacheStats s = large_cache_stats();
  EXPECT_LE(s.cached_bytes, size_t{64} << 20);
  EXPECT_GT(s.hits, 0u);
}

TEST_F(CacheTest, TensorStorageGoesThroughTheCache) {
  const int64_t n = 1 << 18;  // 1 MiB of f32
  const void* first = nullptr;
  {
    Tensor a = Tensor::empty({n});
    first = a.raw_data();
    a.data<float>()[0] = 42.0f;
  }
  EXPECT_GE(large_cache_stats().cached_bytes, large_block_class(n * 4));
  // The recycled block is handed out again, and zeros() still clears it.
  Tensor z = zeros({n});
  EXPECT_EQ(z.raw_data(), first);
  const float* pz = z.data<float>();
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(pz[i], 0.0f) << i;
  // Small tensors never enter it.
  const size_t before = large_cache_stats().cached_bytes;
  { Tensor s = Tensor::empty({16}); }
  EXPECT_EQ(large_cache_stats().cached_bytes, before);
}

}  // namespace
}  // namespace pianograd::detail
