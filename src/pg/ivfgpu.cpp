/*
 * ivfgpu.cpp — the PostgreSQL side of the GPU backend: the device choice for
 * ivf.build_device, and ivf_gpu_info().
 *
 * The CUDA module is loaded from PG_IVF_CUDA_MODULE_PATH, fixed at build time
 * ($(pkglibdir)/pg_ivf_cuda.so, see the Makefile) and never taken from a
 * setting, on the first build (or ivf_gpu_info() call) of a backend that
 * wants a GPU; nothing CUDA happens in _PG_init or when pg_ivf.so loads.
 */
#include "pg.h"
#include "ivf.h"
#include "guard.h"
#include "ivfgpu.h"

#ifndef PG_IVF_CUDA_MODULE_PATH
#error "PG_IVF_CUDA_MODULE_PATH must be defined by the build (Makefile)"
#endif

namespace gpu = pg_ivf::gpu;

extern "C" {
PG_FUNCTION_INFO_V1(ivf_gpu_info);
}

/* The backend's probe: loads the module and tests the device the first time. */
static const gpu::BackendState *
IvfGpuState(void)
{
	const gpu::BackendState *state = NULL;

	IvfGuard("ivf GPU probe", [&]() {
		state = &gpu::probe_backend(PG_IVF_CUDA_MODULE_PATH);
	});
	return state;
}

/* See ivfgpu.h; the only place a build decides between CPU and GPU. */
int
IvfChooseBuildDevice(Relation index, int threads)
{
	const gpu::BackendState *state;

	if (ivf_build_device == IVF_DEVICE_CPU)
	{
		elog(DEBUG1, "ivf build of \"%s\" runs on the CPU with %d threads (ivf.build_device = 'cpu')",
			 RelationGetRelationName(index), threads);
		return IVF_DEVICE_CPU;
	}
	state = IvfGpuState();
	if (state->usable)
	{
		elog(DEBUG1, "ivf build of \"%s\" runs on GPU %d, %s (compute capability %d.%d)",
			 RelationGetRelationName(index), state->info.device, state->info.name,
			 state->info.compute_major, state->info.compute_minor);
		return IVF_DEVICE_GPU;
	}
	if (ivf_build_device == IVF_DEVICE_GPU)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ivf.build_device = 'gpu' but no usable GPU"),
				 errdetail("%s", state->reason),
				 errhint("SET ivf.build_device = 'auto' or 'cpu'.")));
	elog(DEBUG1, "ivf build of \"%s\" runs on the CPU with %d threads: no usable GPU (%s)",
		 RelationGetRelationName(index), threads, state->reason);
	return IVF_DEVICE_CPU;
}

/* The meta page stores the device as text, so ivf_index_info() can show it. */
const char *
IvfDeviceName(int device)
{
	return device == IVF_DEVICE_GPU ? "gpu" : "cpu";
}

/* "13.0" from the CUDA runtime's 13000; NULL for 0 (unknown). */
static Datum
CudaVersionDatum(int version, bool *isnull)
{
	*isnull = version <= 0;
	if (*isnull)
		return (Datum) 0;
	return CStringGetTextDatum(psprintf("%d.%d", version / 1000, version % 1000 / 10));
}

/*
 * ivf_gpu_info(): one row with what this backend sees of the GPU backend;
 * columns in 40_ivf_gpu.sql.  Free memory is read afresh on each call.
 */
extern "C" Datum
ivf_gpu_info(PG_FUNCTION_ARGS)
{
	const gpu::BackendState *state = IvfGpuState();
	const PgIvfCudaApi *api = gpu::backend_api();
	const PgIvfCudaDeviceInfo *info = &state->info;
	TupleDesc	tupdesc;
	Datum		values[11];
	bool		nulls[11];
	uint64_t	free_bytes = info->free_memory;
	uint64_t	total_bytes = info->total_memory;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	if (state->usable && api != NULL)
	{
		char		err[256];

		if (api->memory(info->device, &free_bytes, &total_bytes, err, sizeof(err)) != PG_IVF_CUDA_OK)
			free_bytes = 0;
	}

	memset(nulls, 0, sizeof(nulls));
	values[0] = BoolGetDatum(state->usable);
	nulls[1] = state->usable;
	values[1] = state->usable ? (Datum) 0 : CStringGetTextDatum(state->reason);
	nulls[2] = info->name[0] == '\0';
	values[2] = nulls[2] ? (Datum) 0 : CStringGetTextDatum(info->name);
	nulls[3] = info->compute_major == 0;
	values[3] = nulls[3] ? (Datum) 0
		: CStringGetTextDatum(psprintf("%d.%d", info->compute_major, info->compute_minor));
	nulls[4] = info->multiprocessors == 0;
	values[4] = Int32GetDatum(info->multiprocessors);
	nulls[5] = total_bytes == 0;
	values[5] = Int64GetDatum((int64) total_bytes);
	nulls[6] = !state->usable || free_bytes == 0;
	values[6] = Int64GetDatum((int64) free_bytes);
	values[7] = CudaVersionDatum(info->driver_version, &nulls[7]);
	values[8] = CudaVersionDatum(info->runtime_version, &nulls[8]);
	values[9] = CStringGetTextDatum(state->module_path);
	nulls[10] = state->module_build[0] == '\0';
	values[10] = nulls[10] ? (Datum) 0 : CStringGetTextDatum(state->module_build);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
