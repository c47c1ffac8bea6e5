"""The ``syncd`` command: parse, load settings, configure logs, call the service, map errors to exit codes.

Exit codes: 0 success, 1 a sync or check failed, 2 bad command line or configuration.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

import structlog

from syncd import __version__
from syncd.core.models import Resource
from syncd.errors import ConfigError, SyncdError
from syncd.logs import register_settings_secrets
from syncd.settings import Settings, config_path, load_settings, parse_shard

__all__ = ["entry", "main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="syncd", description="Keep LaminDB instances in step with the hub.")
    parser.add_argument("--version", action="version", version=f"syncd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    config_help = "configuration file (default: $SYNCD_CONFIG, else /etc/syncd/syncd.toml)"

    once = sub.add_parser("run-once", help="sync every configured instance once and exit")
    once.add_argument("--config", help=config_help)
    once.add_argument(
        "--instance", action="append", default=[], metavar="NAME", help="sync only this instance (repeatable)"
    )
    once.add_argument(
        "--full",
        action="store_true",
        help="also list every live key: remove hard deletes, fetch live rows never served as changes",
    )

    serve = sub.add_parser("serve", help="run the daemon: scheduled syncs, health and metrics")
    serve.add_argument("--config", help=config_help)
    serve.add_argument("--shard", metavar="K/N", help="handle only shard K of N (by instance name)")
    serve.add_argument(
        "--replica-id",
        help="this replica's name in each instance's freshness record and in PostgreSQL's "
        "application_name (default: $SYNCD_REPLICA_ID, else host:pid)",
    )

    check = sub.add_parser(
        "check",
        help="ask a running daemon whether it is ready (exit 0/1/2)",
        description="Ask the running daemon's /readyz. The address is the one the daemon started with for "
        "the same --config and $SYNCD_HEALTH_LISTEN, read from its runtime state file "
        "($SYNCD_RUNTIME_DIR, else $RUNTIME_DIRECTORY, else /run/syncd: health-<key>.json); without "
        "that file, [health] listen of the configuration.",
        epilog="exit codes: 0 ready; 1 not ready (the reasons are printed); 2 cannot ask (nothing "
        "listening, or an answer that is not the readiness JSON), or a bad command line or configuration",
    )
    check.add_argument("--config", help=config_help)

    status = sub.add_parser(
        "status",
        help="show cursors and parked rows, read from the instance databases",
        description="Show each instance's cursors, last success and error, deferred, quarantined and "
        "held rows, read from the instance databases themselves (read-only; no daemon or hub token needed).",
        epilog="exit codes: 0 every instance was read; 1 at least one instance could not be read "
        "(each is named with the reason, the others are still shown); 2 bad command line or configuration",
    )
    status.add_argument("--config", help=config_help)

    reset = sub.add_parser(
        "reset-cursor",
        help="make the next run of one instance read every hub row again (see docs/hardening.md)",
        description="Send one instance's change streams back to the beginning. Nothing applied is "
        "removed; the next run reads every row again and writes only what differs.",
    )
    reset.add_argument("--config", help=config_help)
    reset.add_argument("--instance", required=True, metavar="NAME", help="the instance whose cursor to reset")
    reset.add_argument(
        "--resource",
        action="append",
        choices=[r.value for r in Resource],
        default=[],
        help="only this resource's stream (repeatable; default: every resource)",
    )

    demo = sub.add_parser("demo", help="sync the bundled hub emulator's sample data into local SQLite files")
    demo.add_argument(
        "--dir", default="syncd-demo", help="where to keep the demo databases (default: %(default)s)"
    )
    demo.add_argument("--pg", metavar="URL", help="also sync into this PostgreSQL database")
    demo.add_argument("--watch", action="store_true",
                      help="keep running: change the hub every few seconds and show each change landing")
    demo.add_argument("--every", type=float, default=3.0, help="seconds between changes with --watch")
    demo.add_argument("--seconds", type=float, help="with --watch: stop after this many seconds")

    sub.add_parser("hubsim", help="run the bundled hub emulator (see `syncd hubsim --help`)", add_help=False)
    return parser


_COMMAND_MODULES = {"run-once": "syncd.runner", "serve": "syncd.daemon.service"}
"""The module each long-running command imports its libraries through."""


def entry(argv: Sequence[str] | None = None) -> NoReturn:
    """The ``syncd`` command as a process: :func:`main`, then :func:`sys.exit` with its code.

    Before :func:`main`, the command's libraries are imported and every object
    they made is frozen (:func:`gc.freeze`): they live as long as the process,
    and the collector's full passes would otherwise walk them again and again.
    This is the process's own entry point, so it may decide that; :func:`main`,
    which embedders and tests call, changes no interpreter-wide state. The
    interpreter then ends as usual: ``atexit`` handlers run, buffered output
    is flushed.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    module = _COMMAND_MODULES.get(args[0]) if args else None
    if module is not None:
        importlib.import_module(module)
    gc.freeze()
    sys.exit(main(args))


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    out, err = stdout or sys.stdout, stderr or sys.stderr
    if args_list[:1] == ["hubsim"]:
        from syncd.hubsim.main import main as hubsim_main

        return hubsim_main(args_list[1:])
    try:
        args = _parser().parse_args(args_list)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return _dispatch(args, env, out, err)
    except ConfigError as exc:
        err.write(f"syncd: {exc}\n")
        return 2
    except KeyboardInterrupt:
        err.write("syncd: interrupted\n")
        return 1
    except SyncdError as exc:
        err.write(f"syncd: {exc}\n")
        return 1
    except Exception as exc:  # noqa: BLE001 - the process boundary: log it, exit 1
        structlog.get_logger("syncd").exception("syncd.crashed", error_type=type(exc).__name__)
        err.write(f"syncd: internal error ({type(exc).__name__}); the log has the traceback\n")
        return 1


def _dispatch(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    if args.command == "demo":
        return _demo(args, env, out, err)
    path = config_path(args.config, env)
    if args.command == "serve":
        from syncd.daemon.service import serve

        shard = None
        if args.shard is not None:
            shard = parse_shard(args.shard)
            if shard is None:
                raise ConfigError([f"--shard: must look like K/N with 0 <= K < N, got {args.shard!r}"])
        return serve(path, env, shard=shard, replica=args.replica_id)
    # status reads the instance databases and check asks the daemon: neither talks to the hub
    settings = load_settings(path, env, require_token=args.command == "run-once")
    register_settings_secrets(settings)
    if args.command == "check":
        from syncd.daemon.health import check
        from syncd.daemon.runtime_state import state_file

        return int(check(settings, out=out, state_path=state_file(path, env)))
    if args.command == "status":
        from syncd.daemon.runtime_state import state_file
        from syncd.status_cli import print_status

        return print_status(settings, out, state_path=state_file(path, env))
    if args.command == "reset-cursor":
        return _reset_cursor(settings, args.instance, args.resource, out)
    return _run_once(settings, args.instance or None, args.full, out, err)


def _reset_cursor(settings: Settings, name: str, resources: list[str], out: TextIO) -> int:
    from syncd.cursor_reset import reset_cursors

    instance = settings.instance(name)  # an unknown name is a configuration error (exit 2)
    chosen = [Resource(r) for r in resources] or list(Resource)
    reset_cursors(instance, chosen, lock_timeout=settings.sync.lock_timeout_seconds)
    out.write(
        f"{name}: cursor reset for {', '.join(r.value for r in chosen)}; "
        "the next run reads every row again and writes only what differs\n"
    )
    return 0


def _report(report: object, out: TextIO, err: TextIO, terminal: bool) -> None:
    from syncd.core.report import RunReport
    from syncd.summary import render_table, summary_event

    assert isinstance(report, RunReport)
    if terminal:
        out.write(render_table(report) + "\n")
    else:
        structlog.get_logger("syncd").info("sync.summary", **summary_event(report))


def _run_once(settings: Settings, names: list[str] | None, full: bool, out: TextIO, err: TextIO) -> int:
    from syncd.logs import configure_logging
    from syncd.runner import run_sync

    terminal = out.isatty()
    settings.groups(names)  # unknown instance names are configuration errors (exit 2)
    observer = None
    if terminal:  # the progress line is for a person watching; a service or a pipe gets log events
        from syncd.progress import TerminalProgress

        observer = TerminalProgress(err)
        # log lines and the progress line share the terminal: the log stream keeps them apart
        configure_logging(
            level="warning" if settings.log.level == "info" else settings.log.level,
            fmt="console",
            stream=observer.log_stream(),
        )
    else:
        configure_logging(level=settings.log.level, fmt=settings.log.format, stream=out)
    report = run_sync(settings, instance_names=names, full=full, observer=observer)
    _report(report, out, err, terminal)
    return 0 if report.ok else 1


def _watch_demo(args: argparse.Namespace, directory: Path, out: TextIO) -> int:
    import signal
    import threading

    from syncd.demo import watch_demo

    if args.every <= 0 or (args.seconds is not None and args.seconds <= 0):
        raise ConfigError(["--every and --seconds: must be positive"])
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda _signum, _frame: stop.set())
    try:
        return watch_demo(directory, out, stop, pg_url=args.pg, every=args.every, seconds=args.seconds)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _demo(args: argparse.Namespace, env: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from syncd.demo import run_demo
    from syncd.logs import configure_logging

    # the demo's output is its table; log events go to stderr, warnings and up only
    configure_logging(level="warning", fmt="auto", stream=err)
    directory = Path(args.dir).resolve()
    if args.watch:
        return _watch_demo(args, directory, out)
    report, settings = run_demo(directory, pg_url=args.pg)
    register_settings_secrets(settings)
    _report(report, out, err, terminal=True)
    out.write(f"\nInstance databases are in {directory}:\n")
    for inst in settings.instances:
        out.write(f"  {inst.name}: {inst.display_url}\n")
    if report.ok and not any(i.changed for i in report.instances):
        out.write("No changes: every instance was already in step with the hub.\n")
    else:
        out.write("Run `syncd demo` again: the second run finds nothing new.\n")
    return 0 if report.ok else 1
