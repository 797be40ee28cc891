/*
 * cli_nn.c - helpers of the neural-network subcommands (train, predict,
 * evaluate): option matching and number parsing, data loading (CSV or
 * IDX) checked against the model's widths, and the evaluation report.
 */
#include "cli_nn.h"

#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int cli_nn_opt(cli *c, const char *name, int argc, char **argv, int *i, const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        cli_fail(c, CLI_USAGE, 0, 0, "%s needs a value", name);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

int cli_nn_double(cli *c, const char *name, const char *text, double lo, double hi,
                  double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v) || v < lo ||
        v > hi) {
        cli_fail(c, CLI_USAGE, 0, 0, "%s: '%s' is not a number in [%g, %g]", name, text, lo,
                 hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_nn_size(cli *c, const char *name, const char *text, size_t lo, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE || text[0] == '-' || v < lo ||
        v > (unsigned long long)SIZE_MAX) {
        cli_fail(c, CLI_USAGE, 0, 0, "%s: '%s' is not a whole number >= %zu", name, text,
                 lo);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

static cr_dataset *load_csv(const cli_nn_data *d, size_t classes, int targets,
                            cr_error *err)
{
    const char *const tcols[1] = {d->target};
    cr_csv_options o = {0};
    o.no_targets = !targets;
    if (targets && d->target) {
        o.targets = tcols;
        o.num_targets = 1;
    }
    o.one_hot = targets && classes > 0;
    o.num_classes = classes;
    return cr_csv_load(d->csv, &o, err);
}

cr_dataset *cli_nn_load(cli *c, const cli_nn_data *d, size_t n_inputs, size_t n_outputs,
                        size_t classes, int targets)
{
    cr_error err;
    cr_dataset *ds = NULL;
    const char *name = d->csv ? d->csv : d->idx_images;
    if (d->csv && (d->idx_images || d->idx_labels)) {
        cli_fail(c, CLI_USAGE, 0, 0, "give --data or --idx-images/--idx-labels, not both");
        return NULL;
    }
    if (d->csv) {
        /* predict: a file with one column more than the model takes, or
         * with --target, carries targets to be dropped */
        int with_targets = targets || d->target;
        ds = load_csv(d, with_targets ? classes : 0, with_targets, &err);
        if (ds && !targets && !d->target && cr_dataset_cols(ds) == n_inputs + 1) {
            cr_dataset_free(ds);
            ds = load_csv(d, 0, 1, &err);
        }
    } else if (d->idx_images && (d->idx_labels || !targets)) {
        cr_idx_options o = {.scale = 1, .one_hot = classes > 0, .num_classes = classes};
        if (d->idx_labels) {
            ds = cr_idx_load(d->idx_images, d->idx_labels, &o, &err);
        } else {
            cr_tensor *x = cr_idx_read(d->idx_images, &o, &err);
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
    if (cr_dataset_cols(ds) != n_inputs) {
        cli_fail(c, CLI_USAGE, 0, 0, "%s has %zu feature columns, the model takes %zu",
                 name, cr_dataset_cols(ds), n_inputs);
        cr_dataset_free(ds);
        return NULL;
    }
    if (targets && cr_dataset_target_cols(ds) != n_outputs) {
        cli_fail(c, CLI_USAGE, 0, 0, "%s has %zu target columns, the model has %zu outputs",
                 name, cr_dataset_target_cols(ds), n_outputs);
        cr_dataset_free(ds);
        return NULL;
    }
    return ds;
}

int cli_nn_parse_io(cli *c, int argc, char **argv, int labels, cli_nn_data *d, cr_mlp **m)
{
    const char *model = NULL;
    const char *names[5] = {"--model", "--data", "--target", "--idx-images",
                            "--idx-labels"};
    const char **fields[5] = {&model, &d->csv, &d->target, &d->idx_images, &d->idx_labels};
    const int n_opts = labels ? 5 : 4;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(c->help, stdout);
            return -1;
        }
        if (strcmp(argv[i], "--json") == 0) {
            c->json = 1;
            continue;
        }
        int matched = 0;
        for (int k = 0; k < n_opts && !matched; k++) {
            const char *v;
            int r = cli_nn_opt(c, names[k], argc, argv, &i, &v);
            if (r < 0)
                return CLI_USAGE;
            if (r > 0) {
                *fields[k] = v;
                matched = 1;
            }
        }
        if (!matched)
            return cli_fail(c, CLI_USAGE, 0, 0,
                            "unknown option '%s' (see chainrule help %s)", argv[i], c->cmd);
    }
    if (!model)
        return cli_fail(c, CLI_USAGE, 0, 0, "--model is required");
    cr_error err;
    if (!(*m = cr_mlp_load(model, NULL, &err)))
        return cli_fail(c, CLI_USAGE, 0, 0, "%s", err.message);
    return CLI_OK;
}

void cli_nn_json_number(FILE *out, double v)
{
    if (isnan(v))
        fputs("null", out);
    else
        cli_json_number(out, v);
}

void cli_nn_json_member(FILE *out, const char *name, double v)
{
    fprintf(out, ", \"%s\": ", name);
    cli_nn_json_number(out, v);
}

void cli_nn_print_eval(FILE *out, const cr_eval_result *r, int json)
{
    const size_t k = r->n_classes;
    if (json) {
        fprintf(out, "\"rows\": %zu, \"loss\": ", r->rows);
        cli_nn_json_number(out, r->loss);
        if (k)
            cli_nn_json_member(out, "accuracy", r->accuracy);
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
    fprintf(out, "rows      %zu\nloss      %.6g\n", r->rows, r->loss);
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
