/*
 * cmd_dot.c - `chainrule dot`: the program's graph as Graphviz DOT, every
 * edge labelled with its local derivative and every node with its value
 * and gradient; written to standard output or -o FILE, or rendered with
 * --render FILE.svg|png|pdf; or a saved model's (--model), layer by layer.
 */
#include "cli_common.h"
#include "commands.h"

static const cli_option_use options[] = {
    {CLI_OPT_AT, NULL, NULL},
    {CLI_OPT_WRT, NULL,
     "the variables whose gradients are shown (default:\n"
     "every input); one name also highlights its chain"},
    {CLI_OPT_OF, NULL, NULL},
    {CLI_OPT_OUTPUT, NULL, NULL},
    {CLI_OPT_RENDER, NULL,
     "draw the picture into FILE.svg, FILE.png or FILE.pdf (in\n"
     "process, with Graphviz) instead of writing DOT"},
    CLI_PICTURE_OPTION_USES,
    {CLI_OPT_FILE, NULL, NULL},
    CLI_MODEL_PICTURE_OPTION_USES,
};

const cli_spec cli_spec_dot = {
    .name = "dot",
    .usage =
        "Usage: chainrule dot [--at NAME=VALUE[,...]]... [--wrt NAME[,...]] [--of NAME]\n"
        "                     [-o FILE] [--render FILE] [--view statements|ops|layers]\n"
        "                     [--values] [--grads] [--rankdir LR|TB] [--title TEXT]\n"
        "                     [--max-nodes N] [--highlight NAME] [--clusters]\n"
        "                     'PROGRAM' | -f FILE\n"
        "       chainrule dot --model M [--data F.csv | --seed N] [-o FILE] [--render "
        "FILE]\n"
        "                     [--view layers|statements|ops] [...]\n"
        "\n"
        "Writes the program's graph as Graphviz DOT: one node per statement and input,\n"
        "with its value and gradient, each edge labelled with the local derivative of\n"
        "a statement with respect to the one it uses (formula and value); --view ops\n"
        "draws every operation and constant instead. With --highlight NAME, or a\n"
        "single --wrt variable, the chain from the output to it is highlighted.\n"
        "With --model, a saved model is drawn one box per layer (--view layers) after\n"
        "one forward and backward pass on one row, each edge with its Jacobian's kind\n"
        "and the norm of the gradient flowing along it.\n"
        "\n",
    CLI_SPEC_OPTIONS(options),
    .epilogue =
        "\n"
        "Example:\n"
        "  chainrule dot --at x=0.5 --wrt x 'y = sin(x)*x; z = y^2' | dot -Tsvg > z.svg\n"
        "  chainrule dot --model xor.crm --data xor.csv --rankdir TB --render xor.svg\n",
    .column = 16,
    .flags = CLI_SPEC_PROGRAM | CLI_SPEC_WARN_UNUSED,
};

static int dot_body(cli *c)
{
    int rc = cli_backward(c);
    if (rc != CLI_OK)
        return rc;
    if (c->render || c->output)
        return cli_write_pictures(c);
    cr_dot_options opts;
    if ((rc = cli_dot_options(c, &opts)) != CLI_OK)
        return rc;
    if (cr_dot_write(c->g, stdout, &opts) != CR_OK)
        return cli_fail(c, CLI_USAGE, 0, 0, "%s", cr_graph_error(c->g)->message);
    return CLI_OK;
}

int cli_cmd_dot(int argc, char **argv)
{
    return cli_run(&cli_spec_dot, argc, argv, dot_body);
}
