/*
 * oplist.h - THE list of chainrule's built-in ops and of the expression
 * language's functions. Every other list is generated from this one: the
 * descriptor declarations (ops_common.h), the table cr_builtin_ops
 * (registry.c), and the language's function table and its list of names
 * (lang/functions.c). docs/design.md, "Adding an op", says how to add one.
 *
 * CR_OP_LIST(OP, OP_FN, FN) calls, for each entry,
 *   OP(NAME)                        an op whose descriptor is cr_op_NAME,
 *                                   not callable by name from the language
 *                                   (an operator such as add, or a helper);
 *   OP_FN(NAME, MIN, MAX, BUILD)    an op the language also calls as
 *                                   NAME(...) with MIN to MAX arguments;
 *                                   BUILD (lang/functions.c) makes the node:
 *                                   cr_lang_unary for a one-input op
 *                                   without parameters;
 *   FN(NAME, MIN, MAX, BUILD)       a function of the language that is no op
 *                                   of its own (built from other ops).
 * The descriptor itself (forward, vector-Jacobian product, derivative text)
 * is defined in its family's file under src/ops/. The language lists its
 * functions in the order they appear here.
 */
#ifndef CR_OPLIST_H
#define CR_OPLIST_H

#define CR_OP_LIST(OP, OP_FN, FN)                                                          \
    /* elementwise, one input (elementwise.c) */                                           \
    OP(neg)                                                                                \
    OP(scale)                                                                              \
    OP(powc)                                                                               \
    OP_FN(exp, 1, 1, cr_lang_unary)                                                        \
    OP_FN(log, 1, 1, cr_lang_unary)                                                        \
    OP_FN(sqrt, 1, 1, cr_lang_unary)                                                       \
    OP_FN(abs, 1, 1, cr_lang_unary)                                                        \
    OP_FN(sign, 1, 1, cr_lang_unary)                                                       \
    OP_FN(sin, 1, 1, cr_lang_unary)                                                        \
    OP_FN(cos, 1, 1, cr_lang_unary)                                                        \
    OP_FN(tanh, 1, 1, cr_lang_unary)                                                       \
    OP_FN(sigmoid, 1, 1, cr_lang_unary)                                                    \
    OP_FN(relu, 1, 1, cr_lang_unary)                                                       \
    OP_FN(softplus, 1, 1, cr_lang_unary)                                                   \
    OP_FN(square, 1, 1, cr_lang_unary)                                                     \
    OP_FN(log1p, 1, 1, cr_lang_unary)                                                      \
    OP_FN(erf, 1, 1, cr_lang_unary)                                                        \
    OP_FN(leaky_relu, 1, 2, cr_lang_leaky_relu)                                            \
    OP_FN(elu, 1, 2, cr_lang_elu)                                                          \
    OP_FN(gelu, 1, 1, cr_lang_unary)                                                       \
    OP_FN(silu, 1, 1, cr_lang_unary)                                                       \
    OP_FN(detach, 1, 1, cr_lang_unary)                                                     \
    /* elementwise, two inputs with broadcasting (elementwise.c) */                        \
    OP(add)                                                                                \
    OP(sub)                                                                                \
    OP(mul)                                                                                \
    OP(div)                                                                                \
    OP_FN(pow, 2, 2, cr_lang_pow)                                                          \
    OP(add_n)                                                                              \
    /* fused backward helpers (elementwise.c) */                                           \
    OP(sigmoid_bwd)                                                                        \
    OP(tanh_bwd)                                                                           \
    OP(relu_bwd)                                                                           \
    OP(leaky_relu_bwd)                                                                     \
    /* compare and select, broadcasting (compare.c) */                                     \
    OP_FN(maximum, 2, 2, cr_lang_binary)                                                   \
    OP_FN(minimum, 2, 2, cr_lang_binary)                                                   \
    OP_FN(clamp, 3, 3, cr_lang_clamp)                                                      \
    OP_FN(where, 3, 3, cr_lang_where)                                                      \
    OP_FN(gt, 2, 2, cr_lang_binary)                                                        \
    OP_FN(ge, 2, 2, cr_lang_binary)                                                        \
    OP_FN(lt, 2, 2, cr_lang_binary)                                                        \
    OP_FN(le, 2, 2, cr_lang_binary)                                                        \
    OP_FN(eq, 2, 2, cr_lang_binary)                                                        \
    /* reductions (reduce.c) */                                                            \
    OP_FN(sum, 1, 3, cr_lang_reduce)                                                       \
    OP_FN(mean, 1, 3, cr_lang_reduce)                                                      \
    OP_FN(max, 1, 3, cr_lang_reduce)                                                       \
    OP_FN(min, 1, 3, cr_lang_reduce)                                                       \
    OP_FN(logsumexp, 1, 3, cr_lang_reduce)                                                 \
    OP_FN(argmax, 1, 3, cr_lang_reduce)                                                    \
    OP(expand)                                                                             \
    /* shapes (shape.c) */                                                                 \
    OP_FN(reshape, 2, 5, cr_lang_reshape)                                                  \
    FN(flatten, 1, 2, cr_lang_flatten)                                                     \
    OP_FN(permute, 2, 5, cr_lang_permute)                                                  \
    OP_FN(transpose, 1, 1, cr_lang_unary)                                                  \
    /* indexing along an axis (index.c) */                                                 \
    OP_FN(slice, 4, 5, cr_lang_slice)                                                      \
    OP_FN(pad, 4, 4, cr_lang_pad)                                                          \
    OP_FN(concat, 1, 2, cr_lang_join)                                                      \
    OP_FN(stack, 1, 2, cr_lang_join)                                                       \
    OP_FN(index_select, 3, 3, cr_lang_index_select)                                        \
    OP(index_add)                                                                          \
    OP(select_mask)                                                                        \
    /* linear algebra (linalg.c) */                                                        \
    OP_FN(matmul, 2, 2, cr_lang_matmul)                                                    \
    FN(dot, 2, 2, cr_lang_dot)                                                             \
    FN(outer, 2, 2, cr_lang_outer)                                                         \
    FN(norm, 1, 1, cr_lang_norm)                                                           \
    FN(diag, 1, 1, cr_lang_diag)                                                           \
    FN(trace, 1, 1, cr_lang_trace)                                                         \
    OP(sop)                                                                                \
    /* neural-network ops: convolutions (conv.c) */                                        \
    OP(conv)                                                                               \
    OP(conv_input_grad)                                                                    \
    OP(conv_weight_grad)                                                                   \
    /* pooling (pool.c) */                                                                 \
    OP(max_pool)                                                                           \
    OP(max_pool_scatter)                                                                   \
    OP(max_pool_gather)                                                                    \
    OP(avg_pool)                                                                           \
    OP(avg_pool_bwd)                                                                       \
    /* dropout (dropout.c) */                                                              \
    OP(dropout)                                                                            \
    /* normalisation and per-channel helpers (norm.c) */                                   \
    OP(layer_norm)                                                                         \
    OP(batch_norm)                                                                         \
    OP(norm_bwd)                                                                           \
    OP(norm_gain_grad)                                                                     \
    OP(training_only)                                                                      \
    OP(channel_sum)                                                                        \
    OP(channel_expand)                                                                     \
    OP(channel_scale)                                                                      \
    /* losses and softmax (loss.c) */                                                      \
    OP(sq_error)                                                                           \
    OP(mse)                                                                                \
    OP_FN(softmax, 1, 2, cr_lang_softmax)                                                  \
    OP(softmax_bwd)                                                                        \
    OP_FN(log_softmax, 1, 2, cr_lang_softmax)                                              \
    OP(softmax_xent)                                                                       \
    OP(softmax_xent_bwd)                                                                   \
    OP(bce)                                                                                \
    OP(clamp_prob)                                                                         \
    OP(bce_logits)                                                                         \
    OP(cross_entropy)                                                                      \
    OP(cross_entropy_bwd)                                                                  \
    OP(huber)

#endif
