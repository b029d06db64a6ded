import pytest

from declip_mmseg.text import (
    ClassNameError,
    ClassNameWarning,
    load_vocabulary,
    parse_lines,
    read_class_names,
)


def write(tmp_path, text, name='names.txt'):
    path = tmp_path / name
    path.write_text(text, encoding='utf-8')
    return str(path)


@pytest.mark.parametrize('text', [
    'sky; wall; tree\ncat\ntv monitor; screen',      # ProxyCLIP / DeCLIP
    'sky, wall, tree\ncat\ntv monitor, screen',      # SCLIP / NACLIP
    'sky,wall,tree\ncat\ntv monitor,screen\n',       # ClearCLIP, trailing newline
    '  sky ;wall;  tree  \r\ncat \r\ntv monitor ; screen',
])
def test_separators_and_whitespace(tmp_path, text):
    vocab = read_class_names(write(tmp_path, text))
    assert vocab.classes == (('sky', 'wall', 'tree'), ('cat',), ('tv monitor', 'screen'))
    assert vocab.queries == ['sky', 'wall', 'tree', 'cat', 'tv monitor', 'screen']
    assert vocab.query_to_class == [0, 0, 0, 1, 2, 2]
    assert vocab.class_labels == ['sky', 'cat', 'tv monitor']


def test_semicolon_files_keep_inner_commas(tmp_path):
    with pytest.warns(ClassNameWarning, match="line 2 'road, route'"):  # ambiguous line
        vocab = read_class_names(write(tmp_path, 'building, edifice; house\nroad, route'))
    assert vocab.classes == (('building, edifice', 'house'), ('road, route',))


@pytest.mark.parametrize('text,line,what', [
    ('cat\n\ndog', 2, 'empty line'),
    ('cat\ndog\n\n', 3, 'empty line'),
    ('cat\n   \ndog', 2, 'empty line'),
    ('cat; ; dog\nbird', 1, 'empty name'),
    ('cat,\ndog', 1, 'empty name'),
    ('cat\ndog\ncat', 3, 'duplicate'),
    ('cat; kitty\ndog; kitty', 2, 'duplicate'),
])
def test_malformed_files_name_file_and_line(tmp_path, text, line, what):
    path = write(tmp_path, text)
    with pytest.raises(ClassNameError) as err:
        read_class_names(path)
    assert path in str(err.value)
    assert f'line {line}' in str(err.value)
    assert what in str(err.value)


@pytest.mark.parametrize('text', ['', '\n'])
def test_empty_file(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(ClassNameError, match='empty vocabulary'):
        read_class_names(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match='nowhere/names.txt'):
        load_vocabulary('nowhere/names.txt')


def test_list_and_command_line_string():
    assert load_vocabulary(['cat; kitty', 'dog']).classes == (('cat', 'kitty'), ('dog',))
    assert load_vocabulary('cat; dog; grass').classes == (('cat',), ('dog',), ('grass',))
    assert load_vocabulary('person, people; dog').classes == (('person', 'people'), ('dog',))
    with pytest.raises(ClassNameError):
        parse_lines(['cat', 'cat'])


def test_shipped_class_files_parse():
    import glob
    import os
    root = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'configs', 'class_names')
    expected = {'voc21': 21, 'voc20': 20, 'context60': 60, 'context59': 59, 'city_scapes': 19,
                'ade20k': 150, 'coco_stuff': 171, 'coco_object': 81}
    found = {os.path.basename(p)[:-4]: read_class_names(p).num_classes
             for p in glob.glob(os.path.join(root, '*.txt'))}
    for name, n in expected.items():
        assert found[name] == n
