"""The ``attn-widget`` command's arguments: the parser, its value types, its one-line errors."""

from __future__ import annotations

import argparse
from typing import NoReturn

from . import __version__

__all__ = ["EXIT_USAGE", "PROG", "Usage", "build_parser"]

PROG = "attn-widget"
EXIT_USAGE = 2


class Usage(Exception):
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
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
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
