/*
 * modelhost_plugin.h — the one contract between the ModelHost host process and a model plugin.
 *
 * A plugin is a shared library that exports one symbol, `modelhost_plugin_entry`, returning a
 * table of function pointers (`mh_plugin_api`). Everything crosses this boundary as plain C, so a
 * plugin can be written in C, Swift (through PluginKit) or any language with a C FFI.
 *
 * VERSIONING
 *   The table carries the ABI version the plugin was built against. The host refuses a plugin
 *   whose major version differs from its own, or whose table is shorter than ABI 1.0's, with an
 *   error naming both versions. Minor versions only ever append fields to the end of
 *   `mh_plugin_api` (and of `mh_call_context`); `struct_size` tells the reader how much of the
 *   structure the writer knows. The host reads only the part of a table that `struct_size`
 *   covers, so a 1.0 plugin loads in a 1.1 host (it gets `infer`, no capabilities), and a newer
 *   plugin in an older host of the same major version (the host ignores what it does not know).
 *
 *   1.0  create, infer, destroy.
 *   1.1  capabilities (MH_CAPABILITY_BATCHING) and infer_with_context, which receives the call's
 *        deadline and a cancellation flag. A 1.1 plugin may leave `infer` NULL if it sets
 *        `infer_with_context`; a 1.0 host then refuses it, which is right: it could not call it.
 *
 * LIFECYCLE
 *   1. The host calls `modelhost_plugin_entry()` once after dlopen(RTLD_NOW | RTLD_LOCAL).
 *   2. `create` builds one instance from the manifest's `config` JSON and the bundle directory
 *      (where the plugin reads its artifacts: weights, vocabularies). It may fail with a message.
 *   3. `infer` (or `infer_with_context`) runs any number of times (see THREAD SAFETY).
 *   4. `destroy` releases the instance: exactly once for every instance `create` made, also when
 *      warmup fails or the version is shut down, on one of the version's threads. It is never
 *      called while an `infer` call on the same instance is running. If a call never returns,
 *      `destroy` is never called and the instance is abandoned with its thread.
 *   Loading (dlopen, the library's constructors, the entry symbol, `create` and warmup) runs
 *   under a load timeout; a load that overruns it is reported failed and its thread abandoned.
 *
 * TENSORS
 *   Data is row-major, little-endian, without padding. Fixed-size datatypes hold
 *   product(shape) elements of their size. BYTES tensors hold product(shape) elements, each a
 *   4-byte little-endian unsigned length followed by that many bytes (no terminator).
 *   A BOOL element is one byte, 0 or 1.
 *
 * BATCHING (ABI 1.1)
 *   A plugin that sets MH_CAPABILITY_BATCHING in `capabilities` accepts calls whose inputs join
 *   several requests along the first dimension (of every input whose manifest shape starts with
 *   -1), and must answer each output with the same first dimension, row i belonging to input
 *   row i. The host may then combine queued requests into one call.
 *
 * MEMORY OWNERSHIP
 *   The host owns every byte that crosses the boundary:
 *   - Input tensors (names, shapes, data) are valid only for the duration of the `infer` call.
 *   - Outputs are allocated by the host: the plugin calls `sink->allocate_output(...)` once per
 *     output tensor and writes exactly `byte_size` bytes into the returned buffer. The host frees
 *     the buffers after the call, whatever its outcome. The plugin never frees host memory and
 *     never returns memory of its own, so nothing can leak or be freed twice across the boundary.
 *   - The host refuses an allocation (returns NULL) whose name is empty, not UTF-8 or already
 *     used, whose datatype is unknown, whose `rank` is above 32, whose shape has a negative
 *     dimension, whose `byte_size` is not shape x element size for a fixed-size datatype (or less
 *     than 4 bytes per element for BYTES), or that would take the call's outputs over 1 GiB.
 *   - After a call returns MH_OK, its outputs must match the manifest's `outputs`: every output
 *     the manifest declares (unless it says `"required": false`), none it does not declare, each
 *     with its declared datatype. Otherwise the caller gets a 500 naming the output.
 *   - Errors are written into the host-provided `mh_error`, a fixed buffer (use `mh_error_set`).
 *   - Pointers passed to `create` (config, bundle directory) are valid only during the call:
 *     copy what the instance keeps.
 *
 * THREAD SAFETY
 *   The manifest's `limits.maxConcurrency` declares how many `infer` calls one instance accepts
 *   at the same time; the host never exceeds it. With 1 (the default), calls on an instance are
 *   serialised. `create` and `destroy` are never concurrent with anything else on the same
 *   instance. The host calls plugin code only from threads it owns for that model version —
 *   never from Swift's cooperative pool or an event loop — including dlopen and the library's
 *   constructors. A plugin must not keep thread-local state across calls.
 *
 * DEADLINES AND CANCELLATION (ABI 1.1)
 *   Every call has a deadline: the smaller of the manifest's `limits.timeoutMs` and the caller's
 *   own. At the deadline the host answers the caller 504 whether or not the call has returned; a
 *   call that runs on keeps its thread and its concurrency slot until it returns, and its result
 *   is discarded. `infer_with_context` receives the deadline and a flag that turns true once
 *   nobody waits for the result (deadline passed, caller gone); a long call may poll it with
 *   `mh_call_is_cancelled` and return early with any status.
 *
 * ERRORS
 *   A call returns MH_OK or an error class, which the host acts on:
 *   - MH_ERROR_INVALID_INPUT: the caller's fault (HTTP 400, code `plugin_refused_input`); never
 *     retried, never counted as a failure of the model. The message goes to the caller only and
 *     is never logged, so it may quote the input.
 *   - MH_ERROR_UNAVAILABLE: transient (HTTP 503, code `unavailable`); the host may retry it.
 *   - MH_ERROR_INTERNAL: the plugin failed (HTTP 500, code `plugin_error`). The message is
 *     logged with the model, version and request id: do not put request content in it.
 *   Any other value is treated as MH_ERROR_INTERNAL.
 */
#ifndef MODELHOST_PLUGIN_H
#define MODELHOST_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The ABI version this header describes. */
#define MH_ABI_VERSION_MAJOR 1
#define MH_ABI_VERSION_MINOR 1

/** The name of the one symbol a plugin exports. */
#define MH_PLUGIN_ENTRY_SYMBOL "modelhost_plugin_entry"

/** Capacity of an error message, including its terminating NUL. */
#define MH_ERROR_MESSAGE_CAPACITY 1024

/** Element datatypes, the Open Inference Protocol set (FP16 and BF16 are not supported). */
typedef enum mh_datatype {
    MH_DATATYPE_BOOL = 1,
    MH_DATATYPE_UINT8 = 2,
    MH_DATATYPE_UINT16 = 3,
    MH_DATATYPE_UINT32 = 4,
    MH_DATATYPE_UINT64 = 5,
    MH_DATATYPE_INT8 = 6,
    MH_DATATYPE_INT16 = 7,
    MH_DATATYPE_INT32 = 8,
    MH_DATATYPE_INT64 = 9,
    MH_DATATYPE_FP32 = 11,
    MH_DATATYPE_FP64 = 12,
    MH_DATATYPE_BYTES = 13,
} mh_datatype;

/** The outcome of a call: MH_OK or the class of the error. */
typedef enum mh_status {
    MH_OK = 0,
    MH_ERROR_INVALID_INPUT = 1,
    MH_ERROR_UNAVAILABLE = 2,
    MH_ERROR_INTERNAL = 3,
} mh_status;

/** A host-owned error buffer the plugin fills when it returns an error. */
typedef struct mh_error {
    /** NUL-terminated, UTF-8. */
    char message[MH_ERROR_MESSAGE_CAPACITY];
} mh_error;

/** A read-only view of one tensor, valid for the duration of the call that received it. */
typedef struct mh_tensor {
    /** NUL-terminated UTF-8 name. */
    const char *name;
    /** One of `mh_datatype`. */
    int32_t datatype;
    /** `rank` dimensions, each >= 0. */
    const int64_t *shape;
    size_t rank;
    /** `byte_size` bytes laid out as described under TENSORS. */
    const void *data;
    size_t byte_size;
} mh_tensor;

/**
 * Where a plugin puts its outputs. `allocate_output` returns a host-owned buffer of `byte_size`
 * bytes for the named output tensor (the name, datatype and shape are copied by the host), or NULL
 * when the host refuses the allocation (duplicate name, unknown datatype, size overflow); the
 * plugin then returns an error.
 */
typedef struct mh_output_sink {
    void *host_context;
    void *(*allocate_output)(void *host_context, const char *name, int32_t datatype,
                             const int64_t *shape, size_t rank, size_t byte_size);
} mh_output_sink;

/** `mh_plugin_api.capabilities` bit (ABI 1.1): the plugin accepts batched calls (see BATCHING). */
#define MH_CAPABILITY_BATCHING ((uint64_t)1 << 0)

/** "No deadline", as `mh_call_context.deadline_ns`. */
#define MH_NO_DEADLINE INT64_MAX

/**
 * What the host tells a plugin about one `infer_with_context` call (ABI 1.1), valid for the
 * duration of that call. Fields are only ever appended; read a field only if `struct_size`
 * covers it (`mh_call_is_cancelled` does this for you).
 */
typedef struct mh_call_context {
    /** sizeof(mh_call_context) as the host was compiled. */
    uint32_t struct_size;
    uint32_t reserved;
    /** When the caller stops waiting, in nanoseconds of CLOCK_MONOTONIC; MH_NO_DEADLINE for none. */
    int64_t deadline_ns;
    /** The host's, opaque to the plugin. */
    void *host_context;
    /** Nonzero once nobody waits for this call's result. Cheap (an atomic load); any thread. */
    int32_t (*is_cancelled)(const struct mh_call_context *context);
} mh_call_context;

/** The table a plugin exports. Fields are only ever appended, never reordered. */
typedef struct mh_plugin_api {
    /** MH_ABI_VERSION_MAJOR and MH_ABI_VERSION_MINOR as the plugin was compiled. */
    uint32_t abi_version_major;
    uint32_t abi_version_minor;
    /** sizeof(mh_plugin_api) as the plugin was compiled. */
    uint32_t struct_size;

    /**
     * Builds an instance. `config_json` is the manifest's `config` value serialised as JSON
     * (`config_length` bytes, also NUL-terminated; "{}" when absent); `bundle_directory` is the
     * absolute path of the bundle. On success stores the instance in `*out_instance`.
     */
    mh_status (*create)(const char *config_json, size_t config_length, const char *bundle_directory,
                        void **out_instance, mh_error *error);

    /** Runs inference on `input_count` tensors, writing outputs through `sink`. */
    mh_status (*infer)(void *instance, const mh_tensor *inputs, size_t input_count,
                       const mh_output_sink *sink, mh_error *error);

    /** Releases an instance made by `create`. */
    void (*destroy)(void *instance);

    /* ABI 1.1 */

    /** MH_CAPABILITY_* bits; 0 for none. */
    uint64_t capabilities;

    /**
     * `infer` with the call's context (deadline, cancellation). When set, the host calls it
     * instead of `infer`; `infer` may then be NULL.
     */
    mh_status (*infer_with_context)(void *instance, const mh_call_context *context,
                                    const mh_tensor *inputs, size_t input_count,
                                    const mh_output_sink *sink, mh_error *error);
} mh_plugin_api;

/** The signature of the exported entry symbol. */
typedef const mh_plugin_api *(*mh_plugin_entry_fn)(void);

/** Writes a formatted message into `error` (truncated to fit). Safe to call with NULL. */
static inline void mh_error_set(mh_error *error, const char *format, ...) {
    if (error == NULL) {
        return;
    }
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error->message, MH_ERROR_MESSAGE_CAPACITY, format, arguments);
    va_end(arguments);
}

/** Whether nobody waits for the call any more (its deadline passed or its caller is gone). */
static inline int mh_call_is_cancelled(const mh_call_context *context) {
    if (context == NULL ||
        context->struct_size < offsetof(mh_call_context, is_cancelled) + sizeof(context->is_cancelled) ||
        context->is_cancelled == NULL) {
        return 0;
    }
    return context->is_cancelled(context) != 0;
}

#ifdef __cplusplus
}
#endif

#endif /* MODELHOST_PLUGIN_H */
