/* Plain driver for the fuzz targets (gcc builds, unit suite): replays every file of the corpus
 * directories given as arguments, then deterministic mutations of them (bit flips, truncation,
 * splicing, length-field damage), so the targets run on every build without libFuzzer. */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEEDS_MAX 256
#define SEED_BYTES_MAX 65536
#define MUTATIONS 400 /* per seed */

static uint8_t *seed[SEEDS_MAX];
static char seed_name[SEEDS_MAX][256];
static size_t seed_len[SEEDS_MAX];
static unsigned n_seeds;

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void load_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		perror(dir);
		exit(1);
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL && n_seeds < SEEDS_MAX) {
		if (de->d_name[0] == '.')
			continue;
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		FILE *f = fopen(p, "rb");
		if (f == NULL)
			continue;
		uint8_t *b = malloc(SEED_BYTES_MAX);
		size_t n = b ? fread(b, 1, SEED_BYTES_MAX, f) : 0;
		fclose(f);
		if (b == NULL)
			exit(1);
		snprintf(seed_name[n_seeds], sizeof(seed_name[0]), "%s", de->d_name);
		seed[n_seeds] = b;
		seed_len[n_seeds++] = n;
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		load_dir(argv[i]);
	if (n_seeds == 0) {
		fprintf(stderr, "no seeds\n");
		return 1;
	}
	static uint8_t buf[2 * SEED_BYTES_MAX];
	/* FUZZ_VERBOSE=1 names each input before running it, to find the one that aborts. */
	bool verbose = getenv("FUZZ_VERBOSE") != NULL;
	unsigned runs = 0;
	for (unsigned s = 0; s < n_seeds; s++) {
		if (verbose)
			fprintf(stderr, "seed %s\n", seed_name[s]);
		LLVMFuzzerTestOneInput(seed[s], seed_len[s]);
		runs++;
		for (unsigned m = 0; m < MUTATIONS; m++) {
			size_t n = seed_len[s];
			memcpy(buf, seed[s], n);
			switch (next() % 5) {
			case 0: /* flip a few bits */
				for (unsigned k = 0; n && k < 1 + next() % 4; k++)
					buf[next() % n] ^= (uint8_t)(1u << (next() % 8));
				break;
			case 1: /* truncate */
				n = n ? next() % n : 0;
				break;
			case 2: { /* append another seed */
				unsigned o = (unsigned)(next() % n_seeds);
				memcpy(buf + n, seed[o], seed_len[o]);
				n += seed_len[o];
				break;
			}
			case 3: /* damage a length prefix or varint */
				if (n)
					buf[next() % (n < 8 ? n : 8)] = (uint8_t)next();
				break;
			default: /* random bytes in the middle */
				for (size_t k = n / 3; k < n && k < n / 3 + 8; k++)
					buf[k] = (uint8_t)next();
			}
			if (verbose)
				fprintf(stderr, "seed %s mutation %u (%zu bytes)\n", seed_name[s], m, n);
			LLVMFuzzerTestOneInput(buf, n);
			runs++;
		}
	}
	printf("replayed %u seeds, %u inputs\n", n_seeds, runs);
	return 0;
}
