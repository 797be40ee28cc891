/*
 * recurrent.c - the builders of the recurrent layer kinds (rnn, gru, lstm)
 * of the layer table (CR_LAYER_LIST, chainrule/model.h). Placeholders
 * until the recurrent layers land: building a model with one of these
 * kinds fails with CR_ENOTSUP.
 */
#include "nn/model_internal.h"

static cr_status not_yet(cr_model *m, size_t i, cr_node *in, cr_node **out, cr_error *err)
{
    (void)in;
    (void)out;
    return cr_error_set(err, CR_ENOTSUP, "model", "%s layers are not built in yet",
                        cr_layer_kind_name(m->layers[i].spec.kind));
}

cr_status cr_layer_build_rnn(cr_model *m, size_t i, cr_node *in, cr_node **out,
                             cr_error *err)
{
    return not_yet(m, i, in, out, err);
}

cr_status cr_layer_build_gru(cr_model *m, size_t i, cr_node *in, cr_node **out,
                             cr_error *err)
{
    return not_yet(m, i, in, out, err);
}

cr_status cr_layer_build_lstm(cr_model *m, size_t i, cr_node *in, cr_node **out,
                              cr_error *err)
{
    return not_yet(m, i, in, out, err);
}
