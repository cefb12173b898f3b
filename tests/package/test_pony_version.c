/* libpony's version: the library (pony_version()), the header (PONY_VERSION and the
 * PONY_VERSION_* numbers) and the expected project version (argv[1]) must all agree.
 * Built in the tree and, by deb_packages.sh, against the installed libpony-dev (also as C++:
 * both public headers must compile there). */
#include <stdio.h>
#include <string.h>

#include <pony.h>
#include <pony_kv.h>

int main(int argc, char **argv)
{
	char nums[64];
	snprintf(nums, sizeof(nums), "%d.%d.%d", PONY_VERSION_MAJOR, PONY_VERSION_MINOR,
		 PONY_VERSION_PATCH);
	const char *lib = pony_version();
	printf("libpony %s (compiled against %s)\n", lib, PONY_VERSION);
	if (strcmp(lib, PONY_VERSION) != 0 || strcmp(nums, PONY_VERSION) != 0 ||
	    (argc > 1 && strcmp(argv[1], PONY_VERSION) != 0)) {
		fprintf(stderr, "FAIL: versions differ: library %s, header %s, numbers %s, "
				"expected %s\n", lib, PONY_VERSION, nums, argc > 1 ? argv[1] : "-");
		return 1;
	}
	if (kv_region_size(1) != sizeof(struct kv_table_hdr) + sizeof(struct kv_bucket)) {
		fprintf(stderr, "FAIL: <pony_kv.h> layout\n");
		return 1;
	}
	if (PONY_VERSION_NUM != PONY_VERSION_ENCODE(PONY_VERSION_MAJOR, PONY_VERSION_MINOR,
						    PONY_VERSION_PATCH)) {
		fprintf(stderr, "FAIL: PONY_VERSION_NUM\n");
		return 1;
	}
	return 0;
}
