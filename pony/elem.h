/* The `pony` element (pony/elem.c) as seen by the app layer of the same engine: how to get
 * at the engine's transport. Config keys are listed in pony/WIRE.md ("Element"). */
#pragma once

#include "pony/transport.h"
#include "snap/element.h"

/* The transport hosted by a `pony` element; NULL if el is not a pony element. The pointer
 * is valid until the element is destroyed; use it only on the engine's thread. */
struct pony_tp *pony_elem_tp(struct snap_elem *el);
