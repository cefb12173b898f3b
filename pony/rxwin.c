/* Receive window of a Pony flow: duplicate suppression, cumulative ack and SACK blocks over
 * a bitmap of the seqs beyond rcv_nxt. Pure logic on caller-provided memory (unit-tested). */
#include <string.h>

#include "pony/internal.h"

static inline bool bit_get(const struct pony_rxwin *w, uint32_t seq)
{
	uint32_t i = seq & (w->size - 1);
	return (w->map[i >> 6] >> (i & 63)) & 1;
}

static inline void bit_set(struct pony_rxwin *w, uint32_t seq, bool v)
{
	uint32_t i = seq & (w->size - 1);
	if (v)
		w->map[i >> 6] |= 1ull << (i & 63);
	else
		w->map[i >> 6] &= ~(1ull << (i & 63));
}

void pony_rxwin_init(struct pony_rxwin *w, uint64_t *map, uint32_t size, uint32_t isn)
{
	w->map = map;
	w->size = size;
	w->rcv_nxt = isn;
	w->rcv_max = isn;
	w->last = isn;
	memset(map, 0, size / 8);
}

enum pony_rx_verdict pony_rxwin_check(const struct pony_rxwin *w, uint32_t seq)
{
	uint32_t d = seq - w->rcv_nxt;
	if ((int32_t)d < 0)
		return PONY_RX_DUP;
	if (d >= w->size)
		return PONY_RX_OUTSIDE;
	return bit_get(w, seq) ? PONY_RX_DUP : PONY_RX_NEW;
}

uint32_t pony_rxwin_mark(struct pony_rxwin *w, uint32_t seq)
{
	uint32_t start = w->rcv_nxt;
	bit_set(w, seq, true);
	w->last = seq;
	if (seq_le(w->rcv_max, seq))
		w->rcv_max = seq + 1;
	/* Bits below rcv_nxt are cleared as it passes them, so the slot is clean when the
	 * window wraps onto it. */
	while (w->rcv_nxt != w->rcv_max && bit_get(w, w->rcv_nxt)) {
		bit_set(w, w->rcv_nxt, false);
		w->rcv_nxt++;
	}
	return w->rcv_nxt - start;
}

unsigned pony_rxwin_sack(const struct pony_rxwin *w, uint32_t (*blk)[2], unsigned max)
{
	unsigned n = 0;
	if (max == 0 || w->rcv_nxt == w->rcv_max)
		return 0;
	/* The block around the latest arrival first (the sender learns the newest news). */
	if (seq_lt(w->rcv_nxt, w->last) && bit_get(w, w->last)) {
		uint32_t s = w->last, e = w->last + 1;
		while (seq_lt(w->rcv_nxt, s - 1) && bit_get(w, s - 1))
			s--;
		while (seq_lt(e, w->rcv_max) && bit_get(w, e))
			e++;
		blk[n][0] = s;
		blk[n][1] = e;
		n++;
	}
	/* Then the lowest blocks: they name the holes the sender should repair first. */
	uint32_t seq = w->rcv_nxt + 1; /* rcv_nxt itself is missing by definition */
	while (n < max && seq_lt(seq, w->rcv_max)) {
		if (!bit_get(w, seq)) {
			seq++;
			continue;
		}
		uint32_t s = seq;
		while (seq_lt(seq, w->rcv_max) && bit_get(w, seq))
			seq++;
		if (n > 0 && blk[0][0] == s)
			continue; /* already reported first */
		blk[n][0] = s;
		blk[n][1] = seq;
		n++;
	}
	return n;
}
