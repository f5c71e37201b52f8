"""`python -m training.cli ...` is `bad-buzz ...` (used by local_run's fresh serving process)."""

from training.cli import main

if __name__ == "__main__":
    main()
