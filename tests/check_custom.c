/*
 * check_custom.c - tests of custom ops (chainrule/custom.h): swish with its
 * hand-derived VJP in forward, reverse mode and the numerical check; a
 * wrong VJP caught and its op named; second derivatives (refused for a
 * numeric VJP, working with a graph-building one); a shape rule; a kink
 * flag; an op without derivative; definition errors; the descriptor
 * fields, and the op in derivative chains and DOT output; attributes: one
 * op applied at two settings in one graph (numeric and graph-building
 * VJPs, second order), their errors and allocation failures.
 */
#include "testutil.h"

#include "core/internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

/* Reads back what was written to the temporary file f, and closes it. */
static void take_text(FILE *f, char *text, size_t size)
{
    rewind(f);
    text[fread(text, 1, size - 1, f)] = '\0';
    fclose(f);
}

static void swish_forward(size_t n, const cr_tensor *const *in, cr_tensor *out, void *user)
{
    const double *x = cr_tensor_data(in[0]);
    double *y = cr_tensor_data_mut(out);
    for (size_t i = 0; i < cr_tensor_size(out); i++)
        y[i] = x[i] * sigmoid(x[i]);
}

/* dx = dy * sigmoid(x) * (1 + x (1 - sigmoid(x))), or, when user points
 * at a nonzero int, the wrong dy * sigmoid(x). */
static void swish_vjp(size_t n, const cr_tensor *const *in, const cr_tensor *out,
                      const cr_tensor *dy, size_t which, cr_tensor *dx, void *user)
{
    const int wrong = user ? *(const int *)user : 0;
    const double *x = cr_tensor_data(in[0]), *up = cr_tensor_data(dy);
    double *d = cr_tensor_data_mut(dx);
    for (size_t i = 0; i < cr_tensor_size(dx); i++) {
        const double s = sigmoid(x[i]);
        d[i] = up[i] * (wrong ? s : s * (1.0 + x[i] * (1.0 - s)));
    }
}

/* The same derivative built from ops: dy * (s + y (1 - s)), s = sigmoid(x). */
static cr_status swish_graph_vjp(cr_graph *g, cr_node *const *in, size_t n, cr_node *out,
                                 cr_node *dy, size_t which, cr_node **dx, void *user)
{
    cr_node *s = cr_sigmoid(g, in[0]);
    cr_node *local = cr_add(g, s, cr_mul(g, out, cr_sub(g, cr_scalar(g, 1.0), s)));
    *dx = cr_mul(g, dy, local);
    return *dx ? CR_OK : cr_graph_error(g)->status;
}

static cr_custom_op_def swish_def(void)
{
    return (cr_custom_op_def){.name = "swish",
                              .min_inputs = 1,
                              .max_inputs = 1,
                              .flags = CR_CUSTOM_ELEMENTWISE,
                              .formula = "y = x*sigmoid(x)",
                              .deriv = {"sigmoid(x)*(1 + x*(1-sigmoid(x)))", NULL},
                              .jacobian = "diagonal",
                              .forward = swish_forward,
                              .vjp = swish_vjp};
}

static cr_node *vec_param(cr_graph *g, const char *name, size_t len, const double *v)
{
    cr_error err;
    cr_tensor *t = cr_tensor_new_from(1, &len, v, &err);
    cr_node *p = cr_param(g, name, t);
    cr_tensor_free(t);
    ck_assert_ptr_nonnull(p);
    return p;
}

static const double W[4] = {0.37, -1.21, 2.05, -0.08};

START_TEST(test_swish_forward_backward_check)
{
    cr_custom_op_def def = swish_def();
    cr_error err;
    cr_custom_op *op = cr_custom_op_new(&def, &err);
    ck_assert_ptr_nonnull(op);
    ck_assert_str_eq(cr_custom_op_name(op), "swish");
    cr_graph *g = cr_graph_new();
    cr_node *w = vec_param(g, "w", 4, W);
    cr_node *y = cr_custom(g, op, &w, 1);
    ck_assert_ptr_nonnull(y);
    ck_assert_str_eq(cr_node_op_name(y), "swish");
    for (size_t i = 0; i < 4; i++)
        ck_assert_double_eq_tol(cr_tensor_get(cr_node_value(y), i), W[i] * sigmoid(W[i]),
                                1e-15);
    cr_node *E = cr_sum(g, cr_mul(g, y, y));
    ck_assert_int_eq(cr_graph_backward(g, E, 0), CR_OK);
    for (size_t i = 0; i < 4; i++) {
        const double s = sigmoid(W[i]), yi = W[i] * s;
        ck_assert_double_eq_tol(cr_tensor_get(cr_node_grad(w), i),
                                2 * yi * s * (1 + W[i] * (1 - s)), 1e-14);
    }
    /* the gradient goes through a node of the generated vjp op */
    int found = 0;
    for (size_t id = 0; id < cr_graph_size(g); id++)
        found += strcmp(cr_node_op_name(cr_graph_node(g, id)), "swish_vjp") == 0;
    ck_assert_int_eq(found, 1);
    /* a second backward re-evaluates the same nodes with new values */
    size_t size = cr_graph_size(g);
    cr_node_set_data(w, (const double[]){1.0, 2.0, 3.0, 4.0}, 4);
    cr_graph_forward(g, E);
    ck_assert_int_eq(cr_graph_backward(g, E, 0), CR_OK);
    ck_assert_uint_eq(cr_graph_size(g), size);
    const double s1 = sigmoid(1.0);
    ck_assert_double_eq_tol(cr_tensor_get(cr_node_grad(w), 0), 2 * s1 * s1 * (1 + 1 - s1),
                            1e-14);
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(cr_gradcheck(g, E, &w, 1, NULL, &r), CR_OK);
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_PASS), 4);
    cr_gradcheck_report_free(r);
    cr_graph_free(g);
    cr_custom_op_free(op);
}
END_TEST

START_TEST(test_wrong_vjp_named)
{
    cr_custom_op_def def = swish_def();
    int wrong = 1;
    def.name = "swish_bad";
    def.user = &wrong;
    cr_error err;
    cr_custom_op *op = cr_custom_op_new(&def, &err);
    cr_graph *g = cr_graph_new();
    cr_node *w = vec_param(g, "w", 4, W);
    cr_node *h = cr_tanh(g, w);
    cr_node *y = cr_custom(g, op, &h, 1);
    cr_node_set_name(y, "act");
    cr_node *E = cr_sum(g, cr_mul(g, y, cr_sin(g, w)));
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(cr_gradcheck(g, E, &w, 1, NULL, &r), CR_ECHECK);
    ck_assert_uint_ge(cr_gradcheck_report_count(r, CR_CHECK_FAIL), 3);
    /* the suspect is the custom op's node, not tanh, sin, mul or sum */
    ck_assert_uint_eq(cr_gradcheck_report_num_suspects(r), 1);
    const cr_gradcheck_suspect *s = cr_gradcheck_report_suspect(r, 0);
    ck_assert_ptr_eq(s->node, y);
    ck_assert_uint_eq(s->input, 0);
    ck_assert_ptr_null(cr_gradcheck_report_suspect(r, 1));
    FILE *f = tmpfile();
    cr_gradcheck_report_print(r, f);
    char text[8192];
    take_text(f, text, sizeof text);
    ck_assert_ptr_nonnull(strstr(text, "  suspect: act (op swish_bad), input 0: its "
                                       "vector-Jacobian product gives "));
    ck_assert_ptr_nonnull(strstr(text, "FAIL: differ by"));
    cr_gradcheck_report_free(r);
    cr_graph_free(g);
    cr_custom_op_free(op);
}
END_TEST

START_TEST(test_second_order)
{
    cr_custom_op_def def = swish_def();
    cr_error err;
    cr_custom_op *numeric = cr_custom_op_new(&def, &err);
    def.name = "swish_g";
    def.vjp = NULL;
    def.graph_vjp = swish_graph_vjp;
    cr_custom_op *graphed = cr_custom_op_new(&def, &err);
    ck_assert_ptr_nonnull(graphed);
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_param_scalar(g, "x", 0.83);
    /* numeric VJP: the first derivative works, the second is refused */
    cr_node *y = cr_custom(g, numeric, &x, 1);
    cr_node *dy = cr_grad(g, y, x);
    ck_assert_ptr_nonnull(dy);
    const double s = sigmoid(0.83);
    ck_assert_double_eq_tol(cr_node_scalar(dy), s * (1 + 0.83 * (1 - s)), 1e-15);
    size_t size = cr_graph_size(g);
    ck_assert_ptr_null(cr_grad(g, dy, x));
    ck_assert_int_eq(cr_graph_error(g)->status, CR_ENOTSUP);
    ck_assert_str_eq(
        cr_graph_error(g)->message,
        "swish_vjp: the hand-written VJP of custom op 'swish' is a numeric kernel "
        "with no derivative; give the op a graph_vjp for second derivatives");
    ck_assert_uint_eq(cr_graph_size(g), size); /* the failed build left nothing */
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(cr_gradcheck(g, dy, &x, 1, NULL, &r), CR_ENOTSUP);
    ck_assert_ptr_null(r);
    /* graph VJP: second derivatives verify */
    cr_node *y2 = cr_custom(g, graphed, &x, 1);
    cr_node *dy2 = cr_grad(g, y2, x);
    ck_assert_double_eq_tol(cr_node_scalar(dy2), cr_node_scalar(dy), 1e-15);
    ck_assert_int_eq(cr_gradcheck(g, dy2, &x, 1, NULL, &r), CR_OK);
    /* swish'' = s (1-s) (2 + x (1 - 2 s)) */
    ck_assert_double_eq_tol(cr_gradcheck_report_entry(r, 0)->analytic,
                            s * (1 - s) * (2 + 0.83 * (1 - 2 * s)), 1e-14);
    cr_gradcheck_report_free(r);
    cr_graph_free(g);
    cr_custom_op_free(numeric);
    cr_custom_op_free(graphed);
}
END_TEST

/* outer(a, b)[i][j] = a[i] b[j], with a shape rule */
static cr_status outer_shape(size_t n, const cr_tensor *const *in, int *rank,
                             size_t shape[CR_MAX_RANK], cr_error *err, void *user)
{
    if (cr_tensor_rank(in[0]) != 1 || cr_tensor_rank(in[1]) != 1) {
        snprintf(err->message, sizeof err->message, "needs two vectors");
        return CR_ESHAPE;
    }
    *rank = 2;
    shape[0] = cr_tensor_dim(in[0], 0);
    shape[1] = cr_tensor_dim(in[1], 0);
    return CR_OK;
}

static void outer_forward(size_t n, const cr_tensor *const *in, cr_tensor *out, void *user)
{
    const size_t m = cr_tensor_size(in[0]), k = cr_tensor_size(in[1]);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < k; j++)
            cr_tensor_data_mut(out)[i * k + j] =
                cr_tensor_data(in[0])[i] * cr_tensor_data(in[1])[j];
}

static void outer_vjp(size_t n, const cr_tensor *const *in, const cr_tensor *out,
                      const cr_tensor *dy, size_t which, cr_tensor *dx, void *user)
{
    const size_t m = cr_tensor_size(in[0]), k = cr_tensor_size(in[1]);
    const double *up = cr_tensor_data(dy), *other = cr_tensor_data(in[1 - which]);
    double *d = cr_tensor_data_mut(dx);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < k; j++)
            d[which == 0 ? i : j] += up[i * k + j] * other[which == 0 ? j : i];
}

START_TEST(test_shape_rule)
{
    cr_custom_op_def def = {.name = "outer",
                            .min_inputs = 2,
                            .max_inputs = 2,
                            .formula = "Y = a b^T",
                            .deriv = {"b", "a"},
                            .shape = outer_shape,
                            .forward = outer_forward,
                            .vjp = outer_vjp};
    cr_error err;
    cr_custom_op *op = cr_custom_op_new(&def, &err);
    cr_graph *g = cr_graph_new();
    cr_node *in[2] = {vec_param(g, "a", 3, W), vec_param(g, "b", 2, W + 1)};
    cr_node *Y = cr_custom(g, op, in, 2);
    ck_assert_ptr_nonnull(Y);
    ck_assert_int_eq(cr_tensor_rank(cr_node_value(Y)), 2);
    ck_assert_uint_eq(cr_tensor_dim(cr_node_value(Y), 0), 3);
    ck_assert_uint_eq(cr_tensor_dim(cr_node_value(Y), 1), 2);
    ck_assert_double_eq_tol(cr_tensor_get(cr_node_value(Y), 5), W[2] * W[2], 1e-15);
    cr_node *E = cr_sum(g, cr_sin(g, Y));
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(cr_gradcheck(g, E, in, 2, NULL, &r), CR_OK);
    ck_assert_uint_eq(cr_gradcheck_report_count(r, CR_CHECK_PASS), 5);
    cr_gradcheck_report_free(r);
    /* the rule's rejection, with its message */
    size_t size = cr_graph_size(g);
    cr_node *bad[2] = {Y, in[0]};
    ck_assert_ptr_null(cr_custom(g, op, bad, 2));
    ck_assert_int_eq(cr_graph_error(g)->status, CR_ESHAPE);
    ck_assert_str_eq(cr_graph_error(g)->message, "outer: needs two vectors");
    ck_assert_uint_eq(cr_graph_size(g), size);
    /* arity */
    ck_assert_ptr_null(cr_custom(g, op, in, 1));
    ck_assert_str_eq(cr_graph_error(g)->message, "outer: takes 2 to 2 inputs, not 1");
    ck_assert_ptr_null(cr_custom(g, NULL, in, 1));
    ck_assert_str_eq(cr_graph_error(g)->message, "custom op: op is NULL");
    cr_graph_free(g);
    cr_custom_op_free(op);
}
END_TEST

/* default shape rule: every input like input 0 */
START_TEST(test_default_shape_rule)
{
    cr_custom_op_def def = swish_def();
    def.max_inputs = 2;
    cr_error err;
    cr_custom_op *op = cr_custom_op_new(&def, &err);
    cr_graph *g = cr_graph_new();
    cr_node *in[2] = {vec_param(g, "a", 3, W), vec_param(g, "b", 2, W)};
    ck_assert_ptr_null(cr_custom(g, op, in, 2));
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "swish: input 2 is [2] but input 1 is [3]");
    cr_graph_free(g);
    cr_custom_op_free(op);
}
END_TEST

static void hinge_forward(size_t n, const cr_tensor *const *in, cr_tensor *out, void *user)
{
    const double v = cr_tensor_scalar(in[0]);
    cr_tensor_data_mut(out)[0] = v > 0 ? v : 0.0;
}

static void hinge_vjp(size_t n, const cr_tensor *const *in, const cr_tensor *out,
                      const cr_tensor *dy, size_t which, cr_tensor *dx, void *user)
{
    cr_tensor_data_mut(dx)[0] = cr_tensor_scalar(in[0]) > 0 ? cr_tensor_scalar(dy) : 0.0;
}

START_TEST(test_kink_flag)
{
    cr_custom_op_def def = {.name = "hinge",
                            .min_inputs = 1,
                            .max_inputs = 1,
                            .flags = CR_CUSTOM_KINK | CR_CUSTOM_ELEMENTWISE,
                            .forward = hinge_forward,
                            .vjp = hinge_vjp};
    cr_error err;
    cr_custom_op *op = cr_custom_op_new(&def, &err);
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_param_scalar(g, "x", 0.0);
    cr_node *y = cr_custom(g, op, &x, 1);
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(cr_gradcheck(g, cr_exp(g, y), &x, 1, NULL, &r), CR_OK);
    /* exp(hinge(x)) at x = 0: one-sided derivatives 0 and about 1; the
     * custom vjp's value there is judged against them, not skipped */
    char want[64];
    snprintf(want, sizeof want,
             "at a kink of hinge#%zu: its input is 0; one-sided 0 and 1.",
             cr_node_index(y));
    const cr_gradcheck_entry *e = cr_gradcheck_report_entry(r, 0);
    ck_assert_int_eq(e->result, CR_CHECK_PASS);
    ck_assert_msg(strncmp(e->reason, want, strlen(want)) == 0, "%s", e->reason);
    cr_gradcheck_report_free(r);
    cr_graph_free(g);
    cr_custom_op_free(op);
}
END_TEST

START_TEST(test_no_derivative)
{
    cr_custom_op_def def = swish_def();
    def.vjp = NULL;
    cr_error err;
    cr_custom_op *op = cr_custom_op_new(&def, &err);
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_param_scalar(g, "x", 0.5);
    cr_node *y = cr_custom(g, op, &x, 1);
    ck_assert_double_eq_tol(cr_node_scalar(y), 0.5 * sigmoid(0.5), 1e-15);
    ck_assert_int_eq(cr_graph_backward(g, y, 0), CR_ENOTSUP);
    ck_assert_str_eq(cr_graph_error(g)->message, "swish: this op has no derivative");
    cr_graph_free(g);
    cr_custom_op_free(op);
}
END_TEST

START_TEST(test_definition_errors)
{
    cr_error err;
    cr_custom_op_def def = swish_def();
    ck_assert_ptr_null(cr_custom_op_new(NULL, &err));
    ck_assert_int_eq(err.status, CR_EINVAL);
    ck_assert_str_eq(err.message, "the definition is NULL");
    def.forward = NULL;
    ck_assert_ptr_null(cr_custom_op_new(&def, &err));
    ck_assert_str_eq(err.message, "the forward kernel is NULL");
    def = swish_def();
    def.name = "";
    ck_assert_ptr_null(cr_custom_op_new(&def, &err));
    ck_assert_int_eq(err.status, CR_ENAME);
    ck_assert_str_eq(err.message, "'' cannot name a custom op: it is empty");
    def.name = "relu";
    ck_assert_ptr_null(cr_custom_op_new(&def, &err));
    ck_assert_str_eq(err.message, "'relu' cannot name a custom op: a built-in op has it");
    def = swish_def();
    def.min_inputs = 0;
    ck_assert_ptr_null(cr_custom_op_new(&def, &err));
    ck_assert_int_eq(err.status, CR_EINVAL);
    ck_assert_str_eq(err.message, "swish: arity 0..1 is not within 1..8");
    def = swish_def();
    def.max_inputs = 9;
    ck_assert_ptr_null(cr_custom_op_new(&def, &err));
    def = swish_def();
    def.flags = 1u << 7;
    ck_assert_ptr_null(cr_custom_op_new(&def, &err));
    ck_assert_str_eq(err.message, "swish: unknown flags 0x80");
    ck_assert_ptr_null(cr_custom_op_new(NULL, NULL)); /* err may be NULL */
    cr_custom_op_free(NULL);
    ck_assert_ptr_null(cr_custom_op_name(NULL));
}
END_TEST

/* The generated descriptors carry what the chain view and DOT read. */
START_TEST(test_descriptor_fields)
{
    cr_custom_op_def def = swish_def();
    cr_error err;
    char name[16];
    strcpy(name, "swish");
    def.name = name;
    cr_custom_op *op = cr_custom_op_new(&def, &err);
    strcpy(name, "xxxxx"); /* the definition's strings were copied */
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_param_scalar(g, "x", 0.5);
    cr_node *y = cr_custom(g, op, &x, 1);
    const cr_op *o = y->op;
    ck_assert_str_eq(o->name, "swish");
    ck_assert_str_eq(o->formula, "y = x*sigmoid(x)");
    ck_assert_str_eq(o->deriv[0], "sigmoid(x)*(1 + x*(1-sigmoid(x)))");
    ck_assert_ptr_null(o->deriv[1]);
    ck_assert_str_eq(o->jacobian, "diagonal");
    ck_assert_uint_eq(o->flags, CR_OP_ELEMENTWISE);
    cr_node *dy = cr_grad(g, y, x);
    ck_assert_str_eq(dy->op->name, "swish_vjp");
    ck_assert_str_eq(dy->op->formula, "hand-written VJP of swish");
    ck_assert_uint_eq(dy->op->flags, CR_OP_BACKWARD);
    cr_graph_free(g);
    cr_custom_op_free(op);
}
END_TEST

START_TEST(test_allocation_failures)
{
    for (size_t k = 1;; k++) {
        test_alloc_install(k);
        cr_error err;
        cr_custom_op_def def = swish_def();
        cr_custom_op *op = cr_custom_op_new(&def, &err);
        cr_graph *g = op ? cr_graph_new() : NULL;
        cr_node *x = cr_param_scalar(g, "x", 0.5);
        cr_node *dy = cr_grad(g, cr_custom(g, op, &x, 1), x);
        if (op && g && dy)
            ck_assert_double_eq_tol(cr_node_scalar(dy),
                                    sigmoid(0.5) * (1 + 0.5 * (1 - sigmoid(0.5))), 1e-15);
        else if (!op)
            ck_assert_int_eq(err.status, CR_ENOMEM);
        cr_graph_free(g);
        cr_custom_op_free(op);
        size_t failures = test_alloc.failures;
        ck_assert_int_eq(test_alloc.live, 0);
        test_alloc_uninstall();
        if (failures == 0)
            break;
    }
}
END_TEST

/* Chains and DOT read a custom op like a built-in one. */
START_TEST(test_chain_and_dot)
{
    cr_custom_op_def def = swish_def();
    cr_error err;
    cr_custom_op *op = cr_custom_op_new(&def, &err);
    cr_graph *g = cr_graph_new();
    cr_node *u = cr_param_scalar(g, "u", 0.6);
    cr_node *act = cr_custom(g, op, &u, 1);
    cr_node_set_name(act, "act");
    cr_node *E = cr_mul(g, act, act);
    cr_node_set_name(E, "E");
    char text[512];
    ck_assert_int_gt(cr_chain_local_text(act, 0, text, sizeof text), 0);
    ck_assert_str_eq(text, "sigmoid(u)*(1 + u*(1-sigmoid(u)))");
    double local = 0.0;
    ck_assert_int_eq(cr_chain_local_value(act, 0, &local), CR_OK);
    const double s = sigmoid(0.6);
    ck_assert_double_eq_tol(local, s * (1 + 0.6 * (1 - s)), 1e-15);
    cr_chain *c = cr_chain_new(g, E, u, NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_double_eq_tol(cr_chain_value(c), 2 * 0.6 * s * local, 1e-14);
    ck_assert_int_gt(cr_chain_format(c, 0, text, sizeof text), 0);
    ck_assert_ptr_nonnull(strstr(text, "dE/du = dE/dact * dact/du + dE/dact * dact/du = "));
    cr_chain_free(c);
    FILE *f = tmpfile();
    cr_dot_options o;
    cr_dot_options_init(&o);
    o.loss = E;
    ck_assert_int_eq(cr_dot_write(g, f, &o), CR_OK);
    char dot[8192];
    take_text(f, dot, sizeof dot);
    ck_assert_ptr_nonnull(strstr(dot, "swish"));
    ck_assert_ptr_nonnull(strstr(dot, "sigmoid(u)*(1 + u*(1-sigmoid(u)))"));
    cr_graph_free(g);
    cr_custom_op_free(op);
}
END_TEST

/* ---- attributes: one op, several settings ---- */

/* A moving sum: y[j] = x[j*stride] + ... + x[j*stride + size - 1]. */
typedef struct window_attr {
    size_t size, stride;
} window_attr;

static cr_status window_shape(size_t n, const cr_tensor *const *in, const void *attr,
                              int *rank, size_t shape[CR_MAX_RANK], cr_error *err,
                              void *user)
{
    const window_attr *w = attr;
    const size_t len = cr_tensor_size(in[0]);
    if (cr_tensor_rank(in[0]) != 1 || w->size < 1 || w->stride < 1 || w->size > len) {
        snprintf(err->message, sizeof err->message, "window %zu does not fit %zu elements",
                 w->size, len);
        return CR_ESHAPE;
    }
    *rank = 1;
    shape[0] = (len - w->size) / w->stride + 1;
    return CR_OK;
}

static void window_forward(size_t n, const cr_tensor *const *in, const void *attr,
                           cr_tensor *out, void *user)
{
    const window_attr *w = attr;
    const double *x = cr_tensor_data(in[0]);
    double *y = cr_tensor_data_mut(out);
    for (size_t j = 0; j < cr_tensor_size(out); j++) {
        y[j] = 0;
        for (size_t k = 0; k < w->size; k++)
            y[j] += x[j * w->stride + k];
    }
}

/* dx[j*stride + k] += dy[j] */
static void window_vjp(size_t n, const cr_tensor *const *in, const void *attr,
                       const cr_tensor *out, const cr_tensor *dy, size_t which,
                       cr_tensor *dx, void *user)
{
    const window_attr *w = attr;
    const double *up = cr_tensor_data(dy);
    double *d = cr_tensor_data_mut(dx);
    for (size_t j = 0; j < cr_tensor_size(dy); j++)
        for (size_t k = 0; k < w->size; k++)
            d[j * w->stride + k] += up[j];
}

static cr_custom_op *window_op(void)
{
    cr_custom_op_def def = {.name = "window",
                            .min_inputs = 1,
                            .max_inputs = 1,
                            .formula = "y[j] = sum of x over window j",
                            .jacobian = "ones over each window",
                            .attr_size = sizeof(window_attr),
                            .shape_attr = window_shape,
                            .forward_attr = window_forward,
                            .vjp_attr = window_vjp};
    cr_error err;
    cr_custom_op *op = cr_custom_op_new(&def, &err);
    ck_assert_msg(op != NULL, "%s", err.message);
    return op;
}

/* y = c * x^p, elementwise, with the gradient built from ops. */
typedef struct cpow_attr {
    double c, p;
} cpow_attr;

static void cpow_forward(size_t n, const cr_tensor *const *in, const void *attr,
                         cr_tensor *out, void *user)
{
    const cpow_attr *a = attr;
    for (size_t i = 0; i < cr_tensor_size(out); i++)
        cr_tensor_data_mut(out)[i] = a->c * pow(cr_tensor_get(in[0], i), a->p);
}

/* dx = dy * c * p * x^(p-1) */
static cr_status cpow_graph_vjp(cr_graph *g, cr_node *const *in, size_t n, const void *attr,
                                cr_node *out, cr_node *dy, size_t which, cr_node **dx,
                                void *user)
{
    const cpow_attr *a = attr;
    *dx = cr_mul(g, dy, cr_scale(g, cr_powc(g, in[0], a->p - 1), a->c * a->p));
    return *dx ? CR_OK : cr_graph_error(g)->status;
}

/* One window op at two settings in one graph: values, gradients from the
 * numeric VJP with each node's own attributes, the numerical check, and a
 * second backward without allocation; the caller's struct is copied. */
START_TEST(test_attributes_two_settings)
{
    cr_custom_op *op = window_op();
    cr_graph *g = cr_graph_new();
    const double v[7] = {0.5, -1.25, 2.0, 0.75, -0.5, 1.5, 3.0};
    cr_node *x = vec_param(g, "x", 7, v);
    window_attr w = {2, 1};
    cr_node *y2 = cr_custom_attr(g, op, &x, 1, &w);
    w = (window_attr){3, 2}; /* the first node kept its own copy */
    cr_node *y3 = cr_custom_attr(g, op, &x, 1, &w);
    ck_assert_ptr_nonnull(y2);
    ck_assert_ptr_nonnull(y3);
    ck_assert_uint_eq(cr_tensor_size(cr_node_value(y2)), 6);
    ck_assert_uint_eq(cr_tensor_size(cr_node_value(y3)), 3);
    for (size_t j = 0; j < 6; j++)
        ck_assert_double_eq(cr_tensor_get(cr_node_value(y2), j), v[j] + v[j + 1]);
    for (size_t j = 0; j < 3; j++)
        ck_assert_double_eq(cr_tensor_get(cr_node_value(y3), j),
                            v[2 * j] + v[2 * j + 1] + v[2 * j + 2]);
    /* E = sum(y2 * c2) + sum(y3 * c3): dE/dx[i] counts the windows holding i */
    cr_node *E =
        cr_add(g, cr_sum(g, cr_scale(g, y2, 0.5)), cr_sum(g, cr_scale(g, y3, 2.0)));
    ck_assert_int_eq(cr_graph_backward(g, E, 0), CR_OK);
    const double want[7] = {0.5 + 2, 1.0 + 2, 1.0 + 4, 1.0 + 2, 1.0 + 4, 1.0 + 2, 0.5 + 2};
    for (size_t i = 0; i < 7; i++)
        ck_assert_double_eq(cr_tensor_get(cr_node_grad(x), i), want[i]);
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(cr_gradcheck(g, E, &x, 1, NULL, &r), CR_OK);
    cr_gradcheck_report_free(r);
    /* steady state: forward and backward again allocate nothing */
    test_alloc_install(0);
    ck_assert_int_eq(cr_node_set_data(x, (const double[]){1, 2, 3, 4, 5, 6, 7}, 7), CR_OK);
    ck_assert_int_eq(cr_graph_forward(g, E), CR_OK);
    ck_assert_int_eq(cr_graph_backward(g, E, 0), CR_OK);
    ck_assert_uint_eq(test_alloc.allocations, 0);
    test_alloc_uninstall();
    ck_assert_double_eq(cr_tensor_get(cr_node_value(y3), 2), 5.0 + 6.0 + 7.0);
    /* the shape rule sees the attributes */
    w = (window_attr){8, 1};
    const size_t size = cr_graph_size(g);
    ck_assert_ptr_null(cr_custom_attr(g, op, &x, 1, &w));
    ck_assert_int_eq(cr_graph_error(g)->status, CR_ESHAPE);
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "window: window 8 does not fit 7 elements");
    ck_assert_uint_eq(cr_graph_size(g), size);
    cr_graph_free(g);
    cr_custom_op_free(op);
}
END_TEST

/* A graph-building VJP with attributes: second derivatives at two
 * settings of the same op. */
START_TEST(test_attributes_second_order)
{
    cr_custom_op_def def = {.name = "cpow",
                            .min_inputs = 1,
                            .max_inputs = 1,
                            .flags = CR_CUSTOM_ELEMENTWISE,
                            .formula = "y = c*x^p",
                            .deriv = {"c*p*x^(p-1)", NULL},
                            .attr_size = sizeof(cpow_attr),
                            .forward_attr = cpow_forward,
                            .graph_vjp_attr = cpow_graph_vjp};
    cr_error err;
    cr_custom_op *op = cr_custom_op_new(&def, &err);
    ck_assert_ptr_nonnull(op);
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_param_scalar(g, "x", 1.3);
    cr_node *a = cr_custom_attr(g, op, &x, 1, &(cpow_attr){2.0, 3.0});  /* 2 x^3 */
    cr_node *b = cr_custom_attr(g, op, &x, 1, &(cpow_attr){-0.5, 4.0}); /* -x^4 / 2 */
    cr_node *f = cr_add(g, a, b);
    ck_assert_double_eq_tol(cr_node_scalar(f), 2 * pow(1.3, 3) - 0.5 * pow(1.3, 4), 1e-14);
    cr_node *d1 = cr_grad(g, f, x), *d2 = cr_grad(g, d1, x);
    ck_assert_ptr_nonnull(d2);
    ck_assert_double_eq_tol(cr_node_scalar(d1), 6 * 1.3 * 1.3 - 2 * pow(1.3, 3), 1e-13);
    ck_assert_double_eq_tol(cr_node_scalar(d2), 12 * 1.3 - 6 * 1.3 * 1.3, 1e-13);
    cr_gradcheck_report *r = NULL;
    ck_assert_int_eq(cr_gradcheck(g, d1, &x, 1, NULL, &r), CR_OK);
    cr_gradcheck_report_free(r);
    cr_graph_free(g);
    cr_custom_op_free(op);
}
END_TEST

START_TEST(test_attribute_errors)
{
    cr_custom_op *op = window_op();
    cr_graph *g = cr_graph_new();
    cr_node *x = vec_param(g, "x", 4, W);
    const size_t size = cr_graph_size(g);
    ck_assert_ptr_null(cr_custom(g, op, &x, 1));
    ck_assert_int_eq(cr_graph_error(g)->status, CR_EINVAL);
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "window: takes 16 bytes of attributes; apply it with cr_custom_attr");
    ck_assert_ptr_null(cr_custom_attr(g, op, &x, 1, NULL));
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "window: the attributes are NULL (the op takes 16 bytes)");
    ck_assert_ptr_null(cr_custom_attr(g, NULL, &x, 1, &(window_attr){1, 1}));
    ck_assert_str_eq(cr_graph_error(g)->message, "custom op: op is NULL");
    ck_assert_ptr_null(cr_custom_attr(g, op, (cr_node *[]){x, x}, 2, &(window_attr){1, 1}));
    ck_assert_str_eq(cr_graph_error(g)->message, "window: takes 1 to 1 inputs, not 2");
    ck_assert_uint_eq(cr_graph_size(g), size);
    cr_graph_clear_error(g);
    /* an op without attributes ignores them */
    cr_custom_op_def sdef = swish_def();
    cr_error err;
    cr_custom_op *swish = cr_custom_op_new(&sdef, &err);
    cr_node *y = cr_custom_attr(g, swish, &x, 1, &(window_attr){1, 1});
    ck_assert_ptr_nonnull(y);
    ck_assert_double_eq_tol(cr_tensor_get(cr_node_value(y), 0), W[0] * sigmoid(W[0]),
                            1e-15);
    cr_graph_free(g);
    cr_custom_op_free(op);
    cr_custom_op_free(swish);

    cr_custom_op_def def = {.name = "both",
                            .min_inputs = 1,
                            .max_inputs = 1,
                            .forward = swish_forward,
                            .forward_attr = window_forward};
    ck_assert_ptr_null(cr_custom_op_new(&def, &err));
    ck_assert_int_eq(err.status, CR_EINVAL);
    ck_assert_str_eq(err.message, "both: both forward and forward_attr are given");
    def.forward = NULL;
    def.vjp = swish_vjp;
    def.vjp_attr = window_vjp;
    ck_assert_ptr_null(cr_custom_op_new(&def, &err));
    ck_assert_str_eq(err.message, "both: both vjp and vjp_attr are given");
    def.vjp = NULL;
    def.attr_size = CR_CUSTOM_MAX_ATTR + 1;
    ck_assert_ptr_null(cr_custom_op_new(&def, &err));
    ck_assert_str_eq(err.message, "both: 257 bytes of attributes (at most 256)");
    def.attr_size = CR_CUSTOM_MAX_ATTR;
    cr_custom_op *ok = cr_custom_op_new(&def, &err);
    ck_assert_ptr_nonnull(ok);
    cr_custom_op_free(ok);
}
END_TEST

/* Out of memory while copying the attributes leaves the graph as it was. */
START_TEST(test_attribute_allocation_failures)
{
    for (size_t k = 1;; k++) {
        cr_custom_op *op = window_op();
        test_alloc_install(k);
        cr_graph *g = cr_graph_new();
        cr_node *x = cr_input(g, "x", 1, (const size_t[]){7});
        if (x)
            cr_node_set_data(x, (const double[]){1, 1, 1, 1, 1, 1, 1}, 7);
        const size_t size = x ? cr_graph_size(g) : 0;
        cr_node *y = x ? cr_custom_attr(g, op, &x, 1, &(window_attr){3, 2}) : NULL;
        if (x && !y) {
            ck_assert_int_eq(cr_graph_error(g)->status, CR_ENOMEM);
            ck_assert_uint_eq(cr_graph_size(g), size);
        }
        if (y)
            ck_assert_double_eq(cr_tensor_get(cr_node_value(y), 0), 3.0);
        cr_graph_free(g);
        const size_t failures = test_alloc.failures;
        ck_assert_int_eq(test_alloc.live, 0);
        test_alloc_uninstall();
        cr_custom_op_free(op);
        if (failures == 0)
            break;
    }
}
END_TEST

Suite *custom_suite(void)
{
    Suite *s = suite_create("custom");
    TCase *tc = tcase_create("custom");
    tcase_add_test(tc, test_swish_forward_backward_check);
    tcase_add_test(tc, test_wrong_vjp_named);
    tcase_add_test(tc, test_second_order);
    tcase_add_test(tc, test_shape_rule);
    tcase_add_test(tc, test_default_shape_rule);
    tcase_add_test(tc, test_kink_flag);
    tcase_add_test(tc, test_no_derivative);
    tcase_add_test(tc, test_definition_errors);
    tcase_add_test(tc, test_descriptor_fields);
    tcase_add_test(tc, test_chain_and_dot);
    tcase_add_test(tc, test_allocation_failures);
    tcase_add_test(tc, test_attributes_two_settings);
    tcase_add_test(tc, test_attributes_second_order);
    tcase_add_test(tc, test_attribute_errors);
    tcase_add_test(tc, test_attribute_allocation_failures);
    suite_add_tcase(s, tc);
    return s;
}
