/*
 * chainrule/expr.h - the expression language: a small program text
 * ("s = x1*w1 + x2*w2 + b; predicted = sigmoid(s); E = 0.5*(d - predicted)^2")
 * parsed into nodes of a graph, with the program's inputs, statements and
 * output. The grammar is written down in docs/expression-language.md.
 *
 * Each statement's name becomes the name of its node, so chains and
 * pictures use the user's words. An identifier that is neither a statement
 * nor the name of a node already in the graph is an input (a scalar input
 * node named after it). An identifier naming a node that was in the graph
 * before the parse (a parameter built in C, say) refers to that node.
 *
 * Ownership: the program is new (free it with cr_expr_free) and borrows the
 * graph, which must outlive it; the graph owns every node the parse built.
 * Symbols and nodes returned by the getters are borrowed from the program.
 */
#ifndef CHAINRULE_EXPR_H
#define CHAINRULE_EXPR_H

#include "chainrule/common.h"
#include "chainrule/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parentheses (and function calls) may nest this deep; deeper gives
 * CR_ERANGE "nesting too deep". */
#define CR_EXPR_MAX_NESTING 1000

typedef struct cr_expr_program cr_expr_program;

typedef enum cr_expr_kind {
    CR_EXPR_INPUT = 0,    /* a variable without a statement */
    CR_EXPR_STATEMENT = 1 /* the name of a statement `name = expr` */
} cr_expr_kind;

/* One named thing of a program (read only, borrowed from the program).
 * line and column (1-based; the column counts characters) locate a
 * statement's name, or an input's first use. used is 1 when the node
 * feeds the current output (or is it), else 0. has_value is 1 for an input
 * given a value with cr_expr_set (or bound to a node already in the graph),
 * and always 1 for statements. group is the name of the statement group a
 * statement belongs to (see cr_expr_parse), NULL for inputs and for
 * statements before the first marker. */
typedef struct cr_expr_symbol {
    const char *name;
    cr_node *node;
    cr_expr_kind kind;
    int line;
    int column;
    int used;
    int has_value;
    const char *group;
} cr_expr_symbol;

/* Parses the program text (len bytes; it need not be NUL-terminated) and
 * builds its nodes in graph g. On success *out is a new program whose output
 * is its last statement. On failure *out is NULL, the graph is left as it
 * was (except after running out of memory while naming the statements: the
 * nodes built so far stay, unreachable) and err (may be NULL) holds the
 * status, the message and the line and column of the problem:
 *   CR_ESYNTAX  a syntax error, an unknown function (the message names a
 *               close one: "did you mean sigmoid?"), a wrong number of
 *               arguments or a wrong keyword argument, a name defined
 *               twice or used before its statement, an empty program, x**2
 *               ("use ^ for powers"), 2x ("write 2*x"), a character that
 *               is no operator (with a hint for a typeset one: ×, ², −);
 *   CR_ESHAPE   operands whose shapes do not fit their operator (the
 *               message names it and both shapes), an index out of range,
 *               a ragged or empty list;
 *   CR_EFORMAT  a NUL byte or invalid UTF-8 in the text, a malformed number;
 *   CR_ERANGE   a number out of range, nesting deeper than
 *               CR_EXPR_MAX_NESTING, a name longer than 255 bytes;
 *   CR_ENAME    a statement name already used by a node of g;
 *   CR_ENOMEM   out of memory;
 *   CR_EINVAL   g, text or out is NULL.
 * The parser uses explicit stacks, never recursion, so no input can
 * overflow the C stack; a long sum is built left to right. Inputs start
 * with the value 0 and no value given (see cr_expr_set).
 *
 * Statement groups: a comment alone on its line that reads "# layer NAME"
 * or "# group: NAME" is a marker; the statements after it, up to the next
 * marker, belong to the group "layer NAME" or "NAME" (each statement's
 * symbol names it; two markers with the same name make one group). Every
 * other comment is only a comment, and a program without markers has no
 * groups. The DOT writer draws the groups (cr_expr_node_group). */
CR_API cr_status cr_expr_parse(cr_graph *g, const char *text, size_t len,
                               cr_expr_program **out, cr_error *err);

/* Frees the program (not its graph or nodes). NULL is accepted. */
CR_API void cr_expr_free(cr_expr_program *p);

/* The graph the program was parsed into (borrowed); NULL for a NULL p. */
CR_API cr_graph *cr_expr_graph(const cr_expr_program *p);

/* Inputs in order of first use, and statements in program order. Return a
 * borrowed symbol, or NULL if i is out of range. 0 and NULL for a NULL p. */
CR_API size_t cr_expr_num_inputs(const cr_expr_program *p);
CR_API const cr_expr_symbol *cr_expr_input(const cr_expr_program *p, size_t i);
CR_API size_t cr_expr_num_statements(const cr_expr_program *p);
CR_API const cr_expr_symbol *cr_expr_statement(const cr_expr_program *p, size_t i);

/* The input or statement with this name (borrowed), or NULL (also for a
 * NULL p or name). */
CR_API const cr_expr_symbol *cr_expr_lookup(const cr_expr_program *p, const char *name);

/* The group of the statement whose node is node (borrowed from the
 * program, which is passed as void * so that this function can be
 * cr_dot_options' group_of), or NULL: no such statement, a statement
 * without group, a NULL argument. */
CR_API const char *cr_expr_node_group(const cr_node *node, void *program);

/* The output statement (borrowed): the last statement unless changed by
 * cr_expr_set_output. NULL for a NULL p. */
CR_API const cr_expr_symbol *cr_expr_output(const cr_expr_program *p);

/* Makes the statement called name the output and recomputes every
 * symbol's used flag. CR_ENOTFOUND if no statement has that name (the
 * message lists the statements), CR_ENOMEM. err may be NULL. */
CR_API cr_status cr_expr_set_output(cr_expr_program *p, const char *name, cr_error *err);

/* Gives the input called name a value. CR_ENOTFOUND if the program has no
 * such name, CR_ESTATE if it names a statement (its value is computed),
 * CR_EDOMAIN if value is not finite. err may be NULL. */
CR_API cr_status cr_expr_set(cr_expr_program *p, const char *name, double value,
                             cr_error *err);

/* Evaluates every statement, in program order, from the inputs' values.
 * CR_ESTATE if an input has no value (the message names the first one, with
 * the line and column of its first use); CR_EDOMAIN if a statement's value
 * is NaN or infinite: the message names the first such statement and the
 * operation that made the value from finite operands ("statement 'r'
 * evaluates to -inf: log of 0 gives -inf", with " at element k" for a
 * tensor), err->where holds the statement's name and line/column locate
 * that operation (the statement's name when no operation of the program
 * made it).
 * The evaluation order is computed once, so later calls do not allocate.
 * err may be NULL. */
CR_API cr_status cr_expr_eval(cr_expr_program *p, cr_error *err);

/* Reads a value literal, the values the command line's --at takes (len
 * bytes; it need not be NUL-terminated):
 *   a number, with an optional '-' in front ("-2.5", "1e-3"), read as the
 *     language reads one;
 *   a nested list of numbers, "[[1, 2], [3, 4]]": rank 1 to CR_MAX_RANK,
 *     rectangular, no empty list;
 *   "rand(3, 4)" or "randn(3, 4)": a tensor of that shape (1 to CR_MAX_RANK
 *     sizes) drawn uniformly from [0, 1) or from the standard normal, from
 *     the library's generator seeded with seed (the same seed gives the same
 *     numbers).
 * On success *out is a new tensor (free it with cr_tensor_free): rank 0 for
 * a number. On failure *out is NULL and err (may be NULL) holds the status,
 * the message and the column (line 1) of the problem:
 *   CR_ESYNTAX  not a value ("expected a number, a list [...], rand(...) or
 *               randn(...), got 'x'"), a bad size of rand/randn;
 *   CR_ESHAPE   a ragged list ("a ragged list: [1] has 3 items, [0] has 2"),
 *               a number where a list belongs or the other way round, an
 *               empty list;
 *   CR_EFORMAT  a malformed number, a NUL byte or invalid UTF-8;
 *   CR_ERANGE   a number out of range, more than CR_MAX_RANK levels of
 *               brackets or sizes, rand/randn of more than 2^24 elements;
 *   CR_ENOMEM   out of memory;
 *   CR_EINVAL   text or out is NULL. */
CR_API cr_status cr_expr_parse_value(const char *text, size_t len, unsigned long seed,
                                     cr_tensor **out, cr_error *err);

/* The functions the language knows, as one static string:
 * "exp, log, sqrt, abs, sign, sin, cos, tanh, sigmoid, relu, softplus, pow,
 * reshape, ..." (docs/expression-language.md lists them). */
CR_API const char *cr_expr_functions(void);

#ifdef __cplusplus
}
#endif
#endif
