/*
 * cmd_check.c - `chainrule check`: reverse-mode gradients of the output
 * compared with central differences (GSL) for each --wrt input; exit
 * status 1 when they disagree.
 */
#include "cli_common.h"
#include "commands.h"

const char cli_help_check[] =
    "Usage: chainrule check [--at NAME=VALUE[,...]]... [--wrt NAME[,...]] [--of NAME]\n"
    "                       [--json] 'PROGRAM' | -f FILE\n"
    "\n"
    "Checks dOUTPUT/dV from reverse mode against a numerical derivative (GSL's\n"
    "central differences) for each input V. An element passes when\n"
    "|analytic - numerical| <= 1e-5 + 1e-3*|numerical| + GSL's error estimate;\n"
    "at a kink (relu or abs at 0) it is skipped. Exit status 1 if any fails.\n"
    "\n"
    "  --at NAME=VALUE[,NAME=VALUE...]  values of the inputs (repeatable)\n"
    "  --wrt NAME[,NAME...]  the inputs to check (default: every input)\n"
    "  --of NAME     the output statement (default: the last one)\n"
    "  --json        one JSON object: {\"output\": NAME, \"value\": NUMBER,\n"
    "                \"check\": {\"passed\", \"checked\", \"failed\", \"skipped\",\n"
    "                \"entries\": [{\"node\", \"index\", \"analytic\", \"numerical\",\n"
    "                \"error_estimate\", \"abs_err\", \"rel_err\", \"tolerance\",\n"
    "                \"result\", \"reason\"}]}}\n"
    "  -f FILE       read the program from FILE ('-': standard input)\n"
    "\n"
    "Example:\n"
    "  chainrule check --at x=0.3 'y = tanh(x)^2 / (1 + x^2)'\n";

static int check_body(cli *c)
{
    cr_gradcheck_report *report = NULL;
    int rc = cli_check_run(c, &report);
    if (rc != CLI_OK)
        return rc;
    if (c->json) {
        const cr_expr_symbol *out = cr_expr_output(c->prog);
        printf("{\"output\": ");
        cli_json_string(stdout, out->name);
        printf(", \"value\": ");
        cli_json_number(stdout, cr_node_scalar(out->node));
        printf(", ");
        cli_check_json(report);
        printf("}\n");
        c->json_done = 1;
    } else if (cr_gradcheck_report_print(report, stdout) != CR_OK) {
        rc = cli_fail(c, CLI_USAGE, 0, 0, "cannot write the report");
    }
    size_t failed = cr_gradcheck_report_count(report, CR_CHECK_FAIL);
    if (rc == CLI_OK && failed > 0)
        rc = cli_fail(c, CLI_EVAL, 0, 0,
                      "the numerical check disagrees with reverse mode for %zu of %zu values",
                      failed, cr_gradcheck_report_size(report));
    cr_gradcheck_report_free(report);
    return rc;
}

int cli_cmd_check(int argc, char **argv)
{
    return cli_run("check", cli_help_check,
                   CLI_OPT_AT | CLI_OPT_WRT | CLI_OPT_OF | CLI_OPT_JSON | CLI_WARN_UNUSED, argc,
                   argv, check_body);
}
