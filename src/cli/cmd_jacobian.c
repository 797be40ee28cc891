/*
 * cmd_jacobian.c - `chainrule jacobian`: the Jacobian of the output (any
 * shape) with respect to the --wrt variables, one row per element of the
 * output and one column per element of the variables, for people or as
 * JSON.
 */
#include "cli_common.h"
#include "commands.h"

static const cli_option_use options[] = {
    {CLI_OPT_AT, NULL, NULL},
    {CLI_OPT_WRT, NULL, NULL},
    {CLI_OPT_OF, NULL, NULL},
    {CLI_OPT_SEED, NULL, "the seed of rand() and randn() in --at (default 1)"},
    {CLI_OPT_TRAP, NULL, NULL},
    {CLI_OPT_JSON, NULL,
     "one JSON object: {\"output\": NAME, \"value\": VALUE (nested arrays\n"
     "for a tensor), \"jacobian\": {\"rows\": [LABEL, ...],\n"
     "\"columns\": [LABEL, ...],\n"
     "\"values\": [[NUMBER, ...], ...]}}"},
    {CLI_OPT_FILE, NULL, NULL},
};

const cli_spec cli_spec_jacobian = {
    .name = "jacobian",
    .usage =
        "Usage: chainrule jacobian [--at NAME=VALUE[,...]]... [--wrt NAME[,...]] [--of "
        "NAME]\n"
        "                          [--json] 'PROGRAM' | -f FILE\n"
        "\n"
        "Prints the Jacobian of the output: row i, column j is dOUTPUT_i/dV_j, for the\n"
        "elements of the output and of the variables V in order (x[1,0] is row 1,\n"
        "column 0 of x). One reverse pass per element of the output.\n"
        "\n",
    CLI_SPEC_OPTIONS(options),
    .epilogue = "\n"
                "Example:\n"
                "  chainrule jacobian --at x=0.5,y=2 --wrt x,y 'r = x*y; f = sin(r) + x'\n",
    .column = 16,
    .flags = CLI_SPEC_PROGRAM | CLI_SPEC_WARN_UNUSED,
};

static int jacobian_body(cli *c)
{
    const cr_expr_symbol *out = cr_expr_output(c->prog);
    cli_matrix m;
    int rc = cli_matrix_new(c, &m, out->name, out->node, 0);
    if (rc != CLI_OK)
        return rc;
    rc = cli_jacobian_fill(c, out->node, &m, 0);
    if (rc == CLI_OK)
        rc = cli_matrix_report(c, "jacobian", "Jacobian", &m);
    cli_matrix_free(&m);
    return rc;
}

int cli_cmd_jacobian(int argc, char **argv)
{
    return cli_run(&cli_spec_jacobian, argc, argv, jacobian_body);
}
