"""Where the course keeps things: its folders and config, the gradebook's reads, the term. It imports neither
the pipeline nor the commands."""
