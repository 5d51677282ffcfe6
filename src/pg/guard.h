/*
 * guard.h — the one way glue code enters C++ core code.
 *
 * ereport(ERROR) longjmps, skipping C++ destructors, and a C++ exception must
 * never unwind through PostgreSQL frames.  IvfGuard runs a callable that may
 * throw but never calls PostgreSQL functions that can ereport; it catches
 * everything, copies the message into a plain buffer, leaves the catch block
 * (so every destructor has run) and only then raises the PostgreSQL error.
 */
#ifndef PG_IVF_GUARD_H
#define PG_IVF_GUARD_H

#include "pg.h"


#include <cstring>
#include <exception>
#include <new>

#include "core/hooks.h"

enum IvfGuardFailure
{
	IVF_GUARD_OK = 0,
	IVF_GUARD_CANCELLED,
	IVF_GUARD_OUT_OF_MEMORY,
	IVF_GUARD_EXCEPTION
};

/* Runs fn(); on a C++ exception raises the matching PostgreSQL error. */
template <class Fn>
static inline void
IvfGuard(const char *what, Fn &&fn)
{
	IvfGuardFailure failure = IVF_GUARD_OK;
	char		message[512];

	message[0] = '\0';
	try
	{
		fn();
	}
	catch (const pg_ivf::core::Cancelled &)
	{
		failure = IVF_GUARD_CANCELLED;
	}
	catch (const std::bad_alloc &)
	{
		failure = IVF_GUARD_OUT_OF_MEMORY;
	}
	catch (const std::exception &e)
	{
		failure = IVF_GUARD_EXCEPTION;
		strlcpy(message, e.what(), sizeof(message));
	}
	catch (...)
	{
		failure = IVF_GUARD_EXCEPTION;
		strlcpy(message, "unknown C++ exception", sizeof(message));
	}

	switch (failure)
	{
		case IVF_GUARD_OK:
			return;
		case IVF_GUARD_CANCELLED:
			/* core stopped because an interrupt is pending: service it */
			CHECK_FOR_INTERRUPTS();
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("%s was cancelled", what)));
			break;
		case IVF_GUARD_OUT_OF_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory during %s", what),
					 errhint("Lower maintenance_work_mem or the index's sample or lists.")));
			break;
		case IVF_GUARD_EXCEPTION:
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("%s failed: %s", what, message)));
			break;
	}
}

/*
 * True when a cancel or terminate request is pending.  Only reads the flags
 * the signal handlers set; the caller unwinds and then CHECK_FOR_INTERRUPTS().
 */
static inline bool
IvfInterruptPending(void)
{
	return InterruptPending && (QueryCancelPending || ProcDiePending);
}

/*
 * Hooks for core whose cancel check is IvfInterruptPending().  Call it only
 * inside an IvfGuard callable: the returned object has a destructor.
 */
static inline pg_ivf::core::Hooks
IvfCancelHooks(void)
{
	pg_ivf::core::Hooks hooks;

	hooks.should_cancel = []() { return IvfInterruptPending(); };
	return hooks;
}

#endif
