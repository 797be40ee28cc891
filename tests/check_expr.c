/*
 * check_expr.c - tests of the expression language (chainrule/expr.h):
 * the seed program's values and gradients, precedence and associativity,
 * numbers, functions, every parse error with its exact message, line and
 * column, deep nesting and long sums, binding to existing graph nodes,
 * evaluation errors, and allocation failures.
 */
#include "testutil.h"

#include <chainrule/expr.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *seed_text = "s = x1*w1 + x2*w2 + b; predicted = sigmoid(s)\n"
                               "E = 0.5*(d - predicted)^2  # the article's error\n";

/* Parses text into a new graph (kept in *gp) or fails the test. */
static cr_expr_program *parse_ok(const char *text, cr_graph **gp)
{
    cr_graph *g = cr_graph_new();
    ck_assert_ptr_nonnull(g);
    cr_expr_program *p = NULL;
    cr_error err;
    cr_status st = cr_expr_parse(g, text, strlen(text), &p, &err);
    ck_assert_msg(st == CR_OK, "parse of '%s' failed: %s", text, err.message);
    ck_assert_ptr_nonnull(p);
    *gp = g;
    return p;
}

/* The value of the output of a program with every input set to x. */
static double value_at(const char *text, double x)
{
    cr_graph *g;
    cr_expr_program *p = parse_ok(text, &g);
    for (size_t i = 0; i < cr_expr_num_inputs(p); i++)
        ck_assert_int_eq(cr_expr_set(p, cr_expr_input(p, i)->name, x, NULL), CR_OK);
    cr_error err;
    cr_status st = cr_expr_eval(p, &err);
    double v = cr_node_scalar(cr_expr_output(p)->node);
    ck_assert_msg(st == CR_OK, "eval of '%s': %s", text, err.message);
    cr_expr_free(p);
    cr_graph_free(g);
    return v;
}

/* Comparisons give 1 or 0; c ? a : b selects, right-associative, at the
 * loosest precedence; the gradient flows to the branch taken; comparisons
 * do not chain. */
START_TEST(test_comparisons_and_conditional)
{
    const struct {
        const char *text;
        double x, v;
    } cases[] = {
        {"y = x > 0 ? 1 : 0", 2.385, 1},
        {"y = x > 0 ? 1 : 0", -2.385, 0},
        {"y = x > 0 ? 1 : 0", 0, 0},
        {"y = x >= 0 ? 1 : 0", 0, 1},
        {"y = x < 1 + 1", 1.5, 1}, /* + binds tighter than < */
        {"y = x <= 2 - x", 1, 1},
        {"y = x == 0.5", 0.5, 1},
        {"y = x == 0.5", 0.25, 0},
        {"y = 2 + (x > 1)", 3, 3},
        {"y = x < 0 ? -1 : x < 1 ? 0.5 : 2", 0.25, 0.5}, /* right-associative */
        {"y = x < 0 ? -1 : x < 1 ? 0.5 : 2", 7, 2},
        {"y = x < 0 ? -1 : x < 1 ? 0.5 : 2", -7, -1},
        {"y = (x > 0 ? x : 0) * 2", 1.5, 3},
        {"y = x > 0 ?\n x^2 :\n -x", -4, 4}, /* lines continue after ? and : */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(value_at(cases[i].text, cases[i].x) == cases[i].v, "%s at %g",
                      cases[i].text, cases[i].x);
    /* the gradient of the branch taken */
    cr_graph *g;
    cr_expr_program *p = parse_ok("y = x > 0 ? x^2 : -3*x", &g);
    cr_node *x = cr_expr_lookup(p, "x")->node;
    const double at[2] = {-2, 1.5}, want[2] = {-3, 3};
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(cr_expr_set(p, "x", at[k], NULL), CR_OK);
        ck_assert_int_eq(cr_expr_eval(p, NULL), CR_OK);
        cr_node *d = cr_grad(g, cr_expr_output(p)->node, x);
        ck_assert_ptr_nonnull(d);
        ck_assert_double_eq(cr_node_scalar(d), want[k]);
    }
    ck_assert_str_eq(cr_node_op_name(cr_expr_output(p)->node), "where");
    cr_expr_free(p);
    cr_graph_free(g);
    const struct {
        const char *text, *message;
        int col;
    } bad[] = {
        {"y = 1 < x < 3", "comparisons do not chain: write (a < b) * (b < c)", 11},
        {"y = x ? 1", "'?' without its ':' (write c ? a : b)", 7},
        {"y = x : 1", "':' without a '?' before it (write c ? a : b)", 7},
        {"y = (x ? 1) : 2", "'?' without its ':' (write c ? a : b)", 8},
        {"y = x => 1", "expected an operator or the end of the statement, got '='", 7},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_graph *h = cr_graph_new();
        cr_expr_program *q;
        cr_error err;
        ck_assert_int_eq(cr_expr_parse(h, bad[i].text, strlen(bad[i].text), &q, &err),
                         CR_ESYNTAX);
        ck_assert_str_eq(err.message, bad[i].message);
        ck_assert_int_eq(err.column, bad[i].col);
        ck_assert_uint_eq(cr_graph_size(h), 0);
        cr_graph_free(h);
    }
}
END_TEST

START_TEST(test_seed_program)
{
    cr_graph *g;
    cr_expr_program *p = parse_ok(seed_text, &g);
    const char *inputs[] = {"x1", "w1", "x2", "w2", "b", "d"};
    const double values[] = {0.1, 0.5, 0.3, 0.2, 1.83, 0.03};
    ck_assert_uint_eq(cr_expr_num_inputs(p), 6);
    for (size_t i = 0; i < 6; i++) {
        const cr_expr_symbol *in = cr_expr_input(p, i);
        ck_assert_str_eq(in->name, inputs[i]);
        ck_assert_int_eq(in->kind, CR_EXPR_INPUT);
        ck_assert_int_eq(in->has_value, 0);
        ck_assert_str_eq(cr_node_name(in->node), inputs[i]);
        ck_assert_int_eq(cr_node_kind_of(in->node), CR_NODE_INPUT);
        ck_assert_int_eq(cr_expr_set(p, inputs[i], values[i], NULL), CR_OK);
        ck_assert_int_eq(in->has_value, 1);
    }
    ck_assert_uint_eq(cr_expr_num_statements(p), 3);
    const char *stmts[] = {"s", "predicted", "E"};
    const int lines[] = {1, 1, 2}, cols[] = {1, 24, 1};
    for (size_t i = 0; i < 3; i++) {
        const cr_expr_symbol *s = cr_expr_statement(p, i);
        ck_assert_str_eq(s->name, stmts[i]);
        ck_assert_int_eq(s->kind, CR_EXPR_STATEMENT);
        ck_assert_int_eq(s->line, lines[i]);
        ck_assert_int_eq(s->column, cols[i]);
        ck_assert_int_eq(s->used, 1);
        ck_assert_ptr_eq(cr_graph_find(g, stmts[i]), s->node);
        ck_assert_ptr_eq(cr_expr_lookup(p, stmts[i]), s);
    }
    ck_assert_ptr_null(cr_expr_input(p, 6));
    ck_assert_ptr_null(cr_expr_statement(p, 3));
    ck_assert_ptr_null(cr_expr_lookup(p, "nothere"));
    ck_assert_str_eq(cr_expr_output(p)->name, "E");
    ck_assert_str_eq(cr_node_op_name(cr_expr_lookup(p, "predicted")->node), "sigmoid");
    ck_assert_ptr_eq(cr_expr_graph(p), g);

    ck_assert_int_eq(cr_expr_eval(p, NULL), CR_OK);
    ck_assert_double_eq_tol(cr_node_scalar(cr_graph_find(g, "s")), 1.94, 1e-15);
    ck_assert_double_eq_tol(cr_node_scalar(cr_graph_find(g, "predicted")), 0.874352143,
                            5e-10);
    ck_assert_double_eq_tol(cr_node_scalar(cr_graph_find(g, "E")), 0.356465271, 5e-10);

    const char *wrt[] = {"w1", "w2", "b"};
    const double grads[] = {0.009276093, 0.027828278, 0.0927609256};
    for (size_t i = 0; i < 3; i++)
        cr_node_require_grad(cr_expr_lookup(p, wrt[i])->node, 1);
    ck_assert_int_eq(cr_graph_backward(g, cr_expr_output(p)->node, 0), CR_OK);
    for (size_t i = 0; i < 3; i++)
        ck_assert_double_eq_tol(
            cr_tensor_scalar(cr_node_grad(cr_expr_lookup(p, wrt[i])->node)), grads[i],
            5e-10);

    /* New inputs, same program: the article's updated weights. */
    ck_assert_int_eq(cr_expr_set(p, "w1", 0.49990723907, NULL), CR_OK);
    ck_assert_int_eq(cr_expr_set(p, "w2", 0.1997217172, NULL), CR_OK);
    ck_assert_int_eq(cr_expr_set(p, "b", 1.821556479, NULL), CR_OK);
    ck_assert_int_eq(cr_expr_eval(p, NULL), CR_OK);
    ck_assert_double_eq_tol(cr_node_scalar(cr_expr_output(p)->node), 0.35567134660719907,
                            1e-15);
    cr_expr_free(p);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_precedence)
{
    ck_assert_double_eq_tol(value_at("y = -x^2", 3.0), -9.0, 1e-15);
    ck_assert_double_eq_tol(value_at("y = (-x)^2", 3.0), 9.0, 1e-15);
    ck_assert_double_eq_tol(value_at("y = 2^3^2", 0.0), 512.0, 1e-12);
    ck_assert_double_eq_tol(value_at("y = (2^3)^2", 0.0), 64.0, 1e-12);
    ck_assert_double_eq_tol(value_at("y = -2^2", 0.0), -4.0, 1e-15);
    ck_assert_double_eq_tol(value_at("y = 2^-x", 1.0), 0.5, 1e-15);
    ck_assert_double_eq_tol(value_at("y = 2^-x^2", 2.0), 1.0 / 16.0, 1e-15);
    ck_assert_double_eq_tol(value_at("y = 10 - 3 - 2", 0.0), 5.0, 1e-15);
    ck_assert_double_eq_tol(value_at("y = 8 / 4 / 2", 0.0), 1.0, 1e-15);
    ck_assert_double_eq_tol(value_at("y = 2*3 + 4*5", 0.0), 26.0, 1e-15);
    ck_assert_double_eq_tol(value_at("y = 2 + 3*4^2", 0.0), 50.0, 1e-12);
    ck_assert_double_eq_tol(value_at("y = -x*3", 2.0), -6.0, 1e-15);
    ck_assert_double_eq_tol(value_at("y = x*-3", 2.0), -6.0, 1e-15);
    ck_assert_double_eq_tol(value_at("y = x - -x", 2.0), 4.0, 1e-15);
    ck_assert_double_eq_tol(value_at("y = --x", 2.5), 2.5, 1e-15);
    ck_assert_double_eq_tol(value_at("y = 1/x/x", 2.0), 0.25, 1e-15);
}
END_TEST

START_TEST(test_numbers)
{
    const struct {
        const char *text;
        double v;
    } cases[] = {
        {"y = 12", 12.0},   {"y = 0.5", 0.5},      {"y = .5", 0.5},
        {"y = 1e-3", 1e-3}, {"y = 2.5E+4", 2.5e4}, {"y = 7.", 7.0},
        {"y = 3e2", 300.0}, {"y = 0.125e1", 1.25}, {"y = 000123", 123.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_double_eq_tol(value_at(cases[i].text, 0.0), cases[i].v, 1e-15);
}
END_TEST

START_TEST(test_functions)
{
    const double x = 0.7;
    const struct {
        const char *text;
        double v;
    } cases[] = {
        {"y = exp(x)", exp(x)},
        {"y = log(x)", log(x)},
        {"y = sqrt(x)", sqrt(x)},
        {"y = abs(-x)", x},
        {"y = sign(-x) + 2*sign(x) + sign(x - x)", 1.0},
        {"y = sin(x)", sin(x)},
        {"y = cos(x)", cos(x)},
        {"y = tanh(x)", tanh(x)},
        {"y = sigmoid(x)", 1.0 / (1.0 + exp(-x))},
        {"y = relu(-x) + relu(x)", x},
        {"y = softplus(x)", log1p(exp(x))},
        {"y = pow(x, 3)", x * x * x},
        {"y = pow(x, x)", pow(x, x)},
        {"y = pow ( x , 2 ) + sin (x)", x * x + sin(x)},
        {"y = exp(log(x))", x},
        {"y = square(x)", x * x},
        {"y = log1p(x)", log1p(x)},
        {"y = erf(x)", erf(x)},
        {"y = leaky_relu(-x) + leaky_relu(x)", x - 0.01 * x},
        {"y = leaky_relu(-x, 0.2)", -0.2 * x},
        {"y = elu(-x) + elu(x)", expm1(-x) + x},
        {"y = elu(-x, 0.5)", 0.5 * expm1(-x)},
        {"y = gelu(x)", 0.5 * x * (1 + erf(x / sqrt(2.0)))},
        {"y = silu(x)", x / (1 + exp(-x))},
        {"y = detach(x) * x + detach(2)", x * x + 2},
        {"y = maximum(x, 0.5) + minimum(x, 0.5)", x + 0.5},
        {"y = clamp(x, -0.5, 0.25) + clamp(-x, -0.5, 0.25)", 0.25 - 0.5},
        {"y = where(gt(x, 1), x, 2*x) + where(0, 1, 2)", 2 * x + 2},
        {"y = gt(x, 0.7) + 2*ge(x, 0.7) + 4*lt(x, 1) + 8*le(x, 0.7) + 16*eq(x, x)",
         2 + 4 + 8 + 16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_double_eq_tol(value_at(cases[i].text, x), cases[i].v, 1e-14);
    ck_assert_str_eq(
        cr_expr_functions(),
        "exp, log, sqrt, abs, sign, sin, cos, tanh, sigmoid, relu, softplus, square, "
        "log1p, erf, leaky_relu, elu, gelu, silu, detach, pow, maximum, minimum, clamp, "
        "where, gt, ge, lt, le, eq, sum, mean, max, min, logsumexp, argmax, reshape, "
        "flatten, "
        "permute, transpose, slice, pad, concat, stack, index_select, matmul, dot, outer, "
        "norm, diag, trace, softmax, log_softmax");
}
END_TEST

/* Reductions of a tensor parameter named in the program: over all
 * elements, along an axis, keeping it; the axis and the flag are numbers. */
START_TEST(test_reductions)
{
    cr_graph *g = cr_graph_new();
    size_t s23[2] = {2, 3};
    const double v[6] = {1, 5, 5, -2, -2, 0.5};
    cr_tensor *t = cr_tensor_new_from(2, s23, v, NULL);
    ck_assert_ptr_nonnull(cr_param(g, "m", t));
    cr_tensor_free(t);
    const char *text = "a = sum(m); b = sum(m, 1); c = max(m, -1, 1); d = argmax(m, 0)\n"
                       "e = logsumexp(m); f = min(m, 0); h = mean(m, 1, 1); k = max(m)";
    cr_expr_program *p;
    cr_error err;
    ck_assert_int_eq(cr_expr_parse(g, text, strlen(text), &p, &err), CR_OK);
    const struct {
        const char *name, *op, *shape;
        double first;
    } cases[] = {
        {"a", "sum", "[]", 7.5},          {"b", "sum", "[2]", 11},
        {"c", "max", "[2,1]", 5},         {"d", "argmax", "[3]", 0},
        {"e", "logsumexp", "[]", 0},      {"f", "min", "[3]", -2},
        {"h", "mean", "[2,1]", 11.0 / 3}, {"k", "max", "[]", 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const cr_node *n = cr_expr_lookup(p, cases[i].name)->node;
        char shape[32];
        cr_shape_format(shape, sizeof shape, cr_tensor_rank(cr_node_value(n)),
                        cr_tensor_shape(cr_node_value(n)));
        ck_assert_str_eq(cr_node_op_name(n), cases[i].op);
        ck_assert_str_eq(shape, cases[i].shape);
        if (i != 4)
            ck_assert_double_eq_tol(cr_tensor_get(cr_node_value(n), 0), cases[i].first,
                                    1e-15);
    }
    cr_expr_free(p);
    /* the axis must be an integer written as a number, and in range */
    static const struct {
        const char *text, *message;
    } bad[] = {
        {"y = sum(m, x)", "sum(): the axis (argument 2) must be a number"},
        {"y = max(m, 0, x)", "max(): the keepdims flag (argument 3) must be a number"},
        {"y = mean(m, 0.5)",
         "mean(): the axis (argument 2) must be a whole number from -4 to 4, not 0.5"},
        {"y = argmax(m, 2)", "argmax: axis 2 out of range for [2,3]"},
        {"y = min(m, 1, 1, 1)", "min() takes 1 to 3 arguments, got 4"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_ne(cr_expr_parse(g, bad[i].text, strlen(bad[i].text), &p, &err),
                         CR_OK);
        ck_assert_str_eq(err.message, bad[i].message);
    }
    cr_graph_free(g);
}
END_TEST

/* x^constant uses powc; anything else uses pow; a statement that only
 * names another symbol gets a node of its own. */
START_TEST(test_ops_chosen)
{
    cr_graph *g;
    cr_expr_program *p = parse_ok("a = x^2; b = x^y; c = pow(x, -1.5); d = pow(x, y)\n"
                                  "e = x^(3); f = x; h = a; k = 4; m = -x",
                                  &g);
    const struct {
        const char *name, *op;
    } cases[] = {
        {"a", "powc"},  {"b", "pow"},   {"c", "powc"},  {"d", "pow"}, {"e", "powc"},
        {"f", "scale"}, {"h", "scale"}, {"k", "const"}, {"m", "neg"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_str_eq(cr_node_op_name(cr_expr_lookup(p, cases[i].name)->node),
                         cases[i].op);
    ck_assert_str_eq(cr_node_name(cr_expr_lookup(p, "x")->node), "x");
    ck_assert_uint_eq(cr_expr_num_inputs(p), 2);
    ck_assert_int_eq(cr_expr_set(p, "x", 2.0, NULL), CR_OK);
    ck_assert_int_eq(cr_expr_set(p, "y", 3.0, NULL), CR_OK);
    ck_assert_int_eq(cr_expr_eval(p, NULL), CR_OK);
    ck_assert_double_eq_tol(cr_node_scalar(cr_expr_lookup(p, "c")->node), pow(2.0, -1.5),
                            1e-15);
    ck_assert_double_eq_tol(cr_node_scalar(cr_expr_lookup(p, "h")->node), 4.0, 1e-15);
    ck_assert_double_eq_tol(cr_node_scalar(cr_expr_lookup(p, "k")->node), 4.0, 1e-15);
    /* the output is m; only m and x feed it */
    ck_assert_str_eq(cr_expr_output(p)->name, "m");
    ck_assert_int_eq(cr_expr_lookup(p, "a")->used, 0);
    ck_assert_int_eq(cr_expr_lookup(p, "x")->used, 1);
    ck_assert_int_eq(cr_expr_lookup(p, "y")->used, 0);
    ck_assert_int_eq(cr_expr_set_output(p, "h", NULL), CR_OK);
    ck_assert_int_eq(cr_expr_lookup(p, "a")->used, 1);
    ck_assert_int_eq(cr_expr_lookup(p, "m")->used, 0);
    cr_expr_free(p);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_layout)
{
    /* comments, blank lines, ';' and newlines, CRLF, continuation inside
     * parentheses and after an operator */
    const char *text = "# header\r\n\r\na = 1 +\n  2   # three\n;;\n"
                       "b = (a\n * 2\n)\n\tc = pow(a,\n b); d = -\n c\n";
    cr_graph *g;
    cr_expr_program *p = parse_ok(text, &g);
    ck_assert_uint_eq(cr_expr_num_statements(p), 4);
    ck_assert_int_eq(cr_expr_eval(p, NULL), CR_OK);
    ck_assert_double_eq_tol(cr_node_scalar(cr_expr_output(p)->node), -729.0, 1e-12);
    ck_assert_int_eq(cr_expr_lookup(p, "c")->line, 9);
    ck_assert_int_eq(cr_expr_lookup(p, "c")->column, 2);
    cr_expr_free(p);
    cr_graph_free(g);
}
END_TEST

/* Every parse error: status, line, column and the exact message. */
static const struct parse_error_case {
    const char *text;
    size_t len; /* 0: strlen */
    cr_status status;
    int line, col;
    const char *message;
} parse_errors[] = {
    {"", 0, CR_ESYNTAX, 0, 0,
     "empty program: no statements (a statement is NAME = EXPRESSION)"},
    {"# nothing\n;\n", 0, CR_ESYNTAX, 0, 0,
     "empty program: no statements (a statement is NAME = EXPRESSION)"},
    {"y = foo(x)", 0, CR_ESYNTAX, 1, 5,
     "unknown function 'foo' (the functions are listed in docs/expression-language.md and "
     "by cr_expr_functions())"},
    {"y = sin(x, 2)", 0, CR_ESYNTAX, 1, 5, "sin() takes 1 argument, got 2"},
    {"y = leaky_relu(x, 1, 2)", 0, CR_ESYNTAX, 1, 5,
     "leaky_relu() takes 1 to 2 arguments, got 3"},
    {"y = 1 + clamp(x, x, 1)", 0, CR_EINVAL, 1, 9,
     "clamp(): the lower bound (argument 2) must be a number"},
    {"y = clamp(x, 0, -x)", 0, CR_EINVAL, 1, 5,
     "clamp(): the upper bound (argument 3) must be a number"},
    {"y = clamp(x, 1, 0)", 0, CR_EINVAL, 1, 5,
     "clamp: bounds [1, 0]: need lo <= hi, not NaN"},
    {"y = leaky_relu(x, x)", 0, CR_EINVAL, 1, 5,
     "leaky_relu(): the slope (argument 2) must be a number"},
    {"y = elu(x, 2*x)", 0, CR_EINVAL, 1, 5,
     "elu(): the alpha (argument 2) must be a number"},
    {"y = where(x, 1)", 0, CR_ESYNTAX, 1, 5, "where() takes 3 arguments, got 2"},
    {"y = pow(x)", 0, CR_ESYNTAX, 1, 5, "pow() takes 2 arguments, got 1"},
    {"y = 1 +\n  exp()", 0, CR_ESYNTAX, 2, 3, "exp() takes 1 argument, got 0"},
    {"y = (x + 1", 0, CR_ESYNTAX, 1, 5, "unmatched '('"},
    {"y = sin(x + 1", 0, CR_ESYNTAX, 1, 5, "unmatched '(' of sin("},
    {"y = x + 1)", 0, CR_ESYNTAX, 1, 10, "unmatched ')'"},
    {"y = x +", 0, CR_ESYNTAX, 1, 8, "expected an expression, got the end of the program"},
    {"y =\nx", 0, CR_ESYNTAX, 1, 4, "expected an expression, got the end of the line"},
    {"y = x * )", 0, CR_ESYNTAX, 1, 9, "expected an expression, got ')'"},
    {"y = 2 x", 0, CR_ESYNTAX, 1, 7,
     "expected an operator or the end of the statement, got 'x'"},
    {"y = (1) (2)", 0, CR_ESYNTAX, 1, 9,
     "expected an operator or the end of the statement, got '('"},
    {"3 = 2", 0, CR_ESYNTAX, 1, 1, "expected a statement NAME = EXPRESSION, got '3'"},
    {"y 2", 0, CR_ESYNTAX, 1, 3,
     "expected '=' after 'y' (a statement is NAME = EXPRESSION), got '2'"},
    {"y = 1; y = 2", 0, CR_ESYNTAX, 1, 8, "'y' is already defined on line 1"},
    {"y = a + 1\na = 2", 0, CR_ESYNTAX, 2, 1,
     "'a' is used before its statement defines it (first use: line 1, column 5)"},
    {"a = a + 1", 0, CR_ESYNTAX, 1, 1,
     "'a' is used before its statement defines it (first use: line 1, column 5)"},
    {"y = exp + 1", 0, CR_ESYNTAX, 1, 5, "'exp' is a function; call it as exp(...)"},
    {"exp = 1", 0, CR_ESYNTAX, 1, 1, "'exp' is a function and cannot name a statement"},
    {"y = 1, 2", 0, CR_ESYNTAX, 1, 6, "',' outside the arguments of a function call"},
    {"y = x $ 2", 0, CR_ESYNTAX, 1, 7, "unexpected character '$'"},
    {"y = x + \xc3\xa9", 0, CR_ESYNTAX, 1, 9,
     "unexpected character '\xc3\xa9': only ASCII operators and names are allowed"},
    {"y = x\x01", 0, CR_ESYNTAX, 1, 6, "unexpected character (byte 0x01)"},
    {"y = 1e", 0, CR_EFORMAT, 1, 5, "malformed number '1e'"},
    {"y = 1e+", 0, CR_EFORMAT, 1, 5, "malformed number '1e+'"},
    {"y = 1.2.3", 0, CR_EFORMAT, 1, 5, "malformed number '1.2.3'"},
    {"y = 12abc", 0, CR_ESYNTAX, 1, 5,
     "'12abc' is not a name or a number: write 12*abc for a product"},
    {"y = 1e999", 0, CR_ERANGE, 1, 5, "number '1e999' is out of range"},
    {"y = x\0 + 1", 10, CR_EFORMAT, 1, 6, "NUL byte in the program text (not allowed)"},
    {"# caf\xc3\xa9\ny = \xff", 0, CR_EFORMAT, 2, 5,
     "invalid UTF-8 in the program text (byte 0xff)"},
    {"y = 1 # \xc0\x80 overlong", 0, CR_EFORMAT, 1, 9,
     "invalid UTF-8 in the program text (byte 0xc0)"},
    {"y = 1 # \xed\xa0\x80 surrogate", 0, CR_EFORMAT, 1, 9,
     "invalid UTF-8 in the program text (byte 0xed)"},
    {"y = 1 # \xe2\x82", 0, CR_EFORMAT, 1, 9,
     "invalid UTF-8 in the program text (byte 0xe2)"},
};

START_TEST(test_parse_errors)
{
    const struct parse_error_case *c = &parse_errors[_i];
    cr_graph *g = cr_graph_new();
    cr_node *keep = cr_input_scalar(g, "keep", 1.0);
    ck_assert_ptr_nonnull(keep);
    cr_expr_program *p = (cr_expr_program *)&p; /* must become NULL */
    cr_error err;
    size_t len = c->len ? c->len : strlen(c->text);
    cr_status st = cr_expr_parse(g, c->text, len, &p, &err);
    ck_assert_msg(st == c->status, "'%s': status %d, expected %d (%s)", c->text, st,
                  c->status, err.message);
    ck_assert_ptr_null(p);
    ck_assert_str_eq(err.message, c->message);
    ck_assert_int_eq(err.line, c->line);
    ck_assert_int_eq(err.column, c->col);
    /* the graph is as it was */
    ck_assert_uint_eq(cr_graph_size(g), 1);
    ck_assert_ptr_null(cr_graph_find(g, "y"));
    ck_assert_ptr_null(cr_graph_find(g, "x"));
    ck_assert_int_eq(cr_graph_error(g)->status, CR_OK);
    cr_graph_free(g);
}
END_TEST

/* Text of n nested parentheses around x. */
static char *nested(size_t n)
{
    char *t = malloc(2 * n + 8);
    ck_assert_ptr_nonnull(t);
    memcpy(t, "y = ", 4);
    memset(t + 4, '(', n);
    t[4 + n] = 'x';
    memset(t + 5 + n, ')', n);
    t[5 + 2 * n] = '\0';
    return t;
}

START_TEST(test_nesting)
{
    char *ok = nested(CR_EXPR_MAX_NESTING);
    ck_assert_double_eq_tol(value_at(ok, 1.5), 1.5, 1e-15);
    free(ok);
    const size_t deep[] = {CR_EXPR_MAX_NESTING + 1, 200000};
    for (size_t k = 0; k < 2; k++) {
        char *t = nested(deep[k]);
        cr_graph *g = cr_graph_new();
        cr_expr_program *p;
        cr_error err;
        ck_assert_int_eq(cr_expr_parse(g, t, strlen(t), &p, &err), CR_ERANGE);
        ck_assert_str_eq(err.message,
                         "nesting too deep (more than 1000 levels of parentheses)");
        ck_assert_int_eq(err.line, 1);
        ck_assert_int_eq(err.column, 5 + CR_EXPR_MAX_NESTING);
        ck_assert_uint_eq(cr_graph_size(g), 0);
        cr_graph_free(g);
        free(t);
    }
    /* nested calls count too */
    size_t n = CR_EXPR_MAX_NESTING + 1;
    char *t = malloc(5 * n + 16), *w = t;
    ck_assert_ptr_nonnull(t);
    memcpy(w, "y = ", 4);
    w += 4;
    for (size_t i = 0; i < n; i++, w += 4)
        memcpy(w, "abs(", 4);
    *w++ = 'x';
    memset(w, ')', n);
    w[n] = '\0';
    cr_graph *g = cr_graph_new();
    cr_expr_program *p;
    cr_error err;
    ck_assert_int_eq(cr_expr_parse(g, t, strlen(t), &p, &err), CR_ERANGE);
    ck_assert_int_eq(err.column, 5 + 4 * CR_EXPR_MAX_NESTING + 3);
    cr_graph_free(g);
    free(t);
}
END_TEST

/* Long inputs are fine: a 200,000-term sum, 200,000 unary minuses and a
 * 200,000-deep right-associative power (no recursion anywhere). */
START_TEST(test_long_inputs)
{
    const size_t n = 200000;
    char *t = malloc(4 * n + 16);
    ck_assert_ptr_nonnull(t);
    strcpy(t, "y = x");
    char *w = t + 5;
    for (size_t i = 1; i < n; i++) {
        memcpy(w, " + x", 4);
        w += 4;
    }
    *w = '\0';
    cr_graph *g;
    cr_expr_program *p = parse_ok(t, &g);
    ck_assert_int_eq(cr_expr_set(p, "x", 0.25, NULL), CR_OK);
    ck_assert_int_eq(cr_expr_eval(p, NULL), CR_OK);
    ck_assert_double_eq_tol(cr_node_scalar(cr_expr_output(p)->node), 50000.0, 1e-9);
    cr_node *x = cr_expr_lookup(p, "x")->node;
    cr_node_require_grad(x, 1);
    ck_assert_int_eq(cr_graph_backward(g, cr_expr_output(p)->node, 0), CR_OK);
    ck_assert_double_eq_tol(cr_tensor_scalar(cr_node_grad(x)), 200000.0, 1e-6);
    cr_expr_free(p);
    cr_graph_free(g);

    strcpy(t, "y = ");
    memset(t + 4, '-', n);
    strcpy(t + 4 + n, "x");
    ck_assert_double_eq_tol(value_at(t, 0.75), 0.75, 1e-15);

    strcpy(t, "y = x");
    w = t + 5;
    for (size_t i = 1; i < n; i++) {
        memcpy(w, "^x", 2);
        w += 2;
    }
    *w = '\0';
    ck_assert_double_eq_tol(value_at(t, 1.0), 1.0, 1e-15);
    free(t);
}
END_TEST

/* An identifier naming a node already in the graph refers to it. */
START_TEST(test_existing_nodes)
{
    cr_graph *g = cr_graph_new();
    cr_node *w = cr_param_scalar(g, "w", 2.0);
    cr_expr_program *p;
    cr_error err;
    const char *text = "y = w*x; z = y^2";
    ck_assert_int_eq(cr_expr_parse(g, text, strlen(text), &p, &err), CR_OK);
    ck_assert_ptr_eq(cr_expr_lookup(p, "w")->node, w);
    ck_assert_int_eq(cr_expr_lookup(p, "w")->has_value, 1);
    ck_assert_int_eq(cr_expr_lookup(p, "x")->has_value, 0);
    ck_assert_int_eq(cr_expr_set(p, "x", 3.0, NULL), CR_OK);
    ck_assert_int_eq(cr_expr_eval(p, NULL), CR_OK);
    ck_assert_double_eq_tol(cr_node_scalar(cr_expr_output(p)->node), 36.0, 1e-12);
    ck_assert_int_eq(cr_graph_backward(g, cr_expr_output(p)->node, 0), CR_OK);
    ck_assert_double_eq_tol(cr_tensor_scalar(cr_node_grad(w)), 2 * 6.0 * 3.0, 1e-12);
    cr_expr_free(p);

    /* a statement may not take a name the graph already uses */
    size_t before = cr_graph_size(g);
    text = "w = 1";
    ck_assert_int_eq(cr_expr_parse(g, text, strlen(text), &p, &err), CR_ENAME);
    ck_assert_str_eq(err.message, "'w' is already the name of a node in the graph");
    ck_assert_int_eq(err.line, 1);
    ck_assert_int_eq(err.column, 1);
    ck_assert_uint_eq(cr_graph_size(g), before);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_set_and_eval_errors)
{
    cr_graph *g;
    cr_expr_program *p = parse_ok("a = x + 1\nr = log(a) + y\nq = r * 2", &g);
    cr_error err;
    ck_assert_int_eq(cr_expr_set(p, "nope", 1.0, &err), CR_ENOTFOUND);
    ck_assert_str_eq(err.message, "'nope' is not a variable of the program");
    ck_assert_int_eq(cr_expr_set(p, "a", 1.0, &err), CR_ESTATE);
    ck_assert_str_eq(err.message,
                     "'a' is computed by its statement on line 1; only inputs take values");
    ck_assert_int_eq(cr_expr_set(p, "x", NAN, &err), CR_EDOMAIN);
    ck_assert_str_eq(err.message, "the value of 'x' must be finite");
    ck_assert_int_eq(cr_expr_set(p, "x", INFINITY, &err), CR_EDOMAIN);

    ck_assert_int_eq(cr_expr_set(p, "x", -1.0, &err), CR_OK);
    ck_assert_int_eq(cr_expr_eval(p, &err), CR_ESTATE);
    ck_assert_str_eq(err.message, "variable 'y' has no value");
    ck_assert_int_eq(err.line, 2);
    ck_assert_int_eq(err.column, 14);

    ck_assert_int_eq(cr_expr_set(p, "y", 1.0, &err), CR_OK);
    ck_assert_int_eq(cr_expr_eval(p, &err), CR_EDOMAIN);
    /* the caret goes to the operation that made the value, with its operands */
    ck_assert_str_eq(err.message, "statement 'r' evaluates to -inf: log of 0 gives -inf");
    ck_assert_str_eq(err.where, "r");
    ck_assert_int_eq(err.line, 2);
    ck_assert_int_eq(err.column, 5);

    ck_assert_int_eq(cr_expr_set(p, "x", -2.0, &err), CR_OK);
    ck_assert_int_eq(cr_expr_eval(p, &err), CR_EDOMAIN);
    ck_assert_str_eq(err.message, "statement 'r' evaluates to nan: log of -1 gives nan");

    ck_assert_int_eq(cr_expr_set(p, "x", 1.0, &err), CR_OK);
    ck_assert_int_eq(cr_expr_eval(p, &err), CR_OK);
    ck_assert_double_eq_tol(cr_node_scalar(cr_expr_output(p)->node), 2 * (log(2.0) + 1),
                            1e-15);

    ck_assert_int_eq(cr_expr_set_output(p, "x", &err), CR_ENOTFOUND);
    ck_assert_str_eq(err.message, "'x' is not a statement (statements: a, r, q)");
    ck_assert_int_eq(cr_expr_set_output(p, "r", &err), CR_OK);
    ck_assert_str_eq(cr_expr_output(p)->name, "r");
    cr_expr_free(p);
    cr_graph_free(g);

    cr_graph *g2 = cr_graph_new();
    ck_assert_int_eq(cr_expr_parse(g2, NULL, 0, &p, &err), CR_EINVAL);
    ck_assert_int_eq(cr_expr_parse(NULL, "y = 1", 5, &p, &err), CR_EINVAL);
    ck_assert_int_eq(cr_expr_parse(g2, "y = 1", 5, NULL, &err), CR_EINVAL);
    cr_graph_free(g2);
    cr_expr_free(NULL);
}
END_TEST

START_TEST(test_names)
{
    char text[600];
    memset(text, 'n', 256);
    strcpy(text + 256, " = 1");
    cr_graph *g = cr_graph_new();
    cr_expr_program *p;
    cr_error err;
    ck_assert_int_eq(cr_expr_parse(g, text, strlen(text), &p, &err), CR_ERANGE);
    ck_assert_str_eq(err.message, "name 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...' is too long "
                                  "(256 bytes; the limit is 255)");
    text[255] = ' ';
    ck_assert_int_eq(cr_expr_parse(g, text, strlen(text), &p, &err), CR_OK);
    cr_expr_free(p);
    cr_graph_free(g);
    cr_graph *g2;
    p = parse_ok("_a1 = B_2 * c3_", &g2);
    ck_assert_str_eq(cr_expr_input(p, 0)->name, "B_2");
    ck_assert_str_eq(cr_expr_input(p, 1)->name, "c3_");
    cr_expr_free(p);
    cr_graph_free(g2);
}
END_TEST

/* With the graph's non-finite trap on, evaluation stops at the node. */
START_TEST(test_eval_trap)
{
    cr_graph *g;
    cr_expr_program *p = parse_ok("a = x + 1; r = log(x)*2; z = r", &g);
    cr_graph_set_flags(g, CR_GRAPH_TRAP_NONFINITE);
    cr_error err;
    ck_assert_int_eq(cr_expr_set(p, "x", 0.0, NULL), CR_OK);
    ck_assert_int_eq(cr_expr_eval(p, &err), CR_EDOMAIN);
    ck_assert_ptr_nonnull(strstr(err.message, "(op log) produced -inf"));
    ck_assert_int_eq(cr_expr_set(p, "x", 2.0, NULL), CR_OK);
    ck_assert_int_eq(cr_expr_eval(p, &err), CR_OK);
    ck_assert_double_eq_tol(cr_node_scalar(cr_expr_output(p)->node), 2 * log(2.0), 1e-15);
    cr_expr_free(p);
    cr_graph_free(g);
}
END_TEST

/* After the first evaluation, new values and evaluations allocate nothing. */
START_TEST(test_eval_no_allocation)
{
    test_alloc_install(0);
    cr_graph *g;
    cr_expr_program *p = parse_ok(seed_text, &g);
    for (size_t i = 0; i < cr_expr_num_inputs(p); i++)
        ck_assert_int_eq(cr_expr_set(p, cr_expr_input(p, i)->name, 0.5, NULL), CR_OK);
    ck_assert_int_eq(cr_expr_eval(p, NULL), CR_OK);
    size_t before = test_alloc.allocations;
    for (int k = 0; k < 100; k++) {
        ck_assert_int_eq(cr_expr_set(p, "w1", 0.01 * k, NULL), CR_OK);
        ck_assert_int_eq(cr_expr_eval(p, NULL), CR_OK);
    }
    ck_assert_uint_eq(test_alloc.allocations, before);
    ck_assert_double_eq_tol(cr_node_scalar(cr_graph_find(g, "s")),
                            0.5 * 0.99 + 0.5 * 0.5 + 0.5, 1e-15);
    cr_expr_free(p);
    cr_graph_free(g);
    ck_assert_int_eq(test_alloc.live, 0);
    test_alloc_uninstall();
}
END_TEST

/* Failing the k-th allocation: the parse or the evaluation reports
 * CR_ENOMEM and nothing leaks. */
START_TEST(test_alloc_failures)
{
    for (size_t k = 1; k < 400; k++) {
        test_alloc_install(k);
        cr_graph *g = cr_graph_new();
        cr_expr_program *p = NULL;
        cr_error err;
        cr_status st =
            g ? cr_expr_parse(g, seed_text, strlen(seed_text), &p, &err) : CR_ENOMEM;
        if (st == CR_OK) {
            for (size_t i = 0; i < cr_expr_num_inputs(p); i++)
                cr_expr_set(p, cr_expr_input(p, i)->name, 0.5, NULL);
            st = cr_expr_eval(p, &err);
        }
        /* no allocation of parsing or evaluating is optional */
        ck_assert_msg(st == (test_alloc.failures ? CR_ENOMEM : CR_OK),
                      "k=%zu: status %d (%s)", k, st, err.message);
        cr_expr_free(p);
        cr_graph_free(g);
        long live = test_alloc.live;
        size_t failures = test_alloc.failures;
        test_alloc_uninstall();
        ck_assert_msg(live == 0, "k=%zu: %ld blocks leaked", k, live);
        if (failures == 0)
            break; /* every allocation succeeded: all paths covered */
    }
}
END_TEST

Suite *expr_suite(void)
{
    Suite *s = suite_create("expr");
    TCase *tc = tcase_create("expr");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_seed_program);
    tcase_add_test(tc, test_precedence);
    tcase_add_test(tc, test_comparisons_and_conditional);
    tcase_add_test(tc, test_numbers);
    tcase_add_test(tc, test_functions);
    tcase_add_test(tc, test_ops_chosen);
    tcase_add_test(tc, test_reductions);
    tcase_add_test(tc, test_layout);
    tcase_add_loop_test(tc, test_parse_errors, 0,
                        (int)(sizeof parse_errors / sizeof parse_errors[0]));
    tcase_add_test(tc, test_nesting);
    tcase_add_test(tc, test_long_inputs);
    tcase_add_test(tc, test_existing_nodes);
    tcase_add_test(tc, test_set_and_eval_errors);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_eval_trap);
    tcase_add_test(tc, test_eval_no_allocation);
    tcase_add_test(tc, test_alloc_failures);
    suite_add_tcase(s, tc);
    return s;
}
