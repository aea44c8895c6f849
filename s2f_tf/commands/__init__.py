"""One module per `s2f` sub-command: HELP, add_arguments(parser), run(args) -> JSON-able summary."""
