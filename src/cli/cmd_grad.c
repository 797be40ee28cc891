/*
 * cmd_grad.c - `chainrule grad`: the output's value and its gradient with
 * respect to each --wrt variable (every input by default), for people or as
 * JSON; with --chain the derivative chains, with --check the numerical
 * check, with --dot/--render the graph as DOT or a picture; or a saved
 * model's (--model) loss on one row and the gradient of every parameter.
 */
#include "cli_common.h"
#include "commands.h"

#include <math.h>
#include <stdlib.h>

static const cli_option_use options[] = {
    {CLI_OPT_AT, NULL, NULL},
    {CLI_OPT_WRT, NULL, NULL},
    {CLI_OPT_OF, NULL, NULL},
    {CLI_OPT_CHAIN, NULL, NULL},
    {CLI_OPT_CHECK, NULL, NULL},
    {CLI_OPT_DOT, NULL, NULL},
    {CLI_OPT_RENDER, NULL, NULL},
    CLI_PICTURE_OPTION_USES,
    {CLI_OPT_TRAP, NULL, NULL},
    {CLI_OPT_JSON, NULL,
     "one JSON object: {\"output\": NAME, \"value\": NUMBER,\n"
     "\"gradient\": {NAME: NUMBER, ...}}, plus \"chains\" and \"check\"\n"
     "with --chain and --check; with --model, \"output\" is\n"
     "\"loss\" and \"gradient\" holds every parameter"},
    {CLI_OPT_FILE, NULL, NULL},
    CLI_MODEL_PICTURE_OPTION_USES,
};

const cli_spec cli_spec_grad = {
    .name = "grad",
    .usage =
        "Usage: chainrule grad [--at NAME=VALUE[,...]]... [--wrt NAME[,...]] [--of NAME]\n"
        "                      [--chain] [--check] [--dot FILE] [--render FILE] [--json]\n"
        "                      [--view statements|ops|layers] [--values] [--grads]\n"
        "                      [--rankdir LR|TB] [--title TEXT] [--max-nodes N]\n"
        "                      [--highlight NAME] [--clusters] 'PROGRAM' | -f FILE\n"
        "       chainrule grad --model M [--data F.csv | --seed N] [--dot FILE]\n"
        "                      [--render FILE] [--json] [--view layers|statements|ops] "
        "[...]\n"
        "\n"
        "Prints the output's value and dOUTPUT/dV for each variable V, by reverse mode.\n"
        "With --model, a saved model's loss on one row (as dot --model takes it) and\n"
        "dloss/dP for each of its parameters P; --dot and --render draw the model as\n"
        "dot --model does, one box per layer by default.\n"
        "\n",
    CLI_SPEC_OPTIONS(options),
    .epilogue =
        "\n"
        "Example (the seed article's neuron):\n"
        "  chainrule grad --chain --at x1=0.1,x2=0.3,d=0.03,w1=0.5,w2=0.2,b=1.83 \\\n"
        "    --wrt w1,w2,b 's = x1*w1 + x2*w2 + b; predicted = sigmoid(s);\n"
        "    E = 0.5*(d - predicted)^2'\n"
        "  chainrule grad --model xor.crm --data xor.csv --render xor_grad.svg\n",
    .column = 16,
    .flags = CLI_SPEC_PROGRAM | CLI_SPEC_WARN_UNUSED,
};

/* Variable i of the gradient: --wrt symbol i of a program, or parameter i
 * of a model (L1.W, L1.b, L2.W, ...), its name in *name; NULL past the
 * last. */
static cr_node *variable(const cli *c, size_t i, const char **name)
{
    if (!c->model) {
        if (i >= c->n_wrt_syms)
            return NULL;
        *name = c->wrt_syms[i]->name;
        return c->wrt_syms[i]->node;
    }
    for (size_t l = 0; l < cr_model_num_layers(c->model); l++) {
        const size_t n = cr_model_layer_num_params(c->model, l);
        if (i < n) {
            cr_node *p = cr_model_layer_param(c->model, l, i);
            *name = cr_node_name(p);
            return p;
        }
        i -= n;
    }
    return NULL;
}

static void print_json(cli *c, cr_chain **chains, const cr_gradcheck_report *report)
{
    cli_json_begin(c);
    printf(", \"gradient\": {");
    const char *name;
    cr_node *v;
    for (size_t i = 0; (v = variable(c, i, &name)); i++)
        cli_json_member_tensor(i, name, cr_node_grad(v));
    printf("}");
    if (chains) {
        printf(", ");
        cli_chains_json(c, chains);
    }
    if (report) {
        printf(", ");
        cli_check_json(report);
    }
    cli_json_end(c);
}

static int print_text(cli *c, cr_chain **chains, const cr_gradcheck_report *report)
{
    const char *out = cli_output_name(c), *name;
    cli_rows rows = {0};
    char label[600];
    int bad = cli_rows_add(&rows, out, cr_node_scalar(cli_output_node(c)));
    cr_node *v;
    for (size_t i = 0; !bad && (v = variable(c, i, &name)); i++) {
        cli_grad_label(label, sizeof label, out, name);
        bad = cli_rows_add_tensor(&rows, label, cr_node_grad(v));
    }
    if (!bad)
        cli_rows_print(&rows, stdout);
    cli_rows_free(&rows);
    if (bad)
        return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    int rc = CLI_OK;
    if (chains) {
        printf("\n");
        rc = cli_chains_print(c, chains, 0);
    }
    if (report && rc == CLI_OK) {
        printf("\n");
        if (cr_gradcheck_report_print(report, stdout) != CR_OK)
            rc = cli_fail(c, CLI_USAGE, 0, 0, "cannot write the check");
    }
    return rc;
}

static int grad_body(cli *c)
{
    if (c->model && c->chain)
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "--chain takes a program, not --model; a model's chains, layer by "
                        "layer, are on its page: chainrule explain --html FILE.html "
                        "--model M");
    if (c->model && c->check)
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "--check takes a program, not --model (the numerical check "
                        "perturbs the program's inputs)");
    int rc = cli_backward(c);
    cr_chain **chains = NULL;
    cr_gradcheck_report *report = NULL;
    if (rc == CLI_OK && c->chain && !(chains = cli_chains_new(c)))
        rc = CLI_EVAL;
    if (rc == CLI_OK && c->check)
        rc = cli_check_run(c, &report);
    if (rc == CLI_OK) {
        if (c->json)
            print_json(c, chains, report);
        else
            rc = print_text(c, chains, report);
    }
    if (rc == CLI_OK)
        rc = cli_write_pictures(c);
    if (rc == CLI_OK) {
        const char *out = cli_output_name(c), *name;
        cr_node *var;
        for (size_t i = 0; (var = variable(c, i, &name)); i++) {
            const cr_tensor *gr = cr_node_grad(var);
            for (size_t k = 0; k < cr_tensor_size(gr); k++) {
                const double v = cr_tensor_get(gr, k);
                if (isfinite(v))
                    continue;
                if (cr_tensor_size(gr) == 1)
                    rc = cli_fail(c, CLI_EVAL, 0, 0, "d%s/d%s is %s", out, name,
                                  cli_nonfinite_name(v));
                else
                    rc = cli_fail(c, CLI_EVAL, 0, 0, "d%s/d%s is %s at element %zu", out,
                                  name, cli_nonfinite_name(v), k);
                break;
            }
        }
        if (report && cr_gradcheck_report_count(report, CR_CHECK_FAIL) > 0)
            rc = cli_fail(c, CLI_EVAL, 0, 0,
                          "the numerical check disagrees with reverse mode for %zu of %zu "
                          "values",
                          cr_gradcheck_report_count(report, CR_CHECK_FAIL),
                          cr_gradcheck_report_size(report));
    }
    cli_chains_free(c, chains);
    cr_gradcheck_report_free(report);
    return rc;
}

int cli_cmd_grad(int argc, char **argv)
{
    return cli_run(&cli_spec_grad, argc, argv, grad_body);
}
