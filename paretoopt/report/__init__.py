"""Design-review reports of a study: rounding, columns, the review table, format writers, figures."""
