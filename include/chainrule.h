/*
 * chainrule.h - the one header users include. It pulls in every public
 * module of chainrule; see each module header for its functions.
 *
 * "The article" in these headers is the seed article whose worked examples
 * chainrule reproduces: Ahmed Gad, "A Comprehensive Guide to the
 * Backpropagation Algorithm in Neural Networks", 2022 (README.md).
 */
#ifndef CHAINRULE_H
#define CHAINRULE_H

#include "chainrule/common.h"
#include "chainrule/tensor.h"
#include "chainrule/graph.h"
#include "chainrule/ops.h"
#include "chainrule/optim.h"
#include "chainrule/data.h"
#include "chainrule/nn.h"
#include "chainrule/io.h"
#include "chainrule/model.h"
#include "chainrule/chain.h"
#include "chainrule/dot.h"
#include "chainrule/html.h"
#include "chainrule/expr.h"
#include "chainrule/check.h"
#include "chainrule/custom.h"
#include "chainrule/higher.h"
#include "chainrule/recurrent.h"

#endif
