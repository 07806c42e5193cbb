"""``bplab study``: the whole study in one command, as an offline HTML report."""

from backprop_lab.studies.config import SECTIONS, Study, load_study, reference_text
from backprop_lab.studies.run import StudyResult, run_study

__all__ = ["SECTIONS", "Study", "StudyResult", "load_study", "reference_text", "run_study"]
