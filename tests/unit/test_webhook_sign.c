/*
 * out_webhook's signature (X-Sentineld-Signature: sha256=<hex>): the
 * signer keyed once must give OpenSSL's one-shot HMAC-SHA256 of the same
 * key and body, for keys shorter than, as long as and longer than
 * SHA-256's 64-byte block (hashed first) and bodies from empty to many
 * blocks, and again after other bodies (no state carried over).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../../plugins/out_webhook/out_webhook.h"
#include "sn_test.h"

static void
reference(const char *key, const char *body, size_t len, char *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)body, len,
         mac, &n);
    strcpy(out, "sha256=");
    for (unsigned int i = 0; i < n; i++)
        sprintf(out + 7 + 2 * i, "%02x", mac[i]);
}

SN_TEST(signer_matches_hmac)
{
    static const size_t key_lens[] = { 1, 12, 63, 64, 65, 200 };
    static const size_t body_lens[] = { 0, 1, 55, 64, 1500, 70000 };
    char *body = malloc(70000), key[201], got[80], want[80];

    CHECK(body != NULL);
    if (body == NULL)
        return;
    for (size_t i = 0; i < 70000; i++)
        body[i] = (char)(i * 31 + 7);
    for (size_t k = 0; k < sizeof(key_lens) / sizeof(key_lens[0]); k++) {
        struct ow_signer *sg;

        for (size_t i = 0; i < key_lens[k]; i++)
            key[i] = (char)('!' + (i * 7 + k) % 90);
        key[key_lens[k]] = '\0';
        sg = ow_signer_new(key);
        CHECK(sg != NULL);
        if (sg == NULL)
            continue;
        for (int round = 0; round < 2; round++)
            for (size_t b = 0; b < sizeof(body_lens) / sizeof(body_lens[0]);
                 b++) {
                CHECK(ow_sign(sg, body, body_lens[b], got, sizeof(got)));
                reference(key, body, body_lens[b], want);
                CHECK_STR(got, want);
            }
        ow_signer_free(sg);
    }
    /* RFC 4231 test case 2. */
    {
        struct ow_signer *sg = ow_signer_new("Jefe");
        const char *msg = "what do ya want for nothing?";

        CHECK(sg != NULL);
        if (sg != NULL) {
            CHECK(ow_sign(sg, msg, strlen(msg), got, sizeof(got)));
            CHECK_STR(got, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2"
                           "739839dec58b964ec3843");
        }
        ow_signer_free(sg);
    }
    free(body);
}

SN_TEST_MAIN(SN_T(signer_matches_hmac))
