/*
 * vector_agg.cpp — avg(vector): transition, parallel combine and final
 * functions over pgvector's state, a float8[] {count, sum_1, ..., sum_dim}.
 * The state starts as '{0}' and takes its length from the first input.
 * (sum(vector) needs no code here: it folds with vector_add, as pgvector.)
 */
#include "pg.h"
#include "vector.h"

extern "C" {
PG_FUNCTION_INFO_V1(vector_accum);
PG_FUNCTION_INFO_V1(vector_combine);
PG_FUNCTION_INFO_V1(vector_avg);
}

/* Number of sums in a state array (its length minus the count). */
#define STATE_DIM(state) (ARR_DIMS(state)[0] - 1)

/* The state is internal but SQL-callable, so reject anything malformed. */
static float8 *
StateValues(ArrayType *state, const char *caller)
{
	if (ARR_NDIM(state) != 1 || ARR_DIMS(state)[0] < 1 || ARR_HASNULL(state) ||
		ARR_ELEMTYPE(state) != FLOAT8OID || STATE_DIM(state) > VECTOR_MAX_DIM)
		elog(ERROR, "%s: expected state array", caller);
	return (float8 *) ARR_DATA_PTR(state);
}

/* A fresh state {count, sums...} of dim sums; sums copied from src when given. */
static ArrayType *
MakeState(float8 count, int dim, const float8 *src)
{
	Datum	   *datums = (Datum *) palloc(sizeof(Datum) * (dim + 1));
	ArrayType  *state;

	datums[0] = Float8GetDatum(count);
	for (int i = 0; i < dim; i++)
		datums[i + 1] = Float8GetDatum(src != NULL ? src[i] : 0.0);
	state = construct_array(datums, dim + 1, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
							TYPALIGN_DOUBLE);
	pfree(datums);
	return state;
}

/*
 * Adds one vector.  Inside an aggregate the state is ours to update in
 * place, as float8_accum does; otherwise (a direct SQL call) it is copied.
 * A sum of float4 values cannot overflow float8 within any count, but a
 * state passed in by a direct call can hold anything, so sums are checked.
 */
extern "C" Datum
vector_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	Vector	   *v = PG_GETARG_VECTOR_P(1);
	float8	   *values = StateValues(state, "vector_accum");
	int			dim = STATE_DIM(state);

	if (dim == 0)
	{
		/* first input: the state takes this vector's length */
		state = MakeState(values[0], v->dim, NULL);
		values = (float8 *) ARR_DATA_PTR(state);
	}
	else
	{
		CheckExpectedDim(dim, v->dim);
		if (!AggCheckCallContext(fcinfo, NULL))
		{
			state = MakeState(values[0], dim, values + 1);
			values = (float8 *) ARR_DATA_PTR(state);
		}
	}

	values[0] += 1.0;
	for (int i = 0; i < v->dim; i++)
	{
		values[i + 1] += (double) v->x[i];
		if (std::isinf(values[i + 1]))
			float_overflow_error();
	}
	PG_RETURN_ARRAYTYPE_P(state);
}

/*
 * Merges two partial states from parallel workers.  A side without sums (a
 * worker that saw no rows, or the initial '{0}') passes the other through,
 * and two such sides give '{0}' again so that avg over no rows is NULL:
 * pgvector 0.8.6 raised "vector must have at least 1 dimension" there, which
 * broke parallel avg over an empty set; pgvector fixed it the same way.
 */
extern "C" Datum
vector_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *state1 = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *state2 = PG_GETARG_ARRAYTYPE_P(1);
	float8	   *values1 = StateValues(state1, "vector_combine");
	float8	   *values2 = StateValues(state2, "vector_combine");
	int			dim1 = STATE_DIM(state1);
	int			dim2 = STATE_DIM(state2);
	ArrayType  *result;
	float8	   *sums;

	if (dim2 == 0)
		PG_RETURN_ARRAYTYPE_P(MakeState(values1[0] + values2[0], dim1, values1 + 1));
	if (dim1 == 0)
		PG_RETURN_ARRAYTYPE_P(MakeState(values1[0] + values2[0], dim2, values2 + 1));
	CheckExpectedDim(dim1, dim2);

	result = MakeState(values1[0] + values2[0], dim1, values1 + 1);
	sums = (float8 *) ARR_DATA_PTR(result);
	for (int i = 1; i <= dim1; i++)
	{
		sums[i] += values2[i];
		if (std::isinf(sums[i]))
			float_overflow_error();
	}
	PG_RETURN_ARRAYTYPE_P(result);
}

/*
 * Sum / count per element, rounded once to float4; NULL when nothing was
 * aggregated.  A state from a direct call can hold NaN, or sums beyond
 * float4's range: those must not become a stored vector.
 */
extern "C" Datum
vector_avg(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	float8	   *values = StateValues(state, "vector_avg");
	int			dim = STATE_DIM(state);
	Vector	   *result;

	if (values[0] == 0.0)
		PG_RETURN_NULL();
	CheckDim(dim);
	result = InitVector(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = (float) (values[i + 1] / values[0]);
		CheckElement(result->x[i]);
	}
	PG_RETURN_VECTOR_P(result);
}
