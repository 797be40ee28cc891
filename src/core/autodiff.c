/*
 * autodiff.c - reverse mode. Gradients are built as nodes of the same graph
 * by one generic driver: it visits the nodes on a path from the loss to a
 * node that needs a gradient, in reverse creation order (a topological
 * order, so no recursion), asks each op's vjp for its inputs' contributions
 * and sums contributions where a node feeds several others. The built
 * gradient nodes are cached per loss and re-evaluated by later backward
 * calls without allocating. A backward on a scalar graph (every node on
 * the way rank 0, every op with a scalar_vjp) computes the same numbers
 * directly instead, in one sweep over a cached plan, and builds the
 * gradient nodes only when someone asks for them (cr_node_grad_node).
 */
#include "core/internal.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A cached gradient build: one per loss and set of wanted nodes for
 * cr_graph_backward, and one per pair (y, x) for cr_grad (is_grad, with
 * wanted = {x}). */
struct cr_backward_cache {
    cr_backward_cache *next;
    cr_node *loss;
    int is_grad;
    size_t grad_id; /* cr_grad: the creation index of grads[0] */
    unsigned wants_version;
    size_t n_wanted;
    cr_node **wanted;
    cr_node **grads;
    cr_node **plan; /* gradient op nodes to evaluate, in creation order */
    size_t n_plan;
    /* A direct build: the active op nodes that get a contribution, from
     * the loss down; per node id up to the loss a gradient slot and a state
     * byte (DIRECT_*); the wanted nodes' gradients as rank-0 tensors over
     * their slots (or over a zero in values, for no contribution). All
     * five arrays are one allocation, block. */
    void *block;
    cr_node **sweep;
    size_t n_sweep;
    double *slot;
    unsigned char *state;
    cr_tensor *direct;
    double *values;
    /* g->grads_stamp when this build last set its wanted nodes' gradients
     * and flags (cr_graph_backward) */
    unsigned long grads_stamp;
};

enum {
    DIRECT_ACTIVE = 1, /* on a path from the loss to a wanted node */
    DIRECT_HAS = 2     /* gets a contribution */
};

enum {
    MARK_LOSS_ANCESTOR = 1,
    MARK_DEPENDS_ON_WANTED = 2,
    MARK_ACTIVE = MARK_LOSS_ANCESTOR | MARK_DEPENDS_ON_WANTED,
    MARK_HAS = 4 /* the direct plan: gets a contribution */
};

static cr_status require_scalar(cr_graph *g, const char *what, const cr_node *y)
{
    if (y->value.size != 1) {
        char label[300];
        cr_node_label(y, label, sizeof label);
        return cr_graph_fail(g, CR_ESHAPE, "%s: %s must be a scalar, got %s", what, label,
                             cr_shape_str(&y->value).text);
    }
    return CR_OK;
}

cr_status cr_reduce_to_operand(cr_graph *g, cr_node *dy, const cr_node *operand,
                               cr_node **out)
{
    if (cr_tensor_same_shape(&dy->value, &operand->value)) {
        *out = dy;
        return CR_OK;
    }
    *out = cr_sum_to_shape(g, dy, operand->value.rank, operand->value.shape);
    return *out ? CR_OK : g->err.status;
}

/* Marks in g->marks (reset before) the ancestors of the loss (bit 1) and
 * the nodes depending on a wanted one (bit 2), in one sweep each: the
 * nodes with both (MARK_ACTIVE) are on a path from the loss to a wanted
 * node. */
static void mark_active(cr_graph *g, cr_node *loss, cr_node *const *wanted, size_t n_wanted)
{
    const size_t top = loss->id;
    cr_graph_mark_ancestors(g, &loss, 1);
    for (size_t k = 0; k < n_wanted; k++)
        if (wanted[k]->id <= top)
            g->marks[wanted[k]->id] |= MARK_DEPENDS_ON_WANTED;
    for (size_t id = 0; id <= top; id++) {
        cr_node *n = g->nodes[id];
        for (size_t i = 0; i < n->n_inputs && !(g->marks[id] & MARK_DEPENDS_ON_WANTED); i++)
            if (g->marks[n->inputs[i]->id] & MARK_DEPENDS_ON_WANTED)
                g->marks[id] |= MARK_DEPENDS_ON_WANTED;
    }
}

/* Contributions to one node's gradient, kept as a linked list through an
 * index array while the sweep collects them. */
typedef struct contribution {
    cr_node *node;
    size_t next; /* index + 1 of the next contribution to the same node, 0 = end */
} contribution;

typedef struct grad_build {
    contribution *items;
    size_t n_items, cap_items;
    size_t *head;     /* per node id: index + 1 of its latest contribution */
    cr_node **gather; /* scratch for summing one node's contributions */
    size_t cap_gather;
} grad_build;

static cr_status add_contribution(cr_graph *g, grad_build *b, size_t id, cr_node *c)
{
    if (cr_grow((void **)&b->items, &b->cap_items, b->n_items + 1, sizeof *b->items) !=
        CR_OK)
        return cr_graph_fail(g, CR_ENOMEM, "backward: out of memory");
    b->items[b->n_items] = (contribution){c, b->head[id]};
    b->head[id] = ++b->n_items;
    return CR_OK;
}

/* The gradient of node id: its contributions summed by one add_n node (or
 * the single contribution itself), or NULL if it has none. */
static cr_status sum_contributions(cr_graph *g, grad_build *b, size_t id, cr_node **out)
{
    size_t count = 0;
    for (size_t k = b->head[id]; k; k = b->items[k - 1].next)
        count++;
    *out = NULL;
    if (count == 0)
        return CR_OK;
    if (cr_grow((void **)&b->gather, &b->cap_gather, count, sizeof *b->gather) != CR_OK)
        return cr_graph_fail(g, CR_ENOMEM, "backward: out of memory");
    size_t i = count; /* in the order the contributions were made */
    for (size_t k = b->head[id]; k; k = b->items[k - 1].next)
        b->gather[--i] = b->items[k - 1].node;
    *out = cr_add_n(g, count, b->gather);
    return *out ? CR_OK : g->err.status;
}

/* Builds d(loss)/d(wanted[k]) into grads[k] (a zero constant where there is
 * no path), seeded with the cotangent seed (shaped like loss; NULL: ones).
 * All-or-nothing: on failure the graph is truncated back. */
static cr_status build_gradients(cr_graph *g, cr_node *loss, cr_node *seed,
                                 cr_node *const *wanted, size_t n_wanted, cr_node **grads)
{
    size_t n_before = g->n_nodes;
    cr_arena_mark mark = cr_arena_get_mark(&g->arena);
    size_t top = loss->id;
    grad_build b = {0};
    cr_node **done = NULL; /* per node id: its summed gradient, once visited */
    cr_status st = cr_graph_marks_reset(g);
    if (st != CR_OK)
        return st;
    b.head = cr_calloc(top + 1, sizeof *b.head);
    done = cr_calloc(top + 1, sizeof *done);
    if (!b.head || !done) {
        cr_graph_fail(g, CR_ENOMEM, "backward: out of memory for %zu nodes", top + 1);
        goto fail;
    }
    mark_active(g, loss, wanted, n_wanted);
    const unsigned char active = MARK_ACTIVE;

    if (!seed)
        seed = cr_constant_fill(g, loss->value.rank, loss->value.shape, 1.0);
    if (!seed || add_contribution(g, &b, top, seed) != CR_OK)
        goto fail;
    /* Parents have higher ids than their inputs, so when the sweep reaches a
     * node every contribution to its gradient has been made. */
    for (size_t id = top + 1; id-- > 0;) {
        cr_node *n = g->nodes[id];
        if ((g->marks[id] & active) != active)
            continue;
        if (sum_contributions(g, &b, id, &done[id]) != CR_OK)
            goto fail;
        if (!done[id] || n->kind != CR_NODE_OP)
            continue;
        for (size_t i = 0; i < n->n_inputs; i++) {
            cr_node *in = n->inputs[i];
            if ((g->marks[in->id] & active) != active)
                continue;
            cr_node *c = NULL;
            if (!n->op->vjp) {
                cr_graph_fail(g, CR_ENOTSUP, "%s: this op has no derivative", n->op->name);
                goto fail;
            }
            if (n->op->vjp(g, n, i, done[id], &c) != CR_OK)
                goto fail;
            if (c && add_contribution(g, &b, in->id, c) != CR_OK)
                goto fail;
        }
    }
    for (size_t k = 0; k < n_wanted; k++) {
        cr_node *w = wanted[k];
        grads[k] = w->id <= top ? done[w->id] : NULL;
        if (!grads[k])
            grads[k] = cr_constant_fill(g, w->value.rank, w->value.shape, 0.0);
        if (!grads[k])
            goto fail;
    }
    for (size_t id = n_before; id < g->n_nodes; id++)
        g->nodes[id]->flags |= CR_NODE_BACKWARD; /* so drawings can tell them apart */
    st = CR_OK;
    goto out;

fail:
    st = g->err.status != CR_OK ? g->err.status : CR_ENOMEM;
    cr_graph_truncate(g, n_before, mark);
out:
    cr_free(b.items);
    cr_free(b.head);
    cr_free(b.gather);
    cr_free(done);
    return st;
}

static void direct_free(cr_backward_cache *c)
{
    cr_free(c->block);
    c->block = NULL;
    c->sweep = NULL;
    c->slot = NULL;
    c->state = NULL;
    c->direct = NULL;
    c->values = NULL;
    c->n_sweep = 0;
}

static void cache_free(cr_backward_cache *c)
{
    direct_free(c);
    cr_free(c->wanted);
    cr_free(c->grads);
    cr_free(c->plan);
    cr_free(c);
}

void cr_backward_cache_free_all(cr_graph *g)
{
    while (g->backwards) {
        cr_backward_cache *next = g->backwards->next;
        cache_free(g->backwards);
        g->backwards = next;
    }
}

/* The re-evaluation plan of a build: every op node it made that some
 * gradient needs, in creation order. Almost all are (a contribution is
 * made only to a node on a path to a wanted one, whose summed gradient then
 * feeds that node's own vjps or is the wanted gradient); the exception is a
 * contribution that cr_add_n sums without reading it (placements joined
 * from their parts: elementwise.c), so one sweep over the new nodes
 * alone, from the gradients down, keeps only the needed ones. */
static cr_status plan_new_ops(cr_graph *g, size_t first_new, cr_backward_cache *c)
{
    const size_t n_new = g->n_nodes - first_new;
    unsigned char *need = cr_calloc(n_new ? n_new : 1, 1);
    c->plan = cr_malloc((n_new ? n_new : 1) * sizeof *c->plan);
    if (!need || !c->plan) {
        cr_free(need);
        return cr_graph_fail(g, CR_ENOMEM, "out of memory planning an evaluation");
    }
    for (size_t k = 0; k < c->n_wanted; k++)
        if (c->grads[k] && c->grads[k]->id >= first_new)
            need[c->grads[k]->id - first_new] = 1;
    for (size_t id = g->n_nodes; id-- > first_new;) {
        const cr_node *n = g->nodes[id];
        for (size_t i = 0; need[id - first_new] && i < n->n_inputs; i++)
            if (n->inputs[i]->id >= first_new)
                need[n->inputs[i]->id - first_new] = 1;
    }
    for (size_t id = first_new; id < g->n_nodes; id++)
        if (need[id - first_new] && g->nodes[id]->kind == CR_NODE_OP)
            c->plan[c->n_plan++] = g->nodes[id];
    cr_free(need);
    return CR_OK;
}

/* Builds gradient nodes for c's loss and wanted nodes into c->grads, with
 * their re-evaluation plan. All-or-nothing. */
static cr_status nodes_build(cr_graph *g, cr_backward_cache *c)
{
    const size_t first_new = g->n_nodes;
    const cr_arena_mark mark = cr_arena_get_mark(&g->arena);
    if (build_gradients(g, c->loss, NULL, c->wanted, c->n_wanted, c->grads) != CR_OK)
        return g->err.status;
    if (c->n_wanted > 0 && plan_new_ops(g, first_new, c) != CR_OK) {
        cr_graph_truncate(g, first_new, mark);
        return g->err.status;
    }
    return CR_OK;
}

/* ---- the direct backward of scalar graphs ----
 * When every op node that gets a contribution (on a path from the loss to
 * a wanted node) is rank 0 with rank-0 inputs and has a scalar_vjp, and
 * the loss and every wanted node are rank 0, the gradients are computed as
 * numbers:
 * one sweep down a cached list of the active op nodes, each slot taking
 * its first contribution and adding the later ones in the order the
 * gradient build makes them (as its add_n node sums them), so the results
 * are those of the gradient nodes bit for bit. A graph that traps
 * non-finite values builds the nodes instead: the trap names the gradient
 * node that went wrong. */

static int is_direct(const cr_backward_cache *c) { return c->state != NULL; }

/* Starts a direct sweep: every slot -0.0, the loss's 1 (the seed,
 * d(loss)/d(loss)). -0.0 + d is d, bit for bit, for every d: a slot takes
 * its first contribution as it is, as the gradient build does, and adds
 * the others in order. */
static void slot_seed(cr_backward_cache *c)
{
    const size_t top = c->loss->id;
    double *restrict slot = c->slot;
    CR_FOR_BLOCKED(id, top + 1, slot[id] = -0.0;);
    slot[top] = 1.0;
}

/* Marks in g->marks (reset before) the nodes up to top that depend on a
 * wanted node (MARK_DEPENDS_ON_WANTED), in one sweep up the creation
 * order, and returns how many there are. */
static size_t mark_depends(cr_graph *g, size_t top, cr_node *const *wanted, size_t n_wanted)
{
    unsigned char *restrict marks = g->marks;
    cr_node *const *nodes = g->nodes;
    for (size_t k = 0; k < n_wanted; k++)
        if (wanted[k]->id <= top)
            marks[wanted[k]->id] = MARK_DEPENDS_ON_WANTED;
    size_t count = 0;
    for (size_t id = 0; id <= top; id++) {
        const cr_node *n = nodes[id];
        if (!marks[id]) {
            for (size_t i = 0; i < n->n_inputs; i++) {
                if (marks[n->inputs[i]->id] & MARK_DEPENDS_ON_WANTED) {
                    marks[id] = MARK_DEPENDS_ON_WANTED;
                    break;
                }
            }
        }
        count += marks[id] != 0;
    }
    return count;
}

/* Plans c as a direct build when its graph allows one (*ok = 1), and then
 * has computed its gradients too; or leaves it alone (*ok = 0). CR_ENOMEM
 * recorded in g.
 *
 * Two sweeps over the graph: one up the creation order marks the nodes
 * that depend on a wanted node; one down from the loss marks the loss's
 * ancestors and, since a node's consumers all come after it, finds each
 * active node's gradient complete when it reaches it: it plans the node
 * (the sweep list, its state byte) and passes its contributions on in the
 * same step, in the order direct_sweep does, so the numbers are the same.
 * Which nodes get a contribution depends on the graph alone (whether a
 * scalar_vjp gives one depends on its node, never on values): a wanted
 * node without one holds zero. A node the sweep reaches that is not rank 0
 * with rank-0 inputs and a scalar_vjp sends the whole backward down the
 * node road. */
static cr_status direct_plan(cr_graph *g, cr_backward_cache *c, int *ok)
{
    *ok = 0;
    const cr_node *loss = c->loss;
    if (loss->value.rank != 0 || c->n_wanted == 0 || (g->flags & CR_GRAPH_TRAP_NONFINITE))
        return CR_OK;
    for (size_t k = 0; k < c->n_wanted; k++)
        if (c->wanted[k]->value.rank != 0)
            return CR_OK;
    cr_status st = cr_graph_marks_reset(g);
    if (st != CR_OK)
        return st;
    const size_t top = loss->id;
    /* nodes depending on a wanted one: room enough for the plan */
    const size_t count = mark_depends(g, top, c->wanted, c->n_wanted);
    /* The arrays in one block, advised onto huge pages and prefaulted: on
     * a 100,000-node graph they are ~5 MB of fresh memory, written now, and
     * their page faults were most of this first backward. Every count is
     * at most the graph's node count, whose pointer array exists. */
    const size_t n_direct = c->n_wanted * sizeof *c->direct,
                 n_slot = (top + 1) * sizeof *c->slot,
                 n_values = c->n_wanted * sizeof *c->values,
                 n_sweep = (count ? count : 1) * sizeof *c->sweep,
                 bytes = n_direct + n_slot + n_values + n_sweep + top + 1;
    /* From 2 MiB on, the arrays start on a huge page's boundary and
     * fill whole huge pages (the allocation is 2 MiB longer than that;
     * what is not touched costs no memory): huge pages fault in ~5 times
     * faster here than their 4 KiB pages would. */
    const size_t huge = CR_HUGE_PAGE, whole = bytes >= huge && bytes < SIZE_MAX / 2
                                                  ? (bytes + huge - 1) / huge * huge
                                                  : 0;
    unsigned char *const alloc = cr_malloc(whole ? whole + huge : bytes);
    if (!alloc)
        return cr_graph_fail(g, CR_ENOMEM, "backward: out of memory for %zu nodes",
                             top + 1);
    unsigned char *block = alloc;
    if (whole) {
        block += cr_huge_page_skip(alloc);
        cr_advise_huge(block, whole);
        cr_prefault(block, whole);
    } else {
        cr_prefault(block, bytes);
    }
    c->block = alloc;
    c->direct = (cr_tensor *)block;
    c->slot = (double *)(block + n_direct);
    c->values = (double *)(block + n_direct + n_slot);
    c->sweep = (cr_node **)(block + n_direct + n_slot + n_values);
    c->state = block + n_direct + n_slot + n_values + n_sweep;
    unsigned char *restrict marks = g->marks, *restrict state = c->state;
    double *restrict slot = c->slot;
    cr_node *const *nodes = g->nodes;
    slot_seed(c);
    marks[top] |= MARK_LOSS_ANCESTOR | MARK_HAS;
    for (size_t id = top + 1; id-- > 0;) {
        const unsigned char m = marks[id];
        state[id] = (m & MARK_ACTIVE) == MARK_ACTIVE
                        ? (unsigned char)(DIRECT_ACTIVE | (m & MARK_HAS ? DIRECT_HAS : 0))
                        : 0;
        if (!(m & MARK_LOSS_ANCESTOR))
            continue;
        cr_node *n = nodes[id];
        const size_t n_in = n->n_inputs;
        for (size_t i = 0; i < n_in; i++)
            marks[n->inputs[i]->id] |= MARK_LOSS_ANCESTOR;
        /* a leaf's op says it is one (kind is in the node's second cache
         * line; the ops' descriptors stay in cache) */
        if (state[id] != (DIRECT_ACTIVE | DIRECT_HAS) || (n->op->flags & CR_OP_LEAF))
            continue;
        if (n->value.rank != 0 || !n->op->scalar_vjp)
            goto node_road;
        for (size_t i = 0; i < n_in; i++)
            if (n->inputs[i]->value.rank != 0)
                goto node_road;
        c->sweep[c->n_sweep++] = n;
        if (!n->op->scalar_vjp(n, slot))
            continue;
        for (size_t i = 0; i < n_in; i++) {
            const size_t in = n->inputs[i]->id;
            if (marks[in] & MARK_DEPENDS_ON_WANTED)
                marks[in] |= MARK_HAS;
        }
    }
    for (size_t k = 0; k < c->n_wanted; k++) {
        const size_t id = c->wanted[k]->id;
        c->values[k] = 0.0;
        c->direct[k] = (cr_tensor){
            .size = 1,
            .data = id <= top && (state[id] & DIRECT_HAS) ? &slot[id] : &c->values[k]};
    }
    *ok = 1;
    return CR_OK;

node_road:
    direct_free(c);
    return CR_OK;
}

/* Computes the gradients of a direct build into its slots, where the
 * wanted nodes' tensors point. Allocates nothing, cannot fail. */
static void direct_sweep(cr_backward_cache *c)
{
    double *restrict slot = c->slot;
    slot_seed(c);
    /* Each node adds to every input's slot, active or not: an inactive one
     * (depending on no wanted node) only passes its slot on to inactive
     * ones, and no gradient reads theirs. No test, no state byte read. */
    cr_node *const *sweep = c->sweep;
    for (size_t k = 0; k < c->n_sweep; k++)
        sweep[k]->op->scalar_vjp(sweep[k], slot);
}

/* Turns direct build c into one of gradient nodes, built from the graph's
 * current values; the wanted nodes that hold c's gradients hold the new
 * nodes' values instead. On failure c stays direct. */
static cr_status direct_to_nodes(cr_graph *g, cr_backward_cache *c)
{
    cr_status st = nodes_build(g, c);
    if (st != CR_OK)
        return st;
    for (size_t k = 0; k < c->n_wanted; k++) {
        cr_node *w = c->wanted[k];
        if (w->grad == &c->direct[k]) {
            w->grad = &c->grads[k]->value;
            w->flags |= CR_NODE_GRAD_NODE;
        }
    }
    g->grads_stamp++;
    direct_free(c);
    return CR_OK;
}

cr_node *cr_node_grad_node(const cr_node *n)
{
    if (!n || !n->grad)
        return NULL;
    if (!(n->flags & CR_NODE_GRAD_NODE)) { /* a direct gradient: build its nodes now */
        const uintptr_t at = (uintptr_t)n->grad;
        cr_backward_cache *c = n->graph->backwards;
        while (c && !(is_direct(c) && at >= (uintptr_t)c->direct &&
                      at < (uintptr_t)(c->direct + c->n_wanted)))
            c = c->next;
        if (!c || direct_to_nodes(n->graph, c) != CR_OK)
            return NULL;
    }
    return (cr_node *)((const char *)n->grad - offsetof(cr_node, value));
}

/* Builds and caches the gradients of loss for every node wanting one:
 * directly on a scalar graph, as nodes otherwise. */
static cr_backward_cache *cache_build(cr_graph *g, cr_node *loss)
{
    cr_backward_cache *c = cr_calloc(1, sizeof *c);
    if (!c) {
        cr_graph_fail(g, CR_ENOMEM, "backward: out of memory");
        return NULL;
    }
    c->loss = loss;
    c->wants_version = g->wants_version;
    /* the parameters when no other node wants a gradient; otherwise one
     * sweep over the nodes, the list growing as it goes (parameters, which
     * always want a gradient, give a first guess of its length) */
    size_t cap = g->n_params;
    c->wanted = cr_malloc((cap ? cap : 1) * sizeof *c->wanted);
    if (!c->wanted) {
        cr_graph_fail(g, CR_ENOMEM, "backward: out of memory");
        goto fail;
    }
    if (cap * sizeof *c->wanted >= CR_PREFAULT_MIN) /* filled next: fault it in now */
        cr_prefault(c->wanted, cap * sizeof *c->wanted);
    /* the parameters, in creation order as well (none: params is NULL) */
    if (g->n_wanting == 0 && g->n_params > 0) {
        memcpy(c->wanted, g->params, g->n_params * sizeof *c->wanted);
        c->n_wanted = g->n_params;
    }
    for (size_t id = 0; g->n_wanting > 0 && id < g->n_nodes; id++) {
        if (!(g->nodes[id]->flags & CR_NODE_WANTS_GRAD))
            continue;
        if (c->n_wanted == cap && cr_grow((void **)&c->wanted, &cap, c->n_wanted + 1,
                                          sizeof *c->wanted) != CR_OK) {
            cr_graph_fail(g, CR_ENOMEM, "backward: out of memory");
            goto fail;
        }
        c->wanted[c->n_wanted++] = g->nodes[id];
    }
    c->grads = cr_calloc(c->n_wanted ? c->n_wanted : 1, sizeof *c->grads);
    if (!c->grads) {
        cr_graph_fail(g, CR_ENOMEM, "backward: out of memory");
        goto fail;
    }

    int direct;
    if (direct_plan(g, c, &direct) != CR_OK)
        goto fail;
    if (!direct && nodes_build(g, c) != CR_OK)
        goto fail;
    c->next = g->backwards;
    g->backwards = c;
    return c;

fail:
    cache_free(c);
    return NULL;
}

/* The cached cr_grad build of (y, x), or NULL. The graph only grows: the
 * one way nodes leave it is the rewind of a failed build (a constructor, a
 * gradient build, a program that does not parse) or of the chain view's
 * scratch nodes, and none of them rewinds past nodes that a cr_grad
 * returned. So an entry stays valid for the graph's life; the check that
 * its result still sits in its slot (without reading the node) guards that
 * assumption. */
static cr_backward_cache *grad_cache_find(cr_graph *g, const cr_node *y, const cr_node *x)
{
    for (cr_backward_cache *c = g->backwards; c; c = c->next)
        if (c->is_grad && c->loss == y && c->wanted[0] == x && c->grad_id < g->n_nodes &&
            g->nodes[c->grad_id] == c->grads[0])
            return c;
    return NULL;
}

cr_node *cr_grad(cr_graph *g, cr_node *y, cr_node *x)
{
    if (!g)
        return NULL;
    if (!y || !x) {
        if (g->err.status == CR_OK)
            cr_graph_fail(g, CR_EINVAL, "grad: %s is NULL", y ? "x" : "y");
        return NULL;
    }
    if (y->graph != g || x->graph != g) {
        cr_graph_fail(g, CR_EINVAL, "grad: nodes belong to another graph");
        return NULL;
    }
    if (require_scalar(g, "grad", y) != CR_OK)
        return NULL;
    cr_backward_cache *c = grad_cache_find(g, y, x);
    if (c) /* the same node again, its value brought up to date */
        return cr_eval_nodes(g, c->plan, c->n_plan) == CR_OK ? c->grads[0] : NULL;
    c = cr_calloc(1, sizeof *c);
    if (c) {
        c->wanted = cr_malloc(sizeof *c->wanted);
        c->grads = cr_calloc(1, sizeof *c->grads);
    }
    if (!c || !c->wanted || !c->grads) {
        cr_graph_fail(g, CR_ENOMEM, "grad: out of memory");
        goto fail;
    }
    c->loss = y;
    c->is_grad = 1;
    c->wanted[0] = x;
    c->n_wanted = 1;
    const size_t first_new = g->n_nodes;
    const cr_arena_mark mark = cr_arena_get_mark(&g->arena);
    if (build_gradients(g, y, NULL, &x, 1, c->grads) != CR_OK)
        goto fail;
    if (plan_new_ops(g, first_new, c) != CR_OK) {
        cr_graph_truncate(g, first_new, mark);
        goto fail;
    }
    c->grad_id = c->grads[0]->id;
    c->next = g->backwards;
    g->backwards = c;
    return c->grads[0];

fail:
    if (c)
        cache_free(c);
    return NULL;
}

cr_status cr_vjp_build(cr_graph *g, cr_node *y, cr_node *seed, cr_node *x, cr_node **out)
{
    *out = NULL;
    if (!cr_tensor_same_shape(&seed->value, &y->value)) {
        char label[300];
        cr_node_label(y, label, sizeof label);
        return cr_graph_fail(g, CR_ESHAPE, "vjp: the cotangent's shape %s is not %s's %s",
                             cr_shape_str(&seed->value).text, label,
                             cr_shape_str(&y->value).text);
    }
    return build_gradients(g, y, seed, &x, 1, out);
}

/* Makes the gradient that w holds now (what cr_node_grad returns: its
 * accumulator, the value of its gradient node, or nothing, which is zero)
 * the content of its accumulator, so that an accumulating backward adds to
 * it. Must run before the gradient nodes are evaluated again. */
static cr_status hold_in_accumulator(cr_graph *g, const char *what, cr_node *w)
{
    if (w->flags & CR_NODE_GRAD_ACCUM)
        return CR_OK;
    if (!w->accum) {
        cr_error err;
        w->accum = cr_tensor_new(w->value.rank, w->value.shape, &err);
        if (!w->accum)
            return cr_graph_fail(g, err.status, "%s: %s", what, err.message);
    }
    if (w->grad)
        memcpy(w->accum->data, w->grad->data, w->accum->size * sizeof(double));
    else
        cr_tensor_fill(w->accum, 0.0);
    w->flags |= CR_NODE_GRAD_ACCUM;
    g->grads_stamp++;
    return CR_OK;
}

static cr_status hold_wanted(cr_graph *g, const cr_backward_cache *c)
{
    for (size_t k = 0; k < c->n_wanted; k++) {
        cr_status st = hold_in_accumulator(g, "backward", c->wanted[k]);
        if (st != CR_OK)
            return st;
    }
    return CR_OK;
}

/* Whether c was built for the nodes that want a gradient now. Equal
 * versions say so at once; after the set changed (a request made and
 * withdrawn again, say) the set is compared with c's, so going back to an
 * earlier set reuses its build instead of growing the graph every time. */
static int cache_fits(cr_graph *g, cr_backward_cache *c)
{
    if (c->wants_version == g->wants_version)
        return 1;
    size_t k = 0;
    for (size_t id = 0; id < g->n_nodes; id++) {
        if (!(g->nodes[id]->flags & CR_NODE_WANTS_GRAD))
            continue;
        if (k == c->n_wanted || c->wanted[k] != g->nodes[id])
            return 0;
        k++;
    }
    if (k != c->n_wanted)
        return 0;
    c->wants_version = g->wants_version;
    return 1;
}

cr_status cr_graph_backward(cr_graph *g, cr_node *loss, unsigned flags)
{
    if (!g || !loss)
        return CR_EINVAL;
    if (loss->graph != g)
        return cr_graph_fail(g, CR_EINVAL, "backward: loss belongs to another graph");
    cr_status st = require_scalar(g, "backward", loss);
    if (st != CR_OK)
        return st;
    g->values_version++; /* a first build computes gradients without cr_eval_nodes */
    cr_backward_cache *c = g->backwards, **link = &g->backwards;
    while (c && (c->is_grad || c->loss != loss || !cache_fits(g, c))) {
        link = &c->next;
        c = c->next;
    }
    if (c && c != g->backwards) { /* most recently used first */
        *link = c->next;
        c->next = g->backwards;
        g->backwards = c;
    }
    const int accumulating = (flags & CR_BACKWARD_ACCUMULATE) != 0;
    const int trap = (g->flags & CR_GRAPH_TRAP_NONFINITE) != 0;
    const int built = c == NULL;
    if (c && is_direct(c) && trap && (st = direct_to_nodes(g, c)) != CR_OK)
        return st; /* the trap checks gradient nodes */
    if (c) {
        /* the gradients held now are kept before the plan overwrites them */
        if (accumulating && (st = hold_wanted(g, c)) != CR_OK)
            return st;
        if (is_direct(c))
            direct_sweep(c);
        else if ((st = cr_eval_nodes(g, c->plan, c->n_plan)) != CR_OK)
            return st;
    } else if (!(c = cache_build(g, loss))) {
        return g->err.status;
    } else if (accumulating && (st = hold_wanted(g, c)) != CR_OK) {
        return st; /* a new build leaves the gradients held before untouched */
    } else if (trap && (st = cr_trap_nodes(g, c->plan, c->n_plan)) != CR_OK) {
        return st; /* the first build computed values eagerly; check them */
    }
    /* The trap scanned the plan, every op node the build made: gradients
     * among them are known finite (others, such as zero constants, are
     * left to whoever reads them). */
    const int scanned = trap && !accumulating && !is_direct(c);
    const size_t first_planned = c->n_plan ? c->plan[0]->id : SIZE_MAX;
    /* A direct re-run, with no gradient or flag of a node changed since
     * this build last set them (every such change bumps the stamp), would
     * write what they hold: skipped, so a re-run does not read 50,000
     * parameters of a scalar network. */
    const int settled =
        is_direct(c) && !accumulating && !built && c->grads_stamp == g->grads_stamp;
    for (size_t k = 0; k < c->n_wanted && !settled; k++) {
        cr_node *w = c->wanted[k];
        /* a direct build leaves grads NULL: not read (fresh zero pages) */
        const cr_node *gn = is_direct(c) ? NULL : c->grads[k];
        const cr_tensor *grad = gn ? &gn->value : &c->direct[k];
        unsigned f =
            gn ? w->flags | CR_NODE_GRAD_NODE : w->flags & ~(unsigned)CR_NODE_GRAD_NODE;
        if (scanned && gn->kind == CR_NODE_OP && gn->id >= first_planned)
            f |= CR_NODE_GRAD_FINITE;
        else
            f &= ~(unsigned)CR_NODE_GRAD_FINITE;
        if (accumulating)
            cr_add_into(w->accum->data, grad->data, w->accum->size);
        else
            f &= ~(unsigned)CR_NODE_GRAD_ACCUM;
        /* written only when they change: a re-run then leaves the nodes'
         * memory clean (50,000 parameters in a scalar network) */
        if (w->grad != grad)
            w->grad = grad;
        if (w->flags != f)
            w->flags = f;
    }
    if (!settled) { /* what a plain direct re-run would leave, or not */
        g->grads_stamp++;
        c->grads_stamp = is_direct(c) && !accumulating ? g->grads_stamp : 0;
    }
    g->grads_checked = g->values_version;
    return CR_OK;
}

int cr_grad_known_finite(const cr_node *w)
{
    const cr_graph *g = w->graph;
    return (w->flags & CR_NODE_GRAD_FINITE) && !(w->flags & CR_NODE_GRAD_ACCUM) &&
           g->grads_checked == g->values_version;
}

cr_status cr_graph_zero_grad(cr_graph *g)
{
    if (!g)
        return CR_EINVAL;
    for (size_t id = 0; id < g->n_nodes; id++) {
        cr_node *n = g->nodes[id];
        if (!(n->flags & CR_NODE_WANTS_GRAD) && !n->grad && !n->accum)
            continue;
        cr_status st = hold_in_accumulator(g, "zero_grad", n);
        if (st != CR_OK)
            return st;
        cr_tensor_fill(n->accum, 0.0);
    }
    return CR_OK;
}
