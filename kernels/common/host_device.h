// Marks math shared by the CPU and CUDA backends (DESIGN.md §3): compiled by nvcc for both sides,
// by g++ as plain inline functions that the CPU tests exercise.
#pragma once
#if defined(__CUDACC__)
#define PG_HD __host__ __device__ __forceinline__
#else
#define PG_HD inline
#endif
