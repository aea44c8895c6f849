"""`s2f export`: SavedModel (TF Serving layout) + TFLite files from a work directory, checked, versioned."""

HELP = (
    "export a trained work directory to savedmodels/NAME/<version>/ (SavedModel + TFLite), checked"
)

KEPT = "no version was published (its temporary directory was removed)"


def add_arguments(parser):
    from s2f_tf.commands.argtypes import add_paths, integer, number
    from s2f_tf.serving import FP32_TOLERANCE, QUANTIZATIONS

    add_paths(
        parser,
        workdir="work directory of s2f train / import-torch",
        out="model base path savedmodels/NAME (NAME names the TFLite files)",
    )
    parser.add_argument(
        "--version",
        type=integer(minimum=0),
        default=None,
        help="version to write (default: next free integer)",
    )
    parser.add_argument(
        "--tflite",
        nargs="*",
        default=list(QUANTIZATIONS),
        choices=QUANTIZATIONS,
        help="TFLite variants to write (default: all; none with an empty list)",
    )
    parser.add_argument(
        "--tolerance",
        type=number(above=0),
        default=FP32_TOLERANCE,
        help=f"max |face_float - Keras| for SavedModel and fp32 TFLite (default {FP32_TOLERANCE:g})",
    )


def run(args):
    from s2f_tf.serving.export import export

    return export(
        args.workdir,
        args.out,
        version=args.version,
        quantizations=tuple(args.tflite),
        tolerance=args.tolerance,
    )
