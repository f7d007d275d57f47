"""The `qwen-tts` command: argument parsing and dispatch.

    qwen-tts [--url URL] [--api-key KEY] say "text" --voice NAME -o out.mp3
    qwen-tts batch lines.jsonl --out DIR [--voice NAME] [--format wav]
    qwen-tts voices list | create NAME --audio ref.wav --ref-text "..." | delete ID

URL and key default to the environment (QWEN_TTS_URL, QWEN_TTS_API_KEY), else http://127.0.0.1:8080.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from qwen_tts_cli import batch, say, voices
from qwen_tts_cli.client import Api, CliError


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="qwen-tts", description="Client of the Qwen3-TTS serving API.")
    root.add_argument("--url", help="server URL (env QWEN_TTS_URL; default http://127.0.0.1:8080)")
    root.add_argument("--api-key", help="API key (env QWEN_TTS_API_KEY)")
    root.add_argument("--timeout", type=float, default=600.0, help="seconds per HTTP request")
    commands = root.add_subparsers(dest="command", required=True)

    speak = commands.add_parser("say", help="speak a text into a file")
    speak.add_argument("text", help="the text, or - to read it from stdin")
    speak.add_argument("--voice", required=True, help="a preset speaker, or a cloned voice's id or name")
    speak.add_argument("-o", "--output", type=Path, required=True, help="out.wav|.mp3|.ogg|.opus")
    speak.add_argument("--language")
    speak.add_argument("--seed", type=int)
    speak.add_argument("--job", action="store_true", help="run it as a job (long texts do anyway)")

    lines = commands.add_parser("batch", help="voice every line of a JSONL file into a folder (resumable)")
    lines.add_argument("lines", type=Path)
    lines.add_argument("--out", type=Path, required=True)
    lines.add_argument("--voice", help="voice of lines that name none")
    lines.add_argument("--format", default="wav", choices=say.FORMATS)
    lines.add_argument("--language")
    lines.add_argument("--poll", type=float, default=1.0, help="seconds between progress checks")

    voice = commands.add_parser("voices", help="cloned voices").add_subparsers(dest="action", required=True)
    voice.add_parser("list")
    create = voice.add_parser("create")
    create.add_argument("name")
    create.add_argument("--audio", type=Path, required=True, help="reference recording (3 to 10 s)")
    create.add_argument("--ref-text", required=True, help="what the recording says")
    create.add_argument("--language", default="Spanish")
    create.add_argument("--description")
    delete = voice.add_parser("delete")
    delete.add_argument("voice_id")
    return root


def dispatch(api: Api, args: argparse.Namespace) -> int:
    if args.command == "say":
        extra = {} if args.seed is None else {"seed": args.seed}
        return say.say(api, text=args.text, voice=args.voice, output=args.output, language=args.language,
                       as_job=args.job, extra=extra)  # fmt: skip
    if args.command == "batch":
        return batch.run(api, lines=args.lines, out=args.out, voice=args.voice, fmt=args.format,
                         language=args.language, poll=args.poll)  # fmt: skip
    if args.action == "list":
        return voices.list_voices(api)
    if args.action == "create":
        return voices.create_voice(api, name=args.name, audio=args.audio, ref_text=args.ref_text,
                                   language=args.language, description=args.description)  # fmt: skip
    return voices.delete_voice(api, args.voice_id)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    api = Api(args.url, args.api_key, timeout=args.timeout)
    try:
        return dispatch(api, args)
    except CliError as exc:
        print(f"qwen-tts: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nqwen-tts: interrupted", file=sys.stderr)
        return 130
    finally:
        api.close()
