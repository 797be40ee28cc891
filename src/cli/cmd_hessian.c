/*
 * cmd_hessian.c - `chainrule hessian`: the Hessian of a scalar output with
 * respect to the --wrt variables (tensors flattened, each element
 * labelled), built as the Jacobian of the gradient, for people or as JSON.
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
     "one JSON object: {\"output\": NAME, \"value\": NUMBER,\n"
     "\"hessian\": {\"rows\": [LABEL, ...], \"columns\": [LABEL, ...],\n"
     "\"values\": [[NUMBER, ...], ...]}}"},
    {CLI_OPT_FILE, NULL, NULL},
};

const cli_spec cli_spec_hessian = {
    .name = "hessian",
    .usage = "Usage: chainrule hessian [--at NAME=VALUE[,...]]... [--wrt NAME[,...]] [--of "
             "NAME]\n"
             "                         [--json] 'PROGRAM' | -f FILE\n"
             "\n"
             "Prints the Hessian of a scalar output: row i, column j is\n"
             "d2OUTPUT/dV_i dV_j for the elements of the variables V in order (x[1,0] is\n"
             "row 1, column 0 of x), by reverse mode over reverse mode.\n"
             "\n",
    CLI_SPEC_OPTIONS(options),
    .epilogue = "\n"
                "Example (Rosenbrock's function; at its minimum 1,1 the Hessian is\n"
                "[[802, -400], [-400, 200]]):\n"
                "  chainrule hessian --at x=1,y=1 'f = (1 - x)^2 + 100*(y - x^2)^2'\n",
    .column = 16,
    .flags = CLI_SPEC_PROGRAM | CLI_SPEC_WARN_UNUSED,
};

static int hessian_body(cli *c)
{
    const cr_expr_symbol *out = cr_expr_output(c->prog);
    int rc = cli_require_scalar_output(c);
    if (rc != CLI_OK)
        return rc;
    cli_matrix m;
    if ((rc = cli_matrix_new(c, &m, out->name, out->node, 1)) != CLI_OK)
        return rc;
    size_t row0 = 0;
    for (size_t i = 0; i < c->n_wrt_syms && rc == CLI_OK; i++) {
        cr_node *x = c->wrt_syms[i]->node, *dx = cr_grad(c->g, out->node, x);
        rc = dx ? cli_jacobian_fill(c, dx, &m, row0) : cli_higher_fail(c, "hessian");
        row0 += cr_tensor_size(cr_node_value(x));
    }
    if (rc == CLI_OK)
        rc = cli_matrix_report(c, "hessian", "Hessian", &m);
    cli_matrix_free(&m);
    return rc;
}

int cli_cmd_hessian(int argc, char **argv)
{
    return cli_run(&cli_spec_hessian, argc, argv, hessian_body);
}
