/*
 * fault_json — a tiny, strict reader for the fault plugin's `config`: one flat JSON object whose
 * values are strings, numbers or booleans. Anything else (null, arrays, nested objects, trailing
 * text, malformed strings or numbers) is refused with a message. Which keys exist, and refusing a
 * key given twice, is the caller's business.
 */
#ifndef FAULT_JSON_H
#define FAULT_JSON_H

#include <stddef.h>
#include <stdint.h>

#define FAULT_INTERNAL __attribute__((visibility("hidden")))

/** The longest key, and the longest string value, the reader accepts (without the NUL). */
#define FAULT_JSON_MAX_KEY 63
#define FAULT_JSON_MAX_STRING 4095

typedef enum fault_json_kind {
    FAULT_JSON_STRING,
    FAULT_JSON_NUMBER,
    FAULT_JSON_BOOL,
} fault_json_kind;

/** One member's value. */
typedef struct fault_json_value {
    fault_json_kind kind;
    /** FAULT_JSON_STRING: NUL-terminated UTF-8 (`\u0000` is refused). */
    char string[FAULT_JSON_MAX_STRING + 1];
    /** FAULT_JSON_NUMBER: the value, and whether it was written as an integer that fits int64. */
    double number;
    int is_integer;
    int64_t integer;
    /** FAULT_JSON_BOOL: 0 or 1. */
    int boolean;
} fault_json_value;

/**
 * Receives one member. Returns 1 to go on, or 0 after writing why into `problem` (capacity
 * `problem_capacity`), which stops the reading.
 */
typedef int (*fault_json_member_fn)(void *context, const char *key, const fault_json_value *value,
                                    char *problem, size_t problem_capacity);

/**
 * Reads `length` bytes of `json` as a flat object, calling `on_member` for each member in order.
 * Returns 1 on success, 0 with a message in `problem` otherwise.
 */
FAULT_INTERNAL int fault_json_read_object(const char *json, size_t length, fault_json_member_fn on_member,
                                          void *context, char *problem, size_t problem_capacity);

#endif
