"""`s2f app`: a local web page on an exported model (Gradio, the optional extra `app`); Ctrl-C stops it."""

HELP = "serve a local web page: record or upload your voice, see the face (needs the extra 'app')"


def add_arguments(parser):
    from s2f_tf.commands.model_choice import add_model_argument
    from s2f_tf.serving import APP_MAX_BYTES as MAX_BYTES
    from s2f_tf.serving import APP_MAX_SECONDS as MAX_SECONDS

    add_model_argument(parser)
    parser.add_argument(
        "--gallery",
        metavar="DATA",
        help="prepared dataset (s2f prepare --out, e.g. demo_out/data): show the real faces of the"
        " training identities nearest to the voice by embedding",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=MAX_SECONDS,
        help=f"longest recording accepted (default {MAX_SECONDS:g} s)",
    )
    parser.add_argument(
        "--max-mb",
        type=float,
        default=MAX_BYTES / 1e6,
        help=f"largest file accepted in MB (default {MAX_BYTES / 1e6:g})",
    )


def run(args):
    import sys
    import time

    from s2f_tf.serving import app

    _check_arguments(args)
    app.import_gradio()  # before the slow part: a missing extra is one line, at once
    if not app.is_loopback(args.host):
        print(
            f"s2f app: warning: --host {args.host} is not a loopback address: anyone who can reach"
            " this machine can use the app (it has no authentication)",
            file=sys.stderr,
            flush=True,
        )
    start = time.perf_counter()
    face_app = _face_app(args)
    url, startup, reason = _serve_until_stopped(face_app, args.host, args.port, start)
    print(f"s2f app: stopped ({reason})", file=sys.stderr, flush=True)
    return {
        "url": url,
        "model": str(face_app.model.path),
        "gallery": args.gallery,
        "requests": face_app.requests,
        "startup_seconds": round(startup, 2),
        "stopped": reason,
    }


def _check_arguments(args):
    from s2f_tf.errors import S2FError

    if not 0 <= args.port <= 65535:
        raise S2FError(f"--port {args.port}: must be 0 (a free port) to 65535")
    if args.max_seconds <= 0 or args.max_mb <= 0:
        raise S2FError("--max-seconds and --max-mb must be positive")


def _face_app(args):
    """The app's model (and, with --gallery, the gallery of real faces), loaded."""
    from s2f_tf.commands.model_choice import chosen_model
    from s2f_tf.serving import app
    from s2f_tf.serving.inference import load_model

    model = load_model(chosen_model(args.model, "app"))
    print(f"s2f app: model {model.path} loaded", flush=True)
    gallery = None
    if args.gallery:
        from s2f_tf.serving.gallery import Gallery

        gallery = Gallery.from_dataset(args.gallery, model)
        print(
            f"s2f app: gallery of {len(gallery)} training identities from {args.gallery}"
            f" ({gallery.voice_split} voices)",
            flush=True,
        )
    return app.FaceApp(
        model, gallery, max_seconds=args.max_seconds, max_bytes=int(args.max_mb * 1e6)
    )


def _serve_until_stopped(face_app, host, port, start):
    """Serve the page until SIGINT or SIGTERM; returns (url, start-up seconds, the signal's name)."""
    import signal
    import threading
    import time

    from s2f_tf.serving import app

    # Explicit handlers: Ctrl-C stops the app even where SIGINT was ignored when it started (a shell
    # starts background jobs that way), and SIGTERM stops it the same way.
    stop, received = threading.Event(), []

    def on_signal(number, _frame):
        received.append(signal.Signals(number).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        page, url = app.serve(face_app, host, port)
        try:
            startup = time.perf_counter() - start
            print(
                f"s2f app: serving {url} (started in {startup:.1f} s; Ctrl-C to stop)", flush=True
            )
            while not stop.wait(0.5):
                pass
        finally:
            page.close()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return url, startup, received[0] if received else "closed"
