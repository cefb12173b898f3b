/* Fuzz target for the Pony header parser: arbitrary bytes must never crash it, and whatever
 * it accepts must rebuild to an equal header; the receive path's deferred-checksum parse must
 * agree with it. Built for libFuzzer with -Dfuzz=true (clang);
 * otherwise main() replays the seed corpus plus seeded random and mutated inputs, and
 * `--gen-seeds DIR` writes the corpus. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pony/transport.h"
#include "pony/wire.h"

#define BUF_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The receive path's parse (checksum of big DATA left to the caller) with that checksum then
 * checked, alone and in the copy, says exactly what pony_wire_parse says. */
static void check_deferred(const uint8_t *pkt, size_t size, int want, const struct pony_hdr *hw)
{
	static uint8_t copy[BUF_MAX];
	struct pony_hdr d;
	int r = pony_wire_parse_rx(pkt, size, &d);
	if (r >= 0 && d.csum_deferred) {
		uint32_t c = pony_wire_csum(pkt, (size_t)r, d.payload_len);
		if (pony_wire_csum_copy(pkt, (size_t)r, d.payload_len, copy) != c ||
		    memcmp(copy, pkt + r, d.payload_len) != 0)
			abort();
		if (c != d.csum)
			r = -EBADMSG;
		d.csum_deferred = false;
	}
	if (r != want || (r >= 0 && memcmp(&d, hw, sizeof(d)) != 0))
		abort();
}

static void check_roundtrip(const uint8_t *pkt, size_t size)
{
	struct pony_hdr h, g;
	static uint8_t out[BUF_MAX + PONY_HDR_MAX];
	int hl = pony_wire_parse(pkt, size, &h);
	check_deferred(pkt, size, hl, &h);
	if (hl < 0)
		return;
	size_t tr = h.key_id ? PONY_AUTH_TRAILER : 0; /* its tag is the transport's business */
	if ((size_t)hl + h.payload_len + tr != size || (size_t)hl != pony_wire_hdr_len(&h) ||
	    size > BUF_MAX)
		abort();
	memcpy(out + hl, pkt + hl, h.payload_len + tr);
	if (pony_wire_build(out, &h) != (size_t)hl || memcmp(out, pkt, size) != 0)
		abort(); /* accepted bytes are exactly what the builder writes for them */
	if (pony_wire_parse(out, size, &g) != hl || memcmp(&g, &h, sizeof(g)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[BUF_MAX];
	if (size > BUF_MAX)
		return 0;
	/* 1: the bytes as they came (almost always stopped by length/version/checksum). */
	check_roundtrip(data, size);
	/* 2: the same with version, lengths and checksum made consistent, so the field
	 * validation behind the checksum sees fuzzed values too. */
	if (size >= PONY_HDR_FIXED) {
		memcpy(buf, data, size);
		buf[0] = PONY_WIRE_VERSION;
		size_t ns = buf[3] % (PONY_SACK_MAX + 1);
		size_t hl = PONY_HDR_FIXED + 8 * ns;
		if (size >= hl) {
			buf[3] = (uint8_t)ns;
			buf[66] = 0;
			size_t pl = size - hl;
			buf[64] = (uint8_t)(pl >> 8);
			buf[65] = (uint8_t)pl;
			uint32_t c = pony_wire_csum(buf, hl, pl);
			buf[68] = (uint8_t)(c >> 24);
			buf[69] = (uint8_t)(c >> 16);
			buf[70] = (uint8_t)(c >> 8);
			buf[71] = (uint8_t)c;
			check_roundtrip(buf, size);
		}
		/* 3: authenticated form (key id, csum 0, trailer): the parser's other length rule. */
		if (size >= hl + PONY_AUTH_TRAILER) {
			size_t pl = size - hl - PONY_AUTH_TRAILER;
			buf[64] = (uint8_t)(pl >> 8);
			buf[65] = (uint8_t)pl;
			buf[66] = data[66] ? data[66] : 1;
			memset(buf + 68, 0, 4);
			check_roundtrip(buf, size);
		}
	}
	return 0;
}

#ifndef SNAP_LIBFUZZER
static uint64_t rs = 0x1234567887654321ull;
static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static int gen_seeds(const char *dir)
{
	static const uint8_t types[] = {PONY_T_SYN, PONY_T_SYN_ACK, PONY_T_RST, PONY_T_FIN,
					PONY_T_FIN_ACK, PONY_T_ACK, PONY_T_PROBE, PONY_T_DATA,
					PONY_T_OPEN, PONY_T_OPEN_ACK, PONY_T_CLOSE, PONY_T_CREDIT,
					PONY_T_NOP};
	uint8_t pkt[PONY_HDR_MAX + 1400];
	for (unsigned i = 0; i < sizeof(types); i++) {
		struct pony_hdr h = {.type = types[i], .src_flow = 0x1234, .dst_flow = 0x5678,
				     .seq = 1000 + i, .ts = 1 + i, .sid = 0x100001, .src_sid = 2};
		if (h.type != PONY_T_SYN && h.type != PONY_T_RST) {
			h.flags = PONY_F_ACK_VALID;
			h.ack = 500;
			h.n_sack = (uint8_t)(i % (PONY_SACK_MAX + 1));
			for (unsigned k = 0; k < h.n_sack; k++) {
				h.sack[k].start = 502 + 10 * k;
				h.sack[k].end = 505 + 10 * k;
			}
			h.ts_echo = 77;
			h.echo_delay = 1000;
		}
		if (h.type == PONY_T_DATA) {
			h.msg_len = 3000;
			h.offset = 1000;
			h.payload_len = 1300;
			memset(pkt + pony_wire_hdr_len(&h), 0xab, h.payload_len);
		}
		size_t len = pony_wire_build(pkt, &h) + h.payload_len;
		char path[512];
		snprintf(path, sizeof(path), "%s/%s", dir, pony_type_name(h.type));
		FILE *f = fopen(path, "wb");
		if (f == NULL || fwrite(pkt, 1, len, f) != len) {
			perror(path);
			return 1;
		}
		fclose(f);
	}
	/* One authenticated DATA packet (key id 1, csum 0, a trailer of arbitrary bytes). */
	struct pony_hdr h = {.type = PONY_T_DATA, .src_flow = 0x11111111, .dst_flow = 0x22222222,
			     .seq = 1000, .ts = 1, .sid = 0x100001, .msg_len = 100,
			     .payload_len = 100, .key_id = 1};
	memset(pkt + pony_wire_hdr_len(&h), 0xab, h.payload_len + PONY_AUTH_TRAILER);
	size_t len = pony_wire_build(pkt, &h) + h.payload_len + PONY_AUTH_TRAILER;
	char path[512];
	snprintf(path, sizeof(path), "%s/DATA_AUTH", dir);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(pkt, 1, len, f) != len) {
		perror(path);
		return 1;
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t seeds[64][BUF_MAX];
	static size_t seed_len[64];
	unsigned n_seeds = 0;

	if (argc == 3 && strcmp(argv[1], "--gen-seeds") == 0)
		return gen_seeds(argv[2]);
	for (int a = 1; a < argc; a++) {
		DIR *d = opendir(argv[a]);
		if (d == NULL) {
			perror(argv[a]);
			return 1;
		}
		struct dirent *e;
		while ((e = readdir(d)) != NULL && n_seeds < 64) {
			if (e->d_name[0] == '.')
				continue;
			char path[1024];
			snprintf(path, sizeof(path), "%s/%s", argv[a], e->d_name);
			FILE *f = fopen(path, "rb");
			if (f == NULL)
				continue;
			seed_len[n_seeds] = fread(seeds[n_seeds], 1, BUF_MAX, f);
			fclose(f);
			struct pony_hdr h;
			/* Seeds are valid packets: a parser regression shows up here. */
			if (pony_wire_parse(seeds[n_seeds], seed_len[n_seeds], &h) < 0) {
				fprintf(stderr, "seed %s does not parse\n", path);
				return 1;
			}
			LLVMFuzzerTestOneInput(seeds[n_seeds], seed_len[n_seeds]);
			n_seeds++;
		}
		closedir(d);
	}
	if (argc > 1 && n_seeds == 0) {
		fprintf(stderr, "empty corpus\n");
		return 1;
	}
	static uint8_t buf[BUF_MAX];
	for (unsigned i = 0; i < 20000; i++) {
		size_t len = rnd() % 300;
		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)rnd();
		LLVMFuzzerTestOneInput(buf, len);
	}
	for (unsigned i = 0; n_seeds && i < 50000; i++) {
		unsigned s = (unsigned)(rnd() % n_seeds);
		size_t len = seed_len[s];
		memcpy(buf, seeds[s], len);
		unsigned flips = 1 + (unsigned)(rnd() % 4);
		for (unsigned k = 0; k < flips; k++)
			buf[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
		if (rnd() % 4 == 0)
			len = rnd() % (len + 1);
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("fuzz_pony_hdr: %u seeds, 70000 generated inputs, no failure\n", n_seeds);
	return 0;
}
#endif
