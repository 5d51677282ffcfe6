/*
 * pg.h — the single place the glue includes PostgreSQL server headers.
 *
 * Every .cpp file in src/pg includes this file first.  Order matters here:
 *  1. C++ standard headers, because PostgreSQL's port.h later turns printf,
 *     snprintf, strerror ... into macros that break libstdc++ headers.
 *  2. The src/core and src/gpu headers the glue uses: they refuse (#error)
 *     to come after postgres.h, and #pragma once makes later includes of
 *     them no-ops.
 *  3. PostgreSQL's C headers inside one extern "C" block, with the warnings
 *     g++ raises on them (C's `register`, unused parameters) silenced.
 * Headers that many glue files need belong in the block below.
 */
#ifndef PG_IVF_PG_H
#define PG_IVF_PG_H

#include <cerrno>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <exception>
#include <list>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "core/calibrate.h"
#include "core/candidates.h"
#include "core/codec.h"
#include "core/distance.h"
#include "core/half.h"
#include "core/hooks.h"
#include "core/kmeans.h"
#include "core/mips.h"
#include "core/rerank.h"
#include "core/split.h"
#include "core/stamp.h"
#include "gpu/assigner.h"
#include "gpu/gpu_backend.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wregister"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

extern "C" {
#include "postgres.h"

#include "access/amapi.h"
#include "access/genam.h"
#include "access/generic_xlog.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/reloptions.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "access/transam.h"
#include "access/xlog.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "catalog/index.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_opclass.h"
#include "utils/catcache.h"
#include "utils/syscache.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "commands/extension.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "executor/executor.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "pgstat.h"
#include "postmaster/autovacuum.h"
#include "storage/bufmgr.h"
#include "storage/buf_internals.h"
#include "storage/indexfsm.h"
#include "storage/lmgr.h"
#include "storage/smgr.h"
#include "tcop/utility.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/selfuncs.h"
#include "utils/snapmgr.h"
#include "utils/spccache.h"

#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "parser/scansup.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
}

#pragma GCC diagnostic pop

#endif							/* PG_IVF_PG_H */
