# The seed article's neuron: one sigmoid unit and its squared error.
s = x1*w1 + x2*w2 + b
predicted = sigmoid(s)
E = 0.5*(d - predicted)^2
