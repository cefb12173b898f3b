/* EAL start-up: the argument vector, hugepage detection, and leaving no runtime files. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "snap/config.h"
#include "snap/eal.h"
#include "snap/log.h"
#include "snap/portsetup.h"

#define EAL_ARGS_MAX 96

static char runtime_dir[512];
static char cmdline[2048];

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

	ARG("snapnetd-%s", cfg->name);
	ARG("--file-prefix=snap-%s-%d", cfg->name, (int)getpid());
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

const char *snap_eal_cmdline(void)
{
	return cmdline;
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

void snap_eal_stop(void)
{
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
