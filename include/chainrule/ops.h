/*
 * chainrule/ops.h - constructors for the built-in operations.
 *
 * Each returns a new node of graph g (borrowed: the graph owns it) whose
 * value is computed at once, or NULL with the error recorded in g (see
 * chainrule/graph.h: a NULL input propagates the earlier error; a shape
 * mismatch gives CR_ESHAPE with a message naming the op and both shapes,
 * such as "matmul: [2,3] x [4,1]", and leaves the graph unchanged).
 *
 * Broadcasting (every elementwise op of two or more inputs: add, sub, mul,
 * div, pow, maximum, minimum, the comparisons, where): NumPy's rule. The
 * shapes are aligned on their last axes; along each axis the dimensions are
 * equal, or one of them is 1 or missing and is stretched to the other. So
 * [2,3] with [3] or [1,3] adds a row to every row, [2,3] with [2,1] a
 * column to every column, [2,1] with [1,3] gives [2,3], and a scalar goes
 * with anything. Note that [n,n] with [n] means rows, as in NumPy: to
 * subtract each row's mean keep the reduced axis, x - mean_dim(x, 1, 1).
 * Shapes that do not broadcast are CR_ESHAPE, "add: [2,3] and [4,3] do not
 * broadcast". The gradient of a stretched operand is summed back to its
 * shape over the stretched axes.
 *
 * After each constructor: the function and its partial derivatives.
 */
#ifndef CHAINRULE_OPS_H
#define CHAINRULE_OPS_H

#include "chainrule/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = a + b;  dy/da = 1, dy/db = 1 */
CR_API cr_node *cr_add(cr_graph *g, cr_node *a, cr_node *b);
/* y = a - b;  dy/da = 1, dy/db = -1 */
CR_API cr_node *cr_sub(cr_graph *g, cr_node *a, cr_node *b);
/* y = a * b (elementwise);  dy/da = b, dy/db = a */
CR_API cr_node *cr_mul(cr_graph *g, cr_node *a, cr_node *b);
/* y = a / b;  dy/da = 1/b, dy/db = -a/b^2 */
CR_API cr_node *cr_div(cr_graph *g, cr_node *a, cr_node *b);
/* y = a ^ b (elementwise);  dy/da = b*a^(b-1), dy/db = y*log(a) */
CR_API cr_node *cr_pow(cr_graph *g, cr_node *a, cr_node *b);

/* y = -x;  dy/dx = -1 */
CR_API cr_node *cr_neg(cr_graph *g, cr_node *x);
/* y = c*x for a constant c;  dy/dx = c */
CR_API cr_node *cr_scale(cr_graph *g, cr_node *x, double c);
/* y = x^p for a constant p;  dy/dx = p*x^(p-1) */
CR_API cr_node *cr_powc(cr_graph *g, cr_node *x, double p);
/* y = exp(x);  dy/dx = y */
CR_API cr_node *cr_exp(cr_graph *g, cr_node *x);
/* y = log(x);  dy/dx = 1/x */
CR_API cr_node *cr_log(cr_graph *g, cr_node *x);
/* y = sqrt(x);  dy/dx = 1/(2*y) */
CR_API cr_node *cr_sqrt(cr_graph *g, cr_node *x);
/* y = |x|;  dy/dx = sign(x) (0 at the kink x = 0) */
CR_API cr_node *cr_abs(cr_graph *g, cr_node *x);
/* y = sign(x) (-1, 0 or 1);  dy/dx = 0 (undefined at the jump x = 0) */
CR_API cr_node *cr_sign(cr_graph *g, cr_node *x);
/* y = sin(x);  dy/dx = cos(x) */
CR_API cr_node *cr_sin(cr_graph *g, cr_node *x);
/* y = cos(x);  dy/dx = -sin(x) */
CR_API cr_node *cr_cos(cr_graph *g, cr_node *x);
/* y = tanh(x);  dy/dx = 1 - y^2 */
CR_API cr_node *cr_tanh(cr_graph *g, cr_node *x);
/* y = 1/(1+exp(-x));  dy/dx = y*(1-y) */
CR_API cr_node *cr_sigmoid(cr_graph *g, cr_node *x);
/* y = max(x, 0);  dy/dx = 1 if x > 0 else 0 (0 at the kink x = 0) */
CR_API cr_node *cr_relu(cr_graph *g, cr_node *x);
/* y = log(1+exp(x));  dy/dx = sigmoid(x) */
CR_API cr_node *cr_softplus(cr_graph *g, cr_node *x);
/* y = x^2;  dy/dx = 2x */
CR_API cr_node *cr_square(cr_graph *g, cr_node *x);
/* y = log(1+x), accurate for small x;  dy/dx = 1/(1+x) */
CR_API cr_node *cr_log1p(cr_graph *g, cr_node *x);
/* y = erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt;
 * dy/dx = 2/sqrt(pi) * exp(-x^2) */
CR_API cr_node *cr_erf(cr_graph *g, cr_node *x);

/* The default slope of leaky_relu (PyTorch's) and alpha of elu. */
#define CR_LEAKY_RELU_SLOPE 0.01
#define CR_ELU_ALPHA 1.0
/* y = x if x > 0 else slope*x;  dy/dx = 1 if x > 0 else slope (slope at
 * the kink x = 0, as in PyTorch) */
CR_API cr_node *cr_leaky_relu(cr_graph *g, cr_node *x, double slope);
/* y = x if x > 0 else alpha*(exp(x) - 1);  dy/dx = 1 if x > 0 else
 * y + alpha (alpha at x = 0, as in PyTorch) */
CR_API cr_node *cr_elu(cr_graph *g, cr_node *x, double alpha);
/* y = x*Phi(x) = x/2 * (1 + erf(x/sqrt(2))), the exact (erf) GELU;
 * dy/dx = Phi(x) + x*exp(-x^2/2)/sqrt(2 pi) */
CR_API cr_node *cr_gelu(cr_graph *g, cr_node *x);
/* y = x*sigmoid(x) (SiLU, swish);  dy/dx = s*(1 + x*(1-s)), s = sigmoid(x) */
CR_API cr_node *cr_silu(cr_graph *g, cr_node *x);

/* Comparisons and selection. a and b (and where's cond) broadcast. */

/* y = max(a, b) elementwise (NaN if either is NaN);
 * dy/da = 1 where a > b, 1/2 where a == b, else 0 (dy/db the same with a
 * and b swapped: a tie splits the gradient evenly, as torch.maximum) */
CR_API cr_node *cr_maximum(cr_graph *g, cr_node *a, cr_node *b);
/* y = min(a, b) elementwise;  dy/da = 1 where a < b, 1/2 where a == b,
 * else 0 */
CR_API cr_node *cr_minimum(cr_graph *g, cr_node *a, cr_node *b);
/* y = min(max(x, lo), hi) for constants lo <= hi (CR_EINVAL otherwise, or
 * for a NaN bound); a NaN x stays NaN;  dy/dx = 1 where lo <= x <= hi
 * (bounds included, as torch.clamp), else 0 */
CR_API cr_node *cr_clamp(cr_graph *g, cr_node *x, double lo, double hi);
/* y = a where cond != 0, else b (cond holds 0/1 values, typically a
 * comparison); cond, a and b broadcast together;  dy/da = cond,
 * dy/db = 1 - cond, no gradient to cond */
CR_API cr_node *cr_where(cr_graph *g, cr_node *cond, cr_node *a, cr_node *b);
/* y = 1 where a > b, else 0 (also ge: >=, lt: <, le: <=, eq: ==; NaN
 * compares false);  no gradient (the Jacobian is zero) */
CR_API cr_node *cr_gt(cr_graph *g, cr_node *a, cr_node *b);
CR_API cr_node *cr_ge(cr_graph *g, cr_node *a, cr_node *b);
CR_API cr_node *cr_lt(cr_graph *g, cr_node *a, cr_node *b);
CR_API cr_node *cr_le(cr_graph *g, cr_node *a, cr_node *b);
CR_API cr_node *cr_eq(cr_graph *g, cr_node *a, cr_node *b);

/* Reductions. The _dim forms reduce along one axis (a negative axis counts
 * from the end: -1 is the last); keepdims non-zero keeps that axis with
 * length 1 (so the result broadcasts against x: x - mean_dim(x, 1, 1)
 * centres each row), zero removes it. An axis out of range is CR_EINVAL,
 * "sum: axis 2 out of range for [3,4]". */

/* y = sum of all elements (a scalar);  dy/dx_i = 1 */
CR_API cr_node *cr_sum(cr_graph *g, cr_node *x);
/* y_j = sum_i x_ij along axis;  dy_j/dx_ij = 1 */
CR_API cr_node *cr_sum_dim(cr_graph *g, cr_node *x, int axis, int keepdims);
/* cr_sum_dim(g, x, axis, 0): the axis is removed */
CR_API cr_node *cr_sum_axis(cr_graph *g, cr_node *x, int axis);
/* y = mean of all n elements;  dy/dx_i = 1/n */
CR_API cr_node *cr_mean(cr_graph *g, cr_node *x);
/* y_j = (1/n) sum_i x_ij along axis (n elements);  dy_j/dx_ij = 1/n */
CR_API cr_node *cr_mean_dim(cr_graph *g, cr_node *x, int axis, int keepdims);
/* cr_mean_dim(g, x, axis, 0): the axis is removed */
CR_API cr_node *cr_mean_axis(cr_graph *g, cr_node *x, int axis);
/* y = max of all elements (NaN if one is NaN);  dy/dx_i = 1/k at each of
 * the k elements equal to the max, else 0 (PyTorch's torch.max(x) and
 * torch.amax: ties share the gradient evenly) */
CR_API cr_node *cr_max(cr_graph *g, cr_node *x);
/* y_j = max_i x_ij along axis;  dy_j/dx_ij = 1 at the first maximal i
 * (the index argmax gives), else 0 (torch.max(x, dim): ties do not share) */
CR_API cr_node *cr_max_dim(cr_graph *g, cr_node *x, int axis, int keepdims);
/* y = min of all elements;  dy/dx_i = 1/k at each of the k minimal
 * elements, else 0 */
CR_API cr_node *cr_min(cr_graph *g, cr_node *x);
/* y_j = min_i x_ij along axis;  dy_j/dx_ij = 1 at the first minimal i */
CR_API cr_node *cr_min_dim(cr_graph *g, cr_node *x, int axis, int keepdims);
/* y = log(sum_i exp(x_i)), computed without overflow (from the max);
 * dy/dx_i = exp(x_i - y), the softmax of x */
CR_API cr_node *cr_logsumexp(cr_graph *g, cr_node *x);
/* y_j = log(sum_i exp(x_ij)) along axis;  dy_j/dx_ij = exp(x_ij - y_j) */
CR_API cr_node *cr_logsumexp_dim(cr_graph *g, cr_node *x, int axis, int keepdims);
/* y = the flat (row-major) index of the first maximal element, as a
 * double (a NaN counts as maximal);  no gradient */
CR_API cr_node *cr_argmax(cr_graph *g, cr_node *x);
/* y_j = the index along axis of the first maximal x_ij, as a double;  no
 * gradient */
CR_API cr_node *cr_argmax_dim(cr_graph *g, cr_node *x, int axis, int keepdims);

/* ---- shapes: the same elements in another arrangement ----
 * Each copies its input's elements; dX is dY moved back the same way.
 * Axes are 0-based; a negative axis counts from the end (-1 is the last).
 * A bad axis or argument gives CR_EINVAL, shapes that do not fit
 * CR_ESHAPE, with a message naming the op, the shape and the argument. */

/* Y = X with rank/shape (row-major order kept, as torch.reshape); one
 * dimension may be -1, inferred from the element count;  dX = dY in X's
 * shape */
CR_API cr_node *cr_reshape(cr_graph *g, cr_node *x, int rank, const long *shape);
/* Y = X with the axes from start_axis on merged into one (torch.flatten(x,
 * start_dim)); a scalar becomes [1];  dX = dY in X's shape */
CR_API cr_node *cr_flatten(cr_graph *g, cr_node *x, int start_axis);
/* Y = X with its axes reordered: Y's axis d is X's axis axes[d] (n_axes
 * must be X's rank; as torch.permute);  dX = dY permuted back */
CR_API cr_node *cr_permute(cr_graph *g, cr_node *x, int n_axes, const int *axes);
/* Y = X^T: the last two axes swapped, for a matrix or for each matrix of a
 * batch (rank 2 to 4; torch's x.mT);  dX = dY^T */
CR_API cr_node *cr_transpose(cr_graph *g, cr_node *x);

/* ---- indexing along one axis ---- */

/* Y = X[start:stop:step] along axis, with Python's rules: a negative
 * start or stop counts from the end, both are clamped to the axis (a stop
 * past the end, such as LONG_MAX, means "to the end"); step >= 1. A slice
 * that selects nothing is CR_ESHAPE (tensors have at least one element).
 * dX = dY at the sliced positions, 0 elsewhere */
CR_API cr_node *cr_slice(cr_graph *g, cr_node *x, int axis, long start, long stop,
                         long step);
/* Y = X with `before` zeros in front of it and `after` zeros behind it
 * along axis (torch.nn.functional.pad with zeros, on any axis);
 * dX = dY without the padding */
CR_API cr_node *cr_pad(cr_graph *g, cr_node *x, int axis, size_t before, size_t after);
/* Y = xs[0], ..., xs[n-1] one after the other along axis (torch.cat); the
 * inputs have the same rank (at least 1) and the same dimensions except
 * along axis;  dxs[i] = the part of dY that xs[i] fills */
CR_API cr_node *cr_concat(cr_graph *g, size_t n, cr_node *const *xs, int axis);
/* Y = xs[0], ..., xs[n-1] stacked along a new axis of Y (torch.stack; axis
 * counts in Y, whose rank is one more than the inputs', at most 4); the
 * inputs have the same shape;  dxs[i] = dY at index i of the new axis */
CR_API cr_node *cr_stack(cr_graph *g, size_t n, cr_node *const *xs, int axis);
/* Y = the slices of X at the given indices along axis: an embedding lookup
 * for axis 0. indices holds whole numbers in 0..len-1 (len: X's length
 * along axis), any shape; Y's shape is X's with the axis replaced by the
 * indices' shape (torch.index_select for a vector of indices, and
 * numpy.take in general). An index out of range or not a whole number is
 * CR_EINVAL naming its position and value; one made so later (new data in
 * an input) selects NaNs and gets no gradient.
 * dX = dY scatter-added to the selected slices (repeated indices add up);
 * no gradient for the indices */
CR_API cr_node *cr_index_select(cr_graph *g, cr_node *x, int axis, cr_node *indices);

/* ---- linear algebra ---- */

enum {
    CR_TRANS_A = 1u << 0, /* use the transpose of a without copying it */
    CR_TRANS_B = 1u << 1  /* use the transpose of b without copying it */
};
/* Y = op(A) op(B), as torch.matmul, through CBLAS: for matrices a matrix
 * product; a vector a is a row [1,k] and a vector b a column [k,1], whose
 * dimension Y then lacks (two vectors give their dot product); operands of
 * rank 3 or 4 are batches of matrices whose batch dimensions broadcast
 * (right-aligned, a 1 or missing dimension stretches): [B,m,k] x [k,n]
 * gives [B,m,n]. CR_TRANS_A / CR_TRANS_B use the transpose of each matrix
 * of a (of b) without copying it (the operand must have rank 2 or more).
 * dA = dY op(B)^T, dB = op(A)^T dY, summed over the batch dimensions the
 * operand was broadcast along */
CR_API cr_node *cr_matmul(cr_graph *g, cr_node *a, cr_node *b, unsigned flags);

/* The article's sum of products: y = x_1 w_1 + ... + x_n w_n + b.
 * Each product contracts the last axis of x_i with the first of w_i (plain
 * products for scalars, a dot product for vectors, a matrix product for a
 * batch [m,k] times weights [k,n]); b may be NULL, a scalar, or broadcast
 * over the result like add's operand. ds/dw_i = x_i, ds/dx_i = w_i,
 * ds/db = 1. */
CR_API cr_node *cr_sop(cr_graph *g, size_t n, cr_node *const *xs, cr_node *const *ws,
                       cr_node *b);

/* E = 1/2 * sum (d - y)^2, the article's squared error (a scalar);
 * dE/dy = y - d, dE/dd = d - y */
CR_API cr_node *cr_sq_error(cr_graph *g, cr_node *y, cr_node *d);
/* E = mean (y - d)^2;  dE/dy = 2 (y - d) / n */
CR_API cr_node *cr_mse(cr_graph *g, cr_node *y, cr_node *d);
/* Row-wise softmax of a vector or of each row of a matrix:
 * y_i = exp(x_i) / sum_j exp(x_j);  dx = y * (dy - sum(dy * y)) */
CR_API cr_node *cr_softmax(cr_graph *g, cr_node *x);
/* E = mean over rows of -sum_i t_i log softmax(z)_i, computed stably from
 * logits z and target distributions t (one-hot rows);
 * dE/dz = (softmax(z) - t) / rows */
CR_API cr_node *cr_softmax_xent(cr_graph *g, cr_node *logits, cr_node *targets);
/* E = mean of -(t log p + (1-t) log(1-p)) for probabilities p (clamped away
 * from 0 and 1 by 1e-12);  dE/dp = (p - t) / (p (1-p) n) */
CR_API cr_node *cr_bce(cr_graph *g, cr_node *p, cr_node *t);
/* E = mean of the same loss with p = sigmoid(z), computed stably from
 * logits: max(z,0) - z t + log(1 + exp(-|z|));  dE/dz = (sigmoid(z) - t) / n */
CR_API cr_node *cr_bce_logits(cr_graph *g, cr_node *z, cr_node *t);

#ifdef __cplusplus
}
#endif
#endif
