/* libFaultPlugin.so: the fault plugin without capabilities; the host never batches its calls. */
#include "fault_entry.h"

#include "fault_plugin_core.h"

__attribute__((visibility("default"))) const mh_plugin_api *modelhost_plugin_entry(void) {
    return fault_plugin_api(0);
}
