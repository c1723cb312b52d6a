"""``python -m galcat ...`` (used by ``torchrun --nproc_per_node N -m galcat train ...``)."""

from galcat.cli import main

if __name__ == "__main__":
    main()
