/*
 * test_powerloss.c - power loss (issue #7, item 1): the store keeps every
 * acknowledged write and stays a sound database whatever moment the power
 * goes.
 *
 * A power cut is not a crash: the kernel's page cache goes too, so what
 * survives is what was fsynced, plus any subset of what was not.  The test
 * storage layer (tests/fault/rx_vfs_fault.c) wraps SQLite's own VFS and
 * remembers every write not yet followed by an fsync of its file; "cutting
 * the power" after the Nth write or sync fails everything from there on,
 * and the files are then put back as a disk would hold them: each as of
 * its last fsync (every other cut), or that plus a random subset of the
 * later writes (the others, seeded by N); a file never synced is gone.
 *
 * A deterministic intake (tests/fault/rx_workload.c) runs through the
 * public store API: staff, families, a session, a code, 48 applications
 * (created with a receipt and an Idempotency-Key, every fourth submitted),
 * staff audit entries, the district's documents and batches of result rows
 * with their audit entries, with a checkpoint every 8 WAL pages so that
 * checkpoints fall inside the sweep.  The power is cut after each write or
 * sync of the run in turn (N = 1, 2, ... to the end), and after each cut
 * the store is opened again with SQLite's normal VFS and
 *   - it opens, PRAGMA integrity_check is "ok";
 *   - every receipt the store acknowledged (the call returned 0) is there
 *     exactly once, unchanged, its acknowledged submission too; no receipt
 *     is there that was never sent; every acknowledged document, row and
 *     family is there unchanged;
 *   - the audit chain verifies, with at least the acknowledged entries;
 *   - the store takes a new application.
 * The same is done for a new store cut during its creation (the
 * migrations).
 *
 * Environment: RUXUE_POWERLOSS_SEEDS=k cuts each point k times with
 * different random subsets (default 1; `make soak` may run more);
 * TMPDIR where the files go (default /dev/shm when there is one, else
 * /tmp).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

#include "../fault/rx_vfs_fault.h"
#include "../fault/rx_workload.h"
#include "store/rx_store.h"
#include "store/rx_store_sqlite.h"

struct fx {
    char dir[512];
    char tmpl[600]; /* a migrated, empty store */
    char path[600]; /* the store under test */
};

static const char *tmp_base(void)
{
    const char *t = getenv("TMPDIR");
    if (t && *t)
        return t;
    return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "%s/ruxue-power-XXXXXX", tmp_base());
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->tmpl, sizeof(f->tmpl), "%s/template.db", f->dir);
    snprintf(f->path, sizeof(f->path), "%s/ruxue.db", f->dir);
    assert_int_equal(rx_vfs_fault_register(false), 0);
    rx_vfs_fault_default(false);
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
    rx_vfs_fault_default(false);
    wl_remove(f->path);
    wl_remove(f->tmpl);
    rmdir(f->dir);
    free(f);
    return 0;
}

static unsigned env_count(const char *name, unsigned def)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    unsigned long n = strtoul(v, NULL, 10);
    return n ? (unsigned)n : def;
}

/* Open path with the normal VFS: it must open, check out, and take a new write. */
static void after_cut(const char *path, const struct wl *w, const char *what, uint64_t n,
                      uint64_t seed)
{
    rx_vfs_fault_default(false);
    struct rx_err e;
    rx_err_clear(&e);
    struct rx_store *s = NULL;
    if (rx_store_open_sqlite(path, &s, &e) != 0)
        fail_msg("%s, cut %llu (seed %llu): the store does not open: %s", what,
                 (unsigned long long)n, (unsigned long long)seed, e.msg);
    char why[300];
    if (wl_check(w, s, path, why, sizeof(why)) != 0) {
        s->ops->close(s);
        fail_msg("%s, cut %llu (seed %llu): %s", what, (unsigned long long)n,
                 (unsigned long long)seed, why);
    }
    rx_err_clear(&e);
    if (s->ops->health(s, &e) != 0)
        fail_msg("%s, cut %llu: health: %s", what, (unsigned long long)n, e.msg);
    rx_err_clear(&e);
    if (s->ops->audit_append(s, "staff:test", "power.restored", "store", "", &e) != 0)
        fail_msg("%s, cut %llu: the store takes no write after the cut: %s", what,
                 (unsigned long long)n, e.msg);
    s->ops->close(s);
}

/* The power goes while a new store is created and migrated. */
static void test_power_cut_while_a_store_is_created(void **state)
{
    struct fx *f = *state;
    unsigned points = 0;
    for (uint64_t n = 1;; n++) {
        wl_remove(f->path);
        rx_vfs_fault_reset();
        rx_vfs_fault_arm(RX_FAULT_POWER, n - 1, true);
        rx_vfs_fault_default(true);
        struct rx_err e;
        rx_err_clear(&e);
        struct rx_store *s = NULL;
        int rc = rx_store_open_sqlite(f->path, &s, &e);
        if (rc == 0)
            s->ops->close(s);
        bool cut = rx_vfs_fault_fired();
        if (!cut) {
            rx_vfs_fault_default(false);
            assert_int_equal(rc, 0);
            break; /* the whole creation ran before the Nth write */
        }
        rx_vfs_fault_default(false);
        uint64_t seed = n % 2 ? n * 2654435761u : 0;
        assert_int_equal(rx_vfs_fault_power_restore(seed), 0);
        struct wl w;
        memset(&w, 0, sizeof(w));
        after_cut(f->path, &w, "creation", n, seed);
        points++;
    }
    print_message("power cut at %u points while a store is created\n", points);
    assert_true(points >= 5);
}

/* One run of the workload on a copy of the template with the power cut after
 * the nth write or sync (0: never); returns whether the cut came. */
static bool run_cut(struct fx *f, uint64_t n, struct wl *w)
{
    wl_remove(f->path);
    assert_int_equal(wl_copy(f->tmpl, f->path), 0);
    memset(w, 0, sizeof(*w));
    rx_vfs_fault_reset();
    if (n)
        rx_vfs_fault_arm(RX_FAULT_POWER, n - 1, true);
    rx_vfs_fault_default(true);
    struct rx_err e;
    rx_err_clear(&e);
    struct rx_store *s = NULL;
    if (rx_store_open_sqlite(f->path, &s, &e) == 0) {
        for (int k = 0; k < wl_steps(); k++) {
            rx_err_clear(&e);
            int rc = wl_step(w, s, k, &e);
            if (rc != 0) {
                /* the only failure here is the cut: the store says so */
                if (!rx_vfs_fault_fired())
                    fail_msg("step %d failed without a cut: %s", k, e.msg);
                if (rc != -RX_E_IO)
                    fail_msg("step %d after the cut: expected -RX_E_IO, got %d (%s)", k, rc,
                             e.msg);
                break;
            }
        }
        s->ops->close(s);
    } else if (!rx_vfs_fault_fired()) {
        fail_msg("open failed without a cut: %s", e.msg);
    }
    rx_vfs_fault_default(false);
    return rx_vfs_fault_fired();
}

/* The power goes at every write and sync of an intake in turn. */
static void test_power_cut_at_every_write_and_sync_of_an_intake(void **state)
{
    struct fx *f = *state;
    unsigned seeds = env_count("RUXUE_POWERLOSS_SEEDS", 1);
    struct wl w;
    assert_false(run_cut(f, 0, &w));
    uint64_t total = rx_vfs_fault_writes_syncs();
    for (int i = 0; i < WL_APPS; i++)
        assert_true(w.app[i]); /* the run without a cut acknowledges everything */
    rx_vfs_fault_power_restore(0);
    unsigned points = 0, acked_min = WL_APPS, acked_max = 0;
    uint64_t stride = stride_of();
    for (uint64_t n = 1; n <= total; n += stride) {
        for (unsigned k = 0; k < seeds; k++) {
            /* every other cut drops every unsynced write; the others keep a random subset */
            uint64_t seed = points % 2 || k ? n * 2654435761u + k : 0;
            if (!run_cut(f, n, &w))
                fail_msg("cut %llu of %llu did not come", (unsigned long long)n,
                         (unsigned long long)total);
            assert_int_equal(rx_vfs_fault_power_restore(seed), 0);
            unsigned acked = 0;
            for (int i = 0; i < WL_APPS; i++)
                acked += w.app[i];
            acked_min = acked < acked_min ? acked : acked_min;
            acked_max = acked > acked_max ? acked : acked_max;
            after_cut(f->path, &w, "intake", n, seed);
            points++;
        }
    }
    print_message("power cut at %u points (every %llu of %llu writes and syncs, %u subset(s) "
                  "each); acknowledged applications at the cut: %u to %u\n",
                  points, (unsigned long long)stride, (unsigned long long)total, seeds, acked_min,
                  acked_max);
    assert_true(points * stride >= 1000 * seeds);
    assert_int_equal(acked_min, 0);
    assert_int_equal(acked_max, WL_APPS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_power_cut_while_a_store_is_created, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_cut_at_every_write_and_sync_of_an_intake, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
