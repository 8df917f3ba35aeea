/* libFaultBatchPlugin.so: the fault plugin declaring MH_CAPABILITY_BATCHING, so the host may join
 * queued requests into one call. Every mode answers row i from input row i, so any mode is correct
 * under batching; mode `batch` is the one made for it (y = 2x, call and row counters, costs). */
#include "fault_batch_entry.h"

#include "fault_plugin_core.h"

__attribute__((visibility("default"))) const mh_plugin_api *modelhost_plugin_entry(void) {
    return fault_plugin_api(MH_CAPABILITY_BATCHING);
}
