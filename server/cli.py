"""The ``fairlot`` command: serve, verify, verify-transcript.

Why the stores are started here and not in the app's lifespan: they are child processes
of this command, started before the server listens and stopped after it has drained, on
every way out (Ctrl-C, SIGTERM, an error), so nothing is ever left running.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.config import Settings


def start_projector(settings: Settings) -> subprocess.Popen[bytes]:
    """The Postgres projector as a child process: it follows the journal on the other
    core, so acks never wait on it; it dies with us (PR_SET_PDEATHSIG)."""
    from engine.embedded import _die_with_parent

    env = dict(os.environ)
    env.update(
        REDIS_URL=settings.redis_url or "",
        DATABASE_URL=settings.database_url or "",
        FAIRLOT_REDIS_PREFIX=settings.redis_prefix,
        FAIRLOT_PG_SCHEMA=settings.pg_schema,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "engine.projector"],
        env=env,
        stdin=subprocess.DEVNULL,
        preexec_fn=lambda: _die_with_parent(signal.SIGTERM),
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app
    from server.config import from_env
    from server.stores import start_embedded

    settings = from_env().with_overrides(host=args.host, port=args.port, data_dir=args.data_dir)
    # The demo (seeded rooms, sign-in with any name) is on by default only on loopback.
    loopback = settings.host in ("127.0.0.1", "localhost", "::1")
    settings = settings.with_overrides(demo=args.demo if args.demo is not None else settings.demo or loopback)
    # Long-lived actors hold many small objects; collect the young generation less often.
    gc.set_threshold(50_000, 20, 20)
    # SIGTERM (Procfile platforms, `kill`) takes the same clean path as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    started = None
    projector: subprocess.Popen[bytes] | None = None
    try:
        if settings.embedded:
            print(f"fairlot: starting embedded stores under {settings.data_dir.resolve()}", flush=True)
        settings, started = start_embedded(settings)
        redis_kind = "embedded" if started.redis else "external"
        pg_kind = "embedded" if started.postgres else "external"
        print(f"fairlot: redis    {redis_kind:8} {settings.redis_url}", flush=True)
        print(f"fairlot: postgres {pg_kind:8} {settings.database_url}", flush=True)
        projector = start_projector(settings)
        print(f"fairlot: projector to Postgres in child process {projector.pid}", flush=True)
        settings = settings.with_overrides(projector="process")
        print(f"fairlot: listening on http://{settings.host}:{settings.port} (WebSocket /ws)", flush=True)
        config = uvicorn.Config(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            loop="uvloop",
            http="httptools",
            ws="websockets-sansio",
            lifespan="on",
            log_level="warning",
            ws_max_size=64 * 1024,
            # Compression would cost a deflate per message per viewer and defeat the
            # encode-once fan-out; frames here are small.
            ws_per_message_deflate=False,
        )
        server = uvicorn.Server(config)
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if projector is not None:
            projector.send_signal(signal.SIGTERM)
            try:
                projector.wait(10)
            except subprocess.TimeoutExpired:
                projector.kill()
                projector.wait(5)
        if started is not None:
            started.stop()
            print("fairlot: stopped embedded stores", flush=True)
    return 0


def _verify_transcript(args: argparse.Namespace) -> int:
    from server import transcript_cmd

    return transcript_cmd.run(args.rest)


def _verify(args: argparse.Namespace) -> int:
    from server import verify_cmd

    return verify_cmd.run(args.rest)


def _token(args: argparse.Namespace) -> int:
    import time

    from server.auth import TokenSigner
    from server.config import from_env

    settings = from_env().with_overrides(data_dir=args.data_dir)
    signer = TokenSigner.from_env(settings.data_dir)
    expires = time.time_ns() // 1_000_000 + args.ttl * 1000
    print(signer.mint(args.user, args.role, expires))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fairlot", description="Real-time auctions and provably-fair draws")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP + WebSocket server")
    serve.add_argument("--host", default=None, help="bind address (default 127.0.0.1, or $HOST)")
    serve.add_argument("--port", type=int, default=None, help="port (default 8000, or $PORT)")
    serve.add_argument(
        "--data-dir", type=Path, default=None, help="embedded stores' folder (default ./.fairlot)"
    )
    serve.add_argument(
        "--demo",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="seed demo pages and allow demo sign-in (default: on when bound to loopback)",
    )
    serve.set_defaults(func=_serve)
    token = sub.add_parser("token", help="mint a development bearer token")
    token.add_argument("user", help="user id")
    token.add_argument("--role", default="bidder", choices=["viewer", "bidder", "host", "admin"])
    token.add_argument("--ttl", type=int, default=86_400, help="seconds until it expires")
    token.add_argument("--data-dir", type=Path, default=None, help="where the dev secret lives")
    token.set_defaults(func=_token)
    verify = sub.add_parser("verify", help="verify a draw certificate offline", add_help=False)
    verify.add_argument("rest", nargs=argparse.REMAINDER)
    verify.set_defaults(func=_verify)
    transcript = sub.add_parser(
        "verify-transcript", help="verify an auction transcript offline", add_help=False
    )
    transcript.add_argument("rest", nargs=argparse.REMAINDER)
    transcript.set_defaults(func=_verify_transcript)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "verify":  # the verifier owns its own options, --help included
        from server import verify_cmd

        return verify_cmd.run(argv[1:])
    if argv and argv[0] == "verify-transcript":
        from server import transcript_cmd

        return transcript_cmd.run(argv[1:])
    args = build_parser().parse_args(argv)
    from server.config import ConfigError

    try:
        return int(args.func(args))
    except ConfigError as exc:  # a bad variable: say which, before anything starts
        print(f"fairlot: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
