// The CUDA module's plumbing (cuda/*.cu only, never pg_ivf.so): failures
// carrying their ABI status, runtime error checks, the driver check, device
// selection and device buffers freed by their destructors.
#pragma once

#include <cuda_runtime.h>

#include <cstdarg>
#include <cstddef>
#include <cstdio>
#include <exception>

#include "gpu/pg_ivf_cuda.h"

namespace pg_ivf::gpu {

// A failure with its ABI status; turned into a code and a message at the boundary.
class Failure : public std::exception {
public:
    Failure(int status, const char* fmt, ...) __attribute__((format(printf, 3, 4))) : status_(status) {
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(message_, sizeof(message_), fmt, ap);
        va_end(ap);
    }
    int status() const { return status_; }
    const char* what() const noexcept override { return message_; }

private:
    int status_;
    char message_[400];
};

// The ABI status a runtime error means for the caller.
int status_of(cudaError_t e);

// Throws the Failure for a runtime error, naming the step that failed.
void check(cudaError_t e, const char* what);

// Throws NO_DRIVER unless libcuda.so.1 loads (checked once per process).
void require_driver();

// Makes `device` current for this thread; every entry point calls it first.
void use_device(int device);

// A device allocation freed by its destructor, so every error path frees it.
template <class T>
class DeviceArray {
public:
    DeviceArray() = default;
    DeviceArray(const DeviceArray&) = delete;
    DeviceArray& operator=(const DeviceArray&) = delete;
    ~DeviceArray() { reset(); }

    // False when the device is out of memory (the caller may shrink and
    // retry); throws on any other error.
    bool allocate(size_t count) {
        reset();
        if (count == 0) return true;
        void* p = nullptr;
        const cudaError_t e = cudaMalloc(&p, count * sizeof(T));
        if (e == cudaErrorMemoryAllocation) {
            (void)cudaGetLastError();
            return false;
        }
        check(e, "cudaMalloc");
        ptr_ = static_cast<T*>(p);
        return true;
    }
    void reset() {
        if (ptr_ != nullptr) cudaFree(ptr_);
        ptr_ = nullptr;
    }
    T* get() const { return ptr_; }

private:
    T* ptr_ = nullptr;
};

}  // namespace pg_ivf::gpu
