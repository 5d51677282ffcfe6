// Cancellation and progress hooks handed from the glue to long core loops.
#pragma once
#ifdef POSTGRES_H
#error "src/core headers must not be included after postgres.h"
#endif

#include <functional>
#include <stdexcept>

namespace pg_ivf::core {

// Called only from the thread that called into core, never from OpenMP workers.
struct Hooks {
    // True when the caller wants the work abandoned; polled per iteration and per block.
    std::function<bool()> should_cancel;
    // Reports done/total units of the current step (rows assigned, iterations run).
    std::function<void(size_t done, size_t total)> progress;

    bool cancelled() const { return should_cancel && should_cancel(); }
    void report(size_t done, size_t total) const { if (progress) progress(done, total); }
};

// Thrown by core when a hook asked it to stop; the glue then runs CHECK_FOR_INTERRUPTS().
class Cancelled : public std::runtime_error {
public:
    Cancelled() : std::runtime_error("operation cancelled") {}
};

}  // namespace pg_ivf::core
