// The trained quantizer of one index (SQ8, PQ or flat), the on-page entry it
// encodes rows into, and the per-query scanner that turns entries into
// guaranteed lower bounds of the SQL operator's value.
#pragma once
#ifdef POSTGRES_H
#error "src/core headers must not be included after postgres.h"
#endif

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "distance.h"
#include "hooks.h"
#include "kmeans.h"

namespace pg_ivf::core {

// The numbers are on disk (an index's meta page; the glue's IVF_QUANTIZER_*
// name them): never renumber.
enum class QuantizerKind : int32_t { kSq8 = 0, kPq = 1, kFlat = 2 };

// One list entry, packed contiguously on a data page:
//   [0, 8)   opaque to core: the glue's heap TID (6 bytes) and 2 spare bytes
//   [8, 12)  float err: per-row bound on reconstruction error plus float slack
//   [12, ..) code, code_size() bytes; entry padded to a multiple of 4 bytes
constexpr size_t kEntryTidBytes = 8;
constexpr size_t kEntryErrOffset = 8;
constexpr size_t kEntryCodeOffset = 12;
inline size_t entry_size(size_t code_size) { return (kEntryCodeOffset + code_size + 3) & ~size_t(3); }

// Code bytes per row: sq8 d, pq m, flat 4 * d.
size_t code_size(QuantizerKind kind, size_t d, size_t m);

// Trained codec parameters (floats) of a d-dimensional codec: sq8 2 * d, pq 256 * d, flat 0.
size_t parameter_count(QuantizerKind kind, size_t d);

// True when none of the n values is NaN or infinite.
bool all_finite(const float* v, size_t n);

// Everything needed to encode and scan, kept as flat float arrays so the
// glue can write them to pages and read them back unchanged.
struct Codec {
    QuantizerKind kind = QuantizerKind::kSq8;
    Metric metric = Metric::kL2;
    size_t d = 0;
    size_t m = 0;              // PQ sub-quantizers (0 otherwise); d % m == 0
    bool residual = true;      // encode x - centroid (always false for flat)
    std::vector<float> sq_bias;      // SQ8: size d; decode_i = bias_i + step_i * code_i
    std::vector<float> sq_step;      // SQ8: size d
    std::vector<float> pq_codebooks; // PQ: layout (m, 256, d / m)
    // PQ: the same codebooks laid out (m, d / m, 256), so a query's ADC table
    // is built 256 centroids at a time in SIMD.  Derived; see index_codebooks().
    std::vector<float> pq_codebooks_by_dim;

    size_t code_size() const;        // sq8: d, pq: m, flat: 4 * d
    size_t entry_bytes() const { return entry_size(code_size()); }
    // Trained parameters as one float array (sq_bias ++ sq_step ++ pq_codebooks).
    std::vector<float> parameters() const;
    // Inverse of parameters(); throws std::invalid_argument on a size mismatch.
    static Codec from_parameters(QuantizerKind kind, Metric metric, size_t d, size_t m, bool residual,
                                 const float* params, size_t n_params);
    size_t parameter_count() const;
    // True when every trained parameter is finite: what from_parameters() accepts.
    bool parameters_finite() const;
    // Fills pq_codebooks_by_dim from pq_codebooks (no-op for other quantizers).
    void index_codebooks();
};

struct CodecOptions {
    QuantizerKind kind = QuantizerKind::kSq8;
    Metric metric = Metric::kL2;
    size_t m = 0;              // PQ only
    bool residual = true;
    int pq_iterations = 25;
    uint64_t seed = 1234;
    int threads = 1;
};

// Trains on n sample rows x (n * d; unit length under cosine) whose nearest
// centroids are labels[n] into centroids (k * d).  n == 0 gives a usable codec
// (every row then carries a large err and is re-ranked exactly).  PQ codebooks
// are trained with train_kmeans_batch through `assigner`.
Codec train_codec(const CodecOptions& options, const float* x, size_t n, size_t d,
                  const float* centroids, const int32_t* labels, Assigner& assigner,
                  const Hooks& hooks);

// Bytes train_codec allocates beyond its inputs.
size_t codec_training_memory_bytes(const CodecOptions& options, size_t n, size_t d);

// Encodes n rows (unit length under cosine) into entries at out + i * stride,
// writing err and code and leaving the first kEntryTidBytes untouched.
// centroids/labels give each row's list (ignored when !codec.residual).
// Under cosine each row must be the raw row times one scalar, rounded once per
// element (e.g. y_i = x_i / norm); the stored err covers that rounding.
void encode_rows(const Codec& codec, const float* x, size_t n, const float* centroids,
                 const int32_t* labels, uint8_t* out, size_t stride, int threads);

// Under cosine the stored bounds assume the raw (un-normalized) row's squared
// norm lies in [kCosineMinSquaredNorm, kCosineMaxSquaredNorm), where the SQL
// operator's float norms neither overflow nor lose accuracy to underflow; the
// glue calls mark_entry_unbounded() on the entry of any row outside it.
constexpr double kCosineMinSquaredNorm = 0x1p-90;
constexpr double kCosineMaxSquaredNorm = 0x1p126;

// Sets the entry's err to +inf: its bound becomes trivial (0, or -inf under
// IP), always correct but never selective.
void mark_entry_unbounded(uint8_t* entry);

// Per-query state.  For every entry, lower_bounds() yields a value that is
// never above what the SQL operator (<->, <#>, <=>) returns for the exact heap
// vector, float rounding included, so the executor's recheck never sees an
// index value above the true distance.
class QueryScanner {
public:
    // q is the raw query (size codec.d); the scanner normalizes it for cosine.
    QueryScanner(const Codec& codec, const float* q);
    // Distance used to rank lists: L2 squared, -dot for IP, -dot with the
    // normalized query for cosine.  Smaller is nearer.
    float list_distance(const float* centroid) const;
    // Prepares per-list tables; call before lower_bounds() for that list.
    void set_list(const float* centroid);
    // out[i] for the entry at entries + i * stride.
    // When approx is not null, approx[i] also receives the estimate
    // approximate() gives, rounded to float, from the same kernel call.
    void lower_bounds(const uint8_t* entries, size_t n, size_t stride, float* out,
                      float* approx = nullptr) const;
    // L2 only (else false): a scan may order entries by quick_bounds() keys and
    // compute exact_bound() only for those that reach the top (bounds.h,
    // QUICK BOUND).
    bool has_quick_bounds() const;
    // For the entry at entries + i * stride: key[i], never above its
    // lower_bounds() value, and the kernel[i] and err[i] that exact_bound()
    // turns into that value.
    // With `settled` (SQ8; other quantizers set every settled[i] = 0) the
    // scanner first takes an integer key (bounds.h, INTEGER QUICK BOUND) and
    // runs the float kernel only for rows whose key is below the
    // kQuickRefineRows-th smallest estimate ||q - x~|| + err of the rows
    // refined so far in this query: the others get settled[i] = 1, key[i] is
    // then their final bound (a valid one, never above lower_bounds()) and
    // kernel[i] = 0.  Which rows settle only changes how tight bounds are.
    void quick_bounds(const uint8_t* entries, size_t n, size_t stride, float* key, float* kernel, float* err,
                      uint8_t* settled = nullptr);
    // The number of estimates quick_bounds() refines unconditionally
    // (default kQuickRefineRows); 0 settles every row it can (tests).
    void set_refine_rows(size_t rows);
    float exact_bound(float kernel, float err) const;
    // A hint: [p, p + bytes) is what the scan reads after its next
    // lower_bounds()/quick_bounds() call (the list's next page).  That call
    // prefetches it a share per row, and the call that reads it then skips
    // its own up-front prefetch.  Only prefetched, never read: any address is
    // safe, and results do not depend on it.
    void prefetch_next(const void* p, size_t bytes);
    // A lower bound of the operator value of every row stored in the list of
    // `centroid`, from the fact that each row went to its nearest centroid and
    // not to `other` (another list's centroid; see LIST BOUND in bounds.h).
    // Trivial under inner product.  Under cosine it does not cover rows marked
    // with mark_entry_unbounded().
    float list_lower_bound(const float* other, const float* centroid) const;
    // The same under inner product with the MIPS reduction (mips.h): both
    // centroids with their extra coordinates, max_norm2 the index's M^2 (see
    // MIPS LIST BOUND in bounds.h).  Valid only while no row's squared norm
    // exceeds max_norm2; trivial for other metrics or max_norm2 = 0.
    float mips_list_lower_bound(const float* other, float other_extra, const float* centroid, float centroid_extra,
                                double max_norm2) const;
    // The range of operator values a row is likely to have (not a guarantee;
    // rerank.h): the code's estimate approx[i] (from lower_bounds()) minus
    // the share z of the entry's guaranteed error interval, plus the share
    // z_hi.  z = z_hi = 1 gives the guaranteed interval without float slack;
    // z = z_hi = 0 gives lo = hi = approx.  Otherwise unbounded entries get
    // (-inf, +inf); NaN estimates give NaN.
    void likely_range(const uint8_t* entries, size_t n, size_t stride, const float* approx, double z, double z_hi,
                      float* lo, float* hi) const;
    // True when the query is the zero vector under cosine: every distance is NaN.
    bool query_is_degenerate() const;
    // out[i] = the quantized estimate of the operator value for the entry at
    // entries + i * stride, without any slack: ||q - x~||, -<q, x~>, and
    // ||qn - x~||^2 / 2 under cosine (qn = normalized query).  For tests and
    // diagnostics, not an ordering guarantee.
    void approximate(const uint8_t* entries, size_t n, size_t stride, double* out) const;
    ~QueryScanner();
    QueryScanner(const QueryScanner&) = delete;
    QueryScanner& operator=(const QueryScanner&) = delete;
private:
    struct State;                // per-query and per-list tables, bound constants (scanner.cpp)
    // The kernel value of one entry: L2 squared, or the estimate of <q, x~>.
    double kernel_value(const uint8_t* entry, float* unaligned_scratch) const;
    // The operator-scale estimate approximate() reports for a kernel value.
    double estimate(double kernel) const;
    // SQ8 L2: the query on the code grid for the current list (quick_bounds()).
    void prepare_int_list();
    void integer_bounds(const uint8_t* entries, size_t n, size_t stride, float* key, float* kernel, float* err,
                        uint8_t* settled);
    const Codec& codec_;
    std::vector<float> q_;       // normalized under cosine
    std::unique_ptr<State> state_;
};

// quick_bounds(): rows whose float kernel runs unconditionally, as the
// nearest estimates a LIMIT is likely to reach; a larger LIMIT still gets
// exact order, from looser bounds for the rows beyond.
constexpr size_t kQuickRefineRows = 64;

// Indices of the `count` nearest of k centroids to the scanner's query, nearest first.
std::vector<int32_t> nearest_lists(const QueryScanner& scanner, const float* centroids, size_t k,
                                   size_t d, size_t count);

}  // namespace pg_ivf::core
