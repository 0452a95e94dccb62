"""The ./course commands (cli.py is the table): each parses its line, calls the pipeline and reports."""
