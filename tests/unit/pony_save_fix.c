/* The saved-state fixture (pony_save_fix.h). */
#include "tests/unit/pony_save_fix.h"
#include "tests/unit/pony_sim.h"

int save_fix_init(const char *name, struct pony_app_host **host, struct pony_app_session **sess)
{
	if (sim_eal_init(name) < 0)
		return -1;
	struct pony_tp_config c;
	sim_cfg(&c, 0);
	c.max_flows = 2;
	c.max_streams = 8;
	c.window = 64;
	c.sendq_max = 4;
	if (sim_ep_start(0, &c) != 0)
		return -1;
	*host = pony_app_host_create(NULL, name, sim_ep[0].tp);
	struct pony_app_config ac;
	pony_app_config_defaults(&ac);
	ac.buf_size = 4096;
	ac.cmd_entries = 16;
	ac.max_streams = 4;
	ac.max_ops = 64;
	ac.max_regions = 2;
	ac.max_listens = 2;
	*sess = *host ? pony_app_session_create(&ac, 1, -1, SOCKET_ID_ANY) : NULL;
	return *sess && pony_app_host_adopt(*host, *sess) == 0 ? 0 : -1;
}

void save_fix_fini(struct pony_app_host *host)
{
	pony_app_host_destroy(host);
	sim_ep_stop(0);
	sim_eal_fini();
}
