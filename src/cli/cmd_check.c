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
    {CLI_OPT_POINTS, NULL, NULL},
    {CLI_OPT_SEED, NULL,
     "the seed of rand() and randn() in --at and of the random\n"
     "points (default 1)"},
    {CLI_OPT_RTOL, NULL, NULL},
    {CLI_OPT_ATOL, NULL, NULL},
    {CLI_OPT_ORDER, NULL, NULL},
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
        "                       [--claim dOF/dWRT=VALUE[,...]]... [--order 2] [--json]\n"
        "                       'PROGRAM' | -f FILE\n"
        "\n"
        "Checks dOUTPUT/dV from reverse mode against a numerical derivative (GSL's\n"
        "central differences) for each input V. An element passes when\n"
        "|analytic - numerical| <= 1e-5 + 1e-3*|numerical| + GSL's error estimate;\n"
        "at a kink (relu or abs at 0) it passes when it lies between the one-sided\n"
        "differences (a subgradient), and it is skipped when the step merely crosses\n"
        "a nearby kink. Exit status 1 if any fails.\n"
        "With --order 2 each second derivative d2OUTPUT/dV dW is checked the same way,\n"
        "against central differences of the gradient.\n"
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

static void claims_json(const cr_claim_report *r)
{
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
}

/* --rtol, --atol, --points and --seed. Returns an exit status. */
static int claim_options(cli *c, cli_claim_options *o)
{
    *o = (cli_claim_options){.rtol = CLAIM_RTOL, .atol = CLAIM_ATOL, .seed = 1};
    const char *const *k = c->kept;
    if ((k[CLI_OPT_RTOL] &&
         cli_option_double(c, CLI_OPT_RTOL, k[CLI_OPT_RTOL], 0, 1, &o->rtol)) ||
        (k[CLI_OPT_ATOL] &&
         cli_option_double(c, CLI_OPT_ATOL, k[CLI_OPT_ATOL], 0, 1e300, &o->atol)) ||
        (k[CLI_OPT_POINTS] &&
         cli_option_size(c, CLI_OPT_POINTS, k[CLI_OPT_POINTS], 0, &o->points)))
        return CLI_USAGE;
    if (o->points > 100000)
        return cli_fail(c, CLI_USAGE, 0, 0, "--points: at most 100000, got %zu", o->points);
    o->seed = c->seed;
    return CLI_OK;
}

/* The numeric claims checked by the library: a new report in *report, or
 * NULL when there are none. Returns an exit status. */
static int numeric_claims(cli *c, const cli_claim *cl, size_t n, const cli_claim_options *o,
                          cr_claim_report **report)
{
    *report = NULL;
    cr_claim *claims = calloc(n ? n : 1, sizeof *claims);
    if (!claims)
        return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!cl[i].formula)
            claims[m++] = (cr_claim){cl[i].of, cl[i].wrt, 0, cl[i].value};
    int rc = CLI_OK;
    if (m > 0) {
        cr_check_claims(c->g, cr_expr_output(c->prog)->node, claims, m, o->atol, o->rtol,
                        report);
        if (!*report)
            rc = cli_fail(c, CLI_USAGE, 0, 0, "--claim: %s", cr_graph_error(c->g)->message);
    }
    free(claims);
    return rc;
}

static int claims_body(cli *c)
{
    cli_claim *cl = NULL;
    size_t n = 0, formulas = 0, wrong = 0;
    cli_claim_options o;
    cr_claim_report *report = NULL;
    cli_formula_result *fr = NULL;
    int rc = claim_options(c, &o);
    if (rc == CLI_OK)
        rc = cli_claims_parse(c, &cl, &n);
    if (rc == CLI_OK)
        rc = numeric_claims(c, cl, n, &o, &report);
    for (size_t i = 0; i < n; i++)
        formulas += cl[i].formula;
    if (rc == CLI_OK && formulas)
        rc = cli_formula_claims(c, cl, n, &o, &fr);
    for (size_t i = 0; fr && i < n; i++)
        wrong += cl[i].formula && !fr[i].right;
    if (report)
        wrong += cr_claim_report_count(report, CR_CHECK_FAIL);
    if (rc == CLI_OK && c->json) {
        cli_json_begin(c);
        printf(", \"claims\": [");
        if (report)
            claims_json(report);
        if (fr)
            cli_formula_json(fr, n, !report);
        printf("]");
        cli_json_end(c);
    } else if (rc == CLI_OK) {
        if (report && cr_claim_report_print(report, stdout) != CR_OK)
            rc = cli_fail(c, CLI_USAGE, 0, 0, "cannot write the report");
        if (fr) {
            size_t bad = 0;
            for (size_t i = 0; i < n; i++)
                bad += cl[i].formula && !fr[i].right;
            printf("formula claims about %s: %zu claimed, %zu right, %zu wrong (atol %g, "
                   "rtol %g; the --at point",
                   cr_expr_output(c->prog)->name, formulas, formulas - bad, bad, o.atol,
                   o.rtol);
            if (o.points)
                printf(" and %zu random point%s, seed %lu", o.points,
                       o.points == 1 ? "" : "s", o.seed);
            printf(")\n");
            cli_formula_print(fr, n, stdout);
        }
    }
    if (rc == CLI_OK && wrong)
        rc = cli_fail(c, CLI_EVAL, 0, 0, "%zu of %zu claimed derivatives are wrong", wrong,
                      n);
    cr_claim_report_free(report);
    cli_formula_results_free(fr, n);
    cli_claims_free(cl, n);
    return rc;
}

/* ---- check --order 2: the Hessian against differences of the gradient ---- */

/* One checked row of the Hessian: element k of the gradient with respect
 * to --wrt variable var, and cr_gradcheck's report on its derivatives. */
typedef struct hessian_row {
    size_t var, k;
    cr_gradcheck_report *report;
} hessian_row;

/* "d2f/dx[0] dy" for an entry of row r into buf. */
static void second_label(const cli *c, const hessian_row *r, const cr_gradcheck_entry *e,
                         char *buf, size_t size)
{
    char row[300], col[300], name[300];
    const cr_expr_symbol *v = c->wrt_syms[r->var];
    cli_element_label(row, sizeof row, v->name, cr_node_value(v->node), r->k);
    cr_node_label(e->node, name, sizeof name);
    cli_element_label(col, sizeof col, name, cr_node_value(e->node), e->index);
    snprintf(buf, size, "d2%s/d%s d%s", cr_expr_output(c->prog)->name, row, col);
}

static void hessian_counts(const hessian_row *rows, size_t n, size_t counts[3])
{
    counts[0] = counts[1] = counts[2] = 0;
    for (size_t i = 0; i < n; i++)
        for (cr_check_result r = CR_CHECK_PASS; r <= CR_CHECK_SKIP; r++)
            counts[r] += cr_gradcheck_report_count(rows[i].report, r);
}

static void hessian_print(const cli *c, const hessian_row *rows, size_t n)
{
    size_t counts[3], width = 7;
    char label[700];
    hessian_counts(rows, n, counts);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < cr_gradcheck_report_size(rows[i].report); j++) {
            second_label(c, &rows[i], cr_gradcheck_report_entry(rows[i].report, j), label,
                         sizeof label);
            if (strlen(label) > width)
                width = strlen(label);
        }
    printf("Hessian check of %s: %zu checked, %zu passed, %zu failed, %zu skipped\n",
           cr_expr_output(c->prog)->name, counts[0] + counts[1] + counts[2], counts[0],
           counts[1], counts[2]);
    printf("  numerical: central differences of the gradient; tolerance: atol 1e-05 +\n"
           "  rtol 0.001 * |numerical| + GSL error estimate\n");
    printf("  %-*s  %16s  %16s  %8s  result\n", (int)width, "element", "analytic",
           "numerical", "abs err");
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < cr_gradcheck_report_size(rows[i].report); j++) {
            const cr_gradcheck_entry *e = cr_gradcheck_report_entry(rows[i].report, j);
            second_label(c, &rows[i], e, label, sizeof label);
            printf("  %-*s  %16.9g  %16.9g  %8.2g  %s%s%s\n", (int)width, label,
                   e->analytic + 0.0, e->numerical + 0.0, e->abs_err, /* no -0 */
                   e->result == CR_CHECK_PASS   ? "pass"
                   : e->result == CR_CHECK_FAIL ? "FAIL"
                                                : "skip",
                   e->reason[0] ? ": " : "", e->reason);
        }
}

static void hessian_json(cli *c, const hessian_row *rows, size_t n)
{
    size_t counts[3];
    char label[700];
    hessian_counts(rows, n, counts);
    cli_json_begin(c);
    printf(", \"check\": {\"order\": 2, \"passed\": %s, \"checked\": %zu, \"failed\": %zu, "
           "\"skipped\": %zu, \"entries\": [",
           counts[1] ? "false" : "true", counts[0] + counts[1] + counts[2], counts[1],
           counts[2]);
    for (size_t i = 0, first = 1; i < n; i++)
        for (size_t j = 0; j < cr_gradcheck_report_size(rows[i].report); j++, first = 0) {
            const cr_gradcheck_entry *e = cr_gradcheck_report_entry(rows[i].report, j);
            second_label(c, &rows[i], e, label, sizeof label);
            printf("%s{\"element\": ", first ? "" : ", ");
            cli_json_string(stdout, label);
            cli_json_field("analytic", e->analytic);
            cli_json_field("numerical", e->numerical);
            cli_json_field("error_estimate", e->error_estimate);
            cli_json_field("abs_err", e->abs_err);
            cli_json_field("tolerance", e->tolerance);
            printf(", \"result\": \"%s\", \"reason\": ", e->result == CR_CHECK_PASS ? "pass"
                                                         : e->result == CR_CHECK_FAIL
                                                             ? "fail"
                                                             : "skip");
            cli_json_string(stdout, e->reason);
            printf("}");
        }
    printf("]}");
    cli_json_end(c);
}

/* Element k of the gradient dx as a scalar node. */
static cr_node *gradient_element(cr_graph *g, cr_node *dx, size_t k)
{
    const long n = (long)cr_tensor_size(cr_node_value(dx));
    if (n == 1)
        return dx;
    return cr_slice(g, cr_reshape(g, dx, 1, &n), 0, (long)k, (long)k + 1, 1);
}

static int hessian_body(cli *c)
{
    int rc = cli_require_scalar_output(c);
    if (rc != CLI_OK)
        return rc;
    const size_t n = cli_wrt_size(c);
    hessian_row *rows = calloc(n ? n : 1, sizeof *rows);
    if (!rows)
        return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    size_t done = 0;
    for (size_t i = 0; i < c->n_wrt_syms && rc == CLI_OK; i++) {
        cr_node *x = c->wrt_syms[i]->node;
        cr_node *dx = cr_grad(c->g, cr_expr_output(c->prog)->node, x);
        const size_t size = cr_tensor_size(cr_node_value(x));
        for (size_t k = 0; k < size && rc == CLI_OK; k++) {
            cr_node *e = dx ? gradient_element(c->g, dx, k) : NULL;
            rows[done] = (hessian_row){i, k, NULL};
            rc = e ? cli_check_node(c, e, &rows[done].report) : cli_higher_fail(c, "check");
            done += rc == CLI_OK;
        }
    }
    if (rc == CLI_OK && c->json)
        hessian_json(c, rows, done);
    else if (rc == CLI_OK)
        hessian_print(c, rows, done);
    size_t counts[3];
    hessian_counts(rows, done, counts);
    if (rc == CLI_OK && counts[1] > 0)
        rc =
            cli_fail(c, CLI_EVAL, 0, 0,
                     "the numerical check disagrees with the Hessian for %zu of %zu second "
                     "derivatives",
                     counts[1], counts[0] + counts[1] + counts[2]);
    for (size_t i = 0; i < done; i++)
        cr_gradcheck_report_free(rows[i].report);
    free(rows);
    return rc;
}

static int body(cli *c)
{
    const char *order = c->kept[CLI_OPT_ORDER];
    if (order && strcmp(order, "1") != 0 && strcmp(order, "2") != 0)
        return cli_fail(c, CLI_USAGE, 0, 0, "--order: '%s' is not 1 or 2", order);
    const int second = order && order[0] == '2';
    if (second && c->n_claims)
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "--order 2 checks the Hessian; it does not take --claim");
    return second ? hessian_body(c) : c->n_claims ? claims_body(c) : check_body(c);
}

int cli_cmd_check(int argc, char **argv)
{
    return cli_run(&cli_spec_check, argc, argv, body);
}
