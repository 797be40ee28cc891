/*
 * cmd_evaluate.c - `chainrule evaluate`: loads a model file and reports
 * its loss on a labelled data set, with the accuracy and the confusion
 * matrix for a classifier, for people or as JSON.
 */
#include "cli_nn.h"
#include "commands.h"

#include <string.h>

const char cli_help_evaluate[] =
    "Usage: chainrule evaluate --model M (--data F.csv [--target COL] |\n"
    "                          --idx-images F --idx-labels F) [--json]\n"
    "\n"
    "Prints the model's loss per row on the data and, for a classifier, the\n"
    "accuracy and the confusion matrix (rows: true class, columns: predicted).\n"
    "\n"
    "  --model M       a model file written by chainrule train --model\n"
    "  --data F.csv    labelled rows; --target COL names the target column (name\n"
    "                  or 1-based index, default the last); class labels 0..K-1\n"
    "                  for a softmax model\n"
    "  --idx-images F --idx-labels F   IDX files (plain or .gz)\n"
    "  --json          {\"rows\": N, \"loss\": L, \"accuracy\": A, \"confusion\": [[...]]}\n";

int cli_cmd_evaluate(int argc, char **argv)
{
    cli c = {.cmd = "evaluate", .help = cli_help_evaluate};
    cli_nn_data d = {0};
    const char *model = NULL;
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(cli_help_evaluate, stdout);
            return cli_finish(&c, CLI_OK);
        }
        if (strcmp(argv[i], "--json") == 0) {
            c.json = 1;
            continue;
        }
        const char *names[5] = {"--model", "--data", "--target", "--idx-images",
                                "--idx-labels"};
        const char **fields[5] = {&model, &d.csv, &d.target, &d.idx_images, &d.idx_labels};
        int matched = 0;
        for (int k = 0; k < 5 && !matched; k++) {
            if ((r = cli_nn_opt(&c, names[k], argc, argv, &i, &v)) < 0)
                return CLI_USAGE;
            if (r > 0) {
                *fields[k] = v;
                matched = 1;
            }
        }
        if (!matched)
            return cli_fail(&c, CLI_USAGE, 0, 0,
                            "unknown option '%s' (see chainrule help evaluate)", argv[i]);
    }
    if (!model)
        return cli_fail(&c, CLI_USAGE, 0, 0, "--model is required");
    cr_error err;
    cr_mlp *m = cr_mlp_load(model, NULL, &err);
    if (!m)
        return cli_fail(&c, CLI_USAGE, 0, 0, "%s", err.message);
    const cr_mlp_spec *s = cr_mlp_get_spec(m);
    const size_t classes = s->out_act == CR_ACT_SOFTMAX ? s->n_outputs : 0;
    int rc = CLI_OK;
    cr_dataset *ds = cli_nn_load(&c, &d, s->n_inputs, s->n_outputs, classes, 1);
    cr_eval_result r = {0};
    if (!ds) {
        rc = CLI_USAGE;
    } else if (cr_mlp_evaluate(m, cr_tensor_data(cr_dataset_features(ds)),
                               cr_tensor_data(cr_dataset_targets(ds)), cr_dataset_rows(ds), &r,
                               &err) != CR_OK) {
        rc = cli_fail(&c, CLI_USAGE, 0, 0, "%s", err.message);
    } else {
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
    cr_mlp_free(m);
    return cli_finish(&c, rc);
}
