/*
 * registry.c - the table of built-in ops, generated from the op list
 * (ops/oplist.h), for introspection, the chain view and the op-table tests;
 * lookup by name.
 */
#include "ops/ops_common.h"

#include <string.h>

/* Every op of the op list, in its order. */
#define CR_OP_ADDRESS_(NAME) &cr_op_##NAME,
#define CR_OP_FN_ADDRESS_(NAME, MIN, MAX, BUILD) &cr_op_##NAME,
const cr_op *const cr_builtin_ops[] = {
    CR_OP_LIST(CR_OP_ADDRESS_, CR_OP_FN_ADDRESS_, CR_NOT_AN_OP_)};
const size_t cr_builtin_op_count = sizeof cr_builtin_ops / sizeof cr_builtin_ops[0];

const cr_op *cr_op_find(const char *name)
{
    for (size_t i = 0; i < cr_builtin_op_count; i++)
        if (strcmp(cr_builtin_ops[i]->name, name) == 0)
            return cr_builtin_ops[i];
    return NULL;
}

const char *cr_op_jacobian(const cr_node *n, size_t i)
{
    if (n->op->jacobian_of)
        return n->op->jacobian_of(n, i);
    if (!n->op->jacobian && (n->op->flags & CR_OP_ELEMENTWISE))
        return "diagonal"; /* a custom op that says only that it is elementwise */
    return n->op->jacobian;
}
