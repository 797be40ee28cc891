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
/* y = x;  dy/dx = 0: a stop-gradient. The value passes unchanged, but no
 * derivative of any order flows back through the node (PyTorch's
 * x.detach()), e.g. a recurrent state carried from the previous window. */
CR_API cr_node *cr_detach(cr_graph *g, cr_node *x);

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

/* ---- neural-network ops (PyTorch's semantics; docs/ops.md) ---- */

/* 2-D convolution (PyTorch's conv2d; a cross-correlation): x [N,C,H,W],
 * weights w [O,C/groups,KH,KW], bias b [O] or NULL;
 *   y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] x[n, g*C/groups + c,
 *                i*sh - ph + p*dh, j*sw - pw + q*dw]
 * (g the group of o, zero outside x), y [N,O,OH,OW] with
 * OH = (H + 2 ph - dh (KH-1) - 1) / sh + 1. stride, padding and dilation
 * are {h, w} pairs; NULL gives 1, 0 and 1. Computed as im2col + dgemm.
 * Linear in x and in w: dx is the transposed convolution of dy by w, dw
 * the correlation of x with dy, db = dy summed over n, i, j; their own
 * derivatives are again convolutions (any order). CR_ESHAPE when the
 * shapes do not fit (channels, groups, a kernel larger than the padded
 * input); CR_EINVAL for a zero stride, dilation or groups. */
CR_API cr_node *cr_conv2d(cr_graph *g, cr_node *x, cr_node *w, cr_node *b,
                          const size_t stride[2], const size_t padding[2],
                          const size_t dilation[2], size_t groups);
/* 1-D convolution: x [N,C,L], w [O,C/groups,K], b [O] or NULL, y [N,O,OL];
 * conv2d's formula and derivatives with a kernel one row high. */
CR_API cr_node *cr_conv1d(cr_graph *g, cr_node *x, cr_node *w, cr_node *b, size_t stride,
                          size_t padding, size_t dilation, size_t groups);

/* 2-D max pooling (PyTorch's max_pool2d) of x [N,C,H,W] or [C,H,W]:
 *   y[..,i,j] = max over the window of x[.., i*sh - ph + p, j*sw - pw + q],
 *   0 <= p < KH, 0 <= q < KW,
 * padding counting as -inf, OH = (H + 2 ph - KH) / sh + 1. kernel, stride
 * and padding are {h, w}; stride NULL (or a zero) is the kernel, padding
 * NULL is zero, and padding may be at most half the kernel.
 * dy/dx = 1 at the first maximal element of each window (rows, then
 * columns; PyTorch's choice among ties), 0 elsewhere. CR_EINVAL for a zero
 * kernel or too much padding, CR_ESHAPE for a bad rank or a kernel larger
 * than the padded input. */
CR_API cr_node *cr_max_pool2d(cr_graph *g, cr_node *x, const size_t kernel[2],
                              const size_t stride[2], const size_t padding[2]);
/* 2-D average pooling (avg_pool2d, count_include_pad as PyTorch's default):
 * y = sum of x over the window / (KH KW), padding counting as zeros;
 * dy/dx = 1/(KH KW) on each window. Arguments as cr_max_pool2d's. */
CR_API cr_node *cr_avg_pool2d(cr_graph *g, cr_node *x, const size_t kernel[2],
                              const size_t stride[2], const size_t padding[2]);
/* 1-D pooling of x [N,C,L] or [C,L] over the last axis (max_pool1d,
 * avg_pool1d): the 2-D formulas with a window one row high. stride 0 is
 * the kernel. */
CR_API cr_node *cr_max_pool1d(cr_graph *g, cr_node *x, size_t kernel, size_t stride,
                              size_t padding);
CR_API cr_node *cr_avg_pool1d(cr_graph *g, cr_node *x, size_t kernel, size_t stride,
                              size_t padding);

/* Dropout (PyTorch's): y = x * m with m = 1/(1-p) for each element kept
 * (probability 1 - p) and 0 for the others, a new mask drawn from the
 * graph's generator (cr_graph_set_seed) at every evaluation of the node,
 * including the one when it is built; in evaluation mode
 * (cr_graph_set_training(g, 0)) m = 1, y = x. dy/dx = m, the mask of the
 * last evaluation (cr_node_state reads it); gradients built after a
 * forward use that forward's mask. p = 1 gives zeros. CR_EINVAL for p
 * outside [0, 1]. */
CR_API cr_node *cr_dropout(cr_graph *g, cr_node *x, double p);

/* PyTorch's default eps of the normalisations and momentum of batch norm's
 * running statistics. */
#define CR_NORM_EPS 1e-5
#define CR_BATCH_NORM_MOMENTUM 0.1

/* Layer norm (PyTorch's layer_norm) over the last `axes` axes of x, which
 * make one group of m elements per row:
 *   y = (x - mean) / sqrt(var + eps) * gamma + beta,
 * mean and the biased var over the group; gamma and beta are shaped like
 * the normalised axes, or NULL (1 and 0). With xh the normalised x and
 * r = 1/sqrt(var + eps): dx = r (g - mean(g) - xh mean(g xh)) for
 * g = dy gamma; dgamma = sum over rows of dy xh; dbeta = sum of dy.
 * CR_EINVAL for axes outside 1..rank or a negative eps, CR_ESHAPE for a
 * gain or bias of another shape. */
CR_API cr_node *cr_layer_norm(cr_graph *g, cr_node *x, int axes, cr_node *gamma,
                              cr_node *beta, double eps);
/* Batch norm (PyTorch's batch_norm) of x [N,C], [N,C,L] or [N,C,H,W] per
 * channel c over N and the spatial axes: in training mode the layer norm
 * formula over each channel's group, with gamma and beta [C] (or NULL);
 * in evaluation mode (cr_graph_set_training(g, 0)) the running mean and
 * variance replace the batch's, and dx = dy gamma / sqrt(running_var +
 * eps). Each evaluation in training mode, but not the one when the node
 * is built, updates the running statistics: running = (1 - momentum)
 * running + momentum batch, with the unbiased batch variance; they start
 * at mean 0 and variance 1. cr_node_state reads them as a [2,C] tensor
 * (mean, variance), cr_node_set_state loads saved ones. CR_ESHAPE for a
 * bad rank, a single value per channel or a gain or bias not [C];
 * CR_EINVAL for momentum outside [0, 1] or a negative eps. */
CR_API cr_node *cr_batch_norm(cr_graph *g, cr_node *x, cr_node *gamma, cr_node *beta,
                              double momentum, double eps);

/* E = 1/2 * sum (d - y)^2, the article's squared error (a scalar);
 * dE/dy = y - d, dE/dd = d - y */
CR_API cr_node *cr_sq_error(cr_graph *g, cr_node *y, cr_node *d);
/* E = mean (y - d)^2;  dE/dy = 2 (y - d) / n */
CR_API cr_node *cr_mse(cr_graph *g, cr_node *y, cr_node *d);
/* Softmax along the last axis (each row of a matrix): y_i = exp(x_i) /
 * sum_j exp(x_j);  dx = y * (dy - sum(dy * y)) along the axis */
CR_API cr_node *cr_softmax(cr_graph *g, cr_node *x);
/* The same along any axis (negative: counted from the end; CR_EINVAL out
 * of range), as PyTorch's softmax(x, dim). */
CR_API cr_node *cr_softmax_axis(cr_graph *g, cr_node *x, int axis);
/* y_i = x_i - log sum_j exp(x_j) along axis, computed stably;
 * dx = dy - softmax(x) * sum(dy) along the axis */
CR_API cr_node *cr_log_softmax(cr_graph *g, cr_node *x, int axis);
/* E = mean over the positions (every element but the last axis) of
 * -sum_i t_i log softmax(z)_i along the last axis, computed stably from
 * logits z and target distributions t (one-hot rows) shaped like z; for a
 * matrix, the mean over rows; dE/dz = (softmax(z) sum(t) - t) / positions,
 * dE/dt = -log softmax(z) / positions */
CR_API cr_node *cr_softmax_xent(cr_graph *g, cr_node *logits, cr_node *targets);
/* The same with the classes along any axis (PyTorch's cross_entropy with
 * probability targets: axis 1, mean reduction). */
CR_API cr_node *cr_softmax_xent_axis(cr_graph *g, cr_node *logits, cr_node *targets,
                                     int axis);
/* Cross-entropy from integer class indices (PyTorch's cross_entropy,
 * mean reduction): logits z [N,C], [N,C,d...] or [C], classes t [N],
 * [N,d...] or a scalar holding integers in [0, C) as doubles (no one-hot
 * matrix);  E = mean over positions of log sum_j exp(z_j) - z_t,
 * dE/dz = (softmax(z) - onehot(t)) / positions; none for t. CR_ESHAPE when
 * t is not z's shape without its class axis; CR_EINVAL, naming the row,
 * for an index that is out of range or not an integer, at build and at
 * each evaluation (forward then stops with that error). */
CR_API cr_node *cr_cross_entropy(cr_graph *g, cr_node *logits, cr_node *classes);
/* PyTorch's default delta of the Huber loss. */
#define CR_HUBER_DELTA 1.0
/* Huber loss (PyTorch's huber_loss, mean reduction; smooth L1 for
 * delta = 1, CR_HUBER_DELTA): E = mean h(y - t), h(d) = d^2/2 for |d| < delta and
 * delta (|d| - delta/2) beyond; dE/dy = clamp(y - t, -delta, delta) / n,
 * dE/dt = -dE/dy. y and t have the same shape (CR_ESHAPE); CR_EINVAL for
 * delta <= 0. */
CR_API cr_node *cr_huber(cr_graph *g, cr_node *y, cr_node *t, double delta);
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
