"""The whole bot: replies per second and update-to-reply latency, beside bare echo bots.

Run: `python benchmarks/bot.py` (about five minutes on 2 cores; `--replicas` runs only the
webhook part below, about three).

`otbot run` and two minimal python-telegram-bot echo bots (its default connection pool, and
a pool of 8) each run as a subprocess pinned to CPU 1, each polling its own fake Bot API
server (tests/fakebotapi.py); the servers run in this process and event loop, pinned to
CPU 0. Every time is taken here, on one clock: when an update is pushed into a fake's queue,
and when the bot's sendMessage reaches the fake.

Then the webhook: `otbot serve` as one process on SQLite, and one, two and three replicas on
one PostgreSQL (started from the test extras' wheel, or OTBOT_TEST_DATABASE_URL), each behind
the tests' Telegram-like distributor (one update per chat in flight, no duplicates here):
replies per second with every message pushed at once, and p99 push-to-reply at 30 a second.
Nothing is pinned there: the replicas, PostgreSQL and this process share both cores.
Telegram's own limits are off in every bot measured here (OTBOT_SEND_RATE=0): they would
measure Telegram's 30 a second, not the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import os
import platform
import random
import signal
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from common import EVAL, ROOT, SEED, median, percentile, revision, table, verdict

from otbot.kb import default_dir, load_knowledge
from otbot.telegram_bot import app as telegram_bot
from otbot.telegram_bot.ratelimit import BURST
from otbot.tools.evaluation import read_items

sys.path.insert(0, str(ROOT / "tests"))
from distributor import Distributor, Replica
from fakebotapi import FakeBotApi
from pgtest import fresh_database

TOKEN = "123456:BENCH-token-for-otbot-bench_0123"  # shaped like a real one: otbot checks
PARENTS = 200
ROUNDS = 2  # all-at-once rounds per bot, alternating bots
PER_PARENT = min(10, BURST)  # more at once would meet the flood limit's notice
PACE = 30.0  # messages per second in the latency phase (Telegram's limit for one bot)
PACED = 300  # messages in the latency phase: 10 s at PACE
WARM_UP_CHATS = 5
FIRST_CHAT = 500_000
BENCH_CPU, BOT_CPU = 0, 1
START_TIMEOUT = 60.0
PHASE_TIMEOUT = 120.0
SETTLE = 1.0  # seconds of quiet before a phase and after its last expected reply
TARGET_REPLIES_PER_S = 300.0
TARGET_P99_MS = 100.0
ALLOWED_UPDATES = '["message", "callback_query", "inline_query"]'  # as `otbot run` asks

CONCURRENT_UPDATES = getattr(telegram_bot, "CONCURRENT_UPDATES", 64)  # the echo bot's too
SMALL_POOL = 8  # connections of the second echo bot (python-telegram-bot's default is 256)

ECHO_BOT = f'''"""The baseline of benchmarks/bot.py: python-telegram-bot answering with the text."""

import os
import sys

from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the message's text back to its chat."""
    message = update.message
    if message is not None and message.text is not None:
        await context.bot.send_message(message.chat_id, message.text)


builder = (
    ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"])
    .base_url(os.environ["TELEGRAM_API_BASE_URL"])
    .concurrent_updates({CONCURRENT_UPDATES})  # as otbot's
)
if len(sys.argv) > 1:  # connection pool size for the Bot API calls
    builder = builder.connection_pool_size(int(sys.argv[1]))
application = builder.build()
application.add_handler(MessageHandler(filters.TEXT, echo))
application.run_polling(allowed_updates={ALLOWED_UPDATES})
'''


@dataclass(frozen=True)
class Arrival:
    """A sendMessage as it reached the fake server."""

    chat_id: int
    at: float  # time.perf_counter() when the fake's handler got it
    text: str


class TimedFakeBotApi(FakeBotApi):
    """The strict fake server, also noting when each accepted sendMessage reached it."""

    def __init__(self) -> None:
        super().__init__(token=TOKEN)
        self.arrivals: list[Arrival] = []
        self.ports: list[int] = []  # the bot's side of the connection of each sendMessage
        self._target = 0
        self._enough = asyncio.Event()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Note which connection a sendMessage came on, then answer it as the fake does."""
        if request.path.endswith("/sendMessage") and request.transport is not None:
            peer = request.transport.get_extra_info("peername")
            if peer:
                self.ports.append(peer[1])
        return await super()._handle(request)

    async def _send_message(self, params: dict[str, Any]) -> Any:
        """sendMessage, timed on arrival (before the fake's own parsing and checks)."""
        arrived = time.perf_counter()
        result = await super()._send_message(params)  # raises, unrecorded, if rejected
        self.arrivals.append(Arrival(result["chat"]["id"], arrived, str(params.get("text"))))
        if len(self.arrivals) >= self._target:
            self._enough.set()
        return result

    async def wait_for_arrivals(self, total: int, timeout: float) -> None:
        """Wait until `total` sendMessage calls have arrived since the server started."""
        self._target = total
        if len(self.arrivals) < total:
            self._enough.clear()
            try:
                await asyncio.wait_for(self._enough.wait(), timeout)
            except TimeoutError:
                raise TimeoutError(f"{len(self.arrivals)} of {total} replies within {timeout} s;"
                                   f" recent calls:\n{self.dump_calls()}") from None


def scheduled(pid: int) -> tuple[float, float]:
    """Seconds a process's threads have run so far, and waited, runnable, for a CPU."""
    ran = waited = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            fields = (task / "schedstat").read_text().split()
            ran, waited = ran + int(fields[0]), waited + int(fields[1])
    return ran / 1e9, waited / 1e9


def pinned(cpu: int | None) -> Callable[[], None] | None:
    """A preexec_fn that pins the child to one CPU (None: no pinning)."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


@dataclass
class Bot:
    """One bot under test: its command, its own fake server and, once started, its process."""

    name: str
    command: list[str]
    api: TimedFakeBotApi
    data_dir: Path
    log: Path
    process: asyncio.subprocess.Process | None = None

    async def start(self, cpu: int | None) -> None:
        """Start the process and wait until it long-polls its fake server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "OTBOT_"))}
        env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=self.api.base_url,
                   OTBOT_DATA_DIR=str(self.data_dir), PYTHONUNBUFFERED="1", OTBOT_SEND_RATE="0")
        with self.log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                *self.command, env=env, cwd=ROOT, stdin=asyncio.subprocess.DEVNULL,
                stdout=out, stderr=asyncio.subprocess.STDOUT, preexec_fn=pinned(cpu))
        polling = asyncio.ensure_future(self._polling())
        exited = asyncio.ensure_future(self.process.wait())
        await asyncio.wait({polling, exited}, timeout=START_TIMEOUT,
                           return_when=asyncio.FIRST_COMPLETED)
        exited.cancel()
        if not polling.done():
            polling.cancel()
            raise RuntimeError(f"{self.name} did not start polling:\n{self.output()}")
        polling.result()

    async def _polling(self) -> None:
        """deleteWebhook is the last call before polling; then a pending getUpdates."""
        await self.api.wait_for_call("deleteWebhook", timeout=START_TIMEOUT)
        await self.api.wait_until_polling(timeout=START_TIMEOUT)

    def output(self) -> str:
        """The end of what the process printed."""
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    @property
    def pid(self) -> int:
        """The running process's id."""
        assert self.process is not None
        return self.process.pid

    async def stop(self) -> None:
        """SIGTERM, as `docker stop` does; SIGKILL if it has not exited after 15 s."""
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 15.0)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@dataclass
class Phase:
    """What one bot did in one phase."""

    label: str
    messages: int
    seconds: float  # first push to last reply
    ran: float  # seconds the bot process ran on its CPU during the phase
    waited: float  # seconds it was runnable but its CPU ran something else
    bench_ran: float  # seconds this process (fake server, parents) ran
    connections: int  # distinct connections the bot's sendMessage calls came on
    latencies: list[float] = field(default_factory=list)  # ms, push to reply, per message
    problems: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        """Replies per second."""
        return self.messages / self.seconds

    def row(self, name: str) -> list[object]:
        """A row of the details table."""
        return [self.label, name, self.messages, f"{self.seconds:.2f}", f"{self.per_second:.0f}",
                ms(median(self.latencies)), ms(percentile(self.latencies, 0.99)),
                ms(max(self.latencies)), f"{1000 * self.ran / self.messages:.2f}",
                f"{100 * self.ran / self.seconds:.0f} %",
                f"{100 * self.waited / self.seconds:.0f} %",
                f"{100 * self.bench_ran / self.seconds:.0f} %", self.connections,
                "; ".join(self.problems) or "one each"]


DETAILS = ["phase", "method", "messages", "s", "replies/s", "p50 ms", "p99 ms", "max ms",
           "bot CPU ms/reply", "bot ran", "bot waited for CPU", "fake ran", "connections",
           "replies"]


@functools.cache
def pools() -> list[list[str]]:
    """What parents send: dev.yaml's in-scope questions, /start, dev.yaml's small talk."""
    items = read_items(EVAL / "dev.yaml")
    return [[item.q for item in items if item.in_scope], ["/start"],
            [item.q for item in items if "smalltalk" in item.expect]]


def messages_for(rng: random.Random, count: int, first: str | None = None) -> list[str]:
    """`count` realistic messages: 80 % questions, 10 % /start, 10 % small talk."""
    drawn = [rng.choice(rng.choices(pools(), weights=[8, 1, 1])[0]) for _ in range(count)]
    return [first, *drawn[1:]] if first is not None else drawn


def check(api: TimedFakeBotApi, sent: Sequence[tuple[int, float]], start: int,
          unwanted: dict[str, str]) -> tuple[list[float], list[str]]:
    """Pair each sent message with its chat's next reply; the latencies (ms) and problems."""
    replies: dict[int, list[Arrival]] = defaultdict(list)
    for arrival in api.arrivals[start:]:
        replies[arrival.chat_id].append(arrival)
    asked: dict[int, list[float]] = defaultdict(list)
    for chat, pushed in sent:
        asked[chat].append(pushed)
    problems = [f"chat {chat}: {len(replies[chat])} replies to {len(times)} messages"
                for chat, times in asked.items() if len(replies[chat]) != len(times)]
    problems += [f"reply in chat {chat}, which sent nothing" for chat in replies
                 if chat not in asked]
    for label, text in unwanted.items():
        hits = sum(a.text == text for a in api.arrivals[start:])
        if hits:
            problems.append(f"{hits} x {label}")
    latencies = [1000 * (reply.at - pushed) for chat, times in asked.items()
                 for pushed, reply in zip(times, replies[chat], strict=False)]
    return latencies, problems


Schedule = list[tuple[float, int, str]]  # (seconds after the first push, chat id, text)


async def run_phase(bot: Bot, label: str, schedule: Schedule, unwanted: dict[str, str]) -> Phase:
    """Push the schedule's messages on time, wait for every reply, then check the replies."""
    await asyncio.sleep(SETTLE)
    loop = asyncio.get_running_loop()
    start, ports = len(bot.api.arrivals), len(bot.api.ports)
    (ran, waited), bench_ran = scheduled(bot.pid), time.process_time()
    sent: list[tuple[int, float]] = []
    began, t0 = time.perf_counter(), loop.time()
    for offset, chat, text in schedule:
        if offset > loop.time() - t0:  # all-at-once schedules never yield here
            await asyncio.sleep(t0 + offset - loop.time())
        bot.api.send_text(chat, text)
        sent.append((chat, time.perf_counter()))
    await bot.api.wait_for_arrivals(start + len(sent), PHASE_TIMEOUT)
    ran_now, waited_now = scheduled(bot.pid)
    phase = Phase(label, len(sent), bot.api.arrivals[-1].at - began, ran_now - ran,
                  waited_now - waited, time.process_time() - bench_ran,
                  len(set(bot.api.ports[ports:])))
    await asyncio.sleep(SETTLE)  # any extra reply would arrive now
    phase.latencies, phase.problems = check(bot.api, sent, start, unwanted)
    return phase


def all_at_once(chats: Sequence[int]) -> Schedule:
    """Every parent's PER_PARENT messages (/start first), interleaved by parent, at once."""
    rng = random.Random(SEED)
    plans = [messages_for(rng, PER_PARENT, first="/start") for _ in chats]
    return [(0.0, chat, plan[index]) for index in range(PER_PARENT)
            for chat, plan in zip(chats, plans, strict=True)]


def paced(chats: Sequence[int]) -> Schedule:
    """PACED messages at PACE per second, one parent after the other."""
    texts = messages_for(random.Random(SEED + 1), PACED)
    return [(index / PACE, chats[index % len(chats)], text) for index, text in enumerate(texts)]


async def warm_up(bot: Bot, first_chat: int) -> None:
    """A few messages from chats of their own, so imports, caches and connections are warm."""
    texts = messages_for(random.Random(SEED + 2), 2 * WARM_UP_CHATS, first="/start")
    start = len(bot.api.arrivals)
    for index, text in enumerate(texts):
        bot.api.send_text(first_chat + index % WARM_UP_CHATS, text)
    await bot.api.wait_for_arrivals(start + len(texts), PHASE_TIMEOUT)


@contextlib.asynccontextmanager
async def running(bots: Sequence[Bot], cpu: int | None) -> AsyncIterator[None]:
    """Every bot's fake server and process up (started together); all stopped at the end."""
    async with contextlib.AsyncExitStack() as stack:
        for bot in bots:
            await stack.enter_async_context(bot.api)
        try:
            await asyncio.gather(*(bot.start(cpu) for bot in bots))
            yield
        finally:
            await asyncio.gather(*(bot.stop() for bot in bots))


def machine(pinning: str) -> str:
    """Date, code state, cores, Python, load average and CPU pinning."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{dt.datetime.now().isoformat(timespec='minutes')}; {revision()}; nproc "
            f"{os.cpu_count()}; Python {platform.python_version()} ({platform.machine()}); "
            f"load average {load}; {pinning}")


def ms(value: float) -> str:
    """Milliseconds with one decimal."""
    return f"{value:.1f}"


def ratio(theirs: float, ours: float) -> str:
    """A figure of a baseline as a multiple of ours."""
    return f"{theirs / ours:.2f}x"


def report(names: Sequence[str], rounds: dict[str, list[Phase]], steady: dict[str, Phase]
           ) -> None:
    """Print the summary, the phases and the verdicts."""
    rate = {name: median([phase.per_second for phase in rounds[name]]) for name in names}
    p50 = {name: median(steady[name].latencies) for name in names}
    p99 = {name: percentile(steady[name].latencies, 0.99) for name in names}
    ours = names[0]
    print(f"\n## The bot end to end ({PARENTS} parents)\n")
    print(table(["method", "replies/s", f"p50 ms at {PACE:.0f}/s", f"p99 ms at {PACE:.0f}/s",
                 "replies/s vs ours", "p99 vs ours"],
                [[name, f"{rate[name]:.0f}", ms(p50[name]), ms(p99[name]),
                  ratio(rate[name], rate[ours]), ratio(p99[name], p99[ours])] for name in names]))
    print(f"\nreplies/s: median of {ROUNDS} rounds of {PARENTS} x {PER_PARENT} messages pushed "
          f"at once, first push to last reply. p50 / p99: {PACED} messages at {PACE:.0f}/s, from "
          "the update's push into the fake's queue to the bot's sendMessage reaching the fake "
          "(nearest-rank p99).")
    rows = [phase.row(name) for name in names for phase in [*rounds[name], steady[name]]]
    print(f"\n## Phases (bots pinned to CPU {BOT_CPU}; fake servers and parents to CPU "
          f"{BENCH_CPU})\n")
    print(table(DETAILS, rows))
    print("\nIn the all-at-once rounds p50 / p99 are mostly queueing behind the other 1,999. "
          "bot ran / waited for CPU: time on its CPU / runnable while its CPU ran another "
          "process, over the phase's wall time; fake ran: the same for this process; "
          "connections: distinct TCP connections the bot's sendMessage calls came on.")
    problems = [problem for phase in [*rounds[ours], steady[ours]] for problem in phase.problems]
    targets = [
        ["replies per second, one core", f">= {TARGET_REPLIES_PER_S:.0f}", f"{rate[ours]:.0f}",
         verdict(rate[ours] >= TARGET_REPLIES_PER_S)],
        [f"p99 push-to-reply at {PACE:.0f} messages/s", f"<= {TARGET_P99_MS:.0f} ms",
         f"{p99[ours]:.1f} ms", verdict(p99[ours] <= TARGET_P99_MS)],
        ["every message answered once, no notice or error", "all", "all" if not problems
         else "; ".join(problems)[:80], verdict(not problems)],
    ]
    print("\n## Targets\n")
    print(table(["target", "bar", "measured", "verdict"], targets))


async def bench(folder: Path) -> None:
    """Start both bots, warm them up, run the phases, alternating bots, and report."""
    cpus = os.sched_getaffinity(0)
    pin = {BENCH_CPU, BOT_CPU} <= cpus
    if pin:
        os.sched_setaffinity(0, {BENCH_CPU})
    print(f"# otbot bot benchmark\n\n{machine('pinned' if pin else 'NOT pinned')}")
    echo = folder / "echo_bot.py"
    echo.write_text(ECHO_BOT)
    bots = [Bot(name, command, TimedFakeBotApi(), folder / f"data-{n}", folder / f"log-{n}.txt")
            for n, (name, command) in enumerate([
                ("otbot run", [sys.executable, "-m", "otbot", "run"]),
                ("baseline: PTB echo bot", [sys.executable, str(echo)]),
                (f"baseline: PTB echo bot, {SMALL_POOL} connections",
                 [sys.executable, str(echo), str(SMALL_POOL)])])]
    for bot in bots:
        bot.data_dir.mkdir()
    kb = load_knowledge(default_dir())
    unwanted = {"rate-limit notice": kb.message("rate_limited"),
                "error message": kb.message("error")}
    parents = [[FIRST_CHAT + PARENTS * r + n for n in range(PARENTS)] for r in range(ROUNDS)]
    rounds: dict[str, list[Phase]] = {bot.name: [] for bot in bots}
    steady: dict[str, Phase] = {}
    async with running(bots, BOT_CPU if pin else None):
        for bot in bots:
            await warm_up(bot, FIRST_CHAT - 1_000)
        for number, chats in enumerate(parents, 1):  # new parents: each has a full burst
            for bot in bots:
                rounds[bot.name].append(await run_phase(
                    bot, f"at once, round {number}", all_at_once(chats), unwanted))
        for bot in bots:  # round 1's parents, whose flood limit has refilled since
            steady[bot.name] = await run_phase(bot, f"{PACE:.0f}/s", paced(parents[0]), unwanted)
    report([bot.name for bot in bots], rounds, steady)


async def webhook_phase(api: TimedFakeBotApi, label: str, schedule: Schedule,
                        unwanted: dict[str, str]) -> Phase:
    """Push the schedule's messages on time (the distributor posts them), check the replies."""
    await asyncio.sleep(SETTLE)
    loop = asyncio.get_running_loop()
    start = len(api.arrivals)
    sent: list[tuple[int, float]] = []
    began, t0 = time.perf_counter(), loop.time()
    for offset, chat, text in schedule:
        if offset > loop.time() - t0:
            await asyncio.sleep(t0 + offset - loop.time())
        api.send_text(chat, text)
        sent.append((chat, time.perf_counter()))
    await api.wait_for_arrivals(start + len(sent), PHASE_TIMEOUT)
    phase = Phase(label, len(sent), api.arrivals[-1].at - began, 0.0, 0.0, 0.0, 0)
    await asyncio.sleep(SETTLE)
    phase.latencies, phase.problems = check(api, sent, start, unwanted)
    return phase


async def bench_replicas(folder: Path) -> None:
    """One serve process on SQLite, then 1, 2 and 3 replicas on PostgreSQL, in one run."""
    kb = load_knowledge(default_dir())
    unwanted = {"rate-limit notice": kb.message("rate_limited"),
                "error message": kb.message("error")}
    setups = [("1 process, SQLite", 1, False), ("1 replica, PostgreSQL", 1, True),
              ("2 replicas, PostgreSQL", 2, True), ("3 replicas, PostgreSQL", 3, True)]
    rows = []
    for number, (name, count, postgres) in enumerate(setups):
        env = {"OTBOT_SEND_RATE": "0"}
        if postgres:
            env["OTBOT_DATABASE_URL"] = fresh_database()
        async with TimedFakeBotApi() as api:
            replicas = [Replica(api, folder / f"serve-{number}-{n}", **env) for n in range(count)]
            await asyncio.gather(*(replica.start() for replica in replicas))
            try:
                async with Distributor(api, replicas, duplicates=0, timeout=60):
                    first = FIRST_CHAT + 10_000 * (number + 1)
                    texts = messages_for(random.Random(SEED + 2), 2 * WARM_UP_CHATS, "/start")
                    for index, text in enumerate(texts):
                        api.send_text(first - 1_000 + index % WARM_UP_CHATS, text)
                    await api.wait_for_arrivals(len(texts), PHASE_TIMEOUT)
                    chats = [first + n for n in range(PARENTS)]
                    burst = await webhook_phase(api, "at once", all_at_once(chats), unwanted)
                    others = [first + PARENTS + n for n in range(PARENTS)]  # full flood budgets
                    steady = await webhook_phase(api, f"{PACE:.0f}/s", paced(others), unwanted)
            finally:
                await asyncio.gather(*(replica.stop() for replica in replicas))
        problems = "; ".join(burst.problems + steady.problems)[:100] or "one each"
        rows.append([name, f"{burst.per_second:.0f}", ms(median(steady.latencies)),
                     ms(percentile(steady.latencies, 0.99)), problems])
        print(f"{name}: {burst.seconds:.1f} s at once, {steady.seconds:.1f} s paced",
              file=sys.stderr)
    print(f"\n## The webhook: one process and replicas ({PARENTS} parents, nothing pinned)\n")
    print(table(["setup", "replies/s", f"p50 ms at {PACE:.0f}/s", f"p99 ms at {PACE:.0f}/s",
                 "replies"], rows))
    print(f"\nreplies/s: {PARENTS} x {PER_PARENT} messages pushed at once, delivered like "
          "Telegram's webhook (one update per chat in flight), first push to last reply. "
          f"p50 / p99: {PACED} messages at {PACE:.0f}/s, push to sendMessage.")


def main() -> None:
    """Run the benchmark in a temporary folder (the bots' databases, logs, the echo bot)."""
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="otbot-bench-") as folder:
        if "--replicas" not in sys.argv[1:]:
            asyncio.run(bench(Path(folder)))
        else:
            print(f"# otbot bot benchmark (webhook part)\n\n{machine('not pinned')}")
        asyncio.run(bench_replicas(Path(folder)))
    print(f"\n{time.perf_counter() - began:.0f} s in all")


if __name__ == "__main__":
    main()
