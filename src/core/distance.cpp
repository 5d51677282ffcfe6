// Scalar reference kernels and the one-time choice of the SIMD table.  The
// SIMD tables live in distance_avx2.cpp and distance_avx512.cpp, which carry
// their own target pragmas so every file builds with the same flags.
#include "distance.h"

#include <cstdlib>
#include <cstring>

namespace pg_ivf::core {

namespace detail {
// Defined in distance_avx2.cpp / distance_avx512.cpp; nullptr when the build
// has no such code (non-x86 compiler).  Safe to call on any CPU: they only
// return a table, the caller must check the CPU before using it.
const Kernels* avx2_kernel_table();
const Kernels* avx512_kernel_table();
}  // namespace detail

namespace {

// Plain loops in index order: the yardstick every SIMD kernel is tested against.
float scalar_l2_squared(const float* a, const float* b, size_t d) {
    float s = 0.0f;
    for (size_t i = 0; i < d; ++i) {
        float t = a[i] - b[i];
        s += t * t;
    }
    return s;
}

float scalar_dot(const float* a, const float* b, size_t d) {
    float s = 0.0f;
    for (size_t i = 0; i < d; ++i) s += a[i] * b[i];
    return s;
}

float scalar_l1(const float* a, const float* b, size_t d) {
    float s = 0.0f;
    for (size_t i = 0; i < d; ++i) {
        float t = a[i] - b[i];
        s += t < 0.0f ? -t : t;
    }
    return s;
}

// Cosine needs all three sums; one pass keeps both vectors in cache once.
void scalar_dot_and_norms(const float* a, const float* b, size_t d, float* ab, float* aa, float* bb) {
    float sab = 0.0f, saa = 0.0f, sbb = 0.0f;
    for (size_t i = 0; i < d; ++i) {
        sab += a[i] * b[i];
        saa += a[i] * a[i];
        sbb += b[i] * b[i];
    }
    *ab = sab;
    *aa = saa;
    *bb = sbb;
}

// Decodes on the fly so scanning a list never materializes a float row.
float scalar_sq8_l2_squared(const float* a, const float* step, const uint8_t* code, size_t d) {
    float s = 0.0f;
    for (size_t i = 0; i < d; ++i) {
        float t = a[i] - step[i] * static_cast<float>(code[i]);
        s += t * t;
    }
    return s;
}

float scalar_sq8_dot(const float* w, const uint8_t* code, size_t d) {
    float s = 0.0f;
    for (size_t i = 0; i < d; ++i) s += w[i] * static_cast<float>(code[i]);
    return s;
}

float scalar_pq_adc(const float* table, const uint8_t* code, size_t m) {
    float s = 0.0f;
    for (size_t j = 0; j < m; ++j) s += table[j * 256 + code[j]];
    return s;
}

uint64_t scalar_sq8_l2_int(const int16_t* t, const int16_t* w, const uint8_t* code, size_t d) {
    uint64_t s = 0;
    for (size_t i = 0; i < d; ++i) {
        const int64_t diff = static_cast<int64_t>(t[i]) - code[i];
        s += static_cast<uint64_t>(w[i] * diff * diff);
    }
    return s;
}

const Kernels kScalarKernels = {
    scalar_l2_squared, scalar_dot,        scalar_l1,     scalar_dot_and_norms,
    scalar_sq8_l2_squared, scalar_sq8_dot, scalar_pq_adc, scalar_sq8_l2_int,
};

// What this CPU can run, and the level actually used after PG_IVF_SIMD.
struct Dispatch {
    const Kernels* avx2 = nullptr;
    const Kernels* avx512 = nullptr;
    SimdLevel best = SimdLevel::kScalar;
    const Kernels* table = &kScalarKernels;
};

// PG_IVF_SIMD lets tests and users force a lower level; unknown values are ignored.
SimdLevel env_cap() {
    const char* v = std::getenv("PG_IVF_SIMD");
    if (v == nullptr) return SimdLevel::kAvx512;
    if (std::strcmp(v, "scalar") == 0) return SimdLevel::kScalar;
    if (std::strcmp(v, "avx2") == 0) return SimdLevel::kAvx2;
    return SimdLevel::kAvx512;
}

Dispatch detect() {
    Dispatch out;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    // May run before main (from another static initializer), so init explicitly.
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) out.avx2 = detail::avx2_kernel_table();
    // The AVX-512 file is also built for AVX2+FMA, so it needs both as well.
    if (out.avx2 != nullptr && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl"))
        out.avx512 = detail::avx512_kernel_table();
#endif
    SimdLevel cap = env_cap();
    if (out.avx512 != nullptr && cap >= SimdLevel::kAvx512) {
        out.best = SimdLevel::kAvx512;
        out.table = out.avx512;
    } else if (out.avx2 != nullptr && cap >= SimdLevel::kAvx2) {
        out.best = SimdLevel::kAvx2;
        out.table = out.avx2;
    }
    return out;
}

// Function-local static: thread-safe, and resolved on first use only.
const Dispatch& dispatch() {
    static const Dispatch d = detect();
    return d;
}

}  // namespace

const Kernels& scalar_kernels() { return kScalarKernels; }

// Ignores PG_IVF_SIMD on purpose so tests can compare every level the CPU has.
const Kernels* kernels_for(SimdLevel level) {
    switch (level) {
        case SimdLevel::kScalar: return &kScalarKernels;
        case SimdLevel::kAvx2: return dispatch().avx2;
        case SimdLevel::kAvx512: return dispatch().avx512;
    }
    return nullptr;
}

SimdLevel best_simd_level() { return dispatch().best; }

const char* simd_level_name(SimdLevel level) {
    switch (level) {
        case SimdLevel::kScalar: return "scalar";
        case SimdLevel::kAvx2: return "avx2";
        case SimdLevel::kAvx512: return "avx512";
    }
    return "unknown";
}

const Kernels& kernels() { return *dispatch().table; }

}  // namespace pg_ivf::core
