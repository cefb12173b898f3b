/* EAL start-up: the argument vector, hugepage detection, and leaving no runtime files. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <stdatomic.h>
#include <time.h>

#include <rte_alarm.h>
#include <rte_eal.h>
#include <rte_interrupts.h>
#include <rte_errno.h>

#include "core/config.h"
#include "core/eal.h"
#include "snap/log.h"
#include "core/portsetup.h"

#define EAL_ARGS_MAX 96

static char runtime_dir[512];
static char cmdline[2048];
static char file_prefix[SNAP_EAL_PREFIX_MAX];
static char telemetry_link[512]; /* RUN_DIR/dpdk_telemetry.v2, "" when not made */

static long free_hugepages(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long n = 0;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* The parent of EAL runtime dirs, as eal_create_runtime_dir computes it. */
static void runtime_parent(char *out, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	snprintf(out, len, "%s/dpdk", getuid() == 0 ? "/var/run" : xdg ? xdg : "/tmp");
}

/* Whether a live primary holds prefix: it keeps a write lock on its runtime dir's config
 * file for its whole life (a crashed daemon's dir holds no lock and is reused). */
static bool prefix_held(const char *prefix)
{
	char path[640];
	runtime_parent(path, sizeof(path));
	size_t n = strlen(path);
	snprintf(path + n, sizeof(path) - n, "/%s/config", prefix);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	/* The whole file: DPDK locks a range inside it (the memseg lists), not byte 0. */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
	bool held = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
	close(fd);
	return held;
}

int snap_eal_prefix_pick(const char *name, char *out, size_t len)
{
	for (int i = 0; i < 2; i++) {
		int n = snprintf(out, len, i ? "snap-%s.1" : "snap-%s", name);
		if (n < 0 || (size_t)n >= len)
			return -ENAMETOOLONG;
		if (!prefix_held(out))
			return 0;
	}
	return -EBUSY;
}

void snap_eal_telemetry_link(const char *run_dir)
{
	char target[600], tmp[540];
	snprintf(target, sizeof(target), "%s/dpdk_telemetry.v2", runtime_dir);
	if ((size_t)snprintf(telemetry_link, sizeof(telemetry_link), "%s/dpdk_telemetry.v2",
			     run_dir) >= sizeof(telemetry_link) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.%d", telemetry_link, (int)getpid()) >=
		    sizeof(tmp)) {
		telemetry_link[0] = '\0';
		return;
	}
	unlink(tmp);
	if (symlink(target, tmp) != 0 || rename(tmp, telemetry_link) != 0) {
		SNAP_LOG(WARNING, "telemetry: cannot link %s: %s", telemetry_link, strerror(errno));
		unlink(tmp);
		telemetry_link[0] = '\0';
	}
}

/* Remove the link only while it still names our socket (after a takeover it is the new
 * daemon's). */
static void telemetry_link_drop(void)
{
	char cur[600], ours[600];
	if (!telemetry_link[0])
		return;
	ssize_t n = readlink(telemetry_link, cur, sizeof(cur) - 1);
	snprintf(ours, sizeof(ours), "%s/dpdk_telemetry.v2", runtime_dir);
	if (n > 0) {
		cur[n] = '\0';
		if (!strcmp(cur, ours))
			unlink(telemetry_link);
	}
	telemetry_link[0] = '\0';
}

int snap_eal_start(const struct snap_config *cfg, char *err, size_t errlen)
{
	static char store[EAL_ARGS_MAX][256];
	char *argv[EAL_ARGS_MAX + 1];
	int argc = 0;
	bool pci = false;

#define ARG(...)                                                                           \
	do {                                                                               \
		if (argc >= EAL_ARGS_MAX) {                                                \
			snprintf(err, errlen, "too many EAL arguments");                   \
			return -E2BIG;                                                     \
		}                                                                          \
		snprintf(store[argc], sizeof(store[argc]), __VA_ARGS__);                   \
		argv[argc] = store[argc];                                                  \
		argc++;                                                                    \
	} while (0)

	int pr = snap_eal_prefix_pick(cfg->name, file_prefix, sizeof(file_prefix));
	if (pr) {
		if (pr == -EBUSY)
			snprintf(err, errlen, "instance %s: EAL file prefixes snap-%s and snap-%s.1 "
				 "are both held by running daemons", cfg->name, cfg->name, cfg->name);
		else
			snprintf(err, errlen, "instance %s: name too long for an EAL file prefix",
				 cfg->name);
		return pr;
	}
	ARG("snapnetd-%s", cfg->name);
	ARG("--file-prefix=%s", file_prefix);
	ARG("--proc-type=primary");
	ARG("-l");
	ARG("%d", cfg->main_cpu);
	ARG("-m");
	ARG("%u", cfg->memory_mb);
	if (!cfg->hugepages || free_hugepages() <= 0) {
		if (cfg->hugepages)
			SNAP_LOG(WARNING, "hugepages requested but none are free; using --no-huge");
		ARG("--no-huge");
	}
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		const struct snap_port_cfg *pc = &cfg->ports[i];
		char dev[256];
		if (snap_ports_defer_start && snap_port_cfg_exclusive(pc))
			continue; /* the old daemon holds it: opened after the hand-over */
		if (snap_port_eal_arg(pc, dev, sizeof(dev))) {
			snprintf(err, errlen, "%s:%d: port %s: device arguments too long", cfg->file,
				 pc->line, pc->name);
			return -ENAMETOOLONG;
		}
		if (pc->kind == SNAP_PORT_PCI) {
			pci = true;
			ARG("-a");
		} else {
			ARG("--vdev");
		}
		ARG("%s", dev);
	}
	if (!pci)
		ARG("--no-pci");
	/* memif zero-copy shares each memory segment list as one file (core/portzc.c). */
	if (snap_port_cfg_zero_copy_any(cfg))
		ARG("--single-file-segments");
	for (unsigned i = 0; i < cfg->n_eal_args; i++)
		ARG("%s", cfg->eal_args[i]);
	argv[argc] = NULL;
#undef ARG

	size_t n = 0;
	for (int i = 0; i < argc && n < sizeof(cmdline); i++)
		n += snprintf(cmdline + n, sizeof(cmdline) - n, "%s%s", i ? " " : "", argv[i]);
	SNAP_LOG(INFO, "EAL: %s", cmdline);

	/* rte_eal_init permutes argv; it gets a copy so the cmdline above stays readable. */
	char *argv_copy[EAL_ARGS_MAX + 1];
	memcpy(argv_copy, argv, sizeof(argv));
	if (rte_eal_init(argc, argv_copy) < 0) {
		snprintf(err, errlen, "DPDK EAL init failed: %s", rte_strerror(rte_errno));
		return -rte_errno ? -rte_errno : -EIO;
	}
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	return 0;
}

static void remove_dir(const char *path)
{
	DIR *d = opendir(path);
	if (d == NULL)
		return;
	struct dirent *de;
	char p[1024];
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		if (unlink(p) != 0 && errno == EISDIR)
			remove_dir(p);
	}
	closedir(d);
	rmdir(path);
}

struct intr_call {
	int (*fn)(void *);
	void *arg;
	int ret;
	atomic_bool done;
};

static void intr_call_cb(void *a)
{
	struct intr_call *c = a;
	c->ret = c->fn(c->arg);
	atomic_store_explicit(&c->done, true, memory_order_release);
}

/* Wait up to ms (UINT_MAX: for good) for *flag, 20 us a look. */
static bool wait_flag(atomic_bool *flag, unsigned ms)
{
	const struct timespec step = {0, 20000};
	for (uint64_t i = 0; !atomic_load_explicit(flag, memory_order_acquire); i++) {
		if (ms != UINT_MAX && i >= (uint64_t)ms * 50)
			return false;
		nanosleep(&step, NULL);
	}
	return true;
}

int snap_eal_intr_call(int (*fn)(void *), void *arg)
{
	if (rte_thread_is_intr())
		return fn(arg);
	struct intr_call c = {.fn = fn, .arg = arg};
	/* An alarm's callback runs on the interrupt thread: the one way in that DPDK offers
	 * (its own hotplug requests from secondaries take it too). */
	if (rte_eal_alarm_set(1, intr_call_cb, &c) != 0) {
		SNAP_LOG(WARNING, "eal: cannot reach the interrupt thread (%s): running here",
			 rte_strerror(rte_errno));
		return fn(arg);
	}
	/* Cancelled before it ran: ours to run. Not cancelled: it ran or is running
	 * (rte_eal_alarm_cancel waits for a running callback), and done follows. */
	if (!wait_flag(&c.done, SNAP_EAL_INTR_WAIT_MS) &&
	    rte_eal_alarm_cancel(intr_call_cb, &c) > 0) {
		SNAP_LOG(WARNING, "eal: the interrupt thread did not run a call in %u ms: "
			 "running it here", SNAP_EAL_INTR_WAIT_MS);
		return fn(arg);
	}
	wait_flag(&c.done, UINT_MAX);
	return c.ret;
}

static atomic_bool intr_parked;
/* The parking source's handle: the EAL keeps a copy of it; ours stays reachable (no leak
 * report) for the process's last moments. */
static struct rte_intr_handle *intr_park_handle;

static void intr_park_cb(void *a)
{
	(void)a;
	atomic_store_explicit(&intr_parked, true, memory_order_release);
	for (;;)
		pause();
}

/* DPDK 22.11's rte_eal_cleanup unmaps the heap but leaves the interrupt thread running, and
 * that thread walks every registered source, whose handles live in the heap, whenever it
 * wakes (an event, or a source list changed by a close just before). It crashed the daemon
 * at exit that way (SIGSEGV in rte_intr_fd_get, ~1 stop in 30 with a memif peer stopping
 * at the same time; memif also leaves its server's listening source registered after the
 * close). So the thread is parked first, in the callback of a source of ours (an eventfd,
 * readable from the start) that never returns: the process is exiting. Not an alarm's
 * callback: the cleanup unregisters the alarm source synchronously, and would wait for it. */
static void intr_park(void)
{
	if (rte_thread_is_intr())
		return;
	struct rte_intr_handle *h = rte_intr_instance_alloc(RTE_INTR_INSTANCE_F_PRIVATE);
	intr_park_handle = h;
	int fd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h == NULL || fd < 0 || rte_intr_fd_set(h, fd) != 0 ||
	    rte_intr_type_set(h, RTE_INTR_HANDLE_EXT) != 0 ||
	    rte_intr_callback_register(h, intr_park_cb, NULL) != 0) {
		SNAP_LOG(WARNING, "eal: cannot park the interrupt thread before the cleanup");
		return; /* the handle and fd go with the process */
	}
	if (wait_flag(&intr_parked, SNAP_EAL_INTR_WAIT_MS))
		return;
	SNAP_LOG(WARNING, "eal: the interrupt thread did not stop in %u ms before the cleanup",
		 SNAP_EAL_INTR_WAIT_MS);
}

void snap_eal_stop(void)
{
	telemetry_link_drop();
	intr_park();
	rte_eal_cleanup();
	if (runtime_dir[0]) {
		remove_dir(runtime_dir);
		/* The parent (/var/run/dpdk or $XDG_RUNTIME_DIR/dpdk) is shared by every DPDK
		 * process; remove it only if we were the last. */
		char parent[512];
		snprintf(parent, sizeof(parent), "%s", runtime_dir);
		char *slash = strrchr(parent, '/');
		if (slash) {
			*slash = '\0';
			rmdir(parent);
		}
		runtime_dir[0] = '\0';
	}
}
