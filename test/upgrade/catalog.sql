-- Every object of the extension pg_ivf (pg_depend deptype 'e') as text, one
-- property a line, "<object> | <property>", in a fixed order.  Run in a
-- database upgraded with ALTER EXTENSION pg_ivf UPDATE and in one with a fresh
-- CREATE EXTENSION pg_ivf, the two outputs must be equal (scripts/upgrade-check.sh
-- diffs them).  Owners are left out: both databases are set up by the same role.
WITH ext AS (
	SELECT oid FROM pg_extension WHERE extname = 'pg_ivf'
), members AS (
	SELECT d.classid, d.objid, d.objsubid, pg_describe_object(d.classid, d.objid, d.objsubid) AS obj
	FROM pg_depend d, ext
	WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
), lines (obj, k, n, line) AS (
	SELECT 'extension pg_ivf', 0, 0::bigint,
		format('version %s, relocatable %s, schema %s, config tables %s',
			   extversion, extrelocatable, extnamespace::regnamespace, coalesce(extconfig::regclass[]::text, '-'))
	FROM pg_extension WHERE extname = 'pg_ivf'
	UNION ALL
	SELECT obj, 1, 0, 'member' FROM members
	UNION ALL
	SELECT m.obj, 2, 0, 'comment ' || quote_literal(c.description)
	FROM members m JOIN pg_description c
		ON c.classoid = m.classid AND c.objoid = m.objid AND c.objsubid = m.objsubid
	UNION ALL
	-- functions (not aggregates): the whole CREATE FUNCTION, line by line
	SELECT m.obj, 3, x.n, x.l
	FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid AND p.prokind <> 'a',
		LATERAL regexp_split_to_table(pg_get_functiondef(p.oid), E'\n') WITH ORDINALITY AS x(l, n)
	UNION ALL
	SELECT m.obj, 4, 0, 'acl ' || coalesce(p.proacl::text, 'default')
	FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
	UNION ALL
	SELECT m.obj, 3, 0,
		format('aggregate kind %s, transfn %s, finalfn %s, combinefn %s, serialfn %s, deserialfn %s, '
			   'mtransfn %s, minvtransfn %s, mfinalfn %s, finalextra %s, finalmodify %s, sortop %s, '
			   'transtype %s, transspace %s, initval %s, mtranstype %s, minitval %s, '
			   'parallel %s, volatile %s, strict %s, arguments (%s), returns %s',
			   a.aggkind, a.aggtransfn::regprocedure, a.aggfinalfn, a.aggcombinefn, a.aggserialfn,
			   a.aggdeserialfn, a.aggmtransfn, a.aggminvtransfn, a.aggmfinalfn, a.aggfinalextra,
			   a.aggfinalmodify, a.aggsortop::regoperator, a.aggtranstype::regtype, a.aggtransspace,
			   coalesce(a.agginitval, '-'), a.aggmtranstype::regtype, coalesce(a.aggminitval, '-'), p.proparallel, p.provolatile,
			   p.proisstrict, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid))
	FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
		JOIN pg_aggregate a ON a.aggfnoid = p.oid
	UNION ALL
	SELECT m.obj, 3, 0,
		format('type %s: type %s, len %s, byval %s, category %s, preferred %s, delim %s, input %s, '
			   'output %s, receive %s, send %s, typmod_in %s, typmod_out %s, analyze %s, subscript %s, '
			   'element %s, array %s, align %s, storage %s, not null %s, base %s, typmod %s, ndims %s, '
			   'collation %s, default %s, acl %s',
			   t.typname, t.typtype, t.typlen, t.typbyval, t.typcategory, t.typispreferred, t.typdelim,
			   t.typinput::regprocedure, t.typoutput::regprocedure, t.typreceive::regprocedure,
			   t.typsend::regprocedure, t.typmodin::regprocedure, t.typmodout::regprocedure,
			   t.typanalyze::regprocedure, t.typsubscript::regprocedure, t.typelem::regtype,
			   t.typarray::regtype, t.typalign, t.typstorage, t.typnotnull, t.typbasetype::regtype,
			   t.typtypmod, t.typndims, t.typcollation, coalesce(t.typdefault, '-'), coalesce(t.typacl::text, 'default'))
	FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
	UNION ALL
	SELECT m.obj, 3, 0,
		format('kind %s, left %s, right %s, result %s, function %s, commutator %s, negator %s, '
			   'restrict %s, join %s, merges %s, hashes %s',
			   o.oprkind, o.oprleft::regtype, o.oprright::regtype, o.oprresult::regtype,
			   o.oprcode::regprocedure, o.oprcom::regoperator, o.oprnegate::regoperator,
			   o.oprrest::regprocedure, o.oprjoin::regprocedure, o.oprcanmerge, o.oprcanhash)
	FROM members m JOIN pg_operator o ON m.classid = 'pg_operator'::regclass AND o.oid = m.objid
	UNION ALL
	SELECT m.obj, 3, 0,
		format('input type %s, default %s, key type %s, in %s',
			   c.opcintype::regtype, c.opcdefault, c.opckeytype::regtype,
			   pg_describe_object('pg_opfamily'::regclass, c.opcfamily, 0))
	FROM members m JOIN pg_opclass c ON m.classid = 'pg_opclass'::regclass AND c.oid = m.objid
	UNION ALL
	-- the members of every operator family an operator class of the extension lives in
	SELECT pg_describe_object('pg_opfamily'::regclass, f.oid, 0), 5, 0,
		format('operator %s (%s, %s) %s, purpose %s, order by %s',
			   o.amopstrategy, o.amoplefttype::regtype, o.amoprighttype::regtype, o.amopopr::regoperator,
			   o.amoppurpose,
			   CASE WHEN o.amopsortfamily <> 0
			        THEN pg_describe_object('pg_opfamily'::regclass, o.amopsortfamily, 0) ELSE '-' END)
	FROM pg_opfamily f JOIN pg_amop o ON o.amopfamily = f.oid
	WHERE f.oid IN (SELECT c.opcfamily FROM members m JOIN pg_opclass c
						ON m.classid = 'pg_opclass'::regclass AND c.oid = m.objid)
	   OR f.oid IN (SELECT objid FROM members WHERE classid = 'pg_opfamily'::regclass)
	UNION ALL
	SELECT pg_describe_object('pg_opfamily'::regclass, f.oid, 0), 6, 0,
		format('function %s (%s, %s) %s', p.amprocnum, p.amproclefttype::regtype,
			   p.amprocrighttype::regtype, p.amproc::regprocedure)
	FROM pg_opfamily f JOIN pg_amproc p ON p.amprocfamily = f.oid
	WHERE f.oid IN (SELECT c.opcfamily FROM members m JOIN pg_opclass c
						ON m.classid = 'pg_opclass'::regclass AND c.oid = m.objid)
	   OR f.oid IN (SELECT objid FROM members WHERE classid = 'pg_opfamily'::regclass)
	UNION ALL
	SELECT m.obj, 3, 0,
		format('function %s, context %s, method %s', c.castfunc::regprocedure, c.castcontext, c.castmethod)
	FROM members m JOIN pg_cast c ON m.classid = 'pg_cast'::regclass AND c.oid = m.objid
	UNION ALL
	SELECT m.obj, 3, 0, format('type %s, handler %s', a.amtype, a.amhandler::regprocedure)
	FROM members m JOIN pg_am a ON m.classid = 'pg_am'::regclass AND a.oid = m.objid
	UNION ALL
	SELECT m.obj, 3, 0,
		format('event %s, function %s, enabled %s, tags %s', e.evtevent, e.evtfoid::regprocedure,
			   e.evtenabled, e.evttags)
	FROM members m JOIN pg_event_trigger e ON m.classid = 'pg_event_trigger'::regclass AND e.oid = m.objid
	UNION ALL
	-- relations (none today): kind and columns
	SELECT m.obj, 3, a.attnum,
		format('kind %s, column %s %s', c.relkind, a.attname, format_type(a.atttypid, a.atttypmod))
	FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
)
SELECT obj || ' | ' || line FROM lines ORDER BY obj COLLATE "C", k, n, line COLLATE "C";
