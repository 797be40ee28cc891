/*
 * check_oplist.c - the op list (src/ops/oplist.h) and what is generated
 * from it: every function of the expression language is documented in
 * docs/expression-language.md, the man page and the fuzzer's dictionary;
 * every function that is an op carries the op's name; the table of
 * built-in ops has no duplicate names; and every op's local-derivative
 * text, the one chains and DOT print, evaluated through the expression
 * language, equals the op's vector-Jacobian product.
 */
#include "lang/lang_private.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A file of the source tree as a NUL-terminated string (free it). */
static char *source_file(const char *relative)
{
    char path[512];
    const char *top = getenv("top_srcdir");
    snprintf(path, sizeof path, "%s/%s", top ? top : ".", relative);
    size_t size;
    unsigned char *bytes = test_slurp(path, &size);
    char *text = realloc(bytes, size + 1);
    ck_assert_ptr_nonnull(text);
    text[size] = '\0';
    return text;
}

/* Whether word occurs in text as a whole word (not inside a longer name). */
static int has_word(const char *text, const char *word)
{
    const size_t len = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        const int before = p > text && (p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') ||
                                        (p[-1] >= '0' && p[-1] <= '9'));
        const char after = p[len];
        if (!before && after != '_' && !(after >= 'a' && after <= 'z') &&
            !(after >= '0' && after <= '9'))
            return 1;
    }
    return 0;
}

/* The names of cr_expr_functions(), one by one: calls check(name) for each. */
static size_t for_each_function(void (*check)(const char *name, void *ctx), void *ctx)
{
    const char *list = cr_expr_functions();
    size_t count = 0;
    while (*list) {
        size_t len = strcspn(list, ",");
        char name[64];
        ck_assert_uint_lt(len, sizeof name);
        memcpy(name, list, len);
        name[len] = '\0';
        check(name, ctx);
        count++;
        list += len;
        while (*list == ',' || *list == ' ')
            list++;
    }
    return count;
}

typedef struct docs {
    char *language, *man, *dict;
} docs;

static void check_documented(const char *name, void *ctx)
{
    const docs *d = ctx;
    char call[80];
    snprintf(call, sizeof call, "`%s(", name);
    ck_assert_msg(strstr(d->language, call) != NULL,
                  "docs/expression-language.md does not document %s()", name);
    ck_assert_msg(has_word(d->man, name), "docs/chainrule.1 does not name %s", name);
    snprintf(call, sizeof call, "\"%s(\"", name);
    ck_assert_msg(strstr(d->dict, call) != NULL, "fuzz/expr.dict lacks %s", call);
    /* the language really accepts it under that name */
    ck_assert_ptr_nonnull(cr_lang_function_find(name, strlen(name)));
}

START_TEST(functions_documented)
{
    docs d = {source_file("docs/expression-language.md"), source_file("docs/chainrule.1"),
              source_file("fuzz/expr.dict")};
    size_t n = for_each_function(check_documented, &d);
    ck_assert_uint_ge(n, 12);
    free(d.language);
    free(d.man);
    free(d.dict);
}
END_TEST

/* The check itself can fail: a name that is nowhere. */
START_TEST(missing_function_detected)
{
    char *man = source_file("docs/chainrule.1");
    ck_assert(has_word(man, "sigmoid"));
    ck_assert(!has_word(man, "sigmoidal_no_such_function"));
    ck_assert(!has_word("softplus_x", "softplus"));
    free(man);
}
END_TEST

static void check_function_op(const char *name, void *ctx)
{
    CR_UNUSED(ctx);
    const cr_lang_function *f = cr_lang_function_find(name, strlen(name));
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(f->build);
    ck_assert_int_ge(f->min_args, 0);
    ck_assert_int_le(f->min_args, f->max_args);
    if (f->op) {
        ck_assert_str_eq(f->op->name, name);
        ck_assert_ptr_eq(cr_op_find(name), f->op);
    }
}

START_TEST(functions_are_their_ops)
{
    for_each_function(check_function_op, NULL);
    for (size_t i = 0; i < cr_builtin_op_count; i++)
        for (size_t j = i + 1; j < cr_builtin_op_count; j++)
            ck_assert_msg(strcmp(cr_builtin_ops[i]->name, cr_builtin_ops[j]->name) != 0,
                          "op '%s' is listed twice", cr_builtin_ops[i]->name);
}
END_TEST

/* ---- derivative texts against vector-Jacobian products ---- */

/* Values drawn for scalar inputs: away from the kinks at 0 and 1, both
 * signs, inside (0, 1) for probabilities. */
static const double points[][3] = {
    {0.35, 0.8, 0.6},  {0.7, 0.25, 0.45},   {-0.6, 1.7, 0.3},
    {1.3, -0.45, 0.9}, {-1.25, -0.3, 0.15}, {2.1, 0.55, -0.7},
};

/* Ops that need more than scalar inputs and a constant to be built here,
 * built from the scalars in[] (NULL: the generic node). */
static cr_node *build_special(cr_graph *g, const cr_op *op, cr_node **in)
{
    if (strcmp(op->name, "clamp") == 0)
        return cr_clamp(g, in[0], -0.5, 1.0);
    if (strcmp(op->name, "leaky_relu") == 0)
        return cr_leaky_relu(g, in[0], 0.2);
    if (strcmp(op->name, "elu") == 0)
        return cr_elu(g, in[0], 1.3);
    if (strcmp(op->name, "sum") == 0)
        return cr_sum(g, in[0]);
    if (strcmp(op->name, "mean") == 0)
        return cr_mean(g, in[0]);
    if (strcmp(op->name, "max") == 0)
        return cr_max(g, in[0]);
    if (strcmp(op->name, "min") == 0)
        return cr_min(g, in[0]);
    if (strcmp(op->name, "logsumexp") == 0)
        return cr_logsumexp(g, in[0]);
    if (strcmp(op->name, "argmax") == 0)
        return cr_argmax(g, in[0]);
    if (strcmp(op->name, "sop") == 0) /* s = x w */
        return cr_sop(g, 1, &in[0], &in[1], NULL);
    if (strcmp(op->name, "select_mask") == 0) { /* a one-element slice [1,1,1] */
        const cr_node_args view = {.i = {1, 1, 1}};
        return cr_node_create_shaped(g, op, in, 2, &view, 0, NULL);
    }
    if (strcmp(op->name, "expand") == 0) /* x repeated once along a new axis */
        return cr_expand_axis(g, in[0], 0, 1, 1, (const size_t[]){1});
    return NULL;
}

/* The value of text (a formula of the language in the names u0, u1, u2 of
 * the inputs, out of the output and n, the number of elements reduced) at
 * the given values; NaN if it does not evaluate. */
static double eval_text(const char *text, const double *in, size_t n_in, double out,
                        double n, const char *what)
{
    cr_graph *g = cr_graph_new();
    char program[600];
    snprintf(program, sizeof program, "d = %s", text);
    cr_expr_program *p;
    cr_error err;
    cr_status st = cr_expr_parse(g, program, strlen(program), &p, &err);
    ck_assert_msg(st == CR_OK, "%s: the derivative text '%s' does not parse: %s", what,
                  text, err.message);
    const char *names[] = {"u0", "u1", "u2"};
    for (size_t i = 0; i < n_in; i++)
        if (cr_expr_lookup(p, names[i]))
            ck_assert_int_eq(cr_expr_set(p, names[i], in[i], NULL), CR_OK);
    if (cr_expr_lookup(p, "out"))
        ck_assert_int_eq(cr_expr_set(p, "out", out, NULL), CR_OK);
    if (cr_expr_lookup(p, "n"))
        ck_assert_int_eq(cr_expr_set(p, "n", n, NULL), CR_OK);
    for (size_t i = 0; i < cr_expr_num_inputs(p); i++)
        ck_assert_msg(cr_expr_input(p, i)->has_value,
                      "%s: the derivative text '%s' names '%s', which is no role", what,
                      text, cr_expr_input(p, i)->name);
    double v =
        cr_expr_eval(p, NULL) == CR_OK ? cr_node_scalar(cr_expr_output(p)->node) : NAN;
    cr_expr_free(p);
    cr_graph_free(g);
    return v;
}

/* Whether the point is in the domain where op's text holds: ops of a
 * probability clamp it into (0, 1) and have a constant piece outside. */
static int in_domain(const cr_op *op, const double *point)
{
    if (strcmp(op->name, "bce") == 0 || strcmp(op->name, "clamp_prob") == 0)
        return point[0] > 0 && point[0] < 1;
    return 1;
}

/* Builds the node of op from the scalar inputs in[] (ctx: the builder's
 * own data). */
typedef cr_node *(*op_builder)(cr_graph *g, const cr_op *op, cr_node **in, void *ctx);

/* The builder of the built-in ops: build_special, or the op's own shape
 * rule with the constant c = 0.7. */
static cr_node *build_builtin(cr_graph *g, const cr_op *op, cr_node **in, void *ctx)
{
    CR_UNUSED(ctx);
    cr_node *y = build_special(g, op, in);
    if (y)
        return y;
    ck_assert_msg(op->shape != NULL,
                  "op %s has a derivative text and no shape rule: add it to build_special",
                  op->name);
    cr_node_args args = {.f = 0.7};
    return cr_node_create(g, op, in, (size_t)op->min_inputs, &args);
}

/* Compares op's printed derivative text for each input with its vjp at the
 * points of its domain where both are finite. Returns how many (point,
 * input) pairs agreed, or -1 with the first disagreement described in why. */
static int check_deriv_text(const cr_op *op, op_builder build, void *ctx, char *why,
                            size_t why_size)
{
    int compared = 0;
    const int n_in = op->min_inputs;
    for (size_t k = 0; k < sizeof points / sizeof points[0]; k++) {
        if (!in_domain(op, points[k]))
            continue;
        cr_graph *g = cr_graph_new();
        cr_node *in[3];
        const char *names[] = {"u0", "u1", "u2"};
        for (int i = 0; i < n_in; i++) {
            in[i] = cr_param_scalar(g, names[i], points[k][i]);
            ck_assert_ptr_nonnull(in[i]);
        }
        cr_node *y = build(g, op, in, ctx);
        ck_assert_msg(y != NULL,
                      "op %s has a derivative text but cannot be built from scalars here "
                      "(add it to build_special): %s",
                      op->name, cr_graph_error(g)->message);
        ck_assert_str_eq(cr_node_op_name(y), op->name);
        if (cr_tensor_size(cr_node_value(y)) != 1 || !isfinite(cr_node_scalar(y))) {
            cr_graph_free(g);
            continue;
        }
        ck_assert_int_eq(cr_node_set_name(y, "out"), CR_OK);
        for (int i = 0; i < n_in; i++) {
            char text[512], what[96];
            int len = cr_chain_local_text(y, (size_t)i, text, sizeof text);
            ck_assert_msg(len > 0 && (size_t)len < sizeof text,
                          "op %s has no derivative text for input %d", op->name, i + 1);
            cr_node *d = cr_grad(g, y, in[i]);
            ck_assert_ptr_nonnull(d);
            const double vjp = cr_node_scalar(d);
            if (!isfinite(vjp))
                continue;
            double vals[3];
            for (int j = 0; j < n_in; j++)
                vals[j] = cr_node_scalar(in[j]);
            snprintf(what, sizeof what, "op %s, input %d, at point %zu", op->name, i + 1,
                     k);
            const double t =
                eval_text(text, vals, (size_t)n_in, cr_node_scalar(y), 1.0, what);
            if (!(fabs(t - vjp) <= 1e-12 * (1 + fabs(vjp)))) {
                snprintf(why, why_size,
                         "%s: the derivative text '%s' gives %.17g, the vjp %.17g", what,
                         text, t, vjp);
                cr_graph_free(g);
                return -1;
            }
            compared++;
        }
        cr_graph_free(g);
    }
    return compared;
}

/* Every op with a derivative text (deriv or deriv_text), checked at
 * several points; an op without one must describe its Jacobian. */
START_TEST(deriv_texts_match_vjps)
{
    size_t checked = 0;
    for (size_t i = 0; i < cr_builtin_op_count; i++) {
        const cr_op *op = cr_builtin_ops[i];
        /* (the fused backward helpers excepted: they only appear in
         * gradient graphs) */
        ck_assert_msg(!(op->flags & CR_OP_ELEMENTWISE) || (op->flags & CR_OP_BACKWARD) ||
                          op->deriv[0] || op->deriv_text,
                      "op %s is elementwise but has no derivative formula", op->name);
        if (!op->deriv[0] && !op->deriv_text) {
            ck_assert_msg(op->jacobian || op->jacobian_of,
                          "op %s has neither a derivative text nor a Jacobian description",
                          op->name);
            continue;
        }
        ck_assert_msg(op->min_inputs >= 1 && op->min_inputs <= 3,
                      "op %s: %d inputs; teach this test its arity", op->name,
                      op->min_inputs);
        char why[700] = "";
        const int compared = check_deriv_text(op, build_builtin, NULL, why, sizeof why);
        ck_assert_msg(compared >= 0, "%s", why);
        ck_assert_msg(compared >= 2,
                      "op %s: its derivative text was compared at fewer than 2 points",
                      op->name);
        checked++;
    }
    ck_assert_uint_ge(checked, 30);
}
END_TEST

/* ---- custom ops that give a derivative text ---- */

static double sigmoid_of(double v) { return 1.0 / (1.0 + exp(-v)); }

/* swish(x) = x sigmoid(x), with its right derivative in the vjp. */
static void swish_forward(size_t n, const cr_tensor *const *in, cr_tensor *out, void *user)
{
    CR_UNUSED(n);
    CR_UNUSED(user);
    const double *x = cr_tensor_data(in[0]);
    double *y = cr_tensor_data_mut(out);
    for (size_t i = 0; i < cr_tensor_size(out); i++)
        y[i] = x[i] * sigmoid_of(x[i]);
}
static void swish_vjp(size_t n, const cr_tensor *const *in, const cr_tensor *out,
                      const cr_tensor *dy, size_t which, cr_tensor *dx, void *user)
{
    CR_UNUSED(n);
    CR_UNUSED(out);
    CR_UNUSED(which);
    CR_UNUSED(user);
    const double *x = cr_tensor_data(in[0]), *up = cr_tensor_data(dy);
    double *g = cr_tensor_data_mut(dx);
    for (size_t i = 0; i < cr_tensor_size(dx); i++) {
        const double s = sigmoid_of(x[i]);
        g[i] = up[i] * s * (1.0 + x[i] * (1.0 - s));
    }
}

static cr_node *build_custom(cr_graph *g, const cr_op *op, cr_node **in, void *ctx)
{
    CR_UNUSED(op);
    return cr_custom(g, ctx, in, 1);
}

/* A custom op's text is checked the same way: the right one agrees with its
 * vjp, and the product rule forgotten ("sigmoid(x)") is caught. */
START_TEST(custom_deriv_texts_checked)
{
    cr_custom_op_def def = {.name = "swish_text",
                            .min_inputs = 1,
                            .max_inputs = 1,
                            .deriv = {"sigmoid(x)*(1 + x*(1-sigmoid(x)))", NULL},
                            .forward = swish_forward,
                            .vjp = swish_vjp};
    const char *texts[2] = {"sigmoid(x)*(1 + x*(1-sigmoid(x)))", "sigmoid(x)"};
    for (int k = 0; k < 2; k++) {
        def.deriv[0] = texts[k];
        cr_error err;
        cr_custom_op *op = cr_custom_op_new(&def, &err);
        ck_assert_msg(op != NULL, "%s", err.message);
        cr_graph *g = cr_graph_new();
        cr_node *x = cr_scalar(g, 0.5);
        cr_node *y = cr_custom(g, op, &x, 1);
        const cr_op *desc = y->op;
        /* no Jacobian text given: "diagonal" only when it says elementwise */
        ck_assert_ptr_null(cr_op_jacobian(y, 0));
        cr_graph_free(g);
        char why[700] = "";
        const int compared = check_deriv_text(desc, build_custom, op, why, sizeof why);
        if (k == 0) {
            ck_assert_msg(compared >= 5, "%s", why);
        } else {
            ck_assert_int_eq(compared, -1);
            ck_assert(strstr(why, "op swish_text, input 1, at point 0: the derivative text "
                                  "'sigmoid(u0)' gives ") == why);
        }
        cr_custom_op_free(op);
    }
    def.flags = CR_CUSTOM_ELEMENTWISE;
    cr_custom_op *op = cr_custom_op_new(&def, NULL);
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_scalar(g, 0.5);
    ck_assert_str_eq(cr_op_jacobian(cr_custom(g, op, &x, 1), 0), "diagonal");
    cr_graph_free(g);
    cr_custom_op_free(op);
}
END_TEST

Suite *oplist_suite(void)
{
    Suite *s = suite_create("oplist");
    TCase *tc = tcase_create("oplist");
    tcase_add_test(tc, functions_documented);
    tcase_add_test(tc, missing_function_detected);
    tcase_add_test(tc, functions_are_their_ops);
    tcase_add_test(tc, deriv_texts_match_vjps);
    tcase_add_test(tc, custom_deriv_texts_checked);
    suite_add_tcase(s, tc);
    return s;
}
