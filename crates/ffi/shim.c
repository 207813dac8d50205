/* Accessors for DPDK macros that bindgen cannot turn into functions.
 * Everything that is a real (static inline) function is wrapped by bindgen's
 * wrap_static_fns instead; keep this file to macros and per-lcore variables. */
#include "wrapper.h"

/* rte_errno is a macro over a per-lcore (thread-local) variable. */
int ferrovs_rte_errno(void)
{
    return rte_errno;
}
