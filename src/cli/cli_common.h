/*
 * cli_common.h - what the `chainrule` subcommands share: option parsing
 * (--at, --wrt, --of, -f, --json, ...), loading and evaluating a program,
 * error reports with the offending line and a caret, aligned human output
 * and the JSON writer.
 *
 * Exit statuses: CLI_OK (0) success, CLI_EVAL (1) an evaluation problem
 * (a NaN or infinite value, a failed check), CLI_USAGE (2) a usage or input
 * error (bad option, bad program text, unreadable file).
 */
#ifndef CR_CLI_COMMON_H
#define CR_CLI_COMMON_H

#include <chainrule.h>
#include <chainrule/expr.h>

#include <stdio.h>

enum { CLI_OK = 0, CLI_EVAL = 1, CLI_USAGE = 2 };

/* The options a subcommand accepts (a mask for cli_parse). */
enum {
    CLI_OPT_AT = 1u << 0,       /* --at NAME=VALUE[,...] (repeatable) */
    CLI_OPT_WRT = 1u << 1,      /* --wrt NAME[,...] */
    CLI_OPT_OF = 1u << 2,       /* --of NAME */
    CLI_OPT_JSON = 1u << 3,     /* --json */
    CLI_OPT_CHAIN = 1u << 4,    /* --chain */
    CLI_OPT_CHECK = 1u << 5,    /* --check */
    CLI_OPT_DOT = 1u << 6,      /* --dot FILE */
    CLI_OPT_RENDER = 1u << 7,   /* --render FILE.svg|png|pdf */
    CLI_OPT_OUTPUT = 1u << 8,   /* -o FILE */
    CLI_OPT_CLAIM = 1u << 9,    /* --claim dOF/dWRT=VALUE[,...] (repeatable) */
    CLI_OPT_UNICODE = 1u << 10, /* --unicode */
    CLI_OPT_TRAP = 1u << 11,    /* --trap-nonfinite */
    CLI_WARN_UNUSED = 1u << 16  /* not an option: warn about unused statements */
};

typedef struct cli_at {
    char *name;
    double value;
} cli_at;

/* Everything a subcommand was asked to do, and what it loaded. */
typedef struct cli {
    const char *cmd; /* "grad" */
    const char *help;
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
    int warn_unused;
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

/* Parses the arguments after the subcommand name into c (zeroed first).
 * Returns CLI_OK, CLI_USAGE (message printed) or -1 when --help was given
 * and printed (the caller then exits 0). */
int cli_parse(cli *c, const char *cmd, const char *help, unsigned allowed, int argc,
              char **argv);

/* Reads and parses the program, chooses the output (--of), gives the inputs
 * their --at values, resolves --wrt and evaluates every statement. Prints
 * any problem and returns its exit status (CLI_OK when all went well). */
int cli_load(cli *c);

/* The whole life of a subcommand: cli_parse, cli_load, then body (which
 * prints the results and returns an exit status), cli_finish, cli_free.
 * Returns the exit status (0 after --help). */
int cli_run(const char *cmd, const char *help, unsigned allowed, int argc, char **argv,
            int (*body)(cli *c));

/* Runs reverse mode from the output for every --wrt symbol (every input by
 * default). Their gradients are then cr_node_grad(sym->node). Returns an
 * exit status (the error printed). */
int cli_backward(cli *c);

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

/* DOT options for the program: the output styled as the loss, and the chain
 * to the --wrt variable highlighted when exactly one was given. */
void cli_dot_options(const cli *c, cr_dot_options *opts);
/* Writes --dot FILE and renders --render FILE.svg|png|pdf when given.
 * Returns an exit status. */
int cli_write_pictures(cli *c);

/* Frees what cli_parse and cli_load made. */
void cli_free(cli *c);

/* Reports a problem on stderr ("chainrule grad: message", or
 * "source:line:col: message" with the offending line and a caret when line
 * is not 0) and, under --json, as {"error": ...} on stdout if nothing was
 * written there yet. Returns code. */
int cli_fail(cli *c, int code, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* cli_fail with a cr_error's message and place. */
int cli_fail_error(cli *c, int code, const cr_error *err);

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

/* JSON: numbers with 17 significant digits (they round-trip); non-finite
 * numbers as the strings "nan", "inf" and "-inf". */
void cli_json_number(FILE *out, double v);
void cli_json_string(FILE *out, const char *s);
/* On stdout: `, "key": NUMBER`; and `"name": NUMBER` preceded by ", "
 * unless it is member 0 of its object. */
void cli_json_field(const char *key, double v);
void cli_json_member(size_t i, const char *name, double v);
/* Opens the subcommand's object with `{"output": NAME, "value": NUMBER`,
 * and closes it (marking that stdout has its one object). */
void cli_json_begin(const cli *c);
void cli_json_end(cli *c);

/* Writes "d<out>/d<var>" into buf. */
void cli_grad_label(char *buf, size_t size, const char *out, const char *var);

/* Flushes stdout; on a write error reports it and returns CLI_USAGE, else
 * code. */
int cli_finish(cli *c, int code);

#endif
