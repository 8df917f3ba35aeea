/* fault_json — see fault_json.h. */
#include "fault_json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
    const char *at;
    const char *end;
    char *problem;
    size_t capacity;
} reader;

static int reader_fail(reader *r, const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(r->problem, r->capacity, format, arguments);
    va_end(arguments);
    return 0;
}

static void skip_space(reader *r) {
    while (r->at < r->end && (*r->at == ' ' || *r->at == '\t' || *r->at == '\n' || *r->at == '\r')) {
        r->at++;
    }
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads a string at `r->at` (its opening quote) into `out`, at most `capacity - 1` bytes. */
static int read_string(reader *r, char *out, size_t capacity, const char *what) {
    if (r->at >= r->end || *r->at != '"') {
        return reader_fail(r, "expected a string for %s", what);
    }
    r->at++;
    size_t length = 0;
    while (r->at < r->end && *r->at != '"') {
        unsigned char c = (unsigned char)*r->at++;
        char bytes[4];
        size_t count = 1;
        bytes[0] = (char)c;
        if (c < 0x20) {
            return reader_fail(r, "%s holds an unescaped control character", what);
        }
        if (c == '\\') {
            if (r->at >= r->end) break;
            char escape = *r->at++;
            switch (escape) {
            case '"': bytes[0] = '"'; break;
            case '\\': bytes[0] = '\\'; break;
            case '/': bytes[0] = '/'; break;
            case 'b': bytes[0] = '\b'; break;
            case 'f': bytes[0] = '\f'; break;
            case 'n': bytes[0] = '\n'; break;
            case 'r': bytes[0] = '\r'; break;
            case 't': bytes[0] = '\t'; break;
            case 'u': {
                if (r->end - r->at < 4) {
                    return reader_fail(r, "%s has a short \\u escape", what);
                }
                unsigned code = 0;
                for (int i = 0; i < 4; i++) {
                    int digit = hex_digit(r->at[i]);
                    if (digit < 0) return reader_fail(r, "%s has a malformed \\u escape", what);
                    code = code * 16 + (unsigned)digit;
                }
                r->at += 4;
                if (code == 0 || (code >= 0xD800 && code <= 0xDFFF)) {
                    return reader_fail(r, "%s has a \\u escape this reader refuses (NUL or a surrogate)", what);
                }
                if (code < 0x80) {
                    bytes[0] = (char)code;
                } else if (code < 0x800) {
                    bytes[0] = (char)(0xC0 | (code >> 6));
                    bytes[1] = (char)(0x80 | (code & 0x3F));
                    count = 2;
                } else {
                    bytes[0] = (char)(0xE0 | (code >> 12));
                    bytes[1] = (char)(0x80 | ((code >> 6) & 0x3F));
                    bytes[2] = (char)(0x80 | (code & 0x3F));
                    count = 3;
                }
                break;
            }
            default:
                return reader_fail(r, "%s has an unknown escape \\%c", what, escape);
            }
        }
        if (length + count >= capacity) {
            return reader_fail(r, "%s is longer than %zu bytes", what, capacity - 1);
        }
        memcpy(out + length, bytes, count);
        length += count;
    }
    if (r->at >= r->end) {
        return reader_fail(r, "%s is not terminated", what);
    }
    r->at++;
    out[length] = '\0';
    return 1;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Reads a JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int read_number(reader *r, fault_json_value *value, const char *key) {
    const char *start = r->at;
    const char *p = r->at;
    int is_integer = 1;
    if (p < r->end && *p == '-') p++;
    if (p < r->end && *p == '0') {
        p++;
    } else if (p < r->end && *p >= '1' && *p <= '9') {
        while (p < r->end && is_digit(*p)) p++;
    } else {
        return reader_fail(r, "config \"%s\" has a malformed number", key);
    }
    if (p < r->end && *p == '.') {
        is_integer = 0;
        p++;
        if (p >= r->end || !is_digit(*p)) return reader_fail(r, "config \"%s\" has a malformed number", key);
        while (p < r->end && is_digit(*p)) p++;
    }
    if (p < r->end && (*p == 'e' || *p == 'E')) {
        is_integer = 0;
        p++;
        if (p < r->end && (*p == '+' || *p == '-')) p++;
        if (p >= r->end || !is_digit(*p)) return reader_fail(r, "config \"%s\" has a malformed number", key);
        while (p < r->end && is_digit(*p)) p++;
    }
    char text[64];
    size_t length = (size_t)(p - start);
    if (length >= sizeof(text)) {
        return reader_fail(r, "config \"%s\" has a number longer than %zu characters", key, sizeof(text) - 1);
    }
    memcpy(text, start, length);
    text[length] = '\0';
    value->kind = FAULT_JSON_NUMBER;
    value->number = strtod(text, NULL);
    value->is_integer = 0;
    if (is_integer) {
        errno = 0;
        long long integer = strtoll(text, NULL, 10);
        if (errno == 0) {
            value->is_integer = 1;
            value->integer = (int64_t)integer;
        }
    }
    r->at = p;
    return 1;
}

static int read_literal(reader *r, const char *literal) {
    size_t length = strlen(literal);
    if ((size_t)(r->end - r->at) >= length && memcmp(r->at, literal, length) == 0) {
        r->at += length;
        return 1;
    }
    return 0;
}

static int read_value(reader *r, fault_json_value *value, const char *key) {
    if (r->at >= r->end) {
        return reader_fail(r, "config \"%s\" has no value", key);
    }
    char c = *r->at;
    if (c == '"') {
        char what[FAULT_JSON_MAX_KEY + 16];
        snprintf(what, sizeof(what), "config \"%s\"", key);
        value->kind = FAULT_JSON_STRING;
        return read_string(r, value->string, sizeof(value->string), what);
    }
    if (c == '-' || is_digit(c)) {
        return read_number(r, value, key);
    }
    if (read_literal(r, "true")) {
        value->kind = FAULT_JSON_BOOL;
        value->boolean = 1;
        return 1;
    }
    if (read_literal(r, "false")) {
        value->kind = FAULT_JSON_BOOL;
        value->boolean = 0;
        return 1;
    }
    return reader_fail(r, "config \"%s\" must be a string, a number or a boolean (the fault plugin reads a flat object)", key);
}

int fault_json_read_object(const char *json, size_t length, fault_json_member_fn on_member, void *context,
                           char *problem, size_t problem_capacity) {
    reader r = {.at = json, .end = json + length, .problem = problem, .capacity = problem_capacity};
    /* Values are large (a path); one buffer serves every member, in turn. */
    fault_json_value *value = malloc(sizeof(fault_json_value));
    if (value == NULL) {
        return reader_fail(&r, "out of memory");
    }
    int ok = 0;
    skip_space(&r);
    if (r.at >= r.end || *r.at != '{') {
        reader_fail(&r, "config must be a JSON object");
        goto done;
    }
    r.at++;
    skip_space(&r);
    if (r.at < r.end && *r.at == '}') {
        r.at++;
    } else {
        for (;;) {
            char key[FAULT_JSON_MAX_KEY + 1];
            skip_space(&r);
            if (!read_string(&r, key, sizeof(key), "a config key")) goto done;
            skip_space(&r);
            if (r.at >= r.end || *r.at != ':') {
                reader_fail(&r, "config \"%s\" is not followed by ':'", key);
                goto done;
            }
            r.at++;
            skip_space(&r);
            memset(value, 0, sizeof(*value));
            if (!read_value(&r, value, key)) goto done;
            if (!on_member(context, key, value, problem, problem_capacity)) goto done;
            skip_space(&r);
            if (r.at < r.end && *r.at == ',') {
                r.at++;
                continue;
            }
            if (r.at < r.end && *r.at == '}') {
                r.at++;
                break;
            }
            reader_fail(&r, "config: expected ',' or '}' after \"%s\"", key);
            goto done;
        }
    }
    skip_space(&r);
    if (r.at != r.end) {
        reader_fail(&r, "config has text after its object");
        goto done;
    }
    ok = 1;
done:
    free(value);
    return ok;
}
