// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: a kselftest with one passing and one failing test, so the
 * harness self-test can show that a failing kselftest turns a run red
 * and is named.
 */
/* The 6.1 harness's TEST() wrapper has an unused parameter. */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"

TEST(harness_passes)
{
	EXPECT_EQ(2, 1 + 1);
}

TEST(harness_fails_on_purpose)
{
	int answer = 41;

	EXPECT_EQ(42, answer);
}

TEST_HARNESS_MAIN
