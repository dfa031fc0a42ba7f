// One element of a GRU step (Cho et al. 2014, torch.nn.GRU's gate order r, z, n), forward and its
// derivative, shared by the fused recurrence (autodiff/ops/recurrent.cpp) and any device kernel:
//   r = σ(a_r),  z = σ(a_z),  n = tanh(gi_n + r gh_n),  h' = n + z (h - n)
// with a_r = gi_r + gh_r, a_z = gi_z + gh_z, gi = W_i x + b_i and gh = W_h h + b_h.
#pragma once
#include "kernels/common/host_device.h"

namespace pianograd::kernels {

template <class T>
PG_HD T gru_output(T n, T z, T h_prev) {
  return n + z * (h_prev - n);  // (1 - z) n + z h with one product fewer
}

// Gradients of one element given dh (the gradient reaching h'), from the saved r, z, n, gh_n and h.
template <class T>
struct GruCellGrad {
  T da_r, da_z, da_n;  // of the pre-activations: also d gi_r, d gi_z, d gi_n
  T dgh_n;             // of gh_n (= da_n r); d gh_r = da_r and d gh_z = da_z
  T dh_prev;           // the direct part of dh (the part through gh is W_h^T dgh)
};

template <class T>
PG_HD GruCellGrad<T> gru_cell_grad(T dh, T r, T z, T n, T gh_n, T h_prev) {
  GruCellGrad<T> g;
  const T dn = dh * (T(1) - z), dz = dh * (h_prev - n);
  g.da_n = dn * (T(1) - n * n);
  g.da_r = g.da_n * gh_n * r * (T(1) - r);
  g.da_z = dz * z * (T(1) - z);
  g.dgh_n = g.da_n * r;
  g.dh_prev = dh * z;
  return g;
}

}  // namespace pianograd::kernels
