// Distance kernels: one scalar reference per metric and element type, and SIMD
// versions chosen once at run time.  Pure C++17; never include PostgreSQL here.
#pragma once
#ifdef POSTGRES_H
#error "src/core headers must not be included after postgres.h"
#endif

#include <cstddef>
#include <cstdint>

namespace pg_ivf::core {

// Metrics an index can be built for.  L1 exists only as an operator.  The
// numbers are on disk (an index's meta page; the glue's IVF_METRIC_* name
// them): never renumber.
enum class Metric : int32_t { kL2 = 0, kInnerProduct = 1, kCosine = 2 };

enum class SimdLevel : int32_t { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

// One table of kernels per instruction set.  All accumulate in float and
// return float; callers widen to double where SQL wants it.  Levels sum in
// different orders, so results differ by float rounding (tested within
// 1e-5 * sum|terms|).  Any d >= 0 and unaligned pointers are fine.  A sum of
// same-signed terms that overflows gives +inf at every level; when terms of
// both signs overflow, inf vs NaN may differ between levels (FMA does not
// round the product first).
struct Kernels {
    // sum_i (a_i - b_i)^2, arrays of size d
    float (*l2_squared)(const float* a, const float* b, size_t d);
    // sum_i a_i * b_i
    float (*dot)(const float* a, const float* b, size_t d);
    // sum_i |a_i - b_i|
    float (*l1)(const float* a, const float* b, size_t d);
    // one pass: *ab = a.b, *aa = a.a, *bb = b.b  (cosine distance)
    void (*dot_and_norms)(const float* a, const float* b, size_t d, float* ab, float* aa, float* bb);
    // SQ8 asymmetric L2: sum_i (a_i - step_i * code_i)^2, a/step size d, code size d
    float (*sq8_l2_squared)(const float* a, const float* step, const uint8_t* code, size_t d);
    // SQ8 asymmetric dot: sum_i w_i * code_i
    float (*sq8_dot)(const float* w, const uint8_t* code, size_t d);
    // PQ ADC: sum_j table[j * 256 + code[j]], table size m * 256, code size m
    float (*pq_adc)(const float* table, const uint8_t* code, size_t m);
    // SQ8 integer L2 on the query's code grid: sum_i w_i (t_i - code_i)^2,
    // exact at every level, for 0 <= t_i <= 255 and 0 <= w_i <= kSq8IntMaxWeight
    // (so w_i (t_i - code_i) fits int16) and any d; the scan's cheap key
    // (bounds.h, INTEGER QUICK BOUND).
    uint64_t (*sq8_l2_int)(const int16_t* t, const int16_t* w, const uint8_t* code, size_t d);
};

// Largest weight sq8_l2_int accepts: 128 * 255 <= 32767.
constexpr int16_t kSq8IntMaxWeight = 128;
// Dimensions the SIMD integer kernels add in int32 lanes before widening to
// 64 bits: one lane then holds at most 2048 / 16 + 1 pairs, each at most
// 2 * 128 * 255^2, so at most 2^31 - 2^16: no overflow at any d.
constexpr size_t kSq8IntChunk = 2048;

// The reference implementation; SIMD tables are tested against it.
const Kernels& scalar_kernels();

// The table for a level, or nullptr when this CPU or build lacks it.
// Not affected by PG_IVF_SIMD, so tests can compare every level the CPU has.
const Kernels* kernels_for(SimdLevel level);

// The best level this CPU supports, resolved once (thread-safe), capped by
// the environment variable PG_IVF_SIMD=scalar|avx2|avx512 if set.
SimdLevel best_simd_level();
const char* simd_level_name(SimdLevel level);

// The table every caller uses (the best level).
const Kernels& kernels();

// Convenience wrappers over kernels().
inline float l2_squared(const float* a, const float* b, size_t d) { return kernels().l2_squared(a, b, d); }
inline float dot(const float* a, const float* b, size_t d) { return kernels().dot(a, b, d); }
inline float l1(const float* a, const float* b, size_t d) { return kernels().l1(a, b, d); }
inline float squared_norm(const float* a, size_t d) { return kernels().dot(a, a, d); }

}  // namespace pg_ivf::core
