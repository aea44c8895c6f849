"""Export a work directory to savedmodels/NAME/<version>/ — the same code as `s2f export`.

python export/export_model.py --workdir runs/small --out savedmodels/s2f_small [--version N]
"""

import sys

from s2f_tf.cli import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))
