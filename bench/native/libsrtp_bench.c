/*
 * libsrtp2 throughput for bench/srtp.bench.mjs: srtp_protect / srtp_unprotect in a tight C
 * loop (no Node), for each suite and payload size. Compiled at bench time:
 *   cc -O2 -o libsrtp_bench bench/native/libsrtp_bench.c -lsrtp2
 *   ./libsrtp_bench [ms per case, default 1000]
 * Prints {"<suite>": {"<payload bytes>": {"protect": pps, "unprotect": pps}}}.
 * Each packet is copied into the work buffer first (as the batched Node path works in place on
 * bytes that arrived from a socket); unprotect goes through 4096 distinct packets in order
 * and starts a fresh receiver session when they run out (replay protection forbids reuse).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <srtp2/srtp.h>

#define RING 4096

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void policy_for(srtp_policy_t *p, int suite, unsigned char *key, int inbound) {
    memset(p, 0, sizeof *p);
    switch (suite) {
    case 0: srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtp); srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp); break;
    case 1: srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p->rtp); srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp); break;
    case 2: srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp); srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp); break;
    default: srtp_crypto_policy_set_aes_gcm_256_16_auth(&p->rtp); srtp_crypto_policy_set_aes_gcm_256_16_auth(&p->rtcp); break;
    }
    p->ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
    p->key = key;
    p->window_size = 64;
    p->allow_repeat_tx = 1;
}

int main(int argc, char **argv) {
    double budget = (argc > 1 ? atof(argv[1]) : 1000) / 1000.0;
    const char *names[] = {"AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM", "AEAD_AES_256_GCM"};
    const int sizes[] = {1200, 160};
    unsigned char key[44];
    for (int i = 0; i < 44; i++) key[i] = (unsigned char)i;
    if (srtp_init()) return 3;
    printf("{");
    for (int s = 0; s < 4; s++) {
        printf("%s\"%s\": {", s ? ", " : "", names[s]);
        for (int z = 0; z < 2; z++) {
            int payload = sizes[z], len = 12 + payload, stride = len + SRTP_MAX_TRAILER_LEN;
            unsigned char *plain = calloc(RING, stride), *prot = calloc(RING, stride), *work = malloc(stride);
            int *plen = calloc(RING, sizeof(int));
            for (int i = 0; i < RING; i++) {
                unsigned char *p = plain + (size_t)i * stride;
                p[0] = 0x80; p[1] = 96; p[2] = (unsigned char)(i >> 8); p[3] = (unsigned char)i;
                p[8] = 0x12; p[9] = 0x34; p[10] = 0x56; p[11] = 0x78;
                for (int k = 12; k < len; k++) p[k] = (unsigned char)(k * 7 + i);
            }
            srtp_policy_t pol;
            srtp_t tx, rx;
            policy_for(&pol, s, key, 0);
            if (srtp_create(&tx, &pol)) { fprintf(stderr, "srtp_create %s failed\n", names[s]); return 4; }
            for (int i = 0; i < RING; i++) {
                memcpy(prot + (size_t)i * stride, plain + (size_t)i * stride, len);
                plen[i] = len;
                if (srtp_protect(tx, prot + (size_t)i * stride, &plen[i])) return 5;
            }
            /* protect, with a fresh sender (the one above has reached index 4095) */
            srtp_dealloc(tx);
            if (srtp_create(&tx, &pol)) return 4;
            long n = 0;
            double t0 = now(), t;
            do {
                for (int k = 0; k < 256; k++, n++) {
                    int l = len;
                    memcpy(work, plain + (size_t)(n % RING) * stride, len);
                    work[2] = (unsigned char)(n >> 8); work[3] = (unsigned char)n; /* rising seq */
                    if (srtp_protect(tx, work, &l)) { fprintf(stderr, "protect failed\n"); return 6; }
                }
            } while ((t = now()) - t0 < budget);
            double protect = n / (t - t0);
            srtp_dealloc(tx);
            /* unprotect */
            policy_for(&pol, s, key, 1);
            if (srtp_create(&rx, &pol)) return 4;
            n = 0;
            t0 = now();
            do {
                for (int k = 0; k < 256; k++, n++) {
                    int i = (int)(n % RING);
                    if (i == 0 && n) { srtp_dealloc(rx); if (srtp_create(&rx, &pol)) return 4; }
                    int l = plen[i];
                    memcpy(work, prot + (size_t)i * stride, l);
                    if (srtp_unprotect(rx, work, &l)) { fprintf(stderr, "unprotect failed\n"); return 7; }
                }
            } while ((t = now()) - t0 < budget);
            double unprotect = n / (t - t0);
            srtp_dealloc(rx);
            printf("%s\"%d\": {\"protect\": %.0f, \"unprotect\": %.0f}", z ? ", " : "", payload, protect, unprotect);
            free(plain); free(prot); free(work); free(plen);
        }
        printf("}");
    }
    printf("}\n");
    srtp_shutdown();
    return 0;
}
