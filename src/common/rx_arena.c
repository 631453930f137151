/*
 * rx_arena.c - the region allocator of rx_arena.h.
 */
#include "rx_arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct rx_arena_block {
    struct rx_arena_block *next;
    size_t size;   /* usable bytes after the header */
    size_t off;    /* bytes used */
    size_t mapped; /* 0 = from malloc; else the length of the mmap */
    /* data follows, 16-aligned */
};

/*
 * Big blocks (a run over 10^6 students asks for arrays of tens of MiB) are
 * mapped directly and advised to use transparent huge pages: first touch of
 * a 4 KiB page costs a fault, and at 10^6 students those faults cost more
 * than the matching itself.  Where huge pages are off, madvise is a no-op.
 */
#define BIG_BLOCK ((size_t)4 << 20)

#define HDR ((sizeof(struct rx_arena_block) + 15) & ~(size_t)15)

void rx_arena_init(struct rx_arena *a, size_t block)
{
    a->head = NULL;
    a->block = block ? block : (size_t)1 << 20;
    a->used = 0;
    a->limit = 0;
}

void rx_arena_release(struct rx_arena *a)
{
    struct rx_arena_block *b = a->head;
    while (b) {
        struct rx_arena_block *next = b->next;
        if (b->mapped)
            munmap(b, b->mapped);
        else
            free(b);
        b = next;
    }
    a->head = NULL;
    a->used = 0;
}

void rx_arena_rewind(struct rx_arena *a)
{
    for (struct rx_arena_block *b = a->head; b; b = b->next)
        b->off = 0;
    a->used = 0;
}

static struct rx_arena_block *block_new(size_t size)
{
    if (size > SIZE_MAX - HDR - BIG_BLOCK)
        return NULL;
    struct rx_arena_block *b;
    size_t mapped = 0;
    if (HDR + size >= BIG_BLOCK) {
        const size_t huge = (size_t)2 << 20;
        mapped = (HDR + size + huge - 1) & ~(huge - 1);
        void *p = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
#ifdef MADV_HUGEPAGE
        madvise(p, mapped, MADV_HUGEPAGE);
#endif
        b = p;
    } else {
        b = malloc(HDR + size);
        if (!b)
            return NULL;
    }
    b->size = size;
    b->off = 0;
    b->mapped = mapped;
    return b;
}

void *rx_arena_alloc(struct rx_arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n)
        return NULL;
    if (a->limit && (need > a->limit || a->used > a->limit - need))
        return NULL;
    struct rx_arena_block *b = a->head;
    if (!b || b->size - b->off < need) {
        if (need > a->block / 4) {
            /* After a rewind, the smallest empty block that is big enough
             * serves again (best fit; an arena holds tens of blocks). */
            struct rx_arena_block *fit = NULL;
            for (struct rx_arena_block *f = a->head; f; f = f->next)
                if (f->off == 0 && f->size >= need && f != b && (!fit || f->size < fit->size))
                    fit = f;
            if (fit) {
                fit->off = need;
                a->used += need;
                return (char *)fit + HDR;
            }
            /* A big array gets a block of its own, linked behind the
             * current one so the current block keeps serving small ones. */
            struct rx_arena_block *big = block_new(need ? need : 16);
            if (!big)
                return NULL;
            big->off = need;
            if (b) {
                big->next = b->next;
                b->next = big;
            } else {
                big->next = NULL;
                a->head = big;
            }
            a->used += need;
            return (char *)big + HDR;
        }
        b = block_new(a->block);
        if (!b)
            return NULL;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b + HDR + b->off;
    b->off += need;
    a->used += need;
    return p;
}

void *rx_arena_calloc(struct rx_arena *a, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = rx_arena_alloc(a, count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

char *rx_arena_strndup(struct rx_arena *a, const char *s, size_t n)
{
    char *p = rx_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *rx_arena_strdup(struct rx_arena *a, const char *s)
{
    return rx_arena_strndup(a, s, strlen(s));
}
