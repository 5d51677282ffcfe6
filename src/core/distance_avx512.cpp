// AVX-512 kernels (F for the arithmetic, BW+VL for masked byte loads).  The
// target pragma enables them for this file only; distance.cpp checks the CPU
// before handing this table out.  Tails use masked loads, which never fault
// on the lanes they skip, so no scalar loop and no over-read.
#include "distance.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define PG_IVF_HAVE_AVX512_CODE 1
#include <immintrin.h>
#endif

namespace pg_ivf::core {

#ifdef PG_IVF_HAVE_AVX512_CODE

// No standard header may be included below this point (see distance_avx2.cpp).
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,fma")
// GCC 12's AVX-512 headers trip a false -Wuninitialized on their own
// _mm512_undefined_* helpers (GCC PR 105593, fixed in later releases).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace {

// Mask selecting the first r lanes, 0 < r < 16.
inline __mmask16 tail_mask(size_t r) { return static_cast<__mmask16>((1u << r) - 1u); }

// Sixteen uint8 codes widened to sixteen floats in registers.
inline __m512 load16_codes(const uint8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

inline __m512 load_codes_masked(__mmask16 k, const uint8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, p)));
}

inline float reduce4(__m512 s0, __m512 s1, __m512 s2, __m512 s3) {
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

// Four 16-lane accumulators: 64 floats in flight per iteration.
float avx512_l2_squared(const float* a, const float* b, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        __m512 t0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 t1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        __m512 t2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
        __m512 t3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
        s0 = _mm512_fmadd_ps(t0, t0, s0);
        s1 = _mm512_fmadd_ps(t1, t1, s1);
        s2 = _mm512_fmadd_ps(t2, t2, s2);
        s3 = _mm512_fmadd_ps(t3, t3, s3);
    }
    for (; i + 16 <= d; i += 16) {
        __m512 t = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(t, t, s0);
    }
    if (i < d) {
        __mmask16 k = tail_mask(d - i);
        __m512 t = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, a + i), _mm512_maskz_loadu_ps(k, b + i));
        s1 = _mm512_fmadd_ps(t, t, s1);
    }
    return reduce4(s0, s1, s2, s3);
}

float avx512_dot(const float* a, const float* b, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= d; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < d) {
        __mmask16 k = tail_mask(d - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + i), _mm512_maskz_loadu_ps(k, b + i), s1);
    }
    return reduce4(s0, s1, s2, s3);
}

float avx512_l1(const float* a, const float* b, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        s0 = _mm512_add_ps(s0, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i))));
        s1 = _mm512_add_ps(s1, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16))));
        s2 = _mm512_add_ps(s2, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32))));
        s3 = _mm512_add_ps(s3, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48))));
    }
    for (; i + 16 <= d; i += 16)
        s0 = _mm512_add_ps(s0, _mm512_abs_ps(_mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i))));
    if (i < d) {
        __mmask16 k = tail_mask(d - i);
        s1 = _mm512_add_ps(s1, _mm512_abs_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, a + i), _mm512_maskz_loadu_ps(k, b + i))));
    }
    return reduce4(s0, s1, s2, s3);
}

// Two chains per sum; three FMAs share each pair of loads.
void avx512_dot_and_norms(const float* a, const float* b, size_t d, float* ab, float* aa, float* bb) {
    __m512 ab0 = _mm512_setzero_ps(), ab1 = _mm512_setzero_ps();
    __m512 aa0 = _mm512_setzero_ps(), aa1 = _mm512_setzero_ps();
    __m512 bb0 = _mm512_setzero_ps(), bb1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        __m512 x0 = _mm512_loadu_ps(a + i), y0 = _mm512_loadu_ps(b + i);
        __m512 x1 = _mm512_loadu_ps(a + i + 16), y1 = _mm512_loadu_ps(b + i + 16);
        ab0 = _mm512_fmadd_ps(x0, y0, ab0);
        aa0 = _mm512_fmadd_ps(x0, x0, aa0);
        bb0 = _mm512_fmadd_ps(y0, y0, bb0);
        ab1 = _mm512_fmadd_ps(x1, y1, ab1);
        aa1 = _mm512_fmadd_ps(x1, x1, aa1);
        bb1 = _mm512_fmadd_ps(y1, y1, bb1);
    }
    if (i + 16 <= d) {
        __m512 x = _mm512_loadu_ps(a + i), y = _mm512_loadu_ps(b + i);
        ab0 = _mm512_fmadd_ps(x, y, ab0);
        aa0 = _mm512_fmadd_ps(x, x, aa0);
        bb0 = _mm512_fmadd_ps(y, y, bb0);
        i += 16;
    }
    if (i < d) {
        __mmask16 k = tail_mask(d - i);
        __m512 x = _mm512_maskz_loadu_ps(k, a + i), y = _mm512_maskz_loadu_ps(k, b + i);
        ab1 = _mm512_fmadd_ps(x, y, ab1);
        aa1 = _mm512_fmadd_ps(x, x, aa1);
        bb1 = _mm512_fmadd_ps(y, y, bb1);
    }
    *ab = _mm512_reduce_add_ps(_mm512_add_ps(ab0, ab1));
    *aa = _mm512_reduce_add_ps(_mm512_add_ps(aa0, aa1));
    *bb = _mm512_reduce_add_ps(_mm512_add_ps(bb0, bb1));
}

// t = a - step * code in one fnmadd; masked-off lanes give 0 - 0 * 0 = 0.
float avx512_sq8_l2_squared(const float* a, const float* step, const uint8_t* code, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        __m512 t0 = _mm512_fnmadd_ps(_mm512_loadu_ps(step + i), load16_codes(code + i), _mm512_loadu_ps(a + i));
        __m512 t1 =
            _mm512_fnmadd_ps(_mm512_loadu_ps(step + i + 16), load16_codes(code + i + 16), _mm512_loadu_ps(a + i + 16));
        __m512 t2 =
            _mm512_fnmadd_ps(_mm512_loadu_ps(step + i + 32), load16_codes(code + i + 32), _mm512_loadu_ps(a + i + 32));
        __m512 t3 =
            _mm512_fnmadd_ps(_mm512_loadu_ps(step + i + 48), load16_codes(code + i + 48), _mm512_loadu_ps(a + i + 48));
        s0 = _mm512_fmadd_ps(t0, t0, s0);
        s1 = _mm512_fmadd_ps(t1, t1, s1);
        s2 = _mm512_fmadd_ps(t2, t2, s2);
        s3 = _mm512_fmadd_ps(t3, t3, s3);
    }
    for (; i + 16 <= d; i += 16) {
        __m512 t = _mm512_fnmadd_ps(_mm512_loadu_ps(step + i), load16_codes(code + i), _mm512_loadu_ps(a + i));
        s0 = _mm512_fmadd_ps(t, t, s0);
    }
    if (i < d) {
        __mmask16 k = tail_mask(d - i);
        __m512 t = _mm512_fnmadd_ps(_mm512_maskz_loadu_ps(k, step + i), load_codes_masked(k, code + i),
                                    _mm512_maskz_loadu_ps(k, a + i));
        s1 = _mm512_fmadd_ps(t, t, s1);
    }
    return reduce4(s0, s1, s2, s3);
}

float avx512_sq8_dot(const float* w, const uint8_t* code, size_t d) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 64 <= d; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), load16_codes(code + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), load16_codes(code + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 32), load16_codes(code + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 48), load16_codes(code + i + 48), s3);
    }
    for (; i + 16 <= d; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), load16_codes(code + i), s0);
    if (i < d) {
        __mmask16 k = tail_mask(d - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, w + i), load_codes_masked(k, code + i), s1);
    }
    return reduce4(s0, s1, s2, s3);
}

// Scalar lookups on purpose: vgatherdps was slower than four independent
// loads (measured on AMD EPYC Zen 4: 1.9 vs 3.3 G codes/s at m = 48).
float avx512_pq_adc(const float* table, const uint8_t* code, size_t m) {
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    size_t j = 0;
    for (; j + 4 <= m; j += 4) {
        s0 += table[j * 256 + code[j]];
        s1 += table[(j + 1) * 256 + code[j + 1]];
        s2 += table[(j + 2) * 256 + code[j + 2]];
        s3 += table[(j + 3) * 256 + code[j + 3]];
    }
    for (; j < m; ++j) s0 += table[j * 256 + code[j]];
    return (s0 + s1) + (s2 + s3);
}

// The sixteen int32 lanes (each < 2^31, nonnegative) summed in 64 bits.
inline uint64_t reduce_u32(__m512i v) {
    __m512i wide = _mm512_add_epi64(_mm512_cvtepu32_epi64(_mm512_castsi512_si256(v)),
                                    _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(v, 1)));
    return static_cast<uint64_t>(_mm512_reduce_add_epi64(wide));
}

// Thirty-two dimensions (masked: the first r < 32): w (t - c) in int16, then
// pairs of (t - c) * w (t - c) into int32 lanes with vpmaddwd.  Masked-off
// lanes load t = w = c = 0 and add 0.
inline __m512i int_step32(const int16_t* t, const int16_t* w, const uint8_t* code, __m512i acc) {
    __m512i c = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(code)));
    __m512i diff = _mm512_sub_epi16(_mm512_loadu_si512(t), c);
    __m512i wd = _mm512_mullo_epi16(diff, _mm512_loadu_si512(w));
    return _mm512_add_epi32(acc, _mm512_madd_epi16(diff, wd));
}

inline __m512i int_step_masked(__mmask32 k, const int16_t* t, const int16_t* w, const uint8_t* code, __m512i acc) {
    __m512i c = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(k, code));
    __m512i diff = _mm512_sub_epi16(_mm512_maskz_loadu_epi16(k, t), c);
    __m512i wd = _mm512_mullo_epi16(diff, _mm512_maskz_loadu_epi16(k, w));
    return _mm512_add_epi32(acc, _mm512_madd_epi16(diff, wd));
}

uint64_t avx512_sq8_l2_int(const int16_t* t, const int16_t* w, const uint8_t* code, size_t d) {
    uint64_t total = 0;
    size_t i = 0;
    while (i < d) {
        const size_t end = d - i > kSq8IntChunk ? i + kSq8IntChunk : d;
        __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
        for (; i + 64 <= end; i += 64) {
            s0 = int_step32(t + i, w + i, code + i, s0);
            s1 = int_step32(t + i + 32, w + i + 32, code + i + 32, s1);
        }
        for (; i + 32 <= end; i += 32) s0 = int_step32(t + i, w + i, code + i, s0);
        if (i < end) {
            const __mmask32 k = static_cast<__mmask32>((1ull << (end - i)) - 1ull);
            s1 = int_step_masked(k, t + i, w + i, code + i, s1);
            i = end;
        }
        total += reduce_u32(_mm512_add_epi32(s0, s1));
    }
    return total;
}

const Kernels kAvx512Kernels = {
    avx512_l2_squared,     avx512_dot,     avx512_l1,     avx512_dot_and_norms,
    avx512_sq8_l2_squared, avx512_sq8_dot, avx512_pq_adc, avx512_sq8_l2_int,
};

}  // namespace

#pragma GCC diagnostic pop
#pragma GCC pop_options

#endif  // PG_IVF_HAVE_AVX512_CODE

namespace detail {
// Outside the target region: returning the table must be safe on any CPU.
const Kernels* avx512_kernel_table() {
#ifdef PG_IVF_HAVE_AVX512_CODE
    return &kAvx512Kernels;
#else
    return nullptr;
#endif
}
}  // namespace detail

}  // namespace pg_ivf::core
