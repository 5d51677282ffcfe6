// A local split's re-assignment (maintenance, src/pg/ivfsplit.cpp): which rows
// of a list whose centroid is unchanged provably stay in it when some
// centroids of the model are replaced or added, from the entries' codes alone
// (no heap fetch).  The argument is STAY PROOF below, in bounds.h's style.
#pragma once
#ifdef POSTGRES_H
#error "src/core headers must not be included after postgres.h"
#endif

#include <cstddef>
#include <cstdint>
#include <vector>

#include "codec.h"

namespace pg_ivf::core {

// The reconstruction x~ of the entry (bounds.h "Reconstruction"), in double:
// centroid + the code part (+ SQ8's bias); `centroid` is the entry's list's
// (ignored without residual).  out: size codec.d.
void entry_reconstruction(const Codec& codec, const uint8_t* entry, const float* centroid, double* out);

/*
 * STAY PROOF
 * ==========
 * Goal: for a row x stored in list k of a model whose centroids change only
 * at the `changed` lists (c_k itself unchanged), prove from its entry alone
 * that the assigner's arg-min over ALL centroids of the new model still
 * picks k, so the row may stay and its code (a residual to c_k) be copied.
 * Premise (invariant of the index): x was stored in k because c_k won the
 * arg-min over the old model.  Every unchanged centroid keeps its value and
 * index, so against them c_k still wins, ties included (lowest index).  Only
 * the changed ones remain: c_k wins against c when v_k < v_c, with
 * v_c = fl(||c||^2) - 2 fl(<x, c>) the assigner's value over the stored form
 * (bounds.h LIST BOUND), T_c = ||c||^2 - 2 <x, c> and
 *     |v_c - T_c| <= g (||c||^2 + 2 ||x|| ||c||) + D 2^-146,  g = gamma_{D+2}
 * (D = d, or d + 1 under the MIPS reduction).  T_c - T_k = ||x - c||^2 - ||x - c_k||^2,
 * so it suffices that
 *     lo_c^2 - hi_k^2 > g (||c||^2 + ||c_k||^2 + 2 X (||c|| + ||c_k||)) + D 2^-145   (*)
 * with lo_c <= ||x - c||, hi_k >= ||x - c_k||, X >= ||x||.
 * Code.  The stored err bounds e = ||xr - x~|| (bounds.h: err_l2, err_ip and
 * err_cos all contain e_upper >= e_true); xr = x under L2 and IP.  Under
 * cosine xr = y / ||y|| while the assigner sees y = fl(x / N), and
 * ||y - y / ||y|| || = | ||y|| - 1 | <= u + (d + 4) 2^-52 (LIST BOUND's
 * ||xh - y|| bound, as y and xh are both within it of each other's direction),
 * so the radius is r = err + u + (d + 4) 2^-52.  An entry with err = +inf
 * (unbounded) is never proven.  Then, by the triangle inequality,
 *     hi_k = ||x~ - c_k|| + r,   lo_c = max(0, ||x~ - c|| - r),   X = ||x~|| + r,
 * and, from the centroids alone, lo_c >= ||c - c_k|| - hi_k (pruning: most
 * changed centroids are far from most rows, and need no distance to x~).
 * MIPS reduction (mips.h): x' = [x, e_x], c' = [c, e_c].  With n in
 * [nl, nh] = [max(0, ||x~|| - r), ||x~|| + r] containing ||x||, e_x =
 * fl(sqrt_d(fl_d(M2 - n2))) (0 when n2 >= M2) lies in
 *     [sqrt(max(0, M2 - nh^2 - 4 ud M2)) (1 - 2u), sqrt(max(0, M2 - nl^2) + 4 ud M2) (1 + 2u)]
 * (n2 is within gammad_d of n^2, far below 4 ud M2 + the interval's own width
 * only when M2 - n2 is tiny, where the + 4 ud M2 under the root covers it), so
 * hi_k^2 = (||x~ - c_k|| + r)^2 + max over that interval of (e_x - e_ck)^2,
 * lo_c^2 = max(0, ||x~ - c|| - r)^2 + (distance of e_c to the interval)^2,
 * X^2 = nh^2 + e_hi^2.
 * Evaluation.  Norms and distances are summed in double from floats and x~
 * (any order: relative gammad_{d+4}, plus x~'s own 3-term sums), each
 * widened by up_ = 1 + gammad_{d+8} + 2^-40 in the safe direction; (*) is
 * tested with g doubled and the guard kGuard on every side.
 */
class StayProof {
public:
    // centroids: k * d of the NEW model; extras: its k extra coordinates
    // (max_norm2 > 0) or null; changed: the lists whose centroid is new.
    StayProof(const Codec& codec, const float* centroids, const float* extras, size_t k, double max_norm2,
              const std::vector<int32_t>& changed);
    // Before stays() for entries of list `list` (not a changed one).
    void set_list(int32_t list);
    // True when the row of the entry, stored in the list of set_list(),
    // provably stays in it under the new model; false when not proven.
    bool stays(const uint8_t* entry);
    // The changed centroids stays() had to measure against x~ (not pruned), summed: for tests.
    uint64_t measured() const { return measured_; }

private:
    double centroid_distance(size_t a, size_t b) const;
    const Codec& codec_;
    const float* centroids_;
    const float* extras_;
    size_t k_;
    size_t d_;
    double max_norm2_;
    std::vector<int32_t> changed_;
    std::vector<double> norms_;    // ||c'|| of every centroid (augmented under MIPS)
    int32_t list_ = -1;
    std::vector<double> to_list_;  // ||c' - c_k'|| per changed centroid
    std::vector<double> rec_;      // scratch: x~
    double up_;                    // 1 + the relative rounding of a distance computed here, rounded up
    std::vector<size_t> nearest_;  // indices into changed_, nearest to the list first
    uint64_t measured_ = 0;
};

}  // namespace pg_ivf::core
