/* The running binary's build id (git describe of its source tree; announced by
 * `snapnetd --version`, `snapctl status` and the upgrade hand-over). Defined by
 * core/build_id.c, linked into each executable. */
#pragma once

extern const char snap_build_id[];
