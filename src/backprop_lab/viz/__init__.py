"""Pictures generated from the same objects the code runs."""
