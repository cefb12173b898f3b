/* pony_version(): the version compiled into the library, for apps to compare at run time
 * with the PONY_VERSION they were compiled against. */
#include "pony.h"

PONY_API const char *pony_version(void)
{
	return PONY_VERSION;
}
