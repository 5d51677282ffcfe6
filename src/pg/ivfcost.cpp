/*
 * ivfcost.cpp — amcostestimate: an ivf index serves only ORDER BY distance,
 * and reads probes/lists of the index (IvfScanProbes: a target recall's
 * probes when one is in effect) before it returns its first row.
 */
#include "pg.h"
#include "ivf.h"


void
ivfcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				Cost *indexStartupCost, Cost *indexTotalCost,
				Selectivity *indexSelectivity, double *indexCorrelation,
				double *indexPages)
{
	GenericCosts costs;
	Relation	index;
	IvfMetaPageData meta;
	double		ratio;
	int			probes;
	double		spc_seq_page_cost;
	double		spc_random_page_cost;

	/* without ORDER BY the index can return nothing useful */
	if (path->indexorderbys == NIL)
	{
		*indexStartupCost = get_float8_infinity();
		*indexTotalCost = get_float8_infinity();
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	index = index_open(path->indexinfo->indexoid, NoLock);
	IvfGetMetaPage(index, &meta);
	probes = IvfScanProbes(index, &meta, false, NULL);
	index_close(index, NoLock);

	ratio = Min(1.0, (double) probes / Max(meta.lists, 1));

	MemSet(&costs, 0, sizeof(costs));
	costs.numIndexTuples = path->indexinfo->tuples * ratio;
	genericcostestimate(root, path, loop_count, &costs);

	/*
	 * A list's pages are read one after another, mostly from shared buffers:
	 * charge sequential rather than random page cost for them.
	 */
	get_tablespace_page_costs(path->indexinfo->reltablespace, &spc_random_page_cost, &spc_seq_page_cost);
	costs.indexTotalCost -= costs.numIndexPages * (spc_random_page_cost - spc_seq_page_cost);

	/* each entry's lower bound costs about one operator evaluation */
	costs.indexTotalCost += costs.numIndexTuples * cpu_operator_cost;

	/* every probed entry is read before the first row comes back */
	*indexStartupCost = costs.indexTotalCost;
	*indexTotalCost = costs.indexTotalCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages;
}
