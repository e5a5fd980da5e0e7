/* Minimal TAP producer for C unit tests: meson runs each test binary with
 * protocol 'tap'. Exit code 77 means the whole binary is skipped. */
#ifndef ISOLA_TESTS_TAP_H
#define ISOLA_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static inline void tap_ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void tap_ok(int cond, const char *fmt, ...)
{
        va_list ap;
        tap_n++;
        if (!cond)
                tap_failed++;
        printf("%sok %d - ", cond ? "" : "not ", tap_n);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
}

static inline void tap_skip(const char *why)
{
        tap_n++;
        printf("ok %d # SKIP %s\n", tap_n, why);
}

#define TAP_EQ_INT(a, b, name)                                                                     \
        do {                                                                                       \
                long long _a = (long long)(a), _b = (long long)(b);                                \
                tap_ok(_a == _b, "%s", name);                                                      \
                if (_a != _b)                                                                      \
                        printf("#   got %lld, want %lld\n", _a, _b);                               \
        } while (0)

#define TAP_EQ_STR(a, b, name)                                                                     \
        do {                                                                                       \
                const char *_a = (a), *_b = (b);                                                   \
                int _eq = _a && _b && !strcmp(_a, _b);                                             \
                tap_ok(_eq, "%s", name);                                                           \
                if (!_eq)                                                                          \
                        printf("#   got '%s', want '%s'\n", _a ? _a : "(null)",                    \
                               _b ? _b : "(null)");                                                \
        } while (0)

/* Prints the plan and returns the process exit code. */
static inline int tap_done(void)
{
        printf("1..%d\n", tap_n);
        return tap_failed ? 1 : 0;
}

#endif
