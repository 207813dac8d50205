/* The DPDK headers ferrovs binds to. build.rs hands this file to bindgen and
 * includes it from the generated C wrappers of DPDK's static inline API. */
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_version.h>
#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_mempool.h>
#include <rte_mbuf.h>
#include <rte_ethdev.h>
#include <rte_vhost.h>

/* Hand shim for what bindgen cannot wrap: macros and per-lcore variables. */
int ferrovs_rte_errno(void);
