# DeCLIP distillation on your own images: any folder (searched recursively), no labels.
#   python tools/train.py configs/declip/declip_distill_folder.py \
#       --cfg-options train_dataloader.dataset.img_dir=/path/to/images
_base_ = ['./declip_distill_coco.py']
train_dataloader = dict(dataset=dict(data_root='', img_dir='data/my_images', ann_file=None))
# no COCO panoptic validation for arbitrary folders
val_dataloader = None
val_evaluator = None
val_cfg = None
train_cfg = dict(val_interval=1000)
