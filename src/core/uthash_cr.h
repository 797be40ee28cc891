/*
 * uthash_cr.h - uthash configured for chainrule: allocations go through the
 * library's allocator hook, and running out of memory is reported instead
 * of calling exit(). Every function that adds to a hash declares
 * `int cr_uthash_oom = 0;` and checks it after HASH_ADD*.
 */
#ifndef CR_UTHASH_CR_H
#define CR_UTHASH_CR_H

#include "core/internal.h"

#define uthash_malloc(sz) cr_malloc(sz)
#define uthash_free(ptr, sz) cr_free(ptr)
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (cr_uthash_oom = 1)

#include <uthash.h>

#endif
