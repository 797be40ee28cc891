/*
 * cmd_explain.c - `chainrule explain`: the step-through page of a program
 * (--html FILE.html): its graph, the forward pass node by node and the
 * backward pass edge by edge with the chain rule written out, in one
 * self-contained HTML file; of a saved model (--model) layer by layer.
 */
#include "cli_common.h"
#include "commands.h"

static const cli_option_use options[] = {
    {CLI_OPT_HTML, NULL, NULL},
    {CLI_OPT_AT, NULL, NULL},
    {CLI_OPT_WRT, NULL,
     "the variables whose gradients the picture shows (default:\n"
     "every input); one name also highlights its chain"},
    {CLI_OPT_OF, NULL, NULL},
    {CLI_OPT_VIEW, NULL,
     "the picture and the steps: one node per statement\n"
     "(default for a program), per op, or per layer (default\n"
     "for --model)"},
    {CLI_OPT_RANKDIR, NULL, NULL},
    {CLI_OPT_TITLE, NULL, "a title above the picture, and the page's title"},
    {CLI_OPT_MAX_NODES, NULL, NULL},
    {CLI_OPT_FILE, NULL, NULL},
    CLI_MODEL_PICTURE_OPTION_USES,
};

const cli_spec cli_spec_explain = {
    .name = "explain",
    .usage =
        "Usage: chainrule explain --html FILE.html [--at NAME=VALUE[,...]]...\n"
        "                         [--wrt NAME[,...]] [--of NAME]\n"
        "                         [--view statements|ops|layers] [--rankdir LR|TB]\n"
        "                         [--title TEXT] [--max-nodes N] 'PROGRAM' | -f FILE\n"
        "       chainrule explain --html FILE.html --model M [--data F.csv] [--seed N]\n"
        "                         [--view layers|statements|ops] [...]\n"
        "\n"
        "Writes one self-contained HTML page (no network, no other file): the\n"
        "program's graph drawn by Graphviz, and Previous/Next buttons (or the arrow\n"
        "keys) that step through the forward pass statement by statement and the\n"
        "backward pass edge by edge: the upstream gradient, the local derivative\n"
        "(composed through unnamed steps) and their product, accumulating at each\n"
        "node, and each gradient's chain in the article's form. FILE.html#step=N\n"
        "opens step N; without scripts the page shows the final state. With --model,\n"
        "a saved model's page goes layer by layer (each layer's output shape and the\n"
        "smallest, mean and largest value forward; each gradient's norm backward).\n"
        "\n",
    CLI_SPEC_OPTIONS(options),
    .epilogue =
        "\n"
        "Example (the seed article's neuron):\n"
        "  chainrule explain --html neuron.html --wrt w1 \\\n"
        "    --at x1=0.1,x2=0.3,d=0.03,w1=0.5,w2=0.2,b=1.83 \\\n"
        "    's = x1*w1 + x2*w2 + b; predicted = sigmoid(s); E = 0.5*(d - predicted)^2'\n",
    .column = 20,
    .flags = CLI_SPEC_PROGRAM | CLI_SPEC_WARN_UNUSED,
};

static int explain_body(cli *c)
{
    if (!c->html)
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "say where to write the page: --html FILE.html");
    int rc = cli_backward(c);
    return rc == CLI_OK ? cli_write_page(c) : rc;
}

int cli_cmd_explain(int argc, char **argv)
{
    return cli_run(&cli_spec_explain, argc, argv, explain_body);
}
