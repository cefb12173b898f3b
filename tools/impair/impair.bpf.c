/* Link impairment for veth links on kernels without netem/gact: a tc-bpf ingress classifier
 * that drops, duplicates and corrupts UDP datagrams to one destination port, with
 * probabilities read from a map (set by impair.sh) and per-action counters in another map. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <stddef.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Marks a duplicate we injected, so it passes our own hook untouched when it re-enters
 * ingress (otherwise duplicates would be duplicated again). */
#define IMPAIR_DUP_MARK 0x1badd00du

/* Configuration, one entry at key 0, written by impair.sh. Probabilities are thresholds on
 * a 32-bit random number: an action fires when prandom < threshold (0 = never). Layout is
 * shared with impair.sh (little-endian, no padding). */
struct impair_cfg {
	__u32 loss;      /* drop threshold */
	__u32 dup;       /* duplicate threshold */
	__u32 corrupt;   /* corrupt threshold */
	__u16 udp_port;  /* destination port to impair, host order; 0 = impairment disabled */
	__u16 fix_csum;  /* 1: repair the UDP checksum after corrupting (only an end-to-end
			  * payload checksum can then notice) */
};

enum impair_stat {
	IMPAIR_SEEN,       /* UDP datagrams to the port (not counting our own duplicates) */
	IMPAIR_DROPPED,
	IMPAIR_DUPLICATED, /* clones injected successfully */
	IMPAIR_CORRUPTED,
	IMPAIR_DUP_FAILED, /* bpf_clone_redirect errors */
	IMPAIR_DUP_SEEN,   /* our duplicates seen again on re-entry (passed untouched) */
	IMPAIR_STAT_MAX
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct impair_cfg);
} impair_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, IMPAIR_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} impair_stats SEC(".maps");

static __always_inline void count(__u32 what)
{
	__u64 *v = bpf_map_lookup_elem(&impair_stats, &what);
	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline int fires(__u32 threshold)
{
	return threshold && bpf_get_prandom_u32() < threshold;
}

/* Flips one byte of the UDP payload at a random even offset. The checksum is left stale
 * (receivers that verify UDP checksums drop the datagram) unless fix_csum asks otherwise.
 * Returns 0 if a byte was changed. */
static __always_inline int corrupt(struct __sk_buff *skb, __u32 udp_off, __u32 payload_len,
				   int fix_csum)
{
	/* Even offsets keep the 16-bit word aligned for the incremental checksum update. */
	__u32 off = (bpf_get_prandom_u32() % payload_len) & ~1u;
	__u32 at = udp_off + sizeof(struct udphdr) + off;
	__u16 old, new;
	if (at > 0xffff || bpf_skb_load_bytes(skb, at, &old, sizeof(old)) < 0)
		return -1;
	new = old ^ bpf_htons(0xff00); /* first byte of the word, whatever the host order */
	/* BPF_F_RECOMPUTE_CSUM keeps skb->csum (CHECKSUM_COMPLETE) true to the new bytes, so
	 * the stack's verification sees the corruption instead of trusting a stale sum. */
	if (bpf_skb_store_bytes(skb, at, &new, sizeof(new), BPF_F_RECOMPUTE_CSUM) < 0)
		return -1;
	if (fix_csum)
		bpf_l4_csum_replace(skb, udp_off + offsetof(struct udphdr, check), old, new,
				    BPF_F_MARK_MANGLED_0 | sizeof(new));
	return 0;
}

SEC("tc")
int impair(struct __sk_buff *skb)
{
	__u32 key = 0;
	struct impair_cfg *cfg = bpf_map_lookup_elem(&impair_cfg, &key);
	if (cfg == NULL || cfg->udp_port == 0)
		return TC_ACT_OK;
	if (skb->mark == IMPAIR_DUP_MARK) {
		skb->mark = 0;
		count(IMPAIR_DUP_SEEN);
		return TC_ACT_OK;
	}
	/* Frames a packet socket (af_packet, a DPDK daemon) sent may arrive with only part of the
	 * headers in the linear area, where direct access can see them: pull them in (an
	 * Ethernet, a maximal IPv4 and a UDP header; shorter frames are pulled whole). */
	__u32 want = sizeof(struct ethhdr) + 60 + sizeof(struct udphdr);
	bpf_skb_pull_data(skb, skb->len < want ? skb->len : want);
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_UDP || ip->ihl < 5 ||
	    (ip->frag_off & bpf_htons(0x3fff))) /* fragments pass: impairing only the piece
						  * with the UDP header would be half a job */
		return TC_ACT_OK;
	__u32 udp_off = sizeof(*eth) + ip->ihl * 4;
	struct udphdr *udp = data + udp_off;
	if ((void *)(udp + 1) > end || udp->dest != bpf_htons(cfg->udp_port))
		return TC_ACT_OK;
	__u32 udp_len = bpf_ntohs(udp->len);

	count(IMPAIR_SEEN);
	if (fires(cfg->loss)) {
		count(IMPAIR_DROPPED);
		return TC_ACT_SHOT;
	}
	/* Duplicate before corrupting: the clone is unshared from this skb (the helper makes
	 * our head private), so it carries the original bytes. */
	if (fires(cfg->dup)) {
		__u32 mark = skb->mark;
		skb->mark = IMPAIR_DUP_MARK;
		if (bpf_clone_redirect(skb, skb->ifindex, BPF_F_INGRESS) == 0)
			count(IMPAIR_DUPLICATED);
		else
			count(IMPAIR_DUP_FAILED);
		skb->mark = mark;
	}
	if (udp_len > sizeof(struct udphdr) && fires(cfg->corrupt) &&
	    corrupt(skb, udp_off, udp_len - sizeof(struct udphdr), cfg->fix_csum) == 0)
		count(IMPAIR_CORRUPTED);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
