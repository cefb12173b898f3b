/* Peers of either family in libpony: address text, opens to IPv6 peers, and the IPv6
 * remotes of one-sided ops (handles in struct pony_remote's IPv4 field, whose layout is
 * fixed). An IPv6 peer travels to the daemon as a command with PONY_CMDF_ADDR6 and its
 * address entry (pony/shm.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "pony/client/internal.h"

int pony_addr_parse(const char *text, struct pony_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (text == NULL)
		return -EINVAL;
	if (inet_pton(AF_INET, text, out->addr) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, out->addr) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	memset(out, 0, sizeof(*out));
	return -EINVAL;
}

/* addr as the IPv4 address it is (host order, into *ip4: true), or an IPv6 one (false).
 * -EINVAL for another family. */
static int addr_split(const struct pony_addr *addr, uint32_t *ip4)
{
	static const uint8_t v4mapped[12] = {[10] = 0xff, [11] = 0xff};
	uint32_t be;
	if (addr == NULL || (addr->family != AF_INET && addr->family != AF_INET6))
		return -EINVAL;
	if (addr->family == AF_INET6 && memcmp(addr->addr, v4mapped, 12) != 0)
		return 0;
	memcpy(&be, addr->family == AF_INET ? addr->addr : addr->addr + 12, 4);
	*ip4 = ntohl(be);
	return 1;
}

/* c (ip 0) to an IPv6 peer: c with PONY_CMDF_ADDR6, then the address entry. */
static int push6(struct pony_app *a, const struct pony_shm_cmd *c, const uint8_t addr[16])
{
	if (a->hdr.version < 3)
		return -EAFNOSUPPORT; /* the daemon predates IPv6 peers */
	struct pony_shm_cmd pair[2];
	struct pony_shm_cmd_addr x = {0};
	pair[0] = *c;
	pair[0].flags |= PONY_CMDF_ADDR6;
	pair[0].ip = 0;
	memcpy(x.addr, addr, 16);
	memcpy(&pair[1], &x, sizeof(x));
	return pony_cmd_push_n(a, pair, 2);
}

int pony_stream_open_addr(struct pony_app *a, const struct pony_addr *addr, uint16_t service,
			  uint64_t tag)
{
	uint32_t ip4 = 0;
	int r = addr_split(addr, &ip4);
	if (r < 0)
		return r;
	if (r == 1)
		return pony_stream_open(a, ip4, service, tag);
	struct pony_shm_cmd c = {.op = PONY_OP_OPEN, .service = service, .tag = tag};
	return push6(a, &c, addr->addr);
}

int pony_remote_set_addr(struct pony_app *a, struct pony_remote *rm,
			 const struct pony_addr *addr)
{
	uint32_t ip4 = 0;
	int r = addr_split(addr, &ip4);
	if (r < 0 || rm == NULL)
		return -EINVAL;
	if (r == 1) {
		rm->ip = ip4;
		return 0;
	}
	unsigned i = 0;
	while (i < a->n_peers6 && memcmp(a->peers6[i], addr->addr, 16) != 0)
		i++;
	if (i == a->n_peers6) {
		if (i == PONY_PEERS6_MAX)
			return -ENOSPC;
		memcpy(a->peers6[a->n_peers6++], addr->addr, 16);
	}
	rm->ip = i + 1; /* 0.0.0.0/8: never a peer's address */
	return 0;
}

int pony_cmd_push_peer(struct pony_app *a, const struct pony_shm_cmd *c)
{
	if (pony_cmd_slots(c) == 1)
		return pony_cmd_push(a, c);
	if (c->ip > a->n_peers6)
		return -EINVAL;
	return push6(a, c, a->peers6[c->ip - 1]);
}
