"""Split files (``ImageSets/Segmentation/val.txt``: one image id per line), as mmseg's
``BaseSegDataset`` reads them: every line, stripped, is an id, so a blank line becomes the image
``<img_dir>/<suffix>`` and a repeated id is evaluated twice (and weighs double in the scores)."""
from collections import defaultdict
from typing import Dict, List


def split_file_problems(path: str) -> List[str]:
    """What is wrong with the split file ``path`` (empty list: nothing): blank lines and
    repeated ids, with their 1-based line numbers."""
    with open(path, encoding='utf-8', errors='replace') as f:
        lines = f.read().splitlines()
    blank = [i for i, line in enumerate(lines, start=1) if not line.strip()]
    where: Dict[str, List[int]] = defaultdict(list)
    for i, line in enumerate(lines, start=1):
        if line.strip():
            where[line.strip()].append(i)
    repeats = {name: rows for name, rows in where.items() if len(rows) > 1}
    problems = []
    if blank:
        problems.append(f'{len(blank)} blank line(s) (line {_lines(blank)}), each read as an image '
                        'id with an empty name')
    if repeats:
        shown = '; '.join(f'{name!r} on lines {_lines(rows)}'
                          for name, rows in list(repeats.items())[:5])
        problems.append(f'{len(repeats)} id(s) listed more than once ({shown}'
                        f'{"; ..." if len(repeats) > 5 else ""}), so they would be evaluated '
                        'more than once and weigh more in the scores')
    return problems


def check_split_file(path: str, dataset_type: str) -> None:
    """Raise naming the file, the lines and the fix when :func:`split_file_problems` finds any."""
    problems = split_file_problems(path)
    if problems:
        raise ValueError(f'split file {path!r} of {dataset_type} has ' + ' and '.join(problems)
                         + '. Delete those lines (one image id per line, each id once).')


def _lines(rows: List[int]) -> str:
    return ', '.join(map(str, rows[:10])) + (', ...' if len(rows) > 10 else '')
