/*
 * value.c - value literals (chainrule/expr.h, cr_expr_parse_value): a
 * number, a nested list of numbers ("[[1, 2], [3, 4]]") or a random tensor
 * ("randn(3, 4)"), read with the language's lexer so a value and a program
 * agree on what a number is. The command line's --at values go through
 * here.
 */
#include "core/rng.h"
#include "lang/lang_private.h"

#include <stdio.h>
#include <string.h>

/* The state of one read: the lexer, the caller's error and the numbers
 * read so far. */
typedef struct value_reader {
    cr_lexer lx;
    cr_error *err;
    double *data;
    size_t n, cap;
} value_reader;

/* The next token; a value may span lines. */
static cr_status next(value_reader *r, cr_token *t)
{
    cr_status st;
    do
        st = cr_lex_next(&r->lx, t, r->err);
    while (st == CR_OK && t->kind == T_NEWLINE);
    return st;
}

static cr_status unexpected(value_reader *r, const cr_token *t, const char *what)
{
    return cr_lang_fail(r->err, CR_ESYNTAX, t->line, t->col, "expected %s, got %s", what,
                        cr_lex_describe(&r->lx, t).text);
}

/* A number with an optional '-' in front, whose first token is t. */
static cr_status read_number(value_reader *r, cr_token *t, double *v)
{
    double sign = 1;
    cr_status st;
    if (t->kind == T_MINUS) {
        sign = -1;
        if ((st = next(r, t)) != CR_OK)
            return st;
    }
    if (t->kind != T_NUMBER)
        return unexpected(r, t, "a number");
    *v = sign * t->num;
    return CR_OK;
}

static cr_status push(value_reader *r, double v, const cr_token *t)
{
    if (cr_grow((void **)&r->data, &r->cap, r->n + 1, sizeof *r->data) != CR_OK)
        return cr_lang_fail(r->err, CR_ENOMEM, t->line, t->col,
                            "out of memory reading a value");
    r->data[r->n++] = v;
    return CR_OK;
}

/* "[1][0]": the position of the list at depth d (its indices above it). */
static void position(char *buf, size_t size, const size_t *idx, int d)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < d && used < size; k++) {
        int w = snprintf(buf + used, size - used, "[%zu]", idx[k]);
        if (w < 0)
            return;
        used += (size_t)w;
    }
}

/* A nested list whose '[' is t: every number in row-major order into r,
 * its shape into rank and shape. Iterative, with one index per depth. */
static cr_status read_list(value_reader *r, cr_token *t, int *rank, size_t *shape)
{
    size_t idx[CR_MAX_RANK] = {0};
    int known[CR_MAX_RANK] = {0};
    int depth = 0, leaf_depth = -1;
    char here[96], first[96];
    cr_status st;
    for (;;) {
        /* t starts an item of the list at depth - 1 (or the whole value) */
        if (t->kind == T_LBRACKET) {
            if (leaf_depth >= 0 && depth >= leaf_depth) {
                position(here, sizeof here, idx, depth);
                return cr_lang_fail(r->err, CR_ESHAPE, t->line, t->col,
                                    "a list where a number belongs (at %s)", here);
            }
            if (depth == CR_MAX_RANK)
                return cr_lang_fail(r->err, CR_ERANGE, t->line, t->col,
                                    "more than %d levels of brackets (the largest rank "
                                    "is %d)",
                                    CR_MAX_RANK, CR_MAX_RANK);
            idx[depth++] = 0;
            if ((st = next(r, t)) != CR_OK)
                return st;
            if (t->kind == T_RBRACKET)
                return cr_lang_fail(r->err, CR_ESHAPE, t->line, t->col,
                                    "an empty list (every dimension must be at least 1)");
            continue;
        }
        if (depth == 0) /* not reached: the caller saw '[' */
            return unexpected(r, t, "'['");
        if (leaf_depth >= 0 && depth != leaf_depth) {
            position(here, sizeof here, idx, depth);
            return cr_lang_fail(r->err, CR_ESHAPE, t->line, t->col,
                                "a number where a list belongs (at %s)", here);
        }
        double v = 0;
        if ((st = read_number(r, t, &v)) != CR_OK || (st = push(r, v, t)) != CR_OK)
            return st;
        leaf_depth = depth;
        /* after an item: ',' for the next one, or ']' closing lists */
        for (;;) {
            if ((st = next(r, t)) != CR_OK)
                return st;
            if (t->kind == T_COMMA) {
                idx[depth - 1]++;
                if ((st = next(r, t)) != CR_OK)
                    return st;
                break;
            }
            if (t->kind != T_RBRACKET)
                return unexpected(r, t, "',' or ']'");
            const int d = depth - 1;
            const size_t count = idx[d] + 1;
            if (!known[d]) {
                known[d] = 1;
                shape[d] = count;
            } else if (count != shape[d]) {
                position(here, sizeof here, idx, d);
                size_t zero[CR_MAX_RANK] = {0};
                position(first, sizeof first, zero, d);
                return cr_lang_fail(r->err, CR_ESHAPE, t->line, t->col,
                                    "a ragged list: %s has %zu item%s, %s has %zu", here,
                                    count, count == 1 ? "" : "s", first, shape[d]);
            }
            if (--depth == 0) {
                *rank = leaf_depth;
                return CR_OK;
            }
        }
    }
}

/* rand(d1, ...) or randn(d1, ...) after the name: the shape. */
static cr_status read_shape(value_reader *r, const cr_token *name, int *rank, size_t *shape)
{
    cr_token t;
    cr_status st;
    if ((st = next(r, &t)) != CR_OK)
        return st;
    if (t.kind != T_LPAREN)
        return unexpected(r, &t, "'('");
    *rank = 0;
    for (;;) {
        if ((st = next(r, &t)) != CR_OK)
            return st;
        if (t.kind != T_NUMBER || t.num < 1 || t.num > 1e15 ||
            t.num != (double)(size_t)t.num)
            return cr_lang_fail(
                r->err, CR_ESYNTAX, t.line, t.col,
                "%.*s(): a size must be a whole number of at least 1, got %s",
                (int)name->len, r->lx.text + name->start, cr_lex_describe(&r->lx, &t).text);
        if (*rank == CR_MAX_RANK)
            return cr_lang_fail(r->err, CR_ERANGE, t.line, t.col,
                                "%.*s(): more than %d sizes (the largest rank is %d)",
                                (int)name->len, r->lx.text + name->start, CR_MAX_RANK,
                                CR_MAX_RANK);
        shape[(*rank)++] = (size_t)t.num;
        if ((st = next(r, &t)) != CR_OK)
            return st;
        if (t.kind == T_RPAREN)
            return CR_OK;
        if (t.kind != T_COMMA)
            return unexpected(r, &t, "',' or ')'");
    }
}

/* The most elements rand() and randn() draw (128 MiB of doubles). */
#define MAX_RANDOM (1 << 24)

/* Fills t (shape already set) with draws from a generator seeded with
 * seed: uniform on [0, 1), or standard normal. */
static cr_status draw(cr_tensor *t, int normal, unsigned long seed, cr_error *err)
{
    gsl_rng rng;
    if (cr_rng_open(&rng, seed) != CR_OK)
        return cr_error_set(err, CR_ENOMEM, "expr", "out of memory drawing a value");
    cr_init_draw(&rng, normal ? CR_INIT_NORMAL : CR_INIT_UNIFORM, 1, 1, 0.0, 1.0, t->data,
                 t->size);
    cr_rng_close(&rng);
    return CR_OK;
}

static cr_status parse_value_body(const char *text, size_t len, unsigned long seed,
                                  cr_tensor **out, cr_error *err)
{
    cr_status st = cr_lex_validate(text, len, err);
    if (st != CR_OK)
        return st;
    value_reader r = {.lx = {.text = text, .len = len, .line = 1, .col = 1}, .err = err};
    cr_token t, name = {0};
    int rank = 0, random = 0;
    size_t shape[CR_MAX_RANK] = {0};
    if ((st = next(&r, &t)) != CR_OK)
        goto done;
    if (t.kind == T_LBRACKET) {
        st = read_list(&r, &t, &rank, shape);
    } else if (t.kind == T_IDENT &&
               ((t.len == 4 && memcmp(text + t.start, "rand", 4) == 0) ||
                (t.len == 5 && memcmp(text + t.start, "randn", 5) == 0))) {
        name = t;
        random = t.len == 4 ? 1 : 2;
        st = read_shape(&r, &name, &rank, shape);
    } else {
        double v = 0;
        if (t.kind != T_MINUS && t.kind != T_NUMBER) {
            st = unexpected(&r, &t, "a number, a list [...], rand(...) or randn(...)");
            goto done;
        }
        if ((st = read_number(&r, &t, &v)) == CR_OK)
            st = push(&r, v, &t);
    }
    if (st != CR_OK || (st = next(&r, &t)) != CR_OK)
        goto done;
    size_t count = 1;
    for (int k = 0; random && k < rank; k++)
        count = shape[k] > MAX_RANDOM / count ? MAX_RANDOM + 1 : count * shape[k];
    if (count > MAX_RANDOM) {
        st = cr_lang_fail(err, CR_ERANGE, name.line, name.col,
                          "%.*s(): more than %d elements", (int)name.len, text + name.start,
                          MAX_RANDOM);
        goto done;
    }
    if (t.kind != T_EOF) {
        st = unexpected(&r, &t, "the end of the value");
        goto done;
    }
    cr_tensor *v = cr_tensor_new(rank, shape, err);
    if (!v) {
        st = err ? err->status : CR_ENOMEM;
        goto done;
    }
    if (random)
        st = draw(v, random == 2, seed, err);
    else
        memcpy(v->data, r.data, r.n * sizeof *r.data);
    if (st != CR_OK) {
        cr_tensor_free(v);
        goto done;
    }
    *out = v;
done:
    cr_free(r.data);
    return st;
}

cr_status cr_expr_parse_value(const char *text, size_t len, unsigned long seed,
                              cr_tensor **out, cr_error *err)
{
    if (out)
        *out = NULL;
    if (!text || !out)
        return cr_error_set(err, CR_EINVAL, "expr", "cr_expr_parse_value: %s is NULL",
                            !text ? "the text" : "out");
    cr_error_clear(err);
    cr_status result;
    CR_IN_C_LOCALE(result, parse_value_body(text, len, seed, out, err));
    return result;
}
