// The float-slack arithmetic of the index, in one place: the per-row err that
// encode_rows() stores and the per-entry lower bound that QueryScanner returns.
// Everything else in core only measures norms and calls these functions.
#pragma once
#ifdef POSTGRES_H
#error "src/core headers must not be included after postgres.h"
#endif

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "codec.h"

namespace pg_ivf::core::bounds {

/*
 * DERIVATION
 * ==========
 * Goal: for every entry, a float lb with lb <= D_op, where D_op is what the SQL
 * operator returns for the raw heap vector x and the raw query q.  PostgreSQL
 * orders NaN above every number, so D_op = NaN is never a violation, and we
 * return NaN only when D_op is NaN for every row (zero query under cosine).
 *
 * Notation.  u = 2^-24 (float unit roundoff), ud = 2^-53 (double).
 * gamma_n = n u / (1 - n u), gammad_n the same with ud.  Norms are Euclidean.
 * Standard model: fl(a op b) = (a op b)(1 + delta) + eta, |delta| <= u, and
 * |eta| <= 2^-150 only when the result is subnormal (additions of floats are
 * exact then, so eta comes from products and FMAs only).
 *
 * (F1) Float sums.  A float dot product or sum of squares of d terms evaluated
 * in ANY order (lanes, trees, FMA or separate multiply) gives each term at most
 * one product rounding plus at most d - 1 addition roundings (adding an exact
 * zero from padding rounds nothing), so
 *     |fl(sum a_i b_i) - sum a_i b_i| <= gamma_d sum |a_i b_i| + d 2^-149
 * and for nonnegative terms fl(sum) lies in sum * [1 - gamma_d, 1 + gamma_d]
 * plus the same absolute d 2^-149 (underflow).  A PQ ADC sum of m table
 * entries, each a dsub-term sum, gives each term at most dsub + m - 1 <= d
 * roundings ((m-1)(dsub-1) >= 0), so gamma_d covers it too; the kernels below
 * use gamma_{d+1} to also absorb the one rounding of w_i = q_i step_i.
 *
 * Reconstruction.  The index represents row x by x~ = c + decode(code) (c = 0
 * without residual).  x~ is a real vector given exactly by floats: SQ8 x~_i =
 * c_i + bias_i + step_i code_i, PQ x~ = c + codeword(code), flat x~ = stored y.
 * At encode time e = ||xr - x~|| is computed in double, where xr = x under
 * L2/IP and xr = y / ||y|| under cosine (y = the normalized row the glue
 * passes).  e_upper() inflates it by the double rounding of that computation:
 * e_true <= e (1 + gD) + gD (||x|| + ||c|| + ||bias|| + ||code part||),
 * gD = gammad_{2d+16} (every coordinate goes through <= 4 double operations
 * and the sum of d squares plus a sqrt through d + 2 more).
 *
 * ---- L2:  D_op = fl_d(sqrt((double) S_op)), S_op = fl(sum (q_i - x_i)^2) ----
 * Operator.  fl(q_i - x_i) = (q_i - x_i)(1 + delta), squared and summed by (F1):
 *     S_op >= (1 - gamma_{d+2}) L^2 - d 2^-149,   L = ||q - x||
 *     D_op >= (1 - ud) (L (1 - gamma_{d+2}) - sqrt(d) 2^-74.5)      (L >= 0).
 * Scan.  The kernel evaluates t_i = fl(a_i - fl(step_i code_i)) (or one FMA)
 * with a_i = fl(fl(q_i - c_i) - bias_i) (SQ8), or t_i = fl(fl(q_i - c_i) - cb_i)
 * (PQ), or t_i = fl(q_i - y_i) (flat), and returns A = fl(sum t_i^2).  With
 * r = q - x~ exactly, each step adds one rounding of its own result, so
 *     |t_i - r_i| <= u |r_i| + k u (|q_i| + |c_i| + |bias_i| + |step_i code_i|),
 *     k = (1 + u)(2 + u) < 2.001
 * (the second term is absent when q is subtracted from a stored value in one
 * rounding: flat and PQ without residual).  By Minkowski, with the per-row
 * R = ||c|| + ||bias|| + ||step o code|| (PQ: R = ||c||):
 *     ||t|| <= (1 + u) ||r|| + k u ||q|| + k u R.
 * From (F1), A <= (1 + gamma_{d+1}) ||t||^2 + d 2^-149, hence
 *     ||t|| >= sqrt(A) (1 - gamma_{d+1}) - sqrt(d) 2^-74.5.
 * Triangle inequality: L >= ||r|| - e_true.  Chaining,
 *     L >= (sqrt(A)(1 - gamma_{d+1}) - k u ||q|| - err - sqrt(d) 2^-74.5) / (1 + u)
 * with the stored  err_l2 = (1 + u) e_upper + k u R.
 * Final: lb = (1 - ud)(L_lb (1 - gamma_{d+2})) - tau, tau = sqrt(d) 2^-70
 * (covers both underflow terms and the few subnormal element roundings), and
 * lb = max(0, lb) since D_op >= 0 always.
 *
 * ---- IP:  D_op = -(double) fl(sum q_i x_i) ----
 * Operator.  By (F1) and Cauchy-Schwarz, D_op >= -<q,x> - gamma_d ||q|| ||x|| - d 2^-149.
 * Reconstruction.  -<q,x> = -<q,x~> - <q,x - x~> >= -<q,x~> - ||q|| e_true.
 * Scan.  approx = K + T, K = <q, c + bias> (SQ8) or <q, c> (PQ) summed in
 * double from exact float products (error <= gammad_{2d} ||q|| (||c|| + ||bias||)),
 * and T = fl(sum w_i code_i) with w_i = fl(q_i step_i) (SQ8), the ADC sum of
 * float dot-product table entries (PQ), or fl(sum q_i y_i) (flat): by (F1)
 *     |T - <q, x~ - c - bias>| <= gamma_{d+1} ||q|| ||x~ - c - bias|| + d 2^-141
 * (255 * 2^-150 per w_i underflow).  Hence
 *     D_op >= -approx - ||q|| err_ip - tau,  tau = d 2^-130,
 *     err_ip = e_upper + gamma_d ||x|| + gamma_{d+1} ||code part|| + gammad_{2d+2} (||c|| + ||bias||).
 * Overflow: if ||q|| < 2^63 and ||x|| < 2^63 no partial sum of the operator can
 * overflow (|partial| <= (1 + gamma_d) ||q|| ||x|| < 2^127).  A row with
 * ||x|| >= 2^63 stores err = +inf and a query with ||q|| >= 2^63 is marked
 * trivial; both give lb = -inf, always valid.
 *
 * ---- cosine:  D_op = fl_d(1 - clamp(r, -1, 1)), r = fl_d(p / fl_d(sqrt(nq * nx))) ----
 * with float p = fl(<q,x>), nq = fl(||q||^2), nx = fl(||x||^2) (nq * nx is exact
 * in double: two 24-bit significands).  Assume ||q||^2, ||x||^2 in
 * [2^-90, 2^126): nothing overflows and the underflow terms are relatively
 * <= d 2^-60, so with g' = gamma_d + d 2^-59:
 *     p in <q,x> +- g' ||q|| ||x||,  nq in ||q||^2 [1 - g', 1 + g'] (same for nx),
 *     fl_d(sqrt(nq nx)) in ||q|| ||x|| [(1 - g')(1 - ud), (1 + g')(1 + ud)].
 * With cos = <q,x> / (||q|| ||x||) and rho = p / (||q|| ||x||) <= cos + g':
 *   p >= 0:  r <= rho (1 + beta),  beta = (1 + ud) / ((1 - g')(1 - ud)) - 1,
 *   p <  0:  r <= rho (1 - ud) / ((1 + g')(1 + ud)) = rho + |rho| beta',  beta' < beta,
 * and |rho| <= 1 + g', so r <= cos + sigma, sigma = g' + (1 + g') beta, where
 * beta <= 1.01 g' + 2^-50 for g' <= 0.01.  clamp(r, -1, 1) <= cos + sigma
 * because cos >= -1, and the final subtraction loses at most 2^-52, so
 *     D_op >= 1 - cos - sigma - 2^-52.
 * Query.  The scanner uses qf = fl(q_i / N) with N = ||q|| in double, so
 * ||qf - q/||q|| || <= eta_q = 1.01 u + (d + 9) 2^-52 (d 2^-52 for N,
 * u for the rounding to float, subnormal residue far below 2^-52).
 * Row.  The glue stores y_i = fl(x_i s) for one scalar s, i.e. y is s (x + delta o x)
 * with |delta_i| <= u, and for any a, b: ||a/||a|| - b/||b|| || <= 2 ||a - b|| / ||a||,
 * so ||x/||x|| - y/||y|| || <= 2u and e' = e_upper + 2u bounds ||x/||x|| - x~||.
 * Squared form.  With xh = x / ||x||, qh = q / ||q|| (unit), 1 - cos = ||qh - xh||^2 / 2,
 * and near neighbours have ||qh - xh|| >> ||qh - xh||^2, so bounding the distance
 * first and squaring is far tighter than the linear 1 - <qf, x~> - e'
 * (measured: SQ8 d = 128 mean lb/true 0.97 instead of 0.89, PQ > 0 instead of 0).
 * The scan therefore runs the L2 kernels on qf (a = fl(fl(qf - c) - bias) etc.),
 * and exactly as for L2, with r = qf - x~:
 *     ||r|| >= (sqrt(A)(1 - gamma_{d+1}) - k u ||qf|| - k u R - sqrt(d) 2^-74.5) / (1 + u)
 *     Lc = ||qh - xh|| >= ||r|| - ||qh - qf|| - ||xh - x~||
 *        >= (sqrt(A)(1 - gamma_{d+1}) - k u ||qf|| - err_cos) / (1 + u) - eta_q - tau,
 *     err_cos = (1 + u)(e_upper + 2u) + k u R      (the L2 err with e' for e),
 * and lb = max(0, Lc_lb)^2 / 2 - sigma - 2^-52, clamped to [0, 2] (D_op lies
 * there).  A query outside the norm range is marked trivial (lb = 0); a row
 * outside it must be marked by the glue with mark_entry_unbounded()
 * (err = +inf, lb = 0).
 *
 * Evaluating the formulas.  The distance part of each formula is evaluated in
 * double with fewer than 10 operations on terms of magnitude at most M (the
 * sum of the absolute values of its terms), so it is off by at most
 * 10 ud M < 2^-48 M: we subtract that guard.  The last scaling and squaring
 * steps are relative, covered by the factor 1 - 16 ud (which also covers the
 * operator's own final 1 - ud); the result is narrowed to float rounding
 * toward -infinity, and err is narrowed rounding toward +infinity.
 * Overflow.  An L2 operator that overflows returns +inf, above any bound.
 * Non-finite values in our own kernels give the trivial bound: 0 for L2 and
 * cosine, -inf for IP.
 */

constexpr double kU = 0x1p-24;   // float unit roundoff
constexpr double kUd = 0x1p-53;  // double unit roundoff
constexpr double kK = 2.001;     // (1 + u)(2 + u) rounded up
constexpr double kGuard = 0x1p-48;
// Covers the operator's final double rounding plus the last few operations of a formula.
constexpr double kShrink = 1.0 - 16.0 * kUd;
constexpr double kInf = std::numeric_limits<double>::infinity();
// Norm limits: beyond them the operator's float sums may overflow or underflow.
constexpr double kMaxSquaredNorm = kCosineMaxSquaredNorm;
constexpr double kMinCosineSquaredNorm = kCosineMinSquaredNorm;

// Worst relative error of a float sum of n terms (any order), rounded up
// generously; +inf where the classical bound stops applying (n u >= 1/2).
inline double gamma_f(double n) { return n * kU < 0.5 ? n * kU / (1.0 - n * kU) * (1.0 + 0x1p-40) : kInf; }
// The same for double sums.
inline double gamma_d(double n) { return n * kUd / (1.0 - n * kUd) * (1.0 + 0x1p-40); }

// The neighbouring float toward -inf / +inf of a finite f, inline: the scan
// narrows one bound per entry and libm's nextafterf is a call.
inline float float_below(float f) {
    if (f == 0.0f) return -std::numeric_limits<float>::denorm_min();
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    u = f > 0.0f ? u - 1 : u + 1;
    std::memcpy(&f, &u, sizeof f);
    return f;
}
inline float float_above(float f) { return -float_below(-f); }

// Narrowing that never rounds up (lower bounds).
inline float round_down(double v) {
    constexpr double kMax = std::numeric_limits<float>::max();
    if (std::isnan(v)) return static_cast<float>(v);
    if (v < -kMax) return -std::numeric_limits<float>::infinity();
    if (v > kMax) return std::numeric_limits<float>::max();
    float f = static_cast<float>(v);
    if (static_cast<double>(f) > v) f = float_below(f);
    return f;
}

// Narrowing that never rounds down (error terms).
inline float round_up(double v) {
    constexpr double kMax = std::numeric_limits<float>::max();
    if (std::isnan(v) || v > kMax) return std::numeric_limits<float>::infinity();
    if (v < -kMax) return -std::numeric_limits<float>::max();
    float f = static_cast<float>(v);
    if (static_cast<double>(f) < v) f = float_above(f);
    return f;
}

// Bound that holds for any row: what lb degrades to when nothing else is safe.
inline float trivial_bound(Metric metric) {
    return metric == Metric::kInnerProduct ? -std::numeric_limits<float>::infinity() : 0.0f;
}

// True when the L2 kernel also subtracts something from q before the stored
// value, so its per-element rounding scales with ||q|| (the k u ||q|| term).
inline bool l2_has_query_term(QuantizerKind kind, bool residual) {
    return kind == QuantizerKind::kSq8 || (kind == QuantizerKind::kPq && residual);
}

// Upper bound of the true ||xr - x~|| from its double evaluation e; `magnitude`
// is ||xr|| + ||c|| + ||bias|| + ||code part|| (all computed in double).
inline double e_upper(double e, double magnitude, size_t d) {
    const double g = gamma_d(2.0 * static_cast<double>(d) + 16.0);
    return e * (1.0 + g) + g * magnitude;
}

// Row quantities measured in double at encode time.
struct RowTerms {
    double e_up = 0;       // e_upper() of ||xr - x~||
    double x_norm = 0;     // ||x|| of the row as passed (unit under cosine)
    double c_norm = 0;     // ||centroid||, 0 without residual
    double bias_norm = 0;  // ||sq_bias||, 0 unless SQ8
    double code_norm = 0;  // ||x~ - c - bias||: SQ8 ||step o code||, PQ ||codeword||, flat ||y||
};

// The err stored with a row (see DERIVATION), rounded up; +inf when no finite
// err is valid (IP row too large for the operator's float sum).
inline float row_err(QuantizerKind kind, Metric metric, bool residual, size_t d, const RowTerms& t) {
    const double dd = static_cast<double>(d);
    double err;
    if (metric == Metric::kInnerProduct) {
        if (!(t.x_norm < 0x1p63)) return std::numeric_limits<float>::infinity();
        err = t.e_up + gamma_f(dd) * t.x_norm + gamma_f(dd + 1.0) * t.code_norm +
              gamma_d(2.0 * dd + 2.0) * (t.c_norm + t.bias_norm);
    } else {
        double r = 0;
        if (l2_has_query_term(kind, residual))
            r = t.c_norm + t.bias_norm + (kind == QuantizerKind::kSq8 ? t.code_norm : 0.0);
        const double e = metric == Metric::kCosine ? t.e_up + 2.0 * kU : t.e_up;
        err = (1.0 + kU) * e + kK * kU * r;
    }
    err *= 1.0 + 4.0 * kUd;  // the few double operations above
    if (!std::isfinite(err)) return std::numeric_limits<float>::infinity();
    return round_up(err);
}

// Per-query constants of the bound.
struct QueryBound {
    Metric metric = Metric::kL2;
    double q_norm = 0;     // IP: upper bound of ||q||
    double q_term = 0;     // L2 / cosine: k u ||q|| (||qf||), or 0
    double g_kernel = 0;   // L2 / cosine: gamma_{d+1}
    double g_op = 0;       // L2: gamma_{d+2}
    double eta = 0;        // cosine: eta_q + tau, subtracted from the distance bound
    double slack = 0;      // absolute: L2 / IP tau, cosine sigma + 2^-52
    bool trivial = false;  // every bound is trivial_bound(metric)
};

// kernel_q_norm: ||q|| (||qf|| under cosine) computed in double; raw_q_sq_norm:
// ||q||^2 of the raw query in double.
inline QueryBound make_query_bound(QuantizerKind kind, Metric metric, bool residual, size_t d, double kernel_q_norm,
                                   double raw_q_sq_norm) {
    const double dd = static_cast<double>(d);
    QueryBound b;
    b.metric = metric;
    b.q_norm = kernel_q_norm * (1.0 + gamma_d(dd + 2.0));
    const double tau_l2 = std::sqrt(dd) * 0x1p-70;
    if (metric != Metric::kInnerProduct) {
        b.q_term = l2_has_query_term(kind, residual) ? kK * kU * b.q_norm : 0.0;
        b.g_kernel = gamma_f(dd + 1.0);
    }
    if (metric == Metric::kL2) {
        b.g_op = gamma_f(dd + 2.0);
        b.slack = tau_l2;
    } else if (metric == Metric::kInnerProduct) {
        b.slack = dd * 0x1p-130;
        b.trivial = !(raw_q_sq_norm < kMaxSquaredNorm);
    } else {
        const double g1 = gamma_f(dd) + dd * 0x1p-59;
        const double beta = 1.01 * g1 + 0x1p-50;
        const double sigma = g1 + (1.0 + g1) * beta;
        b.eta = 1.01 * kU + (dd + 9.0) * 0x1p-52 + tau_l2;
        b.slack = sigma + 0x1p-52;
        b.trivial = !(raw_q_sq_norm >= kMinCosineSquaredNorm && raw_q_sq_norm < kMaxSquaredNorm);
    }
    return b;
}

// L2 and cosine: approx is the kernel's float sum of squares A (widened) of
// q - x~ (qf - x~ under cosine); IP: approx is K + T, the estimate of <q, x~>.
inline float lower_bound(const QueryBound& b, double approx, float err) {
    if (b.trivial || !std::isfinite(approx) || !std::isfinite(err)) return trivial_bound(b.metric);
    const double e = static_cast<double>(err);
    if (b.metric == Metric::kInnerProduct) {
        const double qe = b.q_norm * e;
        return round_down(-approx - qe - b.slack - kGuard * (std::fabs(approx) + qe + b.slack));
    }
    const double x = std::sqrt(approx) * (1.0 - b.g_kernel);
    const double l = (x - b.q_term - e) / (1.0 + kU) - b.eta - kGuard * (x + b.q_term + e + b.eta);
    if (!(l > 0.0)) return 0.0f;
    if (b.metric == Metric::kL2) {
        const double lb = l * (1.0 - b.g_op) * kShrink - b.slack;
        return lb > 0.0 ? round_down(lb) : 0.0f;
    }
    double lb = 0.5 * l * l * kShrink - b.slack;
    if (lb < 0.0) lb = 0.0;
    if (lb > 2.0) lb = 2.0;
    return round_down(lb);
}

/*
 * QUICK BOUND (L2)
 * ================
 * A scan hands over only the few rows whose bound is below the k-th distance,
 * so it can order its candidates by a cheaper key k <= lower_bound() and
 * compute the exact bound of a row only when it reaches the top (then put it
 * back if it no longer is): the rows come out in the same order of the same
 * bounds.  For L2 (eta = 0), with P = (1 - g_op) kShrink, A1 = 1/(1 + u) - kGuard,
 * B1 = 1/(1 + u) + kGuard, the double expression lower_bound() narrows is
 *     lb = sqrt(A) (1 - g_kernel) P A1 - e P B1 - (q_term B1 P + slack),
 * i.e. X - E - C with X, E, C >= 0.  It is evaluated with at most 10 roundings
 * (|error| <= 2^-49 (X + E + C)) and narrowed toward -inf (at most 2^-23 lb
 * lower, or 0 when lb <= 0).  The key is the float X' - E' - C' from
 * constants with relative margins of 2^-20 (X' <= X (1 - 2^-20), E' >= E
 * (1 + 2^-20), C' >= C (1 + 2^-20)): its float sqrt, two products and two
 * subtractions err by at most 5 2^-24 (X + E + C) plus underflow (covered by
 * a 2^-100 added to C'), so key <= X - E - C - (2^-20 - 2^-21) (X + E + C),
 * below both the computed lb and 0 whenever lb is clamped to 0.  A
 * non-finite A or e (trivial bound 0) gets the key 0.
 */
struct QuickBound {
    float cx = 0;     // X' = sqrtf(A) * cx
    float ce = 0;     // E' = e * ce
    float c0 = 0;     // C'
    bool usable = false;  // L2 and not trivial
};

inline QuickBound make_quick_bound(const QueryBound& b) {
    QuickBound k;
    if (b.metric != Metric::kL2 || b.trivial) return k;
    const double p = (1.0 - b.g_op) * kShrink;
    const double a1 = 1.0 / (1.0 + kU) - kGuard;
    const double b1 = 1.0 / (1.0 + kU) + kGuard;
    const double m = 0x1p-20;
    // each constant with a few double roundings of its own: far inside the margin
    float cx = static_cast<float>((1.0 - b.g_kernel) * p * a1 * (1.0 - m));
    if (static_cast<double>(cx) > (1.0 - b.g_kernel) * p * a1 * (1.0 - m)) cx = float_below(cx);
    k.cx = cx;
    k.ce = round_up(p * b1 * (1.0 + m));
    k.c0 = round_up((b.q_term * b1 * p + b.slack) * (1.0 + m) + 0x1p-100);
    k.usable = true;
    return k;
}

// Never above lower_bound(b, approx, err) for the QueryBound b that k was made from.
inline float quick_lower_bound(const QuickBound& k, float approx, float err) {
    if (!(approx <= std::numeric_limits<float>::max()) || !(err <= std::numeric_limits<float>::max()))
        return 0.0f;
    return std::sqrt(approx) * k.cx - err * k.ce - k.c0;
}

/*
 * INTEGER QUICK BOUND (SQ8, L2)
 * =============================
 * A key from integers that needs neither the float kernel nor its A: the
 * kernel's A follows from the row's code on the query's own code grid.
 * Notation as in DERIVATION: the float kernel's inputs are the floats a_i
 * (a = fl(fl(q - c) - bias), or fl(q - bias) without residual) and steps
 * s_i >= 0, codes c_i in [0, 255], r = a - s o c exactly, and the kernel
 * returns A = fl(sum t_i^2), t_i = fl(a_i - fl(s_i c_i)) or one FMA.
 * (1) Each t_i has at most two roundings and one subnormal residue, so
 *     |t_i| >= (1 - u) |r_i| - u s_i c_i - 2^-150, and by Minkowski
 *     ||t|| >= (1 - u) ||r|| - G,   G = 255 u ||s|| + sqrt(d) 2^-150.
 * (2) By (F1) A >= (1 - gamma_d) ||t||^2 - d 2^-149, and sqrt(x - y) >=
 *     sqrt(x) - sqrt(y), so sqrt(A) >= sqrt(1 - gamma_d) ||t|| - sqrt(d) 2^-74.5
 *     (also when the right side is negative).
 * (3) The query on the code grid: any integers g_i in [0, 255] (the scan
 *     rounds a_i / s_i and clamps), D = g - c, delta = a - s o g, so r =
 *     delta + s o D and ||r|| >= ||s o D|| - ||delta||.  With a power of two
 *     sigma >= max s_i^2 / 128 and the integer weights W_i = floor(s_i^2 / sigma)
 *     (exact: s_i^2 is exact in double and sigma a power of two), W_i <= 128
 *     and sum s_i^2 D_i^2 >= sigma I with the integer I = sum W_i D_i^2, which
 *     sq8_l2_int computes exactly.  So
 *     sqrt(A) >= Z = a1 sqrt(I) - a0,  a1 = sqrt(1 - gamma_d)(1 - u) sqrt(sigma),
 *     a0 = sqrt(1 - gamma_d)((1 - u) Delta + G) + sqrt(d) 2^-74.5, Delta >= ||delta||.
 * (4) QUICK BOUND's argument shows that any key <= X - E - C - 2^-21 (X + E + C)
 *     is <= the computed lower_bound() (its evaluation loses at most 2^-49 and
 *     its narrowing 2^-23 of that scale).  X = K sqrt(A), K = (1 - g_kernel) P A1,
 *     is at least K Z, so the key may be
 *         alpha sqrt(I) - beta err - gamma,  alpha = (1 - 2^-21) K a1,
 *         beta = (1 + 2^-21) P B1,  gamma = (1 - 2^-21) K a0 + (1 + 2^-21) C.
 * Evaluation.  The constants are computed in double (a few roundings, far
 * inside a margin of 2^-22: alpha' = alpha (1 - 2^-22), beta' and gamma' >=
 * (1 + 2^-22) times theirs, plus 2^-140 on gamma' for underflow); the key is
 * evaluated in double (I < 2^53 is exact, five roundings) and narrowed to
 * the nearest float, together at most (6 ud + u) < 2^-22.5 of alpha sqrt(I) +
 * beta err + gamma, inside the margin.  Then max(0, key) (D_op >= 0).
 * Inputs: Delta and ||s|| from sums of squares in double of d terms of at most
 * two roundings each (delta_i = fl(a_i - s_i g_i), s_i g_i exact), turned into
 * upper bounds here.  Preconditions the scan checks per list: every a_i finite,
 * and sum (|a_i| + 255 s_i)^2 < 2^120, so A is finite (lower_bound() would give
 * the trivial 0 for A = +inf); a non-finite err gives the key 0.
 */
struct IntQuickBound {
    double alpha = 0;  // times sqrt(I)
    double beta = 0;   // times err
    double gamma = 0;  // subtracted
    bool usable = false;
};

// sigma: the grid's power of two; step_sq: sum s_i^2 and delta_sq: sum
// delta_i^2, both summed in double (see above); d the dimension.
inline IntQuickBound make_int_quick_bound(const QueryBound& b, size_t d, double sigma, double step_sq,
                                          double delta_sq) {
    IntQuickBound k;
    if (b.metric != Metric::kL2 || b.trivial || !(sigma > 0.0) || !std::isfinite(step_sq) ||
        !std::isfinite(delta_sq))
        return k;
    const double dd = static_cast<double>(d);
    const double up = (1.0 + 2.0 * gamma_d(dd + 2.0)) * (1.0 + 4.0 * kUd);
    const double step_norm = std::sqrt(step_sq * up + 0x1p-900) * (1.0 + 4.0 * kUd);
    const double delta = std::sqrt(delta_sq * up + 0x1p-900) * (1.0 + 4.0 * kUd);
    const double p = (1.0 - b.g_op) * kShrink;
    const double a1 = 1.0 / (1.0 + kU) - kGuard;
    const double b1 = 1.0 / (1.0 + kU) + kGuard;
    const double kx = (1.0 - b.g_kernel) * p * a1;
    const double c = b.q_term * b1 * p + b.slack;
    const double g = 255.0 * kU * step_norm + std::sqrt(dd) * 0x1p-150;
    const double root = std::sqrt(1.0 - gamma_f(dd)) * (1.0 - 0x1p-40);
    const double ia1 = root * (1.0 - kU) * std::sqrt(sigma) * (1.0 - 0x1p-40);
    // sqrt(1 - gamma_d) <= 1 in a0, which is subtracted
    const double ia0 = ((1.0 - kU) * delta + g + std::sqrt(dd) * 0x1p-74) * (1.0 + 0x1p-40);
    const double m = 0x1p-21, m2 = 0x1p-22;
    k.alpha = (1.0 - m) * kx * ia1 * (1.0 - m2);
    k.beta = (1.0 + m) * p * b1 * (1.0 + m2);
    k.gamma = ((1.0 - m) * kx * ia0 + (1.0 + m) * c) * (1.0 + m2) + 0x1p-140;
    k.usable = std::isfinite(k.alpha) && std::isfinite(k.gamma) && k.alpha > 0.0;
    return k;
}

// Never above lower_bound(b, A, err) for the A the float kernel gives the row
// whose integer sum is i, under the preconditions above.
inline float int_quick_lower_bound(const IntQuickBound& k, uint64_t i, float err) {
    if (!(err <= std::numeric_limits<float>::max())) return 0.0f;
    const double v = std::sqrt(static_cast<double>(i)) * k.alpha - (static_cast<double>(err) * k.beta + k.gamma);
    return v > 0.0 ? static_cast<float>(v) : 0.0f;
}

/*
 * LIST BOUND (L2 and cosine)
 * ==========================
 * Goal: for a list j and any other list i, a float lb_j <= D_op for every row
 * stored in list j, from the centroids alone.  Rows are stored in the list
 * whose centroid wins the assigner's arg-min of v_c = fl(||c||^2) - 2 fl(<x, c>)
 * over the stored form x (the raw row under L2, y under cosine), at build and
 * insert, on the CPU and the GPU alike (float sums of d products in any
 * order).  By (F1), with T_c = ||c||^2 - 2 <x, c> and g = gamma_{d+2},
 *     |v_c - T_c| <= g (||c||^2 + 2 ||x|| ||c||) + d 2^-146
 * while no partial sum overflows (||c||^2 and ||x|| ||c|| below 2^125).  A row
 * of list j has v_j <= v_i, hence T_j - T_i <= eps(x) with
 *     eps(x) = g (||ci||^2 + ||cj||^2 + 2 ||x|| S) + d 2^-145,  S = ||ci|| + ||cj||.
 * T_j - T_i = ||x - cj||^2 - ||x - ci||^2 = f(p) + 2 <x - p, ci - cj> for any
 * point p, f(p) = ||p - cj||^2 - ||p - ci||^2, so with s = ||x - p|| and
 * ||x|| <= ||p|| + s (Voronoi half-space, widened by eps):
 *     s >= (f(p) - g (||ci||^2 + ||cj||^2 + 2 ||p|| S) - d 2^-145) / (2 ||ci - cj|| + 2 g S).
 * A row nearer than that bound has ||x|| < ||p|| + bound, so the overflow
 * condition is checked once, at the bound.  p is the query under L2 and the
 * scanner's qf under cosine.
 * L2: L = s, and lb = (1 - ud)(s (1 - gamma_{d+2})) - tau as for entries.
 * Cosine: y_i = fl(x_i / N) with N the row's norm in double, so
 * ||xh - y|| <= u + (d + 4) 2^-52 and Lc = ||qh - xh|| >= s - eta_q - ||xh - y||;
 * lb = Lc^2 / 2 - sigma - 2^-52 as for entries.  Rows outside the cosine norm
 * range (mark_entry_unbounded) are not covered: the operator itself is then
 * inexact, and the scan must not lift their bounds.
 * IP: see MIPS LIST BOUND below (without the reduction: trivial_bound).
 * Inputs: fa = ||p - cj||^2, fb = ||p - ci||^2, w2 = ||ci - cj||^2 and the squared
 * norms of ci, cj, p, each summed in double from float data, hence within a
 * relative gamma_d(d + 4) of its value.  half_space_distance() returns s (0 when
 * the formula gives nothing or the overflow condition fails).
 */
inline double half_space_distance(size_t d, double fa, double fb, double w2, double ci2, double cj2, double p2) {
    const double dd = static_cast<double>(d);
    const double r = gamma_d(dd + 4.0);
    const double g = gamma_f(dd + 2.0);
    const double up = (1.0 + r) * (1.0 + 4.0 * kUd);  // a sum rounded up, then a sqrt
    const double ci = std::sqrt(ci2 * up), cj = std::sqrt(cj2 * up), pn = std::sqrt(p2 * up);
    const double w = std::sqrt(w2 * up);
    const double sum_c = ci + cj;
    const double f = fa * (1.0 - r) - fb * (1.0 + r);
    const double slack = g * (ci2 * up + cj2 * up + 2.0 * pn * sum_c) + dd * 0x1p-145;
    const double num = f - slack - kGuard * (fa + fb + slack);
    const double den = (2.0 * w + 2.0 * g * sum_c) * (1.0 + kGuard);
    if (!(num > 0.0) || !(den > 0.0) || !std::isfinite(num)) return 0.0;
    const double s = num / den * kShrink;
    const double c_max = std::max(ci, cj);
    if (!(ci2 < 0x1p124 && cj2 < 0x1p124 && (pn + s) * c_max < 0x1p124)) return 0.0;
    return s;
}

inline float list_lower_bound(const QueryBound& b, size_t d, double fa, double fb, double w2, double ci2,
                              double cj2, double p2) {
    if (b.trivial || b.metric == Metric::kInnerProduct) return trivial_bound(b.metric);
    const double dd = static_cast<double>(d);
    const double s = half_space_distance(d, fa, fb, w2, ci2, cj2, p2);
    if (b.metric == Metric::kL2) {
        const double lb = s * (1.0 - b.g_op) * kShrink - b.slack;
        return lb > 0.0 ? round_down(lb) : 0.0f;
    }
    const double l = s - b.eta - (kU + (dd + 4.0) * 0x1p-52) - kGuard * (s + b.eta);
    if (!(l > 0.0)) return 0.0f;
    double lb = 0.5 * l * l * kShrink - b.slack;
    if (lb < 0.0) lb = 0.0;
    if (lb > 2.0) lb = 2.0;
    return round_down(lb);
}

/*
 * MIPS LIST BOUND (inner product under the reduction of mips.h)
 * ==============================================================
 * Goal: lb_j <= D_op = -(double) fl(sum q_i x_i) for every row x of list j.
 * Rows are stored in the list whose augmented centroid c' = [c, e_c] wins the
 * assigner's arg-min over the stored augmented row x' = [x, e_x] (floats, d + 1
 * of them), e_x = fl(sqrt_d(fl_d(M2 - n2))) with n2 = ||x||^2 summed in double
 * and M2 the largest n2 of the build's rows (mips_extra).  So LIST BOUND holds
 * verbatim in d + 1 dimensions with p = q' = [q, 0]: s <= ||q' - x'||, and
 *     <q, x> = (||q||^2 + ||x'||^2 - ||q' - x'||^2) / 2 <= (||q||^2 + N - s^2) / 2
 * for any N >= ||x'||^2.  N: the true ||x||^2 <= n2 (1 + gammad_d), and when
 * n2 <= M2, e_x^2 <= (M2 - n2)(1 + ud)^3 (1 + u)^2 <= (M2 - n2)(1 + 2.01 u), so
 * ||x'||^2 <= M2 (1 + 2.01 u) (gammad_d < 2.01 u for any d here); we take
 * N = M2 (1 + 3u).  A row with n2 > M2 (inserted after the build) breaks this:
 * the index then records it and the scan does not use this bound.
 * Also <q, x> <= ||q|| ||x|| <= ||q|| sqrt(N) (which the first form reaches
 * at s = 0), so with the operator's float error from the IP entry derivation,
 *     D_op >= -min(||q|| sqrt(N), (||q||^2 + N - s^2) / 2) - gamma_d ||q|| sqrt(N) - d 2^-149,
 * valid while ||q||, sqrt(N) < 2^63 (no partial sum overflows; else trivial).
 * ||q||^2 (p2) is summed in double from floats (relative gamma_d(d + 4)); the
 * formula's few double operations are covered by the usual guard.
 * Inputs as LIST BOUND's, summed over d + 1 augmented coordinates (q's extra
 * is 0); d is the row dimension.
 */
inline float mips_list_lower_bound(const QueryBound& b, size_t d, double fa, double fb, double w2, double ci2,
                                   double cj2, double p2, double max_norm2) {
    if (b.trivial || b.metric != Metric::kInnerProduct || !(max_norm2 > 0.0)) return trivial_bound(b.metric);
    const double dd = static_cast<double>(d);
    const double n_up = max_norm2 * (1.0 + 3.0 * kU) * (1.0 + 4.0 * kUd);
    const double q2 = p2 * (1.0 + gamma_d(dd + 4.0)) * (1.0 + 4.0 * kUd);
    if (!(q2 < 0x1p126 && n_up < 0x1p126)) return trivial_bound(b.metric);
    const double qn = std::sqrt(q2) * (1.0 + 4.0 * kUd), xn = std::sqrt(n_up) * (1.0 + 4.0 * kUd);
    const double s = half_space_distance(d + 1, fa, fb, w2, ci2, cj2, p2) * kShrink;
    const double ip_up = std::min(qn * xn, 0.5 * (q2 + n_up - s * s));
    const double slack = gamma_f(dd) * qn * xn + dd * 0x1p-149;
    return round_down(-ip_up - slack - kGuard * (qn * xn + q2 + n_up + slack));
}

}  // namespace pg_ivf::core::bounds
