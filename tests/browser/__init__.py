"""Real-browser tests: JupyterLab, Notebook 7, marimo and saved pages in Debian's chromium."""
