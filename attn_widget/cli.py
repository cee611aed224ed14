"""The ``attn-widget`` command: attention figures (PDF, SVG, PNG) from a model or saved scores.

    attn-widget figures --model PATH --text "The cat sat on the mat." --out figs
    attn-widget figures --model PATH --texts-file lines.txt --per-head --out figs
    attn-widget figures --load run.npz --layer 0 --head 0 --out layer0_head0.png
    attn-widget figures --model PATH --text "..." --save-scores run.npz --no-figures

Which files are written is planned by :mod:`attn_widget._cli_figures`. Bad
arguments get one line on stderr and exit status 2.
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
    from .state import check_gamma  # the one range of the traits, the figures and the slider

    try:
        return check_gamma(float(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("gamma: ")) from None


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _layer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a layer number (negative: from the end), got {text!r}"
        ) from None


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
        help="run a model on texts (or read saved scores) and write figures (PDF, SVG, PNG)",
        description=(
            "Run a transformers model on one or more texts, or read saved scores, and write "
            "all_layers_avg.pdf (one panel per layer, mean of the heads) and, with --per-head, "
            "layer_<i>.pdf (every head of layer i) for every layer; --layer writes only "
            "layer_<i>.pdf of those layers, and --head single heatmaps layer_<i>_head_<h>.pdf. "
            "One text and one component write into --out itself (or --out/<model-id>/); several "
            "texts go to text_<n>/ subfolders and an encoder-decoder's components to encoder/, "
            "decoder/ and cross/. --format svg or png (or an --out file's extension) writes "
            "those instead of PDF."
        ),
        epilog=(
            "examples:\n"
            '  attn-widget figures --model ./my-bert --text "The cat sat on the mat." --out figs\n'
            "  attn-widget figures --model t5-small --text 'translate: hello' --target 'hallo' "
            "--out figs\n"
            "  attn-widget figures --model ./gpt2 --model-id gpt2 --texts-file prompts.txt "
            "--per-head --save-scores run.npz --out vis\n"
            "  attn-widget figures --load run.npz --layer 0 --head 0 --out layer0_head0.png\n"
            "  attn-widget figures --model ./my-bert --text 'hi' --save-scores run.npz "
            "--no-figures"
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
    figures.add_argument(
        "--out",
        metavar="PATH",
        help="folder for the figures, or one file (.pdf, .svg, .png) when one figure is "
        "written (e.g. --layer 0 --head 0); not needed with --no-figures",
    )
    figures.add_argument(
        "--format",
        choices=("pdf", "svg", "png"),
        help="file format of the figures (default: pdf, or the --out file's extension)",
    )
    figures.add_argument(
        "--dpi", type=_number, metavar="N", help="resolution of PNG figures (default 300)"
    )
    figures.add_argument(
        "--width",
        type=_number,
        metavar="INCHES",
        help="figure width in inches, e.g. 3.3 (one journal column) or 7 (two; the default)",
    )
    figures.add_argument(
        "--per-head", action="store_true", help="also write layer_<i>.pdf with every head"
    )
    figures.add_argument(
        "--layer",
        type=_layer,
        action="append",
        default=[],
        metavar="L",
        help="only layer L (repeat for several; -1 is the last): layer_<L>.pdf with every head",
    )
    figures.add_argument(
        "--head",
        action="append",
        default=[],
        metavar="H",
        help="a single heatmap of head H (or 'mean') of each chosen layer (every layer "
        "without --layer): layer_<L>_head_<H>.pdf",
    )
    figures.add_argument(
        "--model-id",
        metavar="NAME",
        help="the model's name: figures go to --out/NAME/ and their titles say NAME",
    )
    figures.add_argument(
        "--no-figures",
        action="store_true",
        help="write no figures, only --save-scores",
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
    figures.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars, and none of transformers' loading bars and reports",
    )
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
    if args.no_figures:
        if not args.save_scores:
            raise _Usage("--no-figures: nothing to do without --save-scores")
        return texts
    if not args.out:
        raise _Usage("--out is required (a folder, or one .pdf/.svg/.png file)")
    out = pathlib.Path(args.out)
    if _is_file_target(out):
        if args.format and out.suffix.lower() != f".{args.format}":
            raise _Usage(f"--format {args.format} and --out {out} disagree; choose one")
    elif out.suffix.lower() in (".jpg", ".jpeg", ".tif", ".tiff", ".eps", ".webp", ".gif"):
        raise _Usage(f"--out: {out.suffix} files are not written; use .pdf, .svg or .png")
    elif out.exists() and not out.is_dir():
        raise _Usage(f"--out: {out} exists and is not a folder")
    if args.dpi is not None and _format(args) != "png":
        raise _Usage("--dpi sets the resolution of PNG figures; add --format png")
    return texts


def _is_file_target(out: pathlib.Path) -> bool:
    from ._cli_figures import is_file_target

    return is_file_target(out)


def _format(args: argparse.Namespace) -> str:
    """pdf, svg or png: --format, else the --out file's extension, else pdf."""
    if args.format:
        return str(args.format)
    out = pathlib.Path(args.out or "")
    return out.suffix.lower().lstrip(".") if _is_file_target(out) else "pdf"


def _load_model(name: str, device: str, quiet: bool = False) -> tuple[Any, Any]:
    from ._cli_model import load_model

    return load_model(name, device, quiet)


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

    model, tokenizer = _load_model(args.model, args.device, args.quiet)
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
    from ._cli_figures import plan
    from .export import render_pdf, write_atomic

    out = pathlib.Path(args.out)
    if args.model_id and not _is_file_target(out):
        out = out / args.model_id  # Attention-Viewer's {save_fig_path}/{model_id}/ layout
    options: dict[str, Any] = {"per_row": args.per_row}
    if args.width is not None:
        options["width"] = args.width
    jobs = plan(
        components,
        out,
        fmt=_format(args),
        per_head=args.per_head,
        layers=args.layer,
        heads=args.head,
        figure_options=options,
    )
    written = []
    for job in _progress(jobs, "figures", "file", args.quiet):
        figure = render_pdf(
            components[job.component],
            job.kind,
            layer=job.layer,
            head=job.head,
            case=job.case,
            gamma=args.gamma,
            format=_format(args),
            dpi=args.dpi,
            **job.options,
        )
        written.append(write_atomic(job.path, figure))
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
    if args.model_id:
        for data in components.values():
            data.meta["model_id"] = args.model_id  # titles name the model so
    if args.save_scores:
        saved = _save_scores(args.save_scores, components)
        print(f"saved scores to {saved}")
    if args.no_figures:
        return 0
    written = _figures(args, components)
    where = written[0].parent if len(written) == 1 else pathlib.Path(args.out).resolve()
    print(f"wrote {len(written)} {_format(args).upper()} file(s) to {where}")
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
