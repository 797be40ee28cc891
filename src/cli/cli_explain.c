/*
 * cli_explain.c - the explanations of the program subcommands: the
 * derivative chains (grad --chain, chain) and the numerical check (grad
 * --check, check), printed for people or written as JSON, and the
 * step-through page (explain --html) (see cli_common.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "cli_common.h"

#include <stdlib.h>

/* ---- chains ---- */

cr_chain **cli_chains_new(cli *c)
{
    cr_chain **chains = calloc(c->n_wrt_syms ? c->n_wrt_syms : 1, sizeof *chains);
    if (!chains) {
        cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
        return NULL;
    }
    cr_chain_options opts;
    cr_chain_options_init(&opts);
    opts.flags |= CR_CHAIN_NAMED_ONLY;
    cr_node *out = cr_expr_output(c->prog)->node;
    for (size_t i = 0; i < c->n_wrt_syms; i++) {
        chains[i] = cr_chain_new(c->g, out, c->wrt_syms[i]->node, &opts);
        if (!chains[i]) {
            cli_fail(c, CLI_EVAL, 0, 0, "%s", cr_graph_error(c->g)->message);
            cli_chains_free(c, chains);
            return NULL;
        }
    }
    return chains;
}

void cli_chains_free(const cli *c, cr_chain **chains)
{
    if (!chains)
        return;
    for (size_t i = 0; i < c->n_wrt_syms; i++)
        cr_chain_free(chains[i]);
    free(chains);
}

int cli_chains_print(cli *c, cr_chain **chains, unsigned flags)
{
    for (size_t i = 0; i < c->n_wrt_syms; i++)
        if (cr_chain_print(chains[i], stdout, flags) != CR_OK)
            return cli_fail(c, CLI_USAGE, 0, 0, "cannot write the chains");
    return CLI_OK;
}

static void json_label(FILE *out, const cr_node *n)
{
    char label[300];
    cr_node_label(n, label, sizeof label);
    cli_json_string(out, label);
}

void cli_chains_json(const cli *c, cr_chain **chains)
{
    printf("\"chains\": {");
    for (size_t i = 0; i < c->n_wrt_syms; i++) {
        const cr_chain *ch = chains[i];
        printf("%s", i ? ", " : "");
        cli_json_string(stdout, c->wrt_syms[i]->name);
        printf(": {\"text\": ");
        int need = cr_chain_format(ch, 0, NULL, 0);
        char *text = need >= 0 ? malloc((size_t)need + 1) : NULL;
        if (text && cr_chain_format(ch, 0, text, (size_t)need + 1) >= 0) {
            if (need > 0 && text[need - 1] == '\n')
                text[need - 1] = '\0';
            cli_json_string(stdout, text);
        } else {
            printf("null");
        }
        free(text);
        cli_json_field("derivative", cr_chain_value(ch));
        cli_json_field("paths", cr_chain_num_paths(ch));
        cli_json_field("omitted", cr_chain_num_omitted(ch));
        printf(", \"listed\": [");
        for (size_t k = 0; k < cr_chain_num_listed(ch); k++) {
            const cr_chain_path *path = cr_chain_path_at(ch, k);
            printf("%s{\"product\": ", k ? ", " : "");
            cli_json_number(stdout, path->product);
            printf(", \"edges\": [");
            for (size_t e = 0; e < path->n_edges; e++) {
                const cr_chain_edge *edge = path->edges[e];
                printf("%s{\"of\": ", e ? ", " : "");
                json_label(stdout, edge->parent);
                printf(", \"wrt\": ");
                json_label(stdout, edge->child);
                printf(", \"formula\": ");
                cli_json_string(stdout, edge->formula);
                cli_json_field("value", edge->value);
                printf("}");
            }
            printf("]}");
        }
        printf("]}");
    }
    printf("}");
}

/* ---- the numerical check ---- */

int cli_check_run(cli *c, cr_gradcheck_report **report)
{
    return cli_check_node(c, cr_expr_output(c->prog)->node, report);
}

int cli_check_node(cli *c, cr_node *output, cr_gradcheck_report **report)
{
    *report = NULL;
    cr_node **nodes = calloc(c->n_wrt_syms ? c->n_wrt_syms : 1, sizeof *nodes);
    if (!nodes)
        return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    for (size_t i = 0; i < c->n_wrt_syms; i++) {
        if (c->wrt_syms[i]->kind != CR_EXPR_INPUT) {
            free(nodes);
            return cli_fail(c, CLI_USAGE, 0, 0,
                            "--wrt: '%s' is a statement; the check perturbs inputs only",
                            c->wrt_syms[i]->name);
        }
        nodes[i] = c->wrt_syms[i]->node;
    }
    if (c->n_wrt_syms == 0) {
        free(nodes);
        return cli_fail(c, CLI_USAGE, 0, 0, "the program has no inputs to check");
    }
    cr_gradcheck_options opts = cr_gradcheck_defaults();
    cr_status st = cr_gradcheck(c->g, output, nodes, c->n_wrt_syms, &opts, report);
    free(nodes);
    if (st != CR_OK && st != CR_ECHECK)
        return cli_fail(c, st == CR_EDOMAIN ? CLI_EVAL : CLI_USAGE, 0, 0, "%s",
                        cr_graph_error(c->g)->message);
    return CLI_OK;
}

static const char *check_result_text(cr_check_result r)
{
    return r == CR_CHECK_PASS ? "pass" : r == CR_CHECK_FAIL ? "fail" : "skip";
}

void cli_check_json(const cr_gradcheck_report *r)
{
    size_t failed = cr_gradcheck_report_count(r, CR_CHECK_FAIL);
    printf(
        "\"check\": {\"passed\": %s, \"checked\": %zu, \"failed\": %zu, \"skipped\": %zu",
        failed ? "false" : "true", cr_gradcheck_report_size(r), failed,
        cr_gradcheck_report_count(r, CR_CHECK_SKIP));
    printf(", \"entries\": [");
    for (size_t i = 0; i < cr_gradcheck_report_size(r); i++) {
        const cr_gradcheck_entry *e = cr_gradcheck_report_entry(r, i);
        printf("%s{\"node\": ", i ? ", " : "");
        if (e->node)
            json_label(stdout, e->node);
        else
            printf("null");
        printf(", \"index\": %zu", e->index);
        cli_json_field("analytic", e->analytic);
        cli_json_field("numerical", e->numerical);
        cli_json_field("error_estimate", e->error_estimate);
        cli_json_field("abs_err", e->abs_err);
        cli_json_field("rel_err", e->rel_err);
        cli_json_field("tolerance", e->tolerance);
        printf(", \"result\": \"%s\", \"reason\": ", check_result_text(e->result));
        cli_json_string(stdout, e->reason);
        printf("}");
    }
    printf("]}");
}

/* ---- the step-through page ---- */

int cli_write_page(cli *c)
{
    if (!cr_dot_can_render())
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "--html: this chainrule was built without Graphviz rendering, "
                        "which the page's picture needs");
    cr_dot_options opts;
    int rc = cli_dot_options(c, &opts);
    if (rc != CLI_OK)
        return rc;
    if (cr_explain_html(c->g, &opts, c->html) != CR_OK)
        return cli_fail(c, CLI_USAGE, 0, 0, "--html: %s", cr_graph_error(c->g)->message);
    return CLI_OK;
}
