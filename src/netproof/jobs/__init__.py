"""The jobs a user runs, one module each: run (checkrun.py), matrix, continuity, upgrade. Each brings its labs up and
down and runs the checks as a pytest process: jobs and the pytest plugin (runner/) meet only through that command
line (checkrun.pytest_argv), and never import each other."""
