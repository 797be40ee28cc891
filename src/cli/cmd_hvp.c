/*
 * cmd_hvp.c - `chainrule hvp`: the Hessian-vector product H v of a scalar
 * output, for a direction --v over the --wrt variables, without forming
 * the Hessian (forward mode over the reverse-mode gradient).
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
     "one JSON object: {\"output\": NAME, \"value\": NUMBER,\n"
     "\"v\": {NAME: VALUE, ...}, \"hvp\": {NAME: VALUE, ...}}, one entry per\n"
     "--wrt input; a VALUE is a number or, for a tensor, nested arrays"},
    {CLI_OPT_FILE, NULL, NULL},
};

const cli_spec cli_spec_hvp = {
    .name = "hvp",
    .usage = "Usage: chainrule hvp --v NAME=VALUE[,...] [--at NAME=VALUE[,...]]...\n"
             "                     [--wrt NAME[,...]] [--of NAME] [--json] 'PROGRAM' | -f "
             "FILE\n"
             "\n"
             "Prints the Hessian-vector product H v of a scalar output: for each variable\n"
             "V, (Hv)_V = d/dV (sum over W of dOUTPUT/dW * v_W), the derivative of the\n"
             "gradient along v, without forming the Hessian.\n"
             "\n",
    CLI_SPEC_OPTIONS(options),
    .epilogue = "\n"
                "Example (the first column of Rosenbrock's Hessian at 1,1: 802, -400):\n"
                "  chainrule hvp --at x=1,y=1 --v x=1 'f = (1 - x)^2 + 100*(y - x^2)^2'\n",
    .column = 16,
    .flags = CLI_SPEC_PROGRAM | CLI_SPEC_WARN_UNUSED,
};

static int hvp_body(cli *c)
{
    const cr_expr_symbol *out = cr_expr_output(c->prog);
    int rc = cli_require_scalar_output(c);
    if (rc != CLI_OK)
        return rc;
    cr_node **v = calloc(2 * c->n_wrt_syms, sizeof *v), **hv = v + c->n_wrt_syms;
    rc = v ? cli_direction(c, v) : cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    for (size_t i = 0; i < c->n_wrt_syms && rc == CLI_OK; i++) {
        cr_node *dx = cr_grad(c->g, out->node, c->wrt_syms[i]->node);
        if (!dx)
            rc = cli_higher_fail(c, "hvp");
        else if (!(hv[i] = cli_jvp_sum(c, dx, v)))
            rc = CLI_EVAL;
    }
    const char **names = rc == CLI_OK ? calloc(c->n_wrt_syms, sizeof *names) : NULL;
    if (rc == CLI_OK && !names)
        rc = cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    for (size_t i = 0; i < c->n_wrt_syms && rc == CLI_OK; i++)
        names[i] = c->wrt_syms[i]->name;
    if (rc == CLI_OK)
        rc = cli_product_report(c, "hvp", "(Hv)_", v, c->n_wrt_syms, names, hv);
    free(names);
    free(v);
    return rc;
}

int cli_cmd_hvp(int argc, char **argv)
{
    return cli_run(&cli_spec_hvp, argc, argv, hvp_body);
}
