-- The GPU backend where no GPU is usable (this machine and CI): 'gpu' is a
-- clean ERROR, 'auto' builds on the CPU, ivf_gpu_info() says why.  Why differs
-- between machines without a GPU (no driver, no device, module not built), so
-- the error is shown with VERBOSITY terse (the reason is its DETAIL) and the
-- reason by its category.  make check hides GPUs from its throwaway server
-- (CUDA_VISIBLE_DEVICES=''), so the output is the same on GPU machines.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_ivf;
RESET client_min_messages;
SET jit = off;

CREATE TABLE ivf_gpu_t (id int, v vector(4));
INSERT INTO ivf_gpu_t SELECT i, ARRAY[i % 10, (i / 10) % 10, i % 7, i % 3]::vector
	FROM generate_series(1, 500) i;

-- what this backend sees: one row, not usable, a reason of a known category,
-- the module path fixed at build time, no device
SELECT count(*) AS rows,
	bool_and(NOT usable) AS not_usable,
	bool_and(split_part(reason, ':', 1) IN ('no NVIDIA driver', 'no CUDA device', 'CUDA module not installed'))
		AS known_reason,
	bool_and(length(reason) > length(split_part(reason, ':', 1)) + 2) AS reason_has_detail,
	bool_and(module LIKE '/%/pg_ivf_cuda.so') AS module_path,
	bool_and(device IS NULL AND memory_free IS NULL) AS no_device
FROM ivf_gpu_info();

-- 'gpu' without a usable GPU: an ERROR naming the setting, nothing built
SET ivf.build_device = 'gpu';
\set VERBOSITY terse
CREATE INDEX ivf_gpu_idx ON ivf_gpu_t USING ivf (v vector_l2_ops) WITH (lists = 4);
\set VERBOSITY default
SELECT count(*) AS leftovers FROM pg_class WHERE relname = 'ivf_gpu_idx';

-- the DETAIL is ivf_gpu_info()'s reason, the HINT says what to do
DO $$
DECLARE
	detail text;
	hint text;
BEGIN
	CREATE INDEX ivf_gpu_idx ON ivf_gpu_t USING ivf (v vector_l2_ops) WITH (lists = 4);
EXCEPTION WHEN feature_not_supported THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
	RAISE NOTICE 'detail is the reason: %, hint: %', detail = (SELECT reason FROM ivf_gpu_info()), hint;
END $$;

-- 'auto' (the default) builds on the CPU and records it in the meta page
RESET ivf.build_device;
SHOW ivf.build_device;
CREATE INDEX ivf_gpu_idx ON ivf_gpu_t USING ivf (v vector_l2_ops) WITH (lists = 4);
SELECT build_device, rows, lists FROM ivf_index_info('ivf_gpu_idx');

-- and the index answers like a sequential scan (all lists probed: exact)
SET ivf.probes = 4;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM ivf_gpu_t ORDER BY v <-> '[3.1, 3.2, 0.35, 0.6]' LIMIT 5;
SELECT id, round((v <-> '[3.1, 3.2, 0.35, 0.6]')::numeric, 4) AS dist
	FROM ivf_gpu_t ORDER BY v <-> '[3.1, 3.2, 0.35, 0.6]' LIMIT 5;
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT id, round((v <-> '[3.1, 3.2, 0.35, 0.6]')::numeric, 4) AS dist
	FROM ivf_gpu_t ORDER BY v <-> '[3.1, 3.2, 0.35, 0.6]' LIMIT 5;
RESET enable_indexscan;
DROP INDEX ivf_gpu_idx;

-- 'cpu' never looks for a GPU
SET ivf.build_device = 'cpu';
CREATE INDEX ivf_gpu_idx ON ivf_gpu_t USING ivf (v vector_ip_ops) WITH (lists = 3, quantizer = 'pq', pq_m = 2);
SELECT build_device, rows, quantizer FROM ivf_index_info('ivf_gpu_idx');
RESET ivf.build_device;
RESET ivf.probes;

DROP TABLE ivf_gpu_t;
