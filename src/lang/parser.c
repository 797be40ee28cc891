/*
 * parser.c - the expression language's parser (chainrule/expr.h): an
 * operator-precedence parser with explicit stacks (no recursion, so deep or
 * long input cannot overflow the C stack) that builds each statement's
 * nodes as it reads them (operators, calls with keyword arguments, list
 * literals, indexing), names them, and records the program's inputs and
 * statements. The grammar is in docs/expression-language.md.
 */
#include "lang/lang_private.h"

#include <stdio.h>
#include <string.h>

/* ---- operators and the two stacks ---- */

/* O_QUESTION waits for the ':' of `c ? a : b`; O_COND then has c and a on
 * the operand stack and waits for b. */
enum op_kind {
    O_ADD,
    O_SUB,
    O_MUL,
    O_DIV,
    O_MATMUL,
    O_POW,
    O_NEG,
    O_LT,
    O_GT,
    O_LE,
    O_GE,
    O_EQ,
    O_QUESTION,
    O_COND,
    O_PAREN,
    O_CALL,
    O_LIST /* [a, b, ...]: waits for its ']' */
};

/* A call may have this many keyword arguments (name=value). */
#define MAX_KEYWORDS 4

typedef struct pending {
    enum op_kind op;
    const cr_lang_function *func; /* O_CALL */
    int argc;                     /* O_CALL, O_LIST: items completed so far */
    int line, col;
    int n_kw; /* O_CALL: its keyword arguments, in order */
    struct keyword {
        int arg; /* the argument it names */
        size_t start, len;
        int line, col;
    } kw[MAX_KEYWORDS];
} pending;

typedef struct parser {
    cr_expr_program *p;
    cr_graph *g;
    cr_error *err;
    cr_lexer lx;
    cr_lang_value *items;
    size_t n_items, cap_items;
    pending *ops;
    size_t n_ops, cap_ops;
    int depth;         /* open parentheses and calls */
    const char *group; /* of the statements read now (the last marker's) */
} parser;

static int op_prec(enum op_kind op)
{
    switch (op) {
    case O_QUESTION:
    case O_COND:
        return 1;
    case O_LT:
    case O_GT:
    case O_LE:
    case O_GE:
    case O_EQ:
        return 2;
    case O_ADD:
    case O_SUB:
        return 3;
    case O_MUL:
    case O_DIV:
    case O_MATMUL:
        return 4;
    case O_NEG:
        return 5;
    case O_POW:
        return 6;
    default:
        return 0; /* parentheses and calls are barriers */
    }
}

static cr_status graph_failed(parser *ps, int line, int col)
{
    return cr_lang_graph_failed(ps->g, ps->err, line, col);
}

static cr_status push_item(parser *ps, cr_lang_value it)
{
    if (cr_grow((void **)&ps->items, &ps->cap_items, ps->n_items + 1, sizeof *ps->items) !=
        CR_OK)
        return cr_lang_fail(ps->err, CR_ENOMEM, 0, 0, "out of memory parsing the program");
    ps->items[ps->n_items++] = it;
    return CR_OK;
}

static cr_status push_op(parser *ps, enum op_kind op, const cr_lang_function *func,
                         const cr_token *t)
{
    if (cr_grow((void **)&ps->ops, &ps->cap_ops, ps->n_ops + 1, sizeof *ps->ops) != CR_OK)
        return cr_lang_fail(ps->err, CR_ENOMEM, 0, 0, "out of memory parsing the program");
    ps->ops[ps->n_ops++] =
        (pending){.op = op, .func = func, .line = t->line, .col = t->col};
    return CR_OK;
}

static int is_comparison(enum op_kind op) { return op >= O_LT && op <= O_EQ; }

/* The function of the language an operator stands for: the comparisons
 * and `c ? a : b`, which is where(c, a, b). */
static const char *operator_function(enum op_kind op)
{
    static const char *const names[] = {"lt", "gt", "le", "ge", "eq"};
    return op == O_COND ? "where" : names[op - O_LT];
}

/* Applies an operator that stands for a function to its argc operands on
 * top of the stack. */
static cr_status apply_function(parser *ps, const pending *op, int argc)
{
    const char *name = operator_function(op->op);
    const cr_lang_function *f = cr_lang_function_find(name, strlen(name));
    if (!f)
        return cr_lang_fail(ps->err, CR_ESYNTAX, op->line, op->col,
                            "this operator needs the function %s(), which is missing",
                            name);
    cr_lang_value *args = &ps->items[ps->n_items - (size_t)argc];
    cr_lang_value res = {0};
    res.node = f->build(ps->g, f->op, args, argc);
    if (!res.node)
        return graph_failed(ps, op->line, op->col);
    ps->n_items -= (size_t)argc - 1;
    ps->items[ps->n_items - 1] = res;
    return CR_OK;
}

/* Records that the nodes from id `before` on come from line:col (the
 * operator or call that built them), for messages about their values. */
static cr_status record(parser *ps, size_t before, int line, int col)
{
    cr_expr_program *p = ps->p;
    const size_t n = cr_graph_size(ps->g) - p->pos_first;
    if (cr_grow((void **)&p->pos, &p->cap_pos, n, sizeof *p->pos) != CR_OK)
        return cr_lang_fail(ps->err, CR_ENOMEM, 0, 0, "out of memory parsing the program");
    for (size_t i = before - p->pos_first; i < n; i++)
        p->pos[i] = (struct cr_lang_pos){line, col};
    p->n_pos = n;
    return CR_OK;
}

static cr_status reduce_op(parser *ps);

/* Applies the operator on top of the stack to the operands on top, and
 * records where its nodes come from. */
static cr_status reduce(parser *ps)
{
    const pending op = ps->ops[ps->n_ops - 1];
    const size_t before = cr_graph_size(ps->g);
    cr_status st = reduce_op(ps);
    return st == CR_OK ? record(ps, before, op.line, op.col) : st;
}

static cr_status reduce_op(parser *ps)
{
    pending op = ps->ops[--ps->n_ops];
    cr_lang_value res = {0};
    if (op.op == O_QUESTION)
        return cr_lang_fail(ps->err, CR_ESYNTAX, op.line, op.col,
                            "'?' without its ':' (write c ? a : b)");
    if (op.op == O_COND)
        return apply_function(ps, &op, 3);
    if (is_comparison(op.op))
        return apply_function(ps, &op, 2);
    if (op.op == O_NEG) {
        cr_lang_value *x = &ps->items[ps->n_items - 1];
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
    cr_lang_value *a = &ps->items[ps->n_items - 2], *b = &ps->items[ps->n_items - 1];
    if (op.op == O_POW) {
        res.node = cr_lang_pow(ps->g, NULL, a, 2);
    } else {
        cr_node *na = cr_lang_node(ps->g, a);
        cr_node *nb = na ? cr_lang_node(ps->g, b) : NULL;
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
        case O_MATMUL:
            res.node = na && nb ? cr_matmul(ps->g, na, nb, 0) : NULL;
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
/* Puts the keyword arguments of call (the last call.n_kw of its
 * call.argc arguments on the stack) at the positions they name; the
 * arguments they skip are missing. Updates call->argc. */
static cr_status place_keywords(parser *ps, pending *call)
{
    const cr_lang_function *f = call->func;
    const int n_pos = call->argc - call->n_kw;
    cr_lang_value kwv[MAX_KEYWORDS];
    int pos[MAX_KEYWORDS], argc = n_pos;
    for (int k = 0; k < call->n_kw; k++) {
        const struct keyword *kw = &call->kw[k];
        const char *name = ps->lx.text + kw->start, *names;
        if (kw->arg != n_pos + k)
            return cr_lang_fail(ps->err, CR_ESYNTAX, call->line, call->col,
                                "%s(): a positional argument after the keyword argument "
                                "'%.*s'",
                                f->name, (int)kw->len, name);
        pos[k] = cr_lang_keyword(f, name, kw->len, &names);
        if (pos[k] < 0 && !*names)
            return cr_lang_fail(ps->err, CR_ESYNTAX, kw->line, kw->col,
                                "%s() takes no keyword arguments", f->name);
        if (pos[k] < 0)
            return cr_lang_fail(ps->err, CR_ESYNTAX, kw->line, kw->col,
                                "%s() has no argument '%.*s' (its arguments: %s)", f->name,
                                (int)kw->len, name, names);
        for (int j = 0; j < k; j++)
            if (pos[j] == pos[k] || pos[k] < n_pos)
                return cr_lang_fail(ps->err, CR_ESYNTAX, kw->line, kw->col,
                                    "%s(): the argument '%.*s' is given twice", f->name,
                                    (int)kw->len, name);
        if (pos[k] < n_pos)
            return cr_lang_fail(ps->err, CR_ESYNTAX, kw->line, kw->col,
                                "%s(): the argument '%.*s' is given twice", f->name,
                                (int)kw->len, name);
        kwv[k] = ps->items[ps->n_items - (size_t)call->n_kw + (size_t)k];
        argc = pos[k] + 1 > argc ? pos[k] + 1 : argc;
    }
    const size_t base = ps->n_items - (size_t)call->argc;
    if (cr_grow((void **)&ps->items, &ps->cap_items, base + (size_t)argc,
                sizeof *ps->items) != CR_OK)
        return cr_lang_fail(ps->err, CR_ENOMEM, 0, 0, "out of memory parsing the program");
    for (int j = n_pos; j < argc; j++)
        ps->items[base + (size_t)j] = (cr_lang_value){.is_missing = 1};
    for (int k = 0; k < call->n_kw; k++)
        ps->items[base + (size_t)pos[k]] = kwv[k];
    ps->n_items = base + (size_t)argc;
    call->argc = argc;
    return CR_OK;
}

static cr_status finish_call_op(parser *ps);

static cr_status finish_call(parser *ps)
{
    const pending call = ps->ops[ps->n_ops - 1];
    const size_t before = cr_graph_size(ps->g);
    cr_status st = finish_call_op(ps);
    return st == CR_OK ? record(ps, before, call.line, call.col) : st;
}

static cr_status finish_call_op(parser *ps)
{
    pending call = ps->ops[--ps->n_ops];
    const cr_lang_function *f = call.func;
    ps->depth--;
    if (call.n_kw > 0) {
        cr_status st = place_keywords(ps, &call);
        if (st != CR_OK)
            return st;
    }
    if (call.argc < f->min_args || call.argc > f->max_args) {
        if (f->min_args == f->max_args)
            return cr_lang_fail(ps->err, CR_ESYNTAX, call.line, call.col,
                                "%s() takes %d argument%s, got %d", f->name, f->min_args,
                                f->min_args == 1 ? "" : "s", call.argc);
        return cr_lang_fail(ps->err, CR_ESYNTAX, call.line, call.col,
                            "%s() takes %d to %d arguments, got %d", f->name, f->min_args,
                            f->max_args, call.argc);
    }
    cr_lang_value *args = &ps->items[ps->n_items - (size_t)call.argc];
    cr_lang_value res = {0};
    res.node = f->build(ps->g, f->op, args, call.argc);
    if (!res.node)
        return graph_failed(ps, call.line, call.col);
    ps->n_items -= (size_t)call.argc;
    ps->items[ps->n_items++] = res;
    return CR_OK;
}

/* Closes the list literal on top of the operator stack, with argc items
 * on the operand stack. */
static cr_status finish_list(parser *ps)
{
    pending list = ps->ops[--ps->n_ops];
    ps->depth--;
    cr_lang_value *items = &ps->items[ps->n_items - (size_t)list.argc];
    cr_lang_value res = {0};
    const size_t before = cr_graph_size(ps->g);
    /* concat's first argument: its items may differ along the axis */
    const pending *call = ps->n_ops > 0 ? &ps->ops[ps->n_ops - 1] : NULL;
    const int joined = call && call->op == O_CALL && call->argc == 0 &&
                       strcmp(call->func->name, "concat") == 0;
    if (!cr_lang_list(ps->g, items, (size_t)list.argc, joined, &res))
        return graph_failed(ps, list.line, list.col);
    ps->n_items -= (size_t)list.argc;
    ps->items[ps->n_items++] = res;
    return record(ps, before, list.line, list.col);
}

/* Adds a symbol (inputs or statements) and its table entry. */
static cr_status sym_add(parser *ps, cr_expr_kind kind, const cr_token *t, cr_node *node,
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
    (*arr)[(*n)++] = (cr_expr_symbol){name,
                                      node,
                                      kind,
                                      t->line,
                                      t->col,
                                      0,
                                      kind == CR_EXPR_STATEMENT || has_value,
                                      kind == CR_EXPR_STATEMENT ? ps->group : NULL};
    return CR_OK;
oom:
    cr_free(e);
    cr_free(name);
    return cr_lang_fail(ps->err, CR_ENOMEM, t->line, t->col,
                        "out of memory parsing the program");
}

static cr_status check_name_length(parser *ps, const cr_token *t)
{
    if (t->len <= CR_LANG_NAME_MAX)
        return CR_OK;
    return cr_lang_fail(ps->err, CR_ERANGE, t->line, t->col,
                        "name '%.32s...' is too long (%zu bytes; the limit is %d)",
                        ps->lx.text + t->start, t->len, CR_LANG_NAME_MAX);
}

/* An identifier used as a value: a statement, an input, a node already in
 * the graph, or a new input. */
static cr_status resolve(parser *ps, const cr_token *t, cr_lang_value *out)
{
    const char *s = ps->lx.text + t->start;
    if (cr_lang_function_find(s, t->len))
        return cr_lang_fail(ps->err, CR_ESYNTAX, t->line, t->col,
                            "'%.*s' is a function; call it as %.*s(...)", (int)t->len, s,
                            (int)t->len, s);
    cr_status st = check_name_length(ps, t);
    if (st != CR_OK)
        return st;
    *out = (cr_lang_value){0};
    out->is_ref = 1;
    sym_entry *e = cr_lang_sym_find(ps->p, s, t->len);
    if (e) {
        out->node = cr_lang_sym_of(ps->p, e)->node;
        return CR_OK;
    }
    char name[CR_LANG_NAME_MAX + 1];
    memcpy(name, s, t->len);
    name[t->len] = '\0';
    cr_node *existing = cr_graph_find(ps->g, name);
    out->node = existing ? existing : cr_input_scalar(ps->g, NULL, 0.0);
    if (!out->node)
        return graph_failed(ps, t->line, t->col);
    return sym_add(ps, CR_EXPR_INPUT, t, out->node, existing != NULL);
}

/* "unknown function 'sigmoud'; did you mean sigmoid?", or where the
 * functions are listed when none is close. */
static cr_status unknown_function(parser *ps, const cr_token *t)
{
    const char *name = ps->lx.text + t->start;
    const int shown = t->len > 40 ? 40 : (int)t->len;
    const char *guess = cr_lang_function_suggest(name, t->len);
    if (guess)
        return cr_lang_fail(ps->err, CR_ESYNTAX, t->line, t->col,
                            "unknown function '%.*s'; did you mean %s?", shown, name,
                            guess);
    return cr_lang_fail(ps->err, CR_ESYNTAX, t->line, t->col,
                        "unknown function '%.*s' (the functions are listed in "
                        "docs/expression-language.md and by cr_expr_functions())",
                        shown, name);
}

static cr_status expect_fail(parser *ps, const cr_token *t, const char *what)
{
    /* x**2: the second '*' comes right after the first */
    if (t->kind == T_STAR && ps->n_ops > 0 && ps->ops[ps->n_ops - 1].op == O_MUL &&
        ps->ops[ps->n_ops - 1].line == t->line && ps->ops[ps->n_ops - 1].col == t->col - 1)
        return cr_lang_fail(ps->err, CR_ESYNTAX, t->line, t->col - 1,
                            "'**' is not an operator: use ^ for powers (x^2)");
    return cr_lang_fail(ps->err, CR_ESYNTAX, t->line, t->col, "expected %s, got %s", what,
                        cr_lex_describe(&ps->lx, t).text);
}

/* Parses the expression of one statement, up to and including the ';',
 * newline or end of text that ends it; leaves one item on the stack. */
static cr_status parse_expression(parser *ps)
{
    int expect_operand = 1;
    int after_assign = 1; /* a newline right after '=' does not continue */
    cr_token t;
    cr_status st;
    for (;;) {
        if ((st = cr_lex_next(&ps->lx, &t, ps->err)) != CR_OK)
            return st;
        if (expect_operand) {
            switch (t.kind) {
            case T_NEWLINE:
                if (ps->depth > 0 || !after_assign)
                    continue;
                return expect_fail(ps, &t, "an expression");
            case T_NUMBER:
                st = push_item(ps, (cr_lang_value){.lit = t.num, .is_lit = 1});
                expect_operand = 0;
                break;
            case T_IDENT: {
                cr_lexer peek = ps->lx;
                /* a token the peek could not read is read again (and its
                 * error reported) after the identifier */
                cr_token nt = {.kind = T_EOF};
                pending *top = ps->n_ops > 0 ? &ps->ops[ps->n_ops - 1] : NULL;
                if (cr_lex_next(&peek, &nt, NULL) == CR_OK && nt.kind == T_ASSIGN && top &&
                    top->op == O_CALL) {
                    /* a keyword argument name=value */
                    if (top->n_kw == MAX_KEYWORDS)
                        return cr_lang_fail(ps->err, CR_ESYNTAX, t.line, t.col,
                                            "more than %d keyword arguments", MAX_KEYWORDS);
                    top->kw[top->n_kw++] =
                        (struct keyword){top->argc, t.start, t.len, t.line, t.col};
                    ps->lx = peek;
                    continue;
                }
                if (nt.kind == T_LPAREN) {
                    const cr_lang_function *f =
                        cr_lang_function_find(ps->lx.text + t.start, t.len);
                    if (!f)
                        return unknown_function(ps, &t);
                    if (ps->depth >= CR_EXPR_MAX_NESTING)
                        return cr_lang_fail(ps->err, CR_ERANGE, nt.line, nt.col,
                                            "nesting too deep (more than %d levels of "
                                            "parentheses)",
                                            CR_EXPR_MAX_NESTING);
                    ps->lx = peek;
                    ps->depth++;
                    st = push_op(ps, O_CALL, f, &t);
                    break;
                }
                cr_lang_value it;
                st = resolve(ps, &t, &it);
                if (st == CR_OK)
                    st = push_item(ps, it);
                expect_operand = 0;
                break;
            }
            case T_MINUS:
                st = push_op(ps, O_NEG, NULL, &t);
                break;
            case T_RBRACKET:
                if (ps->n_ops > 0 && ps->ops[ps->n_ops - 1].op == O_LIST &&
                    ps->ops[ps->n_ops - 1].argc == 0)
                    return cr_lang_fail(
                        ps->err, CR_ESHAPE, t.line, t.col,
                        "an empty list (a tensor has at least one element)");
                return expect_fail(ps, &t, "an expression");
            case T_LPAREN:
            case T_LBRACKET: /* a list [a, b, ...] */
                if (ps->depth >= CR_EXPR_MAX_NESTING)
                    return cr_lang_fail(
                        ps->err, CR_ERANGE, t.line, t.col,
                        "nesting too deep (more than %d levels of parentheses)",
                        CR_EXPR_MAX_NESTING);
                ps->depth++;
                st = push_op(ps, t.kind == T_LPAREN ? O_PAREN : O_LIST, NULL, &t);
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
        case T_AT:
            bin = O_MATMUL;
            break;
        case T_LBRACKET: {
            const size_t before = cr_graph_size(ps->g);
            if ((st = cr_lang_index(ps->g, &ps->lx, ps->err, &t,
                                    &ps->items[ps->n_items - 1])) != CR_OK ||
                (st = record(ps, before, t.line, t.col)) != CR_OK)
                return st;
            continue;
        }
        case T_RBRACKET:
            while (ps->n_ops > 0 && op_prec(ps->ops[ps->n_ops - 1].op) > 0)
                if ((st = reduce(ps)) != CR_OK)
                    return st;
            if (ps->n_ops == 0 || ps->ops[ps->n_ops - 1].op != O_LIST)
                return cr_lang_fail(ps->err, CR_ESYNTAX, t.line, t.col, "unmatched ']'");
            ps->ops[ps->n_ops - 1].argc++;
            if ((st = finish_list(ps)) != CR_OK)
                return st;
            continue;
        case T_CARET:
            bin = O_POW;
            break;
        case T_LT:
            bin = O_LT;
            break;
        case T_GT:
            bin = O_GT;
            break;
        case T_LE:
            bin = O_LE;
            break;
        case T_GE:
            bin = O_GE;
            break;
        case T_EQ:
            bin = O_EQ;
            break;
        case T_QUESTION:
            bin = O_QUESTION;
            break;
        case T_COLON:
            /* finish the `a` of `c ? a : b`, then wait for b */
            while (ps->n_ops > 0 && (op_prec(ps->ops[ps->n_ops - 1].op) > 1 ||
                                     ps->ops[ps->n_ops - 1].op == O_COND))
                if ((st = reduce(ps)) != CR_OK)
                    return st;
            if (ps->n_ops == 0 || ps->ops[ps->n_ops - 1].op != O_QUESTION)
                return cr_lang_fail(ps->err, CR_ESYNTAX, t.line, t.col,
                                    "':' without a '?' before it (write c ? a : b)");
            ps->ops[ps->n_ops - 1].op = O_COND;
            expect_operand = 1;
            continue;
        case T_RPAREN:
        case T_COMMA:
            while (ps->n_ops > 0 && op_prec(ps->ops[ps->n_ops - 1].op) > 0)
                if ((st = reduce(ps)) != CR_OK)
                    return st;
            if (ps->n_ops == 0 && t.kind == T_RPAREN)
                return cr_lang_fail(ps->err, CR_ESYNTAX, t.line, t.col, "unmatched ')'");
            if (t.kind == T_COMMA) {
                if (ps->n_ops == 0 || (ps->ops[ps->n_ops - 1].op != O_CALL &&
                                       ps->ops[ps->n_ops - 1].op != O_LIST))
                    return cr_lang_fail(ps->err, CR_ESYNTAX, t.line, t.col,
                                        "',' outside the arguments of a function call");
                ps->ops[ps->n_ops - 1].argc++;
                expect_operand = 1;
                continue;
            }
            if (ps->ops[ps->n_ops - 1].op == O_LIST) {
                return cr_lang_fail(ps->err, CR_ESYNTAX, t.line, t.col,
                                    "expected ']' to close the list opened at column %d, "
                                    "got ')'",
                                    ps->ops[ps->n_ops - 1].col);
            } else if (ps->ops[ps->n_ops - 1].op == O_PAREN) {
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
                    return cr_lang_fail(ps->err, CR_ESYNTAX, top->line, top->col,
                                        "unmatched '('");
                if (top->op == O_CALL)
                    return cr_lang_fail(ps->err, CR_ESYNTAX, top->line, top->col,
                                        "unmatched '(' of %s(", top->func->name);
                if (top->op == O_LIST)
                    return cr_lang_fail(ps->err, CR_ESYNTAX, top->line, top->col,
                                        "unmatched '['");
                if ((st = reduce(ps)) != CR_OK)
                    return st;
            }
            return CR_OK;
        default:
            return expect_fail(ps, &t, "an operator or the end of the statement");
        }
        /* A binary operator: apply what binds at least as tightly (left
         * associative) or more tightly (^ and ?:, right associative).
         * Comparisons do not chain. */
        int prec = op_prec(bin);
        while (ps->n_ops > 0) {
            enum op_kind top = ps->ops[ps->n_ops - 1].op;
            int tp = op_prec(top);
            if (tp == 0 || tp < prec || (tp == prec && (bin == O_POW || bin == O_QUESTION)))
                break;
            if (is_comparison(top) && is_comparison(bin))
                return cr_lang_fail(ps->err, CR_ESYNTAX, t.line, t.col,
                                    "comparisons do not chain: write (a < b) * (b < c)");
            if ((st = reduce(ps)) != CR_OK)
                return st;
        }
        if ((st = push_op(ps, bin, NULL, &t)) != CR_OK)
            return st;
        expect_operand = 1;
    }
}

/* Parses `name = expr` after the name token. */
static cr_status parse_statement(parser *ps, const cr_token *name)
{
    cr_token t;
    cr_status st = cr_lex_next(&ps->lx, &t, ps->err);
    if (st != CR_OK)
        return st;
    const char *s = ps->lx.text + name->start;
    int shown = name->len > 40 ? 40 : (int)name->len;
    if (t.kind != T_ASSIGN)
        return cr_lang_fail(
            ps->err, CR_ESYNTAX, t.line, t.col,
            "expected '=' after '%.*s' (a statement is NAME = EXPRESSION), got %s", shown,
            s, cr_lex_describe(&ps->lx, &t).text);
    if ((st = check_name_length(ps, name)) != CR_OK)
        return st;
    if (cr_lang_function_find(s, name->len))
        return cr_lang_fail(ps->err, CR_ESYNTAX, name->line, name->col,
                            "'%.*s' is a function and cannot name a statement", shown, s);
    sym_entry *e = cr_lang_sym_find(ps->p, s, name->len);
    if (e && e->kind == CR_EXPR_STATEMENT)
        return cr_lang_fail(ps->err, CR_ESYNTAX, name->line, name->col,
                            "'%.*s' is already defined on line %d", shown, s,
                            ps->p->stmts[e->index].line);
    char cname[CR_LANG_NAME_MAX + 1];
    memcpy(cname, s, name->len);
    cname[name->len] = '\0';
    if (!e && cr_graph_find(ps->g, cname))
        return cr_lang_fail(ps->err, CR_ENAME, name->line, name->col,
                            "'%s' is already the name of a node in the graph", cname);
    ps->n_items = 0;
    ps->n_ops = 0;
    ps->depth = 0;
    if ((st = parse_expression(ps)) != CR_OK)
        return st;
    /* Checked after the expression, which may itself use the name. */
    e = cr_lang_sym_find(ps->p, s, name->len);
    if (e) {
        const cr_expr_symbol *in = &ps->p->inputs[e->index];
        return cr_lang_fail(
            ps->err, CR_ESYNTAX, name->line, name->col,
            "'%.*s' is used before its statement defines it (first use: line %d, "
            "column %d)",
            shown, s, in->line, in->column);
    }
    cr_lang_value *res = &ps->items[0];
    cr_node *node = cr_lang_node(ps->g, res);
    if (node && res->is_ref)
        node = cr_scale(ps->g, node, 1.0);
    if (!node)
        return graph_failed(ps, name->line, name->col);
    return sym_add(ps, CR_EXPR_STATEMENT, name, node, 1);
}

/* Makes the marker the lexer last skipped the group of the statements
 * from t on: a group of that name, new or met before. */
static cr_status take_marker(parser *ps, const cr_token *t)
{
    cr_expr_program *p = ps->p;
    const char *name = ps->lx.text + ps->lx.mark_start;
    size_t len = ps->lx.mark_len;
    ps->lx.marked = 0;
    for (size_t i = 0; i < p->n_groups; i++)
        if (strlen(p->groups[i]) == len && memcmp(p->groups[i], name, len) == 0) {
            ps->group = p->groups[i];
            return CR_OK;
        }
    char *copy = cr_malloc(len + 1);
    if (!copy || cr_grow((void **)&p->groups, &p->cap_groups, p->n_groups + 1,
                         sizeof *p->groups) != CR_OK) {
        cr_free(copy);
        return cr_lang_fail(ps->err, CR_ENOMEM, t->line, t->col,
                            "out of memory parsing the program");
    }
    memcpy(copy, name, len);
    copy[len] = '\0';
    ps->group = p->groups[p->n_groups++] = copy;
    return CR_OK;
}

static cr_status parse_program(parser *ps)
{
    cr_token t;
    cr_status st;
    for (;;) {
        if ((st = cr_lex_next(&ps->lx, &t, ps->err)) != CR_OK)
            return st;
        if (t.kind == T_NEWLINE || t.kind == T_SEMI)
            continue;
        if (t.kind == T_EOF)
            break;
        if (t.kind != T_IDENT)
            return expect_fail(ps, &t, "a statement NAME = EXPRESSION");
        if (ps->lx.marked && (st = take_marker(ps, &t)) != CR_OK)
            return st;
        if ((st = parse_statement(ps, &t)) != CR_OK)
            return st;
    }
    if (ps->p->n_stmts == 0)
        return cr_lang_fail(
            ps->err, CR_ESYNTAX, 0, 0,
            "empty program: no statements (a statement is NAME = EXPRESSION)");
    return CR_OK;
}

/* Recomputes the used flags for the current output. */
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
                return cr_lang_fail(err, ge->status, arr[i].line, arr[i].column, "%s",
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
    cr_status st = cr_lex_validate(text, len, err);
    if (st != CR_OK)
        return st;
    cr_expr_program *p = cr_calloc(1, sizeof *p);
    if (!p)
        return cr_error_set(err, CR_ENOMEM, "expr", "out of memory parsing the program");
    p->g = g;
    parser ps = {
        .p = p, .g = g, .err = err, .lx = {.text = text, .len = len, .line = 1, .col = 1}};
    size_t first_id = cr_graph_size(g);
    p->pos_first = first_id;
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
        if ((st = cr_lang_mark_used(p)) != CR_OK) {
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
