/* Fuzz target for the receive-side parsers: arbitrary bytes as a frame through eth_classify ->
 * arp / ipv4_in -> icmp_echo / udp_demux, ipv6_in -> icmp6 (echo, NDP), and the exception path's filter (which must be
 * safe for any frame: it sees what the others do not consume). Aborts on a crash (sanitizers) or on any mbuf leak.
 * Built as a libFuzzer target with -DSNAP_FUZZING, else as a replay driver (corpus + random
 * mutations) that runs in the unit suite. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ring.h>

#include "elements/exception.h"
#include "snap/ring.h"
#include "tests/unit/elemtest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct snap_engine *eng;
static struct snap_ring *ring;
static unsigned baseline;
static uint64_t n_inputs, n_replies, n_delivered, n_exc_allowed;
static struct snap_exc_filter exc_filter;

static void fz_fini(void)
{
	snap_engine_destroy(eng);
	et_eal_fini();
}

static void fz_init(void)
{
	if (et_eal_init("fuzz_parse") < 0)
		abort();
	eng = snap_engine_create("fuzz", SOCKET_ID_ANY);
	if (eng == NULL)
		abort();
	et_add(eng, "eth_classify", "eth", "port=p0", NULL);
	et_add(eng, "arp", "arp", "port=p0", NULL);
	et_add(eng, "ipv4_in", "ip", "port=p0", NULL);
	et_add(eng, "icmp_echo", "icmp", NULL);
	et_add(eng, "ipv6_in", "ip6", "port=p0", NULL);
	et_add(eng, "icmp6", "icmp6", "port=p0", NULL);
	et_add(eng, "udp_demux", "udp", "dport_5000=p0", "dport_5001=p1", "dport_6000=ring:fz.rx",
	       NULL);
	et_add(eng, "test_sink", "replies", NULL);
	et_add(eng, "test_sink", "delivered", NULL);
	et_add(eng, "test_sink", "unmatched", NULL);
	et_add(eng, "test_sink", "other", NULL);
	et_link(eng, "eth", "ipv4", "ip");
	et_link(eng, "eth", "arp", "arp");
	et_link(eng, "eth", "other", "other");
	et_link(eng, "arp", "out", "replies");
	et_link(eng, "ip", "icmp", "icmp");
	et_link(eng, "ip", "udp", "udp");
	et_link(eng, "icmp", "out", "replies");
	et_link(eng, "udp", "p0", "delivered");
	et_link(eng, "udp", "unmatched", "unmatched");
	et_link(eng, "icmp", "other", "other");
	et_link(eng, "arp", "kernel", "other");
	et_link(eng, "eth", "ipv6", "ip6");
	et_link(eng, "ip6", "icmp6", "icmp6");
	et_link(eng, "ip6", "udp", "udp");
	et_link(eng, "icmp6", "out", "replies");
	et_link(eng, "icmp6", "other", "other");
	char err[128];
	if (snap_exc_filter_parse(&exc_filter, "tcp:22,udp:5000-6000,icmp,proto:47", err,
				  sizeof(err)))
		abort();
	/* udp.p1 stays unwired: the unconnected-output path is exercised too */
	ring = snap_ring_get("fz.rx", SOCKET_ID_ANY);
	if (ring == NULL)
		abort();
	baseline = et_in_use();
	atexit(fz_fini);
}

/* Byte 0 selects how the frame is laid out (segment size, offload verdict bits) so the
 * fuzzer explores multi-segment frames and hardware-checked paths; the rest is the frame. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (eng == NULL)
		fz_init();
	if (size < 1 || size > 9001)
		return 0;
	uint8_t opt = data[0];
	size_t seg = (opt & 7) ? (size_t)8 << (opt & 7) : 2048;
	struct rte_mbuf *m = et_mbuf_chain(data + 1, size - 1, seg);
	if (m == NULL)
		return 0;
	static const uint64_t verdicts[4] = {0, RTE_MBUF_F_RX_IP_CKSUM_GOOD,
					     RTE_MBUF_F_RX_L4_CKSUM_GOOD,
					     RTE_MBUF_F_RX_IP_CKSUM_BAD | RTE_MBUF_F_RX_L4_CKSUM_BAD};
	m->ol_flags |= verdicts[(opt >> 3) & 3];
	n_inputs++;
	enum snap_exc_class c;
	n_exc_allowed += snap_exc_filter_match(&exc_filter, m, &c);
	if (c >= SNAP_EXC_CLASSES)
		abort();
	et_feed(eng, "eth", &m, 1);

	struct et_sink *s = et_sink_of(eng, "replies");
	n_replies += s->n;
	et_sink_clear(s);
	s = et_sink_of(eng, "delivered");
	n_delivered += s->n;
	et_sink_clear(s);
	et_sink_clear(et_sink_of(eng, "unmatched"));
	et_sink_clear(et_sink_of(eng, "other"));
	void *o;
	while (rte_ring_dequeue(ring->r, &o) == 0)
		rte_pktmbuf_free(o);
	if (et_in_use() != baseline) {
		fprintf(stderr, "mbuf leak: %u in use, expected %u\n", et_in_use(), baseline);
		abort();
	}
	return 0;
}

#ifndef SNAP_FUZZING
/* Replay: every file of the corpus directory, then mutations of them and random frames from
 * a fixed seed (so a failure reproduces). */

#define MAX_SEEDS 64
#define N_RANDOM 20000

static uint8_t seeds[MAX_SEEDS][2048];
static size_t seed_len[MAX_SEEDS];
static unsigned n_seeds;

static uint64_t rng = 0x5eed;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int load_corpus(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		perror(dir);
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL && n_seeds < MAX_SEEDS) {
		if (de->d_name[0] == '.')
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "rb");
		if (f == NULL)
			continue;
		seed_len[n_seeds] = fread(seeds[n_seeds], 1, sizeof(seeds[0]), f);
		fclose(f);
		n_seeds++;
	}
	closedir(d);
	return n_seeds ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	if (load_corpus(argv[1]) < 0) {
		fprintf(stderr, "no corpus in %s\n", argv[1]);
		return 1;
	}
	for (unsigned i = 0; i < n_seeds; i++)
		LLVMFuzzerTestOneInput(seeds[i], seed_len[i]);
	uint64_t seed_replies = n_replies, seed_delivered = n_delivered;
	/* the corpus holds an ARP request, echo requests (v4, v6), a neighbour solicitation and
	 * datagrams to port 5000 (v4, v6) */
	if (seed_replies < 4 || seed_delivered < 3) {
		fprintf(stderr, "corpus produced %llu replies, %llu datagrams: elements broken?\n",
			(unsigned long long)seed_replies, (unsigned long long)seed_delivered);
		return 1;
	}
	static uint8_t buf[2048];
	for (unsigned i = 0; i < N_RANDOM; i++) {
		const unsigned s = (unsigned)(rnd() % n_seeds);
		size_t len = seed_len[s];
		memcpy(buf, seeds[s], len);
		switch (rnd() % 4) {
		case 0: /* a few byte flips past the option byte */
			for (unsigned k = 1 + rnd() % 4; k > 0 && len > 1; k--)
				buf[1 + rnd() % (len - 1)] ^= (uint8_t)(1 + rnd() % 255);
			break;
		case 1: /* truncate */
			len = 1 + rnd() % len;
			break;
		case 2: /* a random 16-bit field in the headers */
			if (len > 3) {
				size_t at = 1 + rnd() % (len > 60 ? 59 : len - 2);
				buf[at] = (uint8_t)rnd();
				buf[at + 1] = (uint8_t)rnd();
			}
			break;
		default: /* random tail behind a valid Ethernet header */
			len = 15 + rnd() % (sizeof(buf) - 15);
			for (size_t k = 15; k < len; k++)
				buf[k] = (uint8_t)rnd();
			break;
		}
		buf[0] = (uint8_t)rnd();
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("fuzz_parse replay: %u corpus files, %llu inputs, %llu replies, %llu datagrams "
	       "delivered, %llu let through by the exception filter, no crash, no leak\n",
	       n_seeds, (unsigned long long)n_inputs, (unsigned long long)n_replies,
	       (unsigned long long)n_delivered, (unsigned long long)n_exc_allowed);
	return 0;
}
#endif
