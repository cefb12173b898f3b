/* Daemon-side port lifecycle (the part of ports that elements never call). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct snap_config;
struct snap_neigh_cfg;
struct snap_port;
struct snap_port_cfg;

/* Enter a config neighbour (IPv4 or IPv6) into p's table as a static entry (core/neigh.c).
 * 0, -ENOSPC (table full), -ENOENT (IPv6 neighbour, port without ip6: the config refuses
 * that before). */
int snap_port_neigh_static_cfg(struct snap_port *p, const struct snap_neigh_cfg *nc);

/* The EAL --vdev (or -a for PCI) argument for a port config. 0 or -ENAMETOOLONG (buf then
 * holds what fit). portargs.c. */
int snap_port_eal_arg(const struct snap_port_cfg *pc, char *buf, size_t len);
/* The DPDK device name of a port config (a vdev's starts with its driver's name). */
void snap_port_dev_name(const struct snap_port_cfg *pc, char *buf, size_t len);
/* af_packet ports above a 1,500-byte MTU (portafp.c): the ring slot that holds a frame of
 * mtu bytes (2,048 up to 1,500), the mbuf data room that slot needs, the EAL argument's
 * tail that asks for it (written to buf; "" up to 1,500; snprintf's return), and the
 * interface MTU set through the kernel (the PMD refuses it): 0, or -errno with a one-line
 * message in err (an MTU already right needs no privilege; one outside the config's bounds is
 * -EINVAL, and so is a veth peer in this namespace with a smaller MTU: frames it refused
 * would stall the port). */
uint32_t snap_portafp_slot(uint32_t mtu);
uint32_t snap_portafp_data_room(uint32_t mtu);
int snap_portafp_eal_arg(const struct snap_port_cfg *pc, char *buf, size_t len);
int snap_portafp_set_mtu(const struct snap_port_cfg *pc, char *err, size_t errlen);
/* An af_packet port with a MAC of its own (config `mac`; the interface keeps its MAC): the
 * interface must pass frames for that MAC up. A veth passes everything, so nothing is done;
 * any other interface is made promiscuous through the device (needs CAP_NET_ADMIN), and a
 * refusal is logged with what to do instead (never fatal: the interface may already be
 * promiscuous). */
void snap_portafp_own_mac(const struct snap_port_cfg *pc, uint16_t port_id);
/* af_packet direct transmit (portafptx.c): open a ring-less packet socket per tx queue of p
 * (0; -errno and none, logged: the PMD sends), and close them. */
int snap_portafp_tx_open(struct snap_port *p);
void snap_portafp_tx_close(struct snap_port *p);
/* After EAL init: bring up every configured port (mempool, queues, neighbour table, start).
 * 0 or -errno with a one-line message in err. Partially created ports are released by
 * snap_ports_destroy(). */
int snap_ports_create(const struct snap_config *cfg, char *err, size_t errlen);
/* Set before snap_eal_start and snap_ports_create: configure ports but do not start them
 * (upgrade: the old daemon still holds the devices; the takeover starts them once it
 * released them). Exclusive ports (below) are not even probed then: snap_port_reclaim
 * opens them. */
extern bool snap_ports_defer_start;
/* Ports whose device two daemons cannot hold at once, so an upgrade closes them in the old
 * daemon before the new one opens them: a memif server (its listening socket) and af_xdp
 * (one XDP socket per queue). Others are opened by both: af_packet (the new daemon's socket
 * drops what it received before the release), tap (the tun device is multi-queue: each
 * daemon has its own queues, and the device with its kernel-side addresses lives on). */
bool snap_port_cfg_exclusive(const struct snap_port_cfg *pc);
/* memif zero-copy (portzc.c says what it shares and why these checks). Whether any port
 * asks for it (the EAL then needs --single-file-segments). */
bool snap_port_cfg_zero_copy_any(const struct snap_config *cfg);
/* Before a zero_copy memif client starts (its mempool made), and again once every port's
 * pool is made: its socket's directory is owned by root or this euid and writable by nobody
 * else, and every mempool lies in the memory segment list the PMD sends from. 0, or -errno
 * with a one-line message in err. */
int snap_port_zc_check(const struct snap_port_cfg *pc, char *err, size_t errlen);
/* After the engines are built: log a warning for each port's rx queues that no engine
 * polls (a multi-queue port whose config forgot some). */
void snap_ports_warn_unpolled(void);
/* A port's device stopped (rte_eth_dev_stop), closed (rte_eth_dev_close) or removed
 * (rte_eal_hotplug_remove of vdev name), without racing its PMD's interrupt handlers: a
 * memif port's on the EAL interrupt thread (core/portdev.c says why). Their DPDK returns. */
int snap_portdev_stop(const struct snap_port *p);
int snap_portdev_close(const struct snap_port *p);
int snap_portdev_remove(const struct snap_port *p, const char *vdev);
/* Stop and close every port, free pools, tables and inter-engine rings. */
void snap_ports_destroy(void);
/* Before EAL start (not for a takeover): a killed memif or vhost-user server leaves its
 * socket file and the PMD's bind() would then fail, so remove every configured server
 * socket that is a socket nobody listens on (connect refused). A live one is left alone
 * (logged). portsock.c. */
void snap_ports_clear_stale_sockets(const struct snap_config *cfg);
/* The same for one port config: 1 removed, 0 nothing to do, -EADDRINUSE somebody listens
 * (logged), other -errno. */
int snap_port_clear_stale_socket(const struct snap_port_cfg *pc);
/* 0 if something listens on the unix socket path, -EAGAIN if it listens but its backlog
 * is full, -errno otherwise (-ECONNREFUSED: a stale file). Never blocks for more than
 * 200 ms. */
int snap_unix_probe(const char *path);
/* Wake DPDK's vhost event thread so that a vhost-user server port just opened accepts its
 * peer at once rather than within a second (portvhost.c). 0 or -errno. Control thread. */
int snap_vhost_wake(void);

/* Link events wake rx queue owners (portwake.c). After p's device is configured with rx
 * interrupts: create its per-queue eventfds (once; kept across re-probes) and subscribe to
 * the device's link and queue-state events. 0 or -errno (then p polls: rx_intr cleared).
 * Before the device is closed or removed: unsubscribe. At the end: close the eventfds.
 * Control thread. */
int snap_portwake_attach(struct snap_port *p);
void snap_portwake_detach(const struct snap_port *p);
void snap_portwake_close(struct snap_port *p);

/* Start p's device and open it to its queue owners (p->started). 0 or rte_eth_dev_start's
 * -errno (p stays stopped). A memif client connects to its server here. Control thread. */
int snap_port_start(struct snap_port *p);
/* Close p to its queue owners, wait for them (snap_port_sync_owners) and stop the device.
 * 0, or the sync error: then the device was not touched and p is open again. */
int snap_port_stop(struct snap_port *p, unsigned timeout_ms);

/* Upgrade, old daemon: stop p (snap_port_stop) and, for an exclusive port, close its device
 * (its sockets closed, a memif server's file unlinked) so the new daemon can open it; an
 * af_packet port is left as it is. 0, or the stop's error (then nothing was closed), or
 * -ENOENT (not a port). Control thread, queue owners parked. */
int snap_port_release(struct snap_port *p, unsigned timeout_ms);
/* Start p again: snap_port_start (a stopped af_packet port then drops what it received),
 * or for a closed device (released, or not yet opened by a takeover's new daemon) probe it
 * from its config, set it up and start it. 0 or -errno (logged; p stays closed). Control
 * thread, queue owners parked or not yet running. */
int snap_port_reclaim(struct snap_port *p);
/* Probe p's closed device again from pc and set it up and start it as at start-up. 0 or
 * -errno (logged; the device is removed again). Control thread. */
int snap_port_reopen(struct snap_port *p, const struct snap_port_cfg *pc);
/* Close stopped port p's device and probe it again from its config (a virtio-user client,
 * whose PMD never reconnects). 0, -EBUSY (p is started) or -errno (logged; p stays closed
 * until a later call). Control thread. */
int snap_port_reprobe(struct snap_port *p);

/* af_xdp leftovers (portxdp.c). The fds open in this process that snap_xsk_is: how many
 * were written to fds, at most max. */
unsigned snap_xsk_fds(int *fds, unsigned max);
/* fd is an AF_XDP socket, a BPF program or a BPF map (what the af_xdp PMD leaves open). */
bool snap_xsk_is(int fd);
/* Around the set-up of port (index) port: note the fds that snap_xsk_is it opened. Control
 * thread. */
void snap_xdp_note_begin(void);
void snap_xdp_note_end(unsigned port);
/* After port's device was removed: close what it opened that is still open, and detach
 * the XDP program of iface. snap_xdp_detach's result. */
int snap_xdp_leftovers_close(unsigned port, const char *iface);
/* Detach the XDP program (native or generic mode) of interface iface, in our namespace. 0,
 * -ENODEV (no such interface) or the kernel's -errno. */
int snap_xdp_detach(const char *iface);
/* Whether an AF_XDP socket's buffer pool still holds queue q of iface, asked without taking
 * the queue: a bind that insists on zero-copy fails -EBUSY while the queue is held, and
 * otherwise fails before it registers (no zero-copy driver, or no XDP program attached, as
 * after a release) or, rarely, takes the queue (a zero-copy driver with a program still
 * attached). 1 held, 0 free, -EAGAIN when the probe took the queue (it is freed later, as
 * any closed socket's: the caller must just try), other -errno (no AF_XDP, no
 * CAP_NET_RAW, no such interface). Why: a failed af_xdp probe of the 22.11 PMD loses a
 * fill ring's worth of the port's mbufs, so a new daemon must not try to open the queue
 * before the old daemon's socket is gone. Control thread. */
int snap_xsk_queue_held(const char *iface, unsigned q);
/* snap_port_reopen for af_xdp port p: waits (snap_xsk_queue_held) until the kernel freed
 * each queue, at most 2 s after t0 (snap_loop_now_ns), then opens, trying again only while
 * the pool keeps what an open takes. 0 or -errno (logged). Control thread. */
int snap_xdp_reopen(struct snap_port *p, const struct snap_port_cfg *pc, uint64_t t0);

#define SNAP_PORTLINK_BACKOFF_MIN_MS 100u
#define SNAP_PORTLINK_BACKOFF_MAX_MS 1000u
#define SNAP_PORTLINK_QUICK_TRIES 4u  /* first attempts of an outage: one a link tick (20 ms) */

/* The configuration p was made from; NULL for a port not made by snap_ports_create. */
const struct snap_port_cfg *snap_port_cfg_of(const struct snap_port *p);

/* memif and virtio-user client links (portlink.c). The PMDs connect a client only when the
 * device starts (is probed) and never retry, so while such a port's link is down the
 * control thread restarts it: the first SNAP_PORTLINK_QUICK_TRIES attempts of an outage
 * one link tick apart, then with back-off (100 ms doubling to 1 s), counting attempts and
 * reconnects in the port. The server's socket file appearing (inotify on its directory)
 * grants the quick tries again at once, so a server back after a long outage is joined
 * within a tick, not after what is left of a 1 s back-off. Registers that check (every
 * 20 ms) and the watch on the control loop, nothing if no port is such a client. 0 or
 * -ENOSPC. Control thread, once, after the ports exist. */
int snap_portlink_start(void);

/* Flow steering (core/portsteer.c; snap/steer.h): decide p's steer_mode from its kind, its
 * RSS (p->rss_hf, set before) and rte_flow rules tried here (validated, then created: one
 * per queue, the first UDP port of its block -> that queue); a refusal is logged once with
 * the device's reason and falls back to RSS or none. Port setup, queues configured. */
void snap_port_steer_setup(struct snap_port *p, const struct snap_port_cfg *pc);
/* Destroy the rules installed (before the device closes). No-op without rules. */
void snap_port_steer_close(struct snap_port *p);
