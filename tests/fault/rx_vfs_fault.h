/*
 * rx_vfs_fault.h - a test-only SQLite VFS ("rxfault") that wraps the
 * default one and can
 *
 *   - cut the power: from a chosen operation on, every file operation
 *     fails and changes nothing, and rx_vfs_fault_power_restore() then
 *     puts every file back as the disk would hold it after the cut: each
 *     file as of its last xSync (the writes since then all dropped, or a
 *     random subset of them kept, as a disk's cache may have written some
 *     of them out), its size as of the last xSync, and a file created but
 *     never synced gone (its directory entry was never made durable);
 *   - fail the Nth operation (xOpen, xRead, xWrite, xSync, xTruncate,
 *     xFileSize) with SQLITE_FULL (disk full: writes, truncates and
 *     creating opens fail) or an I/O error (every operation fails), once
 *     or from then on until cleared;
 *   - follow a control file (for the `ruxue-faulty` test server): its
 *     first line is "ok", "full", "ioerr", "full after N" or "ioerr after
 *     N" (the fault starts after N more operations); it is read again
 *     whenever it changes.
 *
 * It is never linked into the production `ruxue` binary.  Single global
 * state, guarded by a mutex: one VFS per process.
 *
 * Files are tracked by path; deleting a file (xDelete) is taken as durable
 * at once.  The shared-memory index (-shm) is not tracked: it is not
 * durable by design and SQLite rebuilds it when the first connection
 * opens.  Memory-mapped I/O is not offered (io methods version 2), so every
 * write goes through xWrite.
 */
#ifndef RX_VFS_FAULT_H
#define RX_VFS_FAULT_H

#include <stdbool.h>
#include <stdint.h>

enum rx_fault {
    RX_FAULT_NONE = 0,
    RX_FAULT_FULL,  /* SQLITE_FULL on writes, truncates and opens that create */
    RX_FAULT_IOERR, /* an I/O error on every operation */
    RX_FAULT_POWER, /* the power is cut: every operation fails, nothing changes */
};

/* Register "rxfault" over the current default VFS; make it the default when asked.
 * Idempotent.  0 or an SQLite code. */
int rx_vfs_fault_register(bool make_default);

/* Make the wrapped VFS the default again (or "rxfault" when back is false). */
void rx_vfs_fault_default(bool fault);

/*
 * Arm a fault: after `after` more counted operations (0: the very next
 * one), the operation fails with kind; sticky keeps failing every
 * operation kind applies to until rx_vfs_fault_clear().  Counted
 * operations: xOpen, xRead, xWrite, xSync, xTruncate, xFileSize; for
 * RX_FAULT_POWER only xWrite and xSync count (the cut comes after the Nth
 * write or sync), and the cut is always sticky.
 */
void rx_vfs_fault_arm(enum rx_fault kind, uint64_t after, bool sticky);

/* Disarm: operations succeed again (a cut power stays cut until restore). */
void rx_vfs_fault_clear(void);

/* Has the armed fault fired since it was armed? */
bool rx_vfs_fault_fired(void);

/* Counted operations since rx_vfs_fault_reset (all kinds; writes+syncs). */
uint64_t rx_vfs_fault_ops(void);
uint64_t rx_vfs_fault_writes_syncs(void);

/*
 * Start tracking for a power cut: forget every file, counters to zero, no
 * fault.  Files already on disk count as synced as they are when first
 * opened.
 */
void rx_vfs_fault_reset(void);

/*
 * After a cut (every connection closed): put the files back as the disk
 * would hold them.  seed 0 drops every unsynced write; otherwise each
 * unsynced write is kept or dropped at random (from seed).  Then tracking
 * is forgotten and the power is on again.  0, or -1 when a file could not
 * be restored (errno).
 */
int rx_vfs_fault_power_restore(uint64_t seed);

/* Follow the control file at path (NULL: stop following). */
void rx_vfs_fault_control(const char *path);

#endif
