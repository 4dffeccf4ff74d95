"""The driver: one experiment from checks to the run's files (experiment), and loading a
finished run for evaluation, export and scoring (serving). The command lines call it."""
