"""Execute a notebook headless with its working folder set to an output folder.

Usage: python scripts/run_notebook.py NOTEBOOK [--out DIR] [--timeout SECONDS]
The executed notebook is written to DIR with its outputs; files the notebook
writes (PDFs, saved runs) land in DIR too.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient


def run(notebook: pathlib.Path, out: pathlib.Path, timeout: int = 600) -> pathlib.Path:
    out.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(out)}}
    )
    client.execute()
    executed = out / notebook.name
    nbformat.write(nb, executed)
    return executed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=pathlib.Path)
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("notebook-output"))
    parser.add_argument("--timeout", type=int, default=600)
    args = parser.parse_args()
    start = time.perf_counter()
    executed = run(args.notebook, args.out.resolve(), args.timeout)
    files = sorted(p.name for p in args.out.iterdir() if p.is_file())
    print(f"ran {args.notebook} in {time.perf_counter() - start:.1f} s -> {executed}")
    print("files:", ", ".join(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
