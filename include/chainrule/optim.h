/*
 * chainrule/optim.h - optimizers that update a graph's trainable parameters
 * from the gradients of the last cr_graph_backward: SGD (momentum, Nesterov,
 * L2 weight decay), Adam, AdamW (decoupled weight decay) and RMSprop, with
 * gradient clipping by global norm and learning-rate schedules (constant,
 * step, cosine).
 *
 * Ownership: cr_optim_new returns a new optimizer that the caller frees
 * with cr_optim_free, before or after the graph; it borrows the graph, which
 * must outlive every other call on the optimizer. Per-parameter state is
 * allocated once, at creation; cr_optim_step allocates nothing.
 *
 * The update rules, with g the gradient (after clipping), w the parameter,
 * t = 1, 2, ... the step number, lr = the scheduled rate of that step and
 * wd = weight_decay (all element-wise):
 *   SGD      g += wd*w; v = momentum*v + g;
 *            w -= lr * (nesterov ? g + momentum*v : v)       (v = g if momentum 0)
 *   Adam     g += wd*w; m = b1*m + (1-b1)*g; s = b2*s + (1-b2)*g^2;
 *            w -= lr * (m/(1-b1^t)) / (sqrt(s/(1-b2^t)) + eps)
 *   AdamW    w -= lr*wd*w; then Adam's update with wd = 0
 *   RMSprop  g += wd*w; s = alpha*s + (1-alpha)*g^2; u = g/(sqrt(s) + eps);
 *            v = momentum*v + u; w -= lr*v                   (v = u if momentum 0)
 * Moment buffers (v, m, s) start at zero.
 */
#ifndef CHAINRULE_OPTIM_H
#define CHAINRULE_OPTIM_H

#include "chainrule/common.h"
#include "chainrule/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cr_optim cr_optim;

/* The update rule. Values are never renumbered. */
typedef enum cr_optim_kind {
    CR_OPTIM_SGD = 0,
    CR_OPTIM_ADAM = 1,
    CR_OPTIM_ADAMW = 2,
    CR_OPTIM_RMSPROP = 3,
    CR_OPTIM_COUNT /* how many there are (not a kind) */
} cr_optim_kind;

/* The learning-rate schedule, a function of the number of steps already
 * taken (t0 = 0 for the first step):
 *   CR_LR_CONSTANT  lr
 *   CR_LR_STEP      lr * gamma^floor(t0 / step_size)
 *   CR_LR_COSINE    lr_min + (lr - lr_min) * (1 + cos(pi * min(t0, T) / T)) / 2,
 *                   T = cosine_steps: lr at t0 = 0, lr_min from t0 = T on. */
typedef enum cr_lr_schedule {
    CR_LR_CONSTANT = 0,
    CR_LR_STEP = 1,
    CR_LR_COSINE = 2
} cr_lr_schedule;

/* Options of an optimizer. Start from cr_optim_defaults(kind) and change
 * the fields you need; fields that the chosen kind or schedule does not use
 * are ignored (but must still be valid numbers where validated below). */
typedef struct cr_optim_options {
    cr_optim_kind kind;
    double lr;           /* base learning rate, > 0 */
    double momentum;     /* SGD and RMSprop, in [0, 1); 0 = none */
    int nesterov;        /* SGD: Nesterov momentum (needs momentum > 0) */
    double weight_decay; /* >= 0; L2 added to the gradient, decoupled for AdamW */
    double beta1, beta2; /* Adam/AdamW moment decay rates, in [0, 1) */
    double eps;          /* Adam/AdamW/RMSprop denominator term, > 0 */
    double alpha;        /* RMSprop squared-gradient decay rate, in [0, 1) */
    double clip_norm;    /* > 0: scale gradients so their global L2 norm is at
                            most clip_norm; 0: no clipping */
    cr_lr_schedule schedule;
    size_t step_size;    /* CR_LR_STEP: steps between decays, >= 1 */
    double gamma;        /* CR_LR_STEP: decay factor, in (0, 1] */
    size_t cosine_steps; /* CR_LR_COSINE: T, steps to reach lr_min, >= 1 */
    double lr_min;       /* CR_LR_COSINE: final rate, in [0, lr] */
} cr_optim_options;

/* The defaults for a kind: SGD lr 0.01; Adam lr 0.001, beta1 0.9, beta2
 * 0.999, eps 1e-8; AdamW as Adam with weight_decay 0.01; RMSprop lr 0.01,
 * alpha 0.99, eps 1e-8. Every kind: no momentum, no weight decay (AdamW
 * excepted), no clipping, constant schedule (step_size 1, gamma 1,
 * cosine_steps 1, lr_min 0). An unknown kind gives the SGD defaults with
 * that kind, which cr_optim_new then rejects. */
CR_API cr_optim_options cr_optim_defaults(cr_optim_kind kind);

/* Checks options as cr_optim_new does, without a graph. Returns CR_OK or
 * CR_EINVAL with a message naming the field and its value in err (which may
 * be NULL), e.g. "learning rate must be positive and finite, got -0.1". */
CR_API cr_status cr_optim_check_options(const cr_optim_options *opts, cr_error *err);

/* New optimizer over the parameters g has now (cr_graph_num_params; later
 * parameters are not known to it), with options copied from opts (NULL:
 * cr_optim_defaults(CR_OPTIM_SGD)). Allocates every moment buffer now.
 * Returns a new object (caller frees with cr_optim_free), or NULL with err
 * set: CR_EINVAL (g NULL or bad options, see cr_optim_check_options),
 * CR_ENOMEM. A graph without parameters is accepted (steps do nothing). */
CR_API cr_optim *cr_optim_new(cr_graph *g, const cr_optim_options *opts, cr_error *err);

/* Frees the optimizer (never the graph). NULL is accepted. */
CR_API void cr_optim_free(cr_optim *opt);

/* Performs one update of every parameter from its current gradient
 * (cr_node_grad: the last cr_graph_backward, accumulated or not), then
 * advances the step count. Gradients are read, never modified; when
 * clipping is on the update uses them scaled by min(1, clip_norm / norm).
 * Allocates nothing. Parameter values change in place; op nodes keep their
 * old values until the next cr_graph_forward. Errors go to the graph
 * (cr_graph_error) and leave every parameter and the step count unchanged:
 * CR_ESTATE if the graph's parameter count changed since cr_optim_new or a
 * parameter has no gradient yet, CR_EDOMAIN if a gradient is NaN or
 * infinite (the message names the parameter). CR_EINVAL for a NULL opt
 * (recorded nowhere). */
CR_API cr_status cr_optim_step(cr_optim *opt);

/* Global L2 norm of all gradients as read by the last successful
 * cr_optim_step, before clipping (0 before the first step); NaN for a NULL
 * opt. */
CR_API double cr_optim_grad_norm(const cr_optim *opt);

/* Number of steps taken so far (0 after creation or reset, and for a NULL
 * opt). */
CR_API size_t cr_optim_steps(const cr_optim *opt);

/* Learning rate the next cr_optim_step will use: the schedule at the
 * current step count. NaN for a NULL opt. */
CR_API double cr_optim_lr(const cr_optim *opt);

/* The schedule of opts evaluated after `steps` steps (the rate of step
 * steps+1), as defined at cr_lr_schedule. opts must be valid; NaN for a
 * NULL opts. */
CR_API double cr_optim_lr_at(const cr_optim_options *opts, size_t steps);

/* The options the optimizer was created with (borrowed, valid while opt
 * lives); NULL for a NULL opt. */
CR_API const cr_optim_options *cr_optim_get_options(const cr_optim *opt);

/* Zeroes every moment buffer and the step count, as if just created. Does
 * nothing for a NULL opt. */
CR_API void cr_optim_reset(cr_optim *opt);

/* The kind's name ("sgd", "adam", "adamw", "rmsprop"; "unknown" otherwise,
 * static), and the reverse: CR_OK and *kind set (kind may be NULL: the name
 * is only checked), or CR_EINVAL (kind untouched; also for a NULL name)
 * with err naming the accepted names. */
CR_API const char *cr_optim_kind_name(cr_optim_kind kind);
CR_API cr_status cr_optim_kind_parse(const char *name, cr_optim_kind *kind, cr_error *err);

#ifdef __cplusplus
}
#endif
#endif
