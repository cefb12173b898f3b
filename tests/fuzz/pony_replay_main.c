/* Plain driver for fuzz targets (gcc builds, `meson test`): replays every file named on the
 * command line (files or directories of a seed corpus), then a fixed number of
 * deterministic pseudo-random inputs, so the target runs as an ordinary bounded test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void pony_fuzz_report(void);

#define RANDOM_INPUTS 3000
#define TIME_BUDGET_S 20

static size_t replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return 0;
	static uint8_t buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 1;
}

static size_t replay(const char *path)
{
	DIR *d = opendir(path);
	if (d == NULL)
		return replay_file(path);
	size_t n = 0;
	struct dirent *e;
	char p[4096];
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		n += replay_file(p);
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	size_t files = 0;
	for (int i = 1; i < argc; i++)
		files += replay(argv[i]);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	static uint8_t buf[4096];
	time_t t0 = time(NULL);
	unsigned runs = 0;
	for (; runs < RANDOM_INPUTS && time(NULL) - t0 < TIME_BUDGET_S; runs++) {
		size_t n = 1 + (size_t)(x % sizeof(buf));
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("replayed %zu corpus files and %u random inputs\n", files, runs);
	pony_fuzz_report();
	return 0;
}
