/*
 * functions.c - the functions of the expression language: their table and
 * the list of their names, both generated from the op list (ops/oplist.h),
 * and the builders that turn a call into nodes.
 */
#include "lang/lang_private.h"
#include "ops/ops_common.h"

#include <string.h>

/* ---- the table, generated from the op list ---- */

#define CR_SKIP_OP_(NAME)
#define CR_FUNCTION_OF_OP_(NAME, MIN, MAX, BUILD) {#NAME, MIN, MAX, BUILD, &cr_op_##NAME},
#define CR_FUNCTION_(NAME, MIN, MAX, BUILD) {#NAME, MIN, MAX, BUILD, NULL},
static const cr_lang_function functions[] = {
    CR_OP_LIST(CR_SKIP_OP_, CR_FUNCTION_OF_OP_, CR_FUNCTION_)};
enum { N_FUNCTIONS = sizeof functions / sizeof functions[0] };

/* ", exp, log, ...": every name with a separator before it. */
#define CR_NAME_OF_OP_(NAME, MIN, MAX, BUILD) ", " #NAME
#define CR_NAME_(NAME, MIN, MAX, BUILD) ", " #NAME
static const char function_names[] = "" CR_OP_LIST(CR_SKIP_OP_, CR_NAME_OF_OP_, CR_NAME_);

const char *cr_expr_functions(void)
{
    return function_names + 2; /* without the first separator */
}

const cr_lang_function *cr_lang_function_find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_FUNCTIONS; i++)
        if (strlen(functions[i].name) == len && memcmp(functions[i].name, name, len) == 0)
            return &functions[i];
    return NULL;
}

/* ---- builders ---- */

cr_node *cr_lang_node(cr_graph *g, cr_lang_value *v)
{
    if (v->is_lit && !v->node)
        v->node = cr_scalar(g, v->lit);
    return v->node;
}

cr_node *cr_lang_unary(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    CR_UNUSED(argc);
    cr_node *x = cr_lang_node(g, &args[0]);
    return x ? cr_node_create(g, op, &x, 1, NULL) : NULL;
}

/* pow(a, b), and the operator ^: a literal exponent makes a powc node, so
 * x^2 has the derivative 2*x^(2-1) of a constant power. */
cr_node *cr_lang_pow(cr_graph *g, const cr_op *op, cr_lang_value *args, int argc)
{
    CR_UNUSED(op);
    CR_UNUSED(argc);
    cr_node *base = cr_lang_node(g, &args[0]);
    if (!base)
        return NULL;
    if (args[1].is_lit)
        return cr_powc(g, base, args[1].lit);
    return cr_pow(g, base, cr_lang_node(g, &args[1]));
}
