/* eth_classify: the first element after a port's rx. Accepts frames addressed to the port
 * (or broadcast/multicast, or anything with promisc = 1) and splits them by EtherType. */
#include "elements/net.h"

/* ipv6 comes last so configs and tests that index outputs keep their numbers; unwired, IPv6
 * goes to `other` (or is dropped) as before it existed. */
enum { OUT_IPV4, OUT_ARP, OUT_OTHER, OUT_IPV6, N_OUT };
static const char *const outputs[N_OUT] = {"ipv4", "arp", "other", "ipv6"};

struct eth_classify {
	struct snap_port *port;
	bool promisc;
};

static int eth_classify_init(struct snap_elem *el, const struct snap_elem_args *a)
{
	struct eth_classify *s = snap_elem_priv(el);
	uint64_t promisc;
	int r = snap_net_port_arg(a, &s->port);
	if (r == 0)
		r = snap_elem_arg_u64(a, "promisc", 0, 0, 1, &promisc);
	if (r)
		return r;
	s->promisc = promisc;
	return 0;
}

/*
 * VLAN: Snap-C ports are untagged. A tagged frame (802.1Q or 802.1ad outer tag, or a tag the
 * NIC stripped into vlan_tci with a non-zero VLAN id) is dropped and counted as
 * vlan_unsupported rather than stripped: replies built in place would leave untagged and
 * reach a different L2 segment than the request came from.
 */
static void eth_classify_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	struct eth_classify *s = snap_elem_priv(el);
	struct snap_elem_batch b;
	snap_elem_batch_init(&b, N_OUT);
	bool other_wired = el->out[OUT_OTHER].next != NULL;
	bool ipv6_wired = el->out[OUT_IPV6].next != NULL;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const struct rte_ether_hdr *eh = snap_net_hdr(m, 0, sizeof(*eh));
		if (unlikely(eh == NULL)) {
			snap_elem_drop(el, m, SNAP_DROP_TRUNCATED);
			continue;
		}
		if (!s->promisc && !rte_is_same_ether_addr(&eh->dst_addr, &s->port->mac) &&
		    !rte_is_multicast_ether_addr(&eh->dst_addr)) {
			snap_elem_drop(el, m, SNAP_DROP_NOT_FOR_US);
			continue;
		}
		if (unlikely((m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) &&
			     (m->vlan_tci & 0x0fff) != 0)) {
			snap_elem_drop(el, m, SNAP_DROP_VLAN);
			continue;
		}
		m->l2_len = sizeof(*eh);
		uint16_t out;
		switch (eh->ether_type) {
		case RTE_BE16(RTE_ETHER_TYPE_IPV4):
			out = OUT_IPV4;
			break;
		case RTE_BE16(RTE_ETHER_TYPE_ARP):
			out = OUT_ARP;
			break;
		case RTE_BE16(RTE_ETHER_TYPE_VLAN):
		case RTE_BE16(RTE_ETHER_TYPE_QINQ):
			snap_elem_drop(el, m, SNAP_DROP_VLAN);
			continue;
		case RTE_BE16(RTE_ETHER_TYPE_IPV6):
			if (ipv6_wired) {
				out = OUT_IPV6;
				break;
			}
			/* unwired, IPv6 is `other` traffic */
			__attribute__((fallthrough));
		default:
			if (!other_wired) {
				snap_elem_drop(el, m, SNAP_DROP_UNKNOWN_ETHERTYPE);
				continue;
			}
			out = OUT_OTHER;
			break;
		}
		snap_elem_batch_add(&b, out, m);
	}
	snap_elem_batch_flush(el, &b, N_OUT);
}

static const struct snap_elem_desc eth_classify_desc = {
	.name = "eth_classify",
	.help = "check length and destination MAC, split by EtherType into ipv4/arp/ipv6/other "
		"(args: port, promisc)",
	.priv_size = sizeof(struct eth_classify),
	.n_outputs = N_OUT,
	.outputs = outputs,
	.init = eth_classify_init,
	.process = eth_classify_process,
};
SNAP_ELEM_REGISTER(eth_classify_desc)
