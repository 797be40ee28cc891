/*
 * cmd_predict.c - `chainrule predict`: loads a model file and prints one
 * prediction per data row, as CSV (the class and the outputs for a
 * classifier, the outputs otherwise) or as JSON.
 */
#include "cli_nn.h"
#include "commands.h"

#include <stdlib.h>
#include <string.h>

const char cli_help_predict[] =
    "Usage: chainrule predict --model M (--data F.csv | --idx-images F) [--json]\n"
    "\n"
    "Prints one prediction per row of the data: for a classifier the predicted\n"
    "class then the outputs (class probabilities), otherwise the outputs, as CSV\n"
    "with a header line. The data's columns are the model's inputs; a CSV file\n"
    "with one column more (or with --target COL) has that target column ignored.\n"
    "\n"
    "  --model M       a model file written by chainrule train --model\n"
    "  --data F.csv    rows to predict (header optional)\n"
    "  --target COL    a column to ignore (name or 1-based index)\n"
    "  --idx-images F  IDX images (MNIST format, plain or .gz), scaled to [0, 1]\n"
    "  --json          {\"outputs\": [[...], ...]} plus \"classes\": [...] for a classifier\n";

static size_t argmax_row(const double *v, size_t n)
{
    size_t best = 0;
    for (size_t j = 1; j < n; j++)
        if (v[j] > v[best])
            best = j;
    return best;
}

static size_t class_of(const double *row, size_t no)
{
    return no == 1 ? (size_t)(row[0] >= 0.5) : argmax_row(row, no);
}

static void print_predictions(cli *c, const double *out, size_t rows, size_t no, size_t k)
{
    if (c->json) {
        printf("{\"outputs\": [");
        for (size_t r = 0; r < rows; r++) {
            printf("%s[", r ? ", " : "");
            for (size_t j = 0; j < no; j++) {
                printf("%s", j ? ", " : "");
                cli_json_number(stdout, out[r * no + j]);
            }
            printf("]");
        }
        printf("]");
        if (k) {
            printf(", \"classes\": [");
            for (size_t r = 0; r < rows; r++)
                printf("%s%zu", r ? ", " : "", class_of(out + r * no, no));
            printf("]");
        }
        printf("}\n");
        c->json_done = 1;
        return;
    }
    if (k)
        printf("class,");
    for (size_t j = 0; j < no; j++)
        printf("%sy%zu", j ? "," : "", j + 1);
    printf("\n");
    for (size_t r = 0; r < rows; r++) {
        if (k)
            printf("%zu,", class_of(out + r * no, no));
        for (size_t j = 0; j < no; j++)
            printf("%s%.10g", j ? "," : "", out[r * no + j]);
        printf("\n");
    }
}

int cli_cmd_predict(int argc, char **argv)
{
    cli c = {.cmd = "predict", .help = cli_help_predict};
    cli_nn_data d = {0};
    const char *model = NULL;
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(cli_help_predict, stdout);
            return cli_finish(&c, CLI_OK);
        }
        if (strcmp(argv[i], "--json") == 0) {
            c.json = 1;
            continue;
        }
        const char *names[4] = {"--model", "--data", "--target", "--idx-images"};
        const char **fields[4] = {&model, &d.csv, &d.target, &d.idx_images};
        int matched = 0;
        for (int k = 0; k < 4 && !matched; k++) {
            if ((r = cli_nn_opt(&c, names[k], argc, argv, &i, &v)) < 0)
                return CLI_USAGE;
            if (r > 0) {
                *fields[k] = v;
                matched = 1;
            }
        }
        if (!matched)
            return cli_fail(&c, CLI_USAGE, 0, 0,
                            "unknown option '%s' (see chainrule help predict)", argv[i]);
    }
    if (!model)
        return cli_fail(&c, CLI_USAGE, 0, 0, "--model is required");
    cr_error err;
    cr_mlp *m = cr_mlp_load(model, NULL, &err);
    if (!m)
        return cli_fail(&c, CLI_USAGE, 0, 0, "%s", err.message);
    const cr_mlp_spec *s = cr_mlp_get_spec(m);
    int rc = CLI_OK;
    cr_dataset *ds = cli_nn_load(&c, &d, s->n_inputs, s->n_outputs, 0, 0);
    double *out = NULL;
    if (!ds) {
        rc = CLI_USAGE;
    } else if (!(out = malloc(cr_dataset_rows(ds) * s->n_outputs * sizeof *out))) {
        rc = cli_fail(&c, CLI_USAGE, 0, 0, "out of memory");
    } else if (cr_mlp_predict(m, cr_tensor_data(cr_dataset_features(ds)), cr_dataset_rows(ds),
                              out, &err) != CR_OK) {
        rc = cli_fail(&c, CLI_USAGE, 0, 0, "%s", err.message);
    } else {
        print_predictions(&c, out, cr_dataset_rows(ds), s->n_outputs, cr_mlp_num_classes(m));
    }
    free(out);
    cr_dataset_free(ds);
    cr_mlp_free(m);
    return cli_finish(&c, rc);
}
