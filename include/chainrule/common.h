/*
 * chainrule/common.h - status codes, the error-detail struct, the allocator
 * hook and the export macro shared by every chainrule module.
 *
 * Every fallible chainrule call returns a cr_status (or NULL for
 * constructors) and leaves the detail in a cr_error: either one the caller
 * passes in, or the one its graph keeps (cr_graph_error()).
 *
 * NULL arguments: one policy for every public function.
 *  - A call that returns a cr_status returns CR_EINVAL when a pointer it
 *    needs is NULL (with a message in the caller's cr_error when one is
 *    given).
 *  - A call that returns a new object, a node or another pointer returns
 *    NULL. A node constructor given a NULL input keeps the error that made
 *    the input NULL (chainrule/graph.h), so an expression can be built in
 *    one go and checked once.
 *  - A getter given a NULL object returns what says "nothing": NULL, 0,
 *    (size_t)-1 where 0 is a valid answer (an index, a class) and its
 *    comment says so, -1 for an int where 0 is valid (a rank, a length
 *    returned like snprintf's), CR_NODE_NONE for a node's kind, NaN for a
 *    double.
 *  - Functions that free (cr_*_free) and other calls returning void accept
 *    NULL and do nothing.
 * Pointers that may be NULL on purpose (a cr_error *, options meaning "the
 * defaults", an output that is only wanted sometimes) say so in their
 * function's comment. tests/null_calls checks every public function
 * against this policy: it is generated from these headers
 * (tests/gen_null_calls.py), so a new function cannot be forgotten.
 */
#ifndef CHAINRULE_COMMON_H
#define CHAINRULE_COMMON_H

#include <stddef.h>

#if defined(CR_BUILDING_LIBRARY) && defined(__GNUC__)
#define CR_API __attribute__((visibility("default")))
#else
#define CR_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Status of a chainrule call. CR_OK is zero; errors are negative and are
 * never renumbered, so they may be stored or compared across versions. */
typedef enum cr_status {
    CR_OK = 0,
    CR_ENOMEM = -1,    /* an allocation failed */
    CR_EINVAL = -2,    /* an argument is invalid (NULL, out of range, ...) */
    CR_ESHAPE = -3,    /* tensor shapes do not fit the operation */
    CR_ENAME = -4,     /* a name is taken, empty or otherwise unusable */
    CR_ENOTFOUND = -5, /* a name or file does not exist */
    CR_ERANGE = -6,    /* a size overflows or exceeds a limit */
    CR_EDOMAIN = -7,   /* a value is NaN or infinite, or outside a domain */
    CR_EIO = -8,       /* reading or writing a file failed */
    CR_EFORMAT = -9,   /* a file or text is malformed */
    CR_ESTATE = -10,   /* the call does not fit the object's state */
    CR_ENOTSUP = -11,  /* the feature was not built in or is not supported */
    CR_ESYNTAX = -12,  /* an expression has a syntax error */
    CR_ECHECK = -13    /* a verification (gradient check) failed */
} cr_status;

/* Returns a static, human-readable description of a status ("out of
 * memory"). Never NULL; unknown codes give "unknown status". */
CR_API const char *cr_strerror(cr_status status);

/* Detail about the last failure. Callers may pass their own cr_error to the
 * calls that accept one (it may also be NULL); graphs keep one each.
 * line and column are 1-based and 0 when they do not apply; where names the
 * node, file or function involved (may be empty). Strings are always
 * NUL-terminated, truncated if needed. */
typedef struct cr_error {
    cr_status status;
    int line;
    int column;
    char where[128];
    char message[384];
} cr_error;

/* Resets err to "no error" (status CR_OK, empty strings). err may be NULL. */
CR_API void cr_error_clear(cr_error *err);

/* The allocator every chainrule allocation goes through. malloc_fn and
 * realloc_fn return NULL on failure; free_fn accepts NULL. ctx is passed
 * back unchanged. */
typedef struct cr_allocator {
    void *(*malloc_fn)(size_t size, void *ctx);
    void *(*realloc_fn)(void *ptr, size_t size, void *ctx);
    void (*free_fn)(void *ptr, void *ctx);
    void *ctx;
} cr_allocator;

/* Installs the allocator (copied); NULL restores the C library's malloc,
 * realloc and free. Call it before creating any chainrule object, and not
 * while another thread uses chainrule: memory must be freed by the allocator
 * that made it. Returns CR_EINVAL if a function pointer is missing. */
CR_API cr_status cr_set_allocator(const cr_allocator *allocator);

/* Sets how many threads chainrule may use, for its own kernels and for the
 * BLAS it calls (OpenBLAS's thread count is set to the same number, so the
 * two never oversubscribe the cores). n = 0 takes the CR_NUM_THREADS
 * environment variable, or 1 when it is unset or invalid; that is also what
 * applies if this is never called. With one thread, OpenBLAS's idle worker
 * threads are stopped (they would spin for about 0.1 s after it loads;
 * OpenBLAS starts them again for its next threaded call). The first
 * cr_graph_new settles this, so a program that also runs threaded OpenBLAS
 * work of its own should call this (or create its first graph) before
 * starting that work, not while it runs. CR_EINVAL if n is negative or over
 * 1024. Process-wide: call it before starting work, not concurrently with
 * it. With 2 or more, a large convolution kernel splits its work over two
 * threads (bit for bit the one-thread result) and holds OpenBLAS to one
 * thread while it runs, which other threads' BLAS calls see meanwhile. */
CR_API cr_status cr_set_num_threads(int n);
/* The thread count in force (deciding it from CR_NUM_THREADS if unset). */
CR_API int cr_num_threads(void);

/* The library's version as "MAJOR.MINOR.PATCH" (static string). */
CR_API const char *cr_version(void);

#ifdef __cplusplus
}
#endif
#endif
