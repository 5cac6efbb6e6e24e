/*
 * Fault injection for whep-viewers --drop-rate: an LD_PRELOAD shim over recvfrom() that drops a
 * fraction of received SRTP video datagrams (RTP payload type UDP_DROP_PT, default 102) before
 * libdatachannel decrypts them, so the NACK path is exercised as with real loss (a packet dropped
 * after SRTP could not be retransmitted: SRTP replay protection would discard the copy).
 *   gcc -shared -fPIC -O2 -o udp-drop.so udp-drop.c -ldl
 *   UDP_DROP_RATE=0.01 LD_PRELOAD=./udp-drop.so node ...
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

typedef ssize_t (*recvfrom_t)(int, void *, size_t, int, struct sockaddr *, socklen_t *);

static recvfrom_t real_recvfrom;
static double rate = -1;
static int pt = 102;
static uint64_t state;

static double next_uniform(void) {
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return (double)(state >> 11) / (double)(1ULL << 53);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *src, socklen_t *srclen) {
	if (!real_recvfrom) real_recvfrom = (recvfrom_t)dlsym(RTLD_NEXT, "recvfrom");
	if (rate < 0) {
		const char *r = getenv("UDP_DROP_RATE");
		const char *p = getenv("UDP_DROP_PT");
		rate = r ? atof(r) : 0;
		if (p) pt = atoi(p);
		state = 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
	}
	for (;;) {
		socklen_t keep = srclen ? *srclen : 0;
		ssize_t n = real_recvfrom(fd, buf, len, flags, src, srclen);
		if (n < 12 || rate <= 0) return n;
		const uint8_t *b = (const uint8_t *)buf;
		if (b[0] < 128 || b[0] > 191 || (b[1] & 0x7f) != pt || next_uniform() >= rate) return n;
		if (srclen) *srclen = keep; // dropped: read the next datagram (or EAGAIN)
	}
}
