// SPDX-License-Identifier: MIT
/*
 * The service configuration file: rules, globs, first match, expansion of
 * %n/%d/%i/%%, refusal of unsafe names, and the errors a broken file gets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "svc_conf.h"
#include "xtest.h"

static void free_conf(void *c)
{
	xvconf_free(c);
}

static struct xvconf *parse_ok(const char *text)
{
	char err[256] = "";
	struct xvconf *c = xvconf_parse(text, "test.conf", err, sizeof(err));

	XT_ASSERT_MSG(c, "%s", err);
	xt_defer(free_conf, c);
	return c;
}

/* The error of a text that must not parse. */
static const char *parse_err(const char *text)
{
	static char err[256];

	err[0] = '\0';
	XT_ASSERT_MSG(!xvconf_parse(text, "test.conf", err, sizeof(err)),
		      "'%s' parsed", text);
	return err;
}

#define LOOKUP(c, guest, kind, devid, want) do { \
	char out_[256]; \
	int rc_ = xvconf_lookup(c, guest, 7, kind, devid, out_, sizeof(out_)); \
	XT_ASSERT_MSG(rc_ == 1, "%s %s/%u: rc %d", guest, kind, devid, rc_); \
	XT_ASSERT_MSG(!strcmp(out_, want), "got '%s', want '%s'", out_, want); \
} while (0)

static void first_match_wins(void)
{
	struct xvconf *c = parse_ok(
		"# comment line\n"
		"\n"
		"web1   virtio/0      blk,file=/srv/web1.img   # trailing\n"
		"web*   virtio/0      blk,file=/srv/other.img\n"
		"*      virtio/*      rng\n"
		"\t*\tvirtio_disk/51712\tblk,cache=none\r\n");
	char out[64];

	XT_EQ(xvconf_rules(c), 4);
	LOOKUP(c, "web1", "virtio", 0, "blk,file=/srv/web1.img");
	LOOKUP(c, "web2", "virtio", 0, "blk,file=/srv/other.img");
	LOOKUP(c, "web2", "virtio", 3, "rng");
	LOOKUP(c, "db", "virtio", 0, "rng");
	LOOKUP(c, "db", "virtio_disk", 51712, "blk,cache=none");
	XT_EQ(xvconf_lookup(c, "db", 7, "virtio_disk", 51728, out, sizeof(out)), 0);
	XT_EQ(xvconf_lookup(NULL, "db", 7, "virtio", 0, out, sizeof(out)), 0);
}

static void expansion(void)
{
	struct xvconf *c = parse_ok(
		"*  virtio/*  console,socket=/run/xv/%n-%d-%i.sock,name=100%%,x=%q%\n");

	LOOKUP(c, "g1", "virtio", 2, "console,socket=/run/xv/g1-7-2.sock,name=100%,x=%q%");
}

static void unsafe_names(void)
{
	static const char *const bad[] = {
		"../etc", "a/b", "a,file=/etc/shadow", "a b", "..", ".", "",
		"a%n", "a\nb",
	};
	struct xvconf *c = parse_ok("*  virtio/*  console,socket=/run/xv/%n.sock\n"
				    "*  virtio_disk/*  blk,serial=%d\n");
	char out[256];

	for (unsigned int i = 0; i < XT_COUNT(bad); i++)
		XT_ASSERT_MSG(xvconf_lookup(c, bad[i], 7, "virtio", 0, out,
					    sizeof(out)) == -EINVAL,
			      "name '%s' accepted", bad[i]);
	/* a rule without %n does not care about the name */
	LOOKUP(c, "a/b", "virtio_disk", 5, "blk,serial=7");
	LOOKUP(c, "Guest-1.x_y", "virtio", 0, "console,socket=/run/xv/Guest-1.x_y.sock");
}

static void too_long(void)
{
	struct xvconf *c = parse_ok("*  virtio/*  console,socket=/run/%n/%n/%n\n");
	char name[60], out[64];

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	XT_EQ(xvconf_lookup(c, name, 7, "virtio", 0, out, sizeof(out)), -ENOSPC);
	XT_EQ(xvconf_lookup(c, "g", 7, "virtio", 0, out, 0), -ENOSPC);
}

static void errors_name_the_line(void)
{
	const char *e;

	e = parse_err("* virtio/0 rng\n\n# c\nonly two\n");
	XT_ASSERT_MSG(strstr(e, "test.conf:4:") && strstr(e, "2 words"), "%s", e);
	e = parse_err("* virtio/0 rng extra\n");
	XT_ASSERT_MSG(strstr(e, "test.conf:1:") && strstr(e, "GUEST NODE SPEC"), "%s", e);
	e = parse_err("* virtio rng\n");
	XT_ASSERT_MSG(strstr(e, "KIND/DEVID"), "%s", e);
	e = parse_err("* /0 rng\n");
	XT_ASSERT_MSG(strstr(e, "KIND/DEVID"), "%s", e);
	e = parse_err("* virtio/ rng\n");
	XT_ASSERT_MSG(strstr(e, "KIND/DEVID"), "%s", e);
}

static void too_many_rules(void)
{
	size_t len = 2000 * 24 + 1;
	char *text = malloc(len), *p = text;

	XT_ASSERT(text);
	for (unsigned int i = 0; i < 2000; i++)
		p += sprintf(p, "* virtio/%u rng\n", i % 1000);
	XT_ASSERT(strstr(parse_err(text), "more than"));
	free(text);
}

static void load_file(void)
{
	char path[] = "/tmp/xv-conf-XXXXXX", err[256];
	const char text[] = "g1 virtio/1 blk,file=/a.img\n";
	int fd = mkstemp(path);
	struct xvconf *c;

	XT_ASSERT(fd >= 0);
	XT_ASSERT(write(fd, text, sizeof(text) - 1) == sizeof(text) - 1);
	c = xvconf_load(path, err, sizeof(err));
	XT_ASSERT_MSG(c, "%s", err);
	xt_defer(free_conf, c);
	LOOKUP(c, "g1", "virtio", 1, "blk,file=/a.img");
	/* a NUL byte: not a text file */
	XT_ASSERT(write(fd, "\0", 1) == 1);
	XT_ASSERT(!xvconf_load(path, err, sizeof(err)));
	XT_ASSERT_MSG(strstr(err, "not a text file"), "%s", err);
	close(fd);
	unlink(path);
	XT_ASSERT(!xvconf_load(path, err, sizeof(err)));
	XT_ASSERT_MSG(strstr(err, path) && strstr(err, "No such file"), "%s", err);
}

int main(int argc, char **argv)
{
	static const struct xt_case cases[] = {
		XT_CASE(first_match_wins),
		XT_CASE(expansion),
		XT_CASE(unsafe_names),
		XT_CASE(too_long),
		XT_CASE(errors_name_the_line),
		XT_CASE(too_many_rules),
		XT_CASE(load_file),
	};

	return xt_main(argc, argv, cases, XT_COUNT(cases));
}
