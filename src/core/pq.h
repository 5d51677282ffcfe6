// PQ internals: codebook training through train_kmeans_batch, encoding a row to its
// nearest codewords, and the exact code part of a decoded row.  Private to core.
#pragma once
#ifdef POSTGRES_H
#error "src/core headers must not be included after postgres.h"
#endif

#include <cstddef>
#include <cstdint>
#include <vector>

#include "hooks.h"
#include "kmeans.h"

namespace pg_ivf::core {

constexpr size_t kPqCentroids = 256;
// Training rows per codeword: each sub-quantizer trains on at most 256 * 64
// rows (a seeded uniform subsample), which keeps CREATE INDEX fast while
// leaving k-means 64 rows per centroid.
constexpr size_t kPqMaxTrainRows = kPqCentroids * 64;

// Host memory the per-problem state of one group of sub-quantizers trained
// side by side may take (a GPU runs a group in one launch per iteration).
constexpr size_t kPqBatchBytes = size_t{16} << 20;

// Rows pq_train() actually trains on.
size_t pq_training_rows(size_t n);

// Sub-quantizers pq_train() trains side by side for n candidate rows: as
// many as kPqBatchBytes holds (at least one), in equal groups.
size_t pq_batch_size(size_t n, size_t d, size_t m);

// Bytes pq_train() allocates for n candidate rows.
size_t pq_training_memory_bytes(size_t n, size_t d, size_t m);

// Trains m codebooks of 256 codewords over d / m dims each into codebooks
// (layout (m, 256, d / m)) on a seeded subsample of x (n * d), minus the rows'
// centroids (k * d, labels n) when both are non-null, each difference saturated
// to the float range (saturate()) so finite rows give finite codebooks.  n == 0 gives zeros.
void pq_train(const float* x, size_t n, size_t d, size_t m, const float* centroids, const int32_t* labels,
              int iterations, uint64_t seed, Assigner& assigner, const Hooks& hooks, float* codebooks);

// Nearest-codeword encoder over codebooks transposed to (m, d / m, 256), so
// the 256 distances of a sub-vector are computed with unit-stride loops.
// Codes may differ between CPUs on near ties (SIMD width); never within one.
class PqEncoder {
public:
    PqEncoder(const float* codebooks, size_t d, size_t m);
    // v size d -> code size m (ties: lowest codeword index).
    void encode(const float* v, uint8_t* code) const;

private:
    size_t m_, dsub_;
    std::vector<float> transposed_;  // (m, d / m, 256)
    std::vector<float> norms_;       // (m, 256): squared codeword norms
};

// out (size d) = the codewords the code selects, concatenated, in double.
void pq_code_part(const float* codebooks, size_t d, size_t m, const uint8_t* code, double* out);

}  // namespace pg_ivf::core
