-- After ALTER EXTENSION pg_ivf UPDATE (scripts/upgrade-check.sh): the new
-- library inserts into and vacuums the indexes 0.1.0 built.
SELECT setseed(0.85);
SELECT format('INSERT INTO %I SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) WHERE i > 0)::vector
			   FROM generate_series(3001, 3300) i', 't_' || q),
	   format('DELETE FROM %I WHERE id %% 5 = 0', 't_' || q),
	   format('VACUUM %I', 't_' || q),
	   format('INSERT INTO %I SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, 16) WHERE i > 0)::vector
			   FROM generate_series(3301, 3400) i', 't_' || q)
FROM unnest(ARRAY['sq8', 'pq', 'flat']) q
\gexec
