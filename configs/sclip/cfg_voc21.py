# SCLIP, PASCAL VOC 2012 with background (21 classes).
_base_ = [
    '../_base_/models/sclip_vit_b16.py',
    '../_base_/datasets/voc21.py',
    '../_base_/default_runtime.py',
]
model = dict(
    text_classifier=dict(class_names='{{fileDirname}}/../class_names/sclip/voc21.txt'),
    logit_scale=65.0, prob_thd=0.1,
    # SCLIP's VOC21 rule (area_thd=0.1): foreground classes under 10 % of the predicted
    # foreground area are dropped before the argmax and prob_thd.
    postprocess=[dict(type='AreaThreshold', area_thd=0.1)],
)
test_dataloader = dict(dataset=dict(pipeline={{_base_.short_side_336}}))
