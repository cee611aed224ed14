"""The ``attn-widget`` command: attention figures (PDF) from a model or from saved scores.

    attn-widget figures --model PATH --text "The cat sat on the mat." --out figs
    attn-widget figures --model PATH --texts-file lines.txt --per-head --out figs
    attn-widget figures --load run.npz --out figs

Bad arguments get one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

__all__ = ["main"]

PROG = "attn-widget"
EXIT_USAGE = 2


class _Usage(Exception):
    """A problem with what the user asked for: one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage first; one line is easier to read in a log.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _gamma(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Transformer attention as publication-ready PDF figures.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    figures = commands.add_parser(
        "figures",
        help="run a model on texts (or read saved scores) and write PDF figures",
        description=(
            "Run a transformers model on one or more texts, or read saved scores, and write "
            "all_layers_avg.pdf (one panel per layer, mean of the heads) and, with --per-head, "
            "layer_<i>.pdf (every head of layer i) for every layer. One text and one component "
            "write into --out itself; several texts go to text_<n>/ subfolders and an "
            "encoder-decoder's components to encoder/, decoder/ and cross/."
        ),
        epilog=(
            "examples:\n"
            '  attn-widget figures --model ./my-bert --text "The cat sat on the mat." --out figs\n'
            "  attn-widget figures --model t5-small --text 'translate: hello' --target 'hallo' "
            "--out figs\n"
            "  attn-widget figures --model ./gpt2 --texts-file prompts.txt --per-head "
            "--save-scores run.npz --out figs\n"
            "  attn-widget figures --load run.npz --per-head --out figs"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = figures.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--model",
        metavar="PATH",
        help="a local model folder, or a hub name where the network is reachable",
    )
    source.add_argument(
        "--load",
        metavar="FILE",
        help="redraw saved scores without a model: an attn_widget .npz, a JSON file "
        "with tokens and attention_matrices, or a .pt file (read with weights_only=True)",
    )
    figures.add_argument(
        "--text",
        action="append",
        default=[],
        metavar="TEXT",
        help="a text to run (repeat for several)",
    )
    figures.add_argument("--texts-file", metavar="FILE", help="a UTF-8 file with one text per line")
    figures.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="TEXT",
        help="encoder-decoder models: the decoder's text (one for all texts, or one per text)",
    )
    figures.add_argument("--out", required=True, metavar="DIR", help="folder for the PDFs")
    figures.add_argument(
        "--per-head", action="store_true", help="also write layer_<i>.pdf with every head"
    )
    figures.add_argument(
        "--per-row", type=_positive, default=4, metavar="N", help="panels per row (default 4)"
    )
    figures.add_argument(
        "--gamma", type=_gamma, default=1.0, metavar="G", help="contrast exponent (default 1)"
    )
    figures.add_argument(
        "--component",
        action="append",
        default=[],
        metavar="NAME",
        help="only these components (encoder, decoder, cross; repeat for several)",
    )
    figures.add_argument(
        "--save-scores",
        metavar="FILE",
        help="also save the scores: .npz (every text and component; aw.load reads it) "
        "or .json (one text and one component, for web front ends)",
    )
    figures.add_argument(
        "--dtype",
        choices=("float32", "float16"),
        default="float32",
        help="storage of the scores (default float32)",
    )
    figures.add_argument(
        "--device", default="cpu", help="where the model runs: cpu (default), cuda, cuda:1, ..."
    )
    figures.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def _progress(items: Sequence[Any], desc: str, unit: str, quiet: bool) -> Any:
    """A tqdm bar on stderr (shown on a terminal only); plain iteration without tqdm."""
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    return tqdm(items, desc=desc, unit=unit, disable=True if quiet else None)


def _version() -> str:
    from . import __version__

    return __version__


# ------------------------------------------------------------------- inputs
def _not_utf8(option: str, text: str) -> _Usage | None:
    """A text that the shell passed with bytes that are not UTF-8 (Python keeps them as U+DCxx)."""
    for i, char in enumerate(text):
        if "\udc80" <= char <= "\udcff":
            return _Usage(
                f"{option}: not UTF-8 text: byte 0x{ord(char) - 0xDC00:02x} at character {i + 1} "
                f"of {text.encode('utf-8', 'surrogateescape')[:40]!r}; pass the text in UTF-8 "
                "(check the terminal's or the script's encoding)"
            )
    return None


def _read_lines(path: pathlib.Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise _Usage(f"--texts-file: cannot read {path}: {error.strerror or error}") from error
    try:
        return raw.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise _Usage(
            f"--texts-file: {path} is not UTF-8 text: byte 0x{raw[error.start]:02x} at line "
            f"{line}, column {column}; save it as UTF-8"
        ) from error


def _texts(args: argparse.Namespace) -> list[str]:
    texts = list(args.text)
    if args.texts_file:
        texts += [line for line in _read_lines(pathlib.Path(args.texts_file)) if line.strip()]
    for option, values in (("--text", args.text), ("--target", args.target)):
        for value in values:
            problem = _not_utf8(option, value)
            if problem is not None:
                raise problem
    return texts


def _check(args: argparse.Namespace) -> list[str]:
    texts = _texts(args)
    if args.model and not texts:
        raise _Usage("--model needs at least one --text or a --texts-file with text in it")
    if args.load and (texts or args.target):
        raise _Usage("--load redraws saved scores: --text, --texts-file and --target do not apply")
    if args.target and len(args.target) not in (1, len(texts)):
        raise _Usage(f"--target: got {len(args.target)} targets for {len(texts)} texts")
    if args.save_scores:
        suffix = pathlib.Path(args.save_scores).suffix.lower()
        if suffix not in (".npz", ".json"):
            raise _Usage(f"--save-scores: expected a .npz or .json file, got {args.save_scores!r}")
        if suffix == ".json" and len(texts) > 1:
            raise _Usage("--save-scores: a .json file holds one text; use .npz for several")
    out = pathlib.Path(args.out)
    if out.exists() and not out.is_dir():
        raise _Usage(f"--out: {out} exists and is not a folder")
    return texts


def _load_model(name: str, device: str) -> tuple[Any, Any]:
    try:
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError as error:
        raise _Usage(
            f"--model needs torch and transformers: pip install 'attn-widget[torch]' ({error})"
        ) from error
    try:
        torch.device(device)
    except RuntimeError as error:
        raise _Usage(f"--device: {error}") from error
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModel.from_pretrained(name)
    except (OSError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise _Usage(f"--model: cannot load {name!r}: {first}") from error
    return model.to(device).eval(), tokenizer


def _merge(per_text: list[dict[str, Any]]) -> dict[str, Any]:
    """One AttentionData per component with every text as a case."""
    from .data import AttentionData

    merged: dict[str, Any] = {}
    for name in per_text[0]:
        parts = [result[name] for result in per_text]
        meta = dict(parts[0].meta)
        meta["text"] = [p.meta.get("text") for p in parts]
        merged[name] = AttentionData.from_cases(
            [p.values[0] for p in parts],
            [p.tokens[0] for p in parts],
            target_tokens=[p.query_tokens[0] for p in parts] if parts[0].is_cross else None,
            dtype=parts[0].values[0].dtype,
            raw_tokens=[p.raw_tokens[0] if p.raw_tokens else None for p in parts],
            meta=meta,
        )
    return merged


def _extract(args: argparse.Namespace, texts: list[str]) -> dict[str, Any]:
    from .extract import extract_attention

    model, tokenizer = _load_model(args.model, args.device)
    targets = args.target * len(texts) if len(args.target) == 1 else args.target
    per_text = []
    # One forward pass per text: memory stays that of the longest text alone.
    for i, text in enumerate(_progress(texts, "texts", "text", args.quiet)):
        result = extract_attention(
            model, tokenizer, text, target=targets[i] if targets else None, dtype=args.dtype
        )
        per_text.append(result if isinstance(result, dict) else {"attention": result})
    return _merge(per_text)


def _select(components: dict[str, Any], wanted: Sequence[str]) -> dict[str, Any]:
    if not wanted:
        return components
    unknown = [name for name in wanted if name not in components]
    if unknown:
        raise _Usage(f"--component: {unknown} not among {list(components)}")
    return {name: components[name] for name in wanted}


# ------------------------------------------------------------------- output
def _figures(args: argparse.Namespace, components: dict[str, Any]) -> list[pathlib.Path]:
    from .export import render_pdf, write_atomic

    out = pathlib.Path(args.out)
    cases = max(data.n_cases for data in components.values())
    jobs: list[tuple[pathlib.Path, Any, int, dict[str, Any]]] = []
    for name, data in components.items():
        for case in range(data.n_cases):
            folder = out
            if cases > 1:
                folder = folder / f"text_{case}"
            if len(components) > 1:
                folder = folder / name
            common = {"case": case, "gamma": args.gamma, "per_row": args.per_row}
            jobs.append((folder / "all_layers_avg.pdf", data, 0, {**common, "heads": "mean"}))
            if args.per_head:
                for layer in range(data.n_layers):
                    options = {**common, "layers": "current", "heads": "all"}
                    jobs.append((folder / f"layer_{layer}.pdf", data, layer, options))
    written = []
    for path, data, layer, options in _progress(jobs, "figures", "pdf", args.quiet):
        written.append(write_atomic(path, render_pdf(data, "grid", layer=layer, **options)))
    return written


def _save_scores(path: str, components: dict[str, Any]) -> pathlib.Path:
    from .io import save, to_json

    if pathlib.Path(path).suffix.lower() == ".json":
        if len(components) > 1:
            raise _Usage(
                f"--save-scores: a .json file holds one component; choose one of "
                f"{list(components)} with --component, or save to .npz"
            )
        return to_json(components, path)
    return save(components, path)


def _figures_command(args: argparse.Namespace) -> int:
    texts = _check(args)
    if args.load:
        from .io import read

        components = read(args.load)
    else:
        components = _extract(args, texts)
    components = _select(components, args.component)
    if args.save_scores:
        saved = _save_scores(args.save_scores, components)
        print(f"saved scores to {saved}")
    written = _figures(args, components)
    print(f"wrote {len(written)} PDF file(s) to {pathlib.Path(args.out).resolve()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``attn-widget``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _figures_command(args)
    except (_Usage, ValueError, TypeError, OSError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
