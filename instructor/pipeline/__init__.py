"""Grading: intake, the sandbox, trusted tests, workers, feedback pages and the exchange. It calls no command."""
