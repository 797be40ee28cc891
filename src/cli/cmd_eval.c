/*
 * cmd_eval.c - `chainrule eval`: the value of every statement of a program
 * at the inputs given with --at, for people or as JSON.
 */
#include "cli_common.h"
#include "commands.h"

const char cli_help_eval[] =
    "Usage: chainrule eval [--at NAME=VALUE[,...]]... [--of NAME] [--json] 'PROGRAM'\n"
    "       chainrule eval [OPTIONS] -f FILE      (FILE '-' reads standard input)\n"
    "\n"
    "Evaluates every statement of the program and prints its value.\n"
    "\n"
    "  --at NAME=VALUE[,NAME=VALUE...]  values of the inputs (repeatable)\n"
    "  --of NAME     the output statement (default: the last one)\n"
    "  --trap-nonfinite  stop at the first node or gradient that gives NaN or Inf\n"
    "                and name it, its op, the element and the input values\n"
    "  --json        one JSON object: {\"output\": NAME, \"value\": NUMBER,\n"
    "                \"values\": {STATEMENT: NUMBER, ...}, \"inputs\": {NAME: NUMBER, "
    "...}}\n"
    "  -f FILE       read the program from FILE\n"
    "\n"
    "Example:\n"
    "  chainrule eval --at x=2 'y = x^2; z = sin(y)'\n";

static int eval_body(cli *c)
{
    const cr_expr_program *p = c->prog;
    size_t n = cr_expr_num_statements(p);
    if (c->json) {
        cli_json_begin(c);
        printf(", \"values\": {");
        for (size_t i = 0; i < n; i++) {
            const cr_expr_symbol *s = cr_expr_statement(p, i);
            cli_json_member(i, s->name, cr_node_scalar(s->node));
        }
        printf("}, \"inputs\": {");
        for (size_t i = 0; i < cr_expr_num_inputs(p); i++) {
            const cr_expr_symbol *s = cr_expr_input(p, i);
            cli_json_member(i, s->name, cr_node_scalar(s->node));
        }
        printf("}");
        cli_json_end(c);
        return CLI_OK;
    }
    cli_rows rows = {0};
    int rc = CLI_OK;
    for (size_t i = 0; i < n && rc == CLI_OK; i++) {
        const cr_expr_symbol *s = cr_expr_statement(p, i);
        if (cli_rows_add(&rows, s->name, cr_node_scalar(s->node)) != 0)
            rc = cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    }
    if (rc == CLI_OK)
        cli_rows_print(&rows, stdout);
    cli_rows_free(&rows);
    return rc;
}

int cli_cmd_eval(int argc, char **argv)
{
    return cli_run("eval", cli_help_eval, CLI_OPT_AT | CLI_OPT_OF | CLI_OPT_JSON | CLI_OPT_TRAP, argc,
                   argv, eval_body);
}
