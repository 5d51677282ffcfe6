// Chain stamps: which list chain a data page belongs to, in the 32 bits of
// its header that index pages do not otherwise use (src/pg/ivfpage.cpp puts
// them in pd_prune_xid).  A maintenance that shares a list's chain between
// the model it retires and the one it swaps in (src/pg/ivfsplit.cpp) makes
// pages belong to several models' lists at once, so a page says which chain
// it is in, not which model: (birth, list), where birth is the generation of
// the model the chain was started in and list its list number, the same in
// every model that shares it.  A scan of list j of the model of generation g
// reads a page only when its stamp names list j and a birth no later than g:
//   - a page of the chain it reads was stamped (birth <= g, j), pages linked
//     after its start included (they carry the chain's stamp);
//   - a page freed from a retired chain and taken by another list names that
//     list; taken by a chain of list j started since, a birth after g.
// Stamp 0 is "no stamp" (0.1.0's pages, whose models never share a chain).
// Births are kept modulo kStampBirths; "no later than" is within half of that
// window, so a chain shared by more than kStampBirths / 2 models in a row
// would read as born later (every maintenance that is not a split rewrites
// every chain).
#pragma once
#ifdef POSTGRES_H
#error "src/core headers must not be included after postgres.h"
#endif

#include <cstdint>

namespace pg_ivf::core {

inline constexpr int kStampListBits = 17;  // lists < 2^17 (IVF_MAX_LISTS is 100,000)
inline constexpr uint32_t kStampBirths = (1u << (32 - kStampListBits)) - 1;  // birth field 1..kStampBirths

// The stamp of the chains of `list` started by the model of generation `birth`; never 0.
inline uint32_t chain_stamp(uint64_t birth, int list) {
    return ((uint32_t) (1 + birth % kStampBirths) << kStampListBits) | (uint32_t) list;
}

// Whether a page stamped `stamp` may be read as a page of list `list` of the model of generation `generation`.
inline bool stamp_readable(uint32_t stamp, uint64_t generation, int list) {
    if (stamp == 0 || (stamp & ((1u << kStampListBits) - 1)) != (uint32_t) list) return false;
    uint32_t birth = (stamp >> kStampListBits) - 1;             // birth mod kStampBirths
    uint32_t now = (uint32_t) (generation % kStampBirths);
    uint32_t age = (now + kStampBirths - birth) % kStampBirths;  // generation - birth, modulo
    return age <= kStampBirths / 2;
}

}  // namespace pg_ivf::core
