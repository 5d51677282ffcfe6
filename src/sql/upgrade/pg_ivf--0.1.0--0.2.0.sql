-- pg_ivf 0.1.0 -> 0.2.0, run by ALTER EXTENSION pg_ivf UPDATE.
--
-- Every change of an SQL object in src/sql/*.sql since 0.1.0 (commit 7a9e69b)
-- is repeated here, so that 0.1.0 + this script gives the same objects as a
-- fresh CREATE EXTENSION of 0.2.0; `make upgradecheck` compares the two
-- catalogs.  Indexes need nothing here: the library reads 0.1.0's on-disk
-- format (meta page version 1).

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_ivf UPDATE TO '0.2.0'" to load this file. \quit
