/*
 * alloc.c - the allocator hook: every allocation chainrule makes goes
 * through cr_malloc/cr_realloc/cr_free, which call the installed
 * cr_allocator (the C library's by default). Tests install a counting,
 * failing allocator through cr_set_allocator.
 */
#ifdef __linux__
#define _DEFAULT_SOURCE 1 /* madvise's MADV_HUGEPAGE, MADV_POPULATE_WRITE */
#endif
#include "core/internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#include <unistd.h>
#endif

static void *libc_malloc(size_t size, void *ctx)
{
    CR_UNUSED(ctx);
    return malloc(size);
}

static void *libc_realloc(void *ptr, size_t size, void *ctx)
{
    CR_UNUSED(ctx);
    return realloc(ptr, size);
}

static void libc_free(void *ptr, void *ctx)
{
    CR_UNUSED(ctx);
    free(ptr);
}

static cr_allocator current = {libc_malloc, libc_realloc, libc_free, NULL};

cr_status cr_set_allocator(const cr_allocator *allocator)
{
    if (allocator == NULL) {
        current = (cr_allocator){libc_malloc, libc_realloc, libc_free, NULL};
        return CR_OK;
    }
    if (!allocator->malloc_fn || !allocator->realloc_fn || !allocator->free_fn)
        return CR_EINVAL;
    current = *allocator;
    return CR_OK;
}

void *cr_malloc(size_t size) { return current.malloc_fn(size ? size : 1, current.ctx); }

void *cr_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    if (current.malloc_fn == libc_malloc) /* the C library's calloc skips
                                               zeroing fresh pages */
        return calloc(count ? count : 1, size ? size : 1);
    void *p = cr_malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *cr_realloc(void *ptr, size_t size)
{
    return current.realloc_fn(ptr, size ? size : 1, current.ctx);
}

void cr_free(void *ptr)
{
    if (ptr)
        current.free_fn(ptr, current.ctx);
}

char *cr_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = cr_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

cr_status cr_grow(void **array, size_t *cap, size_t need, size_t elem_size)
{
    if (need <= *cap)
        return CR_OK;
    size_t new_cap = *cap ? *cap : 16;
    while (new_cap < need) {
        if (new_cap > SIZE_MAX / 2)
            return CR_ERANGE;
        new_cap *= 2;
    }
    if (new_cap > SIZE_MAX / elem_size)
        return CR_ERANGE;
    void *p = cr_realloc(*array, new_cap * elem_size);
    if (!p)
        return CR_ENOMEM;
    *array = p;
    *cap = new_cap;
    return CR_OK;
}

void cr_advise_huge(void *p, size_t size)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (size < 2 * CR_HUGE_PAGE)
        return;
    uintptr_t lo = ((uintptr_t)p + CR_HUGE_PAGE - 1) & ~(uintptr_t)(CR_HUGE_PAGE - 1);
    uintptr_t hi = ((uintptr_t)p + size) & ~(uintptr_t)(CR_HUGE_PAGE - 1);
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    CR_UNUSED(p);
    CR_UNUSED(size);
#endif
}

void cr_prefault(void *p, size_t size)
{
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
    if (size == 0)
        return;
    /* madvise wants a page-aligned start; the page holding p is mapped
     * (it holds p), and populating leaves every byte as it was */
    const long page_size = sysconf(_SC_PAGESIZE);
    const uintptr_t page = page_size > 0 ? (uintptr_t)page_size : 4096;
    uintptr_t lo = (uintptr_t)p & ~(page - 1);
    (void)madvise((void *)lo, (uintptr_t)p + size - lo, MADV_POPULATE_WRITE);
#else
    CR_UNUSED(p);
    CR_UNUSED(size);
#endif
}
