/*
 * module.cpp — library entry: PG_MODULE_MAGIC, _PG_init with the GUCs and
 * reloption kind, and the ivf access method handler.
 */
#include "pg.h"
#include "ivf.h"

extern "C" {
PG_MODULE_MAGIC;

void		_PG_init(void);
PG_FUNCTION_INFO_V1(ivfhandler);
PG_FUNCTION_INFO_V1(ivf_metric_l2);
PG_FUNCTION_INFO_V1(ivf_metric_ip);
PG_FUNCTION_INFO_V1(ivf_metric_cosine);
}

int			ivf_probes = IVF_DEFAULT_PROBES;
double		ivf_target_recall = 0;
int			ivf_max_probes = -1;
int			ivf_iterative_scan = IVF_ITERATIVE_OFF;
int			ivf_kmeans_iterations = 10;
int			ivf_build_device = IVF_DEVICE_AUTO;
int			ivf_build_threads = 0;
int			ivf_pq_rerank = 0;
static bool ivf_inline_storage = true;	/* read by the pg_ivf_inline_storage event trigger */

/*
 * pgvector's names; the boolean spellings stay as hidden synonyms because
 * 0.1.0's setting was a boolean (on meant today's relaxed_order).
 */
static const struct config_enum_entry ivf_iterative_options[] = {
	{"off", IVF_ITERATIVE_OFF, false},
	{"relaxed_order", IVF_ITERATIVE_RELAXED, false},
	{"strict_order", IVF_ITERATIVE_STRICT, false},
	{"on", IVF_ITERATIVE_RELAXED, true},
	{"true", IVF_ITERATIVE_RELAXED, true},
	{"yes", IVF_ITERATIVE_RELAXED, true},
	{"1", IVF_ITERATIVE_RELAXED, true},
	{"false", IVF_ITERATIVE_OFF, true},
	{"no", IVF_ITERATIVE_OFF, true},
	{"0", IVF_ITERATIVE_OFF, true},
	{NULL, 0, false}
};

static const struct config_enum_entry ivf_device_options[] = {
	{"auto", IVF_DEVICE_AUTO, false},
	{"cpu", IVF_DEVICE_CPU, false},
	{"gpu", IVF_DEVICE_GPU, false},
	{NULL, 0, false}
};

/*
 * Defines the GUCs and reloptions.  No threads, OpenMP or CUDA start here:
 * the library may be loaded into the postmaster, which then forks.
 */
void
_PG_init(void)
{
	IvfInitRelOptions();

	DefineCustomIntVariable("ivf.probes", "Number of lists an ivf index scan probes.",
							"Higher finds more true neighbours and costs more time.",
							&ivf_probes, IVF_DEFAULT_PROBES, 1, IVF_MAX_LISTS,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("ivf.target_recall",
							 "Recall@10 an ivf index scan aims for; it chooses probes from the index's calibration.",
							 "0 means no target: ivf.probes decides.  A session's ivf.probes, then an index's probes "
							 "option, take precedence over a target set at the same level or below.",
							 &ivf_target_recall, 0, 0, 1,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("ivf.iterative_scan",
							 "What an ivf scan does when its probed lists run out of rows.",
							 "off ends the scan; relaxed_order probes further lists so that filtered queries get more rows, "
							 "in order only within each batch; strict_order probes lists until no unprobed one can hold a nearer row.",
							 &ivf_iterative_scan, IVF_ITERATIVE_OFF, ivf_iterative_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("ivf.max_probes", "Most lists an iterative ivf scan probes.",
							"-1 means every list.",
							&ivf_max_probes, -1, -1, IVF_MAX_LISTS,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("ivf.kmeans_iterations", "Lloyd iterations of k-means in CREATE INDEX.",
							NULL, &ivf_kmeans_iterations, 10, 1, 1000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("ivf.build_device", "Where CREATE INDEX runs k-means and assignment.",
							 "auto uses a GPU when one is usable, else the CPU.",
							 &ivf_build_device, IVF_DEVICE_AUTO, ivf_device_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("ivf.build_threads", "CPU threads CREATE INDEX uses.",
							"0 means max_parallel_maintenance_workers + 1, capped at the number of CPUs.",
							&ivf_build_threads, 0, 0, 256,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("ivf.pq_rerank",
							"Rows a PQ index scan keeps for exact re-ranking.",
							"A PQ scan re-ranks only the probed rows with the nearest PQ estimates and returns "
							"at most this many rows; 0 chooses the rows from the PQ estimates and error bounds.",
							&ivf_pq_rerank, 0, 0, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("ivf.inline_storage",
							 "Raise toast_tuple_target on new tables with vector columns.",
							 "Keeps rows that fit a page inline and uncompressed, so exact scans read no TOAST; "
							 "a table's own toast_tuple_target is never changed.",
							 &ivf_inline_storage, true, PGC_USERSET, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("ivf");
	IvfExplainInit();
}

/* The access method's capabilities and callbacks. */
extern "C" Datum
ivfhandler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = 0;
	amroutine->amsupport = 1;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = false;
	amroutine->amcanorderbyop = true;
	amroutine->amcanbackward = false;
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = false;
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = false;
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = ivfbuild;
	amroutine->ambuildempty = ivfbuildempty;
	amroutine->aminsert = ivfinsert;
	amroutine->ambulkdelete = ivfbulkdelete;
	amroutine->amvacuumcleanup = ivfvacuumcleanup;
	amroutine->amcanreturn = NULL;
	amroutine->amcostestimate = ivfcostestimate;
	amroutine->amoptions = ivfoptions;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = IvfBuildPhaseName;
	amroutine->amvalidate = IvfValidate;
	amroutine->amadjustmembers = NULL;
	amroutine->ambeginscan = ivfbeginscan;
	amroutine->amrescan = ivfrescan;
	amroutine->amgettuple = ivfgettuple;
	amroutine->amgetbitmap = NULL;
	amroutine->amendscan = ivfendscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}

/* Support function 1 of each operator class: tells the index its metric. */
extern "C" Datum
ivf_metric_l2(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(IVF_METRIC_L2);
}

extern "C" Datum
ivf_metric_ip(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(IVF_METRIC_IP);
}

extern "C" Datum
ivf_metric_cosine(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(IVF_METRIC_COSINE);
}
