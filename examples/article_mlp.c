/*
 * article_mlp.c - the seed article's third program, MLP.train(x, y,
 * net_arch=[7,5,4], max_iter=500, learning_rate=0.7, debug=True), then
 * predict([0.2, 3.1, 1.7]): an MLP with 3 inputs, hidden layers of 7, 5
 * and 4 sigmoid units and one sigmoid output, the article's squared error,
 * trained on the one sample x = [0.1, 0.4, 4.1], y = [0.2] for 500
 * iterations of SGD with learning rate 0.7. With debug on, training records
 * after every iteration the gradient norm of each layer and the derivative
 * chain of W1 (dE/da4, dE/ds4, ..., dE/ds1, dE/dW1); some are printed, with
 * the iteration count (and the training time, on standard error, since it
 * changes from run to run). Before and after training, the chain API
 * (chainrule/chain.h) writes dE/dW1 in the article's form, as the product
 * of the local derivatives along the path from the loss.
 */
#include <chainrule.h>

#include <stdio.h>

static void print_debug(const cr_train_debug *d)
{
    printf("iteration %3zu  layer gradient norms:", d->iteration);
    for (size_t l = 0; l < d->n_layers; l++)
        printf(" W%zu %.3e", l + 1, d->layer_grad_norm[l]);
    printf("\n  chain of W1 (dE/dnode, first element):");
    for (size_t i = 0; i < d->n_links; i++)
        printf("%s %s %.6e", i ? " ->" : "", d->chain[i].label, d->chain[i].first);
    printf("\n");
}

/* Evaluates the article's sample (building the batch-1 head, whose nodes
 * are named x, s1, a1, ..., loss) and prints d(loss)/d(W1) as a chain. */
static int print_chain(cr_mlp *m, const double *x, const double *y, const char *when)
{
    cr_eval_result r;
    cr_error err;
    if (cr_mlp_evaluate(m, x, y, 1, &r, &err) != CR_OK)
        return fprintf(stderr, "article_mlp: %s\n", err.message), 1;
    cr_eval_result_free(&r);
    cr_graph *g = cr_mlp_graph(m);
    cr_chain_options o;
    cr_chain_options_init(&o);
    o.flags = CR_CHAIN_NAMED_ONLY;
    cr_chain *c = cr_chain_new(g, cr_graph_find(g, "loss"), cr_graph_find(g, "W1"), &o);
    if (!c)
        return fprintf(stderr, "article_mlp: %s\n", cr_graph_error(g)->message), 1;
    printf("Derivative chain of W1 %s :\n", when);
    cr_chain_print(c, stdout, CR_CHAIN_PRINT_FORMULAS);
    cr_chain_free(c);
    return 0;
}

int main(void)
{
    const double x[3] = {0.1, 0.4, 4.1}, y[1] = {0.2};
    cr_mlp_spec spec;
    cr_mlp_spec_init(&spec, 3, 1); /* sigmoid layers, sq_error, Xavier, seed 1 */
    spec.n_hidden = 3;
    spec.hidden[0] = 7;
    spec.hidden[1] = 5;
    spec.hidden[2] = 4;
    cr_error err;
    cr_mlp *m = cr_mlp_new(&spec, &err);
    if (!m) {
        fprintf(stderr, "article_mlp: %s\n", err.message);
        return 1;
    }
    if (print_chain(m, x, y, "before training") != 0) {
        cr_mlp_free(m);
        return 1;
    }
    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = 0;
    o.max_iter = 500;
    o.batch = 1;
    o.optim.lr = 0.7;
    o.debug = 1;
    o.debug_param = "W1";
    cr_train_stats st;
    const double probe[3] = {0.2, 3.1, 1.7};
    double p;
    if (cr_mlp_train(m, x, y, 1, &o, &st, &err) != CR_OK ||
        cr_mlp_predict(m, probe, 1, &p, &err) != CR_OK) {
        fprintf(stderr, "article_mlp: %s\n", err.message);
        cr_mlp_free(m);
        return 1;
    }
    printf("Derivative chains recorded during training :\n");
    const size_t shown[] = {1, 2, 3, 100, 250, 500};
    for (size_t i = 0; i < sizeof shown / sizeof *shown; i++)
        print_debug(&st.debug[shown[i] - 1]);
    if (print_chain(m, x, y, "after training") != 0) {
        cr_train_stats_free(&st);
        cr_mlp_free(m);
        return 1;
    }
    printf("Error at iteration 1 : %.9e, at iteration 500 : %.9e\n", st.loss_history[0],
           st.loss_history[st.n_history - 1]);
    printf("Number of Training Iterations : %zu\n", st.iterations);
    printf("Predicted Output : %.9f\n", p);
    /* The time differs from run to run: standard error, so that the
     * standard output stays the same (make check compares it whole). */
    fprintf(stderr, "Training Time : %.6f s\n", st.seconds);
    cr_train_stats_free(&st);
    cr_mlp_free(m);
    return 0;
}
