"""Vocabularies (:mod:`.class_names`), prompt templates (:mod:`.templates`) and their CLIP
text embeddings (:mod:`.embeddings`)."""
from .class_names import (
                          ClassNameError,
                          ClassNameWarning,
                          Vocabulary,
                          check_context_length,
                          embedding_key,
                          load_vocabulary,
                          parse_lines,
                          read_class_names,
)
from .embeddings import TextEncoder, load_embeddings_file, mean_over_templates
from .templates import get_templates

__all__ = ['ClassNameError', 'ClassNameWarning', 'TextEncoder', 'Vocabulary',
           'check_context_length', 'embedding_key', 'get_templates', 'load_embeddings_file',
           'load_vocabulary', 'mean_over_templates', 'parse_lines', 'read_class_names']
