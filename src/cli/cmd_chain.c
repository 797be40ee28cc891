/*
 * cmd_chain.c - `chainrule chain`: the derivative chain of the output with
 * respect to each --wrt variable in the article's form, each local
 * derivative with its formula, for people or as JSON.
 */
#include "cli_common.h"
#include "commands.h"

const char cli_help_chain[] =
    "Usage: chainrule chain [--at NAME=VALUE[,...]]... [--wrt NAME[,...]] [--of NAME]\n"
    "                       [--unicode] [--json] 'PROGRAM' | -f FILE\n"
    "\n"
    "Prints dOUTPUT/dV for each variable V as the chain rule builds it: the sum\n"
    "over every path from the output to V of the product of the local\n"
    "derivatives along it, through the program's named statements, then each\n"
    "local derivative with its formula.\n"
    "\n"
    "  --at NAME=VALUE[,NAME=VALUE...]  values of the inputs (repeatable)\n"
    "  --wrt NAME[,NAME...]  the variables (inputs or statements; default: every input)\n"
    "  --of NAME     the output statement (default: the last one)\n"
    "  --unicode     write the chains with the symbols of the article (∂, ·, ×)\n"
    "  --trap-nonfinite  stop at the first node or gradient that gives NaN or Inf\n"
    "                and name it, its op, the element and the input values\n"
    "  --json        one JSON object: {\"output\": NAME, \"value\": NUMBER,\n"
    "                \"chains\": {NAME: {\"text\", \"derivative\", \"paths\", "
    "\"omitted\",\n"
    "                \"listed\": [{\"product\", \"edges\": [{\"of\", \"wrt\", "
    "\"formula\",\n"
    "                \"value\"}]}]}}}\n"
    "  -f FILE       read the program from FILE ('-': standard input)\n"
    "\n"
    "Example:\n"
    "  chainrule chain --at x1=0.1,x2=0.3,d=0.03,w1=0.5,w2=0.2,b=1.83 --wrt w1 \\\n"
    "    's = x1*w1 + x2*w2 + b; predicted = sigmoid(s); E = 0.5*(d - predicted)^2'\n";

static int chain_body(cli *c)
{
    if (c->n_wrt_syms == 0) /* printing nothing would look like success */
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "the program has no inputs to differentiate by; name statements "
                        "with --wrt");
    cr_chain **chains = cli_chains_new(c);
    if (!chains)
        return CLI_EVAL;
    int rc = CLI_OK;
    if (c->json) {
        cli_json_begin(c);
        printf(", ");
        cli_chains_json(c, chains);
        cli_json_end(c);
    } else {
        rc = cli_chains_print(
            c, chains, CR_CHAIN_PRINT_FORMULAS | (c->unicode ? CR_CHAIN_PRINT_UNICODE : 0));
    }
    cli_chains_free(c, chains);
    return rc;
}

int cli_cmd_chain(int argc, char **argv)
{
    return cli_run("chain", cli_help_chain,
                   CLI_OPT_AT | CLI_OPT_WRT | CLI_OPT_OF | CLI_OPT_JSON | CLI_OPT_UNICODE | CLI_OPT_TRAP |
                       CLI_WARN_UNUSED,
                   argc, argv, chain_body);
}
