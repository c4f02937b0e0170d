"""The `otbot` command line: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otbot.config import data_folder, knowledge_folder
from otbot.effects import MissKind
from otbot.kb import KnowledgeBase, KnowledgeError, LinearModel, load_knowledge
from otbot.kb.yamlfile import YamlError

if TYPE_CHECKING:
    from otbot.understanding.matcher import Matcher

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _folder(args: argparse.Namespace) -> Path:
    """The knowledge folder the command uses, said on stderr so an edit's fate is never a guess."""
    folder = knowledge_folder(args.knowledge)
    print(f"otbot: knowledge folder {folder}", file=sys.stderr)
    return folder


def _load(args: argparse.Namespace, folder: Path | None = None) -> KnowledgeBase:
    """The knowledge base named by --knowledge / OTBOT_KNOWLEDGE_DIR, or exit with its errors.

    `folder`: already chosen (and said) by the command.
    """
    folder = folder or _folder(args)
    try:
        return load_knowledge(folder)
    except KnowledgeError as error:
        print(f"otbot: the knowledge folder {folder} has errors; nothing was loaded:",
              file=sys.stderr)
        for problem in error.problems:
            print(problem, file=sys.stderr)
        raise SystemExit(EXIT_PROBLEMS) from None


def cmd_ask(args: argparse.Namespace) -> int:
    """Print the decision for one message."""
    from otbot.tools.report import describe_decision, reason
    from otbot.understanding.matcher import Matcher

    kb = _load(args)
    decision = Matcher(kb).decide(args.text)
    if args.json:
        print(json.dumps({
            "kind": decision.kind, "topic": decision.topic,
            "candidates": [c.topic for c in decision.candidates],
            "score": round(decision.score, 4), "detail": decision.detail,
            "urgent": list(decision.urgent), "soon": list(decision.soon),
            "language": decision.language, "reason": reason(decision),
        }))
    else:
        print(describe_decision(kb, decision))
    return EXIT_OK


def _eval_safety(matcher: Matcher, path: Path, as_json: bool) -> int:
    """A safety set: recall, false alarms, crisis lines and advice; non-zero below the bars."""
    from otbot.tools.safety import (
        BARS,
        evaluate_safety,
        missed_by_kind,
        read_safety,
        safety_metrics,
        safety_text,
    )

    outcomes = evaluate_safety(matcher, read_safety(path))
    metrics = safety_metrics(outcomes)
    if as_json:
        print(json.dumps({"metrics": metrics, "by_kind": missed_by_kind(outcomes)}, indent=1))
    else:
        print(safety_text(outcomes))
    below = [name for name, bar in BARS.items()
             if (metrics[name] > bar if name == "false_alarms" else metrics[name] < bar)]
    for name in below:
        print(f"otbot eval: {name} {metrics[name]} misses its bar {BARS[name]}", file=sys.stderr)
    return EXIT_PROBLEMS if below else EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    """Measure the matcher on a labelled file."""
    from otbot.tools.evaluation import (
        GATES,
        evaluate,
        failed_gates,
        read_items,
        read_thresholds,
        sweep,
        unknown_expectations,
    )
    from otbot.tools.report import eval_json, eval_text
    from otbot.tools.safety import is_safety_file
    from otbot.understanding.matcher import Matcher

    kb = _load(args)
    try:
        if is_safety_file(Path(args.file)):
            return _eval_safety(Matcher(kb), Path(args.file), args.json)
        items = read_items(Path(args.file))
        bars = read_thresholds(Path(args.thresholds)) if args.thresholds else {}
    except YamlError as error:
        print(f"otbot: {error}", file=sys.stderr)
        return EXIT_USAGE
    bars.update({key: getattr(args, key) for key in GATES if getattr(args, key) is not None})
    unknown = unknown_expectations(items, kb, Path(args.file))
    if unknown:
        for problem in unknown:
            print(problem, file=sys.stderr)
        return EXIT_PROBLEMS
    matcher = Matcher(kb)
    report = evaluate(matcher, items)
    if args.json:
        print(json.dumps(eval_json(report), indent=1))
    else:
        print(eval_text(report, [] if args.no_sweep else sweep(matcher, report)))
    failures = failed_gates(report.metrics, bars)
    for failure in failures:
        print(f"otbot eval: {failure}", file=sys.stderr)
    if bars and not failures:
        print(f"otbot eval: all {len(bars)} bar(s) met", file=sys.stderr)
    return EXIT_PROBLEMS if failures else EXIT_OK


def cmd_chat(args: argparse.Namespace) -> int:
    """Talk to the bot in the terminal, no token or network needed."""
    from otbot.dialog.conversation import Conversation
    from otbot.terminal.chat import run_chat

    run_chat(Conversation(_load(args)), sys.stdin, sys.stdout, interactive=sys.stdin.isatty())
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Run the Telegram bot."""
    from otbot.config import ConfigError, from_env, setup_logging

    try:
        config = from_env()
    except ConfigError as error:
        print(f"otbot run: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.knowledge:
        config = dataclasses.replace(config, knowledge_dir=args.knowledge)
    _load(args)  # a broken knowledge folder is reported before anything connects
    setup_logging(config)
    from telegram.error import InvalidToken

    from otbot.telegram_bot.app import run

    try:
        run(config, args.webhook, args.listen, args.port, args.metrics_port)
    except InvalidToken:
        print("otbot run: Telegram rejected TELEGRAM_BOT_TOKEN (revoked, or mistyped?). "
              "Check it with @BotFather.", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _bot_config(command: str, args: argparse.Namespace) -> Any:
    """The bot's settings from the environment, or None after saying what is wrong."""
    from otbot.config import ConfigError, from_env

    try:
        config = from_env()
    except ConfigError as error:
        print(f"otbot {command}: {error}", file=sys.stderr)
        return None
    if getattr(args, "knowledge", None):
        config = dataclasses.replace(config, knowledge_dir=args.knowledge)
    return config


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve webhook updates (one replica of many); never sets the webhook."""
    config = _bot_config("serve", args)
    if config is None:
        return EXIT_USAGE
    if not config.webhook_secret:
        print("otbot serve: TELEGRAM_WEBHOOK_SECRET is not set. Choose one (e.g. "
              "`openssl rand -hex 32`), give the same to every replica and to "
              "`otbot webhook set`.", file=sys.stderr)
        return EXIT_USAGE
    _load(args)
    from otbot.config import setup_logging

    setup_logging(config)
    from telegram.error import InvalidToken

    from otbot.telegram_bot.app import serve_replica

    try:
        serve_replica(config, args.listen, args.port, args.path)
    except InvalidToken:
        print("otbot serve: Telegram rejected TELEGRAM_BOT_TOKEN (revoked, or mistyped?). "
              "Check it with @BotFather.", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def cmd_webhook(args: argparse.Namespace) -> int:
    """Set, show or delete the bot's webhook: the deploy steps for `otbot serve`."""
    import asyncio

    config = _bot_config("webhook", args)
    if config is None:
        return EXIT_USAGE
    if args.webhook_command == "set":
        if not config.webhook_secret:
            print("otbot webhook set: TELEGRAM_WEBHOOK_SECRET is not set; the replicas refuse "
                  "updates without it.", file=sys.stderr)
            return EXIT_USAGE
        if not args.url.startswith("https://"):
            print("otbot webhook set: Telegram sends updates only to an https:// URL",
                  file=sys.stderr)
            return EXIT_USAGE
    from telegram import Bot
    from telegram.error import TelegramError

    from otbot.telegram_bot.app import file_url
    from otbot.telegram_bot.serve import ALLOWED_UPDATES

    async def act() -> str:
        async with Bot(config.token, base_url=config.base_url,
                       base_file_url=file_url(config.base_url)) as bot:
            if args.webhook_command == "set":
                await bot.set_webhook(args.url, secret_token=config.webhook_secret,
                                      allowed_updates=ALLOWED_UPDATES,
                                      drop_pending_updates=args.drop_pending)
                return f"webhook set to {args.url}"
            if args.webhook_command == "delete":
                await bot.delete_webhook(drop_pending_updates=args.drop_pending)
                return "webhook deleted (use `otbot run` to poll instead)"
            info = await bot.get_webhook_info()
            fields = {"url": info.url or "(none: polling)",
                      "pending updates": info.pending_update_count,
                      "max connections": info.max_connections,
                      "allowed updates": ", ".join(info.allowed_updates or ()) or "(default)",
                      "last error": (f"{info.last_error_date:%Y-%m-%d %H:%M:%S} "
                                     f"{info.last_error_message}")
                      if info.last_error_date else "none"}
            return "\n".join(f"{name}: {value}" for name, value in fields.items())

    try:
        print(asyncio.run(act()))
    except TelegramError as error:
        print(f"otbot webhook: Telegram refused: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK


def cmd_health(args: argparse.Namespace) -> int:
    """Exit 0 if the knowledge base loads and the data folder's database is writable."""
    from otbot.store import SqliteStore

    _load(args)
    data = data_folder()
    try:
        SqliteStore(data / "otbot.sqlite3").close()
    except Exception as error:  # any failure is "unhealthy", said plainly
        print(f"otbot health: the database in {data} is not usable: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    print("ok")
    return EXIT_OK


def cmd_kb_check(args: argparse.Namespace) -> int:
    """Validate the knowledge folder and report every problem as FILE:LINE: message."""
    from otbot.tools.checks import check, unreviewed_entries

    folder = _folder(args)
    kb, problems = check(folder, unreviewed=args.unreviewed)
    for problem in problems:
        print(problem)
    errors = sum(p.level == "error" for p in problems)
    warnings = sum(p.level == "warning" for p in problems)
    summary = f"{folder}: {errors} error(s), {warnings} warning(s)"
    if kb is not None:
        unchecked = len(unreviewed_entries(kb))
        summary += (f", {len(kb.drafts)} draft(s), {unchecked} entr"
                    f"{'y' if unchecked == 1 else 'ies'} without a review"
                    + ("" if args.unreviewed or not unchecked else " (list: --unreviewed)"))
    print(summary, file=sys.stderr)
    return EXIT_PROBLEMS if errors else EXIT_OK


def cmd_kb_train_urgent(args: argparse.Namespace) -> int:
    """Learn urgent-model.npz from labelled safety files and write it into the folder."""
    from otbot.tools.training import save_urgent, train_files

    return _train(args, train_files, save_urgent, "kinds", "a safety set")


def cmd_kb_train_topics(args: argparse.Namespace) -> int:
    """Learn topic-model.npz from labelled topic files and write it into the folder."""
    from otbot.tools.training import save_topics, train_topic_files

    return _train(args, train_topic_files, save_topics, "topics", "a topic set")


def _train(args: argparse.Namespace, train: Callable[[list[Path], KnowledgeBase], LinearModel],
           save: Callable[[LinearModel, Path], Path], outputs: str, measure: str) -> int:
    """Learn a model from the files named and write it into the knowledge folder."""
    kb = _load(args)
    try:
        model = train([Path(f) for f in args.files], kb)
    except (OSError, YamlError, ValueError) as error:
        print(f"otbot: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    path = save(model, kb.folder)
    print(f"{path}: learnt from {len(args.files)} file(s), {len(model.rows)} features, "
          f"{len(model.outputs) - 1} {outputs}; run `otbot kb check` and `otbot eval` on "
          f"{measure}")
    return EXIT_OK


def cmd_kb_import(args: argparse.Namespace) -> int:
    """Write the good rows of a CSV or TSV FAQ as knowledge-base YAML; report the others."""
    from otbot.kb import default_dir
    from otbot.tools.importer import ImportFailed, import_faq

    # Where the maintainer says, else ./knowledge: never the copy inside the installed package.
    chosen = args.knowledge or os.environ.get("OTBOT_KNOWLEDGE_DIR", "").strip()
    folder = Path(chosen or "knowledge")
    print(f"otbot: knowledge folder {folder}", file=sys.stderr)
    output = Path(args.output) if args.output else folder / "faq" / "imported.yaml"
    try:
        result = import_faq(Path(args.file), folder, output, force=args.force,
                            seed=default_dir())
    except ImportFailed as error:
        print(f"otbot: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    for problem in result.problems:
        print(problem, file=sys.stderr)
    if not result.entries:
        print(f"otbot: no usable row in {args.file}; nothing was written", file=sys.stderr)
        return EXIT_PROBLEMS
    if result.seeded_from:
        print(f"otbot: {folder} did not exist: it is now a copy of the shipped knowledge base "
              f"({result.seeded_from}), which commands run here will read; edit it there",
              file=sys.stderr)
    entries, skipped = len(result.entries), len(result.problems)
    print(f"{entries} {'entry' if entries == 1 else 'entries'} written to {output}, "
          f"{skipped} {'row' if skipped == 1 else 'rows'} skipped")
    knowledge = f" --knowledge {args.knowledge}" if args.knowledge else ""
    print(f"The new entries are drafts: parents never see them. Review each one, remove "
          f"'draft: true' to publish it, and run `otbot kb check{knowledge}`.")
    return EXIT_OK


def cmd_misses(args: argparse.Namespace) -> int:
    """What went wrong for parents, by kind, similar wordings grouped, with an action each."""
    import sqlite3

    from otbot.tools import misses
    from otbot.understanding.matcher import Matcher

    folder = _folder(args)  # said first, even when there is nothing to report

    try:
        since = misses.since_day(args.since) if args.since else None
    except ValueError:
        print(f"otbot misses: --since takes a day like 2026-01-31 or a number of days like 30d "
              f"(got {args.since!r})", file=sys.stderr)
        return EXIT_USAGE
    path = misses.database_path(args.data)
    try:
        rows = misses.read_misses(path, since)
    except sqlite3.Error as error:  # not the bot's database, or a damaged one
        print(f"otbot: cannot read {path}: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    if not rows:
        print(f"otbot: no database at {path} (use --data DIR or set OTBOT_DATA_DIR)"
              if rows is None else "No unanswered questions recorded yet.", file=sys.stderr)
        if args.json:
            print(json.dumps(misses.as_json({}, 0)))
        return EXIT_OK
    if args.kind:
        rows = [row for row in rows if row.kind in args.kind]
    grouped = misses.group_by_kind(rows)
    counts = {kind: (sum(g.group.count for g in groups), len(groups))
              for kind, groups in grouped.items()}
    shown = misses.with_actions(grouped, Matcher(_load(args, folder)), args.limit)
    print(json.dumps(misses.as_json(shown, len(rows)), indent=1) if args.json
          else misses.as_text(shown, len(rows), counts))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Write one self-contained HTML page: traffic, votes, misses, the sweep, KB health."""
    import sqlite3

    from otbot.store import SqliteStore
    from otbot.tools import misses, reportpage
    from otbot.tools.evaluation import evaluate, read_items, sweep, unknown_expectations
    from otbot.tools.importer import write_atomic
    from otbot.understanding.matcher import Matcher

    try:
        since = misses.since_day(args.since) if args.since else None
    except ValueError:
        print(f"otbot report: --since takes a day like 2026-01-31 or a number of days like 30d "
              f"(got {args.since!r})", file=sys.stderr)
        return EXIT_USAGE
    kb = _load(args)
    matcher = Matcher(kb)
    report = reportpage.ReportData(generated=reportpage.today(), folder=str(kb.folder))
    path = misses.database_path(args.data)
    if path.is_file():
        try:
            store = SqliteStore(path)
            try:
                report.decisions = store.decision_counts(since)
                rows = [misses.MissRow(*row) for row in store.miss_details(since)]
                report.votes = store.topic_counts()
            finally:
                store.close()
        except sqlite3.Error as error:
            print(f"otbot: cannot read {path}: {error}", file=sys.stderr)
            return EXIT_PROBLEMS
        report.misses_per_day = reportpage.misses_per_day(rows)
        shown = misses.with_actions(misses.group_by_kind(rows), matcher, args.limit)
        report.groups = sorted((g for groups in shown.values() for g in groups),
                               key=lambda g: (-g.group.count, g.kind, g.group.wording)
                               )[: args.limit]
    else:
        print(f"otbot report: no database at {path} (use --data DIR or set OTBOT_DATA_DIR); "
              "the page shows the knowledge base and the evaluation only", file=sys.stderr)
    eval_file = Path(args.eval) if args.eval else Path("eval") / "dev.yaml"
    if not args.no_eval and (args.eval or eval_file.is_file()):
        try:
            items = read_items(eval_file)
        except YamlError as error:
            print(f"otbot: {error}", file=sys.stderr)
            return EXIT_USAGE
        unknown = unknown_expectations(items, kb, eval_file)
        for problem in unknown:
            print(problem, file=sys.stderr)
        if unknown:
            return EXIT_PROBLEMS
        evaluation = evaluate(matcher, items)
        report.eval_file, report.metrics = str(eval_file), evaluation.metrics
        report.sweep = sweep(matcher, evaluation)
    reportpage.health(kb, report)
    output = Path(args.output)
    write_atomic(output, reportpage.render(report))
    print(f"otbot report: wrote {output} (open it in a browser; it needs no network)")
    return EXIT_OK


def _share(text: str) -> float:
    """An argparse type: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, like 0.9 (got {text!r})")
    return value


def _positive(text: str) -> int:
    """An argparse type: a whole number, 1 or more."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, 1 or more (got {text!r})")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--knowledge", metavar="DIR",
                        help="knowledge folder to use (default: $OTBOT_KNOWLEDGE_DIR, else "
                             "./knowledge if it has a faq/ folder, else the one shipped with "
                             "otbot)")
    parser = argparse.ArgumentParser(
        prog="otbot",
        description="A Telegram bot that answers parents' questions about occupational "
                    "therapy for children, and the tools to maintain its knowledge base.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    chat = sub.add_parser("chat", parents=[common], help="talk to the bot in this terminal",
                          description="The whole conversation in the terminal: buttons are "
                                      "numbered choices, /commands work as on Telegram. Needs "
                                      "no token and no network.")
    chat.set_defaults(run=cmd_chat)

    run = sub.add_parser(
        "run", parents=[common], help="run the Telegram bot",
        description="Run the bot on Telegram: long polling by default, or a webhook behind "
                    "HTTPS. Reads TELEGRAM_BOT_TOKEN (required), TELEGRAM_API_BASE_URL, "
                    "OTBOT_DATA_DIR, OTBOT_KNOWLEDGE_DIR, OTBOT_ADMIN_IDS, OTBOT_LOG_LEVEL, "
                    "OTBOT_LOG_MISSES, OTBOT_RETENTION_DAYS, OTBOT_MISSES_DAYS from the "
                    "environment.")
    run.add_argument("--webhook", metavar="URL",
                     help="receive updates at this public HTTPS URL instead of polling")
    run.add_argument("--listen", default="0.0.0.0",
                     help="address the webhook server listens on (default 0.0.0.0)")
    run.add_argument("--port", type=int, default=8443,
                     help="port the webhook server listens on (default 8443)")
    run.add_argument("--metrics-port", type=int, metavar="PORT",
                     help="also answer GET /healthz, /readyz and /metrics on this port "
                          "(address: --listen)")
    run.set_defaults(run=cmd_run)

    serve = sub.add_parser(
        "serve", parents=[common], help="serve webhook updates (one of several replicas)",
        description="Receive Telegram's webhook updates over HTTP behind a load balancer; each "
                    "is answered 200 only after it is committed. Never calls setWebhook, so any "
                    "number of replicas can run it (see `otbot webhook set`). Needs "
                    "TELEGRAM_WEBHOOK_SECRET; OTBOT_DATABASE_URL=postgresql://... lets replicas "
                    "share one database. Also answers GET /healthz, /readyz and /metrics.")
    serve.add_argument("--listen", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    serve.add_argument("--path", default="/telegram",
                       help="the path updates are POSTed to (default /telegram)")
    serve.set_defaults(run=cmd_serve)

    webhook = sub.add_parser("webhook", help="set, show or delete the bot's webhook",
                             description="The deploy steps for `otbot serve`.")
    hook_sub = webhook.add_subparsers(dest="webhook_command", required=True, metavar="ACTION")
    hook_set = hook_sub.add_parser(
        "set", help="send updates to URL, with TELEGRAM_WEBHOOK_SECRET",
        description="Tell Telegram to POST updates to URL (https://, the load balancer's "
                    "address plus the replicas' --path), with TELEGRAM_WEBHOOK_SECRET.")
    hook_set.add_argument("url", help="the public https:// URL")
    hook_set.add_argument("--drop-pending", action="store_true",
                          help="drop the updates Telegram holds for the bot")
    hook_set.set_defaults(run=cmd_webhook)
    hook_info = hook_sub.add_parser("info", help="what Telegram knows of the webhook",
                                    description="The URL, pending updates and the last error.")
    hook_info.set_defaults(run=cmd_webhook)
    hook_delete = hook_sub.add_parser("delete", help="stop sending updates to the webhook",
                                      description="Delete the webhook (polling works again).")
    hook_delete.add_argument("--drop-pending", action="store_true",
                             help="drop the updates Telegram holds for the bot")
    hook_delete.set_defaults(run=cmd_webhook)

    health = sub.add_parser("health", parents=[common],
                            help="check that the bot could run (for container health checks)",
                            description="Exit 0 if the knowledge base loads and the database "
                                        "in $OTBOT_DATA_DIR can be opened; 1 otherwise.")
    health.set_defaults(run=cmd_health)

    ask = sub.add_parser("ask", parents=[common], help="show what the bot decides for a message",
                         description="Show the decision (answer, clarify, fallback, urgent, "
                                     "smalltalk) and the reply for one message.")
    ask.add_argument("text", help="the message, as a parent would type it")
    ask.add_argument("--json", action="store_true",
                     help='print {"kind", "topic", "candidates", "score"} as JSON')
    ask.set_defaults(run=cmd_ask)

    ev = sub.add_parser("eval", parents=[common], help="measure matching on a labelled file",
                        description="Decide every message of FILE (the format of eval/dev.yaml) "
                                    "and print the metrics, every miss and a threshold sweep. "
                                    "With bars (--min-top1 ... or --thresholds), exit 1 when a "
                                    "figure misses its bar, so CI can guard the knowledge base; "
                                    "an expected id that is no entry is an error.")
    ev.add_argument("file", help="a YAML file with items: [{q: ..., expect: ...}]")
    ev.add_argument("--json", action="store_true", help="print items and summary as JSON")
    ev.add_argument("--no-sweep", action="store_true", help="leave out the threshold sweep")
    for option, what in (("min-top1", "in-scope messages answered with the right topic"),
                         ("min-reach", "in-scope messages whose right topic is answered or "
                                       "offered"),
                         ("max-wrong", "in-scope messages answered with a wrong topic"),
                         ("min-oos", "out-of-scope messages rejected")):
        ev.add_argument(f"--{option}", type=_share, metavar="SHARE",
                        dest=option.replace("-", "_"),
                        help=f"exit 1 if the share of {what} is "
                             f"{'above' if option.startswith('max') else 'below'} SHARE (0-1)")
    ev.add_argument("--thresholds", metavar="FILE",
                    help="a YAML file of bars: min_top1, min_reach, max_wrong, min_oos")
    ev.set_defaults(run=cmd_eval)

    kb = sub.add_parser("kb", help="check or import knowledge-base files",
                        description="Work on the knowledge folder.")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True, metavar="ACTION")
    check = kb_sub.add_parser("check", parents=[common], help="validate the knowledge folder",
                              description="Report every problem as FILE:LINE: message; exit "
                                          "non-zero if any is an error.")
    check.add_argument("--unreviewed", action="store_true",
                       help="also list every entry without a review (reviewed and reviewed_by)")
    check.set_defaults(run=cmd_kb_check)
    imp = kb_sub.add_parser(
        "import", parents=[common], help="turn a CSV or TSV FAQ into a knowledge-base file",
        description="Read FILE (CSV or TSV with a header row: question and answer columns, "
                    "optional alternates separated by | or ;, id and keywords) and write its "
                    "rows as FAQ entries. Bad rows are reported as FILE:LINE: message and "
                    "skipped.")
    imp.add_argument("file", help="the .csv or .tsv file exported by another FAQ tool")
    imp.add_argument("--output", metavar="FILE",
                     help="the YAML file to write (default: <knowledge>/faq/imported.yaml, "
                          "where <knowledge> is --knowledge, $OTBOT_KNOWLEDGE_DIR or "
                          "./knowledge)")
    imp.add_argument("--force", action="store_true", help="replace the output file if it exists")
    imp.set_defaults(run=cmd_kb_import)

    # The two learnt models: (command, help, description, what the files hold, handler).
    for command, summary, about, holds, handler in (
            ("train-urgent", "learn the urgent model from safety files",
             "Learn urgent-model.npz, the model beside the urgent rules, from messages "
             "labelled like eval/safety-dev.yaml (and the calm messages of topic sets like "
             "eval/dev.yaml, with the knowledge base's own wordings), and write it into the "
             "knowledge folder.", "labelled safety or topic files", cmd_kb_train_urgent),
            ("train-topics", "learn the topic model from topic files",
             "Learn topic-model.npz, the model beside the ranking, from messages labelled "
             "like eval/dev.yaml and the knowledge base's own wordings, and write it into the "
             "knowledge folder. Make it again after editing wordings.",
             "labelled topic files", cmd_kb_train_topics)):
        learn = kb_sub.add_parser(
            command, parents=[common], help=summary,
            description=f"{about} Never train on a set you measure with.")
        learn.add_argument("files", nargs="+", metavar="FILE", help=holds)
        learn.set_defaults(run=handler)

    misses = sub.add_parser(
        "misses", parents=[common], help="list what went wrong for parents, grouped",
        description="Every way a question went wrong, by kind: no answer (fallback), declined, "
                    "a 'did you mean' offer (and which choice was taken, if any), an answer "
                    "voted unhelpful, a follow-up the bot could not place. Similar wordings "
                    "are grouped, most asked first, each with the days first and last seen, "
                    "the nearest existing entry and a suggested action.")
    misses.add_argument("--data", metavar="DIR",
                        help="the bot's data folder (default: $OTBOT_DATA_DIR, else ./data)")
    misses.add_argument("--json", action="store_true", help="print the groups as JSON")
    misses.add_argument("--limit", metavar="N", type=_positive, default=20,
                        help="show the N most asked groups of each kind (default 20)")
    misses.add_argument("--since", metavar="DAY",
                        help="only what was asked from DAY (2026-01-31) on, or in the last N "
                             "days (30d)")
    misses.add_argument("--kind", action="append", choices=[k.value for k in MissKind],
                        help="only this kind (may be given more than once)")
    misses.set_defaults(run=cmd_misses)

    report = sub.add_parser(
        "report", parents=[common], help="write an HTML page of figures for maintainers",
        description="Write one self-contained HTML file (no network, no script; charts as "
                    "inline SVG): questions per day by decision kind and what went wrong, "
                    "helpful and unhelpful votes per topic, the biggest groups of misses, the "
                    "evaluation's threshold sweep, and the knowledge base's health (drafts, "
                    "entries without a review, overlaps, keywords that are common words).")
    report.add_argument("--data", metavar="DIR",
                        help="the bot's data folder (default: $OTBOT_DATA_DIR, else ./data)")
    report.add_argument("--output", "-o", metavar="FILE", default="otbot-report.html",
                        help="the page to write (default: otbot-report.html)")
    report.add_argument("--eval", metavar="FILE",
                        help="the labelled file for the sweep (default: eval/dev.yaml if here)")
    report.add_argument("--no-eval", action="store_true", help="leave out the evaluation")
    report.add_argument("--since", metavar="DAY",
                        help="days and misses from DAY (2026-01-31) or the last N days (30d); "
                             "votes are totals")
    report.add_argument("--limit", metavar="N", type=_positive, default=20,
                        help="the N biggest groups of misses (default 20)")
    report.set_defaults(run=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
