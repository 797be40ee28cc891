/*
 * seed_chain.c - the seed article's chain figure: the one-neuron graph
 * (s = x1*w1 + x2*w2 + b, predicted = sigmoid(s),
 * E = 1/2 (desired - predicted)^2) with its derivative chains printed in
 * the article's form for w1, w2 and b, written as seed_chain.dot (the
 * chain E -> predicted -> s -> w1 highlighted, every edge labelled with
 * its local derivative) and, when chainrule renders in process,
 * seed_chain.svg. An optional argument is the directory to write into.
 */
#include <chainrule.h>

#include <stdio.h>
#include <string.h>

static int fail(const cr_graph *g)
{
    fprintf(stderr, "seed_chain: %s\n", cr_graph_error(g)->message);
    return 1;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
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
    if (!E || cr_node_set_name(s, "s") != CR_OK ||
        cr_node_set_name(predicted, "predicted") != CR_OK ||
        cr_node_set_name(E, "E") != CR_OK)
        return fail(g);
    if (cr_graph_backward(g, E, 0) != CR_OK)
        return fail(g);

    /* The three chains, each with its local derivatives' formulas. */
    cr_node *const params[] = {w1, w2, b};
    for (size_t k = 0; k < 3; k++) {
        cr_chain *c = cr_chain_new(g, E, params[k], NULL);
        if (!c)
            return fail(g);
        cr_status st = cr_chain_print(c, stdout, CR_CHAIN_PRINT_FORMULAS);
        cr_chain_free(c);
        if (st != CR_OK)
            return 1;
    }
    cr_chain *c = cr_chain_new(g, E, w1, NULL);
    if (!c)
        return fail(g);
    cr_chain_print(c, stdout, CR_CHAIN_PRINT_UNICODE);
    cr_chain_free(c);

    /* The figure: the chain to w1 highlighted. */
    cr_dot_options opts;
    cr_dot_options_init(&opts);
    opts.loss = E;
    opts.highlight = w1;
    opts.title = "E = 1/2 (desired - predicted)^2, predicted = sigmoid(s), "
                 "s = x1*w1 + x2*w2 + b";
    char path[4096];
    snprintf(path, sizeof path, "%s/seed_chain.dot", dir);
    if (cr_dot_write_file(g, path, &opts) != CR_OK)
        return fail(g);
    printf("wrote %s\n", path);
    if (cr_dot_can_render()) {
        snprintf(path, sizeof path, "%s/seed_chain.svg", dir);
        if (cr_dot_render(g, &opts, path, "svg") != CR_OK)
            return fail(g);
        printf("wrote %s\n", path);
    }
    cr_graph_free(g);
    return 0;
}
