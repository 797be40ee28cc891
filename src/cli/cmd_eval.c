/*
 * cmd_eval.c - `chainrule eval`: the value of every statement of a program
 * at the inputs given with --at, for people or as JSON.
 */
#include "cli_common.h"
#include "commands.h"

static const cli_option_use options[] = {
    {CLI_OPT_AT, NULL, NULL},
    {CLI_OPT_SEED, NULL, "the seed of rand() and randn() in --at (default 1)"},
    {CLI_OPT_OF, NULL, NULL},
    {CLI_OPT_TRAP, NULL, NULL},
    {CLI_OPT_JSON, NULL,
     "one JSON object: {\"output\": NAME, \"value\": VALUE,\n"
     "\"values\": {STATEMENT: VALUE, ...}, \"inputs\": {NAME: VALUE, ...}};\n"
     "a VALUE is a number or, for a tensor, nested arrays"},
    {CLI_OPT_FILE, NULL, "read the program from FILE"},
};

const cli_spec cli_spec_eval = {
    .name = "eval",
    .usage =
        "Usage: chainrule eval [--at NAME=VALUE[,...]]... [--of NAME] [--json] 'PROGRAM'\n"
        "       chainrule eval [OPTIONS] -f FILE      (FILE '-' reads standard input)\n"
        "\n"
        "Evaluates every statement of the program and prints its value.\n"
        "\n",
    CLI_SPEC_OPTIONS(options),
    .epilogue = "\n"
                "Example:\n"
                "  chainrule eval --at x=2 'y = x^2; z = sin(y)'\n",
    .column = 16,
    .flags = CLI_SPEC_PROGRAM,
};

static int eval_body(cli *c)
{
    const cr_expr_program *p = c->prog;
    size_t n = cr_expr_num_statements(p);
    if (c->json) {
        cli_json_begin(c);
        printf(", \"values\": {");
        for (size_t i = 0; i < n; i++) {
            const cr_expr_symbol *s = cr_expr_statement(p, i);
            cli_json_member_tensor(i, s->name, cr_node_value(s->node));
        }
        printf("}, \"inputs\": {");
        for (size_t i = 0; i < cr_expr_num_inputs(p); i++) {
            const cr_expr_symbol *s = cr_expr_input(p, i);
            cli_json_member_tensor(i, s->name, cr_node_value(s->node));
        }
        printf("}");
        cli_json_end(c);
        return CLI_OK;
    }
    cli_rows rows = {0};
    int rc = CLI_OK;
    for (size_t i = 0; i < n && rc == CLI_OK; i++) {
        const cr_expr_symbol *s = cr_expr_statement(p, i);
        if (cli_rows_add_tensor(&rows, s->name, cr_node_value(s->node)) != 0)
            rc = cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    }
    if (rc == CLI_OK)
        cli_rows_print(&rows, stdout);
    cli_rows_free(&rows);
    return rc;
}

int cli_cmd_eval(int argc, char **argv)
{
    return cli_run(&cli_spec_eval, argc, argv, eval_body);
}
