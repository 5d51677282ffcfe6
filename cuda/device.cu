// Runtime error mapping and device selection (see device.h).
#include <dlfcn.h>

#include "device.h"

namespace pg_ivf::gpu {

int status_of(cudaError_t e) {
    switch (e) {
        case cudaErrorMemoryAllocation:
            return PG_IVF_CUDA_OUT_OF_MEMORY;
        case cudaErrorInsufficientDriver:
        case cudaErrorUnsupportedPtxVersion:
        case cudaErrorCallRequiresNewerDriver:
            return PG_IVF_CUDA_OLD_DRIVER;
        case cudaErrorStubLibrary:
            return PG_IVF_CUDA_NO_DRIVER;
        case cudaErrorNoDevice:
        case cudaErrorInvalidDevice:
        case cudaErrorDevicesUnavailable:
            return PG_IVF_CUDA_NO_DEVICE;
        case cudaErrorNoKernelImageForDevice:
            return PG_IVF_CUDA_UNSUPPORTED_DEVICE;
        default:
            return PG_IVF_CUDA_ERROR;
    }
}

void check(cudaError_t e, const char* what) {
    if (e == cudaSuccess) return;
    (void)cudaGetLastError();  // clear a non-sticky error so the context stays usable
    throw Failure(status_of(e), "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

// The driver library, checked once: without it the runtime's own message
// ("driver version is insufficient") would blame a driver that is not there.
void require_driver() {
    static void* handle = nullptr;
    if (handle != nullptr) return;
    handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = dlerror();
        throw Failure(PG_IVF_CUDA_NO_DRIVER, "%s", why != nullptr ? why : "libcuda.so.1 cannot be loaded");
    }
}

void use_device(int device) {
    require_driver();
    check(cudaSetDevice(device), "cudaSetDevice");
}

}  // namespace pg_ivf::gpu
