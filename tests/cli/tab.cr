y = x	+ foo(x)
