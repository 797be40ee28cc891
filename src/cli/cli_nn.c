/*
 * cli_nn.c - helpers of the neural-network subcommands (train, predict,
 * evaluate): a model of either kind (MLP or layers), data loading (CSV or
 * IDX) checked against the model's widths, the options of predict and
 * evaluate, and the evaluation report.
 */
#include "cli_nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- a model of either kind ---- */

void cli_model_free(cli_model *m)
{
    cr_mlp_free(m->mlp);
    cr_model_free(m->model);
    m->mlp = NULL;
    m->model = NULL;
}

size_t cli_model_inputs(const cli_model *m)
{
    return m->mlp ? cr_mlp_get_spec(m->mlp)->n_inputs : cr_model_input_size(m->model);
}

size_t cli_model_outputs(const cli_model *m)
{
    return m->mlp ? cr_mlp_get_spec(m->mlp)->n_outputs : cr_model_output_size(m->model);
}

size_t cli_model_targets(const cli_model *m)
{
    return m->mlp ? cr_mlp_get_spec(m->mlp)->n_outputs : cr_model_target_size(m->model);
}

size_t cli_model_onehot(const cli_model *m)
{
    if (m->mlp)
        return cr_mlp_get_spec(m->mlp)->out_act == CR_ACT_SOFTMAX ? cli_model_outputs(m)
                                                                  : 0;
    return cr_model_get_options(m->model)->loss == CR_LOSS_XENT ? cli_model_outputs(m) : 0;
}

size_t cli_model_classes(const cli_model *m)
{
    if (m->mlp)
        return cr_mlp_num_classes(m->mlp);
    const size_t k = cr_model_num_classes(m->model), no = cli_model_outputs(m);
    return (k == 2 && no == 1) || (k >= 2 && k == no) ? k : 0;
}

size_t cli_model_class(const cli_model *m, const double *row)
{
    if (m->mlp)
        return cr_mlp_output_class(m->mlp, row);
    const size_t k = cli_model_classes(m), no = cli_model_outputs(m);
    if (k == 0)
        return 0;
    if (no == 1)
        return row[0] >= 0.5;
    size_t best = 0;
    for (size_t j = 1; j < no; j++)
        if (row[j] > row[best])
            best = j;
    return best;
}

cr_status cli_model_save(const cli_model *m, const char *path, cr_error *err)
{
    return m->mlp ? cr_mlp_save(m->mlp, path, err) : cr_model_save(m->model, path, err);
}

/* ---- data ---- */

int cli_nn_data_option(cli *c, cli_opt id, const char *value, cli_nn_data *d,
                       cli_nn_data *also)
{
    size_t bytes;
    switch (id) {
    case CLI_OPT_HEADER:
    case CLI_OPT_NO_HEADER:
        d->header = id == CLI_OPT_HEADER ? CR_CSV_HEADER_YES : CR_CSV_HEADER_NO;
        break;
    case CLI_OPT_MAX_INPUT:
        if (cli_option_size(c, id, value, 1, &bytes) != 0)
            return CLI_USAGE;
        d->max_input = bytes;
        break;
    default:
        return -2;
    }
    if (also) {
        also->header = d->header;
        also->max_input = d->max_input;
    }
    return CLI_OK;
}

static cr_dataset *load_csv(const cli_nn_data *d, size_t classes, int targets,
                            cr_error *err)
{
    const char *const tcols[1] = {d->target};
    cr_csv_options o = {0};
    cr_csv_header_info hi;
    o.no_targets = !targets;
    if (targets && d->target) {
        o.targets = tcols;
        o.num_targets = 1;
    }
    o.one_hot = targets && classes > 0;
    o.num_classes = classes;
    o.header = (cr_csv_header)d->header;
    o.max_input = d->max_input;
    o.header_info = &hi;
    cr_dataset *ds = cr_csv_load(cli_input_path(d->csv), &o, err);
    /* a first line of numbers with one word in it is more likely a typo in
     * the data than a header: say what was decided, and how to decide */
    if (ds && hi.detected && hi.is_header && hi.numbers > 0)
        fprintf(stderr,
                "chainrule: warning: %s: line %zu was read as a header because field %zu "
                "('%s') is not a number, though %zu of its %zu fields are; give "
                "--no-header if it is data, --header to silence this\n",
                cli_nn_data_name(d), hi.line, hi.text_column, hi.text, hi.numbers,
                hi.fields);
    return ds;
}

/* The data set without its last feature column (ds is freed), or NULL. */
static cr_dataset *drop_last_column(cr_dataset *ds, cr_error *err)
{
    const size_t rows = cr_dataset_rows(ds), cols = cr_dataset_cols(ds);
    const size_t shape[2] = {rows, cols - 1};
    cr_tensor *x = cr_tensor_new(2, shape, err);
    if (x) {
        const double *from = cr_tensor_data(cr_dataset_features(ds));
        double *to = cr_tensor_data_mut(x);
        for (size_t r = 0; r < rows; r++)
            memcpy(to + r * (cols - 1), from + r * cols, (cols - 1) * sizeof *to);
    }
    cr_dataset_free(ds);
    return x ? cr_dataset_new(x, NULL, 0, err) : NULL;
}

int cli_nn_text_model(cli *c, const cli_nn_data *d, const cli_model *m)
{
    size_t nv = 0, shape[CR_MAX_RANK];
    const unsigned char *symbols = m->model ? cr_model_vocab(m->model, &nv) : NULL;
    if (d->csv || d->idx_images || d->idx_labels)
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "--text reads a character model's text: give no other data");
    if (!symbols)
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "--text: the model has no vocabulary: it was not trained on text");
    const size_t steps = cr_model_input_size(m->model);
    const size_t positions = cr_model_target_size(m->model);
    if (cr_model_layer_shape(m->model, (size_t)-1, shape) != 1 ||
        (positions != steps && positions != 1) ||
        cr_model_output_size(m->model) != positions * nv)
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "--text: the model does not read windows of byte ids and predict "
                        "each position or the next byte");
    return CLI_OK;
}

cr_dataset *cli_nn_load_text(cli *c, const cli_nn_data *d, const cli_model *m)
{
    if (cli_nn_text_model(c, d, m) != CLI_OK)
        return NULL;
    size_t nv;
    const unsigned char *symbols = cr_model_vocab(m->model, &nv);
    const size_t steps = cr_model_input_size(m->model);
    const size_t positions = cr_model_target_size(m->model);
    cr_error err;
    const cr_text_options to = {.max_input = d->max_input};
    cr_text *text = cr_text_load(cli_input_path(d->text), &to, &err);
    cr_vocab *v = text ? cr_vocab_new(symbols, nv, &err) : NULL;
    const int every = positions == steps && steps > 1;
    cr_dataset *ds =
        v ? cr_text_windows_vocab(text, v, steps, every ? 0 : 1, every, &err) : NULL;
    cr_vocab_free(v);
    cr_text_free(text);
    if (!ds)
        cli_fail(c, CLI_USAGE, 0, 0, "--text: %s", err.message);
    return ds;
}

cr_dataset *cli_nn_load(cli *c, const cli_nn_data *d, size_t n_inputs, size_t n_outputs,
                        size_t classes, int targets)
{
    cr_error err;
    cr_dataset *ds = NULL;
    if (d->csv && (d->idx_images || d->idx_labels)) {
        cli_fail(c, CLI_USAGE, 0, 0, "give --data or --idx-images/--idx-labels, not both");
        return NULL;
    }
    if (d->csv) {
        /* predict: a file with one column more than the model takes, or
         * with --target, carries targets to be dropped (read once: the
         * file may be a pipe) */
        int with_targets = targets || d->target;
        ds = load_csv(d, with_targets ? classes : 0, with_targets, &err);
        if (ds && !with_targets && cr_dataset_cols(ds) == n_inputs + 1)
            ds = drop_last_column(ds, &err);
    } else if (d->idx_images && (d->idx_labels || !targets)) {
        cr_idx_options o = {.scale = 1,
                            .one_hot = classes > 0,
                            .num_classes = classes,
                            .max_input = d->max_input};
        if (d->idx_labels) {
            ds = cr_idx_load(cli_input_path(d->idx_images), cli_input_path(d->idx_labels),
                             &o, &err);
        } else {
            cr_tensor *x = cr_idx_read(cli_input_path(d->idx_images), &o, &err);
            ds = x ? cr_dataset_new(x, NULL, 0, &err) : NULL;
        }
    } else {
        cli_fail(c, CLI_USAGE, 0, 0,
                 "no data: give --data F.csv or --idx-images F --idx-labels F");
        return NULL;
    }
    if (!ds) {
        cli_fail(c, CLI_USAGE, 0, 0, "%s", err.message);
        return NULL;
    }
    const char *name = cli_nn_data_name(d);
    if (n_inputs && cr_dataset_cols(ds) != n_inputs) {
        cli_fail(c, CLI_USAGE, 0, 0, "%s has %zu feature columns, the model takes %zu",
                 name, cr_dataset_cols(ds), n_inputs);
        cr_dataset_free(ds);
        return NULL;
    }
    if (targets && n_outputs && cr_dataset_target_cols(ds) != n_outputs) {
        cli_fail(c, CLI_USAGE, 0, 0, "%s has %zu target columns, the model has %zu outputs",
                 name, cr_dataset_target_cols(ds), n_outputs);
        cr_dataset_free(ds);
        return NULL;
    }
    return ds;
}

const char *cli_nn_data_name(const cli_nn_data *d)
{
    return cli_input_name(d->csv ? d->csv : d->idx_images ? d->idx_images : "");
}

int cli_nn_predict(cli *c, cli_model *m, cr_dataset *ds, const char *name, double **out)
{
    const size_t rows = cr_dataset_rows(ds), no = cli_model_outputs(m);
    const double *x = cr_tensor_data(cr_dataset_features(ds));
    cr_error err;
    if (!(*out = malloc((rows ? rows : 1) * no * sizeof **out)))
        return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    if ((m->mlp ? cr_mlp_predict(m->mlp, x, rows, *out, &err)
                : cr_model_predict(m->model, x, rows, *out, &err)) != CR_OK) {
        free(*out);
        *out = NULL;
        return err.status == CR_EDOMAIN /* the library's own check of the outputs */
                   ? cli_fail(c, CLI_EVAL, 0, 0, "%s: %s", name, err.message)
                   : cli_fail(c, CLI_USAGE, 0, 0, "%s", err.message);
    }
    for (size_t i = 0; i < rows * no; i++) {
        const double v = (*out)[i];
        if (!isfinite(v)) {
            free(*out);
            *out = NULL;
            return cli_fail(c, CLI_EVAL, 0, 0, "%s: row %zu gives %s as output %zu", name,
                            i / no + 1, cli_nonfinite_name(v), i % no + 1);
        }
    }
    return CLI_OK;
}

int cli_nn_evaluate(cli *c, cli_model *m, cr_dataset *ds, const char *name,
                    cr_eval_result *r)
{
    double *out = NULL;
    int rc = cli_nn_predict(c, m, ds, name, &out);
    free(out);
    if (rc != CLI_OK)
        return rc;
    cr_error err;
    const double *x = cr_tensor_data(cr_dataset_features(ds)),
                 *y = cr_tensor_data(cr_dataset_targets(ds));
    const size_t rows = cr_dataset_rows(ds);
    if ((m->mlp ? cr_mlp_evaluate(m->mlp, x, y, rows, r, &err)
                : cr_model_evaluate(m->model, x, y, rows, r, &err)) != CR_OK)
        return err.status == CR_EDOMAIN
                   ? cli_fail(c, CLI_EVAL, 0, 0, "%s: %s", name, err.message)
                   : cli_fail(c, CLI_USAGE, 0, 0, "%s", err.message);
    return CLI_OK;
}

/* The options of predict and evaluate. */
typedef struct io_options {
    cli_nn_data *d;
    const char *model;
} io_options;

static int io_option(cli *c, void *ctx, cli_opt id, const char *value)
{
    io_options *o = ctx;
    switch (id) {
    case CLI_OPT_MODEL:
        o->model = value;
        break;
    case CLI_OPT_DATA:
        o->d->csv = value;
        break;
    case CLI_OPT_TARGET:
        o->d->target = value;
        break;
    case CLI_OPT_IDX_IMAGES:
        o->d->idx_images = value;
        break;
    case CLI_OPT_IDX_LABELS:
        o->d->idx_labels = value;
        break;
    case CLI_OPT_TEXT:
        o->d->text = value;
        break;
    case CLI_OPT_HEADER:
    case CLI_OPT_NO_HEADER:
    case CLI_OPT_MAX_INPUT:
        return cli_nn_data_option(c, id, value, o->d, NULL);
    default:
        return cli_fail(c, CLI_USAGE, 0, 0, "option '%s' is not handled",
                        cli_option_name(id));
    }
    return CLI_OK;
}

int cli_nn_parse_io(cli *c, const cli_spec *spec, int argc, char **argv, cli_nn_data *d,
                    cli_model *m)
{
    io_options o = {d, NULL};
    int rc = cli_options_parse(c, spec, argc, argv, io_option, &o);
    if (rc != CLI_OK)
        return rc;
    if (!o.model)
        return cli_fail(c, CLI_USAGE, 0, 0, "--model is required");
    cr_error err;
    const int regular = cli_input_rereadable(o.model);
    if (regular) {
        m->mlp = cr_mlp_load(o.model, NULL, &err);
    } else { /* a model file must be regular: read it here */
        char *data = NULL;
        size_t size;
        rc = cli_input_read(c, o.model, 0, &data, &size);
        m->mlp = rc == CLI_OK
                     ? cr_mlp_load_mem(data, size, cli_input_name(o.model), NULL, &err)
                     : NULL;
        free(data);
        if (rc != CLI_OK)
            return rc;
    }
    /* a layer model's file has a version the MLP reader does not read */
    if (!m->mlp && err.status == CR_ENOTSUP) {
        if (!regular)
            return cli_fail(c, CLI_USAGE, 0, 0,
                            "%s: a layer model is read from a regular file only",
                            cli_input_name(o.model));
        m->model = cr_model_load(o.model, &err);
    }
    if (!m->mlp && !m->model)
        return cli_fail(c, CLI_USAGE, 0, 0, "%s", err.message);
    return CLI_OK;
}

void cli_nn_print_eval(FILE *out, const cr_eval_result *r, int json)
{
    const size_t k = r->n_classes;
    if (json) {
        fprintf(out, "\"rows\": %zu, \"loss\": ", r->rows);
        cli_json_number(out, r->loss);
        if (k) {
            fprintf(out, ", \"accuracy\": ");
            cli_json_number(out, r->accuracy);
        }
        if (k && r->confusion) {
            fprintf(out, ", \"confusion\": [");
            for (size_t i = 0; i < k; i++) {
                fprintf(out, "%s[", i ? ", " : "");
                for (size_t j = 0; j < k; j++)
                    fprintf(out, "%s%zu", j ? ", " : "", r->confusion[i * k + j]);
                fprintf(out, "]");
            }
            fprintf(out, "]");
        }
        return;
    }
    fprintf(out, "rows      %zu\nloss      ", r->rows);
    if (isfinite(r->loss))
        fprintf(out, "%.6g\n", r->loss);
    else
        fprintf(out, "%s\n", cli_nonfinite_name(r->loss));
    if (!k)
        return;
    fprintf(out, "accuracy  %.4f\n", r->accuracy);
    if (!r->confusion) {
        fprintf(out, "confusion matrix not kept (%zu classes; the limit is %d)\n", k,
                CR_EVAL_CONFUSION_MAX);
        return;
    }
    fprintf(out, "confusion matrix (rows: true class, columns: predicted)\n");
    fprintf(out, "      ");
    for (size_t j = 0; j < k; j++)
        fprintf(out, " %6zu", j);
    fprintf(out, "\n");
    for (size_t i = 0; i < k; i++) {
        fprintf(out, "%6zu", i);
        for (size_t j = 0; j < k; j++)
            fprintf(out, " %6zu", r->confusion[i * k + j]);
        fprintf(out, "\n");
    }
}
