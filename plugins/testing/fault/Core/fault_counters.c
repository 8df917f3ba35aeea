/* fault_counters — see fault_counters.h; the exported readers are declared in fault_plugin_core.h. */
#include "fault_counters.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "fault_plugin_core.h"

static fault_counters table[FAULT_COUNTER_SLOTS];
static int table_used = 0;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

fault_counters *fault_counters_for(const char *key, int make) {
    if (key == NULL) key = "";
    fault_counters *found = NULL;
    pthread_mutex_lock(&table_lock);
    for (int slot = 0; slot < table_used; slot++) {
        if (strcmp(table[slot].key, key) == 0) {
            found = &table[slot];
            break;
        }
    }
    if (found == NULL && make && table_used < FAULT_COUNTER_SLOTS && strlen(key) <= FAULT_MAX_COUNTER_KEY) {
        found = &table[table_used++];
        memcpy(found->key, key, strlen(key) + 1);
    }
    pthread_mutex_unlock(&table_lock);
    return found;
}

/* Hung calls wait on one condition, woken only by fault_release_hangs. */
static pthread_mutex_t hang_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hang_condition;
static pthread_once_t hang_once = PTHREAD_ONCE_INIT;

static void hang_init(void) {
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&hang_condition, &attributes);
    pthread_condattr_destroy(&attributes);
}

int fault_wait_for_release(fault_counters *counters, uint64_t generation, const mh_call_context *context) {
    pthread_once(&hang_once, hang_init);
    int released = 0;
    pthread_mutex_lock(&hang_lock);
    for (;;) {
        if (atomic_load(&counters->release_generation) != generation) {
            released = 1;
            break;
        }
        if (context != NULL && mh_call_is_cancelled(context)) {
            break;
        }
        if (context == NULL) {
            pthread_cond_wait(&hang_condition, &hang_lock);
        } else {
            struct timespec wake;
            clock_gettime(CLOCK_MONOTONIC, &wake);
            wake.tv_nsec += 5 * 1000 * 1000;
            if (wake.tv_nsec >= 1000000000L) {
                wake.tv_sec += 1;
                wake.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&hang_condition, &hang_lock, &wake);
        }
    }
    pthread_mutex_unlock(&hang_lock);
    return released;
}

/* MARK: Exported readers */

#define READER(name, field)                                                                       \
    int64_t name(const char *key) {                                                               \
        fault_counters *counters = fault_counters_for(key, 0);                                    \
        return counters == NULL ? 0 : atomic_load(&counters->field);                              \
    }

READER(fault_create_attempts, create_attempts)
READER(fault_creates, creates)
READER(fault_destroys, destroys)
READER(fault_calls, calls)
READER(fault_finished, finished)
READER(fault_batch_calls, batch_calls)
READER(fault_batch_rows, batch_rows)

void fault_reset(const char *key) {
    fault_counters *counters = fault_counters_for(key, 0);
    if (counters == NULL) return;
    atomic_store(&counters->create_attempts, 0);
    atomic_store(&counters->creates, 0);
    atomic_store(&counters->destroys, 0);
    atomic_store(&counters->calls, 0);
    atomic_store(&counters->finished, 0);
    atomic_store(&counters->batch_calls, 0);
    atomic_store(&counters->batch_rows, 0);
}

void fault_release_hangs(const char *key) {
    fault_counters *counters = fault_counters_for(key, 0);
    if (counters == NULL) return;
    pthread_once(&hang_once, hang_init);
    pthread_mutex_lock(&hang_lock);
    atomic_fetch_add(&counters->release_generation, 1);
    pthread_cond_broadcast(&hang_condition);
    pthread_mutex_unlock(&hang_lock);
}
