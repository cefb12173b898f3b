/* exception: the kernel exception path. Frames for the host that the engine does not consume
 * (whatever eth_classify, ipv4_in, udp_demux, icmp_echo and arp pass to their other/
 * unmatched/kernel outputs) go, if the allow list lets them, to a tap port whose kernel
 * interface carries the host's address; what the kernel sends on that interface is polled
 * and leaves through output `out`, wired to the physical port's port_tx. So the host keeps
 * its address for ssh and TCP while Pony, ARP and ping stay in the engine. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <rte_ethdev.h>

#include "elements/exception.h"
#include "elements/net.h"
#include "snap/engine.h"

enum { OUT_OUT, N_OUT };
static const char *const outputs[N_OUT] = {"out"};

struct exception {
	struct snap_port *port; /* the physical port: its address and MAC */
	struct snap_port *tap;  /* the exception port: rx and tx queue 0 are ours */
	uint16_t burst;
	int intr_fd;            /* the tap queue's fd as a wake fd; -1: poll only */
	uint64_t to_kernel, to_kernel_bytes, from_kernel, from_kernel_bytes;
	uint64_t to_kernel_cls[SNAP_EXC_CLASSES];
	struct snap_exc_filter filter;
};

/* An AF_INET ioctl on the tap's kernel interface. 0 or -errno. */
static int kernel_ioctl(unsigned long req, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int r = ioctl(fd, req, ifr) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static void set_sin(struct sockaddr *sa, uint32_t addr)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = addr};
	memcpy(sa, &sin, sizeof(sin));
}

/*
 * The host's address lives on the tap's kernel interface, with the physical port's MAC and
 * MTU: to a peer the host stays one station (one ARP entry serves Pony and the kernel's
 * traffic, the kernel's frames carry the MAC the engine's ARP replies announce), and
 * kernel sockets bind and reply from the address the host is known by. The physical
 * interface, if the kernel has one (af_packet), must carry no address (see the man page).
 * Runs at build time, on the control thread, while the daemon still has CAP_NET_ADMIN.
 */
static int kernel_side_setup(struct exception *s, const struct snap_elem_args *a)
{
	struct rte_eth_dev_info info;
	struct ifreq ifr = {0};
	int r = rte_eth_dev_info_get(s->tap->port_id, &info);
	if (r == 0 && (info.if_index == 0 || if_indextoname(info.if_index, ifr.ifr_name) == NULL))
		r = -ENODEV;
	if (r)
		return snap_elem_args_error(a, "tap %s: no kernel interface: %s", s->tap->name,
					    strerror(-r));
	if (!rte_is_same_ether_addr(&s->tap->mac, &s->port->mac)) {
		r = rte_eth_dev_default_mac_addr_set(s->tap->port_id, &s->port->mac);
		if (r)
			return snap_elem_args_error(a, "tap %s: cannot take port %s's MAC: %s",
						    s->tap->name, s->port->name, strerror(-r));
		s->tap->mac = s->port->mac;
	}
	const char *what = "MTU";
	ifr.ifr_mtu = s->port->mtu;
	r = kernel_ioctl(SIOCSIFMTU, &ifr);
	if (r == 0) {
		what = "address";
		set_sin(&ifr.ifr_addr, s->port->ip);
		r = kernel_ioctl(SIOCSIFADDR, &ifr);
	}
	if (r == 0) {
		what = "netmask";
		uint32_t len = s->port->prefix_len;
		set_sin(&ifr.ifr_netmask, len ? rte_cpu_to_be_32(~0u << (32 - len)) : 0);
		r = kernel_ioctl(SIOCSIFNETMASK, &ifr);
	}
	if (r)
		return snap_elem_args_error(a, "tap %s: cannot set the %s of kernel interface %s: "
					    "%s%s", s->tap->name, what, ifr.ifr_name, strerror(-r),
					    r == -EPERM ? " (needs CAP_NET_ADMIN at start-up, or "
							  "kernel_addr = 0)" : "");
	return 0;
}

/* Args: port = PHYSICAL (required, with an address), tap = TAP_PORT (required, type tap),
 * allow = LIST (exception.h; default all), burst = 1..32 (frames polled from the kernel per
 * round), kernel_addr = 0/1 (1: give the tap's kernel interface the port's address, MAC and
 * MTU; 0: the operator does). */
static int exc_init(struct snap_elem *el, const struct snap_elem_args *a)
{
	struct exception *s = snap_elem_priv(el);
	struct snap_engine *e = snap_elem_args_engine(a);
	uint64_t burst, addr;
	char err[160];
	s->intr_fd = -1;
	/* Arguments first, so a bad one is reported whatever the ports are. */
	if (snap_elem_arg_u64(a, "burst", SNAP_BURST_MAX, 1, SNAP_BURST_MAX, &burst) ||
	    snap_elem_arg_u64(a, "kernel_addr", 1, 0, 1, &addr))
		return -EINVAL;
	s->burst = (uint16_t)burst;
	if (snap_exc_filter_parse(&s->filter, snap_elem_arg_str(a, "allow", NULL), err,
				  sizeof(err)))
		return snap_elem_args_error(a, "%s", err);
	int r = snap_net_port_arg(a, &s->port);
	if (r)
		return r;
	const char *name = snap_elem_arg_str(a, "tap", NULL);
	if (name == NULL)
		return snap_elem_args_error(a, "missing argument tap = NAME (a port of type tap)");
	struct snap_port *tap = snap_port_find(name);
	if (tap == NULL || tap->kind != SNAP_PORT_TAP || tap == s->port)
		return snap_elem_args_error(a, "tap = \"%s\": not a port of type tap (other than "
					    "port)", name);
	if (s->port->ip == 0)
		return snap_elem_args_error(a, "port %s has no ip: the kernel needs the host's "
					    "address", s->port->name);
	r = snap_port_claim_rxq(tap, 0, e);
	if (r == 0) {
		r = snap_port_claim_txq(tap, 0, e);
		if (r)
			snap_port_release_rxq(tap, 0, e);
	}
	if (r)
		return snap_elem_args_error(a, "tap %s: queue 0 is owned by another engine", name);
	s->tap = tap; /* from here destroy gives the queues back */
	/* With rx_interrupts on the tap port, its queue fd (the tap device itself, readable
	 * while frames wait) wakes a sleeping engine; nothing to arm or consume. */
	if (tap->rx_intr) {
		int fd = rte_eth_dev_rx_intr_ctl_q_get_fd(tap->port_id, 0);
		if (fd >= 0 && snap_engine_add_wake_fd(e, fd) == 0)
			s->intr_fd = fd;
	}
	return addr ? kernel_side_setup(s, a) : 0;
}

/* To the kernel: filter, then one burst to the tap; what it does not take is dropped. */
static void exc_process(struct snap_elem *el, struct rte_mbuf **pkts, uint16_t n)
{
	struct exception *s = snap_elem_priv(el);
	struct rte_mbuf *ok[SNAP_BURST_MAX];
	uint8_t cls[SNAP_BURST_MAX];
	uint16_t n_ok = 0;
	for (uint16_t i = 0; i < n; i++) {
		enum snap_exc_class c;
		if (!snap_exc_filter_match(&s->filter, pkts[i], &c)) {
			snap_elem_drop(el, pkts[i], SNAP_DROP_EXC_FILTERED);
			continue;
		}
		cls[n_ok] = (uint8_t)c;
		ok[n_ok++] = pkts[i];
	}
	if (n_ok == 0)
		return;
	if (unlikely(!snap_port_started(s->tap))) {
		snap_elem_drop_burst(el, ok, n_ok, SNAP_DROP_PORT_STOPPED);
		return;
	}
	/* Lengths and classes are read before the burst: sent mbufs belong to the PMD. */
	uint32_t len[SNAP_BURST_MAX];
	for (uint16_t i = 0; i < n_ok; i++)
		len[i] = rte_pktmbuf_pkt_len(ok[i]);
	uint16_t sent = rte_eth_tx_burst(s->tap->port_id, 0, ok, n_ok);
	s->to_kernel += sent;
	for (uint16_t i = 0; i < sent; i++) {
		s->to_kernel_bytes += len[i];
		s->to_kernel_cls[cls[i]]++;
	}
	if (unlikely(sent < n_ok))
		snap_elem_drop_burst(el, ok + sent, (uint16_t)(n_ok - sent), SNAP_DROP_EXC_TAP_FULL);
}

/* From the kernel: one bounded burst from the tap to `out`. Only frames the host may send
 * leave: from the port's MAC (the kernel interface has it; anything else would be another
 * station speaking through us) and no longer than the port's MTU allows. */
static unsigned exc_poll(struct snap_elem *el, uint64_t now)
{
	struct exception *s = snap_elem_priv(el);
	struct rte_mbuf *pkts[SNAP_BURST_MAX], *ok[SNAP_BURST_MAX];
	if (unlikely(!snap_port_started(s->tap)))
		return 0;
	uint16_t n = rte_eth_rx_burst(s->tap->port_id, 0, pkts, s->burst), n_ok = 0;
	uint32_t max = s->port->mtu + (uint32_t)sizeof(struct rte_ether_hdr);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const struct rte_ether_hdr *eh = snap_net_hdr(m, 0, sizeof(*eh));
		if (unlikely(eh == NULL || rte_pktmbuf_pkt_len(m) > max ||
			     !rte_is_same_ether_addr(&eh->src_addr, &s->port->mac))) {
			snap_elem_drop(el, m, SNAP_DROP_EXC_BAD_FRAME);
			continue;
		}
		s->from_kernel_bytes += rte_pktmbuf_pkt_len(m);
		ok[n_ok++] = m;
	}
	s->from_kernel += n_ok;
	if (n == s->burst)
		snap_engine_note_backlog(el->engine);
	snap_elem_emit(el, OUT_OUT, ok, n_ok);
	return n;
}

/* Without a wake fd (the tap port has no rx_interrupts) a sleeping engine comes back on the
 * scheduler's back-off timer to look at the tap. */
static int exc_arm(struct snap_elem *el, bool arm)
{
	const struct exception *s = snap_elem_priv(el);
	return s->intr_fd >= 0 ? 0 : -ENOTSUP;
}

static void exc_stats(const struct snap_elem *el, snap_stat_fn fn, void *ctx)
{
	const struct exception *s = snap_elem_priv(el);
	char name[40];
	fn(ctx, "to_kernel", s->to_kernel);
	fn(ctx, "to_kernel_bytes", s->to_kernel_bytes);
	fn(ctx, "from_kernel", s->from_kernel);
	fn(ctx, "from_kernel_bytes", s->from_kernel_bytes);
	for (unsigned c = 0; c < SNAP_EXC_CLASSES; c++) {
		snprintf(name, sizeof(name), "to_kernel_%s", snap_exc_class_name(c));
		fn(ctx, name, s->to_kernel_cls[c]);
	}
}

static void exc_destroy(struct snap_elem *el)
{
	struct exception *s = snap_elem_priv(el);
	if (s->intr_fd >= 0)
		snap_engine_del_wake_fd(el->engine, s->intr_fd);
	if (s->tap) {
		snap_port_release_rxq(s->tap, 0, el->engine);
		snap_port_release_txq(s->tap, 0, el->engine);
	}
}

static const struct snap_elem_desc exception_desc = {
	.name = "exception",
	.help = "kernel exception path through a tap port (args: port, tap, allow, burst, "
		"kernel_addr)",
	.priv_size = sizeof(struct exception),
	.n_outputs = N_OUT,
	.outputs = outputs,
	.init = exc_init,
	.process = exc_process,
	.poll = exc_poll,
	.arm = exc_arm,
	.stats = exc_stats,
	.destroy = exc_destroy,
};
SNAP_ELEM_REGISTER(exception_desc)
