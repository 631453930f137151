/*
 * test_faults.c - disk full and I/O errors (issue #7, item 2) at the store:
 * whichever file operation fails, the call that needed it returns a clear
 * -RX_E_IO, nothing acknowledged is lost, and once the fault clears the
 * same store object (no reopen, no restart) takes every write again.
 *
 * The fault VFS (tests/fault/rx_vfs_fault.c) fails the Nth operation
 * (xOpen, xRead, xWrite, xSync, xTruncate, xFileSize) of the deterministic
 * intake of tests/fault/rx_workload.c, for N = 1 to the end of the run,
 * and keeps failing until cleared, as a full disk stays full:
 *   - disk full: writes, truncates and opens that create fail with
 *     SQLITE_FULL ("disk full");
 *   - I/O error: every operation fails (reads too).
 * For each N: the first call that fails returns -RX_E_IO with a message
 * that names the operation and the reason; the fault is cleared; the same
 * call again, then every later step, succeed on the same store object;
 * the store is healthy; reopened, PRAGMA integrity_check is "ok", every
 * acknowledged receipt is there exactly once and unchanged, and the audit
 * chain verifies.
 *
 * A store locked by another process: a write fails with -RX_E_IO
 * ("locked") after the busy timeout, reads go on, and the same store
 * object writes again once the lock is released.
 *
 * TMPDIR where the files go (default /dev/shm when there is one, else /tmp).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/*
 * The release build cuts at every point; the ASan build (make test runs
 * suite unit again under ASan + UBSan, where the job is memory errors on
 * the failure paths, not coverage) at every 4th, to keep make test short.
 * RUXUE_FAULT_STRIDE=k overrides either.
 */
#if defined(__SANITIZE_ADDRESS__)
#define DEFAULT_STRIDE 4
#else
#define DEFAULT_STRIDE 1
#endif

static uint64_t stride_of(void)
{
    const char *v = getenv("RUXUE_FAULT_STRIDE");
    unsigned long n = v && *v ? strtoul(v, NULL, 10) : 0;
    return n ? n : DEFAULT_STRIDE;
}
#include <sqlite3.h>

#include "../fault/rx_vfs_fault.h"
#include "../fault/rx_workload.h"
#include "store/rx_store.h"
#include "store/rx_store_sqlite.h"

struct fx {
    char dir[512];
    char tmpl[600];
    char path[600];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    const char *t = getenv("TMPDIR");
    if (!t || !*t)
        t = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(f->dir, sizeof(f->dir), "%s/ruxue-faults-XXXXXX", t);
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->tmpl, sizeof(f->tmpl), "%s/template.db", f->dir);
    snprintf(f->path, sizeof(f->path), "%s/ruxue.db", f->dir);
    assert_int_equal(rx_vfs_fault_register(true), 0);
    struct rx_err e;
    rx_err_clear(&e);
    struct rx_store *s = NULL;
    if (rx_store_open_sqlite(f->tmpl, &s, &e) != 0)
        fail_msg("open the template: %s", e.msg);
    s->ops->close(s);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    rx_vfs_fault_clear();
    wl_remove(f->path);
    wl_remove(f->tmpl);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* The reasons a failed operation may give (rx_store_sqlite.c, db_reason). */
static bool clear_reason(enum rx_fault kind, const char *msg)
{
    if (strstr(msg, ": disk full"))
        return true;
    if (kind == RX_FAULT_IOERR)
        return strstr(msg, ": I/O error") || strstr(msg, ": cannot open the store file");
    return strstr(msg, ": cannot open the store file") != NULL;
}

static const char *kind_name(enum rx_fault k)
{
    return k == RX_FAULT_FULL ? "disk full" : "I/O error";
}

/*
 * Run the intake on a fresh copy with kind armed to fail the nth operation
 * after open (0: never).  Returns whether the fault fired; *failures counts
 * calls that failed.
 */
static bool run_fault(struct fx *f, enum rx_fault kind, uint64_t n, uint64_t *ops,
                      unsigned *failures)
{
    wl_remove(f->path);
    assert_int_equal(wl_copy(f->tmpl, f->path), 0);
    rx_vfs_fault_clear();
    struct rx_err e;
    rx_err_clear(&e);
    struct rx_store *s = NULL;
    if (rx_store_open_sqlite(f->path, &s, &e) != 0)
        fail_msg("open: %s", e.msg);
    uint64_t base = rx_vfs_fault_ops();
    rx_vfs_fault_arm(n ? kind : RX_FAULT_NONE, n ? n - 1 : 0, true); /* NONE: nothing fired */
    struct wl w;
    memset(&w, 0, sizeof(w));
    bool failed = false;
    for (int k = 0; k < wl_steps(); k++) {
        rx_err_clear(&e);
        int rc = wl_step(&w, s, k, &e);
        if (rc == 0)
            continue;
        if (failed)
            fail_msg("%s at op %llu: step %d fails after the fault cleared: %d %s",
                     kind_name(kind), (unsigned long long)n, k, rc, e.msg);
        if (!rx_vfs_fault_fired())
            fail_msg("step %d failed without a fault: %s", k, e.msg);
        if (rc != -RX_E_IO || e.code != -RX_E_IO || !clear_reason(kind, e.msg))
            fail_msg("%s at op %llu: step %d: expected -RX_E_IO naming the reason, got %d '%s'",
                     kind_name(kind), (unsigned long long)n, k, rc, e.msg);
        (*failures)++;
        failed = true;
        /* space returns: the same store object, the same call again */
        rx_vfs_fault_clear();
        k--;
    }
    bool fired = rx_vfs_fault_fired();
    rx_vfs_fault_clear();
    *ops = rx_vfs_fault_ops() - base;
    rx_err_clear(&e);
    if (s->ops->health(s, &e) != 0)
        fail_msg("%s at op %llu: health after: %s", kind_name(kind), (unsigned long long)n,
                 e.msg);
    s->ops->close(s);

    /* reopened: everything acknowledged, once; integrity; the chain */
    rx_err_clear(&e);
    if (rx_store_open_sqlite(f->path, &s, &e) != 0)
        fail_msg("%s at op %llu: reopen: %s", kind_name(kind), (unsigned long long)n, e.msg);
    for (int i = 0; i < WL_APPS; i++)
        if (!w.app[i])
            fail_msg("%s at op %llu: application %d never acknowledged though retried",
                     kind_name(kind), (unsigned long long)n, i);
    char why[300];
    if (wl_check(&w, s, f->path, why, sizeof(why)) != 0)
        fail_msg("%s at op %llu: %s", kind_name(kind), (unsigned long long)n, why);
    s->ops->close(s);
    return fired;
}

static void sweep(struct fx *f, enum rx_fault kind)
{
    uint64_t total = 0;
    unsigned failures = 0;
    assert_false(run_fault(f, kind, 0, &total, &failures));
    assert_int_equal(failures, 0);
    unsigned points = 0;
    uint64_t ops, stride = stride_of();
    for (uint64_t n = 1; n <= total; n += stride) {
        if (!run_fault(f, kind, n, &ops, &failures))
            break; /* nothing the fault applies to after op n */
        points++;
    }
    print_message("%s: the Nth of %llu operations failed, N = 1 to the end, every %llu: %u "
                  "runs; %u calls failed and succeeded again on the same store\n",
                  kind_name(kind), (unsigned long long)total, (unsigned long long)stride, points,
                  failures);
    assert_true(points * stride >= total / 2);
    assert_true(failures > 0);
}

static void test_disk_full_at_every_operation_of_an_intake(void **state)
{
    sweep(*state, RX_FAULT_FULL);
}

static void test_io_error_at_every_operation_of_an_intake(void **state)
{
    sweep(*state, RX_FAULT_IOERR);
}

/*
 * A store locked by another process (a backup tool, an operator's sqlite3
 * shell holding a write transaction): a write waits the busy timeout, then
 * fails with -RX_E_IO "locked"; reads go on; once the lock is gone the
 * same store object writes again, and nothing acknowledged is lost.
 */
static void test_locked_store_fails_writes_clearly_and_recovers(void **state)
{
    struct fx *f = *state;
    rx_vfs_fault_clear();
    wl_remove(f->path);
    assert_int_equal(wl_copy(f->tmpl, f->path), 0);
    struct rx_err e;
    rx_err_clear(&e);
    struct rx_store *s = NULL;
    if (rx_store_open_sqlite(f->path, &s, &e) != 0)
        fail_msg("open: %s", e.msg);
    struct wl w;
    memset(&w, 0, sizeof(w));
    int half = wl_steps() / 2, k = 0;
    for (; k < half; k++) {
        rx_err_clear(&e);
        if (wl_step(&w, s, k, &e) != 0)
            fail_msg("step %d: %s", k, e.msg);
    }
    sqlite3 *other;
    assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    rx_err_clear(&e);
    int rc = s->ops->audit_append(s, "staff:test", "test.locked", "store", "", &e);
    assert_int_equal(rc, -RX_E_IO);
    assert_non_null(strstr(e.msg, "locked"));
    /* reads need no lock in WAL mode */
    rx_err_clear(&e);
    assert_int_equal(s->ops->health(s, &e), 0);
    assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    for (; k < wl_steps(); k++) {
        rx_err_clear(&e);
        if (wl_step(&w, s, k, &e) != 0)
            fail_msg("step %d after the lock: %s", k, e.msg);
    }
    s->ops->close(s);
    rx_err_clear(&e);
    assert_int_equal(rx_store_open_sqlite(f->path, &s, &e), 0);
    char why[300];
    if (wl_check(&w, s, f->path, why, sizeof(why)) != 0)
        fail_msg("%s", why);
    s->ops->close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_disk_full_at_every_operation_of_an_intake, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_io_error_at_every_operation_of_an_intake, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_locked_store_fails_writes_clearly_and_recovers, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
