"""Synthetic cohort generator: SYNTHETIC stimulus-response videos of one public-domain face
with planted class-specific movement, in the training dataset format, so that the whole
chain (training, export, bundle, kiosk analysis) can be tested without patient data.

See docs/synthetic_cohort.md.
"""

from model_export.synth.cohort import CohortSpec, generate_cohort, plan, stimulus_timeline

__all__ = ["CohortSpec", "generate_cohort", "plan", "stimulus_timeline"]
