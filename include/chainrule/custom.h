/*
 * chainrule/custom.h - user-defined ops with hand-written derivatives.
 *
 * A custom op is described by the same fields as a built-in op-table entry:
 * name, arity, flags, formula, the text of its local derivatives, a shape
 * rule, a forward kernel and a vector-Jacobian product (the hand-derived
 * backward). Once made, it is used like any built-in: nodes built with
 * cr_custom() take part in forward, reverse mode (cr_graph_backward,
 * cr_grad), the numerical check (cr_gradcheck, which is how a hand-written
 * derivative is verified) and, through the op's name and derivative text,
 * in the chain view and DOT output.
 *
 * The backward can be given two ways:
 *  - vjp, a numeric kernel: given the inputs, the output and the upstream
 *    gradient dy, it writes the gradient of one input. Reverse mode wraps it
 *    in a node of a generated op named "<name>_vjp", so gradients stay graph
 *    nodes that are re-evaluated without allocation. Such a node has no
 *    derivative of its own: differentiating it again (second derivatives)
 *    fails with CR_ENOTSUP and a message naming the op.
 *  - graph_vjp: builds the input's gradient from chainrule ops (cr_mul,
 *    cr_sigmoid, ...). Second derivatives then work like for built-ins.
 *    When both are given, graph_vjp is used.
 *
 * Attributes: one op can serve every setting of its parameters (a kernel
 * size, a stride, a constant). An op whose definition has attr_size > 0
 * is applied with cr_custom_attr(), which copies that many bytes (a struct
 * of the caller's) into the node; the callbacks of the _attr kind get them
 * back as `attr`, and the node's "<name>_vjp" nodes see the same bytes. So
 * one op object makes nodes of kernel size 2 and 3 in the same graph.
 *
 * Ownership: cr_custom_op_new returns a new op that the caller frees with
 * cr_custom_op_free, after every graph that has a node of it is freed (the
 * nodes point at the op). The definition's strings are copied; user is
 * borrowed and passed back to every callback; attributes are copied into
 * the graph.
 */
#ifndef CHAINRULE_CUSTOM_H
#define CHAINRULE_CUSTOM_H

#include "chainrule/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most inputs a custom op can take. */
#define CR_CUSTOM_MAX_INPUTS 8
/* Most bytes of attributes a node of a custom op can hold. */
#define CR_CUSTOM_MAX_ATTR 256

/* Flags of a custom op. */
enum {
    /* Elementwise: the local Jacobian is diagonal (chains and DOT say
     * "diagonal" when jacobian is NULL). */
    CR_CUSTOM_ELEMENTWISE = 1u << 0,
    /* Not differentiable where input 0 is 0 (like relu or abs): cr_gradcheck
     * skips elements whose perturbation moves input 0 across 0. */
    CR_CUSTOM_KINK = 1u << 1
};

/* Shape rule: given the inputs (n of them), writes the output's rank
 * (0..CR_MAX_RANK) and dimensions, or returns an error status (CR_ESHAPE)
 * and may write a message into err->message (with snprintf). */
typedef cr_status (*cr_custom_shape_fn)(size_t n, const cr_tensor *const *inputs, int *rank,
                                        size_t shape[CR_MAX_RANK], cr_error *err,
                                        void *user);

/* Forward kernel: computes out from the inputs. out is shaped by the shape
 * rule; write its elements through cr_tensor_data_mut(out). Must not keep
 * the pointers after returning. */
typedef void (*cr_custom_forward_fn)(size_t n, const cr_tensor *const *inputs,
                                     cr_tensor *out, void *user);

/* Numeric vector-Jacobian product: given the inputs, the output out of the
 * forward kernel and the upstream gradient dy (shaped like out), writes into
 * dx (shaped like input `which`, zero-filled on entry) the gradient
 * sum_j dy_j d(out_j)/d(input_which). */
typedef void (*cr_custom_vjp_fn)(size_t n, const cr_tensor *const *inputs,
                                 const cr_tensor *out, const cr_tensor *dy, size_t which,
                                 cr_tensor *dx, void *user);

/* Graph-building vector-Jacobian product: builds, as nodes of g, the same
 * gradient from inputs, out and dy, into *dx (shaped like input `which`;
 * NULL means a zero gradient). Returns CR_OK or the error status (the
 * detail stays in g). */
typedef cr_status (*cr_custom_graph_vjp_fn)(cr_graph *g, cr_node *const *inputs, size_t n,
                                            cr_node *out, cr_node *dy, size_t which,
                                            cr_node **dx, void *user);

/* The same four callbacks for an op with attributes: each also gets the
 * node's attributes, attr (attr_size bytes copied by cr_custom_attr,
 * aligned for any type; NULL when attr_size is 0). attr is borrowed for
 * the call. */
typedef cr_status (*cr_custom_shape_attr_fn)(size_t n, const cr_tensor *const *inputs,
                                             const void *attr, int *rank,
                                             size_t shape[CR_MAX_RANK], cr_error *err,
                                             void *user);
typedef void (*cr_custom_forward_attr_fn)(size_t n, const cr_tensor *const *inputs,
                                          const void *attr, cr_tensor *out, void *user);
typedef void (*cr_custom_vjp_attr_fn)(size_t n, const cr_tensor *const *inputs,
                                      const void *attr, const cr_tensor *out,
                                      const cr_tensor *dy, size_t which, cr_tensor *dx,
                                      void *user);
typedef cr_status (*cr_custom_graph_vjp_attr_fn)(cr_graph *g, cr_node *const *inputs,
                                                 size_t n, const void *attr, cr_node *out,
                                                 cr_node *dy, size_t which, cr_node **dx,
                                                 void *user);

/* The definition of a custom op: the fields of an op-table entry. Each
 * callback comes in two kinds, plain and _attr; give at most one of each
 * (forward or forward_attr is required). */
typedef struct cr_custom_op_def {
    const char *name;                 /* required, 1..200 bytes, not a built-in op's name */
    int min_inputs;                   /* 1..CR_CUSTOM_MAX_INPUTS */
    int max_inputs;                   /* min_inputs..CR_CUSTOM_MAX_INPUTS */
    unsigned flags;                   /* CR_CUSTOM_ELEMENTWISE, CR_CUSTOM_KINK */
    const char *formula;              /* "y = x*sigmoid(x)"; may be NULL */
    const char *deriv[2];             /* local derivative for input 0 and for the others,
                                         in the roles x (unary input), a, b (binary), y
                                         (output); either may be NULL */
    const char *jacobian;             /* structure, e.g. "diagonal"; may be NULL */
    cr_custom_shape_fn shape;         /* NULL: every input shaped like input 0,
                                         output too */
    cr_custom_forward_fn forward;     /* required */
    cr_custom_vjp_fn vjp;             /* numeric backward, or NULL */
    cr_custom_graph_vjp_fn graph_vjp; /* graph-building backward, or NULL */
    void *user;                       /* passed to every callback */
    /* Attributes: bytes of each node's copy, 0..CR_CUSTOM_MAX_ATTR (0: the
     * op takes none and is applied with cr_custom; otherwise with
     * cr_custom_attr), and the callbacks that read them. */
    size_t attr_size;
    cr_custom_shape_attr_fn shape_attr;         /* instead of shape */
    cr_custom_forward_attr_fn forward_attr;     /* instead of forward */
    cr_custom_vjp_attr_fn vjp_attr;             /* instead of vjp */
    cr_custom_graph_vjp_attr_fn graph_vjp_attr; /* instead of graph_vjp */
} cr_custom_op_def;

typedef struct cr_custom_op cr_custom_op;

/* Makes a custom op from def (copied). With no vjp or graph_vjp of either
 * kind the op has no derivative and reverse mode through it fails with
 * CR_ENOTSUP. Returns a new op (caller frees with cr_custom_op_free after
 * the graphs using it), or NULL with err set: CR_EINVAL (def NULL, no
 * forward, a callback given in both kinds, bad arity, unknown flags,
 * attr_size above CR_CUSTOM_MAX_ATTR), CR_ENAME (empty, too long or a
 * built-in op's name), CR_ENOMEM. */
CR_API cr_custom_op *cr_custom_op_new(const cr_custom_op_def *def, cr_error *err);

/* Frees a custom op. NULL is accepted. Every graph with a node of this op
 * must have been freed before. */
CR_API void cr_custom_op_free(cr_custom_op *op);

/* The op's name (borrowed, valid while the op lives). */
CR_API const char *cr_custom_op_name(const cr_custom_op *op);

/* Applies a custom op to n inputs: a new node of g (borrowed) whose value is
 * computed at once, or NULL with the error in g: CR_EINVAL (op NULL, wrong
 * number of inputs, inputs from another graph), CR_ESHAPE (the shape rule
 * rejected the inputs), CR_ENOMEM; a NULL input propagates the earlier
 * error, as for built-in ops. An op with attributes (attr_size > 0) gives
 * CR_EINVAL: apply it with cr_custom_attr. */
CR_API cr_node *cr_custom(cr_graph *g, const cr_custom_op *op, cr_node *const *inputs,
                          size_t n);

/* Applies a custom op with attributes: as cr_custom, and the op's
 * attr_size bytes at attr (borrowed; copied into g, so the caller may
 * change or free them afterwards) become the node's attributes, passed to
 * the _attr callbacks. For an op without attributes attr is ignored.
 * Errors as cr_custom, and CR_EINVAL for a NULL attr. */
CR_API cr_node *cr_custom_attr(cr_graph *g, const cr_custom_op *op, cr_node *const *inputs,
                               size_t n, const void *attr);

#ifdef __cplusplus
}
#endif
#endif
