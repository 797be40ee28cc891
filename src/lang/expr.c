/*
 * expr.c - the expression language (chainrule/expr.h): the lexer, an
 * operator-precedence parser with explicit stacks (no recursion, so deep or
 * long input cannot overflow the C stack), the program's symbol table
 * (inputs and statements) and its evaluation. The grammar is in
 * docs/expression-language.md.
 */
#include "core/internal.h"
#include "core/uthash_cr.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_BYTES 255

/* ---- the program ---- */

typedef struct sym_entry {
    char *name; /* owned; the cr_expr_symbol's name points here */
    cr_expr_kind kind;
    size_t index; /* into inputs or stmts */
    UT_hash_handle hh;
} sym_entry;

struct cr_expr_program {
    cr_graph *g;
    cr_expr_symbol *inputs;
    size_t n_inputs, cap_inputs;
    cr_expr_symbol *stmts;
    size_t n_stmts, cap_stmts;
    sym_entry *table; /* uthash head */
    size_t output;    /* statement index */
    cr_node **plan;   /* op nodes evaluated by cr_expr_eval, in order */
    size_t n_plan;
    int planned;
};

/* ---- the function table ---- */

typedef cr_node *(*unary_ctor)(cr_graph *, cr_node *);

static const struct func_def {
    const char *name;
    int arity;
    unary_ctor build; /* NULL for pow */
} funcs[] = {
    {"exp", 1, cr_exp},           {"log", 1, cr_log},         {"sqrt", 1, cr_sqrt},
    {"abs", 1, cr_abs},           {"sin", 1, cr_sin},         {"cos", 1, cr_cos},
    {"tanh", 1, cr_tanh},         {"sigmoid", 1, cr_sigmoid}, {"relu", 1, cr_relu},
    {"softplus", 1, cr_softplus}, {"pow", 2, NULL},
};
enum { N_FUNCS = sizeof funcs / sizeof funcs[0] };

const char *cr_expr_functions(void)
{
    return "exp, log, sqrt, abs, sin, cos, tanh, sigmoid, relu, softplus, pow";
}

static int func_find(const char *s, size_t len)
{
    for (int i = 0; i < N_FUNCS; i++)
        if (strlen(funcs[i].name) == len && memcmp(funcs[i].name, s, len) == 0)
            return i;
    return -1;
}

/* ---- the lexer ---- */

enum tok_kind {
    T_EOF,
    T_NEWLINE,
    T_SEMI,
    T_IDENT,
    T_NUMBER,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_CARET,
    T_LPAREN,
    T_RPAREN,
    T_COMMA,
    T_ASSIGN
};

typedef struct token {
    enum tok_kind kind;
    size_t start, len;
    int line, col;
    double num;
} token;

typedef struct lexer {
    const char *text;
    size_t len, pos;
    int line, col; /* of pos; col counts characters, not bytes */
} lexer;

static void lex_advance(lexer *lx)
{
    unsigned char c = (unsigned char)lx->text[lx->pos++];
    if (c == '\n') {
        lx->line++;
        lx->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        lx->col++;
    }
}

static int lx_peekc(const lexer *lx, size_t ahead)
{
    return lx->pos + ahead < lx->len ? (unsigned char)lx->text[lx->pos + ahead] : -1;
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}
static int is_ident_start(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
static int is_ident_char(int c)
{
    return is_ident_start(c) || is_digit(c);
}

static cr_status fail_at(cr_error *err, cr_status st, int line, int col, const char *fmt,
                         ...) __attribute__((format(printf, 5, 6)));

static cr_status fail_at(cr_error *err, cr_status st, int line, int col, const char *fmt,
                         ...)
{
    va_list ap;
    va_start(ap, fmt);
    cr_error_setv(err, st, "expr", fmt, ap);
    va_end(ap);
    if (err) {
        err->line = line;
        err->column = col;
    }
    return st;
}

size_t cr_utf8_length(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned min;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, min = 0x80, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, min = 0x800, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Rejects NUL bytes and invalid UTF-8 anywhere in the text. */
static cr_status validate_text(const char *text, size_t len, cr_error *err)
{
    lexer lx = {text, len, 0, 1, 1};
    while (lx.pos < len) {
        const unsigned char *s = (const unsigned char *)text + lx.pos;
        if (*s == 0)
            return fail_at(err, CR_EFORMAT, lx.line, lx.col,
                           "NUL byte in the program text (not allowed)");
        size_t n = cr_utf8_length(s, len - lx.pos);
        if (n == 0)
            return fail_at(err, CR_EFORMAT, lx.line, lx.col,
                           "invalid UTF-8 in the program text (byte 0x%02x)", *s);
        while (n--)
            lex_advance(&lx);
    }
    return CR_OK;
}

static cr_status lex_number(lexer *lx, token *t, cr_error *err)
{
    const char *s = lx->text;
    size_t p = lx->pos;
    int ok = 1;
    while (p < lx->len && is_digit((unsigned char)s[p]))
        p++;
    if (p < lx->len && s[p] == '.') {
        p++;
        while (p < lx->len && is_digit((unsigned char)s[p]))
            p++;
    }
    if (p < lx->len && (s[p] == 'e' || s[p] == 'E')) {
        p++;
        if (p < lx->len && (s[p] == '+' || s[p] == '-'))
            p++;
        if (p >= lx->len || !is_digit((unsigned char)s[p]))
            ok = 0;
        while (p < lx->len && is_digit((unsigned char)s[p]))
            p++;
    }
    /* "1.2.3", "12abc", "1e": take the whole run and call it malformed. */
    if (p < lx->len && (is_ident_char((unsigned char)s[p]) || s[p] == '.'))
        ok = 0;
    if (!ok)
        while (p < lx->len &&
               (is_ident_char((unsigned char)s[p]) || s[p] == '.' ||
                ((s[p] == '+' || s[p] == '-') && (s[p - 1] == 'e' || s[p - 1] == 'E'))))
            p++;
    t->len = p - lx->pos;
    int shown = t->len > 40 ? 40 : (int)t->len;
    if (!ok)
        return fail_at(err, CR_EFORMAT, t->line, t->col, "malformed number '%.*s%s'", shown,
                       s + lx->pos, t->len > 40 ? "..." : "");
    char *buf = cr_malloc(t->len + 1);
    if (!buf)
        return fail_at(err, CR_ENOMEM, t->line, t->col, "out of memory reading a number");
    memcpy(buf, s + lx->pos, t->len);
    buf[t->len] = '\0';
    errno = 0;
    t->num = strtod(buf, NULL);
    cr_free(buf);
    if (!isfinite(t->num))
        return fail_at(err, CR_ERANGE, t->line, t->col, "number '%.*s%s' is out of range",
                       shown, s + lx->pos, t->len > 40 ? "..." : "");
    while (lx->pos < p)
        lex_advance(lx);
    return CR_OK;
}

/* Reads the next token into t. Spaces, tabs, carriage returns and comments
 * are skipped; a newline is a token (it may end a statement). */
static cr_status lex_next(lexer *lx, token *t, cr_error *err)
{
    for (;;) {
        int c = lx_peekc(lx, 0);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            lex_advance(lx);
        } else if (c == '#') {
            while (lx->pos < lx->len && lx->text[lx->pos] != '\n')
                lex_advance(lx);
        } else {
            break;
        }
    }
    t->start = lx->pos;
    t->line = lx->line;
    t->col = lx->col;
    t->len = 1;
    int c = lx_peekc(lx, 0);
    if (c < 0) {
        t->kind = T_EOF;
        t->len = 0;
        return CR_OK;
    }
    if (is_digit(c) || (c == '.' && is_digit(lx_peekc(lx, 1)))) {
        t->kind = T_NUMBER;
        return lex_number(lx, t, err);
    }
    if (is_ident_start(c)) {
        size_t p = lx->pos;
        while (p < lx->len && is_ident_char((unsigned char)lx->text[p]))
            p++;
        t->kind = T_IDENT;
        t->len = p - lx->pos;
        while (lx->pos < p)
            lex_advance(lx);
        return CR_OK;
    }
    /* one-character tokens, in the order of their kinds */
    static const char punct[] = "\n;+-*/^(),=";
    static const enum tok_kind punct_kind[] = {T_NEWLINE, T_SEMI,  T_PLUS,  T_MINUS,
                                               T_STAR,    T_SLASH, T_CARET, T_LPAREN,
                                               T_RPAREN,  T_COMMA, T_ASSIGN};
    const char *hit = c > 0 ? strchr(punct, c) : NULL;
    if (!hit) {
        size_t n =
            cr_utf8_length((const unsigned char *)lx->text + lx->pos, lx->len - lx->pos);
        if (c >= 0x80 || (c > 0x20 && c < 0x7F))
            return fail_at(err, CR_ESYNTAX, t->line, t->col, "unexpected character '%.*s'",
                           (int)n, lx->text + lx->pos);
        return fail_at(err, CR_ESYNTAX, t->line, t->col,
                       "unexpected character (byte 0x%02x)", (unsigned)c);
    }
    t->kind = punct_kind[hit - punct];
    lex_advance(lx);
    return CR_OK;
}

/* How a token reads in a message: 'x', end of line, end of program. */
typedef struct {
    char text[64];
} tok_text;

static tok_text tok_describe(const lexer *lx, const token *t)
{
    tok_text d;
    if (t->kind == T_EOF)
        snprintf(d.text, sizeof d.text, "the end of the program");
    else if (t->kind == T_NEWLINE)
        snprintf(d.text, sizeof d.text, "the end of the line");
    else
        snprintf(d.text, sizeof d.text, "'%.*s%s'", t->len > 40 ? 40 : (int)t->len,
                 lx->text + t->start, t->len > 40 ? "..." : "");
    return d;
}

/* ---- the parser ---- */

/* A value on the operand stack: a node, or a numeric literal not yet made
 * into a node (so x^2 can use powc). is_ref: the node is a named symbol or
 * a node of the graph (a statement `y = x` then needs a node of its own). */
typedef struct item {
    cr_node *node;
    double lit;
    int is_lit;
    int is_ref;
} item;

enum op_kind { O_ADD, O_SUB, O_MUL, O_DIV, O_POW, O_NEG, O_PAREN, O_CALL };

typedef struct pending {
    enum op_kind op;
    int func; /* O_CALL: index into funcs */
    int argc; /* O_CALL: arguments completed so far */
    int line, col;
} pending;

typedef struct parser {
    cr_expr_program *p;
    cr_graph *g;
    cr_error *err;
    lexer lx;
    item *items;
    size_t n_items, cap_items;
    pending *ops;
    size_t n_ops, cap_ops;
    int depth; /* open parentheses and calls */
} parser;

static int op_prec(enum op_kind op)
{
    switch (op) {
    case O_ADD:
    case O_SUB:
        return 1;
    case O_MUL:
    case O_DIV:
        return 2;
    case O_NEG:
        return 3;
    case O_POW:
        return 4;
    default:
        return 0; /* parentheses and calls are barriers */
    }
}

static cr_status graph_failed(parser *ps, int line, int col)
{
    const cr_error *ge = cr_graph_error(ps->g);
    cr_status st = ge->status != CR_OK ? ge->status : CR_ENOMEM;
    return fail_at(ps->err, st, line, col, "%s", ge->message);
}

static cr_status push_item(parser *ps, item it)
{
    if (cr_grow((void **)&ps->items, &ps->cap_items, ps->n_items + 1, sizeof *ps->items) !=
        CR_OK)
        return fail_at(ps->err, CR_ENOMEM, 0, 0, "out of memory parsing the program");
    ps->items[ps->n_items++] = it;
    return CR_OK;
}

static cr_status push_op(parser *ps, enum op_kind op, int func, const token *t)
{
    if (cr_grow((void **)&ps->ops, &ps->cap_ops, ps->n_ops + 1, sizeof *ps->ops) != CR_OK)
        return fail_at(ps->err, CR_ENOMEM, 0, 0, "out of memory parsing the program");
    ps->ops[ps->n_ops++] = (pending){op, func, 0, t->line, t->col};
    return CR_OK;
}

/* Makes a literal into a constant node. NULL on failure (error in graph). */
static cr_node *materialize(parser *ps, item *it)
{
    if (it->is_lit && !it->node)
        it->node = cr_scalar(ps->g, it->lit);
    return it->node;
}

static cr_node *build_pow(parser *ps, item *base, item *expo)
{
    cr_node *b = materialize(ps, base);
    if (!b)
        return NULL;
    if (expo->is_lit)
        return cr_powc(ps->g, b, expo->lit);
    return cr_pow(ps->g, b, materialize(ps, expo));
}

/* Applies the operator on top of the stack to the operands on top. */
static cr_status reduce(parser *ps)
{
    pending op = ps->ops[--ps->n_ops];
    item res = {0};
    if (op.op == O_NEG) {
        item *x = &ps->items[ps->n_items - 1];
        if (x->is_lit) {
            x->lit = -x->lit;
            x->node = NULL;
            x->is_ref = 0;
            return CR_OK;
        }
        res.node = cr_neg(ps->g, x->node);
        if (!res.node)
            return graph_failed(ps, op.line, op.col);
        *x = res;
        return CR_OK;
    }
    item *a = &ps->items[ps->n_items - 2], *b = &ps->items[ps->n_items - 1];
    if (op.op == O_POW) {
        res.node = build_pow(ps, a, b);
    } else {
        cr_node *na = materialize(ps, a);
        cr_node *nb = na ? materialize(ps, b) : NULL;
        switch (op.op) {
        case O_ADD:
            res.node = cr_add(ps->g, na, nb);
            break;
        case O_SUB:
            res.node = cr_sub(ps->g, na, nb);
            break;
        case O_MUL:
            res.node = cr_mul(ps->g, na, nb);
            break;
        default:
            res.node = cr_div(ps->g, na, nb);
            break;
        }
    }
    if (!res.node)
        return graph_failed(ps, op.line, op.col);
    ps->n_items--;
    *a = res;
    return CR_OK;
}

/* Closes the call on top of the operator stack, with argc arguments on the
 * operand stack. */
static cr_status finish_call(parser *ps)
{
    pending call = ps->ops[--ps->n_ops];
    const struct func_def *f = &funcs[call.func];
    ps->depth--;
    if (call.argc != f->arity)
        return fail_at(ps->err, CR_ESYNTAX, call.line, call.col,
                       "%s() takes %d argument%s, got %d", f->name, f->arity,
                       f->arity == 1 ? "" : "s", call.argc);
    item res = {0};
    item *args = &ps->items[ps->n_items - (size_t)f->arity];
    if (f->build) {
        cr_node *x = materialize(ps, &args[0]);
        res.node = x ? f->build(ps->g, x) : NULL;
    } else {
        res.node = build_pow(ps, &args[0], &args[1]);
    }
    if (!res.node)
        return graph_failed(ps, call.line, call.col);
    ps->n_items -= (size_t)f->arity;
    ps->items[ps->n_items++] = res;
    return CR_OK;
}

static sym_entry *sym_find(const cr_expr_program *p, const char *name, size_t len)
{
    sym_entry *e = NULL;
    HASH_FIND(hh, p->table, name, len, e);
    return e;
}

static const cr_expr_symbol *sym_of(const cr_expr_program *p, const sym_entry *e)
{
    return e->kind == CR_EXPR_INPUT ? &p->inputs[e->index] : &p->stmts[e->index];
}

/* Adds a symbol (inputs or statements) and its table entry. */
static cr_status sym_add(parser *ps, cr_expr_kind kind, const token *t, cr_node *node,
                         int has_value)
{
    cr_expr_program *p = ps->p;
    cr_expr_symbol **arr = kind == CR_EXPR_INPUT ? &p->inputs : &p->stmts;
    size_t *n = kind == CR_EXPR_INPUT ? &p->n_inputs : &p->n_stmts;
    size_t *cap = kind == CR_EXPR_INPUT ? &p->cap_inputs : &p->cap_stmts;
    sym_entry *e = cr_calloc(1, sizeof *e);
    char *name = cr_malloc(t->len + 1);
    int cr_uthash_oom = 0;
    if (!e || !name || cr_grow((void **)arr, cap, *n + 1, sizeof **arr) != CR_OK)
        goto oom;
    memcpy(name, ps->lx.text + t->start, t->len);
    name[t->len] = '\0';
    e->name = name;
    e->kind = kind;
    e->index = *n;
    HASH_ADD_KEYPTR(hh, p->table, e->name, t->len, e);
    if (cr_uthash_oom)
        goto oom;
    (*arr)[(*n)++] = (cr_expr_symbol){
        name, node, kind, t->line, t->col, 0, kind == CR_EXPR_STATEMENT || has_value};
    return CR_OK;
oom:
    cr_free(e);
    cr_free(name);
    return fail_at(ps->err, CR_ENOMEM, t->line, t->col,
                   "out of memory parsing the program");
}

static cr_status check_name_length(parser *ps, const token *t)
{
    if (t->len <= NAME_MAX_BYTES)
        return CR_OK;
    return fail_at(ps->err, CR_ERANGE, t->line, t->col,
                   "name '%.32s...' is too long (%zu bytes; the limit is %d)",
                   ps->lx.text + t->start, t->len, NAME_MAX_BYTES);
}

/* An identifier used as a value: a statement, an input, a node already in
 * the graph, or a new input. */
static cr_status resolve(parser *ps, const token *t, item *out)
{
    const char *s = ps->lx.text + t->start;
    if (func_find(s, t->len) >= 0)
        return fail_at(ps->err, CR_ESYNTAX, t->line, t->col,
                       "'%.*s' is a function; call it as %.*s(...)", (int)t->len, s,
                       (int)t->len, s);
    cr_status st = check_name_length(ps, t);
    if (st != CR_OK)
        return st;
    *out = (item){0};
    out->is_ref = 1;
    sym_entry *e = sym_find(ps->p, s, t->len);
    if (e) {
        out->node = sym_of(ps->p, e)->node;
        return CR_OK;
    }
    char name[NAME_MAX_BYTES + 1];
    memcpy(name, s, t->len);
    name[t->len] = '\0';
    cr_node *existing = cr_graph_find(ps->g, name);
    out->node = existing ? existing : cr_input_scalar(ps->g, NULL, 0.0);
    if (!out->node)
        return graph_failed(ps, t->line, t->col);
    return sym_add(ps, CR_EXPR_INPUT, t, out->node, existing != NULL);
}

static cr_status expect_fail(parser *ps, const token *t, const char *what)
{
    return fail_at(ps->err, CR_ESYNTAX, t->line, t->col, "expected %s, got %s", what,
                   tok_describe(&ps->lx, t).text);
}

/* Parses the expression of one statement, up to and including the ';',
 * newline or end of text that ends it; leaves one item on the stack. */
static cr_status parse_expression(parser *ps)
{
    int expect_operand = 1;
    int after_assign = 1; /* a newline right after '=' does not continue */
    token t;
    cr_status st;
    for (;;) {
        if ((st = lex_next(&ps->lx, &t, ps->err)) != CR_OK)
            return st;
        if (expect_operand) {
            switch (t.kind) {
            case T_NEWLINE:
                if (ps->depth > 0 || !after_assign)
                    continue;
                return expect_fail(ps, &t, "an expression");
            case T_NUMBER:
                st = push_item(ps, (item){NULL, t.num, 1, 0});
                expect_operand = 0;
                break;
            case T_IDENT: {
                lexer peek = ps->lx;
                token nt;
                if (lex_next(&peek, &nt, NULL) == CR_OK && nt.kind == T_LPAREN) {
                    int f = func_find(ps->lx.text + t.start, t.len);
                    if (f < 0)
                        return fail_at(ps->err, CR_ESYNTAX, t.line, t.col,
                                       "unknown function '%.*s'; known functions: %s",
                                       t.len > 40 ? 40 : (int)t.len, ps->lx.text + t.start,
                                       cr_expr_functions());
                    if (ps->depth >= CR_EXPR_MAX_NESTING)
                        return fail_at(ps->err, CR_ERANGE, nt.line, nt.col,
                                       "nesting too deep (more than %d levels of "
                                       "parentheses)",
                                       CR_EXPR_MAX_NESTING);
                    ps->lx = peek;
                    ps->depth++;
                    st = push_op(ps, O_CALL, f, &t);
                    break;
                }
                item it;
                st = resolve(ps, &t, &it);
                if (st == CR_OK)
                    st = push_item(ps, it);
                expect_operand = 0;
                break;
            }
            case T_MINUS:
                st = push_op(ps, O_NEG, 0, &t);
                break;
            case T_LPAREN:
                if (ps->depth >= CR_EXPR_MAX_NESTING)
                    return fail_at(ps->err, CR_ERANGE, t.line, t.col,
                                   "nesting too deep (more than %d levels of parentheses)",
                                   CR_EXPR_MAX_NESTING);
                ps->depth++;
                st = push_op(ps, O_PAREN, 0, &t);
                break;
            case T_RPAREN:
                /* f() with no arguments */
                if (ps->n_ops > 0 && ps->ops[ps->n_ops - 1].op == O_CALL &&
                    ps->ops[ps->n_ops - 1].argc == 0) {
                    st = finish_call(ps);
                    expect_operand = 0;
                    break;
                }
                return expect_fail(ps, &t, "an expression");
            default:
                return expect_fail(ps, &t, "an expression");
            }
            if (st != CR_OK)
                return st;
            after_assign = 0;
            continue;
        }

        enum op_kind bin;
        switch (t.kind) {
        case T_PLUS:
            bin = O_ADD;
            break;
        case T_MINUS:
            bin = O_SUB;
            break;
        case T_STAR:
            bin = O_MUL;
            break;
        case T_SLASH:
            bin = O_DIV;
            break;
        case T_CARET:
            bin = O_POW;
            break;
        case T_RPAREN:
        case T_COMMA:
            while (ps->n_ops > 0 && op_prec(ps->ops[ps->n_ops - 1].op) > 0)
                if ((st = reduce(ps)) != CR_OK)
                    return st;
            if (ps->n_ops == 0 && t.kind == T_RPAREN)
                return fail_at(ps->err, CR_ESYNTAX, t.line, t.col, "unmatched ')'");
            if (t.kind == T_COMMA) {
                if (ps->n_ops == 0 || ps->ops[ps->n_ops - 1].op != O_CALL)
                    return fail_at(ps->err, CR_ESYNTAX, t.line, t.col,
                                   "',' outside the arguments of a function call");
                ps->ops[ps->n_ops - 1].argc++;
                expect_operand = 1;
                continue;
            }
            if (ps->ops[ps->n_ops - 1].op == O_PAREN) {
                ps->n_ops--;
                ps->depth--;
            } else {
                ps->ops[ps->n_ops - 1].argc++;
                if ((st = finish_call(ps)) != CR_OK)
                    return st;
            }
            continue;
        case T_NEWLINE:
            if (ps->depth > 0)
                continue;
            /* fall through */
        case T_SEMI:
        case T_EOF:
            while (ps->n_ops > 0) {
                pending *top = &ps->ops[ps->n_ops - 1];
                if (top->op == O_PAREN)
                    return fail_at(ps->err, CR_ESYNTAX, top->line, top->col,
                                   "unmatched '('");
                if (top->op == O_CALL)
                    return fail_at(ps->err, CR_ESYNTAX, top->line, top->col,
                                   "unmatched '(' of %s(", funcs[top->func].name);
                if ((st = reduce(ps)) != CR_OK)
                    return st;
            }
            return CR_OK;
        default:
            return expect_fail(ps, &t, "an operator or the end of the statement");
        }
        /* A binary operator: apply what binds at least as tightly (left
         * associative) or more tightly (^, right associative). */
        int prec = op_prec(bin);
        while (ps->n_ops > 0) {
            enum op_kind top = ps->ops[ps->n_ops - 1].op;
            int tp = op_prec(top);
            if (tp == 0 || tp < prec || (tp == prec && bin == O_POW))
                break;
            if ((st = reduce(ps)) != CR_OK)
                return st;
        }
        if ((st = push_op(ps, bin, 0, &t)) != CR_OK)
            return st;
        expect_operand = 1;
    }
}

/* Parses `name = expr` after the name token. */
static cr_status parse_statement(parser *ps, const token *name)
{
    token t;
    cr_status st = lex_next(&ps->lx, &t, ps->err);
    if (st != CR_OK)
        return st;
    const char *s = ps->lx.text + name->start;
    int shown = name->len > 40 ? 40 : (int)name->len;
    if (t.kind != T_ASSIGN)
        return fail_at(
            ps->err, CR_ESYNTAX, t.line, t.col,
            "expected '=' after '%.*s' (a statement is NAME = EXPRESSION), got %s", shown,
            s, tok_describe(&ps->lx, &t).text);
    if ((st = check_name_length(ps, name)) != CR_OK)
        return st;
    if (func_find(s, name->len) >= 0)
        return fail_at(ps->err, CR_ESYNTAX, name->line, name->col,
                       "'%.*s' is a function and cannot name a statement", shown, s);
    sym_entry *e = sym_find(ps->p, s, name->len);
    if (e && e->kind == CR_EXPR_STATEMENT)
        return fail_at(ps->err, CR_ESYNTAX, name->line, name->col,
                       "'%.*s' is already defined on line %d", shown, s,
                       ps->p->stmts[e->index].line);
    char cname[NAME_MAX_BYTES + 1];
    memcpy(cname, s, name->len);
    cname[name->len] = '\0';
    if (!e && cr_graph_find(ps->g, cname))
        return fail_at(ps->err, CR_ENAME, name->line, name->col,
                       "'%s' is already the name of a node in the graph", cname);
    ps->n_items = 0;
    ps->n_ops = 0;
    ps->depth = 0;
    if ((st = parse_expression(ps)) != CR_OK)
        return st;
    /* Checked after the expression, which may itself use the name. */
    e = sym_find(ps->p, s, name->len);
    if (e) {
        const cr_expr_symbol *in = &ps->p->inputs[e->index];
        return fail_at(
            ps->err, CR_ESYNTAX, name->line, name->col,
            "'%.*s' is used before its statement defines it (first use: line %d, "
            "column %d)",
            shown, s, in->line, in->column);
    }
    item *res = &ps->items[0];
    cr_node *node = materialize(ps, res);
    if (node && res->is_ref)
        node = cr_scale(ps->g, node, 1.0);
    if (!node)
        return graph_failed(ps, name->line, name->col);
    return sym_add(ps, CR_EXPR_STATEMENT, name, node, 1);
}

static cr_status parse_program(parser *ps)
{
    token t;
    cr_status st;
    for (;;) {
        if ((st = lex_next(&ps->lx, &t, ps->err)) != CR_OK)
            return st;
        if (t.kind == T_NEWLINE || t.kind == T_SEMI)
            continue;
        if (t.kind == T_EOF)
            break;
        if (t.kind != T_IDENT)
            return expect_fail(ps, &t, "a statement NAME = EXPRESSION");
        if ((st = parse_statement(ps, &t)) != CR_OK)
            return st;
    }
    if (ps->p->n_stmts == 0)
        return fail_at(ps->err, CR_ESYNTAX, 0, 0,
                       "empty program: no statements (a statement is NAME = EXPRESSION)");
    return CR_OK;
}

/* Recomputes the used flags for the current output. */
static cr_status mark_used(cr_expr_program *p)
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

/* Names the nodes after a successful parse. */
static cr_status name_nodes(cr_expr_program *p, size_t first_id, cr_error *err)
{
    for (int pass = 0; pass < 2; pass++) {
        cr_expr_symbol *arr = pass ? p->stmts : p->inputs;
        size_t n = pass ? p->n_stmts : p->n_inputs;
        for (size_t i = 0; i < n; i++) {
            if (arr[i].node->id < first_id)
                continue;
            if (cr_node_set_name(arr[i].node, arr[i].name) != CR_OK) {
                const cr_error *ge = cr_graph_error(p->g);
                return fail_at(err, ge->status, arr[i].line, arr[i].column, "%s",
                               ge->message);
            }
        }
    }
    return CR_OK;
}

static cr_status expr_parse_body(cr_graph *g, const char *text, size_t len,
                                 cr_expr_program **out, cr_error *err)
{
    if (out)
        *out = NULL;
    if (!g || !text || !out)
        return cr_error_set(err, CR_EINVAL, "expr", "cr_expr_parse: %s is NULL",
                            !g      ? "the graph"
                            : !text ? "the text"
                                    : "out");
    cr_error_clear(err);
    cr_status st = validate_text(text, len, err);
    if (st != CR_OK)
        return st;
    cr_expr_program *p = cr_calloc(1, sizeof *p);
    if (!p)
        return cr_error_set(err, CR_ENOMEM, "expr", "out of memory parsing the program");
    p->g = g;
    parser ps = {.p = p, .g = g, .err = err, .lx = {text, len, 0, 1, 1}};
    size_t first_id = cr_graph_size(g);
    cr_arena_mark mark = cr_arena_get_mark(&g->arena);
    cr_error saved_graph_err = g->err;

    st = parse_program(&ps);
    cr_free(ps.items);
    cr_free(ps.ops);
    if (st == CR_OK) {
        p->output = p->n_stmts - 1;
        st = name_nodes(p, first_id, err);
        if (st != CR_OK) {
            cr_expr_free(p); /* nodes were named: keep them */
            return st;
        }
        if ((st = mark_used(p)) != CR_OK) {
            cr_expr_free(p);
            return cr_error_set(err, st, "expr", "out of memory parsing the program");
        }
        *out = p;
        return CR_OK;
    }
    /* Nothing was named yet: drop every node the parse made. */
    cr_graph_truncate(g, first_id, mark);
    g->err = saved_graph_err;
    cr_expr_free(p);
    return st;
}

cr_status cr_expr_parse(cr_graph *g, const char *text, size_t len, cr_expr_program **out,
                        cr_error *err)
{
    cr_status result;
    CR_IN_C_LOCALE(result, expr_parse_body(g, text, len, out, err));
    return result;
}

void cr_expr_free(cr_expr_program *p)
{
    if (!p)
        return;
    sym_entry *e, *tmp;
    HASH_ITER(hh, p->table, e, tmp)
    {
        HASH_DEL(p->table, e);
        cr_free(e->name);
        cr_free(e);
    }
    cr_free(p->inputs);
    cr_free(p->stmts);
    cr_free(p->plan);
    cr_free(p);
}

cr_graph *cr_expr_graph(const cr_expr_program *p)
{
    return p->g;
}
size_t cr_expr_num_inputs(const cr_expr_program *p)
{
    return p->n_inputs;
}
size_t cr_expr_num_statements(const cr_expr_program *p)
{
    return p->n_stmts;
}

const cr_expr_symbol *cr_expr_input(const cr_expr_program *p, size_t i)
{
    return i < p->n_inputs ? &p->inputs[i] : NULL;
}

const cr_expr_symbol *cr_expr_statement(const cr_expr_program *p, size_t i)
{
    return i < p->n_stmts ? &p->stmts[i] : NULL;
}

const cr_expr_symbol *cr_expr_lookup(const cr_expr_program *p, const char *name)
{
    if (!p || !name)
        return NULL;
    sym_entry *e = sym_find(p, name, strlen(name));
    return e ? sym_of(p, e) : NULL;
}

const cr_expr_symbol *cr_expr_output(const cr_expr_program *p)
{
    return &p->stmts[p->output];
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
    sym_entry *e = sym_find(p, name, strlen(name));
    if (!e || e->kind != CR_EXPR_STATEMENT) {
        char list[256];
        list_statements(p, list, sizeof list);
        return cr_error_set(err, CR_ENOTFOUND, name,
                            "'%s' is not a statement (statements: %s)", name, list);
    }
    p->output = e->index;
    if (mark_used(p) != CR_OK)
        return cr_error_set(err, CR_ENOMEM, "expr", "out of memory choosing the output");
    return CR_OK;
}

cr_status cr_expr_set(cr_expr_program *p, const char *name, double value, cr_error *err)
{
    if (!p || !name)
        return cr_error_set(err, CR_EINVAL, "expr", "cr_expr_set: NULL argument");
    sym_entry *e = sym_find(p, name, strlen(name));
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

cr_status cr_expr_eval(cr_expr_program *p, cr_error *err)
{
    if (!p)
        return cr_error_set(err, CR_EINVAL, "expr", "cr_expr_eval: the program is NULL");
    for (size_t i = 0; i < p->n_inputs; i++)
        if (!p->inputs[i].has_value)
            return fail_at(err, CR_ESTATE, p->inputs[i].line, p->inputs[i].column,
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
