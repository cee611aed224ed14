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
from typing import Any

from ._cli_parser import EXIT_USAGE, PROG, Usage, build_parser

__all__ = ["main"]


def _progress(items: Sequence[Any], desc: str, unit: str, quiet: bool) -> Any:
    """A tqdm bar on stderr (shown on a terminal only); plain iteration without tqdm."""
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    return tqdm(items, desc=desc, unit=unit, disable=True if quiet else None)


# ------------------------------------------------------------------- inputs
def _not_utf8(option: str, text: str) -> Usage | None:
    """A text that the shell passed with bytes that are not UTF-8 (Python keeps them as U+DCxx)."""
    for i, char in enumerate(text):
        if "\udc80" <= char <= "\udcff":
            return Usage(
                f"{option}: not UTF-8 text: byte 0x{ord(char) - 0xDC00:02x} at character {i + 1} "
                f"of {text.encode('utf-8', 'surrogateescape')[:40]!r}; pass the text in UTF-8 "
                "(check the terminal's or the script's encoding)"
            )
    return None


def _read_lines(path: pathlib.Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise Usage(f"--texts-file: cannot read {path}: {error.strerror or error}") from error
    try:
        return raw.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise Usage(
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
        raise Usage("--model needs at least one --text or a --texts-file with text in it")
    if args.load and (texts or args.target):
        raise Usage("--load redraws saved scores: --text, --texts-file and --target do not apply")
    if args.target and len(args.target) not in (1, len(texts)):
        raise Usage(f"--target: got {len(args.target)} targets for {len(texts)} texts")
    if args.save_scores:
        suffix = pathlib.Path(args.save_scores).suffix.lower()
        if suffix not in (".npz", ".json"):
            raise Usage(f"--save-scores: expected a .npz or .json file, got {args.save_scores!r}")
        if suffix == ".json" and len(texts) > 1:
            raise Usage("--save-scores: a .json file holds one text; use .npz for several")
    if args.no_figures:
        if not args.save_scores:
            raise Usage("--no-figures: nothing to do without --save-scores")
        return texts
    if not args.out:
        raise Usage("--out is required (a folder, or one .pdf/.svg/.png file)")
    out = pathlib.Path(args.out)
    if _is_file_target(out):
        if args.format and out.suffix.lower() != f".{args.format}":
            raise Usage(f"--format {args.format} and --out {out} disagree; choose one")
    elif out.suffix.lower() in (".jpg", ".jpeg", ".tif", ".tiff", ".eps", ".webp", ".gif"):
        raise Usage(f"--out: {out.suffix} files are not written; use .pdf, .svg or .png")
    elif out.exists() and not out.is_dir():
        raise Usage(f"--out: {out} exists and is not a folder")
    if args.dpi is not None and _format(args) != "png":
        raise Usage("--dpi sets the resolution of PNG figures; add --format png")
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
        raise Usage(f"--component: {unknown} not among {list(components)}")
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
            raise Usage(
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
    except (Usage, ValueError, TypeError, OSError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
