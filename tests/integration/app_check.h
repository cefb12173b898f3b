/* For the integration test apps: FAILIF prints what differed and makes the enclosing int
 * function return 1. */
#pragma once

#include <stdio.h>

#define FAILIF(c, ...)                                                                    \
	do {                                                                              \
		if (c) {                                                                  \
			fprintf(stderr, __VA_ARGS__);                                     \
			fprintf(stderr, "\n");                                            \
			return 1;                                                         \
		}                                                                         \
	} while (0)
