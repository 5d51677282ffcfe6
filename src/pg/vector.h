/*
 * vector.h — the `vector` type (pgvector's layout and binary format) and its
 * validity checks.  Error texts and SQLSTATEs are pgvector's, so clients that
 * match on them keep working.
 */
#ifndef PG_IVF_VECTOR_H
#define PG_IVF_VECTOR_H

#include "pg.h"

#define VECTOR_MAX_DIM 16000

/* A varlena: header, dimension count, a reserved zero, then dim floats. */
typedef struct Vector
{
	int32		vl_len_;		/* varlena header; use SET_VARSIZE/VARSIZE only */
	int16		dim;			/* number of elements, 1..VECTOR_MAX_DIM */
	int16		unused;			/* always 0; part of the binary format */
	float		x[FLEXIBLE_ARRAY_MEMBER];	/* size dim, all finite */
} Vector;

/* Bytes of a vector with dim elements, header included. */
#define VECTOR_SIZE(dim)		(offsetof(Vector, x) + sizeof(float) * (Size) (dim))
#define DatumGetVector(d)		((Vector *) PG_DETOAST_DATUM(d))
#define PG_GETARG_VECTOR_P(n)	DatumGetVector(PG_GETARG_DATUM(n))
#define PG_RETURN_VECTOR_P(v)	PG_RETURN_POINTER(v)

/* A zero-filled vector of dim elements in CurrentMemoryContext. */
Vector	   *InitVector(int dim);

/* Rejects element counts outside 1..VECTOR_MAX_DIM. */
static inline void
CheckDim(int dim)
{
	if (dim < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension")));
	if (dim > VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("vector cannot have more than %d dimensions", VECTOR_MAX_DIM)));
}

/* Enforces a vector(n) type modifier; typmod -1 means "any". */
static inline void
CheckExpectedDim(int32 typmod, int dim)
{
	if (typmod != -1 && typmod != dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected %d dimensions, not %d", typmod, dim)));
}

/* Element-wise operations and distances need equal lengths. */
static inline void
CheckDims(const Vector *a, const Vector *b)
{
	if (a->dim != b->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("different vector dimensions %d and %d", a->dim, b->dim)));
}

/*
 * Stored vectors never hold NaN or infinity: distances, indexes and a dump's
 * restore rely on it, so every function that makes a vector from anything but
 * finite elements checks its result with this.
 */
static inline void
CheckElement(float value)
{
	if (std::isnan(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("NaN not allowed in vector")));
	if (std::isinf(value))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("infinite value not allowed in vector")));
}

/* btree order: element by element, then the shorter vector first. */
int			VectorCmp(const Vector *a, const Vector *b);

#endif							/* PG_IVF_VECTOR_H */
