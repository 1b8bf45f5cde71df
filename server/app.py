"""The Starlette application factory and its lifespan.

Why a factory with explicit settings: tests build apps against their own isolated schema
and key prefix; ``fairlot serve`` builds one from the environment. The lifespan connects
the stores (already started, embedded or external), migrates, and stops every actor on
the way out.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import WebSocketRoute

from engine.clock import Clock, SystemClock
from engine.commit import GroupCommitter
from engine.errors import EngineError
from engine.projector import Projector
from engine.registry import Registry
from server import openapi, pages, rest, ws
from server.asgi import App
from server.auth import TokenSigner
from server.config import Settings
from server.errors import ApiError, api_error_handler, engine_error_handler
from server.metrics import Metrics
from server.ratelimit import RateLimiter
from server.rooms import Rooms
from server.stores import connect
from server.transport import RawSendMiddleware
from server.waiting_room import WaitingRooms
from server.webhooks import Webhooks, WebhookStore


def create_app(settings: Settings, clock: Clock | None = None) -> App:
    clock = clock or SystemClock()
    signer = TokenSigner.from_env(settings.data_dir)
    metrics = Metrics()
    limiter = RateLimiter(
        settings.rate_user_per_s, settings.rate_user_burst, settings.rate_ip_per_s, settings.rate_ip_burst
    )
    connections: set[ws.Connection] = set()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stores = await connect(settings)
        committer = GroupCommitter(stores.journal, linger_ms=settings.commit_linger_ms)
        committer.start()
        projector = Projector(stores.redis, stores.journal, stores.records)
        if settings.projector == "inline":
            projector.start()
        registry = Registry(stores.journal, stores.records, clock, committer=committer)
        rooms = Rooms(registry, resume_max_events=settings.resume_max_events, metrics=metrics)
        registry.add_listener(rooms.publish)
        waiting = WaitingRooms(
            registry, clock, batch=settings.waiting_batch, interval_ms=settings.waiting_interval_ms
        )
        registry.add_listener(waiting.on_events)
        webhooks = Webhooks(
            WebhookStore(stores.pool),
            attempts=settings.webhook_attempts,
            backoff_ms=settings.webhook_backoff_ms,
            registry=registry,
        )
        registry.add_listener(webhooks.on_events)
        await webhooks.load()  # before recovery: its timers may close an auction at once
        await registry.recover()
        metrics.gauge("fairlot_ws_connections", "Open WebSocket connections.", lambda: len(connections))
        metrics.gauge("fairlot_room_viewers", "Live room members, all rooms.", rooms.viewers)
        metrics.gauge("fairlot_rooms", "Rooms with members.", lambda: len(rooms.statistics()))
        metrics.gauge(
            "fairlot_send_queue_frames",
            "Frames queued in all connections' send queues.",
            lambda: sum(c.session.statistics().queued_frames for c in connections),
        )
        metrics.gauge(
            "fairlot_send_queue_frames_max",
            "Deepest connection send queue (frames).",
            lambda: max((c.session.statistics().queued_frames for c in connections), default=0),
        )
        metrics.gauge(
            "fairlot_actor_mailbox_depth",
            "Commands waiting in all actors' mailboxes.",
            lambda: sum(a.statistics().mailbox_depth for a in registry.actors()),
        )
        metrics.gauge("fairlot_actors", "Live auction actors.", lambda: len(registry.actors()))
        metrics.gauge(
            "fairlot_rate_limit_refusals", "Commands refused by rate limits.", lambda: limiter.refused
        )
        metrics.gauge("fairlot_webhook_pending", "Webhook deliveries in progress.", webhooks.pending)
        app.state.settings = settings
        app.state.stores = stores
        app.state.registry = registry
        app.state.rooms = rooms
        app.state.clock = clock
        app.state.signer = signer
        app.state.committer = committer
        app.state.projector = projector
        app.state.waiting = waiting
        app.state.webhooks = webhooks
        waiting.start()
        # Start-up objects (modules, recovered actors) never die: keep them out of the
        # collector's full passes, which otherwise stall fan-out for tens of ms.
        gc.collect()
        gc.freeze()
        if settings.demo:
            await pages.seed_demo(app)
        try:
            yield
        finally:
            await waiting.stop()
            await rooms.close()
            await webhooks.stop()
            await registry.stop()
            await committer.stop()
            await projector.stop()
            await stores.close()

    from server import webhooks as webhook_routes

    app = App(
        routes=[
            *rest.routes,
            *webhook_routes.routes,
            *openapi.routes,
            WebSocketRoute("/ws", ws.endpoint),
            *pages.routes,
        ],
        middleware=[Middleware(RawSendMiddleware)],
        lifespan=lifespan,
        exception_handlers={ApiError: api_error_handler, EngineError: engine_error_handler},
    )
    # Available before the lifespan runs (tests and the OpenAPI route read them).
    app.state.settings = settings
    app.state.clock = clock
    app.state.signer = signer
    app.state.metrics = metrics
    app.state.limiter = limiter
    app.state.connections = connections
    return app
