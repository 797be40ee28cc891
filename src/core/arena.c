/*
 * arena.c - the bump allocator a graph draws its nodes, names and tensor
 * storage from. Chunks grow geometrically; everything is freed at once
 * when the graph is freed, and a failed node creation rewinds to a mark so
 * the graph is left unchanged. Large chunks are advised onto huge pages,
 * and every chunk is faulted in ahead of the bump pointer a stretch at a
 * time, not a page fault per page.
 */
#include "core/internal.h"

#include <stdint.h>
#include <string.h>

struct cr_arena_chunk {
    cr_arena_chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    size_t ready; /* bytes from the start of the data already prefaulted */
    /* data follows the header */
};

#define CHUNK_HEADER 64 /* room for the header, keeping malloc's alignment */
#define CHUNK_MIN (64u * 1024u)
#define CHUNK_MAX (32u * 1024u * 1024u)
#define HUGE_CHUNK (4u * 1024u * 1024u) /* from here on advised onto huge pages */
static unsigned char *chunk_data(cr_arena_chunk *c)
{
    return (unsigned char *)c + CHUNK_HEADER;
}

/* Makes sure the chunk's first end bytes are faulted in, prefaulting the
 * next stretch in one call (cr_prefault) when the bump pointer crosses
 * into it: a 100,000-node scalar graph is ~24 MB of fresh arena, and one
 * page fault per page was most of the time its creation took. The
 * stretch is a huge page in huge chunks, a quarter of the chunk (at least
 * 16 KiB) in smaller ones, so a small graph does not fault in what it
 * never uses. */
static void chunk_ready(cr_arena_chunk *c, size_t end)
{
    const size_t step = c->size >= HUGE_CHUNK  ? CR_HUGE_PAGE
                        : c->size / 4 > 16384u ? c->size / 4
                                               : 16384u;
    /* to a multiple of step in memory (a huge page's boundary) */
    const uintptr_t base = (uintptr_t)chunk_data(c);
    size_t ready = (size_t)((base + end + step - 1) / step * step - base);
    if (ready > c->size)
        ready = c->size;
    cr_prefault(chunk_data(c) + c->ready, ready - c->ready);
    c->ready = ready;
}

void cr_arena_init(cr_arena *a)
{
    a->head = NULL;
    a->total = 0;
}

void cr_arena_release(cr_arena *a)
{
    cr_arena_chunk *c = a->head;
    while (c) {
        cr_arena_chunk *next = c->next;
        cr_free(c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
}

void *cr_arena_alloc(cr_arena *a, size_t size, size_t align)
{
    cr_arena_chunk *c = a->head;
    if (c) {
        uintptr_t base = (uintptr_t)chunk_data(c);
        size_t start =
            (size_t)(((base + c->used + align - 1) & ~(uintptr_t)(align - 1)) - base);
        if (start <= c->size && size <= c->size - start) {
            c->used = start + size;
            if (c->used > c->ready)
                chunk_ready(c, c->used);
            return memset(chunk_data(c) + start, 0, size);
        }
    }
    /* New chunk: at least the request, growing with the arena; once it
     * holds 1 MiB, 8 MiB at least, so a large graph soon sits on huge
     * pages (only what is used gets faulted in: chunk_ready). */
    size_t want = a->total < CHUNK_MIN ? CHUNK_MIN : a->total;
    if (a->total >= HUGE_CHUNK / 4 && want < 2 * HUGE_CHUNK)
        want = 2 * HUGE_CHUNK;
    if (want > CHUNK_MAX)
        want = CHUNK_MAX;
    if (size > SIZE_MAX - CHUNK_HEADER - 64)
        return NULL;
    if (want < size + align)
        want = size + align;
    /* A huge chunk is a huge page longer and starts its data on a huge
     * page's boundary, so all of it can be on huge pages (the skipped
     * start is never touched and costs no memory). */
    const int huge = want >= HUGE_CHUNK && want <= SIZE_MAX - CHUNK_HEADER - CR_HUGE_PAGE;
    if (huge)
        want += CR_HUGE_PAGE;
    c = cr_malloc(CHUNK_HEADER + want);
    if (!c)
        return NULL;
    const size_t skip = huge ? cr_huge_page_skip(chunk_data(c)) : 0;
    c->next = a->head;
    c->size = want;
    c->used = skip;
    c->ready = skip;
    a->head = c;
    a->total += want;
    if (huge)
        cr_advise_huge(chunk_data(c) + skip, want - skip);
    uintptr_t base = (uintptr_t)chunk_data(c);
    size_t start = (size_t)(((base + skip + align - 1) & ~(uintptr_t)(align - 1)) - base);
    c->used = start + size;
    chunk_ready(c, c->used);
    return memset(chunk_data(c) + start, 0, size);
}

cr_arena_mark cr_arena_get_mark(const cr_arena *a)
{
    cr_arena_mark m = {a->head, a->head ? a->head->used : 0};
    return m;
}

void cr_arena_rewind(cr_arena *a, cr_arena_mark mark)
{
    while (a->head && a->head != mark.head) {
        cr_arena_chunk *next = a->head->next;
        a->total -= a->head->size;
        cr_free(a->head);
        a->head = next;
    }
    if (a->head)
        a->head->used = mark.used;
}
