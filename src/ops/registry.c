/*
 * registry.c - the table of built-in ops (for introspection, the chain view
 * and the op-table tests) and lookup by name.
 */
#include "ops/ops_common.h"

#include <string.h>

CR_DECLARE_OP(add);
CR_DECLARE_OP(add_n);
CR_DECLARE_OP(sub);
CR_DECLARE_OP(mul);
CR_DECLARE_OP(div);
CR_DECLARE_OP(pow);
CR_DECLARE_OP(neg);
CR_DECLARE_OP(scale);
CR_DECLARE_OP(powc);
CR_DECLARE_OP(exp);
CR_DECLARE_OP(log);
CR_DECLARE_OP(sqrt);
CR_DECLARE_OP(abs);
CR_DECLARE_OP(sign);
CR_DECLARE_OP(sin);
CR_DECLARE_OP(cos);
CR_DECLARE_OP(tanh);
CR_DECLARE_OP(sigmoid);
CR_DECLARE_OP(relu);
CR_DECLARE_OP(softplus);
CR_DECLARE_OP(sigmoid_bwd);
CR_DECLARE_OP(tanh_bwd);
CR_DECLARE_OP(relu_bwd);
CR_DECLARE_OP(sum);
CR_DECLARE_OP(mean);
CR_DECLARE_OP(expand);
CR_DECLARE_OP(matmul);
CR_DECLARE_OP(transpose);
CR_DECLARE_OP(sop);
CR_DECLARE_OP(sq_error);
CR_DECLARE_OP(mse);
CR_DECLARE_OP(softmax);
CR_DECLARE_OP(softmax_bwd);
CR_DECLARE_OP(log_softmax);
CR_DECLARE_OP(softmax_xent);
CR_DECLARE_OP(softmax_xent_bwd);
CR_DECLARE_OP(bce);
CR_DECLARE_OP(clamp_prob);
CR_DECLARE_OP(bce_logits);

const cr_op *const cr_builtin_ops[] = {
    &cr_op_add,      &cr_op_add_n,        &cr_op_sub,          &cr_op_mul,          &cr_op_div,
    &cr_op_pow,      &cr_op_neg,          &cr_op_scale,        &cr_op_powc,
    &cr_op_exp,      &cr_op_log,          &cr_op_sqrt,         &cr_op_abs,
    &cr_op_sign,     &cr_op_sin,          &cr_op_cos,          &cr_op_tanh,
    &cr_op_sigmoid,  &cr_op_relu,         &cr_op_softplus,     &cr_op_sigmoid_bwd,
    &cr_op_tanh_bwd, &cr_op_relu_bwd,     &cr_op_sum,          &cr_op_mean,
    &cr_op_expand,   &cr_op_matmul,       &cr_op_transpose,    &cr_op_sop,
    &cr_op_sq_error, &cr_op_mse,          &cr_op_softmax,      &cr_op_softmax_bwd,
    &cr_op_softmax_xent, &cr_op_softmax_xent_bwd, &cr_op_bce, &cr_op_clamp_prob,  &cr_op_bce_logits,
    &cr_op_log_softmax,
};
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
    return n->op->jacobian_of ? n->op->jacobian_of(n, i) : n->op->jacobian;
}
