// IEEE binary16 ("half", pgvector's halfvec elements) to float.  Every half is
// exactly a float, so the conversion is exact: an index over halfvec rows sees
// the very values pgvector's halfvec distance functions compute with after
// their own conversion (F16C's vcvtph2ps or a bit copy, both exact).
#pragma once
#ifdef POSTGRES_H
#error "src/core headers must not be included after postgres.h"
#endif

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pg_ivf::core {

inline float half_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1fu;
    const uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
        const float f = std::ldexp(static_cast<float>(mantissa), -24);
        return sign ? -f : f;
    }
    // normal (rebias 15 -> 127) or infinity / NaN (exponent all ones)
    const uint32_t bits = sign | (exponent == 0x1fu ? 0x7f800000u : (exponent + 112u) << 23) | (mantissa << 13);
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

// out[i] = half_to_float(in[i]) for i < n; in need not be aligned.
inline void half_to_float(const void* in, float* out, size_t n) {
    const unsigned char* p = static_cast<const unsigned char*>(in);
    for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, sizeof h);
        out[i] = half_to_float(h);
    }
}

}  // namespace pg_ivf::core
