# an error on line 4
a = x + 1
b = a * 2
c = b +* 3
