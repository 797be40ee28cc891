/*
 * dot_views.c - the pictures of docs/dot.md: the seed article's neuron
 * written in the expression language, as `chainrule dot` builds it, drawn
 * in the statements view (one node per statement or input with its value
 * and gradient, each edge labelled with the composed local derivative,
 * the chain to w1 highlighted), and the article's 3-7-5-4-1 network as
 * chainrule's MLP builds it, drawn top to bottom in the layers view. Prints
 * the statements view's DOT text and writes seed_statements.dot and
 * article_layers.dot, and their .svg when chainrule renders in process,
 * into the directory given as the argument (default: the current one).
 */
#include <chainrule.h>

#include <stdio.h>
#include <string.h>

static int fail(const cr_graph *g)
{
    fprintf(stderr, "dot_views: %s\n", cr_graph_error(g)->message);
    return 1;
}

/* Writes NAME.dot and, when possible, NAME.svg into dir. */
static int draw(cr_graph *g, const cr_dot_options *opts, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.dot", dir, name);
    if (cr_dot_write_file(g, path, opts) != CR_OK)
        return fail(g);
    printf("wrote %s.dot\n", name);
    if (!cr_dot_can_render())
        return 0;
    snprintf(path, sizeof path, "%s/%s.svg", dir, name);
    if (cr_dot_render(g, opts, path, "svg") != CR_OK)
        return fail(g);
    printf("wrote %s.svg\n", name);
    return 0;
}

static int seed_statements(const char *dir)
{
    static const char program[] =
        "s = x1*w1 + x2*w2 + b; predicted = sigmoid(s); E = 0.5*(d - predicted)^2";
    static const char *const names[] = {"x1", "x2", "d", "w1", "w2", "b"};
    static const double values[] = {0.1, 0.3, 0.03, 0.5, 0.2, 1.83};
    cr_graph *g = cr_graph_new();
    cr_expr_program *p = NULL;
    cr_error err;
    int rc = 1;
    if (!g || cr_expr_parse(g, program, strlen(program), &p, &err) != CR_OK)
        goto done;
    for (size_t i = 0; i < 6; i++)
        if (cr_expr_set(p, names[i], values[i], &err) != CR_OK)
            goto done;
    if (cr_expr_eval(p, &err) != CR_OK)
        goto done;
    cr_dot_options opts;
    cr_dot_options_init(&opts);
    opts.view = CR_DOT_VIEW_STATEMENTS;
    opts.loss = cr_expr_output(p)->node;
    opts.highlight = cr_expr_lookup(p, "w1")->node;
    if (cr_dot_write(g, stdout, &opts) != CR_OK) {
        rc = fail(g);
        goto done;
    }
    rc = draw(g, &opts, dir, "seed_statements");
done:
    if (rc && !p)
        fprintf(stderr, "dot_views: %s\n", err.message);
    cr_expr_free(p);
    cr_graph_free(g);
    return rc;
}

static int article_layers(const char *dir)
{
    const double x[3] = {0.1, 0.4, 4.1}, y[1] = {0.2};
    cr_mlp_spec spec;
    cr_mlp_spec_init(&spec, 3, 1); /* sigmoid layers, sq_error, seed 1 */
    spec.n_hidden = 3;
    spec.hidden[0] = 7;
    spec.hidden[1] = 5;
    spec.hidden[2] = 4;
    cr_error err;
    cr_mlp *m = cr_mlp_new(&spec, &err);
    cr_eval_result r;
    if (!m || cr_mlp_evaluate(m, x, y, 1, &r, &err) != CR_OK) {
        fprintf(stderr, "dot_views: %s\n", err.message);
        cr_mlp_free(m);
        return 1;
    }
    cr_eval_result_free(&r);
    cr_graph *g = cr_mlp_graph(m); /* the batch-1 head: x, s1, a1, ..., loss */
    cr_dot_options opts;
    cr_dot_options_init(&opts);
    opts.view = CR_DOT_VIEW_LAYERS;
    opts.rankdir = CR_DOT_TB;
    opts.loss = cr_graph_find(g, "loss");
    opts.highlight = cr_graph_find(g, "W1");
    int rc = draw(g, &opts, dir, "article_layers");
    cr_mlp_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    if (seed_statements(dir) != 0)
        return 1;
    return article_layers(dir);
}
