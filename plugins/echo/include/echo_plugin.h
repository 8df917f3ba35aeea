#ifndef ECHO_PLUGIN_H
#define ECHO_PLUGIN_H
#include "modelhost_plugin.h"

/** The entry symbol of the echo plugin. */
const mh_plugin_api *modelhost_plugin_entry(void);

#endif
