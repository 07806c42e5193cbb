"""Experiments built on the engines: transfer learning and fine-tuning."""
