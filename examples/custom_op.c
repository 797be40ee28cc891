/*
 * custom_op.c - a custom op with a hand-derived derivative, verified by the
 * numerical check: swish(x) = x * sigmoid(x), whose derivative worked out
 * on paper is sigmoid(x) * (1 + x * (1 - sigmoid(x))). The op is applied to
 * a parameter vector inside a small loss, reverse mode gives the gradient,
 * and cr_gradcheck compares it with GSL's central differences. Then the
 * same op with a wrong derivative (sigmoid(x), the derivative of softplus)
 * is checked, and the report names the op node whose VJP is wrong.
 */
#include <chainrule.h>

#include <math.h>
#include <stdio.h>

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

/* y = x * sigmoid(x), elementwise */
static void swish_forward(size_t n, const cr_tensor *const *in, cr_tensor *out, void *user)
{
    const double *x = cr_tensor_data(in[0]);
    double *y = cr_tensor_data_mut(out);
    for (size_t i = 0; i < cr_tensor_size(out); i++)
        y[i] = x[i] * sigmoid(x[i]);
}

/* dx = dy * sigmoid(x) * (1 + x * (1 - sigmoid(x))) */
static void swish_vjp(size_t n, const cr_tensor *const *in, const cr_tensor *out,
                      const cr_tensor *dy, size_t which, cr_tensor *dx, void *user)
{
    const double *x = cr_tensor_data(in[0]), *up = cr_tensor_data(dy);
    double *g = cr_tensor_data_mut(dx);
    for (size_t i = 0; i < cr_tensor_size(dx); i++) {
        const double s = sigmoid(x[i]);
        g[i] = up[i] * s * (1.0 + x[i] * (1.0 - s));
    }
}

/* A plausible mistake: forgetting the product rule, dx = dy * sigmoid(x). */
static void swish_vjp_wrong(size_t n, const cr_tensor *const *in, const cr_tensor *out,
                            const cr_tensor *dy, size_t which, cr_tensor *dx, void *user)
{
    const double *x = cr_tensor_data(in[0]), *up = cr_tensor_data(dy);
    double *g = cr_tensor_data_mut(dx);
    for (size_t i = 0; i < cr_tensor_size(dx); i++)
        g[i] = up[i] * sigmoid(x[i]);
}

int main(void)
{
    cr_custom_op_def def = {.name = "swish",
                            .min_inputs = 1,
                            .max_inputs = 1,
                            .flags = CR_CUSTOM_ELEMENTWISE,
                            .formula = "y = x*sigmoid(x)",
                            .deriv = {"sigmoid(x)*(1 + x*(1-sigmoid(x)))", NULL},
                            .jacobian = "diagonal",
                            .forward = swish_forward,
                            .vjp = swish_vjp};
    int status = 0;
    /* E = sum(swish(w) * c) for w = [0.37, -1.21, 2.05]: check dE/dw. */
    for (int round = 0; round < 2; round++) {
        cr_error err;
        if (round == 1) {
            def.name = "swish_wrong";
            def.deriv[0] = "sigmoid(x)";
            def.vjp = swish_vjp_wrong;
        }
        cr_custom_op *swish = cr_custom_op_new(&def, &err);
        cr_graph *g = cr_graph_new();
        if (!swish || !g) {
            fprintf(stderr, "custom_op: %s\n", swish ? "out of memory" : err.message);
            cr_custom_op_free(swish);
            return 1;
        }
        const double w0[3] = {0.37, -1.21, 2.05}, c0[3] = {1.5, -0.75, 0.25};
        const size_t shape[1] = {3};
        cr_tensor *wt = cr_tensor_new_from(1, shape, w0, &err);
        cr_tensor *ct = cr_tensor_new_from(1, shape, c0, &err);
        cr_node *w = cr_param(g, "w", wt);
        cr_node *y = cr_custom(g, swish, &w, 1);
        cr_node *E = cr_sum(g, cr_mul(g, y, cr_constant(g, ct)));
        cr_tensor_free(wt);
        cr_tensor_free(ct);
        if (!E || cr_node_set_name(y, "swish_w") != CR_OK ||
            cr_node_set_name(E, "E") != CR_OK) {
            fprintf(stderr, "custom_op: %s\n", cr_graph_error(g)->message);
            status = 1;
        } else {
            printf("%s, with the derivative %s:\n", cr_custom_op_name(swish), def.deriv[0]);
            if (round == 1)
                printf("(a wrong derivative: the product rule was forgotten)\n");
            cr_gradcheck_report *report = NULL;
            cr_status st = cr_gradcheck(g, E, &w, 1, NULL, &report);
            if (report)
                cr_gradcheck_report_print(report, stdout);
            else
                fprintf(stderr, "custom_op: %s\n", cr_graph_error(g)->message);
            printf("result: %s\n\n", cr_strerror(st));
            if (st != (round == 0 ? CR_OK : CR_ECHECK))
                status = 1;
            cr_gradcheck_report_free(report);
        }
        cr_graph_free(g); /* graphs first: their nodes point at the op */
        cr_custom_op_free(swish);
    }
    return status;
}
