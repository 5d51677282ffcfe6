/*
 * ivfexplain.cpp — EXPLAIN ANALYZE shows what each ivf index scan did.
 *
 * PostgreSQL 15 lets an extension print nothing inside a plan node that is
 * not its own (per-node EXPLAIN hooks came in 18), and ExplainOneQuery_hook
 * is not called for EXPLAIN EXECUTE.  So the counters reach the output
 * through two hooks that every form of EXPLAIN ANALYZE passes, and a
 * wrapped output receiver:
 *   - ProcessUtility_hook sees the EXPLAIN statement, pushes a frame (EXPLAINs
 *     nest: a function the explained query calls may run one) and wraps the
 *     receiver of the EXPLAIN's output rows;
 *   - ExecutorEnd_hook, for a query EXPLAIN ANALYZE ran (instrumented, its
 *     rows discarded or going into CREATE TABLE AS), walks the plan before
 *     the scans close and copies the counters of every ivf index scan
 *     (ivfscan.cpp keeps them on the scan, summed over rescans) into the frame;
 *   - the wrapped receiver adds them after the plan: lines at the end in text
 *     format, an "Ivf Scans" array inside the last query's object in JSON,
 *     YAML and XML, written by PostgreSQL's own ExplainProperty functions.
 * An EXPLAIN whose plans hold no ivf scan passes through unchanged.
 *
 * The hooks exist only once pg_ivf.so is loaded: an EXPLAIN that loads it
 * (its first use in the session, when the query plans an ivf index but has
 * no literal of pg_ivf's vector type) shows no counters; later ones do, and
 * so does every one with pg_ivf in session_preload_libraries.
 */
#include "pg.h"
#include "ivf.h"

/* One ivf index scan node of an explained plan. */
typedef struct IvfExplainScan
{
	const char *index_name;
	const char *relation_name;
	const char *alias;			/* NULL when the same as relation_name */
	bool		leader_only;	/* under a Gather: workers' copies are not counted */
	IvfScanCounters counters;
} IvfExplainScan;

/* One EXPLAIN ANALYZE statement being run. */
typedef struct IvfExplainFrame
{
	struct IvfExplainFrame *outer;
	List	   *scans;			/* IvfExplainScan *, in plan order, over every query it ran */
} IvfExplainFrame;

/* The receiver of the EXPLAIN's output rows, wrapped. */
typedef struct IvfExplainDest
{
	DestReceiver pub;
	DestReceiver *inner;
	IvfExplainFrame *frame;
	ExplainFormat format;
	TupleDesc	typeinfo;
} IvfExplainDest;

/* Walker state over one plan. */
typedef struct IvfCollectContext
{
	IvfExplainFrame *frame;
	List	   *rtable;
	int			gathers;		/* Gather / Gather Merge nodes above */
} IvfCollectContext;

static ProcessUtility_hook_type prev_process_utility = NULL;
static ExecutorEnd_hook_type prev_executor_end = NULL;
static IvfExplainFrame *explain_frame = NULL;	/* innermost EXPLAIN ANALYZE running */

/* True when `stmt` is EXPLAIN ANALYZE; sets its output format. */
static bool
ExplainAnalyzes(ExplainStmt *stmt, ExplainFormat *format)
{
	ListCell   *lc;
	bool		analyze = false;

	*format = EXPLAIN_FORMAT_TEXT;
	foreach(lc, stmt->options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, "analyze") == 0)
			analyze = defGetBoolean(opt);
		else if (strcmp(opt->defname, "format") == 0)
		{
			/* an unknown format is ExplainQuery's error to raise */
			const char *p = defGetString(opt);

			*format = strcmp(p, "xml") == 0 ? EXPLAIN_FORMAT_XML
				: strcmp(p, "json") == 0 ? EXPLAIN_FORMAT_JSON
				: strcmp(p, "yaml") == 0 ? EXPLAIN_FORMAT_YAML
				: EXPLAIN_FORMAT_TEXT;
		}
	}
	return analyze;
}

/* Plan walker: copies the counters of each ivf index scan into the frame. */
static bool
CollectScans(PlanState *ps, void *context)
{
	IvfCollectContext *cx = (IvfCollectContext *) context;
	bool		gather = IsA(ps, GatherState) || IsA(ps, GatherMergeState);
	bool		result;

	if (IsA(ps, IndexScanState))
	{
		const IvfScanCounters *counters = IvfScanGetCounters(((IndexScanState *) ps)->iss_ScanDesc);

		if (counters != NULL)
		{
			IvfExplainScan *s = (IvfExplainScan *) palloc0(sizeof(IvfExplainScan));
			RangeTblEntry *rte = rt_fetch(((Scan *) ps->plan)->scanrelid, cx->rtable);
			Relation	index = ((IndexScanState *) ps)->iss_RelationDesc;

			s->index_name = pstrdup(RelationGetRelationName(index));
			s->relation_name = get_rel_name(rte->relid);
			if (s->relation_name == NULL)
				s->relation_name = rte->eref->aliasname;
			if (strcmp(rte->eref->aliasname, s->relation_name) != 0)
				s->alias = pstrdup(rte->eref->aliasname);
			s->leader_only = cx->gathers > 0;
			s->counters = *counters;
			cx->frame->scans = lappend(cx->frame->scans, s);
		}
	}
	cx->gathers += gather;
	/* nodeFuncs.h declares the walker without parameters, as C allows */
	result = planstate_tree_walker(ps, (bool (*)()) (void (*)()) CollectScans, context);
	cx->gathers -= gather;
	return result;
}

/* ExecutorEnd: the scans are still open here; the standard end closes them. */
static void
IvfExecutorEnd(QueryDesc *queryDesc)
{
	/* EXPLAIN ANALYZE runs its query with instrumentation into None_Receiver (or CREATE TABLE AS's) */
	if (explain_frame != NULL && queryDesc->planstate != NULL && queryDesc->instrument_options != 0 &&
		(queryDesc->dest == None_Receiver || queryDesc->dest->mydest == DestIntoRel))
	{
		IvfCollectContext cx = {explain_frame, queryDesc->plannedstmt->rtable, 0};

		CollectScans(queryDesc->planstate, &cx);
	}
	if (prev_executor_end)
		prev_executor_end(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

/* One text line per scan, as "Trigger ...:" lines follow a plan. */
static void
FormatText(StringInfo out, List *scans)
{
	ListCell   *lc;

	foreach(lc, scans)
	{
		const IvfExplainScan *s = (const IvfExplainScan *) lfirst(lc);
		const IvfScanCounters *c = &s->counters;

		appendStringInfo(out, "ivf scan using %s on %s", quote_identifier(s->index_name),
						 quote_identifier(s->relation_name));
		if (s->alias)
			appendStringInfo(out, " %s", quote_identifier(s->alias));
		appendStringInfo(out, ": %lld list%s probed, %lld code%s scanned, %lld row%s re-ranked, %lld batch%s",
						 (long long) c->lists, c->lists == 1 ? "" : "s",
						 (long long) c->codes, c->codes == 1 ? "" : "s",
						 (long long) c->rows, c->rows == 1 ? "" : "s",
						 (long long) c->batches, c->batches == 1 ? "" : "es");
		if (c->rerank_depth > 0)
			appendStringInfo(out, ", re-rank depth %lld", (long long) c->rerank_depth);
		if (s->leader_only)
			appendStringInfoString(out, " (leader's share only)");
		appendStringInfoChar(out, '\n');
	}
}

/*
 * The "Ivf Scans" group as a property of a query object in XML, JSON or
 * YAML, at the indentation ExplainOnePlan leaves its properties, after one
 * (so JSON gets its comma).
 */
static void
FormatGroup(StringInfo out, List *scans, ExplainFormat format)
{
	ExplainState *es = NewExplainState();
	ListCell   *lc;

	es->str = out;
	es->format = format;
	es->indent = format == EXPLAIN_FORMAT_YAML ? 1 : 2;
	es->grouping_stack = list_make1_int(1);
	ExplainOpenGroup("Ivf Scans", "Ivf Scans", false, es);
	foreach(lc, scans)
	{
		const IvfExplainScan *s = (const IvfExplainScan *) lfirst(lc);
		const IvfScanCounters *c = &s->counters;

		ExplainOpenGroup("Ivf Scan", NULL, true, es);
		ExplainPropertyText("Index Name", s->index_name, es);
		ExplainPropertyText("Relation Name", s->relation_name, es);
		ExplainPropertyText("Alias", s->alias ? s->alias : s->relation_name, es);
		ExplainPropertyInteger("Lists Probed", NULL, c->lists, es);
		ExplainPropertyInteger("Codes Scanned", NULL, c->codes, es);
		ExplainPropertyInteger("Rows Re-ranked", NULL, c->rows, es);
		ExplainPropertyInteger("Batches", NULL, c->batches, es);
		if (c->rerank_depth > 0)
			ExplainPropertyInteger("Re-rank Depth", NULL, c->rerank_depth, es);
		if (s->leader_only)
			ExplainPropertyBool("Leader Only", true, es);
		ExplainCloseGroup("Ivf Scan", NULL, true, es);
	}
	ExplainCloseGroup("Ivf Scans", "Ivf Scans", false, es);
}

/*
 * The document with the group inside its last query object: before the
 * closing "  }\n]" (JSON) or "  </Query>\n</explain>" (XML); YAML's last
 * query has no closing mark, so the group goes at the end.
 */
static char *
SpliceGroup(const char *doc, List *scans, ExplainFormat format)
{
	const char *tail = format == EXPLAIN_FORMAT_JSON ? "\n  }\n]"
		: format == EXPLAIN_FORMAT_XML ? "  </Query>\n</explain>" : "";
	size_t		len = strlen(doc);
	size_t		tail_len = strlen(tail);
	StringInfoData out;

	if (len < tail_len || strcmp(doc + len - tail_len, tail) != 0)
		return NULL;
	initStringInfo(&out);
	appendBinaryStringInfo(&out, doc, (int) (len - tail_len));
	FormatGroup(&out, scans, format);
	appendStringInfoString(&out, tail);
	return out.data;
}

static void
ExplainDestStartup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
	IvfExplainDest *d = (IvfExplainDest *) self;

	d->typeinfo = typeinfo;
	d->inner->rStartup(d->inner, operation, typeinfo);
}

/* XML, JSON and YAML come as one row: the group goes into it. */
static bool
ExplainDestReceive(TupleTableSlot *slot, DestReceiver *self)
{
	IvfExplainDest *d = (IvfExplainDest *) self;

	if (d->format != EXPLAIN_FORMAT_TEXT && d->frame->scans != NIL)
	{
		char	   *doc;

		slot_getallattrs(slot);
		doc = slot->tts_isnull[0] ? NULL
			: SpliceGroup(TextDatumGetCString(slot->tts_values[0]), d->frame->scans, d->format);
		if (doc != NULL)
		{
			ExecClearTuple(slot);
			slot->tts_values[0] = CStringGetTextDatum(doc);
			slot->tts_isnull[0] = false;
			ExecStoreVirtualTuple(slot);
		}
	}
	return d->inner->receiveSlot(slot, d->inner);
}

/* Text comes as one row per line: ours follow the plan's. */
static void
ExplainDestShutdown(DestReceiver *self)
{
	IvfExplainDest *d = (IvfExplainDest *) self;

	if (d->format == EXPLAIN_FORMAT_TEXT && d->frame->scans != NIL && d->typeinfo != NULL)
	{
		TupleTableSlot *slot = MakeSingleTupleTableSlot(d->typeinfo, &TTSOpsVirtual);
		StringInfoData lines;
		char	   *line;
		char	   *eol;

		initStringInfo(&lines);
		FormatText(&lines, d->frame->scans);
		for (line = lines.data; (eol = strchr(line, '\n')) != NULL; line = eol + 1)
		{
			*eol = '\0';
			ExecClearTuple(slot);
			slot->tts_values[0] = CStringGetTextDatum(line);
			slot->tts_isnull[0] = false;
			ExecStoreVirtualTuple(slot);
			d->inner->receiveSlot(slot, d->inner);
		}
		ExecDropSingleTupleTableSlot(slot);
	}
	d->inner->rShutdown(d->inner);
}

/* The wrapper lives only during the statement; its owner destroys the inner receiver. */
static void
ExplainDestDestroy(DestReceiver *self)
{
}

/* ProcessUtility: EXPLAIN ANALYZE runs inside a frame, its output through the wrapper. */
static void
IvfProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				  ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *queryEnv,
				  DestReceiver *dest, QueryCompletion *qc)
{
	ExplainFormat format;
	IvfExplainFrame frame;
	IvfExplainDest wrap;
	DestReceiver *target = dest;

	if (IsA(pstmt->utilityStmt, ExplainStmt) && dest != NULL &&
		ExplainAnalyzes((ExplainStmt *) pstmt->utilityStmt, &format))
	{
		frame.outer = explain_frame;
		frame.scans = NIL;
		memset(&wrap, 0, sizeof(wrap));
		wrap.pub.receiveSlot = ExplainDestReceive;
		wrap.pub.rStartup = ExplainDestStartup;
		wrap.pub.rShutdown = ExplainDestShutdown;
		wrap.pub.rDestroy = ExplainDestDestroy;
		wrap.pub.mydest = dest->mydest;
		wrap.inner = dest;
		wrap.frame = &frame;
		wrap.format = format;
		target = &wrap.pub;
		explain_frame = &frame;
	}
	PG_TRY();
	{
		if (prev_process_utility)
			prev_process_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, target, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, target, qc);
	}
	PG_FINALLY();
	{
		/* an error mid-EXPLAIN drops its counters with its frame */
		if (target != dest)
			explain_frame = frame.outer;
	}
	PG_END_TRY();
}

/* Installs the hooks (from _PG_init), chained to any installed before. */
void
IvfExplainInit(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = IvfProcessUtility;
	prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = IvfExecutorEnd;
}
