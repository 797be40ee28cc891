"""Cases for the recurrent layers (src/nn/recurrent.c, cr_rnn): torch.nn.RNN,
GRU and LSTM in float64 with the same weights (chainrule stores them
transposed), a random initial state, the last state or every step. Not ops
of the list: builders of the oracle made of ops."""


def _recurrent(kind, gates):
    def gen(rng, torch):
        b, t, n_in, h = rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 3), rng.randint(1, 3)
        every = rng.randint(0, 1)
        x = torch.randn(b, t, n_in)
        w_ih, w_hh = torch.randn(n_in, gates * h) * 0.7, torch.randn(h, gates * h) * 0.7
        b_ih, b_hh = torch.randn(gates * h) * 0.5, torch.randn(gates * h) * 0.5
        state = [torch.randn(b, h)] + ([torch.randn(b, h)] if kind == "lstm" else [])
        inputs = [(v, True) for v in [x, w_ih, w_hh, b_ih, b_hh] + state]
        # nn.RNN/GRU/LSTM's own kernels (what their forward calls), given
        # the weights as differentiable tensors in PyTorch's layout
        vf = {"rnn": torch._VF.rnn_tanh, "gru": torch._VF.gru, "lstm": torch._VF.lstm}[kind]

        def fn(x, w_ih, w_hh, b_ih, b_hh, h0, c0=None):
            hx = (h0.unsqueeze(0), c0.unsqueeze(0)) if kind == "lstm" else h0.unsqueeze(0)
            out = vf(x, hx, [w_ih.t(), w_hh.t(), b_ih, b_hh], True, 1, 0.0, False, False,
                     True)[0]
            return out if every else out[:, -1, :]
        return [Case(kind, inputs, fn, ints={"every_step": every})]
    return gen


GENERATORS = {
    "rnn": _recurrent("rnn", 1),
    "gru": _recurrent("gru", 3),
    "lstm": _recurrent("lstm", 4),
}
