/*
 * hessian.c - second derivatives with chainrule/higher.h: the Hessian of
 * Rosenbrock's function, built once and re-evaluated at a second point,
 * its Hessian-vector product, and the Hessian of log-sum-exp compared with
 * the closed form diag(p) - p p^T (tutorial, section 6).
 */
#include <chainrule.h>

#include <math.h>
#include <stdio.h>

static void print_matrix(const char *title, const cr_tensor *t)
{
    const size_t *shape = cr_tensor_shape(t);
    printf("%s\n", title);
    for (size_t i = 0; i < shape[0]; i++) {
        for (size_t j = 0; j < shape[1]; j++)
            printf(" %12.6g", cr_tensor_get(t, i * shape[1] + j));
        printf("\n");
    }
}

int main(void)
{
    cr_graph *g = cr_graph_new();
    const size_t n = 3;
    cr_node *x = cr_input(g, "x", 1, &n), *v = cr_input(g, "v", 1, &n);
    cr_node_set_data(x, (const double[]){-1.2, 1.0, 0.7}, n);
    cr_node_set_data(v, (const double[]){1.0, 0.0, 0.0}, n);

    /* f(x) = sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2 */
    cr_node *head = cr_slice(g, x, 0, 0, 2, 1), *tail = cr_slice(g, x, 0, 1, 3, 1);
    cr_node *f = cr_sum(
        g, cr_add(g, cr_scale(g, cr_square(g, cr_sub(g, tail, cr_square(g, head))), 100.0),
                  cr_square(g, cr_sub(g, cr_scalar(g, 1.0), head))));
    cr_node *H = cr_hessian(g, f, x), *Hv = cr_hvp(g, f, x, v);
    if (!H || !Hv) {
        fprintf(stderr, "%s\n", cr_graph_error(g)->message);
        return 1;
    }
    print_matrix("Rosenbrock Hessian at (-1.2, 1, 0.7):", cr_node_value(H));
    printf("closed form: H[0][0] = 1200 x0^2 - 400 x1 + 2 = %g, H[0][1] = -400 x0 = %g\n",
           1200 * 1.44 - 400 * 1.0 + 2, -400 * -1.2);

    /* the same nodes at the minimum (1, 1, 1): no new node, no allocation */
    cr_node_set_data(x, (const double[]){1.0, 1.0, 1.0}, n);
    cr_node_set_data(v, (const double[]){0.0, 1.0, 0.0}, n);
    cr_graph_forward(g, H);
    cr_graph_forward(g, Hv);
    print_matrix("at the minimum (1, 1, 1):", cr_node_value(H));
    printf("H v for v = (0, 1, 0), the middle column: %g %g %g\n",
           cr_tensor_get(cr_node_value(Hv), 0), cr_tensor_get(cr_node_value(Hv), 1),
           cr_tensor_get(cr_node_value(Hv), 2));

    /* log-sum-exp: gradient p = softmax(z), Hessian diag(p) - p p^T */
    cr_node *z = cr_input(g, "z", 1, &n);
    const double z0[3] = {0.3, -1.7, 2.385};
    cr_node_set_data(z, z0, n);
    cr_node *L = cr_logsumexp(g, z);
    cr_node *HL = cr_hessian(g, L, z);
    if (!HL) {
        fprintf(stderr, "%s\n", cr_graph_error(g)->message);
        return 1;
    }
    print_matrix("log-sum-exp Hessian at z = (0.3, -1.7, 2.385):", cr_node_value(HL));
    double p[3], s = 0.0, worst = 0.0;
    for (size_t i = 0; i < n; i++)
        s += exp(z0[i]);
    for (size_t i = 0; i < n; i++)
        p[i] = exp(z0[i]) / s;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            const double want = (i == j ? p[i] : 0.0) - p[i] * p[j];
            const double d = fabs(cr_tensor_get(cr_node_value(HL), i * n + j) - want);
            worst = d > worst ? d : worst;
        }
    printf("p = (%.9f, %.9f, %.9f); largest difference from diag(p) - p p^T: %s\n", p[0],
           p[1], p[2], worst < 1e-15 ? "below 1e-15" : "LARGE");
    cr_graph_free(g);
    return 0;
}
