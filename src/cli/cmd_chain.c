/*
 * cmd_chain.c - `chainrule chain`: the derivative chain of the output with
 * respect to each --wrt variable in the article's form, each local
 * derivative with its formula, for people or as JSON.
 */
#include "cli_common.h"
#include "commands.h"

static const cli_option_use options[] = {
    {CLI_OPT_AT, NULL, NULL},
    {CLI_OPT_SEED, NULL, "the seed of rand() and randn() in --at (default 1)"},
    {CLI_OPT_WRT, NULL, NULL},
    {CLI_OPT_OF, NULL, NULL},
    {CLI_OPT_UNICODE, NULL, NULL},
    {CLI_OPT_TRAP, NULL, NULL},
    {CLI_OPT_JSON, NULL,
     "one JSON object: {\"output\": NAME, \"value\": NUMBER,\n"
     "\"chains\": {NAME: {\"text\", \"derivative\", \"paths\", \"omitted\",\n"
     "\"listed\": [{\"product\", \"edges\": [{\"of\", \"wrt\", \"formula\",\n"
     "\"value\"}]}]}}}"},
    {CLI_OPT_FILE, NULL, NULL},
};

const cli_spec cli_spec_chain = {
    .name = "chain",
    .usage =
        "Usage: chainrule chain [--at NAME=VALUE[,...]]... [--wrt NAME[,...]] [--of NAME]\n"
        "                       [--unicode] [--json] 'PROGRAM' | -f FILE\n"
        "\n"
        "Prints dOUTPUT/dV for each variable V as the chain rule builds it: the sum\n"
        "over every path from the output to V of the product of the local\n"
        "derivatives along it, through the program's named statements, then each\n"
        "local derivative with its formula.\n"
        "\n",
    CLI_SPEC_OPTIONS(options),
    .epilogue =
        "\n"
        "Example:\n"
        "  chainrule chain --at x1=0.1,x2=0.3,d=0.03,w1=0.5,w2=0.2,b=1.83 --wrt w1 \\\n"
        "    's = x1*w1 + x2*w2 + b; predicted = sigmoid(s); E = 0.5*(d - predicted)^2'\n",
    .column = 16,
    .flags = CLI_SPEC_PROGRAM | CLI_SPEC_WARN_UNUSED,
};

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
    return cli_run(&cli_spec_chain, argc, argv, chain_body);
}
