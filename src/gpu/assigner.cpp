// The build's assigner: CPU or GPU (see assigner.h).
#include "assigner.h"

#include <stdexcept>

#include "gpu_backend.h"

namespace pg_ivf::gpu {

std::unique_ptr<core::Assigner> make_assigner(bool gpu, int threads, const float* resident, size_t resident_rows,
                                              const float* fixed_centroids) {
    if (!gpu) return std::make_unique<core::CpuAssigner>(threads);
    const PgIvfCudaApi* api = backend_api();
    if (api == nullptr)
        throw std::runtime_error("no usable GPU any more: an earlier GPU call of this backend failed");
    return std::make_unique<GpuAssigner>(api, 0, resident, resident_rows, 0, fixed_centroids);
}

}  // namespace pg_ivf::gpu
