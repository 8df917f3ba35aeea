/*
 * fault_plugin — create, infer and destroy of the fault plugin. Every mode reads one FP32 input
 * (the manifest's `x`) and answers one FP32 output `y` of the same shape: y = x, or y = 2x in mode
 * `batch`. See plugins/testing/README.md.
 */
#include "fault_plugin_core.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fault_config.h"
#include "fault_counters.h"

typedef struct fault_instance {
    fault_config config;
    fault_counters *counters;
    /** Mode `flaky`: calls so far on this instance. */
    _Atomic int64_t flaky_calls;
} fault_instance;

/* MARK: Time */

static int64_t now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static int64_t thread_cpu_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
}

/* Sleeps `ms`. When `interruptible`, wakes every 2 ms and gives up (returning 0) once the call's
 * cancellation flag is raised, which the host does at the deadline (after answering the caller)
 * or when the caller goes. Returns 1 when the whole delay was slept. */
static int sleep_ms(int64_t ms, const mh_call_context *context, int interruptible) {
    const int64_t end = now_ns() + ms * 1000000LL;
    for (;;) {
        int64_t now = now_ns();
        if (now >= end) return 1;
        if (interruptible && mh_call_is_cancelled(context)) return 0;
        int64_t slice = end - now;
        if (interruptible && slice > 2000000LL) slice = 2000000LL;
        struct timespec pause = {.tv_sec = slice / 1000000000LL, .tv_nsec = slice % 1000000000LL};
        nanosleep(&pause, NULL);
    }
}

/* Burns `us` microseconds of this thread's CPU time in a loop that reads the thread's CPU clock:
 * a fixed amount of work, which takes at least as long on the wall clock (longer when the thread
 * is preempted, as real computation would). */
static void spin_us(int64_t us) {
    const int64_t end = thread_cpu_ns() + us * 1000LL;
    while (thread_cpu_ns() < end) {
    }
}

/* MARK: Answers */

static mh_status write_output(const mh_tensor *x, float factor, const mh_output_sink *sink, mh_error *error) {
    float *y = sink->allocate_output(sink->host_context, "y", MH_DATATYPE_FP32, x->shape, x->rank, x->byte_size);
    if (y == NULL) {
        mh_error_set(error, "fault plugin: the host refused output \"y\"");
        return MH_ERROR_INTERNAL;
    }
    if (factor == 1.0f) {
        if (x->byte_size > 0) memcpy(y, x->data, x->byte_size);
        return MH_OK;
    }
    const unsigned char *in = x->data;
    for (size_t offset = 0; offset + sizeof(float) <= x->byte_size; offset += sizeof(float)) {
        float value;
        memcpy(&value, in + offset, sizeof(float));
        value *= factor;
        memcpy((unsigned char *)y + offset, &value, sizeof(float));
    }
    return MH_OK;
}

static mh_status fail_as_configured(const fault_instance *instance, mh_error *error, const char *reason) {
    mh_error_set(error, "fault plugin (mode %s): %s", fault_mode_name(instance->config.mode), reason);
    return instance->config.fail_with;
}

/* splitmix64: the `index`-th value of the sequence seeded with `seed`. */
static uint64_t splitmix64(uint64_t seed, uint64_t index) {
    uint64_t z = seed + (index + 1) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static mh_status run(fault_instance *instance, const mh_call_context *context, const mh_tensor *inputs,
                     size_t input_count, const mh_output_sink *sink, mh_error *error) {
    const fault_config *config = &instance->config;
    if (input_count != 1 || inputs[0].datatype != MH_DATATYPE_FP32) {
        mh_error_set(error, "fault plugin: expects one FP32 input (the manifest's \"x\"), got %zu input(s)", input_count);
        return MH_ERROR_INVALID_INPUT;
    }
    const mh_tensor *x = &inputs[0];
    if (config->fail_while_file_exists[0] != '\0') {
        struct stat info;
        if (stat(config->fail_while_file_exists, &info) == 0) {
            mh_error_set(error, "fault plugin (mode %s): failing while %s exists", fault_mode_name(config->mode),
                         config->fail_while_file_exists);
            return config->fail_with;
        }
    }
    switch (config->mode) {
    case FAULT_MODE_ECHO:
    case FAULT_MODE_CONTROLLED:
        return write_output(x, 1, sink, error);
    case FAULT_MODE_SLOW:
        if (!sleep_ms(config->delay_ms, context, config->honor_deadline)) {
            mh_error_set(error, "fault plugin (mode slow): cancelled before its %lld ms delay was over",
                         (long long)config->delay_ms);
            return MH_ERROR_UNAVAILABLE;
        }
        return write_output(x, 1, sink, error);
    case FAULT_MODE_HANG: {
        uint64_t generation = atomic_load(&instance->counters->release_generation);
        if (!fault_wait_for_release(instance->counters, generation, config->honor_cancel ? context : NULL)) {
            mh_error_set(error, "fault plugin (mode hang): the call was cancelled");
            return MH_ERROR_UNAVAILABLE;
        }
        return write_output(x, 1, sink, error);
    }
    case FAULT_MODE_SPIN:
        spin_us(config->spin_ms * 1000);
        return write_output(x, 1, sink, error);
    case FAULT_MODE_FLAKY: {
        int64_t call = atomic_fetch_add(&instance->flaky_calls, 1) + 1;
        char reason[128];
        if (config->fail_every > 0) {
            if (call % config->fail_every == 0) {
                snprintf(reason, sizeof(reason), "call %lld fails (failEvery %lld)", (long long)call, (long long)config->fail_every);
                return fail_as_configured(instance, error, reason);
            }
        } else {
            double draw = (double)(splitmix64(config->seed, (uint64_t)(call - 1)) >> 11) * 0x1.0p-53;
            if (draw < config->failure_rate) {
                snprintf(reason, sizeof(reason), "call %lld fails (failureRate %g, seed %llu)", (long long)call,
                         config->failure_rate, (unsigned long long)config->seed);
                return fail_as_configured(instance, error, reason);
            }
        }
        return write_output(x, 1, sink, error);
    }
    case FAULT_MODE_FAIL:
        return fail_as_configured(instance, error, "every call fails as configured");
    case FAULT_MODE_BATCH: {
        int64_t rows = x->rank == 0 ? 1 : x->shape[0];
        atomic_fetch_add(&instance->counters->batch_calls, 1);
        atomic_fetch_add(&instance->counters->batch_rows, rows);
        spin_us(config->call_cost_us + config->row_cost_us * rows);
        return write_output(x, 2, sink, error);
    }
    case FAULT_MODE_COUNT:
        break;
    }
    mh_error_set(error, "fault plugin: unknown mode");
    return MH_ERROR_INTERNAL;
}

/* MARK: The ABI */

static mh_status fault_create(const char *config_json, size_t config_length, const char *bundle_directory,
                              void **out_instance, mh_error *error) {
    (void)bundle_directory;
    fault_instance *instance = calloc(1, sizeof(fault_instance));
    if (instance == NULL) {
        mh_error_set(error, "fault plugin: out of memory");
        return MH_ERROR_INTERNAL;
    }
    char problem[MH_ERROR_MESSAGE_CAPACITY - 32];
    if (!fault_config_read(config_json, config_length, &instance->config, problem, sizeof(problem))) {
        free(instance);
        mh_error_set(error, "fault plugin: %s", problem);
        return MH_ERROR_INTERNAL;
    }
    instance->counters = fault_counters_for(instance->config.counter_key, 1);
    if (instance->counters == NULL) {
        free(instance);
        mh_error_set(error, "fault plugin: more than %d counter keys in one process", FAULT_COUNTER_SLOTS);
        return MH_ERROR_INTERNAL;
    }
    int64_t attempt = atomic_fetch_add(&instance->counters->create_attempts, 1) + 1;
    const fault_config *config = &instance->config;
    if (config->fail_create != MH_OK && (config->fail_create_times == 0 || attempt <= config->fail_create_times)) {
        mh_status status = config->fail_create;
        if (config->fail_create_times == 0) {
            mh_error_set(error, "fault plugin: create fails as configured (failCreate \"%s\")", fault_status_name(status));
        } else {
            mh_error_set(error, "fault plugin: create fails as configured (failCreate \"%s\", attempt %lld of the first %lld)",
                         fault_status_name(status), (long long)attempt, (long long)config->fail_create_times);
        }
        free(instance);
        return status;
    }
    atomic_fetch_add(&instance->counters->creates, 1);
    *out_instance = instance;
    return MH_OK;
}

static mh_status fault_infer_with_context(void *opaque, const mh_call_context *context, const mh_tensor *inputs,
                                          size_t input_count, const mh_output_sink *sink, mh_error *error) {
    fault_instance *instance = opaque;
    atomic_fetch_add(&instance->counters->calls, 1);
    mh_status status = run(instance, context, inputs, input_count, sink, error);
    atomic_fetch_add(&instance->counters->finished, 1);
    return status;
}

static mh_status fault_infer(void *opaque, const mh_tensor *inputs, size_t input_count, const mh_output_sink *sink,
                             mh_error *error) {
    return fault_infer_with_context(opaque, NULL, inputs, input_count, sink, error);
}

static void fault_destroy(void *opaque) {
    fault_instance *instance = opaque;
    atomic_fetch_add(&instance->counters->destroys, 1);
    free(instance);
}

static const mh_plugin_api plain_api = {
    .abi_version_major = MH_ABI_VERSION_MAJOR,
    .abi_version_minor = MH_ABI_VERSION_MINOR,
    .struct_size = sizeof(mh_plugin_api),
    .create = fault_create,
    .infer = fault_infer,
    .destroy = fault_destroy,
    .capabilities = 0,
    .infer_with_context = fault_infer_with_context,
};

static const mh_plugin_api batching_api = {
    .abi_version_major = MH_ABI_VERSION_MAJOR,
    .abi_version_minor = MH_ABI_VERSION_MINOR,
    .struct_size = sizeof(mh_plugin_api),
    .create = fault_create,
    .infer = fault_infer,
    .destroy = fault_destroy,
    .capabilities = MH_CAPABILITY_BATCHING,
    .infer_with_context = fault_infer_with_context,
};

const mh_plugin_api *fault_plugin_api(uint64_t capabilities) {
    return (capabilities & MH_CAPABILITY_BATCHING) ? &batching_api : &plain_api;
}
