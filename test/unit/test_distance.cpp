// Distance kernels: every SIMD table this CPU runs is checked against the
// scalar reference for every length 1..2000 at unaligned offsets, near a
// guard page, and on edge values; dispatch is checked against the CPU.
#include "core/distance.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace pg_ivf::core {
namespace {

constexpr size_t kMaxLen = 2000;

// The level the CPU itself offers, computed independently of distance.cpp.
SimdLevel cpu_max_level() {
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl");
    return avx512 ? SimdLevel::kAvx512 : avx2 ? SimdLevel::kAvx2 : SimdLevel::kScalar;
}

// 64-byte aligned storage so "offset k floats" really means misaligned by k.
template <typename T>
class AlignedBuf {
public:
    explicit AlignedBuf(size_t n) : raw_(n + 64 / sizeof(T) + 64) {
        uintptr_t p = reinterpret_cast<uintptr_t>(raw_.data());
        base_ = reinterpret_cast<T*>((p + 63) & ~uintptr_t(63));
    }
    T* at(size_t offset) { return base_ + offset; }

private:
    std::vector<T> raw_;
    T* base_;
};

// Memory whose end touches a PROT_NONE page: any read past the end faults.
class GuardedBuf {
public:
    explicit GuardedBuf(size_t bytes) {
        page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
        data_bytes_ = (bytes + page_ - 1) / page_ * page_;
        void* p = mmap(nullptr, data_bytes_ + page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) std::abort();
        base_ = static_cast<char*>(p);
        if (mprotect(base_ + data_bytes_, page_, PROT_NONE) != 0) std::abort();
    }
    ~GuardedBuf() { munmap(base_, data_bytes_ + page_); }
    GuardedBuf(const GuardedBuf&) = delete;
    GuardedBuf& operator=(const GuardedBuf&) = delete;
    // n elements ending exactly at the guard page.
    template <typename T>
    T* tail(size_t n) {
        return reinterpret_cast<T*>(base_ + data_bytes_ - n * sizeof(T));
    }

private:
    size_t page_ = 0;
    size_t data_bytes_ = 0;
    char* base_ = nullptr;
};

// Tolerance for two summation orders of random terms: a small multiple of
// the sum of absolute terms (tight enough to catch a dropped element).
double tol(double abs_terms) { return 1e-5 * abs_terms + 1e-30; }

// Rigorous bound on the gap between two summation orders of d terms
// (recursive summation errs by at most (d - 1) * 2^-24 * sum|terms|).
double order_bound(size_t d, double abs_terms) { return 2.0 * double(d) * 0x1p-24 * abs_terms; }

// NaN matches only NaN, inf only the same inf, finite values within tolerance.
bool close(float got, float want, double tolerance) {
    if (std::isnan(want) || std::isnan(got)) return std::isnan(want) && std::isnan(got);
    if (std::isinf(want) || std::isinf(got)) return got == want;
    return std::fabs(double(got) - double(want)) <= tolerance;
}

// Collects mismatches so one bug prints a few lines, not thousands.
class Mismatches {
public:
    void check(const char* what, size_t d, size_t off, float got, float want, double abs_terms) {
        ++checks_;
        if (close(got, want, tol(abs_terms))) return;
        if (++count_ <= 5)
            msgs_ << what << " d=" << d << " off=" << off << " got=" << got << " want=" << want
                  << " sum|terms|=" << abs_terms << "\n";
    }
    size_t count() const { return count_; }
    size_t checks() const { return checks_; }
    std::string text() const { return msgs_.str(); }

private:
    size_t count_ = 0;
    size_t checks_ = 0;
    std::ostringstream msgs_;
};

#define EXPECT_NO_MISMATCH(m)                  \
    do {                                       \
        EXPECT_GT((m).checks(), 0u);           \
        EXPECT_EQ((m).count(), 0u) << (m).text(); \
    } while (0)

void fill(std::mt19937& rng, float* p, size_t n, float lo, float hi) {
    std::uniform_real_distribution<float> u(lo, hi);
    for (size_t i = 0; i < n; ++i) p[i] = u(rng);
}

void fill_codes(std::mt19937& rng, uint8_t* p, size_t n) {
    std::uniform_int_distribution<int> u(0, 255);
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(u(rng));
}

double abs_sq_diff(const float* a, const float* b, size_t d) {
    double s = 0;
    for (size_t i = 0; i < d; ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    return s;
}
double abs_prod(const float* a, const float* b, size_t d) {
    double s = 0;
    for (size_t i = 0; i < d; ++i) s += std::fabs(double(a[i]) * b[i]);
    return s;
}
double abs_diff(const float* a, const float* b, size_t d) {
    double s = 0;
    for (size_t i = 0; i < d; ++i) s += std::fabs(double(a[i]) - b[i]);
    return s;
}
double abs_sq8_l2(const float* a, const float* step, const uint8_t* c, size_t d) {
    double s = 0;
    for (size_t i = 0; i < d; ++i) {
        double t = double(a[i]) - double(step[i]) * c[i];
        s += t * t;
    }
    return s;
}
double abs_sq8_dot(const float* w, const uint8_t* c, size_t d) {
    double s = 0;
    for (size_t i = 0; i < d; ++i) s += std::fabs(double(w[i]) * c[i]);
    return s;
}
double abs_pq(const float* table, const uint8_t* c, size_t m) {
    double s = 0;
    for (size_t j = 0; j < m; ++j) s += std::fabs(double(table[j * 256 + c[j]]));
    return s;
}

// Signed double-precision sums, to check the scalar reference itself.
double ref_dot(const float* a, const float* b, size_t d) {
    double s = 0;
    for (size_t i = 0; i < d; ++i) s += double(a[i]) * b[i];
    return s;
}
double ref_sq8_dot(const float* w, const uint8_t* c, size_t d) {
    double s = 0;
    for (size_t i = 0; i < d; ++i) s += double(w[i]) * c[i];
    return s;
}
double ref_pq(const float* table, const uint8_t* c, size_t m) {
    double s = 0;
    for (size_t j = 0; j < m; ++j) s += table[j * 256 + c[j]];
    return s;
}

// Random inputs shared by every test: three float arrays, codes, a PQ table.
struct Data {
    AlignedBuf<float> a{kMaxLen + 8}, b{kMaxLen + 8}, step{kMaxLen + 8};
    AlignedBuf<uint8_t> code{kMaxLen + 8};
    AlignedBuf<float> table{kMaxLen * 256 + 8};
    explicit Data(uint32_t seed) {
        std::mt19937 rng(seed);
        fill(rng, a.at(0), kMaxLen + 8, -1.0f, 1.0f);
        fill(rng, b.at(0), kMaxLen + 8, -1.0f, 1.0f);
        fill(rng, step.at(0), kMaxLen + 8, 0.0f, 2.0f / 255.0f);
        fill_codes(rng, code.at(0), kMaxLen + 8);
        fill(rng, table.at(0), kMaxLen * 256 + 8, -4.0f, 4.0f);
    }
};

Data& shared_data() {
    static Data data(20240611u);
    return data;
}

// ---------------------------------------------------------------- scalar reference

TEST(DistanceScalar, MatchesDoublePrecision) {
    const Kernels& s = scalar_kernels();
    Data& x = shared_data();
    const float* a = x.a.at(1);
    const float* b = x.b.at(2);
    const float* st = x.step.at(3);
    const uint8_t* c = x.code.at(1);
    const float* t = x.table.at(1);
    Mismatches m;
    for (size_t d = 1; d <= kMaxLen; ++d) {
        double l2 = abs_sq_diff(a, b, d), pr = abs_prod(a, b, d), l1 = abs_diff(a, b, d);
        m.check("l2", d, 0, s.l2_squared(a, b, d), float(l2), l2);
        m.check("dot", d, 0, s.dot(a, b, d), float(ref_dot(a, b, d)), pr);
        m.check("l1", d, 0, s.l1(a, b, d), float(l1), l1);
        float ab, aa, bb;
        s.dot_and_norms(a, b, d, &ab, &aa, &bb);
        m.check("dn.ab", d, 0, ab, float(ref_dot(a, b, d)), pr);
        m.check("dn.aa", d, 0, aa, float(ref_dot(a, a, d)), ref_dot(a, a, d));
        m.check("dn.bb", d, 0, bb, float(ref_dot(b, b, d)), ref_dot(b, b, d));
        double q = abs_sq8_l2(a, st, c, d);
        m.check("sq8_l2", d, 0, s.sq8_l2_squared(a, st, c, d), float(q), q);
        m.check("sq8_dot", d, 0, s.sq8_dot(a, c, d), float(ref_sq8_dot(a, c, d)), abs_sq8_dot(a, c, d));
        m.check("pq", d, 0, s.pq_adc(t, c, d), float(ref_pq(t, c, d)), abs_pq(t, c, d));
    }
    EXPECT_NO_MISMATCH(m);
}

TEST(DistanceScalar, SmallExactValues) {
    const Kernels& s = scalar_kernels();
    const float a[3] = {1.0f, -2.0f, 3.0f};
    const float b[3] = {4.0f, 0.0f, -1.0f};
    EXPECT_EQ(s.l2_squared(a, b, 3), 9.0f + 4.0f + 16.0f);
    EXPECT_EQ(s.dot(a, b, 3), 4.0f + 0.0f - 3.0f);
    EXPECT_EQ(s.l1(a, b, 3), 3.0f + 2.0f + 4.0f);
    float ab, aa, bb;
    s.dot_and_norms(a, b, 3, &ab, &aa, &bb);
    EXPECT_EQ(ab, 1.0f);
    EXPECT_EQ(aa, 14.0f);
    EXPECT_EQ(bb, 17.0f);
    const float step[3] = {0.5f, 1.0f, 2.0f};
    const uint8_t code[3] = {2, 255, 1};
    // a - step*code = {0, -257, 1}
    EXPECT_EQ(s.sq8_l2_squared(a, step, code, 3), 0.0f + 257.0f * 257.0f + 1.0f);
    EXPECT_EQ(s.sq8_dot(a, code, 3), 2.0f - 510.0f + 3.0f);
}

// ---------------------------------------------------------------- SIMD vs scalar

class DistanceLevel : public ::testing::TestWithParam<SimdLevel> {
protected:
    void SetUp() override {
        k_ = kernels_for(GetParam());
        if (k_ == nullptr) GTEST_SKIP() << simd_level_name(GetParam()) << " not supported by this CPU";
    }
    const Kernels* k_ = nullptr;
    const Kernels& s_ = scalar_kernels();
};

TEST_P(DistanceLevel, L2AllLengthsUnaligned) {
    Data& x = shared_data();
    Mismatches m;
    for (size_t off = 1; off <= 3; ++off) {
        const float* a = x.a.at(off);
        const float* b = x.b.at(off % 3 + 1);
        for (size_t d = 1; d <= kMaxLen; ++d)
            m.check("l2", d, off, k_->l2_squared(a, b, d), s_.l2_squared(a, b, d), abs_sq_diff(a, b, d));
    }
    EXPECT_NO_MISMATCH(m);
}

TEST_P(DistanceLevel, DotAllLengthsUnaligned) {
    Data& x = shared_data();
    Mismatches m;
    for (size_t off = 1; off <= 3; ++off) {
        const float* a = x.a.at(off);
        const float* b = x.b.at(off % 3 + 1);
        for (size_t d = 1; d <= kMaxLen; ++d)
            m.check("dot", d, off, k_->dot(a, b, d), s_.dot(a, b, d), abs_prod(a, b, d));
    }
    EXPECT_NO_MISMATCH(m);
}

TEST_P(DistanceLevel, L1AllLengthsUnaligned) {
    Data& x = shared_data();
    Mismatches m;
    for (size_t off = 1; off <= 3; ++off) {
        const float* a = x.a.at(off);
        const float* b = x.b.at(off % 3 + 1);
        for (size_t d = 1; d <= kMaxLen; ++d)
            m.check("l1", d, off, k_->l1(a, b, d), s_.l1(a, b, d), abs_diff(a, b, d));
    }
    EXPECT_NO_MISMATCH(m);
}

TEST_P(DistanceLevel, DotAndNormsAllLengthsUnaligned) {
    Data& x = shared_data();
    Mismatches m;
    for (size_t off = 1; off <= 3; ++off) {
        const float* a = x.a.at(off);
        const float* b = x.b.at(off % 3 + 1);
        for (size_t d = 1; d <= kMaxLen; ++d) {
            float ab, aa, bb, rab, raa, rbb;
            k_->dot_and_norms(a, b, d, &ab, &aa, &bb);
            s_.dot_and_norms(a, b, d, &rab, &raa, &rbb);
            m.check("dn.ab", d, off, ab, rab, abs_prod(a, b, d));
            m.check("dn.aa", d, off, aa, raa, abs_prod(a, a, d));
            m.check("dn.bb", d, off, bb, rbb, abs_prod(b, b, d));
        }
    }
    EXPECT_NO_MISMATCH(m);
}

TEST_P(DistanceLevel, Sq8L2AllLengthsUnaligned) {
    Data& x = shared_data();
    Mismatches m;
    for (size_t off = 1; off <= 3; ++off) {
        const float* a = x.a.at(off);
        const float* st = x.step.at(off % 3 + 1);
        const uint8_t* c = x.code.at(off);
        for (size_t d = 1; d <= kMaxLen; ++d)
            m.check("sq8_l2", d, off, k_->sq8_l2_squared(a, st, c, d), s_.sq8_l2_squared(a, st, c, d),
                    abs_sq8_l2(a, st, c, d));
    }
    EXPECT_NO_MISMATCH(m);
}

TEST_P(DistanceLevel, Sq8DotAllLengthsUnaligned) {
    Data& x = shared_data();
    Mismatches m;
    for (size_t off = 1; off <= 3; ++off) {
        const float* w = x.a.at(off);
        const uint8_t* c = x.code.at(off % 3 + 1);
        for (size_t d = 1; d <= kMaxLen; ++d)
            m.check("sq8_dot", d, off, k_->sq8_dot(w, c, d), s_.sq8_dot(w, c, d), abs_sq8_dot(w, c, d));
    }
    EXPECT_NO_MISMATCH(m);
}

TEST_P(DistanceLevel, PqAdcAllLengthsUnaligned) {
    Data& x = shared_data();
    Mismatches m;
    for (size_t off = 1; off <= 3; ++off) {
        const float* t = x.table.at(off);
        const uint8_t* c = x.code.at(off % 3 + 1);
        for (size_t d = 1; d <= kMaxLen; ++d)
            m.check("pq", d, off, k_->pq_adc(t, c, d), s_.pq_adc(t, c, d), abs_pq(t, c, d));
    }
    EXPECT_NO_MISMATCH(m);
}

// Inputs end right at an unreadable page: a tail that over-reads crashes.
TEST_P(DistanceLevel, NoReadPastTheEnd) {
    GuardedBuf ga(kMaxLen * 4), gb(kMaxLen * 4), gs(kMaxLen * 4), gc(kMaxLen);
    std::mt19937 rng(7);
    fill(rng, ga.tail<float>(kMaxLen), kMaxLen, -1.0f, 1.0f);
    fill(rng, gb.tail<float>(kMaxLen), kMaxLen, -1.0f, 1.0f);
    fill(rng, gs.tail<float>(kMaxLen), kMaxLen, 0.0f, 0.01f);
    fill_codes(rng, gc.tail<uint8_t>(kMaxLen), kMaxLen);
    Data& x = shared_data();
    Mismatches m;
    for (size_t d = 1; d <= kMaxLen; ++d) {
        const float* a = ga.tail<float>(d);
        const float* b = gb.tail<float>(d);
        const float* st = gs.tail<float>(d);
        const uint8_t* c = gc.tail<uint8_t>(d);
        m.check("l2", d, 0, k_->l2_squared(a, b, d), s_.l2_squared(a, b, d), abs_sq_diff(a, b, d));
        m.check("dot", d, 0, k_->dot(a, b, d), s_.dot(a, b, d), abs_prod(a, b, d));
        m.check("l1", d, 0, k_->l1(a, b, d), s_.l1(a, b, d), abs_diff(a, b, d));
        float ab, aa, bb, rab, raa, rbb;
        k_->dot_and_norms(a, b, d, &ab, &aa, &bb);
        s_.dot_and_norms(a, b, d, &rab, &raa, &rbb);
        m.check("dn.ab", d, 0, ab, rab, abs_prod(a, b, d));
        m.check("dn.aa", d, 0, aa, raa, abs_prod(a, a, d));
        m.check("dn.bb", d, 0, bb, rbb, abs_prod(b, b, d));
        m.check("sq8_l2", d, 0, k_->sq8_l2_squared(a, st, c, d), s_.sq8_l2_squared(a, st, c, d),
                abs_sq8_l2(a, st, c, d));
        m.check("sq8_dot", d, 0, k_->sq8_dot(a, c, d), s_.sq8_dot(a, c, d), abs_sq8_dot(a, c, d));
        m.check("pq", d, 0, k_->pq_adc(x.table.at(0), c, d), s_.pq_adc(x.table.at(0), c, d),
                abs_pq(x.table.at(0), c, d));
    }
    EXPECT_NO_MISMATCH(m);
}

TEST_P(DistanceLevel, ZerosGiveExactZero) {
    std::vector<float> z(kMaxLen + 3, 0.0f);
    std::vector<uint8_t> zc(kMaxLen + 3, 0);
    std::vector<float> table(kMaxLen * 256, 0.0f);
    for (size_t d : {size_t(0), size_t(1), size_t(7), size_t(16), size_t(33), size_t(100), kMaxLen}) {
        SCOPED_TRACE(d);
        EXPECT_EQ(k_->l2_squared(z.data() + 1, z.data() + 2, d), 0.0f);
        EXPECT_EQ(k_->dot(z.data() + 1, z.data() + 2, d), 0.0f);
        EXPECT_EQ(k_->l1(z.data() + 1, z.data() + 2, d), 0.0f);
        float ab = -1, aa = -1, bb = -1;
        k_->dot_and_norms(z.data() + 1, z.data() + 2, d, &ab, &aa, &bb);
        EXPECT_EQ(ab, 0.0f);
        EXPECT_EQ(aa, 0.0f);
        EXPECT_EQ(bb, 0.0f);
        EXPECT_EQ(k_->sq8_l2_squared(z.data() + 1, z.data() + 2, zc.data() + 1, d), 0.0f);
        EXPECT_EQ(k_->sq8_dot(z.data() + 1, zc.data() + 1, d), 0.0f);
        EXPECT_EQ(k_->pq_adc(table.data(), zc.data() + 1, d), 0.0f);
    }
}

TEST_P(DistanceLevel, LengthOneExact) {
    const float a[2] = {0.0f, 3.0f}, b[2] = {0.0f, -1.5f}, st[2] = {0.0f, 0.25f};
    const uint8_t c[2] = {0, 200};
    EXPECT_EQ(k_->l2_squared(a + 1, b + 1, 1), 20.25f);
    EXPECT_EQ(k_->dot(a + 1, b + 1, 1), -4.5f);
    EXPECT_EQ(k_->l1(a + 1, b + 1, 1), 4.5f);
    float ab, aa, bb;
    k_->dot_and_norms(a + 1, b + 1, 1, &ab, &aa, &bb);
    EXPECT_EQ(ab, -4.5f);
    EXPECT_EQ(aa, 9.0f);
    EXPECT_EQ(bb, 2.25f);
    EXPECT_EQ(k_->sq8_l2_squared(a + 1, st + 1, c + 1, 1), (3.0f - 50.0f) * (3.0f - 50.0f));
    EXPECT_EQ(k_->sq8_dot(b + 1, c + 1, 1), -300.0f);
    std::vector<float> table(256);
    for (int i = 0; i < 256; ++i) table[i] = float(i) * 0.5f;
    EXPECT_EQ(k_->pq_adc(table.data(), c + 1, 1), 100.0f);
}

// Overflow must surface as inf exactly as in scalar.  Only order-independent
// cases: same-sign terms, or per-term overflow.  Mixed-sign overflow through
// FMA (which does not round the product) may give inf where scalar gives NaN.
TEST_P(DistanceLevel, LargeMagnitudesOverflowLikeScalar) {
    for (size_t d : {size_t(1), size_t(2), size_t(15), size_t(37), size_t(100), size_t(1000), size_t(1999)}) {
        SCOPED_TRACE(d);
        std::vector<float> p18(d + 1, 1e18f), n18(d + 1, -1e18f), p20(d + 1, 1e20f), alt(d + 1);
        for (size_t i = 0; i < d + 1; ++i) alt[i] = (i % 2 == 0) ? 1e20f : -1e20f;
        const float* pa = p18.data() + 1;
        const float* pb = n18.data() + 1;
        const float* pp = p20.data() + 1;
        const float* pl = alt.data() + 1;
        // (2e18)^2 = 4e36 per term: finite up to d = 37, inf once the sum passes FLT_MAX.
        float want = s_.l2_squared(pa, pb, d);
        float got = k_->l2_squared(pa, pb, d);
        EXPECT_EQ(std::isinf(want), d >= 100);
        EXPECT_TRUE(close(got, want, order_bound(d, 4e36 * double(d)))) << got << " vs " << want;
        float l1w = s_.l1(pa, pb, d), l1g = k_->l1(pa, pb, d);
        EXPECT_TRUE(close(l1g, l1w, order_bound(d, 2e18 * double(d)))) << l1g << " vs " << l1w;
        // 1e20^2 overflows every single term, whatever its sign.
        EXPECT_TRUE(std::isinf(s_.dot(pp, pp, d)));
        EXPECT_EQ(k_->dot(pp, pp, d), s_.dot(pp, pp, d));
        EXPECT_TRUE(std::isinf(s_.l2_squared(pp, pb, d)));
        EXPECT_EQ(k_->l2_squared(pp, pb, d), s_.l2_squared(pp, pb, d));
        EXPECT_EQ(k_->l2_squared(pl, pb, d), s_.l2_squared(pl, pb, d));
        float ab, aa, bb, rab, raa, rbb;
        k_->dot_and_norms(pl, pa, d, &ab, &aa, &bb);
        s_.dot_and_norms(pl, pa, d, &rab, &raa, &rbb);
        EXPECT_TRUE(std::isinf(raa));
        EXPECT_EQ(aa, raa);
        EXPECT_EQ(std::isinf(rbb), d >= 1000);
        EXPECT_TRUE(close(bb, rbb, order_bound(d, 1e36 * double(d)))) << bb << " vs " << rbb;
    }
}

// inf and NaN inputs propagate the same way at every level.
TEST_P(DistanceLevel, NonFiniteInputsPropagate) {
    const float inf = INFINITY;
    for (size_t d : {size_t(1), size_t(9), size_t(40), size_t(100), size_t(1000)}) {
        SCOPED_TRACE(d);
        std::vector<float> a(d, 0.5f), b(d, 0.25f), ones(d, 1.0f);
        std::vector<uint8_t> c(d, 3);
        size_t last = d - 1;
        a[last] = NAN;
        EXPECT_TRUE(std::isnan(k_->l2_squared(a.data(), b.data(), d)));
        EXPECT_TRUE(std::isnan(k_->dot(a.data(), b.data(), d)));
        EXPECT_TRUE(std::isnan(k_->l1(a.data(), b.data(), d)));
        EXPECT_TRUE(std::isnan(k_->sq8_l2_squared(a.data(), b.data(), c.data(), d)));
        EXPECT_TRUE(std::isnan(k_->sq8_dot(a.data(), c.data(), d)));
        a[last] = inf;
        EXPECT_EQ(k_->l2_squared(a.data(), b.data(), d), inf);
        EXPECT_EQ(k_->dot(a.data(), b.data(), d), inf);
        EXPECT_EQ(k_->l1(a.data(), b.data(), d), inf);
        float ab, aa, bb;
        k_->dot_and_norms(a.data(), b.data(), d, &ab, &aa, &bb);
        EXPECT_EQ(ab, inf);
        EXPECT_EQ(aa, inf);
        EXPECT_EQ(bb, s_.dot(b.data(), b.data(), d));
        if (d >= 2) {
            a[0] = -inf;  // +inf and -inf terms: NaN in any order
            EXPECT_TRUE(std::isnan(k_->dot(a.data(), ones.data(), d)));
            EXPECT_TRUE(std::isnan(s_.dot(a.data(), ones.data(), d)));
            EXPECT_EQ(k_->l1(a.data(), b.data(), d), inf);
        }
    }
}

// Codes 0 and 255 must widen as unsigned; results are small integers, so exact.
TEST_P(DistanceLevel, Sq8ExtremeCodes) {
    std::vector<float> zero(kMaxLen + 1, 0.0f), one(kMaxLen + 1, 1.0f), a255(kMaxLen + 1, 255.0f);
    std::vector<uint8_t> c0(kMaxLen + 1, 0), c255(kMaxLen + 1, 255), calt(kMaxLen + 1);
    for (size_t i = 0; i < calt.size(); ++i) calt[i] = (i % 3 == 0) ? 255 : 0;
    for (size_t d = 1; d <= 258; ++d) {
        SCOPED_TRACE(d);
        const float* z = zero.data() + 1;
        const float* o = one.data() + 1;
        EXPECT_EQ(k_->sq8_l2_squared(o, o, c0.data() + 1, d), float(d));
        EXPECT_EQ(k_->sq8_l2_squared(a255.data() + 1, o, c255.data() + 1, d), 0.0f);
        EXPECT_EQ(k_->sq8_l2_squared(z, o, c255.data() + 1, d), 65025.0f * float(d));
        EXPECT_EQ(k_->sq8_dot(o, c255.data() + 1, d), 255.0f * float(d));
        EXPECT_EQ(k_->sq8_dot(o, c0.data() + 1, d), 0.0f);
        size_t n255 = 0;
        for (size_t i = 0; i < d; ++i) n255 += calt[i + 1] == 255;
        EXPECT_EQ(k_->sq8_l2_squared(z, o, calt.data() + 1, d), 65025.0f * float(n255));
        EXPECT_EQ(k_->sq8_dot(o, calt.data() + 1, d), 255.0f * float(n255));
    }
}

// Each table cell holds a distinct integer, so any wrong index shows up exactly.
TEST_P(DistanceLevel, PqAdcIndexesEverySubquantizer) {
    const size_t m_max = 100;
    std::vector<float> table(m_max * 256);
    for (size_t j = 0; j < m_max; ++j)
        for (size_t c = 0; c < 256; ++c) table[j * 256 + c] = float(j * 1000 + c);
    std::mt19937 rng(11);
    std::vector<uint8_t> code(m_max);
    for (size_t m = 1; m <= m_max; ++m) {
        SCOPED_TRACE(m);
        fill_codes(rng, code.data(), m);
        code[0] = 0;
        code[m - 1] = 255;
        double want = 0;
        for (size_t j = 0; j < m; ++j) want += double(j * 1000 + code[j]);
        EXPECT_EQ(k_->pq_adc(table.data(), code.data(), m), float(want));
    }
}

// The integer SQ8 kernel is exact: every level equals the scalar sum and a
// 64-bit sum in the test, at every length and offset, ending at an unreadable
// page, at the extremes of its input range, and at d = 16000 where int32
// lanes without the chunking would overflow.
uint64_t int_reference(const int16_t* t, const int16_t* w, const uint8_t* c, size_t d) {
    uint64_t s = 0;
    for (size_t i = 0; i < d; ++i) s += uint64_t(int64_t(w[i]) * (t[i] - c[i]) * (t[i] - c[i]));
    return s;
}

TEST_P(DistanceLevel, Sq8IntExactAllLengthsUnaligned) {
    GuardedBuf gt(kMaxLen * 2), gw(kMaxLen * 2), gc(kMaxLen);
    std::mt19937 rng(23);
    std::vector<int16_t> t(kMaxLen + 3), w(kMaxLen + 3);
    std::vector<uint8_t> c(kMaxLen + 3);
    for (size_t i = 0; i < t.size(); ++i) {
        t[i] = int16_t(rng() % 256);
        w[i] = int16_t(rng() % (kSq8IntMaxWeight + 1));
        c[i] = uint8_t(rng());
    }
    std::memcpy(gt.tail<int16_t>(kMaxLen), t.data(), kMaxLen * 2);
    std::memcpy(gw.tail<int16_t>(kMaxLen), w.data(), kMaxLen * 2);
    std::memcpy(gc.tail<uint8_t>(kMaxLen), c.data(), kMaxLen);
    size_t bad = 0;
    for (size_t d = 0; d <= kMaxLen; ++d) {
        for (size_t off = 0; off <= 2; ++off) {
            const uint64_t want = int_reference(t.data() + off, w.data() + 1, c.data() + 2 - off, d);
            if (k_->sq8_l2_int(t.data() + off, w.data() + 1, c.data() + 2 - off, d) != want) ++bad;
            if (s_.sq8_l2_int(t.data() + off, w.data() + 1, c.data() + 2 - off, d) != want) ++bad;
        }
        const int16_t* tt = gt.tail<int16_t>(d);
        const int16_t* ww = gw.tail<int16_t>(d);
        const uint8_t* cc = gc.tail<uint8_t>(d);
        if (k_->sq8_l2_int(tt, ww, cc, d) != int_reference(tt, ww, cc, d)) ++bad;
    }
    EXPECT_EQ(bad, 0u);
}

TEST_P(DistanceLevel, Sq8IntExtremesDoNotOverflow) {
    const size_t n = 16000;
    std::vector<int16_t> t0(n + 1, 0), t255(n + 1, 255), w(n + 1, kSq8IntMaxWeight), wmix(n + 1);
    std::vector<uint8_t> c0(n + 1, 0), c255(n + 1, 255);
    for (size_t i = 0; i < wmix.size(); ++i) wmix[i] = int16_t(i % 2 ? kSq8IntMaxWeight : 0);
    const uint64_t top = uint64_t(kSq8IntMaxWeight) * 255 * 255;
    for (size_t d : {size_t(1), size_t(31), size_t(32), size_t(2047), size_t(2048), size_t(2049), size_t(4100), n}) {
        SCOPED_TRACE(d);
        EXPECT_EQ(k_->sq8_l2_int(t0.data() + 1, w.data() + 1, c255.data() + 1, d), top * d);
        EXPECT_EQ(k_->sq8_l2_int(t255.data() + 1, w.data(), c0.data(), d), top * d);
        EXPECT_EQ(k_->sq8_l2_int(t255.data(), w.data(), c255.data() + 1, d), 0u);
        EXPECT_EQ(k_->sq8_l2_int(t0.data(), wmix.data(), c255.data(), d), int_reference(t0.data(), wmix.data(), c255.data(), d));
        EXPECT_EQ(s_.sq8_l2_int(t0.data() + 1, w.data() + 1, c255.data() + 1, d), top * d);
    }
}

std::string level_param_name(const ::testing::TestParamInfo<SimdLevel>& info) {
    return simd_level_name(info.param);
}

INSTANTIATE_TEST_SUITE_P(Simd, DistanceLevel, ::testing::Values(SimdLevel::kAvx2, SimdLevel::kAvx512),
                         level_param_name);

// ---------------------------------------------------------------- dispatch

TEST(DistanceDispatch, LevelNames) {
    EXPECT_STREQ(simd_level_name(SimdLevel::kScalar), "scalar");
    EXPECT_STREQ(simd_level_name(SimdLevel::kAvx2), "avx2");
    EXPECT_STREQ(simd_level_name(SimdLevel::kAvx512), "avx512");
}

TEST(DistanceDispatch, TablesMatchCpu) {
    SimdLevel cpu = cpu_max_level();
    EXPECT_EQ(kernels_for(SimdLevel::kScalar), &scalar_kernels());
    EXPECT_EQ(kernels_for(SimdLevel::kAvx2) != nullptr, cpu >= SimdLevel::kAvx2);
    EXPECT_EQ(kernels_for(SimdLevel::kAvx512) != nullptr, cpu >= SimdLevel::kAvx512);
    EXPECT_NE(kernels_for(SimdLevel::kAvx2), &scalar_kernels());
}

TEST(DistanceDispatch, BestLevelIsWhatTheCpuHas) {
    SimdLevel cpu = cpu_max_level();
    SimdLevel best = best_simd_level();
    EXPECT_LE(best, cpu);
    if (best == SimdLevel::kAvx512) {
        EXPECT_TRUE(__builtin_cpu_supports("avx512f"));
    }
    if (std::getenv("PG_IVF_SIMD") == nullptr) {
        EXPECT_EQ(best, cpu) << simd_level_name(best);
    }
    EXPECT_EQ(&kernels(), kernels_for(best));
}

TEST(DistanceDispatch, WrappersUseTheBestTable) {
    Data& x = shared_data();
    const float* a = x.a.at(1);
    const float* b = x.b.at(2);
    const Kernels& k = kernels();
    EXPECT_EQ(l2_squared(a, b, 777), k.l2_squared(a, b, 777));
    EXPECT_EQ(dot(a, b, 777), k.dot(a, b, 777));
    EXPECT_EQ(l1(a, b, 777), k.l1(a, b, 777));
    EXPECT_EQ(squared_norm(a, 777), k.dot(a, a, 777));
}

// The choice is made once per process, so each cap runs in a fresh process
// (threadsafe death-test style re-executes the binary for the child).
TEST(DistanceDispatch, EnvironmentCapsTheLevel) {
    std::string saved = GTEST_FLAG_GET(death_test_style);
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    int cpu = static_cast<int>(cpu_max_level());
    struct Case {
        const char* value;
        int want;
    };
    const Case cases[] = {
        {"scalar", 0},
        {"avx2", cpu < 1 ? cpu : 1},
        {"avx512", cpu},
        {"bogus", cpu},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.value);
        EXPECT_EXIT(
            {
                setenv("PG_IVF_SIMD", c.value, 1);
                std::exit(static_cast<int>(best_simd_level()));
            },
            ::testing::ExitedWithCode(c.want), "");
    }
    GTEST_FLAG_SET(death_test_style, saved);
}

}  // namespace
}  // namespace pg_ivf::core
