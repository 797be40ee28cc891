/*
 * lang_private.h - what the expression language's files share: the program
 * and its symbol table (program.c), the lexer (lexer.c), the operand type of
 * the parser and the function table generated from the op list
 * (functions.c). The parser (parser.c) uses all of them.
 */
#ifndef CR_LANG_PRIVATE_H
#define CR_LANG_PRIVATE_H

#include "core/internal.h"
#include "core/uthash_cr.h"

/* Statement and input names are at most this long. */
#define CR_LANG_NAME_MAX 255

/* ---- the program (program.c) ---- */

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
    struct cr_lang_pos {
        int line, col;
    } * pos;          /* where each node the parse built comes from, by id */
    size_t pos_first; /* the id of pos[0] */
    size_t n_pos, cap_pos;
    char **groups; /* the names of the statement groups (owned) */
    size_t n_groups, cap_groups;
    cr_node **plan; /* op nodes evaluated by cr_expr_eval, in order */
    size_t n_plan;
    int planned;
};

/* The symbol table entry of name (len bytes), or NULL. */
sym_entry *cr_lang_sym_find(const cr_expr_program *p, const char *name, size_t len);
/* The input or statement an entry stands for. */
const cr_expr_symbol *cr_lang_sym_of(const cr_expr_program *p, const sym_entry *e);
/* Recomputes every symbol's used flag for the current output: CR_OK or
 * CR_ENOMEM. */
cr_status cr_lang_mark_used(cr_expr_program *p);

/* ---- the lexer (lexer.c) ---- */

enum cr_tok_kind {
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
    T_ASSIGN,
    T_LT, /* < */
    T_GT, /* > */
    T_LE, /* <= */
    T_GE, /* >= */
    T_EQ, /* == */
    T_QUESTION,
    T_COLON,
    T_LBRACKET, /* [ */
    T_RBRACKET, /* ] */
    T_AT        /* @ */
};

typedef struct cr_token {
    enum cr_tok_kind kind;
    size_t start, len;
    int line, col;
    double num;
} cr_token;

typedef struct cr_lexer {
    const char *text;
    size_t len, pos;
    int line, col; /* of pos; col counts characters, not bytes */
    /* the name of the last group marker skipped (a comment line "# layer
     * NAME", named "layer NAME", or "# group: NAME", named NAME) is
     * text[mark_start..+mark_len) when marked is 1; the parser clears
     * marked once it used the marker */
    size_t mark_start, mark_len;
    int marked;
} cr_lexer;

/* Fills err (may be NULL) with status st, the message and the position. */
cr_status cr_lang_fail(cr_error *err, cr_status st, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* cr_lang_fail with the graph's error (CR_ENOMEM if it has none): a node
 * built at line:col failed. */
cr_status cr_lang_graph_failed(cr_graph *g, cr_error *err, int line, int col);
/* Rejects NUL bytes and invalid UTF-8 anywhere in the text (CR_EFORMAT). */
cr_status cr_lex_validate(const char *text, size_t len, cr_error *err);
/* Reads the next token into t. Spaces, tabs, carriage returns and comments
 * are skipped (a comment line that is a group marker is noted in lx, see
 * cr_lexer); a newline is a token (it may end a statement). Errors:
 * CR_ESYNTAX, CR_EFORMAT, CR_ERANGE (numbers), CR_ENOMEM; err may be NULL. */
cr_status cr_lex_next(cr_lexer *lx, cr_token *t, cr_error *err);

/* How a token reads in a message: 'x', the end of the line, the end of the
 * program. */
typedef struct {
    char text[64];
} cr_tok_text;
cr_tok_text cr_lex_describe(const cr_lexer *lx, const cr_token *t);

/* ---- the functions of the language (functions.c) ---- */

/* A value on the parser's operand stack: a node, or a numeric literal not
 * yet made into a node (so x^2 can use powc). is_ref: the node is a named
 * symbol or a node of the graph (a statement `y = x` then needs a node of
 * its own). */
typedef struct cr_lang_value {
    cr_node *node;
    double lit;
    int is_lit;
    int is_ref;
    /* a list literal [a, b, ...]: its items' nodes (in the graph's arena;
     * node is then their stack, or a constant when every item is one) */
    cr_node **list;
    size_t n_list;
    int is_missing; /* an argument skipped by a keyword argument */
} cr_lang_value;

/* The node of a value, making a literal into a constant of g first. NULL on
 * failure (the error is in g; for a list whose items differ in shape, the
 * shape error). */
cr_node *cr_lang_node(cr_graph *g, cr_lang_value *v);

/* Builds the node of a call of a function of the language with argc
 * arguments (checked against the function's range): NULL with the error in
 * g on failure. op is the function's op (NULL for a function that is no op
 * of its own). */
typedef cr_node *(*cr_lang_build)(cr_graph *g, const cr_op *op, cr_lang_value *args,
                                  int argc);

typedef struct cr_lang_function {
    const char *name;
    int min_args, max_args;
    cr_lang_build build;
    const cr_op *op;
} cr_lang_function;

/* The function called name (len bytes), or NULL. */
const cr_lang_function *cr_lang_function_find(const char *name, size_t len);

/* The function a user who wrote name (len bytes) probably meant: another
 * tool's name for it (ln: log) or one within a small edit distance
 * (sigmoud: sigmoid), or NULL. */
const char *cr_lang_function_suggest(const char *name, size_t len);

/* The position (0-based) of the argument called name (len bytes) of f, or
 * -1; names is then "x, axis, keepdims" (f's argument names, "" when it
 * takes no keyword arguments). */
int cr_lang_keyword(const cr_lang_function *f, const char *name, size_t len,
                    const char **names);

/* The list literal of the n values items into out: its items' nodes, and
 * its node: a constant when every item is a number or a constant node (of
 * one shape), else their stack along a new first axis. With joined set
 * (the list is concat's first argument, whose items may differ in length
 * along the axis joined), items of different shapes leave out's node NULL:
 * cr_lang_node then fails with the shape error if the list is used as a
 * value after all. 0 with the error in g on failure, else 1. */
int cr_lang_list(cr_graph *g, cr_lang_value *items, size_t n, int joined,
                 cr_lang_value *out);

/* ---- indexing (index.c) ---- */

/* Reads the index after its '[' (open) from lx and applies it to x (which
 * becomes the indexed value): NumPy's basic indexing with whole numbers
 * written in the program. Errors (CR_ESYNTAX, CR_ESHAPE, CR_ENOMEM) in
 * err with their position. */
cr_status cr_lang_index(cr_graph *g, cr_lexer *lx, cr_error *err, const cr_token *open,
                        cr_lang_value *x);

/* Builders named in the op list (ops/oplist.h). */
cr_node *cr_lang_unary(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
cr_node *cr_lang_pow(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
/* shapes, indexing and products (the section of functions.c after pow) */
cr_node *cr_lang_reshape(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
cr_node *cr_lang_flatten(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
cr_node *cr_lang_permute(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
cr_node *cr_lang_slice(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
cr_node *cr_lang_pad(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
cr_node *cr_lang_index_select(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
cr_node *cr_lang_matmul(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
/* axes, lists and the linear algebra of vectors and matrices */
cr_node *cr_lang_softmax(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
cr_node *cr_lang_join(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
cr_node *cr_lang_norm(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
cr_node *cr_lang_dot(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
cr_node *cr_lang_outer(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
cr_node *cr_lang_diag(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);
cr_node *cr_lang_trace(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc);

#endif
