/*
 * rx_fault_env.c - what makes `ruxue-faulty` (the test server of
 * tests/e2e/faults.test.mjs) differ from `ruxue`: before main, when
 * RUXUE_FAULT_CTL names a control file, the fault VFS (rx_vfs_fault.c)
 * becomes SQLite's default VFS and follows that file ("ok", "full",
 * "ioerr", "full after N", "ioerr after N"; rx_vfs_fault.h).  Without the
 * variable the binary is `ruxue`.
 */
#include <stdio.h>
#include <stdlib.h>

#include "rx_vfs_fault.h"

__attribute__((constructor)) static void fault_env(void)
{
    const char *ctl = getenv("RUXUE_FAULT_CTL");
    if (!ctl || !*ctl)
        return;
    if (rx_vfs_fault_register(true) != 0) {
        fprintf(stderr, "ruxue-faulty: cannot register the fault VFS\n");
        exit(70);
    }
    rx_vfs_fault_control(ctl);
    fprintf(stderr, "ruxue-faulty: SQLite runs on the fault VFS, control file %s\n", ctl);
}
