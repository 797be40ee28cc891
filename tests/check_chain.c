/*
 * check_chain.c - tests of derivative chains: the seed article's chains
 * (values, formula text, printed form), the named-only view and the
 * formulas it composes for collapsed edges (evaluated back through the
 * expression language), sums over
 * paths against reverse mode on graphs with fan-out, exact path counting
 * on a 2^40-path diamond ladder, tensor chains, deep graphs, errors, the
 * graph left unchanged, and allocation failures.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-9

/* The article's neuron: s = x1*w1 + x2*w2 + b, predicted = sigmoid(s),
 * E = sq_error(predicted, desired). */
typedef struct seed {
    cr_graph *g;
    cr_node *x1, *x2, *desired, *w1, *w2, *b, *s, *predicted, *E;
} seed;

static seed seed_build(void)
{
    seed n;
    n.g = cr_graph_new();
    ck_assert_ptr_nonnull(n.g);
    n.x1 = cr_input_scalar(n.g, "x1", 0.1);
    n.x2 = cr_input_scalar(n.g, "x2", 0.3);
    n.desired = cr_input_scalar(n.g, "desired", 0.03);
    n.w1 = cr_param_scalar(n.g, "w1", 0.5);
    n.w2 = cr_param_scalar(n.g, "w2", 0.2);
    n.b = cr_param_scalar(n.g, "b", 1.83);
    n.s = cr_sop(n.g, 2, (cr_node *[]){n.x1, n.x2}, (cr_node *[]){n.w1, n.w2}, n.b);
    n.predicted = cr_sigmoid(n.g, n.s);
    n.E = cr_sq_error(n.g, n.predicted, n.desired);
    ck_assert_ptr_nonnull(n.E);
    ck_assert_int_eq(cr_node_set_name(n.s, "s"), CR_OK);
    ck_assert_int_eq(cr_node_set_name(n.predicted, "predicted"), CR_OK);
    ck_assert_int_eq(cr_node_set_name(n.E, "E"), CR_OK);
    return n;
}

static char *format(const cr_chain *c, unsigned flags)
{
    int len = cr_chain_format(c, flags, NULL, 0);
    ck_assert_int_ge(len, 0);
    char *text = malloc((size_t)len + 1);
    ck_assert_int_eq(cr_chain_format(c, flags, text, (size_t)len + 1), len);
    return text;
}

static double sumsq(const cr_tensor *t)
{
    double s = 0.0;
    for (size_t i = 0; i < cr_tensor_size(t); i++)
        s += cr_tensor_get(t, i) * cr_tensor_get(t, i);
    return s;
}

static void assert_edge(const cr_chain_edge *e, const cr_node *parent, const cr_node *child,
                        const char *formula, double value)
{
    ck_assert_ptr_eq(e->parent, parent);
    ck_assert_ptr_eq(e->child, child);
    ck_assert_str_eq(e->formula, formula);
    ck_assert_str_eq(e->jacobian, "scalar");
    ck_assert_str_eq(e->shape, "[] x []");
    ck_assert_int_eq(e->scalar, 1);
    ck_assert_int_eq(e->collapsed, 0);
    ck_assert_double_eq_tol(e->value, value, TOL);
}

START_TEST(test_seed_chains)
{
    seed n = seed_build();
    size_t size_before = cr_graph_size(n.g);
    const struct {
        cr_node *w;
        const char *formula;
        double local, total;
        const char *text;
    } cases[] = {
        {n.w1, "x1", 0.1, 0.009276093,
         "dE/dw1 = dE/dpredicted * dpredicted/ds * ds/dw1 = 0.844352143 * 0.109860473 * "
         "0.1 = 0.009276093\n"},
        {n.w2, "x2", 0.3, 0.027828278,
         "dE/dw2 = dE/dpredicted * dpredicted/ds * ds/dw2 = 0.844352143 * 0.109860473 * "
         "0.3 = 0.027828278\n"},
        {n.b, "1", 1.0, 0.0927609256,
         "dE/db = dE/dpredicted * dpredicted/ds * ds/db = 0.844352143 * 0.109860473 * 1 = "
         "0.092760926\n"},
        {n.x1, "w1", 0.5, 0.844352143 * 0.109860473 * 0.5,
         "dE/dx1 = dE/dpredicted * dpredicted/ds * ds/dx1 = 0.844352143 * 0.109860473 * "
         "0.5 = 0.046380463\n"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        cr_chain *c = cr_chain_new(n.g, n.E, cases[k].w, NULL);
        ck_assert_ptr_nonnull(c);
        ck_assert_ptr_eq(cr_chain_output(c), n.E);
        ck_assert_ptr_eq(cr_chain_wrt(c), cases[k].w);
        ck_assert_double_eq(cr_chain_num_paths(c), 1.0);
        ck_assert_uint_eq(cr_chain_num_listed(c), 1);
        ck_assert_double_eq(cr_chain_num_omitted(c), 0.0);
        ck_assert_double_eq(cr_chain_omitted_value(c), 0.0);
        const cr_chain_path *p = cr_chain_path_at(c, 0);
        ck_assert_ptr_null(cr_chain_path_at(c, 1));
        ck_assert_uint_eq(p->n_edges, 3);
        assert_edge(p->edges[0], n.E, n.predicted, "predicted-desired", 0.844352143);
        assert_edge(p->edges[1], n.predicted, n.s, "predicted*(1-predicted)", 0.109860473);
        assert_edge(p->edges[2], n.s, cases[k].w, cases[k].formula, cases[k].local);
        ck_assert_uint_eq(p->edges[0]->input, 0);
        ck_assert_uint_eq(p->edges[1]->input, 0);
        ck_assert_double_eq_tol(p->edges[0]->flow_norm, 0.844352143, TOL);
        ck_assert_double_eq_tol(p->edges[1]->flow_norm, 0.844352143 * 0.109860473, TOL);
        ck_assert_double_eq_tol(p->product, cases[k].total, TOL);
        ck_assert_double_eq_tol(p->norm, fabs(cases[k].total), TOL);
        ck_assert_double_eq_tol(cr_chain_value(c), cases[k].total, TOL);
        ck_assert_double_eq_tol(cr_tensor_scalar(cr_chain_gradient(c)), cases[k].total,
                                TOL);
        char *text = format(c, 0);
        ck_assert_str_eq(text, cases[k].text);
        free(text);
        cr_chain_free(c);
    }
    ck_assert_uint_eq(cr_graph_size(n.g), size_before);
    cr_graph_free(n.g);
}
END_TEST

START_TEST(test_seed_print_forms)
{
    seed n = seed_build();
    cr_chain *c = cr_chain_new(n.g, n.E, n.w1, NULL);
    ck_assert_ptr_nonnull(c);
    char *text = format(c, CR_CHAIN_PRINT_UNICODE);
    ck_assert_str_eq(text,
                     "∂E/∂w1 = ∂E/∂predicted · ∂predicted/∂s · ∂s/∂w1 = 0.844352143 × "
                     "0.109860473 × 0.1 = 0.009276093\n");
    free(text);
    text = format(c, CR_CHAIN_PRINT_FORMULAS);
    ck_assert_str_eq(text,
                     "dE/dw1 = dE/dpredicted * dpredicted/ds * ds/dw1 = 0.844352143 * "
                     "0.109860473 * 0.1 = 0.009276093\n"
                     "  dE/dpredicted = predicted-desired = 0.844352143\n"
                     "  dpredicted/ds = predicted*(1-predicted) = 0.109860473\n"
                     "  ds/dw1 = x1 = 0.1\n");
    free(text);
    /* truncation keeps snprintf's contract */
    char small[8];
    int len = cr_chain_format(c, 0, small, sizeof small);
    ck_assert_int_eq(len, 96);
    ck_assert_str_eq(small, "dE/dw1 ");
    /* printing to a stream */
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(cr_chain_print(c, f, 0), CR_OK);
    ck_assert_int_eq((int)ftell(f), 96);
    fclose(f);
    ck_assert_int_eq(cr_chain_print(c, NULL, 0), CR_EINVAL);
    ck_assert_int_eq(cr_chain_format(NULL, 0, small, sizeof small), -1);
    cr_chain_free(c);

    /* one edge: no repetition of the factor */
    c = cr_chain_new(n.g, n.E, n.predicted, NULL);
    text = format(c, 0);
    ck_assert_str_eq(text, "dE/dpredicted = 0.844352143\n");
    free(text);
    cr_chain_free(c);
    cr_graph_free(n.g);
}
END_TEST

/* The CLI's parse of E = 0.5*(d - predicted)^2: unnamed scale, powc, sub. */
START_TEST(test_named_only)
{
    cr_graph *g = cr_graph_new();
    cr_node *x1 = cr_input_scalar(g, "x1", 0.1), *x2 = cr_input_scalar(g, "x2", 0.3);
    cr_node *d = cr_input_scalar(g, "d", 0.03);
    cr_node *w1 = cr_param_scalar(g, "w1", 0.5), *w2 = cr_param_scalar(g, "w2", 0.2);
    cr_node *b = cr_param_scalar(g, "b", 1.83);
    cr_node *s = cr_add(g, cr_add(g, cr_mul(g, x1, w1), cr_mul(g, x2, w2)), b);
    cr_node *predicted = cr_sigmoid(g, s);
    cr_node *E = cr_scale(g, cr_powc(g, cr_sub(g, d, predicted), 2.0), 0.5);
    ck_assert_ptr_nonnull(E);
    cr_node_set_name(s, "s");
    cr_node_set_name(predicted, "predicted");
    cr_node_set_name(E, "E");

    cr_chain_options opts;
    cr_chain_options_init(&opts);
    ck_assert_uint_eq(opts.max_paths, CR_CHAIN_DEFAULT_PATHS);
    opts.flags = CR_CHAIN_NAMED_ONLY;
    cr_chain *c = cr_chain_new(g, E, w1, &opts);
    ck_assert_ptr_nonnull(c);
    ck_assert_double_eq(cr_chain_num_paths(c), 1.0);
    const cr_chain_path *p = cr_chain_path_at(c, 0);
    ck_assert_uint_eq(p->n_edges, 3);
    ck_assert_int_eq(p->edges[0]->collapsed, 1);
    ck_assert_uint_eq(p->edges[0]->input, (size_t)-1);
    ck_assert_str_eq(p->edges[0]->formula, "-0.5*2*(d - predicted)^(2-1)");
    ck_assert_double_eq_tol(p->edges[0]->value, 0.844352143, TOL);
    ck_assert_int_eq(p->edges[1]->collapsed, 0);
    ck_assert_str_eq(p->edges[1]->formula, "predicted*(1-predicted)");
    ck_assert_int_eq(p->edges[2]->collapsed, 1);
    ck_assert_str_eq(p->edges[2]->formula, "x1");
    ck_assert_double_eq_tol(p->edges[2]->value, 0.1, TOL);
    char *text = format(c, 0);
    ck_assert_str_eq(text,
                     "dE/dw1 = dE/dpredicted * dpredicted/ds * ds/dw1 = 0.844352143 * "
                     "0.109860473 * 0.1 = 0.009276093\n");
    free(text);
    cr_chain_free(c);

    /* the full view goes through every unnamed op, same derivative */
    c = cr_chain_new(g, E, w1, NULL);
    p = cr_chain_path_at(c, 0);
    ck_assert_uint_eq(p->n_edges, 7);
    ck_assert_str_eq(p->edges[0]->formula, "0.5");
    ck_assert_str_eq(p->edges[1]->formula, "2*sub#11^(2-1)");
    ck_assert_str_eq(p->edges[2]->formula, "-1");
    ck_assert_double_eq_tol(p->product, 0.009276093, TOL);
    ck_assert_double_eq_tol(cr_chain_value(c), 0.009276093, TOL);
    cr_chain_free(c);
    cr_graph_free(g);
}
END_TEST

/* A collapsed edge of the named view writes its derivative out: the sum
 * over the paths through unnamed nodes of the products of their local
 * derivatives, unnamed nodes written as what they compute. Each program is
 * parsed, each edge's formula is checked (where given) and then evaluated
 * back through the expression language at the program's values: it must
 * give the edge's value. */
typedef struct composed_case {
    const char *program, *wrt;
    const char *inputs;      /* "name=value,..." */
    const char *formulas[4]; /* of the first path's edges, NULL: not checked */
    double paths;
} composed_case;

// clang-format off
static const composed_case composed_cases[] = {
    {"s = x1*w1 + x2*w2 + b; predicted = sigmoid(s); E = 0.5*(d - predicted)^2", "w1",
     "x1=0.1,x2=0.3,d=0.03,w1=0.5,w2=0.2,b=1.83",
     {"-0.5*2*(d - predicted)^(2-1)", "predicted*(1-predicted)", "x1", NULL}, 1},
    /* two edges between the same named nodes become one */
    {"y = x^2; z = sin(y) + y; E = z*z", "x", "x=2", {"z + z", "1 + cos(y)", "2*x^(2-1)"},
     1},
    /* a negative term is subtracted; y stands for the node itself */
    {"u = exp(x)*x; E = u/(1+u) - log(x)", "x", "x=0.5", {"-1/x", NULL}, 2},
    {"u = exp(x)*x; E = u/(1+u) - log(x)", "u", "x=0.5", {"1/(1 + u) - u/(1 + u)^2"}, 1},
    {"u = exp(x)*x; E = u", "x", "x=0.5", {"1", "exp(x) + x*exp(x)"}, 1},
    {"t = tanh(x*w) - 3*x; E = sqrt(t*t + 1) / (2 + cos(t))", "w", "x=0.7,w=-1.3",
     {NULL, "(1-tanh(x*w)^2)*x"}, 1},
    {"t = tanh(x*w) - 3*x; E = sqrt(t*t + 1) / (2 + cos(t))", "x", "x=0.7,w=-1.3",
     {NULL}, 1},
    /* a conditional term is parenthesised, or the sum would read wrongly */
    {"y = relu(x) + x; E = y", "x", "x=0.5", {"1", "1 + (x > 0 ? 1 : 0)"}, 1},
    /* too long to write out: the placeholder */
    {"E = sigmoid(tanh(x*x) + 1)^2", "x", "x=0.5", {"d(E)/d(x)"}, 1},
};
// clang-format on

static cr_expr_program *parse_at(cr_graph *g, const char *program, const char *inputs)
{
    cr_expr_program *p = NULL;
    cr_error err;
    ck_assert_int_eq(cr_expr_parse(g, program, strlen(program), &p, &err), CR_OK);
    char buf[200];
    snprintf(buf, sizeof buf, "%s", inputs);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        *eq = '\0';
        ck_assert_int_eq(cr_expr_set(p, tok, strtod(eq + 1, NULL), &err), CR_OK);
    }
    ck_assert_msg(cr_expr_eval(p, &err) == CR_OK, "%s", err.message);
    return p;
}

START_TEST(test_composed_formulas)
{
    const composed_case *k = &composed_cases[_i];
    cr_graph *g = cr_graph_new();
    cr_expr_program *prog = parse_at(g, k->program, k->inputs);
    cr_chain_options opts;
    cr_chain_options_init(&opts);
    opts.flags = CR_CHAIN_NAMED_ONLY;
    cr_chain *c = cr_chain_new(g, cr_expr_output(prog)->node,
                               cr_expr_lookup(prog, k->wrt)->node, &opts);
    ck_assert_ptr_nonnull(c);
    ck_assert_double_eq(cr_chain_num_paths(c), k->paths);
    for (size_t pi = 0; pi < cr_chain_num_listed(c); pi++) {
        const cr_chain_path *path = cr_chain_path_at(c, pi);
        for (size_t e = 0; e < path->n_edges; e++) {
            const cr_chain_edge *edge = path->edges[e];
            if (pi == 0 && e < 4 && k->formulas[e])
                ck_assert_str_eq(edge->formula, k->formulas[e]);
            if (strncmp(edge->formula, "d(", 2) == 0 || strchr(edge->formula, '?'))
                continue; /* a name, or a conditional the language lacks */
            /* every named value, then the formula */
            char text[1024];
            size_t len = 0;
            for (size_t i = 0; i < cr_expr_num_inputs(prog); i++) {
                const cr_expr_symbol *sym = cr_expr_input(prog, i);
                len += (size_t)snprintf(text + len, sizeof text - len, "%s = %.17g; ",
                                        sym->name, cr_node_scalar(sym->node));
            }
            for (size_t i = 0; i < cr_expr_num_statements(prog); i++) {
                const cr_expr_symbol *sym = cr_expr_statement(prog, i);
                len += (size_t)snprintf(text + len, sizeof text - len, "%s = %.17g; ",
                                        sym->name, cr_node_scalar(sym->node));
            }
            snprintf(text + len, sizeof text - len, "formula__ = %s", edge->formula);
            cr_graph *g2 = cr_graph_new();
            cr_expr_program *check = parse_at(g2, text, "");
            const double v = cr_node_scalar(cr_expr_output(check)->node);
            ck_assert_msg(fabs(v - edge->value) <= 1e-12 * (1 + fabs(edge->value)),
                          "%s: %s = %.17g, the edge says %.17g", k->program, edge->formula,
                          v, edge->value);
            cr_expr_free(check);
            cr_graph_free(g2);
        }
    }
    cr_chain_free(c);
    cr_expr_free(prog);
    cr_graph_free(g);
}
END_TEST

/* y uses x along several routes: products summed over paths == reverse
 * mode, with every path listed and with only a few. */
START_TEST(test_fan_out_sum)
{
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_param_scalar(g, "x", 0.731);
    cr_node *w = cr_param_scalar(g, "w", -1.27);
    cr_node *a = cr_mul(g, x, x); /* two edges to x */
    cr_node *bb = cr_sin(g, cr_mul(g, x, w));
    cr_node *c1 = cr_mul(g, a, bb);
    cr_node *c2 = cr_div(g, cr_exp(g, a), cr_add(g, bb, cr_scalar(g, 2.385)));
    cr_node *E = cr_add(g, cr_tanh(g, c1), cr_mul(g, c2, x));
    ck_assert_ptr_nonnull(E);
    ck_assert_int_eq(cr_graph_backward(g, E, 0), CR_OK);
    double gx = cr_tensor_scalar(cr_node_grad(x)), gw = cr_tensor_scalar(cr_node_grad(w));

    cr_chain_options opts;
    cr_chain_options_init(&opts);
    opts.max_paths = 1000;
    cr_chain *c = cr_chain_new(g, E, x, &opts);
    ck_assert_ptr_nonnull(c);
    /* paths: tanh-c1-a (2), tanh-c1-bb-mul (1), c2-exp-a (2), c2-add-bb (1),
     * mul x (1) */
    ck_assert_double_eq(cr_chain_num_paths(c), 7.0);
    ck_assert_uint_eq(cr_chain_num_listed(c), 7);
    double sum = 0.0;
    for (size_t k = 0; k < cr_chain_num_listed(c); k++) {
        const cr_chain_path *p = cr_chain_path_at(c, k);
        double product = 1.0;
        for (size_t j = 0; j < p->n_edges; j++)
            product *= p->edges[j]->value;
        ck_assert_double_eq_tol(p->product, product, 1e-12);
        sum += p->product;
    }
    ck_assert_double_eq_tol(sum, gx, 1e-12);
    ck_assert_double_eq_tol(cr_chain_value(c), gx, 1e-12);
    cr_chain_free(c);

    opts.max_paths = 3;
    c = cr_chain_new(g, E, x, &opts);
    ck_assert_uint_eq(cr_chain_num_listed(c), 3);
    ck_assert_double_eq(cr_chain_num_omitted(c), 4.0);
    sum = cr_chain_omitted_value(c);
    for (size_t k = 0; k < 3; k++)
        sum += cr_chain_path_at(c, k)->product;
    ck_assert_double_eq_tol(sum, gx, 1e-12);
    char *text = format(c, 0);
    ck_assert_ptr_nonnull(strstr(text, " + [4 more paths] = "));
    free(text);
    cr_chain_free(c);

    c = cr_chain_new(g, E, w, NULL);
    ck_assert_double_eq(cr_chain_num_paths(c), 2.0);
    ck_assert_double_eq_tol(cr_chain_value(c), gw, 1e-12);
    cr_chain_free(c);
    cr_graph_free(g);
}
END_TEST

/* 40 diamonds: x -> (sin, cos) -> add, 2^40 paths, counted exactly. */
START_TEST(test_diamond_ladder)
{
    cr_graph *g = cr_graph_new();
    cr_node *x0 = cr_param_scalar(g, "x0", 0.3);
    cr_node *x = x0;
    for (int k = 0; k < 40; k++)
        x = cr_add(g, cr_sin(g, x), cr_cos(g, x));
    cr_node *E = cr_mul(g, x, x);
    ck_assert_ptr_nonnull(E);
    ck_assert_int_eq(cr_graph_backward(g, E, 0), CR_OK);
    cr_chain_options opts;
    cr_chain_options_init(&opts);
    opts.max_paths = 5;
    cr_chain *c = cr_chain_new(g, E, x0, &opts);
    ck_assert_ptr_nonnull(c);
    ck_assert_double_eq(cr_chain_num_paths(c), 2199023255552.0); /* 2 * 2^40 (x*x) */
    ck_assert_uint_eq(cr_chain_num_listed(c), 5);
    ck_assert_double_eq(cr_chain_num_omitted(c), 2199023255547.0);
    ck_assert_uint_eq(cr_chain_path_at(c, 0)->n_edges, 81);
    ck_assert_double_eq_tol(cr_chain_value(c), cr_tensor_scalar(cr_node_grad(x0)), 1e-12);
    char *text = format(c, 0);
    ck_assert_ptr_nonnull(strstr(text, " + [2199023255547 more paths] = "));
    free(text);
    cr_chain_free(c);

    /* named only: E and x0 are the only names; one collapsed edge */
    opts.flags = CR_CHAIN_NAMED_ONLY;
    c = cr_chain_new(g, E, x0, &opts);
    ck_assert_double_eq(cr_chain_num_paths(c), 1.0);
    ck_assert_uint_eq(cr_chain_path_at(c, 0)->n_edges, 1);
    ck_assert_double_eq_tol(cr_chain_path_at(c, 0)->product,
                            cr_tensor_scalar(cr_node_grad(x0)), 1e-12);
    cr_chain_free(c);
    cr_graph_free(g);
}
END_TEST

/* A deep chain is handled without recursion. */
START_TEST(test_deep_chain)
{
    cr_graph *g = cr_graph_new();
    cr_node *x0 = cr_param_scalar(g, "x0", 0.5);
    cr_node *x = x0;
    const int depth = 100000;
    for (int k = 0; k < depth && x; k++)
        x = cr_scale(g, x, k % 2 ? 1.1 : 0.9);
    cr_node *E = cr_sin(g, x);
    ck_assert_ptr_nonnull(E);
    cr_chain_options opts;
    cr_chain_options_init(&opts);
    opts.flags = CR_CHAIN_NAMED_ONLY;
    cr_chain *c = cr_chain_new(g, E, x0, &opts);
    ck_assert_ptr_nonnull(c);
    /* x = 0.5 * 0.99^50000: dE/dx0 = cos(x) * 0.99^50000 */
    double scale = pow(0.99, depth / 2);
    ck_assert_double_eq_tol(cr_chain_value(c) / scale, cos(0.5 * scale), 1e-9);
    ck_assert_uint_eq(cr_chain_path_at(c, 0)->n_edges, 1);
    cr_chain_free(c);
    opts.flags = 0;
    opts.max_paths = 1;
    c = cr_chain_new(g, E, x0, &opts);
    ck_assert_uint_eq(cr_chain_path_at(c, 0)->n_edges, (size_t)depth + 1);
    cr_chain_free(c);
    cr_graph_free(g);
}
END_TEST

/* Tensor edges: Jacobian kind and shape, gradient flow norms, the
 * derivative equal to reverse mode. */
START_TEST(test_tensor_chain)
{
    cr_graph *g = cr_graph_new();
    test_rand_seed(7);
    double xd[8], wd[6];
    for (int i = 0; i < 8; i++)
        xd[i] = test_rand_uniform(-1.5, 1.5);
    for (int i = 0; i < 6; i++)
        wd[i] = test_rand_uniform(-0.8, 0.8);
    cr_tensor *xt = cr_tensor_new_from(2, (size_t[]){4, 2}, xd, NULL);
    cr_tensor *wt = cr_tensor_new_from(2, (size_t[]){2, 3}, wd, NULL);
    cr_node *X = cr_constant(g, xt);
    cr_node *W = cr_param(g, "W", wt);
    cr_node *Y = cr_matmul(g, X, W, 0);
    cr_node *Z = cr_sigmoid(g, Y);
    cr_node *E = cr_sum(g, Z);
    ck_assert_ptr_nonnull(E);
    cr_node_set_name(Y, "Y");
    cr_node_set_name(Z, "Z");
    cr_node_set_name(E, "E");
    ck_assert_int_eq(cr_graph_backward(g, E, 0), CR_OK);
    cr_chain *c = cr_chain_new(g, E, W, NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_double_eq(cr_chain_num_paths(c), 1.0);
    const cr_chain_path *p = cr_chain_path_at(c, 0);
    ck_assert_uint_eq(p->n_edges, 3);
    ck_assert_int_eq(p->edges[0]->scalar, 0);
    ck_assert_str_eq(p->edges[0]->shape, "[] x [4,3]");
    ck_assert_str_eq(p->edges[0]->jacobian, "ones (each output sums its inputs)");
    ck_assert_str_eq(p->edges[1]->jacobian, "diagonal");
    ck_assert_str_eq(p->edges[1]->shape, "[4,3] x [4,3]");
    ck_assert_str_eq(p->edges[1]->formula, "Z*(1-Z)");
    ck_assert_str_eq(p->edges[2]->shape, "[4,3] x [2,3]");
    ck_assert_str_eq(p->edges[2]->formula, "A^T dY");
    ck_assert(isnan(p->edges[2]->value));
    ck_assert(isnan(p->product));
    /* flows: ones, then sigmoid'(Y), then the gradient of W */
    ck_assert_double_eq_tol(p->edges[0]->flow_norm, sqrt(12.0), 1e-12);
    const cr_tensor *gw = cr_node_grad(W), *cw = cr_chain_gradient(c);
    double norm = 0.0;
    for (size_t i = 0; i < 6; i++) {
        ck_assert_double_eq_tol(cr_tensor_get(cw, i), cr_tensor_get(gw, i), 1e-12);
        norm += cr_tensor_get(gw, i) * cr_tensor_get(gw, i);
    }
    ck_assert_double_eq_tol(p->edges[2]->flow_norm, sqrt(norm), 1e-12);
    ck_assert_double_eq_tol(p->norm, sqrt(norm), 1e-12);
    ck_assert(isnan(cr_chain_value(c)));
    char *text = format(c, 0);
    const char *expected =
        "dE/dW = dE/dZ * dZ/dY * dY/dW = [ones (each output sums its inputs) [] x [4,3]] * "
        "[diagonal [4,3] x [4,3]] * [linear: dB = op(A)^T dY [4,3] x "
        "[2,3]] = [norm ";
    ck_assert_int_eq(strncmp(text, expected, strlen(expected)), 0);
    ck_assert_double_eq_tol(strtod(text + strlen(expected), NULL), sqrt(norm), 1e-8);
    free(text);
    cr_chain_free(c);

    /* sop describes the Jacobian of each of its inputs: X, W and the bias */
    cr_node *V = cr_param(g, "V", wt), *bias = cr_param_scalar(g, "c", 0.5);
    cr_node *F = cr_sum(g, cr_sop(g, 1, (cr_node *[]){X}, (cr_node *[]){V}, bias));
    ck_assert_ptr_nonnull(F);
    cr_node *of[3] = {X, V, bias};
    const char *want[3] = {"linear: dX = dS W^T (matrix product)",
                           "linear: dW = X^T dS (matrix product)",
                           "bias: dB = dS summed over the broadcast rows"};
    for (size_t k = 0; k < 3; k++) {
        c = cr_chain_new(g, F, of[k], NULL);
        ck_assert_ptr_nonnull(c);
        p = cr_chain_path_at(c, 0);
        ck_assert_str_eq(p->edges[p->n_edges - 1]->jacobian, want[k]);
        cr_chain_free(c);
    }
    cr_tensor_free(xt);
    cr_tensor_free(wt);
    cr_graph_free(g);
}
END_TEST

/* Named-only view through tensors: the collapsed edges carry the gradient
 * flow computed through the ops' vjps. */
START_TEST(test_tensor_named_only)
{
    cr_graph *g = cr_graph_new();
    test_rand_seed(11);
    double xd[8], w1d[6], w2d[3], td[4];
    for (int i = 0; i < 8; i++)
        xd[i] = test_rand_uniform(-2.0, 2.0);
    for (int i = 0; i < 6; i++)
        w1d[i] = test_rand_uniform(-1.0, 1.0);
    for (int i = 0; i < 3; i++)
        w2d[i] = test_rand_uniform(-1.0, 1.0);
    for (int i = 0; i < 4; i++)
        td[i] = test_rand_uniform(0.0, 1.0);
    cr_tensor *xt = cr_tensor_new_from(2, (size_t[]){4, 2}, xd, NULL);
    cr_tensor *w1t = cr_tensor_new_from(2, (size_t[]){2, 3}, w1d, NULL);
    cr_tensor *w2t = cr_tensor_new_from(2, (size_t[]){3, 1}, w2d, NULL);
    cr_tensor *tt = cr_tensor_new_from(2, (size_t[]){4, 1}, td, NULL);
    cr_node *W1 = cr_param(g, "W1", w1t), *W2 = cr_param(g, "W2", w2t);
    cr_node *h = cr_sigmoid(g, cr_matmul(g, cr_constant(g, xt), W1, 0));
    cr_node *E = cr_mse(g, cr_matmul(g, h, W2, 0), cr_constant(g, tt));
    ck_assert_ptr_nonnull(E);
    cr_node_set_name(h, "h");
    cr_node_set_name(E, "E");
    cr_node *dh = cr_grad(g, E, h);
    ck_assert_ptr_nonnull(dh);
    ck_assert_int_eq(cr_graph_backward(g, E, 0), CR_OK);
    size_t size = cr_graph_size(g);
    cr_chain_options opts;
    cr_chain_options_init(&opts);
    opts.flags = CR_CHAIN_NAMED_ONLY;
    cr_chain *c = cr_chain_new(g, E, W1, &opts);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(cr_graph_size(g), size);
    const cr_chain_path *p = cr_chain_path_at(c, 0);
    ck_assert_uint_eq(p->n_edges, 2);
    ck_assert_str_eq(p->edges[0]->formula, "d(E)/d(h)");
    ck_assert_str_eq(p->edges[0]->jacobian, "composite");
    ck_assert_str_eq(p->edges[0]->shape, "[] x [4,3]");
    ck_assert_double_eq_tol(p->edges[0]->flow_norm, sqrt(sumsq(cr_node_value(dh))), 1e-12);
    ck_assert_str_eq(p->edges[1]->formula, "d(h)/d(W1)");
    ck_assert_double_eq_tol(p->edges[1]->flow_norm, sqrt(sumsq(cr_node_grad(W1))), 1e-12);
    ck_assert(isnan(p->norm));
    cr_chain_free(c);

    /* Y = X*X uses X twice: the two edges become one collapsed edge whose
     * flow is the whole gradient of X, dE/dX = 2X. */
    const double xv[3] = {1.0, -2.0, 3.0};
    cr_tensor *xs = cr_tensor_new_from(1, (size_t[]){3}, xv, NULL);
    cr_node *X = cr_param(g, "X", xs);
    cr_node *Y = cr_mul(g, X, X);
    cr_node *F = cr_sum(g, Y);
    ck_assert_ptr_nonnull(F);
    cr_node_set_name(Y, "Y");
    cr_node_set_name(F, "F");
    c = cr_chain_new(g, F, X, &opts);
    ck_assert_ptr_nonnull(c);
    ck_assert_double_eq(cr_chain_num_paths(c), 1.0);
    p = cr_chain_path_at(c, 0);
    ck_assert_uint_eq(p->n_edges, 2);
    ck_assert_int_eq(p->edges[1]->collapsed, 1);
    ck_assert_double_eq_tol(p->edges[1]->flow_norm, 2.0 * sqrt(14.0), 1e-12);
    cr_chain_free(c);
    cr_tensor_free(xs);
    cr_tensor_free(xt);
    cr_tensor_free(w1t);
    cr_tensor_free(w2t);
    cr_tensor_free(tt);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_no_path_and_self)
{
    seed n = seed_build();
    cr_node *other = cr_param_scalar(n.g, "other", 4.2);
    cr_chain *c = cr_chain_new(n.g, n.E, other, NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_double_eq(cr_chain_num_paths(c), 0.0);
    ck_assert_uint_eq(cr_chain_num_listed(c), 0);
    ck_assert_double_eq(cr_chain_value(c), 0.0);
    char *text = format(c, 0);
    ck_assert_str_eq(text, "dE/dother = (no path) 0\n");
    free(text);
    cr_chain_free(c);
    /* desired feeds E but not s */
    c = cr_chain_new(n.g, n.s, n.desired, NULL);
    ck_assert_double_eq(cr_chain_num_paths(c), 0.0);
    cr_chain_free(c);

    c = cr_chain_new(n.g, n.E, n.E, NULL);
    ck_assert_double_eq(cr_chain_num_paths(c), 1.0);
    ck_assert_uint_eq(cr_chain_path_at(c, 0)->n_edges, 0);
    ck_assert_double_eq(cr_chain_path_at(c, 0)->product, 1.0);
    ck_assert_double_eq(cr_chain_value(c), 1.0);
    text = format(c, 0);
    ck_assert_str_eq(text, "dE/dE = 1\n");
    free(text);
    cr_chain_free(c);
    cr_graph_free(n.g);
}
END_TEST

START_TEST(test_errors)
{
    seed n = seed_build();
    cr_graph *other = cr_graph_new();
    cr_node *y = cr_param_scalar(other, "y", 1.0);
    ck_assert_ptr_null(cr_chain_new(NULL, n.E, n.w1, NULL));
    ck_assert_ptr_null(cr_chain_new(n.g, NULL, n.w1, NULL));
    ck_assert_int_eq(cr_graph_error(n.g)->status, CR_EINVAL);
    ck_assert_str_eq(cr_graph_error(n.g)->message, "chain: output is NULL");
    ck_assert_ptr_null(cr_chain_new(n.g, n.E, y, NULL));
    ck_assert_str_eq(cr_graph_error(n.g)->message, "chain: nodes belong to another graph");
    cr_tensor *t = cr_tensor_new(1, (size_t[]){3}, NULL);
    cr_node *v = cr_param(n.g, "v", t);
    ck_assert_ptr_null(cr_chain_new(n.g, v, n.w1, NULL));
    ck_assert_int_eq(cr_graph_error(n.g)->status, CR_ESHAPE);
    ck_assert_str_eq(cr_graph_error(n.g)->message,
                     "chain: output v must be a scalar, got [3]");
    cr_chain_free(NULL);
    /* a NULL chain's getters give "nothing" */
    ck_assert_ptr_null(cr_chain_output(NULL));
    ck_assert_ptr_null(cr_chain_wrt(NULL));
    ck_assert(isnan(cr_chain_num_paths(NULL)));
    ck_assert_uint_eq(cr_chain_num_listed(NULL), 0);
    ck_assert_ptr_null(cr_chain_path_at(NULL, 0));
    ck_assert(isnan(cr_chain_num_omitted(NULL)));
    ck_assert(isnan(cr_chain_value(NULL)));
    ck_assert(isnan(cr_chain_omitted_value(NULL)));
    ck_assert_ptr_null(cr_chain_gradient(NULL));
    cr_tensor_free(t);
    cr_graph_free(other);
    cr_graph_free(n.g);
}
END_TEST

START_TEST(test_local_derivatives)
{
    seed n = seed_build();
    char buf[64];
    ck_assert_int_eq(cr_chain_local_text(n.predicted, 0, buf, sizeof buf), 23);
    ck_assert_str_eq(buf, "predicted*(1-predicted)");
    ck_assert_int_eq(cr_chain_local_text(n.s, 4, buf, sizeof buf), 1);
    ck_assert_str_eq(buf, "1");
    ck_assert_int_eq(cr_chain_local_text(n.E, 1, buf, sizeof buf), 17);
    ck_assert_str_eq(buf, "desired-predicted");
    ck_assert_int_eq(cr_chain_local_text(n.w1, 0, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_int_eq(cr_chain_local_text(n.E, 7, buf, sizeof buf), 0);
    /* a NULL parent is not a leaf: -1 (and "") as for a NULL chain */
    strcpy(buf, "xyz");
    ck_assert_int_eq(cr_chain_local_text(NULL, 0, buf, sizeof buf), -1);
    ck_assert_str_eq(buf, "");
    ck_assert_int_eq(cr_chain_local_text(n.predicted, 0, NULL, 0), 23);
    cr_node *sc = cr_scale(n.g, n.s, 2.385);
    ck_assert_int_eq(cr_chain_local_text(sc, 0, buf, sizeof buf), 5);
    ck_assert_str_eq(buf, "2.385");
    /* labels that are not identifiers are parenthesised */
    cr_node *odd = cr_input_scalar(n.g, "a b", 0.25);
    cr_node *q = cr_mul(n.g, odd, n.s);
    ck_assert_int_eq(cr_chain_local_text(q, 1, buf, sizeof buf), 5);
    ck_assert_str_eq(buf, "(a b)");

    size_t size = cr_graph_size(n.g);
    double v = 0.0;
    ck_assert_int_eq(cr_chain_local_value(n.predicted, 0, &v), CR_OK);
    ck_assert_double_eq_tol(v, 0.109860473, TOL);
    ck_assert_int_eq(cr_chain_local_value(q, 0, &v), CR_OK);
    ck_assert_double_eq_tol(v, 1.94, TOL);
    ck_assert_int_eq(cr_chain_local_value(n.s, 9, &v), CR_EINVAL);
    ck_assert_int_eq(cr_chain_local_value(n.w1, 0, &v), CR_EINVAL);
    ck_assert_int_eq(cr_chain_local_value(NULL, 0, &v), CR_EINVAL);
    ck_assert_uint_eq(cr_graph_size(n.g), size);
    cr_tensor *t = cr_tensor_new(1, (size_t[]){3}, NULL);
    cr_node *vec = cr_sigmoid(n.g, cr_param(n.g, "vec", t));
    ck_assert_int_eq(cr_chain_local_value(vec, 0, &v), CR_ESHAPE);
    ck_assert_str_eq(
        cr_graph_error(n.g)->message,
        "chain: d(sigmoid#13)/d(input 0) is a Jacobian [3] x [3], not a scalar");
    cr_tensor_free(t);
    cr_graph_free(n.g);
}
END_TEST

/* Every allocation failure gives NULL and CR_ENOMEM, leaks nothing and
 * leaves the graph as it was. */
START_TEST(test_out_of_memory)
{
    size_t k = 1;
    for (;; k++) {
        test_alloc_install(0);
        seed n = seed_build();
        cr_chain_options opts;
        cr_chain_options_init(&opts);
        opts.flags = CR_CHAIN_NAMED_ONLY;
        size_t size = cr_graph_size(n.g);
        test_alloc.fail_at = test_alloc.allocations + k;
        cr_chain *c = cr_chain_new(n.g, n.E, n.w1, &opts);
        int failed = test_alloc.failures > 0;
        if (c) {
            char *text = NULL;
            int len = cr_chain_format(c, 0, NULL, 0);
            if (len > 0) {
                text = malloc((size_t)len + 1);
                cr_chain_format(c, 0, text, (size_t)len + 1);
            }
            free(text);
        } else {
            ck_assert_int_eq(cr_graph_error(n.g)->status, CR_ENOMEM);
        }
        ck_assert_uint_eq(cr_graph_size(n.g), size);
        cr_chain_free(c);
        cr_graph_free(n.g);
        ck_assert_int_eq(test_alloc.live, 0);
        test_alloc_uninstall();
        if (!failed)
            break;
    }
    ck_assert_uint_gt(k, 5);
}
END_TEST

Suite *chain_suite(void)
{
    Suite *s = suite_create("chain");
    TCase *tc = tcase_create("chain");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_seed_chains);
    tcase_add_test(tc, test_seed_print_forms);
    tcase_add_test(tc, test_named_only);
    tcase_add_loop_test(tc, test_composed_formulas, 0,
                        (int)(sizeof composed_cases / sizeof composed_cases[0]));
    tcase_add_test(tc, test_fan_out_sum);
    tcase_add_test(tc, test_diamond_ladder);
    tcase_add_test(tc, test_deep_chain);
    tcase_add_test(tc, test_tensor_chain);
    tcase_add_test(tc, test_tensor_named_only);
    tcase_add_test(tc, test_no_path_and_self);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_local_derivatives);
    tcase_add_test(tc, test_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
