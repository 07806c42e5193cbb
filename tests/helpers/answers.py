"""Answer files as a student hands them in (the template's CSV)."""

import numpy as np

from backprop_lab.classroom.exercises import fmt


def write(path, answers, digits):
    rows = ["quantity,values"] + [f'"{n}",' + " ".join(fmt(v, digits) for v in np.ravel(a)) for n, a in answers.items()]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
