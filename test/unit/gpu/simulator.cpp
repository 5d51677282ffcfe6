// The simulated thread block and the CPU stand-in for pg_ivf_cuda.so.
#include "simulator.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <unordered_map>

namespace pg_ivf::gpu::test {

void HostBlock::flush() {
    std::vector<int> order(kTileThreads);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng_);
    for (int tid : order)
        for (auto& phase : pending_) phase(tid, threads_[tid]);
    pending_.clear();
}

void simulate_assign(const float* x, size_t n, const float* centroids, size_t k, size_t d, int multiprocessors,
                     int32_t* labels, float* dist2, uint64_t seed) {
    if (n == 0) return;
    std::vector<float> x_norms(n);
    std::vector<float> c_norms(k);
    for (size_t i = 0; i < n; ++i) x_norms[i] = squared_norm(x + i * d, d);
    for (size_t j = 0; j < k; ++j) c_norms[j] = squared_norm(centroids + j * d, d);
    const size_t part_slots = n + extra_part_slots(multiprocessors);
    const Grid grid = plan_grid(n, k, multiprocessors, part_slots);
    std::vector<float> part_value(part_slots, -1.0f);
    std::vector<int32_t> part_index(part_slots, -1);
    TileArgs args;
    args.x = x;
    args.centroids = centroids;
    args.centroid_norms = c_norms.data();
    args.n = n;
    args.k = k;
    args.d = d;
    args.col_tiles_per_split = grid.col_tiles_per_split;
    args.part_value = part_value.data();
    args.part_index = part_index.data();
    auto shared = std::make_unique<TileShared>();
    for (size_t by = 0; by < grid.splits; ++by) {
        for (size_t bx = 0; bx < grid.row_tiles; ++bx) {
            HostBlock block(seed + bx * 7919 + by);
            // Stale shared memory from the previous block, as on a real SM.
            assign_block(args, *shared, block, bx * kTileRows, by);
            block.flush();
        }
    }
    for (size_t row = 0; row < n; ++row)
        finish_row(part_value.data(), part_index.data(), n, grid.splits, row, x_norms[row], labels, dist2);
}

void simulate_assign_batch(size_t count, const float* const* x, size_t n, const float* const* centroids, size_t k,
                           size_t d, int multiprocessors, int32_t* const* labels, float* const* dist2,
                           uint64_t seed) {
    if (count == 0 || n == 0) return;
    BatchPlan plan;
    if (!plan_batch_memory(size_t{1} << 40, count, n, k, d, multiprocessors, &plan)) return;
    // Device-side layout, as cuda/module.cu builds it.
    std::vector<float> x_norms(count * n);
    std::vector<const float*> row_ptrs(count);
    std::vector<const float*> norm_ptrs(count);
    std::vector<float> packed(count * k * d);
    std::vector<float> c_norms(count * k);
    for (size_t p = 0; p < count; ++p) {
        for (size_t i = 0; i < n; ++i) x_norms[p * n + i] = squared_norm(x[p] + i * d, d);
        std::memcpy(packed.data() + p * k * d, centroids[p], k * d * sizeof(float));
        for (size_t j = 0; j < k; ++j) c_norms[p * k + j] = squared_norm(centroids[p] + j * d, d);
        row_ptrs[p] = x[p];
        norm_ptrs[p] = x_norms.data() + p * n;
    }
    const Grid grid = plan_grid(n, k, multiprocessors, plan.part_stride, count);
    std::vector<float> part_value(count * plan.part_stride, -1.0f);
    std::vector<int32_t> part_index(count * plan.part_stride, -1);
    std::vector<int32_t> out_labels(count * n, -1);
    std::vector<float> out_dist2(count * n, -1.0f);
    BatchArgs b;
    b.shape.x = nullptr;
    b.shape.centroids = packed.data();
    b.shape.centroid_norms = c_norms.data();
    b.shape.n = n;
    b.shape.k = k;
    b.shape.d = d;
    b.shape.col_tiles_per_split = grid.col_tiles_per_split;
    b.shape.part_value = part_value.data();
    b.shape.part_index = part_index.data();
    b.x = row_ptrs.data();
    b.x_norms = norm_ptrs.data();
    b.part_stride = plan.part_stride;
    b.labels = out_labels.data();
    b.dist2 = out_dist2.data();
    auto shared = std::make_unique<TileShared>();
    for (size_t bz = 0; bz < count; ++bz)
        for (size_t by = 0; by < grid.splits; ++by)
            for (size_t bx = 0; bx < grid.row_tiles; ++bx) {
                HostBlock block(seed + bz * 104729 + bx * 7919 + by);
                const TileArgs a = batch_problem(b, bz);
                assign_block(a, *shared, block, bx * kTileRows, by);
                block.flush();
            }
    for (size_t e = 0; e < count * n; ++e) finish_batch_row(b, grid.splits, e);
    for (size_t p = 0; p < count; ++p) {
        std::memcpy(labels[p], out_labels.data() + p * n, n * sizeof(int32_t));
        std::memcpy(dist2[p], out_dist2.data() + p * n, n * sizeof(float));
    }
}

void simulate_update(const float* x, size_t d, const uint64_t* order, const int64_t* offsets, size_t k,
                     float* centroids, uint64_t seed) {
    std::vector<size_t> threads(k * d);
    std::iota(threads.begin(), threads.end(), size_t{0});
    std::mt19937_64 rng(seed);
    std::shuffle(threads.begin(), threads.end(), rng);
    for (const size_t t : threads) {
        const size_t c = t / d;
        const size_t j = t % d;
        if (offsets[c + 1] <= offsets[c]) continue;
        centroids[c * d + j] = core::cluster_mean(x, d, order, offsets[c], offsets[c + 1], j);
    }
}

namespace {

// The fake's context: centroids, the pinned rows, the plan.
struct FakeContext {
    uint64_t memory_limit = 0;
    bool planned = false;
    size_t k = 0;
    size_t d = 0;
    const float* pin = nullptr;
    size_t pin_rows = 0;
    MemoryPlan plan;
    std::vector<float> centroids;
    bool centroids_current = false;
    std::vector<float> pinned;
    // plan_batch: copies of the resident rows by host pointer.
    bool batch_planned = false;
    size_t batch_n = 0;
    size_t batch_count = 0;
    BatchPlan batch;
    std::unordered_map<const float*, std::vector<float>> resident;
};

FakeModule* g_fake = nullptr;

int fail(char* err, size_t errlen, int status, const char* message) {
    std::snprintf(err, errlen, "%s", message);
    return status;
}

int fake_probe(int, PgIvfCudaDeviceInfo* info, char*, size_t) {
    std::memset(info, 0, sizeof(*info));
    std::snprintf(info->name, sizeof(info->name), "simulated");
    info->multiprocessors = g_fake->multiprocessors;
    return PG_IVF_CUDA_OK;
}

int fake_memory(int, uint64_t* free_bytes, uint64_t* total_bytes, char*, size_t) {
    *free_bytes = g_fake->free_bytes;
    *total_bytes = g_fake->free_bytes;
    return PG_IVF_CUDA_OK;
}

int fake_create(int, uint64_t memory_limit, void** ctx, char*, size_t) {
    auto* c = new FakeContext;
    c->memory_limit = memory_limit;
    *ctx = c;
    ++g_fake->creates;
    return PG_IVF_CUDA_OK;
}

void fake_destroy(void* ctx) {
    delete static_cast<FakeContext*>(ctx);
    ++g_fake->destroys;
}

// Mirrors set_centroids_impl()/replan() of cuda/module.cu.
int fake_set_centroids(void* ctx, const float* centroids, size_t k, size_t d, size_t rows_hint, const float* pin,
                       size_t pin_rows, int keep, int* pinned, size_t* batch_rows, char* err, size_t errlen) {
    auto& c = *static_cast<FakeContext*>(ctx);
    if (centroids == nullptr || k == 0 || d == 0)
        return fail(err, errlen, PG_IVF_CUDA_INVALID_ARGUMENT, "bad shape");
    const bool same = c.planned && !c.batch_planned && c.k == k && c.d == d && c.pin == pin &&
                      c.pin_rows == pin_rows && !(c.plan.hint_limited && rows_hint > c.plan.batch_rows);
    if (!same) {
        c.batch_planned = false;
        c.resident.clear();
        ++g_fake->replans;
        c.centroids_current = false;
        MemoryPlan p;
        c.planned = false;  // replan() releases the old plan before it tries
        if (!plan_memory(usable_bytes(g_fake->free_bytes, c.memory_limit), k, d, rows_hint,
                         pin != nullptr ? pin_rows : 0, g_fake->multiprocessors, &p))
            return fail(err, errlen, PG_IVF_CUDA_OUT_OF_MEMORY, "the centroids do not fit (simulated)");
        c.plan = p;
        c.k = k;
        c.d = d;
        c.pin = pin;
        c.pin_rows = pin_rows;
        c.pinned.assign(p.pinned ? pin : nullptr, p.pinned ? pin + pin_rows * d : nullptr);
        c.planned = true;
    }
    if (!(same && keep && c.centroids_current)) {
        c.centroids.assign(centroids, centroids + k * d);
        ++g_fake->centroid_uploads;
    }
    c.centroids_current = true;
    *pinned = c.plan.pinned ? 1 : 0;
    *batch_rows = c.plan.batch_rows;
    g_fake->last_batch_rows = c.plan.batch_rows;
    return PG_IVF_CUDA_OK;
}

// Mirrors assign_impl() of cuda/module.cu, with the kernels simulated.
int fake_assign(void* ctx, const float* x, size_t row0, size_t n, int32_t* labels, float* dist2, char* err,
                size_t errlen) {
    auto& c = *static_cast<FakeContext*>(ctx);
    const int call = g_fake->assign_calls++;
    if (call == g_fake->fail_assign_call) return fail(err, errlen, g_fake->fail_status, "injected failure");
    if (!c.planned || n > c.plan.batch_rows) return fail(err, errlen, PG_IVF_CUDA_INVALID_ARGUMENT, "bad batch");
    const float* rows = x;
    if (x != nullptr && c.plan.pinned)
        return fail(err, errlen, PG_IVF_CUDA_INVALID_ARGUMENT, "rows given to a context that pins its rows");
    if (x == nullptr) {
        if (!c.plan.pinned || row0 + n > c.pin_rows)
            return fail(err, errlen, PG_IVF_CUDA_INVALID_ARGUMENT, "rows not pinned");
        rows = c.pinned.data() + row0 * c.d;
        ++g_fake->pinned_assign_calls;
    }
    simulate_assign(rows, n, c.centroids.data(), c.k, c.d, g_fake->multiprocessors, labels, dist2,
                    static_cast<uint64_t>(call) + 1);
    return PG_IVF_CUDA_OK;
}

// Mirrors update_impl() of cuda/module.cu, with the kernel simulated.
int fake_update(void* ctx, const uint64_t* order, const int64_t* offsets, float* centroids, int* done, char* err,
                size_t errlen) {
    auto& c = *static_cast<FakeContext*>(ctx);
    ++g_fake->update_calls;
    *done = 0;
    if (!c.planned || !c.plan.pinned) return PG_IVF_CUDA_OK;
    if (offsets[0] != 0 || offsets[c.k] != static_cast<int64_t>(c.pin_rows))
        return fail(err, errlen, PG_IVF_CUDA_INVALID_ARGUMENT, "grouping does not cover the pinned rows");
    for (size_t cl = 0; cl < c.k; ++cl)
        if (offsets[cl + 1] < offsets[cl])
            return fail(err, errlen, PG_IVF_CUDA_INVALID_ARGUMENT, "negative cluster size");
    for (size_t p = 0; p < c.pin_rows; ++p)
        if (order[p] >= c.pin_rows) return fail(err, errlen, PG_IVF_CUDA_INVALID_ARGUMENT, "row id not pinned");
    c.centroids_current = false;
    simulate_update(c.pinned.data(), c.d, order, offsets, c.k, c.centroids.data(),
                    static_cast<uint64_t>(g_fake->update_calls));
    std::memcpy(centroids, c.centroids.data(), c.k * c.d * sizeof(float));
    ++g_fake->updates;
    *done = 1;
    return PG_IVF_CUDA_OK;
}

// Mirrors plan_batch_impl() of cuda/module.cu; resident rows are copied, so
// a test that changes them without `fresh` sees stale results, as on a GPU.
int fake_plan_batch(void* ctx, size_t count, size_t n, size_t k, size_t d, const float* const* x, int fresh,
                    int* resident, size_t* group, char* err, size_t errlen) {
    auto& c = *static_cast<FakeContext*>(ctx);
    if (count == 0 || n == 0 || k == 0 || d == 0 || x == nullptr || k >= static_cast<size_t>(kNoIndex))
        return fail(err, errlen, PG_IVF_CUDA_INVALID_ARGUMENT, "bad batch shape");
    for (size_t i = 0; i < count; ++i)
        if (x[i] == nullptr) return fail(err, errlen, PG_IVF_CUDA_INVALID_ARGUMENT, "a problem without rows");
    bool same = fresh == 0 && c.batch_planned && c.k == k && c.d == d && c.batch_n == n && count <= c.batch_count;
    if (same && c.batch.resident)
        for (size_t i = 0; i < count && same; ++i) same = c.resident.count(x[i]) != 0;
    if (!same) {
        ++g_fake->batch_plans;
        c.planned = false;
        c.centroids_current = false;
        c.batch_planned = false;
        c.resident.clear();
        BatchPlan p;
        if (!plan_batch_memory(usable_bytes(g_fake->free_bytes, c.memory_limit), count, n, k, d,
                               g_fake->multiprocessors, &p)) {
            *resident = 0;
            *group = 0;
            return PG_IVF_CUDA_OK;
        }
        c.batch = p;
        c.k = k;
        c.d = d;
        c.batch_n = n;
        c.batch_count = count;
        if (p.resident)
            for (size_t i = 0; i < count; ++i) {
                c.resident.emplace(x[i], std::vector<float>(x[i], x[i] + n * d));
                ++g_fake->uploaded_problems;
            }
        c.batch_planned = true;
    }
    *resident = c.batch.resident ? 1 : 0;
    *group = c.batch.group;
    return PG_IVF_CUDA_OK;
}

// Mirrors assign_batch_impl() of cuda/module.cu, with the kernels simulated.
int fake_assign_batch(void* ctx, size_t count, const float* const* x, const float* const* centroids,
                      int32_t* const* labels, float* const* dist2, char* err, size_t errlen) {
    auto& c = *static_cast<FakeContext*>(ctx);
    const int call = g_fake->batch_calls++;
    if (call == g_fake->fail_batch_call) return fail(err, errlen, g_fake->fail_status, "injected batch failure");
    if (!c.batch_planned || count > c.batch.group)
        return fail(err, errlen, PG_IVF_CUDA_INVALID_ARGUMENT, "bad batch call");
    g_fake->largest_batch_call = std::max(g_fake->largest_batch_call, count);
    std::vector<const float*> rows(count);
    for (size_t i = 0; i < count; ++i) {
        if (c.batch.resident) {
            const auto it = c.resident.find(x[i]);
            if (it == c.resident.end()) return fail(err, errlen, PG_IVF_CUDA_INVALID_ARGUMENT, "rows not planned");
            rows[i] = it->second.data();
        } else {
            rows[i] = x[i];
            ++g_fake->uploaded_problems;
        }
    }
    simulate_assign_batch(count, rows.data(), c.batch_n, centroids, c.k, c.d, g_fake->multiprocessors, labels,
                          dist2, static_cast<uint64_t>(call) + 1);
    return PG_IVF_CUDA_OK;
}

const PgIvfCudaApi kFakeApi = {
    PG_IVF_CUDA_ABI_VERSION, sizeof(PgIvfCudaApi), "simulated on the CPU", fake_probe, fake_memory, fake_create,
    fake_destroy, fake_set_centroids, fake_assign, fake_update, fake_plan_batch, fake_assign_batch,
};

}  // namespace

const PgIvfCudaApi* FakeModule::api() {
    g_fake = this;
    return &kFakeApi;
}

FakeModule::~FakeModule() {
    if (g_fake == this) g_fake = nullptr;
}

}  // namespace pg_ivf::gpu::test
