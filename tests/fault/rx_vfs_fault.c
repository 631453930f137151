/*
 * rx_vfs_fault.c - the test-only SQLite VFS of rx_vfs_fault.h: power cuts
 * and injected faults over the default VFS.
 *
 * Power loss.  For every tracked file (main database, rollback journal,
 * WAL; by path, shared by every handle on it) the VFS keeps the size it had
 * at its last xSync and an undo log of what changed since: for each xWrite
 * the bytes it overwrote inside the synced size and the bytes it wrote; for
 * each xTruncate the bytes it cut off inside the synced size.  An xSync of
 * the file empties its log (what fsync promises).  Restoring after a cut
 * undoes the log newest first and cuts the file to its synced size, which
 * is the file as of its last xSync; with a seed, it then writes again a
 * random subset of the dropped writes, oldest first (a disk cache that
 * wrote some of them out before the power went).  A file created after
 * tracking began and never synced is removed: the directory entry of a new
 * file is durable only once the file is synced (SQLite's unix VFS syncs the
 * directory at a journal's or WAL's first sync).
 *
 * Every write and sync happens under the VFS's mutex together with its
 * record, so the log's order is the disk's order.
 *
 * Nothing here is copied from SQLite's test_vfs.c or test_journal.c; the
 * idea (a wrapper VFS that remembers what an fsync has not yet made
 * durable) is the same.  Reference: https://sqlite.org/vfs.html,
 * https://sqlite.org/c3ref/io_methods.html.
 */
#include "rx_vfs_fault.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ================================================================ state */

struct rec {
    bool trunc;        /* a truncate (to size), else a write (of n bytes at off) */
    int64_t off;       /* write: where; truncate: the new size */
    size_t n;          /* write: bytes written */
    uint8_t *data;     /* write: the bytes written */
    uint8_t *old;      /* the bytes it replaced or cut off, inside the synced size */
    size_t oldn;       /* ... how many (at off) */
    struct rec *next;  /* newer */
    struct rec *prev;  /* older */
};

struct tfile {
    char *path;
    bool durable;        /* its directory entry survives a cut */
    int64_t synced_size; /* its size at the last xSync */
    bool gone;           /* deleted: no longer tracked, kept until reset for open handles */
    struct rec *oldest, *newest;
    struct tfile *next;
};

struct ffile {
    sqlite3_file base;
    struct tfile *tf; /* NULL: not tracked (temporary files) */
    sqlite3_file *real;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static sqlite3_vfs *orig;  /* the wrapped VFS */
static sqlite3_vfs fvfs;   /* "rxfault" */
static struct tfile *files;     /* tracked, by path */
static struct tfile *graveyard; /* deleted while a handle may still point at them */
static bool tracking;           /* rx_vfs_fault_reset turns it on */

static struct {
    enum rx_fault kind;
    bool armed;    /* kind fires at op number at */
    uint64_t at;   /* the counter value at which it fires */
    bool sticky;   /* keeps failing once fired */
    bool fired;    /* has fired since armed */
    bool failing;  /* fired and sticky: every applicable op fails */
    bool dead;     /* the power is cut */
    uint64_t ops;  /* counted operations */
    uint64_t ws;   /* writes and syncs */
} F;

/* the control file */
static char *ctl_path;
static struct stat ctl_seen;

enum opk { K_OPEN, K_READ, K_WRITE, K_SYNC, K_TRUNC, K_SIZE, K_DELETE };

static const int ioerr_code[] = {
    [K_OPEN] = SQLITE_CANTOPEN,        [K_READ] = SQLITE_IOERR_READ,
    [K_WRITE] = SQLITE_IOERR_WRITE,    [K_SYNC] = SQLITE_IOERR_FSYNC,
    [K_TRUNC] = SQLITE_IOERR_TRUNCATE, [K_SIZE] = SQLITE_IOERR_FSTAT,
    [K_DELETE] = SQLITE_IOERR_DELETE,
};

/* ================================================================ the control file */

static void arm_locked(enum rx_fault kind, uint64_t after, bool sticky)
{
    F.kind = kind;
    F.armed = kind != RX_FAULT_NONE;
    F.sticky = sticky || kind == RX_FAULT_POWER;
    F.fired = false;
    F.failing = false;
    F.at = (kind == RX_FAULT_POWER ? F.ws : F.ops) + after + 1;
}

/* Read the control file again when it changed (mu held). */
static void ctl_poll(void)
{
    if (!ctl_path)
        return;
    struct stat st;
    if (stat(ctl_path, &st) != 0)
        return;
    if (st.st_ino == ctl_seen.st_ino && st.st_size == ctl_seen.st_size &&
        st.st_mtim.tv_sec == ctl_seen.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == ctl_seen.st_mtim.tv_nsec)
        return;
    FILE *fp = fopen(ctl_path, "r");
    if (!fp)
        return;
    char line[128] = "";
    if (!fgets(line, sizeof(line), fp))
        line[0] = '\0';
    fclose(fp);
    ctl_seen = st;
    char word[16] = "";
    unsigned long long n = 0;
    int k = sscanf(line, "%15s after %llu", word, &n);
    if (k < 1)
        return;
    if (strcmp(word, "ok") == 0) {
        F.armed = F.failing = false;
        F.kind = RX_FAULT_NONE;
    } else if (strcmp(word, "full") == 0) {
        arm_locked(RX_FAULT_FULL, k == 2 ? n : 0, true);
    } else if (strcmp(word, "ioerr") == 0) {
        arm_locked(RX_FAULT_IOERR, k == 2 ? n : 0, true);
    }
}

/* ================================================================ the fault decision */

static bool applies(enum rx_fault kind, enum opk op, bool creating)
{
    switch (kind) {
    case RX_FAULT_FULL:
        return op == K_WRITE || op == K_TRUNC || (op == K_OPEN && creating);
    case RX_FAULT_IOERR:
    case RX_FAULT_POWER:
        return true;
    case RX_FAULT_NONE:
        break;
    }
    return false;
}

/* Count op and say how it fails: 0 = it runs (mu held). */
static int decide(enum opk op, bool creating)
{
    ctl_poll();
    if (F.dead)
        return ioerr_code[op];
    if (op != K_DELETE)
        F.ops++;
    if (op == K_WRITE || op == K_SYNC)
        F.ws++;
    if (!F.armed)
        return 0;
    if (F.kind == RX_FAULT_POWER) {
        if ((op == K_WRITE || op == K_SYNC) && F.ws >= F.at) {
            F.dead = F.fired = true;
            return ioerr_code[op];
        }
        return 0;
    }
    if (F.failing || (!F.fired && F.ops >= F.at)) {
        if (!applies(F.kind, op, creating))
            return 0; /* the fault waits for an operation it applies to */
        F.fired = true;
        if (F.sticky)
            F.failing = true;
        else
            F.armed = false;
        return F.kind == RX_FAULT_FULL ? SQLITE_FULL : ioerr_code[op];
    }
    return 0;
}

/* ================================================================ tracking */

static struct tfile *track(const char *path)
{
    for (struct tfile *t = files; t; t = t->next)
        if (strcmp(t->path, path) == 0)
            return t;
    struct tfile *t = calloc(1, sizeof(*t));
    if (!t || !(t->path = strdup(path))) {
        free(t);
        return NULL;
    }
    struct stat st;
    if (stat(path, &st) == 0) { /* there before: as it is now */
        t->durable = true;
        t->synced_size = (int64_t)st.st_size;
    }
    t->next = files;
    files = t;
    return t;
}

static void recs_free(struct tfile *t)
{
    struct rec *r = t->oldest;
    while (r) {
        struct rec *next = r->next;
        free(r->data);
        free(r->old);
        free(r);
        r = next;
    }
    t->oldest = t->newest = NULL;
}

static void untrack(const char *path)
{
    for (struct tfile **p = &files; *p; p = &(*p)->next) {
        if (strcmp((*p)->path, path) == 0) {
            struct tfile *t = *p;
            *p = t->next;
            recs_free(t);
            t->gone = true;
            t->next = graveyard;
            graveyard = t;
            return;
        }
    }
}

/* Forget every file (no handle may be open). */
static void untrack_all(void)
{
    for (int i = 0; i < 2; i++) {
        struct tfile *t = i ? graveyard : files;
        while (t) {
            struct tfile *next = t->next;
            recs_free(t);
            free(t->path);
            free(t);
            t = next;
        }
    }
    files = graveyard = NULL;
}

/* Save the synced bytes in [off, off + n) of f into r->old (real read). */
static int save_old(struct ffile *f, struct rec *r, int64_t off, int64_t end)
{
    int64_t lim = f->tf->synced_size;
    if (end > lim)
        end = lim;
    if (off >= end)
        return SQLITE_OK;
    sqlite3_int64 size = 0;
    int rc = f->real->pMethods->xFileSize(f->real, &size);
    if (rc != SQLITE_OK)
        return rc;
    if (end > size)
        end = size;
    if (off >= end)
        return SQLITE_OK;
    r->oldn = (size_t)(end - off);
    r->old = malloc(r->oldn);
    if (!r->old)
        return SQLITE_NOMEM;
    rc = f->real->pMethods->xRead(f->real, r->old, (int)r->oldn, off);
    return rc == SQLITE_IOERR_SHORT_READ ? SQLITE_OK : rc;
}

static void rec_add(struct tfile *t, struct rec *r)
{
    r->prev = t->newest;
    if (t->newest)
        t->newest->next = r;
    else
        t->oldest = r;
    t->newest = r;
}

/* ================================================================ io methods */

static int f_close(sqlite3_file *pf)
{
    struct ffile *f = (struct ffile *)pf;
    int rc = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
    return rc;
}

static int f_read(sqlite3_file *pf, void *buf, int n, sqlite3_int64 off)
{
    struct ffile *f = (struct ffile *)pf;
    pthread_mutex_lock(&mu);
    int rc = decide(K_READ, false);
    pthread_mutex_unlock(&mu);
    if (rc)
        return rc;
    return f->real->pMethods->xRead(f->real, buf, n, off);
}

static int f_write(sqlite3_file *pf, const void *buf, int n, sqlite3_int64 off)
{
    struct ffile *f = (struct ffile *)pf;
    pthread_mutex_lock(&mu);
    int rc = decide(K_WRITE, false);
    struct rec *r = NULL;
    if (!rc && f->tf && !f->tf->gone) {
        r = calloc(1, sizeof(*r));
        if (r)
            r->data = malloc((size_t)n);
        if (!r || !r->data)
            rc = SQLITE_NOMEM;
        if (!rc) {
            r->off = off;
            r->n = (size_t)n;
            memcpy(r->data, buf, (size_t)n);
            rc = save_old(f, r, off, off + n);
        }
    }
    if (!rc)
        rc = f->real->pMethods->xWrite(f->real, buf, n, off);
    if (r) {
        if (!rc) {
            rec_add(f->tf, r);
        } else {
            free(r->data);
            free(r->old);
            free(r);
        }
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

static int f_truncate(sqlite3_file *pf, sqlite3_int64 size)
{
    struct ffile *f = (struct ffile *)pf;
    pthread_mutex_lock(&mu);
    int rc = decide(K_TRUNC, false);
    struct rec *r = NULL;
    if (!rc && f->tf && !f->tf->gone) {
        r = calloc(1, sizeof(*r));
        if (!r)
            rc = SQLITE_NOMEM;
        if (!rc) {
            r->trunc = true;
            r->off = size;
            rc = save_old(f, r, size, INT64_MAX);
        }
    }
    if (!rc)
        rc = f->real->pMethods->xTruncate(f->real, size);
    if (r) {
        if (!rc) {
            rec_add(f->tf, r);
        } else {
            free(r->old);
            free(r);
        }
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

static int f_sync(sqlite3_file *pf, int flags)
{
    struct ffile *f = (struct ffile *)pf;
    pthread_mutex_lock(&mu);
    int rc = decide(K_SYNC, false);
    if (!rc)
        rc = f->real->pMethods->xSync(f->real, flags);
    if (!rc && f->tf && !f->tf->gone) {
        sqlite3_int64 size = 0;
        rc = f->real->pMethods->xFileSize(f->real, &size);
        if (!rc) {
            recs_free(f->tf);
            f->tf->synced_size = size;
            f->tf->durable = true;
        }
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

static int f_size(sqlite3_file *pf, sqlite3_int64 *size)
{
    struct ffile *f = (struct ffile *)pf;
    pthread_mutex_lock(&mu);
    int rc = decide(K_SIZE, false);
    pthread_mutex_unlock(&mu);
    if (rc)
        return rc;
    return f->real->pMethods->xFileSize(f->real, size);
}

static int f_lock(sqlite3_file *pf, int l)
{
    struct ffile *f = (struct ffile *)pf;
    return f->real->pMethods->xLock(f->real, l);
}

static int f_unlock(sqlite3_file *pf, int l)
{
    struct ffile *f = (struct ffile *)pf;
    return f->real->pMethods->xUnlock(f->real, l);
}

static int f_check_lock(sqlite3_file *pf, int *out)
{
    struct ffile *f = (struct ffile *)pf;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int f_fcntl(sqlite3_file *pf, int op, void *arg)
{
    struct ffile *f = (struct ffile *)pf;
    /* a size hint may grow the file without xWrite: ignored (it is only a hint) */
    if (op == SQLITE_FCNTL_SIZE_HINT || op == SQLITE_FCNTL_CHUNK_SIZE)
        return SQLITE_OK;
    if (op == SQLITE_FCNTL_MMAP_SIZE)
        return SQLITE_NOTFOUND; /* no memory-mapped I/O: writes must go through xWrite */
    return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int f_sector(sqlite3_file *pf)
{
    struct ffile *f = (struct ffile *)pf;
    return f->real->pMethods->xSectorSize(f->real);
}

static int f_devchar(sqlite3_file *pf)
{
    struct ffile *f = (struct ffile *)pf;
    /* no atomic or sequential writes are claimed: a cut may keep any subset */
    return f->real->pMethods->xDeviceCharacteristics(f->real) &
           (SQLITE_IOCAP_POWERSAFE_OVERWRITE | SQLITE_IOCAP_UNDELETABLE_WHEN_OPEN);
}

static int f_shm_map(sqlite3_file *pf, int pg, int pgsz, int extend, void volatile **pp)
{
    struct ffile *f = (struct ffile *)pf;
    return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, pp);
}

static int f_shm_lock(sqlite3_file *pf, int offset, int n, int flags)
{
    struct ffile *f = (struct ffile *)pf;
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void f_shm_barrier(sqlite3_file *pf)
{
    struct ffile *f = (struct ffile *)pf;
    f->real->pMethods->xShmBarrier(f->real);
}

static int f_shm_unmap(sqlite3_file *pf, int del)
{
    struct ffile *f = (struct ffile *)pf;
    return f->real->pMethods->xShmUnmap(f->real, del);
}

static const sqlite3_io_methods fmethods = {
    .iVersion = 2, /* shared memory, no xFetch: no memory-mapped I/O */
    .xClose = f_close,
    .xRead = f_read,
    .xWrite = f_write,
    .xTruncate = f_truncate,
    .xSync = f_sync,
    .xFileSize = f_size,
    .xLock = f_lock,
    .xUnlock = f_unlock,
    .xCheckReservedLock = f_check_lock,
    .xFileControl = f_fcntl,
    .xSectorSize = f_sector,
    .xDeviceCharacteristics = f_devchar,
    .xShmMap = f_shm_map,
    .xShmLock = f_shm_lock,
    .xShmBarrier = f_shm_barrier,
    .xShmUnmap = f_shm_unmap,
};

/* ================================================================ vfs methods */

static int v_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *pf, int flags,
                  int *out_flags)
{
    (void)vfs;
    struct ffile *f = (struct ffile *)pf;
    memset(f, 0, sizeof(*f));
    f->real = (sqlite3_file *)(f + 1);
    bool tracked = tracking && name && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_MAIN_JOURNAL |
                                     SQLITE_OPEN_WAL | SQLITE_OPEN_SUPER_JOURNAL));
    bool creating = (flags & SQLITE_OPEN_CREATE) && name && access(name, F_OK) != 0;
    pthread_mutex_lock(&mu);
    int rc = decide(K_OPEN, creating);
    if (!rc)
        rc = orig->xOpen(orig, name, f->real, flags, out_flags);
    if (!rc && tracked) {
        f->tf = track(name);
        if (!f->tf) {
            f->real->pMethods->xClose(f->real);
            rc = SQLITE_NOMEM;
        }
    }
    pthread_mutex_unlock(&mu);
    if (rc) {
        pf->pMethods = NULL;
        return rc;
    }
    pf->pMethods = &fmethods;
    return SQLITE_OK;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int dirsync)
{
    (void)vfs;
    pthread_mutex_lock(&mu);
    int rc = decide(K_DELETE, false);
    if (!rc)
        rc = orig->xDelete(orig, name, dirsync);
    if (!rc || rc == SQLITE_IOERR_DELETE_NOENT)
        untrack(name);
    pthread_mutex_unlock(&mu);
    return rc;
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return orig->xAccess(orig, name, flags, out);
}

static int v_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return orig->xFullPathname(orig, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return orig->xDlOpen(orig, name);
}

static void v_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
    (void)vfs;
    orig->xDlError(orig, n, msg);
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    (void)vfs;
    return orig->xDlSym(orig, h, sym);
}

static void v_dlclose(sqlite3_vfs *vfs, void *h)
{
    (void)vfs;
    orig->xDlClose(orig, h);
}

static int v_random(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return orig->xRandomness(orig, n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return orig->xSleep(orig, us);
}

static int v_time(sqlite3_vfs *vfs, double *t)
{
    (void)vfs;
    return orig->xCurrentTime(orig, t);
}

static int v_lasterr(sqlite3_vfs *vfs, int n, char *msg)
{
    (void)vfs;
    return orig->xGetLastError ? orig->xGetLastError(orig, n, msg) : 0;
}

static int v_time64(sqlite3_vfs *vfs, sqlite3_int64 *t)
{
    (void)vfs;
    return orig->xCurrentTimeInt64(orig, t);
}

/* ================================================================ the interface */

int rx_vfs_fault_register(bool make_default)
{
    pthread_mutex_lock(&mu);
    if (!orig) {
        int rc = sqlite3_initialize();
        sqlite3_vfs *o = rc == SQLITE_OK ? sqlite3_vfs_find(NULL) : NULL;
        if (!o || o->iVersion < 2) {
            pthread_mutex_unlock(&mu);
            return rc ? rc : SQLITE_ERROR;
        }
        orig = o;
        fvfs = (sqlite3_vfs){
            .iVersion = 2,
            .szOsFile = (int)sizeof(struct ffile) + o->szOsFile,
            .mxPathname = o->mxPathname,
            .zName = "rxfault",
            .xOpen = v_open,
            .xDelete = v_delete,
            .xAccess = v_access,
            .xFullPathname = v_fullpath,
            .xDlOpen = v_dlopen,
            .xDlError = v_dlerror,
            .xDlSym = v_dlsym,
            .xDlClose = v_dlclose,
            .xRandomness = v_random,
            .xSleep = v_sleep,
            .xCurrentTime = v_time,
            .xGetLastError = v_lasterr,
            .xCurrentTimeInt64 = v_time64,
        };
        rc = sqlite3_vfs_register(&fvfs, make_default);
        pthread_mutex_unlock(&mu);
        return rc;
    }
    pthread_mutex_unlock(&mu);
    return sqlite3_vfs_register(&fvfs, make_default);
}

void rx_vfs_fault_default(bool fault)
{
    sqlite3_vfs_register(fault ? &fvfs : orig, 1);
}

void rx_vfs_fault_arm(enum rx_fault kind, uint64_t after, bool sticky)
{
    pthread_mutex_lock(&mu);
    arm_locked(kind, after, sticky);
    pthread_mutex_unlock(&mu);
}

void rx_vfs_fault_clear(void)
{
    pthread_mutex_lock(&mu);
    F.armed = F.failing = false;
    F.kind = RX_FAULT_NONE;
    pthread_mutex_unlock(&mu);
}

bool rx_vfs_fault_fired(void)
{
    pthread_mutex_lock(&mu);
    bool v = F.fired;
    pthread_mutex_unlock(&mu);
    return v;
}

uint64_t rx_vfs_fault_ops(void)
{
    pthread_mutex_lock(&mu);
    uint64_t v = F.ops;
    pthread_mutex_unlock(&mu);
    return v;
}

uint64_t rx_vfs_fault_writes_syncs(void)
{
    pthread_mutex_lock(&mu);
    uint64_t v = F.ws;
    pthread_mutex_unlock(&mu);
    return v;
}

void rx_vfs_fault_reset(void)
{
    pthread_mutex_lock(&mu);
    untrack_all();
    memset(&F, 0, sizeof(F));
    tracking = true;
    pthread_mutex_unlock(&mu);
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int pwrite_all(int fd, const uint8_t *p, size_t n, int64_t off)
{
    while (n) {
        ssize_t k = pwrite(fd, p, n, (off_t)off);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
        off += k;
    }
    return 0;
}

static int restore_file(struct tfile *t, uint64_t *rng, bool random)
{
    if (!t->durable)
        return unlink(t->path) == 0 || errno == ENOENT ? 0 : -1;
    int fd = open(t->path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    int bad = 0;
    for (struct rec *r = t->newest; r && !bad; r = r->prev)
        if (r->oldn)
            bad = pwrite_all(fd, r->old, r->oldn, r->off);
    if (!bad)
        bad = ftruncate(fd, (off_t)t->synced_size);
    for (struct rec *r = t->oldest; random && r && !bad; r = r->next) {
        if (splitmix(rng) & 1)
            continue; /* this one never reached the platter */
        bad = r->trunc ? ftruncate(fd, (off_t)r->off) : pwrite_all(fd, r->data, r->n, r->off);
    }
    if (!bad)
        bad = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return bad ? -1 : 0;
}

int rx_vfs_fault_power_restore(uint64_t seed)
{
    pthread_mutex_lock(&mu);
    uint64_t rng = seed;
    int ret = 0;
    for (struct tfile *t = files; t; t = t->next)
        if (restore_file(t, &rng, seed != 0) != 0)
            ret = -1;
    untrack_all();
    memset(&F, 0, sizeof(F));
    pthread_mutex_unlock(&mu);
    return ret;
}

void rx_vfs_fault_control(const char *path)
{
    pthread_mutex_lock(&mu);
    free(ctl_path);
    ctl_path = path ? strdup(path) : NULL;
    memset(&ctl_seen, 0, sizeof(ctl_seen));
    ctl_poll();
    pthread_mutex_unlock(&mu);
}
