// SPDX-License-Identifier: MIT
/*
 * lib/kmsg.c's kernel-log judge on the host, for test_dmesg.py to hold it
 * to the runner's: klog_judge RULES-FILE [TEST] < "LEVEL<tab>TEXT" lines
 * prints "1" for a record that counts and "0" for one that does not, then
 * "taint 0xN" (the ignored bits); a bad rules file exits 2 with its error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemlib.h"

int main(int argc, char **argv)
{
	struct gemlib_kmsg_record rec = { 0 };
	struct gemlib_klog_rules *rules;
	char line[1200], err[256], *text, *tab;
	FILE *f;
	size_t n;

	if (argc < 2 || !(f = fopen(argv[1], "r")))
		return 2;
	text = calloc(1, 1 << 20);
	n = text ? fread(text, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (!n || gemlib_klog_rules_parse(text, &rules, err, sizeof(err))) {
		fprintf(stderr, "%s\n", n ? err : "empty rules");
		return 2;
	}
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		tab = strchr(line, '\t');
		if (!tab)
			continue;
		*tab = '\0';
		rec.level = atoi(line);
		snprintf(rec.text, sizeof(rec.text), "%s", tab + 1);
		printf("%d\n", gemlib_klog_counts(rules, &rec,
						  argc > 2 ? argv[2] : NULL));
	}
	printf("taint %#lx\n", gemlib_klog_ignored_taint(rules));
	gemlib_klog_rules_free(rules);
	free(text);
	return 0;
}
