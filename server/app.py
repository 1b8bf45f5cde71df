"""The Starlette application factory and its lifespan.

Why a factory with explicit settings: tests build apps against their own isolated schema
and key prefix; ``fairlot serve`` builds one from the environment. The lifespan connects
the stores (already started, embedded or external), migrates, and stops every actor on
the way out.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from engine.clock import Clock, SystemClock
from engine.commit import GroupCommitter
from engine.errors import EngineError
from engine.projector import Projector
from engine.registry import Registry
from server import rest, ws
from server.auth import TokenSigner
from server.config import Settings
from server.errors import ApiError, api_error_handler, engine_error_handler
from server.rooms import Rooms
from server.stores import connect


def create_app(settings: Settings, clock: Clock | None = None) -> Starlette:
    clock = clock or SystemClock()
    signer = TokenSigner.from_env(settings.data_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stores = await connect(settings)
        committer = GroupCommitter(stores.journal, linger_ms=settings.commit_linger_ms)
        committer.start()
        projector = Projector(stores.redis, stores.journal, stores.records)
        if settings.projector == "inline":
            projector.start()
        registry = Registry(stores.journal, stores.records, clock, committer=committer)
        rooms = Rooms(registry)
        registry.add_listener(rooms.publish)
        await registry.recover()
        app.state.settings = settings
        app.state.stores = stores
        app.state.registry = registry
        app.state.rooms = rooms
        app.state.clock = clock
        app.state.signer = signer
        app.state.committer = committer
        app.state.projector = projector
        try:
            yield
        finally:
            await rooms.close()
            await registry.stop()
            await committer.stop()
            await projector.stop()
            await stores.close()

    return Starlette(
        routes=[*rest.routes, WebSocketRoute("/ws", ws.endpoint)],
        lifespan=lifespan,
        exception_handlers={ApiError: api_error_handler, EngineError: engine_error_handler},
    )
