// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only: a CPU that spins with interrupts off for 30 s at load time,
 * so the harness self-test can show that a hang turns a guest run red (an
 * RCU-stall or soft-lockup report). Only scripts/harness-selftest.sh loads
 * this module; it refuses to stay loaded.
 *
 * The spin runs on the last online CPU unless spin_cpu says otherwise, and
 * a grace period is started first: RCU's stall detector only watches a
 * grace period in flight, which an idle guest may not have, and the
 * spinning CPU holds this one up. In the debug kernel (HZ_PERIODIC) CPU 0
 * alone advances jiffies, so while CPU 0 is stuck with interrupts off RCU
 * cannot see time pass; the only witness is then the soft-lockup check
 * CPU 0 makes on itself once its interrupts are back, and a console line
 * printed on CPU 0 shortly before the spin (the taint notice of insmod,
 * say) resets that check. Another CPU's hang is seen by the RCU stall
 * detector, in both kernels.
 *
 * The spin ends when the guest clock, or local_clock(), has advanced
 * spin_ms: should both stand still, the guest outlives its vm timeout and
 * fails. The number of mdelay(1) calls is no bound: under TCG a CPU's
 * delay loop is calibrated against a tick that the host's load makes
 * irregular, and one call took from 1 us (CPU 1 of a guest booted on a
 * loaded host: 480,000 calls ended the spin at 516 ms, before any report)
 * to 1.15 ms. The line it prints afterwards (KERN_NOTICE, so the console
 * shows it at loglevel=6) says how far both clocks moved.
 */
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/irqflags.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/rcupdate.h>
#include <linux/sched/clock.h>
#include <linux/smp.h>
#include <linux/timekeeping.h>

static unsigned int spin_ms = 30000;
module_param(spin_ms, uint, 0444);
MODULE_PARM_DESC(spin_ms, "milliseconds of guest clock to spin with interrupts off");

static int spin_cpu = -1;
module_param(spin_cpu, int, 0444);
MODULE_PARM_DESC(spin_cpu, "the CPU that spins (default -1: the last online CPU)");

struct xpoll_harness_spin {
	u64 clock_ns;		/* ktime_get_mono_fast_ns() over the spin */
	u64 local_ns;		/* local_clock() over the spin */
	unsigned int delays;	/* mdelay(1) calls */
};

static int xpoll_harness_spin_fn(void *arg)
{
	struct xpoll_harness_spin *s = arg;
	unsigned long flags;
	u64 start, local, end;

	local_irq_save(flags);
	start = ktime_get_mono_fast_ns();
	local = local_clock();
	end = start + (u64)spin_ms * NSEC_PER_MSEC;
	while (ktime_get_mono_fast_ns() < end &&
	       local_clock() - local < (u64)spin_ms * NSEC_PER_MSEC) {
		mdelay(1);
		s->delays++;
	}
	s->clock_ns = ktime_get_mono_fast_ns() - start;
	s->local_ns = local_clock() - local;
	local_irq_restore(flags);
	return 0;
}

static int __init xpoll_harness_spin_init(void)
{
	struct xpoll_harness_spin s = { };
	unsigned int cpu;
	int ret;

	cpu = spin_cpu < 0 ? cpumask_last(cpu_online_mask) : spin_cpu;
	start_poll_synchronize_rcu();
	ret = smp_call_on_cpu(cpu, xpoll_harness_spin_fn, &s, false);
	if (ret)
		return ret;
	pr_notice("xpoll_harness_spin: CPU %u of %u spun with interrupts off: guest clock %llu ms, local_clock %llu ms, %u mdelay(1)\n",
		  cpu, num_online_cpus(), s.clock_ns / NSEC_PER_MSEC,
		  s.local_ns / NSEC_PER_MSEC, s.delays);
	return -EAGAIN;
}
module_init(xpoll_harness_spin_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("xpoll harness self-test: a CPU hung with interrupts off on purpose");
