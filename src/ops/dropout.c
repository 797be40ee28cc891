/*
 * dropout.c - dropout (PyTorch's): y = x * m, the mask m drawn at every
 * evaluation from the graph's seeded generator (each element kept with
 * probability 1 - p and scaled by 1/(1 - p)), and all ones in evaluation
 * mode. The mask is the node's state. The vjp is a dropout node with a
 * second input, the node whose mask it applies (no draw of its own), so
 * a gradient always uses the mask of the forward it follows; its own vjp
 * is the same again.
 */
#include "core/rng.h"
#include "ops/ops_common.h"

/* args.f = p; args.state = the mask (a 2-input node shares its source's) */

static void dropout_forward(cr_node *n)
{
    const double *restrict x = IN(n, 0);
    double *restrict y = OUT(n), *restrict m = n->args->state->data;
    const size_t len = n->value.size;
    const double p = n->args->f;
    if (n->n_inputs == 1) { /* a new mask */
        if (n->graph->evaluating || p == 0.0) {
            CR_FOR_BLOCKED(i, len, m[i] = 1.0;);
        } else if (p >= 1.0) {
            CR_FOR_BLOCKED(i, len, m[i] = 0.0;);
        } else {
            gsl_rng *r = n->graph->rng;
            const double keep = 1.0 / (1.0 - p);
            for (size_t i = 0; i < len; i++)
                m[i] = gsl_rng_uniform(r) >= p ? keep : 0.0;
        }
    }
    CR_FOR_BLOCKED(i, len, y[i] = x[i] * m[i];);
}

/* Shaped like x; a mask of that shape (cr_dropout makes it), and a second
 * input only a dropout node of the same shape. */
static cr_status dropout_shape(cr_graph *g, cr_node *n)
{
    const cr_tensor *x = IN_TENSOR(n, 0), *m = n->args->state;
    if (!m || m->size != x->size ||
        (n->n_inputs == 2 &&
         (n->inputs[1]->op != &cr_op_dropout || n->inputs[1]->args->state != m)))
        return cr_graph_fail(g, CR_EINVAL,
                             "dropout: %s has no mask of its shape (build it with "
                             "cr_dropout)",
                             cr_shape_str(x).text);
    return cr_shape_same(g, n);
}

/* dx = dy * m, with the mask of the node that drew it. */
static cr_status dropout_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy, cr_node **dx)
{
    if (i == 1) { /* the mask's source: no derivative through it */
        *dx = NULL;
        return CR_OK;
    }
    cr_node *in[2] = {dy, n->n_inputs == 2 ? n->inputs[1] : n};
    CR_VJP_RETURN(cr_node_create(g, &cr_op_dropout, in, 2, n->args));
}

/* Shaped like x; the mask's first elements serve. */
static cr_status dropout_resize(cr_graph *g, cr_node *n, size_t max, size_t rows)
{
    (void)max;
    (void)rows;
    const cr_tensor *x = IN_TENSOR(n, 0);
    return cr_tensor_set_shape(&n->value, x->rank, x->shape, &g->err);
}

const cr_op cr_op_dropout = {.name = "dropout",
                             .min_inputs = 1,
                             .max_inputs = 2,
                             .formula = "y = x * m, m = 1/(1-p) with probability 1-p, "
                                        "else 0 (drawn each evaluation; 1 when evaluating)",
                             .jacobian = "diagonal: the mask m",
                             .shape = dropout_shape,
                             .forward = dropout_forward,
                             .vjp = dropout_vjp,
                             .resize = dropout_resize};

cr_node *cr_dropout(cr_graph *g, cr_node *x, double p)
{
    if (!g || !x)
        return cr_node_create(g, &cr_op_dropout, &x, 1, NULL); /* reports the NULL */
    if (!(p >= 0.0 && p <= 1.0)) {
        cr_graph_fail(g, CR_EINVAL, "dropout: p = %g is not in [0, 1]", p);
        return NULL;
    }
    gsl_rng *r;
    if (cr_graph_rng(g, &r) != CR_OK)
        return NULL;
    cr_arena_mark mark = cr_arena_get_mark(&g->arena);
    cr_node_args args = {.f = p};
    args.state = cr_graph_state_new(g, x->value.rank, x->value.shape);
    cr_node *n = args.state ? cr_node_create(g, &cr_op_dropout, &x, 1, &args) : NULL;
    if (!n)
        cr_arena_rewind(&g->arena, mark);
    return n;
}
