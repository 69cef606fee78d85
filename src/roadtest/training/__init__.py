"""Training of roadtest: time split, model fitting, evaluation, report, registry."""
