/*
 * program.c - a parsed program of the expression language (chainrule/expr.h):
 * its symbol table of inputs and statements, the public getters, choosing
 * the output, giving inputs values and evaluating the statements.
 */
#include "lang/lang_private.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- the symbol table ---- */

sym_entry *cr_lang_sym_find(const cr_expr_program *p, const char *name, size_t len)
{
    sym_entry *e = NULL;
    HASH_FIND(hh, p->table, name, len, e);
    return e;
}

const cr_expr_symbol *cr_lang_sym_of(const cr_expr_program *p, const sym_entry *e)
{
    return e->kind == CR_EXPR_INPUT ? &p->inputs[e->index] : &p->stmts[e->index];
}

cr_status cr_lang_mark_used(cr_expr_program *p)
{
    cr_graph *g = p->g;
    cr_status st = cr_graph_marks_reset(g);
    if (st != CR_OK)
        return st;
    cr_node *out = p->stmts[p->output].node;
    cr_graph_mark_ancestors(g, &out, 1);
    for (size_t i = 0; i < p->n_inputs; i++)
        p->inputs[i].used = g->marks[p->inputs[i].node->id] != 0;
    for (size_t i = 0; i < p->n_stmts; i++)
        p->stmts[i].used = g->marks[p->stmts[i].node->id] != 0;
    return CR_OK;
}

/* ---- the public calls ---- */

void cr_expr_free(cr_expr_program *p)
{
    if (!p)
        return;
    sym_entry *e, *tmp;
    HASH_ITER (hh, p->table, e, tmp) {
        HASH_DEL(p->table, e);
        cr_free(e->name);
        cr_free(e);
    }
    for (size_t i = 0; i < p->n_groups; i++)
        cr_free(p->groups[i]);
    cr_free(p->groups);
    cr_free(p->inputs);
    cr_free(p->stmts);
    cr_free(p->plan);
    cr_free(p->pos);
    cr_free(p);
}

cr_graph *cr_expr_graph(const cr_expr_program *p) { return p ? p->g : NULL; }
size_t cr_expr_num_inputs(const cr_expr_program *p) { return p ? p->n_inputs : 0; }
size_t cr_expr_num_statements(const cr_expr_program *p) { return p ? p->n_stmts : 0; }

const cr_expr_symbol *cr_expr_input(const cr_expr_program *p, size_t i)
{
    return p && i < p->n_inputs ? &p->inputs[i] : NULL;
}

const cr_expr_symbol *cr_expr_statement(const cr_expr_program *p, size_t i)
{
    return p && i < p->n_stmts ? &p->stmts[i] : NULL;
}

const cr_expr_symbol *cr_expr_lookup(const cr_expr_program *p, const char *name)
{
    if (!p || !name)
        return NULL;
    sym_entry *e = cr_lang_sym_find(p, name, strlen(name));
    return e ? cr_lang_sym_of(p, e) : NULL;
}

const char *cr_expr_node_group(const cr_node *node, void *program)
{
    const cr_expr_symbol *sym = node ? cr_expr_lookup(program, cr_node_name(node)) : NULL;
    return sym && sym->node == node ? sym->group : NULL;
}

const cr_expr_symbol *cr_expr_output(const cr_expr_program *p)
{
    return p ? &p->stmts[p->output] : NULL;
}

/* "s, predicted, E" (truncated with "..." when long). */
static void list_statements(const cr_expr_program *p, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < p->n_stmts && used + 1 < size; i++) {
        int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", p->stmts[i].name);
        if (n < 0 || (size_t)n >= size - used) {
            if (size > 4)
                memcpy(buf + size - 4, "...", 4);
            return;
        }
        used += (size_t)n;
    }
}

cr_status cr_expr_set_output(cr_expr_program *p, const char *name, cr_error *err)
{
    if (!p || !name)
        return cr_error_set(err, CR_EINVAL, "expr", "cr_expr_set_output: NULL argument");
    sym_entry *e = cr_lang_sym_find(p, name, strlen(name));
    if (!e || e->kind != CR_EXPR_STATEMENT) {
        char list[256];
        list_statements(p, list, sizeof list);
        return cr_error_set(err, CR_ENOTFOUND, name,
                            "'%s' is not a statement (statements: %s)", name, list);
    }
    p->output = e->index;
    if (cr_lang_mark_used(p) != CR_OK)
        return cr_error_set(err, CR_ENOMEM, "expr", "out of memory choosing the output");
    return CR_OK;
}

cr_status cr_expr_set(cr_expr_program *p, const char *name, double value, cr_error *err)
{
    if (!p || !name)
        return cr_error_set(err, CR_EINVAL, "expr", "cr_expr_set: NULL argument");
    sym_entry *e = cr_lang_sym_find(p, name, strlen(name));
    if (!e)
        return cr_error_set(err, CR_ENOTFOUND, name,
                            "'%s' is not a variable of the program", name);
    if (e->kind == CR_EXPR_STATEMENT)
        return cr_error_set(
            err, CR_ESTATE, name,
            "'%s' is computed by its statement on line %d; only inputs take "
            "values",
            name, p->stmts[e->index].line);
    if (!isfinite(value))
        return cr_error_set(err, CR_EDOMAIN, name, "the value of '%s' must be finite",
                            name);
    cr_expr_symbol *in = &p->inputs[e->index];
    cr_status st = cr_node_set_scalar(in->node, value);
    if (st != CR_OK)
        return cr_error_set(err, st, name, "%s", cr_graph_error(p->g)->message);
    in->has_value = 1;
    return CR_OK;
}

static const char *nonfinite_text(double v)
{
    return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

/* "1", or "[2,3]" for a tensor whose element k is not the one meant. */
static void operand_text(char *buf, size_t size, const cr_tensor *v, size_t k, size_t n)
{
    if (v->size == 1 || v->size == n)
        snprintf(buf, size, "%.17g", v->data[v->size == 1 ? 0 : k]);
    else
        snprintf(buf, size, "%s", cr_shape_str(v).text);
}

/* Says where the non-finite value of statement s comes from: the first
 * node feeding it (in evaluation order) that makes a NaN or an infinity
 * from finite operands, at the line and column of its operator, with its
 * op and operand values. 0 when there is none the parse built. */
static int explain_nonfinite(cr_expr_program *p, const cr_expr_symbol *s, cr_error *err)
{
    cr_graph *g = p->g;
    cr_node *target = s->node;
    if (cr_graph_marks_reset(g) != CR_OK)
        return 0;
    cr_graph_mark_ancestors(g, &target, 1);
    for (size_t i = 0; i < p->n_plan; i++) {
        cr_node *n = p->plan[i];
        const size_t id = cr_node_index(n);
        if (!g->marks[id] || id < p->pos_first || id - p->pos_first >= p->n_pos)
            continue;
        const cr_tensor *v = cr_node_value(n);
        const size_t k = cr_first_nonfinite(v->data, v->size);
        int finite_inputs = k < v->size;
        for (size_t j = 0; finite_inputs && j < cr_node_num_inputs(n); j++) {
            const cr_tensor *in = cr_node_value(cr_node_input(n, j));
            finite_inputs = cr_first_nonfinite(in->data, in->size) == in->size;
        }
        if (!finite_inputs)
            continue;
        char operands[200] = "", one[96];
        size_t used = 0;
        for (size_t j = 0; j < cr_node_num_inputs(n) && j < 3; j++) {
            operand_text(one, sizeof one, cr_node_value(cr_node_input(n, j)), k, v->size);
            int w = snprintf(operands + used, sizeof operands - used, "%s%s",
                             j == 0 ? "" : " and ", one);
            if (w < 0 || (size_t)w >= sizeof operands - used)
                break;
            used += (size_t)w;
        }
        char element[48] = "";
        if (v->size > 1)
            snprintf(element, sizeof element, " at element %zu", k);
        cr_error_set(err, CR_EDOMAIN, s->name,
                     "statement '%s' evaluates to %s: %s of %s gives %s%s", s->name,
                     nonfinite_text(cr_node_value(target)->data[cr_first_nonfinite(
                         cr_node_value(target)->data, cr_node_value(target)->size)]),
                     cr_node_op_name(n), operands, nonfinite_text(v->data[k]), element);
        if (err) {
            err->line = p->pos[id - p->pos_first].line;
            err->column = p->pos[id - p->pos_first].col;
        }
        return 1;
    }
    return 0;
}

cr_status cr_expr_eval(cr_expr_program *p, cr_error *err)
{
    if (!p)
        return cr_error_set(err, CR_EINVAL, "expr", "cr_expr_eval: the program is NULL");
    for (size_t i = 0; i < p->n_inputs; i++)
        if (!p->inputs[i].has_value)
            return cr_lang_fail(err, CR_ESTATE, p->inputs[i].line, p->inputs[i].column,
                                "variable '%s' has no value", p->inputs[i].name);
    if (!p->planned) {
        cr_node **targets = cr_malloc(p->n_stmts * sizeof *targets);
        if (!targets)
            return cr_error_set(err, CR_ENOMEM, "expr", "out of memory evaluating");
        for (size_t i = 0; i < p->n_stmts; i++)
            targets[i] = p->stmts[i].node;
        cr_status st =
            cr_graph_collect_ops(p->g, targets, p->n_stmts, 0, &p->plan, &p->n_plan);
        cr_free(targets);
        if (st != CR_OK)
            return cr_error_set(err, st, "expr", "out of memory evaluating");
        p->planned = 1;
    }
    /* With CR_GRAPH_TRAP_NONFINITE set on the graph, evaluation stops at
     * the first non-finite node and says which. */
    cr_status st = cr_eval_nodes(p->g, p->plan, p->n_plan);
    if (st != CR_OK)
        return cr_error_set(err, st, "expr", "%s", cr_graph_error(p->g)->message);
    for (size_t i = 0; i < p->n_stmts; i++) {
        const cr_tensor *v = cr_node_value(p->stmts[i].node);
        const size_t k = cr_first_nonfinite(v->data, v->size);
        if (k == v->size)
            continue;
        if (explain_nonfinite(p, &p->stmts[i], err))
            return CR_EDOMAIN;
        cr_error_set(err, CR_EDOMAIN, p->stmts[i].name, "statement '%s' evaluates to %s",
                     p->stmts[i].name, nonfinite_text(v->data[k]));
        if (err) {
            err->line = p->stmts[i].line;
            err->column = p->stmts[i].column;
        }
        return CR_EDOMAIN;
    }
    return CR_OK;
}
