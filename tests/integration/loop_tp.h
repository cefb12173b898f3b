/* Loopback test double of the Pony transport for example end-to-end tests (loop_tp.c). */
#pragma once

#include <stdint.h>

struct pony_tp_config_internal;
#include "pony/transport.h"

struct pony_tp *loop_tp_new(const struct pony_tp_upcalls *up);
void loop_tp_free(struct pony_tp *tp);
/* Do queued work (opens, deliveries, closes); returns units done. */
unsigned loop_tp_run(struct pony_tp *tp);
uint64_t loop_tp_delivered(const struct pony_tp *tp);
