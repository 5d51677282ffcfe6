// SQ8 internals (FAISS QT_8bit style, one range per dimension): training the
// ranges, encoding one row and decoding it exactly.  Private to core.
#pragma once
#ifdef POSTGRES_H
#error "src/core headers must not be included after postgres.h"
#endif

#include <cstddef>
#include <cstdint>

#include "hooks.h"

namespace pg_ivf::core {

// Per-dimension [vmin, vmax] of the n training rows x (n * d), minus their
// centroids (centroids k * d, labels n) when both are non-null, turned into
// bias (d) and step (d): step = (vmax - vmin) / 256, bias = vmin + step / 2.
// n == 0 uses [-1, 1].  A constant dimension gets step 0 (decodes to vmin).
void sq8_train(const float* x, size_t n, size_t d, const float* centroids, const int32_t* labels, const Hooks& hooks,
               float* bias, float* step);

// code_i = the grid point bias_i + step_i * code_i nearest to v_i, clamped to
// [0, 255]; v, bias, step size d, code size d.
void sq8_encode(const float* bias, const float* step, const float* v, size_t d, uint8_t* code);

// out_i = step_i * code_i (exact in double): the row's code part, without bias.
void sq8_code_part(const float* step, const uint8_t* code, size_t d, double* out);

// The integer key's parts (bounds.h, INTEGER QUICK BOUND).
// Weights w_i = floor(step_i^2 / sigma) <= kSq8IntMaxWeight for the smallest
// power of two sigma that allows it, inv_i = 1 / step_i (0 for a zero step)
// and step_sq = sum step_i^2 in double; false (nothing usable) when every
// step is 0 or one is not finite.
bool sq8_int_weights(const float* step, size_t d, int16_t* w, float* inv, double* sigma, double* step_sq);
// The kernel input a on the code grid: g_i = a_i * inv_i rounded and
// clamped to [0, 255] (any integers are valid; these keep delta small), and
// delta_sq = sum (a_i - step_i g_i)^2 in double.  False when a precondition
// of the bound fails (a non-finite a_i, or a float kernel that could overflow).
bool sq8_query_grid(const float* a, const float* step, const float* inv, size_t d, int16_t* g, double* delta_sq);

}  // namespace pg_ivf::core
