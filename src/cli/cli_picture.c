/*
 * cli_picture.c - the graph of a program as a DOT file (--dot, dot -o)
 * or a picture rendered by Graphviz (--render FILE.svg|png|pdf): the
 * picture options (--view, --values, --grads, --rankdir, --title,
 * --max-nodes, --highlight, --clusters), the output styled as the loss and the chain
 * to --highlight or a single --wrt variable highlighted; and a saved model
 * (--model) rebuilt for one row in place of the program (see
 * cli_common.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "cli_nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *cli_render_format(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return NULL;
    if (strcmp(dot, ".svg") == 0)
        return "svg";
    if (strcmp(dot, ".png") == 0)
        return "png";
    if (strcmp(dot, ".pdf") == 0)
        return "pdf";
    return NULL;
}

int cli_picture_option(cli *c, cli_opt id, const char *value)
{
    struct cli_picture *p = &c->pic;
    switch (id) {
    case CLI_OPT_VIEW:
        p->view_given = 1;
        if (strcmp(value, "statements") == 0)
            p->view = CR_DOT_VIEW_STATEMENTS;
        else if (strcmp(value, "ops") == 0)
            p->view = CR_DOT_VIEW_OPS;
        else if (strcmp(value, "layers") == 0)
            p->view = CR_DOT_VIEW_LAYERS;
        else
            return cli_fail(c, CLI_USAGE, 0, 0,
                            "--view: '%s' is not a view (statements, ops or layers)",
                            value);
        break;
    case CLI_OPT_RANKDIR:
        if (strcmp(value, "LR") == 0)
            p->rankdir = CR_DOT_LR;
        else if (strcmp(value, "TB") == 0)
            p->rankdir = CR_DOT_TB;
        else
            return cli_fail(c, CLI_USAGE, 0, 0, "--rankdir: '%s' is not LR or TB", value);
        break;
    case CLI_OPT_VALUES:
        p->values = 1;
        break;
    case CLI_OPT_GRADS:
        p->grads = 1;
        break;
    case CLI_OPT_CLUSTERS:
        p->clusters = 1;
        break;
    case CLI_OPT_TITLE:
        p->title = value;
        break;
    case CLI_OPT_HIGHLIGHT:
        p->highlight = value;
        break;
    case CLI_OPT_MAX_NODES:
        return cli_option_size(c, id, value, 1, &p->max_nodes) == 0 ? CLI_OK : CLI_USAGE;
    case CLI_OPT_MODEL:
        c->model_path = value;
        break;
    case CLI_OPT_DATA:
        c->model_data.csv = value;
        break;
    case CLI_OPT_TARGET:
        c->model_data.target = value;
        break;
    case CLI_OPT_HEADER:
    case CLI_OPT_NO_HEADER:
    case CLI_OPT_MAX_INPUT:
        return cli_nn_data_option(c, id, value, &c->model_data, NULL);
    default: /* an option of the table the program subcommands do not use */
        return cli_fail(c, CLI_USAGE, 0, 0, "option '%s' is not handled",
                        cli_option_name(id));
    }
    return CLI_OK;
}

int cli_dot_options(cli *c, cr_dot_options *opts)
{
    const struct cli_picture *p = &c->pic;
    cr_dot_options_init(opts);
    opts->loss = cli_output_node(c);
    if (c->n_wrt == 1 && c->n_wrt_syms == 1)
        opts->highlight = c->wrt_syms[0]->node;
    if (p->highlight && c->model) {
        if (!(opts->highlight = cr_graph_find(c->g, p->highlight)))
            return cli_fail(c, CLI_USAGE, 0, 0,
                            "--highlight: the model has no node named '%s' (its "
                            "parameters are L1.W, L1.b, ...; its layers L1, L2, ...)",
                            p->highlight);
    } else if (p->highlight) {
        const cr_expr_symbol *sym = cr_expr_lookup(c->prog, p->highlight);
        if (!sym)
            return cli_fail(c, CLI_USAGE, 0, 0,
                            "--highlight: no input or statement is named '%s'",
                            p->highlight);
        opts->highlight = sym->node;
    }
    /* layers for a model; statements, unless the output is a tensor */
    opts->view = p->view_given                                    ? p->view
                 : c->model                                       ? CR_DOT_VIEW_LAYERS
                 : cr_tensor_size(cr_node_value(opts->loss)) == 1 ? CR_DOT_VIEW_STATEMENTS
                                                                  : CR_DOT_VIEW_OPS;
    opts->rankdir = p->rankdir;
    opts->title = p->title;
    opts->max_nodes = p->max_nodes;
    opts->clusters = p->clusters;
    /* the program's statement groups ("# layer 1" markers), if it has any */
    opts->group_of = cr_expr_node_group;
    opts->group_ctx = c->prog;
    if (p->values || p->grads) {
        opts->values = p->values;
        opts->grads = p->grads;
    }
    return CLI_OK;
}

int cli_write_pictures(cli *c)
{
    cr_dot_options opts;
    int rc = cli_dot_options(c, &opts);
    if (rc != CLI_OK)
        return rc;
    /* grad's --dot FILE, or dot's -o FILE: errors name the one given */
    const cli_opt dot_opt = c->dot ? CLI_OPT_DOT : CLI_OPT_OUTPUT;
    const char *dot = c->dot ? c->dot : c->output;
    if (dot && cr_dot_write_file(c->g, dot, &opts) != CR_OK)
        return cli_fail(c, CLI_USAGE, 0, 0, "%s: %s", cli_option_label(dot_opt),
                        cr_graph_error(c->g)->message);
    if (!c->render)
        return CLI_OK;
    const char *format = cli_render_format(c->render);
    if (!cr_dot_can_render())
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "--render: this chainrule was built without Graphviz rendering; "
                        "use --dot FILE and run dot(1)");
    if (cr_dot_render(c->g, &opts, c->render, format) != CR_OK)
        return cli_fail(c, CLI_USAGE, 0, 0, "--render: %s", cr_graph_error(c->g)->message);
    return CLI_OK;
}

/* ---- a saved model's picture (dot and explain --model) ---- */

/* A copy of m built for one row (the picture's shapes are a sample's,
 * with a batch axis of 1), with m's parameters, batch norm statistics and
 * input statistics; NULL with err set. */
static cr_model *one_row_copy(const cr_model *m, cr_error *err)
{
    cr_layer_spec layers[CR_MODEL_MAX_LAYERS];
    size_t shape[CR_MAX_RANK];
    const size_t n = cr_model_num_layers(m);
    for (size_t i = 0; i < n; i++)
        layers[i] = *cr_model_layer(m, i);
    const int rank = cr_model_layer_shape(m, (size_t)-1, shape);
    cr_model_options o = *cr_model_get_options(m);
    o.batch = 1;
    cr_model *one = cr_model_new(layers, n, rank, shape, &o, err);
    cr_status st = one ? CR_OK : err->status;
    for (size_t i = 0; i < n && st == CR_OK; i++) {
        for (size_t j = 0; j < cr_model_layer_num_params(m, i) && st == CR_OK; j++)
            st = cr_node_set_value(cr_model_layer_param(one, i, j),
                                   cr_node_value(cr_model_layer_param(m, i, j)));
        if (st == CR_OK && layers[i].kind == CR_LAYER_BATCHNORM)
            st = cr_node_set_state(cr_model_layer_output(one, i),
                                   cr_node_state(cr_model_layer_output(m, i)));
        if (st != CR_OK)
            *err = *cr_graph_error(cr_model_graph(one));
    }
    if (st == CR_OK && cr_model_input_mean(m))
        st = cr_model_set_input_stats(one, cr_model_input_mean(m), cr_model_input_std(m),
                                      err);
    if (st != CR_OK) {
        cr_model_free(one);
        return NULL;
    }
    return one;
}

/* The row of the picture into x (input_size values, before the input
 * statistics) and t (target_size values): the first of --data, or drawn
 * from N(0, 1) (an embedding's indices uniformly from its vocabulary) with
 * the target 0 (class 0 of a one-hot classifier). */
static int model_row(cli *c, double *x, double *t)
{
    cr_model *m = c->model;
    const size_t ni = cr_model_input_size(m), nt = cr_model_target_size(m);
    const int onehot = cr_model_get_options(m)->loss == CR_LOSS_XENT;
    if (c->model_data.csv) {
        cr_dataset *ds =
            cli_nn_load(c, &c->model_data, ni, nt, onehot ? cr_model_output_size(m) : 0, 1);
        if (!ds)
            return CLI_USAGE;
        if (cr_dataset_rows(ds) == 0) {
            cr_dataset_free(ds);
            return cli_fail(c, CLI_USAGE, 0, 0, "%s has no rows",
                            cli_nn_data_name(&c->model_data));
        }
        memcpy(x, cr_tensor_data(cr_dataset_features(ds)), ni * sizeof *x);
        memcpy(t, cr_tensor_data(cr_dataset_targets(ds)), nt * sizeof *t);
        cr_dataset_free(ds);
        return CLI_OK;
    }
    /* an embedding's input is indices: drawn uniformly from its vocabulary */
    const cr_layer_spec *first = cr_model_layer(m, 0);
    const size_t vocab = first->kind == CR_LAYER_EMBED ? first->vocab : 0;
    char text[64];
    snprintf(text, sizeof text, "%s(%zu)", vocab ? "rand" : "randn", ni);
    cr_tensor *r;
    cr_error err;
    if (cr_expr_parse_value(text, strlen(text), c->seed, &r, &err) != CR_OK)
        return cli_fail(c, CLI_USAGE, 0, 0, "--model: %s", err.message);
    for (size_t k = 0; k < ni; k++) {
        const double v = cr_tensor_data(r)[k];
        x[k] = vocab ? floor(v * (double)vocab) : v;
    }
    cr_tensor_free(r);
    memset(t, 0, nt * sizeof *t);
    if (onehot)
        t[0] = 1.0;
    return CLI_OK;
}

int cli_model_picture_load(cli *c)
{
    if (c->n_at || c->n_wrt || c->of)
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "--model: the model runs on one row (of --data, or drawn); "
                        "--at, --wrt and --of are for programs");
    cr_error err;
    cr_model *saved = cr_model_load(cli_input_path(c->model_path), &err);
    if (!saved)
        return cli_fail(c, CLI_USAGE, 0, 0, "--model: %s", err.message);
    c->model = one_row_copy(saved, &err);
    cr_model_free(saved);
    if (!c->model)
        return cli_fail(c, CLI_USAGE, 0, 0, "--model %s: %s", c->model_path, err.message);
    cr_model *m = c->model;
    c->g = cr_model_graph(m);
    if (c->trap)
        cr_graph_set_flags(c->g, cr_graph_flags(c->g) | CR_GRAPH_TRAP_NONFINITE);
    const size_t ni = cr_model_input_size(m), nt = cr_model_target_size(m);
    double *x = calloc(ni + nt, sizeof *x);
    if (!x)
        return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    int rc = model_row(c, x, x + ni);
    const double *mean = cr_model_input_mean(m), *sd = cr_model_input_std(m);
    for (size_t k = 0; mean && k < ni; k++)
        x[k] = (x[k] - mean[k]) / sd[k];
    if (rc == CLI_OK) {
        cr_model_set_training(m, 0);
        if (cr_model_set_rows(m, 1, &err) != CR_OK)
            rc = cli_fail(c, CLI_USAGE, 0, 0, "--model: %s", err.message);
    }
    if (rc == CLI_OK && (cr_node_set_data(cr_model_input(m), x, ni) != CR_OK ||
                         cr_node_set_data(cr_model_target(m), x + ni, nt) != CR_OK ||
                         cr_graph_forward(c->g, cr_model_loss(m)) != CR_OK))
        rc = cli_fail(c, CLI_EVAL, 0, 0, "--model: %s", cr_graph_error(c->g)->message);
    free(x);
    return rc;
}

void cli_model_picture_free(cli *c)
{
    if (!c->model)
        return;
    if (c->g == cr_model_graph(c->model))
        c->g = NULL;
    cr_model_free(c->model);
    c->model = NULL;
}

cr_node *cli_output_node(const cli *c)
{
    return c->model ? cr_model_loss(c->model) : cr_expr_output(c->prog)->node;
}

const char *cli_output_name(const cli *c)
{
    return c->model ? cr_node_name(cr_model_loss(c->model)) : cr_expr_output(c->prog)->name;
}
