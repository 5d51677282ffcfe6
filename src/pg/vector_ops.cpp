/*
 * vector_ops.cpp — what SQL can compute on vectors: the distances, norms,
 * element-wise arithmetic, concatenation, subvector, btree comparisons and
 * the casts between vectors and arrays.  Every function that makes a vector
 * rejects a non-finite element, with pgvector's error.
 */
#include "pg.h"
#include "vector.h"

extern "C" {
PG_FUNCTION_INFO_V1(l2_distance);
PG_FUNCTION_INFO_V1(vector_l2_squared_distance);
PG_FUNCTION_INFO_V1(inner_product);
PG_FUNCTION_INFO_V1(vector_negative_inner_product);
PG_FUNCTION_INFO_V1(cosine_distance);
PG_FUNCTION_INFO_V1(l1_distance);
PG_FUNCTION_INFO_V1(vector_spherical_distance);
PG_FUNCTION_INFO_V1(vector_dims);
PG_FUNCTION_INFO_V1(vector_norm);
PG_FUNCTION_INFO_V1(l2_normalize);
PG_FUNCTION_INFO_V1(vector_add);
PG_FUNCTION_INFO_V1(vector_sub);
PG_FUNCTION_INFO_V1(vector_mul);
PG_FUNCTION_INFO_V1(vector_concat);
PG_FUNCTION_INFO_V1(subvector);
PG_FUNCTION_INFO_V1(vector_lt);
PG_FUNCTION_INFO_V1(vector_le);
PG_FUNCTION_INFO_V1(vector_eq);
PG_FUNCTION_INFO_V1(vector_ne);
PG_FUNCTION_INFO_V1(vector_ge);
PG_FUNCTION_INFO_V1(vector_gt);
PG_FUNCTION_INFO_V1(vector_cmp);
PG_FUNCTION_INFO_V1(array_to_vector);
PG_FUNCTION_INFO_V1(vector_to_float4);
}

/*
 * ---- distances ----
 * Sums accumulate in float through pg_ivf::core::kernels() and finish in
 * double exactly as pgvector does, so the operators return pgvector's values.
 * The index does not call these: it computes its bounds in the core and
 * leaves the exact distance to the executor, which calls the operator.
 */

/* Squared L2; what k-means and list assignment compare. */
static double
L2SquaredDistanceRaw(const float *a, const float *b, int dim)
{
	return (double) pg_ivf::core::kernels().l2_squared(a, b, (size_t) dim);
}

/* The <-> operator's value: sqrt of the float sum, taken in double. */
static double
L2DistanceRaw(const float *a, const float *b, int dim)
{
	return sqrt((double) pg_ivf::core::kernels().l2_squared(a, b, (size_t) dim));
}

static double
InnerProductRaw(const float *a, const float *b, int dim)
{
	return (double) pg_ivf::core::kernels().dot(a, b, (size_t) dim);
}

/* The <#> operator's value: negated so that smaller means closer. */
static double
NegativeInnerProductRaw(const float *a, const float *b, int dim)
{
	return -(double) pg_ivf::core::kernels().dot(a, b, (size_t) dim);
}

/*
 * The <=> operator's value.  sqrt(|a|^2 |b|^2) in one root, the similarity
 * clamped to [-1, 1] against rounding; comparisons (not fmin/fmax) keep the
 * NaN that a zero vector produces.
 */
static double
CosineDistanceRaw(const float *a, const float *b, int dim)
{
	float		ab;
	float		aa;
	float		bb;
	double		similarity;

	pg_ivf::core::kernels().dot_and_norms(a, b, (size_t) dim, &ab, &aa, &bb);
	similarity = (double) ab / sqrt((double) aa * (double) bb);
	if (similarity > 1.0)
		similarity = 1.0;
	else if (similarity < -1.0)
		similarity = -1.0;
	return 1.0 - similarity;
}

/* The <+> operator's value. */
static double
L1DistanceRaw(const float *a, const float *b, int dim)
{
	return (double) pg_ivf::core::kernels().l1(a, b, (size_t) dim);
}

static double
VectorL2SquaredDistance(const Vector *a, const Vector *b)
{
	CheckDims(a, b);
	return L2SquaredDistanceRaw(a->x, b->x, a->dim);
}

static double
VectorL2Distance(const Vector *a, const Vector *b)
{
	CheckDims(a, b);
	return L2DistanceRaw(a->x, b->x, a->dim);
}

static double
VectorInnerProduct(const Vector *a, const Vector *b)
{
	CheckDims(a, b);
	return InnerProductRaw(a->x, b->x, a->dim);
}

static double
VectorNegativeInnerProduct(const Vector *a, const Vector *b)
{
	CheckDims(a, b);
	return NegativeInnerProductRaw(a->x, b->x, a->dim);
}

static double
VectorCosineDistance(const Vector *a, const Vector *b)
{
	CheckDims(a, b);
	return CosineDistanceRaw(a->x, b->x, a->dim);
}

static double
VectorL1Distance(const Vector *a, const Vector *b)
{
	CheckDims(a, b);
	return L1DistanceRaw(a->x, b->x, a->dim);
}

extern "C" Datum
l2_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(VectorL2Distance(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1)));
}

extern "C" Datum
vector_l2_squared_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(VectorL2SquaredDistance(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1)));
}

extern "C" Datum
inner_product(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(VectorInnerProduct(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1)));
}

extern "C" Datum
vector_negative_inner_product(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(VectorNegativeInnerProduct(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1)));
}

extern "C" Datum
cosine_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(VectorCosineDistance(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1)));
}

extern "C" Datum
l1_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(VectorL1Distance(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1)));
}

/*
 * Angle between two unit vectors over pi, in [0, 1]: the distance pgvector's
 * spherical k-means uses (it obeys the triangle inequality).  The norms are
 * not computed; the clamp keeps acos from NaN when rounding leaves [-1, 1].
 */
extern "C" Datum
vector_spherical_distance(PG_FUNCTION_ARGS)
{
	double		dot = VectorInnerProduct(PG_GETARG_VECTOR_P(0), PG_GETARG_VECTOR_P(1));

	if (dot > 1.0)
		dot = 1.0;
	else if (dot < -1.0)
		dot = -1.0;
	PG_RETURN_FLOAT8(acos(dot) / M_PI);
}

/* ---- single-vector functions ---- */

extern "C" Datum
vector_dims(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(PG_GETARG_VECTOR_P(0)->dim);
}

/* Euclidean norm summed in double (as pgvector), so large elements cannot overflow it. */
static double
NormDouble(const Vector *a)
{
	double		sum = 0.0;

	for (int i = 0; i < a->dim; i++)
		sum += (double) a->x[i] * (double) a->x[i];
	return sqrt(sum);
}

extern "C" Datum
vector_norm(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(NormDouble(PG_GETARG_VECTOR_P(0)));
}

/* A finite result that became infinite overflowed float4. */
static void
CheckOverflow(const Vector *r)
{
	for (int i = 0; i < r->dim; i++)
		if (std::isinf(r->x[i]))
			float_overflow_error();
}

/*
 * Unit-length copy; a zero vector stays zero rather than becoming NaN.  The
 * quotient cannot exceed 1 for finite input; the check is pgvector's guard
 * for values stored before every producer was checked.
 */
extern "C" Datum
l2_normalize(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *result = InitVector(a->dim);
	double		norm = NormDouble(a);

	if (norm > 0.0)
	{
		for (int i = 0; i < a->dim; i++)
			result->x[i] = (float) (a->x[i] / norm);
		CheckOverflow(result);
	}
	PG_RETURN_VECTOR_P(result);
}

/* ---- element-wise arithmetic: finite inputs must give finite outputs ---- */

extern "C" Datum
vector_add(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *r;

	CheckDims(a, b);
	r = InitVector(a->dim);
	for (int i = 0; i < a->dim; i++)
		r->x[i] = a->x[i] + b->x[i];
	CheckOverflow(r);
	PG_RETURN_VECTOR_P(r);
}

extern "C" Datum
vector_sub(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *r;

	CheckDims(a, b);
	r = InitVector(a->dim);
	for (int i = 0; i < a->dim; i++)
		r->x[i] = a->x[i] - b->x[i];
	CheckOverflow(r);
	PG_RETURN_VECTOR_P(r);
}

/* Products also report underflow: two non-zero factors must not give zero. */
extern "C" Datum
vector_mul(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *r;

	CheckDims(a, b);
	r = InitVector(a->dim);
	for (int i = 0; i < a->dim; i++)
		r->x[i] = a->x[i] * b->x[i];
	CheckOverflow(r);
	for (int i = 0; i < a->dim; i++)
		if (r->x[i] == 0.0f && a->x[i] != 0.0f && b->x[i] != 0.0f)
			float_underflow_error();
	PG_RETURN_VECTOR_P(r);
}

extern "C" Datum
vector_concat(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	Vector	   *r;

	CheckDim(a->dim + b->dim);
	r = InitVector(a->dim + b->dim);
	memcpy(r->x, a->x, sizeof(float) * a->dim);
	memcpy(r->x + a->dim, b->x, sizeof(float) * b->dim);
	PG_RETURN_VECTOR_P(r);
}

/*
 * subvector(v, start, count): elements start .. start+count-1, 1-based and
 * clipped to the vector like substring(); an empty result is an error.
 * int64 arithmetic keeps start + count from overflowing.
 */
extern "C" Datum
subvector(PG_FUNCTION_ARGS)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	int64		first = PG_GETARG_INT32(1);
	int64		count = PG_GETARG_INT32(2);
	int64		end = first + count;	/* one past the last, 1-based */
	Vector	   *r;

	if (count < 1)
		CheckDim(0);
	if (first < 1)
		first = 1;
	if (end > (int64) a->dim + 1)
		end = (int64) a->dim + 1;
	CheckDim((int) Max(end - first, (int64) 0));

	r = InitVector((int) (end - first));
	memcpy(r->x, a->x + (first - 1), sizeof(float) * r->dim);
	PG_RETURN_VECTOR_P(r);
}

/* ---- btree ordering ---- */

int
VectorCmp(const Vector *a, const Vector *b)
{
	int			n = Min(a->dim, b->dim);

	/* elements first, then length, as PostgreSQL orders arrays */
	for (int i = 0; i < n; i++)
	{
		if (a->x[i] < b->x[i])
			return -1;
		if (a->x[i] > b->x[i])
			return 1;
	}
	if (a->dim != b->dim)
		return a->dim < b->dim ? -1 : 1;
	return 0;
}

/* Compares the two arguments, freeing detoasted copies: sorts call this a lot. */
static int
CompareArgs(FunctionCallInfo fcinfo)
{
	Vector	   *a = PG_GETARG_VECTOR_P(0);
	Vector	   *b = PG_GETARG_VECTOR_P(1);
	int			cmp = VectorCmp(a, b);

	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	return cmp;
}

extern "C" Datum
vector_lt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) < 0);
}

extern "C" Datum
vector_le(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) <= 0);
}

extern "C" Datum
vector_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) == 0);
}

extern "C" Datum
vector_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) != 0);
}

extern "C" Datum
vector_ge(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) >= 0);
}

extern "C" Datum
vector_gt(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(CompareArgs(fcinfo) > 0);
}

extern "C" Datum
vector_cmp(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(CompareArgs(fcinfo));
}

/* ---- casts ---- */

/* integer[], real[], double precision[] and numeric[] to vector(typmod). */
extern "C" Datum
array_to_vector(PG_FUNCTION_ARGS)
{
	ArrayType  *array = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	Oid			elemtype = ARR_ELEMTYPE(array);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	int			n;
	Vector	   *result;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("array must be 1-D"),
				 errhint("Only one-dimensional arrays such as ARRAY[1,2,3] convert to vector.")));
	if (array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("array must not contain nulls"),
				 errhint("Replace the NULL elements, for example with coalesce(), before converting to vector.")));

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign, &elems, NULL, &n);
	CheckDim(n);
	CheckExpectedDim(typmod, n);

	result = InitVector(n);
	for (int i = 0; i < n; i++)
	{
		switch (elemtype)
		{
			case INT4OID:
				result->x[i] = (float) DatumGetInt32(elems[i]);
				break;
			case FLOAT4OID:
				result->x[i] = DatumGetFloat4(elems[i]);
				break;
			case FLOAT8OID:
				/* beyond float4's range this is infinity, refused below as pgvector does */
				result->x[i] = (float) DatumGetFloat8(elems[i]);
				break;
			case NUMERICOID:
				result->x[i] = DatumGetFloat4(DirectFunctionCall1(numeric_float4, elems[i]));
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("unsupported array type")));
		}
		CheckElement(result->x[i]);
	}
	pfree(elems);
	PG_RETURN_VECTOR_P(result);
}

/* vector to real[], for array functions and clients without the type. */
extern "C" Datum
vector_to_float4(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	Datum	   *datums = (Datum *) palloc(sizeof(Datum) * vec->dim);
	ArrayType  *result;

	for (int i = 0; i < vec->dim; i++)
		datums[i] = Float4GetDatum(vec->x[i]);
	result = construct_array(datums, vec->dim, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT);
	pfree(datums);
	PG_RETURN_ARRAYTYPE_P(result);
}
