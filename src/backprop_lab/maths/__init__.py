"""The maths of backpropagation, declared once: an expression tree (``expr``), the rules of every
layer, activation, loss and optimizer (``rules``), and what is generated from them: a network's
equations (``equations``), its computation graphs (``graphs``) and the independent checks (``check``)."""
