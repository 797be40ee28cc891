/*
 * cmd_chain.c - `chainrule chain`: the derivative chain of the output with
 * respect to each --wrt variable in the article's form, each local
 * derivative with its formula, for people or as JSON.
 */
#include "cli_common.h"
#include "commands.h"

#include <string.h>

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
    "  --json        one JSON object: {\"output\": NAME, \"value\": NUMBER,\n"
    "                \"chains\": {NAME: {\"text\", \"derivative\", \"paths\", \"omitted\",\n"
    "                \"listed\": [{\"product\", \"edges\": [{\"of\", \"wrt\", \"formula\",\n"
    "                \"value\"}]}]}}}\n"
    "  -f FILE       read the program from FILE ('-': standard input)\n"
    "\n"
    "Example:\n"
    "  chainrule chain --at x1=0.1,x2=0.3,d=0.03,w1=0.5,w2=0.2,b=1.83 --wrt w1 \\\n"
    "    's = x1*w1 + x2*w2 + b; predicted = sigmoid(s); E = 0.5*(d - predicted)^2'\n";

static int unicode;

static int chain_body(cli *c)
{
    cr_chain **chains = cli_chains_new(c);
    if (!chains)
        return CLI_EVAL;
    int rc = CLI_OK;
    if (c->json) {
        const cr_expr_symbol *out = cr_expr_output(c->prog);
        printf("{\"output\": ");
        cli_json_string(stdout, out->name);
        printf(", \"value\": ");
        cli_json_number(stdout, cr_node_scalar(out->node));
        printf(", ");
        cli_chains_json(c, chains);
        printf("}\n");
        c->json_done = 1;
    } else {
        rc = cli_chains_print(c, chains,
                              CR_CHAIN_PRINT_FORMULAS | (unicode ? CR_CHAIN_PRINT_UNICODE : 0));
    }
    cli_chains_free(c, chains);
    return rc;
}

int cli_cmd_chain(int argc, char **argv)
{
    /* --unicode is this subcommand's own switch: take it out first. */
    int kept = 0;
    unicode = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (i < argc)
                argv[kept++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "--unicode") == 0)
            unicode = 1;
        else
            argv[kept++] = argv[i];
    }
    return cli_run("chain", cli_help_chain,
                   CLI_OPT_AT | CLI_OPT_WRT | CLI_OPT_OF | CLI_OPT_JSON | CLI_WARN_UNUSED, kept,
                   argv, chain_body);
}
