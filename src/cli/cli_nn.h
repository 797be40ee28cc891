/*
 * cli_nn.h - what `chainrule train`, `predict` and `evaluate` share: a
 * model of either kind (an MLP or a layer model), loading a data set (CSV
 * or IDX) for a model's widths, the options of predict and evaluate, and
 * the evaluation report.
 */
#ifndef CR_CLI_NN_H
#define CR_CLI_NN_H

#include "cli_common.h"

#include <chainrule/model.h>

/* A model of either kind: an MLP (--arch; model files of format version
 * 1) or a layer model (--layers; version 2). One of the two is set; the
 * cli_model_* calls work on whichever it is. */
typedef struct cli_model {
    cr_mlp *mlp;
    cr_model *model;
} cli_model;

/* Frees the model and clears m. */
void cli_model_free(cli_model *m);

/* Values in an input row, an output row and a target row. */
size_t cli_model_inputs(const cli_model *m);
size_t cli_model_outputs(const cli_model *m);
size_t cli_model_targets(const cli_model *m);

/* The number of classes K when the targets are one-hot rows of K (softmax
 * cross-entropy), else 0 (the targets are read as they are). */
size_t cli_model_onehot(const cli_model *m);

/* As cr_mlp_num_classes: K for a classifier with one class per row (K
 * outputs, or 2 for one sigmoid unit), 0 otherwise (a regressor, or a
 * model that classifies every position of a sequence). */
size_t cli_model_classes(const cli_model *m);

/* The class a classifier's output row stands for, as cr_mlp_output_class:
 * the largest output, or 1 for one sigmoid unit >= 0.5 (0 for a model
 * that is not a classifier). The row must be finite. */
size_t cli_model_class(const cli_model *m, const double *row);

/* Saves the model to path (atomically). */
cr_status cli_model_save(const cli_model *m, const char *path, cr_error *err);

/* Where the data comes from: cli_nn_data, in cli_common.h (dot --model
 * reads a row too). */

/* Handles the options that every data source shares (--header,
 * --no-header, --max-input) for d and, when not NULL, also: the test
 * data of train. Returns CLI_OK, an exit status after reporting a bad
 * value, or -2 when id is not one of them. */
int cli_nn_data_option(cli *c, cli_opt id, const char *value, cli_nn_data *d,
                       cli_nn_data *also);

/* Loads the data set for a model with n_inputs inputs and n_outputs
 * target columns (0: any number of either); classes > 0 makes labels
 * one-hot rows of that many classes.
 * targets: 1 = required, 0 = none (predict: every column is a feature unless
 * there is one column more than the model takes, or --target names it).
 * Prints the error and returns NULL on failure (the data width must match
 * the model: "data.csv has 5 feature columns, the model takes 4"). */
cr_dataset *cli_nn_load(cli *c, const cli_nn_data *d, size_t n_inputs, size_t n_outputs,
                        size_t classes, int targets);

/* Checks that --text comes without other data and that m is a character
 * model: a layer model with a vocabulary of V bytes reading windows of T
 * byte ids, whose output is V scores for each of the T positions or for
 * the next byte. Returns CLI_OK, or exit status 2 with the problem
 * reported. */
int cli_nn_text_model(cli *c, const cli_nn_data *d, const cli_model *m);

/* The windows of the text file d->text for the character model m (one
 * with a vocabulary, reading windows of T byte ids): encoded with the
 * model's vocabulary, windows that follow each other with every byte's
 * next byte as targets when the model predicts every position, else
 * windows starting at every byte with the byte after each as its target.
 * Prints the error (a model without a vocabulary or of another shape, a
 * byte the model does not know, a text too short: exit status 2) and
 * returns NULL on failure. */
cr_dataset *cli_nn_load_text(cli *c, const cli_nn_data *d, const cli_model *m);

/* The name of the data in messages: the CSV file, or the IDX images
 * ("<stdin>" for "-"). */
const char *cli_nn_data_name(const cli_nn_data *d);

/* The model's outputs for every row of ds, as a new array *out of rows x
 * n_outputs (free it). A NaN or infinite output is an evaluation error
 * (CLI_EVAL) naming the data and its row: the library's CR_EDOMAIN ("d.csv:
 * predict: row 2 gives nan as output 1 (...)"), or, should the library let
 * one through, the CLI's own check of every output ("d.csv: row 2 gives
 * nan as output 1"). Returns an exit status (the problem reported; *out is
 * then NULL). */
int cli_nn_predict(cli *c, cli_model *m, cr_dataset *ds, const char *name, double **out);

/* The model's loss (and accuracy and confusion matrix for a classifier)
 * on ds, into *r (cr_eval_result_free), after cli_nn_predict's check of
 * the outputs. Returns an exit status (the problem reported). */
int cli_nn_evaluate(cli *c, cli_model *m, cr_dataset *ds, const char *name,
                    cr_eval_result *r);

/* Parses the arguments of predict and evaluate by spec (--model M and the
 * data options) into *d, then loads the model into *m (an MLP file, or a
 * layer model's file when the MLP reader does not support its version).
 * Returns CLI_OK, an exit status (message printed) or -1 after printing
 * the help. */
int cli_nn_parse_io(cli *c, const cli_spec *spec, int argc, char **argv, cli_nn_data *d,
                    cli_model *m);

/* Prints an evaluation: rows, loss, accuracy and the confusion matrix for
 * people, or as the members of a JSON object (without braces) under json. */
void cli_nn_print_eval(FILE *out, const cr_eval_result *r, int json);

#endif
