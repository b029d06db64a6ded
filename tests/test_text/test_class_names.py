"""declip_mmseg.text.class_names: class-name files and inline vocabularies, and the errors they give."""
import os
import os.path as osp
import warnings

import pytest

from declip_mmseg.testing.synthetic_data import make_voc
from declip_mmseg.testing.tools import REPO
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
    root = os.path.join(REPO, 'configs', 'class_names')
    expected = {'voc21': 21, 'voc20': 20, 'context60': 60, 'context59': 59, 'city_scapes': 19,
                'ade20k': 150, 'coco_stuff': 171, 'coco_object': 81}
    found = {os.path.basename(p)[:-4]: read_class_names(p).num_classes
             for p in glob.glob(os.path.join(root, '*.txt'))}
    for name, n in expected.items():
        assert found[name] == n


# -- vocabularies -----------------------------------------------------------------------------
@pytest.mark.parametrize('spec', ['mynames.lst', 'names.txt', 'classes.csv', 'nowhere/names',
                                  './names', '~/no_such_declip_names.txt', 'data\\names'])
def test_missing_class_file_is_an_error(spec, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        load_vocabulary(spec)
    assert repr(spec) in str(err.value) and 'does not exist' in str(err.value)


def test_class_file_that_is_a_directory(tmp_path, monkeypatch):
    (tmp_path / 'mynames.lst').mkdir()
    (tmp_path / 'names').mkdir()
    monkeypatch.chdir(tmp_path)
    for spec in ('mynames.lst', str(tmp_path / 'names'), 'names'):
        with pytest.raises(IsADirectoryError, match='directory'):
            load_vocabulary(spec)


def test_inline_vocabulary_stays_possible(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_vocabulary('cat; dog, puppy; grass').classes == (
        ('cat',), ('dog', 'puppy'), ('grass',))
    assert load_vocabulary('person, people').classes == (('person', 'people'),)
    assert load_vocabulary('sky').classes == (('sky',),)
    assert load_vocabulary('e.coli;').classes == (('e.coli',),)  # a file-like name, made inline
    with pytest.warns(ClassNameWarning, match='names.txt'):
        assert load_vocabulary('names.txt; dog').num_classes == 2


def test_mixed_separators_warn_and_follow_the_file_rule(tmp_path):
    path = tmp_path / 'mixed.txt'
    path.write_text('cat; kitty\ndog, puppy\nbird\n', encoding='utf-8')
    with pytest.warns(ClassNameWarning) as record:
        vocab = read_class_names(str(path))
    message = str(record[0].message)
    assert str(path) in message and "line 2 'dog, puppy'" in message and "write ';'" in message
    assert vocab.classes == (('cat', 'kitty'), ('dog, puppy',), ('bird',))
    path.write_text('cat, kitty\ndog, puppy\n', encoding='utf-8')  # one separator: no warning
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert read_class_names(str(path)).classes == (('cat', 'kitty'), ('dog', 'puppy'))


def test_byte_order_marks(tmp_path):
    path = tmp_path / 'bom.txt'
    path.write_bytes('\ufeffcat; kitty\ndog\n'.encode('utf-8'))
    assert read_class_names(str(path)).classes == (('cat', 'kitty'), ('dog',))
    path.write_bytes('Möwe\n猫\n'.encode('utf-16'))  # Windows "Unicode" text
    assert read_class_names(str(path)).classes == (('Möwe',), ('猫',))
    assert load_vocabulary('\ufeffcat; dog').classes[0] == ('cat',)


def test_non_utf8_class_file_names_the_file(tmp_path):
    path = tmp_path / 'latin1.txt'
    path.write_bytes('cat\nMöwe\n'.encode('latin-1'))
    with pytest.raises(ClassNameError) as err:
        read_class_names(str(path))
    assert str(path) in str(err.value) and 'UTF-8' in str(err.value) and 'line 2' in str(err.value)
    binary = tmp_path / 'photo.txt'
    binary.write_bytes(b'cat\x00\x00\x01')
    with pytest.raises(ClassNameError, match='binary'):
        read_class_names(str(binary))


def test_vocabulary_size_must_match_the_dataset(tiny_clip, tmp_path):
    from declip_mmseg.apis.test import load_test_config, run_test
    arch, ckpt = tiny_clip
    root = make_voc(str(tmp_path / 'voc'), n=1)
    options = {'model.backbone.model_name': arch, 'model.backbone.pretrained': ckpt,
               'test_dataloader.dataset.data_root': root, 'test_dataloader.num_workers': 0}
    for classes, count in (('cat;dog', 2), ('; '.join(f'c{i}' for i in range(25)), 25)):
        cfg = load_test_config(osp.join(REPO, 'configs/cfg_voc21.py'), class_names=classes,
                               work_dir=str(tmp_path / 'w'), cfg_options=options)
        with pytest.raises(ValueError) as err:
            run_test(cfg)
        assert f'has {count} classes' in str(err.value) and 'has 21' in str(err.value)


# -- round two: what the tokenizer sees, comments, TABs, the context length -------------------
@pytest.mark.parametrize('text, first, second', [
    ('Cat\ndog\ncat', 'Cat', 'cat'),
    ('traffic light\ndog\ntraffic  light', 'traffic light', 'traffic  light'),
    ('sky; Sky ', 'sky', 'Sky'),
])
def test_names_that_embed_identically_are_duplicates(tmp_path, text, first, second):
    with pytest.raises(ClassNameError) as err:
        read_class_names(write(tmp_path, text))
    msg = str(err.value)
    assert f'duplicate name {second!r}' in msg and f'as {first!r}' in msg
    assert 'ignores case and spacing' in msg


def test_comment_lines_are_skipped_and_tabs_refused(tmp_path):
    vocab = read_class_names(write(tmp_path, '# my classes\ncat\n  # dogs next\ndog; puppy\n'))
    assert vocab.classes == (('cat',), ('dog', 'puppy'))
    with pytest.raises(ClassNameError, match=r"line 2: a TAB inside '1\\tdog'.*id column"):
        read_class_names(write(tmp_path, 'cat\n1\tdog'))
    with pytest.raises(ClassNameError, match='no class names'):
        read_class_names(write(tmp_path, '# only a comment\n'))


def test_names_cut_at_the_context_length_are_refused():
    from declip_mmseg.text import check_context_length, get_templates
    templates = get_templates('openai_imagenet')
    ok = parse_lines(['cat', 'a rather long but fine description of a dog'])
    check_context_length(ok, templates)
    long = parse_lines(['cat', ' '.join(['word'] * 70)])
    with pytest.raises(ClassNameError) as err:
        check_context_length(long, templates)
    assert '1 name(s) longer than' in str(err.value) and '(70 tokens)' in str(err.value)
    assert '77-token context' in str(err.value)
