// Loading pg_ivf_cuda.so: the reasons a GPU is not usable, the ABI
// handshake, and the module's entry points returning codes (never throwing)
// on a machine without a driver.  The module tests skip where nvcc did not
// build it.
#include <gtest/gtest.h>

#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "gpu/gpu_backend.h"

#ifndef PG_IVF_CUDA_TEST_MODULE
#error "PG_IVF_CUDA_TEST_MODULE (the built pg_ivf_cuda.so) must be defined by cuda/cuda.mk"
#endif

namespace pg_ivf::gpu {
namespace {

bool starts_with(const char* s, const char* prefix) { return std::string(s).rfind(prefix, 0) == 0; }

TEST(GpuLoader, MissingModuleIsNotInstalled) {
    const PgIvfCudaApi* api = reinterpret_cast<const PgIvfCudaApi*>(1);
    const BackendState s = load_backend("/nonexistent/pg_ivf_cuda.so", &api);
    EXPECT_EQ(api, nullptr);
    EXPECT_FALSE(s.usable);
    EXPECT_EQ(s.status, PG_IVF_CUDA_MODULE_MISSING);
    EXPECT_TRUE(starts_with(s.reason, "CUDA module not installed: /nonexistent/pg_ivf_cuda.so does not exist"))
        << s.reason;
    EXPECT_STREQ(s.module_path, "/nonexistent/pg_ivf_cuda.so");
}

TEST(GpuLoader, UnloadableFileGivesTheLoaderError) {
    char path[] = "/tmp/pg_ivf_gpu_test_XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "not a shared object\n", 20), 20);
    close(fd);
    const PgIvfCudaApi* api = nullptr;
    const BackendState s = load_backend(path, &api);
    unlink(path);
    EXPECT_EQ(api, nullptr);
    EXPECT_EQ(s.status, PG_IVF_CUDA_MODULE_UNLOADABLE);
    EXPECT_TRUE(starts_with(s.reason, "CUDA module cannot be loaded: ")) << s.reason;
    EXPECT_NE(std::string(s.reason).find(path), std::string::npos) << s.reason;  // dlerror names the file
}

TEST(GpuLoader, LibraryWithoutTheEntryPoint) {
    Dl_info info;
    ASSERT_NE(dladdr(reinterpret_cast<void*>(&dlopen), &info), 0);  // the C library's own path
    const PgIvfCudaApi* api = nullptr;
    const BackendState s = load_backend(info.dli_fname, &api);
    EXPECT_EQ(s.status, PG_IVF_CUDA_MODULE_UNLOADABLE);
    EXPECT_NE(std::string(s.reason).find("has no symbol pg_ivf_cuda_api"), std::string::npos) << s.reason;
}

// A module of another build is refused by the handshake, with the reason users see.
TEST(GpuLoader, ModuleOfAnotherAbiIsRefused) {
    for (const char* stub : {"/stub_old_abi.so", "/stub_refuses.so"}) {
        const std::string path = std::string(PG_IVF_CUDA_TEST_STUBS) + stub;
        const PgIvfCudaApi* api = reinterpret_cast<const PgIvfCudaApi*>(1);
        const BackendState s = load_backend(path.c_str(), &api);
        EXPECT_EQ(api, nullptr) << stub;
        EXPECT_FALSE(s.usable) << stub;
        EXPECT_EQ(s.status, PG_IVF_CUDA_MODULE_UNLOADABLE) << stub;
        const std::string want = path + " does not speak ABI version " + std::to_string(PG_IVF_CUDA_ABI_VERSION) +
                                 " of this pg_ivf; install both from one build";
        EXPECT_NE(std::string(s.reason).find(want), std::string::npos) << s.reason;
    }
}

// The module as built by nvcc.
class GpuModule : public testing::Test {
protected:
    void SetUp() override {
        if (access(PG_IVF_CUDA_TEST_MODULE, F_OK) != 0)
            GTEST_SKIP() << "skipped: the CUDA module was not built (no nvcc): " << PG_IVF_CUDA_TEST_MODULE;
        handle_ = dlopen(PG_IVF_CUDA_TEST_MODULE, RTLD_NOW | RTLD_LOCAL);
        ASSERT_NE(handle_, nullptr) << dlerror();
        entry_ = reinterpret_cast<PgIvfCudaApiFn>(dlsym(handle_, PG_IVF_CUDA_ENTRY));
        ASSERT_NE(entry_, nullptr);
    }
    void* handle_ = nullptr;
    PgIvfCudaApiFn entry_ = nullptr;
};

TEST_F(GpuModule, ExportsOnlyTheVersionedTable) {
    EXPECT_EQ(entry_(PG_IVF_CUDA_ABI_VERSION + 1), nullptr);
    const PgIvfCudaApi* api = entry_(PG_IVF_CUDA_ABI_VERSION);
    ASSERT_NE(api, nullptr);
    EXPECT_EQ(api->abi_version, static_cast<uint32_t>(PG_IVF_CUDA_ABI_VERSION));
    EXPECT_EQ(api->struct_size, sizeof(PgIvfCudaApi));
    EXPECT_NE(std::string(api->build).find("sm_80"), std::string::npos) << api->build;
    EXPECT_NE(std::string(api->build).find("compute_90"), std::string::npos) << api->build;
    // The statically linked CUDA runtime stays private to the module.
    EXPECT_EQ(dlsym(handle_, "cudaMalloc"), nullptr);
    EXPECT_EQ(dlsym(handle_, "cudaGetDeviceCount"), nullptr);
}

// Usable, or a reason from the known categories; the runtime version is
// known even without a driver.
TEST_F(GpuModule, ProbeSaysWhyNot) {
    const PgIvfCudaApi* api = nullptr;
    const BackendState s = load_backend(PG_IVF_CUDA_TEST_MODULE, &api);
    EXPECT_NE(s.module_build[0], '\0');
    EXPECT_GE(s.info.runtime_version, 13000);
    if (s.usable) {
        EXPECT_NE(api, nullptr);
        EXPECT_GE(s.info.compute_major, 8);
        return;
    }
    EXPECT_EQ(api, nullptr);
    EXPECT_TRUE(s.status == PG_IVF_CUDA_NO_DRIVER || s.status == PG_IVF_CUDA_OLD_DRIVER ||
                s.status == PG_IVF_CUDA_NO_DEVICE || s.status == PG_IVF_CUDA_UNSUPPORTED_DEVICE)
        << s.status << ": " << s.reason;
    EXPECT_TRUE(starts_with(s.reason, status_category(s.status))) << s.reason;
    EXPECT_GT(std::string(s.reason).size(), std::string(status_category(s.status)).size() + 2) << s.reason;
    std::printf("probe of the built module: %s\n", s.reason);
}

// Every entry point reports misuse and missing hardware as a code and a message.
TEST_F(GpuModule, EntryPointsReturnCodesNeverThrow) {
    const PgIvfCudaApi* api = entry_(PG_IVF_CUDA_ABI_VERSION);
    ASSERT_NE(api, nullptr);
    char err[256];
    int pinned = 0;
    size_t batch = 0;
    int32_t label = 0;
    float dist = 0.0f;
    const float c[2] = {1.0f, 2.0f};

    err[0] = '\0';
    EXPECT_EQ(api->probe(0, nullptr, err, sizeof(err)), PG_IVF_CUDA_INVALID_ARGUMENT);
    EXPECT_NE(err[0], '\0');
    err[0] = '\0';
    EXPECT_EQ(api->set_centroids(nullptr, c, 1, 2, 1, nullptr, 0, 0, &pinned, &batch, err, sizeof(err)),
              PG_IVF_CUDA_INVALID_ARGUMENT);
    EXPECT_NE(err[0], '\0');
    err[0] = '\0';
    EXPECT_EQ(api->assign(nullptr, c, 0, 1, &label, &dist, err, sizeof(err)), PG_IVF_CUDA_INVALID_ARGUMENT);
    EXPECT_NE(err[0], '\0');
    const float* xs[1] = {c};
    const float* cs[1] = {c};
    int32_t* ls[1] = {&label};
    float* ds[1] = {&dist};
    int resident = 0;
    size_t group = 0;
    err[0] = '\0';
    EXPECT_EQ(api->plan_batch(nullptr, 1, 1, 1, 2, xs, 1, &resident, &group, err, sizeof(err)),
              PG_IVF_CUDA_INVALID_ARGUMENT);
    EXPECT_NE(err[0], '\0');
    err[0] = '\0';
    EXPECT_EQ(api->assign_batch(nullptr, 1, xs, cs, ls, ds, err, sizeof(err)), PG_IVF_CUDA_INVALID_ARGUMENT);
    EXPECT_NE(err[0], '\0');
    api->destroy(nullptr);

    void* ctx = nullptr;
    err[0] = '\0';
    const int status = api->create(0, 0, &ctx, err, sizeof(err));
    if (status == PG_IVF_CUDA_OK) {
        ASSERT_NE(ctx, nullptr);
        EXPECT_EQ(api->assign(ctx, c, 0, 1, &label, &dist, err, sizeof(err)), PG_IVF_CUDA_INVALID_ARGUMENT)
            << "assign before set_centroids";
        EXPECT_EQ(api->set_centroids(ctx, c, 0, 2, 1, nullptr, 0, 0, &pinned, &batch, err, sizeof(err)),
                  PG_IVF_CUDA_INVALID_ARGUMENT);
        EXPECT_EQ(api->assign_batch(ctx, 1, xs, cs, ls, ds, err, sizeof(err)), PG_IVF_CUDA_INVALID_ARGUMENT)
            << "assign_batch before plan_batch";
        EXPECT_EQ(api->plan_batch(ctx, 1, 1, 0, 2, xs, 1, &resident, &group, err, sizeof(err)),
                  PG_IVF_CUDA_INVALID_ARGUMENT);
        api->destroy(ctx);
    } else {
        EXPECT_EQ(ctx, nullptr);
        EXPECT_NE(err[0], '\0');
        uint64_t free_bytes = 0, total_bytes = 0;
        EXPECT_NE(api->memory(0, &free_bytes, &total_bytes, err, sizeof(err)), PG_IVF_CUDA_OK);
    }
}

}  // namespace
}  // namespace pg_ivf::gpu
