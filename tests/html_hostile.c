/*
 * html_hostile.c - writes the step-through page of a graph whose names and
 * title are hostile (an HTML end tag and script, quotes, '&', UTF-8) to the
 * file named by its argument, for tests/browser.sh to open in a browser.
 */
#include <chainrule.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: html_hostile FILE.html\n");
        return 2;
    }
    cr_graph *g = cr_graph_new();
    cr_node *a = cr_input_scalar(g, "</script><script>alert(1)</script>", 2.0);
    cr_node *b = cr_input_scalar(g, "quote\"d 'x' & ∂é→ü", 3.0);
    cr_node *y = cr_mul(g, a, b);
    cr_dot_options o;
    cr_dot_options_init(&o);
    o.loss = y;
    o.title = "<b>title</b> & \"more\"";
    int rc = 0;
    if (!y || cr_node_set_name(y, "<img src=x onerror=alert(2)>") != CR_OK ||
        cr_explain_html(g, &o, argv[1]) != CR_OK) {
        fprintf(stderr, "html_hostile: %s\n", cr_graph_error(g)->message);
        rc = 1;
    }
    cr_graph_free(g);
    return rc;
}
