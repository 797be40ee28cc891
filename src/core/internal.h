/*
 * internal.h - private structures shared by chainrule's own source files:
 * the allocator wrappers, the arena, tensors, nodes, graphs and the op
 * descriptor. Nothing here is installed; the public API is in include/.
 */
#ifndef CR_INTERNAL_H
#define CR_INTERNAL_H

#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "chainrule.h"

#include <locale.h>
#include <stdarg.h>
#include <stdint.h>

/* ---- allocation (alloc.c): every allocation of the library goes here ---- */
void *cr_malloc(size_t size);
void *cr_calloc(size_t count, size_t size); /* overflow-checked, zeroed */
void *cr_realloc(void *ptr, size_t size);
void cr_free(void *ptr);
char *cr_strdup(const char *s);
/* Grows *array (of elem_size items, capacity *cap) to hold at least need
 * items, doubling. CR_OK, CR_ENOMEM or CR_ERANGE; *array unchanged on error.
 * The new part is left to fault in as it is used (a caller that knows it
 * fills it all soon may cr_prefault it: a buffer's last doubling is mostly
 * never used). */
cr_status cr_grow(void **array, size_t *cap, size_t need, size_t elem_size);

/* ---- errors (error.c) ---- */
/* Fills err (if not NULL) and returns status. where may be NULL. */
cr_status cr_error_set(cr_error *err, cr_status status, const char *where, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
cr_status cr_error_setv(cr_error *err, cr_status status, const char *where, const char *fmt,
                        va_list ap);
/* What a call that writes text like snprintf gives when it has nothing to
 * write (a NULL object, the NULL policy of common.h; out of memory): ""
 * in buf when buf and size allow, and -1. */
int cr_text_none(char *buf, size_t size);

/* The size of a transparent huge page on x86-64 Linux: what arena chunks
 * and the direct backward's block align to. */
#define CR_HUGE_PAGE (2u * 1024u * 1024u)
/* Arrays about to be filled are prefaulted from this size on (a graph's
 * node list, a backward's wanted list): below it, the madvise call costs
 * more than the page faults it saves. */
#define CR_PREFAULT_MIN (64u * 1024u)
/* Bytes from p to the next huge page's boundary (0 when p is on one). */
static inline size_t cr_huge_page_skip(const void *p)
{
    return (CR_HUGE_PAGE - (uintptr_t)p % CR_HUGE_PAGE) % CR_HUGE_PAGE;
}

/* Advises Linux to back the 2 MiB-aligned interior of the size bytes at p
 * (an allocation of at least 4 MiB: arena chunks, large tensors) with
 * transparent huge pages ("madvise" mode): page faults otherwise dominate
 * the first pass over them (a 100,000-node graph's first backward, a data
 * set being read). Only advice: errors are ignored; elsewhere a no-op. */
void cr_advise_huge(void *p, size_t size);
/* Asks Linux to fault in the pages of the size bytes at p now, in one call
 * (madvise(MADV_POPULATE_WRITE), Linux 5.14 and later), instead of one
 * page fault per page at first touch. Page faults are slow on this
 * project's VM (tens of microseconds each under load; docs/performance.md),
 * and the bytes are written soon anyway (a bump allocator's next stretch,
 * an array about to be filled). Only advice: contents are unchanged,
 * errors ignored; elsewhere a no-op. */
void cr_prefault(void *p, size_t size);

/* ---- scans over doubles (kernels.c) ----
 * GCC's -O2, the default CFLAGS, vectorises straight-line code but not a
 * loop of unknown length. Hot loops therefore run in blocks of CR_BLOCK
 * elements whose fixed-length inner loop, marked CR_UNROLL_BLOCK, is
 * unrolled completely; the unrolled statements then become vector
 * instructions (docs/performance.md, "What made it fast", has the figures).
 * Loops over several arrays need
 * restrict pointers, or the compiler must assume they overlap. */
#define CR_BLOCK 8
#define CR_UNROLL_BLOCK _Pragma("GCC unroll 8")

/* The library is built for the baseline x86-64 (SSE2). The loops that are
 * bound by memory traffic (the scans, y += x, the SGD update) also get an
 * AVX2 copy that the loader picks on CPUs that have it (target_clones,
 * when configure finds the compiler and linker able), for twice as wide
 * loads (figures in docs/performance.md). Without FMA in the clone, both
 * copies compute bit for bit the same results. GCC only: clang 14's clones
 * do not link from a static archive (the fuzzers' build), and
 * ThreadSanitizer crashes in their resolvers. */
#if defined(CR_HAVE_TARGET_CLONES) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define CR_AVX2_CLONE __attribute__((target_clones("avx2", "default")))
#else
#define CR_AVX2_CLONE
#endif

/* for (size_t i = 0; i < n; i++) { body } in blocks of CR_BLOCK, then the
 * remaining tail; body (the macro's last arguments) is compiled twice. */
#define CR_FOR_BLOCKED(i, n, ...)                                                          \
    do {                                                                                   \
        const size_t i##_end_ = (n);                                                       \
        size_t i##_blk_ = 0;                                                               \
        for (; i##_blk_ + CR_BLOCK <= i##_end_; i##_blk_ += CR_BLOCK) {                    \
            CR_UNROLL_BLOCK                                                                \
            for (size_t i = i##_blk_; i < i##_blk_ + CR_BLOCK; i++) {                      \
                __VA_ARGS__                                                                \
            }                                                                              \
        }                                                                                  \
        for (size_t i = i##_blk_; i < i##_end_; i++) {                                     \
            __VA_ARGS__                                                                    \
        }                                                                                  \
    } while (0)

/* The sum of a block's CR_BLOCK partial sums, in a fixed order. */
static inline double cr_sum_of_block(const double acc[CR_BLOCK])
{
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
           ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}
/* The sum of squares of x[0..n), in CR_BLOCK partial sums added in a fixed
 * order, so the result depends only on the data. It is not finite when an
 * element is not finite (or when the squares overflow). */
double cr_sum_squares(const double *x, size_t n);
/* The index of the first NaN or infinity in x[0..n), or n if none. */
size_t cr_first_nonfinite(const double *x, size_t n);
/* y[i] += x[i] for i < n; the arrays must not overlap. */
void cr_add_into(double *restrict y, const double *restrict x, size_t n);
/* sigmoid(v) and tanh(v) within a few units in the last place, NaN for
 * NaN, and y[i] = the same of x[i] for i < n in vectorised loops (the
 * arrays must not overlap): every sigmoid and tanh of the library, so a
 * value does not depend on the size of the tensor it sits in. */
double cr_sigmoid_value(double v);
double cr_tanh_value(double v);
void cr_sigmoid_array(double *restrict y, const double *restrict x, size_t n);
void cr_tanh_array(double *restrict y, const double *restrict x, size_t n);
/* The Frobenius norm of a tensor: sqrt(cr_sum_squares). */
double cr_tensor_norm(const cr_tensor *t);

/* ---- text (expr.c) ----
 * Length of the valid UTF-8 sequence at s (at most n bytes: 1 for ASCII),
 * or 0 for a malformed, overlong or surrogate sequence or one above
 * U+10FFFF. */
size_t cr_utf8_length(const unsigned char *s, size_t n);

/* ---- the C locale for numbers in text (clocale.c) ----
 * Switches the calling thread to the C locale and returns the locale to go
 * back to with cr_c_locale_leave ((locale_t)0: nothing was switched). */
locale_t cr_c_locale_enter(void);
void cr_c_locale_leave(locale_t previous);
/* result = call, run in the C locale. */
#define CR_IN_C_LOCALE(result, call)                                                       \
    do {                                                                                   \
        const locale_t cr_previous_locale_ = cr_c_locale_enter();                          \
        (result) = (call);                                                                 \
        cr_c_locale_leave(cr_previous_locale_);                                            \
    } while (0)

/* ---- arena (arena.c): bump allocation in chunks, freed all at once ---- */
typedef struct cr_arena_chunk cr_arena_chunk;
typedef struct cr_arena {
    cr_arena_chunk *head; /* newest chunk first */
    size_t total;         /* bytes held in chunks */
} cr_arena;
typedef struct cr_arena_mark {
    cr_arena_chunk *head;
    size_t used;
} cr_arena_mark;

void cr_arena_init(cr_arena *a);
void cr_arena_release(cr_arena *a);
/* Zeroed memory aligned to align (a power of two up to 64); NULL on
 * failure. */
void *cr_arena_alloc(cr_arena *a, size_t size, size_t align);
cr_arena_mark cr_arena_get_mark(const cr_arena *a);
/* Frees everything allocated after mark. */
void cr_arena_rewind(cr_arena *a, cr_arena_mark mark);

/* ---- tensors (tensor.c) ---- */
enum { CR_TENSOR_OWNS_DATA = 1u << 0 };

struct cr_tensor {
    double *data;
    size_t size;
    int rank; /* before shape: a node's value has it in its first cache line */
    unsigned flags;
    size_t shape[CR_MAX_RANK];
};

/* Sets t's rank/shape/size (no storage), checking dims and overflow. */
cr_status cr_tensor_set_shape(cr_tensor *t, int rank, const size_t *shape, cr_error *err);
/* "[2,3]" into a small static-size buffer owned by the caller. */
typedef struct {
    char text[96];
} cr_shape_text;
cr_shape_text cr_shape_str(const cr_tensor *t);

/* ---- ops ---- */
typedef struct cr_op cr_op;

/* Flags of an op descriptor. */
enum {
    /* local Jacobian is diagonal (with broadcasting): chains describe it as
     * "diagonal" when the op says nothing more, and its derivative text
     * must be an elementwise formula (tests/check_oplist.c) */
    CR_OP_ELEMENTWISE = 1u << 0,
    CR_OP_KINK = 1u << 1,     /* not differentiable at some points (relu, abs) */
    CR_OP_LEAF = 1u << 2,     /* constant, input, param */
    CR_OP_BACKWARD = 1u << 3, /* a helper that appears in gradient graphs */
    /* with CR_OP_KINK: a step, not continuous at its kinks (sign,
     * relu_bwd), so no one-sided derivative exists there either */
    CR_OP_JUMP = 1u << 4
};

/* One op = one descriptor. shape() checks the inputs (and the node's
 * parameters) and sets n->value's shape, or records an error in the graph
 * and returns it. forward() computes n->value from the inputs' values; it
 * never allocates and never fails. vjp() builds, as nodes of g, the
 * contribution of upstream gradient dy (shaped like n) to input i's
 * gradient, shaped like input i, into *dx; *dx = NULL means "no
 * contribution" (a zero Jacobian). deriv[i] is the text of the local
 * derivative d(n)/d(input i) for the chain view: a formula of the
 * expression language in the roles x (the input of a unary op), a and b
 * (the inputs of a binary op), y (the output), c (the op's constant) and n
 * (the number of elements reduced), checked against vjp by
 * tests/check_oplist.c. An op whose Jacobian is no elementwise formula
 * (matmul, softmax) gives tensor_text instead, matrix notation printed as
 * it is and never evaluated; jacobian describes the structure for tensors. */
struct cr_op {
    const char *name;
    int min_inputs;
    int max_inputs; /* -1: no maximum */
    unsigned flags;
    const char *formula; /* "y = 1/(1+exp(-x))" */
    /* The node as an expression of its roles ("a - b", "sigmoid(x)"), for
     * chain text that names an unnamed node by what it computes; NULL: the
     * node's label stands for it. */
    const char *expr;
    const char *deriv[2];       /* for input 0 and for the others; NULL if none */
    const char *tensor_text[2]; /* "dY B^T": when deriv is NULL; not evaluated */
    const char *jacobian;       /* "diagonal", "W^T (matrix product)" ... */
    /* Optional: writes the local derivative of input i as text when it
     * depends on which input it is (sop); overrides deriv. */
    int (*deriv_text)(const cr_node *n, size_t i, char *buf, size_t size);
    /* Optional: the Jacobian's description for input i when it differs
     * between inputs (sop, matmul); overrides jacobian. */
    const char *(*jacobian_of)(const cr_node *n, size_t i);
    /* For a CR_OP_KINK op: the values of input 0 where it is not
     * differentiable (n_kinks of them); NULL means at 0 only. */
    const double *kinks;
    size_t n_kinks;
    cr_status (*shape)(cr_graph *g, cr_node *n);
    /* Optional: checks the values of the inputs before each evaluation
     * (class indices in range), recording an error in g and returning it;
     * forward is then not run. For ops whose inputs carry integers. */
    cr_status (*check)(cr_graph *g, const cr_node *n);
    void (*forward)(cr_node *n);
    cr_status (*vjp)(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx);
    /* Optional: vjp's arithmetic for a rank-0 node whose inputs are rank 0,
     * for the direct backward of scalar graphs (autodiff.c). slot holds
     * one gradient per node id: adds the contribution of the node's
     * gradient slot[n->id] to slot[id] of every input, in input order,
     * each computed exactly as the nodes vjp builds would compute it (bit
     * for bit, tested), and returns 1; or returns 0, touching nothing,
     * where vjp gives no contribution to any input. Which of the two
     * depends on the node alone (its op and parameters), never on values.
     * Never allocates, never fails. */
    int (*scalar_vjp)(const cr_node *n, double *slot);
    /* Optional: the sum of n >= 2 nodes, the first of this op, as one node
     * cheaper than their add_n (cr_add_n asks the first input's op): the
     * placements that fill an axis become one concat or stack, products
     * A^T B of one size one product of the stacked factors. *done = 0 and
     * NULL when the n nodes are no case it joins; otherwise *done = 1 and
     * the node, or NULL after recording the failure in g. */
    cr_node *(*join_sum)(cr_graph *g, size_t n, cr_node *const *inputs, int *done);
    /* Optional, for cr_graph_set_rows (rows.c): called when an input's
     * batch size changed, on the node as built for max rows (its shape and
     * args as then) with its inputs already resized to rows; sets
     * n->value's shape and rewrites the args that hold sizes (a view's
     * outer count, matmul's m or k, a mean's 1/n). NULL: shape() is run
     * again, or, for a node made with a given shape, the op cannot change
     * its batch size (CR_ENOTSUP). Never allocates. */
    cr_status (*resize)(cr_graph *g, cr_node *n, size_t max, size_t rows);
};

/* What the Jacobian of node n with respect to its input i is, for chains
 * and DOT labels ("diagonal", "linear: dX = dS W^T ..."); NULL if the op
 * does not say. */
const char *cr_op_jacobian(const cr_node *n, size_t i);

/* The table of built-in ops, for introspection and the op-table tests. */
extern const cr_op *const cr_builtin_ops[];
extern const size_t cr_builtin_op_count;
const cr_op *cr_op_find(const char *name);

/* Leaf descriptors (graph.c). */
extern const cr_op cr_op_constant, cr_op_input, cr_op_param;

/* ---- nodes and graphs (graph.c) ---- */
enum {
    CR_NODE_WANTS_GRAD = 1u << 0,  /* gradient requested (params always) */
    CR_NODE_GRAD_ACCUM = 1u << 1,  /* cr_node_grad reads accum */
    CR_NODE_GRAD_FINITE = 1u << 2, /* the last backward's trap scanned grad */
    CR_NODE_BACKWARD = 1u << 3,    /* built by a gradient (cr_grad, backward) */
    CR_NODE_GRAD_NODE = 1u << 4,   /* grad is the value of a gradient node */
    CR_NODE_BATCH = 1u << 5        /* a leaf whose axis 0 is the batch (rows.c) */
};

/* Integer and real parameters of an op node (axis, transpose flags, matmul
 * dimensions, exponent, scale factor, a convolution's strides...). Meaning
 * is per op. state, when not NULL, is a tensor in the graph's arena that
 * the node keeps between evaluations (batch norm's running statistics,
 * dropout's mask); nodes built by a vjp may share their forward node's
 * state. cr_node_state reads it. cache, when not NULL, is arena memory
 * where a forward kernel leaves what its backward helpers read instead of
 * computing it again (max pooling's argmax, a normalisation's mean and
 * 1/std per group); those helpers take the node as an input, so it is
 * evaluated before them in every plan. */
typedef struct cr_node_args {
    int64_t i[8];
    double f, f2;
    cr_tensor *state;
    double *cache;
} cr_node_args;

/* The parameters of nodes made without any: kept out of the node, so the
 * many nodes without parameters (a scalar graph's gradient is mostly mul
 * nodes) stay small (docs/design.md gives the node's size). */
extern const cr_node_args cr_no_args;

/* The fields an evaluation and a backward sweep read come first and
 * together (op, inputs, id, a scalar's value and the value's data
 * pointer, size and rank: the first 64 bytes), and a node's input array sits just before
 * it in the same arena block (node_new), so that re-running a scalar graph
 * touches mostly one or two cache lines per node. */
struct cr_node {
    const cr_op *op;
    cr_node **inputs;
    size_t n_inputs;
    size_t id;           /* creation index */
    double scalar_store; /* the value of a one-element node */
    cr_tensor value;     /* data in the arena, or &scalar_store for one element */
    /* The last backward's gradient: a gradient node's value
     * (CR_NODE_GRAD_NODE), a direct backward's tensor, or NULL. */
    const cr_tensor *grad;
    unsigned kind; /* cr_node_kind */
    unsigned flags;
    cr_graph *graph;
    cr_tensor *accum;         /* accumulated gradient (CR_BACKWARD_ACCUMULATE) */
    const char *name;         /* arena string, or NULL */
    const cr_node_args *args; /* an arena copy, or &cr_no_args (all zero) */
};

typedef struct cr_name_entry cr_name_entry; /* uthash entry, graph.c */
typedef struct cr_plan cr_plan;             /* cached evaluation orders */
typedef struct cr_backward_cache cr_backward_cache;
typedef struct cr_rows cr_rows; /* rows.c */

#define CR_PLAN_CACHE 4

struct cr_graph {
    cr_arena arena;
    cr_node **nodes;
    size_t n_nodes, cap_nodes;
    cr_node **params;
    size_t n_params, cap_params;
    cr_name_entry *names; /* uthash head */
    cr_error err;
    unsigned wants_version; /* bumps when the set of wanted grads changes */
    /* Nodes other than parameters that want a gradient: with none, the
     * wanted nodes are the parameters (a backward need not visit all). */
    size_t n_wanting;
    /* Bumped whenever a node's gradient or gradient flags change
     * (autodiff.c, cr_node_require_grad): a backward's re-run that finds
     * it as it left it need not set them again. */
    unsigned long grads_stamp;
    unsigned char *marks; /* scratch, one byte per node */
    size_t cap_marks;
    cr_plan *plans[CR_PLAN_CACHE];
    unsigned long plan_tick;      /* orders plan uses for eviction */
    unsigned flags;               /* CR_GRAPH_* */
    cr_backward_cache *backwards; /* list */
    /* Bumped by every evaluation and backward; a trapped backward records
     * it in grads_checked, so the gradients it scanned are known finite
     * while the two are equal (cr_grad_known_finite). */
    unsigned long values_version, grads_checked;
    int evaluating;     /* cr_graph_set_training(g, 0): dropout off, batch norm
                           uses its running statistics */
    void *rng;          /* the graph's gsl_rng (core/rng.h), opened on first use */
    unsigned long seed; /* its seed (cr_graph_set_seed) */
    double *scratch;    /* work space shared by the kernels (im2col columns), */
    size_t cap_scratch; /* grown when a node needing more is built */
    cr_rows *rows;      /* the batch size's state (rows.c), or NULL */
};

/* Records an error in g and returns status. */
cr_status cr_graph_fail(cr_graph *g, cr_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Creates an op node: checks the inputs (non-NULL, same graph), copies
 * them and args, runs op->shape, allocates the value and runs
 * op->forward. On any failure the graph is unchanged and NULL returned. */
cr_node *cr_node_create(cr_graph *g, const cr_op *op, cr_node *const *inputs, size_t n,
                        const cr_node_args *args);
/* Same, with the output shape given instead of computed by op->shape
 * (op->shape may then be NULL). */
cr_node *cr_node_create_shaped(cr_graph *g, const cr_op *op, cr_node *const *inputs,
                               size_t n, const cr_node_args *args, int rank,
                               const size_t *shape);
/* A constant filled with value, shaped like the given tensor. */
cr_node *cr_constant_fill(cr_graph *g, int rank, const size_t *shape, double value);
/* A node's state tensor (cr_node_args.state) of the given shape, zeroed, in
 * the graph's arena; NULL with the error recorded in g. A constructor that
 * fails after making it rewinds the arena to a mark taken before. */
cr_tensor *cr_graph_state_new(cr_graph *g, int rank, const size_t *shape);
/* count doubles in the graph's arena for a node's cache (cr_node_args),
 * zeroed; NULL with the error recorded in g. Rewinding as for state. */
double *cr_graph_cache_new(cr_graph *g, size_t count);
/* Makes g->scratch hold at least count doubles (kernels read it through
 * n->graph->scratch, never across evaluations). CR_OK, or CR_ENOMEM
 * recorded in g. */
cr_status cr_graph_reserve_scratch(cr_graph *g, size_t count);

/* Ensures g->marks covers every node and zeroes it. */
cr_status cr_graph_marks_reset(cr_graph *g);
/* Marks (1) every ancestor of the targets, targets included. Needs marks
 * reset. No recursion: one sweep down the creation order. */
void cr_graph_mark_ancestors(cr_graph *g, cr_node *const *targets, size_t n);

/* Collects the op nodes with id >= first_id that the targets depend on, in
 * creation order, into a new array (*out, freed with cr_free). */
cr_status cr_graph_collect_ops(cr_graph *g, cr_node *const *targets, size_t n_targets,
                               size_t first_id, cr_node ***out, size_t *n_out);
/* Whether w's gradient was proved finite by the trap of the last backward,
 * with no evaluation since: the optimizer then need not scan it again. */
int cr_grad_known_finite(const cr_node *w);
/* Runs op->forward on each node, in order; with CR_GRAPH_TRAP_NONFINITE
 * stops at the first node producing NaN or Inf (CR_EDOMAIN, detail in g). */
cr_status cr_eval_nodes(cr_graph *g, cr_node *const *nodes, size_t n);
/* The trap's check alone, for nodes whose values are already computed (a
 * gradient build evaluates its nodes as it makes them). */
cr_status cr_trap_nodes(cr_graph *g, cr_node *const *nodes, size_t n);
/* Drops the nodes created after n_nodes and rewinds the arena to mark. */
void cr_graph_truncate(cr_graph *g, size_t n_nodes, cr_arena_mark mark);
/* Frees the cached gradient builds (autodiff.c). */
void cr_backward_cache_free_all(cr_graph *g);
/* The vector-Jacobian product seed^T dy/dx as new nodes (*out, shaped like
 * x; a zero constant without a path), for a y of any shape and a seed node
 * shaped like y (CR_ESHAPE otherwise). Not cached: each call builds anew;
 * all-or-nothing on failure (core/higher.c builds on it). */
cr_status cr_vjp_build(cr_graph *g, cr_node *y, cr_node *seed, cr_node *x, cr_node **out);

/* ---- autodiff helpers used by the ops' vjp (autodiff.c) ---- */
/* Sums dy (shaped like the broadcast result) back to the shape of operand:
 * returns dy itself when shapes agree. */
cr_status cr_reduce_to_operand(cr_graph *g, cr_node *dy, const cr_node *operand,
                               cr_node **out);
/* Internal builders of backward helper ops (ops/reduce.c, ops/linalg.c).
 * cr_sum_to_shape sums x down to a broadcast operand's shape (a suffix of
 * x's shape, or one element); cr_expand_axis repeats x (shaped like
 * `shape` without axis) len times along axis, giving `shape`. */
cr_node *cr_sum_to_shape(cr_graph *g, cr_node *x, int rank, const size_t *shape);
cr_node *cr_expand_axis(cr_graph *g, cr_node *x, int axis, size_t n, int rank,
                        const size_t *shape);
/* The sum of n same-shaped nodes as one add_n node (the node itself when
 * n is 1); used to accumulate gradient contributions. */
cr_node *cr_add_n(cr_graph *g, size_t n, cr_node *const *inputs);
/* Y[m,n] = op(A) op(B) where A and B are read as row-major matrices of the
 * given dimensions regardless of their ranks; the result has the given
 * shape (m*n elements). Shapes were checked by the caller. */
cr_node *cr_matmul_dims(cr_graph *g, cr_node *a, cr_node *b, unsigned flags, size_t m,
                        size_t n, size_t k, int rank, const size_t *shape);

/* Internal builders of the neural-network ops' backward helpers
 * (ops/conv.c, ops/norm.c). cr_conv_input_grad and cr_conv_weight_grad
 * take a convolution node's args and the shape of its input (x_like) or
 * weights (w_like). cr_channel_sum views x as [a, c, b] and sums over a and
 * b, times f, giving c elements in the given shape; cr_channel_expand
 * repeats c elements (times f) over a and b into the shape [a, c, b] given
 * as rank and shape; cr_channel_scale multiplies x viewed as [a, c, b] by
 * s[c]. */
cr_node *cr_conv_input_grad(cr_graph *g, cr_node *dy, cr_node *w, const cr_node_args *args,
                            const cr_tensor *x_like);
cr_node *cr_conv_weight_grad(cr_graph *g, cr_node *x, cr_node *dy, const cr_node_args *args,
                             const cr_tensor *w_like);
cr_node *cr_channel_sum(cr_graph *g, cr_node *x, size_t a, size_t c, size_t b, double f,
                        int rank, const size_t *shape);
cr_node *cr_channel_expand(cr_graph *g, cr_node *x, size_t a, size_t c, size_t b, double f,
                           int rank, const size_t *shape);
cr_node *cr_channel_scale(cr_graph *g, cr_node *x, cr_node *s, size_t a, size_t c,
                          size_t b);

/* ---- the batch size of a graph (rows.c) ----
 * Helpers of the ops' resize hooks. cr_rows_scale: a size that holds the
 * batch, built for max rows, for rows rows (0 when built is no multiple of
 * max). cr_rows_lead scales axis 0 of n->value's shape that way;
 * cr_rows_view scales the first of args->i[first..first+count) that is
 * above 1 (the slot of a view {outer, len, inner} or {A, C, B} holding axis
 * 0: every slot before it is 1), returning its index or -1. Both record
 * an error in g (CR_ENOTSUP) when the size is no multiple. */
size_t cr_rows_scale(size_t built, size_t max, size_t rows);
cr_status cr_rows_lead(cr_graph *g, cr_node *n, size_t max, size_t rows);
int cr_rows_view(cr_graph *g, cr_node *n, int first, int count, size_t max, size_t rows);
/* Frees g->rows (cr_graph_free). */
void cr_rows_free(cr_graph *g);
/* Forgets the batch leaves (their flags are cleared) and the batch size,
 * keeping the rows state's memory, so that cr_node_mark_batch can mark new
 * leaves of any row count without allocating. Call it at the full batch
 * (every node as built); nodes that depended on the old leaves keep their
 * built shapes. For a network outgrowing its batch (nn.c). */
void cr_rows_forget(cr_graph *g);

/* ---- CBLAS (blas.c): the one place that calls it ---- */
/* C[m,n] = alpha op(A) op(B) + beta C, row-major, no aliasing. */
void cr_gemm(unsigned flags, size_t m, size_t n, size_t k, double alpha, const double *a,
             const double *b, double beta, double *c);
/* Runs part(ctx, 0) and part(ctx, 1): when two is nonzero and
 * cr_num_threads() is at least 2, part 1 on a thread started for it while
 * the caller runs part 0, with the BLAS held to one thread meanwhile (so
 * each part's products run on its own core, not both on both); otherwise,
 * or if no thread can be started, one after the other. The parts must
 * touch disjoint memory; a kernel's results must not depend on which way
 * they ran. */
void cr_run_two_parts(int two, void (*part)(void *ctx, size_t index), void *ctx);

#define CR_UNUSED(x) ((void)(x))

#endif
