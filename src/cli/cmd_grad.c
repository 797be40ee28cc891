/*
 * cmd_grad.c - `chainrule grad`: the output's value and its gradient with
 * respect to each --wrt variable (every input by default), for people or as
 * JSON.
 */
#include "cli_common.h"
#include "commands.h"

#include <math.h>

const char cli_help_grad[] =
    "Usage: chainrule grad [--at NAME=VALUE[,...]]... [--wrt NAME[,...]] [--of NAME]\n"
    "                      [--json] 'PROGRAM'\n"
    "       chainrule grad [OPTIONS] -f FILE      (FILE '-' reads standard input)\n"
    "\n"
    "Prints the output's value and dOUTPUT/dV for each variable V, by reverse mode.\n"
    "\n"
    "  --at NAME=VALUE[,NAME=VALUE...]  values of the inputs (repeatable)\n"
    "  --wrt NAME[,NAME...]  the variables (inputs or statements; default: every input)\n"
    "  --of NAME     the output statement (default: the last one)\n"
    "  --json        one JSON object: {\"output\": NAME, \"value\": NUMBER,\n"
    "                \"gradient\": {NAME: NUMBER, ...}}\n"
    "  -f FILE       read the program from FILE\n"
    "\n"
    "Example (the seed article's neuron):\n"
    "  chainrule grad --at x1=0.1,x2=0.3,d=0.03,w1=0.5,w2=0.2,b=1.83 --wrt w1,w2,b \\\n"
    "    's = x1*w1 + x2*w2 + b; predicted = sigmoid(s); E = 0.5*(d - predicted)^2'\n";

static double grad_of(const cr_expr_symbol *s)
{
    return cr_tensor_scalar(cr_node_grad(s->node));
}

static int grad_body(cli *c)
{
    int rc = cli_backward(c);
    if (rc != CLI_OK)
        return rc;
    const cr_expr_symbol *out = cr_expr_output(c->prog);
    if (c->json) {
        printf("{\"output\": ");
        cli_json_string(stdout, out->name);
        printf(", \"value\": ");
        cli_json_number(stdout, cr_node_scalar(out->node));
        printf(", \"gradient\": {");
        for (size_t i = 0; i < c->n_wrt_syms; i++) {
            printf("%s", i ? ", " : "");
            cli_json_string(stdout, c->wrt_syms[i]->name);
            printf(": ");
            cli_json_number(stdout, grad_of(c->wrt_syms[i]));
        }
        printf("}}\n");
        c->json_done = 1;
    } else {
        cli_rows rows = {0};
        char label[600];
        int bad = cli_rows_add(&rows, out->name, cr_node_scalar(out->node));
        for (size_t i = 0; i < c->n_wrt_syms && !bad; i++) {
            cli_grad_label(label, sizeof label, out->name, c->wrt_syms[i]->name);
            bad = cli_rows_add(&rows, label, grad_of(c->wrt_syms[i]));
        }
        if (!bad)
            cli_rows_print(&rows, stdout);
        cli_rows_free(&rows);
        if (bad)
            return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    }
    for (size_t i = 0; i < c->n_wrt_syms; i++) {
        double v = grad_of(c->wrt_syms[i]);
        if (!isfinite(v))
            rc = cli_fail(c, CLI_EVAL, 0, 0, "d%s/d%s is %s", out->name,
                          c->wrt_syms[i]->name, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    }
    return rc;
}

int cli_cmd_grad(int argc, char **argv)
{
    return cli_run("grad", cli_help_grad, CLI_OPT_AT | CLI_OPT_WRT | CLI_OPT_OF | CLI_OPT_JSON |
                                        CLI_WARN_UNUSED,
                   argc, argv, grad_body);
}
