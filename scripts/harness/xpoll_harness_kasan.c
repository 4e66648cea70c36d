// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: a deliberate heap out-of-bounds write at load time, so the
 * harness self-test can show that a KASAN report turns a guest run red.
 * Only scripts/harness-selftest.sh loads this module.
 */
#include <linux/compiler.h>
#include <linux/module.h>
#include <linux/slab.h>

static int __init xpoll_harness_kasan_init(void)
{
	size_t len = 16;
	char *buf;

	/* The compiler must not see the overflow and refuse or drop it. */
	OPTIMIZER_HIDE_VAR(len);
	buf = kmalloc(len, GFP_KERNEL);

	if (!buf)
		return -ENOMEM;
	buf[len] = 'x';
	kfree(buf);
	return -EINVAL;
}
module_init(xpoll_harness_kasan_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("xpoll harness self-test: a KASAN report on purpose");
