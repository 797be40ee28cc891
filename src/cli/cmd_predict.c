/*
 * cmd_predict.c - `chainrule predict`: loads a model file and prints one
 * prediction per data row, as CSV (the class and the outputs for a
 * classifier, the outputs otherwise) or as JSON.
 */
#include "cli_nn.h"
#include "commands.h"

#include <stdlib.h>
#include <string.h>

static const cli_option_use options[] = {
    {CLI_OPT_MODEL, NULL, NULL},
    {CLI_OPT_DATA, NULL, "rows to predict (header optional)"},
    {CLI_OPT_TARGET, NULL, "a column to ignore (name or 1-based index)"},
    {CLI_OPT_HEADER, NULL, NULL},
    {CLI_OPT_NO_HEADER, NULL, NULL},
    {CLI_OPT_MAX_INPUT, NULL, NULL},
    {CLI_OPT_IDX_IMAGES, NULL, NULL},
    {CLI_OPT_JSON, NULL,
     "{\"outputs\": [[...], ...]} plus \"classes\": [...] for a classifier"},
};

const cli_spec cli_spec_predict = {
    .name = "predict",
    .usage = "Usage: chainrule predict --model M (--data F.csv | --idx-images F) [--json]\n"
             "\n"
             "Prints one prediction per row of the data: for a classifier the predicted\n"
             "class then the outputs (class probabilities), otherwise the outputs, as CSV\n"
             "with a header line. The data's columns are the model's inputs; a CSV file\n"
             "with one column more (or with --target COL) has that target column ignored.\n"
             "\n",
    CLI_SPEC_OPTIONS(options),
    .epilogue = "\nAny input may be '-' (standard input) or a pipe; each is read once.\n",
    .column = 18,
};

static void print_predictions(cli *c, const cli_model *m, const double *out, size_t rows)
{
    const size_t no = cli_model_outputs(m);
    const size_t k = cli_model_classes(m);
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
                printf("%s%zu", r ? ", " : "", cli_model_class(m, out + r * no));
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
            printf("%zu,", cli_model_class(m, out + r * no));
        for (size_t j = 0; j < no; j++)
            printf("%s%.10g", j ? "," : "", out[r * no + j]);
        printf("\n");
    }
}

int cli_cmd_predict(int argc, char **argv)
{
    cli c = {0};
    cli_nn_data d = {0};
    cli_model m = {0};
    int rc = cli_nn_parse_io(&c, &cli_spec_predict, argc, argv, &d, &m);
    if (rc != CLI_OK) {
        cli_model_free(&m);
        return cli_finish(&c, rc < 0 ? CLI_OK : rc);
    }
    cr_dataset *ds = cli_nn_load(&c, &d, cli_model_inputs(&m), cli_model_outputs(&m), 0, 0);
    double *out = NULL;
    if (!ds)
        rc = CLI_USAGE;
    else if ((rc = cli_nn_predict(&c, &m, ds, cli_nn_data_name(&d), &out)) == CLI_OK)
        print_predictions(&c, &m, out, cr_dataset_rows(ds));
    free(out);
    cr_dataset_free(ds);
    cli_model_free(&m);
    return cli_finish(&c, rc);
}
