/* Fuzz target for what a new daemon parses during a takeover: the frame reader
 * (snap_takeover_recv) and the saved Pony engine state (pony_app_save_check's session records,
 * then pony_tp_restore's transport tables). Inputs are either raw bytes or byte patches over a
 * valid saved blob (one app session, a small transport), so mutations reach the checks deep
 * inside a well-formed blob. Invariants: no crash/UB/leak; a blob the checks pass restores.
 * Deltas (takeover_delta.c): raw input applied to the valid blob must leave it unchanged
 * when refused; a patched blob's delta from the valid one must rebuild it exactly.
 * libFuzzer with -Dfuzz=true; otherwise main() replays seeded random inputs (unit suite). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../unit/pony_save_fix.h"
#include "../unit/pony_sim.h"
#include "pony/app.h"
#include "pony/app_save.h"
#include "pony/save.h"
#include "core/takeover.h"
#include "core/takeover_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct pony_app_host *host;
static uint8_t *base;      /* the valid blob */
static size_t base_len;
static uint8_t *work;

static void fini(void)
{
	save_fix_fini(host);
	free(base);
	free(work);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct pony_app_session *s;
	if (save_fix_init("to_fz", &host, &s) != 0)
		abort();
	struct snap_sbuf b;
	snap_sbuf_init(&b);
	if (pony_app_save(host, sim_ep[0].tp, &b) != 0 || b.err)
		abort();
	base_len = b.len;
	base = malloc(base_len);
	work = malloc(base_len);
	if (base == NULL || work == NULL)
		abort();
	memcpy(base, b.data, base_len);
	snap_sbuf_fini(&b);
	size_t off;
	if (pony_app_save_check(base, base_len, &off) != 0 ||
	    pony_tp_restore(sim_ep[0].tp, base + off, base_len - off, NULL) != 0)
		abort(); /* the unmodified blob must pass */
	atexit(fini);
	return 0;
}

/* Frames: the input written into a stream socket, read back frame by frame. */
static void frames(const uint8_t *d, size_t n)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		abort();
	if (n > 65536)
		n = 65536; /* fits the socket buffer: the write never blocks */
	if (n && write(sv[0], d, n) != (ssize_t)n)
		abort();
	close(sv[0]);
	for (int i = 0; i < 64; i++) {
		uint32_t type, len;
		void *p;
		int fds[4];
		unsigned nfds;
		if (snap_takeover_recv(sv[1], &type, &p, &len, 4096, fds, 4, &nfds) != 0)
			break;
		if (len > 4096)
			abort();
		for (unsigned k = 0; k < nfds; k++)
			close(fds[k]);
		free(p);
	}
	close(sv[1]);
}

static void blob(const uint8_t *b, size_t n)
{
	size_t off;
	if (pony_app_save_check(b, n, &off) != 0)
		return;
	if (off > n)
		abort();
	pony_tp_restore(sim_ep[0].tp, b + off, n - off, NULL);
}

/* The input as a delta over a copy of the valid blob: refused, the copy is unchanged;
 * taken, the result is within the limit. */
static void delta_raw(const uint8_t *d, size_t n)
{
	size_t len = base_len, cap = base_len;
	uint8_t *b = malloc(cap);
	if (b == NULL)
		abort();
	memcpy(b, base, base_len);
	int r = to_delta_apply(&b, &len, &cap, d, n, 2 * base_len);
	if (r != 0 && (len != base_len || memcmp(b, base, base_len) != 0))
		abort();
	if (r == 0 && (len > 2 * base_len || len > cap))
		abort();
	free(b);
}

/* The delta from the valid blob to cur (n bytes) rebuilds cur from the valid blob. */
static void delta_round_trip(const uint8_t *cur, size_t n)
{
	struct snap_sbuf d;
	snap_sbuf_init(&d);
	to_delta_encode(base, base_len, cur, n, &d);
	size_t len = base_len, cap = base_len;
	uint8_t *b = malloc(cap);
	if (b == NULL || d.err)
		abort();
	memcpy(b, base, base_len);
	if (to_delta_apply(&b, &len, &cap, d.data, d.len, base_len) != 0 || len != n ||
	    memcmp(b, cur, n) != 0)
		abort();
	free(b);
	snap_sbuf_fini(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0] % 5;
	data++, size--;
	if (mode == 0) {
		frames(data, size);
	} else if (mode == 1) {
		blob(data, size);
	} else if (mode == 4) {
		delta_raw(data, size);
	} else {
		/* Patches (offset le32, value) over the valid blob; the blob may be cut short. */
		memcpy(work, base, base_len);
		size_t n = base_len;
		for (size_t i = 0; i + 5 <= size; i += 5) {
			uint32_t o;
			memcpy(&o, data + i, 4);
			if (o == UINT32_MAX)
				n = (size_t)data[i + 4] * 64 % base_len;
			else
				work[o % base_len] = data[i + 4];
		}
		if (mode == 3)
			delta_round_trip(work, n);
		else
			blob(work, n);
	}
	return 0;
}

#ifndef SNAP_LIBFUZZER
/* Replay: seeded random inputs, mostly patches over the valid blob (a few bytes each, often
 * in the session record and the transport header where the checks are), some raw frames. */
int main(int argc, char **argv)
{
	unsigned iters = argc > 1 ? (unsigned)atoi(argv[1]) : 3000;
	LLVMFuzzerInitialize(&argc, &argv);
	static uint8_t buf[1 + 5 * 16];
	uint64_t r = 0x9e3779b97f4a7c15ull;
	for (unsigned it = 0; it < iters; it++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		buf[0] = (uint8_t)(it % 7 == 0 ? 0 : it % 5 == 1 ? 3 : it % 5 == 2 ? 4 : 2);
		unsigned np = 1 + (unsigned)(r % 4);
		for (unsigned k = 0; k < np; k++) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			uint32_t o = (uint32_t)(r >> 8);
			if (r % 3 == 0)
				o %= 1024; /* headers and the session record */
			memcpy(buf + 1 + 5 * k, &o, 4);
			buf[1 + 5 * k + 4] = (uint8_t)(r >> 48);
		}
		LLVMFuzzerTestOneInput(buf, 1 + 5 * np);
	}
	printf("fuzz_takeover_blob: %u inputs, no failure\n", iters);
	return 0;
}
#endif
