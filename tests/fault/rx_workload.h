/*
 * rx_workload.h - a small, deterministic intake driven through the public
 * store API (rx_store.h), for the power-loss and fault-injection tests:
 * staff, families, sessions, one-time codes, applications created (half
 * of them as the server does, app_create_begin/_end) and submitted (each
 * with its receipt and Idempotency-Key), staff audit
 * entries, the district's documents, and batches of result rows with their
 * audit entries.  It remembers what the store acknowledged (a call that
 * returned 0) and checks, on a store opened afterwards, that all of that is
 * there: exactly once, unchanged, with the audit chain intact.
 */
#ifndef RX_WORKLOAD_H
#define RX_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/rx_store.h"

#define WL_APPS 48       /* applications */
#define WL_FAMILIES 4    /* families */
#define WL_DOCS (WL_APPS / 8)
#define WL_BATCHES (WL_APPS / 12)
#define WL_BATCH_ROWS 40 /* rows per batch, every 8th with an audit entry */

struct wl {
    int64_t fam[WL_FAMILIES];   /* 0 until acknowledged */
    bool app[WL_APPS];          /* created (acknowledged) */
    bool submitted[WL_APPS];    /* its update to "submitted" acknowledged */
    bool doc[WL_DOCS];          /* doc_put acknowledged */
    bool batch[WL_BATCHES];     /* rows_put acknowledged */
    int64_t audit_acked;        /* audit entries of acknowledged calls */
    int steps;                  /* steps done (the next one to run) */
};

/* The number of steps of the workload. */
int wl_steps(void);

/*
 * Run step k on s; the acknowledgement is recorded in w when it returns 0.
 * 0 or the store's -RX_E_* (err set).
 */
int wl_step(struct wl *w, struct rx_store *s, int k, struct rx_err *err);

/*
 * What w says was acknowledged is in s (opened after the run), exactly
 * once and unchanged; PRAGMA integrity_check is "ok"; the audit chain of
 * the file at path verifies with at least w->audit_acked entries.  0, or
 * -1 with why (a test message) filled.
 */
int wl_check(const struct wl *w, struct rx_store *s, const char *path, char *why, size_t whylen);

/* Copy the file from to to (0 or -1). */
int wl_copy(const char *from, const char *to);

/* Remove path and its -wal, -shm and -journal side files. */
void wl_remove(const char *path);

#endif
