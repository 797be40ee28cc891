/*
 * cli_claims.c - the claims of `chainrule check --claim`: reading
 * "dOF/dWRT = RIGHT" (a number, or a formula in the program's names), and
 * checking formula claims elementwise at the --at point and at --points
 * random points, with one-sided derivatives accepting any value between
 * them at a kink (see cli_common.h). Numeric claims go to the library's
 * cr_check_claims (cmd_check.c).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "cli_common.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading the claims ---- */

/* Whether the brackets of s are unbalanced: then the option parser cut a
 * formula at one of its commas (max(a, b)). */
static int unbalanced(const char *s)
{
    long depth = 0;
    for (; *s; s++)
        depth += (*s == '(' || *s == '[') - (*s == ')' || *s == ']');
    return depth > 0;
}

/* Joins back the pieces of formulas that --claim's comma lists cut. */
static int rejoin(cli *c)
{
    size_t out = 0;
    for (size_t i = 0; i < c->n_claims; i++) {
        if (out > 0 && unbalanced(c->claims[out - 1])) {
            char *prev = c->claims[out - 1];
            const size_t a = strlen(prev), b = strlen(c->claims[i]);
            char *joined = realloc(prev, a + b + 2);
            if (!joined)
                return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
            joined[a] = ',';
            memcpy(joined + a + 1, c->claims[i], b + 1);
            free(c->claims[i]);
            c->claims[out - 1] = joined;
            continue;
        }
        c->claims[out++] = c->claims[i];
    }
    c->n_claims = out;
    return CLI_OK;
}

static char *trimmed(const char *s, size_t n)
{
    while (n > 0 && isspace((unsigned char)*s))
        s++, n--;
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    return cli_strndup(s, n);
}

/* Reads "dOF/dWRT = RIGHT" into claim. */
static int parse_one(cli *c, const char *text, cli_claim *claim)
{
    const char *eq = strchr(text, '='), *slash = strchr(text, '/');
    const char *d = text;
    while (isspace((unsigned char)*d))
        d++;
    if (*d != 'd' || !slash || !eq || slash > eq || slash[1] != 'd' || slash == d + 1 ||
        eq == slash + 2)
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "--claim: expected dOF/dWRT=VALUE or dOF/dWRT = FORMULA, got '%s'",
                        text);
    claim->text = text;
    claim->of = trimmed(d + 1, (size_t)(slash - d - 1));
    claim->wrt = trimmed(slash + 2, (size_t)(eq - slash - 2));
    claim->right = trimmed(eq + 1, strlen(eq + 1));
    if (!claim->of || !claim->wrt || !claim->right)
        return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    if (!claim->right[0])
        return cli_fail(c, CLI_USAGE, 0, 0, "--claim: nothing after '=' in '%s'", text);
    char *end = NULL;
    claim->value = strtod(claim->right, &end);
    claim->formula = *end != '\0';
    if (!claim->formula && !isfinite(claim->value))
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "--claim: '%s' is not a finite number (in '%s')", claim->right,
                        text);
    return CLI_OK;
}

int cli_claims_parse(cli *c, cli_claim **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rc = rejoin(c);
    if (rc != CLI_OK)
        return rc;
    cli_claim *cl = calloc(c->n_claims ? c->n_claims : 1, sizeof *cl);
    if (!cl)
        return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    *out = cl;
    for (; *n < c->n_claims && rc == CLI_OK; (*n)++)
        rc = parse_one(c, c->claims[*n], &cl[*n]);
    return rc;
}

void cli_claims_free(cli_claim *cl, size_t n)
{
    for (size_t i = 0; cl && i < n; i++) {
        free(cl[i].of);
        free(cl[i].wrt);
        free(cl[i].right);
    }
    free(cl);
}

/* ---- checking formula claims ---- */

/* The program with one statement per formula claim appended
 * ("__claim_K = RIGHT"), parsed into its own graph. */
typedef struct formula_program {
    cr_graph *g;
    cr_expr_program *p;
    size_t program_lines;
} formula_program;

static int line_count(const char *text, size_t len)
{
    int lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    return lines;
}

static int formula_parse(cli *c, const cli_claim *cl, size_t n, formula_program *fp)
{
    size_t len = c->len + 2;
    for (size_t k = 0; k < n; k++)
        len += cl[k].formula ? strlen(cl[k].right) + 32 : 0;
    char *text = malloc(len);
    fp->g = cr_graph_new();
    if (!text || !fp->g) {
        free(text);
        return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    }
    const int bound = cli_bind_tensors(c, fp->g);
    if (bound != CLI_OK) {
        free(text);
        return bound;
    }
    memcpy(text, c->text, c->len);
    size_t at = c->len;
    text[at++] = '\n';
    for (size_t k = 0; k < n; k++)
        if (cl[k].formula)
            at +=
                (size_t)snprintf(text + at, len - at, "__claim_%zu = %s\n", k, cl[k].right);
    cr_error err;
    const cr_status st = cr_expr_parse(fp->g, text, at, &fp->p, &err);
    free(text);
    if (st == CR_OK)
        return CLI_OK;
    /* the program parsed before, so the problem is in a formula */
    const int first = line_count(c->text, c->len) + 1;
    size_t k = 0, line = (size_t)first;
    for (; k < n; k++)
        if (cl[k].formula && line++ == (size_t)err.line)
            break;
    if (k == n)
        return cli_fail(c, CLI_USAGE, 0, 0, "--claim: %s", err.message);
    const int col = err.column - (int)strlen("__claim_ = ") - snprintf(NULL, 0, "%zu", k);
    return cli_fail(c, CLI_USAGE, 0, 0, "--claim '%s': column %d of the formula: %s",
                    cl[k].text, col > 0 ? col : 1, err.message);
}

/* Gives input s of the formula program value (of its shape): a tensor
 * input is a node bound before the parse, a scalar one is set by name.
 * CR_OK or the status, with err (may be NULL) filled. */
static cr_status set_input(formula_program *fp, const cr_expr_symbol *s,
                           const cr_tensor *value, cr_error *err)
{
    if (cr_tensor_rank(cr_node_value(s->node)) == 0)
        return cr_expr_set(fp->p, s->name, cr_tensor_scalar(value), err);
    const cr_status st = cr_node_set_value(s->node, value);
    if (st != CR_OK && err)
        *err = *cr_graph_error(fp->g);
    return st;
}

/* Gives the formula program's inputs the values of the program's. */
static int copy_inputs(cli *c, formula_program *fp)
{
    for (size_t i = 0; i < cr_expr_num_inputs(fp->p); i++) {
        const cr_expr_symbol *s = cr_expr_input(fp->p, i);
        const cr_expr_symbol *o = cr_expr_lookup(c->prog, s->name);
        if (!o || o->kind != CR_EXPR_INPUT)
            return cli_fail(c, CLI_USAGE, 0, 0,
                            "--claim: '%s' is neither a number nor a name of the program",
                            s->name);
        cr_error err;
        if (set_input(fp, s, cr_node_value(o->node), &err) != CR_OK)
            return cli_fail_error(c, CLI_USAGE, &err);
    }
    return CLI_OK;
}

/* Whether input s is redrawn at the random points: a --wrt input, or
 * every input without --wrt. */
static int redrawn(const cli *c, const char *name)
{
    if (c->n_wrt == 0)
        return 1;
    for (size_t i = 0; i < c->n_wrt; i++)
        if (strcmp(c->wrt[i], name) == 0)
            return 1;
    return 0;
}

/* Draws new values for the redrawn inputs from N(0, 1) (the generator of
 * the graph rng) and evaluates; a point where the program is not finite
 * is drawn again, up to 20 times. Returns CLI_OK or an exit status. */
static int draw_point(cli *c, formula_program *fp, cr_graph *rng, size_t point)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        for (size_t i = 0; i < cr_expr_num_inputs(fp->p); i++) {
            const cr_expr_symbol *s = cr_expr_input(fp->p, i);
            if (!redrawn(c, s->name))
                continue;
            const cr_tensor *t = cr_node_value(s->node);
            cr_node *draw = cr_param_init(rng, NULL, cr_tensor_rank(t), cr_tensor_shape(t),
                                          CR_INIT_NORMAL, 0.0, 1.0);
            if (!draw || set_input(fp, s, cr_node_value(draw), NULL) != CR_OK)
                return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
        }
        if (cr_expr_eval(fp->p, NULL) == CR_OK)
            return CLI_OK;
    }
    return cli_fail(c, CLI_EVAL, 0, 0,
                    "--points: no random point %zu in 20 draws where the program is finite",
                    point);
}

/* Appends text to s (length *len, capacity *cap); 0, or -1 with s freed. */
static int append(char **s, size_t *len, size_t *cap, const char *text)
{
    const size_t n = strlen(text);
    if (cli_grow((void **)s, cap, *len + n + 1, 1) != 0) {
        free(*s);
        *s = NULL;
        return -1;
    }
    memcpy(*s + *len, text, n + 1);
    *len += n;
    return 0;
}

/* "a = 0.3, w = [0.1, -2]": the inputs at the point (tensors as nested
 * lists), new (free it) or NULL. */
static char *point_text(const formula_program *fp)
{
    size_t cap = 64, len = 0;
    char *s = malloc(cap);
    if (s)
        s[0] = '\0';
    for (size_t i = 0; s && i < cr_expr_num_inputs(fp->p); i++) {
        const cr_expr_symbol *in = cr_expr_input(fp->p, i);
        const cr_tensor *t = cr_node_value(in->node);
        char item[320];
        snprintf(item, sizeof item, "%s%s = ", i ? ", " : "", in->name);
        if (append(&s, &len, &cap, item) != 0)
            return NULL;
        for (size_t e = 0; e < cr_tensor_size(t); e++) {
            int open, close;
            cli_brackets(t, e, &open, &close);
            /* "+ 0.0" prints -0 as 0, here and below */
            snprintf(item, sizeof item, "%s%.*s%.9g%.*s", e ? ", " : "", open, "[[[[",
                     cr_tensor_get(t, e) + 0.0, close, "]]]]");
            if (append(&s, &len, &cap, item) != 0)
                return NULL;
        }
    }
    return s;
}

/* Sets element e of input x to v (the other elements from base, size of
 * them) and evaluates the program; returns the value of of. */
static double value_with(formula_program *fp, const cr_expr_symbol *of, cr_node *x,
                         double *base, size_t size, size_t e, double v)
{
    const double keep = base[e];
    base[e] = v;
    cr_node_set_data(x, base, size);
    base[e] = keep;
    cr_expr_eval(fp->p, NULL);
    return cr_node_scalar(of->node);
}

/* One-sided derivatives of of with respect to element e of input wrt at
 * its value: backward in *lo, forward in *hi (lo <= hi); both the
 * gradient's value t when out of memory. The program is evaluated again
 * at the point before returning. */
static void one_sided(formula_program *fp, const cr_expr_symbol *of,
                      const cr_expr_symbol *wrt, size_t e, double t, double *lo, double *hi)
{
    *lo = *hi = t;
    const cr_tensor *xt = cr_node_value(wrt->node);
    const size_t size = cr_tensor_size(xt);
    double *base = malloc(size * sizeof *base);
    if (!base)
        return;
    for (size_t i = 0; i < size; i++)
        base[i] = cr_tensor_get(xt, i);
    const double x0 = base[e], h = 1e-7 * fmax(1.0, fabs(x0));
    const double f0 = cr_node_scalar(of->node);
    const double back = (f0 - value_with(fp, of, wrt->node, base, size, e, x0 - h)) / h;
    const double fwd = (value_with(fp, of, wrt->node, base, size, e, x0 + h) - f0) / h;
    cr_node_set_data(wrt->node, base, size);
    cr_expr_eval(fp->p, NULL);
    free(base);
    *lo = fmin(back, fwd);
    *hi = fmax(back, fwd);
}

/* The named-only chain of d(of)/d(wrt) with formulas, new, or NULL. */
static char *chain_text(cr_graph *g, cr_node *of, cr_node *wrt)
{
    cr_chain_options opts;
    cr_chain_options_init(&opts);
    opts.flags |= CR_CHAIN_NAMED_ONLY;
    cr_chain *ch = cr_chain_new(g, of, wrt, &opts);
    const int len = ch ? cr_chain_format(ch, CR_CHAIN_PRINT_FORMULAS, NULL, 0) : -1;
    char *text = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (text && cr_chain_format(ch, CR_CHAIN_PRINT_FORMULAS, text, (size_t)len + 1) < 0) {
        free(text);
        text = NULL;
    }
    cr_chain_free(ch);
    return text;
}

/* Compares claim k at the current point; fills r on the first wrong
 * element (r->right = 0). A mismatch where the derivative has a kink
 * (one-sided derivatives that differ, with yours between them) is right
 * and noted. */
static void compare(cli *c, formula_program *fp, const cli_claim *cl, size_t k,
                    cli_formula_result *r, size_t point)
{
    char name[64];
    snprintf(name, sizeof name, "__claim_%zu", k);
    const cr_expr_symbol *of = cr_expr_lookup(fp->p, cl->of);
    const cr_expr_symbol *wrt = cr_expr_lookup(fp->p, cl->wrt);
    const cr_tensor *yours = cr_node_value(cr_expr_lookup(fp->p, name)->node);
    cr_node *truth_node = cr_grad(fp->g, of->node, wrt->node);
    const cr_tensor *truth = cr_node_value(truth_node);
    const size_t size = cr_tensor_size(truth), ys = cr_tensor_size(yours);
    for (size_t e = 0; e < size; e++) {
        const double y = cr_tensor_get(yours, ys == 1 ? 0 : e), t = cr_tensor_get(truth, e);
        if (fabs(y - t) <= r->atol + r->rtol * fabs(t))
            continue;
        double lo = t, hi = t;
        if (wrt->kind == CR_EXPR_INPUT)
            one_sided(fp, of, wrt, e, t, &lo, &hi);
        const double slack = 1e-6 * (1.0 + fmax(fabs(lo), fabs(hi)));
        const int kink = hi - lo > 1e-4 * (1.0 + fabs(lo) + fabs(hi));
        if (kink && (!r->at_kink || !(y >= lo - slack && y <= hi + slack))) {
            r->at_kink = 1;
            r->kink_lo = lo + 0.0; /* + 0.0: no -0 in the text */
            r->kink_hi = hi + 0.0;
            r->kink_point = point;
            cli_element_label(r->kink_element, sizeof r->kink_element, cl->wrt, truth, e);
        }
        if (kink && y >= lo - slack && y <= hi + slack)
            continue;
        r->right = 0;
        r->point = point;
        r->yours = y;
        r->truth = t;
        cli_element_label(r->element, sizeof r->element, cl->wrt, truth, e);
        r->inputs = point ? point_text(fp) : NULL;
        if (cr_tensor_size(cr_node_value(of->node)) == 1 && size == 1)
            r->chain = chain_text(fp->g, of->node, wrt->node);
        (void)c;
        return;
    }
}

/* Whether every path from node from to node to passes through node via
 * (nodes are made in order, so one sweep over the ids between them). */
static int passes_through(const cr_graph *g, const cr_node *from, const cr_node *via,
                          const cr_node *to)
{
    const size_t lo = cr_node_index(from), hi = cr_node_index(to);
    if (hi <= lo)
        return 0;
    unsigned char *reach = calloc(hi - lo + 1, 1);
    if (!reach)
        return 0;
    reach[0] = 1;
    for (size_t id = lo + 1; id <= hi; id++) {
        const cr_node *node = cr_graph_node(g, id);
        if (node == via)
            continue; /* paths through via are blocked */
        for (size_t i = 0; i < cr_node_num_inputs(node) && !reach[id - lo]; i++) {
            const size_t in = cr_node_index(cr_node_input(node, i));
            reach[id - lo] = in >= lo && in <= hi && reach[in - lo];
        }
    }
    const int blocked = !reach[hi - lo];
    free(reach);
    return blocked;
}

/* Claim k is wrong at this point: when another claim dOF/dS, for a
 * statement S that every path from WRT to OF passes through, is right,
 * the error is in the step from dOF/dS to dOF/dWRT, the vector-Jacobian
 * product through S; names it in r[k].step. */
static void name_wrong_step(formula_program *fp, const cli_claim *cl, size_t n,
                            cli_formula_result *r, size_t k)
{
    const cr_expr_symbol *of = cr_expr_lookup(fp->p, cl[k].of);
    const cr_expr_symbol *wrt = cr_expr_lookup(fp->p, cl[k].wrt);
    const cr_expr_symbol *s = NULL; /* the right one nearest to WRT */
    for (size_t j = 0; j < n; j++) {
        const cr_expr_symbol *t = cr_expr_lookup(fp->p, cl[j].wrt);
        if (j != k && cl[j].formula && r[j].right && strcmp(cl[j].of, cl[k].of) == 0 && t &&
            t->kind == CR_EXPR_STATEMENT && t->node != wrt->node &&
            (!s || cr_node_index(t->node) < cr_node_index(s->node)) &&
            passes_through(fp->g, wrt->node, t->node, of->node))
            s = t;
    }
    if (s) {
        char text[1400];
        snprintf(text, sizeof text,
                 "your d%s/d%s is right here, so the wrong step is the one through the "
                 "statement %s: the vector-Jacobian product d%s/d%s * d%s/d%s gives "
                 "%.9g at %s, yours %.9g",
                 cl[k].of, s->name, s->name, cl[k].of, s->name, s->name, cl[k].wrt,
                 r[k].truth + 0.0, r[k].element, r[k].yours + 0.0);
        r[k].step = strdup(text);
    }
}

/* Checks that the names of claim k exist and that of is a scalar and the
 * formula's value has wrt's shape (or one element). */
static int check_names(cli *c, formula_program *fp, const cli_claim *cl, size_t k)
{
    const cr_expr_symbol *of = cr_expr_lookup(fp->p, cl->of);
    const cr_expr_symbol *wrt = cr_expr_lookup(fp->p, cl->wrt);
    if (!of || !wrt)
        return cli_fail(c, CLI_USAGE, 0, 0, "--claim '%s': the program has no '%s'",
                        cl->text, !of ? cl->of : cl->wrt);
    if (cr_tensor_size(cr_node_value(of->node)) != 1)
        return cli_fail(c, CLI_USAGE, 0, 0, "--claim '%s': %s is not a scalar", cl->text,
                        cl->of);
    char name[64];
    snprintf(name, sizeof name, "__claim_%zu", k);
    const size_t ys = cr_tensor_size(cr_node_value(cr_expr_lookup(fp->p, name)->node));
    const size_t ws = cr_tensor_size(cr_node_value(wrt->node));
    if (ys != 1 && ys != ws)
        return cli_fail(c, CLI_USAGE, 0, 0,
                        "--claim '%s': the formula has %zu elements, %s has %zu", cl->text,
                        ys, cl->wrt, ws);
    if (!cr_grad(fp->g, of->node, wrt->node))
        return cli_fail(c, CLI_EVAL, 0, 0, "--claim '%s': %s", cl->text,
                        cr_graph_error(fp->g)->message);
    return CLI_OK;
}

int cli_formula_claims(cli *c, const cli_claim *cl, size_t n, const cli_claim_options *o,
                       cli_formula_result **results)
{
    *results = calloc(n ? n : 1, sizeof **results);
    if (!*results)
        return cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    formula_program fp = {0};
    cr_graph *rng = cr_graph_new();
    int rc =
        rng ? formula_parse(c, cl, n, &fp) : cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    if (rc == CLI_OK)
        rc = copy_inputs(c, &fp);
    if (rc == CLI_OK) {
        cr_error err;
        if (cr_expr_eval(fp.p, &err) != CR_OK)
            rc = cli_fail_error(c, CLI_EVAL, &err);
    }
    for (size_t k = 0; k < n && rc == CLI_OK; k++) {
        cli_formula_result *r = &(*results)[k];
        *r = (cli_formula_result){
            .claim = &cl[k], .right = 1, .rtol = o->rtol, .atol = o->atol};
        if (cl[k].formula)
            rc = check_names(c, &fp, &cl[k], k);
    }
    if (rng)
        cr_graph_set_seed(rng, o->seed);
    for (size_t point = 0; point <= o->points && rc == CLI_OK; point++) {
        if (point > 0)
            rc = draw_point(c, &fp, rng, point);
        for (size_t k = 0; k < n && rc == CLI_OK; k++) {
            cli_formula_result *r = &(*results)[k];
            if (!cl[k].formula || !r->right)
                continue;
            r->points = point + 1;
            compare(c, &fp, &cl[k], k, r, point);
        }
        for (size_t k = 0; k < n && rc == CLI_OK; k++)
            if (cl[k].formula && !(*results)[k].right && (*results)[k].point == point &&
                !(*results)[k].step)
                name_wrong_step(&fp, cl, n, *results, k);
    }
    cr_expr_free(fp.p);
    cr_graph_free(fp.g);
    cr_graph_free(rng);
    return rc;
}

void cli_formula_results_free(cli_formula_result *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        free(r[i].inputs);
        free(r[i].chain);
        free(r[i].step);
    }
    free(r);
}

/* "the --at point" or "random point 2 (a = 0.3, b = -1.2)". */
static void where_text(const cli_formula_result *r, size_t point, char *buf, size_t size)
{
    if (point == 0)
        snprintf(buf, size, "the --at point");
    else if (r->inputs && point == r->point)
        snprintf(buf, size, "random point %zu (%s)", point, r->inputs);
    else
        snprintf(buf, size, "random point %zu", point);
}

void cli_formula_print(const cli_formula_result *r, size_t n, FILE *out)
{
    char where[1200];
    for (size_t i = 0; i < n; i++) {
        const cli_formula_result *f = &r[i];
        if (!f->claim->formula)
            continue;
        fprintf(out, "  d%s/d%s = %s: ", f->claim->of, f->claim->wrt, f->claim->right);
        if (f->right)
            fprintf(out, "right at %zu point%s\n", f->points, f->points == 1 ? "" : "s");
        if (f->at_kink && f->right) {
            where_text(f, f->kink_point, where, sizeof where);
            fprintf(out,
                    "%sat %s the derivative has a kink at %s: its one-sided values are "
                    "%.9g and %.9g, and any value between them (a subgradient) is right\n",
                    f->right ? "    " : "", where, f->kink_element, f->kink_lo, f->kink_hi);
        }
        if (f->right)
            continue;
        where_text(f, f->point, where, sizeof where);
        fprintf(out, "WRONG at %s, element %s: yours %.9g, true %.9g, difference %.3g\n",
                where, f->element, f->yours + 0.0, f->truth + 0.0,
                f->yours - f->truth + 0.0);
        if (f->step)
            fprintf(out, "    %s\n", f->step);
        if (f->at_kink)
            fprintf(out,
                    "    a kink at %s: the one-sided derivatives are %.9g and %.9g; only "
                    "values between them (subgradients) are right\n",
                    f->kink_element, f->kink_lo, f->kink_hi);
        if (f->chain) {
            fprintf(out, "    the chain rule, through your named statements, gives:\n");
            for (const char *line = f->chain; *line;) {
                const char *nl = strchr(line, '\n');
                const int len = nl ? (int)(nl - line) : (int)strlen(line);
                fprintf(out, "    %.*s\n", len, line);
                line += len + (nl != NULL);
            }
        }
    }
}

void cli_formula_json(const cli_formula_result *r, size_t n, int first)
{
    for (size_t i = 0; i < n; i++) {
        const cli_formula_result *f = &r[i];
        if (!f->claim->formula)
            continue;
        char label[600];
        snprintf(label, sizeof label, "d%s/d%s", f->claim->of, f->claim->wrt);
        printf("%s{\"claim\": ", first ? "" : ", ");
        first = 0;
        cli_json_string(stdout, label);
        printf(", \"formula\": ");
        cli_json_string(stdout, f->claim->right);
        printf(", \"right\": %s, \"points\": %zu", f->right ? "true" : "false", f->points);
        if (f->at_kink) {
            printf(", \"kink\": {\"point\": %zu", f->kink_point);
            cli_json_field("low", f->kink_lo);
            cli_json_field("high", f->kink_hi);
            printf("}");
        }
        if (!f->right) {
            printf(", \"point\": %zu, \"element\": ", f->point);
            cli_json_string(stdout, f->element);
            cli_json_field("yours", f->yours);
            cli_json_field("true", f->truth);
            cli_json_field("difference", f->yours - f->truth);
            if (f->chain) {
                printf(", \"chain\": ");
                cli_json_string(stdout, f->chain);
            }
            if (f->step) {
                printf(", \"step\": ");
                cli_json_string(stdout, f->step);
            }
        }
        printf("}");
    }
}
