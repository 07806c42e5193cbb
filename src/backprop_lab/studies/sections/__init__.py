"""The study's sections. Each takes its settings and a folder, runs the library, and
returns a :class:`Section`: figures, tables, numbers, a two-line reading and the
``bplab`` command that reproduces it. No section computes anything the library
does not: this is the assignment done with the tool.

One module per group of sections: ``pictures`` (1-4), ``engines`` (5-6), ``numpy33`` (7), ``experiments``
(8, 10), ``cnn`` (9, 11-13); ``common`` holds what they share."""

from __future__ import annotations

from typing import Callable

from backprop_lab.studies.sections.cnn import cifar, cnn, saveload, transfer
from backprop_lab.studies.sections.common import Context, Section
from backprop_lab.studies.sections.engines import engines, tape
from backprop_lab.studies.sections.experiments import blend, experiments
from backprop_lab.studies.sections.numpy33 import numpy33
from backprop_lab.studies.sections.pictures import backward, equations, forward, network

SECTION_FUNCTIONS: dict[str, Callable[[Context], Section]] = {
    "network": network,
    "forward": forward,
    "backward": backward,
    "equations": equations,
    "tape": tape,
    "engines": engines,
    "numpy33": numpy33,
    "experiments": experiments,
    "cifar": cifar,
    "blend": blend,
    "cnn": cnn,
    "saveload": saveload,
    "transfer": transfer,
}
