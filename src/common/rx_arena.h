/*
 * rx_arena.h - a region allocator: many allocations, one release.
 *
 * The engine allocates every array of a run from an arena the caller owns;
 * rx_arena_release() frees them all at once (PostgreSQL memory contexts,
 * git's mem-pool).  Small requests are carved from blocks of `block` bytes;
 * a request larger than a quarter block gets a block of its own, so the
 * waste per block stays under 25%.  Every block is zeroed only when asked
 * (rx_arena_calloc).  Not thread-safe: one arena per thread or request.
 */
#ifndef RX_ARENA_H
#define RX_ARENA_H

#include <stddef.h>

struct rx_arena_block;

struct rx_arena {
    struct rx_arena_block *head; /* newest block first */
    size_t block;                /* default block size in bytes */
    size_t used;                 /* bytes handed out, for the peak-memory reports */
    size_t limit;                /* 0 = none; otherwise allocations past it fail */
};

/* Fill caller storage; block = 0 picks 1 MiB.  Allocates nothing yet. */
void rx_arena_init(struct rx_arena *a, size_t block);

/* Free every block; the arena can be used again afterwards. */
void rx_arena_release(struct rx_arena *a);

/*
 * Forget every allocation but keep the blocks, so the next allocations
 * reuse memory that is already mapped (no page faults, no zeroing by the
 * kernel).  For scratch arrays that one phase of a run needs and the next
 * does not.  Every pointer from the arena is invalid afterwards.
 */
void rx_arena_rewind(struct rx_arena *a);

/*
 * Return n bytes aligned to 16, owned by the arena (freed by
 * rx_arena_release), or NULL when memory runs out or the limit is passed.
 * n = 0 returns a valid unique pointer.
 */
void *rx_arena_alloc(struct rx_arena *a, size_t n);

/* rx_arena_alloc of count*size zeroed bytes; NULL on overflow too. */
void *rx_arena_calloc(struct rx_arena *a, size_t count, size_t size);

/* Copy a NUL-terminated string into the arena; NULL on failure. */
char *rx_arena_strdup(struct rx_arena *a, const char *s);

/* Copy n bytes and add a NUL; NULL on failure. */
char *rx_arena_strndup(struct rx_arena *a, const char *s, size_t n);

#endif
