"""Class-name vocabularies: one class per line, synonyms of a class on one line.

Accepted separators between synonyms are those of the original repositories:
``'; '`` (ProxyCLIP, DeCLIP), ``', '`` (SCLIP, NACLIP) and ``','`` (ClearCLIP).
The separator is decided once per file: a file that contains a ``;``
anywhere is split on ``;`` only, so names with inner commas (``'building,
edifice'`` in ADE-847 lists) survive; otherwise lines are split on ``,``.
In a ``;`` file, a line that has a ``,`` but no ``;`` is ambiguous (one name
with a comma, or synonyms written the other way?): it is read as one name and
a :class:`ClassNameWarning` names the file and the lines.  Whitespace around
every name is stripped.  Files are UTF-8 (a byte-order mark is dropped; UTF-16
with a byte-order mark is accepted too).  Lines starting with ``#`` are comments; a TAB inside
a name is an error (an id column or a TAB meant as a separator).

Names are compared as CLIP's tokenizer sees them (:func:`embedding_key`: case and spacing
do not count), so ``'Cat'`` and ``'cat '`` are duplicates; :func:`check_context_length`
refuses names that the 77-token context would cut inside a prompt.
"""
import codecs
import functools
import os
import os.path as osp
import re
import warnings
from dataclasses import dataclass
from typing import List, Sequence, Tuple, Union

from open_clip.tokenizer import SimpleTokenizer, basic_clean, whitespace_clean

from .templates import fill_template


class ClassNameError(ValueError):
    """A malformed vocabulary; the message names the source and the line."""


class ClassNameWarning(UserWarning):
    """A vocabulary that parses but may not mean what its author meant."""


# ``names.txt``, ``classes.lst``, ``my.names``: a dot followed by a short alphanumeric suffix.
_FILE_SUFFIX = re.compile(r'\.[A-Za-z][A-Za-z0-9_]{0,7}$')


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
                allow_duplicates: bool = False, split_synonyms: bool = True) -> Vocabulary:
    """Parse vocabulary lines; raises :class:`ClassNameError` on bad input.

    ``split_synonyms=False``: every line is one name, kept whole (commas included), and a
    name may repeat on several lines (distinct classes), as DenseVLM's 316-class list.

    ``allow_duplicates`` accepts a name on two lines, as the SCLIP / NACLIP /
    ProxyCLIP COCO-Object files have ``bed`` among the background synonyms and
    as a class: both queries then score the same, and the tie goes to the
    first class (background) as in those repos.
    """
    lines = list(lines)
    if lines:
        lines[0] = lines[0].lstrip('\ufeff')  # a byte-order mark is not part of the first name
    if lines and lines[-1] == '':
        lines.pop()  # a final newline is not an empty class
    numbered = [(n, line) for n, line in enumerate(lines, start=1)
                if not line.strip().startswith('#')]  # comment lines
    lines = [line for _, line in numbered]
    if not any(line.strip() for line in lines):
        raise ClassNameError(f'{source}: no class names (empty vocabulary)')
    separator = ';' if any(';' in line for line in lines) else ','
    if separator == ';' and split_synonyms:
        ambiguous = [(n, line.strip()) for n, line in enumerate(lines, start=1)
                     if ',' in line and ';' not in line]
        if ambiguous:
            first_semicolon = next(n for n, line in enumerate(lines, start=1) if ';' in line)
            shown = ', '.join(f'line {n} {text!r}' for n, text in ambiguous[:5])
            more = f' and {len(ambiguous) - 5} more' if len(ambiguous) > 5 else ''
            warnings.warn(
                f"{source}: {len(ambiguous)} line(s) with ',' but no ';' in a file that uses ';' "
                f"between synonyms (line {first_semicolon} has one): {shown}{more}. Each is read "
                "as ONE name with a comma. If the comma separates synonyms, write ';' instead.",
                ClassNameWarning, stacklevel=3)
    seen = {}
    classes = []
    for lineno, line in numbered:
        if not line.strip():
            raise ClassNameError(
                f'{source}, line {lineno}: empty line; every line must name a class '
                '(remove blank lines)')
        if '\t' in line.strip():
            raise ClassNameError(
                f'{source}, line {lineno}: a TAB inside {line.strip()!r}. Write one class per '
                f"line with '{separator}' between synonyms (an id column 'N<TAB>name' is not "
                'read: remove it)')
        if not split_synonyms:
            classes.append((line.strip(),))
            continue
        names = tuple(name.strip() for name in line.split(separator))
        if any(not name for name in names):
            raise ClassNameError(
                f"{source}, line {lineno}: empty name in {line.strip()!r} (doubled or "
                f"trailing '{separator}')")
        for name in names:
            key = embedding_key(name)
            if key in seen and not allow_duplicates:
                first_line, first = seen[key]
                same = '' if first == name else (
                    f' as {first!r}: CLIP\'s tokenizer ignores case and spacing, so both embed '
                    'identically')
                raise ClassNameError(
                    f"{source}, line {lineno}: duplicate name {name!r} (already on line "
                    f'{first_line}{same}); a name may appear once')
            seen[key] = (lineno, name)
        classes.append(names)
    return Vocabulary(tuple(classes), source)


def embedding_key(name: str) -> str:
    """``name`` as CLIP's tokenizer reads it (open_clip's cleaning: ftfy, HTML entities,
    whitespace collapsed, lower case): names with the same key embed identically."""
    return whitespace_clean(basic_clean(name)).lower()


@functools.lru_cache(maxsize=1)
def _tokenizer() -> SimpleTokenizer:
    return SimpleTokenizer()


def check_context_length(vocabulary: Vocabulary, templates: Sequence[str],
                         context_length: int = 77) -> None:
    """Refuse names that CLIP's ``context_length``-token context would cut inside the longest
    prompt (the tokenizer truncates silently, so the end of the name would not count).

    Tokens add up word by word (the tokenizer splits words before BPE), so the count of a
    prompt is that of the template without a name plus that of the name, plus start and end."""
    tokenizer = _tokenizer()
    longest = max(len(tokenizer.encode(fill_template(t, ''))) for t in templates)
    room = context_length - 2 - longest
    cut = [(name, len(tokenizer.encode(name))) for name in vocabulary.queries]
    cut = [(name, n) for name, n in cut if n > room]
    if cut:
        shown = '; '.join(f'{name[:60]!r}{"..." if len(name) > 60 else ""} ({n} tokens)'
                          for name, n in cut[:3])
        raise ClassNameError(
            f'{vocabulary.source}: {len(cut)} name(s) longer than the {room} tokens left for a '
            f'name in the {context_length}-token context of the longest prompt template, so '
            f'CLIP would cut them: {shown}. Shorten them (split long descriptions into '
            "synonyms with ',').")


def read_class_names(path: str, allow_duplicates: bool = False,
                     split_synonyms: bool = True) -> Vocabulary:
    """Read a class-name file (UTF-8, optionally with a byte-order mark; UTF-16 with one)."""
    if osp.isdir(path):
        raise IsADirectoryError(
            f'class-name file {path!r} is a directory; pass a text file with one class per line')
    if not osp.isfile(path):
        raise FileNotFoundError(f'class-name file {path!r} does not exist '
                                f'(working directory: {os.getcwd()})')
    with open(path, 'rb') as f:
        data = f.read()
    text = decode_class_file(data, path)
    return parse_lines(text.replace('\r\n', '\n').replace('\r', '\n').split('\n'), source=path,
                       allow_duplicates=allow_duplicates, split_synonyms=split_synonyms)


def decode_class_file(data: bytes, path: str) -> str:
    """UTF-8 text of a class-name file; a clear error naming the file otherwise."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode('utf-16')  # Windows editors' "Unicode"; the BOM is consumed
    try:
        text = data.decode('utf-8-sig')  # drops a UTF-8 byte-order mark
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b'\n') + 1
        raise ClassNameError(
            f'class-name file {path!r} is not UTF-8 text: byte 0x{data[err.start]:02x} on line '
            f'{line} cannot be decoded. Save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 '
            f'{path} > names_utf8.txt`).') from None
    if '\x00' in text:
        raise ClassNameError(f'class-name file {path!r} contains NUL bytes: it is a binary file '
                             'or UTF-16 text without a byte-order mark, not UTF-8 text with one '
                             'class per line; save it as UTF-8')
    return text


def looks_like_path(spec: str) -> bool:
    """True if a ``--classes`` value reads as a file name: it has a path separator, starts
    with ``~`` or ``.``, or ends with a file suffix such as ``.txt`` or ``.lst``."""
    spec = spec.strip()
    return (any(sep in spec for sep in ('/', '\\', os.sep)) or spec.startswith(('~', '.'))
            or bool(_FILE_SUFFIX.search(spec)))


def load_vocabulary(spec: Union[str, Sequence[str], Vocabulary],
                    allow_duplicates: bool = False, split_synonyms: bool = True) -> Vocabulary:
    """A vocabulary from a file path, a list of lines, or a one-line string.

    A string is read, in this order, as:

    * an existing file: a class-name file;
    * text with a ``;``: an inline vocabulary, one class per ``;``-separated
      item, ``,`` between synonyms (``'cat; dog, puppy; grass'``);
    * text that looks like a path (a path separator, a leading ``~`` or ``.``,
      or a file suffix such as ``.txt`` / ``.lst``) or names a directory: an
      error, since a missing file must not become a one-class vocabulary;
    * anything else: one class, ``,`` between its synonyms (``'person, people'``).

    A single inline class whose name looks like a file name is written with a
    trailing ``;`` (``'e.coli;'``).
    """
    if isinstance(spec, Vocabulary):
        return spec
    if isinstance(spec, str):
        spec = spec.lstrip('\ufeff')
        path = osp.expanduser(spec.strip())
        if osp.isfile(path):
            return read_class_names(path, allow_duplicates, split_synonyms)
        if ';' in spec:
            items = spec.split(';')
            if len(items) > 1 and not items[-1].strip():
                items.pop()  # 'e.coli;': one inline class
            pathlike = [item.strip() for item in items  # ('e.coli;' is explicitly inline)
                        if len(items) > 1 and looks_like_path(item) and ' ' not in item.strip()]
            if pathlike:
                warnings.warn(
                    f'inline vocabulary {spec!r}: {pathlike} look like file names, but '
                    f'{spec!r} is no file (working directory: {os.getcwd()}); they are used as '
                    'class names. To read a class-name file, pass its path alone.',
                    ClassNameWarning, stacklevel=2)
            return parse_lines(items, source='<classes string>', allow_duplicates=allow_duplicates,
                               split_synonyms=split_synonyms)
        if osp.isdir(path):
            raise IsADirectoryError(
                f'class names {spec!r}: this is a directory, not a class-name file. Pass a text '
                "file with one class per line, or an inline vocabulary such as 'cat; dog'.")
        if looks_like_path(spec):
            raise FileNotFoundError(
                f'class-name file {spec!r} does not exist (working directory: {os.getcwd()}). '
                "Check the path; an inline vocabulary separates classes with ';' "
                f"(for one class named like a file, add a final ';': '{spec.strip()};').")
        return parse_lines([spec], source='<classes string>', allow_duplicates=allow_duplicates,
                           split_synonyms=split_synonyms)
    return parse_lines([str(item) for item in spec], source='<list>',
                       allow_duplicates=allow_duplicates, split_synonyms=split_synonyms)
