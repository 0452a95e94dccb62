"""The LaTeX of markdown cells as MathML, so a page shows its maths with no script and no network.

nbconvert's HTML (nbgrader's feedback is built on it) leaves $...$ in the text for MathJax, which
it loads from a CDN: on a hub without internet, and in JupyterLab's HTML viewer (which runs no
scripts), students would read raw TeX. Every browser renders MathML itself, so MathToMathML (in
c.GenerateFeedback.preprocessors, nbgrader_config.py) converts each formula with latex2mathml when
the feedback is generated. Code cells and outputs are not touched, nor is a $ in code.

    markdown_to_mathml("the state $h_t$ ...")     # "the state <math>...</math> ..."
"""
import html
import re
from pathlib import Path

from latex2mathml.converter import convert_to_element
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

# nbgrader's feedback template without MathJax (c.GenerateFeedback.HTMLExporter in nbgrader_config.py).
TEMPLATES = Path(__file__).parent / "templates"

# What nbconvert's markdown renderer (nbconvert.filters.markdown_mistune) and JupyterLab treat as
# maths, found left to right; code and backslash escapes are matched only to be skipped over.
MARKDOWN = re.compile(r"""
    (?P<fence>^[ \t]{0,3}(?P<fence_mark>`{3,}|~{3,}).*?(?:\n[ \t]{0,3}(?P=fence_mark)[`~]*[ \t]*(?=\n|\Z)|\Z))
  | (?P<code>(?P<ticks>`+).+?(?<!`)(?P=ticks)(?!`))
  | \$\$(?P<display>.+?)\$\$
  | \\\\\[(?P<display_latex>.+?)\\\\\]
  | \\\\\((?P<inline_latex>.+?)\\\\\)
  | (?P<environment>\\begin\{(?P<env>[A-Za-z]*\*?)\}.*?\\end\{(?P=env)\})
  | (?P<escape>\\.)
  | \$(?P<inline>(?:\\.|[^$\\\n]|\n(?![ \t]*\n))+?)\$
""", re.VERBOSE | re.DOTALL | re.MULTILINE)

# latex2mathml writes MathML 3's named spaces, which MathML Core (what browsers implement) dropped.
NAMED_SPACES = {"thinmathspace": "0.1667em", "mediummathspace": "0.2222em", "thickmathspace": "0.2778em",
                "negativethinmathspace": "-0.1667em", "negativemediummathspace": "-0.2222em",
                "negativethickmathspace": "-0.2778em"}
UNKNOWN_COMMAND = re.compile(r"\\[A-Za-z]+")   # latex2mathml passes commands it does not know through as text
TEXT_ESCAPE = re.compile(r"\\([_$%&#{}])")      # \_ in \text{...} is a literal _, which latex2mathml keeps


class UnsupportedTeX(ValueError):
    """latex2mathml could not convert a formula, or passed an unknown command through as text."""


def tex_to_mathml(tex, display=False):
    """One formula (without its delimiters) as a <math> element on one line, inert to markdown."""
    try:
        element = convert_to_element(tex, display="block" if display else "inline")
    except Exception as e:          # latex2mathml raises its own errors and IndexError, etc. on bad TeX
        raise UnsupportedTeX(f"{tex.strip()!r}: {type(e).__name__} {e}".strip()) from e
    element.attrib.pop("xmlns", None)      # HTML knows <math>
    if not display:
        element.attrib.pop("display", None)
    return _serialize(element, tex)


def _serialize(element, tex):
    attrs = "".join(f' {name}="{html.escape(NAMED_SPACES.get(value, value))}"'
                    for name, value in element.attrib.items())
    inner = _text(element.text, element.tag, tex) + "".join(
        _serialize(child, tex) + _text(child.tail, element.tag, tex) for child in element)
    return f"<{element.tag}{attrs}>{inner}</{element.tag}>"


def _text(text, tag, tex):
    """Text as character references only: markdown then finds no *, _, $, `, |, [ or < in it."""
    if not text:
        return ""
    text = html.unescape(text)          # latex2mathml writes operators as references, letters as they are
    if tag == "mtext":
        text = TEXT_ESCAPE.sub(r"\1", text)
    unknown = UNKNOWN_COMMAND.search(text)
    if unknown:
        raise UnsupportedTeX(f"{tex.strip()!r}: latex2mathml does not know {unknown[0]}")
    return _inert(text.replace("\n", " "))


def _inert(text):
    return "".join(c if c.isalnum() and c.isascii() else f"&#{ord(c)};" for c in text)


def markdown_to_mathml(source, warn=None):
    """source with every formula as MathML. A formula that cannot be converted stays as its TeX
    in a <code> element (and warn(message) is called), so one bad formula costs only itself."""
    def replace(m):
        if m["fence"] or m["code"] or m["escape"]:
            return m[0]
        display = m["display"] is not None or m["display_latex"] is not None or m["environment"] is not None
        tex = next(t for t in (m["display"], m["display_latex"], m["inline_latex"], m["environment"], m["inline"])
                   if t is not None)
        try:
            return tex_to_mathml(tex, display)
        except UnsupportedTeX as e:
            if warn:
                warn(f"left as TeX: {e}")
            return f"<code>{_inert(m[0])}</code>"
    return MARKDOWN.sub(replace, source)


class MathToMathML(Preprocessor):
    """Markdown cells' LaTeX to MathML (see the module's docstring); other cells untouched."""

    enabled = Bool(True, help="Convert the LaTeX of markdown cells to MathML").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            cell.source = markdown_to_mathml(cell.source, warn=self.log.warning)
        return cell, resources
