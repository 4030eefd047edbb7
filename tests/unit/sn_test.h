/*
 * A tiny TAP test harness (Redis testhelp.h style): SN_TEST defines a test,
 * CHECK* record failures with both operands, SN_TEST_MAIN runs them all and
 * prints TAP for Automake's tap-driver.sh.
 */
#ifndef SN_TEST_H
#define SN_TEST_H

#include <stdio.h>
#include <string.h>

struct sn_test_case {
    const char *name;
    void (*fn)(int *failed);
};

#define SN_TEST(name) static void test_##name(int *sn_failed_)

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            printf("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            *sn_failed_ = 1;                                                   \
        }                                                                      \
    } while (0)

#define CHECK_EQ(a, b)                                                         \
    do {                                                                       \
        long long sn_a_ = (long long)(a), sn_b_ = (long long)(b);              \
        if (sn_a_ != sn_b_) {                                                  \
            printf("#   %s:%d: %s == %s failed: %lld != %lld\n", __FILE__,     \
                   __LINE__, #a, #b, sn_a_, sn_b_);                            \
            *sn_failed_ = 1;                                                   \
        }                                                                      \
    } while (0)

#define CHECK_STR(a, b)                                                        \
    do {                                                                       \
        const char *sn_a_ = (a), *sn_b_ = (b);                                 \
        if (sn_a_ == NULL || sn_b_ == NULL || strcmp(sn_a_, sn_b_) != 0) {     \
            printf("#   %s:%d: %s == %s failed:\n#     got:  \"%s\"\n"        \
                   "#     want: \"%s\"\n",                                     \
                   __FILE__, __LINE__, #a, #b, sn_a_ ? sn_a_ : "(null)",       \
                   sn_b_ ? sn_b_ : "(null)");                                  \
            *sn_failed_ = 1;                                                   \
        }                                                                      \
    } while (0)

/* Compare a slice (ptr,len) with a C string. */
#define CHECK_SLICE(ptr, len, want)                                            \
    do {                                                                       \
        const char *sn_w_ = (want);                                            \
        size_t sn_l_ = (len);                                                  \
        if ((ptr) == NULL || strlen(sn_w_) != sn_l_ ||                         \
            memcmp((ptr), sn_w_, sn_l_) != 0) {                                \
            printf("#   %s:%d: %s == \"%s\" failed: got \"%.*s\"\n",           \
                   __FILE__, __LINE__, #ptr, sn_w_, (int)sn_l_,               \
                   (ptr) ? (const char *)(ptr) : "(null)");                   \
            *sn_failed_ = 1;                                                   \
        }                                                                      \
    } while (0)

#define SN_T(name) { #name, test_##name }

#define SN_TEST_MAIN(...)                                                      \
    int main(void)                                                             \
    {                                                                          \
        static const struct sn_test_case cases[] = { __VA_ARGS__ };           \
        size_t n = sizeof(cases) / sizeof(cases[0]), bad = 0;                  \
        printf("1..%zu\n", n);                                                 \
        for (size_t i = 0; i < n; i++) {                                       \
            int failed = 0;                                                    \
            cases[i].fn(&failed);                                              \
            printf("%s %zu - %s\n", failed ? "not ok" : "ok", i + 1,          \
                   cases[i].name);                                             \
            bad += failed != 0;                                                \
        }                                                                      \
        return bad ? 1 : 0;                                                    \
    }

#endif
