"""Class-name vocabularies: one class per line, synonyms of a class on one line.

Accepted separators between synonyms are those of the original repositories:
``'; '`` (ProxyCLIP, DeCLIP), ``', '`` (SCLIP, NACLIP) and ``','`` (ClearCLIP).
A file that contains a ``;`` anywhere is split on ``;`` only, so names with
inner commas (``'building, edifice'`` in ADE-847 lists) survive; otherwise
lines are split on ``,``.  Whitespace around every name is stripped.
"""
import os.path as osp
from dataclasses import dataclass
from typing import List, Sequence, Tuple, Union


class ClassNameError(ValueError):
    """A malformed vocabulary; the message names the source and the line."""


@dataclass(frozen=True)
class Vocabulary:
    """Parsed vocabulary.

    Attributes:
        classes: synonym tuples, one per class, in label order.
        source: file path or ``'<list>'``, for messages.
    """
    classes: Tuple[Tuple[str, ...], ...]
    source: str = '<list>'

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def queries(self) -> List[str]:
        """All names, flattened in class order (one text query each)."""
        return [name for synonyms in self.classes for name in synonyms]

    @property
    def query_to_class(self) -> List[int]:
        """Class index of every query."""
        return [i for i, synonyms in enumerate(self.classes) for _ in synonyms]

    @property
    def class_labels(self) -> List[str]:
        """The first synonym of each class, for legends and spreadsheets."""
        return [synonyms[0] for synonyms in self.classes]


def parse_lines(lines: Sequence[str], source: str = '<list>',
                split_synonyms: bool = True) -> Vocabulary:
    """Parse vocabulary lines; raises :class:`ClassNameError` on bad input.

    ``split_synonyms=False``: every line is one name, kept whole (commas included), and a
    name may repeat on several lines (distinct classes), as DenseVLM's 316-class list.
    """
    lines = list(lines)
    if lines and lines[-1] == '':
        lines.pop()  # a final newline is not an empty class
    if not any(line.strip() for line in lines):
        raise ClassNameError(f'{source}: no class names (empty vocabulary)')
    separator = ';' if any(';' in line for line in lines) else ','
    seen = {}
    classes = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            raise ClassNameError(
                f'{source}, line {lineno}: empty line; every line must name a class '
                '(remove blank lines)')
        if not split_synonyms:
            classes.append((line.strip(),))
            continue
        names = tuple(name.strip() for name in line.split(separator))
        if any(not name for name in names):
            raise ClassNameError(
                f"{source}, line {lineno}: empty name in {line.strip()!r} (doubled or "
                f"trailing '{separator}')")
        for name in names:
            if name in seen:
                raise ClassNameError(
                    f"{source}, line {lineno}: duplicate name {name!r} (already on line "
                    f'{seen[name]}); a name may appear once')
            seen[name] = lineno
        classes.append(names)
    return Vocabulary(tuple(classes), source)


def read_class_names(path: str, split_synonyms: bool = True) -> Vocabulary:
    """Read a class-name file (UTF-8)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'class-name file {path!r} does not exist')
    with open(path, encoding='utf-8') as f:
        text = f.read()
    return parse_lines(text.replace('\r\n', '\n').split('\n'), source=path,
                       split_synonyms=split_synonyms)


def load_vocabulary(spec: Union[str, Sequence[str], Vocabulary],
                    split_synonyms: bool = True) -> Vocabulary:
    """A vocabulary from a file path, a list of lines, or a one-line string.

    A string without a path separator that is not an existing file, such as
    ``'cat; dog; grass'``, is one class per ``;``-separated item, the
    convenient form for the command line; use a list or a file for synonyms.
    """
    if isinstance(spec, Vocabulary):
        return spec
    if isinstance(spec, str):
        if osp.isfile(spec) or spec.endswith('.txt'):
            return read_class_names(spec, split_synonyms)
        return parse_lines([item for item in spec.split(';')], source='<classes string>',
                           split_synonyms=split_synonyms)
    return parse_lines([str(item) for item in spec], source='<list>',
                       split_synonyms=split_synonyms)
