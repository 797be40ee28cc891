/*
 * cli_picture.c - the graph of a program as a DOT file (--dot, dot -o)
 * or a picture rendered by Graphviz (--render FILE.svg|png|pdf): the
 * picture options (--view, --values, --grads, --rankdir, --title,
 * --max-nodes, --highlight, --clusters), the output styled as the loss and the chain
 * to --highlight or a single --wrt variable highlighted (see
 * cli_common.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "cli_common.h"

#include <string.h>

const char *cli_render_format(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return NULL;
    if (strcmp(dot, ".svg") == 0)
        return "svg";
    if (strcmp(dot, ".png") == 0)
        return "png";
    if (strcmp(dot, ".pdf") == 0)
        return "pdf";
    return NULL;
}

int cli_picture_option(cli *c, cli_opt id, const char *value)
{
    struct cli_picture *p = &c->pic;
    switch (id) {
    case CLI_OPT_VIEW:
        p->view_given = 1;
        if (strcmp(value, "statements") == 0)
            p->view = CR_DOT_VIEW_STATEMENTS;
        else if (strcmp(value, "ops") == 0)
            p->view = CR_DOT_VIEW_OPS;
        else if (strcmp(value, "layers") == 0)
            p->view = CR_DOT_VIEW_LAYERS;
        else
            return cli_fail(c, CLI_USAGE, 0, 0,
                            "--view: '%s' is not a view (statements, ops or layers)",
                            value);
        break;
    case CLI_OPT_RANKDIR:
        if (strcmp(value, "LR") == 0)
            p->rankdir = CR_DOT_LR;
        else if (strcmp(value, "TB") == 0)
            p->rankdir = CR_DOT_TB;
        else
            return cli_fail(c, CLI_USAGE, 0, 0, "--rankdir: '%s' is not LR or TB", value);
        break;
    case CLI_OPT_VALUES:
        p->values = 1;
        break;
    case CLI_OPT_GRADS:
        p->grads = 1;
        break;
    case CLI_OPT_CLUSTERS:
        p->clusters = 1;
        break;
    case CLI_OPT_TITLE:
        p->title = value;
        break;
    case CLI_OPT_HIGHLIGHT:
        p->highlight = value;
        break;
    case CLI_OPT_MAX_NODES:
        return cli_option_size(c, id, value, 1, &p->max_nodes) == 0 ? CLI_OK : CLI_USAGE;
    default: /* an option of the table the program subcommands do not use */
        return cli_fail(c, CLI_USAGE, 0, 0, "option '%s' is not handled",
                        cli_option_name(id));
    }
    return CLI_OK;
}

int cli_dot_options(cli *c, cr_dot_options *opts)
{
    const struct cli_picture *p = &c->pic;
    cr_dot_options_init(opts);
    opts->loss = cr_expr_output(c->prog)->node;
    if (c->n_wrt == 1 && c->n_wrt_syms == 1)
        opts->highlight = c->wrt_syms[0]->node;
    if (p->highlight) {
        const cr_expr_symbol *sym = cr_expr_lookup(c->prog, p->highlight);
        if (!sym)
            return cli_fail(c, CLI_USAGE, 0, 0,
                            "--highlight: no input or statement is named '%s'",
                            p->highlight);
        opts->highlight = sym->node;
    }
    /* statements by default, unless the output is a tensor */
    opts->view = p->view_given                                    ? p->view
                 : cr_tensor_size(cr_node_value(opts->loss)) == 1 ? CR_DOT_VIEW_STATEMENTS
                                                                  : CR_DOT_VIEW_OPS;
    opts->rankdir = p->rankdir;
    opts->title = p->title;
    opts->max_nodes = p->max_nodes;
    opts->clusters = p->clusters;
    /* the program's statement groups ("# layer 1" markers), if it has any */
    opts->group_of = cr_expr_node_group;
    opts->group_ctx = c->prog;
    if (p->values || p->grads) {
        opts->values = p->values;
        opts->grads = p->grads;
    }
    return CLI_OK;
}

int cli_write_pictures(cli *c)
{
    cr_dot_options opts;
    int rc = cli_dot_options(c, &opts);
    if (rc != CLI_OK)
        return rc;
    /* grad's --dot FILE, or dot's -o FILE: errors name the one given */
    const cli_opt dot_opt = c->dot ? CLI_OPT_DOT : CLI_OPT_OUTPUT;
    const char *dot = c->dot ? c->dot : c->output;
    if (dot && cr_dot_write_file(c->g, dot, &opts) != CR_OK)
        return cli_fail(c, CLI_USAGE, 0, 0, "%s: %s", cli_option_label(dot_opt),
                        cr_graph_error(c->g)->message);
    if (!c->render)
        return CLI_OK;
    const char *format = cli_render_format(c->render);
    if (!cr_dot_can_render())
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "--render: this chainrule was built without Graphviz rendering; "
                        "use --dot FILE and run dot(1)");
    if (cr_dot_render(c->g, &opts, c->render, format) != CR_OK)
        return cli_fail(c, CLI_USAGE, 0, 0, "--render: %s", cr_graph_error(c->g)->message);
    return CLI_OK;
}
