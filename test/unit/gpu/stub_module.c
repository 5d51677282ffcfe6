/*
 * A stand-in for pg_ivf_cuda.so from another build, for the loader's ABI
 * handshake tests: with STUB_REFUSES it refuses every ABI version (a newer
 * module), else it answers with the previous version's table whatever is
 * asked (an older module that ignores the argument).
 */
#include <stddef.h>

#include "gpu/pg_ivf_cuda.h"

__attribute__((visibility("default"))) const PgIvfCudaApi *
pg_ivf_cuda_api(uint32_t abi_version)
{
	static PgIvfCudaApi table;

	(void) abi_version;
#ifdef STUB_REFUSES
	return NULL;
#else
	table.abi_version = PG_IVF_CUDA_ABI_VERSION - 1;
	table.struct_size = sizeof(table);
	return &table;
#endif
}
