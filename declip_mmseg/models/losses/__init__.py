"""Distillation losses, one file per training method."""
from .declip import affinity, content_loss, context_loss
from .densevlm import densevlm_loss, densevlm_loss_with_stats
from .regionclip import federated_classes, region_clip_loss

__all__ = ['affinity', 'content_loss', 'context_loss', 'densevlm_loss', 'densevlm_loss_with_stats',
           'federated_classes', 'region_clip_loss']
