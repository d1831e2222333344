/* Unit tests for gapbox-init's parameters (initrd.conf, gapbox.* kernel parameters) and the medium choice they drive. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsutil.h"
#include "log.h"
#include "../../initramfs/medium.h"
#include "../../initramfs/params.h"

/* Warnings go to a memory stream so the tests can check what the user would read. */
static char *log_buf;
static size_t log_size;
static FILE *log_stream;

static int setup(void **state)
{
	(void)state;
	log_stream = open_memstream(&log_buf, &log_size);
	gb_log_set_stream(log_stream);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	gb_log_set_stream(NULL);
	fclose(log_stream);
	free(log_buf);
	log_buf = NULL;
	return 0;
}

static const char *logged(void)
{
	fflush(log_stream);
	return log_buf ? log_buf : "";
}

static void parse_conf_text(struct init_params *p, const char *text)
{
	init_params_parse_conf(p, text, "initrd.conf");
}

static const char conf_text[] = "# written by gapbox build\n"
				"KVER=6.1.0-28-amd64\n"
				"MEDIUM_UUID=2026-11-21-10-00-00-00\r\n"
				"  MEDIUM_LABEL = \"GAPBOX\"  \n"
				"\n"
				"TIMEOUT=45\n"
				"NAME=debian12-amd64\n"
				"PERSIST=auto\n"
				"VERIFY=verity\n"
				"FUTURE_KEY=whatever\n";

static void test_defaults(void **state)
{
	struct init_params p;

	(void)state;
	init_params_defaults(&p);
	assert_string_equal(p.medium_label, "GAPBOX");
	assert_string_equal(p.medium_uuid, "");
	assert_string_equal(p.medium_path, "");
	assert_string_equal(p.kver, "");
	assert_int_equal(p.timeout_sec, 30);
	assert_int_equal(p.medium_source, PARAM_DEFAULT);
	assert_false(p.shell || p.debug || p.brk);
	assert_int_equal(p.toram, TORAM_NO);
	assert_int_equal(p.verify, GB_VERIFY_OFF);
	assert_int_equal(p.n_invalid, 0);
}

static void test_conf(void **state)
{
	struct init_params p;

	(void)state;
	init_params_defaults(&p);
	parse_conf_text(&p, conf_text);
	assert_string_equal(p.kver, "6.1.0-28-amd64");
	assert_string_equal(p.medium_uuid, "2026-11-21-10-00-00-00");
	assert_string_equal(p.medium_label, "GAPBOX");
	assert_string_equal(p.name, "debian12-amd64");
	assert_int_equal(p.timeout_sec, 45);
	assert_int_equal(p.medium_source, PARAM_CONF);
	assert_int_equal(p.verify, GB_VERIFY_VERITY); /* a signed build's default */
	/* Unknown keys are not errors. */
	assert_int_equal(p.n_invalid, 0);
	assert_null(strstr(logged(), "warning"));
}

static void test_conf_bad_lines(void **state)
{
	struct init_params p;
	char text[2048];

	(void)state;
	snprintf(text, sizeof(text),
		 "TIMEOUT=soon\n"
		 "just some words\n"
		 "=value\n"
		 "MEDIUM_LABEL=%01500d\n"
		 "NAME=after-the-long-line\n",
		 0);
	init_params_defaults(&p);
	parse_conf_text(&p, text);
	/* Each bad line is reported and leaves the default; the good line after still counts. */
	assert_int_equal(p.timeout_sec, 30);
	assert_string_equal(p.medium_label, "GAPBOX");
	assert_string_equal(p.name, "after-the-long-line");
	assert_int_equal(p.n_invalid, 4);
	assert_non_null(strstr(logged(), "initrd.conf:1: ignoring TIMEOUT 'soon'"));
	assert_non_null(strstr(logged(), "initrd.conf:2: ignoring line without KEY=VALUE 'just some words'"));
	assert_non_null(strstr(logged(), "initrd.conf:4: ignoring overlong line"));
}

static void test_conf_missing_file(void **state)
{
	struct init_params p;

	(void)state;
	init_params_defaults(&p);
	assert_int_equal(init_params_load_conf(&p, "/nonexistent/gapbox/initrd.conf"), 0);
	assert_string_equal(p.medium_label, "GAPBOX");
	assert_int_equal(p.timeout_sec, 30);
}

static void test_conf_load_file(void **state)
{
	char path[] = "/tmp/test_initparams.XXXXXX";
	struct init_params p;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, conf_text, strlen(conf_text)), (ssize_t)strlen(conf_text));
	close(fd);
	init_params_defaults(&p);
	assert_int_equal(init_params_load_conf(&p, path), 0);
	assert_string_equal(p.medium_uuid, "2026-11-21-10-00-00-00");
	assert_int_equal(p.timeout_sec, 45);
	unlink(path);
}

static void test_conf_empty_spec_means_default_label(void **state)
{
	struct init_params p;

	(void)state;
	init_params_defaults(&p);
	parse_conf_text(&p, "MEDIUM_LABEL=\n");
	assert_string_equal(p.medium_label, "GAPBOX");
}

static void test_cmdline_overrides_conf(void **state)
{
	struct init_params p;

	(void)state;
	init_params_defaults(&p);
	parse_conf_text(&p, conf_text);
	assert_int_equal(init_params_parse_cmdline(&p, "BOOT_IMAGE=/gapbox/vmlinuz init=/bin/bash quiet "
							    "gapbox.medium=UUID=abc gapbox.timeout=5 "
							    "gapbox.shell gapbox.toram gapbox.debug gapbox.break gapbox.persist=LABEL=X "
							    "gapbox.verify=full gapbox.verify=off\n"),
			 0);
	assert_int_equal(p.verify, GB_VERIFY_OFF);
	assert_int_equal(init_params_parse_cmdline(&p, "gapbox.verify=full"), 0);
	assert_int_equal(p.verify, GB_VERIFY_FULL);
	assert_int_equal(init_params_parse_cmdline(&p, "gapbox.verify=verity"), 0);
	assert_int_equal(p.verify, GB_VERIFY_VERITY);
	assert_int_equal(init_params_parse_cmdline(&p, "gapbox.verify=off"), 0);
	assert_int_equal(p.persist.mode, GB_PERSIST_LABEL);
	assert_string_equal(p.persist.value, "X");
	assert_string_equal(p.medium_uuid, "abc");
	assert_string_equal(p.medium_label, ""); /* an explicit UUID replaces the whole spec */
	assert_int_equal(p.medium_source, PARAM_CMDLINE);
	assert_int_equal(p.timeout_sec, 5);
	assert_true(p.shell && p.debug && p.brk);
	assert_int_equal(p.toram, TORAM_YES); /* bare: yes */
	/* Not ours: left alone. */
	assert_string_equal(p.kver, "6.1.0-28-amd64");
	assert_int_equal(p.n_invalid, 0);
}

static void test_cmdline_medium_forms(void **state)
{
	struct init_params p;

	(void)state;
	init_params_defaults(&p);
	parse_conf_text(&p, conf_text);
	assert_int_equal(init_params_parse_cmdline(&p, "gapbox.medium=LABEL=\"MY STICK\""), 0);
	assert_string_equal(p.medium_label, "MY STICK");
	assert_string_equal(p.medium_uuid, "");

	assert_int_equal(init_params_parse_cmdline(&p, "gapbox.medium=/dev/sr1"), 0);
	assert_string_equal(p.medium_path, "/dev/sr1");
	assert_string_equal(p.medium_label, "");
	assert_string_equal(p.medium_uuid, "");
	assert_int_equal(p.n_invalid, 0);
}

static void test_cmdline_invalid_values(void **state)
{
	struct init_params p;

	(void)state;
	init_params_defaults(&p);
	parse_conf_text(&p, conf_text);
	assert_int_equal(init_params_parse_cmdline(&p, "gapbox.medium=sr0 gapbox.medium=UUID= gapbox.medium "
							    "gapbox.timeout=abc gapbox.timeout=-1 gapbox.timeout=10s "
							    "gapbox.timeout= gapbox.timeout=99999999999 gapbox.shell=maybe "
							    "gapbox.persist=sometimes gapbox.verify=lazy"),
			 0);
	/* Every one reported, and the values from initrd.conf stay. */
	assert_int_equal(p.n_invalid, 11);
	assert_int_equal(p.verify, GB_VERIFY_VERITY);
	assert_non_null(strstr(logged(), "ignoring gapbox.verify=lazy: expected off, full or verity"));
	assert_int_equal(p.persist.mode, GB_PERSIST_AUTO);
	assert_non_null(strstr(logged(), "ignoring gapbox.persist=sometimes: expected off, auto, LABEL=... or UUID=..."));
	assert_string_equal(p.medium_uuid, "2026-11-21-10-00-00-00");
	assert_string_equal(p.medium_label, "GAPBOX");
	assert_int_equal(p.medium_source, PARAM_CONF);
	assert_int_equal(p.timeout_sec, 45);
	assert_false(p.shell);
	assert_non_null(strstr(logged(), "ignoring gapbox.medium=sr0: expected UUID=..., LABEL=... or a /dev path"));
	assert_non_null(strstr(logged(), "ignoring gapbox.timeout=abc: expected whole seconds"));
	assert_non_null(strstr(logged(), "ignoring gapbox.medium=(no value)"));
}

static void test_cmdline_last_wins_and_flags(void **state)
{
	struct init_params p;

	(void)state;
	init_params_defaults(&p);
	assert_int_equal(init_params_parse_cmdline(&p, "gapbox.timeout=5 gapbox.timeout=0 gapbox.debug gapbox.debug=0 "
							    "gapbox.shell=yes gapbox.toram=off gapbox.frobnicate=1"),
			 0);
	assert_int_equal(p.timeout_sec, 0);
	assert_false(p.debug);
	assert_true(p.shell);
	assert_int_equal(p.toram, TORAM_NO);
	/* Other gapbox.* names belong to later stages. */
	assert_int_equal(p.n_invalid, 0);
}

/* gapbox.toram: yes, no, auto; and what a flag took before auto existed. */
static void test_cmdline_toram(void **state)
{
	static const struct {
		const char *word;
		enum init_toram want;
	} cases[] = {
		{ "gapbox.toram", TORAM_YES },     { "gapbox.toram=yes", TORAM_YES }, { "gapbox.toram=1", TORAM_YES },
		{ "gapbox.toram=on", TORAM_YES },  { "gapbox.toram=TRUE", TORAM_YES }, { "gapbox.toram=no", TORAM_NO },
		{ "gapbox.toram=0", TORAM_NO },    { "gapbox.toram=off", TORAM_NO },   { "gapbox.toram=auto", TORAM_AUTO },
		{ "gapbox.toram=AUTO", TORAM_AUTO },
	};
	struct init_params p;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		init_params_defaults(&p);
		p.toram = cases[i].want == TORAM_NO ? TORAM_AUTO : TORAM_NO;
		assert_int_equal(init_params_parse_cmdline(&p, cases[i].word), 0);
		if (p.toram != cases[i].want)
			fail_msg("%s gave %s", cases[i].word, init_toram_name(p.toram));
		assert_int_equal(p.n_invalid, 0);
	}
	assert_string_equal(init_toram_name(TORAM_AUTO), "auto");

	/* A bad value is reported and the one before stays. */
	init_params_defaults(&p);
	assert_int_equal(init_params_parse_cmdline(&p, "gapbox.toram=auto gapbox.toram=always gapbox.toram="), 0);
	assert_int_equal(p.toram, TORAM_AUTO);
	assert_int_equal(p.n_invalid, 2);
	assert_non_null(strstr(logged(), "ignoring gapbox.toram=always: expected no value (yes), yes, no or auto"));
}

static void test_medium_describe(void **state)
{
	struct init_params p;
	char buf[256];

	(void)state;
	init_params_defaults(&p);
	assert_string_equal(init_params_medium_describe(&p, buf, sizeof(buf)), "LABEL=GAPBOX");
	parse_conf_text(&p, conf_text);
	assert_string_equal(init_params_medium_describe(&p, buf, sizeof(buf)),
			    "UUID=2026-11-21-10-00-00-00 (or LABEL=GAPBOX)");
	init_params_parse_cmdline(&p, "gapbox.medium=UUID=abc");
	assert_string_equal(init_params_medium_describe(&p, buf, sizeof(buf)), "UUID=abc");
}

/* A scan as the hybrid ISO on a USB stick shows it, plus an optical drive without a disc. */
static void add_dev(struct medium_scan *s, const char *name, bool partition, int error, const char *type,
		    const char *uuid, const char *label, unsigned minor)
{
	struct medium_dev *d = &s->devs[s->n++];

	*d = (struct medium_dev){ .partition = partition, .error = error, .no_medium = error == -ENOMEDIUM };
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->path, sizeof(d->path), "/dev/%s", name);
	snprintf(d->type, sizeof(d->type), "%s", type);
	snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
	snprintf(d->label, sizeof(d->label), "%s", label);
	d->rdev = error ? 0 : makedev(8, minor);
}

static void usb_scan(struct medium_scan *s)
{
	*s = (struct medium_scan){ 0 };
	/* The whole disk first, to show that the partition is preferred, not the first seen. */
	add_dev(s, "sda", false, 0, "iso9660", "2026-11-21-10-00-00-00", "GAPBOX", 0);
	add_dev(s, "sda1", true, 0, "iso9660", "2026-11-21-10-00-00-00", "GAPBOX", 1);
	add_dev(s, "sda2", true, 0, "vfat", "1234-ABCD", "ESP", 2);
	add_dev(s, "sr0", false, -ENOMEDIUM, "", "", "", 0);
	add_dev(s, "vda", false, 0, "", "", "", 16);
}

static void test_match_uuid_prefers_partition(void **state)
{
	struct init_params p;
	struct medium_spec spec;
	struct medium_scan s;
	const struct medium_dev *d;
	bool by_label = true;

	(void)state;
	init_params_defaults(&p);
	parse_conf_text(&p, conf_text);
	medium_spec_from_params(&p, &spec);
	usb_scan(&s);
	d = medium_match(&s, &spec, false, &by_label);
	assert_non_null(d);
	assert_string_equal(d->name, "sda1");
	assert_false(by_label);

	/* Only the whole disk left (e.g. the partition failed to open): it will do. */
	s.devs[1].error = -EIO;
	d = medium_match(&s, &spec, false, &by_label);
	assert_non_null(d);
	assert_string_equal(d->name, "sda");
}

static void test_match_label_fallback_only_from_conf(void **state)
{
	struct init_params p;
	struct medium_spec spec;
	struct medium_scan s;
	const struct medium_dev *d;
	bool by_label = false;

	(void)state;
	init_params_defaults(&p);
	parse_conf_text(&p, "MEDIUM_UUID=1999-01-01-00-00-00-00\nMEDIUM_LABEL=GAPBOX\n");
	medium_spec_from_params(&p, &spec);
	usb_scan(&s);
	/* During the grace period the UUID alone counts. */
	assert_null(medium_match(&s, &spec, false, &by_label));
	d = medium_match(&s, &spec, true, &by_label);
	assert_non_null(d);
	assert_string_equal(d->name, "sda1");
	assert_true(by_label);

	/* The user asked for that UUID explicitly: no substitute. */
	init_params_parse_cmdline(&p, "gapbox.medium=UUID=1999-01-01-00-00-00-00");
	medium_spec_from_params(&p, &spec);
	assert_null(medium_match(&s, &spec, true, &by_label));
	assert_false(by_label);

	/* Only iso9660 counts: the ESP's label does not make it the medium. */
	init_params_parse_cmdline(&p, "gapbox.medium=LABEL=ESP");
	medium_spec_from_params(&p, &spec);
	assert_null(medium_match(&s, &spec, true, &by_label));
}

static void test_match_path(void **state)
{
	struct init_params p;
	struct medium_spec spec;
	struct medium_scan s;
	const struct medium_dev *d;
	bool by_label;

	(void)state;
	init_params_defaults(&p);
	init_params_parse_cmdline(&p, "gapbox.medium=/dev/vda");
	medium_spec_from_params(&p, &spec);
	usb_scan(&s);
	d = medium_match(&s, &spec, true, &by_label);
	assert_non_null(d);
	assert_string_equal(d->name, "vda");

	/* By device number, for a node under another name. */
	init_params_parse_cmdline(&p, "gapbox.medium=/dev/block/8:2");
	medium_spec_from_params(&p, &spec);
	s.path_rdev = makedev(8, 2);
	d = medium_match(&s, &spec, true, &by_label);
	assert_non_null(d);
	assert_string_equal(d->name, "sda2");

	/* A drive without a disc is not a match, even when named. */
	init_params_parse_cmdline(&p, "gapbox.medium=/dev/sr0");
	medium_spec_from_params(&p, &spec);
	s.path_rdev = 0;
	assert_null(medium_match(&s, &spec, true, &by_label));
}

static void test_scan_describe(void **state)
{
	struct medium_scan s;
	char buf[1024];

	(void)state;
	usb_scan(&s);
	s.devs[4].error = -EACCES;
	medium_scan_describe(&s, buf, sizeof(buf));
	assert_string_equal(buf, "sda (iso9660 UUID=2026-11-21-10-00-00-00 LABEL=GAPBOX), "
				 "sda1 (iso9660 UUID=2026-11-21-10-00-00-00 LABEL=GAPBOX), "
				 "sda2 (vfat UUID=1234-ABCD LABEL=ESP), sr0 (no medium), vda (error: Permission denied)");

	s.devs[4].error = 0;
	s.n_dropped = 3;
	medium_scan_describe(&s, buf, sizeof(buf));
	assert_non_null(strstr(buf, "vda (no filesystem) and 3 more"));

	/* Cut to the buffer, never past it. */
	memset(buf, 'Z', sizeof(buf));
	medium_scan_describe(&s, buf, 20);
	assert_int_equal(strlen(buf), 19);
	assert_int_equal(buf[20], 'Z');

	s.n = 0;
	s.n_dropped = 0;
	medium_scan_describe(&s, buf, sizeof(buf));
	assert_string_equal(buf, "no block devices");
}

static void touch_file(const char *dir, const char *name, const char *content, size_t size)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, size, f), size);
	fclose(f);
}

static void test_scan_fake_sysfs(void **state)
{
	static const char *const names[] = { "sda", "sda1", "ram0", "loop3", "zram0", "fd0", "vdb" };
	static const char zeros[4096];
	char dir[] = "/tmp/test_initparams.XXXXXX";
	char sys[256], dev[256], path[512], cmd[512];
	struct medium_scan s;

	(void)state;
	/* A sysfs and /dev stand-in: a directory as "device" fails the probe, zeros are
	 * "no filesystem", a missing node is one, and skipped names do not show at all. */
	assert_non_null(mkdtemp(dir));
	snprintf(sys, sizeof(sys), "%s/sys", dir);
	snprintf(dev, sizeof(dev), "%s/dev", dir);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", sys, names[i]);
		assert_int_equal(mkdir_p(path, 0755), 0);
	}
	touch_file(sys, "sda1/partition", "1\n", 2);
	snprintf(path, sizeof(path), "%s/sda", dev);
	assert_int_equal(mkdir_p(path, 0755), 0);
	touch_file(dev, "sda1", zeros, sizeof(zeros));

	assert_int_equal(medium_scan(sys, dev, NULL, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.devs[0].name, "sda");
	assert_false(s.devs[0].partition);
	assert_string_equal(s.devs[1].name, "sda1");
	assert_non_null(strstr(s.devs[1].path, "/dev/sda1"));
	assert_true(s.devs[1].partition);
	assert_int_equal(s.devs[1].error, 0);
	assert_string_equal(s.devs[1].type, "");
	assert_string_equal(s.devs[2].name, "vdb");
	assert_int_equal(s.devs[2].error, -ENOENT);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(medium_scan("/nonexistent/sys/class/block", "/dev", NULL, &s), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_bad_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_load_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf_empty_spec_means_default_label, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_overrides_conf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_medium_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_invalid_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_last_wins_and_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_toram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_medium_describe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_match_uuid_prefers_partition, setup, teardown),
		cmocka_unit_test_setup_teardown(test_match_label_fallback_only_from_conf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_match_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_describe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_fake_sysfs, setup, teardown),
	};

	return cmocka_run_group_tests_name("initparams", tests, NULL, NULL);
}
