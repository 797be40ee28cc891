/*
 * graph.c - graphs and nodes: creation of leaves and op nodes (all memory
 * from the graph's arena, failed creations rewound), parameters drawn from
 * the graph's seeded generator, names (uthash), accessors, setting values,
 * node state, the training/evaluation switch, the kernels' scratch space,
 * and forward evaluation with cached plans.
 */
#include "core/internal.h"
#include "core/rng.h"
#include "core/uthash_cr.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CR_NAME_MAX 255

struct cr_name_entry {
    const char *name;
    cr_node *node;
    UT_hash_handle hh;
};

struct cr_plan {
    cr_node *target;
    cr_node **nodes;
    size_t n;
    unsigned long last_use;
};

/* Leaves are nodes whose op has no forward and no inputs. */
const cr_op cr_op_constant = {.name = "const",
                              .min_inputs = 0,
                              .max_inputs = 0,
                              .flags = CR_OP_LEAF,
                              .formula = "constant"};
const cr_op cr_op_input = {.name = "input",
                           .min_inputs = 0,
                           .max_inputs = 0,
                           .flags = CR_OP_LEAF,
                           .formula = "input"};
const cr_op cr_op_param = {.name = "param",
                           .min_inputs = 0,
                           .max_inputs = 0,
                           .flags = CR_OP_LEAF,
                           .formula = "parameter"};

/* ---- graph lifetime and errors ---- */

const cr_node_args cr_no_args;

cr_graph *cr_graph_new(void)
{
    (void)cr_num_threads(); /* settles the thread count (and BLAS's) early */
    cr_graph *g = cr_calloc(1, sizeof *g);
    if (!g)
        return NULL;
    cr_arena_init(&g->arena);
    cr_error_clear(&g->err);
    g->seed = CR_DEFAULT_SEED;
    return g;
}

static void plans_free(cr_graph *g)
{
    for (int i = 0; i < CR_PLAN_CACHE; i++) {
        if (g->plans[i]) {
            cr_free(g->plans[i]->nodes);
            cr_free(g->plans[i]);
            g->plans[i] = NULL;
        }
    }
}

void cr_graph_free(cr_graph *g)
{
    if (!g)
        return;
    cr_name_entry *e, *tmp;
    HASH_ITER (hh, g->names, e, tmp) {
        HASH_DEL(g->names, e);
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        cr_tensor_free(g->nodes[i]->accum);
    plans_free(g);
    cr_backward_cache_free_all(g);
    if (g->rng) {
        cr_rng_close(g->rng);
        cr_free(g->rng);
    }
    cr_rows_free(g);
    cr_free(g->scratch);
    cr_free(g->marks);
    cr_free(g->params);
    cr_free(g->nodes);
    cr_arena_release(&g->arena);
    cr_free(g);
}

const cr_error *cr_graph_error(const cr_graph *g) { return g ? &g->err : NULL; }

void cr_graph_clear_error(cr_graph *g)
{
    if (g)
        cr_error_clear(&g->err);
}

cr_status cr_graph_fail(cr_graph *g, cr_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cr_error_setv(&g->err, status, NULL, fmt, ap);
    va_end(ap);
    return status;
}

/* ---- training and evaluation, the seeded generator, scratch space ---- */

void cr_graph_set_training(cr_graph *g, int on)
{
    if (g)
        g->evaluating = !on;
}
int cr_graph_training(const cr_graph *g) { return g && !g->evaluating; }

void cr_graph_set_seed(cr_graph *g, unsigned long seed)
{
    if (!g)
        return;
    g->seed = seed;
    if (g->rng)
        gsl_rng_set(g->rng, seed);
}

cr_status cr_graph_rng(cr_graph *g, gsl_rng **out)
{
    if (!g->rng) {
        gsl_rng *r = cr_calloc(1, sizeof *r);
        if (!r || cr_rng_open(r, g->seed) != CR_OK) {
            cr_free(r);
            return cr_graph_fail(g, CR_ENOMEM, "out of memory for the graph's generator");
        }
        g->rng = r;
    }
    *out = g->rng;
    return CR_OK;
}

cr_status cr_graph_reserve_scratch(cr_graph *g, size_t count)
{
    if (count <= g->cap_scratch)
        return CR_OK;
    if (count > SIZE_MAX / sizeof(double))
        return cr_graph_fail(g, CR_ERANGE, "scratch space of %zu elements is too large",
                             count);
    double *p = cr_realloc(g->scratch, count * sizeof(double));
    if (!p)
        return cr_graph_fail(g, CR_ENOMEM,
                             "out of memory for %zu elements of scratch space", count);
    g->scratch = p;
    g->cap_scratch = count;
    return CR_OK;
}

cr_tensor *cr_graph_state_new(cr_graph *g, int rank, const size_t *shape)
{
    cr_tensor *t = cr_arena_alloc(&g->arena, sizeof *t, 16);
    if (!t) {
        cr_graph_fail(g, CR_ENOMEM, "out of memory for a node's state");
        return NULL;
    }
    if (cr_tensor_set_shape(t, rank, shape, &g->err) != CR_OK)
        return NULL;
    t->data = cr_arena_alloc(&g->arena, t->size * sizeof(double), 64);
    if (!t->data) {
        cr_graph_fail(g, CR_ENOMEM, "out of memory for a node's state");
        return NULL;
    }
    return t;
}

double *cr_graph_cache_new(cr_graph *g, size_t count)
{
    double *p = count <= SIZE_MAX / sizeof(double)
                    ? cr_arena_alloc(&g->arena, count * sizeof(double), 64)
                    : NULL;
    if (!p)
        cr_graph_fail(g, CR_ENOMEM, "out of memory for a node's cache of %zu elements",
                      count);
    return p;
}

size_t cr_graph_size(const cr_graph *g) { return g ? g->n_nodes : 0; }

cr_node *cr_graph_node(const cr_graph *g, size_t index)
{
    return g && index < g->n_nodes ? g->nodes[index] : NULL;
}

size_t cr_graph_num_params(const cr_graph *g) { return g ? g->n_params : 0; }

cr_node *cr_graph_param(const cr_graph *g, size_t index)
{
    return g && index < g->n_params ? g->params[index] : NULL;
}

cr_node *cr_graph_find(const cr_graph *g, const char *name)
{
    if (!g || !name)
        return NULL;
    cr_name_entry *e = NULL;
    HASH_FIND_STR(g->names, name, e);
    return e ? e->node : NULL;
}

/* ---- names ---- */

static cr_status check_name(cr_graph *g, const char *name, const cr_node *self)
{
    size_t len = strlen(name);
    if (len == 0)
        return cr_graph_fail(g, CR_ENAME, "a node name cannot be empty");
    if (len > CR_NAME_MAX)
        return cr_graph_fail(g, CR_ENAME, "node name is %zu bytes long; the limit is %d",
                             len, CR_NAME_MAX);
    cr_node *other = cr_graph_find(g, name);
    if (other && other != self)
        return cr_graph_fail(g, CR_ENAME, "name '%s' is already used by node #%zu", name,
                             other->id);
    return CR_OK;
}

/* Adds name -> n to the table, with the name and entry in the arena, and
 * points n->name at that copy. On failure nothing is added and n is left
 * as it was (arena memory is reclaimed by the caller's rewind). */
static cr_status name_add(cr_graph *g, cr_node *n, const char *name)
{
    int cr_uthash_oom = 0;
    size_t len = strlen(name);
    char *copy = cr_arena_alloc(&g->arena, len + 1, 1);
    cr_name_entry *e = cr_arena_alloc(&g->arena, sizeof *e, 16);
    if (!copy || !e)
        return cr_graph_fail(g, CR_ENOMEM, "out of memory naming a node '%s'", name);
    memcpy(copy, name, len + 1);
    e->name = copy;
    e->node = n;
    HASH_ADD_KEYPTR(hh, g->names, e->name, len, e);
    if (cr_uthash_oom)
        return cr_graph_fail(g, CR_ENOMEM, "out of memory naming a node '%s'", name);
    n->name = e->name; /* the arena copy the table holds */
    return CR_OK;
}

static void name_remove(cr_graph *g, const char *name)
{
    cr_name_entry *e = NULL;
    HASH_FIND_STR(g->names, name, e);
    if (e)
        HASH_DEL(g->names, e);
}

cr_status cr_node_set_name(cr_node *n, const char *name)
{
    if (!n || !name)
        return CR_EINVAL;
    cr_graph *g = n->graph;
    if (n->name && strcmp(n->name, name) == 0)
        return CR_OK;
    cr_status st = check_name(g, name, n);
    if (st != CR_OK)
        return st;
    cr_arena_mark mark = cr_arena_get_mark(&g->arena);
    const char *old = n->name;
    st = name_add(g, n, name);
    if (st != CR_OK) {
        cr_arena_rewind(&g->arena, mark);
        return st;
    }
    if (old)
        name_remove(g, old);
    return CR_OK;
}

/* ---- node creation ---- */

static cr_status check_inputs(cr_graph *g, const cr_op *op, cr_node *const *inputs,
                              size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!inputs[i]) {
            if (g->err.status != CR_OK)
                return g->err.status; /* propagate the error that made the NULL */
            return cr_graph_fail(g, CR_EINVAL, "%s: input %zu is NULL", op->name, i + 1);
        }
        if (inputs[i]->graph != g)
            return cr_graph_fail(g, CR_EINVAL, "%s: input %zu belongs to another graph",
                                 op->name, i + 1);
    }
    if (op->max_inputs < 0 && n < (size_t)op->min_inputs)
        return cr_graph_fail(g, CR_EINVAL, "%s: takes at least %d inputs, not %zu",
                             op->name, op->min_inputs, n);
    if (op->max_inputs >= 0 && (n < (size_t)op->min_inputs || n > (size_t)op->max_inputs))
        return cr_graph_fail(g, CR_EINVAL, "%s: takes %d to %d inputs, not %zu", op->name,
                             op->min_inputs, op->max_inputs, n);
    return CR_OK;
}

/* Doubles g's node list, prefaulting the new half once it is large: a
 * graph that grew this far goes on growing, and a page fault per page was
 * a visible part of building a 100,000-node scalar graph. */
static cr_status grow_node_list(cr_graph *g)
{
    const size_t old_cap = g->cap_nodes;
    cr_status st =
        cr_grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes);
    const size_t grown = (g->cap_nodes - old_cap) * sizeof *g->nodes;
    if (st == CR_OK && grown >= CR_PREFAULT_MIN)
        cr_prefault(g->nodes + old_cap, grown);
    return st;
}

/* The one place nodes are made. shape == NULL with rank < 0 asks op->shape
 * for the output shape. All-or-nothing: on failure the arena is rewound
 * and the graph is as before. */
static cr_node *node_new(cr_graph *g, const cr_op *op, cr_node_kind kind,
                         cr_node *const *inputs, size_t n, const cr_node_args *args,
                         int rank, const size_t *shape, const char *name)
{
    if (!g)
        return NULL;
    if (n > 0 && !inputs) {
        cr_graph_fail(g, CR_EINVAL, "%s: inputs are NULL", op->name);
        return NULL;
    }
    if (check_inputs(g, op, inputs, n) != CR_OK)
        return NULL;
    if (name && check_name(g, name, NULL) != CR_OK)
        return NULL;

    cr_arena_mark mark = cr_arena_get_mark(&g->arena);
    cr_status st = CR_ENOMEM;
    /* the input array and the node in one block, the array first: an
     * evaluation reads it with the node's first fields (internal.h) */
    if (n > (SIZE_MAX - sizeof(cr_node)) / sizeof *inputs)
        goto fail;
    cr_node **block = cr_arena_alloc(&g->arena, n * sizeof *inputs + sizeof(cr_node), 16);
    if (!block)
        goto fail;
    cr_node *node = (cr_node *)(block + n);
    node->inputs = n ? block : NULL;
    if (n <= 2) { /* most nodes: no call */
        for (size_t i = 0; i < n; i++)
            block[i] = inputs[i];
    } else {
        memcpy(block, inputs, n * sizeof *inputs);
    }
    node->op = op;
    node->graph = g;
    node->n_inputs = n;
    node->kind = kind;
    node->id = g->n_nodes;
    node->args = &cr_no_args;
    if (args) {
        cr_node_args *copy = cr_arena_alloc(&g->arena, sizeof *copy, 8);
        if (!copy)
            goto fail;
        *copy = *args;
        node->args = copy;
    }
    if (kind == CR_NODE_PARAM)
        node->flags |= CR_NODE_WANTS_GRAD;

    if (rank >= 0)
        st = cr_tensor_set_shape(&node->value, rank, shape, &g->err);
    else
        st = op->shape(g, node);
    if (st != CR_OK)
        goto fail_quiet;
    if (node->value.size == 1) {
        node->value.data = &node->scalar_store;
    } else {
        node->value.data = cr_arena_alloc(&g->arena, node->value.size * sizeof(double), 64);
        if (!node->value.data) {
            st = CR_ENOMEM;
            goto fail;
        }
    }
    if (kind == CR_NODE_OP && op->check && (st = op->check(g, node)) != CR_OK)
        goto fail_quiet;
    if (g->n_nodes == g->cap_nodes && (st = grow_node_list(g)) != CR_OK)
        goto fail;
    if (kind == CR_NODE_PARAM && g->n_params == g->cap_params &&
        (st = cr_grow((void **)&g->params, &g->cap_params, g->n_params + 1,
                      sizeof *g->params)) != CR_OK)
        goto fail;
    if (name) {
        if ((st = name_add(g, node, name)) != CR_OK)
            goto fail_quiet;
    }
    g->nodes[g->n_nodes++] = node;
    if (kind == CR_NODE_PARAM) {
        g->params[g->n_params++] = node;
        g->wants_version++;
    }
    if (kind == CR_NODE_OP)
        op->forward(node);
    return node;

fail:
    if (st == CR_ENOMEM)
        cr_graph_fail(g, CR_ENOMEM, "%s: out of memory", op->name);
    else
        cr_graph_fail(g, st, "%s: size out of range", op->name);
fail_quiet:
    cr_arena_rewind(&g->arena, mark);
    return NULL;
}

cr_node *cr_node_create(cr_graph *g, const cr_op *op, cr_node *const *inputs, size_t n,
                        const cr_node_args *args)
{
    return node_new(g, op, CR_NODE_OP, inputs, n, args, -1, NULL, NULL);
}

cr_node *cr_node_create_shaped(cr_graph *g, const cr_op *op, cr_node *const *inputs,
                               size_t n, const cr_node_args *args, int rank,
                               const size_t *shape)
{
    return node_new(g, op, CR_NODE_OP, inputs, n, args, rank, shape, NULL);
}

static cr_node *leaf_new(cr_graph *g, const cr_op *op, cr_node_kind kind, const char *name,
                         int rank, const size_t *shape, const double *data)
{
    if (!g)
        return NULL;
    cr_node *n = node_new(g, op, kind, NULL, 0, NULL, rank, shape, name);
    if (n && data && n->value.size == 1)
        n->value.data[0] = data[0]; /* scalar graphs: no call */
    else if (n && data)
        memcpy(n->value.data, data, n->value.size * sizeof(double));
    return n;
}

cr_node *cr_constant_fill(cr_graph *g, int rank, const size_t *shape, double value)
{
    cr_node *n = leaf_new(g, &cr_op_constant, CR_NODE_CONSTANT, NULL, rank, shape, NULL);
    if (n)
        cr_tensor_fill(&n->value, value);
    return n;
}

cr_node *cr_constant(cr_graph *g, const cr_tensor *value)
{
    if (g && !value) {
        cr_graph_fail(g, CR_EINVAL, "const: value is NULL");
        return NULL;
    }
    return g ? leaf_new(g, &cr_op_constant, CR_NODE_CONSTANT, NULL, value->rank,
                        value->shape, value->data)
             : NULL;
}

cr_node *cr_scalar(cr_graph *g, double value)
{
    return leaf_new(g, &cr_op_constant, CR_NODE_CONSTANT, NULL, 0, NULL, &value);
}

cr_node *cr_input(cr_graph *g, const char *name, int rank, const size_t *shape)
{
    return leaf_new(g, &cr_op_input, CR_NODE_INPUT, name, rank, shape, NULL);
}

cr_node *cr_input_scalar(cr_graph *g, const char *name, double value)
{
    return leaf_new(g, &cr_op_input, CR_NODE_INPUT, name, 0, NULL, &value);
}

cr_node *cr_param(cr_graph *g, const char *name, const cr_tensor *init)
{
    if (g && !init) {
        cr_graph_fail(g, CR_EINVAL, "param: initial value is NULL");
        return NULL;
    }
    return g ? leaf_new(g, &cr_op_param, CR_NODE_PARAM, name, init->rank, init->shape,
                        init->data)
             : NULL;
}

cr_node *cr_param_scalar(cr_graph *g, const char *name, double value)
{
    return leaf_new(g, &cr_op_param, CR_NODE_PARAM, name, 0, NULL, &value);
}

/* Fans of a weight: [fan_in, fan_out] for a matrix (x W); [out, in, k...]
 * for a convolution's weights, each fan times the kernel's size; the size
 * for a scalar or a vector. */
static void fans_of(int rank, const size_t *shape, size_t size, size_t *fan_in,
                    size_t *fan_out)
{
    if (rank < 2) {
        *fan_in = *fan_out = size;
    } else if (rank == 2) {
        *fan_in = shape[0];
        *fan_out = shape[1];
    } else {
        const size_t kernel = size / (shape[0] * shape[1]);
        *fan_in = shape[1] * kernel;
        *fan_out = shape[0] * kernel;
    }
}

cr_node *cr_param_init(cr_graph *g, const char *name, int rank, const size_t *shape,
                       cr_init_kind init, double a, double b)
{
    if (!g)
        return NULL;
    if ((unsigned)init >= CR_INIT_COUNT || !isfinite(a) || !isfinite(b) ||
        (init == CR_INIT_UNIFORM && a > b) || (init == CR_INIT_NORMAL && b < 0)) {
        cr_graph_fail(g, CR_EINVAL,
                      "param: initialisation %d with a = %g, b = %g is invalid (uniform "
                      "needs a <= b, normal a deviation b >= 0)",
                      (int)init, a, b);
        return NULL;
    }
    gsl_rng *r;
    if (cr_graph_rng(g, &r) != CR_OK)
        return NULL;
    cr_node *n = leaf_new(g, &cr_op_param, CR_NODE_PARAM, name, rank, shape, NULL);
    if (n) {
        size_t fan_in, fan_out;
        fans_of(rank, shape, n->value.size, &fan_in, &fan_out);
        cr_init_draw(r, init, fan_in, fan_out, a, b, n->value.data, n->value.size);
    }
    return n;
}

/* ---- accessors ---- */

const char *cr_node_name(const cr_node *n) { return n ? n->name : NULL; }

int cr_node_label(const cr_node *n, char *buf, size_t size)
{
    if (!n)
        return cr_text_none(buf, size);
    if (!buf)
        size = 0; /* only the length is wanted */
    if (n->name)
        return snprintf(buf, size, "%s", n->name);
    return snprintf(buf, size, "%s#%zu", n->op->name, n->id);
}

cr_node_kind cr_node_kind_of(const cr_node *n)
{
    return n ? (cr_node_kind)n->kind : CR_NODE_NONE;
}
const char *cr_node_op_name(const cr_node *n) { return n ? n->op->name : NULL; }
size_t cr_node_index(const cr_node *n) { return n ? n->id : (size_t)-1; }
size_t cr_node_num_inputs(const cr_node *n) { return n ? n->n_inputs : 0; }

cr_node *cr_node_input(const cr_node *n, size_t i)
{
    return n && i < n->n_inputs ? n->inputs[i] : NULL;
}

cr_graph *cr_node_graph(const cr_node *n) { return n ? n->graph : NULL; }
const cr_tensor *cr_node_value(const cr_node *n) { return n ? &n->value : NULL; }
double cr_node_scalar(const cr_node *n) { return n ? n->value.data[0] : NAN; }

static cr_status check_settable(cr_node *n)
{
    if (n->kind != CR_NODE_INPUT && n->kind != CR_NODE_PARAM) {
        char label[300];
        cr_node_label(n, label, sizeof label);
        return cr_graph_fail(n->graph, CR_ESTATE,
                             "%s: only inputs and parameters can be set", label);
    }
    return CR_OK;
}

cr_status cr_node_set_data(cr_node *n, const double *data, size_t count)
{
    if (!n || (!data && count))
        return CR_EINVAL;
    cr_status st = check_settable(n);
    if (st != CR_OK)
        return st;
    if (count != n->value.size) {
        char label[300];
        cr_node_label(n, label, sizeof label);
        return cr_graph_fail(n->graph, CR_ESHAPE, "%s: expected %zu values %s, got %zu",
                             label, n->value.size, cr_shape_str(&n->value).text, count);
    }
    memcpy(n->value.data, data, count * sizeof(double));
    return CR_OK;
}

cr_status cr_node_set_value(cr_node *n, const cr_tensor *value)
{
    if (!n || !value)
        return CR_EINVAL;
    cr_status st = check_settable(n);
    if (st != CR_OK)
        return st;
    if (!cr_tensor_same_shape(&n->value, value)) {
        char label[300];
        cr_node_label(n, label, sizeof label);
        return cr_graph_fail(n->graph, CR_ESHAPE, "%s: cannot set a %s value to %s", label,
                             cr_shape_str(&n->value).text, cr_shape_str(value).text);
    }
    memcpy(n->value.data, value->data, value->size * sizeof(double));
    return CR_OK;
}

cr_status cr_node_set_scalar(cr_node *n, double value)
{
    return cr_node_set_data(n, &value, 1);
}

cr_status cr_node_require_grad(cr_node *n, int on)
{
    if (!n)
        return CR_EINVAL;
    unsigned before = n->flags;
    const cr_tensor *grad_before = n->grad;
    if (on || n->kind == CR_NODE_PARAM) {
        n->flags |= CR_NODE_WANTS_GRAD;
    } else {
        /* later backwards will not update it: drop the stale gradient */
        n->flags &=
            ~(unsigned)(CR_NODE_WANTS_GRAD | CR_NODE_GRAD_ACCUM | CR_NODE_GRAD_NODE);
        n->grad = NULL;
    }
    if (before != n->flags)
        n->graph->wants_version++;
    if (before != n->flags || grad_before != n->grad)
        n->graph->grads_stamp++;
    const unsigned wants = n->flags & CR_NODE_WANTS_GRAD;
    if (wants != (before & CR_NODE_WANTS_GRAD)) /* never for a param */
        n->graph->n_wanting += wants ? 1 : (size_t)-1;
    return CR_OK;
}

const cr_tensor *cr_node_state(const cr_node *n) { return n ? n->args->state : NULL; }

cr_status cr_node_set_state(cr_node *n, const cr_tensor *value)
{
    if (!n || !value)
        return CR_EINVAL;
    char label[300];
    cr_node_label(n, label, sizeof label);
    cr_tensor *state = n->args->state;
    if (!state)
        return cr_graph_fail(n->graph, CR_ESTATE, "%s: op %s keeps no state", label,
                             n->op->name);
    if (!cr_tensor_same_shape(state, value))
        return cr_graph_fail(n->graph, CR_ESHAPE, "%s: its state is %s, not %s", label,
                             cr_shape_str(state).text, cr_shape_str(value).text);
    memcpy(state->data, value->data, value->size * sizeof(double));
    return CR_OK;
}

const cr_tensor *cr_node_grad(const cr_node *n)
{
    if (!n)
        return NULL;
    if ((n->flags & CR_NODE_GRAD_ACCUM) && n->accum)
        return n->accum;
    return n->grad;
}

/* ---- marks and forward evaluation ---- */

cr_status cr_graph_marks_reset(cr_graph *g)
{
    if (cr_grow((void **)&g->marks, &g->cap_marks, g->n_nodes, 1) != CR_OK)
        return cr_graph_fail(g, CR_ENOMEM, "out of memory marking %zu nodes", g->n_nodes);
    memset(g->marks, 0, g->n_nodes);
    return CR_OK;
}

/* Marks the targets and their ancestors with ids >= lowest (inputs have
 * lower ids than their nodes, so the sweep may stop there). */
static void mark_ancestors_from(cr_graph *g, cr_node *const *targets, size_t n,
                                size_t lowest)
{
    size_t top = 0;
    for (size_t i = 0; i < n; i++) {
        g->marks[targets[i]->id] = 1;
        if (targets[i]->id > top)
            top = targets[i]->id;
    }
    for (size_t id = top + 1; id-- > lowest;) {
        if (!g->marks[id])
            continue;
        cr_node *node = g->nodes[id];
        for (size_t k = 0; k < node->n_inputs; k++)
            g->marks[node->inputs[k]->id] = 1;
    }
}

void cr_graph_mark_ancestors(cr_graph *g, cr_node *const *targets, size_t n)
{
    mark_ancestors_from(g, targets, n, 0);
}

/* The op nodes target depends on, in creation order. New array (cr_free). */
cr_status cr_graph_collect_ops(cr_graph *g, cr_node *const *targets, size_t n_targets,
                               size_t first_id, cr_node ***out, size_t *n_out)
{
    cr_status st = cr_graph_marks_reset(g);
    if (st != CR_OK)
        return st;
    mark_ancestors_from(g, targets, n_targets, first_id);
    size_t top = 0, count = 0;
    for (size_t i = 0; i < n_targets; i++)
        if (targets[i]->id > top)
            top = targets[i]->id;
    for (size_t id = first_id; id <= top; id++)
        if (g->marks[id] && g->nodes[id]->kind == CR_NODE_OP)
            count++;
    cr_node **list = cr_malloc((count ? count : 1) * sizeof *list);
    if (!list)
        return cr_graph_fail(g, CR_ENOMEM, "out of memory planning an evaluation");
    size_t k = 0;
    for (size_t id = first_id; id <= top; id++)
        if (g->marks[id] && g->nodes[id]->kind == CR_NODE_OP)
            list[k++] = g->nodes[id];
    *out = list;
    *n_out = count;
    return CR_OK;
}

static cr_plan *plan_get(cr_graph *g, cr_node *target)
{
    int victim = 0;
    for (int i = 0; i < CR_PLAN_CACHE; i++) {
        cr_plan *p = g->plans[i];
        if (p && p->target == target) {
            p->last_use = ++g->plan_tick;
            return p;
        }
        if (!p || (g->plans[victim] && p->last_use < g->plans[victim]->last_use))
            victim = i;
    }
    cr_plan *p = cr_calloc(1, sizeof *p);
    if (!p) {
        cr_graph_fail(g, CR_ENOMEM, "out of memory planning an evaluation");
        return NULL;
    }
    if (cr_graph_collect_ops(g, &target, 1, 0, &p->nodes, &p->n) != CR_OK) {
        cr_free(p);
        return NULL;
    }
    p->target = target;
    p->last_use = ++g->plan_tick;
    if (g->plans[victim]) {
        cr_free(g->plans[victim]->nodes);
        cr_free(g->plans[victim]);
    }
    g->plans[victim] = p;
    return p;
}

/* Reports node n's first non-finite element with the inputs that made it. */
static cr_status report_nonfinite(cr_graph *g, const cr_node *n, size_t at)
{
    char label[300], inputs[200] = "";
    cr_node_label(n, label, sizeof label);
    size_t len = 0;
    for (size_t k = 0; k < n->n_inputs && len < sizeof inputs - 40; k++) {
        const cr_node *in = n->inputs[k];
        char in_label[64];
        cr_node_label(in, in_label, sizeof in_label);
        len += (size_t)snprintf(inputs + len, sizeof inputs - len, "%s%s = %.17g",
                                k ? ", " : "; inputs: ", in_label,
                                in->value.data[at % in->value.size]);
    }
    cr_status st = cr_graph_fail(g, CR_EDOMAIN, "%s (op %s) produced %g at element %zu%s",
                                 label, n->op->name, n->value.data[at], at, inputs);
    snprintf(g->err.where, sizeof g->err.where, "%.127s", label);
    return st;
}

/* The non-finite trap's check of one evaluated node. */
static cr_status trap_node(cr_graph *g, cr_node *node)
{
    const size_t at = cr_first_nonfinite(node->value.data, node->value.size);
    return at < node->value.size ? report_nonfinite(g, node, at) : CR_OK;
}

cr_status cr_eval_nodes(cr_graph *g, cr_node *const *nodes, size_t n)
{
    g->values_version++;
    const int trap = (g->flags & CR_GRAPH_TRAP_NONFINITE) != 0;
    for (size_t i = 0; i < n; i++) {
        const cr_op *op = nodes[i]->op;
        cr_status st = op->check ? op->check(g, nodes[i]) : CR_OK;
        if (st != CR_OK)
            return st;
        op->forward(nodes[i]);
        st = trap ? trap_node(g, nodes[i]) : CR_OK;
        if (st != CR_OK)
            return st;
    }
    return CR_OK;
}

cr_status cr_trap_nodes(cr_graph *g, cr_node *const *nodes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cr_status st = trap_node(g, nodes[i]);
        if (st != CR_OK)
            return st;
    }
    return CR_OK;
}

void cr_graph_set_flags(cr_graph *g, unsigned flags)
{
    if (g)
        g->flags = flags;
}
unsigned cr_graph_flags(const cr_graph *g) { return g ? g->flags : 0; }

cr_status cr_graph_forward(cr_graph *g, cr_node *target)
{
    if (!g || !target)
        return CR_EINVAL;
    if (target->graph != g)
        return cr_graph_fail(g, CR_EINVAL, "forward: target belongs to another graph");
    cr_plan *p = plan_get(g, target);
    if (!p)
        return g->err.status;
    return cr_eval_nodes(g, p->nodes, p->n);
}

/* Drops every node created after n_nodes (used when building gradients
 * fails half-way): nodes made since were unnamed op/constant nodes. */
void cr_graph_truncate(cr_graph *g, size_t n_nodes, cr_arena_mark mark)
{
    /* the lists that count or hold nodes forget the dropped ones */
    for (size_t id = n_nodes; id < g->n_nodes; id++) {
        const cr_node *n = g->nodes[id];
        if (n->kind != CR_NODE_PARAM && (n->flags & CR_NODE_WANTS_GRAD))
            g->n_wanting--;
    }
    while (g->n_params > 0 && g->params[g->n_params - 1]->id >= n_nodes)
        g->n_params--;
    g->n_nodes = n_nodes;
    cr_arena_rewind(&g->arena, mark);
}
