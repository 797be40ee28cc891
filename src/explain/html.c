/*
 * html.c - the step-through page (cr_explain_html): one self-contained HTML
 * file holding the graph as inline SVG rendered by libgvc (render.c), the
 * final state as text for readers without scripts, the steps as JSON data
 * (html_steps.c) and the small script that steps through them; written
 * through the atomic file writer.
 */
#include "explain/html_private.h"

#include <string.h>

/* ---- escaping for HTML text and attributes ---- */

/* Writes len bytes of text with &, <, >, " and ' as entities and bytes
 * that are not UTF-8 as U+FFFD. */
static void put_html(cr_sink *s, const char *text, size_t len)
{
    const unsigned char *u = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        size_t n = c >= 0x80 ? cr_utf8_length(u + i, len - i) : 1;
        if (n == 0)
            cr_sink_put(s, "\xef\xbf\xbd", 3);
        else if (c == '&')
            cr_sink_put(s, "&amp;", 5);
        else if (c == '<')
            cr_sink_put(s, "&lt;", 4);
        else if (c == '>')
            cr_sink_put(s, "&gt;", 4);
        else if (c == '"')
            cr_sink_put(s, "&quot;", 6);
        else if (c == '\'')
            cr_sink_put(s, "&#39;", 5);
        else
            cr_sink_put(s, text + i, n);
        i += n ? n : 1;
    }
}

/* Each line of text (lines end with '\n') as a <p>. */
static void put_paragraphs(cr_sink *s, const cr_sink *lines)
{
    const char *t = lines->data ? lines->data : "";
    const char *end = t + lines->len;
    while (t < end) {
        const char *nl = memchr(t, '\n', (size_t)(end - t));
        size_t len = nl ? (size_t)(nl - t) : (size_t)(end - t);
        cr_sink_put(s, "<p>", 3);
        put_html(s, t, len);
        cr_sink_put(s, "</p>\n", 5);
        t += len + 1;
    }
}

/* ---- the page ---- */

static const char page_style[] =
    "body{font-family:Helvetica,Arial,sans-serif;margin:1em;color:#222;background:#fff}\n"
    "h1{font-size:1.3em;margin:0 0 .5em}h2{font-size:1em;margin:1em 0 .3em}\n"
    ".graph svg{max-width:100%;height:auto}\n"
    ".side{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start;font-size:.95em}\n"
    ".now{flex:1 1 24em}.chainbox{flex:1 1 24em}\n"
    ".side p{margin:.25em 0}#chains p{font-family:monospace;font-size:.9em}\n"
    "#step{border-left:4px solid #1f77b4;padding:.3em .8em;background:#f4f8fc}\n"
    ".nav{display:none;margin-bottom:.6em}.js .nav{display:block}\n"
    ".nav button{font-size:1em;padding:.3em .8em}#pos{margin:0 .6em}\n"
    "g.todo{opacity:.3}g.cur ellipse,g.cur polygon,g.cur path{stroke:#1f77b4;"
    "stroke-width:4px}\n"
    "g.cur text{fill:#1f77b4;font-weight:bold}\n";

/* Shows step s of the data: the nodes computed so far with their values,
 * the edges whose local derivatives the backward pass has used, the
 * current node or edge, the step's text and the chains complete so far. */
static const char page_script[] =
    "(function () {\n"
    "  'use strict';\n"
    "  var data = JSON.parse(document.getElementById('cr-data').textContent);\n"
    "  var steps = data.steps, cur = 0;\n"
    "  document.documentElement.classList.add('js');\n"
    "  var nodes = {}, edges = {};\n"
    "  document.querySelectorAll('.graph g.node').forEach(function (g) {\n"
    "    var t = g.querySelector('title');\n"
    "    if (t) nodes[t.textContent] = g;\n"
    "  });\n"
    "  document.querySelectorAll('.graph g.edge').forEach(function (g) {\n"
    "    var t = g.querySelector('title');\n"
    "    if (t) (edges[t.textContent] = edges[t.textContent] || []).push(g);\n"
    "  });\n"
    "  function edge(e) {\n"
    "    var list = edges[e[0] + '->' + e[1]];\n"
    "    return list ? list[e[2]] : null;\n"
    "  }\n"
    "  function texts(g, pattern, shown) {\n"
    "    g.querySelectorAll('text').forEach(function (t) {\n"
    "      if (pattern.test(t.textContent)) t.style.visibility = shown ? '' : 'hidden';\n"
    "    });\n"
    "  }\n"
    "  function para(box, text) {\n"
    "    var p = document.createElement('p');\n"
    "    p.textContent = text;\n"
    "    box.appendChild(p);\n"
    "  }\n"
    "  function show(s) {\n"
    "    cur = Math.max(0, Math.min(steps.length - 1, s));\n"
    "    var st = steps[cur], back = st.p === 'backward';\n"
    "    data.ops.forEach(function (id, k) {\n"
    "      var g = nodes[id];\n"
    "      if (!g) return;\n"
    "      g.classList.toggle('todo', k >= st.f);\n"
    "      texts(g, /^= /, k < st.f);\n"
    "    });\n"
    "    Object.keys(nodes).forEach(function (id) {\n"
    "      texts(nodes[id], /, grad/, back);\n"
    "    });\n"
    "    data.chains.forEach(function (ch, k) {\n"
    "      if (nodes[ch.node]) texts(nodes[ch.node], /^grad/, back && k < st.c);\n"
    "    });\n"
    "    data.edges.forEach(function (e, k) {\n"
    "      var g = edge(e);\n"
    "      if (!g) return;\n"
    "      g.classList.toggle('todo', !back || k >= st.b);\n"
    "      texts(g, /./, back && k < st.b);\n"
    "    });\n"
    "    document.querySelectorAll('.graph .cur').forEach(function (g) {\n"
    "      g.classList.remove('cur');\n"
    "    });\n"
    "    var c = st.node ? nodes[st.node] : st.edge >= 0 ? edge(data.edges[st.edge]) : "
    "null;\n"
    "    if (c) c.classList.add('cur');\n"
    "    var box = document.getElementById('step');\n"
    "    box.textContent = '';\n"
    "    st.lines.forEach(function (l) { para(box, l); });\n"
    "    var chains = document.getElementById('chains');\n"
    "    chains.textContent = '';\n"
    "    for (var k = st.c - 1; k >= 0; k--) para(chains, data.chains[k].text);\n"
    "    if (!st.c) para(chains, '(no gradient is complete yet)');\n"
    "    document.getElementById('pos').textContent =\n"
    "      'step ' + cur + ' of ' + (steps.length - 1);\n"
    "    if (location.hash !== '#step=' + cur) history.replaceState(null, '', '#step=' + "
    "cur);\n"
    "  }\n"
    "  function fromHash() {\n"
    "    var m = /^#step=(\\d+)$/.exec(location.hash);\n"
    "    show(m ? parseInt(m[1], 10) : 0);\n"
    "  }\n"
    "  document.getElementById('prev').addEventListener('click', function () {\n"
    "    show(cur - 1);\n"
    "  });\n"
    "  document.getElementById('next').addEventListener('click', function () {\n"
    "    show(cur + 1);\n"
    "  });\n"
    "  document.addEventListener('keydown', function (e) {\n"
    "    if (e.key === 'ArrowRight') show(cur + 1);\n"
    "    else if (e.key === 'ArrowLeft') show(cur - 1);\n"
    "  });\n"
    "  window.addEventListener('hashchange', fromHash);\n"
    "  fromHash();\n"
    "})();\n";

/* The SVG element of Graphviz's output, without its XML prologue. */
static void put_svg(cr_sink *s, const char *svg, size_t len)
{
    const char *start = strstr(svg, "<svg");
    if (!start)
        start = svg;
    cr_sink_put(s, start, len - (size_t)(start - svg));
}

static void put_title(cr_sink *s, const cr_dot_options *o)
{
    if (o->title) {
        put_html(s, o->title, strlen(o->title));
        return;
    }
    cr_sink r;
    cr_sink_init(&r, NULL);
    cr_sink_printf(&r, "The chain rule, step by step: ");
    cr_sink_label(&r, o->loss);
    put_html(s, r.data ? r.data : "", r.len);
    if (r.status != CR_OK && s->status == CR_OK)
        s->status = r.status;
    cr_sink_release(&r);
}

static void put_page(cr_sink *s, const cr_dot_options *o, const char *svg, size_t svg_len,
                     const cr_sink *data, const cr_sink *lines, const cr_sink *chains)
{
    cr_sink_printf(s,
                   "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<meta name=\"generator\" content=\"chainrule\">\n<title>");
    put_title(s, o);
    cr_sink_printf(s, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>", page_style);
    put_title(s, o);
    cr_sink_printf(s, "</h1>\n<div class=\"graph\">\n");
    put_svg(s, svg, svg_len);
    cr_sink_printf(
        s, "</div>\n<div class=\"side\">\n<div class=\"now\">\n<div class=\"nav\">"
           "<button id=\"prev\" type=\"button\">&#9664; Previous</button>"
           "<span id=\"pos\">final state</span>"
           "<button id=\"next\" type=\"button\">Next &#9654;</button></div>\n"
           "<div id=\"step\">\n<p>The final state: every value and gradient.</p>\n");
    put_paragraphs(s, lines);
    cr_sink_printf(s, "</div>\n</div>\n<div class=\"chainbox\">\n<h2>The chain rule</h2>\n"
                      "<div id=\"chains\">\n");
    put_paragraphs(s, chains);
    cr_sink_printf(s, "</div>\n</div>\n</div>\n"
                      "<script type=\"application/json\" id=\"cr-data\">\n");
    cr_sink_put(s, data->data ? data->data : "", data->len);
    cr_sink_printf(s, "\n</script>\n<script>\n%s</script>\n</body>\n</html>\n",
                   page_script);
}

static cr_status check_args(cr_graph *g, const cr_dot_options *o, const char *path)
{
    if (!o || !path)
        return cr_graph_fail(g, CR_EINVAL, "explain page: %s is NULL",
                             o ? "path" : "options");
    if (!o->loss)
        return cr_graph_fail(g, CR_EINVAL, "explain page: no loss given (options.loss)");
    if (o->loss->graph != g || (o->highlight && o->highlight->graph != g))
        return cr_graph_fail(g, CR_EINVAL, "explain page: a node of another graph");
    if (o->loss->value.size != 1)
        return cr_graph_fail(g, CR_ESHAPE, "explain page: the loss %s is not a scalar",
                             cr_shape_str(&o->loss->value).text);
    if ((unsigned)o->view > CR_DOT_VIEW_LAYERS)
        return cr_graph_fail(g, CR_EINVAL, "explain page: unknown view %d", (int)o->view);
    return CR_OK;
}

static cr_status explain_html_body(cr_graph *g, const cr_dot_options *o, const char *path)
{
    if (!g)
        return CR_EINVAL;
    cr_status st = check_args(g, o, path);
    if (st != CR_OK)
        return st;
    if (!cr_dot_can_render())
        return cr_graph_fail(g, CR_ENOTSUP,
                             "explain page: built without Graphviz rendering");
    cr_sink data, lines, chains, page;
    cr_sink_init(&data, NULL);
    cr_sink_init(&lines, NULL);
    cr_sink_init(&chains, NULL);
    cr_sink_init(&page, NULL);
    char *svg = NULL;
    size_t svg_len = 0;
    cr_statements stm;
    memset(&stm, 0, sizeof stm);
    if (o->view != CR_DOT_VIEW_OPS)
        st = cr_statements_build(&stm, g, o->loss);
    if (st == CR_OK)
        st = cr_html_steps(g, o, stm.chain ? &stm : NULL, &data, &lines, &chains);
    if (st == CR_OK)
        st = cr_dot_render_data(g, o, "svg", &svg, &svg_len);
    if (st == CR_OK) {
        put_page(&page, o, svg, svg_len, &data, &lines, &chains);
        st = page.status != CR_OK ? page.status : lines.status;
        st = st != CR_OK ? st : chains.status;
        if (st != CR_OK)
            st = cr_chain_oom(g);
    }
    cr_error werr;
    if (st == CR_OK && (st = cr_io_write_atomic(path, page.data, page.len, &werr)) != CR_OK)
        st = cr_graph_fail(g, st, "%s", werr.message);
    cr_free(svg);
    cr_statements_release(&stm);
    cr_sink_release(&data);
    cr_sink_release(&lines);
    cr_sink_release(&chains);
    cr_sink_release(&page);
    return st;
}

cr_status cr_explain_html(cr_graph *g, const cr_dot_options *opts, const char *path)
{
    cr_status result;
    CR_IN_C_LOCALE(result, explain_html_body(g, opts, path));
    return result;
}
