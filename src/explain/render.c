/*
 * render.c - in-process rendering of a graph's DOT text through Graphviz's
 * libgvc (layout with dot, rendering to svg, png or pdf in memory, then an
 * atomic write, or the picture handed over for a page). Graphviz's messages are captured,
 * never printed. Built without libgvc, cr_dot_render says so with CR_ENOTSUP.
 */
#include "explain/chain_private.h"

#include <string.h>

#ifdef CR_HAVE_GVC
#include <gvc.h>
#endif

int cr_dot_can_render(void)
{
#ifdef CR_HAVE_GVC
    return 1;
#else
    return 0;
#endif
}

#ifdef CR_HAVE_GVC
/* Graphviz reports through a global callback and keeps one context (see
 * gv_context); rendering is therefore not thread-safe, like Graphviz. */
static char gv_message[256];

static int gv_capture(char *message)
{
    size_t used = strlen(gv_message);
    if (used + 1 < sizeof gv_message)
        snprintf(gv_message + used, sizeof gv_message - used, "%s", message);
    return 0;
}

/* Graphviz's message without its trailing newline, or a fallback. */
static const char *gv_reason(const char *fallback)
{
    size_t n = strlen(gv_message);
    while (n > 0 && (gv_message[n - 1] == '\n' || gv_message[n - 1] == ' '))
        gv_message[--n] = '\0';
    return n ? gv_message : fallback;
}

/* One Graphviz context for the whole process, made on first use and never
 * freed: Graphviz 2.43's pango plugin keeps a pointer into the font cache
 * of the context it first measured text with, so a second context, after
 * the first was freed, reads freed memory (seen under valgrind). */
static GVC_t *gv_context(void)
{
    static GVC_t *gvc;
    if (!gvc)
        gvc = gvContext();
    return gvc;
}

/* Lays text out and renders it in format into a new buffer (*data, *len). */
static cr_status render(cr_graph *g, const char *text, const char *format, char **data,
                        size_t *len)
{
    cr_status st = CR_OK;
    gv_message[0] = '\0';
    agusererrf previous = agseterrf(gv_capture);
    GVC_t *gvc = gv_context();
    Agraph_t *graph = gvc ? agmemread(text) : NULL;
    char *out = NULL;
    unsigned int n = 0;
    if (!gvc) {
        st = cr_graph_fail(g, CR_ENOMEM, "render: cannot start Graphviz");
    } else if (!graph) {
        st = cr_graph_fail(g, CR_EFORMAT, "render: Graphviz rejected the DOT text: %s",
                           gv_reason("syntax error"));
    } else if (gvLayout(gvc, graph, "dot") != 0) {
        st = cr_graph_fail(g, CR_EFORMAT, "render: Graphviz layout failed: %s",
                           gv_reason("no reason given"));
    } else {
        if (gvRenderData(gvc, graph, format, &out, &n) != 0 || !out || n == 0)
            st = cr_graph_fail(g, CR_EFORMAT, "render: Graphviz cannot render %s: %s",
                               format, gv_reason("no renderer for this format"));
        else if (!(*data = cr_malloc((size_t)n + 1)))
            st = cr_graph_fail(g, CR_ENOMEM, "render: out of memory");
        else {
            memcpy(*data, out, n);
            (*data)[n] = '\0';
            *len = n;
        }
        gvFreeLayout(gvc, graph);
    }
    if (out)
        gvFreeRenderData(out);
    if (graph)
        agclose(graph);
    agseterrf(previous);
    return st;
}
#endif

/* The rendered picture into a new buffer (chain_private.h). */
cr_status cr_dot_render_data(cr_graph *g, const cr_dot_options *opts, const char *format,
                             char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
#ifdef CR_HAVE_GVC
    char *text = NULL;
    size_t text_len = 0;
    cr_status st = cr_dot_to_string(g, opts, &text, &text_len);
    if (st != CR_OK)
        return st;
    st = render(g, text, format, data, len);
    cr_free(text);
    return st;
#else
    (void)opts;
    (void)format;
    return cr_graph_fail(g, CR_ENOTSUP, "built without Graphviz rendering");
#endif
}

static cr_status dot_render_body(cr_graph *g, const cr_dot_options *opts, const char *file,
                                 const char *format)
{
    if (!g)
        return CR_EINVAL;
    if (!file || !format)
        return cr_graph_fail(g, CR_EINVAL, "render: %s is NULL", file ? "format" : "path");
    if (strcmp(format, "svg") != 0 && strcmp(format, "png") != 0 &&
        strcmp(format, "pdf") != 0)
        return cr_graph_fail(g, CR_EINVAL, "render: format '%s' is not svg, png or pdf",
                             format);
    char *data = NULL;
    size_t len = 0;
    cr_error werr;
    cr_status st = cr_dot_render_data(g, opts, format, &data, &len);
    if (st == CR_OK && (st = cr_io_write_atomic(file, data, len, &werr)) != CR_OK)
        st = cr_graph_fail(g, st, "%s", werr.message);
    cr_free(data);
    return st;
}

cr_status cr_dot_render(cr_graph *g, const cr_dot_options *opts, const char *file,
                        const char *format)
{
    cr_status result;
    CR_IN_C_LOCALE(result, dot_render_body(g, opts, file, format));
    return result;
}
