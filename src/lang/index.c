/*
 * index.c - indexing in the expression language, x[i, a:b, :]: reads the
 * index after its '[' and builds NumPy's basic indexing from the slice and
 * reshape ops, so it is differentiable (cr_lang_index, lang_private.h).
 */
#include "lang/lang_private.h"

#include <limits.h>
#include <math.h>

/* The lexer of the program and where errors go. */
typedef struct index_reader {
    cr_lexer *lx;
    cr_error *err;
} index_reader;

/* The next token, skipping newlines (inside brackets). */
static cr_status next_in_brackets(index_reader *r, cr_token *t)
{
    cr_status st;
    do
        st = cr_lex_next(r->lx, t, r->err);
    while (st == CR_OK && t->kind == T_NEWLINE);
    return st;
}

/* A whole number of an index, [-]NUMBER, starting at token t. */
static cr_status index_number(index_reader *r, cr_token *t, long *out)
{
    cr_status st;
    int negative = t->kind == T_MINUS;
    if (negative && (st = next_in_brackets(r, t)) != CR_OK)
        return st;
    if (t->kind != T_NUMBER || t->num != floor(t->num) || t->num > 1e15)
        return cr_lang_fail(r->err, CR_ESYNTAX, t->line, t->col,
                            "an index is a whole number written in the program, got %s",
                            cr_lex_describe(r->lx, t).text);
    *out = negative ? -(long)t->num : (long)t->num;
    return CR_OK;
}

/* One part of an index: i, or the slice start:stop:step (each optional). */
typedef struct index_part {
    int is_slice;
    long start, stop, step;
} index_part;

/* Reads the index after its '[' (open) into parts; *n parts. */
static cr_status read_index(index_reader *r, const cr_token *open, index_part *parts,
                            int *n)
{
    cr_token t;
    cr_status st;
    *n = 0;
    for (;;) {
        if ((st = next_in_brackets(r, &t)) != CR_OK)
            return st;
        if (*n == CR_MAX_RANK)
            return cr_lang_fail(r->err, CR_ESHAPE, t.line, t.col,
                                "more than %d indices (the largest rank is %d)",
                                CR_MAX_RANK, CR_MAX_RANK);
        index_part *pt = &parts[(*n)++];
        *pt = (index_part){1, 0, LONG_MAX, 1};
        if (t.kind != T_COLON) {
            if ((st = index_number(r, &t, &pt->start)) != CR_OK ||
                (st = next_in_brackets(r, &t)) != CR_OK)
                return st;
            pt->is_slice = t.kind == T_COLON;
        }
        if (pt->is_slice) {
            if ((st = next_in_brackets(r, &t)) != CR_OK)
                return st;
            if ((t.kind == T_MINUS || t.kind == T_NUMBER) &&
                ((st = index_number(r, &t, &pt->stop)) != CR_OK ||
                 (st = next_in_brackets(r, &t)) != CR_OK))
                return st;
            if (t.kind == T_COLON) {
                if ((st = next_in_brackets(r, &t)) != CR_OK)
                    return st;
                if (t.kind == T_MINUS || t.kind == T_NUMBER) {
                    const cr_token at = t;
                    if ((st = index_number(r, &t, &pt->step)) != CR_OK ||
                        (st = next_in_brackets(r, &t)) != CR_OK)
                        return st;
                    if (pt->step < 1)
                        return cr_lang_fail(r->err, CR_ESYNTAX, at.line, at.col,
                                            "a slice's step must be at least 1, got %ld",
                                            pt->step);
                }
            }
        }
        if (t.kind == T_RBRACKET)
            return CR_OK;
        if (t.kind != T_COMMA)
            return cr_lang_fail(
                r->err, CR_ESYNTAX, t.line, t.col,
                "expected ',', ':' or ']' in the index opened at column %d, "
                "got %s",
                open->col, cr_lex_describe(r->lx, &t).text);
    }
}

/* Applies the index after '[' (open) to the value x,
 * with NumPy's basic indexing: x[i] takes element i of the first axis
 * (negative: from the end) and drops the axis, x[a:b:c] slices it, and
 * the axes not indexed are kept. Built from slice and reshape, so it is
 * differentiable. */
cr_status cr_lang_index(cr_graph *g, cr_lexer *lx, cr_error *err, const cr_token *open,
                        cr_lang_value *x)
{
    index_reader rd = {lx, err}, *r = &rd;
    index_part parts[CR_MAX_RANK];
    int n;
    cr_status st = read_index(r, open, parts, &n);
    if (st != CR_OK)
        return st;
    cr_node *node = cr_lang_node(g, x);
    if (!node)
        return cr_lang_graph_failed(g, err, open->line, open->col);
    const cr_tensor *v = cr_node_value(node);
    char shape[96];
    cr_shape_format(shape, sizeof shape, v->rank, v->shape);
    if (n > v->rank)
        return cr_lang_fail(err, CR_ESHAPE, open->line, open->col,
                            "%d ind%s for a value of shape %s (rank %d)", n,
                            n == 1 ? "ex" : "ices", shape, v->rank);
    long keep[CR_MAX_RANK];
    int n_keep = 0, dropped = 0;
    for (int k = 0; k < v->rank; k++) {
        const long dim = (long)cr_node_value(node)->shape[k];
        if (k < n && !parts[k].is_slice) {
            long i = parts[k].start < 0 ? parts[k].start + dim : parts[k].start;
            if (i < 0 || i >= dim)
                return cr_lang_fail(err, CR_ESHAPE, open->line, open->col,
                                    "index %ld is out of range for axis %d of length %ld "
                                    "(shape %s)",
                                    parts[k].start, k, dim, shape);
            node = cr_slice(g, node, k, i, i + 1, 1);
            dropped = 1;
        } else if (k < n && (parts[k].start != 0 || parts[k].stop != LONG_MAX ||
                             parts[k].step != 1)) {
            node = cr_slice(g, node, k, parts[k].start, parts[k].stop, parts[k].step);
        }
        if (!node)
            return cr_lang_graph_failed(g, err, open->line, open->col);
        if (k >= n || parts[k].is_slice)
            keep[n_keep++] = (long)cr_node_value(node)->shape[k];
    }
    if (dropped && !(node = cr_reshape(g, node, n_keep, keep)))
        return cr_lang_graph_failed(g, err, open->line, open->col);
    *x = (cr_lang_value){.node = node};
    return CR_OK;
}
