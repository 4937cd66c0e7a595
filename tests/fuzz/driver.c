// SPDX-License-Identifier: MIT
/*
 * Runs a libFuzzer harness without libFuzzer, built with the normal
 * compiler so that "make check" always fuzzes a little.
 *
 * Usage: PROGRAM [-n N] [-s SEED] [-m MAXLEN] [FILE-OR-DIR...]
 *
 * Every file named (directories: every file in them) is run once: a seed
 * corpus, regression inputs, or a crash to reproduce. Then N inputs come
 * from a seeded pseudo-random generator, the same on every run: half of
 * them fresh bytes, half mutated copies of the files (when there are any).
 * N defaults to 1000 without files and to 0 with them. Prints "PASS name
 * (...)"; a crash or a sanitizer report is the failure.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng_state;

static uint64_t next(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

struct blob {
	uint8_t *p;
	size_t len;
};

static struct blob *corpus;
static size_t n_corpus;

static int load_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct blob b = { NULL, 0 };
	size_t cap = 0, n;
	struct blob *c;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (b.len == cap) {
			uint8_t *p = realloc(b.p, cap = cap ? 2 * cap : 4096);

			if (!p)
				break;
			b.p = p;
		}
		n = fread(b.p + b.len, 1, cap - b.len, f);
		b.len += n;
	} while (n);
	fclose(f);
	c = realloc(corpus, (n_corpus + 1) * sizeof(*c));
	if (!c) {
		free(b.p);
		return -1;
	}
	corpus = c;
	corpus[n_corpus++] = b;
	return 0;
}

/* A file, or every regular file of a directory (sorted: same order). */
static int load(const char *path)
{
	struct dirent **ents;
	struct stat st;
	int n, rc = 0;

	if (stat(path, &st) || !S_ISDIR(st.st_mode))
		return load_file(path);
	n = scandir(path, &ents, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char full[4096];

		snprintf(full, sizeof(full), "%s/%s", path, ents[i]->d_name);
		if (!rc && ents[i]->d_name[0] != '.' &&
		    !stat(full, &st) && S_ISREG(st.st_mode))
			rc = load_file(full);
		free(ents[i]);
	}
	free(ents);
	return rc;
}

/*
 * Random bytes, but not uniformly: runs of zeros and of small values are
 * common, as in real ring memory, so that parsers get past their first
 * checks now and then.
 */
static void fill(uint8_t *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint64_t r = next();
		size_t run = 1 + (r >> 8) % 24;
		unsigned int kind = r % 4;

		for (size_t k = 0; k < run && i < len; k++, i++) {
			uint64_t v = next();

			buf[i] = kind == 0 ? 0 : kind == 1 ? v % 4 : (uint8_t)v;
		}
	}
}

/* A copy of a corpus entry with a few bytes changed, cut or grown. */
static size_t mutate(uint8_t *buf, size_t maxlen)
{
	const struct blob *b = &corpus[next() % n_corpus];
	size_t len = b->len < maxlen ? b->len : maxlen;
	unsigned int edits = 1 + next() % 8;

	memcpy(buf, b->p, len);
	if (next() % 8 == 0 && len < maxlen) {
		size_t more = next() % (maxlen - len + 1);

		fill(buf + len, more);
		len += more;
	} else if (next() % 8 == 0 && len) {
		len = next() % len;
	}
	for (unsigned int i = 0; i < edits && len; i++) {
		size_t at = next() % len;

		switch (next() % 4) {
		case 0:
			buf[at] ^= 1u << (next() % 8);
			break;
		case 1:
			buf[at] = 0;
			break;
		case 2:
			buf[at] = 0xff;
			break;
		default:
			buf[at] = next();
		}
	}
	return len;
}

int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	unsigned long n = 1000, maxlen = 4096;
	bool n_given = false;
	uint64_t seed = 1;
	uint8_t *buf;
	int opt;

	while ((opt = getopt(argc, argv, "n:s:m:")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoul(optarg, NULL, 0);
			n_given = true;
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'm':
			maxlen = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-n N] [-s SEED] [-m MAXLEN] [FILE-OR-DIR...]\n",
				name);
			return 2;
		}
	}
	for (int i = optind; i < argc; i++)
		if (load(argv[i]))
			return 1;
	if (optind < argc && !n_given)
		n = 0;
	for (size_t i = 0; i < n_corpus; i++)
		LLVMFuzzerTestOneInput(corpus[i].p, corpus[i].len);

	buf = malloc(maxlen ? maxlen : 1);
	if (!buf)
		return 1;
	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	for (unsigned long i = 0; i < n; i++) {
		size_t len;

		if (n_corpus && next() % 2) {
			len = mutate(buf, maxlen);
		} else {
			len = maxlen ? next() % (maxlen + 1) : 0;
			fill(buf, len);
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	free(buf);
	for (size_t i = 0; i < n_corpus; i++)
		free(corpus[i].p);
	free(corpus);
	printf("PASS %s (%zu files, %lu generated inputs, seed %llu)\n", name,
	       n_corpus, n, (unsigned long long)seed);
	return 0;
}
