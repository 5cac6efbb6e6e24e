/*
 * libsrtp2 side of tests/libsrtp_interop.rs: protects or unprotects a stream of packets with
 * the system libsrtp2 and writes back what it produced.
 *
 *   harness protect|unprotect rtp|rtcp SUITE HEXKEY WINDOW  < records  > results
 *
 * SUITE: AES_CM_128_HMAC_SHA1_80 | AES_CM_128_HMAC_SHA1_32 | AEAD_AES_128_GCM | AEAD_AES_256_GCM
 * HEXKEY: master key || master salt, hex. WINDOW: replay window (64..32768).
 * stdin: records  u32 LE length, bytes.
 * stdout: records i32 LE libsrtp status, u32 LE length, bytes (length 0 when status != 0).
 * One srtp_t session for the whole run (ssrc_any_outbound / ssrc_any_inbound), so per-SSRC
 * rollover counters, SRTCP indices and replay windows carry over from record to record.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <srtp2/srtp.h>

#define MAX_PACKET (65536 + SRTP_MAX_TRAILER_LEN + 64)

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int set_suite(srtp_policy_t *p, const char *suite) {
    if (!strcmp(suite, "AES_CM_128_HMAC_SHA1_80")) {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
    } else if (!strcmp(suite, "AES_CM_128_HMAC_SHA1_32")) {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p->rtp);
        /* RFC 5764 §4.1.2: SRTCP keeps the 80-bit tag. */
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
    } else if (!strcmp(suite, "AEAD_AES_128_GCM")) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
    } else if (!strcmp(suite, "AEAD_AES_256_GCM")) {
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&p->rtp);
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&p->rtcp);
    } else {
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s protect|unprotect rtp|rtcp SUITE HEXKEY WINDOW\n", argv[0]);
        return 2;
    }
    int protect = !strcmp(argv[1], "protect");
    int rtcp = !strcmp(argv[2], "rtcp");
    unsigned char key[64];
    size_t hexlen = strlen(argv[4]);
    if (hexlen % 2 || hexlen / 2 > sizeof key) return 2;
    for (size_t i = 0; i < hexlen / 2; i++) {
        int hi = hexval(argv[4][2 * i]), lo = hexval(argv[4][2 * i + 1]);
        if (hi < 0 || lo < 0) return 2;
        key[i] = (unsigned char)(hi * 16 + lo);
    }
    srtp_err_status_t st = srtp_init();
    if (st) { fprintf(stderr, "srtp_init: %d\n", st); return 3; }
    srtp_policy_t policy;
    memset(&policy, 0, sizeof policy);
    if (set_suite(&policy, argv[3])) { fprintf(stderr, "unknown suite %s\n", argv[3]); return 2; }
    policy.ssrc.type = protect ? ssrc_any_outbound : ssrc_any_inbound;
    policy.key = key;
    policy.window_size = (unsigned long)atol(argv[5]);
    policy.allow_repeat_tx = 1;
    policy.next = NULL;
    srtp_t session;
    st = srtp_create(&session, &policy);
    if (st) { fprintf(stderr, "srtp_create(%s): %d\n", argv[3], st); return 4; }

    static unsigned char buf[MAX_PACKET];
    uint32_t len;
    while (fread(&len, 4, 1, stdin) == 1) {
        if (len > 65536 + SRTP_MAX_TRAILER_LEN) return 5;
        if (len && fread(buf, 1, len, stdin) != len) return 5;
        int l = (int)len;
        if (protect)
            st = rtcp ? srtp_protect_rtcp(session, buf, &l) : srtp_protect(session, buf, &l);
        else
            st = rtcp ? srtp_unprotect_rtcp(session, buf, &l) : srtp_unprotect(session, buf, &l);
        int32_t status = (int32_t)st;
        uint32_t out = st ? 0 : (uint32_t)l;
        fwrite(&status, 4, 1, stdout);
        fwrite(&out, 4, 1, stdout);
        if (out) fwrite(buf, 1, out, stdout);
    }
    srtp_dealloc(session);
    srtp_shutdown();
    return 0;
}
