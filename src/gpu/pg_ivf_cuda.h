/*
 * pg_ivf_cuda.h — the C ABI between pg_ivf.so and the optional CUDA module
 * pg_ivf_cuda.so.
 *
 * pg_ivf.so never links against CUDA: it dlopen()s the module on first use and
 * calls the one exported symbol, pg_ivf_cuda_api(), which returns a versioned
 * table of plain C function pointers.  Nothing crosses this boundary but PODs:
 * every function returns a PgIvfCudaStatus and writes a message into the
 * caller's buffer on failure; no C++ exception ever leaves the module.
 *
 * Threading: every call must come from one thread (the PostgreSQL backend).
 * Shapes: x is n * d floats row-major, centroids k * d row-major, labels and
 * dist2 have n entries.  All pointers given to the module are host memory.
 *
 * Version 2 added set_centroids' keep, update (the centroid update of k-means on the device) and
 * plan_batch and assign_batch (many small assignments of one shape, PQ's
 * sub-quantizers, in one launch).
 */
#ifndef PG_IVF_CUDA_H
#define PG_IVF_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever the table below changes shape or meaning. */
#define PG_IVF_CUDA_ABI_VERSION 2
#define PG_IVF_CUDA_ENTRY "pg_ivf_cuda_api"

typedef enum PgIvfCudaStatus
{
	PG_IVF_CUDA_OK = 0,
	PG_IVF_CUDA_NO_DRIVER = 1,			/* libcuda.so.1 missing, or only the stub */
	PG_IVF_CUDA_OLD_DRIVER = 2,			/* driver older than the runtime linked in */
	PG_IVF_CUDA_NO_DEVICE = 3,			/* driver present, no (visible) device */
	PG_IVF_CUDA_UNSUPPORTED_DEVICE = 4, /* compute capability below the module's minimum */
	PG_IVF_CUDA_OUT_OF_MEMORY = 5,		/* device (or host) allocation failed */
	PG_IVF_CUDA_INVALID_ARGUMENT = 6,	/* caller error: shapes, order of calls */
	PG_IVF_CUDA_ERROR = 7,				/* any other CUDA failure; the device may be unusable */
	/* Set by the loader on the pg_ivf.so side, never by the module: */
	PG_IVF_CUDA_MODULE_MISSING = 100,	/* pg_ivf_cuda.so not installed */
	PG_IVF_CUDA_MODULE_UNLOADABLE = 101 /* dlopen() or the ABI check failed */
} PgIvfCudaStatus;

/* What the module sees of one device; strings are NUL-terminated. */
typedef struct PgIvfCudaDeviceInfo
{
	int32_t		device_count;	/* devices visible to this process */
	int32_t		device;			/* index of the device described below */
	char		name[256];		/* as cudaDeviceProp::name */
	int32_t		compute_major;
	int32_t		compute_minor;
	int32_t		multiprocessors;
	uint64_t	total_memory;	/* bytes */
	uint64_t	free_memory;	/* bytes, at the time of the probe */
	int32_t		driver_version; /* CUDA version the driver supports, e.g. 13000 */
	int32_t		runtime_version;	/* CUDA runtime linked into the module */
} PgIvfCudaDeviceInfo;

typedef struct PgIvfCudaApi
{
	uint32_t	abi_version;	/* PG_IVF_CUDA_ABI_VERSION */
	uint32_t	struct_size;	/* sizeof(PgIvfCudaApi) the module was built with */
	const char *build;			/* e.g. "CUDA 13.0; SASS sm_80 sm_90; PTX compute_90" */

	/*
	 * Checks the driver, the device and the module's kernels (one tiny
	 * self-test assignment) and fills *info as far as it got.  Creates the
	 * device's CUDA context in this process when a device exists.
	 */
	int			(*probe) (int device, PgIvfCudaDeviceInfo *info, char *err, size_t errlen);

	/* Free and total bytes of the device now. */
	int			(*memory) (int device, uint64_t *free_bytes, uint64_t *total_bytes,
						   char *err, size_t errlen);

	/*
	 * An assignment context on a device; holds device buffers until destroy.
	 * memory_limit caps the device bytes it plans with (0: most of what is
	 * free); tests use it to force small batches.
	 */
	int			(*create) (int device, uint64_t memory_limit, void **ctx, char *err, size_t errlen);
	void		(*destroy) (void *ctx);

	/*
	 * Uploads k centroids (k * d) and sizes the context's buffers for calls of
	 * up to rows_hint rows.  When pin != NULL, also keeps the pin_rows rows at
	 * pin (pin_rows * d) on the device if they fit, so later assign calls with
	 * x == NULL read them there; the caller promises they do not change while
	 * the context lives.  *pinned says whether they were kept.  *batch_rows is
	 * the most rows one assign call may take.  Cheap when k, d and the pin are
	 * those of the previous call: then only the centroids are uploaded, and
	 * not even they when keep != 0 (the caller promises they are the values
	 * of the previous call) and nothing changed them on the device since.
	 */
	int			(*set_centroids) (void *ctx, const float *centroids, size_t k, size_t d,
								  size_t rows_hint, const float *pin, size_t pin_rows, int keep,
								  int *pinned, size_t *batch_rows, char *err, size_t errlen);

	/*
	 * Nearest centroid for n <= batch_rows rows: x (n * d host rows) or, when
	 * x == NULL, the pinned rows [row0, row0 + n).  Writes labels[n] (ties:
	 * lowest index) and dist2[n] (squared L2, clamped at 0).  Synchronous.
	 */
	int			(*assign) (void *ctx, const float *x, size_t row0, size_t n,
						   int32_t *labels, float *dist2, char *err, size_t errlen);

	/*
	 * The centroid update of a k-means step over the rows pinned by the last
	 * set_centroids (every pinned row once, grouped by cluster): centroid c
	 * becomes the mean of rows order[offsets[c]] .. order[offsets[c + 1] - 1],
	 * summed in double in that order (core::cluster_mean, the host's bits);
	 * a cluster without rows keeps the centroid set_centroids uploaded.
	 * Writes all k centroids (k * d) to centroids.  *done = 0, nothing
	 * written, when the rows are not pinned or the update's buffers do not
	 * fit: the caller then updates on the host.  Synchronous.
	 */
	int			(*update) (void *ctx, const uint64_t *order, const int64_t *offsets, float *centroids,
						   int *done, char *err, size_t errlen);

	/*
	 * Plans for problems of one shape (n rows, k centroids, d dimensions),
	 * x[count] being each problem's rows (n * d).  When the rows of all count
	 * problems fit on the device beside the per-call buffers they are
	 * uploaded and kept (*resident = 1), keyed by their host pointers: later
	 * assign_batch calls naming those pointers read the device copies.  The
	 * caller promises the rows at those pointers do not change until it next
	 * passes fresh != 0.  *group is the most problems one assign_batch call
	 * may take; 0 when not even one problem fits (assign them one by one
	 * with set_centroids and assign instead).  Cheap when every pointer of x
	 * is already resident in a plan of this shape and fresh == 0.  Replaces
	 * the context's set_centroids plan, and vice versa.
	 */
	int			(*plan_batch) (void *ctx, size_t count, size_t n, size_t k, size_t d,
							   const float *const *x, int fresh, int *resident, size_t *group,
							   char *err, size_t errlen);

	/*
	 * count <= group problems of the plan's shape in one launch of each
	 * kernel: problem i has rows x[i] (resident, or uploaded now), centroids
	 * centroids[i] (k * d) and gets labels[i][n] (ties: lowest index) and
	 * dist2[i][n] (squared L2, clamped at 0), exactly as assign would give.
	 * Synchronous.
	 */
	int			(*assign_batch) (void *ctx, size_t count, const float *const *x,
								 const float *const *centroids, int32_t *const *labels,
								 float *const *dist2, char *err, size_t errlen);
} PgIvfCudaApi;

/* The module's only export: the table, or NULL when abi_version differs. */
typedef const PgIvfCudaApi *(*PgIvfCudaApiFn) (uint32_t abi_version);

#ifdef __cplusplus
}
#endif

#endif							/* PG_IVF_CUDA_H */
