/* Groups from the daemon's configuration: turns the `groups` section (core/config.h) into
 * sched groups and puts each configured engine into its group. Control thread only. */
#pragma once

#include <stddef.h>

#include "sched/sched.h"
#include "core/config.h"

/* Group used for engines that name no group (unless the config defines one by that name:
 * then that one is used). Spreading, default parameters. */
#define SCHED_CFG_DEFAULT_GROUP "default"

/* Parameters of one configured group: defaults, then cpus, then every other key through
 * sched_params_set, then the consistency check of sched_group_create. 0, or -EINVAL with a
 * one-line "group 'g0' (line 12): ..." reason in err. Usable at config-check time. */
int sched_cfg_params(const struct snap_group_cfg *g, struct sched_params *p, char *err,
		     size_t errlen);

/* The inverse of sched_cfg_params: g as it is now (mode, cpus, every parameter) as a config
 * group, so a transparent upgrade recreates it in the new daemon through sched_cfg_params
 * and sched_cfg_apply. 0 or -EINVAL (NULL). */
int sched_cfg_describe(const struct sched_group *g, struct snap_group_cfg *out);

/* Create every configured group and add every configured engine (already built, looked up
 * by name, parked) to its group, starting it. Engines without a group, and engines that exist
 * but are not in the config, go to SCHED_CFG_DEFAULT_GROUP. 0, or -errno with a one-line reason in err (what was started
 * stays started; sched_fini stops it). Call after sched_init. */
int sched_cfg_apply(const struct snap_config *cfg, char *err, size_t errlen);
