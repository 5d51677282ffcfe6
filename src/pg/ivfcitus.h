/*
 * ivfcitus.h — what pg_ivf needs to know about Citus, without linking to it.
 */
#ifndef PG_IVF_IVFCITUS_H
#define PG_IVF_IVFCITUS_H

#include "pg.h"

extern bool IvfIsCitusShell(Oid relid);
extern void IvfRejectCitusShell(Relation index, const char *function);

#endif
