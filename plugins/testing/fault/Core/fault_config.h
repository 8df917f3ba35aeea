/*
 * fault_config — the fault plugin's `config`, read strictly: every key is known, has one type,
 * and applies to the chosen mode. See plugins/testing/README.md for the keys.
 */
#ifndef FAULT_CONFIG_H
#define FAULT_CONFIG_H

#include <limits.h>
#include <stdint.h>

#include "fault_json.h"
#include "modelhost_plugin.h"

/** What every call does. */
typedef enum fault_mode {
    FAULT_MODE_ECHO = 0,
    FAULT_MODE_SLOW,
    FAULT_MODE_HANG,
    FAULT_MODE_SPIN,
    FAULT_MODE_FLAKY,
    FAULT_MODE_FAIL,
    FAULT_MODE_CONTROLLED,
    FAULT_MODE_BATCH,
    FAULT_MODE_COUNT,
} fault_mode;

/** The longest `counterKey`, without its NUL. */
#define FAULT_MAX_COUNTER_KEY 63

/** One instance's configuration, with every default applied. */
typedef struct fault_config {
    fault_mode mode;
    /* slow */
    int64_t delay_ms;
    int honor_deadline;
    /* hang */
    int honor_cancel;
    /* spin */
    int64_t spin_ms;
    /* flaky: fail_every > 0, or failure_rate with seed */
    int64_t fail_every;
    int has_failure_rate;
    double failure_rate;
    uint64_t seed;
    /* flaky, fail, controlled, failWhileFileExists */
    mh_status fail_with;
    /* any mode; empty for none */
    char fail_while_file_exists[FAULT_JSON_MAX_STRING + 1];
    /* any mode; MH_OK for none; fail_create_times 0 means every create */
    mh_status fail_create;
    int64_t fail_create_times;
    char counter_key[FAULT_MAX_COUNTER_KEY + 1];
    /* batch */
    int64_t call_cost_us;
    int64_t row_cost_us;
} fault_config;

/** The mode's name as the config spells it. */
FAULT_INTERNAL const char *fault_mode_name(fault_mode mode);

/** The status's name as `failWith` spells it. */
FAULT_INTERNAL const char *fault_status_name(mh_status status);

/**
 * Reads `config_json` into `*config`. Returns 1, or 0 with the reason in `problem`.
 */
FAULT_INTERNAL int fault_config_read(const char *config_json, size_t config_length, fault_config *config,
                                     char *problem, size_t problem_capacity);

#endif
