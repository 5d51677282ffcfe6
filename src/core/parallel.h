// OpenMP loops that never let an exception escape a parallel region: the
// first exception thrown by any iteration is captured and rethrown in the
// calling thread once the region has ended (escaping a region is undefined
// behaviour and usually std::terminate()).  Every core OpenMP loop uses this.
#pragma once
#ifdef POSTGRES_H
#error "src/core headers must not be included after postgres.h"
#endif

#include <atomic>
#include <csignal>
#include <pthread.h>
#include <cstddef>
#include <exception>
#include <mutex>
#include <utility>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace pg_ivf::core {

// Holds the first exception raised by any thread of a region.
class ExceptionCapture {
public:
    // Runs fn(); if it throws, keeps the exception (the first one wins) instead
    // of letting it unwind through the OpenMP runtime.
    template <class Fn>
    void run(Fn&& fn) noexcept {
        try {
            std::forward<Fn>(fn)();
        } catch (...) {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!error_) error_ = std::current_exception();
            failed_.store(true, std::memory_order_relaxed);
        }
    }

    // Lets remaining iterations skip their work once one has failed.
    bool failed() const noexcept { return failed_.load(std::memory_order_relaxed); }

    // Called by the owning thread after the region; rethrows the captured exception.
    void rethrow_if_any() {
        if (error_) {
            std::exception_ptr e = error_;
            error_ = nullptr;
            failed_.store(false, std::memory_order_relaxed);
            std::rethrow_exception(e);
        }
    }

private:
    std::mutex mutex_;
    std::exception_ptr error_;
    std::atomic<bool> failed_{false};
};

// The id of the calling OpenMP thread (0 outside a region or without OpenMP),
// so loop bodies can index per-thread scratch.
inline int current_thread_index() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

// Blocks every signal in the calling thread for its lifetime.  OpenMP
// creates its worker threads lazily inside the first region, and a new thread
// inherits the creator's signal mask: with all signals blocked, cancel and
// terminate requests are only ever handled by the caller (the PostgreSQL
// backend thread), once the region ends and the mask is restored.
class SignalBlock {
public:
    SignalBlock() noexcept {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &saved_);
    }
    ~SignalBlock() { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
    SignalBlock(const SignalBlock&) = delete;
    SignalBlock& operator=(const SignalBlock&) = delete;
private:
    sigset_t saved_;
};

// Runs body(i, thread) for i in [0, count) on min(threads, count) OpenMP
// threads (thread in [0, that number), for indexing per-thread scratch) with
// dynamic scheduling, one iteration per grab, so callers pass coarse blocks.
// threads <= 1 runs inline with no region.  Signals are blocked during the
// region (see SignalBlock); regions should be short (tens of ms).  After a failure the
// remaining iterations are skipped and the first exception is rethrown here.
template <class Body>
void parallel_for(size_t count, int threads, Body&& body) {
    if (threads <= 1 || count <= 1) {
        for (size_t i = 0; i < count; ++i) body(i, 0);
        return;
    }
    ExceptionCapture capture;
    const long long n = static_cast<long long>(count);
    const int team = threads < n ? threads : static_cast<int>(n);
    SignalBlock block;
#pragma omp parallel for num_threads(team) schedule(dynamic, 1)
    for (long long i = 0; i < n; ++i) {
        if (capture.failed()) continue;
        capture.run([&] { body(static_cast<size_t>(i), current_thread_index()); });
    }
    capture.rethrow_if_any();
}

}  // namespace pg_ivf::core
