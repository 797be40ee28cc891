/*
 * cmd_check.c - `chainrule check`: reverse-mode gradients of the output
 * compared with central differences (GSL) for each --wrt input, or, with
 * --claim, hand-derived derivatives (dE/dw1=0.009276093, ds/db=0) checked
 * against the chain rule and the numerical derivative, naming the first
 * wrong local factor; exit status 1 when something disagrees.
 */
#include "cli_common.h"
#include "commands.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Tolerances for claims: the seed article writes nine decimals. */
#define CLAIM_ATOL 1e-9
#define CLAIM_RTOL 1e-7

static const cli_option_use options[] = {
    {CLI_OPT_AT, NULL, NULL},
    {CLI_OPT_WRT, NULL, "the inputs to check (default: every input)"},
    {CLI_OPT_OF, NULL, NULL},
    {CLI_OPT_CLAIM, NULL, NULL},
    {CLI_OPT_TRAP, NULL, NULL},
    {CLI_OPT_JSON, NULL,
     "one JSON object: {\"output\": NAME, \"value\": NUMBER,\n"
     "\"check\": {\"passed\", \"checked\", \"failed\", \"skipped\",\n"
     "\"entries\": [{\"node\", \"index\", \"analytic\", \"numerical\",\n"
     "\"error_estimate\", \"abs_err\", \"rel_err\", \"tolerance\",\n"
     "\"result\", \"reason\"}]}}"},
    {CLI_OPT_FILE, NULL, NULL},
};

const cli_spec cli_spec_check = {
    .name = "check",
    .usage =
        "Usage: chainrule check [--at NAME=VALUE[,...]]... [--wrt NAME[,...]] [--of NAME]\n"
        "                       [--claim dOF/dWRT=VALUE[,...]]... [--json] 'PROGRAM' | -f "
        "FILE\n"
        "\n"
        "Checks dOUTPUT/dV from reverse mode against a numerical derivative (GSL's\n"
        "central differences) for each input V. An element passes when\n"
        "|analytic - numerical| <= 1e-5 + 1e-3*|numerical| + GSL's error estimate;\n"
        "at a kink (relu or abs at 0) it is skipped. Exit status 1 if any fails.\n"
        "\n",
    CLI_SPEC_OPTIONS(options),
    .epilogue = "\n"
                "                (with --claim: \"claims\": [{\"claim\", \"claimed\", "
                "\"autodiff\",\n"
                "                \"numerical\", \"right\", \"explanation\"}])\n"
                "\n"
                "Examples:\n"
                "  chainrule check --at x=0.3 'y = tanh(x)^2 / (1 + x^2)'\n"
                "  chainrule check --at x1=0.1,x2=0.3,d=0.03,w1=0.5,w2=0.2,b=1.83 \\\n"
                "    --claim dpredicted/ds=0.109860473,ds/db=0,dE/db=0 -f neuron.cr\n",
    .column = 16,
    .flags = CLI_SPEC_PROGRAM | CLI_SPEC_WARN_UNUSED,
};

static int check_body(cli *c)
{
    cr_gradcheck_report *report = NULL;
    int rc = cli_check_run(c, &report);
    if (rc != CLI_OK)
        return rc;
    if (c->json) {
        cli_json_begin(c);
        printf(", ");
        cli_check_json(report);
        cli_json_end(c);
    } else if (cr_gradcheck_report_print(report, stdout) != CR_OK) {
        rc = cli_fail(c, CLI_USAGE, 0, 0, "cannot write the report");
    }
    size_t failed = cr_gradcheck_report_count(report, CR_CHECK_FAIL);
    if (rc == CLI_OK && failed > 0)
        rc = cli_fail(
            c, CLI_EVAL, 0, 0,
            "the numerical check disagrees with reverse mode for %zu of %zu values", failed,
            cr_gradcheck_report_size(report));
    cr_gradcheck_report_free(report);
    return rc;
}

/* Parses "dOF/dWRT=VALUE" into claim (names point into buf). */
static int parse_claim(cli *c, const char *text, char *buf, cr_claim *claim)
{
    strcpy(buf, text);
    char *slash = strchr(buf, '/'), *eq = strchr(buf, '=');
    if (buf[0] != 'd' || !slash || !eq || slash > eq || slash[1] != 'd' ||
        slash == buf + 1 || eq == slash + 2)
        return cli_fail(c, CLI_USAGE, 0, 0, "--claim: expected dOF/dWRT=VALUE, got '%s'",
                        text);
    *slash = *eq = '\0';
    char *end = NULL;
    errno = 0;
    double v = strtod(eq + 1, &end);
    if (eq[1] == '\0' || *end != '\0' || !isfinite(v))
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "--claim: '%s' is not a finite number (in '%s')", eq + 1, text);
    *claim = (cr_claim){buf + 1, slash + 2, 0, v};
    return CLI_OK;
}

static void claims_json(const cr_claim_report *r)
{
    printf("\"claims\": [");
    for (size_t i = 0; i < cr_claim_report_size(r); i++) {
        const cr_claim_result *e = cr_claim_report_entry(r, i);
        printf("%s{\"claim\": ", i ? ", " : "");
        cli_json_string(stdout, e->label);
        cli_json_field("claimed", e->claimed);
        cli_json_field("autodiff", e->autodiff);
        cli_json_field("numerical", e->numerical);
        printf(", \"right\": %s, \"explanation\": ",
               e->result == CR_CHECK_PASS ? "true" : "false");
        cli_json_string(stdout, e->explanation);
        printf("}");
    }
    printf("]");
}

static int claims_body(cli *c)
{
    cr_claim *claims = calloc(c->n_claims, sizeof *claims);
    char **bufs = calloc(c->n_claims, sizeof *bufs);
    int rc = claims && bufs ? CLI_OK : cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    for (size_t i = 0; i < c->n_claims && rc == CLI_OK; i++) {
        if (!(bufs[i] = malloc(strlen(c->claims[i]) + 1)))
            rc = cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
        else
            rc = parse_claim(c, c->claims[i], bufs[i], &claims[i]);
    }
    cr_claim_report *report = NULL;
    if (rc == CLI_OK) {
        cr_status st = cr_check_claims(c->g, cr_expr_output(c->prog)->node, claims,
                                       c->n_claims, CLAIM_ATOL, CLAIM_RTOL, &report);
        if (!report)
            rc = cli_fail(c, CLI_USAGE, 0, 0, "--claim: %s", cr_graph_error(c->g)->message);
        else if (c->json) {
            cli_json_begin(c);
            printf(", ");
            claims_json(report);
            cli_json_end(c);
        } else if (cr_claim_report_print(report, stdout) != CR_OK) {
            rc = cli_fail(c, CLI_USAGE, 0, 0, "cannot write the report");
        }
        if (rc == CLI_OK && st == CR_ECHECK)
            rc = cli_fail(c, CLI_EVAL, 0, 0, "%zu of %zu claimed derivatives are wrong",
                          cr_claim_report_count(report, CR_CHECK_FAIL), c->n_claims);
    }
    cr_claim_report_free(report);
    for (size_t i = 0; bufs && i < c->n_claims; i++)
        free(bufs[i]);
    free(bufs);
    free(claims);
    return rc;
}

static int body(cli *c) { return c->n_claims ? claims_body(c) : check_body(c); }

int cli_cmd_check(int argc, char **argv)
{
    return cli_run(&cli_spec_check, argc, argv, body);
}
