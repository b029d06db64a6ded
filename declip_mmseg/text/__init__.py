from .class_names import (
    ClassNameError,
    ClassNameWarning,
    Vocabulary,
    load_vocabulary,
    parse_lines,
    read_class_names,
)
from .templates import TEMPLATE_SETS, get_templates, register_templates

__all__ = ['ClassNameError', 'ClassNameWarning', 'Vocabulary', 'load_vocabulary', 'parse_lines',
           'read_class_names', 'TEMPLATE_SETS', 'get_templates', 'register_templates']
