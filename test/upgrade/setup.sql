-- The 0.1.0 database of scripts/upgrade-check.sh: one table per quantizer
-- (t_sq8, t_pq, t_flat) with an ivf index per metric (t_<quantizer>_l2, _ip,
-- _cosine; 20 lists each), rows inserted, set NULL and deleted after the build.
CREATE EXTENSION pg_ivf;
SELECT setseed(0.15);

-- A random vector(16) for each i (the unused WHERE makes it per row).
CREATE TABLE queries (qid int PRIMARY KEY, v vector(16));
INSERT INTO queries
SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) WHERE i > 0)::vector
FROM generate_series(1, 20) i;

SELECT format('CREATE TABLE %I (id int PRIMARY KEY, v vector(16))', 't_' || q),
	   format('INSERT INTO %I SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) WHERE i > 0)::vector
			   FROM generate_series(1, 1500) i', 't_' || q)
FROM unnest(ARRAY['sq8', 'pq', 'flat']) q
\gexec

SELECT format('CREATE INDEX %I ON %I USING ivf (v vector_%s_ops) WITH (lists = 20, quantizer = %L%s)',
			  't_' || q || '_' || m, 't_' || q, m, q, CASE q WHEN 'pq' THEN ', pq_m = 4' ELSE '' END)
FROM unnest(ARRAY['sq8', 'pq', 'flat']) q, unnest(ARRAY['l2', 'ip', 'cosine']) m
\gexec

-- After the build: inserts (a few NULL), deletes, VACUUM.
SELECT format('INSERT INTO %I SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) WHERE i > 0)::vector
			   FROM generate_series(1501, 1800) i', 't_' || q),
	   format('INSERT INTO %I SELECT i, NULL FROM generate_series(1801, 1805) i', 't_' || q),
	   format('DELETE FROM %I WHERE id %% 7 = 0', 't_' || q),
	   format('VACUUM %I', 't_' || q)
FROM unnest(ARRAY['sq8', 'pq', 'flat']) q
\gexec
