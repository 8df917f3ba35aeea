/*
 * echo — returns every input tensor unchanged, as an output of the same name.
 *
 * It proves the plugin ABI from plain C and is the benchmark baseline: the cost of the host
 * around a model that does no work. It exports ABI 1.1 (`infer_with_context`) and keeps the 1.0
 * `infer`, so a 1.0 host loads it too. Its `config` may set a prefix for the output names:
 *   {"outputPrefix": "echo_"}
 */
#include "echo_plugin.h"

#include <stdlib.h>
#include <string.h>

#define ECHO_MAX_PREFIX 64
#define ECHO_MAX_NAME 256

typedef struct echo_instance {
    char prefix[ECHO_MAX_PREFIX];
} echo_instance;

/* Reads "outputPrefix": "<value>" from a flat JSON object; only what this example needs. */
static int echo_read_prefix(const char *json, char *prefix, size_t capacity) {
    prefix[0] = '\0';
    const char *key = strstr(json, "\"outputPrefix\"");
    if (key == NULL) {
        return 1;
    }
    const char *colon = strchr(key + strlen("\"outputPrefix\""), ':');
    if (colon == NULL) {
        return 0;
    }
    const char *open = strchr(colon, '"');
    if (open == NULL) {
        return 0;
    }
    const char *close = strchr(open + 1, '"');
    if (close == NULL || (size_t)(close - open - 1) >= capacity) {
        return 0;
    }
    memcpy(prefix, open + 1, (size_t)(close - open - 1));
    prefix[close - open - 1] = '\0';
    return 1;
}

static mh_status echo_create(const char *config_json, size_t config_length, const char *bundle_directory,
                             void **out_instance, mh_error *error) {
    (void)config_length;
    (void)bundle_directory;
    echo_instance *instance = calloc(1, sizeof(echo_instance));
    if (instance == NULL) {
        mh_error_set(error, "echo: out of memory");
        return MH_ERROR_INTERNAL;
    }
    if (!echo_read_prefix(config_json, instance->prefix, sizeof(instance->prefix))) {
        free(instance);
        mh_error_set(error, "echo: config.outputPrefix must be a string shorter than %d bytes",
                     ECHO_MAX_PREFIX);
        return MH_ERROR_INTERNAL;
    }
    *out_instance = instance;
    return MH_OK;
}

static mh_status echo_infer_with_context(void *opaque, const mh_call_context *context,
                                         const mh_tensor *inputs, size_t input_count,
                                         const mh_output_sink *sink, mh_error *error) {
    const echo_instance *instance = opaque;
    for (size_t index = 0; index < input_count; index++) {
        if (mh_call_is_cancelled(context)) {
            mh_error_set(error, "echo: nobody waits for this call any more");
            return MH_ERROR_UNAVAILABLE;
        }
        const mh_tensor *input = &inputs[index];
        char name[ECHO_MAX_NAME];
        int written = snprintf(name, sizeof(name), "%s%s", instance->prefix, input->name);
        if (written < 0 || (size_t)written >= sizeof(name)) {
            mh_error_set(error, "echo: input name \"%s\" is too long", input->name);
            return MH_ERROR_INVALID_INPUT;
        }
        void *buffer = sink->allocate_output(sink->host_context, name, input->datatype, input->shape,
                                             input->rank, input->byte_size);
        if (buffer == NULL) {
            mh_error_set(error, "echo: the host refused output \"%s\"", name);
            return MH_ERROR_INTERNAL;
        }
        if (input->byte_size > 0) {
            memcpy(buffer, input->data, input->byte_size);
        }
    }
    return MH_OK;
}

static mh_status echo_infer(void *opaque, const mh_tensor *inputs, size_t input_count,
                            const mh_output_sink *sink, mh_error *error) {
    return echo_infer_with_context(opaque, NULL, inputs, input_count, sink, error);
}

static void echo_destroy(void *instance) {
    free(instance);
}

static const mh_plugin_api echo_api = {
    .abi_version_major = MH_ABI_VERSION_MAJOR,
    .abi_version_minor = MH_ABI_VERSION_MINOR,
    .struct_size = sizeof(mh_plugin_api),
    .create = echo_create,
    .infer = echo_infer,
    .destroy = echo_destroy,
    .capabilities = 0,
    .infer_with_context = echo_infer_with_context,
};

__attribute__((visibility("default"))) const mh_plugin_api *modelhost_plugin_entry(void) {
    return &echo_api;
}
