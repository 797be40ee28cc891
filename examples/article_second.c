/*
 * article_second.c - the seed article's second program: one sigmoid neuron
 * without bias, x1 = 0.1, x2 = 0.4, target 0.7, error (predicted - target)^2,
 * learning rate 0.01, 80,000 iterations of gradient descent, with the
 * initial weights drawn from U[0, 1) by a gsl_rng seeded with 1 (the
 * article uses numpy.random.rand). The gradients come from reverse mode
 * (cr_graph_backward) and the updates from the SGD optimizer.
 */
#include <chainrule.h>

#include <gsl/gsl_rng.h>
#include <stdio.h>

static int fail(const char *what, const char *message)
{
    fprintf(stderr, "article_second: %s: %s\n", what, message);
    return 1;
}

int main(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!rng)
        return fail("gsl_rng_alloc", "out of memory");
    gsl_rng_set(rng, 1);
    const double w1_0 = gsl_rng_uniform(rng), w2_0 = gsl_rng_uniform(rng);
    gsl_rng_free(rng);

    cr_graph *g = cr_graph_new();
    if (!g)
        return fail("cr_graph_new", "out of memory");
    cr_node *x1 = cr_input_scalar(g, "x1", 0.1);
    cr_node *x2 = cr_input_scalar(g, "x2", 0.4);
    cr_node *target = cr_input_scalar(g, "target", 0.7);
    cr_node *w1 = cr_param_scalar(g, "w1", w1_0);
    cr_node *w2 = cr_param_scalar(g, "w2", w2_0);
    cr_node *y = cr_sop(g, 2, (cr_node *[]){x1, x2}, (cr_node *[]){w1, w2}, NULL);
    cr_node *predicted = cr_sigmoid(g, y);
    cr_node *err = cr_powc(g, cr_sub(g, predicted, target), 2.0);
    if (!err)
        return fail("building the graph", cr_graph_error(g)->message);

    cr_optim_options o = cr_optim_defaults(CR_OPTIM_SGD);
    o.lr = 0.01;
    cr_error e;
    cr_optim *opt = cr_optim_new(g, &o, &e);
    if (!opt)
        return fail("cr_optim_new", e.message);

    printf("Initial W :  %.10f %.10f\n", w1_0, w2_0);
    for (int k = 0; k < 80000; k++) {
        if (cr_graph_forward(g, err) != CR_OK || cr_graph_backward(g, err, 0) != CR_OK ||
            cr_optim_step(opt) != CR_OK)
            return fail("training", cr_graph_error(g)->message);
        if (k % 10000 == 0)
            printf("iteration %5d: predicted %.10f, error %.6e\n", k,
                   cr_node_scalar(predicted), cr_node_scalar(err));
    }
    if (cr_graph_forward(g, err) != CR_OK)
        return fail("forward", cr_graph_error(g)->message);
    printf("Final W :    %.10f %.10f\n", cr_node_scalar(w1), cr_node_scalar(w2));
    printf("Predicted :  %.10f (target 0.7)\n", cr_node_scalar(predicted));
    printf("Error :      %.6e\n", cr_node_scalar(err));
    const double p = cr_node_scalar(predicted), e2 = cr_node_scalar(err);
    cr_optim_free(opt);
    cr_graph_free(g);
    /* the article's result: the prediction saturates at 0.7 */
    return (p > 0.7 - 1e-5 && p < 0.7 + 1e-5 && e2 < 1e-10) ? 0 : 1;
}
