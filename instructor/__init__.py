"""The course's instructor tools (not part of rnnlib), in three places, each importing only those below it:

    commands/   the ./course commands: parse a command line, call the pipeline, report
    pipeline/   grading: intake, the sandbox, trusted tests, workers, feedback pages, the exchange
    model/      where the course keeps things: its folders and config, the gradebook, the term
"""
