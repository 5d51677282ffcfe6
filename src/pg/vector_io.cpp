/*
 * vector_io.cpp — the vector type's text and binary I/O, its type modifier
 * and the vector(n) length-check cast.
 *
 * Text form: '[1,2.5,-3e-2]', whitespace (space, \t, \n, \r, \v, \f)
 * allowed around brackets and elements, 1..VECTOR_MAX_DIM finite float4
 * elements; output uses the shortest decimal that reads back to the same
 * float, as float4out does.  Error messages and SQLSTATEs are pgvector's.
 * Binary form (pgvector's): int16 dim, int16 unused = 0, dim float4 values,
 * all in network byte order.
 */
#include "pg.h"
#include "vector.h"

extern "C" {
PG_FUNCTION_INFO_V1(vector_in);
PG_FUNCTION_INFO_V1(vector_out);
PG_FUNCTION_INFO_V1(vector_typmod_in);
PG_FUNCTION_INFO_V1(vector_typmod_out);
PG_FUNCTION_INFO_V1(vector_recv);
PG_FUNCTION_INFO_V1(vector_send);
PG_FUNCTION_INFO_V1(vector);
}

/* One allocator so every vector gets a correct header and a zeroed tail. */
Vector *
InitVector(int dim)
{
	Size		size = VECTOR_SIZE(dim);
	Vector	   *result = (Vector *) palloc0(size);

	SET_VARSIZE(result, size);
	result->dim = (int16) dim;
	return result;
}

/*
 * pgvector's whitespace: the SQL scanner's set plus vertical tab, which is
 * also what strtof skips before a number.  PostgreSQL 15's scanner_isspace
 * lacks \v, so '[\v1]' parsed (strtof skipped it) while '[1\v]' did not.
 */
static inline const char *
SkipSpaces(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f')
		p++;
	return p;
}

/* Every malformed literal reports the whole input plus what was wrong. */
static void
VectorSyntaxError(const char *lit, const char *detail, int element)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type vector: \"%s\"", lit),
			 element > 0 ? errdetail(detail, element) : errdetail("%s", detail),
			 errhint("Write a vector as a bracketed, comma-separated list of numbers, e.g. '[1,2.5,-3]'.")));
}

/* Parses the text form; checks elements, dimension count and typmod. */
extern "C" Datum
vector_in(PG_FUNCTION_ARGS)
{
	const char *lit = PG_GETARG_CSTRING(0);
	int32		typmod = PG_GETARG_INT32(2);
	const char *p = SkipSpaces(lit);
	float	   *values;
	int			capacity = 1;
	int			dim = 0;
	Vector	   *result;

	if (*p != '[')
		VectorSyntaxError(lit, "A vector must start with \"[\".", 0);
	p = SkipSpaces(p + 1);
	if (*p == ']')
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vector must have at least 1 dimension"),
				 errhint("An empty \"[]\" is not a vector; give at least one element.")));

	/* n commas bound the element count by n + 1 */
	for (const char *q = p; *q != '\0'; q++)
		if (*q == ',' && capacity <= VECTOR_MAX_DIM)
			capacity++;
	values = (float *) palloc(sizeof(float) * Min(capacity, VECTOR_MAX_DIM));

	for (;;)
	{
		char	   *end;
		float		value;

		if (dim == VECTOR_MAX_DIM)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("vector cannot have more than %d dimensions", VECTOR_MAX_DIM)));
		p = SkipSpaces(p);
		if (*p == '\0')
			VectorSyntaxError(lit, "The input ended before the closing \"]\".", 0);

		/* strtof, as float4in uses, rounds once; LC_NUMERIC is C in a backend */
		errno = 0;
		value = strtof(p, &end);
		if (end == p)
			VectorSyntaxError(lit, "Element %d is missing or not a number.", dim + 1);
		if (errno == ERANGE && std::isinf(value))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("\"%s\" is out of range for type vector", pnstrdup(p, end - p)),
					 errdetail("Vector elements are single precision: magnitudes up to about 3.4e38.")));
		CheckElement(value);
		values[dim++] = value;

		p = SkipSpaces(end);
		if (*p == ',')
			p++;
		else if (*p == ']')
			break;
		else if (*p == '\0')
			VectorSyntaxError(lit, "The input ended before the closing \"]\".", 0);
		else
			VectorSyntaxError(lit, "Expected \",\" or \"]\" after element %d.", dim);
	}

	p = SkipSpaces(p + 1);
	if (*p != '\0')
		VectorSyntaxError(lit, "Only whitespace may follow the closing \"]\".", 0);

	CheckExpectedDim(typmod, dim);
	result = InitVector(dim);
	memcpy(result->x, values, sizeof(float) * dim);
	pfree(values);
	PG_RETURN_VECTOR_P(result);
}

/* Shortest round-trip decimal per element, like float4out with extra_float_digits > 0. */
extern "C" Datum
vector_out(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	int			dim = vec->dim;
	/* each element takes at most FLOAT_SHORTEST_DECIMAL_LEN - 1 chars plus a separator */
	char	   *buf = (char *) palloc(FLOAT_SHORTEST_DECIMAL_LEN * (Size) dim + 2);
	char	   *p = buf;

	*p++ = '[';
	for (int i = 0; i < dim; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += float_to_shortest_decimal_bufn(vec->x[i], p);
	}
	*p++ = ']';
	*p = '\0';

	PG_FREE_IF_COPY(vec, 0);
	PG_RETURN_CSTRING(buf);
}

/* vector(n): exactly one modifier, the dimension count. */
extern "C" Datum
vector_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int			n;
	int32	   *mods = ArrayGetIntegerTypmods(ta, &n);

	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier"),
				 errdetail("Type vector takes one modifier, its number of dimensions, as in vector(3).")));
	if (mods[0] < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vector must be at least 1")));
	if (mods[0] > VECTOR_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dimensions for type vector cannot exceed %d", VECTOR_MAX_DIM)));
	PG_RETURN_INT32(mods[0]);
}

/* Shows vector(n) in \d and pg_dump; nothing for an unconstrained vector. */
extern "C" Datum
vector_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);

	PG_RETURN_CSTRING(typmod >= 0 ? psprintf("(%d)", (int) typmod) : pstrdup(""));
}

/* Binary input (COPY BINARY, binary bind parameters); validates like vector_in. */
extern "C" Datum
vector_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int32		typmod = PG_GETARG_INT32(2);
	int			dim = (int16) pq_getmsgint(buf, sizeof(int16));
	int			unused = (int16) pq_getmsgint(buf, sizeof(int16));
	Vector	   *result;

	CheckDim(dim);
	CheckExpectedDim(typmod, dim);
	if (unused != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("expected unused to be 0, not %d", unused)));

	result = InitVector(dim);
	for (int i = 0; i < dim; i++)
	{
		result->x[i] = pq_getmsgfloat4(buf);
		CheckElement(result->x[i]);
	}
	PG_RETURN_VECTOR_P(result);
}

/* Binary output: int16 dim, int16 unused, then the floats, big-endian. */
extern "C" Datum
vector_send(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendint16(&buf, (uint16) vec->dim);
	pq_sendint16(&buf, (uint16) vec->unused);
	for (int i = 0; i < vec->dim; i++)
		pq_sendfloat4(&buf, vec->x[i]);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* The vector -> vector(n) cast PostgreSQL applies on assignment and ::vector(n). */
extern "C" Datum
vector(PG_FUNCTION_ARGS)
{
	Vector	   *vec = PG_GETARG_VECTOR_P(0);
	int32		typmod = PG_GETARG_INT32(1);

	CheckExpectedDim(typmod, vec->dim);
	PG_RETURN_VECTOR_P(vec);
}
