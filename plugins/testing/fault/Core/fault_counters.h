/*
 * fault_counters — counters shared by every instance with the same `counterKey`, in a small fixed
 * table per loaded copy of the library. Slots are never freed, so an instance keeps a pointer to
 * its own; every counter is atomic.
 */
#ifndef FAULT_COUNTERS_H
#define FAULT_COUNTERS_H

#include <stdatomic.h>
#include <stdint.h>

#include "fault_config.h"

/** How many distinct counter keys one loaded copy of the library holds. */
#define FAULT_COUNTER_SLOTS 128

typedef struct fault_counters {
    char key[FAULT_MAX_COUNTER_KEY + 1];
    /** Creates that got past reading their config (the count `failCreateTimes` is judged by). */
    _Atomic int64_t create_attempts;
    /** Creates that returned an instance, and destroys of them. */
    _Atomic int64_t creates;
    _Atomic int64_t destroys;
    /** Calls that started, and calls that returned (whatever their status). */
    _Atomic int64_t calls;
    _Atomic int64_t finished;
    /** Mode `batch`: calls and rows (first dimension) seen. */
    _Atomic int64_t batch_calls;
    _Atomic int64_t batch_rows;
    /** Bumped by `fault_release_hangs`: a hung call returns when it changes. */
    _Atomic uint64_t release_generation;
} fault_counters;

/** The slot for `key`, made if `make` and it does not exist yet; NULL if absent or the table is full. */
FAULT_INTERNAL fault_counters *fault_counters_for(const char *key, int make);

/** Blocks until `counters->release_generation` differs from `generation`, or (when `context` is
 *  non-NULL) until the call is cancelled, polling every few milliseconds. Returns 1 when released,
 *  0 when cancelled. Never spins: it waits on a condition variable. */
FAULT_INTERNAL int fault_wait_for_release(fault_counters *counters, uint64_t generation,
                                          const mh_call_context *context);

#endif
