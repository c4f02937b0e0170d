"""The `otbot` command line: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from otbot.config import data_folder, knowledge_folder
from otbot.kb import KnowledgeBase, KnowledgeError, load_knowledge
from otbot.kb.yamlfile import YamlError

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _folder(args: argparse.Namespace) -> Path:
    """The knowledge folder the command uses, said on stderr so an edit's fate is never a guess."""
    folder = knowledge_folder(args.knowledge)
    print(f"otbot: knowledge folder {folder}", file=sys.stderr)
    return folder


def _load(args: argparse.Namespace) -> KnowledgeBase:
    """The knowledge base named by --knowledge / OTBOT_KNOWLEDGE_DIR, or exit with its errors."""
    folder = _folder(args)
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
    from otbot.tools.report import describe_decision
    from otbot.understanding.matcher import Matcher

    kb = _load(args)
    decision = Matcher(kb).decide(args.text)
    if args.json:
        print(json.dumps({
            "kind": decision.kind, "topic": decision.topic,
            "candidates": [c.topic for c in decision.candidates],
            "score": round(decision.score, 4),
        }))
    else:
        print(describe_decision(kb, decision))
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    """Measure the matcher on a labelled file."""
    from otbot.tools.evaluation import evaluate, read_items, sweep
    from otbot.tools.report import eval_json, eval_text
    from otbot.understanding.matcher import Matcher

    kb = _load(args)
    try:
        items = read_items(Path(args.file))
    except YamlError as error:
        print(f"otbot: {error}", file=sys.stderr)
        return EXIT_USAGE
    matcher = Matcher(kb)
    report = evaluate(matcher, items)
    if args.json:
        print(json.dumps(eval_json(report), indent=1))
    else:
        print(eval_text(report, [] if args.no_sweep else sweep(matcher, report)))
    return EXIT_OK


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
    from otbot.tools.checks import check_folder

    folder = _folder(args)
    problems = check_folder(folder)
    for problem in problems:
        print(problem)
    errors = sum(p.level == "error" for p in problems)
    warnings = len(problems) - errors
    print(f"{folder}: {errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return EXIT_PROBLEMS if errors else EXIT_OK


def cmd_kb_import(args: argparse.Namespace) -> int:
    """Write the good rows of a CSV or TSV FAQ as knowledge-base YAML; report the others."""
    from otbot.tools.importer import ImportFailed, import_faq

    folder = _folder(args)
    output = Path(args.output) if args.output else folder / "faq" / "imported.yaml"
    try:
        result = import_faq(Path(args.file), folder, output, force=args.force)
    except ImportFailed as error:
        print(f"otbot: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    for problem in result.problems:
        print(problem, file=sys.stderr)
    if not result.entries:
        print(f"otbot: no usable row in {args.file}; nothing was written", file=sys.stderr)
        return EXIT_PROBLEMS
    entries, skipped = len(result.entries), len(result.problems)
    print(f"{entries} {'entry' if entries == 1 else 'entries'} written to {output}, "
          f"{skipped} {'row' if skipped == 1 else 'rows'} skipped")
    knowledge = f" --knowledge {args.knowledge}" if args.knowledge else ""
    print(f"Review the new entries, then run `otbot kb check{knowledge}` to check them with "
          "the rest of the folder.")
    return EXIT_OK


def cmd_misses(args: argparse.Namespace) -> int:
    """List the unanswered questions asked most, similar wordings grouped."""
    import sqlite3

    from otbot.tools import misses
    from otbot.understanding.grouping import group_misses
    from otbot.understanding.matcher import Matcher

    path = misses.database_path(args.data)
    try:
        rows = misses.read_misses(path)
    except sqlite3.Error as error:  # not the bot's database, or a damaged one
        print(f"otbot: cannot read {path}: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    if not rows:
        print(f"otbot: no database at {path} (use --data DIR or set OTBOT_DATA_DIR)"
              if rows is None else "No unanswered questions recorded yet.", file=sys.stderr)
        if args.json:
            print(json.dumps(misses.as_json([], 0)))
        return EXIT_OK
    groups = group_misses(rows)
    shown = misses.with_nearest(groups[: args.limit], Matcher(_load(args)))
    print(json.dumps(misses.as_json(shown, len(rows)), indent=1) if args.json
          else misses.as_text(shown, len(rows), len(groups)))
    return EXIT_OK


def _positive(text: str) -> int:
    """An argparse type: a whole number, 1 or more."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, 1 or more (got {text!r})")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--knowledge", metavar="DIR",
                        help="knowledge folder to use (default: $OTBOT_KNOWLEDGE_DIR, "
                             "else the one shipped with otbot)")
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
                                    "and print the metrics, every miss and a threshold sweep.")
    ev.add_argument("file", help="a YAML file with items: [{q: ..., expect: ...}]")
    ev.add_argument("--json", action="store_true", help="print items and summary as JSON")
    ev.add_argument("--no-sweep", action="store_true", help="leave out the threshold sweep")
    ev.set_defaults(run=cmd_eval)

    kb = sub.add_parser("kb", help="check or import knowledge-base files",
                        description="Work on the knowledge folder.")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True, metavar="ACTION")
    check = kb_sub.add_parser("check", parents=[common], help="validate the knowledge folder",
                              description="Report every problem as FILE:LINE: message; exit "
                                          "non-zero if any is an error.")
    check.set_defaults(run=cmd_kb_check)
    imp = kb_sub.add_parser(
        "import", parents=[common], help="turn a CSV or TSV FAQ into a knowledge-base file",
        description="Read FILE (CSV or TSV with a header row: question and answer columns, "
                    "optional alternates separated by | or ;, id and keywords) and write its "
                    "rows as FAQ entries. Bad rows are reported as FILE:LINE: message and "
                    "skipped.")
    imp.add_argument("file", help="the .csv or .tsv file exported by another FAQ tool")
    imp.add_argument("--output", metavar="FILE",
                     help="the YAML file to write (default: <knowledge>/faq/imported.yaml)")
    imp.add_argument("--force", action="store_true", help="replace the output file if it exists")
    imp.set_defaults(run=cmd_kb_import)

    misses = sub.add_parser(
        "misses", parents=[common], help="list the questions the bot could not answer",
        description="The unanswered questions asked most often, similar wordings grouped, "
                    "with the days first and last seen and the nearest existing entry.")
    misses.add_argument("--data", metavar="DIR",
                        help="the bot's data folder (default: $OTBOT_DATA_DIR, else ./data)")
    misses.add_argument("--json", action="store_true", help="print the groups as JSON")
    misses.add_argument("--limit", metavar="N", type=_positive, default=20,
                        help="show the N most asked groups (default 20)")
    misses.set_defaults(run=cmd_misses)
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
