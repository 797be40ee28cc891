/*
 * check_html.c - tests of the step-through page (cr_explain_html) as text:
 * the seed neuron's steps (forward values, each backward edge's upstream
 * gradient, local derivative and product, the chains) in the ops and the
 * statements view, a model builder's model in the layers view, the inline
 * SVG and
 * script, no external reference, hostile names escaped in the HTML and in
 * the script's data, argument errors and atomic files. What a browser does
 * with the page is tests/browser.sh's job. Rendering goes through libgvc,
 * whose leaks LeakSanitizer ignores (check_dot.c's suppressions).
 */
#include "testutil.h"

#include <chainrule/expr.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The seed article's neuron, from its program text; *E is the output. */
static cr_graph *seed_build(cr_expr_program **prog, cr_node **E, cr_node **w1)
{
    static const char text[] =
        "s = x1*w1 + x2*w2 + b; predicted = sigmoid(s); E = 0.5*(d - predicted)^2";
    static const char *const names[] = {"x1", "x2", "d", "w1", "w2", "b"};
    static const double values[] = {0.1, 0.3, 0.03, 0.5, 0.2, 1.83};
    cr_graph *g = cr_graph_new();
    ck_assert_int_eq(cr_expr_parse(g, text, sizeof text - 1, prog, NULL), CR_OK);
    for (size_t i = 0; i < 6; i++)
        ck_assert_int_eq(cr_expr_set(*prog, names[i], values[i], NULL), CR_OK);
    ck_assert_int_eq(cr_expr_eval(*prog, NULL), CR_OK);
    *E = cr_expr_output(*prog)->node;
    *w1 = cr_expr_lookup(*prog, "w1")->node;
    return g;
}

/* Writes the page and returns its text (free it). */
static char *page(cr_graph *g, const cr_dot_options *o, const char *name)
{
    ck_assert_msg(cr_explain_html(g, o, test_tmp_path(name)) == CR_OK, "%s",
                  cr_graph_error(g)->message);
    size_t len = 0;
    char *text = (char *)test_slurp(test_tmp_path(name), &len);
    text[len] = '\0'; /* test_slurp leaves room for it */
    return text;
}

/* The text between the first `from` and the next `to` (a new string). */
static char *between(const char *text, const char *from, const char *to)
{
    const char *a = strstr(text, from);
    ck_assert_ptr_nonnull(a);
    a += strlen(from);
    const char *b = strstr(a, to);
    ck_assert_ptr_nonnull(b);
    char *s = malloc((size_t)(b - a) + 1);
    memcpy(s, a, (size_t)(b - a));
    s[b - a] = '\0';
    return s;
}

/* The page of g with the defaults and loss as the loss (free it). */
static char *page_of(cr_graph *g, cr_node *loss, const char *name)
{
    cr_dot_options o;
    cr_dot_options_init(&o);
    o.loss = loss;
    return page(g, &o, name);
}

/* The JSON data of the page's script (a new string). */
static char *script_data(const char *html)
{
    return between(html, "id=\"cr-data\">", "</script>");
}

START_TEST(test_seed_page)
{
    cr_node *E, *w1;
    cr_expr_program *prog;
    cr_graph *g = seed_build(&prog, &E, &w1);
    if (!cr_dot_can_render()) {
        cr_dot_options o;
        cr_dot_options_init(&o);
        o.loss = E;
        ck_assert_int_eq(cr_explain_html(g, &o, test_tmp_path("seed.html")), CR_ENOTSUP);
        ck_assert_str_eq(cr_graph_error(g)->message,
                         "explain page: built without Graphviz rendering");
        cr_expr_free(prog);
        cr_graph_free(g);
        return;
    }
    size_t n_before = cr_graph_size(g);
    cr_dot_options o;
    cr_dot_options_init(&o);
    o.loss = E;
    o.highlight = w1;
    char *html = page(g, &o, "seed.html");
    ck_assert_uint_eq(cr_graph_size(g), n_before); /* the graph is unchanged */
    ck_assert_ptr_nonnull(strstr(html, "<!DOCTYPE html>"));
    ck_assert_ptr_nonnull(strstr(html, "<title>The chain rule, step by step: E</title>"));
    /* one inline SVG (no XML prologue), the data and one script, nothing
     * fetched from elsewhere */
    ck_assert_uint_eq(count(html, "<svg"), 1);
    ck_assert_ptr_null(strstr(html, "<?xml"));
    ck_assert_uint_eq(count(html, "<script"), 2);
    ck_assert_ptr_null(strstr(html, "src="));
    ck_assert_ptr_null(strstr(html, "href="));
    ck_assert_ptr_null(strstr(html, "http://www.w3.org/1999/xhtml"));
    /* the final state without scripts: values, gradients and chains */
    char *fin = between(html, "<div id=\"step\">", "</div>");
    ck_assert_ptr_nonnull(strstr(fin, "<p>predicted = 0.874352143, ∂E/∂predicted = "
                                      "0.844352143</p>"));
    ck_assert_ptr_nonnull(strstr(fin, "<p>w1 = 0.5, ∂E/∂w1 = 0.009276093</p>"));
    free(fin);
    char *chains = between(html, "<div id=\"chains\">", "</div>");
    ck_assert_ptr_nonnull(strstr(chains, "<p>∂E/∂w1 = ∂E/∂predicted · ∂predicted/∂s · "
                                         "∂s/∂w1 = 0.844352143 × 0.109860473 × 0.1 = "
                                         "0.009276093</p>"));
    free(chains);
    /* the steps: the inputs and 8 ops forward; the seed and 14 edges
     * backward */
    char *data =
        between(html, "<script type=\"application/json\" id=\"cr-data\">", "</script>");
    ck_assert_uint_eq(count(data, "{\"p\": \"forward\""), 9);
    ck_assert_uint_eq(count(data, "{\"p\": \"backward\""), 15);
    ck_assert_ptr_nonnull(strstr(data, "\"predicted = sigmoid(s = 1.94) = 0.874352143\""));
    ck_assert_ptr_nonnull(strstr(data, "\"upstream ∂E/∂predicted = 0.844352143\""));
    ck_assert_ptr_nonnull(strstr(data, "\"local ∂predicted/∂s = predicted*(1-predicted) = "
                                       "0.109860473\""));
    ck_assert_ptr_nonnull(strstr(data, "\"∂E/∂w1 = 0.009276093\""));
    ck_assert_ptr_nonnull(strstr(data, "\"Backward 8 of 14: the edge b → s\""));
    ck_assert_ptr_nonnull(strstr(data, "\"local ∂mul#2/∂w1 = x1 = 0.1\""));
    free(data);
    free(html);
    cr_expr_free(prog);
    cr_graph_free(g);
}
END_TEST

/* The statements view: one forward step per statement, one backward step
 * per edge of the view, each with its local derivative composed through
 * the unnamed nodes between two statements. */
START_TEST(test_statements_page)
{
    if (!cr_dot_can_render())
        return;
    cr_node *E, *w1;
    cr_expr_program *prog;
    cr_graph *g = seed_build(&prog, &E, &w1);
    size_t n_before = cr_graph_size(g);
    cr_dot_options o;
    cr_dot_options_init(&o);
    o.loss = E;
    o.highlight = w1;
    o.view = CR_DOT_VIEW_STATEMENTS;
    char *html = page(g, &o, "seed.html");
    ck_assert_uint_eq(cr_graph_size(g), n_before);
    char *data = script_data(html);
    /* the inputs and 3 statements forward; the seed and 8 edges backward */
    ck_assert_uint_eq(count(data, "{\"p\": \"forward\""), 4);
    ck_assert_uint_eq(count(data, "{\"p\": \"backward\""), 9);
    ck_assert_ptr_nonnull(strstr(data, "\"Forward 2 of 3: predicted\", \"from s = 1.94\", "
                                       "\"predicted = 0.874352143\""));
    ck_assert_ptr_nonnull(strstr(data, "\"from predicted = 0.874352143, d = 0.03\""));
    ck_assert_ptr_nonnull(strstr(data, "\"Backward 3 of 8: the edge s → predicted\", "
                                       "\"upstream ∂E/∂predicted = 0.844352143\", \"local "
                                       "∂predicted/∂s = predicted*(1-predicted) = "
                                       "0.109860473\""));
    /* w1 -> s stands for w1 -> mul -> add -> add: composed */
    ck_assert_ptr_nonnull(strstr(data, "\"local ∂s/∂w1 = x1 = 0.1\", \"(composed through "
                                       "the unnamed steps between them)\", \"product "
                                       "0.092760926 × 0.1 = 0.009276093\", \"∂E/∂w1 = "
                                       "0.009276093\""));
    ck_assert_ptr_nonnull(strstr(data, "\"Backward 8 of 8: the edge b → s\""));
    ck_assert_ptr_null(strstr(data, "mul#"));
    ck_assert_ptr_null(strstr(data, "nan"));
    ck_assert_ptr_nonnull(strstr(data,
                                 "\"∂E/∂w1 = ∂E/∂predicted · ∂predicted/∂s · ∂s/∂w1 = "
                                 "0.844352143 × 0.109860473 × 0.1 = 0.009276093\""));
    /* the script's ops are the 3 statements, its edges the view's 8 */
    char *ops = between(data, "\"ops\": [", "]");
    ck_assert_uint_eq(count(ops, "\"n"), 3);
    free(ops);
    char *edges = between(data, "\"edges\": [", "]],");
    ck_assert_uint_eq(count(edges, "["), 8);
    free(edges);
    free(data);
    char *fin = between(html, "<div id=\"step\">", "</div>");
    ck_assert_ptr_nonnull(strstr(fin, "<p>w1 = 0.5, ∂E/∂w1 = 0.009276093</p>"));
    ck_assert_ptr_null(strstr(fin, "mul#"));
    free(fin);
    free(html);
    /* a statement used by two others: its gradient accumulates */
    cr_graph *h = cr_graph_new();
    cr_node *x = cr_input_scalar(h, "x", 1.5);
    cr_node *a = cr_sin(h, x);
    cr_node *b = cr_mul(h, a, a);
    cr_node *y = cr_add(h, b, a);
    ck_assert_ptr_nonnull(y);
    cr_node_set_name(a, "a");
    cr_node_set_name(b, "b");
    cr_node_set_name(y, "y");
    o.loss = y;
    o.highlight = NULL;
    html = page(h, &o, "acc.html");
    data = script_data(html);
    ck_assert_ptr_nonnull(strstr(data, "\"∂y/∂a so far = 1 (1 more edge to come)\""));
    ck_assert_ptr_nonnull(strstr(data, "\"∂y/∂a = 1 + 1.994989973 = 2.994989973\""));
    ck_assert_ptr_nonnull(strstr(data, "\"local ∂b/∂a = a + a = 1.994989973\""));
    free(data);
    free(html);
    o.view = (cr_dot_view)7;
    ck_assert_int_eq(cr_explain_html(h, &o, test_tmp_path("view.html")), CR_EINVAL);
    ck_assert_str_eq(cr_graph_error(h)->message, "explain page: unknown view 7");
    cr_graph_free(h);
    cr_expr_free(prog);
    cr_graph_free(g);
}
END_TEST

/* A model builder's model (dense:2 relu dense:1, mean squared error) with
 * known weights, in the layers view: x = [1, 2], L1 = x W1 + b1 = [1, 3],
 * L2 = relu(L1) = [1, 3], L3 = L2 W3 + b3 = 1 + 3 + 0.5 = 4.5, the target
 * 0.5. The steps go layer by layer and point at the layer boxes (a
 * layer's box is its first node, L1.W), with the tensors summarised. */
START_TEST(test_model_page)
{
    if (!cr_dot_can_render())
        return;
    cr_layer_spec layers[3];
    cr_layer_spec_init(&layers[0], CR_LAYER_DENSE);
    layers[0].units = 2;
    cr_layer_spec_init(&layers[1], CR_LAYER_ACTIVATION);
    layers[1].act = CR_ACT_RELU;
    cr_layer_spec_init(&layers[2], CR_LAYER_DENSE);
    cr_model_options mo;
    cr_model_options_init(&mo);
    mo.loss = CR_LOSS_MSE;
    mo.batch = 1;
    cr_model *m = cr_model_new(layers, 3, 1, (size_t[]){2}, &mo, NULL);
    ck_assert_ptr_nonnull(m);
    static const double w1[] = {1, 0, 0, 1.5}, b1[] = {0, 0}, w3[] = {1, 1}, b3[] = {0.5};
    ck_assert_int_eq(cr_node_set_data(cr_model_layer_param(m, 0, 0), w1, 4), CR_OK);
    ck_assert_int_eq(cr_node_set_data(cr_model_layer_param(m, 0, 1), b1, 2), CR_OK);
    ck_assert_int_eq(cr_node_set_data(cr_model_layer_param(m, 2, 0), w3, 2), CR_OK);
    ck_assert_int_eq(cr_node_set_data(cr_model_layer_param(m, 2, 1), b3, 1), CR_OK);
    ck_assert_int_eq(cr_node_set_data(cr_model_input(m), (double[]){1, 2}, 2), CR_OK);
    ck_assert_int_eq(cr_node_set_data(cr_model_target(m), (double[]){0.5}, 1), CR_OK);
    cr_graph *g = cr_model_graph(m);
    ck_assert_int_eq(cr_graph_forward(g, cr_model_loss(m)), CR_OK);
    cr_dot_options o;
    cr_dot_options_init(&o);
    o.loss = cr_model_loss(m);
    o.view = CR_DOT_VIEW_LAYERS;
    size_t n_before = cr_graph_size(g);
    char *html = page(g, &o, "model.html");
    ck_assert_uint_eq(cr_graph_size(g), n_before);
    char *data = script_data(html);
    /* forward, layer by layer, with the values summarised */
    ck_assert_ptr_nonnull(strstr(data, "\"Forward 1 of 4: layer 1, L1\""));
    ck_assert_ptr_nonnull(strstr(data, "\"L1 = [1,2] (min 1, mean 2, max 3)\""));
    ck_assert_ptr_nonnull(strstr(data, "\"Forward 2 of 4: layer 2, L2\""));
    ck_assert_ptr_nonnull(strstr(data, "\"Forward 3 of 4: layer 3, L3\""));
    /* a one-element tensor shows its number */
    ck_assert_ptr_nonnull(strstr(data, "\"L3 = 4.5\""));
    ck_assert_ptr_nonnull(strstr(data, "\"loss = 16\""));
    /* backward: d loss/d L3 = 2 (4.5 - 0.5) = 8 (the mean of the squares);
     * d loss/d L2 = 8 W3^T = [8, 8], norm 8 sqrt(2); d loss/d W3 = 8 L2^T =
     * [8, 24]^T, norm 8 sqrt(10); relu passes [8, 8] to L1, and d loss/d x
     * = [8, 8] W1^T = [8, 12], norm sqrt(208) */
    ck_assert_ptr_nonnull(strstr(data, "\"∂loss/∂L3 = 8\""));
    char want[200];
    snprintf(want, sizeof want, "\"|∂loss/∂L2| = %.9f, complete\"", 8 * sqrt(2.0));
    ck_assert_msg(strstr(data, want), "%s", want);
    snprintf(want, sizeof want, "\"gradient flowing to L3.W: norm %.9f\"", 8 * sqrt(10.0));
    ck_assert_msg(strstr(data, want), "%s", want);
    snprintf(want, sizeof want, "\"|∂loss/∂x| = %.9f, complete\"", sqrt(208.0));
    ck_assert_msg(strstr(data, want), "%s", want);
    /* the chain of the first layer's weights, in layer terms */
    ck_assert_ptr_nonnull(
        strstr(data, "\"∂loss/∂L1.W = ∂loss/∂L3 · ∂L3/∂L2 · ∂L2/∂L1 · ∂L1/∂L1.W = "));
    /* the steps point at the layer boxes: L1, L2, L3 are drawn as their
     * layer's first node, L1.W (n1), L2 (n3: no parameters), L3.W (n4) */
    char *ops = between(data, "\"ops\": [", "]");
    free(data);
    const cr_node *L1W = cr_model_layer_param(m, 0, 0), *L2 = cr_model_layer_output(m, 1),
                  *L3W = cr_model_layer_param(m, 2, 0);
    snprintf(want, sizeof want, "\"n%zu\", \"n%zu\", \"n%zu\"", cr_node_index(L1W),
             cr_node_index(L2), cr_node_index(L3W));
    ck_assert_msg(strstr(ops, want) == ops, "%s: %s", ops, want);
    free(ops);
    /* the final state without scripts, and every layer in the picture */
    char *fin = between(html, "<div id=\"step\">", "</div>");
    ck_assert_ptr_nonnull(strstr(fin, "<p>L2 = [1,2] (min 1, mean 2, max 3)"));
    ck_assert_ptr_nonnull(strstr(fin, "<p>loss = 16, ∂loss/∂loss = 1</p>"));
    free(fin);
    for (int k = 1; k <= 3; k++) {
        snprintf(want, sizeof want, "layer %d", k);
        ck_assert_msg(strstr(html, want), "%s", want);
    }
    free(html);
    cr_model_free(m);
}
END_TEST

/* A node used twice: its gradient arrives in two steps and its chain has
 * two paths; z*z is two DOT edges between the same nodes. */
START_TEST(test_accumulation)
{
    if (!cr_dot_can_render())
        return;
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_input_scalar(g, "x", 1.5);
    cr_node *z = cr_sin(g, x);
    cr_node *y = cr_add(g, cr_mul(g, z, z), z);
    ck_assert_ptr_nonnull(y);
    cr_node_set_name(z, "z");
    cr_node_set_name(y, "y");
    char *html = page_of(g, y, "acc.html");
    char *data = script_data(html);
    /* the edges z -> mul#2 (twice) and z -> y, in backward order */
    ck_assert_ptr_nonnull(strstr(data, "[\"n1\", \"n2\", 0], [\"n1\", \"n2\", 1]"));
    ck_assert_ptr_nonnull(strstr(data, "\"local ∂y/∂z = 1\""));
    ck_assert_ptr_nonnull(strstr(data, "\"∂y/∂z so far = 1 (2 more edges to come)\""));
    ck_assert_ptr_nonnull(strstr(data, "\"∂y/∂z so far = 1 + 0.997494987 = 1.997494987 (1 "
                                       "more edge to come)\""));
    ck_assert_ptr_nonnull(
        strstr(data, "\"∂y/∂z = 1.997494987 + 0.997494987 = 2.994989973\""));
    ck_assert_ptr_nonnull(strstr(data,
                                 "\"∂y/∂x = ∂y/∂z · ∂z/∂x = 2.994989973 × 0.070737202 = "
                                 "0.21185721\""));
    ck_assert_uint_eq(count(data, "{\"node\": \"n1\""), 1); /* z's chain, once */
    free(data);
    cr_graph_free(g);
    free(html);
}
END_TEST

/* Tensors: values show as shapes, tensor edges as Jacobians with their
 * shapes, and the scalar edge into the loss keeps its numbers. */
START_TEST(test_tensors)
{
    if (!cr_dot_can_render())
        return;
    cr_graph *g = cr_graph_new();
    cr_node *x = cr_input(g, "x", 1, (size_t[]){3});
    cr_node *a = cr_input_scalar(g, "a", 0.5);
    cr_node *y = cr_sum(g, cr_tanh(g, cr_mul(g, x, a)));
    ck_assert_ptr_nonnull(y);
    cr_node_set_name(y, "y");
    ck_assert_int_eq(cr_node_set_data(x, (double[]){0.2, -0.4, 1.0}, 3), CR_OK);
    ck_assert_int_eq(cr_graph_forward(g, y), CR_OK);
    char *html = page_of(g, y, "tensor.html");
    char *data = script_data(html);
    ck_assert_ptr_nonnull(strstr(data, "\"tanh#3 = tanh(mul#2 = [3]) = [3]\""));
    ck_assert_ptr_nonnull(strstr(data, "\"upstream ∂y/∂tanh#3 = (a tensor)\""));
    ck_assert_ptr_nonnull(strstr(data, "(a Jacobian, [3] x [3])"));
    ck_assert_ptr_nonnull(strstr(data, "\"upstream ∂y/∂y = 1\", \"local ∂y/∂tanh#3 = 1 (a "
                                       "Jacobian, [] x [3])\""));
    ck_assert_ptr_nonnull(strstr(data, "\"∂y/∂x = [norm 0.794093022]\""));
    ck_assert_ptr_nonnull(strstr(data, "\"∂y/∂a = 0.600043798\""));
    ck_assert_ptr_null(strstr(data, "nan"));
    free(data);
    /* a scalar behind tensors: its gradient from its chain, not NaN */
    char *fin = between(html, "<div id=\"step\">", "</div>");
    ck_assert_ptr_nonnull(strstr(fin, "<p>a = 0.5, ∂y/∂a = 0.600043798</p>"));
    ck_assert_ptr_null(strstr(fin, "nan"));
    free(fin);
    free(html);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_hostile_names)
{
    if (!cr_dot_can_render())
        return;
    cr_graph *g = cr_graph_new();
    cr_node *a = cr_input_scalar(g, "</script><script>alert(1)</script>", 2.0);
    cr_node *b = cr_input_scalar(g, "quote\"d 'x' & ∂é→ü", 3.0);
    cr_node *y = cr_mul(g, a, b);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(cr_node_set_name(y, "bad\xff"
                                         "utf8\xe2\x80\xa8sep"),
                     CR_OK);
    cr_dot_options o;
    cr_dot_options_init(&o);
    o.loss = y;
    o.title = "<b>title</b> & \"more\"";
    char *html = page(g, &o, "hostile.html");
    /* the only script elements are the page's own two */
    ck_assert_uint_eq(count(html, "<script"), 2);
    ck_assert_uint_eq(count(html, "</script>"), 2);
    ck_assert_ptr_null(strstr(html, "<b>"));
    ck_assert_ptr_nonnull(
        strstr(html, "<h1>&lt;b&gt;title&lt;/b&gt; &amp; &quot;more&quot;</h1>"));
    ck_assert_ptr_null(strstr(html, "\xff"));
    char *data = script_data(html);
    ck_assert_ptr_null(strchr(data, '<'));
    ck_assert_ptr_nonnull(
        strstr(data, "\\u003C/script\\u003E\\u003Cscript\\u003Ealert(1)"));
    ck_assert_ptr_nonnull(strstr(data, "quote\\\"d 'x' \\u0026 ∂é→ü"));
    ck_assert_ptr_nonnull(strstr(data, "bad\\uFFFDutf8\\u2028sep"));
    free(data);
    char *fin = between(html, "<div id=\"step\">", "</div>");
    ck_assert_ptr_nonnull(strstr(fin, "(quote&quot;d &#39;x&#39; &amp; ∂é→ü) = 3"));
    free(fin);
    free(html);
    cr_graph_free(g);
}
END_TEST

START_TEST(test_errors)
{
    cr_node *E, *w1;
    cr_expr_program *prog;
    cr_graph *g = seed_build(&prog, &E, &w1);
    cr_dot_options o;
    cr_dot_options_init(&o);
    ck_assert_int_eq(cr_explain_html(NULL, &o, test_tmp_path("x.html")), CR_EINVAL);
    ck_assert_int_eq(cr_explain_html(g, NULL, test_tmp_path("x.html")), CR_EINVAL);
    ck_assert_int_eq(cr_explain_html(g, &o, test_tmp_path("x.html")), CR_EINVAL);
    ck_assert_str_eq(cr_graph_error(g)->message,
                     "explain page: no loss given (options.loss)");
    o.loss = E;
    ck_assert_int_eq(cr_explain_html(g, &o, NULL), CR_EINVAL);
    cr_graph *other = cr_graph_new();
    cr_dot_options o2 = o;
    o2.loss = cr_input_scalar(other, "t", 1.0);
    ck_assert_int_eq(cr_explain_html(g, &o2, test_tmp_path("x.html")), CR_EINVAL);
    o2.loss = cr_input(other, "v", 1, (size_t[]){3});
    ck_assert_int_eq(cr_explain_html(other, &o2, test_tmp_path("x.html")), CR_ESHAPE);
    ck_assert_str_eq(cr_graph_error(other)->message,
                     "explain page: the loss [3] is not a scalar");
    cr_graph_free(other);
    if (cr_dot_can_render()) {
        ck_assert_int_eq(cr_explain_html(g, &o, test_tmp_path("missing/x.html")),
                         CR_ENOTFOUND);
        /* too many nodes behind the loss */
        cr_graph *big = cr_graph_new();
        cr_node *s = cr_input_scalar(big, "x", 0.5);
        for (int i = 0; i < CR_HTML_MAX_NODES; i++)
            s = cr_sin(big, s);
        cr_dot_options ob;
        cr_dot_options_init(&ob);
        ob.loss = s;
        ck_assert_int_eq(cr_explain_html(big, &ob, test_tmp_path("big.html")), CR_ERANGE);
        ck_assert_ptr_nonnull(strstr(cr_graph_error(big)->message, "1001 nodes"));
        cr_graph_free(big);
    }
    ck_assert_uint_eq(test_tmpdir_count(), 0); /* nothing written, no temporary file left */
    cr_expr_free(prog);
    cr_graph_free(g);
}
END_TEST

/* A program with statement groups in the layers view: the steps name each
 * statement's group as the program gives it ("encoder", not a number from
 * its name), point only at nodes the picture draws (the group boxes, the
 * loss and the target on their own), and the loss is in no group. */
START_TEST(test_groups_page)
{
    if (!cr_dot_can_render())
        return;
    static const char text[] = "# group: encoder\nh1 = tanh(x*w1 + b1)\n"
                               "# group: decoder\nh2 = tanh(h1*w2 + b2)\nE = (h2 - t)^2\n";
    static const char *const names[] = {"x", "w1", "b1", "w2", "b2", "t"};
    static const double values[] = {0.5, 0.3, 0.1, -0.7, 0.2, 0.25};
    cr_graph *g = cr_graph_new();
    cr_expr_program *prog;
    ck_assert_int_eq(cr_expr_parse(g, text, sizeof text - 1, &prog, NULL), CR_OK);
    for (size_t i = 0; i < 6; i++)
        ck_assert_int_eq(cr_expr_set(prog, names[i], values[i], NULL), CR_OK);
    ck_assert_int_eq(cr_expr_eval(prog, NULL), CR_OK);
    cr_dot_options o;
    cr_dot_options_init(&o);
    o.loss = cr_expr_output(prog)->node;
    o.view = CR_DOT_VIEW_LAYERS;
    o.group_of = cr_expr_node_group;
    o.group_ctx = prog;
    char *html = page(g, &o, "groups.html");
    char *data = script_data(html);
    ck_assert_ptr_nonnull(strstr(data, "\"Forward 1 of 3: encoder, h1\""));
    ck_assert_ptr_nonnull(strstr(data, "\"Forward 2 of 3: decoder, h2\""));
    ck_assert_ptr_nonnull(strstr(data, "\"Forward 3 of 3: E\""));
    ck_assert_ptr_null(strstr(data, "layer "));
    /* every node the steps point at is drawn: the boxes of encoder (x, its
     * first node) and decoder (w2), and E */
    char want[100];
    const size_t drawn[] = {cr_node_index(cr_expr_lookup(prog, "x")->node),
                            cr_node_index(cr_expr_lookup(prog, "w2")->node),
                            cr_node_index(o.loss)};
    snprintf(want, sizeof want, "\"ops\": [\"n%zu\", \"n%zu\", \"n%zu\"]", drawn[0],
             drawn[1], drawn[2]);
    ck_assert_msg(strstr(data, want), "%s", want);
    for (size_t k = 0; k < 3; k++) {
        snprintf(want, sizeof want, "<title>n%zu</title>", drawn[k]);
        ck_assert_msg(strstr(html, want), "%s", want);
    }
    /* the loss is its own node, not a line of the decoder's box */
    ck_assert_ptr_null(strstr(html, "E = 0.049040467, grad"));
    free(data);
    free(html);
    cr_expr_free(prog);
    cr_graph_free(g);
}
END_TEST

/* Failing each allocation in turn gives CR_ENOMEM, leaves the graph as it
 * was, leaks nothing and writes no file, in the ops, the statements and
 * the layers view. */
START_TEST(test_out_of_memory)
{
    if (!cr_dot_can_render())
        return;
    static const cr_dot_view views[] = {CR_DOT_VIEW_OPS, CR_DOT_VIEW_STATEMENTS,
                                        CR_DOT_VIEW_LAYERS};
    for (size_t k = 1, view = 0; view < 3; k++) {
        test_alloc_install(0);
        cr_graph *g = cr_graph_new();
        cr_node *x = cr_input_scalar(g, "x1", 0.5); /* layer 1 in the layers view */
        cr_node *y = cr_mul(g, cr_sin(g, x), x);
        ck_assert_ptr_nonnull(y);
        cr_dot_options o;
        cr_dot_options_init(&o);
        o.loss = y;
        o.view = views[view];
        size_t size = cr_graph_size(g);
        test_alloc.fail_at = test_alloc.allocations + k;
        cr_status st = cr_explain_html(g, &o, test_tmp_path("oom.html"));
        int failed = test_alloc.failures > 0;
        ck_assert_int_eq(st, (failed ? CR_ENOMEM : CR_OK));
        ck_assert_uint_eq(test_tmpdir_count(), (failed ? 0 : 1));
        ck_assert_uint_eq(cr_graph_size(g), size);
        cr_graph_free(g);
        ck_assert_int_eq(test_alloc.live, 0);
        test_alloc_uninstall();
        if (!failed) { /* every allocation failed once: the next view */
            ck_assert_int_eq(remove(test_tmp_path("oom.html")), 0);
            view++;
            k = 0;
        }
    }
}
END_TEST

Suite *html_suite(void)
{
    Suite *s = suite_create("html");
    TCase *tc = tcase_create("html");
    tcase_add_checked_fixture(tc, test_tmpdir_make, test_tmpdir_remove);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_seed_page);
    tcase_add_test(tc, test_statements_page);
    tcase_add_test(tc, test_accumulation);
    tcase_add_test(tc, test_tensors);
    tcase_add_test(tc, test_model_page);
    tcase_add_test(tc, test_groups_page);
    tcase_add_test(tc, test_hostile_names);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
