/*
 * cmd_jvp.c - `chainrule jvp`: the Jacobian-vector product J v of the
 * output (any shape) for a direction --v over the --wrt variables, by
 * forward mode (the tangent propagated as graph nodes).
 */
#include "cli_common.h"
#include "commands.h"

#include <stdlib.h>

static const cli_option_use options[] = {
    {CLI_OPT_AT, NULL, NULL},
    {CLI_OPT_V, NULL, NULL},
    {CLI_OPT_WRT, NULL, NULL},
    {CLI_OPT_OF, NULL, NULL},
    {CLI_OPT_SEED, NULL, "the seed of rand() and randn() in --at and --v (default 1)"},
    {CLI_OPT_TRAP, NULL, NULL},
    {CLI_OPT_JSON, NULL,
     "one JSON object: {\"output\": NAME, \"value\": VALUE,\n"
     "\"v\": {NAME: VALUE, ...}, \"jvp\": {NAME: VALUE}}, v per --wrt input,\n"
     "jvp for the output; a VALUE is a number or, for a tensor, nested arrays"},
    {CLI_OPT_FILE, NULL, NULL},
};

const cli_spec cli_spec_jvp = {
    .name = "jvp",
    .usage = "Usage: chainrule jvp --v NAME=VALUE[,...] [--at NAME=VALUE[,...]]...\n"
             "                     [--wrt NAME[,...]] [--of NAME] [--json] 'PROGRAM' | -f "
             "FILE\n"
             "\n"
             "Prints the Jacobian-vector product J v of the output, the directional\n"
             "derivative sum over V of dOUTPUT/dV * v_V, by forward mode.\n"
             "\n",
    CLI_SPEC_OPTIONS(options),
    .epilogue = "\n"
                "Example (the change of f along x = 1, y = -1):\n"
                "  chainrule jvp --at x=0.5,y=2 --v x=1,y=-1 'f = sin(x*y) + x'\n",
    .column = 16,
    .flags = CLI_SPEC_PROGRAM | CLI_SPEC_WARN_UNUSED,
};

static int jvp_body(cli *c)
{
    const cr_expr_symbol *out = cr_expr_output(c->prog);
    cr_node **v = calloc(c->n_wrt_syms ? c->n_wrt_syms : 1, sizeof *v), *jv = NULL;
    int rc = v ? cli_direction(c, v) : cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    if (rc == CLI_OK && !(jv = cli_jvp_sum(c, out->node, v)))
        rc = CLI_EVAL;
    if (rc == CLI_OK)
        rc = cli_product_report(c, "jvp", "(Jv)_", v, 1, &out->name, &jv);
    free(v);
    return rc;
}

int cli_cmd_jvp(int argc, char **argv)
{
    return cli_run(&cli_spec_jvp, argc, argv, jvp_body);
}
