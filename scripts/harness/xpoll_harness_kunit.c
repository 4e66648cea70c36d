// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: one KUnit case that passes and one that fails, so the
 * harness self-test can show that a failing case turns a run red and is
 * named. Only scripts/harness-selftest.sh loads this module.
 */
#include <kunit/test.h>
#include <linux/module.h>

static void harness_passes(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 1 + 1, 2);
}

static void harness_fails_on_purpose(struct kunit *test)
{
	int answer = 41;

	KUNIT_EXPECT_EQ(test, answer, 42);
}

static struct kunit_case harness_cases[] = {
	KUNIT_CASE(harness_passes),
	KUNIT_CASE(harness_fails_on_purpose),
	{}
};

static struct kunit_suite harness_suite = {
	.name = "xpoll_harness_selftest",
	.test_cases = harness_cases,
};

kunit_test_suite(harness_suite);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("xpoll harness self-test: a failing KUnit case on purpose");
