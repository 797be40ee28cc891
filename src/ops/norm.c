/*
 * norm.c - normalisation: layer_norm (over trailing axes) and batch_norm
 * (over the batch and spatial axes, with running statistics updated in
 * training mode and used in evaluation mode), their shared backward helper
 * norm_bwd, and the per-channel ops their gradients and a convolution's
 * bias are built from: channel_sum, channel_expand, channel_scale, and
 * training_only (the identity in training mode, zero in evaluation mode).
 *
 * Both normalisations view x as [A, C, B] and normalise each c over its A*B
 * elements: layer norm as [1, rows, D] (D the product of the normalised
 * trailing axes), batch norm as [N, C, spatial]. Their gain and bias are
 * indexed by d for layer norm and by c for batch norm.
 */
#include "ops/ops_common.h"

#include <string.h>

/* ---- sums over one group ---- */

/* The sum of x[0..n), in CR_BLOCK partial sums. */
static double sum_of(const double *x, size_t n)
{
    double acc[CR_BLOCK] = {0};
    size_t i = 0;
    for (; i + CR_BLOCK <= n; i += CR_BLOCK)
        CR_UNROLL_BLOCK
    for (size_t j = 0; j < CR_BLOCK; j++)
        acc[j] += x[i + j];
    for (; i < n; i++)
        acc[0] += x[i];
    return cr_sum_of_block(acc);
}

/* ---- channel_sum, channel_expand, channel_scale: args.i = {A, C, B} ---- */

#define VIEW_A(n) ((size_t)(n)->args->i[0])
#define VIEW_C(n) ((size_t)(n)->args->i[1])
#define VIEW_B(n) ((size_t)(n)->args->i[2])

/* y[c] = f sum_{a,b} x[a,c,b] */
static void channel_sum_forward(cr_node *n)
{
    const size_t na = VIEW_A(n), nc = VIEW_C(n), nb = VIEW_B(n);
    const double *x = IN(n, 0);
    double *y = OUT(n);
    memset(y, 0, nc * sizeof *y);
    for (size_t a = 0; a < na; a++)
        for (size_t c = 0; c < nc; c++)
            y[c] += sum_of(x + (a * nc + c) * nb, nb);
    for (size_t c = 0; c < nc; c++)
        y[c] *= n->args->f;
}

/* y[a,c,b] = f x[c] */
static void channel_expand_forward(cr_node *n)
{
    const size_t na = VIEW_A(n), nc = VIEW_C(n), nb = VIEW_B(n);
    const double *x = IN(n, 0);
    double *y = OUT(n);
    for (size_t a = 0; a < na; a++)
        for (size_t c = 0; c < nc; c++) {
            double *restrict r = y + (a * nc + c) * nb;
            const double v = n->args->f * x[c];
            CR_FOR_BLOCKED(b, nb, r[b] = v;);
        }
}

/* y[a,c,b] = x[a,c,b] s[c] */
static void channel_scale_forward(cr_node *n)
{
    const size_t na = VIEW_A(n), nc = VIEW_C(n), nb = VIEW_B(n);
    const double *x = IN(n, 0), *s = IN(n, 1);
    double *y = OUT(n);
    for (size_t a = 0; a < na; a++)
        for (size_t c = 0; c < nc; c++) {
            const size_t o = (a * nc + c) * nb;
            const double *restrict xr = x + o;
            double *restrict yr = y + o;
            const double v = s[c];
            CR_FOR_BLOCKED(b, nb, yr[b] = xr[b] * v;);
        }
}

static cr_status channel_sum_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                 cr_node **dx);
static cr_status channel_expand_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                    cr_node **dx);
static cr_status channel_scale_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                   cr_node **dx);

const cr_op cr_op_channel_sum = {.name = "channel_sum",
                                 .min_inputs = 1,
                                 .max_inputs = 1,
                                 .flags = CR_OP_BACKWARD,
                                 .formula = "y[c] = f * sum over a, b of x[a,c,b]",
                                 .jacobian = "ones along each channel (adjoint: "
                                             "channel_expand)",
                                 .forward = channel_sum_forward,
                                 .vjp = channel_sum_vjp};
const cr_op cr_op_channel_expand = {.name = "channel_expand",
                                    .min_inputs = 1,
                                    .max_inputs = 1,
                                    .flags = CR_OP_BACKWARD,
                                    .formula = "y[a,c,b] = f * x[c]",
                                    .jacobian = "repetition (adjoint: channel_sum)",
                                    .forward = channel_expand_forward,
                                    .vjp = channel_expand_vjp};
const cr_op cr_op_channel_scale = {.name = "channel_scale",
                                   .min_inputs = 2,
                                   .max_inputs = 2,
                                   .flags = CR_OP_BACKWARD,
                                   .formula = "y[a,c,b] = x[a,c,b] * s[c]",
                                   .jacobian = "diagonal in x; dS = channel_sum(dY * X)",
                                   .forward = channel_scale_forward,
                                   .vjp = channel_scale_vjp};

static cr_node *view_node(cr_graph *g, const cr_op *op, cr_node *const *in, size_t n_in,
                          size_t a, size_t c, size_t b, double f, int rank,
                          const size_t *shape)
{
    cr_node_args args = {.i = {(int64_t)a, (int64_t)c, (int64_t)b}, .f = f};
    return cr_node_create_shaped(g, op, in, n_in, &args, rank, shape);
}

cr_node *cr_channel_sum(cr_graph *g, cr_node *x, size_t a, size_t c, size_t b, double f,
                        int rank, const size_t *shape)
{
    return view_node(g, &cr_op_channel_sum, &x, 1, a, c, b, f, rank, shape);
}

cr_node *cr_channel_expand(cr_graph *g, cr_node *x, size_t a, size_t c, size_t b, double f,
                           int rank, const size_t *shape)
{
    return view_node(g, &cr_op_channel_expand, &x, 1, a, c, b, f, rank, shape);
}

cr_node *cr_channel_scale(cr_graph *g, cr_node *x, cr_node *s, size_t a, size_t c, size_t b)
{
    if (!x || !s)
        return NULL;
    cr_node *in[2] = {x, s};
    return view_node(g, &cr_op_channel_scale, in, 2, a, c, b, 0.0, x->value.rank,
                     x->value.shape);
}

static cr_status channel_sum_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                 cr_node **dx)
{
    const cr_tensor *x = INT(n, 0);
    CR_VJP_RETURN(cr_channel_expand(g, dy, VIEW_A(n), VIEW_C(n), VIEW_B(n), n->args->f,
                                    x->rank, x->shape));
}

static cr_status channel_expand_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                    cr_node **dx)
{
    const cr_tensor *x = INT(n, 0);
    CR_VJP_RETURN(cr_channel_sum(g, dy, VIEW_A(n), VIEW_C(n), VIEW_B(n), n->args->f,
                                 x->rank, x->shape));
}

static cr_status channel_scale_vjp(cr_graph *g, cr_node *n, size_t i, cr_node *dy,
                                   cr_node **dx)
{
    if (i == 0)
        CR_VJP_RETURN(
            cr_channel_scale(g, dy, n->inputs[1], VIEW_A(n), VIEW_C(n), VIEW_B(n)));
    const cr_tensor *s = INT(n, 1);
    CR_VJP_RETURN(cr_channel_sum(g, cr_mul(g, dy, n->inputs[0]), VIEW_A(n), VIEW_C(n),
                                 VIEW_B(n), 1.0, s->rank, s->shape));
}
