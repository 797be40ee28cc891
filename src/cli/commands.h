/*
 * commands.h - the table of `chainrule` subcommands. To add one: write
 * src/cli/cmd_NAME.c defining
 *     int cli_cmd_NAME(int argc, char **argv);   (argv[0] is NAME, the
 *                                                 arguments follow)
 *     const cli_spec cli_spec_NAME;               (its options and help
 *                                                 text: cli_options.h)
 * add it to chainrule_SOURCES in Makefile.am, and add one X(...) line
 * below (before the closing comment line). Help lists them in this order.
 */
#ifndef CR_CLI_COMMANDS_H
#define CR_CLI_COMMANDS_H

#include "cli_options.h"

#define CLI_COMMANDS(X)                                                                    \
    X(eval, "evaluate a program's statements at given inputs")                             \
    X(grad, "the output's value and its gradient with respect to each input")              \
    X(chain, "each gradient as the chain of local derivatives that produced it")           \
    X(dot, "the graph in DOT or as a picture, with local derivatives on edges")            \
    X(check, "reverse-mode gradients checked against central differences")                 \
    X(train, "train an MLP or a network of layers on CSV or IDX data, save it")            \
    X(predict, "one prediction per data row from a saved model")                           \
    X(evaluate, "a saved model's loss, accuracy and confusion matrix on data")             \
    X(explain, "a page that steps through the forward and backward passes")                \
    X(jacobian, "the Jacobian of the output with respect to the variables")                \
    X(hessian, "the Hessian of a scalar output with respect to the variables")             \
    X(hvp, "a Hessian-vector product of a scalar output along a direction --v")            \
    X(jvp, "a Jacobian-vector product (forward mode) along a direction --v")               \
    X(generate, "sample text from a saved character model")                                \
    /* end of the table */

#define CLI_DECLARE(name, summary)                                                         \
    int cli_cmd_##name(int argc, char **argv);                                             \
    extern const cli_spec cli_spec_##name;
CLI_COMMANDS(CLI_DECLARE)
#undef CLI_DECLARE

#endif
