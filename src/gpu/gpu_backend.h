// The pg_ivf.so side of the CUDA module, free of PostgreSQL: loads
// pg_ivf_cuda.so with dlopen() (never linked, so pg_ivf.so runs where CUDA is
// absent), probes the device once per process, and wraps the module's C ABI
// in a core::Assigner so train_kmeans() and the build's assignment use the
// GPU unchanged.  Compiled into pg_ivf.so whether or not nvcc exists; the
// build picks CPU or GPU through make_assigner() (assigner.h).
#pragma once
#ifdef POSTGRES_H
#error "src/gpu headers must not be included after postgres.h"
#endif

#include <cstddef>
#include <cstdint>

#include "core/kmeans.h"
#include "pg_ivf_cuda.h"

namespace pg_ivf::gpu {

// What loading the module and probing its device found.  Plain data without
// a destructor, so it can be cached in a static of the backend process.
struct BackendState {
    bool usable;
    int status;                 // PgIvfCudaStatus
    char reason[512];           // when !usable: "<category>: <detail>"
    char module_path[256];      // where the module was looked for
    char module_build[128];     // the module's build string; empty when it did not load
    PgIvfCudaDeviceInfo info;   // as far as the probe got
};

// Loads the module at module_path and probes device 0 the first time it is
// called in this process; later calls return that first result whatever
// path they pass.  Never throws.
const BackendState& probe_backend(const char* module_path);

// The module's table after probe_backend() found a usable GPU, else nullptr.
const PgIvfCudaApi* backend_api();

// Turns the cached state to unusable (after a CUDA fault the process's
// context cannot be trusted); later `auto` builds of this process use the CPU.
void mark_backend_unusable(const char* detail);

// One load and probe, not cached (tests).  *api is the table when usable.
BackendState load_backend(const char* module_path, const PgIvfCudaApi** api);

// The first part of a reason: "no NVIDIA driver", "CUDA module not installed", ...
const char* status_category(int status);

// Nearest-centroid assignment through the module.  The device context is
// created on the first assign() and destroyed with the assigner.  Rows are
// streamed to the device in batches sized to its free memory; between
// batches the hooks are polled (here, in the calling thread).  Errors are
// thrown as std::runtime_error ("GPU ...: <category>: <detail>"), Cancelled
// when the hooks ask.
class GpuAssigner final : public core::Assigner {
public:
    // resident: rows (resident_rows x d) the caller promises not to change
    // while this assigner lives; assign() on exactly those rows keeps them on
    // the device across calls when they fit (train_kmeans' sample).
    // fixed_centroids: centroids the caller promises not to change while this
    // assigner lives; assign() with them uploads them once (the build's
    // second pass).  memory_limit caps the device bytes used (0: most of
    // what is free).
    GpuAssigner(const PgIvfCudaApi* api, int device, const float* resident = nullptr,
                size_t resident_rows = 0, uint64_t memory_limit = 0, const float* fixed_centroids = nullptr);
    ~GpuAssigner() override;
    GpuAssigner(const GpuAssigner&) = delete;
    GpuAssigner& operator=(const GpuAssigner&) = delete;

    void assign(const float* x, size_t n, const float* centroids, size_t k, size_t d, int32_t* labels,
                float* dist2, const core::Hooks& hooks) override;
    // Many problems per launch, in groups the module plans for the device;
    // the jobs' rows stay on the device between calls until end_batch() when
    // they fit.  When not one problem fits a batch, each goes through
    // assign() (streamed).  Hooks are polled between launches.
    void assign_batch(const core::AssignJob* jobs, size_t count, size_t n, size_t k, size_t d,
                      const core::Hooks& hooks) override;
    bool batches() const override { return true; }
    void end_batch() noexcept override { fresh_ = true; }
    // On the device when the last assign() read these rows pinned there (the
    // k-means sample); false otherwise, and the host updates.
    bool update_centroids(const float* x, size_t n, size_t k, size_t d, const int64_t* offsets,
                          const uint64_t* order, float* centroids, const core::Hooks& hooks) override;

    // Whether the last assign() read pinned rows on the device (tests).
    bool last_call_pinned() const { return pinned_; }
    // Centroid updates done on the device (tests).
    int device_updates() const { return device_updates_; }
    // Whether the last assign_batch() found all its rows on the device, and
    // how many problems its launches took at most (tests).
    bool last_batch_resident() const { return batch_resident_; }
    size_t last_batch_group() const { return batch_group_; }

private:
    [[noreturn]] void fail(int status, const char* step, const char* detail);
    void ensure_context();

    const PgIvfCudaApi* api_;
    int device_;
    const float* resident_;
    size_t resident_rows_;
    const float* fixed_centroids_;
    const float* last_centroids_ = nullptr;  // uploaded by the last set_centroids (its k, d: pinned_k_, pinned_d_)
    uint64_t memory_limit_;
    void* ctx_ = nullptr;
    bool pinned_ = false;
    size_t pinned_k_ = 0;           // k and d of the last assign()
    size_t pinned_d_ = 0;
    int device_updates_ = 0;
    bool fresh_ = true;             // the next plan_batch must not trust earlier rows
    bool batch_resident_ = false;
    size_t batch_group_ = 0;
};

}  // namespace pg_ivf::gpu
