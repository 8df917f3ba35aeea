#ifndef FAULT_BATCH_ENTRY_H
#define FAULT_BATCH_ENTRY_H
#include "modelhost_plugin.h"

/** The entry symbol of libFaultBatchPlugin.so. */
const mh_plugin_api *modelhost_plugin_entry(void);

#endif
