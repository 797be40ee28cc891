/*
 * cli_options.h - the one option parser of the `chainrule` subcommands.
 * Every option is named once, in CLI_OPTIONS (long name, short name, the
 * name of its value, default help text); each subcommand has a table of
 * the options it takes (cli_spec). From that table come getopt_long's
 * option array (so --opt=value, unambiguous abbreviations and clustered
 * short options work the same everywhere) and the option list of the
 * subcommand's help text; tests/cli.sh checks the manual page against
 * the help texts, so the three cannot list different options.
 */
#ifndef CR_CLI_OPTIONS_H
#define CR_CLI_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

/* X(ID, long name, short name (0: none), value name (NULL: a flag),
 *   role (ARG: a value; IN: a file read; OUT: a file written; KEPT: a
 *   value the parser keeps in cli.kept[ID] for the subcommand to read,
 *   the last one given),
 *   default help text (lines separated by '\n')).
 * Two options may share a long name when no subcommand takes both (the
 * --model that predict reads and the one train writes). */
#define CLI_OPTIONS(X)                                                                     \
    X(HELP, "help", 'h', NULL, ARG, "this text")                                           \
    X(JSON, "json", 0, NULL, ARG, "one JSON object on standard output")                    \
    /* the program subcommands (eval, grad, chain, dot, check) */                          \
    X(AT, "at", 0, "NAME=VALUE[,NAME=VALUE...]", ARG,                                      \
      "values of the inputs (repeatable); a VALUE is a\n"                                  \
      "number, [[1,2],[3,4]], rand(3,4), randn(3,4) or @F.csv")                            \
    X(WRT, "wrt", 0, "NAME[,NAME...]", ARG,                                                \
      "the variables (inputs or statements; default: every input)")                        \
    X(OF, "of", 0, "NAME", ARG, "the output statement (default: the last one)")            \
    X(CHAIN, "chain", 0, NULL, ARG,                                                        \
      "also print each derivative's chain of local derivatives")                           \
    X(CHECK, "check", 0, NULL, ARG,                                                        \
      "also check the gradients numerically (central differences);\n"                      \
      "exit status 1 if they disagree")                                                    \
    X(DOT, "dot", 0, "FILE", OUT,                                                          \
      "write the graph as Graphviz DOT to FILE (edges labelled with\n"                     \
      "their local derivatives; the chain to a single --wrt variable\n"                    \
      "highlighted)")                                                                      \
    X(RENDER, "render", 0, "FILE", OUT,                                                    \
      "draw the same picture into FILE.svg, FILE.png or FILE.pdf")                         \
    X(OUTPUT, "output", 'o', "FILE", OUT,                                                  \
      "write the DOT text to FILE instead of standard output")                             \
    X(CLAIM, "claim", 0, "dOF/dWRT=VALUE|FORMULA[,...]", ARG,                              \
      "instead, check derivatives derived by hand\n"                                       \
      "(repeatable): OF and WRT name statements or inputs; a number\n"                     \
      "is compared with the chain rule and the numerical derivative\n"                     \
      "(right when within --atol + --rtol*|value|), and for a wrong\n"                     \
      "one the first wrong local factor you also claimed is named;\n"                      \
      "a formula in the program's names ('dL/dw = 2*(w*x - y)*x')\n"                       \
      "is compared element by element at the --at point and at\n"                          \
      "--points random points")                                                            \
    X(UNICODE, "unicode", 0, NULL, ARG,                                                    \
      "write the chains with the symbols of the article (∂, ·, ×)")                        \
    X(TRAP, "trap-nonfinite", 0, NULL, ARG,                                                \
      "stop at the first node or gradient that gives NaN or Inf\n"                         \
      "and name it, its op, the element and the input values")                             \
    X(FILE, "file", 'f', "FILE", IN, "read the program from FILE ('-': standard input)")   \
    X(HTML, "html", 0, "FILE.html", OUT,                                                   \
      "write the step-through page: the graph, the forward pass\n"                         \
      "node by node, the backward pass edge by edge, the chains")                          \
    /* the neural-network subcommands (train, predict, evaluate) */                        \
    X(MODEL, "model", 0, "M", IN, "a model file written by chainrule train --model")       \
    X(MODEL_OUT, "model", 0, "OUT", OUT,                                                   \
      "write the model file (atomically) after every epoch and at\n"                       \
      "the end: when training fails, OUT holds the last good epoch")                       \
    X(DATA, "data", 0, "F.csv", IN, "CSV file (header optional)")                          \
    X(HEADER, "header", 0, NULL, ARG, "the CSV files' first line is a header")             \
    X(NO_HEADER, "no-header", 0, NULL, ARG,                                                \
      "the CSV files' first line is data (default: a header\n"                             \
      "when a field of it is not a number; said on stderr\n"                               \
      "when the line also holds numbers)")                                                 \
    X(MAX_INPUT, "max-input", 0, "N", ARG,                                                 \
      "refuse a data file of more than N bytes, counted\n"                                 \
      "after decompression (default 268435456, 256 MiB)")                                  \
    X(TARGET, "target", 0, "COL", ARG,                                                     \
      "the target column, by name or 1-based index (default: the\n"                        \
      "last one); class labels 0..K-1 for a softmax model")                                \
    X(IDX_IMAGES, "idx-images", 0, "F", IN,                                                \
      "IDX images (MNIST format, plain or .gz), scaled to [0, 1]")                         \
    X(IDX_LABELS, "idx-labels", 0, "F", IN, "IDX labels of --idx-images (plain or .gz)")   \
    X(TEST_DATA, "test-data", 0, "F.csv", IN,                                              \
      "evaluate the trained model on this CSV file")                                       \
    X(TEST_IDX_IMAGES, "test-idx-images", 0, "F", IN, "or on these IDX images")            \
    X(TEST_IDX_LABELS, "test-idx-labels", 0, "F", IN, "and labels")                        \
    X(STANDARDIZE, "standardize", 0, NULL, ARG,                                            \
      "standardise features (statistics kept in the model)")                               \
    X(ARCH, "arch", 0, "IN,H1,...,OUT", ARG, "layer widths, e.g. 784,128,10")              \
    X(ACT, "act", 0, "sigmoid|tanh|relu|linear", ARG, "hidden activation (default relu)")  \
    X(OUT, "out", 0, "sigmoid|softmax|linear", ARG,                                        \
      "output activation (default softmax for IDX\n"                                       \
      "data, linear otherwise)")                                                           \
    X(LOSS, "loss", 0, "sq_error|mse|bce|xent", ARG,                                       \
      "(default xent for softmax, bce for sigmoid,\n"                                      \
      "mse for linear)")                                                                   \
    X(INIT, "init", 0, "xavier|he|uniform|normal", ARG,                                    \
      "(default he for relu, xavier otherwise)")                                           \
    X(NO_BIAS, "no-bias", 0, NULL, ARG, "layers without biases")                           \
    X(OPT, "opt", 0, "sgd|momentum|adam|adamw|rmsprop", ARG, "(default adam)")             \
    X(LR, "lr", 0, "RATE", ARG, "learning rate (default: the optimizer's)")                \
    X(EPOCHS, "epochs", 0, "N", ARG,                                                       \
      "passes over the data (default 10, or no limit with\n"                               \
      "--max-iter alone)")                                                                 \
    X(MAX_ITER, "max-iter", 0, "N", ARG, "stop after N steps (N >= 1)")                    \
    X(BATCH, "batch", 0, "N", ARG, "rows per step (default 32)")                           \
    X(SEED, "seed", 0, "N", ARG,                                                           \
      "the seed of random values (default 1): rand() and randn()\n"                        \
      "in --at and --v, the random points of claims, training's\n"                         \
      "initialisation, shuffling and split")                                               \
    X(VAL_SPLIT, "val-split", 0, "F", ARG,                                                 \
      "fraction of rows held out for validation (default 0)")                              \
    X(PATIENCE, "patience", 0, "N", ARG,                                                   \
      "early stopping after N epochs without improvement")                                 \
    X(TARGET_LOSS, "target-loss", 0, "L", ARG,                                             \
      "stop once an epoch's training loss is <= L")                                        \
    X(NO_TRAP, "no-trap-nonfinite", 0, NULL, ARG,                                          \
      "do not stop at the first NaN or infinite value or gradient\n"                       \
      "(by default training stops there and names the node)")                              \
    X(HISTORY, "history", 0, "F.csv", OUT, "per-epoch loss and accuracy")                  \
    X(PLOT, "plot", 0, "F.svg", OUT, "the loss and accuracy curves as an SVG chart")       \
    X(QUIET, "quiet", 0, NULL, ARG, "no progress display")                                 \
    X(DEBUG, "debug", 0, NULL, ARG,                                                        \
      "per epoch: each layer's gradient norm and the derivative\n"                         \
      "chain of --debug-param (default W1), on stderr; at the\n"                           \
      "end, that chain in the article's form")                                             \
    X(DEBUG_PARAM, "debug-param", 0, "NAME", ARG,                                          \
      "the parameter --debug follows (W1, b2, ...)")                                       \
    /* the higher-order subcommands (jacobian, hessian, hvp, jvp; check --order) */        \
    X(V, "v", 0, "NAME=VALUE[,NAME=VALUE...]", KEPT,                                       \
      "the direction v: a value for --wrt variables, read as in\n"                         \
      "--at (a number fills the variable, a list has its shape;\n"                         \
      "variables not named are 0)")                                                        \
    X(ORDER, "order", 0, "1|2", KEPT,                                                      \
      "2: check the Hessian against central differences of\n"                              \
      "the gradient instead (default 1: the gradient)")                                    \
    X(POINTS, "points", 0, "N", KEPT,                                                      \
      "also check formula claims at N random points, the --wrt\n"                          \
      "inputs (default: every input) drawn from N(0, 1) with their\n"                      \
      "shapes (default 0)")                                                                \
    X(RTOL, "rtol", 0, "R", KEPT, "relative tolerance of claims (default 1e-7)")           \
    X(ATOL, "atol", 0, "A", KEPT, "absolute tolerance of claims (default 1e-9)")           \
    X(LAYERS, "layers", 0, "SPEC", ARG,                                                    \
      "the model as a list of layers instead of --arch, e.g.\n"                            \
      "'conv2d:32,3x3,pad=1 relu maxpool:2 flatten dense:10'\n"                            \
      "(docs/nn.md, \"Layers as text\")")                                                  \
    X(SHAPE, "shape", 0, "D1,D2,...", ARG,                                                 \
      "the shape of one input sample for --layers, e.g. 1,28,28\n"                         \
      "(default: the data's width; IDX images of N*N pixels\n"                             \
      "before a 2-D first layer: 1,N,N)")                                                  \
    X(TEXT, "text", 0, "F", IN,                                                            \
      "a text file (plain or .gz) to train a character model on:\n"                        \
      "windows of --seq bytes, each byte's next byte the target")                          \
    X(SEQ, "seq", 0, "N", ARG, "bytes in a window of --text (default 64)")                 \
    X(CARRY_STATE, "carry-state", 0, NULL, ARG,                                            \
      "truncated backpropagation through time: each batch row\n"                           \
      "reads consecutive windows of --text and the recurrent\n"                            \
      "layers start a window from the state the row's last one\n"                          \
      "ended with, without its gradient (reset every epoch)")                              \
    /* generate */                                                                         \
    X(LENGTH, "length", 0, "N", ARG, "bytes to generate (default 500)")                    \
    X(TEMPERATURE, "temperature", 0, "T", ARG,                                             \
      "divide the logits by T > 0 before sampling (default 1;\n"                           \
      "lower: safer, higher: more varied)")                                                \
    X(PRIME, "prime", 0, "TEXT", ARG, "text the sample continues (printed first)")         \
    /* pictures (dot, grad --dot/--render): cli_picture.c */                               \
    X(VIEW, "view", 0, "statements|ops|layers", ARG,                                       \
      "one node per statement or input, edges labelled with\n"                             \
      "the composed local derivative (default); one node per op;\n"                        \
      "or one node per layer (a statement group, or else the\n"                            \
      "statements named W1, b1, s1, a1, ...)")                                             \
    X(VALUES, "values", 0, NULL, ARG,                                                      \
      "show the nodes' values (alone: not their gradients)")                               \
    X(GRADS, "grads", 0, NULL, ARG, "show the nodes' gradients (alone: not their values)") \
    X(RANKDIR, "rankdir", 0, "LR|TB", ARG,                                                 \
      "layout: left to right (default) or top to bottom")                                  \
    X(TITLE, "title", 0, "TEXT", ARG, "a title above the picture")                         \
    X(MAX_NODES, "max-nodes", 0, "N", ARG,                                                 \
      "draw at most N nodes (the highlighted chain first); the rest\n"                     \
      "are summarised per group or statement")                                             \
    X(HIGHLIGHT, "highlight", 0, "NAME", ARG,                                              \
      "highlight the chain from the output to NAME (default: the\n"                        \
      "single --wrt variable, if one)")                                                    \
    X(CLUSTERS, "clusters", 0, NULL, ARG,                                                  \
      "a box per statement group (\"# layer 1\" lines), or else per\n"                     \
      "number the names end in (W1, b1, s1, a1: \"layer 1\")")

typedef enum cli_opt {
#define CLI_OPT_ENUM(id, name, short_name, value, role, help) CLI_OPT_##id,
    CLI_OPTIONS(CLI_OPT_ENUM)
#undef CLI_OPT_ENUM
        CLI_N_OPTIONS,
    CLI_HEADING = CLI_N_OPTIONS /* in a cli_spec: a heading line, not an option */
} cli_opt;

/* What an option's value is (the role column of CLI_OPTIONS). */
typedef enum cli_role {
    CLI_ROLE_ARG = 0, /* a value */
    CLI_ROLE_IN,      /* the path of a file the subcommand reads ("-": stdin) */
    CLI_ROLE_OUT,     /* the path of a file it writes */
    CLI_ROLE_KEPT     /* a value kept in cli.kept[id], not passed to the callback */
} cli_role;

/* One option as a subcommand takes it; value and help replace the table's
 * when not NULL. A CLI_HEADING entry prints help as a line of its own. */
typedef struct cli_option_use {
    cli_opt id;
    const char *value;
    const char *help;
} cli_option_use;

/* What cli_spec.flags can hold. */
enum {
    CLI_SPEC_PROGRAM = 1u << 0,    /* takes a program: one argument or -f FILE */
    CLI_SPEC_WARN_UNUSED = 1u << 1 /* warn about statements the output ignores */
};

/* A subcommand's command line: its help text is usage, then the options
 * (help text from column `column` on), then epilogue. --help is always
 * accepted and never listed. */
typedef struct cli_spec {
    const char *name; /* "grad" */
    const char *usage;
    const cli_option_use *options;
    size_t n_options;
    const char *epilogue;
    int column;
    unsigned flags;
} cli_spec;

/* .options and .n_options of a cli_spec from an array of uses. */
#define CLI_SPEC_OPTIONS(uses)                                                             \
    .options = (uses), .n_options = sizeof(uses) / sizeof((uses)[0])

struct cli;

/* Receives an option of the subcommand (with its value, NULL for a flag).
 * Returns CLI_OK, or an exit status after reporting the problem. */
typedef int (*cli_option_fn)(struct cli *c, void *ctx, cli_opt id, const char *value);

/* Parses argv[1..argc) by spec (argv[0] is the subcommand's name) with
 * getopt_long: --json is known before the first error is reported (the
 * error is then a JSON object too), --help prints the help text, and every
 * other option goes to set in the order given (except those of role
 * CLI_ROLE_KEPT, whose last value is kept in c->kept). Arguments that are not
 * options (and every argument after "--") are the program (c->arg) under
 * CLI_SPEC_PROGRAM, errors otherwise. The paths of the file options are
 * kept in c->files and checked (cli_files_check) before it returns. Sets
 * c->cmd and c->spec. Returns CLI_OK, an exit status after printing the
 * problem, or -1 after printing the help (the caller then exits 0). */
int cli_options_parse(struct cli *c, const cli_spec *spec, int argc, char **argv,
                      cli_option_fn set, void *ctx);

/* 1 if the subcommand takes the option, else 0. */
int cli_spec_has(const cli_spec *spec, cli_opt id);

/* "--name" of an option (a string literal). */
const char *cli_option_name(cli_opt id);

/* How help and messages about a value show the option: "-o" for one with
 * a short name, else "--name" (static storage). */
const char *cli_option_label(cli_opt id);

/* What the option's value is. */
cli_role cli_option_role(cli_opt id);

/* Writes the subcommand's help text. */
void cli_help_print(const cli_spec *spec, FILE *out);

/* Reads the value of option id as a number in [lo, hi], or as a whole
 * number >= lo. Returns 0, or -1 after reporting "--lr: 'x' is not a
 * number in [0, 1e+06]". */
int cli_option_double(struct cli *c, cli_opt id, const char *text, double lo, double hi,
                      double *out);
int cli_option_size(struct cli *c, cli_opt id, const char *text, size_t lo, size_t *out);

#endif
