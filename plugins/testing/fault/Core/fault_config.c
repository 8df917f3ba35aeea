/* fault_config — see fault_config.h. */
#include "fault_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const mode_names[FAULT_MODE_COUNT] = {
    [FAULT_MODE_ECHO] = "echo",   [FAULT_MODE_SLOW] = "slow",   [FAULT_MODE_HANG] = "hang",
    [FAULT_MODE_SPIN] = "spin",   [FAULT_MODE_FLAKY] = "flaky", [FAULT_MODE_FAIL] = "fail",
    [FAULT_MODE_CONTROLLED] = "controlled", [FAULT_MODE_BATCH] = "batch",
};

const char *fault_mode_name(fault_mode mode) {
    return mode < FAULT_MODE_COUNT ? mode_names[mode] : "unknown";
}

const char *fault_status_name(mh_status status) {
    switch (status) {
    case MH_OK: return "ok";
    case MH_ERROR_INVALID_INPUT: return "invalid_input";
    case MH_ERROR_UNAVAILABLE: return "unavailable";
    default: return "internal";
    }
}

#define MODE_BIT(mode) (1u << (mode))
#define ALL_MODES ((1u << FAULT_MODE_COUNT) - 1)

typedef enum key_id {
    KEY_MODE,
    KEY_DELAY_MS,
    KEY_HONOR_DEADLINE,
    KEY_HONOR_CANCEL,
    KEY_SPIN_MS,
    KEY_FAIL_EVERY,
    KEY_FAILURE_RATE,
    KEY_SEED,
    KEY_FAIL_WITH,
    KEY_FAIL_WHILE_FILE_EXISTS,
    KEY_FAIL_CREATE,
    KEY_FAIL_CREATE_TIMES,
    KEY_COUNTER_KEY,
    KEY_CALL_COST_US,
    KEY_ROW_COST_US,
    KEY_COUNT,
} key_id;

typedef struct key_rule {
    const char *name;
    fault_json_kind kind;
    /** The modes the key applies to. */
    unsigned modes;
} key_rule;

static const key_rule rules[KEY_COUNT] = {
    [KEY_MODE] = {"mode", FAULT_JSON_STRING, ALL_MODES},
    [KEY_DELAY_MS] = {"delayMs", FAULT_JSON_NUMBER, MODE_BIT(FAULT_MODE_SLOW)},
    [KEY_HONOR_DEADLINE] = {"honorDeadline", FAULT_JSON_BOOL, MODE_BIT(FAULT_MODE_SLOW)},
    [KEY_HONOR_CANCEL] = {"honorCancel", FAULT_JSON_BOOL, MODE_BIT(FAULT_MODE_HANG)},
    [KEY_SPIN_MS] = {"spinMs", FAULT_JSON_NUMBER, MODE_BIT(FAULT_MODE_SPIN)},
    [KEY_FAIL_EVERY] = {"failEvery", FAULT_JSON_NUMBER, MODE_BIT(FAULT_MODE_FLAKY)},
    [KEY_FAILURE_RATE] = {"failureRate", FAULT_JSON_NUMBER, MODE_BIT(FAULT_MODE_FLAKY)},
    [KEY_SEED] = {"seed", FAULT_JSON_NUMBER, MODE_BIT(FAULT_MODE_FLAKY)},
    /* Also any mode with failWhileFileExists; checked after reading. */
    [KEY_FAIL_WITH] = {"failWith", FAULT_JSON_STRING, MODE_BIT(FAULT_MODE_FLAKY) | MODE_BIT(FAULT_MODE_FAIL) | MODE_BIT(FAULT_MODE_CONTROLLED)},
    [KEY_FAIL_WHILE_FILE_EXISTS] = {"failWhileFileExists", FAULT_JSON_STRING, ALL_MODES},
    [KEY_FAIL_CREATE] = {"failCreate", FAULT_JSON_STRING, ALL_MODES},
    [KEY_FAIL_CREATE_TIMES] = {"failCreateTimes", FAULT_JSON_NUMBER, ALL_MODES},
    [KEY_COUNTER_KEY] = {"counterKey", FAULT_JSON_STRING, ALL_MODES},
    [KEY_CALL_COST_US] = {"callCostUs", FAULT_JSON_NUMBER, MODE_BIT(FAULT_MODE_BATCH)},
    [KEY_ROW_COST_US] = {"rowCostUs", FAULT_JSON_NUMBER, MODE_BIT(FAULT_MODE_BATCH)},
};

static const char *const kind_names[] = {
    [FAULT_JSON_STRING] = "a string",
    [FAULT_JSON_NUMBER] = "a number",
    [FAULT_JSON_BOOL] = "a boolean",
};

typedef struct read_state {
    fault_config *config;
    unsigned seen;
} read_state;

static int fail(char *problem, size_t capacity, const char *format, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *problem, size_t capacity, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(problem, capacity, format, arguments);
    va_end(arguments);
    return 0;
}

/* A whole number in [minimum, maximum]. */
static int read_whole(const fault_json_value *value, const char *key, int64_t minimum, int64_t maximum,
                      int64_t *out, char *problem, size_t capacity) {
    if (!value->is_integer || value->integer < minimum || value->integer > maximum) {
        return fail(problem, capacity, "config \"%s\" must be a whole number from %lld to %lld",
                    key, (long long)minimum, (long long)maximum);
    }
    *out = value->integer;
    return 1;
}

static int read_status(const char *text, const char *key, int allow_invalid_input, mh_status *out,
                       char *problem, size_t capacity) {
    if (strcmp(text, "unavailable") == 0) {
        *out = MH_ERROR_UNAVAILABLE;
    } else if (strcmp(text, "internal") == 0) {
        *out = MH_ERROR_INTERNAL;
    } else if (allow_invalid_input && strcmp(text, "invalid_input") == 0) {
        *out = MH_ERROR_INVALID_INPUT;
    } else {
        return fail(problem, capacity, "config \"%s\" must be %s, not \"%s\"", key,
                    allow_invalid_input ? "\"unavailable\", \"internal\" or \"invalid_input\"" : "\"unavailable\" or \"internal\"",
                    text);
    }
    return 1;
}

static void list_keys(char *out, size_t capacity) {
    size_t used = 0;
    out[0] = '\0';
    for (int key = 0; key < KEY_COUNT && used < capacity; key++) {
        int written = snprintf(out + used, capacity - used, "%s%s", key == 0 ? "" : ", ", rules[key].name);
        if (written < 0) break;
        used += (size_t)written;
    }
}

static int on_member(void *context, const char *key, const fault_json_value *value, char *problem, size_t capacity) {
    read_state *state = context;
    fault_config *config = state->config;
    int id = 0;
    while (id < KEY_COUNT && strcmp(rules[id].name, key) != 0) id++;
    if (id == KEY_COUNT) {
        char known[512];
        list_keys(known, sizeof(known));
        return fail(problem, capacity, "config key \"%s\" is unknown; the keys are %s", key, known);
    }
    if (state->seen & (1u << id)) {
        return fail(problem, capacity, "config key \"%s\" is given twice", key);
    }
    state->seen |= 1u << id;
    if (value->kind != rules[id].kind) {
        return fail(problem, capacity, "config \"%s\" must be %s", key, kind_names[rules[id].kind]);
    }
    int64_t whole = 0;
    switch ((key_id)id) {
    case KEY_MODE:
        for (int mode = 0; mode < FAULT_MODE_COUNT; mode++) {
            if (strcmp(mode_names[mode], value->string) == 0) {
                config->mode = (fault_mode)mode;
                return 1;
            }
        }
        return fail(problem, capacity,
                    "config \"mode\" must be one of echo, slow, hang, spin, flaky, fail, controlled, batch, not \"%s\"",
                    value->string);
    case KEY_DELAY_MS:
        return read_whole(value, key, 0, 3600000, &config->delay_ms, problem, capacity);
    case KEY_HONOR_DEADLINE:
        config->honor_deadline = value->boolean;
        return 1;
    case KEY_HONOR_CANCEL:
        config->honor_cancel = value->boolean;
        return 1;
    case KEY_SPIN_MS:
        return read_whole(value, key, 0, 3600000, &config->spin_ms, problem, capacity);
    case KEY_FAIL_EVERY:
        return read_whole(value, key, 1, INT32_MAX, &config->fail_every, problem, capacity);
    case KEY_FAILURE_RATE:
        if (!(value->number >= 0 && value->number <= 1)) {
            return fail(problem, capacity, "config \"failureRate\" must be a number from 0 to 1");
        }
        config->has_failure_rate = 1;
        config->failure_rate = value->number;
        return 1;
    case KEY_SEED:
        if (!read_whole(value, key, 0, INT64_MAX, &whole, problem, capacity)) return 0;
        config->seed = (uint64_t)whole;
        return 1;
    case KEY_FAIL_WITH:
        return read_status(value->string, key, 1, &config->fail_with, problem, capacity);
    case KEY_FAIL_WHILE_FILE_EXISTS:
        if (value->string[0] == '\0') {
            return fail(problem, capacity, "config \"failWhileFileExists\" must be a non-empty path");
        }
        memcpy(config->fail_while_file_exists, value->string, strlen(value->string) + 1);
        return 1;
    case KEY_FAIL_CREATE:
        return read_status(value->string, key, 0, &config->fail_create, problem, capacity);
    case KEY_FAIL_CREATE_TIMES:
        return read_whole(value, key, 1, INT32_MAX, &config->fail_create_times, problem, capacity);
    case KEY_COUNTER_KEY:
        if (strlen(value->string) > FAULT_MAX_COUNTER_KEY) {
            return fail(problem, capacity, "config \"counterKey\" must be at most %d bytes", FAULT_MAX_COUNTER_KEY);
        }
        memcpy(config->counter_key, value->string, strlen(value->string) + 1);
        return 1;
    case KEY_CALL_COST_US:
        return read_whole(value, key, 0, 60000000, &config->call_cost_us, problem, capacity);
    case KEY_ROW_COST_US:
        return read_whole(value, key, 0, 60000000, &config->row_cost_us, problem, capacity);
    case KEY_COUNT:
        break;
    }
    return fail(problem, capacity, "config key \"%s\" is not handled", key);
}

#define SEEN(state, key) (((state).seen & (1u << (key))) != 0)

int fault_config_read(const char *config_json, size_t config_length, fault_config *config, char *problem,
                      size_t capacity) {
    memset(config, 0, sizeof(*config));
    config->mode = FAULT_MODE_ECHO;
    config->fail_with = MH_ERROR_UNAVAILABLE;
    config->fail_create = MH_OK;
    read_state state = {.config = config, .seen = 0};
    if (!fault_json_read_object(config_json, config_length, on_member, &state, problem, capacity)) {
        return 0;
    }
    const char *mode = fault_mode_name(config->mode);
    for (int key = 0; key < KEY_COUNT; key++) {
        if (!SEEN(state, key) || (rules[key].modes & MODE_BIT(config->mode))) continue;
        if (key == KEY_FAIL_WITH && SEEN(state, KEY_FAIL_WHILE_FILE_EXISTS)) continue;
        return fail(problem, capacity, "config key \"%s\" does not apply to mode \"%s\"", rules[key].name, mode);
    }
    switch (config->mode) {
    case FAULT_MODE_SLOW:
        if (!SEEN(state, KEY_DELAY_MS)) return fail(problem, capacity, "mode \"slow\" needs \"delayMs\"");
        break;
    case FAULT_MODE_SPIN:
        if (!SEEN(state, KEY_SPIN_MS)) return fail(problem, capacity, "mode \"spin\" needs \"spinMs\"");
        break;
    case FAULT_MODE_FLAKY:
        if (SEEN(state, KEY_FAIL_EVERY) == SEEN(state, KEY_FAILURE_RATE)) {
            return fail(problem, capacity, "mode \"flaky\" needs exactly one of \"failEvery\" and \"failureRate\"");
        }
        if (SEEN(state, KEY_SEED) && !SEEN(state, KEY_FAILURE_RATE)) {
            return fail(problem, capacity, "config \"seed\" applies only with \"failureRate\"");
        }
        break;
    case FAULT_MODE_CONTROLLED:
        if (!SEEN(state, KEY_FAIL_WHILE_FILE_EXISTS)) {
            return fail(problem, capacity, "mode \"controlled\" needs \"failWhileFileExists\"");
        }
        break;
    default:
        break;
    }
    if (SEEN(state, KEY_FAIL_CREATE_TIMES) && !SEEN(state, KEY_FAIL_CREATE)) {
        return fail(problem, capacity, "config \"failCreateTimes\" applies only with \"failCreate\"");
    }
    return 1;
}
