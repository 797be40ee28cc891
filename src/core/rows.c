/*
 * rows.c - one graph for every batch size: batch leaves (cr_node_mark_batch)
 * and cr_graph_set_rows, which shrinks (or restores) their leading axis and
 * works out again the shapes and size parameters of every node depending on
 * them, in creation order, through each op's resize hook or shape(). The
 * nodes as built for the full batch are kept here (a snapshot taken at the
 * first change), so every size is computed from the built one and a return
 * to the full batch restores them exactly.
 */
#include "core/internal.h"

#include <string.h>

/* A node as built: its shape and parameters. */
typedef struct built_node {
    int rank;
    size_t shape[CR_MAX_RANK];
    size_t size;
    cr_node_args args;
} built_node;

struct cr_rows {
    size_t max, cur;   /* rows built for, rows now */
    built_node *built; /* per node id < n_built */
    size_t n_built, cap_built;
    unsigned char *shrunk;  /* per node: shaped other than as built */
    unsigned char *changed; /* scratch of one pass: shape differs from before */
    size_t cap_flags;
};

static cr_rows *rows_state(cr_graph *g)
{
    if (!g->rows)
        g->rows = cr_calloc(1, sizeof *g->rows);
    return g->rows;
}

void cr_rows_free(cr_graph *g)
{
    if (!g->rows)
        return;
    cr_free(g->rows->built);
    cr_free(g->rows->shrunk);
    cr_free(g->rows->changed);
    cr_free(g->rows);
    g->rows = NULL;
}

size_t cr_graph_rows(const cr_graph *g) { return g && g->rows ? g->rows->cur : 0; }
size_t cr_graph_max_rows(const cr_graph *g) { return g && g->rows ? g->rows->max : 0; }

cr_status cr_node_mark_batch(cr_node *n)
{
    if (!n)
        return CR_EINVAL;
    cr_graph *g = n->graph;
    char label[300];
    cr_node_label(n, label, sizeof label);
    if (n->kind != CR_NODE_INPUT && n->kind != CR_NODE_CONSTANT)
        return cr_graph_fail(g, CR_ESTATE, "mark batch: %s is no input or constant (op %s)",
                             label, n->op->name);
    if (n->value.rank < 1)
        return cr_graph_fail(g, CR_ESHAPE,
                             "mark batch: %s is a scalar: it has no batch axis", label);
    if (g->rows && g->rows->max && g->rows->cur != g->rows->max)
        return cr_graph_fail(g, CR_ESTATE,
                             "mark batch: the graph runs %zu of its %zu rows now: mark "
                             "batch leaves at the full batch",
                             g->rows->cur, g->rows->max);
    if (g->rows && g->rows->max && n->value.shape[0] != g->rows->max)
        return cr_graph_fail(g, CR_ESHAPE,
                             "mark batch: %s is %s, but the batch leaves have %zu rows",
                             label, cr_shape_str(&n->value).text, g->rows->max);
    cr_rows *r = rows_state(g);
    if (!r)
        return cr_graph_fail(g, CR_ENOMEM, "mark batch: out of memory");
    r->max = r->cur = n->value.shape[0];
    n->flags |= CR_NODE_BATCH;
    return CR_OK;
}

void cr_rows_forget(cr_graph *g)
{
    cr_rows *r = g->rows;
    if (!r)
        return;
    for (size_t id = 0; id < g->n_nodes; id++)
        g->nodes[id]->flags &= ~(unsigned)CR_NODE_BATCH;
    r->max = r->cur = 0;
    r->n_built = 0; /* the next cr_graph_set_rows takes every node as built */
}

size_t cr_rows_scale(size_t built, size_t max, size_t rows)
{
    return built % max == 0 ? built / max * rows : 0;
}

static cr_status not_multiple(cr_graph *g, const cr_node *n, size_t size, size_t max)
{
    char label[300];
    cr_node_label(n, label, sizeof label);
    return cr_graph_fail(g, CR_ENOTSUP,
                         "set rows: %s (op %s): size %zu holds no whole batch of %zu rows",
                         label, n->op->name, size, max);
}

cr_status cr_rows_lead(cr_graph *g, cr_node *n, size_t max, size_t rows)
{
    if (n->value.rank < 1)
        return not_multiple(g, n, 1, max);
    size_t shape[CR_MAX_RANK];
    memcpy(shape, n->value.shape, sizeof shape);
    shape[0] = cr_rows_scale(shape[0], max, rows);
    if (shape[0] == 0)
        return not_multiple(g, n, n->value.shape[0], max);
    return cr_tensor_set_shape(&n->value, n->value.rank, shape, &g->err);
}

int cr_rows_view(cr_graph *g, cr_node *n, int first, int count, size_t max, size_t rows)
{
    cr_node_args *a = (cr_node_args *)n->args; /* an arena copy: the node has args */
    for (int k = first; k < first + count; k++) {
        if (a->i[k] <= 1)
            continue;
        const size_t v = cr_rows_scale((size_t)a->i[k], max, rows);
        if (v == 0) {
            not_multiple(g, n, (size_t)a->i[k], max);
            return -1;
        }
        a->i[k] = (int64_t)v;
        return k;
    }
    not_multiple(g, n, 1, max);
    return -1;
}

/* Records the nodes made since the last snapshot as built; they must have
 * been made at the full batch. */
static cr_status snapshot(cr_graph *g, cr_rows *r)
{
    if (r->n_built == g->n_nodes)
        return CR_OK;
    if (r->cur != r->max) {
        char label[300];
        cr_node_label(g->nodes[r->n_built], label, sizeof label);
        return cr_graph_fail(g, CR_ESTATE,
                             "set rows: %s was made while the graph ran %zu of its %zu "
                             "rows: make nodes at the full batch",
                             label, r->cur, r->max);
    }
    if (cr_grow((void **)&r->built, &r->cap_built, g->n_nodes, sizeof *r->built) != CR_OK ||
        cr_grow((void **)&r->shrunk, &r->cap_flags, g->n_nodes, 1) != CR_OK)
        return cr_graph_fail(g, CR_ENOMEM, "set rows: out of memory for %zu nodes",
                             g->n_nodes);
    size_t cap = r->cap_flags;
    unsigned char *changed = cr_realloc(r->changed, cap);
    if (!changed)
        return cr_graph_fail(g, CR_ENOMEM, "set rows: out of memory for %zu nodes",
                             g->n_nodes);
    r->changed = changed;
    for (size_t id = r->n_built; id < g->n_nodes; id++) {
        const cr_node *n = g->nodes[id];
        built_node *b = &r->built[id];
        b->rank = n->value.rank;
        memcpy(b->shape, n->value.shape, sizeof b->shape);
        b->size = n->value.size;
        b->args = *n->args;
        r->shrunk[id] = 0;
    }
    r->n_built = g->n_nodes;
    return CR_OK;
}

/* Node n as built: shape and parameters. */
static void restore(cr_node *n, const built_node *b)
{
    n->value.rank = b->rank;
    memcpy(n->value.shape, b->shape, sizeof b->shape);
    n->value.size = b->size;
    if (n->args != &cr_no_args)
        *(cr_node_args *)n->args = b->args;
}

/* One pass to rows; on error some nodes may be left resized. */
static cr_status resize_all(cr_graph *g, cr_rows *r, size_t rows)
{
    for (size_t id = 0; id < g->n_nodes; id++) {
        cr_node *n = g->nodes[id];
        const built_node *b = &r->built[id];
        const int was = r->shrunk[id];
        r->changed[id] = 0;
        int moved = (n->flags & CR_NODE_BATCH) != 0;
        for (size_t k = 0; k < n->n_inputs && !moved; k++)
            moved = r->changed[n->inputs[k]->id];
        if (!moved)
            continue;
        restore(n, b);
        cr_status st = CR_OK;
        if (rows == r->max)
            ; /* as built */
        else if (n->flags & CR_NODE_BATCH)
            st = cr_rows_lead(g, n, r->max, rows);
        else if (n->op->resize)
            st = n->op->resize(g, n, r->max, rows);
        else if (n->op->shape)
            st = n->op->shape(g, n);
        else {
            char label[300];
            cr_node_label(n, label, sizeof label);
            st = cr_graph_fail(g, CR_ENOTSUP,
                               "set rows: %s (op %s) cannot change its batch size", label,
                               n->op->name);
        }
        if (st == CR_OK && n->value.size > b->size) {
            char label[300];
            cr_node_label(n, label, sizeof label);
            st = cr_graph_fail(g, CR_ESHAPE,
                               "set rows: %s (op %s) would grow to %s beyond its built %zu "
                               "elements",
                               label, n->op->name, cr_shape_str(&n->value).text, b->size);
        }
        if (st != CR_OK)
            return st;
        const int now = n->value.rank != b->rank ||
                        memcmp(n->value.shape, b->shape, sizeof b->shape) != 0;
        r->shrunk[id] = (unsigned char)now;
        r->changed[id] = (unsigned char)(was || now);
    }
    return CR_OK;
}

cr_status cr_graph_set_rows(cr_graph *g, size_t rows)
{
    if (!g)
        return CR_EINVAL;
    cr_rows *r = g->rows;
    if (!r || r->max == 0)
        return cr_graph_fail(
            g, CR_ESTATE, "set rows: the graph has no batch leaves (cr_node_mark_batch)");
    if (rows == 0 || rows > r->max)
        return cr_graph_fail(g, CR_ESHAPE,
                             "set rows: %zu rows; the graph was built for 1 to %zu", rows,
                             r->max);
    cr_status st = snapshot(g, r);
    if (st != CR_OK)
        return st;
    if (rows == r->cur)
        return CR_OK;
    st = resize_all(g, r, rows);
    if (st != CR_OK) {
        /* back to the previous size, which worked, keeping the error */
        cr_error saved = g->err;
        resize_all(g, r, r->cur);
        g->err = saved;
        return st;
    }
    r->cur = rows;
    g->values_version++;
    return CR_OK;
}
