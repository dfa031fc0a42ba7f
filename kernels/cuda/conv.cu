// Convolution on the GPU as im2col + cuBLAS GEMM (Chellapilla et al. 2006; semantics of
// kernels/cpu/im2col.h's batch drivers, geometry cpu::ConvGeom).
//
// The CPU drivers run one GEMM per image and group. A GPU wants few large GEMMs, so a chunk of nb
// images is unrolled into ONE column matrix with the images side by side:
//   cols[r][j * ohw + o]      r < C*KH*KW (group grp owns rows [grp*Kg, (grp+1)*Kg)), j < nb,
// and each group is one GEMM over nb*ohw columns. Its output comes out channel-major
// ([Cout][nb][ohw]), so a permute kernel moves it to [nb][Cout][ohw] (adding the bias on the way),
// and the backward permutes gy the other way first. col2im is a gather (each input element sums the
// taps that read it): deterministic, no atomics, and it overwrites gx. The weight gradient
// accumulates over chunks with GEMM's beta = 1. Chunks bound the scratch (kColsBudget elements).
#include <cublas_v2.h>

#include <cub/block/block_reduce.cuh>
#include <stdexcept>
#include <string>

#include "kernels/cuda/cublas_handle.cuh"
#include "kernels/cuda/cuda_check.cuh"
#include "kernels/cuda/cuda_kernels.h"
#include "kernels/cuda/device_scratch.cuh"
#include "kernels/cuda/device.h"

namespace pianograd::kernels::cuda {
namespace {

using cpu::ConvGeom;
constexpr int kBlock = 256;
constexpr long kColsBudget = 1L << 26;  // elements of the column buffer per chunk (256 MiB in float)

cublasStatus_t gemm_cm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                       const float* alpha, const float* a, int lda, const float* b, int ldb, const float* beta,
                       float* c, int ldc) {
  return cublasSgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
cublasStatus_t gemm_cm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                       const double* alpha, const double* a, int lda, const double* b, int ldb, const double* beta,
                       double* c, int ldc) {
  return cublasDgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Row-major C (m x n, ldc) = op(A) op(B) + beta C, as column-major C^T = op(B)^T op(A)^T (matmul.cu).
template <class T>
void gemm_rm(cudaStream_t s, bool ta, bool tb, long m, long n, long k, const T* a, long lda, const T* b, long ldb,
             T beta, T* c, long ldc) {
  const T one = T(1);
  check_blas(gemm_cm(cublas_handle(s), tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n),
                     static_cast<int>(m), static_cast<int>(k), &one, b, static_cast<int>(ldb), a,
                     static_cast<int>(lda), &beta, c, static_cast<int>(ldc)),
             "conv gemm");
}

struct Sizes {
  long G, Coutg, Kg, ohw, in_img, out_img;
  explicit Sizes(const ConvGeom& g)
      : G(g.groups), Coutg(g.Cout / g.groups), Kg(g.C / g.groups * g.KH * g.KW), ohw(g.out_hw()),
        in_img(g.C * g.H * g.W), out_img(g.Cout * g.out_hw()) {}
};

// Images per chunk: the column buffer within budget and every GEMM dimension an int.
long chunk_images(const ConvGeom& g) {
  const long per = std::max(1L, g.col_rows() * g.out_hw());
  long nb = std::max(1L, kColsBudget / per);
  nb = std::min(nb, std::max(1L, 0x7fffffffL / std::max(1L, g.out_hw())));
  if (g.col_rows() * g.out_hw() > 0x7fffffffL)
    throw std::invalid_argument("cuda conv: one image's column matrix exceeds 2^31 elements");
  return std::min(nb, std::max(1L, g.N));
}

template <class T>
__global__ void im2col_kernel(const T* __restrict__ x, T* __restrict__ cols, ConvGeom g, long nb) {
  const long ohw = g.OH * g.OW, total = g.C * g.KH * g.KW * nb * ohw, in_img = g.C * g.H * g.W;
  for (long idx = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<long>(gridDim.x) * blockDim.x) {
    const long o = idx % ohw, j = (idx / ohw) % nb, r = idx / (ohw * nb);
    const long kw = r % g.KW, kh = (r / g.KW) % g.KH, c = r / (g.KW * g.KH);
    const long ih = (o / g.OW) * g.sh - g.ph + kh * g.dh, iw = (o % g.OW) * g.sw - g.pw + kw * g.dw;
    const bool in = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
    cols[idx] = in ? x[j * in_img + (c * g.H + ih) * g.W + iw] : T(0);
  }
}

// gx[j, c, ih, iw] = sum over the taps (kh, kw) whose output position reads (ih, iw).
template <class T>
__global__ void col2im_gather_kernel(const T* __restrict__ cols, T* __restrict__ gx, ConvGeom g, long nb) {
  const long ohw = g.OH * g.OW, total = nb * g.C * g.H * g.W;
  for (long idx = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<long>(gridDim.x) * blockDim.x) {
    const long iw = idx % g.W, ih = (idx / g.W) % g.H, c = (idx / (g.W * g.H)) % g.C, j = idx / (g.W * g.H * g.C);
    T acc = T(0);
    for (long kh = 0; kh < g.KH; ++kh) {
      const long th = ih + g.ph - kh * g.dh;
      if (th < 0 || th % g.sh != 0 || th / g.sh >= g.OH) continue;
      const long oh = th / g.sh;
      for (long kw = 0; kw < g.KW; ++kw) {
        const long tw = iw + g.pw - kw * g.dw;
        if (tw < 0 || tw % g.sw != 0 || tw / g.sw >= g.OW) continue;
        const long r = (c * g.KH + kh) * g.KW + kw;
        acc += cols[(r * nb + j) * ohw + oh * g.OW + tw / g.sw];
      }
    }
    gx[idx] = acc;
  }
}

// to_image: out[j][c][o] = in[c][j][o] + bias[c] (bias may be null); else out[c][j][o] = in[j][c][o].
template <class T>
__global__ void permute_kernel(const T* __restrict__ in, T* __restrict__ out, const T* __restrict__ bias, long nb,
                               long C, long hw, bool to_image) {
  const long total = nb * C * hw;
  for (long idx = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<long>(gridDim.x) * blockDim.x) {
    const long o = idx % hw;
    if (to_image) {
      const long c = (idx / hw) % C, j = idx / (hw * C);
      out[idx] = in[(c * nb + j) * hw + o] + (bias ? bias[c] : T(0));
    } else {
      const long j = (idx / hw) % nb, c = idx / (hw * nb);
      out[idx] = in[(j * C + c) * hw + o];
    }
  }
}

// gb[c] = sum over n and positions of gy[n, c, :]: one block per channel (deterministic order).
template <class T>
__global__ void __launch_bounds__(kBlock) bias_grad_kernel(const T* __restrict__ gy, T* __restrict__ gb, long N,
                                                           long C, long hw) {
  using Reduce = cub::BlockReduce<T, kBlock>;
  __shared__ typename Reduce::TempStorage tmp;
  const long c = blockIdx.x;
  T acc = T(0);
  for (long i = threadIdx.x; i < N * hw; i += kBlock) acc += gy[((i / hw) * C + c) * hw + i % hw];
  const T s = Reduce(tmp).Sum(acc);
  if (threadIdx.x == 0) gb[c] = s;
}

}  // namespace

template <class T>
void conv_forward(const T* x, const T* w, const T* bias, T* y, const ConvGeom& g, void* stream) {
  if (g.N <= 0 || g.Cout <= 0 || g.out_hw() <= 0) return;
  const cudaStream_t s = as_stream(stream);
  const Sizes z(g);
  const long nb = chunk_images(g);
  DeviceScratch<T> cols(static_cast<size_t>(g.col_rows() * nb * z.ohw), stream);
  DeviceScratch<T> out(static_cast<size_t>(g.Cout * nb * z.ohw), stream);
  for (long j0 = 0; j0 < g.N; j0 += nb) {
    const long b = std::min(nb, g.N - j0), cols_n = b * z.ohw;
    im2col_kernel<T><<<grid_for(g.col_rows() * cols_n, kBlock), kBlock, 0, s>>>(x + j0 * z.in_img, cols.p, g, b);
    check_launch("conv im2col_kernel");
    for (long grp = 0; grp < z.G; ++grp)
      gemm_rm<T>(s, false, false, z.Coutg, cols_n, z.Kg, w + grp * z.Coutg * z.Kg, z.Kg,
                 cols.p + grp * z.Kg * cols_n, cols_n, T(0), out.p + grp * z.Coutg * cols_n, cols_n);
    permute_kernel<T><<<grid_for(g.Cout * cols_n, kBlock), kBlock, 0, s>>>(out.p, y + j0 * z.out_img, bias, b, g.Cout,
                                                                           z.ohw, true);
    check_launch("conv permute_kernel");
  }
}

template <class T>
void conv_backward_input(const T* gy, const T* w, T* gx, const ConvGeom& g, void* stream) {
  if (g.N <= 0 || g.C * g.H * g.W <= 0) return;
  const cudaStream_t s = as_stream(stream);
  const Sizes z(g);
  const long nb = chunk_images(g);
  DeviceScratch<T> cols(static_cast<size_t>(g.col_rows() * nb * z.ohw), stream);
  DeviceScratch<T> gyp(static_cast<size_t>(g.Cout * nb * z.ohw), stream);
  for (long j0 = 0; j0 < g.N; j0 += nb) {
    const long b = std::min(nb, g.N - j0), cols_n = b * z.ohw;
    permute_kernel<T><<<grid_for(g.Cout * cols_n, kBlock), kBlock, 0, s>>>(gy + j0 * z.out_img, gyp.p, nullptr, b,
                                                                           g.Cout, z.ohw, false);
    check_launch("conv permute_kernel");
    if (z.Coutg > 0) {
      for (long grp = 0; grp < z.G; ++grp)  // cols[grp] = W[grp]^T gy[grp]
        gemm_rm<T>(s, true, false, z.Kg, cols_n, z.Coutg, w + grp * z.Coutg * z.Kg, z.Kg,
                   gyp.p + grp * z.Coutg * cols_n, cols_n, T(0), cols.p + grp * z.Kg * cols_n, cols_n);
    } else {
      check(cudaMemsetAsync(cols.p, 0, sizeof(T) * static_cast<size_t>(g.col_rows() * cols_n), s), "conv clear cols");
    }
    col2im_gather_kernel<T><<<grid_for(b * z.in_img, kBlock), kBlock, 0, s>>>(cols.p, gx + j0 * z.in_img, g, b);
    check_launch("conv col2im_gather_kernel");
  }
}

template <class T>
void conv_backward_weight(const T* x, const T* gy, T* gw, const ConvGeom& g, void* stream) {
  const cudaStream_t s = as_stream(stream);
  const Sizes z(g);
  const long wn = g.Cout * z.Kg;
  if (wn <= 0) return;
  if (g.N <= 0 || z.ohw <= 0) {
    check(cudaMemsetAsync(gw, 0, sizeof(T) * static_cast<size_t>(wn), s), "conv clear gw");
    return;
  }
  const long nb = chunk_images(g);
  DeviceScratch<T> cols(static_cast<size_t>(g.col_rows() * nb * z.ohw), stream);
  DeviceScratch<T> gyp(static_cast<size_t>(g.Cout * nb * z.ohw), stream);
  for (long j0 = 0; j0 < g.N; j0 += nb) {
    const long b = std::min(nb, g.N - j0), cols_n = b * z.ohw;
    im2col_kernel<T><<<grid_for(g.col_rows() * cols_n, kBlock), kBlock, 0, s>>>(x + j0 * z.in_img, cols.p, g, b);
    check_launch("conv im2col_kernel");
    permute_kernel<T><<<grid_for(g.Cout * cols_n, kBlock), kBlock, 0, s>>>(gy + j0 * z.out_img, gyp.p, nullptr, b,
                                                                           g.Cout, z.ohw, false);
    check_launch("conv permute_kernel");
    for (long grp = 0; grp < z.G; ++grp)  // gw[grp] (+)= gy[grp] cols[grp]^T
      gemm_rm<T>(s, false, true, z.Coutg, z.Kg, cols_n, gyp.p + grp * z.Coutg * cols_n, cols_n,
                 cols.p + grp * z.Kg * cols_n, cols_n, j0 == 0 ? T(0) : T(1), gw + grp * z.Coutg * z.Kg, z.Kg);
  }
}

template <class T>
void conv_bias_backward(const T* gy, T* gb, long N, long C, long hw, void* stream) {
  if (C <= 0) return;
  bias_grad_kernel<T><<<static_cast<unsigned>(C), kBlock, 0, as_stream(stream)>>>(gy, gb, N, C, hw);
  check_launch("conv bias_grad_kernel");
}

#define PG_CUDA_CONV_INST(T)                                                                          \
  template void conv_forward<T>(const T*, const T*, const T*, T*, const ConvGeom&, void*);            \
  template void conv_backward_input<T>(const T*, const T*, T*, const ConvGeom&, void*);               \
  template void conv_backward_weight<T>(const T*, const T*, T*, const ConvGeom&, void*);              \
  template void conv_bias_backward<T>(const T*, T*, long, long, long, void*);
PG_CUDA_CONV_INST(float)
PG_CUDA_CONV_INST(double)
#undef PG_CUDA_CONV_INST

}  // namespace pianograd::kernels::cuda
