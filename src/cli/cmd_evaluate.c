/*
 * cmd_evaluate.c - `chainrule evaluate`: loads a model file and reports
 * its loss on a labelled data set (or a character model's on a text
 * file), with the accuracy and the confusion matrix for a classifier, for
 * people or as JSON.
 */
#include "cli_nn.h"
#include "commands.h"

#include <string.h>

static const cli_option_use options[] = {
    {CLI_OPT_MODEL, NULL, NULL},
    {CLI_OPT_DATA, NULL, "labelled rows (header optional)"},
    {CLI_OPT_TARGET, NULL, NULL},
    {CLI_OPT_HEADER, NULL, NULL},
    {CLI_OPT_NO_HEADER, NULL, NULL},
    {CLI_OPT_MAX_INPUT, NULL, NULL},
    {CLI_OPT_IDX_IMAGES, NULL, NULL},
    {CLI_OPT_IDX_LABELS, NULL, NULL},
    {CLI_OPT_TEXT, NULL,
     "a text file (plain or .gz) for a character model: the loss\n"
     "per byte of the next byte, over the windows of the text"},
    {CLI_OPT_JSON, NULL,
     "{\"rows\": N, \"loss\": L, \"accuracy\": A, \"confusion\": [[...]]}"},
};

const cli_spec cli_spec_evaluate = {
    .name = "evaluate",
    .usage =
        "Usage: chainrule evaluate --model M (--data F.csv [--target COL] |\n"
        "                          --idx-images F --idx-labels F | --text F) [--json]\n"
        "\n"
        "Prints the model's loss per row on the data and, for a classifier, the\n"
        "accuracy and the confusion matrix (rows: true class, columns: predicted).\n"
        "For a character model (--text) the rows are the text's windows and the\n"
        "loss is per predicted byte (nats; its accuracy per byte too).\n"
        "\n",
    CLI_SPEC_OPTIONS(options),
    .epilogue = "\nAny input may be '-' (standard input) or a pipe; each is read once.\n",
    .column = 18,
};

int cli_cmd_evaluate(int argc, char **argv)
{
    cli c = {0};
    cli_nn_data d = {0};
    cli_model m = {0};
    int rc = cli_nn_parse_io(&c, &cli_spec_evaluate, argc, argv, &d, &m);
    if (rc != CLI_OK) {
        cli_model_free(&m);
        return cli_finish(&c, rc < 0 ? CLI_OK : rc);
    }
    cr_dataset *ds = d.text ? cli_nn_load_text(&c, &d, &m)
                            : cli_nn_load(&c, &d, cli_model_inputs(&m),
                                          cli_model_targets(&m), cli_model_onehot(&m), 1);
    cr_eval_result r = {0};
    if (!ds) {
        rc = CLI_USAGE;
    } else if ((rc = cli_nn_evaluate(&c, &m, ds, cli_nn_data_name(&d), &r)) == CLI_OK) {
        if (c.json)
            printf("{");
        cli_nn_print_eval(stdout, &r, c.json);
        if (c.json) {
            printf("}\n");
            c.json_done = 1;
        }
    }
    cr_eval_result_free(&r);
    cr_dataset_free(ds);
    cli_model_free(&m);
    return cli_finish(&c, rc);
}
