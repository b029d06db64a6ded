# DenseVLM (ICCV'25) EVA02-CLIP-B/16, evaluated under DeCLIP's zero-shot protocol (the
# configs in configs/densevlm/, region classification included, inherit configs/declip/ and swap
# in this backbone). DenseVLM is trained on CLIPSelf's dense features: the last block keeps its
# residual and FFN, and its attention is replaced by the value path (MaskCLIP),
# attn_mode='identity' here.
densevlm_checkpoint = 'checkpoints/densevlm_coco_6_save6_512_eva_vib16_12layers.pt'
densevlm_backbone = dict(type='DeCLIPViT', model_name='EVA02-B-16', pretrained=densevlm_checkpoint,
                         attn_mode='identity', residual=True, ffn=True, attn_scale=None)
