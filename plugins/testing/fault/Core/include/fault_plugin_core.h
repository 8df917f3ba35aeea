/*
 * fault_plugin_core — the fault plugin for tests, shared by its two libraries: libFaultPlugin.so
 * (no capabilities) and libFaultBatchPlugin.so (MH_CAPABILITY_BATCHING). What each call does is
 * chosen by the manifest's `config`; see plugins/testing/README.md.
 *
 * Counter readers, for tests that map the library themselves (dlopen with RTLD_NOLOAD, dlsym).
 * Every counter belongs to a `counterKey` ("" when the config gives none) within one loaded copy
 * of the library; an unknown key reads 0.
 */
#ifndef FAULT_PLUGIN_CORE_H
#define FAULT_PLUGIN_CORE_H

#include <stdint.h>

#include "modelhost_plugin.h"

#define FAULT_EXPORT __attribute__((visibility("default")))

/** The ABI table, with `capabilities` set to `capabilities`. */
__attribute__((visibility("hidden"))) const mh_plugin_api *fault_plugin_api(uint64_t capabilities);

/** Creates that got past reading their config; `failCreateTimes` counts these. */
FAULT_EXPORT int64_t fault_create_attempts(const char *key);
/** Creates that returned an instance. */
FAULT_EXPORT int64_t fault_creates(const char *key);
/** Destroys of those instances. */
FAULT_EXPORT int64_t fault_destroys(const char *key);
/** Calls that started, in any mode. */
FAULT_EXPORT int64_t fault_calls(const char *key);
/** Calls that returned, whatever their status. */
FAULT_EXPORT int64_t fault_finished(const char *key);
/** Mode `batch`: calls seen. */
FAULT_EXPORT int64_t fault_batch_calls(const char *key);
/** Mode `batch`: rows (first dimension of `x`) seen, over all calls. */
FAULT_EXPORT int64_t fault_batch_rows(const char *key);
/** Sets every counter of `key` back to 0. */
FAULT_EXPORT void fault_reset(const char *key);
/** Lets every call of mode `hang` under `key` that is blocked now return, answering y = x. */
FAULT_EXPORT void fault_release_hangs(const char *key);

#endif
