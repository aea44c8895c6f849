import sys

from s2f_tf.cli import main

sys.exit(main())
