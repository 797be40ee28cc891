/*
 * seed_neuron.c - the seed article's worked example, rebuilt with chainrule:
 * one sigmoid neuron, s = x1*w1 + x2*w2 + b, predicted = sigmoid(s),
 * E = 1/2 (desired - predicted)^2, with x1 = 0.1, x2 = 0.3, desired = 0.03,
 * w1 = 0.5, w2 = 0.2, b = 1.83. Prints the forward values, the local
 * derivatives (each computed by the library, as a gradient node), the
 * gradients (including the true dE/db, which the article takes as 0), then
 * applies the article's update and prints the new error.
 */
#include <chainrule.h>

#include <stdio.h>

static int fail(const cr_graph *g)
{
    fprintf(stderr, "seed_neuron: %s\n", cr_graph_error(g)->message);
    return 1;
}

int main(void)
{
    cr_graph *g = cr_graph_new();
    if (!g)
        return 1;
    cr_node *x1 = cr_input_scalar(g, "x1", 0.1);
    cr_node *x2 = cr_input_scalar(g, "x2", 0.3);
    cr_node *desired = cr_input_scalar(g, "desired", 0.03);
    cr_node *w1 = cr_param_scalar(g, "w1", 0.5);
    cr_node *w2 = cr_param_scalar(g, "w2", 0.2);
    cr_node *b = cr_param_scalar(g, "b", 1.83);

    cr_node *s = cr_sop(g, 2, (cr_node *[]){x1, x2}, (cr_node *[]){w1, w2}, b);
    cr_node *predicted = cr_sigmoid(g, s);
    cr_node *E = cr_sq_error(g, predicted, desired);
    if (!E)
        return fail(g);
    cr_node_set_name(s, "s");
    cr_node_set_name(predicted, "predicted");
    cr_node_set_name(E, "E");

    /* The local derivatives of the chain, as graph nodes of their own. */
    cr_node *dE_dpredicted = cr_grad(g, E, predicted);
    cr_node *dpredicted_ds = cr_grad(g, predicted, s);
    cr_node *ds_dw1 = cr_grad(g, s, w1);
    cr_node *ds_dw2 = cr_grad(g, s, w2);
    cr_node *ds_db = cr_grad(g, s, b);
    if (!dE_dpredicted || !dpredicted_ds || !ds_dw1 || !ds_dw2 || !ds_db ||
        cr_graph_backward(g, E, 0) != CR_OK)
        return fail(g);

    printf("Forward pass\n");
    printf("  s                = %.9f\n", cr_node_scalar(s));
    printf("  predicted        = %.9f\n", cr_node_scalar(predicted));
    printf("  E                = %.9f\n", cr_node_scalar(E));
    printf("Local derivatives\n");
    printf("  dE/dpredicted    = %.9f\n", cr_node_scalar(dE_dpredicted));
    printf("  dpredicted/ds    = %.9f\n", cr_node_scalar(dpredicted_ds));
    printf("  ds/dw1 = x1      = %.9f\n", cr_node_scalar(ds_dw1));
    printf("  ds/dw2 = x2      = %.9f\n", cr_node_scalar(ds_dw2));
    printf("  ds/db            = %g (the article says 0)\n", cr_node_scalar(ds_db));
    printf("Gradients (reverse mode)\n");
    printf("  dE/dw1           = %.9f\n", cr_tensor_scalar(cr_node_grad(w1)));
    printf("  dE/dw2           = %.9f\n", cr_tensor_scalar(cr_node_grad(w2)));
    printf("  dE/db            = %.10f\n", cr_tensor_scalar(cr_node_grad(b)));

    /* The article's update: w -= 0.01 * dE/dw, with the weights rounded as
     * the article prints them, and its perceptron-rule bias. */
    const double lr = 0.01;
    printf("Update w -= %g * dE/dw\n", lr);
    printf("  w1 = 0.5 - %g * %.9f = %.11f (article: 0.49990723907)\n", lr,
           cr_tensor_scalar(cr_node_grad(w1)),
           cr_node_scalar(w1) - lr * cr_tensor_scalar(cr_node_grad(w1)));
    printf("  w2 = 0.2 - %g * %.9f = %.10f (article: 0.1997217172)\n", lr,
           cr_tensor_scalar(cr_node_grad(w2)),
           cr_node_scalar(w2) - lr * cr_tensor_scalar(cr_node_grad(w2)));
    cr_node_set_scalar(w1, 0.49990723907);
    cr_node_set_scalar(w2, 0.1997217172);
    cr_node_set_scalar(b, 1.821556479);
    if (cr_graph_forward(g, E) != CR_OK)
        return fail(g);
    printf("Forward pass with the article's new values (w1 = 0.49990723907, "
           "w2 = 0.1997217172, b = 1.821556479)\n");
    printf("  s                = %.12f\n", cr_node_scalar(s));
    printf("  predicted        = %.15f\n", cr_node_scalar(predicted));
    printf("  E                = %.17g\n", cr_node_scalar(E));
    cr_graph_free(g);
    return 0;
}
