/*
 * train_plot.h - the history CSV and the SVG chart of `chainrule train`
 * (train_plot.c).
 */
#ifndef CR_CLI_TRAIN_PLOT_H
#define CR_CLI_TRAIN_PLOT_H

#include "cli_common.h"

/* Writes the history of s, one line per epoch
 * (epoch,loss,accuracy,val_loss,val_accuracy; a value that does not apply
 * is empty), to path atomically. Returns an exit status (the error
 * reported). */
int train_history_write(cli *c, const char *path, const cr_train_stats *s);

/* Writes the loss curves (left axis) and the accuracy curves (right axis,
 * when there are classes) of s, validation dashed, as an SVG chart with
 * the title title, to path atomically. Returns an exit status. */
int train_plot_write(cli *c, const char *path, const cr_train_stats *s, const char *title);

#endif
