/* SPDX-License-Identifier: MIT */
/*
 * Device specifications: "MODEL[,key=value]..." as given on the command line
 * (`--device blk,file=disk.img,readonly=on`), by xenstore, or by the helper
 * tool. One parser for all of them. A value may contain a comma when doubled
 * (",,"), as in QEMU. Keys nobody asked for are reported by vopts_check_used()
 * so that typos are errors, not silently ignored.
 */
#ifndef XV_OPTS_H
#define XV_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VOPTS_MAX 32

struct vopts {
	char *model;
	unsigned int n;
	struct {
		char *key;
		char *val;
		bool used;
	} kv[VOPTS_MAX];
};

/* 0, or -EINVAL with a message in err. */
int vopts_parse(struct vopts *o, const char *spec, char *err, size_t errlen);
void vopts_free(struct vopts *o);
/* Add or replace a key (copies both strings). */
int vopts_set(struct vopts *o, const char *key, const char *val);

const char *vopts_get(struct vopts *o, const char *key);
/* Return 0 (absent: *out = def), or -EINVAL with a message in err. */
int vopts_get_bool(struct vopts *o, const char *key, bool def, bool *out,
		   char *err, size_t errlen);
int vopts_get_u64(struct vopts *o, const char *key, uint64_t def,
		  uint64_t min, uint64_t max, uint64_t *out,
		  char *err, size_t errlen);
/* -EINVAL naming the first key no one read. */
int vopts_check_used(const struct vopts *o, char *err, size_t errlen);

#endif
