/*
 * cli_common.h - what the `chainrule` subcommands share, by the file that
 * owns it: error reports with the offending line and a caret, aligned
 * output for people and the end of a run (cli_common.c); the option
 * parser (cli_options.h); a program's options, loading and evaluation
 * (cli_load.c); JSON output (cli_json.c); chains, the numerical check and
 * the step-through page (cli_explain.c); DOT files and pictures
 * (cli_picture.c).
 *
 * Exit statuses: CLI_OK (0) success, CLI_EVAL (1) an evaluation problem
 * (a NaN or infinite value, a failed check), CLI_USAGE (2) a usage or input
 * error (bad option, bad program text, unreadable file).
 */
#ifndef CR_CLI_COMMON_H
#define CR_CLI_COMMON_H

#include <chainrule.h>
#include <chainrule/expr.h>

#include "cli_options.h"

#include <stdio.h>

enum { CLI_OK = 0, CLI_EVAL = 1, CLI_USAGE = 2 };

/* One --at NAME=VALUE: the text as given, and the value read from it
 * (cr_expr_parse_value) once every option is known. */
typedef struct cli_at {
    char *name;
    char *text;
    cr_tensor *value; /* rank 0 for a number */
} cli_at;

/* Where the data comes from. */
typedef struct cli_nn_data {
    const char *csv;        /* --data F.csv */
    const char *target;     /* --target COL (name or 1-based index) */
    const char *idx_images; /* --idx-images F */
    const char *idx_labels; /* --idx-labels F */
    int header;             /* --header, --no-header: a cr_csv_header */
    size_t max_input;       /* --max-input BYTES; 0: the library's default */
    const char *text;       /* --text F (evaluate: a character model's text) */
} cli_nn_data;

/* Everything a subcommand was asked to do, and what it loaded. */
typedef struct cli {
    const char *cmd; /* "grad" */
    const cli_spec *spec;
    const char *files[CLI_N_OPTIONS]; /* the path given to each file option */
    const char *kept[CLI_N_OPTIONS];  /* the value of each CLI_ROLE_KEPT option */
    /* options */
    cli_at *at;
    size_t n_at, cap_at;
    char **wrt;
    size_t n_wrt, cap_wrt;
    char **claims; /* "dE/dw1=0.009276093", as given */
    size_t n_claims, cap_claims;
    const char *of;
    const char *file; /* -f FILE ("-" for stdin) */
    const char *arg;  /* the program as an argument */
    const char *dot;
    const char *render;
    const char *output;
    const char *html; /* explain --html FILE */
    int json, chain, check, unicode;
    int trap;           /* --trap-nonfinite: CR_GRAPH_TRAP_NONFINITE on the graph */
    unsigned long seed; /* --seed: rand() and randn() in --at (default 1) */
    /* --view, --values, --grads, --rankdir, --title, --max-nodes, --highlight,
     * --clusters */
    struct cli_picture {
        cr_dot_view view;
        int view_given;
        cr_dot_rankdir rankdir;
        const char *title, *highlight;
        size_t max_nodes;
        int values, grads; /* given */
        int clusters;
    } pic;
    /* grad, dot and explain --model: the saved model instead of a program
     * (cli_picture.c), rebuilt for one row: from --data, or drawn */
    const char *model_path;
    cli_nn_data model_data;
    cr_model *model;
    /* the program */
    char *text;
    size_t len;
    const char *source; /* the file name, "<stdin>" or "<program>" */
    cr_graph *g;
    cr_expr_program *prog;
    const cr_expr_symbol **wrt_syms; /* --wrt resolved (or every input) */
    size_t n_wrt_syms;
    int json_done; /* a JSON object has been written to stdout */
} cli;

/* ---- reports, output for people, the end of a run (cli_common.c) ---- */

/* Reports a problem on stderr ("chainrule grad: message", or
 * "source:line:col: message" with the offending line and a caret when line
 * is not 0, "source: message" when it is -1) and, under --json, as
 * {"error": ...} on stdout if nothing was written there yet. Returns code. */
int cli_fail(cli *c, int code, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* cli_fail with a cr_error's message and place. */
int cli_fail_error(cli *c, int code, const cr_error *err);

/* "source:line:col: warning: message" on stderr. */
void cli_warn_at(const cli *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Aligned "label = value" blocks for people; a tensor's rows are aligned
 * under its first row, its label followed by its shape ("dy/dX [2,3]"). */
typedef struct cli_rows {
    struct cli_row {
        char *label;
        double value;
        const cr_tensor *tensor; /* borrowed; NULL for a number */
    } * rows;
    size_t n, cap;
} cli_rows;
int cli_rows_add(cli_rows *r, const char *label, double value); /* 0 or -1 (no memory) */
/* A value of any rank (a number for rank 0); t is borrowed until the rows
 * are printed. 0 or -1 (no memory). */
int cli_rows_add_tensor(cli_rows *r, const char *label, const cr_tensor *t);
/* How many brackets open before element i of t (the axes that start at
 * it) and close after it (the axes that end with it), row-major. */
void cli_brackets(const cr_tensor *t, size_t i, int *open, int *close);
/* A tensor as nested brackets, its numbers right-aligned in columns, each
 * row after the first indented by indent columns plus its depth; ends
 * without a newline. */
void cli_print_tensor(FILE *out, const cr_tensor *t, int indent);
void cli_rows_print(const cli_rows *r, FILE *out);
void cli_rows_free(cli_rows *r);

/* A number for people, the one format of every subcommand's text output:
 * "%.15g", negative zero as "0" (a product with 0 such as -1*0 is -0.0),
 * "nan", "inf", "-inf" for non-finite values. cli_number_text writes it
 * into buf and returns its length; cli_print_number writes it to out. */
enum { CLI_NUMBER_TEXT = 32 };
int cli_number_text(char buf[CLI_NUMBER_TEXT], double v);
void cli_print_number(FILE *out, double v);

/* "nan", "inf" or "-inf" for a non-finite v (static storage). */
const char *cli_nonfinite_name(double v);

/* Writes "d<out>/d<var>" into buf. */
void cli_grad_label(char *buf, size_t size, const char *out, const char *var);

/* Flushes stdout; on a write error reports it and returns CLI_USAGE, else
 * code. */
int cli_finish(cli *c, int code);

/* Grows the array *arr of *cap elements of elem bytes to hold need; 0, or
 * -1 when out of memory (the array is then unchanged). */
int cli_grow(void **arr, size_t *cap, size_t need, size_t elem);

/* A new NUL-terminated copy of the n bytes at s, or NULL. */
char *cli_strndup(const char *s, size_t n);

/* ---- the program subcommands: options, loading, evaluation (cli_load.c) ---- */

/* The whole life of eval, grad, chain, dot and check: the options (by
 * spec), reading and parsing the program, choosing the output (--of),
 * giving the inputs their --at values, resolving --wrt and evaluating
 * every statement; then body, which prints the results and returns an exit
 * status; then cli_finish. Every problem is reported. Returns the exit
 * status (0 after --help). */
int cli_run(const cli_spec *spec, int argc, char **argv, int (*body)(cli *c));

/* Runs reverse mode from the output for every --wrt symbol (every input by
 * default). Their gradients are then cr_node_grad(sym->node). Returns an
 * exit status (the error printed). */
int cli_backward(cli *c);

/* The end of the NAME=VALUE pair (of --at or --v) that starts at p: its
 * first ',' outside brackets and parentheses ("X=[[1,2],[3,4]],b=0.5" is
 * two pairs), or the end of the text. */
const char *cli_pair_end(const char *p);

/* Makes an input node in g of its shape and value for every --at value
 * that is not a number, named after it; done before a parse into g, the
 * program's name then refers to it (chainrule/expr.h). Returns an exit
 * status (the error printed). */
int cli_bind_tensors(cli *c, cr_graph *g);

/* ---- the files a subcommand reads and writes (cli_files.c) ---- */

/* Checks the files given (c->files) before any work: each output (role
 * CLI_ROLE_OUT) must not be a directory and its directory must exist and
 * be writable; no output may be the same file as an input (same device and
 * inode, following symbolic links) or as another output; at most one input
 * may be "-". Returns CLI_OK, or CLI_USAGE after reporting the problem. */
int cli_files_check(cli *c);

/* An input's path for the library's loaders ("-", standard input, is
 * "/dev/stdin"), and its name in messages ("<stdin>" for "-"). */
const char *cli_input_path(const char *path);
const char *cli_input_name(const char *path);

/* 0 for an input that can be read only once: "-" (standard input) or an
 * existing file that is not a regular one (a pipe, <(...), a device); 1
 * otherwise (a missing file too: its loader reports it). A subcommand
 * reads each input once, and the first kind never twice. */
int cli_input_rereadable(const char *path);

/* Reads the whole input path ("-": standard input) into *data (new; the
 * caller frees it, also on failure), *size bytes; more than max bytes
 * (0: no limit) is an error. Returns an exit status (errors reported:
 * "cannot open 'f': No such file or directory", "'f' is too large"). */
int cli_input_read(cli *c, const char *path, size_t max, char **data, size_t *size);

/* ---- JSON (cli_json.c) ---- */

/* Written with jansson. Numbers with 17 significant digits (they
 * round-trip), whole numbers as integers (negative zero as 0); non-finite numbers as the
 * strings "nan", "inf" and "-inf"; tensors as nested arrays (a number for
 * rank 0). Strings are escaped; bytes that are not UTF-8 (from file names)
 * become U+FFFD, so the output is always valid JSON. */
void cli_json_number(FILE *out, double v);
void cli_json_tensor(FILE *out, const cr_tensor *t);
void cli_json_string(FILE *out, const char *s);
/* `, "name": ` and a value that may not apply (NaN: no validation split,
 * no classes): a JSON number, or null for NaN. */
void cli_json_maybe_member(FILE *out, const char *name, double v);
/* On stdout: `, "key": NUMBER`; and `"name": VALUE` (a number or nested
 * arrays) preceded by ", " unless it is member 0 of its object. */
void cli_json_field(const char *key, double v);
void cli_json_member_tensor(size_t i, const char *name, const cr_tensor *t);
/* Opens the subcommand's object with `{"output": NAME, "value": VALUE`,
 * and closes it (marking that stdout has its one object). */
void cli_json_begin(const cli *c);
void cli_json_end(cli *c);
/* Under --json, and if stdout has no object yet, writes the error object
 * {"error": {"message", "exit", "source", "line", "column"}}. */
void cli_json_error(cli *c, int code, int line, int col, const char *msg);
/* Reads a JSON file of a number or nested arrays of numbers (rank at most
 * CR_MAX_RANK, rectangular) as a new tensor (the caller frees it), or
 * returns NULL with why (size bytes) saying what is wrong: malformed JSON
 * with its line and column, an element that is not a number, a ragged
 * list with its position. */
cr_tensor *cli_json_read_value(const char *path, char *why, size_t size);

/* ---- chains, the numerical check, the page (cli_explain.c) ---- */

/* The chains of d(output)/d(v) for every --wrt symbol v, in the view
 * through named nodes only (the parser's unnamed intermediates collapse),
 * as a new array of n_wrt_syms chains (free with cli_chains_free), or NULL
 * after printing the error. */
cr_chain **cli_chains_new(cli *c);
void cli_chains_free(const cli *c, cr_chain **chains);
/* Prints the chains in the article's form (flags of cr_chain_print).
 * Returns an exit status. */
int cli_chains_print(cli *c, cr_chain **chains, unsigned flags);
/* Writes `"chains": {VAR: {...}, ...}` (no surrounding braces). */
void cli_chains_json(const cli *c, cr_chain **chains);

/* Runs the numerical check of the gradients of the output with respect to
 * every --wrt input (statements cannot be perturbed: a usage error).
 * *report is the new report (cr_gradcheck_report_free) when the result is
 * CLI_OK; the check's verdict is in the report. */
int cli_check_run(cli *c, cr_gradcheck_report **report);
/* The same for the derivatives of another scalar node (check --order 2
 * checks each element of the gradient). */
int cli_check_node(cli *c, cr_node *output, cr_gradcheck_report **report);
/* Writes `"check": {...}` for a report. */
void cli_check_json(const cr_gradcheck_report *r);

/* Writes the step-through page (cr_explain_html) of the program to
 * --html FILE, with the picture of cli_dot_options. Returns an exit
 * status. */
int cli_write_page(cli *c);
/* ---- higher order: jacobian, hessian, hvp, jvp, check --order 2
 * (cli_higher.c) ---- */

/* Writes the label of element k of a variable named name with t's shape
 * into buf: "x" for one element, "x[k]" for a vector, "x[i,j]" for a
 * matrix. */
void cli_element_label(char *buf, size_t size, const char *name, const cr_tensor *t,
                       size_t k);
/* The number of elements of the --wrt variables together. */
size_t cli_wrt_size(const cli *c);

/* A matrix with labelled rows and columns (row-major values). */
typedef struct cli_matrix {
    size_t nr, nc;
    char **rows, **cols;
    double *v;
} cli_matrix;
/* A zero matrix whose columns are the elements of the --wrt variables and
 * whose rows are those too (wrt_rows) or the elements of the node rows,
 * named name. Returns an exit status (free with cli_matrix_free on
 * CLI_OK). */
int cli_matrix_new(cli *c, cli_matrix *m, const char *name, const cr_node *rows,
                   int wrt_rows);
void cli_matrix_free(cli_matrix *m);
/* Prints the matrix for people: column labels, then one row per line. */
void cli_matrix_print(const cli_matrix *m, FILE *out);
/* Writes `, "key": {"rows": [...], "columns": [...], "values": [[...]]}`. */
void cli_matrix_json(const char *key, const cli_matrix *m);

/* Reports the graph's last error as "what: message" (CLI_EVAL). */
int cli_higher_fail(cli *c, const char *what);
/* CLI_OK when the output is a scalar, else a usage error saying so. */
int cli_require_scalar_output(cli *c);
/* Fills rows row0.. of m (made by cli_matrix_new) with the Jacobian of y
 * with respect to each --wrt variable (cr_jacobian). Returns an exit
 * status. */
int cli_jacobian_fill(cli *c, cr_node *y, cli_matrix *m, size_t row0);
/* The direction --v as one constant node per --wrt variable (v has
 * n_wrt_syms entries): each value is read by cr_expr_parse_value (with
 * --seed); a number fills its variable, a tensor must have its shape;
 * variables not named are 0. Returns an exit status (errors reported). */
int cli_direction(cli *c, cr_node **v);
/* The Jacobian-vector product of y along v (one node per --wrt
 * variable): the sum of cr_jvp over the variables, or NULL after
 * reporting the error. */
cr_node *cli_jvp_sum(cli *c, cr_node *y, cr_node *const *v);
/* The JSON member `"name": VALUE` of n's value (a number or nested arrays),
 * counting members in *member; and `, "key": {...}` of such members for
 * nodes shaped like the --wrt variables. */
void cli_node_json(size_t *member, const char *name, const cr_node *n);
void cli_wrt_json(const cli *c, const char *key, cr_node *const *nodes);
/* Adds a row "PREFIXlabel = value" per element of n. 0, or -1 when out of
 * memory. */
int cli_node_rows(cli_rows *rows, const char *prefix, const char *name, const cr_node *n);

/* Prints m as "TITLE of OUT, R x C:" and the matrix, or under --json
 * the subcommand's object with m as "key". Returns an exit status. */
int cli_matrix_report(cli *c, const char *key, const char *title, const cli_matrix *m);
/* Prints the output's value and one row "PREFIXlabel = value" per element
 * of the n result nodes (named names[i]), or under --json the object
 * with "v" (the direction, one node per --wrt variable) and "key": {label:
 * value, ...}. Returns an exit status. */
int cli_product_report(cli *c, const char *key, const char *prefix, cr_node *const *v,
                       size_t n, const char *const *names, cr_node *const *result);

/* ---- claims of check --claim (cli_claims.c) ---- */

/* One claim "dOF/dWRT = RIGHT": a number (formula 0, value) or a formula
 * in the program's names (formula 1). Strings are new; text is borrowed
 * from c->claims. */
typedef struct cli_claim {
    const char *text;
    char *of, *wrt, *right;
    int formula;
    double value;
} cli_claim;
/* Reads every --claim (joining back formulas that the comma lists cut
 * at a comma inside brackets) into a new array (*out, n entries; free it
 * with cli_claims_free also on failure). Returns an exit status. */
int cli_claims_parse(cli *c, cli_claim **out, size_t *n);
void cli_claims_free(cli_claim *cl, size_t n);

typedef struct cli_claim_options {
    double rtol, atol; /* right when |yours - true| <= atol + rtol*|true| */
    size_t points;     /* random points after the --at point */
    unsigned long seed;
} cli_claim_options;

/* The verdict on one formula claim. */
typedef struct cli_formula_result {
    const cli_claim *claim;
    double rtol, atol;
    int right;         /* at every point checked */
    size_t points;     /* points checked (the --at point is point 0) */
    size_t point;      /* wrong: the first point where it is */
    char element[300]; /* wrong: the element ("w", "w[1]") */
    double yours, truth;
    char *inputs; /* wrong at a random point: "a = 0.3, b = -1.2" */
    char *chain;  /* wrong, scalar: the named chain with formulas */
    char *step;   /* wrong, with a right claim dOF/dS for a statement S that
                     every path from WRT to OF passes: the wrong step named */
    int at_kink;  /* a kink met: where a value was accepted between the
                     one-sided derivatives, or where the claim is wrong */
    size_t kink_point;
    char kink_element[300]; /* the element at the kink ("x[0]") */
    double kink_lo, kink_hi;
} cli_formula_result;
/* Checks the formula claims among cl (numeric ones are left alone): each
 * formula is evaluated with the program at the --at point and at
 * o->points random points, where the --wrt inputs (every input without
 * --wrt) are drawn from N(0, 1) with o->seed, and compared elementwise
 * with reverse mode. *results (free with cli_formula_results_free) has n
 * entries. Returns an exit status (errors in a formula reported). */
int cli_formula_claims(cli *c, const cli_claim *cl, size_t n, const cli_claim_options *o,
                       cli_formula_result **results);
void cli_formula_results_free(cli_formula_result *r, size_t n);
/* Prints the verdicts for people, one line per formula claim (and the
 * chain of a wrong one); or as JSON objects of the "claims" array, the
 * first one without a leading comma when first is set. */
void cli_formula_print(const cli_formula_result *r, size_t n, FILE *out);
void cli_formula_json(const cli_formula_result *r, size_t n, int first);

/* ---- DOT files and pictures (cli_picture.c) ---- */

/* The format of a --render file from its extension ("svg", "png",
 * "pdf"), or NULL. */
const char *cli_render_format(const char *path);
/* The picture options in a subcommand's option table (cli_option_use). */
// clang-format off
#define CLI_PICTURE_OPTION_USES                                                            \
    {CLI_OPT_VIEW, NULL, NULL}, {CLI_OPT_VALUES, NULL, NULL}, {CLI_OPT_GRADS, NULL, NULL},  \
    {CLI_OPT_RANKDIR, NULL, NULL}, {CLI_OPT_TITLE, NULL, NULL},                            \
    {CLI_OPT_MAX_NODES, NULL, NULL}, {CLI_OPT_HIGHLIGHT, NULL, NULL},                      \
    {CLI_OPT_CLUSTERS, NULL, NULL}
// clang-format on

/* The options of a saved model run on one row (grad, dot and explain
 * --model). */
#define CLI_MODEL_PICTURE_OPTION_USES                                                      \
    {CLI_OPT_MODEL, NULL,                                                                  \
     "instead of a program, this saved model (train --model, an\n"                         \
     "MLP file too), after one forward and backward pass on one\n"                         \
     "row: the first row of --data, or an input drawn from N(0, 1)\n"                      \
     "with --seed and the target 0 (class 0 for a classifier)"},                           \
        {CLI_OPT_DATA, NULL, "with --model: the first row is the input and target"},       \
        {CLI_OPT_TARGET, NULL, NULL}, {CLI_OPT_HEADER, NULL, NULL},                        \
        {CLI_OPT_NO_HEADER, NULL, NULL}, {CLI_OPT_MAX_INPUT, NULL, NULL},                  \
    {                                                                                      \
        CLI_OPT_SEED, NULL,                                                                \
            "the seed of rand() and randn() in --at, and of the row\n"                     \
            "drawn for --model without --data (default 1)"                                 \
    }

/* Takes the picture options (--view, --values, --grads, --rankdir,
 * --title, --max-nodes, --highlight, --clusters) into c->pic, and the
 * model options (--model and the data options) into c->model_path and
 * c->model_data; any other option is reported as not handled. Returns an
 * exit status. */
int cli_picture_option(cli *c, cli_opt id, const char *value);
/* DOT options for the program: the picture options, the output styled as
 * the loss, and the chain to --highlight (or to the --wrt variable when
 * exactly one was given) highlighted. Returns an exit status (an unknown
 * --highlight name is reported). */
int cli_dot_options(cli *c, cr_dot_options *opts);
/* Writes --dot FILE (or dot's -o FILE) and renders --render
 * FILE.svg|png|pdf when given. Returns an exit status. */
int cli_write_pictures(cli *c);

/* --model: loads the saved model, rebuilds it for one row (in evaluation
 * mode: dropout off, batch norm on its running statistics), gives it the
 * row and runs its forward pass; c->g is then the model's graph (owned by
 * c->model). A program, --at, --wrt or --of beside it is a usage error.
 * Returns an exit status (the problem reported). */
int cli_model_picture_load(cli *c);
/* Frees c->model (and with it c->g, when it is the model's). */
void cli_model_picture_free(cli *c);
/* The node the picture and the gradients start from: the model's loss,
 * or the program's output; and its name ("loss", or the statement's). */
cr_node *cli_output_node(const cli *c);
const char *cli_output_name(const cli *c);

#endif
