-- What the server sees of the GPU backend (CREATE INDEX with
-- ivf.build_device = 'auto' or 'gpu').  One row:
--   usable             whether builds in this backend can use the GPU
--   reason             why not, as '<category>: <detail>' (NULL when usable);
--                      categories: 'CUDA module not installed', 'CUDA module
--                      cannot be loaded', 'no NVIDIA driver', 'NVIDIA driver too
--                      old', 'no CUDA device', 'GPU not supported', 'CUDA error'
--   device             GPU name (device 0 of those CUDA_VISIBLE_DEVICES shows)
--   compute_capability e.g. '8.0'
--   multiprocessors    streaming multiprocessors
--   memory_total       bytes
--   memory_free        bytes free now (NULL unless usable)
--   driver_version     CUDA version the NVIDIA driver supports, e.g. '13.0'
--   runtime_version    CUDA runtime linked into the module
--   module             path pg_ivf_cuda.so is loaded from (fixed at build time)
--   module_build       the module's compiler and GPU architectures
-- The first call of a backend loads the module and, when a GPU exists, creates
-- a CUDA context in that backend (a few hundred MB of GPU memory until the
-- backend exits) and runs a self-test; the result is cached per backend.
-- VOLATILE (free memory changes); PARALLEL RESTRICTED so workers never start CUDA.

CREATE FUNCTION ivf_gpu_info(
	OUT usable boolean,
	OUT reason text,
	OUT device text,
	OUT compute_capability text,
	OUT multiprocessors int4,
	OUT memory_total int8,
	OUT memory_free int8,
	OUT driver_version text,
	OUT runtime_version text,
	OUT module text,
	OUT module_build text)
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION ivf_gpu_info() IS
	'the GPU CREATE INDEX can use (ivf.build_device), or why none is usable';
