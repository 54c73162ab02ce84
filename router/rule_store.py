"""Versioned rule sets in Redis, and a watcher that keeps every router process on the newest.

Every publication is validated first, then stored as a new version (1, 2, 3 ...); all versions
are kept and the newest is the live one (rolling back is publishing an old text again). Each
router process runs a `RuleWatcher`: a pub/sub message announces a new version at once, and a
version check every `POLL_INTERVAL_S` makes a missed message (a reconnect, a subscriber that
was busy) cost at most that long.

Keys, for tenant `acme` (the same `tr:{tenant}:` prefix and hash tag as `queues/keys.py`, so a
tenant's rules share its Cluster slot and one MULTI covers them)::

    tr:{acme}:rules:latest          STRING  number of the newest (live) version; absent: none
    tr:{acme}:rules:v:<n>           HASH    text, fmt, author, published_at, sha256
    tr:{acme}:rules:published       CHANNEL pub/sub: the number of each new version
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import redis
import redis.asyncio

from queues.execution import redis_errors, text
from queues.keys import DEFAULT_TENANT, Keys
from router.config_document import (
    ConfigDocument,
    ConfigFormat,
    ConfigProblem,
    InvalidConfig,
    parse_format,
)
from router.errors import NotFound, Unavailable
from router.outage_log import OutageLog
from router.rules import RuleSet

logger = logging.getLogger(__name__)

LATEST_KEY = "rules:latest"
"""After the tenant prefix: the newest version number."""

VERSION_KEY_PREFIX = "rules:v:"
"""After the tenant prefix, followed by the version number: one stored version (a hash)."""

PUBLISHED_CHANNEL = "rules:published"
"""After the tenant prefix: pub/sub channel announcing each new version number."""

POLL_INTERVAL_S = 0.5
"""How often a watcher checks the version number, in case a pub/sub message was missed."""

STOP_CHECK_S = 0.2
"""Longest a watcher listens without checking whether it was asked to stop."""

PUBLISH_ATTEMPTS = 20
"""Optimistic-transaction retries when many processes publish at once."""

DocumentValidator = Callable[[ConfigDocument], object]
"""Checks a section of the document (e.g. `sla_policy`); raises InvalidConfig to refuse it."""


@dataclass(frozen=True, slots=True)
class RuleVersionInfo:
    """What is known about one stored version, without its text.

    Attributes:
        version: 1, 2, 3 ... in publication order.
        fmt: `yaml` or `toml`.
        author: who published it.
        published_at: seconds since the epoch (Redis server clock).
        sha256: hex digest of the text, to compare versions and detect tampering.
    """

    version: int
    fmt: ConfigFormat
    author: str
    published_at: float
    sha256: str


@dataclass(frozen=True, slots=True)
class StoredRuleSet(RuleVersionInfo):
    """One stored version with its text."""

    text: str


def checksum(text: str) -> str:
    """The sha256 hex digest stored with a rule-set text."""
    return hashlib.sha256(text.encode()).hexdigest()


class RuleStore:
    """Validated, versioned rule sets of one tenant in Redis.

    Args:
        client: an asyncio Redis client (bytes or decoded responses).
        tenant: whose rules; the hash tag of the keys.
        known_queues: when given, rules may only route to these queues.
        validators: further checks of the whole document run at every publication (e.g. the
            SLA and escalation policy parsers); each raises InvalidConfig to refuse it.
    """

    def __init__(
        self,
        client: redis.asyncio.Redis,
        *,
        tenant: str = DEFAULT_TENANT,
        known_queues: Iterable[str] | None = None,
        validators: Sequence[DocumentValidator] = (),
    ) -> None:
        self.client = client
        prefix = Keys(tenant).prefix
        self.latest_key = prefix + LATEST_KEY
        self.channel = prefix + PUBLISHED_CHANNEL
        self._version_key_prefix = prefix + VERSION_KEY_PREFIX
        self.known_queues = None if known_queues is None else frozenset(known_queues)
        self.validators = tuple(validators)

    def version_key(self, version: int) -> str:
        """Key of one stored version."""
        return f"{self._version_key_prefix}{version}"

    def validate(
        self, text: str, fmt: str, *, version: int | None = None,
        known_queues: Iterable[str] | None = None,
    ) -> RuleSet:
        """Parse and check a rule-set text the way `publish` does, without storing it.

        `known_queues` (else the store's own) are the queues that exist: any other queue the
        text names must be declared in its `queues:` list.

        Returns:
            The compiled rule set.

        Raises:
            InvalidConfig: every problem of the rules and of the validated sections, by line.
            InvalidArgument: unknown format.
        """
        document = ConfigDocument.parse(text, fmt)
        problems: list[ConfigProblem] = []
        rule_set = None
        try:
            rule_set = RuleSet.from_document(
                document, version=version,
                known_queues=self.known_queues if known_queues is None else known_queues,
            )
        except InvalidConfig as error:
            problems.extend(error.problems)
        for validator in self.validators:
            try:
                validator(document)
            except InvalidConfig as error:
                problems.extend(error.problems)
        if problems or rule_set is None:
            problems.sort(key=lambda problem: problem.line or 0)
            raise InvalidConfig(problems, what="rule set")
        return rule_set

    async def publish(self, text: str, fmt: str, author: str) -> StoredRuleSet:
        """Validate `text` and store it as the new live version; tell every watcher.

        Args:
            text: the rule set (YAML or TOML).
            fmt: `yaml` or `toml`.
            author: who publishes it (recorded with the version).

        Returns:
            The stored version.

        Raises:
            InvalidConfig: the text has mistakes; nothing is stored.
            Unavailable: Redis cannot be reached.
        """
        normal = parse_format(fmt)
        self.validate(text, normal)
        digest = checksum(text)
        with redis_errors():
            for _ in range(PUBLISH_ATTEMPTS):
                try:
                    stored = await self._store(text, normal, author, digest)
                except redis.WatchError:
                    continue  # another process published meanwhile: take the next number
                await self.client.publish(self.channel, stored.version)
                logger.info("published rule set version %d by %s", stored.version, author)
                return stored
        raise Unavailable("too many rule sets published at once; retry the publication")

    async def _store(self, text: str, fmt: ConfigFormat, author: str, digest: str) -> StoredRuleSet:
        async with self.client.pipeline(transaction=True) as pipe:
            await pipe.watch(self.latest_key)
            latest = await pipe.get(self.latest_key)
            version = int(latest) + 1 if latest is not None else 1
            seconds, micros = await pipe.time()
            published_at = int(seconds) + int(micros) / 1e6
            pipe.multi()
            pipe.hset(
                self.version_key(version),
                mapping={
                    "text": text,
                    "fmt": fmt,
                    "author": author,
                    "published_at": repr(published_at),
                    "sha256": digest,
                },
            )
            pipe.set(self.latest_key, version)
            await pipe.execute()
        return StoredRuleSet(version, fmt, author, published_at, digest, text)

    async def latest_version(self) -> int:
        """Number of the newest version; 0 when none was published.

        Raises:
            Unavailable: Redis cannot be reached.
        """
        with redis_errors():
            latest = await self.client.get(self.latest_key)
        return int(latest) if latest is not None else 0

    async def get(self, version: int | None = None) -> StoredRuleSet:
        """One stored version, the newest by default.

        Raises:
            NotFound: no such version (or none published yet).
            Unavailable: Redis cannot be reached.
        """
        if version is None:
            version = await self.latest_version()
            if version == 0:
                raise NotFound("no rule set has been published yet; publish one first")
        with redis_errors():
            fields = await self.client.hgetall(self.version_key(version))
        if not fields:
            latest = await self.latest_version()
            raise NotFound(f"rule set version {version} does not exist; the versions published "
                           f"are 1 to {latest}" if latest else
                           f"rule set version {version} does not exist; none is published yet")
        values = {text(key): text(value) for key, value in fields.items()}
        return StoredRuleSet(
            version=version,
            fmt=parse_format(values["fmt"]),
            author=values["author"],
            published_at=float(values["published_at"]),
            sha256=values["sha256"],
            text=values["text"],
        )

    async def load(self, version: int | None = None) -> RuleSet:
        """A stored version compiled, with its version number set (the newest by default).

        Raises:
            NotFound: no such version.
            InvalidConfig: the stored text no longer validates (e.g. a queue list changed).
            Unavailable: Redis cannot be reached.
        """
        stored = await self.get(version)
        return self.validate(stored.text, stored.fmt, version=stored.version)

    async def list_versions(self) -> list[RuleVersionInfo]:
        """Every stored version, oldest first, without texts.

        Raises:
            Unavailable: Redis cannot be reached.
        """
        latest = await self.latest_version()
        names = ("fmt", "author", "published_at", "sha256")
        with redis_errors():
            async with self.client.pipeline(transaction=False) as pipe:
                for version in range(1, latest + 1):
                    pipe.hmget(self.version_key(version), names)
                replies = await pipe.execute()
        infos = []
        for version, reply in enumerate(replies, start=1):
            if reply[0] is None:
                continue  # deleted by hand; the others stay listed
            fmt, author, published_at, digest = (text(value) for value in reply)
            infos.append(
                RuleVersionInfo(version, parse_format(fmt), author, float(published_at), digest)
            )
        return infos


class RuleWatcher:
    """Keeps the newest valid rule set of a store in this process.

    `current` is replaced in one assignment, so a `decide` in flight keeps the rule set it
    started with. A stored version this process cannot compile is logged and skipped; the
    previous one stays live.

    Args:
        store: where the versions are.
        on_change: called with each newly loaded rule set.
        poll_interval_s: how often to check the version number besides pub/sub.
    """

    def __init__(
        self,
        store: RuleStore,
        *,
        on_change: Callable[[RuleSet], object] | None = None,
        poll_interval_s: float = POLL_INTERVAL_S,
    ) -> None:
        self.store = store
        self.on_change = on_change
        self.poll_interval_s = poll_interval_s
        self.current: RuleSet | None = None
        self.version = 0
        """Version of `current` (0: none yet)."""
        self._skipped = 0  # newest version that failed to compile here, so it is not retried
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._outage = OutageLog(logger, "rule watcher")
        self._refreshing = asyncio.Lock()
        self._changed = asyncio.Condition()

    async def start(self) -> None:
        """Load the newest version now, then follow new ones in the background.

        Raises:
            Unavailable: Redis cannot be reached at start.
        """
        await self.refresh()
        self._stopping.clear()
        self._task = asyncio.create_task(self._follow(), name="rule-watcher")

    async def stop(self) -> None:
        """Stop following new versions (within `STOP_CHECK_S`)."""
        if self._task is None:
            return
        # Ask rather than cancel: redis-py can swallow a cancellation that lands while
        # `get_message` times out, leaving the task reading forever.
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_CHECK_S * 20)
        except TimeoutError:
            self._task.cancel()
        self._task = None

    async def refresh(self) -> bool:
        """Load the newest version if it is newer than `current`.

        Returns:
            Whether a new rule set became current.

        Raises:
            Unavailable: Redis cannot be reached.
        """
        # One refresh at a time: the background task and a caller (e.g. right after its own
        # publication) may both refresh, and a slower load must not replace a newer one.
        async with self._refreshing:
            latest = await self.store.latest_version()
            if latest <= self.version or latest == self._skipped:
                return False
            try:
                rule_set = await self.store.load(latest)
            except (InvalidConfig, NotFound) as error:
                logger.error(
                    "rule set version %d not loaded, keeping %d: %s", latest, self.version, error
                )
                self._skipped = latest
                return False
            self.current, self.version = rule_set, latest
        logger.info("rule set version %d is live", latest)
        if self.on_change is not None:
            self.on_change(rule_set)
        async with self._changed:
            self._changed.notify_all()
        return True

    async def wait_for_version(self, version: int, timeout_s: float) -> RuleSet:
        """Wait until version `version` (or a newer one) is current.

        Raises:
            TimeoutError: it did not arrive within `timeout_s`.
        """
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(lambda: self.version >= version)
        assert self.current is not None
        return self.current

    async def _follow(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._listen()
            except (Unavailable, redis.RedisError, OSError) as error:
                self._outage.failed(error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.poll_interval_s)

    async def _listen(self) -> None:
        pubsub = self.store.client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.store.channel)
            # Check after subscribing: a version published before the subscription is not lost.
            await self.refresh()
            self._outage.recovered()
            next_poll = time.monotonic() + self.poll_interval_s
            while not self._stopping.is_set():
                wait = min(STOP_CHECK_S, max(0.0, next_poll - time.monotonic()))
                message = await pubsub.get_message(timeout=wait)
                if message is None and time.monotonic() < next_poll:
                    continue
                # A message, or the poll is due. Either way the version number decides, so a
                # lost or repeated message is harmless.
                next_poll = time.monotonic() + self.poll_interval_s
                await self.refresh()
        finally:
            with contextlib.suppress(redis.RedisError, OSError):
                await pubsub.aclose()
