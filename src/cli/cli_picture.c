/*
 * cli_picture.c - the graph of a program as a DOT file (--dot, dot -o)
 * or a picture rendered by Graphviz (--render FILE.svg|png|pdf), with the
 * output styled as the loss and the chain to a single --wrt variable
 * highlighted (see cli_common.h).
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

void cli_dot_options(const cli *c, cr_dot_options *opts)
{
    cr_dot_options_init(opts);
    opts->loss = cr_expr_output(c->prog)->node;
    if (c->n_wrt == 1 && c->n_wrt_syms == 1)
        opts->highlight = c->wrt_syms[0]->node;
}

int cli_write_pictures(cli *c)
{
    cr_dot_options opts;
    cli_dot_options(c, &opts);
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
