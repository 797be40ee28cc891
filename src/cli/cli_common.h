/*
 * cli_common.h - what the `chainrule` subcommands share, by the file that
 * owns it: error reports with the offending line and a caret, aligned
 * output for people and the end of a run (cli_common.c); the option
 * parser (cli_options.h); a program's options, loading and evaluation
 * (cli_load.c); JSON output (cli_json.c); chains and the numerical check
 * (cli_explain.c); DOT files and pictures (cli_picture.c).
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

typedef struct cli_at {
    char *name;
    double value;
} cli_at;

/* Everything a subcommand was asked to do, and what it loaded. */
typedef struct cli {
    const char *cmd; /* "grad" */
    const cli_spec *spec;
    const char *files[CLI_N_OPTIONS]; /* the path given to each file option */
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
    int json, chain, check, unicode;
    int trap; /* --trap-nonfinite: CR_GRAPH_TRAP_NONFINITE on the graph */
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

/* Aligned "label = value" blocks for people. */
typedef struct cli_rows {
    struct cli_row {
        char *label;
        double value;
    } * rows;
    size_t n, cap;
} cli_rows;
int cli_rows_add(cli_rows *r, const char *label, double value); /* 0 or -1 (no memory) */
void cli_rows_print(const cli_rows *r, FILE *out);
void cli_rows_free(cli_rows *r);

/* "%.15g" for people; "nan", "inf", "-inf" for non-finite values. */
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

/* Numbers with 17 significant digits (they round-trip); non-finite
 * numbers as the strings "nan", "inf" and "-inf". Strings are escaped;
 * bytes that are not UTF-8 (from file names) become U+FFFD, so the output
 * is always valid JSON. */
void cli_json_number(FILE *out, double v);
void cli_json_string(FILE *out, const char *s);
/* `, "name": ` and a value that may not apply (NaN: no validation split,
 * no classes): a JSON number, or null for NaN. */
void cli_json_maybe_member(FILE *out, const char *name, double v);
/* On stdout: `, "key": NUMBER`; and `"name": NUMBER` preceded by ", "
 * unless it is member 0 of its object. */
void cli_json_field(const char *key, double v);
void cli_json_member(size_t i, const char *name, double v);
/* Opens the subcommand's object with `{"output": NAME, "value": NUMBER`,
 * and closes it (marking that stdout has its one object). */
void cli_json_begin(const cli *c);
void cli_json_end(cli *c);
/* Under --json, and if stdout has no object yet, writes the error object
 * {"error": {"message", "exit", "source", "line", "column"}}. */
void cli_json_error(cli *c, int code, int line, int col, const char *msg);

/* ---- chains and the numerical check (cli_explain.c) ---- */

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
/* Writes `"check": {...}` for a report. */
void cli_check_json(const cr_gradcheck_report *r);

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

/* Takes the picture options (--view, --values, --grads, --rankdir,
 * --title, --max-nodes, --highlight, --clusters) into c->pic; any other option is
 * reported as not handled. Returns an exit status. */
int cli_picture_option(cli *c, cli_opt id, const char *value);
/* DOT options for the program: the picture options, the output styled as
 * the loss, and the chain to --highlight (or to the --wrt variable when
 * exactly one was given) highlighted. Returns an exit status (an unknown
 * --highlight name is reported). */
int cli_dot_options(cli *c, cr_dot_options *opts);
/* Writes --dot FILE (or dot's -o FILE) and renders --render
 * FILE.svg|png|pdf when given. Returns an exit status. */
int cli_write_pictures(cli *c);

#endif
