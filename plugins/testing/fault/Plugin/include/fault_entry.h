#ifndef FAULT_ENTRY_H
#define FAULT_ENTRY_H
#include "modelhost_plugin.h"

/** The entry symbol of libFaultPlugin.so. */
const mh_plugin_api *modelhost_plugin_entry(void);

#endif
