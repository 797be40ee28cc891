/*
 * custom.c - user-defined ops (chainrule/custom.h): a cr_custom_op holds
 * a generated op-table entry whose shape rule, forward kernel and vjp adapt
 * the user's callbacks, plus a second entry "<name>_vjp" whose nodes run
 * the user's numeric vector-Jacobian product during reverse mode.
 *
 * A node's attributes (cr_custom_attr) are an arena copy in the graph; the
 * node's parameters hold its address (args.i[1]), and a "<name>_vjp" node
 * reads them from the node it differentiates, its input n.
 */
#include "core/internal.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(intptr_t) <= sizeof(int64_t), "an address fits a node parameter");

#define CUSTOM_NAME_MAX 200

struct cr_custom_op {
    cr_op op;     /* first: nodes of the op point here */
    cr_op vjp_op; /* "<name>_vjp": inputs x_1..x_n, y, dy; args.i[0] = which */
    cr_custom_op_def def;
    char *strings[7]; /* owned copies: name, vjp name, formula, 2 derivs, jacobian,
                         vjp formula */
};

static const cr_custom_op *custom_of(const cr_node *n)
{
    return (const cr_custom_op *)(const void *)n->op;
}

static const cr_custom_op *custom_of_vjp(const cr_node *n)
{
    return (const cr_custom_op *)(const void *)((const char *)n->op -
                                                offsetof(cr_custom_op, vjp_op));
}

/* The attributes of a node of a custom op (NULL for none). */
static const void *attr_of(const cr_node *n)
{
    return (const void *)(intptr_t)n->args->i[1];
}

/* The values of the first count inputs of n, for the callbacks. */
static void input_values(const cr_node *n, size_t count,
                         const cr_tensor *values[CR_CUSTOM_MAX_INPUTS])
{
    for (size_t i = 0; i < count; i++)
        values[i] = &n->inputs[i]->value;
}

static cr_status custom_shape(cr_graph *g, cr_node *n)
{
    const cr_custom_op *c = custom_of(n);
    const cr_tensor *in[CR_CUSTOM_MAX_INPUTS];
    input_values(n, n->n_inputs, in);
    if (!c->def.shape && !c->def.shape_attr) {
        for (size_t i = 1; i < n->n_inputs; i++)
            if (!cr_tensor_same_shape(in[0], in[i]))
                return cr_graph_fail(g, CR_ESHAPE, "%s: input %zu is %s but input 1 is %s",
                                     c->op.name, i + 1, cr_shape_str(in[i]).text,
                                     cr_shape_str(in[0]).text);
        return cr_tensor_set_shape(&n->value, in[0]->rank, in[0]->shape, &g->err);
    }
    int rank = -1;
    size_t shape[CR_MAX_RANK] = {0};
    cr_error err;
    cr_error_clear(&err);
    cr_status st = c->def.shape_attr
                       ? c->def.shape_attr(n->n_inputs, in, attr_of(n), &rank, shape, &err,
                                           c->def.user)
                       : c->def.shape(n->n_inputs, in, &rank, shape, &err, c->def.user);
    if (st != CR_OK)
        return cr_graph_fail(g, st < 0 ? st : CR_ESHAPE, "%s: %s", c->op.name,
                             err.message[0] ? err.message
                                            : "the shape rule rejects the inputs");
    return cr_tensor_set_shape(&n->value, rank, shape, &g->err);
}

static void custom_forward(cr_node *n)
{
    const cr_custom_op *c = custom_of(n);
    const cr_tensor *in[CR_CUSTOM_MAX_INPUTS];
    input_values(n, n->n_inputs, in);
    if (c->def.forward_attr)
        c->def.forward_attr(n->n_inputs, in, attr_of(n), &n->value, c->def.user);
    else
        c->def.forward(n->n_inputs, in, &n->value, c->def.user);
}

static cr_status custom_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    const cr_custom_op *c = custom_of(n);
    const cr_tensor *target = &n->inputs[i]->value;
    if (c->def.graph_vjp || c->def.graph_vjp_attr) {
        *dx = NULL;
        cr_status st =
            c->def.graph_vjp_attr
                ? c->def.graph_vjp_attr(g, n->inputs, n->n_inputs, attr_of(n), n, dy, i, dx,
                                        c->def.user)
                : c->def.graph_vjp(g, n->inputs, n->n_inputs, n, dy, i, dx, c->def.user);
        if (st != CR_OK)
            return g->err.status != CR_OK ? g->err.status : st;
        if (*dx && !cr_tensor_same_shape(&(*dx)->value, target))
            return cr_graph_fail(
                g, CR_ESHAPE, "%s: graph_vjp gave a %s gradient for input %zu, which is %s",
                c->op.name, cr_shape_str(&(*dx)->value).text, i + 1,
                cr_shape_str(target).text);
        return CR_OK;
    }
    cr_node *in[CR_CUSTOM_MAX_INPUTS + 2];
    memcpy(in, n->inputs, n->n_inputs * sizeof *in);
    in[n->n_inputs] = n;
    in[n->n_inputs + 1] = dy;
    cr_node_args args = {.i = {(int64_t)i}};
    *dx = cr_node_create_shaped(g, &c->vjp_op, in, n->n_inputs + 2, &args, target->rank,
                                target->shape);
    return *dx ? CR_OK : g->err.status;
}

static void custom_vjp_forward(cr_node *n)
{
    const cr_custom_op *c = custom_of_vjp(n);
    const size_t count = n->n_inputs - 2;
    const cr_tensor *in[CR_CUSTOM_MAX_INPUTS];
    input_values(n, count, in);
    const cr_tensor *out = &n->inputs[count]->value, *dy = &n->inputs[count + 1]->value;
    memset(n->value.data, 0, n->value.size * sizeof *n->value.data);
    if (c->def.vjp_attr)
        c->def.vjp_attr(count, in, attr_of(n->inputs[count]), out, dy,
                        (size_t)n->args->i[0], &n->value, c->def.user);
    else
        c->def.vjp(count, in, out, dy, (size_t)n->args->i[0], &n->value, c->def.user);
}

static cr_status custom_vjp_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                cr_node **dx)
{
    const cr_custom_op *c = custom_of_vjp(n);
    return cr_graph_fail(
        g, CR_ENOTSUP,
        "%s: the hand-written VJP of custom op '%s' is a numeric kernel with "
        "no derivative; give the op a graph_vjp for second derivatives",
        n->op->name, c->op.name);
}

static cr_status copy_string(const char *s, char **out)
{
    *out = NULL;
    if (!s)
        return CR_OK;
    *out = cr_strdup(s);
    return *out ? CR_OK : CR_ENOMEM;
}

/* Which callback, if any, the definition gives in both kinds. */
static const char *given_twice(const cr_custom_op_def *def)
{
    if (def->shape && def->shape_attr)
        return "shape";
    if (def->forward && def->forward_attr)
        return "forward";
    if (def->vjp && def->vjp_attr)
        return "vjp";
    if (def->graph_vjp && def->graph_vjp_attr)
        return "graph_vjp";
    return NULL;
}

cr_custom_op *cr_custom_op_new(const cr_custom_op_def *def, cr_error *err)
{
    if (!def || (!def->forward && !def->forward_attr)) {
        cr_error_set(err, CR_EINVAL, "custom op", "%s is NULL",
                     def ? "the forward kernel" : "the definition");
        return NULL;
    }
    const char *name = def->name ? def->name : "";
    size_t len = strlen(name);
    if (len == 0 || len > CUSTOM_NAME_MAX || cr_op_find(name)) {
        cr_error_set(err, CR_ENAME, "custom op", "'%.*s' cannot name a custom op: %s",
                     CUSTOM_NAME_MAX, name,
                     len == 0                ? "it is empty"
                     : len > CUSTOM_NAME_MAX ? "it is too long"
                                             : "a built-in op has it");
        return NULL;
    }
    if (def->min_inputs < 1 || def->max_inputs < def->min_inputs ||
        def->max_inputs > CR_CUSTOM_MAX_INPUTS) {
        cr_error_set(err, CR_EINVAL, name, "%s: arity %d..%d is not within 1..%d", name,
                     def->min_inputs, def->max_inputs, CR_CUSTOM_MAX_INPUTS);
        return NULL;
    }
    if (def->flags & ~(unsigned)(CR_CUSTOM_ELEMENTWISE | CR_CUSTOM_KINK)) {
        cr_error_set(err, CR_EINVAL, name, "%s: unknown flags 0x%x", name, def->flags);
        return NULL;
    }
    if (given_twice(def)) {
        cr_error_set(err, CR_EINVAL, name, "%s: both %s and %s_attr are given", name,
                     given_twice(def), given_twice(def));
        return NULL;
    }
    if (def->attr_size > CR_CUSTOM_MAX_ATTR) {
        cr_error_set(err, CR_EINVAL, name, "%s: %zu bytes of attributes (at most %d)", name,
                     def->attr_size, CR_CUSTOM_MAX_ATTR);
        return NULL;
    }
    cr_custom_op *c = cr_calloc(1, sizeof *c);
    if (!c) {
        cr_error_set(err, CR_ENOMEM, name, "%s: out of memory", name);
        return NULL;
    }
    c->def = *def;
    char vjp_name[CUSTOM_NAME_MAX + 8], vjp_formula[CUSTOM_NAME_MAX + 64];
    snprintf(vjp_name, sizeof vjp_name, "%s_vjp", name);
    snprintf(vjp_formula, sizeof vjp_formula, "hand-written VJP of %s", name);
    const char *texts[7] = {name,          vjp_name,      def->formula, def->deriv[0],
                            def->deriv[1], def->jacobian, vjp_formula};
    for (int k = 0; k < 7; k++) {
        if (copy_string(texts[k], &c->strings[k]) != CR_OK) {
            cr_custom_op_free(c);
            cr_error_set(err, CR_ENOMEM, name, "%s: out of memory", name);
            return NULL;
        }
    }
    c->def.name = c->strings[0];
    c->op =
        (cr_op){.name = c->strings[0],
                .min_inputs = def->min_inputs,
                .max_inputs = def->max_inputs,
                .flags = ((def->flags & CR_CUSTOM_ELEMENTWISE) ? CR_OP_ELEMENTWISE : 0u) |
                         ((def->flags & CR_CUSTOM_KINK) ? CR_OP_KINK : 0u),
                .formula = c->strings[2],
                .deriv = {c->strings[3], c->strings[4]},
                .jacobian = c->strings[5],
                .shape = custom_shape,
                .forward = custom_forward,
                .vjp = (def->vjp || def->graph_vjp || def->vjp_attr || def->graph_vjp_attr)
                           ? custom_vjp
                           : NULL};
    c->vjp_op = (cr_op){.name = c->strings[1],
                        .min_inputs = def->min_inputs + 2,
                        .max_inputs = def->max_inputs + 2,
                        .flags = CR_OP_BACKWARD,
                        .formula = c->strings[6],
                        .jacobian = "none (numeric kernel)",
                        .forward = custom_vjp_forward,
                        .vjp = custom_vjp_vjp};
    return c;
}

void cr_custom_op_free(cr_custom_op *op)
{
    if (!op)
        return;
    for (int k = 0; k < 7; k++)
        cr_free(op->strings[k]);
    cr_free(op);
}

const char *cr_custom_op_name(const cr_custom_op *op) { return op ? op->op.name : NULL; }

cr_node *cr_custom(cr_graph *g, const cr_custom_op *op, cr_node *const *inputs, size_t n)
{
    if (g && op && op->def.attr_size) {
        cr_graph_fail(g, CR_EINVAL,
                      "%s: takes %zu bytes of attributes; apply it with cr_custom_attr",
                      op->op.name, op->def.attr_size);
        return NULL;
    }
    return cr_custom_attr(g, op, inputs, n, NULL);
}

cr_node *cr_custom_attr(cr_graph *g, const cr_custom_op *op, cr_node *const *inputs,
                        size_t n, const void *attr)
{
    if (!g)
        return NULL;
    if (!op) {
        cr_graph_fail(g, CR_EINVAL, "custom op: op is NULL");
        return NULL;
    }
    const size_t size = op->def.attr_size;
    if (!size)
        return cr_node_create(g, &op->op, inputs, n, NULL);
    if (!attr) {
        cr_graph_fail(g, CR_EINVAL, "%s: the attributes are NULL (the op takes %zu bytes)",
                      op->op.name, size);
        return NULL;
    }
    const cr_arena_mark mark = cr_arena_get_mark(&g->arena);
    void *copy = cr_arena_alloc(&g->arena, size, 16);
    if (!copy) {
        cr_graph_fail(g, CR_ENOMEM, "%s: out of memory", op->op.name);
        return NULL;
    }
    memcpy(copy, attr, size);
    const cr_node_args args = {.i = {0, (int64_t)(intptr_t)copy}};
    cr_node *node = cr_node_create(g, &op->op, inputs, n, &args);
    if (!node)
        cr_arena_rewind(&g->arena, mark); /* the graph as it was */
    return node;
}
