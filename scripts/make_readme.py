"""Write README.md from nbs/index.ipynb (nbdev-readme needs Quarto, which cannot be installed from PyPI)."""
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

root = Path(__file__).resolve().parent.parent
nb = nbformat.read(root/'nbs'/'index.ipynb', as_version=4)
nb.cells = [c for c in nb.cells if 'hide' not in c.metadata.get('tags', []) and not c.source.lstrip().startswith('#| hide')]
body, _ = MarkdownExporter(exclude_input_prompt=True, exclude_output_prompt=True).from_notebook_node(nb)
text = '<!-- generated from nbs/index.ipynb by scripts/make_readme.py: edit the notebook, not this file -->\n\n' + body.strip() + '\n'
out = root/'README.md'
if not out.exists() or out.read_text() != text: out.write_text(text)
