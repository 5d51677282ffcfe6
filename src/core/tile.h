// The register-blocked dot-product tile of the CPU assigner, shared with the
// recall calibration: kTileRows rows (pointers, size d each) against a panel
// of kTileCols vectors packed d-major.  The assigner fuses its arg-min into
// the tile; other callers take the tile itself.  Defined in assign_cpu.cpp,
// AVX2/FMA where the CPU has it, portable C++ otherwise (cpu_assign_force_portable
// switches both users).
#pragma once
#ifdef POSTGRES_H
#error "src/core headers must not be included after postgres.h"
#endif

#include <cstddef>
#include <vector>

namespace pg_ivf::core {

constexpr size_t kTileRows = 6;    // rows of x per micro-tile
constexpr size_t kTileCols = 16;   // vectors per packed panel (two 8-float vectors)

// count vectors regrouped into panels of kTileCols, each stored d-major so
// the kernel reads two contiguous vectors per dimension; the last panel is
// zero-padded and its padding gets squared norm +inf.
struct PackedPanels {
    size_t panels = 0;
    std::vector<float> data;   // size panels * d * kTileCols: panel p at p * d * kTileCols
    std::vector<float> norms;  // size panels * kTileCols: squared norms (tile_squared_norm)
};

// v: count * d row-major.
PackedPanels pack_panels(const float* v, size_t count, size_t d);

// out[r * kTileCols + j] = <rows[r], vector j of panel>, a float sum of d
// products in an unspecified order (bounds.h (F1) covers any order).
void tile_dot(const float* const* rows, const float* panel, size_t d, float* out);

// ||v||^2 as a float sum (the norm the assigner and pack_panels use).
float tile_squared_norm(const float* v, size_t d);

}  // namespace pg_ivf::core
