/*
 * cli_nn.h - what `chainrule train`, `predict` and `evaluate` share:
 * option matching, loading a data set (CSV or IDX) for a model's widths,
 * JSON numbers that are null when missing, and the evaluation report.
 */
#ifndef CR_CLI_NN_H
#define CR_CLI_NN_H

#include "cli_common.h"

/* Matches argv[*i] against "--name VALUE" or "--name=VALUE". Returns 1 and
 * sets *value (advancing *i past a separate value), 0 if it is another
 * option, -1 if the value is missing (message printed). */
int cli_nn_opt(cli *c, const char *name, int argc, char **argv, int *i, const char **value);

/* Parses a number or a count for option name; prints an error and returns
 * -1 on a bad value (not a number, out of [lo, hi]), else 0. */
int cli_nn_double(cli *c, const char *name, const char *text, double lo, double hi,
                  double *out);
int cli_nn_size(cli *c, const char *name, const char *text, size_t lo, size_t *out);

/* Where the data comes from. */
typedef struct cli_nn_data {
    const char *csv;        /* --data F.csv */
    const char *target;     /* --target COL (name or 1-based index) */
    const char *idx_images; /* --idx-images F */
    const char *idx_labels; /* --idx-labels F */
} cli_nn_data;

/* Loads the data set for a model with n_inputs inputs and n_outputs
 * outputs; classes > 0 makes labels one-hot rows of that many classes.
 * targets: 1 = required, 0 = none (predict: every column is a feature unless
 * there is one column more than the model takes, or --target names it).
 * Prints the error and returns NULL on failure (the data width must match
 * the model: "data.csv has 5 feature columns, the model takes 4"). */
cr_dataset *cli_nn_load(cli *c, const cli_nn_data *d, size_t n_inputs, size_t n_outputs,
                        size_t classes, int targets);

/* Parses the arguments of predict and evaluate: --model M, --data F,
 * --target COL, --idx-images F, --idx-labels F (when labels is 1), --json
 * and --help. Then loads the model into *m (new). Returns CLI_OK,
 * CLI_USAGE (message printed) or -1 after printing the help. */
int cli_nn_parse_io(cli *c, int argc, char **argv, int labels, cli_nn_data *d, cr_mlp **m);

/* JSON number, or null for NaN. */
void cli_nn_json_number(FILE *out, double v);

/* Writes `, "name": v` (v as cli_nn_json_number). */
void cli_nn_json_member(FILE *out, const char *name, double v);

/* Prints an evaluation: rows, loss, accuracy and the confusion matrix for
 * people, or as the members of a JSON object (without braces) under json. */
void cli_nn_print_eval(FILE *out, const cr_eval_result *r, int json);

#endif
