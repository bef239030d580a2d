// SPDX-License-Identifier: MIT
/*
 * The kernel log: marker lines written into it, so a runner can split dmesg
 * per test, its records read back from a point on, and the rules that judge
 * them (lib/kernel-log.rules, shared with the runner), for oracles.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gemlib.h"

int gemlib_kmsg(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int fd, len, err = 0;

	va_start(ap, fmt);
	/* "<6>" logs at KERN_INFO: a marker must never judge a test itself. */
	len = snprintf(buf, sizeof(buf), "<6>");
	len += vsnprintf(buf + len, sizeof(buf) - len, fmt, ap);
	va_end(ap);
	if (len >= (int)sizeof(buf))
		len = sizeof(buf) - 1;

	fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, len) < 0)
		err = -errno;
	close(fd);
	return err;
}

int gemlib_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	/* Only what is logged from now on. */
	if (lseek(fd, 0, SEEK_END) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* kmsg escapes unprintable bytes as \xNN: undo it, as the runner does. */
static void unescape(char *out, size_t len, const char *in)
{
	unsigned int byte;
	size_t n = 0;

	while (*in && n + 1 < len) {
		if (in[0] == '\\' && in[1] == 'x' && isxdigit((unsigned char)in[2]) &&
		    isxdigit((unsigned char)in[3]) &&
		    sscanf(in + 2, "%2x", &byte) == 1 && byte) {
			out[n++] = byte;
			in += 4;
		} else {
			out[n++] = *in++;
		}
	}
	out[n] = '\0';
}

int gemlib_kmsg_next(int fd, struct gemlib_kmsg_record *rec)
{
	/* One read returns one whole record; longer ones fail with EINVAL. */
	char buf[8192], *text, *end;
	unsigned long long prio;
	ssize_t n;

	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	buf[n] = '\0';
	/* "prio,seq,usec,flags;text\n" then " KEY=value" lines. */
	text = strchr(buf, ';');
	if (!text || sscanf(buf, "%llu,%llu", &prio, &rec->seq) != 2)
		return -EPROTO;
	text++;
	end = strchr(text, '\n');
	if (end)
		*end = '\0';
	rec->level = prio & 7;
	rec->facility = prio >> 3;
	unescape(rec->text, sizeof(rec->text), text);
	return 1;
}

/* Records at this level or worse (lower) count: igt_runner's rule. */
#define KLOG_WARN_LEVEL 4

/* Taint letters by bit (Documentation/admin-guide/tainted-kernels.rst). */
static const char taint_letters[] = "PFSRMBUDAWCIOELKXTN";

struct klog_allow {
	bool scoped;
	regex_t test;		/* scoped: the tests it applies to */
	regex_t record;
};

struct gemlib_klog_rules {
	struct klog_allow *allow;
	size_t nr_allow;
	unsigned long ignored_taint;
};

static int klog_regcomp(regex_t *re, const char *pattern, unsigned int line,
			char *err, size_t errlen)
{
	char why[128];
	int ret = regcomp(re, pattern, REG_EXTENDED | REG_NOSUB);

	if (!ret)
		return 0;
	regerror(ret, re, why, sizeof(why));
	snprintf(err, errlen, "line %u: bad regex '%s': %s", line, pattern,
		 why);
	return -EINVAL;
}

/* One rule line (no comment, trimmed) into @rules. */
static int klog_rule(struct gemlib_klog_rules *rules, char *line,
		     unsigned int n, char *err, size_t errlen)
{
	char *arg = strchr(line, ' '), *end;
	struct klog_allow *a;
	regex_t report;
	int ret;

	if (arg)
		*arg++ = '\0';
	if (!arg || !*arg)
		goto bad;
	if (!strcmp(line, "taint-ignore")) {
		for (; *arg; arg++) {
			const char *l = strchr(taint_letters, *arg);

			if (!l) {
				snprintf(err, errlen, "line %u: no taint letter '%c'",
					 n, *arg);
				return -EINVAL;
			}
			rules->ignored_taint |= 1ul << (l - taint_letters);
		}
		return 0;
	}
	if (!strcmp(line, "report")) {
		/* Every counted record fails a kselftest: only check it. */
		arg = strchr(arg, ' ');
		if (!arg || !*++arg)
			goto bad;
		ret = klog_regcomp(&report, arg, n, err, errlen);
		if (!ret)
			regfree(&report);
		return ret;
	}
	if (strcmp(line, "allow"))
		goto bad;

	a = realloc(rules->allow, (rules->nr_allow + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	rules->allow = a;
	a += rules->nr_allow;
	/* "[TEST] RECORD": the first "] " after at least one character. */
	end = arg[0] == '[' && arg[1] ? strstr(arg + 2, "] ") : NULL;
	a->scoped = end && end[2];
	if (a->scoped) {
		*end = '\0';
		ret = klog_regcomp(&a->test, arg + 1, n, err, errlen);
		if (ret)
			return ret;
		arg = end + 2;
	}
	ret = klog_regcomp(&a->record, arg, n, err, errlen);
	if (ret) {
		if (a->scoped)
			regfree(&a->test);
		return ret;
	}
	rules->nr_allow++;
	return 0;
bad:
	snprintf(err, errlen, "line %u: not a rule", n);
	return -EINVAL;
}

int gemlib_klog_rules_parse(const char *text, struct gemlib_klog_rules **out,
			    char *err, size_t errlen)
{
	struct gemlib_klog_rules *rules = calloc(1, sizeof(*rules));
	char *copy = strdup(text), *line, *next, *end;
	unsigned int n = 0;
	int ret = 0;

	if (!rules || !copy) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	for (line = copy; line && !ret; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		n++;
		while (isspace((unsigned char)*line))
			line++;
		end = line + strlen(line);
		while (end > line && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*line && *line != '#')
			ret = klog_rule(rules, line, n, err, errlen);
	}
out:
	free(copy);
	if (ret) {
		gemlib_klog_rules_free(rules);
		rules = NULL;
	}
	*out = rules;
	return ret;
}

void gemlib_klog_rules_free(struct gemlib_klog_rules *rules)
{
	size_t i;

	if (!rules)
		return;
	for (i = 0; i < rules->nr_allow; i++) {
		if (rules->allow[i].scoped)
			regfree(&rules->allow[i].test);
		regfree(&rules->allow[i].record);
	}
	free(rules->allow);
	free(rules);
}

bool gemlib_klog_counts(const struct gemlib_klog_rules *rules,
			const struct gemlib_kmsg_record *rec, const char *test)
{
	const struct klog_allow *a;
	size_t i;

	/* Userspace writes (test markers) are no kernel reports. */
	if (rec->facility || rec->level > KLOG_WARN_LEVEL)
		return false;
	for (i = 0; i < rules->nr_allow; i++) {
		a = &rules->allow[i];
		if (a->scoped &&
		    (!test || regexec(&a->test, test, 0, NULL, 0)))
			continue;
		if (!regexec(&a->record, rec->text, 0, NULL, 0))
			return false;
	}
	return true;
}

unsigned long gemlib_klog_ignored_taint(const struct gemlib_klog_rules *rules)
{
	return rules->ignored_taint;
}

/* A decimal number from @path. */
