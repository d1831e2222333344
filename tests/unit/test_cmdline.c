/* Unit tests for lib/cmdline: splitting a kernel command line into key/value pairs. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cmdline.h"

#define MAX_WORDS 16

struct words {
	size_t n;
	char key[MAX_WORDS][64];
	char value[MAX_WORDS][64];
	int has_value[MAX_WORDS];
	int fail_at; /* return -EIO on this call (1-based), 0: never */
};

static int collect(const char *key, const char *value, void *userdata)
{
	struct words *w = userdata;

	assert_true(w->n < MAX_WORDS);
	snprintf(w->key[w->n], sizeof(w->key[0]), "%s", key);
	w->has_value[w->n] = value != NULL;
	snprintf(w->value[w->n], sizeof(w->value[0]), "%s", value ? value : "");
	w->n++;
	if (w->fail_at && (int)w->n == w->fail_at)
		return -EIO;
	return 0;
}

static struct words parse(const char *line)
{
	struct words w = { 0 };

	assert_int_equal(cmdline_parse(line, collect, &w), 0);
	return w;
}

static void assert_word(const struct words *w, size_t i, const char *key, const char *value)
{
	assert_true(i < w->n);
	assert_string_equal(w->key[i], key);
	if (value) {
		assert_true(w->has_value[i]);
		assert_string_equal(w->value[i], value);
	} else
		assert_false(w->has_value[i]);
}

static void test_quotes_and_bare_words(void **state)
{
	struct words w = parse("foo=\"a b\" bar baz=1");

	(void)state;
	assert_int_equal(w.n, 3);
	assert_word(&w, 0, "foo", "a b");
	assert_word(&w, 1, "bar", NULL);
	assert_word(&w, 2, "baz", "1");
}

static void test_quotes_anywhere_and_unterminated(void **state)
{
	struct words w = parse("a=x\"y z\"w \"q=r s\" t=\"open to the end");

	(void)state;
	assert_int_equal(w.n, 3);
	assert_word(&w, 0, "a", "xy zw");
	assert_word(&w, 1, "q", "r s");
	assert_word(&w, 2, "t", "open to the end");
}

static void test_empty_values(void **state)
{
	struct words w = parse("foo= bar=\"\" baz");

	(void)state;
	assert_int_equal(w.n, 3);
	assert_word(&w, 0, "foo", "");
	assert_word(&w, 1, "bar", "");
	assert_word(&w, 2, "baz", NULL);
}

static void test_value_keeps_later_equals(void **state)
{
	struct words w = parse("gapbox.medium=UUID=abc root=LABEL=x=y");

	(void)state;
	assert_int_equal(w.n, 2);
	assert_word(&w, 0, "gapbox.medium", "UUID=abc");
	assert_word(&w, 1, "root", "LABEL=x=y");
}

static void test_whitespace(void **state)
{
	/* /proc/cmdline ends in a newline; tabs and runs of spaces separate too. */
	struct words w = parse("  \ta=1 \t  b   c=\n");

	(void)state;
	assert_int_equal(w.n, 3);
	assert_word(&w, 0, "a", "1");
	assert_word(&w, 1, "b", NULL);
	assert_word(&w, 2, "c", "");

	w = parse("   \n");
	assert_int_equal(w.n, 0);
	w = parse("");
	assert_int_equal(w.n, 0);
	w = parse(NULL);
	assert_int_equal(w.n, 0);
}

static void test_repeated_keys_in_order(void **state)
{
	/* Every occurrence is reported, left to right, so a consumer's last one wins. */
	struct words w = parse("x=1 x=2 x");

	(void)state;
	assert_int_equal(w.n, 3);
	assert_word(&w, 0, "x", "1");
	assert_word(&w, 1, "x", "2");
	assert_word(&w, 2, "x", NULL);
}

static void test_empty_keys_skipped(void **state)
{
	struct words w = parse("\"\" =orphan \"=\" ok");

	(void)state;
	assert_int_equal(w.n, 1);
	assert_word(&w, 0, "ok", NULL);
}

static void test_callback_error_stops(void **state)
{
	struct words w = { .fail_at = 2 };

	(void)state;
	assert_int_equal(cmdline_parse("a b c d", collect, &w), -EIO);
	assert_int_equal(w.n, 2);
}

static void test_too_long(void **state)
{
	char *line = malloc(CMDLINE_MAX + 2);
	struct words w = { 0 };

	(void)state;
	assert_non_null(line);
	memset(line, 'a', CMDLINE_MAX + 1);
	line[CMDLINE_MAX + 1] = '\0';
	assert_int_equal(cmdline_parse(line, collect, &w), -E2BIG);
	assert_int_equal(w.n, 0);

	/* Exactly at the limit is fine. */
	line[CMDLINE_MAX] = '\0';
	assert_int_equal(cmdline_parse(line, collect, &w), 0);
	assert_int_equal(w.n, 1);
	free(line);
}

static void test_read(void **state)
{
	char path[] = "/tmp/test_cmdline.XXXXXX";
	const char text[] = "BOOT_IMAGE=/gapbox/vmlinuz console=ttyS0 gapbox.debug\n";
	char *line = NULL;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);

	assert_int_equal(cmdline_read(path, &line), 0);
	assert_string_equal(line, text);
	free(line);

	/* Over the cap: refused, not cut. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	for (size_t i = 0; i <= CMDLINE_MAX; i += 4096) {
		char block[4096];

		memset(block, 'x', sizeof(block));
		assert_int_equal(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
	}
	close(fd);
	line = NULL;
	assert_int_equal(cmdline_read(path, &line), -E2BIG);
	assert_null(line);

	unlink(path);
	assert_int_equal(cmdline_read(path, &line), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quotes_and_bare_words),
		cmocka_unit_test(test_quotes_anywhere_and_unterminated),
		cmocka_unit_test(test_empty_values),
		cmocka_unit_test(test_value_keeps_later_equals),
		cmocka_unit_test(test_whitespace),
		cmocka_unit_test(test_repeated_keys_in_order),
		cmocka_unit_test(test_empty_keys_skipped),
		cmocka_unit_test(test_callback_error_stops),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_read),
	};

	return cmocka_run_group_tests_name("cmdline", tests, NULL, NULL);
}
