/*
 * fuzz_replay.h -- the corpus-replay main() of the protocol and manifest
 * fuzz targets: built with FL_FUZZ_REPLAY (any compiler), a target becomes
 * a program that runs LLVMFuzzerTestOneInput over every file of the folders
 * named on its command line, so the corpora replay as ordinary ctest tests.
 * Files are read up to FL_FUZZ_REPLAY_MAX bytes (longer ones are cut, as
 * libFuzzer's -max_len would).
 */
#ifndef FL_FUZZ_REPLAY_H
#define FL_FUZZ_REPLAY_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FL_FUZZ_REPLAY_MAX (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs the target over one file; returns 0, or -1 if it cannot be read. */
static int replay_file(const char *path)
{
	static uint8_t buf[FL_FUZZ_REPLAY_MAX];
	FILE *f = fopen(path, "rb");
	size_t len;

	if (f == NULL)
		return -1;
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = 0;

	for (int i = 1; i < argc; i++) {
		DIR *dp = opendir(argv[i]);
		struct dirent *e;

		if (dp == NULL) {
			fprintf(stderr, "%s: cannot open\n", argv[i]);
			return 1;
		}
		while ((e = readdir(dp)) != NULL) {
			char path[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i],
				 e->d_name);
			if (replay_file(path) != 0) {
				fprintf(stderr, "%s: cannot read\n", path);
				closedir(dp);
				return 1;
			}
			n++;
		}
		closedir(dp);
	}
	printf("replayed %u inputs\n", n);
	return n > 0 ? 0 : 1;
}

#endif
